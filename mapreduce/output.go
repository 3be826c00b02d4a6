package mapreduce

import (
	"bufio"
	"fmt"
)

// PartName returns a part file's name: part-r-00003 for reduce partition 3,
// part-m-00003 for map task 3 of a map-only step.
func PartName(kind byte, index int) string {
	return fmt.Sprintf("part-%c-%05d", kind, index)
}

// TextWriter writes pairs as "key<TAB>value" lines to a file of a task's
// output; Close completes the file.
type TextWriter struct {
	name    string
	f       FileWriter
	w       *bufio.Writer
	bytes   int64
	records int64
	closed  bool
}

// NewTextWriter writes lines to f, a file named name (for errors).
func NewTextWriter(f FileWriter, name string) *TextWriter {
	return &TextWriter{name: name, f: f, w: bufio.NewWriterSize(f, 256<<10)}
}

// Emit writes one line: key<TAB>value, or the key alone when value is
// nil (as Hadoop's TextOutputFormat writes a null value).
func (t *TextWriter) Emit(key, value []byte) error {
	t.w.Write(key)
	if value != nil {
		t.w.WriteByte('\t')
		t.w.Write(value)
		t.bytes++
	}
	if err := t.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	t.bytes += int64(len(key) + len(value) + 1)
	t.records++
	return nil
}

// Bytes returns the bytes written so far.
func (t *TextWriter) Bytes() int64 { return t.bytes }

// Records returns the lines written so far.
func (t *TextWriter) Records() int64 { return t.records }

// Close flushes and completes the file.
func (t *TextWriter) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.w.Flush(); err != nil {
		t.f.Abort()
		return fmt.Errorf("write %s: %w", t.name, err)
	}
	return t.f.Close()
}

// Abort discards the file unless Close already succeeded.
func (t *TextWriter) Abort() {
	if t.closed {
		return
	}
	t.closed = true
	t.f.Abort()
}
