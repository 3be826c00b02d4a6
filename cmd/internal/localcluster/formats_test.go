package localcluster_test

import (
	"bytes"
	"compress/bzip2"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce/format"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"google.golang.org/grpc/codes"
)

// TestFormatsOnACluster runs steps that read compressed, CSV, JSON lines
// and Parquet input and write typed output on one in-process cluster, and
// checks each against a computation independent of gomr; then steps with
// bad input, which fail with errors naming the file (or are refused), or
// count their rejects, without damaging output committed before.
func TestFormatsOnACluster(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core", "task"), Slots: 2})
	cl := c.Client()
	dir := t.TempDir()
	out := func(name string) string { return filepath.Join(dir, "out", name) }
	os.MkdirAll(filepath.Join(dir, "out"), 0o755)

	// Plain text and the same files compressed.
	plainDir, plain := ct.GenerateText(t, 3, 200<<10, 40)
	packedDir := filepath.Join(dir, "packed")
	os.MkdirAll(packedDir, 0o755)
	for i, p := range plain {
		data, _ := os.ReadFile(p)
		var gz bytes.Buffer
		zw := stdgzip.NewWriter(&gz)
		zw.Write(data)
		zw.Close()
		ext := ".gz"
		packed := gz.Bytes()
		if i == 1 {
			var zb bytes.Buffer
			enc, _ := zstd.NewWriter(&zb)
			enc.Write(data)
			enc.Close()
			ext, packed = ".zst", zb.Bytes()
		}
		os.WriteFile(filepath.Join(packedDir, filepath.Base(p)+ext), packed, 0o644)
	}
	// bzip2: the format package's fixture, and its text beside the plain files.
	bz, err := os.ReadFile(filepath.Join("..", "..", "..", "mapreduce", "format", "testdata", "lines.txt.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	bzText, _ := io.ReadAll(bzip2.NewReader(bytes.NewReader(bz)))
	os.WriteFile(filepath.Join(plainDir, "lines.txt"), bzText, 0o644)
	os.WriteFile(filepath.Join(packedDir, "lines.txt.bz2"), bz, 0o644)

	plainStep := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{plainDir}, Output: out("plain"), Reducers: 3, SplitSize: 64 << 10})
	ct.MustComplete(t, plainStep)
	committed := hashTree(t, out("plain"))

	t.Run("compressed input", func(t *testing.T) {
		st := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{packedDir}, Output: out("packed"), Reducers: 3, SplitSize: 64 << 10})
		ct.MustComplete(t, st)
		if st.MapsTotal != 4 || st.InputWholeFiles != 4 {
			t.Errorf("%d maps, %d whole files; want one map per compressed file (4)", st.MapsTotal, st.InputWholeFiles)
		}
		if plainStep.MapsTotal <= 4 {
			t.Errorf("the plain input made only %d maps", plainStep.MapsTotal)
		}
		ct.CheckOutput(t, out("packed"), out("plain"))
	})

	t.Run("parquet output of wordcount and logagg", func(t *testing.T) {
		logs := filepath.Join(dir, "access.log")
		var b bytes.Buffer
		jobs.WriteSampleAccessLog(&b, 4000, time.Date(2024, 3, 1, 23, 50, 0, 0, time.UTC), 8)
		os.WriteFile(logs, b.Bytes(), 0o644)
		for _, tc := range []struct {
			job, input, text string
			opts             map[string]string
			keyCols          int
		}{
			{"wordcount", plainDir, out("plain"), nil, 1},
			{"logagg", logs, "", map[string]string{"group-by": "status,hour"}, 2},
		} {
			text := tc.text
			if text == "" {
				text = out(tc.job + "-text")
				ct.MustComplete(t, ct.RunStep(t, cl, &pb.StepSpec{Job: tc.job, Options: tc.opts, Inputs: []string{tc.input}, Output: text, Reducers: 2, SplitSize: 64 << 10}))
			}
			pq := out(tc.job + "-parquet")
			st := ct.RunStep(t, cl, &pb.StepSpec{Job: tc.job, Options: tc.opts, Inputs: []string{tc.input}, Output: pq, Reducers: 2, SplitSize: 64 << 10, OutputFormat: "parquet", Compress: "zstd"})
			ct.MustComplete(t, st)
			var want []string
			for _, l := range ct.PartLines(t, text) {
				key, value, _ := strings.Cut(l, "\t")
				cells := append(strings.SplitN(key, "|", tc.keyCols), strings.Split(value, "\t")...)
				want = append(want, strings.Join(cells, "\x1f"))
			}
			var got []string
			parts, _ := filepath.Glob(filepath.Join(pq, "part-r-*.parquet"))
			if len(parts) != 2 {
				t.Fatalf("%s: parquet parts %q", tc.job, parts)
			}
			for _, p := range parts {
				for _, row := range parquetGoRows(t, p) {
					got = append(got, strings.Join(row, "\x1f"))
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if len(want) < 10 || !slices.Equal(got, want) {
				t.Errorf("%s: %d Parquet rows differ from the %d text lines", tc.job, len(got), len(want))
			}
		}
	})

	t.Run("csv2parquet on the USGS files, schema inferred at submission", func(t *testing.T) {
		// Two of the four files (the jobs package's test converts all four).
		usgs := ct.SharedData(t, "usgs-earthquakes")
		files := []string{filepath.Join(usgs, "usgs_all_month_2025-05-06_to_2025-06-05.csv"), filepath.Join(usgs, "usgs_all_month_2025-12-07_to_2026-01-06.csv")}
		o := out("usgs")
		st := ct.RunStep(t, cl, &pb.StepSpec{Job: "csv2parquet", Options: map[string]string{"row-group-size": "512KiB"}, Inputs: files, Output: o, SplitSize: 512 << 10})
		ct.MustComplete(t, st)
		if st.Spec.InputFormat != "csv" || st.Spec.OutputFormat != "parquet" || st.Spec.Options["schema"] == "" {
			t.Fatalf("step spec %+v: want csv in, parquet out and the inferred schema in its options", st.Spec)
		}
		schema, err := format.ParseSchema(st.Spec.Options["schema"])
		if err != nil {
			t.Fatal(err)
		}
		// Every row of every file, through encoding/csv and strconv, and
		// every row of the output, through parquet-go: the same multiset.
		var want []string
		for _, f := range files {
			b, _ := os.ReadFile(f)
			recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs[1:] {
				cells := make([]string, len(schema))
				for i, name := range recs[0] {
					k := schema.Index(name)
					cells[k] = stdCell(t, schema[k].Type, rec[i])
				}
				want = append(want, strings.Join(cells, "\x1f"))
			}
		}
		var got []string
		parts, _ := filepath.Glob(filepath.Join(o, "part-m-*.parquet"))
		for _, p := range parts {
			for _, row := range parquetGoRows(t, p) {
				got = append(got, strings.Join(row, "\x1f"))
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if len(want) < 18000 || !slices.Equal(got, want) {
			t.Fatalf("%d Parquet rows, %d CSV rows: they differ", len(got), len(want))
		}
		if st.MapsTotal < 8 || st.Counters["REJECTED_RECORDS"] != 0 {
			t.Errorf("%d maps (want 1 MiB splits), %d rejects", st.MapsTotal, st.Counters["REJECTED_RECORDS"])
		}
	})

	t.Run("logagg on JSON lines", func(t *testing.T) {
		in := filepath.Join(dir, "games.jsonl")
		var lines []string
		type agg struct {
			n, secs int64
			buys    *big.Float
		}
		want := map[string]*agg{}
		malformed := int64(1) // the last line
		start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		for i := range 6000 {
			at := start.Add(time.Duration(i) * 1300 * time.Millisecond)
			player, secs, buys := fmt.Sprintf("p%d", i*7%13), int64(i*37%900), fmt.Sprintf("%d.%02d", i%17, i*31%100)
			if i%97 == 5 {
				lines = append(lines, fmt.Sprintf(`{"ts":%q,"session_seconds":%d}`, at.Format(time.RFC3339), secs)) // no player
				malformed++
				continue
			}
			lines = append(lines, fmt.Sprintf(`{"ts":%q,"player":%q,"session_seconds":%d,"purchases":%s}`, at.Format(time.RFC3339), player, secs, buys))
			k := player + "|" + at.Format("2006-01-02T15:04")
			if want[k] == nil {
				want[k] = &agg{buys: new(big.Float).SetPrec(1000)}
			}
			x, _, _ := big.ParseFloat(buys, 10, 53, big.ToNearestEven)
			want[k].n++
			want[k].secs += secs
			want[k].buys.Add(want[k].buys, x)
		}
		lines = append(lines, `{"ts":"2024-05-01T10:00:00Z","player":"p1","session_seconds":1,"purchases":1`) // not JSON
		os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		var wantLines []string
		for k, a := range want {
			f, _ := a.buys.Float64()
			wantLines = append(wantLines, fmt.Sprintf("%s\t%d\t%d\t%s", k, a.n, a.secs, strconv.FormatFloat(f, 'g', -1, 64)))
		}
		slices.Sort(wantLines)
		o := out("games")
		st := ct.RunStep(t, cl, &pb.StepSpec{Job: "logagg", InputFormat: "jsonl", Inputs: []string{in}, Output: o, Reducers: 3, SplitSize: 64 << 10,
			Options: map[string]string{"time-field": "ts", "group-by": "player,minute", "sum": "session_seconds,purchases"}})
		ct.MustComplete(t, st)
		if st.Spec.Options["sum"] != "session_seconds:int64,purchases:double" {
			t.Errorf("stored --sum %q", st.Spec.Options["sum"])
		}
		got := ct.PartLines(t, o)
		slices.Sort(got)
		if !slices.Equal(got, wantLines) {
			t.Errorf("%d lines, want %d", len(got), len(wantLines))
		}
		if n := st.Counters["MALFORMED_RECORDS"]; n != malformed {
			t.Errorf("MALFORMED_RECORDS %d, want %d", n, malformed)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		bad := filepath.Join(dir, "bad")
		os.MkdirAll(bad, 0o755)
		// A gzip file truncated in the middle, past what submission reads.
		data := bytes.Repeat([]byte("some words of a long text\n"), 40000)
		var gz bytes.Buffer
		zw := stdgzip.NewWriter(&gz)
		zw.Write(data)
		zw.Close()
		truncGz := filepath.Join(bad, "cut.txt.gz")
		os.WriteFile(truncGz, gz.Bytes()[:gz.Len()/2], 0o644)
		// Parquet: truncated (refused at submission), and with garbage over
		// a row group's pages (the map fails).
		pqPath := filepath.Join(bad, "rows.parquet")
		writeTestParquet(t, pqPath)
		pqData, _ := os.ReadFile(pqPath)
		truncPq := filepath.Join(bad, "cut.parquet")
		os.WriteFile(truncPq, pqData[:len(pqData)-100], 0o644)
		pf, err := format.OpenParquet(bytes.NewReader(pqData), int64(len(pqData)))
		if err != nil {
			t.Fatal(err)
		}
		g := pf.RowGroup(1)
		corrupt := bytes.Clone(pqData)
		for i := g.Offset; i < g.Offset+32; i++ {
			corrupt[i] = 0xff
		}
		corruptPq := filepath.Join(bad, "corrupt.parquet")
		os.WriteFile(corruptPq, corrupt, 0o644)
		// CSV rows with a wrong number of fields and invalid UTF-8.
		badCSV := filepath.Join(bad, "rows.csv")
		os.WriteFile(badCSV, []byte("a,b\n1,x\n2,y,extra\n3,\xff\xfe\n4,z\n"), 0o644)

		for _, tc := range []struct {
			name  string
			spec  *pb.StepSpec
			texts []string
		}{
			{"truncated gzip", &pb.StepSpec{Job: "wordcount", Inputs: []string{truncGz}, Output: out("bad-gz"), Reducers: 1}, []string{truncGz, "truncated", "gzip"}},
			{"corrupt parquet pages", &pb.StepSpec{Job: "wordcount", InputFormat: "parquet", Inputs: []string{corruptPq}, Output: out("bad-pq"), Reducers: 1, SplitSize: 1}, []string{corruptPq, "corrupt Parquet file", fmt.Sprintf("byte offset %d", g.Offset)}},
		} {
			st := ct.RunStep(t, cl, tc.spec)
			t.Logf("%s: %s", tc.name, st.Error)
			if st.State.Value() != "FAILED" {
				t.Fatalf("%s: step ended %s", tc.name, st.State)
			}
			for _, s := range tc.texts {
				if !strings.Contains(st.Error, s) {
					t.Errorf("%s: error %q does not mention %q", tc.name, st.Error, s)
				}
			}
			if st.Counters["FAILED_MAPS"] != 1 {
				t.Errorf("%s: a bad-data task was retried: %v", tc.name, st.Counters)
			}
		}
		for _, tc := range []struct {
			name  string
			spec  *pb.StepSpec
			texts []string
		}{
			{"truncated parquet", &pb.StepSpec{Job: "wordcount", InputFormat: "parquet", Inputs: []string{truncPq}, Output: out("bad-pq2"), Reducers: 1}, []string{truncPq, "truncated"}},
			{"parquet output without a schema", &pb.StepSpec{Job: "distcp", Inputs: []string{badCSV}, Output: out("bad-cp"), OutputFormat: "parquet"}, []string{"no typed output schema"}},
			{"parquet read as text", &pb.StepSpec{Job: "wordcount", Inputs: []string{pqPath}, Output: out("bad-pq3"), Reducers: 1}, []string{pqPath, "input format parquet"}},
		} {
			st := submitErr(t, cl, tc.spec)
			t.Logf("%s: refused: %s", tc.name, st.Message())
			if st.Code() != codes.InvalidArgument {
				t.Errorf("%s: code %s (%s)", tc.name, st.Code(), st.Message())
			}
			for _, s := range tc.texts {
				if !strings.Contains(st.Message(), s) {
					t.Errorf("%s: refusal %q does not mention %q", tc.name, st.Message(), s)
				}
			}
		}
		// Bad CSV rows are counted rejects, with their file and line.
		o := out("bad-csv")
		st := ct.RunStep(t, cl, &pb.StepSpec{Job: "csv2parquet", Options: map[string]string{"schema": "a:int64,b:string"}, Inputs: []string{badCSV}, Output: o})
		ct.MustComplete(t, st)
		if st.Counters["REJECTED_RECORDS"] != 2 || st.Counters["MAP_OUTPUT_RECORDS"] != 2 {
			t.Errorf("counters %v: want 2 rows written, 2 rejected", st.Counters)
		}
		rejects := strings.Join(ct.ReadLines(t, filepath.Join(o, "_rejects", "part-m-00000")), "\n")
		for _, s := range []string{badCSV + "\t3\tCSV row has 3 fields, the header has 2", badCSV + "\t4\tCSV row is not valid UTF-8"} {
			if !strings.Contains(rejects, s) {
				t.Errorf("rejects %q lack %q", rejects, s)
			}
		}
	})

	if got := hashTree(t, out("plain")); got != committed {
		t.Errorf("the committed output %s changed", out("plain"))
	}
}

// stdCell renders a CSV field as parquetGoRows renders the value the
// schema says it is, with the standard library alone.
func stdCell(t *testing.T, typ format.Type, f string) string {
	if f == "" {
		return "<null>"
	}
	switch typ {
	case format.Int64:
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(n)
	case format.Double:
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(x)
	case format.Timestamp:
		ts, err := time.Parse(time.RFC3339Nano, f)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(ts.UnixNano())
	case format.Boolean:
		b, err := strconv.ParseBool(f)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(b)
	}
	return f
}

// parquetGoRows reads a Parquet file with parquet-go into rows of text
// cells ("<null>" for a null; timestamps as Unix nanoseconds).
func parquetGoRows(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: parquet-go: %v", path, err)
	}
	cols := len(f.Schema().Fields())
	var rows [][]string
	buf := make([]parquet.Row, 128)
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, prow := range buf[:n] {
				row := make([]string, cols)
				for _, v := range prow {
					switch {
					case v.IsNull():
						row[v.Column()] = "<null>"
					case v.Kind() == parquet.ByteArray:
						row[v.Column()] = string(v.ByteArray())
					case v.Kind() == parquet.Int64:
						row[v.Column()] = fmt.Sprint(v.Int64())
					case v.Kind() == parquet.Double:
						row[v.Column()] = fmt.Sprint(v.Double())
					case v.Kind() == parquet.Boolean:
						row[v.Column()] = fmt.Sprint(v.Boolean())
					default:
						t.Fatalf("%s: value of kind %v", path, v.Kind())
					}
				}
				rows = append(rows, row)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: parquet-go: %v", path, err)
			}
		}
		rr.Close()
	}
	return rows
}

// writeTestParquet writes a small Parquet file of several row groups.
func writeTestParquet(t *testing.T, path string) {
	var b bytes.Buffer
	pw, err := format.NewParquetWriter(&b, format.Schema{{Name: "id", Type: format.Int64}, {Name: "word", Type: format.String}}, format.ParquetOptions{RowGroupRows: 200})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := pw.WriteRow([]format.Value{int64(i), fmt.Sprintf("word%d", i%17)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, b.Bytes(), 0o644)
}

// hashTree hashes every file under a folder, with its path.
func hashTree(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		fmt.Fprintf(h, "%s %d ", p, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
