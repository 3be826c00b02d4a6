package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// node is one gomr process of a test cluster, which can be killed and
// started again with the same arguments.
type node struct {
	name string
	args []string
	env  []string
	p    *proc
}

// procCluster is a cluster of real gomr processes on loopback.
type procCluster struct {
	t         *testing.T
	dir       string
	primaries []*node
	workers   []*node
	addrs     []string
	conn      *pb.Conn
	opts      clusterOpts
	// attemptLog is the file every worker appends attempt starts and ends
	// to.
	attemptLog string
}

// clusterOpts shapes a procCluster.
type clusterOpts struct {
	primaries  int
	workers    []string // roles
	primaryEnv []string
	workerEnv  []string
	// envOf adds environment variables to one worker, by name (core-1).
	envOf       map[string][]string
	primaryArgs []string
	workerArgs  []string
	slots       int
}

func startProcCluster(t *testing.T, o clusterOpts) *procCluster {
	t.Helper()
	c := &procCluster{t: t, dir: t.TempDir(), opts: o}
	c.attemptLog = filepath.Join(c.dir, "attempts.log")
	if o.slots == 0 {
		o.slots = 2
	}
	var peers []string
	type addrs struct{ grpc, raft, gossip string }
	var pa []addrs
	for i := range o.primaries {
		a := addrs{freeAddr(t), freeAddr(t), freeAddr(t)}
		pa = append(pa, a)
		peers = append(peers, fmt.Sprintf("p%d=%s", i+1, a.raft))
		c.addrs = append(c.addrs, a.grpc)
	}
	for i, a := range pa {
		id := fmt.Sprintf("p%d", i+1)
		c.primaries = append(c.primaries, &node{name: id, env: o.primaryEnv, args: []string{"primary",
			"--node-id", id, "--data-dir", filepath.Join(c.dir, id), "--addr", a.grpc, "--raft-addr", a.raft,
			"--gossip-addr", a.gossip, "--bootstrap", "--peers", strings.Join(peers, ","), "--worker-timeout", "5s", "--log-level", "debug", "--min-split-size", "1KiB"}})
		c.primaries[i].args = append(c.primaries[i].args, o.primaryArgs...)
	}
	counts := map[string]int{}
	for _, role := range o.workers {
		counts[role]++
		c.workers = append(c.workers, c.workerNode(role, fmt.Sprintf("%s-%d", role, counts[role])))
	}
	for _, n := range c.primaries {
		c.start(n)
	}
	for _, n := range c.workers {
		c.start(n)
	}
	conn, err := pb.Dial(c.addrs)
	if err != nil {
		t.Fatal(err)
	}
	c.conn = conn
	t.Cleanup(func() { conn.Close() })
	c.waitHealthy()
	return c
}

// workerNode describes a worker of the cluster.
func (c *procCluster) workerNode(role, id string) *node {
	env := append(slices.Clone(c.opts.workerEnv), c.opts.envOf[id]...)
	slots := c.opts.slots
	if slots == 0 {
		slots = 2
	}
	args := []string{"worker", "--id", id, "--role", role, "--join", c.addrs[0], "--addr", freeAddr(c.t), "--gossip-addr", freeAddr(c.t),
		"--data-dir", filepath.Join(c.dir, id), "--slots", fmt.Sprint(slots), "--heartbeat-interval", "500ms", "--log-level", "debug",
		"--attempt-log", c.attemptLog}
	return &node{name: id, env: env, args: append(args, c.opts.workerArgs...)}
}

// addWorker starts one more worker while the cluster runs.
func (c *procCluster) addWorker(role, id string) *node {
	n := c.workerNode(role, id)
	c.workers = append(c.workers, n)
	c.start(n)
	return n
}

func (c *procCluster) start(n *node) {
	c.t.Helper()
	n.p = startProc(c.t, n.name, n.env, n.args...)
}

// kill ends a node with SIGKILL.
func (c *procCluster) kill(n *node) {
	c.t.Helper()
	n.p.cmd.Process.Signal(syscall.SIGKILL)
	<-n.p.done
	n.p.done <- nil // let a later stop or cleanup find it ended
}

// stop ends a node with SIGTERM and expects a clean exit.
func (c *procCluster) stop(n *node) {
	c.t.Helper()
	n.p.stop(c.t)
	n.p.done <- nil
}

func (c *procCluster) client() pb.ClientClient { return pb.NewClientClient(c.conn) }

// retry calls fn, with a deadline per call, until it succeeds (the
// cluster may be between leaders) or patience runs out.
func retry[T any](c *procCluster, what string, patience, perCall time.Duration, fn func(ctx context.Context) (T, error)) T {
	c.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), perCall)
		v, err := fn(ctx)
		cancel()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodes lists the cluster's primaries and workers, retrying while it has no
// leader.
func (c *procCluster) nodes() *pb.ListNodesResponse {
	c.t.Helper()
	return retry(c, "list nodes", 30*time.Second, 3*time.Second, func(ctx context.Context) (*pb.ListNodesResponse, error) {
		return c.client().ListNodes(ctx, &pb.ListNodesRequest{})
	})
}

// leader returns the leading primary.
func (c *procCluster) leader() *node {
	c.t.Helper()
	id := c.nodes().Leader
	for _, n := range c.primaries {
		if n.name == id {
			return n
		}
	}
	c.t.Fatalf("leader %q is not one of the primaries", id)
	return nil
}

// waitHealthy waits until every primary is a voter that has applied the
// whole log and every worker is alive.
func (c *procCluster) waitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp := c.nodes()
		ok := len(resp.Primaries) == len(c.primaries)
		var commit uint64
		for _, p := range resp.Primaries {
			commit = max(commit, p.CommitIndex)
		}
		for _, p := range resp.Primaries {
			ok = ok && p.Voter && p.Error == "" && p.AppliedIndex+2 >= commit
		}
		alive := 0
		for _, w := range resp.Workers {
			if w.State.Value() == state.WorkerAlive {
				alive++
			}
		}
		if ok && alive == len(c.workers) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not healthy: %v", resp)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// describe returns a step (with tasks), retrying while there is no leader.
func (c *procCluster) describe(id string) *testStep {
	c.t.Helper()
	return retry(c, "describe "+id, 60*time.Second, 3*time.Second, func(ctx context.Context) (*testStep, error) {
		return describeWithTasks(ctx, c.client(), id)
	})
}

// testStep is a step with its tasks, as the tests inspect it.
type testStep struct {
	*pb.Step
	Tasks []*pb.Task
}

// describeWithTasks fetches a step and every page of its tasks.
func describeWithTasks(ctx context.Context, cl pb.ClientClient, id string) (*testStep, error) {
	d, err := cl.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
	if err != nil {
		return nil, err
	}
	st := &testStep{Step: d.Step}
	for token := ""; ; {
		resp, err := cl.ListTasks(ctx, &pb.ListTasksRequest{StepId: id, PageToken: token})
		if err != nil {
			return nil, err
		}
		st.Tasks = append(st.Tasks, resp.Tasks...)
		if token = resp.NextPageToken; token == "" {
			return st, nil
		}
	}
}

// submit submits a step, retrying (with the same client token) while there
// is no leader.
func (c *procCluster) submit(spec *pb.StepSpec) string {
	c.t.Helper()
	spec.ClientToken = fmt.Sprintf("%s-%d", c.t.Name(), time.Now().UnixNano())
	return retry(c, "submit", 30*time.Second, 10*time.Second, func(ctx context.Context) (string, error) {
		resp, err := c.client().SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
		return resp.GetStepId(), err
	})
}

// wait waits for a step to end.
func (c *procCluster) wait(id string) *testStep {
	c.t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		st := c.describe(id)
		if st.State.Value().Terminal() {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("step %s did not end: %s %s", id, st.State, st.Phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitUntil polls a step until cond holds.
func (c *procCluster) waitUntil(id string, what string, cond func(*testStep) bool) *testStep {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := c.describe(id)
		if cond(st) {
			return st
		}
		if st.State.Value().Terminal() || time.Now().After(deadline) {
			c.t.Fatalf("step %s never reached %s (now %s %s)", id, what, st.State, st.Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// digests returns each running primary's state digest and applied index.
func (c *procCluster) converged() bool {
	var digests []string
	for i, n := range c.primaries {
		if n.p == nil {
			continue
		}
		conn, err := pb.Dial([]string{c.addrs[i]})
		if err != nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := pb.NewPeerClient(conn).Status(ctx, &pb.StatusRequest{Digest: true})
		cancel()
		conn.Close()
		if err != nil {
			return false
		}
		digests = append(digests, fmt.Sprintf("%d/%s", st.AppliedIndex, st.StateDigest))
	}
	return len(slices.Compact(digests)) == 1
}

func (c *procCluster) waitConverged() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !c.converged() {
		if time.Now().After(deadline) {
			c.t.Fatal("primaries did not converge on one state")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// bigInput writes generated text and returns its folder and the reference
// output of a word count with the given reducers, made by the sequential
// runner (the cluster's output must equal it byte for byte).
func bigInput(t *testing.T, files int, size int64, reducers int) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "input")
	os.MkdirAll(dir, 0o755)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("text-%d.txt", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs.WriteSampleText(f, size, uint64(100+i)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	def, _ := jobs.Lookup("wordcount")
	job, _ := def.Build(nil)
	fl, err := mapreduce.ListInputs(context.Background(), mapreduce.LocalFileSystems(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	splits, _ := mapreduce.PlanSplits(fl, 1<<30)
	ref := filepath.Join(t.TempDir(), "reference")
	if _, err := mapreduce.RunSequential(context.Background(), job, splits, mapreduce.SequentialOptions{Reducers: reducers, Output: ref}); err != nil {
		t.Fatal(err)
	}
	return dir, ref
}

// checkOutput compares a committed output with the reference, file by
// file, byte for byte.
func checkOutput(t *testing.T, out, ref string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, mapreduce.SuccessFile)); err != nil {
		t.Fatalf("no _SUCCESS: %v", err)
	}
	same, diff, err := sameOutput(ref, out)
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Fatalf("output differs from an undisturbed run: %s", diff)
	}
}

// checkCounted checks that a step's counters count every record once.
func checkCounted(t *testing.T, st *testStep, ref string) {
	t.Helper()
	var words int64
	parts, _ := partFiles(ref)
	for _, p := range parts {
		b, _ := os.ReadFile(p)
		words += int64(strings.Count(string(b), "\n"))
	}
	var refManifest mapreduce.Manifest
	b, _ := os.ReadFile(filepath.Join(ref, mapreduce.SuccessFile))
	jsonUnmarshal(t, b, &refManifest)
	for _, k := range []string{"MAP_INPUT_RECORDS", "MAP_INPUT_BYTES", "MAP_OUTPUT_RECORDS", "REDUCE_OUTPUT_RECORDS"} {
		if st.Counters[k] != refManifest.Counters[k] {
			t.Errorf("counter %s = %d, want %d (counted twice or lost)", k, st.Counters[k], refManifest.Counters[k])
		}
	}
	if st.Counters["REDUCE_OUTPUT_RECORDS"] != words {
		t.Errorf("REDUCE_OUTPUT_RECORDS %d, want %d", st.Counters["REDUCE_OUTPUT_RECORDS"], words)
	}
}

// attemptEvent is a line of the workers' attempt log.
type attemptEvent struct {
	event, attempt, worker string
	at                     time.Time
	result                 string
}

// attemptEvents reads the attempt log.
func (c *procCluster) attemptEvents() []attemptEvent {
	c.t.Helper()
	b, err := os.ReadFile(c.attemptLog)
	if err != nil && !os.IsNotExist(err) {
		c.t.Fatal(err)
	}
	var out []attemptEvent
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		var ns int64
		fmt.Sscan(f[3], &ns)
		ev := attemptEvent{event: f[0], attempt: f[1], worker: f[2], at: time.Unix(0, ns)}
		if len(f) > 4 {
			ev.result = f[4]
		}
		out = append(out, ev)
	}
	return out
}

// taskOf returns the task an attempt id belongs to: attempt_S_m_000003_1
// gives "m_000003".
func taskOf(attempt string) string {
	parts := strings.Split(attempt, "_")
	if len(parts) < 4 {
		return attempt
	}
	return parts[len(parts)-3] + "_" + parts[len(parts)-2]
}

// superviseWorkers restarts every worker that exits while the test runs
// (workers crash on purpose in fault tests), each time with a new fault
// seed. It returns a function that stops supervising and reports how many
// restarts happened.
func (c *procCluster) superviseWorkers(seed uint64) func() int {
	done := make(chan struct{})
	var mu sync.Mutex
	restarts := 0
	var wg sync.WaitGroup
	for i, n := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 1; ; start++ {
				select {
				case <-done:
					return
				case <-n.p.done:
				}
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				restarts++
				mu.Unlock()
				env := append(slices.Clone(n.env), fmt.Sprintf("GOMR_FAULT_SEED=%d", seed*1000+uint64(i*100+start)))
				n.p = startProc(c.t, fmt.Sprintf("%s-run%d", n.name, start), env, n.args...)
			}
		}()
	}
	return func() int {
		close(done)
		wg.Wait()
		return restarts
	}
}
