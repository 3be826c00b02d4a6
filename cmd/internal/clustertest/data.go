package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
)

// GenerateText writes files of generated text, size bytes each, into a new
// folder: file i is text-i.txt, generated from seed+i. It returns the
// folder and the files.
func GenerateText(t testing.TB, files int, size int64, seed uint64) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "input")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range files {
		var b bytes.Buffer
		if err := jobs.WriteSampleText(&b, size, seed+uint64(i)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("text-%d.txt", i))
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return dir, paths
}

// Input is generated input with the reference output of a word count over
// it.
type Input struct {
	// Dir holds the input files.
	Dir string
	// Ref is the output of the sequential runner: a cluster's output must
	// equal it byte for byte.
	Ref      string
	Reducers int32
}

// BigInput writes generated text (seeds from 100) and makes the reference
// output of a word count with the given reducers.
func BigInput(t testing.TB, files int, size int64, reducers int32) Input {
	t.Helper()
	dir, _ := GenerateText(t, files, size, 100)
	return Input{Dir: dir, Ref: Reference(t, "wordcount", dir, reducers), Reducers: reducers}
}

// Reference runs a job with the sequential runner over the inputs (in
// one split each: the output does not depend on splits) and returns its
// output folder.
func Reference(t testing.TB, job string, input string, reducers int32) string {
	t.Helper()
	def, err := jobs.Lookup(job)
	if err != nil {
		t.Fatal(err)
	}
	j, err := def.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{input})
	if err != nil {
		t.Fatal(err)
	}
	splits, _ := mapreduce.PlanSplits(fl, 1<<30)
	ref := filepath.Join(t.TempDir(), "reference")
	if _, err := mapreduce.RunSequential(context.Background(), j, splits, mapreduce.SequentialOptions{Reducers: int(reducers), Output: ref}); err != nil {
		t.Fatal(err)
	}
	return ref
}

// CheckOutput compares a committed output with the reference, file by
// file, byte for byte.
func CheckOutput(t testing.TB, out, ref string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, mapreduce.SuccessFile)); err != nil {
		t.Fatalf("no _SUCCESS: %v", err)
	}
	same, diff, err := mapreduce.SameOutput(ref, out)
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Fatalf("output differs from an undisturbed run: %s", diff)
	}
}

// CheckCounted checks that a step's counters count every record once:
// they equal the reference run's, and the output has one record a line.
func CheckCounted(t testing.TB, st *Step, ref string) {
	t.Helper()
	var words int64
	parts, _ := filepath.Glob(filepath.Join(ref, "part-*"))
	for _, p := range parts {
		b, _ := os.ReadFile(p)
		words += int64(strings.Count(string(b), "\n"))
	}
	var refManifest mapreduce.Manifest
	b, err := os.ReadFile(filepath.Join(ref, mapreduce.SuccessFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &refManifest); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"MAP_INPUT_RECORDS", "MAP_INPUT_BYTES", "MAP_OUTPUT_RECORDS", "REDUCE_OUTPUT_RECORDS"} {
		if st.Counters[k] != refManifest.Counters[k] {
			t.Errorf("counter %s = %d, want %d (counted twice or lost)", k, st.Counters[k], refManifest.Counters[k])
		}
	}
	if st.Counters["REDUCE_OUTPUT_RECORDS"] != words {
		t.Errorf("REDUCE_OUTPUT_RECORDS %d, want %d", st.Counters["REDUCE_OUTPUT_RECORDS"], words)
	}
}

// Words is the oracle's word rule: maximal runs of letters.
func Words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
}

// CountLines turns counts into the word count's output lines
// (word<TAB>count), sorted.
func CountLines(counts map[string]int) []string {
	var lines []string
	for w, n := range counts {
		lines = append(lines, w+"\t"+strconv.Itoa(n))
	}
	slices.Sort(lines)
	return lines
}

// WordCounts is the word count oracle: word<TAB>count lines over the
// files, sorted.
func WordCounts(t testing.TB, files ...string) []string {
	t.Helper()
	counts := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range Words(string(b)) {
			counts[w]++
		}
	}
	return CountLines(counts)
}

// PartLines reads every part file of a committed output, sorted.
func PartLines(t testing.TB, out string) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, mapreduce.SuccessFile)); err != nil {
		t.Fatalf("output %s not committed: %v", out, err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "part-*"))
	var lines []string
	for _, f := range files {
		for _, l := range ReadLines(t, f) {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	slices.Sort(lines)
	return lines
}

// OutputLines reads every part file of an output folder, checking that the
// folder is committed (_SUCCESS, no _temporary), that it has parts part
// files and that each is sorted by key, and returns all lines sorted.
func OutputLines(t testing.TB, out string, parts int) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, mapreduce.SuccessFile)); err != nil {
		t.Fatalf("no _SUCCESS in %s: %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(out, mapreduce.TemporaryDir)); !os.IsNotExist(err) {
		t.Fatalf("_temporary left in %s", out)
	}
	files, _ := filepath.Glob(filepath.Join(out, "part-r-*"))
	if len(files) != parts {
		t.Fatalf("%d part files in %s, want %d", len(files), out, parts)
	}
	var all []string
	for _, f := range files {
		lines := ReadLines(t, f)
		var keys []string
		for _, l := range lines {
			k, _, _ := strings.Cut(l, "\t")
			keys = append(keys, k)
		}
		if !slices.IsSorted(keys) {
			t.Fatalf("%s is not sorted by key", f)
		}
		all = append(all, lines...)
	}
	slices.Sort(all)
	return all
}

// ReadLines reads a file's lines (up to 1 MiB each).
func ReadLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// DiffLines fails the test at the first difference between two sorted
// line lists.
func DiffLines(t testing.TB, got, want []string) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q, want %q (%d lines vs %d)", i+1, got[i], want[i], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
}

// SharedData returns a folder of ../shared/data beside the repository, or
// skips the test when it is absent (a clone outside this workspace).
func SharedData(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("third-party test data %s is not here (it sits beside the repository in ../shared/data): %v", p, err)
	}
	return p
}
