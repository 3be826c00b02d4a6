package streaming

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

// The classic Hadoop Streaming tutorial's scripts (Michael Noll's).
const mapperPy = `#!PYTHON
import sys
for line in sys.stdin:
    line = line.strip()
    words = line.split()
    for word in words:
        print('%s\t%s' % (word, 1))
`

const reducerPy = `#!PYTHON
import sys
current_word = None
current_count = 0
word = None
for line in sys.stdin:
    line = line.strip()
    word, count = line.split('\t', 1)
    try:
        count = int(count)
    except ValueError:
        continue
    if current_word == word:
        current_count += count
    else:
        if current_word:
            print('%s\t%s' % (current_word, current_count))
        current_count = count
        current_word = word
if current_word == word:
    print('%s\t%s' % (current_word, current_count))
`

// corpus writes a few text files of random words (ASCII and not, some with
// punctuation, separated by runs of spaces and tabs, some lines ending in
// CRLF) and returns their folder and their text.
func corpus(t *testing.T, files, lines int) (string, []string) {
	t.Helper()
	words := []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "The", "DOG.",
		"straße", "école", "漢字", "жук", "naïve", "it's", "a-b", "x", "résumé", "Ω"}
	r := rand.New(rand.NewPCG(1, 2))
	dir := filepath.Join(t.TempDir(), "in")
	var texts []string
	for f := range files {
		var b strings.Builder
		for range lines {
			n := r.IntN(12)
			for i := range n {
				if i > 0 {
					b.WriteString([]string{" ", "  ", "\t", " \t "}[r.IntN(4)])
				}
				b.WriteString(words[r.IntN(len(words))])
			}
			if r.IntN(10) == 0 {
				b.WriteString("\r")
			}
			b.WriteString("\n")
		}
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%d.txt", f)), b.String(), 0o644)
		texts = append(texts, b.String())
	}
	return dir, texts
}

func wordCounts(texts []string) map[string]int {
	counts := map[string]int{}
	for _, text := range texts {
		for _, w := range strings.Fields(text) {
			counts[w]++
		}
	}
	return counts
}

// shipScripts writes the tutorial's scripts and returns the files option
// that ships them.
func shipScripts(t *testing.T) string {
	dir := t.TempDir()
	py := python(t)
	return FormatFiles([]File{
		{Name: "mapper.py", Path: writeFile(t, filepath.Join(dir, "mapper.py"), strings.Replace(mapperPy, "PYTHON", py, 1), 0o755)},
		{Name: "reducer.py", Path: writeFile(t, filepath.Join(dir, "reducer.py"), strings.Replace(reducerPy, "PYTHON", py, 1), 0o755)},
	})
}

func TestWordCountPython(t *testing.T) {
	python(t)
	t.Parallel()
	dir, texts := corpus(t, 3, 60)
	want := countLines(wordCounts(texts))
	splits := splitsOf(t, 700, dir)
	if len(splits) < 5 {
		t.Fatalf("%d splits", len(splits))
	}
	files := shipScripts(t)
	for _, reducers := range []int{1, 3} {
		t.Run(fmt.Sprintf("reducers=%d", reducers), func(t *testing.T) {
			job := build(t, map[string]string{"mapper": "mapper.py", "reducer": "reducer.py", "files": files})
			out, c := mustRun(t, job, splits, runOpts{reducers: reducers})
			diffLines(t, "output", sortedLines(parts(t, out, 'r', reducers)), want)
			if c.Get(mapreduce.MapInputRecords) != 180 {
				t.Errorf("MAP_INPUT_RECORDS = %d", c.Get(mapreduce.MapInputRecords))
			}
		})
	}
}

func TestCombinerCommand(t *testing.T) {
	python(t)
	t.Parallel()
	dir, texts := corpus(t, 2, 80)
	want := countLines(wordCounts(texts))
	splits := splitsOf(t, 2000, dir)
	files := shipScripts(t)
	var reduceIn [2]int64
	for i, combiner := range []string{"", "./reducer.py"} {
		job := build(t, map[string]string{"mapper": "./mapper.py", "reducer": "./reducer.py", "combiner": combiner, "files": files})
		out, c := mustRun(t, job, splits, runOpts{reducers: 2, sortBuffer: 8 << 10})
		diffLines(t, "output with combiner "+combiner, sortedLines(parts(t, out, 'r', 2)), want)
		reduceIn[i] = c.Get(mapreduce.ReduceInputRecords)
		if combiner != "" && (c.Get(mapreduce.CombineInputRecords) == 0 || c.Get(mapreduce.Spills) == 0) {
			t.Errorf("combiner: %v", c.Map())
		}
	}
	if reduceIn[1] >= reduceIn[0] {
		t.Errorf("REDUCE_INPUT_RECORDS %d with the combiner, %d without", reduceIn[1], reduceIn[0])
	}
}

func TestMapOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text := "key\tvalue\nno tab here\n\nx\ty\tz\ntrailing tab\t\nwindows\r\n\tleading tab\nlast line without newline"
	in := writeFile(t, filepath.Join(dir, "in.txt"), text, 0o644)
	var want []string
	for l := range strings.Lines(text) {
		want = append(want, asWritten(strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")))
	}
	splits := splitsOf(t, 16, in)
	for _, opts := range []map[string]string{
		{"mapper": "cat"},                    // 0 reducers
		{"mapper": "cat", "reducer": "NONE"}, // reducer NONE
	} {
		if !IsMapOnly(opts) && opts["reducer"] == None {
			t.Errorf("IsMapOnly(%v) = false", opts)
		}
		out, c := mustRun(t, build(t, opts), splits, runOpts{})
		var got []string
		for _, p := range parts(t, out, 'm', len(splits)) {
			got = append(got, p...)
		}
		diffLines(t, "map-only output", got, want)
		if n := c.Get(mapreduce.MapOutputRecords); n != int64(len(want)) {
			t.Errorf("MAP_OUTPUT_RECORDS = %d, want %d", n, len(want))
		}
	}
	if job := build(t, map[string]string{"mapper": "cat", "reducer": "NONE"}); job.Reducer != nil {
		t.Errorf("reducer NONE: job has a reducer")
	}
}

func TestIdentityReducerSorts(t *testing.T) {
	t.Parallel()
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), "b\t2\na\t1\nc\nb\t1\n", 0o644)
	out, _ := mustRun(t, build(t, map[string]string{"mapper": "cat"}), splitsOf(t, 1<<20, in), runOpts{reducers: 1})
	got := parts(t, out, 'r', 1)[0]
	if want := []string{"a\t1", "b\t2", "b\t1", asWritten("c")}; !slices.Equal(got, want) {
		t.Errorf("identity reducer output %q, want %q", got, want)
	}
}

func TestShippedFiles(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	script := writeFile(t, filepath.Join(src, "staged-tag.sh"), `#!/bin/sh
p=$(cat prefix.txt)
while IFS= read -r line; do printf '%s\t%s\n' "$p" "$line"; done
printf 'mode\t%s\n' "$(stat -c %a tag.sh)"
`, 0o700)
	prefix := writeFile(t, filepath.Join(src, "prefix.txt"), "PRE\n", 0o640)
	readOnly := writeFile(t, filepath.Join(src, "ro.sh"), "#!/bin/sh\ncat\n", 0o644)
	files := FormatFiles([]File{
		{Name: "tag.sh", Path: script, Mode: 0o755},
		{Name: "prefix.txt", Path: prefix},
		{Name: "ro.sh", Path: readOnly},
	})
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), "one\ntwo\n", 0o644)
	for _, mapper := range []string{"./tag.sh", "tag.sh"} {
		out, _ := mustRun(t, build(t, map[string]string{"mapper": mapper, "files": files}), splitsOf(t, 1<<20, in), runOpts{})
		got := parts(t, out, 'm', 1)[0]
		if want := []string{"PRE\tone", "PRE\ttwo", "mode\t755"}; !slices.Equal(got, want) {
			t.Errorf("mapper %s: output %q, want %q", mapper, got, want)
		}
	}
	_, _, err := run(t, build(t, map[string]string{"mapper": "./ro.sh", "files": files}), splitsOf(t, 1<<20, in), runOpts{})
	if err == nil || !strings.Contains(err.Error(), "is not executable") {
		t.Errorf("a shipped file without x bits run as a program: %v", err)
	}
	if fi, err := os.Stat(script); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the staged file's mode changed: %v %v", fi.Mode(), err)
	}
}

func TestEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in.txt"), strings.Repeat("line\n", 40), 0o644)
	splits := splitsOf(t, 100, in)
	names := []string{"FOO", "SPACED", "mapreduce_job_id", "mapred_job_id", "mapreduce_task_attempt_id", "mapred_task_id",
		"mapreduce_task_id", "mapreduce_task_partition", "mapred_task_partition", "mapreduce_task_ismap",
		"mapreduce_map_input_file", "map_input_file", "mapreduce_map_input_start", "mapreduce_map_input_length",
		"mapreduce_job_reduces", "PATH"}
	var script strings.Builder
	script.WriteString("cat >/dev/null; ")
	for _, n := range names {
		fmt.Fprintf(&script, `printf "%%s\t%%s\n" %s "$%s"; `, n, n)
	}
	cmd := "sh -c '" + script.String() + "'"
	env := FormatCmdEnv([]string{"FOO=bar", "SPACED= a b ", "PATH=" + os.Getenv("PATH")})
	job := build(t, map[string]string{"mapper": cmd, "reducer": cmd, "cmdenv": env})
	out, _ := mustRun(t, job, splits, runOpts{reducers: 2})

	// The reducers' lines.
	for p, lines := range parts(t, out, 'r', 2) {
		got := map[string]string{}
		for _, l := range lines {
			k, v, _ := strings.Cut(l, "\t")
			got[k] = v
		}
		want := map[string]string{
			"FOO": "bar", "SPACED": " a b ", "mapreduce_job_id": "sequential", "mapred_job_id": "sequential",
			"mapreduce_task_attempt_id": fmt.Sprintf("attempt_sequential_r_%06d_0", p),
			"mapred_task_id":            fmt.Sprintf("attempt_sequential_r_%06d_0", p),
			"mapreduce_task_id":         fmt.Sprintf("task_sequential_r_%06d", p),
			"mapreduce_task_partition":  strconv.Itoa(p), "mapred_task_partition": strconv.Itoa(p),
			"mapreduce_task_ismap": "false", "mapreduce_job_reduces": "2", "PATH": os.Getenv("PATH"),
			"mapreduce_map_input_file": "", "map_input_file": "", "mapreduce_map_input_start": "", "mapreduce_map_input_length": "",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("reducer %d: %s=%q, want %q", p, k, got[k], v)
			}
		}
	}
	// The mappers' lines went through the reducers; each is one value of
	// its name's key.
	job = build(t, map[string]string{"mapper": cmd, "cmdenv": "FOO=bar\n\n  SPACED=x  \n"})
	out, _ = mustRun(t, job, splits, runOpts{})
	for i, lines := range parts(t, out, 'm', len(splits)) {
		got := map[string]string{}
		for _, l := range lines {
			k, v, _ := strings.Cut(l, "\t")
			got[k] = v
		}
		s := splits[i]
		want := map[string]string{
			"FOO": "bar", "SPACED": "x",
			"mapreduce_task_attempt_id": fmt.Sprintf("attempt_sequential_m_%06d_0", i),
			"mapreduce_task_id":         fmt.Sprintf("task_sequential_m_%06d", i),
			"mapreduce_task_partition":  strconv.Itoa(i), "mapreduce_task_ismap": "true",
			"mapreduce_map_input_file": s.File, "map_input_file": s.File,
			"mapreduce_map_input_start":  strconv.FormatInt(s.Offset, 10),
			"mapreduce_map_input_length": strconv.FormatInt(s.Length, 10),
			"mapreduce_job_reduces":      "0",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("mapper %d: %s=%q, want %q", i, k, got[k], v)
			}
		}
	}
}

// runMap runs one map task of job over in with a progress and a working
// folder, as a worker does.
func runMap(t *testing.T, job *mapreduce.Job, in, workDir string, progress *mapreduce.Progress) (*mapreduce.MapResult, error) {
	t.Helper()
	splits := splitsOf(t, 1<<30, in)
	return mapreduce.RunMap(context.Background(), mapreduce.MapTask{
		Job: job, Split: splits[0], FileSystems: mapreduce.LocalFileSystems(), Reducers: 1,
		Progress: progress,
		Info:     mapreduce.TaskInfo{StepID: "s-1", AttemptID: "attempt_s-1_m_000000_0", WorkDir: workDir},
	})
}

func TestCountersStatusAndStderrLog(t *testing.T) {
	t.Parallel()
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), strings.Repeat("a line\n", 500), 0o644)
	mapper := `sh -c 'n=0
while IFS= read -r l; do
  n=$((n+1))
  echo "reporter:counter:Mine,Lines,1" >&2
  printf "%s\t1\n" "$l"
done
echo "reporter:counter:Mine,Bytes,$((n*6))" >&2
echo "reporter:counter:broken" >&2
echo "plain stderr line" >&2
echo "reporter:status:read $n lines" >&2'`
	work := filepath.Join(t.TempDir(), "work")
	var progress mapreduce.Progress
	res, err := runMap(t, build(t, map[string]string{"mapper": mapper}), in, work, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Counters.Get("Mine.Lines"); got != 500 {
		t.Errorf("Mine.Lines = %d, want 500 (%v)", got, res.Counters.Map())
	}
	if got := res.Counters.Get("Mine.Bytes"); got != 3000 {
		t.Errorf("Mine.Bytes = %d, want 3000", got)
	}
	if got := progress.Status(); got != "read 500 lines" {
		t.Errorf("status %q", got)
	}
	log, err := os.ReadFile(filepath.Join(work, "mapper.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	if string(log) != "reporter:counter:broken\nplain stderr line\n" {
		t.Errorf("stderr log %q", log)
	}

	// Through the sequential runner the counters reach the step's.
	_, c := mustRun(t, build(t, map[string]string{"mapper": mapper, "reducer": mapper}), splitsOf(t, 1000, in), runOpts{reducers: 2})
	if got := c.Get("Mine.Lines"); got != 1000 {
		t.Errorf("step Mine.Lines = %d, want 1000 (500 map, 500 reduce)", got)
	}
}

func TestAggregateWordCount(t *testing.T) {
	py := python(t)
	t.Parallel()
	// EMR's sample: the mapper emits LongValueSum:word<TAB>1, -reducer aggregate.
	mapper := py + ` -c '
import sys
for line in sys.stdin:
    for w in line.split():
        print("LongValueSum:" + w + "\t1")
        print("UniqValueCount:initials\t" + w[0])
        print("LongValueMax:longest\t" + str(len(w)))
'`
	dir, texts := corpus(t, 2, 70)
	counts := wordCounts(texts)
	want := countLines(counts)
	initials, longest := map[rune]bool{}, 0
	for w := range counts {
		initials[[]rune(w)[0]] = true
		longest = max(longest, len([]rune(w)))
	}
	want = append(want, fmt.Sprintf("initials\t%d", len(initials)), fmt.Sprintf("longest\t%d", longest))
	slices.Sort(want)
	splits := splitsOf(t, 1500, dir)
	for _, combiner := range []string{"", "NONE"} {
		job := build(t, map[string]string{"mapper": mapper, "reducer": "aggregate", "combiner": combiner})
		out, c := mustRun(t, job, splits, runOpts{reducers: 3, sortBuffer: 4 << 10})
		diffLines(t, "aggregate output, combiner "+combiner, sortedLines(parts(t, out, 'r', 3)), want)
		if combined := c.Get(mapreduce.CombineInputRecords) > 0; combined != (combiner == "") {
			t.Errorf("combiner %q: COMBINE_INPUT_RECORDS = %d", combiner, c.Get(mapreduce.CombineInputRecords))
		}
	}
}

func TestAggregateTypes(t *testing.T) {
	t.Parallel()
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), strings.Join([]string{
		"LongValueSum:s\t5", "LongValueSum:s\t-2", "LongValueSum:s\t+10",
		"LongValueMax:mx\t3", "LongValueMax:mx\t-7", "LongValueMax:mx\t12",
		"LongValueMin:mn\t3", "LongValueMin:mn\t-7", "LongValueMin:mn\t12",
		"DoubleValueSum:d\t1.5", "DoubleValueSum:d\t2", "DoubleValueSum:d\t-0.25",
		"DoubleValueSum:big\t1e10", "DoubleValueSum:big\t2.5e9",
		"StringValueMax:smax\tpear", "StringValueMax:smax\tapple", "StringValueMax:smax\tzebra fish",
		"StringValueMin:smin\tpear", "StringValueMin:smin\tApple", "StringValueMin:smin\tzebra",
		"UniqValueCount:u\ta", "UniqValueCount:u\tb", "UniqValueCount:u\ta", "UniqValueCount:u\t",
		"ValueHistogram:h\tred", "ValueHistogram:h\tred", "ValueHistogram:h\tblue\t3", "ValueHistogram:h\tgreen\t1",
	}, "\n")+"\n", 0o644)
	want := []string{"big\t1.25E10", "d\t3.25", "h\t3\t1\t2\t3\t2.0\t0.816496580927726", "mn\t-7", "mx\t12", "s\t13",
		"smax\tzebra fish", "smin\tApple", "u\t3"}
	for _, combiner := range []string{"", "NONE"} {
		job := build(t, map[string]string{"mapper": "cat", "reducer": "aggregate", "combiner": combiner})
		out, _ := mustRun(t, job, splitsOf(t, 200, in), runOpts{reducers: 2, sortBuffer: 1 << 10})
		diffLines(t, "aggregate with combiner "+combiner, sortedLines(parts(t, out, 'r', 2)), want)
	}
	for _, bad := range []string{"nocolon\t1", "Median:x\t1", "LongValueSum:x\tone"} {
		in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), bad+"\n", 0o644)
		_, _, err := run(t, build(t, map[string]string{"mapper": "cat", "reducer": "aggregate"}), splitsOf(t, 200, in), runOpts{reducers: 1})
		if err == nil || !strings.Contains(err.Error(), "aggregate") {
			t.Errorf("aggregate of %q: %v", bad, err)
		}
	}
}

func TestCommandFails(t *testing.T) {
	t.Parallel()
	lines := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), strings.Repeat("x\n", 100), 0o644)
	pairs := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), "a\t1\nb\t1\nc\t1\n", 0o644)
	cases := []struct {
		opts map[string]string
		want []string
	}{
		{map[string]string{"mapper": `sh -c 'cat >/dev/null; echo "first problem" >&2; echo "something broke" >&2; exit 3'`},
			[]string{`mapper command "sh -c 'cat >/dev/null; echo`, "exited with status 3", "first problem\n\tsomething broke"}},
		{map[string]string{"mapper": "sh -c 'kill -9 $$'"}, []string{"was killed by signal killed"}},
		{map[string]string{"mapper": "no-such-program-gomr"}, []string{"mapper command no-such-program-gomr: not found in the working folder or PATH"}},
		{map[string]string{"mapper": "./nope.sh"}, []string{"mapper command ./nope.sh: not found"}},
		{map[string]string{"mapper": "cat", "reducer": "sh -c 'exit 1'"}, []string{`reducer command "sh -c 'exit 1'" exited with status 1 (no stderr output)`}},
		{map[string]string{"mapper": "cat", "reducer": "cat", "combiner": "sort -r"}, []string{"a combiner must keep its input's order"}},
	}
	if py := findPython(); py != "" {
		cases = append(cases, struct {
			opts map[string]string
			want []string
		}{map[string]string{"mapper": py + ` -c 'import sys; sys.stdin.read(); raise ValueError("bad record")'`},
			[]string{"exited with status 1", "Traceback", "ValueError: bad record"}})
	}
	for _, tc := range cases {
		in := lines
		if tc.opts["combiner"] != "" {
			in = pairs
		}
		_, _, err := run(t, build(t, tc.opts), splitsOf(t, 1<<20, in), runOpts{reducers: 1})
		if err == nil {
			t.Errorf("%v: no error", tc.opts)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", tc.opts, err, w)
			}
		}
	}
}

func TestMapperStopsReading(t *testing.T) {
	t.Parallel()
	// 4 MiB: more than the pipe and the queues hold.
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), strings.Repeat(strings.Repeat("y", 63)+"\n", 1<<16), 0o644)
	out, c := mustRun(t, build(t, map[string]string{"mapper": "head -n 2"}), splitsOf(t, 1<<30, in), runOpts{})
	if got := parts(t, out, 'm', 1)[0]; len(got) != 2 {
		t.Errorf("output %d lines", len(got))
	}
	if c.Get(UnreadRecords) == 0 {
		t.Errorf("%s = 0 (%v)", UnreadRecords, c.Map())
	}
	// A combiner must read it all.
	in = writeFile(t, filepath.Join(t.TempDir(), "in.txt"), strings.Repeat(strings.Repeat("k", 63)+"\t1\n", 1<<16), 0o644)
	_, _, err := run(t, build(t, map[string]string{"mapper": "cat", "reducer": "cat", "combiner": "head -n 1"}), splitsOf(t, 1<<30, in), runOpts{reducers: 1})
	if err == nil || !strings.Contains(err.Error(), "stopped reading its input") {
		t.Errorf("combiner that stops reading: %v", err)
	}
}

func TestNoDeadlockOnLargeOutput(t *testing.T) {
	t.Parallel()
	// 1.5 MiB in, each line out 3 times, and the reducer writes 2 lines a
	// value: more than the pipes and queues hold each way, so the commands
	// block on stdout while the task blocks on their stdin.
	const lines = 25000
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), strings.Repeat("k\t"+strings.Repeat("v", 60)+"\n", lines), 0o644)
	amp := `awk '{for (i = 0; i < 3; i++) print $0 i}'`
	job := build(t, map[string]string{"mapper": amp, "reducer": `awk '{print; print}'`})
	done := make(chan struct{})
	var c *mapreduce.Counters
	go func() {
		defer close(done)
		_, c = mustRun(t, job, splitsOf(t, 1<<30, in), runOpts{reducers: 2, sortBuffer: 16 << 20})
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("deadlock")
	}
	if c == nil {
		return
	}
	if got := c.Get(mapreduce.ReduceOutputRecords); got != 2*3*lines {
		t.Errorf("REDUCE_OUTPUT_RECORDS = %d", got)
	}
}

func TestShellMetacharactersArePlain(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "x")
	in := writeFile(t, filepath.Join(t.TempDir(), "in.txt"), "a\n", 0o644)
	cmd := "echo hi; touch " + marker + " && $HOME * | cat > " + marker + " 'single quoted' \"$double\""
	out, _ := mustRun(t, build(t, map[string]string{"mapper": cmd}), splitsOf(t, 1<<20, in), runOpts{})
	want := asWritten("hi; touch " + marker + " && $HOME * | cat > " + marker + " single quoted $double")
	if got := parts(t, out, 'm', 1)[0]; !slices.Equal(got, []string{want}) {
		t.Errorf("output %q, want %q", got, want)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists: a shell ran the command (%v)", marker, err)
	}
}

func TestHangingMapperCancelled(t *testing.T) {
	t.Parallel()
	for _, size := range []int{10, 8 << 20} { // in Cleanup; in Map, the queues full
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := writeFile(t, filepath.Join(dir, "in.txt"), strings.Repeat("z\n", size/2), 0o644)
			pidFile := filepath.Join(dir, "pid")
			cfg, err := ParseOptions(map[string]string{"mapper": "sh -c 'echo $$ > " + pidFile + "; sleep 1000 & sleep 1000'", "reducer": "cat"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg.taskCtx = func(*mapreduce.TaskContext) context.Context { return ctx }
			job, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, _, err := run(t, job, splitsOf(t, 1<<30, in), runOpts{reducers: 1, ctx: ctx})
				errc <- err
			}()
			pgid := readPID(t, pidFile)
			deadline := time.Now().Add(5 * time.Second)
			for len(groupAlive(pgid)) < 3 && time.Now().Before(deadline) { // sh and its two sleeps
				time.Sleep(10 * time.Millisecond)
			}
			if n := len(groupAlive(pgid)); n < 3 {
				t.Fatalf("%d processes in the group", n)
			}
			select {
			case err := <-errc:
				t.Fatalf("returned before the cancellation: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
			start := time.Now()
			cancel()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v, want context.Canceled", err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("returned %v after the cancellation", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("did not return after the cancellation")
			}
			waitGroupGone(t, pgid)
		})
	}
}

// startAbandoned sets a mapper up for a task and drops the job, as the
// engine does when the task fails outside the mapper.
func startAbandoned(t *testing.T, pidFile string) {
	job := build(t, map[string]string{"mapper": "sh -c 'echo $$ > " + pidFile + "; exec sleep 1000'"})
	tc := &mapreduce.TaskContext{Counters: mapreduce.NewCounters(), Info: mapreduce.TaskInfo{StepID: "s", AttemptID: "attempt_s_m_000000_0", Kind: "m"}}
	if err := job.Mapper.(mapreduce.TaskLifecycle).Setup(tc); err != nil {
		t.Fatal(err)
	}
}

func TestAbandonedJobKillsItsCommand(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	startAbandoned(t, pidFile)
	pgid := readPID(t, pidFile)
	deadline := time.Now().Add(10 * time.Second)
	for len(groupAlive(pgid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the command of a dropped job still runs: %q", groupAlive(pgid))
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNoSetup(t *testing.T) {
	job := build(t, map[string]string{"mapper": "cat", "reducer": "cat"})
	tc := &mapreduce.TaskContext{Counters: mapreduce.NewCounters()}
	if err := job.Mapper.Map(tc, mapreduce.Record{Line: []byte("x")}, nil); !errors.Is(err, errNoSetup) {
		t.Errorf("Map without Setup: %v", err)
	}
}

func TestBuildOptions(t *testing.T) {
	for _, bad := range []map[string]string{
		{},
		{"mapper": "  "},
		{"mapper": "cat 'unterminated"},
		{"mapper": "cat", "reducer": `sh -c "x`},
		{"mapper": "cat", "combiner": `x\`},
		{"mapper": "cat", "cmdenv": "NOEQUALS"},
		{"mapper": "cat", "cmdenv": `["=x"]`},
		{"mapper": "cat", "cmdenv": `["A=1"`},
		{"mapper": "cat", "files": `[{"name": "a/b", "path": "/x"}]`},
		{"mapper": "cat", "files": `[{"name": "a", "path": ""}]`},
		{"mapper": "cat", "files": `[{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}]`},
		{"mapper": "cat", "files": `[{"name": "a", "path": "/x", "mode": "rwx"}]`},
		{"mapper": "cat", "files": `[{"name": "a", "path": "/x", "mode": "4755"}]`},
		{"mapper": "cat", "files": `{"name": "a"}`},
		{"mapper": "cat", "nope": "1"},
	} {
		if _, err := Build(bad); !errors.Is(err, ErrBadOption) {
			t.Errorf("Build(%v) = %v, want ErrBadOption", bad, err)
		}
	}
	files, err := ParseFiles(`[{"name": "a", "path": "/x", "mode": "0755"}, {"name": "b", "path": "/y", "mode": 420}, {"name": "c", "path": "/z"}]`)
	if err != nil || !slices.Equal(files, []File{{"a", "/x", 0o755}, {"b", "/y", 0o644}, {"c", "/z", 0}}) {
		t.Errorf("ParseFiles: %v %v", files, err)
	}
	if s := FormatFiles(files); s != `[{"name":"a","path":"/x","mode":"0755"},{"name":"b","path":"/y","mode":"0644"},{"name":"c","path":"/z"}]` {
		t.Errorf("FormatFiles: %s", s)
	}
	env, err := ParseCmdEnv(FormatCmdEnv([]string{"A=1", "B= two\nlines ", "C="}))
	if err != nil || !slices.Equal(env, []string{"A=1", "B= two\nlines ", "C="}) {
		t.Errorf("cmdenv round trip: %q %v", env, err)
	}
	job := build(t, map[string]string{"mapper": "cat", "reducer": "aggregate"})
	if _, ok := job.Combiner.(*aggregateCombiner); !ok {
		t.Errorf("reducer aggregate: combiner %T", job.Combiner)
	}
	job = build(t, map[string]string{"mapper": "cat", "reducer": "aggregate", "combiner": "NONE"})
	if job.Combiner != nil {
		t.Errorf("combiner NONE: combiner %T", job.Combiner)
	}
	if _, ok := build(t, map[string]string{"mapper": "cat", "combiner": "cat"}).Combiner.(mapreduce.StreamCombiner); !ok {
		t.Error("a combiner command is not a StreamCombiner")
	}
}
