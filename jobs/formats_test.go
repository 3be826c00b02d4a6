package jobs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// TestTypedOutputEqualsText runs word count and logagg with text output
// and with every typed output format and codec, and checks that each
// typed output, read back with independent decoders, holds exactly the
// rows of the text output, in part files named by format and codec, with
// BYTES_WRITTEN their size.
func TestTypedOutputEqualsText(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.txt")
	var b bytes.Buffer
	if err := WriteSampleText(&b, 100<<10, 11); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(text, b.Bytes(), 0o644)
	logs := filepath.Join(dir, "access.log")
	b.Reset()
	if err := WriteSampleAccessLog(&b, 2000, time.Date(2024, 3, 1, 23, 50, 0, 0, time.UTC), 5); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(logs, b.Bytes(), 0o644)

	for _, tc := range []struct {
		name    string
		job     string
		opts    map[string]string
		input   string
		columns []string
		// row turns a text output line into its row of cells.
		row func(line string) []string
	}{
		{"wordcount", "wordcount", nil, text, []string{"word", "count"}, func(l string) []string {
			return strings.Split(l, "\t")
		}},
		{"logagg", "logagg", map[string]string{"group-by": "status,hour"}, logs, []string{"status", "hour", "requests", "bytes"}, func(l string) []string {
			key, value, _ := strings.Cut(l, "\t")
			return append(strings.Split(key, "|"), strings.Split(value, "\t")...)
		}},
		{"logagg-path", "logagg", map[string]string{"group-by": "path,method"}, logs, []string{"path", "method", "requests", "bytes"}, func(l string) []string {
			key, value, _ := strings.Cut(l, "\t")
			return append(strings.Split(key, "|"), strings.Split(value, "\t")...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := stepRun{job: tc.job, opts: tc.opts, inputs: []string{tc.input}, splitSize: 24 << 10, reducers: 3}
			textOut, _, _ := base.run(t)
			var want [][]string
			for _, l := range textLines(t, textOut) {
				want = append(want, tc.row(l))
			}
			if len(want) < 10 {
				t.Fatalf("only %d output lines", len(want))
			}
			for _, f := range []struct{ format, compress, ext string }{
				{"csv", "", ".csv"}, {"csv", "gzip", ".csv.gz"}, {"jsonl", "", ".jsonl"}, {"jsonl", "zstd", ".jsonl.zst"},
				{"parquet", "", ".parquet"}, {"parquet", "zstd", ".parquet"}, {"parquet", "gzip", ".parquet"},
			} {
				r := base
				r.formats = Formats{Output: f.format, Compress: f.compress}
				out, c, _ := r.run(t)
				parts := outputParts(t, out)
				var size int64
				for i, p := range parts {
					if want := mapreduce.PartName('r', i) + f.ext; filepath.Base(p) != want {
						t.Errorf("%s/%s: part %s, want %s", f.format, f.compress, filepath.Base(p), want)
					}
					st, _ := os.Stat(p)
					size += st.Size()
				}
				if c.Get(mapreduce.BytesWritten) != size {
					t.Errorf("%s/%s: BYTES_WRITTEN %d, part files hold %d bytes", f.format, f.compress, c.Get(mapreduce.BytesWritten), size)
				}
				names, rows := outputRows(t, out, f.format)
				if !slices.Equal(names, tc.columns) {
					t.Errorf("%s: columns %q, want %q", f.format, names, tc.columns)
				}
				if got, w := sortedRows(rows), sortedRows(want); !slices.Equal(got, w) {
					t.Fatalf("%s/%s: %d rows differ from the %d of the text output; first %q, want %q", f.format, f.compress, len(got), len(w), got[0], w[0])
				}
			}
		})
	}
}

// TestTextOutputCompressed checks gzip and zstd text part files: named
// part-r-NNNNN.gz and .zst, they decompress to the uncompressed output.
func TestTextOutputCompressed(t *testing.T) {
	in := filepath.Join(t.TempDir(), "text.txt")
	var b bytes.Buffer
	WriteSampleText(&b, 100<<10, 3)
	os.WriteFile(in, b.Bytes(), 0o644)
	base := stepRun{job: "wordcount", inputs: []string{in}, reducers: 2}
	plain, _, _ := base.run(t)
	for _, codec := range []string{"gzip", "zstd"} {
		r := base
		r.formats.Compress = codec
		out, c, _ := r.run(t)
		ext := map[string]string{"gzip": ".gz", "zstd": ".zst"}[codec]
		var size int64
		for i := range 2 {
			p := filepath.Join(out, mapreduce.PartName('r', i)+ext)
			want, _ := os.ReadFile(filepath.Join(plain, mapreduce.PartName('r', i)))
			if got := decompressed(t, p); !bytes.Equal(got, want) {
				t.Errorf("%s: %s does not decompress to the plain part", codec, p)
			}
			st, _ := os.Stat(p)
			size += st.Size()
		}
		if c.Get(mapreduce.BytesWritten) != size {
			t.Errorf("%s: BYTES_WRITTEN %d, files hold %d", codec, c.Get(mapreduce.BytesWritten), size)
		}
	}
}

// TestOutputFormatRefusals checks what a step is refused for: Parquet
// output of a job without a schema, csv2parquet on input it does not
// read, bzip2 output, and logagg's JSON options on access logs.
func TestOutputFormatRefusals(t *testing.T) {
	d, _ := Lookup(DistCpJob)
	if _, err := d.OutputFormat(nil, Formats{Output: "parquet"}); !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "no typed output schema") {
		t.Errorf("distcp parquet output: %v", err)
	}
	c, _ := Lookup(Csv2ParquetJob)
	if _, err := c.Resolve(Formats{Input: "jsonl"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("csv2parquet on jsonl: %v", err)
	}
	if f, err := c.Resolve(Formats{Input: "text", Output: "text"}); err != nil || f.Input != "csv" || f.Output != "parquet" {
		t.Errorf("csv2parquet formats %+v, %v; want csv in, parquet out", f, err)
	}
	w, _ := Lookup("wordcount")
	if _, err := w.OutputFormat(nil, Formats{Output: "csv", Compress: "bzip2"}); err == nil {
		t.Error("bzip2 output accepted")
	}
	l, _ := Lookup("logagg")
	if _, err := l.BuildFor(map[string]string{"sum": "x"}, Formats{}); !errors.Is(err, ErrBadOption) {
		t.Errorf("logagg --sum on access logs: %v", err)
	}
	if _, err := l.BuildFor(map[string]string{"group-by": "player,minute"}, Formats{Input: "jsonl"}); err == nil || !strings.Contains(err.Error(), "--time-field") {
		t.Errorf("logagg minute without --time-field: %v", err)
	}
	if _, err := l.BuildFor(nil, Formats{Input: "parquet"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("logagg on parquet: %v", err)
	}
}

// TestLogAggTypedKeyWithBars checks that a group value holding '|' is
// read back whole into its column when it is the key's only field that
// may hold one, and refused (not split wrongly) when two may.
func TestLogAggTypedKeyWithBars(t *testing.T) {
	one, err := groupRows([]string{"status", "path", "hour"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	row, err := one.FromPair([]byte("200|/a|b|c|2015-05-17T10"), nil)
	if err != nil || len(row) != 3 || row[1] != "/a|b|c" || row[0] != "200" || row[2] != "2015-05-17T10" {
		t.Fatalf("row %q, %v", row, err)
	}
	two, _ := groupRows([]string{"host", "path"}, nil)
	if _, err := two.FromPair([]byte("h|/a|b"), nil); err == nil {
		t.Fatal("ambiguous key accepted")
	}
	if row, err := two.FromPair([]byte("h|/a"), nil); err != nil || row[0] != "h" || row[1] != "/a" {
		t.Fatalf("row %q, %v", row, err)
	}
}
