package mapreduce

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/hdfs/pagecache"
)

// Segment locates one partition's sorted records inside a run. Records are
// encoded as uvarint key length, uvarint value length, key, value; with a
// Codec, the segment holds that encoding compressed as one stream.
type Segment struct {
	Partition int
	Offset    int64
	// Length is the segment's stored size, RawLength its records' encoded
	// size before compression (equal without a codec).
	Length    int64
	RawLength int64
	Records   int64
	Sums      []uint32 // CRC32C per hdfs.ChunkSize stored bytes
	// Codec is how the segment is compressed: "" (not at all) or one of
	// MapOutputCodecs.
	Codec string
}

// Run is a sorted run: one segment per partition, stored in a file or in
// memory.
type Run struct {
	data     io.ReaderAt
	closer   io.Closer
	Segments []Segment
}

// Bytes returns the total stored size of the run's segments.
func (r *Run) Bytes() int64 {
	var n int64
	for _, s := range r.Segments {
		n += s.Length
	}
	return n
}

// RawBytes returns the total size of the run's records before
// compression.
func (r *Run) RawBytes() int64 {
	var n int64
	for _, s := range r.Segments {
		n += s.RawLength
	}
	return n
}

// Close releases the run's file, if any.
func (r *Run) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// OpenSegment returns a reader of the raw bytes of partition p.
func (r *Run) OpenSegment(p int) (io.Reader, Segment) {
	s := r.Segments[p]
	if b, ok := r.data.(bytesReaderAt); ok && s.Offset+s.Length <= int64(len(b)) {
		return bytes.NewReader(b[s.Offset : s.Offset+s.Length]), s // in memory: read in place
	}
	return io.NewSectionReader(r.data, s.Offset, s.Length), s
}

// runWriter encodes sorted records into segments, one partition at a
// time. It buffers whole records, compresses them if it has a codec, and
// checksums and writes them in chunks.
type runWriter struct {
	codec string
	enc   segmentEncoder
	w     io.Writer
	buf   []byte
	off   int64
	segs  []Segment
	cur   *Segment
	sum   hdfs.Checksummer
	err   error
}

// runWriterChunk is how much a runWriter buffers before it writes.
const runWriterChunk = 256 << 10

// newRunWriter returns a writer of a run into w whose segments are
// compressed with codec ("" for none; one of MapOutputCodecs).
func newRunWriter(w io.Writer, codec string) (*runWriter, error) {
	rw := &runWriter{w: w, buf: make([]byte, 0, 4<<10), codec: codec} // grows to runWriterChunk: a tiny run stays small
	if codec != "" {
		enc, err := newSegmentEncoder(codec)
		if err != nil {
			return nil, err
		}
		rw.enc = enc
	}
	return rw, nil
}

func (rw *runWriter) startSegment(p int) {
	rw.segs = append(rw.segs, Segment{Partition: p, Offset: rw.off, Codec: rw.codec})
	rw.cur = &rw.segs[len(rw.segs)-1]
	rw.sum = hdfs.Checksummer{}
	if rw.enc != nil {
		rw.enc.Reset(storedWriter{rw})
	}
}

// storedWriter takes a segment's stored (compressed) bytes.
type storedWriter struct{ rw *runWriter }

func (s storedWriter) Write(p []byte) (int, error) {
	if err := s.rw.store(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// store checksums and writes bytes of the current segment as stored.
func (rw *runWriter) store(p []byte) error {
	if rw.err != nil {
		return rw.err
	}
	rw.sum.Write(p)
	if _, err := rw.w.Write(p); err != nil {
		rw.err = err
		return err
	}
	rw.off += int64(len(p))
	rw.cur.Length += int64(len(p))
	return nil
}

// write encodes and appends one record.
func (rw *runWriter) write(key, value []byte) error {
	start := len(rw.buf)
	rw.buf = binary.AppendUvarint(rw.buf, uint64(len(key)))
	rw.buf = binary.AppendUvarint(rw.buf, uint64(len(value)))
	rw.buf = append(rw.buf, key...)
	rw.buf = append(rw.buf, value...)
	return rw.added(int64(len(rw.buf) - start))
}

// writeRaw appends one record that is already encoded.
func (rw *runWriter) writeRaw(raw []byte) error {
	rw.buf = append(rw.buf, raw...)
	return rw.added(int64(len(raw)))
}

func (rw *runWriter) added(size int64) error {
	rw.cur.RawLength += size
	rw.cur.Records++
	if len(rw.buf) >= runWriterChunk {
		return rw.flush()
	}
	return rw.err
}

// flush writes the buffered records, through the compressor if any.
func (rw *runWriter) flush() error {
	if rw.err != nil {
		return rw.err
	}
	if len(rw.buf) > 0 {
		if rw.enc != nil {
			if _, err := rw.enc.Write(rw.buf); err != nil {
				rw.err = fmt.Errorf("compress: %w", err)
				return rw.err
			}
		} else if err := rw.store(rw.buf); err != nil {
			return err
		}
		rw.buf = rw.buf[:0]
	}
	return nil
}

// endSegment flushes the segment and records its checksums.
func (rw *runWriter) endSegment() error {
	err := rw.flush()
	if rw.enc != nil && err == nil {
		if err = rw.enc.Close(); err != nil {
			err = fmt.Errorf("compress: %w", err)
		}
	}
	if err == nil {
		err = rw.err
	}
	rw.cur.Sums = rw.sum.Sums()
	rw.cur = nil
	return err
}

// byteReader is what a segmentReader decodes from.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// segmentReader decodes the records of one segment, verifying its checksums
// as it goes. A checksum error surfaces at the latest with the last record.
type segmentReader struct {
	r       byteReader
	dec     segmentDecoder // the decompressor, if the segment has a codec
	v       *hdfs.Verifier
	left    int64 // records left
	key     []byte
	value   []byte
	buf     []byte
	name    string
	offset  int64
	readErr error
}

// mergeReadBytes is what the read buffers of the segments one merge reads
// at once come to, at most 64 KiB a segment and at least 4 KiB: about a
// core's L2 cache. A merge takes a record from each segment in turn, so
// a segment's buffer is filled long before its last record is taken; the
// buffers of a 10 GB TeraSort's reduce (160 segments) at 64 KiB each came
// to 10 MiB, and the merge spent most of its time waiting on memory for
// records the kernel had copied into them long before (merging 128
// segments, BenchmarkMergeManyRuns took about 180 ns a record with 64 KiB
// buffers and 100 ns with 8 KiB ones).
const mergeReadBytes = 1 << 20

// mergeBufferSize is the read buffer of each of n segments merged at once.
func mergeBufferSize(n int) int {
	return min(64<<10, max(4<<10, mergeReadBytes/max(n, 1)/1024*1024))
}

// newSegmentReaders opens the segments one merge reads, each with its
// share of mergeReadBytes.
func newSegmentReaders(inputs []SegmentInput) []*segmentReader {
	readers := make([]*segmentReader, len(inputs))
	size := mergeBufferSize(len(inputs))
	for i, in := range inputs {
		readers[i] = newSegmentReader(in.Reader, in.Segment, in.Name, size)
	}
	return readers
}

// newSegmentReader reads a segment through a buffer of bufSize bytes (of
// less for a smaller segment).
func newSegmentReader(r io.Reader, seg Segment, name string, bufSize int) *segmentReader {
	v := hdfs.NewVerifier(seg.Sums)
	sr := &segmentReader{v: v, left: seg.Records, name: name}
	if br, ok := r.(*bytes.Reader); ok && seg.Codec == "" && br.Size() == seg.Length {
		// A segment in memory is verified at once and read in place,
		// without a buffer of its own.
		if _, err := br.WriteTo(v); err != nil {
			sr.fail(err)
			return sr
		}
		if err := v.Close(); err != nil {
			sr.fail(err)
			return sr
		}
		br.Seek(0, io.SeekStart)
		sr.r, sr.v = br, nil
		return sr
	}
	var stored io.Reader = io.TeeReader(r, v)
	if seg.Codec != "" {
		dec, err := newSegmentDecoder(seg.Codec, stored)
		if err != nil {
			sr.fail(err)
			return sr
		}
		sr.dec = dec
		stored = dec
	}
	// A small segment gets a buffer of its size: a reduce of a thousand
	// tiny map outputs reads a thousand segments.
	sr.r = bufio.NewReaderSize(stored, int(min(int64(bufSize), max(seg.Length, seg.RawLength, 16))))
	return sr
}

// next decodes the next record into key and value (valid until the next
// call). It returns false at the end of the segment or on error.
func (sr *segmentReader) next() bool {
	if sr.readErr != nil {
		return false
	}
	if sr.left == 0 {
		// Drain the buffered reader so the verifier sees every byte.
		if _, err := io.Copy(io.Discard, sr.r); err != nil {
			sr.fail(err)
			return false
		}
		if sr.dec != nil {
			sr.dec.Close()
			sr.dec = nil
		}
		if sr.v != nil {
			if err := sr.v.Close(); err != nil {
				sr.fail(err)
			}
		}
		return false
	}
	kl, err := binary.ReadUvarint(sr.r)
	if err != nil {
		sr.fail(err)
		return false
	}
	vl, err := binary.ReadUvarint(sr.r)
	if err != nil {
		sr.fail(err)
		return false
	}
	if kl+vl > 1<<31 {
		sr.fail(fmt.Errorf("record of %d bytes: corrupt length", kl+vl))
		return false
	}
	need := int(kl + vl)
	if cap(sr.buf) < need {
		sr.buf = make([]byte, need, max(need, 2*cap(sr.buf)))
	}
	sr.buf = sr.buf[:need]
	if _, err := io.ReadFull(sr.r, sr.buf); err != nil {
		sr.fail(err)
		return false
	}
	sr.key, sr.value = sr.buf[:kl], sr.buf[kl:]
	sr.left--
	sr.offset += int64(need)
	return true
}

func (sr *segmentReader) fail(err error) {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	sr.readErr = fmt.Errorf("segment %s: %w", sr.name, err)
}

func (sr *segmentReader) err() error { return sr.readErr }

// memRun holds a run's bytes in memory: the sequential runner's spills.
type memRun struct{ buf []byte }

func (m *memRun) Write(p []byte) (int, error) {
	m.buf = append(m.buf, p...)
	return len(p), nil
}

// runStore makes new runs: on disk in a task's folder, or in memory.
type runStore interface {
	// create returns a writer for a new run and a function that finishes
	// it given its segments.
	create(name string) (io.Writer, func(segs []Segment) (*Run, error), error)
}

// memStore keeps runs in memory.
type memStore struct{}

func (memStore) create(string) (io.Writer, func([]Segment) (*Run, error), error) {
	m := &memRun{}
	return m, func(segs []Segment) (*Run, error) {
		return &Run{data: bytesReaderAt(m.buf), Segments: segs}, nil
	}, nil
}

type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// diskStore writes runs as files in a folder, each with a ".index" file
// beside it holding its segments; behind, it writes them behind the page
// cache (pagecache.Writer).
type diskStore struct {
	dir    string
	behind bool
}

func (d diskStore) create(name string) (io.Writer, func([]Segment) (*Run, error), error) {
	path := d.dir + "/" + name
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("create run: %w", err)
	}
	var w io.Writer = f
	var behind *pagecache.Writer
	if d.behind {
		behind = pagecache.NewWriter(f)
		w = behind
	}
	return w, func(segs []Segment) (*Run, error) {
		if behind != nil {
			behind.Close()
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("close run %s: %w", path, err)
		}
		if err := writeRunIndex(path+".index", segs); err != nil {
			return nil, err
		}
		return OpenRun(path)
	}, nil
}

// OpenRun opens a run file written by a map task, with its index.
func OpenRun(path string) (*Run, error) {
	segs, err := readRunIndex(path + ".index")
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open run: %w", err)
	}
	return &Run{data: f, closer: f, Segments: segs}, nil
}
