package s3local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/committertest"
	"github.com/gomr/gomr/mapreduce/s3"
	"github.com/gomr/gomr/mapreduce/s3/s3test"
)

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestCommitterContract runs the committer contract against the
// endpoint, through the S3 file system gomr uses.
func TestCommitterContract(t *testing.T) {
	s := start(t, Config{})
	faults := &s3test.Faults{}
	c := s.S3Config()
	c.HTTPClient = faults.Client()
	c.Logger = quiet()
	fs, err := s3.New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	committertest.Run(t, committertest.Target{
		FS:        fs,
		Output:    func(*testing.T) string { return fmt.Sprintf("s3://%s/out-%d", s.Bucket(), n.Add(1)) },
		Interrupt: faults.FailWrites,
	})
	if faults.Count("failed-writes") == 0 {
		t.Error("Interrupt made no write fail")
	}
}

func sdkClient(t *testing.T, s *Server, secret string) *awss3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKey(), secret, "")),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	)
	if err != nil {
		t.Fatal(err)
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(s.URL())
		o.UsePathStyle = true
	})
}

// TestRoundTrip: a plain put, list and get with the SDK; the objects
// outlive a restart of the endpoint on the same folder.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Start(Config{Dir: dir, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || s.Bucket() != DefaultBucket || s.AccessKey() == "" || len(s.SecretKey()) < 40 {
		t.Fatalf("endpoint %s, bucket %s, keys %q/%d chars", s.URL(), s.Bucket(), s.AccessKey(), len(s.SecretKey()))
	}
	c := sdkClient(t, s, s.SecretKey())
	data := s3test.Content(100_000, 3)
	for _, k := range []string{"in/a.txt", "in/b/c.txt"} {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(k), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(s.Bucket()), Prefix: aws.String("in/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "in/a.txt,in/b/c.txt" {
		t.Fatalf("listed %v", keys)
	}
	get := func(c *awss3.Client, k string) []byte {
		t.Helper()
		out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return b
	}
	if !bytes.Equal(get(c, "in/b/c.txt"), data) {
		t.Fatal("read back other bytes")
	}
	// Restart on the same folder, with the same keys.
	ak, sk := s.AccessKey(), s.SecretKey()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = start(t, Config{Dir: dir, AccessKey: ak, SecretKey: sk})
	if !bytes.Equal(get(sdkClient(t, s, sk), "in/a.txt"), data) {
		t.Fatal("an object did not outlive the restart")
	}
}

// TestCredentials: only the endpoint's key pair is served, and the
// secret is never printed.
func TestCredentials(t *testing.T) {
	s := start(t, Config{Bucket: "my-bucket", AccessKey: "AKIDLOCAL", SecretKey: "local-secret-123"})
	_, err := sdkClient(t, s, "wrong-secret").ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: aws.String("my-bucket")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("a wrong secret: %v", err)
	}
	fs, err := s3.New(context.Background(), func() s3.Config { c := s.S3Config(); c.SecretKey = "wrong-secret"; c.Logger = quiet(); return c }())
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.Stat(context.Background(), "s3://my-bucket/x")
	if !errors.Is(err, s3.ErrAccessDenied) || strings.Contains(err.Error(), "local-secret-123") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("Stat with a wrong secret: %v", err)
	}
	for _, str := range []string{s.String(), fmt.Sprint(s.cfg), fmt.Sprintf("%#v", s.cfg), fmt.Sprintf("%+v", s.cfg)} {
		if strings.Contains(str, "local-secret-123") {
			t.Errorf("the secret is shown: %s", str)
		}
	}
}

func TestStartRefuses(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no dir":           {},
		"not loopback":     {Dir: t.TempDir(), Addr: "0.0.0.0:0"},
		"all interfaces":   {Dir: t.TempDir(), Addr: ":0"},
		"bad bucket":       {Dir: t.TempDir(), Bucket: "Bad_Bucket"},
		"half credentials": {Dir: t.TempDir(), AccessKey: "a"},
	} {
		if s, err := Start(cfg); err == nil {
			s.Close()
			t.Errorf("%s: started", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestFileSystem: the gomr file system on the endpoint lists, reads and
// deletes as on S3 (folders that empty out disappear).
func TestFileSystem(t *testing.T) {
	s := start(t, Config{})
	c := s.S3Config()
	c.Logger = quiet()
	fs, err := s3.New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root := "s3://" + s.Bucket()
	w, err := fs.Create(ctx, root+"/d/e/f")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := fs.Stat(ctx, root+"/d/e"); err != nil || !fi.IsDir {
		t.Fatalf("Stat of a folder: %+v %v", fi, err)
	}
	if err := fs.Delete(ctx, root+"/d", true); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(ctx, root+"/d"); !errors.Is(err, mapreduce.ErrNotExist) {
		t.Fatalf("a deleted folder: %v", err)
	}
	entries, err := fs.List(ctx, root)
	if err != nil || len(entries) != 0 {
		t.Fatalf("the bucket lists %v, %v", entries, err)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := Start(Config{Dir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}
