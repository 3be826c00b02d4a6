package s3

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gomr/gomr/mapreduce"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksumValue is the CRC32C as S3 headers carry it: base64 of the
// big-endian bytes.
func checksumValue(sum uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], sum)
	return base64.StdEncoding.EncodeToString(b[:])
}

// parseChecksum reads a full-object CRC32C header value.
func parseChecksum(s string) (uint32, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

// writeMode says what Close does.
type writeMode int

const (
	// modePut completes the file on Close: one PutObject, or the
	// multipart upload completed.
	modePut writeMode = iota
	// modeTask leaves the multipart upload open on Close, for the leader
	// to complete (or abort) from the commit record.
	modeTask
)

type writerState int

const (
	writing writerState = iota
	closed
	aborted // by Abort: the file is not part of the output
	failed  // Close failed: the attempt cannot commit
)

// writer uploads one object: Write fills PartSize buffers and uploads
// each as a part as soon as it is full (UploadConcurrency at a time),
// computing the object's size and CRC32C as it goes.
type writer struct {
	fs          *FS
	ctx         context.Context
	bucket, key string
	meta        map[string]string
	mode        writeMode
	checksums   bool

	mu       sync.Mutex // Write, Close, Abort, discard
	state    writerState
	buf      []byte
	size     int64
	crc      uint32
	uploadID string
	parts    []recordPart // under pmu: ETags are filled in as uploads finish
	sem      chan struct{}
	inflight sync.WaitGroup

	pmu sync.Mutex
	err error // the first part upload that failed

	uploaded atomic.Int64
}

var (
	_ mapreduce.FileWriter    = (*writer)(nil)
	_ mapreduce.CounterSource = (*writer)(nil)
)

// Counters implements mapreduce.CounterSource.
func (w *writer) Counters() map[string]int64 {
	return map[string]int64{BytesWrittenCounter: w.uploaded.Load()}
}

func (fs *FS) newWriter(ctx context.Context, bucket, key string, meta map[string]string, mode writeMode) *writer {
	return &writer{
		fs: fs, ctx: ctx, bucket: bucket, key: key, meta: meta, mode: mode, checksums: fs.checksums,
		sem: make(chan struct{}, fs.cfg.UploadConcurrency),
	}
}

func (w *writer) uri() string { return URI(w.bucket, w.key) }

// start creates the multipart upload.
func (w *writer) start() error {
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(w.bucket), Key: aws.String(w.key), Metadata: w.meta}
	if w.checksums {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c
		in.ChecksumType = types.ChecksumTypeFullObject
	}
	out, err := w.fs.client.CreateMultipartUpload(w.ctx, in)
	if err != nil {
		return w.fs.wrap("start the upload of", w.uri(), err)
	}
	w.uploadID = aws.ToString(out.UploadId)
	return nil
}

// firstErr returns the first failure of the upload.
func (w *writer) firstErr() error {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	return w.err
}

// fail records a failure, after which every Write and Close fails.
func (w *writer) fail(err error) error {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// Write implements io.Writer.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return 0, fmt.Errorf("write %s: the file is closed or aborted", w.uri())
	}
	if err := w.firstErr(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, w.fs.cfg.PartSize)
		}
		k := min(int(w.fs.cfg.PartSize)-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		w.crc = crc32.Update(w.crc, castagnoli, p[:k])
		w.size += int64(k)
		p = p[k:]
		if len(w.buf) == int(w.fs.cfg.PartSize) {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// flush uploads the buffer as the next part, in the background.
func (w *writer) flush() error {
	if w.uploadID == "" {
		if err := w.start(); err != nil {
			return w.fail(err)
		}
	}
	data := w.buf
	w.buf = nil
	w.pmu.Lock()
	part := recordPart{Number: int32(len(w.parts) + 1), Size: int64(len(data)), CRC32C: crc32.Checksum(data, castagnoli)}
	w.parts = append(w.parts, part) // under pmu: finished uploads write their ETags in
	w.pmu.Unlock()
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		return w.fail(fmt.Errorf("upload %s: %w", w.uri(), w.ctx.Err()))
	}
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Done()
		defer func() { <-w.sem }()
		in := &s3.UploadPartInput{
			Bucket: aws.String(w.bucket), Key: aws.String(w.key), UploadId: aws.String(w.uploadID),
			PartNumber: aws.Int32(part.Number), Body: bytes.NewReader(data), ContentLength: aws.Int64(part.Size),
		}
		if w.checksums {
			in.ChecksumCRC32C = aws.String(checksumValue(part.CRC32C))
		}
		out, err := w.fs.client.UploadPart(w.ctx, in)
		if err != nil {
			w.fail(w.fs.wrap(fmt.Sprintf("upload part %d of", part.Number), w.uri(), err))
			return
		}
		w.pmu.Lock()
		defer w.pmu.Unlock()
		w.parts[part.Number-1].ETag = aws.ToString(out.ETag)
		w.uploaded.Add(part.Size)
	}()
	return nil
}

// finish uploads what is buffered and waits for every part.
func (w *writer) finish() error {
	if len(w.buf) > 0 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.inflight.Wait()
	return w.firstErr()
}

// Close implements mapreduce.FileWriter. In task mode the upload stays
// open: the file is not visible until the leader commits the task.
func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == closed {
		return nil
	}
	if w.state != writing {
		return fmt.Errorf("close %s: the file was aborted or failed", w.uri())
	}
	if err := w.firstErr(); err != nil {
		w.discard()
		w.state = failed
		return err
	}
	var err error
	switch {
	case w.mode == modeTask && w.size == 0:
		// An empty file has no part to upload (and S3 servers disagree
		// on empty parts): the leader puts it at commit.
		if w.uploadID != "" {
			if aerr := w.fs.abortUpload(w.ctx, w.bucket, w.key, w.uploadID); aerr != nil {
				w.fs.log.Warn("s3 upload of an empty file not aborted; the step's commit will", "path", w.uri(), "err", aerr)
			}
			w.uploadID = ""
		}
	case w.mode == modeTask:
		err = w.finish()
	case w.uploadID == "":
		err = w.put()
	default:
		if err = w.finish(); err == nil {
			err = w.complete()
		}
	}
	if err != nil {
		w.fail(err)
		w.discard()
		w.state = failed
		return err
	}
	w.state = closed
	return nil
}

// put sends a file smaller than a part with one PutObject.
func (w *writer) put() error {
	in := &s3.PutObjectInput{
		Bucket: aws.String(w.bucket), Key: aws.String(w.key), Metadata: w.meta,
		Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
	}
	if w.checksums {
		in.ChecksumCRC32C = aws.String(checksumValue(w.crc))
	}
	if _, err := w.fs.client.PutObject(w.ctx, in); err != nil {
		return w.fs.wrap("put", w.uri(), err)
	}
	w.uploaded.Add(int64(len(w.buf)))
	w.buf = nil
	return nil
}

// complete completes the multipart upload of a modePut file.
func (w *writer) complete() error {
	f := recordFile{Key: w.key, UploadID: w.uploadID, Parts: w.parts, Size: w.size, CRC32C: w.crc, Checksums: w.checksums}
	_, err := w.fs.client.CompleteMultipartUpload(w.ctx, completeInput(w.bucket, f))
	return w.fs.wrap("complete the upload of", w.uri(), err)
}

// completeInput is the CompleteMultipartUpload of a recorded file; the
// checksums go only with an upload created with them.
func completeInput(bucket string, f recordFile) *s3.CompleteMultipartUploadInput {
	parts := make([]types.CompletedPart, len(f.Parts))
	for i, p := range f.Parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
		if f.Checksums {
			parts[i].ChecksumCRC32C = aws.String(checksumValue(p.CRC32C))
		}
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(f.Key), UploadId: aws.String(f.UploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if f.Checksums {
		in.ChecksumCRC32C = aws.String(checksumValue(f.CRC32C))
		in.ChecksumType = types.ChecksumTypeFullObject
	}
	return in
}

// Abort implements mapreduce.FileWriter: the upload is aborted (and the
// file left out of the attempt's commit record); a no-op after Close.
func (w *writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == closed || w.state == failed {
		return // a failed file was discarded already, and stays failed
	}
	w.discard()
}

// discard aborts the upload whatever the state (w.mu held); a failure
// is logged: the step's CommitJob or AbortJob aborts what is left.
func (w *writer) discard() {
	if err := w.discardErr(); err != nil {
		w.fs.log.Warn("s3 upload not aborted; the step's commit or abort will", "path", w.uri(), "err", err)
	}
}

func (w *writer) discardErr() error {
	w.state = aborted
	w.buf = nil
	w.inflight.Wait()
	if w.uploadID == "" {
		return nil
	}
	if err := w.fs.abortUpload(w.ctx, w.bucket, w.key, w.uploadID); err != nil {
		return err
	}
	w.uploadID = ""
	return nil
}

// record describes a closed task-mode file for the commit record.
func (w *writer) record(name string) (recordFile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case writing:
		return recordFile{}, fmt.Errorf("output file %s is still open (not closed)", w.uri())
	case aborted:
		return recordFile{}, errAborted
	case failed:
		return recordFile{}, fmt.Errorf("output file %s failed: %w", w.uri(), w.firstErr())
	}
	f := recordFile{Name: name, Key: w.key, UploadID: w.uploadID, Size: w.size, CRC32C: w.crc}
	if w.uploadID != "" {
		f.Parts = append([]recordPart(nil), w.parts...)
		f.Checksums = w.checksums
	}
	return f, nil
}

var errAborted = errors.New("aborted")
