package mapreduce

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/gomr/gomr/mapreduce/format"
)

// TeraInput reads TeraSort's binary records (Hadoop's TeraInputFormat):
// fixed-width records of TeraRecordBytes, the first TeraKeyBytes of each
// its key, with no separator, so any byte (a newline, a NUL) may appear in
// a key. A split owns every record whose first byte lies inside it, so
// splits may be cut anywhere (at HDFS blocks): a record is read by
// exactly one map task. The mapper gets each record whole as the
// Record's Line and its byte offset as Offset.
const TeraInput = "tera"

// TeraOutput writes each pair as its key's bytes followed by its value's,
// with no separator (Hadoop's TeraOutputFormat); every pair must make one
// record of TeraRecordBytes.
const TeraOutput = "tera"

// The layout of a TeraSort record.
const (
	// TeraRecordBytes is the size of a record.
	TeraRecordBytes = 100
	// TeraKeyBytes is the size of a record's key.
	TeraKeyBytes = 10
)

// fixedReadBuffer is how much a fixed-width reader reads at a time.
const fixedReadBuffer = 1 << 20

// binaryInput reports whether an input format reads binary records,
// whose files ListInputs must not refuse for holding NUL bytes.
func binaryInput(inputFormat string) bool { return inputFormat == TeraInput }

// ListInputsFor is ListInputs for a step reading its input in
// inputFormat: the files of a binary format (TeraInput) are listed
// without the check that refuses binary data.
func ListInputsFor(ctx context.Context, fss *FileSystems, paths []string, inputFormat string) ([]InputFile, error) {
	if binaryInput(inputFormat) {
		return ListFiles(ctx, fss, paths)
	}
	return ListInputs(ctx, fss, paths)
}

// checkFixedFiles refuses files that do not hold whole records: a
// compressed file (TeraSort input is not compressed), and a file whose
// size is not a multiple of the record size (its last record is
// truncated).
func checkFixedFiles(files []InputFile, width int64) error {
	for _, f := range files {
		if c, ok := format.CodecFor(f.Path); ok {
			return &InputError{File: f.Path, Offset: -1, Err: fmt.Errorf("%s records cannot be read through %s: decompress the file first", TeraInput, c.Name())}
		}
		if rest := f.Size % width; rest != 0 {
			last := f.Size - rest
			return &InputError{File: f.Path, Offset: last, Err: fmt.Errorf("truncated record: the file's %d bytes are not a whole number of %d-byte records (the last record has %d bytes)", f.Size, width, rest)}
		}
	}
	return nil
}

// fixedReader reads the fixed-width records a split owns: those whose
// first byte lies inside it.
type fixedReader struct {
	ctx    context.Context
	split  Split
	f      File
	r      *bufio.Reader
	width  int64
	next   int64 // offset of the next record
	end    int64 // records starting before end are owned
	rec    []byte
	read   int64
	failed bool
}

func openFixed(ctx context.Context, fss *FileSystems, s Split, width int64) (*fixedReader, error) {
	if c, ok := format.CodecFor(s.File); ok {
		return nil, &InputError{File: s.File, Offset: -1, Err: fmt.Errorf("%s records cannot be read through %s: decompress the file first", TeraInput, c.Name())}
	}
	f, err := openSplitFile(ctx, fss, s)
	if err != nil {
		return nil, err
	}
	first := (s.Offset + width - 1) / width * width
	fr := &fixedReader{ctx: ctx, split: s, f: f, width: width, next: first, end: s.Offset + s.Length, rec: make([]byte, width)}
	// A small split (and the client's sampling) needs no large buffer.
	size := int(min(fixedReadBuffer, max(s.Length+width, 4096)))
	fr.r = bufio.NewReaderSize(io.NewSectionReader(f, first, 1<<62), size)
	return fr, nil
}

// readRecord stores the next record the split owns in *rec, or returns
// io.EOF after the last. A record cut short by the end of the file is an
// *InputError naming the file and the record's offset.
func (fr *fixedReader) readRecord(rec *Record) error {
	if fr.failed || fr.next >= fr.end {
		return io.EOF
	}
	n, err := io.ReadFull(fr.r, fr.rec)
	switch {
	case err == io.EOF:
		fr.failed = true
		if fr.split.FileSize > 0 && fr.next < fr.split.FileSize {
			return &InputChangedError{File: fr.split.File, PlannedSize: fr.split.FileSize, Size: fr.next}
		}
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		fr.failed = true
		return &InputError{File: fr.split.File, Offset: fr.next, Err: fmt.Errorf("truncated record: %d bytes of %d before the end of the file", n, fr.width)}
	case err != nil:
		fr.failed = true
		return fmt.Errorf("read %s at byte offset %d: %w", fr.split.File, fr.next, err)
	}
	*rec = Record{File: fr.split.File, Doc: fr.split.Doc, Offset: fr.next, Line: fr.rec}
	fr.next += fr.width
	fr.read += fr.width
	return nil
}

// Progress returns the fraction of the split read.
func (fr *fixedReader) Progress() float64 {
	if fr.split.Length <= 0 {
		return 1
	}
	return min(1, float64(fr.read)/float64(fr.split.Length))
}

// BytesRead returns the bytes of the records read.
func (fr *fixedReader) BytesRead() int64 { return fr.read }

// LineNumber returns the 1-based record number of rec in its file.
func (fr *fixedReader) LineNumber(rec Record) (int64, error) { return rec.Offset/fr.width + 1, nil }

// Close closes the file.
func (fr *fixedReader) Close() error { return fr.f.Close() }

func (fr *fixedReader) source() File { return fr.f }

// fixedWriter writes pairs as fixed-width records: the key's bytes, then
// the value's.
type fixedWriter struct {
	name    string
	file    *codecFile
	w       *bufio.Writer
	width   int
	records int64
	closed  bool
}

func newFixedWriter(f FileWriter, name string, codec format.Codec, width int) (*fixedWriter, error) {
	cf, err := newCodecFile(f, codec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &fixedWriter{name: name, file: cf, w: bufio.NewWriterSize(cf, 256<<10), width: width}, nil
}

// Emit writes key and value as one record.
func (fw *fixedWriter) Emit(key, value []byte) error {
	if len(key)+len(value) != fw.width {
		return fmt.Errorf("write %s: record %d has %d bytes of key and %d of value: %s records have %d bytes", fw.name, fw.records, len(key), len(value), TeraOutput, fw.width)
	}
	fw.w.Write(key)
	if _, err := fw.w.Write(value); err != nil {
		return fmt.Errorf("write %s: %w", fw.name, err)
	}
	fw.records++
	return nil
}

// Bytes returns the bytes written to the file (after compression; exact
// once Close returned).
func (fw *fixedWriter) Bytes() int64 { return fw.file.n }

// Records returns the records written.
func (fw *fixedWriter) Records() int64 { return fw.records }

// Close flushes and completes the file.
func (fw *fixedWriter) Close() error {
	if fw.closed {
		return nil
	}
	fw.closed = true
	if err := fw.w.Flush(); err != nil {
		fw.file.Abort()
		return fmt.Errorf("write %s: %w", fw.name, err)
	}
	if err := fw.file.Close(); err != nil {
		return fmt.Errorf("write %s: %w", fw.name, err)
	}
	return nil
}

// Abort discards the file unless Close already succeeded.
func (fw *fixedWriter) Abort() {
	if fw.closed {
		return
	}
	fw.closed = true
	fw.file.Abort()
}
