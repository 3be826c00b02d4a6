package mapreduce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCSVRecords reads arbitrary bytes as a CSV file cut into splits of
// an arbitrary size, with an arbitrary line limit, and checks that the
// reader never panics; that every row it hands out has as many values as
// the header has columns and lies in the file at its offset; that every
// rejected row has a line number past the header; that an error that
// stops a split is an *InputError naming the file and a line; and that,
// when no split stops, the rows and rejects together are every line but
// the header, once each.
func FuzzCSVRecords(f *testing.F) {
	for _, seed := range []struct {
		text      string
		splitSize uint16
		maxLine   uint8
	}{
		{"id,name,note\r\n1,\"name, with comma \"\"1\"\"\",n\r\n2,too,many,fields\r\n3,short\r\n", 7, 0},
		{"id,name,note\n4,bad \xff\xfe utf8,x\n5,\"first half\nsecond half\",x\n6,stray \"quote,x\n", 16, 0},
		{"a,b\"c\n1,2\n", 3, 0},
		{"a,\xffb\n1,2\n", 100, 0},
		{"\xef\xbb\xbfa,b\n", 2, 0},
		{"a,b\n1,2\n3,4", 1, 3},
		{"a,b\n1,\x00\n3,4\n", 5, 0},
		{"a\n\n\n\"\"\n", 1, 0},
		{"", 1, 0},
	} {
		f.Add([]byte(seed.text), seed.splitSize, seed.maxLine)
	}
	f.Fuzz(func(t *testing.T, text []byte, splitSize uint16, maxLine uint8) {
		path := filepath.Join(t.TempDir(), "in.csv")
		if err := os.WriteFile(path, text, 0o644); err != nil {
			t.Fatal(err)
		}
		splits, err := PlanSplits([]InputFile{{Path: path, Size: int64(len(text)), Doc: "in.csv"}}, int64(splitSize)+1)
		if err != nil {
			t.Fatal(err)
		}
		lines := int64(bytes.Count(text, []byte{'\n'}))
		if len(text) > 0 && text[len(text)-1] != '\n' {
			lines++
		}
		// stopped checks an error that ends a split: it names the file and
		// a line of it.
		stopped := func(err error) {
			t.Helper()
			var ie *InputError
			if !errors.As(err, &ie) || ie.File != path || ie.Line < 1 || ie.Line > max(lines, 1) {
				t.Fatalf("error %v: want an *InputError naming %s and a line of its %d", err, path, lines)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("line %d", ie.Line)) {
				t.Fatalf("error %q does not name the file and line", err)
			}
		}
		seen := map[int64]bool{}
		complete := true
		for _, s := range splits {
			rr, err := openRecords(context.Background(), LocalFileSystems(), s, CSVInput, int(maxLine))
			if err != nil {
				stopped(err)
				complete = false
				continue
			}
			for {
				var rec Record
				err := rr.readRecord(&rec)
				if err == io.EOF {
					break
				}
				var bad *badRecordError
				if err != nil && !errors.As(err, &bad) {
					stopped(err)
					complete = false
					break
				}
				n, lerr := rr.LineNumber(rec)
				if lerr != nil || n < 2 || n > lines || seen[n] {
					t.Fatalf("record at offset %d: line %d (%v) of %d, seen before %v", rec.Offset, n, lerr, lines, seen[n])
				}
				seen[n] = true
				if !bytes.HasPrefix(text[rec.Offset:], rec.Line) {
					t.Fatalf("line %d at offset %d is not in the file", n, rec.Offset)
				}
				if bad != nil {
					if bad.reason == "" {
						t.Fatalf("line %d rejected without a reason", n)
					}
					continue
				}
				if len(rec.Values) != len(rec.Schema) || len(rec.Schema) == 0 {
					t.Fatalf("line %d: %d values for %d columns", n, len(rec.Values), len(rec.Schema))
				}
				for i, v := range rec.Values {
					if s, ok := v.(string); v != nil && (!ok || s == "") {
						t.Fatalf("line %d column %d: value %#v, want nil or a non-empty string", n, i, v)
					}
				}
			}
			rr.Close()
		}
		if complete && lines > 0 && int64(len(seen)) != lines-1 {
			t.Fatalf("%d rows and rejects read, want the %d lines after the header", len(seen), lines-1)
		}
	})
}
