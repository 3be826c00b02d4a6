package mapreduce

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rejectingMapper rejects the lines that start with "bad", naming their
// length, and emits the others' first byte.
type rejectingMapper struct{}

func (rejectingMapper) Map(tc *TaskContext, rec Record, out Emitter) error {
	if strings.HasPrefix(string(rec.Line), "bad") {
		return tc.Reject(rec, fmt.Sprintf("bad line of %d bytes", len(rec.Line)))
	}
	return out.Emit(rec.Line[:1], []byte{1})
}

// TestRejectsNumberedAcrossSplits rejects many lines in every split of
// two files: more than a task holds before it writes them, so each
// writes its rejects in several batches, and the files are read twice
// (the second time with the newlines the first recorded, see lineSpans).
// Every reject names its file and its line number in the file, in the
// rejects file of the split that owns it.
func TestRejectsNumberedAcrossSplits(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{} // reject lines by file
	for f, name := range []string{"a.log", "b.log"} {
		var b strings.Builder
		for i := range 40000 {
			line := fmt.Sprintf("good %d %s", i, strings.Repeat("x", (i*7+f)%50))
			if i%3 != f {
				line = "bad" + line[4:]
			}
			b.WriteString(line + "\n")
		}
		path := filepath.Join(in, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
			if strings.HasPrefix(line, "bad") {
				want[path] = append(want[path], fmt.Sprintf("%s\t%d\tbad line of %d bytes\t%s", path, i+1, len(line), line))
			}
		}
	}
	if n := len(want[filepath.Join(in, "a.log")]); n*40 < 2*maxPendingRejects {
		t.Fatalf("test setup: %d rejects a file, too few to fill the pending rejects", n)
	}
	job := &Job{Mapper: rejectingMapper{}, Combiner: countSummer{}, Reducer: countReducer{text: true}}
	for run := range 2 {
		out := filepath.Join(dir, fmt.Sprint("out", run))
		if _, _, err := runFiles(t, job, []string{in}, 300<<10, SequentialOptions{Reducers: 2, Output: out}); err != nil {
			t.Fatal(err)
		}
		parts, err := filepath.Glob(filepath.Join(out, RejectsDir, "part-m-*"))
		if err != nil || len(parts) < 4 {
			t.Fatalf("run %d: rejects files %q (%v), want one a split", run, parts, err)
		}
		got := map[string][]string{}
		for _, p := range parts {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				file, _, _ := strings.Cut(l, "\t")
				got[file] = append(got[file], l)
			}
		}
		for file, w := range want {
			g := got[file]
			if len(g) != len(w) {
				t.Fatalf("run %d: %s: %d rejects, want %d", run, file, len(g), len(w))
			}
			for i := range w {
				if g[i] != w[i] {
					t.Fatalf("run %d: %s: reject %d is\n%q, want\n%q", run, file, i, g[i], w[i])
				}
			}
		}
	}
}
