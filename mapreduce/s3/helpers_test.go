package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gomr/gomr/mapreduce/s3/s3test"
)

// target is one S3 server the tests run against.
type target struct {
	s3test.Server
	external bool
}

// eachTarget runs a subtest on the in-process gofakes3 server (always)
// and one on the independent server the environment names, skipped with
// a message saying how to name one when it does not.
func eachTarget(t *testing.T, fn func(t *testing.T, tg target)) {
	t.Run("gofakes3", func(t *testing.T) {
		fn(t, target{Server: s3test.Fake(t, "AKIDGOFAKES3TEST", "fake-secret-"+randHex(8), RequireSignature)})
	})
	t.Run("external", func(t *testing.T) {
		ext, ok, msg := s3test.External()
		if !ok {
			t.Skip(msg)
		}
		fn(t, target{Server: ext, external: true})
	})
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testLogger logs to the test.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newFS returns a file system on a target, through a Faults transport.
func newFS(t *testing.T, tg target, mods ...func(*Config)) (*FS, *s3test.Faults) {
	t.Helper()
	faults := &s3test.Faults{}
	c := Config{
		Endpoint: tg.Endpoint, Region: "us-east-1", AccessKey: tg.AccessKey, SecretKey: tg.SecretKey,
		HTTPClient: faults.Client(), Logger: testLogger(t),
		RetryBaseDelay: time.Millisecond, RetryMaxBackoff: 20 * time.Millisecond,
	}
	for _, m := range mods {
		m(&c)
	}
	fs, err := New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return fs, faults
}

var bucketSeq atomic.Int64

// newBucket creates a bucket for the test, emptied and deleted after it.
func newBucket(t *testing.T, fs *FS) string {
	t.Helper()
	ctx := context.Background()
	b := fmt.Sprintf("gomr-test-%s-%d", randHex(4), bucketSeq.Add(1))
	if err := fs.CreateBucket(ctx, b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fs.abortUploads(ctx, b, "", nil); err != nil {
			t.Logf("cleanup: %v", err)
		}
		var keys []string
		fs.eachObject(ctx, b, "", func(o types.Object) error {
			keys = append(keys, aws.ToString(o.Key))
			return nil
		})
		if err := fs.deleteKeys(ctx, b, keys); err != nil {
			t.Logf("cleanup: %v", err)
		}
		if _, err := fs.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Logf("cleanup: delete bucket %s: %v", b, err)
		}
	})
	return b
}

// put writes an object directly.
func put(t *testing.T, fs *FS, bucket, key string, data []byte) {
	t.Helper()
	_, err := fs.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(string(data))})
	if err != nil {
		t.Fatal(err)
	}
}

// get reads an object directly.
func get(t *testing.T, fs *FS, bucket, key string) []byte {
	t.Helper()
	out, err := fs.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openUploads lists the multipart uploads open under a prefix.
func openUploads(t *testing.T, fs *FS, bucket, prefix string) []string {
	t.Helper()
	ups, err := fs.listUploads(context.Background(), bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range ups {
		keys = append(keys, u.key)
	}
	return keys
}
