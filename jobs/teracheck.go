package jobs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// TeraSortParts returns the part files of a terasort output folder, in
// part order (part-r-00000, part-r-00001, ...).
func TeraSortParts(ctx context.Context, fss *mapreduce.FileSystems, output string) ([]string, error) {
	fs, err := fss.For(output)
	if err != nil {
		return nil, fmt.Errorf("terasort output %s: %w", output, err)
	}
	entries, err := fs.List(ctx, output)
	if err != nil {
		return nil, fmt.Errorf("terasort output %s: %w", output, err)
	}
	var parts []string
	for _, e := range entries {
		if !e.IsDir && strings.HasPrefix(mapreduce.Base(e.Path), "part-") {
			parts = append(parts, e.Path)
		}
	}
	slices.SortFunc(parts, func(a, b string) int { return comparePartNames(mapreduce.Base(a), mapreduce.Base(b)) })
	return parts, nil
}

// comparePartNames orders part file names by their number (part-r-99999
// before part-r-100000), then by name.
func comparePartNames(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// CheckTeraSortOutput checks that the records of a terasort output
// folder, read part after part, are the records of sorted: text lines
// (AppendTeraLine) as "LC_ALL=C sort" orders them. Records of equal keys
// may come in either order. The first difference is an error naming the
// part file and record number.
func CheckTeraSortOutput(ctx context.Context, fss *mapreduce.FileSystems, output string, sorted io.Reader) error {
	parts, err := TeraSortParts(ctx, fss, output)
	if err != nil {
		return err
	}
	want := newTeraLineReader(sorted)
	got := &teraPartsReader{ctx: ctx, fss: fss, parts: parts}
	defer got.close()
	var wantGroup, gotGroup [][]byte
	var wantNext, gotNext []byte
	for {
		// Read the next group of equal keys from each side.
		wantGroup, wantNext, err = readKeyGroup(wantGroup[:0], wantNext, want.next)
		if err != nil {
			return fmt.Errorf("sorted records: %w", err)
		}
		start := got.total // the index of the group's first record
		if gotNext != nil {
			start--
		}
		gotGroup, gotNext, err = readKeyGroup(gotGroup[:0], gotNext, got.next)
		where := got.at(start)
		if err != nil {
			return err
		}
		if len(wantGroup) == 0 && len(gotGroup) == 0 {
			return nil
		}
		if len(gotGroup) == 0 {
			return fmt.Errorf("terasort output %s ends after %d records; the sorted records go on with key %x", output, got.total, wantGroup[0][:TeraKeyBytes])
		}
		if len(wantGroup) == 0 {
			return fmt.Errorf("%s holds more records than the sorted records (from key %x on)", where, gotGroup[0][:TeraKeyBytes])
		}
		if !bytes.Equal(wantGroup[0][:TeraKeyBytes], gotGroup[0][:TeraKeyBytes]) || len(wantGroup) != len(gotGroup) {
			return fmt.Errorf("%s: key %x (%d records), the sorted records have key %x (%d records)", where, gotGroup[0][:TeraKeyBytes], len(gotGroup), wantGroup[0][:TeraKeyBytes], len(wantGroup))
		}
		slices.SortFunc(wantGroup, bytes.Compare)
		slices.SortFunc(gotGroup, bytes.Compare)
		for i := range wantGroup {
			if !bytes.Equal(wantGroup[i], gotGroup[i]) {
				return fmt.Errorf("%s: a record of key %x differs from the sorted records' (%x, want %x)", where, gotGroup[i][:TeraKeyBytes], gotGroup[i], wantGroup[i])
			}
		}
	}
}

// readKeyGroup appends to group copies of the records of one key: pending
// (read ahead last time, if any) and those next returns after it with the
// same key. It returns the first record of the next key.
func readKeyGroup(group [][]byte, pending []byte, next func() ([]byte, error)) ([][]byte, []byte, error) {
	if pending == nil {
		rec, err := next()
		if err == io.EOF {
			return group, nil, nil
		}
		if err != nil {
			return group, nil, err
		}
		pending = slices.Clone(rec)
	}
	group = append(group, pending)
	for {
		rec, err := next()
		if err == io.EOF {
			return group, nil, nil
		}
		if err != nil {
			return group, nil, err
		}
		if !bytes.Equal(rec[:TeraKeyBytes], pending[:TeraKeyBytes]) {
			return group, slices.Clone(rec), nil
		}
		group = append(group, slices.Clone(rec))
	}
}

// teraPartsReader reads the records of part files one after another.
type teraPartsReader struct {
	ctx   context.Context
	fss   *mapreduce.FileSystems
	parts []string
	i     int // part being read (index into parts)
	f     mapreduce.File
	r     *bufio.Reader
	n     int64 // records read of the current part
	total int64
	// starts holds, for each part opened, the index of its first record
	// among all the parts' records.
	starts []partStart
	rec    [TeraRecordBytes]byte
}

// at names the record of index idx among all the parts' records.
func (t *teraPartsReader) at(idx int64) string {
	if idx >= t.total {
		return "the end of the terasort output"
	}
	// The last part opened at or before idx holds it.
	i := len(t.starts) - 1
	for i > 0 && t.starts[i].first > idx {
		i--
	}
	n := idx - t.starts[i].first
	return fmt.Sprintf("%s record %d (byte offset %d)", t.parts[t.starts[i].part], n, n*TeraRecordBytes)
}

func (t *teraPartsReader) next() ([]byte, error) {
	for {
		if t.i >= len(t.parts) {
			return nil, io.EOF
		}
		if t.f == nil {
			f, err := t.fss.Open(t.ctx, t.parts[t.i])
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", t.parts[t.i], err)
			}
			t.f, t.r, t.n = f, bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 1<<20), 0
			t.starts = append(t.starts, partStart{part: t.i, first: t.total})
		}
		n, err := io.ReadFull(t.r, t.rec[:])
		if err == io.EOF {
			t.f.Close()
			t.f = nil
			t.i++
			continue
		}
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%s: %w: truncated record at byte offset %d: %d bytes of %d", t.parts[t.i], ErrTeraRecord, t.n*TeraRecordBytes, n, TeraRecordBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s at byte offset %d: %w", t.parts[t.i], t.n*TeraRecordBytes, err)
		}
		t.n++
		t.total++
		return t.rec[:], nil
	}
}

// partStart is where a part's records start among all the parts'.
type partStart struct {
	part  int
	first int64
}

func (t *teraPartsReader) close() {
	if t.f != nil {
		t.f.Close()
	}
}
