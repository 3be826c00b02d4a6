package mapreduce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce/format"
)

var testParquetSchema = format.Schema{
	{Name: "id", Type: format.Int64},
	{Name: "name", Type: format.String, Nullable: true},
	{Name: "score", Type: format.Double},
	{Name: "ok", Type: format.Boolean},
	{Name: "at", Type: format.Timestamp, Nullable: true},
}

func testParquetRow(i int) []format.Value {
	var name, at format.Value
	if i%7 != 0 {
		name = fmt.Sprintf("name\t%d", i)
		at = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1500 * time.Millisecond)
	}
	return []format.Value{int64(i), name, float64(i) / 8, i%3 == 0, at}
}

// writeParquetFile writes rows 0..rows-1 of testParquetSchema in row
// groups of groupRows rows.
func writeParquetFile(t testing.TB, path string, rows, groupRows int) {
	t.Helper()
	var buf bytes.Buffer
	pw, err := format.NewParquetWriter(&buf, testParquetSchema, format.ParquetOptions{RowGroupRows: int64(groupRows)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := pw.WriteRow(testParquetRow(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// valuesMapper emits each row's id as the key and its text rendering
// (Line), checked against its typed values, as the value.
type valuesMapper struct{}

func (valuesMapper) Map(_ *TaskContext, rec Record, out Emitter) error {
	if len(rec.Values) != len(rec.Schema) {
		return fmt.Errorf("%d values for %d columns", len(rec.Values), len(rec.Schema))
	}
	var b []byte
	for i, v := range rec.Values {
		if i > 0 {
			b = append(b, '\t')
		}
		b = format.AppendValue(b, rec.Schema[i].Type, v)
	}
	if !bytes.Equal(b, rec.Line) {
		return fmt.Errorf("line %q is not the rendering %q of the values", rec.Line, b)
	}
	return out.Emit([]byte(fmt.Sprintf("%08d", rec.Values[0].(int64))), rec.Line)
}

// TestParquetInputSplitsByRowGroup cuts Parquet files into splits of
// whole row groups (packed by size, or per HDFS-like block) and checks
// that every row is read exactly once, typed, with its text rendering.
func TestParquetInputSplitsByRowGroup(t *testing.T) {
	dir := t.TempDir()
	const rows = 1500
	path := filepath.Join(dir, "rows.parquet")
	writeParquetFile(t, path, rows, 50)
	var want []string
	for i := range rows {
		var b []byte
		for k, v := range testParquetRow(i) {
			if k > 0 {
				b = append(b, '\t')
			}
			b = format.AppendValue(b, testParquetSchema[k].Type, v)
		}
		want = append(want, fmt.Sprintf("%08d\t%s", i, b))
	}
	files, err := ListInputs(context.Background(), LocalFileSystems(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		splitSize int64
		blockSize int64
	}{
		{"one split", 1 << 30, 0},
		{"packed", 3 << 10, 0},
		{"blocks", 1 << 30, 2 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := slices.Clone(files)
			fl[0].BlockSize = tc.blockSize
			splits, err := PlanParquetSplits(context.Background(), LocalFileSystems(), fl, tc.splitSize)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name != "one split" && len(splits) < 3 {
				t.Fatalf("%d splits; want several", len(splits))
			}
			for i := 1; i < len(splits); i++ {
				if splits[i].Offset < splits[i-1].Offset+splits[i-1].Length {
					t.Fatalf("splits %d and %d overlap: %+v %+v", i-1, i, splits[i-1], splits[i])
				}
			}
			out := filepath.Join(t.TempDir(), "out")
			c, err := RunSequential(context.Background(), &Job{Mapper: valuesMapper{}, Reducer: concatReducer{}}, splits, SequentialOptions{Reducers: 1, InputFormat: ParquetInput, Output: out})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(strings.TrimSuffix(partFiles(t, out)["part-r-00000"], "\n"), "\n")
			if !slices.Equal(got, want) {
				t.Fatalf("%d rows read, want %d; first %q, want %q", len(got), len(want), got[0], want[0])
			}
			if c.Get(MapInputRecords) != rows {
				t.Errorf("MAP_INPUT_RECORDS %d, want %d", c.Get(MapInputRecords), rows)
			}
		})
	}
}

// TestBadParquetInput checks a truncated file and files whose footer or
// pages are corrupt: an *InputError naming the file, when the step is
// planned (the footer) or when the map reads the row group (its pages).
func TestBadParquetInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeParquetFile(t, good, 500, 100)
	data, _ := os.ReadFile(good)

	truncated := filepath.Join(dir, "truncated.parquet")
	os.WriteFile(truncated, data[:len(data)*2/3], 0o644)
	badFooter := filepath.Join(dir, "footer.parquet")
	b := bytes.Clone(data)
	footerLen := int(b[len(b)-8]) | int(b[len(b)-7])<<8
	for i := len(b) - 8 - footerLen + 2; i < len(b)-8-footerLen/2; i++ {
		b[i] = 0xff
	}
	os.WriteFile(badFooter, b, 0o644)
	for _, path := range []string{truncated, badFooter} {
		files, err := ListInputs(context.Background(), LocalFileSystems(), []string{path})
		if err != nil {
			t.Fatal(err)
		}
		_, err = PlanInput(context.Background(), LocalFileSystems(), files, 1<<20, ParquetInput)
		t.Logf("%s: %v", filepath.Base(path), err)
		var ie *InputError
		if !errors.As(err, &ie) || ie.File != path || !errors.Is(err, format.ErrCorruptParquet) {
			t.Errorf("%s: planning error %v; want an *InputError naming it, wrapping ErrCorruptParquet", filepath.Base(path), err)
		}
	}

	// Garbage over the pages of the third row group: the footer is fine,
	// the map reading that group fails.
	pf, err := format.OpenParquet(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	g := pf.RowGroup(2)
	badPages := filepath.Join(dir, "pages.parquet")
	b = bytes.Clone(data)
	for i := g.Offset; i < g.Offset+min(g.Size, 40); i++ {
		b[i] = 0xff
	}
	os.WriteFile(badPages, b, 0o644)
	out := filepath.Join(dir, "out")
	_, _, err = runFiles(t, &Job{Mapper: valuesMapper{}, Reducer: concatReducer{}}, []string{badPages}, 1<<20, SequentialOptions{Reducers: 1, InputFormat: ParquetInput, Output: out})
	t.Logf("%s: %v", filepath.Base(badPages), err)
	var ie *InputError
	if !errors.As(err, &ie) || ie.File != badPages || ie.Offset != g.Offset || !errors.Is(err, format.ErrCorruptParquet) {
		t.Fatalf("corrupt pages: %v; want an *InputError naming the file and the row group's offset %d", err, g.Offset)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the failed run left its output (%v)", err)
	}
	// Text input is not Parquet.
	notPq := filepath.Join(dir, "text.parquet")
	os.WriteFile(notPq, []byte("a,b\n"), 0o644)
	files, _ := ListInputs(context.Background(), LocalFileSystems(), []string{notPq})
	if _, err := PlanInput(context.Background(), LocalFileSystems(), files, 1<<20, ParquetInput); !errors.Is(err, format.ErrNotParquet) || !strings.Contains(err.Error(), notPq) {
		t.Errorf("text file planned as Parquet: %v", err)
	}
}
