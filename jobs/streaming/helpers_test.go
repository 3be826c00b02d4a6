package streaming

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
)

func init() {
	killGrace = 200 * time.Millisecond // keeps the tests that kill quick
}

// bareKeys reports whether the engine's text writer writes a pair whose
// value is nil as the key alone, without a tab (the contract this package
// relies on for lines without a tab).
var bareKeys = func() bool {
	var f memFile
	w := mapreduce.NewTextWriter(&f, "probe")
	w.Emit([]byte("k"), nil)
	w.Close()
	return f.String() == "k\n"
}()

type memFile struct{ bytes.Buffer }

func (*memFile) Close() error { return nil }
func (*memFile) Abort()       {}

// asWritten returns the output line the text writer makes of a command's
// output line.
func asWritten(line string) string {
	if !strings.Contains(line, "\t") && !bareKeys {
		return line + "\t"
	}
	return line
}

// python returns the path of the python3 interpreter itself (not of a
// wrapper such as a pyenv shim, which takes a while to start), or skips
// the test.
func python(t *testing.T) string {
	t.Helper()
	py := findPython()
	if py == "" {
		t.Skip("python3 is not installed")
	}
	return py
}

// findPython returns the path of the python3 interpreter, or "".
func findPython() string {
	pythonOnce.Do(func() {
		out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
		if err == nil {
			pythonPath = strings.TrimSpace(string(out))
		}
	})
	return pythonPath
}

var (
	pythonOnce sync.Once
	pythonPath string
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// splitsOf plans splits of at most size bytes over the input files.
func splitsOf(t *testing.T, size int64, paths ...string) []mapreduce.Split {
	t.Helper()
	files, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), paths)
	if err != nil {
		t.Fatal(err)
	}
	splits, err := mapreduce.PlanSplits(files, size)
	if err != nil {
		t.Fatal(err)
	}
	return splits
}

func build(t *testing.T, opts map[string]string) *mapreduce.Job {
	t.Helper()
	job, err := Build(opts)
	if err != nil {
		t.Fatalf("Build(%v): %v", opts, err)
	}
	return job
}

type runOpts struct {
	reducers   int
	sortBuffer int
	ctx        context.Context
}

// run runs job with RunSequential and returns its output folder and
// counters.
func run(t *testing.T, job *mapreduce.Job, splits []mapreduce.Split, o runOpts) (string, *mapreduce.Counters, error) {
	t.Helper()
	if o.ctx == nil {
		o.ctx = context.Background()
	}
	out := filepath.Join(t.TempDir(), "out")
	c, err := mapreduce.RunSequential(o.ctx, job, splits, mapreduce.SequentialOptions{
		Reducers:        o.reducers,
		SortBufferBytes: o.sortBuffer,
		Output:          out,
	})
	return out, c, err
}

func mustRun(t *testing.T, job *mapreduce.Job, splits []mapreduce.Split, o runOpts) (string, *mapreduce.Counters) {
	t.Helper()
	out, c, err := run(t, job, splits, o)
	if err != nil {
		t.Fatal(err)
	}
	return out, c
}

// parts returns the lines of the part files of one kind ('m' or 'r'), in
// part order.
func parts(t *testing.T, out string, kind byte, n int) [][]string {
	t.Helper()
	var all [][]string
	for i := range n {
		b, err := os.ReadFile(filepath.Join(out, mapreduce.PartName(kind, i)))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		if len(b) > 0 {
			if b[len(b)-1] != '\n' {
				t.Errorf("%s does not end with a newline", mapreduce.PartName(kind, i))
			}
			lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		}
		all = append(all, lines)
	}
	return all
}

func sortedLines(groups [][]string) []string {
	var all []string
	for _, g := range groups {
		all = append(all, g...)
	}
	slices.Sort(all)
	return all
}

// countLines returns word<TAB>count lines, sorted.
func countLines(counts map[string]int) []string {
	var lines []string
	for w, n := range counts {
		lines = append(lines, w+"\t"+strconv.Itoa(n))
	}
	slices.Sort(lines)
	return lines
}

func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	n := 0
	for i := 0; i < max(len(got), len(want)) && n < 10; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("%s line %d: got %q, want %q", what, i+1, g, w)
			n++
		}
	}
	t.Errorf("%s: %d lines, want %d", what, len(got), len(want))
}

// groupAlive lists the live (not zombie) processes of process group pgid.
func groupAlive(pgid int) []string {
	ents, _ := os.ReadDir("/proc")
	var alive []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) || f[0] == "Z" || f[0] == "X" {
			continue
		}
		alive = append(alive, e.Name()+" "+s[:i+1]+" "+f[0])
	}
	return alive
}

// waitGroupGone waits until no live process is left in group pgid.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		alive := groupAlive(pgid)
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of group %d still alive: %q", pgid, alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPID waits for a command to write its pid to path.
func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if !errors.Is(err, os.ErrNotExist) && err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
