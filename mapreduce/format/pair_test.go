package format

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRowFromPair(t *testing.T) {
	wordCount, wk, _ := ParsePairSchema("word:string | count:int64")
	logs, lk, _ := ParsePairSchema("status:string,hour:string | requests:int64,bytes:int64?")
	keysOnly, kk, _ := ParsePairSchema("a:string,b:int64")
	tests := []struct {
		name       string
		schema     Schema
		keys       int
		key, value string
		want       []Value
		wantErr    string
	}{
		{name: "word count", schema: wordCount, keys: wk, key: "hello", value: "42", want: []Value{"hello", int64(42)}},
		{name: "word with a bar", schema: wordCount, keys: wk, key: "a|b", value: "1", want: []Value{"a|b", int64(1)}},
		{name: "logs", schema: logs, keys: lk, key: "200|13", value: "1500\t123456", want: []Value{"200", "13", int64(1500), int64(123456)}},
		{name: "nullable value", schema: logs, keys: lk, key: "404|00", value: "3\t", want: []Value{"404", "00", int64(3), nil}},
		{name: "keys only", schema: keysOnly, keys: kk, key: "x|5", want: []Value{"x", int64(5)}},
		{name: "missing key field", schema: logs, keys: lk, key: "200", value: "1\t2", wantErr: `output pair with key "200": the key has 1 fields separated by '|', the schema has 2 key columns`},
		{name: "missing value field", schema: logs, keys: lk, key: "200|13", value: "1500", wantErr: `key "200|13": the value has 1 fields separated by '\t', the schema has 2 value columns`},
		{name: "bad count", schema: wordCount, keys: wk, key: "hello", value: "many", wantErr: `key "hello": value field 1: column count: invalid value: "many" is not an int64`},
		{name: "extra value field", schema: logs, keys: lk, key: "200|13", value: "1\t2\t3", wantErr: `value field 2: column bytes`},
		{name: "empty key in a required column", schema: wordCount, keys: wk, key: "", value: "1", wantErr: "null in a non-nullable column"},
		{name: "value with no value columns", schema: keysOnly, keys: kk, key: "x|5", value: "v", wantErr: "the value is not empty but the schema has no value columns"},
		{name: "too many key columns", schema: wordCount, keys: 3, key: "x", wantErr: "3 key columns in a schema of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RowFromPair(tt.schema, tt.keys, []byte(tt.key), []byte(tt.value))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("RowFromPair = %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
	_, err := RowFromPair(wordCount, 1, []byte(strings.Repeat("k", 500)), []byte("x"))
	var pe *PairError
	if !errors.As(err, &pe) || len(pe.Key) != 200 || !errors.Is(err, ErrValue) {
		t.Errorf("long key: %v", err)
	}
}
