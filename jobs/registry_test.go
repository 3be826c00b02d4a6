package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gomr/gomr/mapreduce"
)

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// runSequential runs job over splits with RunSequential and returns the
// output folder, every output line of every part-r file (sorted) and the
// counters. It checks that each part file is sorted by key and that no key
// appears twice.
func runSequential(t *testing.T, job *mapreduce.Job, splits []mapreduce.Split, reducers int) (string, []string, *mapreduce.Counters) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	c, err := mapreduce.RunSequential(context.Background(), job, splits, mapreduce.SequentialOptions{FileSystems: mapreduce.LocalFileSystems(),
		Reducers:        reducers,
		SortBufferBytes: 1 << 10, // the smallest: spills, so the combiner runs often
		Output:          out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Errorf("no _SUCCESS: %v", err)
	}
	var lines []string
	seen := map[string]string{}
	for p := range reducers {
		name := mapreduce.PartName('r', p)
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s does not end with a newline", name)
		}
		prev := ""
		for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l == "" && len(b) == 0 {
				break
			}
			key, _, ok := strings.Cut(l, "\t")
			if !ok {
				t.Errorf("%s line %d %q has no tab", name, i+1, l)
			}
			if i > 0 && key <= prev {
				t.Errorf("%s line %d: key %q after %q: not sorted", name, i+1, key, prev)
			}
			if other, dup := seen[key]; dup {
				t.Errorf("key %q in both %s and %s", key, other, name)
			}
			seen[key] = name
			prev = key
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return out, lines, c
}

func TestNamesAndLookup(t *testing.T) {
	want := []string{"csv2parquet", "distcp", "grep", "invertedindex", "logagg", "streaming", "teragen", "terasort", "teravalidate", "wordcount"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %q, want %q", got, want)
	}
	for _, name := range want {
		d, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if d.Name != name {
			t.Errorf("Lookup(%q).Name = %q", name, d.Name)
		}
		if d.Summary == "" {
			t.Errorf("job %s has no summary", name)
		}
	}
}

func TestLookupUnknownJob(t *testing.T) {
	for _, name := range []string{"nope", "", "WordCount", "word count"} {
		d, err := Lookup(name)
		if d != nil || err == nil {
			t.Fatalf("Lookup(%q) = %v, %v; want an error", name, d, err)
		}
		if !errors.Is(err, ErrUnknownJob) {
			t.Errorf("Lookup(%q) error %v is not ErrUnknownJob", name, err)
		}
		want := fmt.Sprintf("unknown job %q (known jobs: csv2parquet, distcp, grep, invertedindex, logagg, streaming, teragen, terasort, teravalidate, wordcount)", name)
		if err.Error() != want {
			t.Errorf("Lookup(%q) error %q, want %q", name, err, want)
		}
	}
}

func TestBuildUnknownOption(t *testing.T) {
	for _, tc := range []struct{ job, opt, want string }{
		{"wordcount", "upper", "bad job option: job wordcount has no option --upper (options: --lower)"},
		{"invertedindex", "group-by", "bad job option: job invertedindex has no option --group-by (options: --lower)"},
		{"logagg", "lower", "bad job option: job logagg has no option --lower (options: --group-by, --time-field, --time-unit, --sum)"},
		{"logagg", "--group-by", "bad job option: job logagg has no option ----group-by (options: --group-by, --time-field, --time-unit, --sum)"},
	} {
		d, err := Lookup(tc.job)
		if err != nil {
			t.Fatal(err)
		}
		job, err := d.Build(map[string]string{tc.opt: "true"})
		if job != nil || err == nil {
			t.Fatalf("%s.Build(--%s) = %v, %v; want an error", tc.job, tc.opt, job, err)
		}
		if !errors.Is(err, ErrBadOption) {
			t.Errorf("%s.Build(--%s) error %v is not ErrBadOption", tc.job, tc.opt, err)
		}
		if err.Error() != tc.want {
			t.Errorf("%s.Build(--%s) error %q, want %q", tc.job, tc.opt, err, tc.want)
		}
	}
}

func TestBuildBoolOption(t *testing.T) {
	for _, name := range []string{"wordcount", "invertedindex"} {
		d, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"yes", "", "on", "2", "tru"} {
			job, err := d.Build(map[string]string{"lower": v})
			if job != nil || !errors.Is(err, ErrBadOption) {
				t.Fatalf("%s.Build(--lower=%q) = %v, %v; want ErrBadOption", name, v, job, err)
			}
			if want := fmt.Sprintf("bad job option: --lower takes true or false, got %q", v); err.Error() != want {
				t.Errorf("%s.Build(--lower=%q) error %q, want %q", name, v, err, want)
			}
		}
		for v, want := range map[string]bool{"true": true, "1": true, "T": true, "TRUE": true, "false": false, "0": false, "F": false} {
			job, err := d.Build(map[string]string{"lower": v})
			if err != nil {
				t.Fatalf("%s.Build(--lower=%q): %v", name, v, err)
			}
			if got := lowerOf(t, job); got != want {
				t.Errorf("%s.Build(--lower=%q): mapper lower = %v, want %v", name, v, got, want)
			}
		}
	}
}

// lowerOf returns the --lower setting of a wordcount or invertedindex job.
func lowerOf(t *testing.T, job *mapreduce.Job) bool {
	t.Helper()
	switch m := job.Mapper.(type) {
	case *wordCountMapper:
		return m.lower
	case *indexMapper:
		return m.lower
	}
	t.Fatalf("mapper %T has no lower option", job.Mapper)
	return false
}

func TestLogAggGroupBy(t *testing.T) {
	d, err := Lookup("logagg")
	if err != nil {
		t.Fatal(err)
	}
	const fields = "(fields: status, method, path, host, minute, hour, day)"
	for _, tc := range []struct{ groupBy, want string }{
		{"size", `job logagg: bad job option: --group-by: unknown field "size" ` + fields},
		{"status,referer", `job logagg: bad job option: --group-by: unknown field "referer" ` + fields},
		{"Status", `job logagg: bad job option: --group-by: unknown field "Status" ` + fields},
		{"", `job logagg: bad job option: --group-by: unknown field "" ` + fields},
		{"status,", `job logagg: bad job option: --group-by: unknown field "" ` + fields},
		{"status|method", `job logagg: bad job option: --group-by: unknown field "status|method" ` + fields},
		{"status,status", `job logagg: bad job option: --group-by: field "status" given twice`},
		{"hour,method, hour ", `job logagg: bad job option: --group-by: field "hour" given twice`},
	} {
		// The fields of access logs (text input); on JSON lines any field
		// may be grouped by.
		job, err := d.BuildFor(map[string]string{"group-by": tc.groupBy}, Formats{Input: mapreduce.TextInput})
		if job != nil || err == nil {
			t.Fatalf("Build(--group-by %q) = %v, %v; want an error", tc.groupBy, job, err)
		}
		if !errors.Is(err, ErrBadOption) {
			t.Errorf("Build(--group-by %q) error %v is not ErrBadOption", tc.groupBy, err)
		}
		if err.Error() != tc.want {
			t.Errorf("Build(--group-by %q) error %q, want %q", tc.groupBy, err, tc.want)
		}
	}
	for groupBy, want := range map[string][]string{
		"status":         {"status"},
		" day , status ": {"day", "status"},
		"day,hour,minute,host,path,method,status": {"day", "hour", "minute", "host", "path", "method", "status"},
	} {
		job, err := d.Build(map[string]string{"group-by": groupBy})
		if err != nil {
			t.Fatalf("Build(--group-by %q): %v", groupBy, err)
		}
		if got := job.Mapper.(*logAggMapper).fields; !slices.Equal(got, want) {
			t.Errorf("Build(--group-by %q): fields %q, want %q", groupBy, got, want)
		}
	}
}

func TestBuildDefaults(t *testing.T) {
	for _, name := range []string{"wordcount", "invertedindex"} {
		d, _ := Lookup(name)
		if len(d.Options) != 1 || d.Options[0] != (Option{Name: "lower", Usage: "fold words to lower case", Default: "false", Bool: true}) {
			t.Errorf("%s options = %+v", name, d.Options)
		}
		for _, opts := range []map[string]string{nil, {}} {
			job, err := d.Build(opts)
			if err != nil {
				t.Fatalf("%s.Build(%v): %v", name, opts, err)
			}
			if lowerOf(t, job) {
				t.Errorf("%s.Build(%v): lower is on by default", name, opts)
			}
			if job.Combiner == nil || job.Reducer == nil {
				t.Errorf("%s.Build(%v): combiner %v, reducer %v", name, opts, job.Combiner, job.Reducer)
			}
		}
	}
	d, _ := Lookup("logagg")
	if len(d.Options) != 4 || d.Options[0].Name != "group-by" || d.Options[0].Default != "status" || d.Options[0].Bool {
		t.Errorf("logagg options = %+v", d.Options)
	}
	job, err := d.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := job.Mapper.(*logAggMapper).fields; !slices.Equal(got, []string{"status"}) {
		t.Errorf("logagg default fields %q, want [status]", got)
	}
}

// writeCorpus writes a small input folder and returns its path and the
// content of each document by document name.
func writeCorpus(t *testing.T) (string, map[string]string) {
	t.Helper()
	docs := map[string]string{
		"a.txt": "The quick brown fox. THE LAZY DOG; the end.\n" +
			"Straße STRASSE straße — ÉCOLE école Ecole\n" +
			"don’t stop, it's fine: abc123def x\n",
		"b.txt": "İstanbul istanbul ISTANBUL ΣΑΣ σας Жук жук 漢字 漢字\r\n" +
			"e\u0301té naïve NAÏVE\xffbroken\xc3bytes fox\n" +
			"\n" +
			"the the the quick\n",
		"sub/c.txt": "Fox fox FOX. End of the sub document, the end\n" +
			"brown dog and a quick fox",
	}
	dir := filepath.Join(t.TempDir(), "in")
	for name, text := range docs {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, docs
}

func planCorpus(t *testing.T, dir string) []mapreduce.Split {
	t.Helper()
	files, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, f := range files {
		docs = append(docs, f.Doc)
	}
	slices.Sort(docs)
	if want := []string{"a.txt", "b.txt", "sub/c.txt"}; !slices.Equal(docs, want) {
		t.Fatalf("documents %q, want %q", docs, want)
	}
	splits, err := mapreduce.PlanSplits(files, 40) // several splits a file
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) < 6 {
		t.Fatalf("%d splits, want several a file", len(splits))
	}
	// Interleave the files' splits, as a cluster may finish map tasks in
	// any order: a word's documents then reach the combiner and the
	// reducer out of order and repeated.
	byFile := map[string][]mapreduce.Split{}
	for _, s := range splits {
		byFile[s.Doc] = append(byFile[s.Doc], s)
	}
	var mixed []mapreduce.Split
	for len(mixed) < len(splits) {
		for _, doc := range sortedKeys(byFile) {
			if q := byFile[doc]; len(q) > 0 {
				mixed = append(mixed, q[0])
				byFile[doc] = q[1:]
			}
		}
	}
	return mixed
}

func plainWords(text string, lower bool) []string {
	words := strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) })
	if lower {
		for i, w := range words {
			words[i] = strings.ToLower(w)
		}
	}
	return words
}

func TestWordCountSequential(t *testing.T) {
	dir, docs := writeCorpus(t)
	splits := planCorpus(t, dir)
	for _, lower := range []bool{false, true} {
		t.Run(fmt.Sprintf("lower=%v", lower), func(t *testing.T) {
			counts := map[string]int{}
			total := 0
			for _, text := range docs {
				for _, w := range plainWords(text, lower) {
					counts[w]++
					total++
				}
			}
			var want []string
			for w, n := range counts {
				want = append(want, fmt.Sprintf("%s\t%d", w, n))
			}
			slices.Sort(want)
			// Spot checks that the corpus exercises what it should.
			if lower && (counts["the"] != 8 || counts["istanbul"] != 3 || counts["fox"] != 6 || counts["straße"] != 2 || counts["σασ"] != 1) {
				t.Fatalf("test corpus: the=%d istanbul=%d fox=%d straße=%d σασ=%d", counts["the"], counts["istanbul"], counts["fox"], counts["straße"], counts["σασ"])
			}
			if !lower && (counts["the"] != 6 || counts["The"] != 1 || counts["THE"] != 1) {
				t.Fatalf("test corpus: the=%d The=%d THE=%d", counts["the"], counts["The"], counts["THE"])
			}

			d, _ := Lookup("wordcount")
			job, err := d.Build(map[string]string{"lower": fmt.Sprint(lower)})
			if err != nil {
				t.Fatal(err)
			}
			_, got, c := runSequential(t, job, splits, 3)
			if !slices.Equal(got, want) {
				t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if n := c.Get(mapreduce.MapOutputRecords); n != int64(total) {
				t.Errorf("MAP_OUTPUT_RECORDS = %d, want %d", n, total)
			}
		})
	}
}

func TestInvertedIndexSequential(t *testing.T) {
	dir, docs := writeCorpus(t)
	splits := planCorpus(t, dir)
	for _, lower := range []bool{false, true} {
		t.Run(fmt.Sprintf("lower=%v", lower), func(t *testing.T) {
			index := map[string]map[string]bool{}
			for doc, text := range docs {
				for _, w := range plainWords(text, lower) {
					if index[w] == nil {
						index[w] = map[string]bool{}
					}
					index[w][doc] = true
				}
			}
			var want []string
			for w, set := range index {
				ds := sortedKeys(set)
				want = append(want, fmt.Sprintf("%s\t%d\t%s", w, len(ds), strings.Join(ds, ",")))
			}
			slices.Sort(want)
			if !slices.Contains(want, "fox\t3\ta.txt,b.txt,sub/c.txt") {
				t.Fatalf("test corpus: no fox in all three documents")
			}

			d, _ := Lookup("invertedindex")
			job, err := d.Build(map[string]string{"lower": fmt.Sprint(lower)})
			if err != nil {
				t.Fatal(err)
			}
			_, got, _ := runSequential(t, job, splits, 3)
			if !slices.Equal(got, want) {
				t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestWriteSampleTextDeterministic(t *testing.T) {
	gen := func(seed uint64) []byte {
		var b bytes.Buffer
		if err := WriteSampleText(&b, 64<<10, seed); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, again, other := gen(1), gen(1), gen(2)
	if sha256.Sum256(a) != sha256.Sum256(again) {
		t.Error("same seed, different text")
	}
	if sha256.Sum256(a) == sha256.Sum256(other) {
		t.Error("different seeds, same text")
	}
	if len(a) < 64<<10 || len(a) > 64<<10+512 {
		t.Errorf("asked for %d bytes, got %d", 64<<10, len(a))
	}
	if a[len(a)-1] != '\n' {
		t.Error("text does not end with a newline")
	}
	for i, c := range a {
		if c >= 0x80 {
			t.Fatalf("byte %d is %#x: not ASCII", i, c)
		}
	}
	vocab := map[string]bool{}
	for _, w := range sampleVocabulary {
		vocab[w] = true
	}
	for _, w := range plainWords(string(a), true) {
		if !vocab[w] {
			t.Fatalf("word %q is not in the vocabulary", w)
		}
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(a), "\n"), "\n") {
		if l == "" || !unicode.IsUpper(rune(l[0])) || !strings.HasSuffix(l, ".") {
			t.Fatalf("line %d %q is not sentences", i+1, l)
		}
	}
}

func TestWriteSampleAccessLogDeterministic(t *testing.T) {
	start := time.Date(2024, 3, 1, 23, 50, 0, 0, time.FixedZone("X", 2*3600))
	const n = 2500
	gen := func(seed uint64) []byte {
		var b bytes.Buffer
		if err := WriteSampleAccessLog(&b, n, start, seed); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, again, other := gen(5), gen(5), gen(6)
	if sha256.Sum256(a) != sha256.Sum256(again) {
		t.Error("same seed, different log")
	}
	if sha256.Sum256(a) == sha256.Sum256(other) {
		t.Error("different seeds, same log")
	}
	for i, c := range a {
		if c >= 0x80 {
			t.Fatalf("byte %d is %#x: not ASCII", i, c)
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(a), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	// Lines are under 4 s apart; the log shows whole seconds, so shown
	// times differ by at most 4 s a line.
	prev, prevLine := start, -1
	for i, l := range lines {
		e, err := parseAccessLine([]byte(l))
		if i%997 == 996 {
			if err == nil || err.Error() != "user-agent: missing closing quote" {
				t.Errorf("line %d %q: error %v, want the cut user agent", i+1, l, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("line %d %q: %v", i+1, l, err)
		}
		if e.time.Before(prev) || e.time.Sub(prev) > time.Duration(i-prevLine)*4*time.Second {
			t.Errorf("line %d: time %v after %v on line %d", i+1, e.time, prev, prevLine+1)
		}
		if _, off := e.time.Zone(); off != 0 {
			t.Errorf("line %d: zone offset %d, want UTC", i+1, off)
		}
		if (e.status == 304) != (e.bytes == 0) {
			t.Errorf("line %d: status %d with %d bytes", i+1, e.status, e.bytes)
		}
		prev, prevLine = e.time, i
	}
}
