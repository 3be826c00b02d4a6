package format

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCSVLine(t *testing.T) {
	tests := []struct {
		line    string
		want    []string
		wantErr string
		offset  int64
		multi   bool // the error wraps ErrMultiLineRecord
	}{
		{line: "a,b,c", want: []string{"a", "b", "c"}},
		{line: "a,b,c\n", want: []string{"a", "b", "c"}},
		{line: "a,b,c\r\n", want: []string{"a", "b", "c"}},
		{line: "", want: []string{""}},
		{line: ",", want: []string{"", ""}},
		{line: "a,", want: []string{"a", ""}},
		{line: ",,a", want: []string{"", "", "a"}},
		{line: ` a , b `, want: []string{" a ", " b "}},
		{line: `"a,b",c`, want: []string{"a,b", "c"}},
		{line: `"say ""hi""",x`, want: []string{`say "hi"`, "x"}},
		{line: `""`, want: []string{""}},
		{line: `"",""`, want: []string{"", ""}},
		{line: `""""`, want: []string{`"`}},
		{line: `"a""b""c"`, want: []string{`a"b"c`}},
		{line: `x,"42 km W of Salamatof, Alaska",earthquake`, want: []string{"x", "42 km W of Salamatof, Alaska", "earthquake"}},
		{line: `"Pāhala, Hawaii"`, want: []string{"Pāhala, Hawaii"}},
		{line: "a\rb,c", want: []string{"a\rb", "c"}},
		{line: `a,"b`, wantErr: "quoted field starting at byte 2 is not closed on its line", offset: 2, multi: true},
		{line: "\"a\nb\",c", wantErr: "holds a line break", offset: 0, multi: true},
		{line: `a"b,c`, wantErr: "double quote inside an unquoted field (at byte 1)", offset: 1},
		{line: `a, "b"`, wantErr: "double quote inside an unquoted field (at byte 3)", offset: 3},
		{line: `"a"b,c`, wantErr: `'b' after the closing quote of the field starting at byte 0`, offset: 3},
		{line: `x,"a" ,c`, wantErr: `' ' after the closing quote`, offset: 5},
	}
	for _, tt := range tests {
		got, err := ParseCSVLine([]byte(tt.line), nil)
		if tt.wantErr != "" {
			var ce *CSVError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) || ce.Offset != tt.offset {
				t.Errorf("ParseCSVLine(%q) error = %v, want %q at byte %d", tt.line, err, tt.wantErr, tt.offset)
				continue
			}
			if errors.Is(err, ErrMultiLineRecord) != tt.multi {
				t.Errorf("ParseCSVLine(%q): ErrMultiLineRecord = %v, want %v", tt.line, !tt.multi, tt.multi)
			}
			if !tt.multi && !errors.Is(err, ErrCSV) {
				t.Errorf("ParseCSVLine(%q): error does not wrap ErrCSV", tt.line)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCSVLine(%q): %v", tt.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCSVLine(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestParseCSVLineAgreesWithEncodingCSV compares with the standard
// library on well-formed single-line records.
func TestParseCSVLineAgreesWithEncodingCSV(t *testing.T) {
	lines := []string{
		`a,b,c`, `"a,b",c`, `"a""b",c`, `,,`, `"",x`, `x,""`, `"""",""""""`, `a b,c d`, `é,"ü,ö"`,
	}
	var fields []string
	for _, l := range lines {
		r := csv.NewReader(strings.NewReader(l))
		want, err := r.Read()
		if err != nil {
			t.Fatalf("encoding/csv %q: %v", l, err)
		}
		fields, err = ParseCSVLine([]byte(l), fields)
		if err != nil || !reflect.DeepEqual(fields, want) {
			t.Errorf("ParseCSVLine(%q) = %q, %v; encoding/csv says %q", l, fields, err, want)
		}
	}
}

func TestCheckFieldCount(t *testing.T) {
	err := CheckFieldCount([]string{"a", "b", "c"}, 22)
	if err == nil || err.Error() != "row has 3 fields, the header has 22" {
		t.Errorf("CheckFieldCount = %v", err)
	}
	if CheckFieldCount([]string{"a"}, 1) != nil {
		t.Error("CheckFieldCount refused a good row")
	}
}

func TestCSVReader(t *testing.T) {
	in := "h1,h2\n" +
		"a,\"multi\nline\"\n" +
		"\"x\"\"y\",z\r\n" +
		"\"a,\"\"\nb\"\"\",c\n" +
		"last,row"
	r := NewCSVReader(strings.NewReader(in))
	want := [][]string{{"h1", "h2"}, {"a", "multi\nline"}, {`x"y`, "z"}, {"a,\"\nb\"", "c"}, {"last", "row"}}
	for i, w := range want {
		got, err := r.Read()
		if err != nil || !reflect.DeepEqual(got, w) {
			t.Fatalf("record %d = %q, %v; want %q", i, got, err, w)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("after the last record: %v", err)
	}
	if r.Line() != 7 {
		t.Errorf("Line = %d, want 7", r.Line())
	}
}

func TestCSVReaderErrors(t *testing.T) {
	tests := []struct {
		in      string
		max     int
		wantErr string
		line    int64
		offset  int64
	}{
		{in: "a,b\n1,2,3\n", wantErr: "row has 3 fields, the header has 2", line: 2, offset: 4},
		{in: "a,b\n1,\"2\n", wantErr: "not closed before the end of the input", line: 2, offset: 6},
		{in: "a,b\nx\"y,z\n", wantErr: "double quote inside an unquoted field", line: 2, offset: 5},
		{in: "a,b\n\"x\"y,z\n", wantErr: "after the closing quote", line: 2, offset: 7},
		{in: "a\n" + strings.Repeat("x", 100) + "\n", max: 50, wantErr: "record longer than the record limit (50 bytes)", line: 2, offset: 2},
		{in: "a\n\"" + strings.Repeat("x\n", 100) + "\"\n", max: 50, wantErr: "record longer than the record limit", line: 2, offset: 2},
	}
	for _, tt := range tests {
		r := NewCSVReader(strings.NewReader(tt.in))
		r.MaxRecordBytes = tt.max
		var err error
		for err == nil {
			_, err = r.Read()
		}
		var ce *CSVError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) || ce.Line != tt.line || ce.Offset != tt.offset {
			t.Errorf("CSVReader(%q) error = %v, want %q at line %d offset %d", tt.in, err, tt.wantErr, tt.line, tt.offset)
		}
		if _, again := r.Read(); again != err {
			t.Errorf("the error does not stick: %v", again)
		}
	}
}

// TestCSVReaderMatchesLines checks that a file without multi-line records
// reads the same through CSVReader as line by line through ParseCSVLine.
func TestCSVReaderMatchesLines(t *testing.T) {
	in := "a,b,c\n1,\"x,y\",\n,,\n\"q\"\"\",2,3\n"
	r := NewCSVReader(strings.NewReader(in))
	for _, line := range strings.SplitAfter(strings.TrimSuffix(in, "\n"), "\n") {
		want, err := ParseCSVLine([]byte(line), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Read()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("line %q: reader %q, %v; ParseCSVLine %q", line, got, err, want)
		}
	}
}

func TestCSVWriter(t *testing.T) {
	schema, _ := ParseSchema("s:string?,n:int64?,d:double,b:boolean,t:timestamp?")
	var buf bytes.Buffer
	w, err := NewCSVWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]Value{
		{"plain", int64(1), 1.5, true, ts("2025-06-05T09:16:03.063Z")},
		{"a,b", nil, math.Copysign(0, -1), false, nil},
		{`say "hi"`, int64(-5), 1e21, true, nil},
		{"two\nlines", int64(0), 0.1, false, nil},
		{"cr\rhere", int64(0), 0.1, false, nil},
		{nil, nil, 2.0, true, nil},
		{" spaced ", nil, 2.0, true, nil},
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "s,n,d,b,t\n" +
		"plain,1,1.5,true,2025-06-05T09:16:03.063Z\n" +
		"\"a,b\",,-0,false,\n" +
		"\"say \"\"hi\"\"\",-5,1e+21,true,\n" +
		"\"two\nlines\",0,0.1,false,\n" +
		"\"cr\rhere\",0,0.1,false,\n" +
		",,2,true,\n" +
		" spaced ,,2,true,\n"
	if buf.String() != want {
		t.Errorf("CSV =\n%s\nwant\n%s", buf.String(), want)
	}
	// Read it back: every value comes back (the file has a multi-line
	// record, so through CSVReader).
	r := NewCSVReader(&buf)
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	for i, wantRow := range rows {
		fields, err := r.Read()
		if err != nil {
			t.Fatal(err)
		}
		got, err := schema.ParseRow(fields, nil)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, wantRow) {
			t.Errorf("row %d = %#v, want %#v", i, got, wantRow)
		}
	}

	if err := w.WriteRow([]Value{"x", "not an int", 1.0, true, nil}); err == nil || !strings.Contains(err.Error(), "column n") {
		t.Errorf("WriteRow with a bad value: %v", err)
	}
	if err := w.WriteRow([]Value{"x", nil, nil, true, nil}); !errors.Is(err, ErrNull) {
		t.Errorf("WriteRow with a null in a required column: %v", err)
	}
	if err := w.WriteRow([]Value{"x", nil, 1.0, true, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("WriteRow wrote a timestamp out of range")
	}
}

func TestCSVWriterFields(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewCSVWriter(&buf, nil)
	w.WriteFields([]string{"a", "", `"`, "x,y"})
	w.Flush()
	if got := buf.String(); got != "a,,\"\"\"\",\"x,y\"\n" {
		t.Errorf("got %q", got)
	}
	if err := w.WriteRow([]Value{"a"}); err == nil {
		t.Error("WriteRow without a schema")
	}
}
