package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/s3/s3test"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// The S3 tests run real gomr processes against the independent S3 server
// the environment names (versitygw in CI: s3test.External) and look at
// what they did through that server with the AWS SDK, and through the
// aws CLI where it is installed: neither is gomr's S3 code.

// s3Patience bounds the S3 tests' waits on the server.
const s3Patience = 2 * time.Minute

// s3Server is the independent S3 server with a client of the SDK.
type s3Server struct {
	s3test.Server
	client *s3.Client
}

// needS3 returns the independent S3 server, or skips the test saying how
// to name one.
func needS3(t *testing.T) *s3Server {
	t.Helper()
	srv, ok, why := s3test.External()
	if !ok {
		t.Skip(why)
	}
	return &s3Server{Server: srv, client: newS3Client(srv.Endpoint, srv.AccessKey, srv.SecretKey)}
}

// newS3Client is an SDK client of an S3-compatible endpoint.
func newS3Client(endpoint, accessKey, secretKey string) *s3.Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// awsIsolation keeps the SDK of a process (a gomr node, the aws CLI) from
// reading the machine's AWS configuration: no shared files, no instance
// metadata.
func awsIsolation(t *testing.T) []string {
	dir := t.TempDir()
	return []string{
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// withoutAWS is the test's environment without its AWS_ variables.
func withoutAWS() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
}

// nodeEnv is the environment of gomr nodes that reach the server through
// the standard AWS variables, with the given secret key.
func (s *s3Server) nodeEnv(t *testing.T, secretKey string) []string {
	return append(awsIsolation(t),
		"AWS_ACCESS_KEY_ID="+s.AccessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3="+s.Endpoint, "AWS_ENDPOINT_URL=")
}

func ctx30(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newBucket creates a bucket of a new name, emptied and deleted at the
// end of the test.
func (s *s3Server) newBucket(t *testing.T) string {
	t.Helper()
	bucket := randomName("gomr-test-")
	if _, err := s.client.CreateBucket(ctx30(t), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { s.removeBucket(t, bucket) })
	return bucket
}

// removeBucket aborts every upload in a bucket, deletes every object and
// the bucket; a bucket that is gone already is fine.
func (s *s3Server) removeBucket(t *testing.T, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ups, err := s.listUploads(ctx, bucket, "")
	if isCode(err, "NoSuchBucket") {
		return
	}
	for _, u := range ups {
		s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
	}
	objs, _ := s.listObjects(ctx, bucket, "")
	for _, o := range objs {
		s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
	}
	if _, err := s.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil && !isCode(err, "NoSuchBucket") {
		t.Logf("delete bucket %s: %v", bucket, err)
	}
}

func isCode(err error, code string) bool {
	var ae interface{ ErrorCode() string }
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

func (s *s3Server) listObjects(ctx context.Context, bucket, prefix string) ([]types.Object, error) {
	var out []types.Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Contents...)
	}
	return out, nil
}

func (s *s3Server) listUploads(ctx context.Context, bucket, prefix string) ([]types.MultipartUpload, error) {
	var out []types.MultipartUpload
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Uploads...)
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// objects lists the keys under prefix (relative to it) with their sizes.
func (s *s3Server) objects(t *testing.T, bucket, prefix string) map[string]int64 {
	t.Helper()
	objs, err := s.listObjects(ctx30(t), bucket, prefix)
	if err != nil {
		t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
	}
	out := map[string]int64{}
	for _, o := range objs {
		out[strings.TrimPrefix(aws.ToString(o.Key), prefix)] = aws.ToInt64(o.Size)
	}
	return out
}

// uploads lists the keys of the multipart uploads open under prefix.
func (s *s3Server) uploads(t *testing.T, bucket, prefix string) []string {
	t.Helper()
	ups, err := s.listUploads(ctx30(t), bucket, prefix)
	if err != nil {
		t.Fatalf("list the uploads under s3://%s/%s: %v", bucket, prefix, err)
	}
	var keys []string
	for _, u := range ups {
		keys = append(keys, aws.ToString(u.Key)+" (upload "+aws.ToString(u.UploadId)+")")
	}
	return keys
}

// checkNoUploads fails the test if a multipart upload is open under prefix.
func (s *s3Server) checkNoUploads(t *testing.T, bucket, prefix string) {
	t.Helper()
	if ups := s.uploads(t, bucket, prefix); len(ups) > 0 {
		t.Errorf("multipart uploads left open under s3://%s/%s: %v", bucket, prefix, ups)
	}
}

func (s *s3Server) get(t *testing.T, bucket, key string) []byte {
	t.Helper()
	out, err := s.client.GetObject(ctx30(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return b
}

func (s *s3Server) put(t *testing.T, bucket, key string, data []byte) {
	t.Helper()
	_, err := s.client.PutObject(ctx30(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// download copies every object under prefix into a new local folder,
// keys relative to prefix, through the SDK.
func (s *s3Server) download(t *testing.T, bucket, prefix string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "download")
	for name := range s.objects(t, bucket, prefix) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, s.get(t, bucket, prefix+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkObjectSet fails the test unless the objects under prefix are
// exactly names.
func (s *s3Server) checkObjectSet(t *testing.T, bucket, prefix string, names []string) map[string]int64 {
	t.Helper()
	objs := s.objects(t, bucket, prefix)
	got := slices.Sorted(mapKeys(objs))
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Fatalf("objects under s3://%s/%s are %v, want %v", bucket, prefix, got, want)
	}
	return objs
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// partNames are the names of n part files of kind "r" or "m".
func partNames(kind string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("part-%s-%05d", kind, i))
	}
	return out
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkManifest reads the _SUCCESS manifest under prefix and checks that
// it lists exactly the given objects (name: content), each with its size
// and CRC32C.
func (s *s3Server) checkManifest(t *testing.T, bucket, prefix string, files map[string][]byte) mapreduce.Manifest {
	t.Helper()
	var m mapreduce.Manifest
	raw := s.get(t, bucket, prefix+mapreduce.SuccessFile)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("_SUCCESS of s3://%s/%s is not a manifest: %v\n%s", bucket, prefix, err, raw)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
		data, ok := files[f.Name]
		if !ok {
			continue
		}
		if f.Size != int64(len(data)) || f.CRC32C != crc32.Checksum(data, castagnoli) {
			t.Errorf("_SUCCESS lists %s with %d bytes, CRC32C %08x; the object has %d bytes, CRC32C %08x",
				f.Name, f.Size, f.CRC32C, len(data), crc32.Checksum(data, castagnoli))
		}
	}
	if want := slices.Sorted(mapKeys(files)); !slices.Equal(slices.Sorted(slices.Values(names)), want) {
		t.Errorf("_SUCCESS of s3://%s/%s lists %v, want %v", bucket, prefix, names, want)
	}
	return m
}

// readParts reads the named objects under prefix.
func (s *s3Server) readParts(t *testing.T, bucket, prefix string, names []string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, n := range names {
		out[n] = s.get(t, bucket, prefix+n)
	}
	return out
}

// refFiles reads the part files of a local reference output.
func refFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no part files in %s (%v)", dir, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// sameFiles fails the test unless got and want hold the same files with
// the same bytes.
func sameFiles(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if g, w := slices.Sorted(mapKeys(got)), slices.Sorted(mapKeys(want)); !slices.Equal(g, w) {
		t.Fatalf("%s: files %v, want %v", what, g, w)
	}
	for name, w := range want {
		if g := got[name]; !bytes.Equal(g, w) {
			t.Fatalf("%s: %s differs (%d bytes, want %d)", what, name, len(g), len(w))
		}
	}
}

// findAWSCLI returns the independent S3 client (GOMR_TEST_AWSCLI, else
// aws on PATH), or "" and why there is none.
func findAWSCLI() (string, string) {
	if p := os.Getenv("GOMR_TEST_AWSCLI"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("GOMR_TEST_AWSCLI=%s: %v", p, err)
		}
		return p, ""
	}
	p, err := exec.LookPath("aws")
	if err != nil {
		return "", "no aws CLI to read the objects back with an S3 client that is not gomr's: install Debian's awscli and set GOMR_TEST_AWSCLI to its binary"
	}
	return p, ""
}

// awsCLI returns the aws CLI, or skips the test saying why there is none.
func awsCLI(t *testing.T) string {
	t.Helper()
	bin, why := findAWSCLI()
	if bin == "" {
		t.Skip(why)
	}
	return bin
}

// runAWS runs the aws CLI against an endpoint with a key pair and
// returns its stdout.
func runAWS(t *testing.T, bin, endpoint, accessKey, secretKey string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--endpoint-url", endpoint, "--no-cli-pager")...)
	cmd.Env = append(append(withoutAWS(), awsIsolation(t)...),
		"AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// awsReadBack reads every object under s3://bucket/prefix with the aws
// CLI: the keys `aws s3 ls --recursive` lists (relative to the prefix),
// and the contents `aws s3 cp --recursive` copies into a new folder.
func awsReadBack(t *testing.T, bin, endpoint, accessKey, secretKey, bucket, prefix string) ([]string, map[string][]byte) {
	t.Helper()
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(runAWS(t, bin, endpoint, accessKey, secretKey, "s3", "ls", "--recursive", "s3://"+bucket+"/"+prefix)), "\n") {
		// DATE TIME SIZE KEY
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		keys = append(keys, strings.TrimPrefix(strings.Join(f[3:], " "), prefix))
	}
	slices.Sort(keys)
	dir := t.TempDir()
	runAWS(t, bin, endpoint, accessKey, secretKey, "s3", "cp", "--recursive", "--only-show-errors", "s3://"+bucket+"/"+prefix, dir)
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, files
}

// awsOpenUploads lists, with `aws s3api list-multipart-uploads`, the keys
// of the uploads open under prefix.
func awsOpenUploads(t *testing.T, bin, endpoint, accessKey, secretKey, bucket, prefix string) []string {
	t.Helper()
	out := runAWS(t, bin, endpoint, accessKey, secretKey, "s3api", "list-multipart-uploads", "--bucket", bucket, "--prefix", prefix, "--output", "json")
	var resp struct {
		Uploads []struct{ Key, UploadId string }
	}
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("aws s3api list-multipart-uploads printed %q: %v", out, err)
		}
	}
	var keys []string
	for _, u := range resp.Uploads {
		keys = append(keys, u.Key)
	}
	return keys
}

// submit submits a step through the cluster's client (no retry: the
// cluster has a leader), failing t on an error.
func submit(t *testing.T, c ct.Cluster, spec *pb.StepSpec) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if spec.ClientToken == "" {
		spec.ClientToken = randomName("tok-")
	}
	resp, err := c.Client().SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
	if err != nil {
		t.Fatalf("submit %s to %s: %v", spec.Job, spec.Output, err)
	}
	return resp.StepId
}

// mustComplete waits for a step and fails t unless it COMPLETED.
func mustComplete(t *testing.T, c ct.Cluster, id string) *ct.Step {
	t.Helper()
	st := ct.WaitStep(t, c.Client(), id)
	ct.MustComplete(t, st)
	return st
}

// describe returns a step with its tasks, failing t on an error.
func describe(t *testing.T, c ct.Cluster, id string) *ct.Step {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := ct.DescribeWithTasks(ctx, c.Client(), id)
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return st
}

// waitS3 polls cond until it holds, failing t after s3Patience with
// what cond last said.
func waitS3(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(s3Patience)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", s3Patience, what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
