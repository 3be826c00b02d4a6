package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// crashingMapper writes two known lines to stderr and exits 1.
const crashingMapper = `sh -c 'echo "mapper: cannot parse record 17" >&2; echo "Traceback: ValueError boom" >&2; exit 1'`

// crashStderr is what crashingMapper writes to stderr.
const crashStderr = "mapper: cannot parse record 17\nTraceback: ValueError boom\n"

// logHeader matches the header step logs prints before each attempt.
var logHeader = regexp.MustCompile(`(?m)^==> (attempt_\S+) \((map|reduce) task (\d+), ([A-Z]+), on (\S+)\) (\S+) <==$`)

// TestStepLogs, on real processes: a streaming step whose mapper writes to
// stderr and exits 1 fails; step logs prints exactly those lines for the
// last attempt of the failing task, its syslog has the attempt's start
// and error, step describe and step wait show the probable cause and
// where the log is; a completed built-in step has a syslog for every
// attempt; and bad requests get clear errors: an unknown step or
// attempt, a path for an attempt id (refused by the worker), a worker
// that was stopped.
func TestStepLogs(t *testing.T) {
	c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "task"), MaxAttempts: 2})
	env := c.Env()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("one line\nanother line\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The failing streaming step.
	out, errOut, code := gomr(t, env, "step", "add", "--job", "streaming", "--mapper", crashingMapper, "--reducer", "NONE",
		"--input", in, "--output", filepath.Join(dir, "failed"))
	if code != 0 {
		t.Fatalf("step add: exit %d: %s", code, errOut)
	}
	failed := strings.TrimSpace(out)
	_, errOut, code = gomr(t, env, "step", "wait", failed)
	if code == 0 || !strings.Contains(errOut, "FAILED") {
		t.Fatalf("step wait: exit %d: %s", code, errOut)
	}
	st := c.Describe(failed)
	if len(st.Tasks) != 1 || len(st.Tasks[0].Attempts) != 2 {
		t.Fatalf("tasks %v, want one map task with 2 attempts", st.Tasks)
	}
	first, last := st.Tasks[0].Attempts[0], st.Tasks[0].Attempts[1]
	logsCmd := "gomr step logs " + failed + " --attempt " + last.Id + " --stream stderr"
	if !strings.Contains(errOut, logsCmd) {
		t.Errorf("step wait does not point to the failing attempt's log (%s):\n%s", logsCmd, errOut)
	}

	// step logs: the last attempt of the failing task, its stderr exactly.
	out, errOut, code = gomr(t, env, "step", "logs", failed)
	if code != 0 {
		t.Fatalf("step logs: exit %d: %s", code, errOut)
	}
	if want := "==> " + last.Id + " (map task 0, FAILED, on " + last.Worker + ") stderr <==\n" + crashStderr; out != want {
		t.Errorf("step logs printed\n%q\nwant\n%q", out, want)
	}
	// Its syslog: the attempt's start with its task and split, its error.
	out, errOut, code = gomr(t, env, "step", "logs", failed, "--attempt", last.Id, "--stream", "syslog")
	if code != 0 {
		t.Fatalf("step logs --stream syslog: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`msg="attempt started" attempt=` + last.Id + " step=" + failed + " job=streaming worker=" + last.Worker + " task=m:0 split=" + in + ":0+22",
		`msg="attempt failed" attempt=` + last.Id + ` err="map cleanup: mapper command`,
		`exited with status 1; its stderr ended with:\n\tmapper: cannot parse record 17\n\tTraceback: ValueError boom"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("syslog lacks %q:\n%s", want, out)
		}
	}
	// Every attempt of the task, each under its header.
	out, _, code = gomr(t, env, "step", "logs", failed, "--task", "m:0")
	heads := logHeader.FindAllStringSubmatch(out, -1)
	if code != 0 || len(heads) != 2 || heads[0][1] != first.Id || heads[1][1] != last.Id || strings.Count(out, crashStderr) != 2 {
		t.Errorf("step logs --task m:0: exit %d:\n%s", code, out)
	}

	// describe: the probable cause, with the lines and where the log is.
	out, errOut, code = gomr(t, env, "step", "describe", failed)
	logFile := filepath.Join(c.Dir(), last.Worker, "logs", failed, last.Id, "mapper.stderr")
	for _, want := range []string{
		"Probable cause:\n  map task 0 failed (2 attempts failed): attempt " + last.Id + " on " + last.Worker + ":\n",
		"        mapper: cannot parse record 17\n        Traceback: ValueError boom\n",
		"  Full log: " + logsCmd + "\n",
		"(on worker " + last.Worker + ": " + logFile + ")",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("describe (exit %d, %s) lacks %q:\n%s", code, errOut, want, out)
		}
	}
	if b, err := os.ReadFile(logFile); err != nil || string(b) != crashStderr {
		t.Errorf("the log file describe names holds %q, %v", b, err)
	}
	out, _, _ = gomr(t, env, "step", "describe", failed, "--format", "json")
	var desc struct {
		State   string `json:"state"`
		Failure *struct {
			Reason      string `json:"reason"`
			Message     string `json:"message"`
			LogFile     string `json:"log_file"`
			Attempt     string `json:"attempt"`
			Worker      string `json:"worker"`
			LogsCommand string `json:"logs_command"`
		} `json:"failure"`
	}
	if err := json.Unmarshal([]byte(out), &desc); err != nil || desc.Failure == nil {
		t.Fatalf("describe --format json: %v\n%s", err, out)
	}
	if f := desc.Failure; desc.State != "FAILED" || f.Reason != "map task 0 failed (2 attempts failed)" || f.LogFile != logFile ||
		!strings.HasSuffix(f.Message, "exited with status 1; its stderr ended with:\n\tmapper: cannot parse record 17\n\tTraceback: ValueError boom") ||
		f.Attempt != last.Id || f.Worker != last.Worker || f.LogsCommand != logsCmd[len("gomr "):] && f.LogsCommand != logsCmd {
		t.Errorf("failure %+v", f)
	}

	// A completed built-in step: every attempt has a syslog from start to
	// end, and an empty stderr.
	out, errOut, code = gomr(t, env, "step", "add", "--job", "wordcount", "--input", in, "--output", filepath.Join(dir, "counts"), "--reducers", "2", "--wait")
	if code != 0 {
		t.Fatalf("wordcount: exit %d: %s", code, errOut)
	}
	counted := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	done := c.Describe(counted)
	attempts := 0
	for _, task := range done.Tasks {
		for _, a := range task.Attempts {
			attempts++
			syslog, errOut, code := gomr(t, env, "step", "logs", counted, "--attempt", a.Id, "--stream", "syslog")
			if code != 0 || !strings.Contains(syslog, `msg="attempt started" attempt=`+a.Id) || !strings.Contains(syslog, `msg="input read" attempt=`+a.Id) ||
				!strings.Contains(syslog, `msg="task output committed" attempt=`+a.Id) || !strings.Contains(syslog, `msg="attempt succeeded" attempt=`+a.Id) {
				t.Errorf("syslog of %s: exit %d: %s\n%s", a.Id, code, errOut, syslog)
			}
			// On the worker's disk: its lines of the step's syslog.
			if b, err := os.ReadFile(filepath.Join(c.Dir(), a.Worker, "logs", counted, "syslog")); err != nil || !strings.Contains(string(b), "\n"+a.Id+" time=") && !strings.HasPrefix(string(b), a.Id+" time=") {
				t.Errorf("syslog of %s on %s: %v", a.Id, a.Worker, err)
			}
			stderr, _, code := gomr(t, env, "step", "logs", counted, "--attempt", a.Id)
			if code != 0 || len(logHeader.FindAllString(stderr, -1)) != 1 || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr of %s: exit %d: %q", a.Id, code, stderr)
			}
		}
	}
	if attempts != 3 {
		t.Errorf("%d attempts, want 1 map and 2 reduces", attempts)
	}
	// Without --task or --attempt, a step that did not fail prints every
	// attempt.
	if out, _, code := gomr(t, env, "step", "logs", counted, "--stream", "syslog"); code != 0 || len(logHeader.FindAllString(out, -1)) != attempts {
		t.Errorf("step logs of a completed step: exit %d:\n%s", code, out)
	}

	// Bad input.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"step", "logs", "s-NOSUCHSTEP"}, "s-NOSUCHSTEP"},
		{[]string{"step", "logs", failed, "--attempt", "attempt_" + failed + "_m_000000_7"}, "step " + failed + " has no attempt attempt_" + failed + "_m_000000_7"},
		{[]string{"step", "logs", failed, "--attempt", "../../etc"}, "has no attempt ../../etc"},
		{[]string{"step", "logs", failed, "--task", "r:5"}, "has no reduce task 5"},
		{[]string{"step", "logs", failed, "--task", "x5"}, `--task "x5": want m:N`},
		{[]string{"step", "logs", failed, "--stream", "../../secret"}, "not a valid name"},
		{[]string{"step", "logs", failed, "--stream", "stdout"}, `no log stream "stdout"`},
	} {
		_, errOut, code := gomr(t, env, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, want an error with %q: %s", tc.args, code, tc.want, errOut)
		}
	}

	// The worker refuses an attempt id that is a path, straight.
	node := c.Node(last.Worker)
	cc, err := grpc.NewClient(node.Addr(), c.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, attempt := range []string{"../" + last.Id, "../../" + last.Worker + ".log", last.Id + "/../" + last.Id} {
		if _, err := workerpb.NewLogsClient(cc).ListLogs(ctx, &workerpb.ListLogsRequest{StepId: failed, AttemptId: attempt}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("ListLogs of attempt %q: %v, want InvalidArgument", attempt, err)
		}
		s, err := workerpb.NewLogsClient(cc).ReadLog(ctx, &workerpb.ReadLogRequest{StepId: failed, AttemptId: attempt, Stream: "syslog"})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("ReadLog of attempt %q: %v, want InvalidArgument", attempt, err)
		}
	}

	// A worker that was stopped: the error names it.
	c.Stop(node)
	_, errOut, code = gomr(t, env, "step", "logs", failed)
	if code == 0 || !strings.Contains(errOut, "worker "+last.Worker+" at "+node.Addr()) || !strings.Contains(errOut, "does not answer") {
		t.Errorf("logs of a stopped worker: exit %d: %s", code, errOut)
	}
	// describe still gives the probable cause, and says why the log's
	// place is not known.
	out, _, code = gomr(t, env, "step", "describe", failed)
	if code != 0 || !strings.Contains(out, "Traceback: ValueError boom") || !strings.Contains(out, "(not reachable now: worker "+last.Worker) {
		t.Errorf("describe with the worker stopped: exit %d:\n%s", code, out)
	}
}
