// Package s3test helps test code that talks to S3 servers: an in-process
// gofakes3 server on loopback, the independent server the environment
// may name (GOMR_TEST_S3_ENDPOINT, GOMR_TEST_S3_ACCESS_KEY,
// GOMR_TEST_S3_SECRET_KEY; CI runs versitygw there), and Faults, an HTTP
// transport that injects the failures S3 clients must survive. It
// imports no AWS SDK package.
package s3test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Environment variables naming an independent S3 server for tests.
const (
	EnvEndpoint  = "GOMR_TEST_S3_ENDPOINT"
	EnvAccessKey = "GOMR_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "GOMR_TEST_S3_SECRET_KEY"
)

// Server is an S3 endpoint and the key pair it accepts.
type Server struct {
	Name                 string
	Endpoint             string
	AccessKey, SecretKey string
}

// External returns the independent server the environment names, or
// false, with the message a test that needs it should skip with.
func External() (Server, bool, string) {
	s := Server{Name: "external", Endpoint: os.Getenv(EnvEndpoint), AccessKey: os.Getenv(EnvAccessKey), SecretKey: os.Getenv(EnvSecretKey)}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" {
		return s, false, fmt.Sprintf("no independent S3 server: set %s, %s and %s (e.g. versitygw --access KEY --secret SECRET --port 127.0.0.1:7070 posix DIR, as /work/shared/DEPENDENCIES.md says)", EnvEndpoint, EnvAccessKey, EnvSecretKey)
	}
	return s, true, ""
}

// Fake starts an in-memory gofakes3 server on 127.0.0.1 for the test,
// its handler wrapped by wrap (for authentication) when wrap is not nil.
func Fake(t testing.TB, accessKey, secretKey string, wrap func(h http.Handler, accessKey, secretKey string) http.Handler) Server {
	t.Helper()
	var h http.Handler = gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(false)).Server()
	if wrap != nil {
		h = wrap(h, accessKey, secretKey)
	}
	srv := httptest.NewUnstartedServer(h)
	// gofakes3 writes a header twice when a client hangs up mid-body.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return Server{Name: "gofakes3", Endpoint: srv.URL, AccessKey: accessKey, SecretKey: secretKey}
}

// Faults is an http.RoundTripper that injects failures into the requests
// it passes on to Base (http.DefaultTransport if nil). It is safe for
// concurrent use.
type Faults struct {
	Base http.RoundTripper

	mu         sync.Mutex
	failWrites int
	throttle   int
	breaks     int
	breakAfter int64
	counts     map[string]int
}

// Client returns an HTTP client sending through f.
func (f *Faults) Client() *http.Client { return &http.Client{Transport: f} }

// FailWrites makes the next n requests that make objects visible
// (CompleteMultipartUpload, PutObject) fail with a 400 error that is not
// retried, before they reach the server: as if the client died there.
func (f *Faults) FailWrites(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWrites = n
}

// Throttle makes the next n requests answer 503 SlowDown.
func (f *Faults) Throttle(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = n
}

// BreakBodies makes the bodies of the next n object GETs fail after
// after bytes, as a connection reset does.
func (f *Faults) BreakBodies(n int, after int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.breaks, f.breakAfter = n, after
}

// Count returns how many requests of a kind went by: "GET", "PUT",
// "POST", ... (by method), "throttled", "failed-writes", "broken-bodies",
// "complete" (CompleteMultipartUpload), "put-object", "get-object",
// "upload-part".
func (f *Faults) Count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

// ResetCounts zeroes the counts.
func (f *Faults) ResetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts = nil
}

func (f *Faults) count(kind string) {
	if f.counts == nil {
		f.counts = map[string]int{}
	}
	f.counts[kind]++
}

// kind classifies an S3 request by its method, path and query.
func kind(r *http.Request) string {
	q := r.URL.Query()
	object := strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1
	switch {
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "complete"
	case r.Method == http.MethodPut && q.Has("uploadId"):
		return "upload-part"
	case r.Method == http.MethodPut && object && r.Header.Get("X-Amz-Copy-Source") == "":
		return "put-object"
	case r.Method == http.MethodGet && object && !q.Has("uploadId") && !q.Has("uploads"):
		return "get-object"
	}
	return ""
}

func errorResponse(r *http.Request, status int, code, msg string) *http.Response {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>injected</RequestId></Error>`, code, msg)
	return &http.Response{
		Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/xml"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// RoundTrip implements http.RoundTripper.
func (f *Faults) RoundTrip(r *http.Request) (*http.Response, error) {
	k := kind(r)
	f.mu.Lock()
	f.count(r.Method)
	if k != "" {
		f.count(k)
	}
	var fault *http.Response
	breakAfter := int64(-1)
	switch {
	case f.throttle > 0:
		f.throttle--
		f.count("throttled")
		fault = errorResponse(r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case f.failWrites > 0 && (k == "complete" || k == "put-object"):
		f.failWrites--
		f.count("failed-writes")
		fault = errorResponse(r, http.StatusBadRequest, "InjectedFault", "The test made this write fail.")
	case f.breaks > 0 && k == "get-object":
		f.breaks--
		f.count("broken-bodies")
		breakAfter = f.breakAfter
	}
	f.mu.Unlock()
	if fault != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return fault, nil
	}
	base := f.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(r)
	if err != nil || breakAfter < 0 {
		return resp, err
	}
	resp.Body = &brokenBody{r: resp.Body, left: breakAfter}
	return resp, nil
}

// ErrBroken is what a broken body returns.
var ErrBroken = errors.New("s3test: connection reset (injected)")

type brokenBody struct {
	r    io.ReadCloser
	left int64
}

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrBroken
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *brokenBody) Close() error { return b.r.Close() }

// Content returns n bytes of a deterministic, not repeating pattern.
func Content(n int, seed byte) []byte {
	var b bytes.Buffer
	b.Grow(n)
	x := uint32(seed) + 1
	for b.Len() < n {
		x = x*1664525 + 1013904223
		b.WriteByte(byte(x >> 24))
	}
	return b.Bytes()
}
