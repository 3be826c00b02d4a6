package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
)

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestDeadAddressFailsFast: a refused connection or a host name that does
// not resolve is reported at once, saying which.
func TestDeadAddressFailsFast(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		want    string
	}{
		{closedAddr(t), "connection refused"},
		{"no-such-host.invalid:7400", "host no-such-host.invalid does not resolve"},
	} {
		start := time.Now()
		_, errOut, code := gomr(t, nil, "step", "list", "--cluster", tc.cluster)
		took := time.Since(start)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("--cluster %s: exit %d: %s; want an error saying %q", tc.cluster, code, errOut, tc.want)
		}
		// The bound: well under the 30 s a client used to wait.
		if took > 2*time.Second {
			t.Errorf("--cluster %s: failed after %s, want under 2s", tc.cluster, took)
		}
	}
}

// runGomr runs gomr with TMPDIR set to a folder of the test's, and returns
// stdout, stderr, the exit code and that folder.
func runGomr(t *testing.T, args ...string) (string, string, int, string) {
	t.Helper()
	tmp := t.TempDir()
	out, errOut, code := gomr(t, []string{"TMPDIR=" + tmp}, args...)
	return out, errOut, code, tmp
}

// small is an embedded cluster's shape for quick runs.
var small = []string{"--primaries", "1", "--core", "1", "--task", "0", "--slots", "2"}

// TestRunSaysWhatWentWrong: a failed step's reason is on stderr, a
// suspicious success gets a warning, and output paths that cannot work
// are refused by what is wrong with them.
func TestRunSaysWhatWentWrong(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)

	// A NUL byte past the first 8 KiB fails the step while it runs.
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, append([]byte(strings.Repeat("some text here\n", 1000)), 0, '\n'), 0o644)
	stdout, stderr, code, tmp := runGomr(t, append([]string{"run", "--job", "wordcount", "--input", bad, "--output", filepath.Join(dir, "bad-out")}, small...)...)
	if code == 0 || !strings.Contains(stderr, "FAILED") || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "line 1001") || !strings.Contains(stderr, "NUL byte") {
		t.Errorf("failed step: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("a failed run left %v in its temporary folder", entries)
	}

	// An input folder with no files.
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	_, stderr, code, _ = runGomr(t, append([]string{"run", "--job", "wordcount", "--input", empty, "--output", filepath.Join(dir, "empty-out")}, small...)...)
	if code != 0 || !strings.Contains(stderr, "warning: step") || !strings.Contains(stderr, "read 0 input files") {
		t.Errorf("empty input: exit %d: %s", code, stderr)
	}

	// logagg over a book rejects every line.
	book := filepath.Join(dir, "book.txt")
	os.WriteFile(book, []byte(strings.Repeat("It was the best of times.\n", 50)), 0o644)
	_, stderr, code, _ = runGomr(t, append([]string{"run", "--job", "logagg", "--input", book, "--output", filepath.Join(dir, "logagg-out")}, small...)...)
	if code != 0 || !strings.Contains(stderr, "rejected every one of its 50 input records") {
		t.Errorf("every record rejected: exit %d: %s", code, stderr)
	}

	// The output path is a file.
	_, stderr, code, _ = runGomr(t, append([]string{"run", "--job", "wordcount", "--input", book, "--output", bad}, small...)...)
	if code == 0 || !strings.Contains(stderr, bad+": is a file") {
		t.Errorf("output is a file: exit %d: %s", code, stderr)
	}

	// The output inside the input folder: a warning.
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.txt"), []byte("one two\n"), 0o644)
	_, stderr, code, _ = runGomr(t, append([]string{"run", "--job", "wordcount", "--input", in, "--output", filepath.Join(in, "out")}, small...)...)
	if code != 0 || !strings.Contains(stderr, "is inside the input folder "+in) {
		t.Errorf("output inside input: exit %d: %s", code, stderr)
	}
}

// TestOutputInAFolderThatCannotBeWritten is refused at submission. The
// run is as user nobody when the test runs as root.
func TestOutputInAFolderThatCannotBeWritten(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for d := filepath.Dir(dir); strings.HasPrefix(d, os.TempDir()+string(filepath.Separator)); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("words\n"), 0o644)
	locked := filepath.Join(dir, "locked")
	os.Mkdir(locked, 0o555)
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o777)
	os.Chmod(tmp, 0o777)
	cmd := exec.Command(gomrBin, append([]string{"run", "--job", "wordcount", "--input", in, "--output", filepath.Join(locked, "out")}, small...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "cannot create it in "+locked) || !strings.Contains(string(b), "permission denied") {
		t.Fatalf("output in a read-only folder: %v\n%s", err, b)
	}
}

// TestRunCleansUpItsSample: without --input, gomr run generates a sample
// and removes it afterwards, keeping only the exported output it printed.
func TestRunCleansUpItsSample(t *testing.T) {
	stdout, stderr, code, tmp := runGomr(t, append([]string{"run", "--job", "wordcount"}, small...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "removed after the run") {
		t.Errorf("stderr does not say the sample is removed: %s", stderr)
	}
	runs, _ := filepath.Glob(filepath.Join(tmp, "gomr-run-*"))
	if len(runs) != 1 {
		t.Fatalf("work folders %v", runs)
	}
	// What stays is the embedded S3 endpoint's folder, holding the export.
	entries, _ := os.ReadDir(runs[0])
	if len(entries) != 1 || entries[0].Name() != "s3" || !strings.Contains(stdout, filepath.Join(runs[0], "s3", "buckets", "gomr")) {
		t.Fatalf("after the run %s holds %v; stdout:\n%s", runs[0], entries, stdout)
	}
	if others, _ := filepath.Glob(filepath.Join(tmp, "gomr-local-*")); len(others) != 0 {
		t.Fatalf("cluster data left: %v", others)
	}
}

func TestVersionNamesTheBuild(t *testing.T) {
	out, _, code := gomr(t, nil, "--version")
	if code != 0 || strings.Contains(out, " dev") || !strings.Contains(out, "go1.") {
		t.Fatalf("--version: %q", out)
	}
	if rev, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && !strings.Contains(out, "commit "+string(rev[:12])) {
		t.Fatalf("--version built in a git checkout names no commit (HEAD is %s): %q", rev, out)
	}
}

func TestBenchWarmsUp(t *testing.T) {
	_, stderr, code, _ := runGomr(t, "bench", "--job", "wordcount", "--generate", "2MB", "--workers", "1", "--repeat", "1", "--split-size", "1MiB")
	if code != 0 || !strings.Contains(stderr, "warm-up run done (not timed)") || strings.Index(stderr, "warm-up") > strings.Index(stderr, "sequential run 1") {
		t.Fatalf("bench --repeat 1: exit %d: %s", code, stderr)
	}
}

// TestStepCommandsForScripts runs steps on a cluster of real processes
// and reads them back as a script would: JSON numbers and times, states to
// filter on, progress lines off a terminal, and the step's sizes in text.
func TestStepCommandsForScripts(t *testing.T) {
	c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 1, WorkerFaults: "map-record=sleep:2ms"})
	env := c.Env()
	_, in := ct.GenerateText(t, 1, 120<<10, 10) // about 1,700 lines: over 3 s of maps, one at a time (no tiny slots with faults)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := gomr(t, env, "step", "add", "--job", "wordcount", "--input", in[0], "--output", out, "--split-size", "8KiB", "--reducers", "2")
	if code != 0 {
		t.Fatalf("step add: %s", stderr)
	}
	id := strings.TrimSpace(stdout)
	_, progress, code := gomr(t, env, "step", "wait", id, "--progress-interval", "500ms")
	if code != 0 {
		t.Fatalf("step wait: %s", progress)
	}
	running := 0
	for _, line := range strings.Split(progress, "\n") {
		if strings.Contains(line, "RUNNING") && strings.Contains(line, "MAP") {
			running++
		}
	}
	if running < 3 {
		t.Fatalf("off a terminal, step wait printed %d progress lines during the map phase:\n%s", running, progress)
	}

	desc, _, _ := gomr(t, env, "step", "describe", id)
	for _, want := range []string{"Split size", "8.0 KiB", "Sort buffer", "100 MiB"} {
		if !strings.Contains(desc, want) {
			t.Fatalf("describe does not show %q:\n%s", want, desc)
		}
	}

	js, _, code := gomr(t, env, "step", "describe", id, "--format", "json", "--tasks")
	var st map[string]any
	if err := json.Unmarshal([]byte(js), &st); err != nil || code != 0 {
		t.Fatalf("describe --format json: %v\n%s", err, js)
	}
	counters, _ := st["counters"].(map[string]any)
	if n, ok := counters["MAP_INPUT_RECORDS"].(float64); !ok || n < 1500 {
		t.Fatalf("MAP_INPUT_RECORDS is %#v, want a JSON number", counters["MAP_INPUT_RECORDS"])
	}
	if n, ok := st["split_size_bytes"].(float64); !ok || n != 8<<10 {
		t.Fatalf("split_size_bytes is %#v", st["split_size_bytes"])
	}
	if ts, _ := st["submitted"].(string); func() error { _, err := time.Parse(time.RFC3339Nano, ts); return err }() != nil {
		t.Fatalf("submitted is %#v, want RFC 3339", st["submitted"])
	}
	maps, _ := st["maps"].(map[string]any)
	if tasks, _ := st["tasks"].([]any); len(tasks) < 10 || float64(len(tasks)) != maps["total"].(float64)+2 {
		t.Fatalf("%d tasks in JSON, want %v maps and 2 reduces", len(tasks), maps["total"])
	}

	// A second step fails; --state picks each.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, append([]byte(strings.Repeat(strings.Repeat("x", 99)+"\n", 90)), 0), 0o644)
	if _, stderr, code := gomr(t, env, "step", "add", "--job", "wordcount", "--input", bad, "--output", filepath.Join(t.TempDir(), "o"), "--wait"); code == 0 || !strings.Contains(stderr, "NUL byte") {
		t.Fatalf("failing step: exit %d: %s", code, stderr)
	}
	for state, want := range map[string]int{"COMPLETED": 1, "FAILED": 1, "completed,failed": 2, "RUNNING": 0} {
		js, stderr, code := gomr(t, env, "step", "list", "--state", state, "--format", "json")
		var list struct{ Steps []map[string]any }
		if err := json.Unmarshal([]byte(js), &list); err != nil || code != 0 || len(list.Steps) != want {
			t.Fatalf("step list --state %s: %d steps, want %d (%v %s)", state, len(list.Steps), want, err, stderr)
		}
	}
	if _, stderr, code := gomr(t, env, "step", "list", "--state", "DONE"); code == 0 || !strings.Contains(stderr, "want one of PENDING") {
		t.Fatalf("bad --state: %s", stderr)
	}
	js, _, _ = gomr(t, env, "node", "list", "--format", "json")
	var nodes struct {
		Primaries []map[string]any
	}
	if err := json.Unmarshal([]byte(js), &nodes); err != nil || len(nodes.Primaries) != 1 {
		t.Fatalf("node list: %v %s", err, js)
	}
	if _, ok := nodes.Primaries[0]["term"].(float64); !ok {
		t.Fatalf("term is %#v, want a JSON number", nodes.Primaries[0]["term"])
	}
}
