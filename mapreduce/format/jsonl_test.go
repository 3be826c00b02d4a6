package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseJSONLine(t *testing.T) {
	obj, err := ParseJSONLine([]byte(`{"id": 12345678901234567890, "mag": 1.10, "a": {"b": {"c": "deep"}}, "list": [1, {"x": true}], "n": null}` + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if obj["id"] != json.Number("12345678901234567890") || obj["mag"] != json.Number("1.10") {
		t.Errorf("numbers not kept exactly: %#v, %#v", obj["id"], obj["mag"])
	}
	fields := []struct {
		path string
		want any
		ok   bool
	}{
		{"a.b.c", "deep", true},
		{"a.b", map[string]any{"c": "deep"}, true},
		{"list.0", json.Number("1"), true},
		{"list.1.x", true, true},
		{"list.2", nil, false},
		{"list.01", nil, false},
		{"list.-1", nil, false},
		{"n", nil, true},
		{"a.x", nil, false},
		{"missing", nil, false},
		{"id.x", nil, false},
	}
	for _, f := range fields {
		got, ok := Field(obj, f.path)
		if ok != f.ok || !reflect.DeepEqual(got, f.want) {
			t.Errorf("Field(%q) = %#v, %v; want %#v, %v", f.path, got, ok, f.want, f.ok)
		}
	}
	// A literal key with dots is preferred at each level.
	obj, _ = ParseJSONLine([]byte(`{"a.b": 1, "a": {"b": 2, "c.d": 3}}`))
	if v, _ := Field(obj, "a.b"); v != json.Number("1") {
		t.Errorf("literal dotted key: %v", v)
	}
	if v, _ := Field(obj, "a.c.d"); v != json.Number("3") {
		t.Errorf("dotted key one level down: %v", v)
	}
}

func TestParseJSONLineErrors(t *testing.T) {
	tests := []struct {
		line    string
		wantErr string
		offset  int64
	}{
		{"", "empty line", 0},
		{"   ", "empty line", 3},
		{`[1,2]`, "holds an array, not an object", 0},
		{`  "s"`, "holds a string, not an object", 2},
		{`42`, "holds a number", 0},
		{`null`, "holds null", 0},
		{`xyz`, "which starts no JSON value", 0},
		{`{"a":1}{"b":2}`, "text after the object", 7},
		{`{"a":1} x`, "text after the object", 8},
		{`{"a":}`, "invalid character '}'", 5},
		{`{"a":1`, "not closed before the end of the line", 6},
		{`{"a":tru}`, "invalid character", 8},
	}
	for _, tt := range tests {
		_, err := ParseJSONLine([]byte(tt.line))
		var je *JSONError
		if !errors.As(err, &je) || !errors.Is(err, ErrJSON) || !strings.Contains(err.Error(), tt.wantErr) || je.Offset != tt.offset {
			t.Errorf("ParseJSONLine(%q) = %v, want %q at byte %d", tt.line, err, tt.wantErr, tt.offset)
		}
	}
}

func TestJSONLWriter(t *testing.T) {
	schema, _ := ParseSchema("s:string?,n:int64?,d:double?,b:boolean?,t:timestamp?")
	var buf bytes.Buffer
	w, err := NewJSONLWriter(&buf, schema)
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]Value{
		{"a\"b\\c\n\t<&>\u2028é\x01", int64(math.MaxInt64), 1e21, true, ts("2025-06-05T09:16:03.000000001Z")},
		{nil, nil, nil, nil, nil},
		{"", int64(-1), 0.1, false, ts("2025-06-05T00:00:00Z")},
		{"bad \xff utf8", int64(0), math.SmallestNonzeroFloat64, false, nil},
	}
	for _, r := range rows {
		if err := w.WriteRow(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	wantLines := []string{
		`{"s":"a\"b\\c\n\t<&>\u2028é\u0001","n":9223372036854775807,"d":1e+21,"b":true,"t":"2025-06-05T09:16:03.000000001Z"}`,
		`{"s":null,"n":null,"d":null,"b":null,"t":null}`,
		`{"s":"","n":-1,"d":0.1,"b":false,"t":"2025-06-05T00:00:00Z"}`,
		`{"s":"bad \ufffd utf8","n":0,"d":5e-324,"b":false,"t":null}`,
	}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("lines =\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	for i, l := range lines {
		obj, err := ParseJSONLine([]byte(l))
		if err != nil {
			t.Fatalf("line %d does not parse back: %v", i, err)
		}
		// encoding/json agrees on the string.
		var std map[string]any
		if err := json.Unmarshal([]byte(l), &std); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if i == 0 && std["s"] != rows[0][0] {
			t.Errorf("string came back as %q", std["s"])
		}
		if i == 0 && obj["n"] != json.Number("9223372036854775807") {
			t.Errorf("int64 came back as %v", obj["n"])
		}
	}
	if err := w.WriteRow([]Value{"x", nil, math.NaN(), nil, nil}); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Errorf("NaN: %v", err)
	}
	if err := w.WriteRow([]Value{"x"}); err == nil {
		t.Error("short row written")
	}
}
