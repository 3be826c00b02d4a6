package format

import (
	"errors"
	"strings"
	"testing"
)

func TestInferrer(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		rows   [][]string
		want   string
	}{
		{
			name:   "each type",
			header: []string{"i", "d", "b", "t", "s"},
			rows: [][]string{
				{"1", "1.5", "true", "2025-06-05T09:16:03.063Z", "x"},
				{"-2", "3", "FALSE", "2025-06-05", "7"},
			},
			want: "i:int64,d:double,b:boolean,t:timestamp,s:string",
		},
		{
			name:   "nulls",
			header: []string{"i", "d", "empty"},
			rows:   [][]string{{"1", "", ""}, {"", "2.5", ""}},
			want:   "i:int64?,d:double?,empty:string?",
		},
		{
			name:   "int widens to double",
			header: []string{"a"},
			rows:   [][]string{{"1"}, {"2"}, {"2.5"}, {"3"}},
			want:   "a:double",
		},
		{
			name:   "int64 overflow is a double",
			header: []string{"a"},
			rows:   [][]string{{"1"}, {"99999999999999999999"}},
			want:   "a:double",
		},
		{
			name:   "0 and 1 are int64, not boolean",
			header: []string{"a"},
			rows:   [][]string{{"0"}, {"1"}},
			want:   "a:int64",
		},
		{
			name:   "mixed number and boolean is string",
			header: []string{"a"},
			rows:   [][]string{{"1"}, {"true"}},
			want:   "a:string",
		},
		{
			name:   "mixed boolean and timestamp is string",
			header: []string{"a"},
			rows:   [][]string{{"true"}, {"2025-01-01"}},
			want:   "a:string",
		},
		{
			name:   "NaN makes a string",
			header: []string{"a"},
			rows:   [][]string{{"1.5"}, {"NaN"}},
			want:   "a:string",
		},
		{
			name:   "timestamps of every form",
			header: []string{"a"},
			rows:   [][]string{{"2025-06-05"}, {"2025-06-05 10:00:00"}, {"2025-06-05T10:00:00+02:00"}},
			want:   "a:timestamp",
		},
		{
			name:   "timestamp without zone is a string",
			header: []string{"a"},
			rows:   [][]string{{"2025-06-05T10:00:00"}},
			want:   "a:string",
		},
		{
			name:   "no rows",
			header: []string{"a", "b"},
			want:   "a:string?,b:string?",
		},
		{
			name:   "spaces are not trimmed",
			header: []string{"a"},
			rows:   [][]string{{"1"}, {" 2"}},
			want:   "a:string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := NewInferrer(tt.header)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.rows {
				if err := in.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			got := in.Schema()
			if got.String() != tt.want {
				t.Errorf("schema = %s, want %s", got, tt.want)
			}
			if in.Rows() != int64(len(tt.rows)) {
				t.Errorf("Rows = %d", in.Rows())
			}
			// Every row seen converts under the inferred schema.
			for _, r := range tt.rows {
				if _, err := got.ParseRow(r, nil); err != nil {
					t.Errorf("row %q does not convert: %v", r, err)
				}
			}
		})
	}
}

func TestInferrerErrors(t *testing.T) {
	if _, err := NewInferrer([]string{"a", "a"}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate header: %v", err)
	}
	if _, err := NewInferrer([]string{"a", ""}); err == nil || !strings.Contains(err.Error(), "column 2: empty column name") {
		t.Errorf("empty header name: %v", err)
	}
	in, _ := NewInferrer([]string{"a", "b"})
	err := in.Add([]string{"1"})
	var fce *FieldCountError
	if !errors.As(err, &fce) || fce.Fields != 1 || fce.Want != 2 {
		t.Errorf("short row: %v", err)
	}
	if in.Rows() != 0 {
		t.Error("a refused row was counted")
	}
}
