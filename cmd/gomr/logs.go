package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
	"github.com/gomr/gomr/worker/workerpb"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Attempts' logs stay on the workers that ran them (DATA-DIR/logs, see
// package worker); the primaries know where each attempt ran, so
// "gomr step logs" asks a primary for the step's attempts and the
// workers' addresses, then reads each log from its worker's Logs service.

// workerLogTimeout bounds each call to a worker's Logs service.
const workerLogTimeout = 10 * time.Second

// causeLines is how many of the failing attempt's last error lines the
// probable cause quotes.
const causeLines = 20

func newStepLogsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs STEP-ID [--task m:N|r:N] [--attempt ATTEMPT-ID] [--stream stderr|syslog]",
		Short: "Print the logs of a step's attempts, read from the workers that ran them",
		Long: `Print an attempt's log, as EMR keeps each task attempt's stderr and syslog.
Each worker keeps the logs of the attempts it ran after they end, under
DATA-DIR/logs/STEP-ID/ATTEMPT-ID/ (within its --log-retention):

    stderr   a streaming command's stderr (and what a built-in job writes there)
    syslog   the attempt's own log lines: its start, input read, output
             committed, its end and error

--stream also takes one file of that folder (mapper.stderr, combiner.stderr,
reducer.stderr). Without --attempt, a failed step prints the last attempt
of the task that failed it; --task m:3 (map 3) or r:0 (reduce 0) prints
every attempt of that task; otherwise every attempt of the step is printed.
Each attempt starts with a header line:

    ==> attempt_s-..._m_000003_1 (map task 3, FAILED, on core-1) stderr <==`,
		Args: cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			f := x.cmd.Flags()
			taskFlag, _ := f.GetString("task")
			attemptFlag, _ := f.GetString("attempt")
			stream, _ := f.GetString("stream")
			return stepLogs(x.cmd.Context(), x.c, x.cmd.OutOrStdout(), x.cmd.ErrOrStderr(), x.args[0], taskFlag, attemptFlag, stream)
		}),
	}
	addClusterFlag(cmd)
	cmd.Flags().String("task", "", "the task whose attempts to print: m:N (map N) or r:N (reduce N)")
	cmd.Flags().String("attempt", "", "the attempt to print (an id of gomr step describe --tasks)")
	cmd.Flags().String("stream", worker.StderrName, "which log: stderr, syslog, or a file of the attempt's log folder (mapper.stderr)")
	return cmd
}

// taskAttempt is one attempt with its task.
type taskAttempt struct {
	task    *pb.Task
	attempt *pb.Attempt
}

// taskLabel names a task as the commands print it: map task 3.
func taskLabel(t *pb.Task) string {
	if t.Kind.Value() == state.KindReduce {
		return fmt.Sprintf("reduce task %d", t.Index)
	}
	return fmt.Sprintf("map task %d", t.Index)
}

// parseTask parses --task: m:3, r:0 (map:3 and reduce:0 too).
func parseTask(s string) (state.TaskKind, int32, error) {
	kind, n, ok := strings.Cut(strings.TrimSpace(s), ":")
	i, err := strconv.ParseInt(n, 10, 32)
	if !ok || err != nil || i < 0 {
		return "", 0, fmt.Errorf("--task %q: want m:N (map task N) or r:N (reduce task N)", s)
	}
	switch strings.ToLower(kind) {
	case "m", "map":
		return state.KindMap, int32(i), nil
	case "r", "reduce":
		return state.KindReduce, int32(i), nil
	}
	return "", 0, fmt.Errorf("--task %q: want m:N (map task N) or r:N (reduce task N)", s)
}

// failingAttempt returns the last failed attempt of the first task that
// failed, if any.
func failingAttempt(tasks []*pb.Task) (taskAttempt, bool) {
	for _, t := range tasks {
		if t.State.Value() != state.TaskFailed {
			continue
		}
		for i := len(t.Attempts) - 1; i >= 0; i-- {
			if t.Attempts[i].State.Value() == state.AttemptFailed {
				return taskAttempt{t, t.Attempts[i]}, true
			}
		}
	}
	return taskAttempt{}, false
}

// selectAttempts picks the attempts step logs prints (see its help).
func selectAttempts(st *pb.Step, tasks []*pb.Task, taskFlag, attemptFlag string) ([]taskAttempt, error) {
	var all []taskAttempt
	for _, t := range tasks {
		for _, a := range t.Attempts {
			all = append(all, taskAttempt{t, a})
		}
	}
	if attemptFlag != "" {
		for _, ta := range all {
			if ta.attempt.Id == attemptFlag {
				if taskFlag != "" {
					if k, i, err := parseTask(taskFlag); err != nil {
						return nil, err
					} else if ta.task.Kind.Value() != k || ta.task.Index != i {
						return nil, fmt.Errorf("attempt %s is an attempt of %s, not of --task %s", attemptFlag, taskLabel(ta.task), taskFlag)
					}
				}
				return []taskAttempt{ta}, nil
			}
		}
		return nil, fmt.Errorf("step %s has no attempt %s (gomr step describe %s --tasks lists its attempts)", st.Id, attemptFlag, st.Id)
	}
	if taskFlag != "" {
		k, i, err := parseTask(taskFlag)
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			if t.Kind.Value() == k && t.Index == i {
				var out []taskAttempt
				for _, a := range t.Attempts {
					out = append(out, taskAttempt{t, a})
				}
				if len(out) == 0 {
					return nil, fmt.Errorf("%s of step %s has not run yet: it has no logs", taskLabel(t), st.Id)
				}
				return out, nil
			}
		}
		return nil, fmt.Errorf("step %s has no %s (it has %d maps and %d reduces)", st.Id, strings.ToLower(string(k))+" task "+strconv.Itoa(int(i)), st.MapsTotal, st.ReducesTotal)
	}
	if st.State.Value() == state.StepFailed {
		if ta, ok := failingAttempt(tasks); ok {
			return []taskAttempt{ta}, nil
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("step %s (%s) has run no attempt: it has no logs", st.Id, st.State.Value())
	}
	return all, nil
}

// workerLogs reads logs from the workers of a cluster.
type workerLogs struct {
	c     *clusterClient
	nodes map[string]*pb.Node
	conns *pb.ConnCache
}

func newWorkerLogs(ctx context.Context, c *clusterClient) (*workerLogs, error) {
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	resp, err := c.ListNodes(cctx, &pb.ListNodesRequest{})
	if err != nil {
		return nil, c.explain(err)
	}
	wl := &workerLogs{c: c, nodes: map[string]*pb.Node{}, conns: pb.NewConnCache(c.dialOptions()...)}
	for _, n := range resp.Workers {
		wl.nodes[n.Id] = n
	}
	return wl, nil
}

func (wl *workerLogs) Close() { wl.conns.Close() }

// client returns the Logs service of the worker that ran an attempt.
func (wl *workerLogs) client(a *pb.Attempt) (workerpb.LogsClient, *pb.Node, error) {
	n, ok := wl.nodes[a.Worker]
	if !ok || n.Address == "" {
		return nil, nil, fmt.Errorf("attempt %s ran on worker %s, which the cluster no longer lists: its logs cannot be read through the cluster", a.Id, a.Worker)
	}
	cc, err := wl.conns.Get(n.Address)
	if err != nil {
		return nil, n, fmt.Errorf("worker %s at %s: %w", n.Id, n.Address, err)
	}
	return workerpb.NewLogsClient(cc), n, nil
}

// explain turns a worker's error into a message that names it.
func (wl *workerLogs) explain(n *pb.Node, a *pb.Attempt, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("worker %s: %w", a.Worker, err)
	}
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		step := path.Join(worker.LogsDir, stepOfAttempt(a.Id))
		return fmt.Errorf("worker %s at %s (%s) does not answer, so the logs of attempt %s cannot be read (they stay in its data folder: its lines of %s, starting with its id, and %s): %s",
			n.Id, n.Address, n.State.Value(), a.Id, path.Join(step, worker.SyslogName), path.Join(step, a.Id), st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("worker %s at %s serves no logs (an older gomr): %s", n.Id, n.Address, st.Message())
	}
	return fmt.Errorf("worker %s: %s", n.Id, st.Message())
}

// stepOfAttempt returns the step id in an attempt id
// (attempt_STEP_m_000003_1).
func stepOfAttempt(id string) string {
	rest, _ := strings.CutPrefix(id, "attempt_")
	for range 3 {
		if i := strings.LastIndexByte(rest, '_'); i > 0 {
			rest = rest[:i]
		}
	}
	return rest
}

// list lists an attempt's log files.
func (wl *workerLogs) list(ctx context.Context, step string, a *pb.Attempt) (*workerpb.ListLogsResponse, *pb.Node, error) {
	lc, n, err := wl.client(a)
	if err != nil {
		return nil, n, err
	}
	ctx, cancel := context.WithTimeout(ctx, workerLogTimeout)
	defer cancel()
	resp, err := lc.ListLogs(ctx, &workerpb.ListLogsRequest{StepId: step, AttemptId: a.Id})
	if err != nil {
		return nil, n, wl.explain(n, a, err)
	}
	return resp, n, nil
}

// copy writes one of an attempt's log streams to w.
func (wl *workerLogs) copy(ctx context.Context, w io.Writer, step string, a *pb.Attempt, stream string) error {
	lc, n, err := wl.client(a)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, workerLogTimeout)
	defer cancel()
	s, err := lc.ReadLog(ctx, &workerpb.ReadLogRequest{StepId: step, AttemptId: a.Id, Stream: stream})
	if err != nil {
		return wl.explain(n, a, err)
	}
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return wl.explain(n, a, err)
		}
		if _, err := w.Write(chunk.Data); err != nil {
			return err
		}
	}
}

// stepLogs prints the logs step logs asks for. An attempt whose logs
// cannot be read is reported on errw and the others are still printed;
// the first such error is returned.
func stepLogs(ctx context.Context, c *clusterClient, out, errw io.Writer, id, taskFlag, attemptFlag, stream string) error {
	if stream == "" {
		return fmt.Errorf("--stream: want stderr, syslog or a file of the attempt's log folder")
	}
	cctx, cancel := c.callCtx(ctx)
	resp, err := c.DescribeStep(cctx, &pb.DescribeStepRequest{StepId: id})
	cancel()
	if err != nil {
		return c.explain(err)
	}
	tasks, err := listTasks(ctx, c, id)
	if err != nil {
		return err
	}
	picked, err := selectAttempts(resp.Step, tasks, taskFlag, attemptFlag)
	if err != nil {
		return err
	}
	wl, err := newWorkerLogs(ctx, c)
	if err != nil {
		return err
	}
	defer wl.Close()
	var first error
	lw := &lineEnder{w: out}
	for _, ta := range picked {
		a := ta.attempt
		if lw.open {
			fmt.Fprintln(lw)
		}
		fmt.Fprintf(lw, "==> %s (%s, %s, on %s) %s <==\n", a.Id, taskLabel(ta.task), a.State.Value(), a.Worker, stream)
		if err := wl.copy(ctx, lw, id, a, stream); err != nil {
			if len(picked) > 1 {
				fmt.Fprintln(errw, "gomr:", err)
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// lineEnder passes writes on and remembers whether the last ended a line,
// so that the next header starts on a line of its own.
type lineEnder struct {
	w    io.Writer
	open bool
}

func (l *lineEnder) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.open = p[len(p)-1] != '\n'
	}
	return l.w.Write(p)
}

// stepFailure is the probable cause of a failed step: the error of the
// attempt that failed it, and where its log is.
type stepFailure struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// LogFile is the attempt's log on its worker: the stderr file its
	// error came from, or its syslog.
	LogFile string `json:"log_file,omitempty"`
	Task    string `json:"task,omitempty"`
	Attempt string `json:"attempt,omitempty"`
	Worker  string `json:"worker,omitempty"`
	// LogsCommand prints the log.
	LogsCommand string `json:"logs_command,omitempty"`
	// LogError says why the log's location is not known (the worker does
	// not answer).
	LogError string `json:"log_error,omitempty"`
}

// probableCause works out why a failed step failed (nil for any other
// step): the last lines of the failing attempt's error, and where its
// full log is, asked of its worker. It needs the step's tasks, and lists
// them unless given.
func probableCause(ctx context.Context, c *clusterClient, st *pb.Step, tasks []*pb.Task) *stepFailure {
	if st.State.Value() != state.StepFailed {
		return nil
	}
	if tasks == nil {
		var err error
		if tasks, err = listTasks(ctx, c, st.Id); err != nil {
			return &stepFailure{Reason: "step failed", Message: st.Error, LogError: err.Error()}
		}
	}
	ta, ok := failingAttempt(tasks)
	if !ok {
		// The step failed outside its tasks: planning its input,
		// committing its output.
		return &stepFailure{Reason: "step failed", Message: st.Error}
	}
	a := ta.attempt
	f := &stepFailure{
		Reason:  fmt.Sprintf("%s failed (%d attempts failed)", taskLabel(ta.task), failures(ta.task)),
		Message: lastLines(a.Error, causeLines),
		Task:    fmt.Sprintf("%c:%d", strings.ToLower(string(ta.task.Kind.Value()))[0], ta.task.Index),
		Attempt: a.Id,
		Worker:  a.Worker,
	}
	stream := worker.StderrName
	wl, err := newWorkerLogs(ctx, c)
	if err == nil {
		defer wl.Close()
		var files *workerpb.ListLogsResponse
		if files, _, err = wl.list(ctx, st.Id, a); err == nil {
			name := causeFile(files.Files, a.Error)
			if name == worker.SyslogName {
				stream = worker.SyslogName
			}
			f.LogFile = path.Join(files.Dir, name)
		}
	}
	if err != nil {
		f.LogError = err.Error()
	}
	f.LogsCommand = fmt.Sprintf("gomr step logs %s --attempt %s --stream %s", st.Id, a.Id, stream)
	return f
}

// failures counts a task's failed attempts.
func failures(t *pb.Task) int {
	n := 0
	for _, a := range t.Attempts {
		if a.State.Value() == state.AttemptFailed {
			n++
		}
	}
	return n
}

// causeFile picks the log file of an attempt that holds its failure: the
// stderr of the command its error names (mapper command "..."), else the
// first stderr file with anything in it, else its syslog.
func causeFile(files []*workerpb.LogFile, errText string) string {
	size := map[string]int64{}
	for _, f := range files {
		size[f.Name] = f.Size
	}
	for _, role := range []string{"mapper", "combiner", "reducer"} {
		if name := role + ".stderr"; strings.HasPrefix(errText, role+" command") && size[name] > 0 {
			return name
		}
	}
	for _, f := range files {
		if (f.Name == worker.StderrName || strings.HasSuffix(f.Name, ".stderr")) && f.Size > 0 {
			return f.Name
		}
	}
	return worker.SyslogName
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = slices.Clone(lines[len(lines)-n:])
	}
	return strings.Join(lines, "\n")
}

// printFailure prints the probable cause of a failed step, as text.
func printFailure(w io.Writer, f *stepFailure) {
	if f == nil {
		return
	}
	fmt.Fprintln(w, "Probable cause:")
	if f.Attempt != "" {
		fmt.Fprintf(w, "  %s: attempt %s on %s:\n", f.Reason, f.Attempt, f.Worker)
	} else {
		fmt.Fprintf(w, "  %s:\n", f.Reason)
	}
	for l := range strings.SplitSeq(f.Message, "\n") {
		if rest, ok := strings.CutPrefix(l, "\t"); ok {
			l = "    " + rest // a command's stderr line, quoted in the error
		}
		fmt.Fprintf(w, "    %s\n", l)
	}
	if f.LogsCommand == "" {
		return
	}
	fmt.Fprintf(w, "  Full log: %s\n", f.LogsCommand)
	switch {
	case f.LogFile != "":
		fmt.Fprintf(w, "            (on worker %s: %s)\n", f.Worker, f.LogFile)
	case f.LogError != "":
		fmt.Fprintf(w, "            (not reachable now: %s)\n", f.LogError)
	}
}

// pointer is what a failed step's error adds: where its probable cause
// and log are.
func (f *stepFailure) pointer() string {
	if f == nil || f.LogsCommand == "" {
		return ""
	}
	return fmt.Sprintf("\nthe log of the failing attempt %s: %s", f.Attempt, f.LogsCommand)
}

// jsonStepFailure is a step as --format json prints it with the probable
// cause of its failure.
type jsonStepFailure struct {
	jsonStep
	Failure *stepFailure `json:"failure,omitempty"`
}

// printStepFailure prints a step as printStep does, then the probable
// cause of its failure, if any (f, from probableCause).
func printStepFailure(w io.Writer, st *pb.Step, tasks []*pb.Task, f *stepFailure, format string) error {
	if format == "json" {
		return printJSON(w, jsonStepFailure{jsonStep: stepJSON(st, tasks), Failure: f})
	}
	if err := printStep(w, st, tasks, format); err != nil {
		return err
	}
	printFailure(w, f)
	return nil
}
