package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/jobs"
)

// gomrBin is the binary the tests run, built once by TestMain.
var gomrBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gomr-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	gomrBin = filepath.Join(dir, "gomr")
	args := []string{"build", "-buildvcs=auto", "-o", gomrBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gomr:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gomr runs a client command and returns its stdout, stderr and exit code.
func gomr(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(gomrBin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), env...)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestRealProcesses runs the real binary as 1 primary, 2 core workers and
// 1 task worker on loopback, submits a step with the CLI, checks its
// output, and stops every process with SIGTERM. The primary is configured
// through a YAML file and one worker through GOMR_* variables.
func TestRealProcesses(t *testing.T) {
	dir := t.TempDir()
	// Every node binds port 0 and writes where it listens in its data
	// folder.
	cfgFile := filepath.Join(dir, "primary.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("node-id: p1\ndata-dir: %s\naddr: 127.0.0.1:0\nraft-addr: 127.0.0.1:0\ngossip-addr: 127.0.0.1:0\nbootstrap: true\nlog-level: debug\nmin-split-size: 1KiB\n",
		filepath.Join(dir, "p1"))), 0o644)
	first := ct.MustStartProcess(t, gomrBin, "primary", nil, "primary", "--config", cfgFile)
	addr := ct.PrimaryAddresses(t, first, filepath.Join(dir, "p1")).GRPC
	procs := []*ct.Process{first}
	for _, w := range []struct{ id, role string }{{"core-1", "core"}, {"core-2", "core"}, {"task-1", "task"}} {
		env := []string{"GOMR_ID=" + w.id, "GOMR_ROLE=" + w.role, "GOMR_JOIN=" + addr, "GOMR_SLOTS=2",
			"GOMR_ADDR=127.0.0.1:0", "GOMR_GOSSIP_ADDR=127.0.0.1:0", "GOMR_DATA_DIR=" + filepath.Join(dir, w.id)}
		if w.id == "core-1" {
			// Flags as well as variables: flags win.
			procs = append(procs, ct.MustStartProcess(t, gomrBin, w.id, env, "worker", "--role", "core", "--heartbeat-interval", "200ms"))
		} else {
			procs = append(procs, ct.MustStartProcess(t, gomrBin, w.id, env, "worker"))
		}
	}
	cluster := []string{"GOMR_CLUSTER=" + addr}

	// Wait until every worker is registered.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, code := gomr(t, cluster, "node", "list", "--format", "json")
		var nodes struct {
			Workers []struct{ Id, Role, State string }
		}
		json.Unmarshal([]byte(out), &nodes)
		alive := 0
		for _, w := range nodes.Workers {
			if w.State == "ALIVE" {
				alive++
			}
		}
		if code == 0 && alive == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers did not register: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	_, inputs := ct.GenerateText(t, 3, 300<<10, 10)
	out := filepath.Join(dir, "counts")
	stepOut, stepErr, code := gomr(t, cluster, append([]string{"step", "add", "--job", "wordcount", "--output", out, "--reducers", "3", "--split-size", "64KiB", "--input"}, inputs...)...)
	if code != 0 {
		t.Fatalf("step add: exit %d: %s", code, stepErr)
	}
	id := strings.TrimSpace(stepOut)
	if !strings.HasPrefix(id, "s-") {
		t.Fatalf("step add printed %q", stepOut)
	}
	if _, errOut, code := gomr(t, cluster, "step", "wait", id); code != 0 {
		t.Fatalf("step wait: exit %d: %s", code, errOut)
	}
	if got, want := ct.PartLines(t, out), ct.WordCounts(t, inputs...); !slices.Equal(got, want) {
		t.Fatalf("output differs from the oracle: %d lines vs %d", len(got), len(want))
	}
	desc, _, code := gomr(t, cluster, "step", "describe", id, "--format", "json")
	var st struct {
		State    string
		Counters map[string]int64
	}
	if err := json.Unmarshal([]byte(desc), &st); err != nil || code != 0 || st.State != "COMPLETED" {
		t.Fatalf("describe: %v %d %s", err, code, desc)
	}
	if st.Counters["LAUNCHED_MAPS"] != 15 || st.Counters["REDUCE_OUTPUT_RECORDS"] != int64(len(ct.WordCounts(t, inputs...))) {
		t.Fatalf("counters %v", st.Counters)
	}
	list, _, _ := gomr(t, cluster, "step", "list")
	if !strings.Contains(list, id) || !strings.Contains(list, "COMPLETED") {
		t.Fatalf("step list:\n%s", list)
	}
	// The same output folder again is refused.
	_, errOut, code := gomr(t, cluster, "step", "add", "--job", "wordcount", "--input", inputs[0], "--output", out)
	if code == 0 || !strings.Contains(errOut, "already exists") || !strings.Contains(errOut, out) {
		t.Fatalf("existing output: exit %d: %s", code, errOut)
	}

	// A second primary joins the running group, is promoted to voter once
	// caught up, and is removed again.
	joined := ct.MustStartProcess(t, gomrBin, "primary-2", nil, "primary", "--node-id", "p2", "--data-dir", filepath.Join(dir, "p2"),
		"--addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0", "--join", addr)
	ct.PrimaryAddresses(t, joined, filepath.Join(dir, "p2"))
	primaries := func() string {
		out, _, _ := gomr(t, cluster, "node", "list", "--format", "json")
		var nodes struct {
			Primaries []struct {
				Id    string
				Voter bool
			}
		}
		json.Unmarshal([]byte(out), &nodes)
		var ids []string
		for _, p := range nodes.Primaries {
			ids = append(ids, fmt.Sprintf("%s:%t", p.Id, p.Voter))
		}
		slices.Sort(ids)
		return strings.Join(ids, " ")
	}
	deadline = time.Now().Add(30 * time.Second)
	for primaries() != "p1:true p2:true" {
		if time.Now().After(deadline) {
			t.Fatalf("joined primary not promoted: %s", primaries())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, errOut, code := gomr(t, cluster, "node", "remove-primary", "p2"); code != 0 || !strings.Contains(out, "p2 removed") {
		t.Fatalf("remove-primary: exit %d: %s %s", code, out, errOut)
	}
	if got := primaries(); got != "p1:true" {
		t.Fatalf("after remove-primary: %s", got)
	}
	joined.Stop(t)
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(t)
	}
}

// TestCLIErrors checks that mistakes on the command line end in a clear
// error naming what is wrong, before any cluster is needed.
func TestCLIErrors(t *testing.T) {
	nowhere := []string{"GOMR_CLUSTER=" + closedAddr(t)}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"step", "add", "--job", "wordcount", "--colour", "red", "--input", "x", "--output", "y"}, []string{"unknown flag: --colour", "--lower"}},
		{[]string{"step", "add", "--input", "x", "--output", "y"}, []string{"--job is required"}},
		{[]string{"step", "add", "--job", "wordcount", "--output", "y"}, []string{"--input is required"}},
		{[]string{"run", "--job", "nosuchjob"}, []string{`unknown job "nosuchjob"`, "logagg"}},
		{[]string{"step", "list", "--output", "json"}, []string{"--format"}},
		{[]string{"step", "list", "--format", "yaml"}, []string{`--format "yaml"`}},
		{[]string{"step", "add", "--job", "wordcount", "--input", "x", "--output", "y", "--split-size", "lots"}, []string{"--split-size", `bad size "lots"`}},
		{[]string{"primary", "--config", "/nonexistent/gomr.yaml"}, []string{"/nonexistent/gomr.yaml"}},
		{[]string{"worker", "--role", "gpu"}, []string{"role must be core or task"}},
	} {
		_, errOut, code := gomr(t, nowhere, tc.args...)
		if code == 0 {
			t.Errorf("gomr %v succeeded", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("gomr %v: error %q does not mention %q", tc.args, errOut, w)
			}
		}
	}
	// A config file key that is not an option is refused by name.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("node-id: p1\nraft_port: 7401\n"), 0o644)
	if _, errOut, code := gomr(t, nil, "primary", "--config", bad); code == 0 || !strings.Contains(errOut, `unknown option "raft_port"`) {
		t.Errorf("bad config key: exit %d: %s", code, errOut)
	}
}

// TestRunWithoutInput is the README's first command: it must work on a
// fresh clone with nothing but the binary.
// Without --output, the step writes to the embedded cluster's HDFS and
// its result is exported to the embedded S3 endpoint, whose objects stay
// on disk where the run says.
func TestRunWithoutInput(t *testing.T) {
	stdout, stderr, code := gomr(t, []string{"TMPDIR=" + t.TempDir()}, "run", "--job", "wordcount", "--reducers", "2")
	if code != 0 {
		t.Fatalf("gomr run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "COMPLETED") || !strings.Contains(stdout, "MAP_INPUT_RECORDS") {
		t.Fatalf("gomr run printed:\n%s", stdout)
	}
	for _, want := range []string{"output  hdfs:///user/gomr/output/wordcount-", "export  s3://gomr/wordcount-"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("gomr run printed no %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "embedded S3 endpoint http://127.0.0.1:") || !strings.Contains(stderr, "AWS_SHARED_CREDENTIALS_FILE=") || strings.Contains(stderr, "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("gomr run does not say how to reach its S3 endpoint:\n%s", stderr)
	}
	m := regexp.MustCompile(`stored in (\S+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("gomr run does not say where the export is stored:\n%s", stdout)
	}
	out := m[1]
	// The sample is regenerated here independently: same generator, same seeds.
	var inputs []string
	dir := t.TempDir()
	for i := range 4 {
		var b bytes.Buffer
		jobs.WriteSampleText(&b, 2<<20, uint64(i+1))
		p := filepath.Join(dir, fmt.Sprint(i))
		os.WriteFile(p, b.Bytes(), 0o644)
		inputs = append(inputs, p)
	}
	if got, want := ct.PartLines(t, out), ct.WordCounts(t, inputs...); !slices.Equal(got, want) {
		t.Fatalf("gomr run output differs from the oracle: %d lines vs %d", len(got), len(want))
	}
}

// TestUnreadableInput checks that a file the user may not read is refused
// with an error naming it. As root, the command runs as user nobody.
func TestUnreadableInput(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	// Let user nobody through the test's folders, but never touch the
	// system's temporary folder itself (it must stay world-writable).
	for d := filepath.Dir(dir); strings.HasPrefix(d, os.TempDir()+string(filepath.Separator)); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	secret := filepath.Join(dir, "secret.txt")
	os.WriteFile(secret, []byte("hidden words\n"), 0o000)
	cmd := exec.Command(gomrBin, "run", "--job", "wordcount", "--primaries", "1", "--input", secret, "--output", filepath.Join(dir, "out"))
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		os.Chmod(dir, 0o777)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err := cmd.Run()
	if err == nil {
		t.Fatal("an unreadable input was accepted")
	}
	if !strings.Contains(errOut.String(), secret) || !strings.Contains(errOut.String(), "permission denied") {
		t.Fatalf("error %q does not name the file and the reason", errOut.String())
	}
}
