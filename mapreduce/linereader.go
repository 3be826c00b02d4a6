package mapreduce

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/gomr/gomr/mapreduce/format"
)

// DefaultMaxLineBytes is the longest line a text split accepts (1 MiB).
const DefaultMaxLineBytes = 1 << 20

// readBufferBytes is the read buffer of a split's LineReader, unless the
// line limit or the split is smaller.
const readBufferBytes = 1 << 20

// readBuffers holds the full-size read buffers of closed LineReaders for
// the next splits, which would otherwise each allocate one.
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferBytes) }}

// ErrLineTooLong is returned for a line longer than the line limit.
var ErrLineTooLong = errors.New("line longer than the line limit")

// ErrBinaryInput is returned for input holding a NUL byte, which no text
// file has.
var ErrBinaryInput = errors.New("binary data (NUL byte) in text input")

// ErrInputChanged is returned when an input file is shorter, or was
// rewritten, since the step was planned: the step's result would silently
// miss data, so it fails instead (re-running cannot cure it).
var ErrInputChanged = errors.New("input changed while the step ran")

// InputChangedError names the changed file and what was planned and found.
type InputChangedError struct {
	File                 string
	PlannedSize, Size    int64
	PlannedMod, Modified int64 // Unix nanoseconds
}

func (e *InputChangedError) Error() string {
	if e.Size != e.PlannedSize {
		return fmt.Sprintf("input %s changed while the step ran (planned %d bytes, found %d)", e.File, e.PlannedSize, e.Size)
	}
	return fmt.Sprintf("input %s changed while the step ran (planned %d bytes modified at %s, found %d bytes modified at %s)",
		e.File, e.PlannedSize, stampUTC(e.PlannedMod), e.Size, stampUTC(e.Modified))
}

// Unwrap makes errors.Is(err, ErrInputChanged) hold.
func (e *InputChangedError) Unwrap() error { return ErrInputChanged }

func stampUTC(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// InputError is an error in the data of an input file: it names the file,
// line and byte offset. Re-running the task cannot cure it.
type InputError struct {
	File   string
	Line   int64 // 1-based; 0 when unknown
	Offset int64 // -1 for an error about the whole file
	Err    error
}

func (e *InputError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("input %s: %v", e.File, e.Err)
	}
	if e.Line > 0 {
		return fmt.Sprintf("input %s: line %d (byte offset %d): %v", e.File, e.Line, e.Offset, e.Err)
	}
	return fmt.Sprintf("input %s: byte offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// LineReader reads the lines a split owns: every line whose first byte lies
// inside the split. The last line it returns may run past the split's end;
// the first partial line, which belongs to the previous split, is skipped.
//
// A file whose name ends in .gz, .bz2 or .zst is decompressed as it is
// read. Such a file cannot be split (see format.Codec): its one split
// starts at offset 0 and owns every line of the decompressed data, whose
// offsets the reader's records and errors give. A truncated or corrupt
// stream is an *InputError naming the file, the line and the offset in
// the decompressed data where the stream broke.
type LineReader struct {
	ctx     context.Context
	split   Split
	f       File
	r       *bufio.Reader
	pos     int64 // file offset of the next unread byte
	end     int64
	maxLine int

	codec      format.Codec
	compressed *countingReader // the compressed bytes read, when codec is set
	stream     io.Closer       // the decompressor

	firstLine   int64 // offset of the first line the split owns
	lineInSplit int64
	lineBase    int64 // 1-based line number of the first owned line; 0 = not counted yet
	clean       int64 // the bytes read before this offset hold no NUL
	bytesRead   int64
	done        bool
	checked     bool // the end-of-split change check ran
	pooled      bool // r came from readBuffers and goes back on Close
}

// OpenSplit opens a split of a file on one of fss for reading lines of at
// most maxLine bytes (DefaultMaxLineBytes when maxLine <= 0).
func OpenSplit(ctx context.Context, fss *FileSystems, s Split, maxLine int) (*LineReader, error) {
	if maxLine <= 0 {
		maxLine = DefaultMaxLineBytes
	}
	f, err := openSplitFile(ctx, fss, s)
	if err != nil {
		return nil, err
	}
	if codec, ok := format.CodecFor(s.File); ok {
		lr, err := openCompressed(ctx, f, s, codec, maxLine)
		if err != nil {
			f.Close()
			return nil, err
		}
		return lr, nil
	}
	// The buffer fits a typical line and little more than the split; a
	// longer line is read past it (readLong).
	bufSize := int(min(int64(maxLine+2), readBufferBytes, max(s.Length+512, 4<<10)))
	lr := &LineReader{ctx: ctx, split: s, f: f, end: s.Offset + s.Length, maxLine: maxLine}
	start := s.Offset
	if start > 0 {
		// The split owns a line at its first byte only if the byte before
		// it ends a line.
		start--
	}
	lr.pos = start
	src := io.NewSectionReader(f, start, 1<<62)
	if bufSize == readBufferBytes {
		lr.r, lr.pooled = readBuffers.Get().(*bufio.Reader), true
		lr.r.Reset(src)
	} else {
		lr.r = bufio.NewReaderSize(src, bufSize)
	}
	if s.Offset > 0 {
		if err := lr.skipPartialLine(); err != nil {
			f.Close()
			return nil, err
		}
	}
	lr.firstLine = lr.pos
	return lr, nil
}

// openCompressed reads the lines of a compressed file's one split: the
// planned bytes of the file, decompressed.
func openCompressed(ctx context.Context, f File, s Split, codec format.Codec, maxLine int) (*LineReader, error) {
	if s.Offset != 0 {
		return nil, fmt.Errorf("split of %s at byte offset %d: a %s file cannot be split; it is read whole from offset 0", s.File, s.Offset, codec.Name())
	}
	size := s.Length
	if size <= 0 {
		size = 1 << 62
	}
	cr := &countingReader{r: io.NewSectionReader(f, 0, size)}
	zr, err := codec.NewReader(cr)
	if err != nil {
		return nil, compressedError(s.File, 0, 0, err)
	}
	lr := &LineReader{ctx: ctx, split: s, f: f, end: math.MaxInt64, maxLine: maxLine, codec: codec, compressed: cr, stream: zr}
	lr.r = bufio.NewReaderSize(zr, int(min(int64(maxLine+2), 256<<10)))
	return lr, nil
}

// compressedError describes an error of a compressed input: corrupt or
// truncated data is an *InputError (re-reading cannot cure it); a failing
// read of the file is not.
func compressedError(file string, line, offset int64, err error) error {
	if errors.Is(err, format.ErrCorruptStream) {
		return &InputError{File: file, Line: line, Offset: offset, Err: err}
	}
	return fmt.Errorf("read %s at byte offset %d of the decompressed data: %w", file, offset, err)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// skipPartialLine advances past the end of the line holding byte Offset-1.
func (lr *LineReader) skipPartialLine() error {
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.pos += int64(len(chunk))
		if err == nil {
			return nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			lr.done = true
			return nil
		}
		return fmt.Errorf("read %s at byte offset %d: %w", lr.split.File, lr.pos, err)
	}
}

// checkUnchanged refuses a file that is shorter than when the step was
// planned, or of the same size but modified since. A longer file was
// appended to; as in Hadoop, a split reads only its planned range, so the
// appended bytes are ignored.
// openSplitFile opens a split's file and checks that it is the file the
// split was planned from (checkUnchanged).
func openSplitFile(ctx context.Context, fss *FileSystems, s Split) (File, error) {
	f, err := fss.Open(ctx, s.File)
	if err != nil {
		return nil, fmt.Errorf("open split: %w", err)
	}
	if err := checkUnchanged(ctx, f, s); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkUnchanged(ctx context.Context, f File, s Split) error {
	if s.FileSize <= 0 && s.ModTime == 0 {
		return nil // not planned from a listing (tests, the sequential runner's callers)
	}
	info, err := f.Info(ctx)
	if err != nil {
		return fmt.Errorf("stat %s: %w", s.File, err)
	}
	size, mod := info.Size, info.ModTime
	if size < s.FileSize || (size == s.FileSize && s.ModTime != 0 && mod != s.ModTime) {
		return &InputChangedError{File: s.File, PlannedSize: s.FileSize, Size: size, PlannedMod: s.ModTime, Modified: mod}
	}
	return nil
}

// Next returns the next line the split owns, or io.EOF after the last.
// Reaching the end, it checks again that the file has not shrunk or been
// rewritten while it was read.
func (lr *LineReader) Next() (Record, error) {
	var rec Record
	err := lr.readRecord(&rec)
	return rec, err
}

// readRecord stores the next line the split owns in *rec, as Next
// returns it.
func (lr *LineReader) readRecord(rec *Record) error {
	line, start, err := lr.next()
	if err != nil {
		if err == io.EOF && !lr.checked {
			lr.checked = true
			if cerr := checkUnchanged(lr.ctx, lr.f, lr.split); cerr != nil {
				return cerr
			}
			lr.recordSpan()
		}
		return err
	}
	*rec = Record{File: lr.split.File, Doc: lr.split.Doc, Offset: start, Line: line, lineInSplit: lr.lineInSplit}
	lr.lineInSplit++
	return nil
}

// recordSpan records in knownLines the newlines of a split read to its
// end: it ends where the next split's first line starts, every line it
// owns having ended with a newline (the file went on).
func (lr *LineReader) recordSpan() {
	if lr.done || lr.pos < lr.end || lr.codec != nil {
		return
	}
	if f, ok := spanFileOf(lr.split); ok {
		knownLines.add(f, lr.firstLine, lr.pos, lr.lineInSplit)
	}
}

// next reads the next line the split owns and returns it without its line
// end, with the offset of its first byte.
func (lr *LineReader) next() (line []byte, start int64, err error) {
	if lr.done || lr.pos >= lr.end {
		return nil, 0, io.EOF
	}
	start = lr.pos
	line, err = lr.r.ReadSlice('\n')
	switch err {
	case nil:
	case bufio.ErrBufferFull:
		if len(line) <= lr.maxLine {
			// The buffer is smaller than the limit: read the rest of the
			// line into a private copy.
			line, err = lr.readLong(line)
			if err != nil {
				return nil, 0, err
			}
			break
		}
		return nil, 0, lr.inputError(start, fmt.Errorf("%w (%d bytes)", ErrLineTooLong, lr.maxLine))
	case io.EOF:
		lr.done = true
		if len(line) == 0 {
			return nil, 0, io.EOF
		}
	default:
		return nil, 0, lr.readError(start, err)
	}
	lr.pos += int64(len(line))
	lr.bytesRead += int64(len(line))
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	if len(line) > lr.maxLine {
		return nil, 0, lr.inputError(start, fmt.Errorf("%w (%d bytes)", ErrLineTooLong, lr.maxLine))
	}
	if start+int64(len(line)) > lr.clean {
		if err := lr.checkText(start, line); err != nil {
			return nil, 0, err
		}
	}
	return line, start, nil
}

// checkText refuses a line that holds a NUL byte. It checks the rest of
// the read buffer too, and remembers up to where the bytes read hold no
// NUL (lr.clean), so that most lines are checked a buffer at a time.
func (lr *LineReader) checkText(start int64, line []byte) error {
	if bytes.IndexByte(line[max(lr.clean-start, 0):], 0) >= 0 {
		return lr.inputError(start, ErrBinaryInput)
	}
	// The buffered bytes follow the line's end, at lr.pos; peeking at
	// them reads nothing, so line stays valid.
	ahead, _ := lr.r.Peek(lr.r.Buffered())
	lr.clean = lr.pos + int64(len(ahead))
	if i := bytes.IndexByte(ahead, 0); i >= 0 {
		lr.clean = lr.pos + int64(i)
	}
	return nil
}

// readLong continues a line that filled the read buffer, up to the limit.
func (lr *LineReader) readLong(first []byte) ([]byte, error) {
	line := append([]byte(nil), first...)
	for {
		chunk, err := lr.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > lr.maxLine+2 {
			return nil, lr.inputError(lr.pos, fmt.Errorf("%w (%d bytes)", ErrLineTooLong, lr.maxLine))
		}
		switch err {
		case nil:
			return line, nil
		case bufio.ErrBufferFull:
		case io.EOF:
			lr.done = true
			return line, nil
		default:
			return nil, lr.readError(lr.pos, err)
		}
	}
}

// readError describes a failed read at offset.
func (lr *LineReader) readError(offset int64, err error) error {
	if lr.codec != nil {
		line, lerr := lr.LineNumber(Record{lineInSplit: lr.lineInSplit})
		if lerr != nil {
			line = 0
		}
		return compressedError(lr.split.File, line, offset, err)
	}
	return fmt.Errorf("read %s at byte offset %d: %w", lr.split.File, offset, err)
}

// BytesRead returns the bytes of owned lines read so far, terminators
// included (decompressed bytes, for a compressed file).
func (lr *LineReader) BytesRead() int64 { return lr.bytesRead }

// Progress returns the fraction of the split read so far, in [0, 1] (of
// its compressed bytes, for a compressed file).
func (lr *LineReader) Progress() float64 {
	if lr.split.Length <= 0 {
		return 1
	}
	if lr.compressed != nil {
		return min(1, float64(lr.compressed.n)/float64(lr.split.Length))
	}
	return min(1, float64(lr.pos-lr.split.Offset)/float64(lr.split.Length))
}

// LineNumber returns the 1-based line number of rec in its file. The first
// call counts the newlines before the split, so the cost is paid only by
// tasks that need a line number (for a reject or an error), and only for
// the bytes whose newlines no split read by this process has counted
// (see lineSpans).
func (lr *LineReader) LineNumber(rec Record) (int64, error) {
	if lr.lineBase == 0 {
		f, ok := spanFileOf(lr.split)
		n, err := knownLines.newlinesBefore(f, ok && lr.codec == nil, lr.f, lr.firstLine)
		if err != nil {
			return 0, fmt.Errorf("count lines of %s: %w", lr.split.File, err)
		}
		lr.lineBase = n + 1
	}
	return lr.lineBase + rec.lineInSplit, nil
}

func (lr *LineReader) inputError(offset int64, err error) error {
	ie := &InputError{File: lr.split.File, Offset: offset, Err: err}
	if n, lerr := lr.LineNumber(Record{lineInSplit: lr.lineInSplit}); lerr == nil {
		ie.Line = n
	}
	return ie
}

// Close closes the underlying file. The lines the reader returned are no
// longer valid.
func (lr *LineReader) Close() error {
	if lr.stream != nil {
		lr.stream.Close()
		lr.stream = nil
	}
	if lr.pooled {
		lr.pooled = false
		lr.r.Reset(nil)
		readBuffers.Put(lr.r)
	}
	return lr.f.Close()
}

// source returns the file the reader reads.
func (lr *LineReader) source() File { return lr.f }
