package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gomr/gomr/mapreduce"
)

// firstFetch is the most a read that does not continue the last one
// fetches beyond what it asks for: a file opened to sniff its first bytes
// or to read a split from its middle costs no full ReadAhead.
const firstFetch = 1 << 20

// file is an open object. ReadAt fetches ranges of ReadAhead bytes (or
// the whole request, when it is larger) and keeps the last two, so that a
// line reader's small sequential reads cost one request per ReadAhead
// bytes; a read that does not continue the last fetch (the first, a
// seek) fetches firstFetch bytes at most. It is safe for concurrent use;
// reads are serialized.
type file struct {
	fs          *FS
	ctx         context.Context
	bucket, key string
	size        int64
	etag        string
	mod         *time.Time

	mu     sync.Mutex
	chunks [2]chunk // most recently fetched first
	next   int64    // where the last fetch ended
	closed bool

	fetched atomic.Int64
}

type chunk struct {
	off  int64
	data []byte
}

var (
	_ mapreduce.File          = (*file)(nil)
	_ mapreduce.CounterSource = (*file)(nil)
)

func (f *file) uri() string { return URI(f.bucket, f.key) }

// Info implements mapreduce.File: the object as it is now.
func (f *file) Info(ctx context.Context) (mapreduce.FileInfo, error) {
	h, err := f.fs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(f.key)})
	if err != nil {
		return mapreduce.FileInfo{}, f.fs.wrap("stat", f.uri(), err)
	}
	return fileInfo(f.bucket, f.key, aws.ToInt64(h.ContentLength), h.LastModified), nil
}

// Counters implements mapreduce.CounterSource.
func (f *file) Counters() map[string]int64 {
	return map[string]int64{BytesReadCounter: f.fetched.Load()}
}

// Close implements io.Closer.
func (f *file) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.chunks = [2]chunk{}
	return nil
}

// ReadAt implements io.ReaderAt.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", f.uri(), off)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("read %s: %w", f.uri(), os.ErrClosed)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= f.size {
			return n, io.EOF
		}
		if c := f.cached(pos); c != nil {
			n += copy(p[n:], c.data[pos-c.off:])
			continue
		}
		want := min(int64(len(p)-n), f.size-pos)
		if want >= f.fs.cfg.ReadAhead {
			if err := f.fetch(p[n:n+int(want)], pos); err != nil {
				return n, err
			}
			n += int(want)
			f.next = pos + want
			continue
		}
		size := f.fs.cfg.ReadAhead
		if pos != f.next {
			size = min(size, max(want, firstFetch))
		}
		size = min(size, f.size-pos)
		buf := f.chunks[1].data // the older chunk's buffer goes to the new one
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		f.chunks[1] = chunk{}
		if err := f.fetch(buf, pos); err != nil {
			return n, err
		}
		f.chunks[1] = f.chunks[0]
		f.chunks[0] = chunk{off: pos, data: buf}
		f.next = pos + size
	}
	return n, nil
}

func (f *file) cached(pos int64) *chunk {
	for i := range f.chunks {
		c := &f.chunks[i]
		if c.data != nil && pos >= c.off && pos < c.off+int64(len(c.data)) {
			return c
		}
	}
	return nil
}

// bodyError is a response body that broke part way.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// fetch fills dst from the object at off. The SDK retries requests that
// fail (throttling, 5xx, connection errors); fetch retries, from where it
// got to, a body that breaks part way.
func (f *file) fetch(dst []byte, off int64) error {
	got := 0
	for attempt := 1; ; attempt++ {
		n, err := f.get(dst[got:], off+int64(got))
		got += n
		if err == nil {
			return nil
		}
		var be *bodyError
		if !errors.As(err, &be) || f.ctx.Err() != nil {
			return err
		}
		if attempt >= f.fs.cfg.RetryMaxAttempts {
			return fmt.Errorf("read %s at %d: gave up after %d tries: %w", f.uri(), off+int64(got), attempt, err)
		}
		d := backoff(f.fs.cfg.RetryBaseDelay, f.fs.cfg.RetryMaxBackoff, attempt-1)
		f.fs.log.Warn("s3 read broke; retrying", "path", f.uri(), "offset", off+int64(got), "attempt", attempt, "backoff", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-f.ctx.Done():
			t.Stop()
			return fmt.Errorf("read %s: %w", f.uri(), f.ctx.Err())
		case <-t.C:
		}
	}
}

// get reads one ranged GET into dst, returning how much it read.
func (f *file) get(dst []byte, off int64) (int, error) {
	in := &s3.GetObjectInput{
		Bucket: aws.String(f.bucket), Key: aws.String(f.key),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+int64(len(dst))-1)),
	}
	if f.etag != "" {
		in.IfMatch = aws.String(f.etag)
	}
	out, err := f.fs.client.GetObject(f.ctx, in)
	if err != nil {
		if code, _ := apiCode(err); code == "PreconditionFailed" {
			return 0, fmt.Errorf("read %s: the object changed while it was read (ETag %s no longer matches): %w", f.uri(), f.etag, err)
		}
		return 0, f.fs.wrap("read", f.uri(), err)
	}
	defer out.Body.Close()
	if start, ok := rangeStart(aws.ToString(out.ContentRange)); ok && start != off || !ok && off != 0 {
		return 0, fmt.Errorf("read %s: asked for bytes from %d, the server sent %q", f.uri(), off, aws.ToString(out.ContentRange))
	}
	n, err := io.ReadFull(out.Body, dst)
	f.fetched.Add(int64(n))
	if err != nil {
		return n, &bodyError{fmt.Errorf("read %s at %d: %w", f.uri(), off+int64(n), err)}
	}
	return n, nil
}

// rangeStart parses the first byte of "bytes START-END/SIZE".
func rangeStart(cr string) (int64, bool) {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok = strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}
