// Package clustertest is the test harness of gomr's cluster tests: it
// starts a cluster of primaries and workers either inside the test process
// (through localcluster, primary.Start and worker.Start) or as real gomr
// processes, behind one interface, so that a scenario is written once and
// run on both. It also holds what the cluster tests share: waits on the
// cluster's state, generated inputs with their sequential reference
// output, output checks, oracles, the workers' attempt log and the
// supervision of workers that crash on purpose.
//
// Every wait polls a condition until a deadline; nothing sleeps a fixed
// time to let the cluster get somewhere. Every node binds port 0 on its
// first start and the harness reads its addresses from the addresses file
// in its data folder; a node restarts on the addresses it had. When a test
// fails, every node's log is printed.
package clustertest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gomr/gomr/primary"
	"github.com/gomr/gomr/primary/mtls"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
)

// Cluster is a running test cluster. Its methods fail the test that
// started it when something does not happen in time.
type Cluster interface {
	// Runner names how the cluster runs ("in-process" or "processes").
	Runner() string
	// Dir is the cluster's folder: nodes' data, logs, the attempt log.
	Dir() string
	// Client is a connection to every primary (round robin; any primary
	// forwards to the leader).
	Client() pb.ClientClient
	// Addrs are the primaries' client addresses.
	Addrs() []string
	Primaries() []Node
	Workers() []Node
	// Node returns the primary or worker of that name, or nil.
	Node(name string) Node
	// Leader waits for a leader and returns it.
	Leader() Node
	// Nodes lists the cluster's members, retrying while it has no leader.
	Nodes() *pb.ListNodesResponse
	// WaitHealthy waits until every primary is a voter that has applied
	// the whole log and every running worker is ALIVE.
	WaitHealthy()
	// WaitConverged waits until every running primary has applied the same
	// log and holds the same state (Peer.Status with its digest).
	WaitConverged()
	// Submit submits a step, retrying with the same client token while
	// there is no leader.
	Submit(spec *pb.StepSpec) string
	// Describe returns a step and every page of its tasks.
	Describe(id string) *Step
	// Wait waits until the step ends.
	Wait(id string) *Step
	// WaitUntil polls the step until cond holds; it fails the test if the
	// step ends first.
	WaitUntil(id, what string, cond func(*Step) bool) *Step
	// Kill stops a node without a clean shutdown: SIGKILL for a process,
	// Crash in-process.
	Kill(n Node)
	// Stop stops a node gracefully: SIGTERM for a process (which must exit
	// cleanly), Stop in-process.
	Stop(n Node)
	// Restart starts a stopped node again from its data folder, on the
	// addresses it had.
	Restart(n Node)
	// AddWorker starts one more worker while the cluster runs.
	AddWorker(role state.WorkerRole, id string) Node
	// AttemptEvents reads the workers' attempt log.
	AttemptEvents() []AttemptEvent
	// ClientTLS is the client identity of a cluster started with
	// TLS (nil with Options.Plaintext), ClientTLSFiles its files and
	// ClientToken the cluster's admin token (GOMR_TOKEN).
	ClientTLS() *mtls.Identity
	ClientTLSFiles() mtls.Files
	ClientToken() string
	// Env is what a gomr client command needs in its environment to
	// reach the cluster: GOMR_CLUSTER and, with TLS, the client
	// certificate and token.
	Env() []string
}

// Node is one primary or worker of a Cluster.
type Node interface {
	Name() string
	// Role is "primary", "core" or "task".
	Role() string
	// Addr is the node's gRPC address.
	Addr() string
	// Running reports whether the node was started and not stopped since.
	Running() bool
}

// Step is a step with its tasks, as the tests inspect it.
type Step struct {
	*pb.Step
	Tasks []*pb.Task
}

// Runner starts clusters one way.
type Runner interface {
	Name() string
	Start(t *testing.T, o Options) Cluster
}

// RolePrimary is a primary's Node.Role.
const RolePrimary = "primary"

// Options shape a test cluster. Zero values pick the defaults given.
type Options struct {
	// Primaries is the size of the Raft group (1).
	Primaries int
	// Workers are the workers' roles, named core-1, core-2, task-1 ...
	// in order (one core worker).
	Workers []state.WorkerRole
	// Slots per worker (2).
	Slots int
	// PrimaryFaults and WorkerFaults arm fault points (GOMR_FAULTS syntax)
	// on the primaries and on the workers. In-process both are armed for
	// the whole test process (the points are of one role each), and a
	// test that arms any must not run in parallel with others.
	PrimaryFaults, WorkerFaults string
	// WorkerFaultsOf arms fault points on single workers, by name; only
	// processes can do that. Worker processes with fault points run every
	// map in a slot (--tiny-slots 0).
	WorkerFaultsOf map[string]string
	// WorkerEnvOf adds environment variables to single workers, by name
	// (GOMR_FAULT_SEED...); processes only.
	WorkerEnvOf map[string][]string
	// Env adds environment variables to every process, primaries and
	// workers (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_S3...); a variable of
	// WorkerEnvOf wins over one of Env. Processes only.
	Env []string
	// TaskTimeout, MaxAttempts and SpeculationMinGap override the
	// primaries' defaults when set.
	TaskTimeout       time.Duration
	MaxAttempts       int
	SpeculationMinGap time.Duration
	// WorkerTimeout is the primaries' heartbeat timeout (5s).
	WorkerTimeout time.Duration
	// MinSplitSize is the smallest split a step may ask for (1 KiB).
	MinSplitSize int64
	// PrimaryArgs and WorkerArgs are more command-line arguments of the
	// processes; processes only.
	PrimaryArgs, WorkerArgs []string
	// MapOutputCodec is the workers' --map-output-codec ("": none).
	MapOutputCodec string
	// TunePrimary adjusts each primary's configuration; in-process only.
	TunePrimary func(*primary.Config)
	// TuneWorker adjusts each worker's configuration; in-process only.
	TuneWorker func(*worker.Config)
	// Ephemeral: Stop cancels the steps left and removes their partial
	// output (localcluster.Config.Ephemeral); in-process only.
	Ephemeral bool
	// Plaintext runs the cluster without TLS, gossip encryption and
	// tokens. By default a test cluster is secured as gomr local runs
	// one: mutual TLS on every connection, an encrypted gossip ring and
	// an admin token, and the harness's own calls use a client
	// certificate and the token (ClientTLS, ClientToken) and, where they
	// speak as the cluster, a primary's certificate (PeerDialOptions).
	Plaintext bool
}

// TLSEnv, set to 0, runs every test cluster in plaintext (Options.Plaintext).
const TLSEnv = "GOMR_TEST_TLS"

// secure reports whether the cluster runs with TLS and tokens.
func (o Options) secure() bool { return !o.Plaintext }

func (o Options) withDefaults() Options {
	if os.Getenv(TLSEnv) == "0" {
		o.Plaintext = true
	}
	if o.Primaries == 0 {
		o.Primaries = 1
	}
	if o.Workers == nil {
		o.Workers = []state.WorkerRole{state.RoleCore}
	}
	if o.Slots == 0 {
		o.Slots = 2
	}
	if o.WorkerTimeout == 0 {
		o.WorkerTimeout = 5 * time.Second
	}
	if o.MinSplitSize == 0 {
		o.MinSplitSize = 1 << 10
	}
	return o
}

// workerNames names the workers of o: core-1, core-2, task-1...
func (o Options) workerNames() []string {
	counts := map[state.WorkerRole]int{}
	var names []string
	for _, role := range o.Workers {
		counts[role]++
		names = append(names, fmt.Sprintf("%s-%d", role, counts[role]))
	}
	return names
}

// Roles is a shorthand for Options.Workers: Roles("core", "core", "task").
func Roles(roles ...string) []state.WorkerRole {
	var out []state.WorkerRole
	for _, r := range roles {
		out = append(out, state.WorkerRole(r))
	}
	return out
}

// Patience of the waits.
const (
	healthyPatience  = 60 * time.Second
	convergePatience = 30 * time.Second
	leaderPatience   = 30 * time.Second
	stepPatience     = 4 * time.Minute
	untilPatience    = 2 * time.Minute
)

// base implements what both runners do the same way, through the client
// API.
type base struct {
	t    testing.TB
	dir  string
	conn *pb.Conn
	// nodes returns the primaries and workers (the runner's own lists).
	primaries func() []Node
	workers   func() []Node
	// attemptLog is the file every worker appends its attempts to.
	attemptLog string
	// clientTLS and peerTLS are the identities the harness calls a TLS
	// cluster with (nil: plaintext); clientFiles are the client's files.
	clientTLS, peerTLS *mtls.Identity
	clientFiles        mtls.Files
	clientToken        string
}

func (b *base) Dir() string             { return b.dir }
func (b *base) Client() pb.ClientClient { return pb.NewClientClient(b.conn) }
func (b *base) Primaries() []Node       { return b.primaries() }
func (b *base) Workers() []Node         { return b.workers() }

func (b *base) Addrs() []string {
	var out []string
	for _, n := range b.primaries() {
		out = append(out, n.Addr())
	}
	return out
}

func (b *base) Node(name string) Node {
	for _, n := range append(b.primaries(), b.workers()...) {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// dial connects to the primaries; the connection closes at cleanup.
func (b *base) dial() {
	b.t.Helper()
	conn, err := pb.Dial(b.Addrs(), b.DialOptions()...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.conn = conn
	b.t.Cleanup(func() { conn.Close() })
}

// retry calls fn, with a deadline per call, until it succeeds (the cluster
// may be between leaders) or patience runs out.
func retry[T any](t testing.TB, what string, patience, perCall time.Duration, fn func(ctx context.Context) (T, error)) T {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), perCall)
		v, err := fn(ctx)
		cancel()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *base) Nodes() *pb.ListNodesResponse {
	b.t.Helper()
	return retry(b.t, "list nodes", 30*time.Second, 3*time.Second, func(ctx context.Context) (*pb.ListNodesResponse, error) {
		return b.Client().ListNodes(ctx, &pb.ListNodesRequest{})
	})
}

func (b *base) Leader() Node {
	b.t.Helper()
	var last string
	deadline := time.Now().Add(leaderPatience)
	for {
		id := b.Nodes().Leader
		for _, n := range b.primaries() {
			if n.Name() == id && n.Running() {
				return n
			}
		}
		if id != "" {
			last = id
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no running primary leads (the cluster names %q)", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *base) WaitHealthy() {
	b.t.Helper()
	deadline := time.Now().Add(healthyPatience)
	for {
		resp := b.Nodes()
		ok, why := healthy(resp, b.primaries(), b.workers())
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("cluster not healthy (%s): %v", why, resp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthy reports whether every primary is a caught-up voter and every
// running worker is ALIVE, and if not, why.
func healthy(resp *pb.ListNodesResponse, primaries, workers []Node) (bool, string) {
	if len(resp.Primaries) != len(primaries) {
		return false, fmt.Sprintf("%d primaries in the group, want %d", len(resp.Primaries), len(primaries))
	}
	var commit uint64
	for _, p := range resp.Primaries {
		commit = max(commit, p.CommitIndex)
	}
	for _, p := range resp.Primaries {
		if !p.Voter || p.Error != "" || p.AppliedIndex+2 < commit {
			return false, fmt.Sprintf("primary %s: voter %t, applied %d of %d, error %q", p.Id, p.Voter, p.AppliedIndex, commit, p.Error)
		}
	}
	alive := map[string]bool{}
	for _, w := range resp.Workers {
		alive[w.Id] = w.State.Value() == state.WorkerAlive
	}
	for _, n := range workers {
		if n.Running() && !alive[n.Name()] {
			return false, "worker " + n.Name() + " is not ALIVE"
		}
	}
	return true, ""
}

// Status asks one primary of a plaintext cluster for its Raft status and
// state digest.
func Status(ctx context.Context, addr string) (*pb.Primary, error) {
	return StatusTLS(ctx, addr, nil)
}

func (b *base) WaitConverged() {
	b.t.Helper()
	deadline := time.Now().Add(convergePatience)
	for {
		var digests []string
		var applied []uint64
		var err error
		for _, n := range b.primaries() {
			if !n.Running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			var st *pb.Primary
			st, err = b.status(ctx, n.Addr())
			cancel()
			if err != nil {
				err = fmt.Errorf("status of %s: %w", n.Name(), err)
				break
			}
			digests = append(digests, st.StateDigest)
			applied = append(applied, st.AppliedIndex)
		}
		if err == nil && len(slices.Compact(slices.Clone(digests))) == 1 && len(slices.Compact(slices.Clone(applied))) == 1 {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("primaries did not converge on one state: applied %v, digests %v (%v)", applied, digests, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *base) Submit(spec *pb.StepSpec) string {
	b.t.Helper()
	if spec.ClientToken == "" {
		spec.ClientToken = fmt.Sprintf("%s-%d", b.t.Name(), time.Now().UnixNano())
	}
	return retry(b.t, "submit", 30*time.Second, 10*time.Second, func(ctx context.Context) (string, error) {
		resp, err := b.Client().SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
		return resp.GetStepId(), err
	})
}

func (b *base) Describe(id string) *Step {
	b.t.Helper()
	return retry(b.t, "describe "+id, 60*time.Second, 3*time.Second, func(ctx context.Context) (*Step, error) {
		return DescribeWithTasks(ctx, b.Client(), id)
	})
}

func (b *base) Wait(id string) *Step {
	b.t.Helper()
	deadline := time.Now().Add(stepPatience)
	for {
		// The step alone while it runs (cheap for the leader), with its
		// tasks once it ended.
		st := retry(b.t, "describe "+id, 60*time.Second, 3*time.Second, func(ctx context.Context) (*pb.DescribeStepResponse, error) {
			return b.Client().DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
		}).Step
		if st.State.Value().Terminal() {
			return b.Describe(id)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("step %s did not end in %s: %s %s", id, stepPatience, st.State, st.Phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *base) WaitUntil(id, what string, cond func(*Step) bool) *Step {
	b.t.Helper()
	deadline := time.Now().Add(untilPatience)
	for {
		st := b.Describe(id)
		if cond(st) {
			return st
		}
		if st.State.Value().Terminal() || time.Now().After(deadline) {
			b.t.Fatalf("step %s never reached %s (now %s %s, maps %d/%d, reduces %d/%d)", id, what, st.State, st.Phase, st.MapsDone, st.MapsTotal, st.ReducesDone, st.ReducesTotal)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *base) AttemptEvents() []AttemptEvent {
	b.t.Helper()
	evs, err := ReadAttemptLog(b.attemptLog)
	if err != nil {
		b.t.Fatal(err)
	}
	return evs
}

// showLogs prints every node's log at the end of every test, not only of
// failed ones: set CLUSTERTEST_LOGS=1 (with go test -v) to see them.
var showLogs = os.Getenv("CLUSTERTEST_LOGS") != ""
