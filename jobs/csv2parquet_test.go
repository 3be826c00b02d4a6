package jobs

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/format"
	"github.com/parquet-go/parquet-go"
)

// usgsData returns the shared USGS earthquake CSV folder beside the
// repository, or skips the test.
func usgsData(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "data", "usgs-earthquakes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("the USGS earthquake CSV files are not here (they sit beside the repository in ../shared/data/usgs-earthquakes): %v", err)
	}
	return dir
}

// columnStats are one column's null count, minimum, maximum and, for
// numbers, sum (int64 exactly; doubles in row order, which is the same
// on both sides: files in name order, rows in file order).
type columnStats struct {
	rows, nulls int64
	min, max    any
	isum        int64
	fsum        float64
}

func newStats() *columnStats { return &columnStats{} }

func (s *columnStats) add(v any) {
	s.rows++
	if v == nil {
		s.nulls++
		return
	}
	switch x := v.(type) {
	case int64:
		s.isum += x
	case float64:
		s.fsum += x
	}
	if s.min == nil || lessValue(v, s.min) {
		s.min = v
	}
	if s.max == nil || lessValue(s.max, v) {
		s.max = v
	}
}

func lessValue(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case float64:
		return x < b.(float64)
	case string:
		return x < b.(string)
	case bool:
		return !x && b.(bool)
	}
	panic(fmt.Sprintf("value %T", a))
}

func (s *columnStats) String() string {
	return fmt.Sprintf("rows %d nulls %d min %v max %v sums %d %v", s.rows, s.nulls, s.min, s.max, s.isum, s.fsum)
}

func (s *columnStats) equal(o *columnStats) bool {
	return s.rows == o.rows && s.nulls == o.nulls && s.min == o.min && s.max == o.max && s.isum == o.isum && s.fsum == o.fsum
}

// csvValue converts a CSV field with the standard library alone, as a
// check on the job: timestamps as Unix nanoseconds.
func csvValue(t testing.TB, typ format.Type, f string) any {
	if f == "" {
		return nil
	}
	var v any
	var err error
	switch typ {
	case format.String:
		v = f
	case format.Int64:
		v, err = strconv.ParseInt(f, 10, 64)
	case format.Double:
		v, err = strconv.ParseFloat(f, 64)
	case format.Boolean:
		v, err = strconv.ParseBool(f)
	case format.Timestamp:
		var ts time.Time
		ts, err = time.Parse(time.RFC3339Nano, f)
		v = ts.UnixNano()
	}
	if err != nil {
		t.Fatalf("field %q as %v: %v", f, typ, err)
	}
	return v
}

// parquetGoValues reads the typed values of a Parquet file with
// parquet-go (int64 columns, timestamps included, as int64).
func parquetGoValues(t testing.TB, path string) ([]string, [][]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: parquet-go: %v", path, err)
	}
	var names []string
	for _, field := range f.Schema().Fields() {
		names = append(names, field.Name())
	}
	var rows [][]any
	buf := make([]parquet.Row, 128)
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, prow := range buf[:n] {
				row := make([]any, len(names))
				for _, v := range prow {
					switch {
					case v.IsNull():
					case v.Kind() == parquet.ByteArray:
						row[v.Column()] = string(v.ByteArray())
					case v.Kind() == parquet.Int64:
						row[v.Column()] = v.Int64()
					case v.Kind() == parquet.Double:
						row[v.Column()] = v.Double()
					case v.Kind() == parquet.Boolean:
						row[v.Column()] = v.Boolean()
					default:
						t.Fatalf("%s: value of kind %v", path, v.Kind())
					}
				}
				rows = append(rows, row)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: parquet-go: %v", path, err)
			}
		}
		rr.Close()
	}
	return names, rows
}

// TestCsv2ParquetUSGS converts the USGS earthquake files (four files of
// one schema, in splits that start mid-file, so most maps read the header
// from the file's start) with the schema inferred as at submission, and
// checks every column of the Parquet output, read with parquet-go,
// against the CSV read with encoding/csv: row count, null count, minimum,
// maximum and sum.
func TestCsv2ParquetUSGS(t *testing.T) {
	dir := usgsData(t)
	r := stepRun{job: Csv2ParquetJob, opts: map[string]string{"row-group-size": "256KiB"}, inputs: []string{filepath.Join(dir, "*.csv")}, splitSize: 600 << 10}
	out, c, opts := r.run(t)
	schema, err := format.ParseSchema(opts["schema"])
	if err != nil {
		t.Fatalf("inferred schema %q: %v", opts["schema"], err)
	}
	t.Logf("inferred schema: %s", schema)
	for name, typ := range map[string]format.Type{"time": format.Timestamp, "latitude": format.Double, "mag": format.Double,
		"place": format.String, "id": format.String, "updated": format.Timestamp, "depth": format.Double} {
		if i := schema.Index(name); i < 0 || schema[i].Type != typ {
			t.Errorf("column %s inferred as %v, want %v", name, schema[i].Type, typ)
		}
	}
	if c.Get(mapreduce.RejectedRecords) != 0 {
		t.Errorf("%d rows rejected", c.Get(mapreduce.RejectedRecords))
	}

	// The CSV, with encoding/csv.
	want := make([]*columnStats, len(schema))
	for i := range want {
		want[i] = newStats()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(files) != 4 {
		t.Fatalf("%d USGS files", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs[1:] {
			for i, name := range recs[0] {
				k := schema.Index(name)
				want[k].add(csvValue(t, schema[k].Type, rec[i]))
			}
		}
	}
	// The Parquet output, with parquet-go.
	got := make([]*columnStats, len(schema))
	for i := range got {
		got[i] = newStats()
	}
	parts := outputParts(t, out)
	groups := 0
	for _, p := range parts {
		if !strings.HasSuffix(p, ".parquet") {
			t.Fatalf("part %s", p)
		}
		names, rows := parquetGoValues(t, p)
		if !slices.Equal(names, schemaNames(schema)) {
			t.Fatalf("%s: columns %q, want %q", p, names, schemaNames(schema))
		}
		for _, row := range rows {
			for i, v := range row {
				got[i].add(v)
			}
		}
		b, _ := os.ReadFile(p)
		pf, err := format.OpenParquet(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		groups += pf.NumRowGroups()
	}
	if groups <= len(parts) {
		t.Errorf("%d row groups in %d part files: want several a file (--row-group-size 256KiB)", groups, len(parts))
	}
	if want[0].rows < 40000 {
		t.Fatalf("only %d CSV rows", want[0].rows)
	}
	for i, col := range schema {
		if !got[i].equal(want[i]) {
			t.Errorf("column %s: parquet %v\n\twant (csv) %v", col.Name, got[i], want[i])
		}
	}
	if c.Get(mapreduce.MapOutputRecords) != want[0].rows {
		t.Errorf("MAP_OUTPUT_RECORDS %d, want %d", c.Get(mapreduce.MapOutputRecords), want[0].rows)
	}
}

func schemaNames(s format.Schema) []string {
	var n []string
	for _, c := range s {
		n = append(n, c.Name)
	}
	return n
}

// TestCsv2ParquetRejectsAndSchemaOption gives the schema as an option:
// rows that do not fit it go to _rejects/ with their file and line, the
// others are written exactly; a file whose header lacks a column fails.
func TestCsv2ParquetRejectsAndSchemaOption(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte("n,x,when\n1,0.5,2024-01-01T00:00:00Z\n2,abc,2024-01-01T00:00:00Z\n3,,2024-02-30\n4,1e3,\n5,2.25,2024-01-02 03:04:05.123456789\n"), 0o644)
	r := stepRun{job: Csv2ParquetJob, opts: map[string]string{"schema": "x:double?,n:int64,when:timestamp"}, inputs: []string{in}}
	out, c, _ := r.run(t)
	names, rows := parquetGoValues(t, filepath.Join(out, "part-m-00000.parquet"))
	if !slices.Equal(names, []string{"x", "n", "when"}) {
		t.Fatalf("columns %q", names)
	}
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC).UnixNano()
	want := [][]any{{0.5, int64(1), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}, {2.25, int64(5), ts}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", rows, want)
	}
	if c.Get(mapreduce.RejectedRecords) != 3 || c.Get(MalformedRecords) != 3 {
		t.Errorf("REJECTED_RECORDS %d, MALFORMED_RECORDS %d; want 3", c.Get(mapreduce.RejectedRecords), c.Get(MalformedRecords))
	}
	rej, _ := os.ReadFile(filepath.Join(out, mapreduce.RejectsName(0)))
	for _, line := range []string{"3", "4", "5"} {
		if !strings.Contains(string(rej), in+"\t"+line+"\t") {
			t.Errorf("rejects %q lack line %s", rej, line)
		}
	}
	// A header that lacks a schema column fails the step, naming the file.
	other := filepath.Join(dir, "other.csv")
	os.WriteFile(other, []byte("n,y,when\n1,2,2024-01-01\n"), 0o644)
	r.inputs = []string{other}
	if _, _, _, err := r.try(t); err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "the CSV header has the columns n,y,when") {
		t.Errorf("mismatched header: %v", err)
	}
	// Inference needs rows, and headers that agree.
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, []byte("a,b\n"), 0o644)
	r = stepRun{job: Csv2ParquetJob, inputs: []string{empty}}
	if _, _, _, err := r.try(t); !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "give --schema") {
		t.Errorf("inference without rows: %v", err)
	}
	r.inputs = []string{in, other}
	if _, _, _, err := r.try(t); !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), other) {
		t.Errorf("inference over different headers: %v", err)
	}
}
