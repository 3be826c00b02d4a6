package clustertest

import (
	"bufio"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var fuzzTime = flag.Duration("fuzz.time", 3*time.Second, "TestFuzzTargets: how long each fuzz target runs (0: skip)")

// fuzzFunc finds the fuzz targets of a test file.
var fuzzFunc = regexp.MustCompile(`^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// TestFuzzTargets runs every fuzz target of the module (each parser of
// outside bytes has one) with go test -fuzz for a bounded time, so that
// the suite not only replays the seed corpora (as every go test does)
// but also mutates them: a target that finds a failing input fails this
// test, and go test -fuzz leaves the input in the package's
// testdata/fuzz folder for the seed corpus.
func TestFuzzTargets(t *testing.T) {
	if *fuzzTime <= 0 || testing.Short() {
		t.Skip("fuzzing is off (-fuzz.time 0 or -short)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to fuzz with: %v", err)
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	root := filepath.Dir(strings.TrimSpace(string(out)))
	if err != nil || root == "." {
		t.Fatalf("module root: %v (%q)", err, out)
	}
	targets := map[string][]string{} // package folder -> targets
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := fuzzFunc.FindStringSubmatch(sc.Text()); m != nil {
				dir := filepath.Dir(path)
				targets[dir] = append(targets[dir], m[1])
			}
		}
		return sc.Err()
	})
	n := 0
	for _, fs := range targets {
		n += len(fs)
	}
	if n < 10 {
		t.Fatalf("found %d fuzz targets in %s; the module has more", n, root)
	}
	for _, dir := range slices.Sorted(func(yield func(string) bool) {
		for d := range targets {
			if !yield(d) {
				return
			}
		}
	}) {
		rel, _ := filepath.Rel(root, dir)
		for _, name := range targets[dir] {
			t.Run(rel+"/"+name, func(t *testing.T) {
				cmd := exec.Command(goBin, "test", "-run", "^$", "-fuzz", "^"+name+"$", "-fuzztime", fuzzTime.String(), "-parallel", "2", "./"+rel)
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "GOFLAGS=")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go test -fuzz %s ./%s: %v\n%s", name, rel, err, out)
				}
			})
		}
	}
}
