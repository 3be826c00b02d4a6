package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

const allTypes = "s:string,n:int64,d:double,b:boolean,t:timestamp," +
	"s0:string?,n0:int64?,d0:double?,b0:boolean?,t0:timestamp?"

// testRows returns n rows of the allTypes schema, with edge values and
// nulls in every nullable column.
func testRows(n int) [][]Value {
	edgeInts := []int64{0, 1, -1, math.MaxInt64, math.MinInt64}
	edgeDoubles := []float64{0, math.Copysign(0, -1), 0.1, -1e300, math.MaxFloat64, math.SmallestNonzeroFloat64}
	edgeStrings := []string{"", "x", "Pāhala, Hawaii", "a\"b,c\nd", strings.Repeat("long", 100)}
	edgeTimes := []time.Time{
		time.Unix(0, math.MinInt64).UTC(), time.Unix(0, math.MaxInt64).UTC(), time.Unix(0, 0).UTC(),
		ts("2025-06-05T09:16:03.063Z"), ts("2025-06-05T09:16:03.000000001Z"),
	}
	rows := make([][]Value, n)
	for i := range rows {
		row := []Value{
			edgeStrings[i%len(edgeStrings)] + fmt.Sprint(i),
			edgeInts[i%len(edgeInts)] - int64(i%2),
			edgeDoubles[i%len(edgeDoubles)] / float64(i+1),
			i%3 == 0,
			edgeTimes[i%len(edgeTimes)],
		}
		if i%len(edgeInts) == 4 {
			row[1] = int64(math.MinInt64)
		}
		for k := range 5 {
			if (i+k)%4 == 0 {
				row = append(row, nil)
			} else {
				row = append(row, row[k])
			}
		}
		rows[i] = row
	}
	return rows
}

func writeParquet(t testing.TB, schema Schema, rows [][]Value, opts ParquetOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewParquetWriter(&buf, schema, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Rows() != int64(len(rows)) {
		t.Fatalf("Rows() = %d", w.Rows())
	}
	return buf.Bytes()
}

// readAllParquet opens a file and reads every row of every row group.
func readAllParquet(data []byte) (*ParquetFile, [][]Value, error) {
	pf, err := OpenParquet(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, err
	}
	var rows [][]Value
	for g := range pf.NumRowGroups() {
		pr, err := pf.ReadRowGroup(g)
		if err != nil {
			return pf, rows, err
		}
		for {
			row, err := pr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				pr.Close()
				return pf, rows, err
			}
			rows = append(rows, row)
		}
		if err := pr.Close(); err != nil {
			return pf, rows, err
		}
	}
	return pf, rows, nil
}

func sameRow(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if fa, ok := a[i].(float64); ok {
			fb, ok := b[i].(float64)
			if !ok || math.Float64bits(fa) != math.Float64bits(fb) {
				return false
			}
			continue
		}
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParquetRoundTrip(t *testing.T) {
	schema, err := ParseSchema(allTypes)
	if err != nil {
		t.Fatal(err)
	}
	rows := testRows(100)
	for _, comp := range []string{"", "snappy", "zstd", "none"} {
		t.Run("compression="+comp, func(t *testing.T) {
			data := writeParquet(t, schema, rows, ParquetOptions{RowGroupRows: 7, Compression: comp})
			pf, got, err := readAllParquet(data)
			if err != nil {
				t.Fatal(err)
			}
			if pf.Schema().String() != schema.String() {
				t.Errorf("schema = %s, want %s", pf.Schema(), schema)
			}
			if s, ok := pf.Metadata(SchemaMetadataKey); !ok || s != schema.String() {
				t.Errorf("schema metadata = %q, %v", s, ok)
			}
			if pf.NumRows() != 100 || pf.NumRowGroups() != 15 {
				t.Errorf("%d rows in %d groups, want 100 in 15", pf.NumRows(), pf.NumRowGroups())
			}
			if len(got) != len(rows) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
			}
			for i := range rows {
				if !sameRow(got[i], rows[i]) {
					t.Fatalf("row %d = %#v\nwant %#v", i, got[i], rows[i])
				}
			}
			checkRowGroupInfo(t, pf, int64(len(data)), rows)
		})
	}
}

// checkRowGroupInfo checks that the row groups' byte ranges lie in the
// file without overlapping, and that their counts agree with rows.
func checkRowGroupInfo(t *testing.T, pf *ParquetFile, size int64, rows [][]Value) {
	t.Helper()
	prevEnd := int64(4)
	first := 0
	for g, info := range pf.RowGroups() {
		if info.Index != g || info.Offset < prevEnd || info.Size <= 0 || info.Offset+info.Size > size-8 {
			t.Errorf("row group %d: offset %d size %d after %d in a file of %d", g, info.Offset, info.Size, prevEnd, size)
		}
		prevEnd = info.Offset + info.Size
		if len(info.Columns) != len(pf.Schema()) {
			t.Fatalf("row group %d has %d chunks", g, len(info.Columns))
		}
		chunkEnd := info.Offset
		for c, cc := range info.Columns {
			if cc.Column != pf.Schema()[c].Name || cc.Offset != chunkEnd || cc.Values != info.Rows {
				t.Errorf("row group %d chunk %d: %+v (want it at %d)", g, c, cc, chunkEnd)
			}
			chunkEnd = cc.Offset + cc.Size
			nulls := int64(0)
			for _, r := range rows[first : first+int(info.Rows)] {
				if r[c] == nil {
					nulls++
				}
			}
			if cc.Nulls != nulls {
				t.Errorf("row group %d column %s: %d nulls, want %d", g, cc.Column, cc.Nulls, nulls)
			}
		}
		if chunkEnd != info.Offset+info.Size {
			t.Errorf("row group %d: chunks end at %d, the group at %d", g, chunkEnd, info.Offset+info.Size)
		}
		first += int(info.Rows)
	}
}

func TestParquetRowGroupBytes(t *testing.T) {
	schema, _ := ParseSchema("s:string")
	var rows [][]Value
	for i := range 1000 {
		rows = append(rows, []Value{fmt.Sprintf("%0100d", i)}) // 104 bytes a row
	}
	data := writeParquet(t, schema, rows, ParquetOptions{RowGroupBytes: 10400})
	pf, got, err := readAllParquet(data)
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRowGroups() != 10 || len(got) != 1000 {
		t.Errorf("%d row groups, %d rows; want 10, 1000", pf.NumRowGroups(), len(got))
	}
	for g, info := range pf.RowGroups() {
		if info.Rows != 100 {
			t.Errorf("row group %d has %d rows", g, info.Rows)
		}
	}
	// Both limits: the first reached ends the group.
	data = writeParquet(t, schema, rows, ParquetOptions{RowGroupBytes: 10400, RowGroupRows: 30})
	pf, _, _ = readAllParquet(data)
	if pf.NumRowGroups() != 34 {
		t.Errorf("%d row groups with both limits, want 34", pf.NumRowGroups())
	}
	// Neither: one group.
	data = writeParquet(t, schema, rows, ParquetOptions{})
	pf, _, _ = readAllParquet(data)
	if pf.NumRowGroups() != 1 {
		t.Errorf("%d row groups by default, want 1", pf.NumRowGroups())
	}
}

func TestParquetEmptyFile(t *testing.T) {
	schema, _ := ParseSchema(allTypes)
	data := writeParquet(t, schema, nil, ParquetOptions{})
	pf, rows, err := readAllParquet(data)
	if err != nil {
		t.Fatal(err)
	}
	if pf.NumRowGroups() != 0 || len(rows) != 0 || pf.Schema().String() != schema.String() {
		t.Errorf("empty file: %d groups, %d rows, schema %s", pf.NumRowGroups(), len(rows), pf.Schema())
	}
}

func TestParquetWriterErrors(t *testing.T) {
	schema, _ := ParseSchema("a:int64,b:string?")
	if _, err := NewParquetWriter(io.Discard, schema, ParquetOptions{Compression: "lzo"}); err == nil || !strings.Contains(err.Error(), `unknown compression "lzo"`) {
		t.Errorf("unknown compression: %v", err)
	}
	if _, err := NewParquetWriter(io.Discard, Schema{}, ParquetOptions{}); err == nil {
		t.Error("empty schema accepted")
	}
	if _, err := NewParquetWriter(io.Discard, schema, ParquetOptions{RowGroupRows: -1}); err == nil {
		t.Error("negative row group limit accepted")
	}
	w, _ := NewParquetWriter(io.Discard, schema, ParquetOptions{})
	if err := w.WriteRow([]Value{nil, "x"}); !errors.Is(err, ErrNull) || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("null in a required column: %v", err)
	}
	if err := w.WriteRow([]Value{5, "x"}); !errors.Is(err, ErrValue) {
		t.Errorf("int instead of int64: %v", err)
	}
	if err := w.WriteRow([]Value{int64(5)}); err == nil {
		t.Error("short row accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRow([]Value{int64(5), nil}); err == nil {
		t.Error("write after Close accepted")
	}
}

// TestParquetForeignFiles reads files written by parquet-go from Go
// structs (as another tool would write them): the types gomr maps, and
// the ones it refuses.
func TestParquetForeignFiles(t *testing.T) {
	type mapped struct {
		I32    int32     `parquet:"i32"`
		U32    uint32    `parquet:"u32"`
		I8     int8      `parquet:"i8"`
		F32    float32   `parquet:"f32"`
		Millis time.Time `parquet:"millis,timestamp(millisecond)"`
		Micros time.Time `parquet:"micros,timestamp(microsecond)"`
		Enum   string    `parquet:"enum,enum"`
		JSON   string    `parquet:"json,json"`
		Opt    *int64    `parquet:"opt,optional"`
	}
	var buf bytes.Buffer
	seven := int64(7)
	in := []mapped{
		{I32: -5, U32: math.MaxUint32, I8: -8, F32: 1.5, Millis: ts("2025-06-05T09:16:03.063Z"), Micros: ts("2025-06-05T09:16:03.000001Z"), Enum: "E", JSON: `{"a":1}`, Opt: &seven},
		{I32: math.MaxInt32, Millis: ts("1970-01-01T00:00:00Z"), Micros: ts("1970-01-01T00:00:00Z")},
	}
	if err := parquet.Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	pf, rows, err := readAllParquet(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantSchema := "i32:int64,u32:int64,i8:int64,f32:double,millis:timestamp,micros:timestamp,enum:string,json:string,opt:int64?"
	if pf.Schema().String() != wantSchema {
		t.Errorf("schema = %s\nwant %s", pf.Schema(), wantSchema)
	}
	want := [][]Value{
		{int64(-5), int64(math.MaxUint32), int64(-8), 1.5, ts("2025-06-05T09:16:03.063Z"), ts("2025-06-05T09:16:03.000001Z"), "E", `{"a":1}`, int64(7)},
		{int64(math.MaxInt32), int64(0), int64(0), 0.0, ts("1970-01-01T00:00:00Z"), ts("1970-01-01T00:00:00Z"), "", "", nil},
	}
	for i := range want {
		if !sameRow(rows[i], want[i]) {
			t.Errorf("row %d = %#v\nwant %#v", i, rows[i], want[i])
		}
	}

	refused := []struct {
		name  string
		write func(w io.Writer) error
		want  string
	}{
		{"binary", func(w io.Writer) error {
			return parquet.Write(w, []struct {
				B []byte `parquet:"b"`
			}{{B: []byte{1}}})
		}, `column "b": a byte array without a STRING`},
		{"nested", func(w io.Writer) error {
			type inner struct{ X int64 }
			return parquet.Write(w, []struct {
				In inner `parquet:"in"`
			}{{}})
		}, "nested columns"},
		{"repeated", func(w io.Writer) error {
			return parquet.Write(w, []struct {
				L []int64 `parquet:"l"`
			}{{L: []int64{1}}})
		}, `column "l" is repeated`},
		{"uint64", func(w io.Writer) error {
			return parquet.Write(w, []struct {
				U uint64 `parquet:"u"`
			}{{U: 1}})
		}, "unsigned int64"},
		{"date", func(w io.Writer) error {
			return parquet.Write(w, []struct {
				D time.Time `parquet:"d,date"`
			}{{D: ts("2025-01-01T00:00:00Z")}})
		}, "int32 DATE has no gomr type"},
		{"bad name", func(w io.Writer) error {
			return parquet.Write(w, []struct {
				X int64 `parquet:"a:b"`
			}{{X: 1}})
		}, "contains one of , : ?"},
	}
	for _, r := range refused {
		var buf bytes.Buffer
		if err := r.write(&buf); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		_, err := OpenParquet(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if !errors.Is(err, ErrUnsupportedParquet) || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: %v, want ErrUnsupportedParquet with %q", r.name, err, r.want)
		}
	}
}

// smallParquet is a file of several row groups of every type, small
// enough to cut and corrupt at every byte.
func smallParquet(t testing.TB) ([]byte, [][]Value) {
	schema, _ := ParseSchema(allTypes)
	rows := testRows(24)
	return writeParquet(t, schema, rows, ParquetOptions{RowGroupRows: 8}), rows
}

// TestParquetTruncated opens every truncated copy of a file: each must be
// an error that says the file is truncated (or too short to be Parquet).
func TestParquetTruncated(t *testing.T) {
	data, _ := smallParquet(t)
	for n := 0; n < len(data); n++ {
		_, _, err := readAllParquet(data[:n])
		switch {
		case err == nil:
			t.Fatalf("cut at %d of %d: no error", n, len(data))
		case n == 0:
			if !errors.Is(err, ErrNotParquet) {
				t.Fatalf("empty file: %v", err)
			}
		case !errors.Is(err, ErrCorruptParquet) || !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("cut at %d: %v does not wrap ErrCorruptParquet and io.ErrUnexpectedEOF", n, err)
		}
	}
	_, err := OpenParquet(bytes.NewReader(data[:len(data)/2]), int64(len(data)))
	if !errors.Is(err, ErrCorruptParquet) || !strings.Contains(err.Error(), "shorter than its size says") {
		t.Errorf("file shorter than its size: %v", err)
	}
	_, err = OpenParquet(bytes.NewReader(data[:len(data)-3]), int64(len(data)-3))
	t.Logf("a cut file: %v", err)
}

func TestParquetNotParquet(t *testing.T) {
	for _, data := range []string{"time,latitude\n2025-01-01,1.5\n", "PAR", "{}"} {
		_, err := OpenParquet(strings.NewReader(data), int64(len(data)))
		if err == nil || !(errors.Is(err, ErrNotParquet) || errors.Is(err, ErrCorruptParquet)) {
			t.Errorf("%q: %v", data, err)
		}
	}
	_, err := OpenParquet(strings.NewReader("id,name\n1,x\n"), 12)
	if !errors.Is(err, ErrNotParquet) || !strings.Contains(err.Error(), `starts with "id,n"`) {
		t.Errorf("CSV file: %v", err)
	}
}

// TestParquetLyingFooter points the footer length outside the file, at
// zero, and at the wrong place, and gives footers that claim huge lists.
func TestParquetLyingFooter(t *testing.T) {
	data, _ := smallParquet(t)
	setLen := func(n uint32) []byte {
		d := bytes.Clone(data)
		binary.LittleEndian.PutUint32(d[len(d)-8:], n)
		return d
	}
	footerLen := binary.LittleEndian.Uint32(data[len(data)-8:])
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"length beyond the file", setLen(math.MaxUint32), "footer length 4294967295 points outside the file"},
		{"length just beyond", setLen(uint32(len(data) - 11)), "points outside the file"},
		{"length zero", setLen(0), "footer length 0"},
		{"length one short", setLen(footerLen - 1), "footer"},
		{"length one long", setLen(footerLen + 1), "footer"},
		{"length half", setLen(footerLen / 2), "footer"},
		{"huge list", fakeParquet([]byte{0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}), "list size of 2147483647"},
		{"huge string", fakeParquet([]byte{0x15, 0x02, 0x18, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}), "string length of 2147483647"},
		{"deep nesting", fakeParquet(bytes.Repeat([]byte{0x1c}, 100)), "nests deeper than 32"},
		{"empty struct", fakeParquet([]byte{0x00}), "corrupt"},
		{"trailing bytes", fakeParquet([]byte{0x00, 0x00}), "takes 1 of its 2 bytes"},
	}
	for _, tt := range tests {
		_, _, err := readAllParquet(tt.data)
		if !errors.Is(err, ErrCorruptParquet) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrCorruptParquet with %q", tt.name, err, tt.want)
		}
	}
}

func fakeParquet(footer []byte) []byte {
	b := []byte("PAR1")
	b = append(b, footer...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
	return append(b, "PAR1"...)
}

// TestParquetCorruptFooter flips every byte of the footer (and its
// length) in turn, two ways: opening and reading the file must never
// panic or hang, and an error must wrap one of the package's errors.
// A flip that parquet-go and the checks do not notice (a statistic, a
// metadata value) may read the file, which must then give its rows.
func TestParquetCorruptFooter(t *testing.T) {
	data, rows := smallParquet(t)
	footerLen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	start := len(data) - 8 - footerLen
	var opened, readOK, recovered, differ int
	for pos := start; pos < len(data)-4; pos++ {
		for _, mask := range []byte{0xff, 0x01} {
			d := bytes.Clone(data)
			d[pos] ^= mask
			pf, got, err := readAllParquet(d)
			if pf != nil {
				opened++
			}
			if err != nil {
				checkParquetError(t, fmt.Sprintf("flip %#x at %d", mask, pos), err)
				if strings.Contains(err.Error(), "parquet-go failed") {
					recovered++
					t.Logf("flip %#x at %d: %v", mask, pos, err)
				}
				continue
			}
			readOK++
			if len(got) != len(rows) {
				t.Errorf("flip %#x at %d: no error but %d rows of %d", mask, pos, len(got), len(rows))
				continue
			}
			for i := range rows {
				if !sameRow(got[i], rows[i]) {
					differ++
					t.Logf("flip %#x at %d: no error, row %d = %v, want %v", mask, pos, i, got[i], rows[i])
					break
				}
			}
		}
	}
	t.Logf("%d footer bytes flipped 2 ways: %d opened, %d read without error (%d of them with different rows), %d errors from recovered parquet-go panics", footerLen+4, opened, readOK, differ, recovered)
}

// TestParquetCorruptPages flips bytes in the column chunks: reading must
// never panic or hang.
func TestParquetCorruptPages(t *testing.T) {
	data, rows := smallParquet(t)
	footerLen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	end := len(data) - 8 - footerLen
	var flips, errs, recovered, differ int
	for pos := 4; pos < end; pos += 3 {
		flips++
		d := bytes.Clone(data)
		d[pos] ^= 0xff
		_, got, err := readAllParquet(d)
		if err != nil {
			errs++
			checkParquetError(t, fmt.Sprintf("flip at %d", pos), err)
			if strings.Contains(err.Error(), "parquet-go failed") {
				recovered++
			}
			continue
		}
		for i := range rows {
			if i >= len(got) || !sameRow(got[i], rows[i]) {
				differ++
				break
			}
		}
	}
	// Pages carry CRC32s (parquet-go writes them), so a flip in page data
	// is an error; a flip in a page header's statistics is harmless.
	if differ > 0 {
		t.Errorf("%d flips read without error but gave different rows", differ)
	}
	t.Logf("%d data bytes flipped: %d errors (%d from recovered parquet-go panics), %d harmless", flips, errs, recovered, flips-errs)
}

func checkParquetError(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorruptParquet) && !errors.Is(err, ErrNotParquet) && !errors.Is(err, ErrUnsupportedParquet) {
		t.Errorf("%s: error %v wraps none of the package's errors", what, err)
	}
	if !strings.HasPrefix(err.Error(), "open parquet: ") && !strings.HasPrefix(err.Error(), "parquet: row group ") {
		t.Errorf("%s: error %q does not say where", what, err)
	}
}

func TestParquetReadRowGroupRange(t *testing.T) {
	data, _ := smallParquet(t)
	pf, err := OpenParquet(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pf.ReadRowGroup(pf.NumRowGroups()); err == nil {
		t.Error("row group past the end")
	}
	// Two readers of different groups at once, and of the same group.
	a, _ := pf.ReadRowGroup(0)
	b, _ := pf.ReadRowGroup(2)
	c, _ := pf.ReadRowGroup(0)
	ra, _ := a.Next()
	rb, _ := b.Next()
	rc, _ := c.Next()
	if !sameRow(ra, rc) || sameRow(ra, rb) {
		t.Error("concurrent readers disagree")
	}
	a.Close()
	b.Close()
	if _, err := a.Next(); err == nil {
		t.Error("Next after Close")
	}
	if r, err := c.Next(); err != nil || r == nil {
		t.Errorf("reader after another's Close: %v", err)
	}
	c.Close()
}

// TestParquetConcurrentReaders reads every row group of one file at once.
func TestParquetConcurrentReaders(t *testing.T) {
	data, rows := smallParquet(t)
	pf, err := OpenParquet(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([][][]Value, pf.NumRowGroups())
	errs := make(chan error, pf.NumRowGroups())
	for g := range pf.NumRowGroups() {
		go func() {
			pr, err := pf.ReadRowGroup(g)
			if err != nil {
				errs <- err
				return
			}
			defer pr.Close()
			for {
				row, err := pr.Next()
				if err == io.EOF {
					errs <- nil
					return
				}
				if err != nil {
					errs <- err
					return
				}
				got[g] = append(got[g], row)
			}
		}()
	}
	for range pf.NumRowGroups() {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	for _, g := range got {
		for _, row := range g {
			if !sameRow(row, rows[i]) {
				t.Fatalf("row %d differs", i)
			}
			i++
		}
	}
	if i != len(rows) {
		t.Fatalf("%d rows, want %d", i, len(rows))
	}
}
