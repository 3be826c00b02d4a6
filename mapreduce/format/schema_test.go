package format

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSchema(t *testing.T) {
	tests := []struct {
		in      string
		want    Schema
		str     string // Schema.String, when it differs from in
		wantErr string
	}{
		{in: "word:string,count:int64", want: Schema{{"word", String, false}, {"count", Int64, false}}},
		{in: "a:double?,b:boolean,c:timestamp?", want: Schema{{"a", Double, true}, {"b", Boolean, false}, {"c", Timestamp, true}}},
		{in: " a : INT64 ? , b:String", want: Schema{{"a", Int64, true}, {"b", String, false}}, str: "a:int64?,b:string"},
		{in: "Pāhala:string", want: Schema{{"Pāhala", String, false}}},
		{in: "", wantErr: "empty schema"},
		{in: "a", wantErr: `column 1 "a": want name:type[?]`},
		{in: "a:int32", wantErr: `column "a": unknown type "int32"`},
		{in: "a:int64,a:string", wantErr: `column "a" appears twice`},
		{in: ":int64", wantErr: "column 1: empty column name"},
		{in: "a:int64,,b:string", wantErr: `column 2 "": want name:type[?]`},
		{in: "a?:int64", wantErr: "contains one of , : ?"},
		{in: "a:int64??", wantErr: `unknown type "int64?"`},
		{in: "a\tb:int64", wantErr: "control character"},
	}
	for _, tt := range tests {
		got, err := ParseSchema(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSchema) {
				t.Errorf("ParseSchema(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSchema(%q): %v", tt.in, err)
			continue
		}
		if got.String() != tt.want.String() || len(got) != len(tt.want) {
			t.Errorf("ParseSchema(%q) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseSchema(%q)[%d] = %+v, want %+v", tt.in, i, got[i], tt.want[i])
			}
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("ParseSchema(%q).String() = %q, want %q", tt.in, got.String(), str)
		}
		again, err := ParseSchema(got.String())
		if err != nil || again.String() != got.String() {
			t.Errorf("round trip of %q: %v, %v", got.String(), again, err)
		}
	}
}

func TestParsePairSchema(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		keys    int
		wantErr string
	}{
		{in: "word:string | count:int64", want: "word:string,count:int64", keys: 1},
		{in: "status:string,hour:string | requests:int64,bytes:int64", want: "status:string,hour:string,requests:int64,bytes:int64", keys: 2},
		{in: "id:int64", want: "id:int64", keys: 1},
		{in: "a:string | a:int64", wantErr: `column "a" appears twice`},
		{in: "a:string | ", wantErr: "value columns"},
		{in: " | a:int64", wantErr: "key columns"},
	}
	for _, tt := range tests {
		s, k, err := ParsePairSchema(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePairSchema(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || s.String() != tt.want || k != tt.keys {
			t.Errorf("ParsePairSchema(%q) = %v, %d, %v; want %s, %d", tt.in, s, k, err, tt.want, tt.keys)
		}
	}
}

func TestSchemaValidate(t *testing.T) {
	if err := (Schema{}).Validate(); err == nil {
		t.Error("empty schema validated")
	}
	if err := (Schema{{Name: "a"}}).Validate(); err == nil || !strings.Contains(err.Error(), "no valid type") {
		t.Errorf("column without a type: %v", err)
	}
	if got := Type(9).String(); got != "Type(9)" {
		t.Errorf("Type(9).String() = %q", got)
	}
	s, _ := ParseSchema("a:string,b:int64")
	if s.Index("b") != 1 || s.Index("c") != -1 {
		t.Error("Index")
	}
}
