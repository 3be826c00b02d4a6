package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/google/pprof/profile"
)

// sequentialLines runs a job sequentially and returns the lines of all
// its part files, sorted.
func sequentialLines(t *testing.T, job string, opts map[string]string, files []string) []string {
	t.Helper()
	def, err := jobs.Lookup(job)
	if err != nil {
		t.Fatal(err)
	}
	j, err := def.Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	fss := mapreduce.LocalFileSystems()
	in, err := mapreduce.ListInputs(context.Background(), fss, files)
	if err != nil {
		t.Fatal(err)
	}
	splits, err := mapreduce.PlanSplits(in, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := mapreduce.RunSequential(context.Background(), j, splits, mapreduce.SequentialOptions{
		Reducers: 3, SortBufferBytes: 1 << 20, FileSystems: fss, Output: out, JobName: job,
	}); err != nil {
		t.Fatal(err)
	}
	parts, err := partFiles(out)
	if err != nil || len(parts) != 3 {
		t.Fatalf("part files %v, %v", parts, err)
	}
	var lines []string
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 {
			lines = append(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
		}
	}
	slices.Sort(lines)
	return lines
}

// singleLines runs the single baseline and returns its output lines,
// checking they come sorted.
func singleLines(t *testing.T, job string, opts map[string]string, files []string) []string {
	t.Helper()
	def, _ := jobs.Lookup(job)
	full := map[string]string{}
	for _, o := range def.Options {
		full[o.Name] = o.Default
	}
	for k, v := range opts {
		full[k] = v
	}
	out := filepath.Join(t.TempDir(), "single")
	if err := runSingle(context.Background(), job, full, files, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	keys := make([]string, len(lines))
	for i, l := range lines {
		keys[i], _, _ = strings.Cut(l, "\t")
	}
	if !slices.IsSorted(keys) {
		t.Errorf("%s single output is not sorted by key", job)
	}
	return lines
}

func writeFile(t *testing.T, path string, write func(f *os.File) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSingleBaselineEqualsSequential checks that the single-threaded
// baselines compute exactly what the sequential run of the job does, on
// generated input and on text with non-ASCII letters, invalid UTF-8 and
// CRLF line ends.
func TestSingleBaselineEqualsSequential(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text")
	writeFile(t, text, func(f *os.File) error { return jobs.WriteSampleText(f, 300<<10, 7) })
	odd := filepath.Join(dir, "odd")
	os.WriteFile(odd, []byte("Café naïve CAFÉ ÜBER straße\r\n日本語 x\xffy, Ωmega42omega\n\nno final newline ÆON"), 0o644)
	logs := filepath.Join(dir, "logs")
	writeFile(t, logs, func(f *os.File) error {
		return jobs.WriteSampleAccessLog(f, 4000, time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC), 3)
	})
	for _, tc := range []struct {
		job   string
		opts  map[string]string
		files []string
	}{
		{"wordcount", nil, []string{text, odd}},
		{"wordcount", map[string]string{"lower": "true"}, []string{text, odd}},
		{"logagg", nil, []string{logs}},
		{"logagg", map[string]string{"group-by": "status,hour"}, []string{logs}},
		{"logagg", map[string]string{"group-by": "method,path,day"}, []string{logs}},
		{"logagg", map[string]string{"group-by": "host,minute"}, []string{logs}},
	} {
		t.Run(fmt.Sprint(tc.job, tc.opts), func(t *testing.T) {
			want := sequentialLines(t, tc.job, tc.opts, tc.files)
			got := singleLines(t, tc.job, tc.opts, tc.files)
			if len(want) < 5 {
				t.Fatalf("only %d output lines: %q", len(want), want)
			}
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("%d lines vs %d; first difference at line %d: %q, sequential %q", len(got), len(want), i+1, got[i], want[i])
					}
				}
				t.Fatalf("%d lines vs the sequential run's %d", len(got), len(want))
			}
		})
	}
	// The odd file's words, counted by hand.
	got := singleLines(t, "wordcount", nil, []string{odd})
	want := []string{"CAFÉ\t1", "Café\t1", "ÆON\t1", "ÜBER\t1", "final\t1", "naïve\t1", "newline\t1", "no\t1", "omega\t1",
		"straße\t1", "x\t1", "y\t1", "Ωmega\t1", "日本語\t1"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("word count of the odd file:\n got %q\nwant %q", got, want)
	}
}

// TestCompareKeyedCatchesWrongOutput feeds the output check baselines
// that are wrong in each way a baseline can be.
func TestCompareKeyedCatchesWrongOutput(t *testing.T) {
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	os.MkdirAll(ref, 0o755)
	os.WriteFile(filepath.Join(ref, "part-00000"), []byte("apple\t3\ncherry\t1\n"), 0o644)
	os.WriteFile(filepath.Join(ref, "part-00001"), []byte("banana\t2\n"), 0o644)
	os.WriteFile(filepath.Join(ref, mapreduce.SuccessFile), []byte("{}"), 0o644)
	want, err := readPartPairs(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, output, err string }{
		{"right", "apple\t3\nbanana\t2\ncherry\t1\n", ""},
		{"wrong count", "apple\t3\nbanana\t5\ncherry\t1\n", `at key "banana": "5" (gomr: "2")`},
		{"first of two wrong", "apple\t4\nbanana\t5\ncherry\t1\n", `at key "apple": "4" (gomr: "3")`},
		{"missing key", "apple\t3\nbanana\t2\n", `at key "cherry": missing (gomr: "1"); 2 keys vs gomr's 3`},
		{"extra key", "apple\t3\nazure\t1\nbanana\t2\ncherry\t1\n", `at key "azure": "1", which gomr's output lacks`},
		{"case differs", "Apple\t3\nbanana\t2\ncherry\t1\n", `at key "Apple"`},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		os.WriteFile(out, []byte(tc.output), 0o644)
		got, err := readPairsFile(out)
		if err != nil {
			t.Fatal(err)
		}
		err = compareKeyed("single baseline", want, got)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "single baseline: ")):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.err)
		}
	}
	// uniq -c output, with the empty word tr gives for leading
	// punctuation.
	uniq := "      1 \n      3 apple\n      2 banana\n      2 cherry\n"
	got, err := readUniqCounts(strings.NewReader(uniq), "uniq")
	if err != nil {
		t.Fatal(err)
	}
	if err := compareKeyed("coreutils", want, got); err == nil || !strings.Contains(err.Error(), `at key "cherry": "2" (gomr: "1")`) {
		t.Errorf("coreutils check: %v", err)
	}
	if _, err := readUniqCounts(strings.NewReader("3 apple pie\n"), "uniq"); err == nil || !strings.Contains(err.Error(), "uniq:1: not a uniq -c line") {
		t.Errorf("bad uniq line: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "notab"), []byte("apple 3\n"), 0o644)
	if _, err := readPairsFile(filepath.Join(dir, "notab")); err == nil || !strings.Contains(err.Error(), "notab:1: no tab") {
		t.Errorf("line without a tab: %v", err)
	}
}

func TestParseBaselines(t *testing.T) {
	got, err := parseBaselines([]string{"single,coreutils", "single"}, "wordcount")
	if err != nil || !slices.Equal(got, []string{"single", "coreutils"}) {
		t.Errorf("wordcount: %v, %v", got, err)
	}
	for _, tc := range []struct{ values, job, err string }{
		{"single", "grep", "--baseline single: there is one for wordcount and logagg only, not for grep"},
		{"coreutils", "logagg", "--baseline coreutils: there is one for wordcount only, not for logagg"},
		{"gnusort", "wordcount", "--baseline gnusort: there is one for terasort only, not for wordcount"},
		{"awk", "wordcount", `--baseline "awk": want single, coreutils or gnusort`},
	} {
		if _, err := parseBaselines([]string{tc.values}, tc.job); err == nil || err.Error() != tc.err {
			t.Errorf("%s for %s: %v, want %q", tc.values, tc.job, err, tc.err)
		}
	}
}

// ratioLine is how a ratio row reads.
var ratioLine = regexp.MustCompile(`^(sequential|cluster\(\d+\)) vs (single|coreutils|gnusort): (\d+\.\d\d)x (faster|slower)$`)

// TestBenchBaselines runs gomr bench with the baselines on small
// generated input and checks the ratio rows, in text and in JSON, against
// the times the report gives.
func TestBenchBaselines(t *testing.T) {
	for _, tc := range []struct {
		job       string
		args      []string
		baselines []string
	}{
		{"wordcount", []string{"--lower"}, []string{"single", "coreutils"}},
		{"logagg", []string{"--group-by", "status,hour"}, []string{"single"}},
		{"terasort", nil, []string{"gnusort"}},
	} {
		t.Run(tc.job, func(t *testing.T) {
			args := append([]string{"bench", "--job", tc.job, "--generate", "3MB", "--workers", "1,2", "--repeat", "2",
				"--split-size", "1MiB", "--baseline", strings.Join(tc.baselines, ",")}, tc.args...)
			out, errOut, code := gomr(t, nil, args...)
			if code != 0 {
				t.Fatalf("gomr bench: exit %d\n%s\n%s", code, out, errOut)
			}
			var ratios []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if ratioLine.MatchString(line) {
					ratios = append(ratios, line)
				} else if strings.Contains(line, " vs ") {
					t.Errorf("ratio line %q does not read right", line)
				}
			}
			if want := 3 * len(tc.baselines); len(ratios) != want {
				t.Fatalf("%d ratio lines, want %d:\n%s", len(ratios), want, out)
			}
			for _, b := range tc.baselines {
				if !regexp.MustCompile(`(?m)^\s*` + b + `\s+1\s.*same as gomr`).MatchString(out) {
					t.Errorf("no table row for %s:\n%s", b, out)
				}
			}
			// Every repetition runs every mode once, in turn.
			var order []string
			for _, m := range regexp.MustCompile(`(\S+) run (\d) of 2: `).FindAllStringSubmatch(errOut, -1) {
				order = append(order, m[2]+" "+m[1])
			}
			var wantOrder []string
			for _, r := range []string{"1", "2"} {
				for _, m := range append([]string{"sequential", "cluster(1)", "cluster(2)"}, tc.baselines...) {
					wantOrder = append(wantOrder, r+" "+m)
				}
			}
			if !slices.Equal(order, wantOrder) {
				t.Errorf("runs in the order %q, want %q", order, wantOrder)
			}

			out, errOut, code = gomr(t, nil, append(args, "--format", "json", "--repeat", "1")...)
			if code != 0 {
				t.Fatalf("gomr bench --format json: exit %d\n%s", code, errOut)
			}
			var rep benchReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			secs := map[string]float64{}
			for _, r := range rep.Rows {
				secs[r.Name] = r.Seconds
				if len(r.Runs) != 1 || r.Seconds != r.Runs[0] || r.Seconds <= 0 {
					t.Errorf("row %s: %v s from runs %v", r.Name, r.Seconds, r.Runs)
				}
			}
			if len(rep.Ratios) != 3*len(tc.baselines) {
				t.Fatalf("%d ratios: %+v", len(rep.Ratios), rep.Ratios)
			}
			for _, r := range rep.Ratios {
				if want := secs[r.Baseline] / secs[r.Mode]; r.Factor != want || !ratioLine.MatchString(r.Text) {
					t.Errorf("ratio %+v, want factor %v from the rows", r, want)
				}
				if want := fmt.Sprintf("%.2fx", max(r.Factor, 1/r.Factor)); !strings.Contains(r.Text, want) || strings.HasSuffix(r.Text, "faster") != (r.Factor >= 1) {
					t.Errorf("ratio text %q for factor %v", r.Text, r.Factor)
				}
			}
		})
	}
}

// TestBenchBaselineRefused checks the clear errors for baselines a job
// does not have.
func TestBenchBaselineRefused(t *testing.T) {
	_, errOut, code := gomr(t, nil, "bench", "--job", "logagg", "--generate", "1MB", "--baseline", "coreutils")
	if code == 0 || !strings.Contains(errOut, "--baseline coreutils: there is one for wordcount only, not for logagg") || strings.Contains(errOut, "generating") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	_, errOut, code = gomr(t, nil, "bench", "--job", "grep", "--regex", "x", "--generate", "1MB", "--baseline", "single")
	if code == 0 || !strings.Contains(errOut, "there is one for wordcount and logagg only, not for grep") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// TestBenchProfiles checks that --profile writes a CPU profile per worker
// holding only that worker's samples, and the mode profiles.
func TestBenchProfiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prof")
	out, errOut, code := gomr(t, nil, "bench", "--job", "wordcount", "--generate", "12MB", "--workers", "2", "--repeat", "1",
		"--split-size", "1MiB", "--baseline", "single,coreutils", "--profile", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{"sequential.cpu.pprof", "sequential.heap.pprof", "single.cpu.pprof", "single.heap.pprof",
		"cluster-2.cpu.pprof", "cluster-2.heap.pprof", "cluster-2.core-1.cpu.pprof", "cluster-2.core-2.cpu.pprof", "cluster-2.primary-1.cpu.pprof"} {
		if !strings.Contains(errOut, f) {
			t.Errorf("%s not named in:\n%s", f, errOut)
		}
	}
	if !strings.Contains(errOut, "coreutils: an external program, not in Go's profiles") || !strings.Contains(errOut, "go tool pprof -top -tagfocus=node=core-") {
		t.Errorf("profile notes:\n%s", errOut)
	}
	read := func(name string) *profile.Profile {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		p, err := profile.Parse(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	whole := read("cluster-2.cpu.pprof")
	var workerSamples int64
	for _, s := range whole.Sample {
		if n := s.Label[nodeLabel]; len(n) == 1 && strings.HasPrefix(n[0], "core-") && slices.Equal(s.Label[modeLabel], []string{"cluster(2)"}) {
			workerSamples += s.Value[0]
		}
	}
	if workerSamples == 0 {
		t.Errorf("no CPU sample of the cluster's workers is labelled with its worker")
	}
	for _, w := range []string{"core-1", "core-2", "primary-1"} {
		var n int64
		for _, s := range read("cluster-2." + w + ".cpu.pprof").Sample {
			n += s.Value[0]
			if !slices.Equal(s.Label[nodeLabel], []string{w}) || !slices.Equal(s.Label[modeLabel], []string{"cluster(2)"}) {
				t.Fatalf("%s's profile holds a sample labelled %v", w, s.Label)
			}
		}
		t.Logf("%s: %d CPU samples of %d in cluster(2)'s profile", w, n, workerSamples)
	}
	heap := read("cluster-2.heap.pprof")
	if len(heap.SampleType) != 4 || heap.SampleType[1].Type != "alloc_space" {
		t.Errorf("heap profile sample types %v", heap.SampleType)
	}
	var alloc int64
	for _, s := range heap.Sample {
		alloc += s.Value[1]
	}
	if alloc <= 0 {
		t.Errorf("the cluster's runs allocated %d bytes, by their heap profile", alloc)
	}
}

// TestCheckSameOutputNamesTheKey checks that a cluster output that is
// not byte-identical to the reference is an error naming the first
// differing key.
func TestCheckSameOutputNamesTheKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, part0 string) string {
		out := filepath.Join(dir, name)
		os.MkdirAll(out, 0o755)
		os.WriteFile(filepath.Join(out, "part-00000"), []byte(part0), 0o644)
		os.WriteFile(filepath.Join(out, "part-00001"), []byte("zebra\t1\n"), 0o644)
		os.WriteFile(filepath.Join(out, mapreduce.SuccessFile), []byte(name), 0o644)
		return out
	}
	ref := write("ref", "apple\t3\nbanana\t2\n")
	if err := checkSameOutput("cluster(2)", ref, write("same", "apple\t3\nbanana\t2\n")); err != nil {
		t.Errorf("identical outputs: %v", err)
	}
	err := checkSameOutput("cluster(2)", ref, write("wrong", "apple\t3\nbanana\t7\n"))
	if err == nil || err.Error() != `cluster(2): output differs from gomr's sequential run at key "banana": "7" (gomr: "2")` {
		t.Errorf("wrong count: %v", err)
	}
	err = checkSameOutput("cluster(2)", ref, write("reordered", "banana\t2\napple\t3\n"))
	if err == nil || err.Error() != "cluster(2): output differs from the sequential run's: part-00000 differs" {
		t.Errorf("same pairs in another order: %v", err)
	}
}
