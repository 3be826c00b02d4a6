package jobs

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
	"github.com/klauspost/compress/zstd"
)

// stepRun is a job run the way a cluster step runs it: options prepared
// from the input, formats resolved, input planned in splits, then every
// task through the sequential runner.
type stepRun struct {
	job       string
	opts      map[string]string
	formats   Formats
	inputs    []string
	splitSize int64
	reducers  int
}

// run runs the step into a new folder and returns it, its counters and
// the options the step used (after Prepare).
func (r stepRun) run(t testing.TB) (string, *mapreduce.Counters, map[string]string) {
	t.Helper()
	out, c, opts, err := r.try(t)
	if err != nil {
		t.Fatal(err)
	}
	return out, c, opts
}

func (r stepRun) try(t testing.TB) (string, *mapreduce.Counters, map[string]string, error) {
	t.Helper()
	ctx := context.Background()
	fss := mapreduce.LocalFileSystems()
	def, err := Lookup(r.job)
	if err != nil {
		t.Fatal(err)
	}
	list := func() ([]mapreduce.InputFile, error) { return mapreduce.ListInputs(ctx, fss, r.inputs) }
	opts, err := def.Prepare(ctx, PrepareInput{FileSystems: fss, List: list}, r.opts, r.formats)
	if err != nil {
		return "", nil, nil, err
	}
	f, err := def.Resolve(r.formats)
	if err != nil {
		return "", nil, nil, err
	}
	job, err := def.BuildFor(opts, f)
	if err != nil {
		return "", nil, nil, err
	}
	of, err := def.OutputFormat(opts, f)
	if err != nil {
		return "", nil, nil, err
	}
	files, err := list()
	if err != nil {
		return "", nil, nil, err
	}
	splitSize := r.splitSize
	if splitSize == 0 {
		splitSize = 1 << 30
	}
	splits, err := mapreduce.PlanInput(ctx, fss, files, splitSize, f.Input)
	if err != nil {
		return "", nil, nil, err
	}
	out := filepath.Join(t.TempDir(), "out")
	c, err := mapreduce.RunSequential(ctx, job, splits, mapreduce.SequentialOptions{
		Reducers: r.reducers, Output: out, InputFormat: f.Input, OutputFormat: of, FileSystems: fss,
	})
	return out, c, opts, err
}

// outputParts returns the part files of an output folder, sorted.
func outputParts(t testing.TB, dir string) []string {
	t.Helper()
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(parts)
	return parts
}

// textLines returns the lines of every text part file of an output.
func textLines(t testing.TB, dir string) []string {
	t.Helper()
	var lines []string
	for _, p := range outputParts(t, dir) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 {
			lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		}
	}
	return lines
}

// decompressed reads a part file through the decompressor its name
// says: the standard library's gzip, klauspost's zstd.
func decompressed(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := stdgzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// outputRows decodes every part file of a typed output with libraries
// independent of gomr's writers (encoding/csv, encoding/json, parquet-go)
// into rows of text cells: a value as text (Parquet timestamps as Unix
// nanoseconds), "<null>" for a null. It returns the column names too.
func outputRows(t testing.TB, dir, outFormat string) ([]string, [][]string) {
	t.Helper()
	var names []string
	var rows [][]string
	for _, p := range outputParts(t, dir) {
		var n []string
		var r [][]string
		switch outFormat {
		case mapreduce.CSVOutput:
			recs, err := csv.NewReader(bytes.NewReader(decompressed(t, p))).ReadAll()
			if err != nil {
				t.Fatalf("%s: encoding/csv: %v", p, err)
			}
			n = recs[0]
			for _, rec := range recs[1:] {
				for i := range rec {
					if rec[i] == "" {
						rec[i] = "<null>"
					}
				}
				r = append(r, rec)
			}
		case mapreduce.JSONLOutput:
			data := decompressed(t, p)
			for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				if l == "" {
					continue
				}
				// Field order is the schema's: read it with a token decoder.
				dec := json.NewDecoder(strings.NewReader(l))
				dec.UseNumber()
				var row, keys []string
				if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
					t.Fatalf("%s: line %q: %v", p, l, err)
				}
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						t.Fatal(err)
					}
					var v any
					if err := dec.Decode(&v); err != nil {
						t.Fatal(err)
					}
					keys = append(keys, k.(string))
					if v == nil {
						row = append(row, "<null>")
					} else {
						row = append(row, fmt.Sprint(v))
					}
				}
				n = keys
				r = append(r, row)
			}
		case mapreduce.ParquetOutput:
			n, r = parquetGoRows(t, p)
		default:
			t.Fatalf("format %q", outFormat)
		}
		if names == nil {
			names = n
		}
		if n != nil && !slices.Equal(n, names) {
			t.Fatalf("%s: columns %q, another part has %q", p, n, names)
		}
		rows = append(rows, r...)
	}
	return names, rows
}

// parquetGoRows reads a Parquet file with parquet-go's own reader
// (parquetGoValues), each value as text and a null as "<null>".
func parquetGoRows(t testing.TB, path string) ([]string, [][]string) {
	t.Helper()
	names, values := parquetGoValues(t, path)
	rows := make([][]string, len(values))
	for i, vs := range values {
		rows[i] = make([]string, len(vs))
		for c, v := range vs {
			if v == nil {
				rows[i][c] = "<null>"
			} else {
				rows[i][c] = fmt.Sprint(v)
			}
		}
	}
	return names, rows
}

// sortedRows sorts rows of cells by their joined text.
func sortedRows(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "\x1f")
	}
	slices.Sort(out)
	return out
}
