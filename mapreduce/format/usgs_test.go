package format

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// usgsDir is where the shared USGS earthquake CSV files live: the folder
// shared/data/usgs-earthquakes next to the repository (../shared from its
// root), or GOMR_USGS_DATA.
func usgsDir() string {
	if d := os.Getenv("GOMR_USGS_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "data", "usgs-earthquakes")
}

// colStats are a column's null count, minimum, maximum and (numbers) sum.
type colStats struct {
	nulls    int64
	min, max Value
	sum      float64 // doubles
	isum     int64   // int64s
}

func (s *colStats) add(t Type, v Value) {
	if v == nil {
		s.nulls++
		return
	}
	switch t {
	case Double:
		s.sum += v.(float64)
	case Int64:
		s.isum += v.(int64)
	}
	if s.min == nil || less(t, v, s.min) {
		s.min = v
	}
	if s.max == nil || less(t, s.max, v) {
		s.max = v
	}
}

func less(t Type, a, b Value) bool {
	switch t {
	case String:
		return a.(string) < b.(string)
	case Int64:
		return a.(int64) < b.(int64)
	case Double:
		return a.(float64) < b.(float64)
	case Boolean:
		return !a.(bool) && b.(bool)
	case Timestamp:
		return a.(time.Time).Before(b.(time.Time))
	}
	panic("type")
}

// rawValue converts a CSV field straight with the standard library, as a
// check on ParseValue: USGS timestamps are RFC 3339.
func rawValue(t *testing.T, typ Type, f string) Value {
	if f == "" {
		return nil
	}
	var v Value
	var err error
	switch typ {
	case String:
		v = f
	case Int64:
		v, err = strconv.ParseInt(f, 10, 64)
	case Double:
		v, err = strconv.ParseFloat(f, 64)
	case Boolean:
		v, err = strconv.ParseBool(strings.ToLower(f))
	case Timestamp:
		var tm time.Time
		tm, err = time.Parse(time.RFC3339Nano, f)
		v = tm.UTC()
	}
	if err != nil {
		t.Fatalf("field %q as %v: %v", f, typ, err)
	}
	return v
}

// TestUSGSEarthquakes converts each shared USGS CSV file to Parquet: infer
// the schema from the lines (read as a split reads them, one line at a
// time), convert every row, write Parquet in several row groups, read it
// back, and compare each column's null count, minimum, maximum and sum
// with the same computed straight from the CSV fields.
func TestUSGSEarthquakes(t *testing.T) {
	dir := usgsDir()
	files, _ := filepath.Glob(filepath.Join(dir, "*.csv"))
	if len(files) == 0 {
		t.Skipf("no USGS CSV files in %s (the shared data set is absent; set GOMR_USGS_DATA to its folder)", dir)
	}
	for i, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			comp := []string{"snappy", "zstd"}[i%2]
			testUSGSFile(t, path, comp)
		})
	}
}

func testUSGSFile(t *testing.T, path, compression string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Records, one per line, as a split reader gives them.
	var records [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, DefaultMaxRecordBytes)
	line := 0
	for sc.Scan() {
		line++
		fields, err := ParseCSVLine(sc.Bytes(), nil)
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		if len(records) > 0 {
			if err := CheckFieldCount(fields, len(records[0])); err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
		}
		records = append(records, fields)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The whole-file reader agrees.
	cr := NewCSVReader(bytes.NewReader(data))
	for i := range records {
		rec, err := cr.Read()
		if err != nil || !reflect.DeepEqual(rec, records[i]) {
			t.Fatalf("CSVReader record %d = %q, %v; lines give %q", i, rec, err, records[i])
		}
	}
	if _, err := cr.Read(); err != io.EOF {
		t.Fatalf("CSVReader after the last record: %v", err)
	}

	header, rows := records[0], records[1:]
	in, err := NewInferrer(header)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := in.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	schema := in.Schema()
	t.Logf("%d rows; schema %s", len(rows), schema)
	want := map[string]string{
		"time": "timestamp", "latitude": "double", "longitude": "double", "depth": "double",
		"place": "string", "id": "string", "updated": "timestamp", "mag": "double",
		"magType": "string", "net": "string", "status": "string", "dmin": "double",
	}
	for _, c := range schema {
		if w, ok := want[c.Name]; ok && c.Type.String() != w {
			t.Errorf("column %s inferred as %v, want %s", c.Name, c.Type, w)
		}
	}
	for _, name := range []string{"time", "id", "latitude", "longitude"} {
		if schema[schema.Index(name)].Nullable {
			t.Errorf("column %s inferred nullable", name)
		}
	}

	// Convert and write.
	var buf bytes.Buffer
	w, err := NewParquetWriter(&buf, schema, ParquetOptions{RowGroupRows: 2500, Compression: compression})
	if err != nil {
		t.Fatal(err)
	}
	var row []Value
	for i, r := range rows {
		row, err = schema.ParseRow(r, row)
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		if err := w.WriteRow(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pf, got, err := readAllParquet(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if pf.Schema().String() != schema.String() {
		t.Fatalf("Parquet schema %s, want %s", pf.Schema(), schema)
	}
	wantGroups := (len(rows) + 2499) / 2500
	if pf.NumRowGroups() != wantGroups || len(got) != len(rows) {
		t.Fatalf("%d rows in %d row groups, want %d in %d", len(got), pf.NumRowGroups(), len(rows), wantGroups)
	}
	t.Logf("%d CSV bytes -> %d Parquet bytes (%s), %d row groups", len(data), buf.Len(), compression, pf.NumRowGroups())

	// Statistics from Parquet, and straight from the CSV fields.
	fromParquet := make([]colStats, len(schema))
	fromCSV := make([]colStats, len(schema))
	for i := range rows {
		for c, col := range schema {
			fromParquet[c].add(col.Type, got[i][c])
			fromCSV[c].add(col.Type, rawValue(t, col.Type, rows[i][c]))
		}
	}
	chunkNulls := make([]int64, len(schema))
	for _, g := range pf.RowGroups() {
		for c, cc := range g.Columns {
			chunkNulls[c] += cc.Nulls
		}
	}
	for c, col := range schema {
		p, q := fromParquet[c], fromCSV[c]
		if p.nulls != q.nulls || chunkNulls[c] != q.nulls {
			t.Errorf("column %s: %d nulls read, %d in the chunk statistics, %d in the CSV", col.Name, p.nulls, chunkNulls[c], q.nulls)
		}
		if !reflect.DeepEqual(p.min, q.min) || !reflect.DeepEqual(p.max, q.max) {
			t.Errorf("column %s: min %v max %v, CSV says %v and %v", col.Name, p.min, p.max, q.min, q.max)
		}
		if p.sum != q.sum || p.isum != q.isum {
			t.Errorf("column %s: sum %v/%d, CSV says %v/%d", col.Name, p.sum, p.isum, q.sum, q.isum)
		}
	}
	summary := func(c int) string {
		s := fromCSV[c]
		out := fmt.Sprintf("%s nulls=%d min=%v max=%v", schema[c].Name, s.nulls, s.min, s.max)
		if schema[c].Type == Double {
			out += fmt.Sprintf(" sum=%v", s.sum)
		}
		return out
	}
	t.Logf("%s; %s; %s", summary(schema.Index("time")), summary(schema.Index("mag")), summary(schema.Index("nst")))
}
