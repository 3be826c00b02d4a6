package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/s3/s3test"
)

func TestParseURI(t *testing.T) {
	good := []struct{ uri, bucket, key string }{
		{"s3://bucket", "bucket", ""},
		{"s3://bucket/", "bucket", ""},
		{"s3://my-bucket.v2/a/b/c", "my-bucket.v2", "a/b/c"},
		{"s3://abc/dir/", "abc", "dir/"},
		{"S3://abc/x", "abc", "x"},
		{"s3://123/x", "123", "x"},
		{"s3://" + strings.Repeat("a", 63) + "/k", strings.Repeat("a", 63), "k"},
		{"s3://b-1/k with spaces/ü", "b-1", "k with spaces/ü"},
	}
	for _, g := range good {
		b, k, err := ParseURI(g.uri)
		if err != nil || b != g.bucket || k != g.key {
			t.Errorf("ParseURI(%q) = %q, %q, %v; want %q, %q", g.uri, b, k, err, g.bucket, g.key)
		}
	}
	bad := []struct{ uri, why string }{
		{"s3://", "no bucket"},
		{"s3:///key", "no bucket"},
		{"hdfs://nn/x", "not an s3://"},
		{"/local/path", "not an s3://"},
		{"s3://ab/k", "2 characters"},
		{"s3://" + strings.Repeat("a", 64), "64 characters"},
		{"s3://MyBucket/k", "uppercase"},
		{"s3://my_bucket/k", `'_'`},
		{"s3://-bucket/k", "start and end"},
		{"s3://bucket-/k", "start and end"},
		{"s3://.bucket/k", "start and end"},
		{"s3://my..bucket/k", `".."`},
		{"s3://192.168.1.1/k", "IP address"},
		{"s3://bucket/" + strings.Repeat("k", 1025), "longer than"},
	}
	for _, b := range bad {
		_, _, err := ParseURI(b.uri)
		if err == nil {
			t.Errorf("ParseURI(%q) accepted", b.uri)
			continue
		}
		if !errors.Is(err, ErrBadURI) || !strings.Contains(err.Error(), b.why) || !strings.Contains(err.Error(), fmt.Sprintf("%q", b.uri)) {
			t.Errorf("ParseURI(%q): %v; want an ErrBadURI naming the URI and %q", b.uri, err, b.why)
		}
	}
}

func TestStatListDelete(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, _ := newFS(t, tg)
		bucket := newBucket(t, fs)
		ctx := context.Background()
		root := "s3://" + bucket
		for _, k := range []string{"d/a", "d/b/c", "d/b/d", "d/e/f/g", "x"} {
			put(t, fs, bucket, k, []byte(k))
		}
		fi, err := fs.Stat(ctx, root+"/d/a")
		if err != nil || fi.IsDir || fi.Size != 3 || fi.Path != root+"/d/a" || !fi.Regular || fi.ModTime == 0 {
			t.Fatalf("Stat of a file: %+v, %v", fi, err)
		}
		for _, p := range []string{root + "/d", root + "/d/", root + "/d/e/f", root} {
			fi, err := fs.Stat(ctx, p)
			if err != nil || !fi.IsDir {
				t.Fatalf("Stat(%s) of a folder: %+v, %v", p, fi, err)
			}
		}
		if _, err := fs.Stat(ctx, root+"/d/zz"); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("Stat of nothing: %v", err)
		}
		entries, err := fs.List(ctx, root+"/d")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, fmt.Sprintf("%s:%v", strings.TrimPrefix(e.Path, root), e.IsDir))
		}
		if want := []string{"/d/a:false", "/d/b:true", "/d/e:true"}; !slices.Equal(got, want) {
			t.Fatalf("List = %v, want %v", got, want)
		}
		if _, err := fs.List(ctx, root+"/nothing"); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("List of nothing: %v", err)
		}
		if _, err := fs.List(ctx, root+"/x"); err == nil {
			t.Fatal("List of a file succeeded")
		}
		// Walk and Glob work through the contract.
		var walked []string
		droot, _ := fs.Stat(ctx, root+"/d")
		if err := mapreduce.Walk(ctx, fs, droot, func(f mapreduce.FileInfo, rel string) error {
			walked = append(walked, rel)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"a", "b/c", "b/d", "e/f/g"}; !slices.Equal(walked, want) {
			t.Fatalf("Walk = %v, want %v", walked, want)
		}
		globbed, err := mapreduce.Glob(ctx, fs, root+"/d/b/*")
		if err != nil || len(globbed) != 2 {
			t.Fatalf("Glob = %v, %v", globbed, err)
		}

		if err := fs.Delete(ctx, root+"/d/b", false); err == nil {
			t.Fatal("a non-recursive Delete of a folder with files succeeded")
		}
		if err := fs.Delete(ctx, root+"/d/a", false); err != nil {
			t.Fatal(err)
		}
		if err := fs.Delete(ctx, root+"/d/a", false); err != nil {
			t.Fatalf("Delete of a missing file: %v", err)
		}
		if err := fs.Delete(ctx, root+"/d", true); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Stat(ctx, root+"/d"); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("after a recursive Delete: %v", err)
		}
		if _, err := fs.Stat(ctx, root+"/x"); err != nil {
			t.Fatalf("Delete took a file outside the folder: %v", err)
		}
		if err := fs.Delete(ctx, root, true); err == nil {
			t.Fatal("Delete of a bucket's root succeeded")
		}
	})
}

func TestCreateRename(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, faults := newFS(t, tg, func(c *Config) { c.PartSize = MinPartSize })
		bucket := newBucket(t, fs)
		ctx := context.Background()
		root := "s3://" + bucket
		write := func(p string, data []byte) {
			t.Helper()
			w, err := fs.Create(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		small, big := []byte("small\n"), s3test.Content(2*MinPartSize+5, 9)
		faults.ResetCounts()
		write(root+"/in/small", small)
		if faults.Count("put-object") != 1 || faults.Count("upload-part") != 0 {
			t.Errorf("a small file took %d puts, %d parts", faults.Count("put-object"), faults.Count("upload-part"))
		}
		write(root+"/in/dir/big", big)
		if faults.Count("upload-part") != 3 || faults.Count("complete") != 1 {
			t.Errorf("a big file took %d parts, %d completions", faults.Count("upload-part"), faults.Count("complete"))
		}
		if _, err := fs.Create(ctx, root+"/in/small"); !errors.Is(err, mapreduce.ErrExist) {
			t.Fatalf("Create of an existing file: %v", err)
		}
		// Abort leaves nothing.
		w, _ := fs.Create(ctx, root+"/in/aborted")
		w.Write(s3test.Content(MinPartSize+1, 1))
		w.Abort()
		if _, err := fs.Stat(ctx, root+"/in/aborted"); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("an aborted file: %v", err)
		}
		if ups := openUploads(t, fs, bucket, ""); len(ups) != 0 {
			t.Fatalf("Abort left uploads %v", ups)
		}
		// Rename a file, then a folder.
		if err := fs.Rename(ctx, root+"/in/small", root+"/in/dir/big"); !errors.Is(err, mapreduce.ErrExist) {
			t.Fatalf("Rename onto a file: %v", err)
		}
		if err := fs.Rename(ctx, root+"/in/small", root+"/moved/small"); err != nil {
			t.Fatal(err)
		}
		if err := fs.Rename(ctx, root+"/in", root+"/moved/in"); err != nil {
			t.Fatal(err)
		}
		if _, err := fs.Stat(ctx, root+"/in"); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("the source is still there: %v", err)
		}
		if got := get(t, fs, bucket, "moved/small"); !bytes.Equal(got, small) {
			t.Fatal("renamed file differs")
		}
		if got := get(t, fs, bucket, "moved/in/dir/big"); !bytes.Equal(got, big) {
			t.Fatal("renamed folder's file differs")
		}
		if err := fs.Rename(ctx, root+"/moved", root+"/moved/inside"); err == nil {
			t.Fatal("a folder moved into itself")
		}
		if !tg.external {
			return // gofakes3 has no UploadPartCopy
		}
		defer func(old int64) { copyLimit = old }(copyLimit)
		copyLimit = MinPartSize
		if err := fs.Rename(ctx, root+"/moved/in/dir/big", root+"/copied-in-parts"); err != nil {
			t.Fatal(err)
		}
		if got := get(t, fs, bucket, "copied-in-parts"); !bytes.Equal(got, big) {
			t.Fatal("a file copied in parts differs")
		}
	})
}

// TestReadAhead: a line reader's small sequential reads cost one GET per
// ReadAhead bytes; random ranged reads return the right bytes.
func TestReadAhead(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		const readAhead = 4 << 20
		fs, faults := newFS(t, tg, func(c *Config) { c.ReadAhead = readAhead })
		bucket := newBucket(t, fs)
		ctx := context.Background()
		data := s3test.Content(10<<20+333, 5)
		put(t, fs, bucket, "obj", data)
		f, err := fs.Open(ctx, "s3://"+bucket+"/obj")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		faults.ResetCounts()
		var got bytes.Buffer
		if _, err := io.Copy(&got, io.NewSectionReader(f, 0, int64(len(data)))); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatal("sequential read differs")
		}
		if n, want := faults.Count("get-object"), 1+(len(data)-firstFetch+readAhead-1)/readAhead; n != want {
			t.Errorf("sequential read of %d bytes took %d GETs, want %d", len(data), n, want)
		}
		if n := f.(mapreduce.CounterSource).Counters()[BytesReadCounter]; n != int64(len(data)) {
			t.Errorf("S3_BYTES_READ %d, want %d", n, len(data))
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 50 {
			off := r.Int64N(int64(len(data)))
			buf := make([]byte, r.IntN(2<<20))
			n, err := f.ReadAt(buf, off)
			want := data[off:min(off+int64(len(buf)), int64(len(data)))]
			if n != len(want) || !bytes.Equal(buf[:n], want) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v: wrong bytes", len(buf), off, n, err)
			}
			if (n < len(buf)) != (err == io.EOF) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", len(buf), off, n, err)
			}
		}
		// A sniff of the first bytes fetches no full ReadAhead.
		f3, err := fs.Open(ctx, "s3://"+bucket+"/obj")
		if err != nil {
			t.Fatal(err)
		}
		defer f3.Close()
		if _, err := f3.ReadAt(make([]byte, 4096), 0); err != nil {
			t.Fatal(err)
		}
		if n := f3.(mapreduce.CounterSource).Counters()[BytesReadCounter]; n != firstFetch {
			t.Errorf("a 4 KiB sniff fetched %d bytes", n)
		}
		// A read larger than ReadAhead goes straight into the caller's buffer.
		big := make([]byte, len(data))
		faults.ResetCounts()
		if n, err := f.ReadAt(big, 0); n != len(data) || err != nil || !bytes.Equal(big, data) {
			t.Fatalf("whole read = %d, %v", n, err)
		}
		if faults.Count("get-object") > 2 {
			t.Errorf("a whole read took %d GETs", faults.Count("get-object"))
		}
		if n, err := f.ReadAt(make([]byte, 1), int64(len(data))); n != 0 || err != io.EOF {
			t.Fatalf("read at the end = %d, %v", n, err)
		}
		info, err := f.Info(ctx)
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("Info = %+v, %v", info, err)
		}
		if _, err := fs.Open(ctx, "s3://"+bucket+"/nothing"); !errors.Is(err, mapreduce.ErrNotExist) {
			t.Fatalf("Open of nothing: %v", err)
		}
	})
}

// TestRetries: throttling (503 SlowDown) is retried by the SDK's retryer,
// a body that breaks mid-read by the file, from where it broke.
func TestRetries(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, faults := newFS(t, tg, func(c *Config) { c.ReadAhead = 1 << 20 })
		bucket := newBucket(t, fs)
		ctx := context.Background()
		data := s3test.Content(3<<20, 7)

		faults.Throttle(3)
		w, err := fs.Create(ctx, "s3://"+bucket+"/obj")
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatalf("a throttled upload failed: %v", err)
		}
		if faults.Count("throttled") != 3 {
			t.Fatalf("%d requests throttled, want 3", faults.Count("throttled"))
		}

		f, err := fs.Open(ctx, "s3://"+bucket+"/obj")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		faults.Throttle(2)
		faults.BreakBodies(3, 1000)
		got := make([]byte, len(data))
		for off := 0; off < len(data); off += 256 << 10 {
			if _, err := f.ReadAt(got[off:off+256<<10], int64(off)); err != nil {
				t.Fatalf("read at %d: %v", off, err)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatal("a read that was throttled and broken returned wrong bytes")
		}
		if faults.Count("broken-bodies") != 3 || faults.Count("throttled") != 5 {
			t.Fatalf("%d bodies broken, %d throttled", faults.Count("broken-bodies"), faults.Count("throttled"))
		}
		// A body that breaks every time gives up, with a clear error.
		f2, err := fs.Open(ctx, "s3://"+bucket+"/obj")
		if err != nil {
			t.Fatal(err)
		}
		defer f2.Close()
		faults.BreakBodies(100, 10)
		if _, err := f2.ReadAt(make([]byte, 100), 2<<20+5); err == nil || !strings.Contains(err.Error(), "gave up") {
			t.Fatalf("a body that always breaks: %v", err)
		}
		faults.BreakBodies(0, 0)
		// A server that throttles for longer than the retries fails.
		faults.Throttle(100)
		_, err = fs.Stat(ctx, "s3://"+bucket+"/obj")
		faults.Throttle(0)
		if err == nil || !strings.Contains(err.Error(), "SlowDown") && !strings.Contains(err.Error(), "503") {
			t.Fatalf("a server that always throttles: %v", err)
		}
	})
}

// TestCredentialsNeverShown: a bad secret gives a clear error that holds
// neither secret, and a Config never prints its secret.
func TestCredentialsNeverShown(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		good, _ := newFS(t, tg)
		bucket := newBucket(t, good)
		put(t, good, bucket, "obj", []byte("x"))
		ctx := context.Background()
		wrongSecret := "WRONG-secret-" + randHex(10)
		var logs bytes.Buffer
		cases := map[string]Config{
			"wrong secret":     {AccessKey: tg.AccessKey, SecretKey: wrongSecret},
			"wrong access key": {AccessKey: "AKIDNOSUCHKEY" + randHex(3), SecretKey: tg.SecretKey},
		}
		for name, creds := range cases {
			fs, _ := newFS(t, tg, func(c *Config) {
				c.AccessKey, c.SecretKey = creds.AccessKey, creds.SecretKey
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				c.RetryMaxAttempts = 2
			})
			var errs []error
			_, err := fs.List(ctx, "s3://"+bucket)
			errs = append(errs, err)
			_, err = fs.Stat(ctx, "s3://"+bucket+"/obj") // HEAD: a 403 without a body
			errs = append(errs, err)
			_, err = fs.Open(ctx, "s3://"+bucket+"/obj")
			errs = append(errs, err)
			cm, _ := fs.Committer("s3://"+bucket+"/out", "s-1")
			errs = append(errs, cm.CheckOutput(ctx))
			for _, err := range errs {
				if !errors.Is(err, ErrAccessDenied) {
					t.Errorf("%s: %v, want ErrAccessDenied", name, err)
					continue
				}
				for _, secret := range []string{wrongSecret, tg.SecretKey} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("%s: the error shows a secret: %v", name, err)
					}
				}
			}
			t.Logf("%s: %v", name, errs[0])
			for _, s := range []string{fs.String(), fmt.Sprint(fs.cfg), fmt.Sprintf("%+v", fs.cfg), fmt.Sprintf("%#v", fs.cfg), logs.String()} {
				if strings.Contains(s, wrongSecret) || strings.Contains(s, tg.SecretKey) {
					t.Errorf("a secret is shown: %s", s)
				}
			}
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "c", fs.cfg)
			if strings.Contains(logs.String(), creds.SecretKey) {
				t.Errorf("a logged Config shows its secret: %s", logs.String())
			}
		}
	})
}

func TestMissingBucket(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) {
		fs, _ := newFS(t, tg)
		ctx := context.Background()
		b := "gomr-no-such-bucket-" + randHex(4)
		p := "s3://" + b + "/in/file"
		var errs []error
		_, err := fs.Stat(ctx, p)
		errs = append(errs, err)
		_, err = fs.List(ctx, "s3://"+b+"/in")
		errs = append(errs, err)
		_, err = fs.Open(ctx, p)
		errs = append(errs, err)
		_, err = fs.Stat(ctx, "s3://"+b)
		errs = append(errs, err)
		cm, _ := fs.Committer("s3://"+b+"/out", "s-1")
		errs = append(errs, cm.CheckOutput(ctx))
		for i, err := range errs {
			if !errors.Is(err, ErrNoSuchBucket) || !strings.Contains(err.Error(), b) {
				t.Errorf("%d: %v, want ErrNoSuchBucket naming %s", i, err, b)
			}
			if errors.Is(err, mapreduce.ErrNotExist) {
				t.Errorf("%d: a missing bucket reads as a missing file: %v", i, err)
			}
		}
		t.Logf("e.g. %v", errs[0])
	})
}

func TestConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Config{AccessKey: "a"}); err == nil {
		t.Error("an access key without a secret accepted")
	}
	if _, err := New(ctx, Config{PartSize: 1 << 20}); err == nil {
		t.Error("a part size below 5 MiB accepted")
	}
	if _, err := New(ctx, Config{Endpoint: "localhost:9000"}); err == nil {
		t.Error("an endpoint without a scheme accepted")
	}
	fs, err := New(ctx, Config{Endpoint: "http://user:pw@127.0.0.1:9/", AccessKey: "AKIDEXAMPLE1234", SecretKey: "s3cr3t"})
	if err != nil {
		t.Fatal(err)
	}
	if fs.checksums || !fs.client.Options().UsePathStyle || strings.Contains(fs.String(), "pw") {
		t.Errorf("a custom endpoint: checksums %v, path-style %v, %s", fs.checksums, fs.client.Options().UsePathStyle, fs)
	}
	if s := fs.cfg.String(); strings.Contains(s, "s3cr3t") || strings.Contains(s, "AKIDEXAMPLE1234") || !strings.Contains(s, "1234") {
		t.Errorf("Config.String() = %s", s)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:7")
	t.Setenv("AWS_REGION", "eu-west-3")
	fs, err = New(ctx, Config{AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if o := fs.client.Options(); o.BaseEndpoint == nil || *o.BaseEndpoint != "http://127.0.0.1:7" || !o.UsePathStyle || o.Region != "eu-west-3" {
		t.Errorf("the environment's endpoint and region: %v %v %s", o.BaseEndpoint, o.UsePathStyle, o.Region)
	}
	fs, err = New(ctx, Config{Endpoint: "http://127.0.0.1:8", AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if o := fs.client.Options(); *o.BaseEndpoint != "http://127.0.0.1:8" {
		t.Errorf("Config's endpoint does not win: %s", *o.BaseEndpoint)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	fs, err = New(ctx, Config{AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !fs.checksums || fs.client.Options().UsePathStyle {
		t.Errorf("AWS: checksums %v, path-style %v", fs.checksums, fs.client.Options().UsePathStyle)
	}
}

func TestRequireSignature(t *testing.T) {
	srv := s3test.Fake(t, "AKIDX", "secret", RequireSignature)
	for _, req := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/bucket?X-Amz-Signature=abc"}, {"HEAD", "/bucket/key"}} {
		r, err := http.NewRequest(req.method, srv.Endpoint+req.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDX/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
		if req.method == "GET" && req.path == "/" {
			r.Header.Del("Authorization")
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s unsigned: %d", req.method, req.path, resp.StatusCode)
		}
	}
}
