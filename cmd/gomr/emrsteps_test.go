package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// The classic word count of the Hadoop Streaming tutorials, unchanged.
const (
	tutorialMapper = `#!/usr/bin/env python3
"""mapper.py"""
import sys

for line in sys.stdin:
    line = line.strip()
    words = line.split()
    for word in words:
        print('%s\t%s' % (word, 1))
`
	tutorialReducer = `#!/usr/bin/env python3
"""reducer.py"""
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
)

// needPython skips a test when there is no python3 to run the scripts.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the published streaming scripts need it")
	}
}

// whitespaceCounts counts the whitespace-separated words of files, as
// "word<TAB>count" lines sorted by word: what the tutorial scripts give.
func whitespaceCounts(t *testing.T, files ...string) []string {
	t.Helper()
	counts := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range strings.Fields(string(b)) {
			counts[w]++
		}
	}
	var lines []string
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		lines = append(lines, fmt.Sprintf("%s\t%d", w, counts[w]))
	}
	return lines
}

// sortedPartLines returns the lines of every part file of out, sorted.
func sortedPartLines(t *testing.T, out string) []string {
	t.Helper()
	lines := ct.PartLines(t, out)
	slices.Sort(lines)
	return lines
}

// TestHadoopStreamingCommandLine: the tutorial's Python mapper and
// reducer, shipped with -files and run by a Hadoop Streaming command line
// pasted as it is, on real processes, give the counts of a whitespace
// word count computed here; with -reducer NONE the step is map-only.
func TestHadoopStreamingCommandLine(t *testing.T) {
	needPython(t)
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "core", "task")})
	dir := t.TempDir()
	for name, body := range map[string]string{"mapper.py": tutorialMapper, "reducer.py": tutorialReducer} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in, files := ct.GenerateText(t, 3, 200<<10, 7)
	out := filepath.Join(dir, "out")
	stdout, stderr, code := gomrIn(t, dir, c.Env(), "step", "add", "--type", "STREAMING",
		"-files", "mapper.py,reducer.py", "-mapper", "mapper.py", "-reducer", "reducer.py",
		"-input", in, "-output", out, "-D", "mapreduce.job.reduces=3", "-D", "mapreduce.job.name=tutorial", "--split-size", "64KiB", "--wait")
	if code != 0 {
		t.Fatalf("step add: exit %d\n%s\n%s", code, stdout, stderr)
	}
	parts, _ := filepath.Glob(filepath.Join(out, "part-r-*"))
	if len(parts) != 3 {
		t.Fatalf("%d part files, want 3 (-D mapreduce.job.reduces=3)", len(parts))
	}
	if got, want := sortedPartLines(t, out), whitespaceCounts(t, files...); !slices.Equal(got, want) {
		ct.DiffLines(t, got, want)
	}
	id := strings.TrimSpace(strings.SplitN(stdout, "\n", 2)[0])
	if st := c.Describe(id); st.Spec.Name != "tutorial" || st.Spec.Options["files"] == "" {
		t.Fatalf("step name %q, files %q", st.Spec.Name, st.Spec.Options["files"])
	}

	// Map-only: -reducer NONE; the mapper's lines are the output.
	mapOut := filepath.Join(dir, "map-only")
	if _, stderr, code := gomrIn(t, dir, c.Env(), "step", "add", "--type", "STREAMING", "-files", "mapper.py",
		"-mapper", "mapper.py", "-reducer", "NONE", "-input", in, "-output", mapOut, "--wait"); code != 0 {
		t.Fatalf("map-only step: exit %d\n%s", code, stderr)
	}
	if parts, _ := filepath.Glob(filepath.Join(mapOut, "part-m-*")); len(parts) != len(files) {
		t.Fatalf("map-only step wrote %d part-m files, want one per input file (%d)", len(parts), len(files))
	}
	var words int
	for _, l := range whitespaceCounts(t, files...) {
		n, _ := strconv.Atoi(l[strings.LastIndexByte(l, '\t')+1:])
		words += n
	}
	if got := len(ct.PartLines(t, mapOut)); got != words {
		t.Fatalf("map-only output has %d lines, want one per word (%d)", got, words)
	}
}

// gomrIn runs gomr in a folder.
func gomrIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(gomrBin, args...)
	cmd.Dir = dir
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// pidsAlive returns the processes of a pid file (one pid a line) that
// still run.
func pidsAlive(t *testing.T, file string) (alive, all []int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for f := range strings.FieldsSeq(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		all = append(all, pid)
		if syscall.Kill(pid, 0) == nil {
			alive = append(alive, pid)
		}
	}
	return alive, all
}

// hangingMapper is a streaming mapper that starts a child in its process
// group, writes both pids to PIDS and hangs without reading its input.
func hangingMapper(pids string) string {
	return fmt.Sprintf(`sh -c 'sleep 600 & echo $! >> %[1]s; echo $$ >> %[1]s; wait'`, pids)
}

// TestHangingMapperKilledByTaskTimeout: a mapper that hangs is killed at
// the task timeout, with its whole process group; the task is retried,
// and with one attempt allowed the step fails saying why.
func TestHangingMapperKilledByTaskTimeout(t *testing.T) {
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core"), TaskTimeout: 3 * time.Second, MaxAttempts: 2})
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("one line\n"), 0o644)
	pids := filepath.Join(ct.OpenDir(t), "pids") // written by the mapper, which runs unprivileged
	id := c.Submit(&pb.StepSpec{Job: "streaming", Inputs: []string{in}, Output: filepath.Join(dir, "out"),
		Options: map[string]string{"mapper": hangingMapper(pids), "reducer": "NONE"}})
	st := c.Wait(id)
	if st.State.Value() != state.StepFailed || !strings.Contains(st.Error, "no progress for 3s (task timeout)") {
		t.Fatalf("step ended %s: %q; want FAILED for the task timeout", st.State.Value(), st.Error)
	}
	var attempts int
	for _, tk := range st.Tasks {
		attempts += len(tk.Attempts)
	}
	ct.WaitFor(t, "every process of the killed attempts gone", 30*time.Second, func() bool {
		alive, all := pidsAlive(t, pids)
		return len(alive) == 0 && len(all) == 2*attempts
	})
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Fatalf("the failed step left its output: %v", err)
	}
}

// TestCancelRunningStep: cancelling a running step kills its attempts
// and every process they started, removes its partial output, and the
// step goes through CANCEL_PENDING to CANCELLED.
func TestCancelRunningStep(t *testing.T) {
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "task")})
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	for i := range 3 {
		os.WriteFile(filepath.Join(in, fmt.Sprint(i)), []byte("a line\n"), 0o644)
	}
	pids := filepath.Join(ct.OpenDir(t), "pids") // written by the mapper, which runs unprivileged
	out := filepath.Join(dir, "out")
	id := c.Submit(&pb.StepSpec{Job: "streaming", Inputs: []string{in}, Output: out, Reducers: 1,
		Options: map[string]string{"mapper": hangingMapper(pids), "reducer": "cat"}})
	ct.WaitFor(t, "the mappers started", time.Minute, func() bool {
		_, all := pidsAlive(t, pids)
		return len(all) >= 4 // two attempts, each a shell and its child
	})
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("the running step has no output folder yet: %v", err)
	}
	stdout, stderr, code := gomr(t, c.Env(), "step", "cancel", id)
	if code != 0 || !regexp.MustCompile(`^`+id+` (CANCEL_PENDING|CANCELLED)\n$`).MatchString(stdout) {
		t.Fatalf("step cancel: exit %d: %q %s", code, stdout, stderr)
	}
	st := c.Wait(id)
	ct.WaitFor(t, "the step CANCELLED once its output is removed", time.Minute, func() bool {
		st = c.Describe(id)
		return st.State.Value() == state.StepCancelled
	})
	if !st.CleanedUp || !strings.Contains(st.Error, "cancelled by user") {
		t.Fatalf("cancelled step: cleaned up %t, reason %q", st.CleanedUp, st.Error)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("the cancelled step left its output: %v", err)
	}
	ct.WaitFor(t, "every process of the cancelled attempts gone", 30*time.Second, func() bool {
		alive, _ := pidsAlive(t, pids)
		return len(alive) == 0
	})
	if _, stderr, code := gomr(t, c.Env(), "step", "cancel", id); code == 0 || !strings.Contains(stderr, "already CANCELLED") {
		t.Fatalf("cancelling it again: exit %d: %s", code, stderr)
	}
}

// writeStepFile writes a step file and returns its path.
func writeStepFile(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "steps.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStepFileChainOnTransientCluster: the data-lake chain of the README
// (clean a drop zone into an analytics zone, count it into a curated
// zone, copy that to an archive) runs from a step file on a fresh
// embedded cluster that stops after it; each zone holds exactly what an
// independent computation gives.
func TestStepFileChainOnTransientCluster(t *testing.T) {
	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	os.Mkdir(drop, 0o755)
	var kept []string
	for i := range 3 {
		var b strings.Builder
		for j := range 200 {
			if j%5 == 0 {
				fmt.Fprintf(&b, "# comment %d\n", j)
				continue
			}
			line := fmt.Sprintf("event %d of file %d is here", j%17, i)
			b.WriteString(line + "\n")
			kept = append(kept, line)
		}
		os.WriteFile(filepath.Join(drop, fmt.Sprintf("part-%d.log", i)), []byte(b.String()), 0o644)
	}
	zone := func(name string) string { return filepath.Join(dir, name) }
	file := writeStepFile(t, dir, fmt.Sprintf(`
- Name: clean
  ActionOnFailure: CANCEL_AND_WAIT
  Type: STREAMING
  Args: [-mapper, "grep -v ^#", -reducer, NONE, -input, %s, -output, %s]
- Name: curate
  ActionOnFailure: CANCEL_AND_WAIT
  Args: [--job, wordcount, --input, %s, --output, %s, --reducers, "2"]
- Name: archive
  Args: [--job, distcp, --src, %s, --dest, %s]
`, drop, zone("analytics"), zone("analytics"), zone("curated"), zone("curated"), zone("archive")))
	stdout, stderr, code := gomr(t, []string{"TMPDIR=" + t.TempDir()}, "run", "--steps", file, "--primaries", "1", "--core", "2", "--task", "1")
	if code != 0 {
		t.Fatalf("run --steps: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := strings.Count(stdout, "COMPLETED"); n != 3 {
		t.Fatalf("%d steps COMPLETED, want 3:\n%s", n, stdout)
	}
	got := ct.PartLines(t, zone("analytics"))
	slices.Sort(got)
	slices.Sort(kept)
	if !slices.Equal(got, kept) {
		t.Fatalf("analytics zone: %d lines, want the %d uncommented ones", len(got), len(kept))
	}
	var analytics []string
	parts, _ := filepath.Glob(filepath.Join(zone("analytics"), "part-*"))
	analytics = append(analytics, parts...)
	if got, want := sortedPartLines(t, zone("curated")), ct.WordCounts(t, analytics...); !slices.Equal(got, want) {
		ct.DiffLines(t, got, want)
	}
	if ok, diff, err := mapreduce.SameOutput(zone("curated"), zone("archive")); err != nil || !ok {
		t.Fatalf("archive differs from the curated zone: %s %v", diff, err)
	}
}

// TestStepFileActionOnFailure: a failing first step of a chain, with each
// action on failure: CONTINUE runs the next step, CANCEL_AND_WAIT cancels
// it, TERMINATE_CLUSTER cancels it and stops the cluster; the run exits 1
// each time, saying which step failed.
func TestStepFileActionOnFailure(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("some words here\n"), 0o644)
	for _, tc := range []struct {
		action, second string
	}{
		{"CONTINUE", "COMPLETED"},
		{"CANCEL_AND_WAIT", "CANCELLED"},
		{"TERMINATE_CLUSTER", "CANCELLED"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			sub := t.TempDir()
			file := writeStepFile(t, sub, fmt.Sprintf(`
- Name: breaks
  ActionOnFailure: %s
  Type: STREAMING
  Args: [-mapper, "sh -c 'echo broken >&2; exit 3'", -reducer, NONE, -input, %s, -output, %s]
- Name: after
  Args: [--job, wordcount, --input, %s, --output, %s]
`, tc.action, in, filepath.Join(sub, "o1"), in, filepath.Join(sub, "o2")))
			stdout, stderr, code := gomr(t, []string{"TMPDIR=" + t.TempDir()}, "run", "--steps", file, "--primaries", "1", "--core", "1", "--task", "0")
			if code != 1 || !strings.Contains(stderr, "FAILED") || !strings.Contains(stderr, "broken") {
				t.Fatalf("exit %d; want 1 with the failure and its stderr:\n%s\n%s", code, stdout, stderr)
			}
			if !regexp.MustCompile(`breaks +FAILED`).MatchString(stdout) || !regexp.MustCompile(`after +`+tc.second).MatchString(stdout) {
				t.Fatalf("want breaks FAILED and after %s:\n%s", tc.second, stdout)
			}
			if tc.second == "CANCELLED" && !strings.Contains(stdout, "its action on failure is "+tc.action) {
				t.Fatalf("the cancelled step does not say why:\n%s", stdout)
			}
			if _, err := os.Stat(filepath.Join(sub, "o1")); !os.IsNotExist(err) {
				t.Fatalf("the failed step left its output: %v", err)
			}
		})
	}
}

// TestStepFileErrors: a step file that is not a list of steps, names an
// unknown field or type, or holds a bad step is refused naming the file
// and the step, before anything is submitted.
func TestStepFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{"", "holds no steps"},
		{"Name: x\n", "want a list of steps"},
		{"- Name: x\n  Argz: [--job, wordcount]\n", "field Argz not found"},
		{"- Name: x\n  Type: HIVE\n  Args: []\n", "type HIVE is not one gomr runs"},
		{"- Name: first\n  Args: [--job, wordcount, --input, /x, --output, /y]\n- Name: second\n  Args: [--job, nosuch, --input, /x, --output, /z]\n", "step 2 (second)"},
		{"- Name: x\n  ActionOnFailure: EXPLODE\n  Args: [--job, wordcount, --input, /x, --output, /y]\n", "EXPLODE"},
	} {
		file := writeStepFile(t, dir, tc.body)
		_, stderr, code := gomr(t, []string{"GOMR_CLUSTER=127.0.0.1:1"}, "step", "add", "--steps", file)
		if code == 0 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, file) {
			t.Errorf("step file %q: exit %d: %s; want an error naming %s and saying %q", tc.body, code, stderr, file, tc.want)
		}
	}
}
