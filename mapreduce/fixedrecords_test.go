package mapreduce_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
)

// teraFile writes rows TeraSort records (keys with every byte value,
// newlines and NULs included) to a new file.
func teraFile(t testing.TB, rows uint64) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := jobs.WriteTeraRecords(&buf, 0, rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "records")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}

func TestTeraSplitsOwnTheRecordsThatStartInThem(t *testing.T) {
	ctx := context.Background()
	fss := mapreduce.LocalFileSystems()
	path, data := teraFile(t, 1000)
	files, err := mapreduce.ListInputsFor(ctx, fss, []string{path}, mapreduce.TeraInput)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{100, 333, 4999, 5000, 5001, 1 << 20} {
		splits, err := mapreduce.PlanInput(ctx, fss, files, size, mapreduce.TeraInput)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		var offsets []int64
		for _, s := range splits {
			err := mapreduce.ReadRecords(ctx, fss, s, mapreduce.TeraInput, 0, func(r mapreduce.Record) bool {
				if r.Offset < s.Offset || r.Offset >= s.Offset+s.Length {
					t.Fatalf("split %d+%d returned the record at %d", s.Offset, s.Length, r.Offset)
				}
				got = append(got, r.Line...)
				offsets = append(offsets, r.Offset)
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("splits of %d bytes: read %d bytes, not the file's %d", size, len(got), len(data))
		}
		for i, off := range offsets {
			if off != int64(i)*100 {
				t.Fatalf("splits of %d bytes: record %d at offset %d", size, i, off)
			}
		}
	}
}

func TestTeraOutputRefusesAPairOfTheWrongSize(t *testing.T) {
	dir := t.TempDir()
	fw, err := mapreduce.LocalFileSystems().For(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fw.Create(context.Background(), filepath.Join(dir, "part-r-00000"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := mapreduce.OutputFormat{Name: mapreduce.TeraOutput}.NewWriter(f, "part-r-00000")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Emit(make([]byte, 10), make([]byte, 90)); err != nil {
		t.Fatal(err)
	}
	err = w.Emit([]byte("word"), []byte("1"))
	if err == nil || !strings.Contains(err.Error(), "part-r-00000: record 1 has 4 bytes of key and 1 of value") {
		t.Fatalf("a 5-byte pair: %v", err)
	}
}

// TestTeraMapDoesNotAllocatePerRecord runs a terasort map task (10-byte
// keys, four range partitions) and counts its allocations: the sort
// buffer's radix sort on an 8-byte key prefix, its comparison of ties
// and the fixed-width reader must not allocate per record.
func TestTeraMapDoesNotAllocatePerRecord(t *testing.T) {
	const rows = 20000
	path, data := teraFile(t, rows)
	def, err := jobs.Lookup(jobs.TeraSortJob)
	if err != nil {
		t.Fatal(err)
	}
	var samples [][]byte
	for off := 0; off < len(data); off += 100 * 97 {
		samples = append(samples, data[off:off+10])
	}
	opts := map[string]string{"split-points": jobs.FormatTeraSplitPoints(jobs.TeraSplitPoints(samples, 4))}
	job, err := def.BuildFor(opts, jobs.Formats{})
	if err != nil {
		t.Fatal(err)
	}
	split := mapreduce.Split{File: path, Doc: "records", Length: int64(len(data))}
	run := func() {
		res, err := mapreduce.RunMap(context.Background(), mapreduce.MapTask{
			Job: job, Split: split, FileSystems: mapreduce.LocalFileSystems(), Reducers: 4,
			InputFormat: mapreduce.TeraInput, SortBufferBytes: 16 << 20, Info: mapreduce.TaskInfo{Reducers: 4},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Counters.Get(mapreduce.MapOutputRecords); got != rows {
			t.Fatalf("%d map output records, want %d", got, rows)
		}
	}
	allocs := testing.AllocsPerRun(3, run)
	t.Logf("a terasort map task of %d records: %.0f allocations (%.4f per record)", rows, allocs, allocs/rows)
	if allocs > rows/100 {
		t.Fatalf("a map task of %d records made %.0f allocations: some path allocates per record", rows, allocs)
	}
}

func TestTeraInputOfTheWrongSizeIsRefusedAtPlanning(t *testing.T) {
	ctx := context.Background()
	fss := mapreduce.LocalFileSystems()
	path, data := teraFile(t, 5)
	os.WriteFile(path, data[:470], 0o644)
	files, err := mapreduce.ListInputsFor(ctx, fss, []string{path}, mapreduce.TeraInput)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mapreduce.PlanInput(ctx, fss, files, 1<<20, mapreduce.TeraInput)
	var ie *mapreduce.InputError
	if !errors.As(err, &ie) || ie.File != path || ie.Offset != 400 || !strings.Contains(err.Error(), "byte offset 400: truncated record") {
		t.Fatalf("a 470-byte file: %v", err)
	}
	// Text listing refuses it as binary; the tera listing does not.
	if _, err := mapreduce.ListInputs(ctx, fss, []string{path}); !errors.Is(err, mapreduce.ErrBinaryInput) {
		t.Fatalf("ListInputs of records: %v", err)
	}
}

// TestTeraSortStepAllocations runs a whole terasort step (map, merge,
// reduce, part files) and logs its allocations per record; the reduce
// side must not allocate per record either.
func TestTeraSortStepAllocations(t *testing.T) {
	const rows = 20000
	path, data := teraFile(t, rows)
	def, _ := jobs.Lookup(jobs.TeraSortJob)
	var samples [][]byte
	for off := 0; off < len(data); off += 100 * 97 {
		samples = append(samples, data[off:off+10])
	}
	opts := map[string]string{"split-points": jobs.FormatTeraSplitPoints(jobs.TeraSplitPoints(samples, 4))}
	job, err := def.BuildFor(opts, jobs.Formats{})
	if err != nil {
		t.Fatal(err)
	}
	splits := []mapreduce.Split{{File: path, Doc: "records", Length: rows * 50}, {File: path, Doc: "records", Offset: rows * 50, Length: rows * 50}}
	dir := t.TempDir()
	n := 0
	allocs := testing.AllocsPerRun(2, func() {
		n++
		_, err := mapreduce.RunSequential(context.Background(), job, splits, mapreduce.SequentialOptions{
			Reducers: 4, Output: filepath.Join(dir, strings.Repeat("o", n)), InputFormat: mapreduce.TeraInput,
			OutputFormat: mapreduce.OutputFormat{Name: mapreduce.TeraOutput},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("a terasort step of %d records: %.0f allocations (%.4f per record)", rows, allocs, allocs/rows)
	if allocs > rows/10 {
		t.Fatalf("a terasort step of %d records made %.0f allocations: some path allocates per record", rows, allocs)
	}
}
