package mapreduce

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// PartName returns a part file's name: part-r-00003 for reduce partition 3,
// part-m-00003 for map task 3 of a map-only step.
func PartName(kind byte, index int) string {
	return fmt.Sprintf("part-%c-%05d", kind, index)
}

// TextWriter writes pairs as "key<TAB>value" lines to a new file, which is
// synced to disk on Close so a committed part file is durable.
type TextWriter struct {
	path    string
	f       *os.File
	w       *bufio.Writer
	bytes   int64
	records int64
	closed  bool
}

// CreateText creates path (and its folder) for writing.
func CreateText(path string) (*TextWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create output folder: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	return &TextWriter{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// Emit writes one line.
func (t *TextWriter) Emit(key, value []byte) error {
	t.w.Write(key)
	t.w.WriteByte('\t')
	t.w.Write(value)
	if err := t.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	t.bytes += int64(len(key) + len(value) + 2)
	t.records++
	return nil
}

// Bytes returns the bytes written so far.
func (t *TextWriter) Bytes() int64 { return t.bytes }

// Records returns the lines written so far.
func (t *TextWriter) Records() int64 { return t.records }

// Close flushes, syncs and closes the file.
func (t *TextWriter) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.w.Flush(); err != nil {
		t.f.Close()
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	if err := t.f.Sync(); err != nil {
		t.f.Close()
		return fmt.Errorf("sync %s: %w", t.path, err)
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.path, err)
	}
	return nil
}

// Abort closes and removes the file unless Close already succeeded.
func (t *TextWriter) Abort() {
	if t.closed {
		return
	}
	t.closed = true
	t.f.Close()
	os.Remove(t.path)
}
