package clustertest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomr/gomr/primary"
	"github.com/gomr/gomr/primary/pki"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
)

// Processes runs clusters of real gomr processes on loopback.
type Processes struct {
	// Binary is the gomr binary to run.
	Binary string
}

func (Processes) Name() string                            { return "processes" }
func (p Processes) Start(t *testing.T, o Options) Cluster { return StartProcesses(t, p.Binary, o) }

// ProcessCluster is a cluster of gomr processes.
type ProcessCluster struct {
	base
	bin       string
	o         Options
	primaries []*procNode
	workers   []*procNode
	mu        sync.Mutex // guards the node lists
	// pki issues the nodes' certificates (nil with Options.Plaintext).
	pki *testPKI
}

// procNode is one gomr process of a cluster, started again on the same
// addresses after a kill or a stop.
type procNode struct {
	c       *ProcessCluster
	name    string
	role    string
	dataDir string
	// args are its arguments but for its addresses.
	args []string
	env  []string

	mu sync.Mutex
	p  *Process
	// grpc, raft and gossip are its addresses: 127.0.0.1:0 until it
	// first started, then those it picked.
	grpc, raft, gossip string
	runs               int
}

func (n *procNode) Name() string { return n.name }
func (n *procNode) Role() string { return n.role }
func (n *procNode) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.grpc
}
func (n *procNode) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.p != nil && n.p.Running()
}
func (n *procNode) String() string { return fmt.Sprintf("%s (%s)", n.name, n.role) }

// Process returns the node's current process (nil before it started).
func (n *procNode) Process() *Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.p
}

const anyPort = "127.0.0.1:0"

// StartProcesses starts a cluster of gomr processes from the binary bin:
// the first primary bootstraps a group of one, the others join it through
// its gRPC address (the leader promotes them to voters once caught up),
// then the workers join through every primary. Every node binds port 0;
// the harness reads where it listens from its addresses file. It returns
// once the cluster is healthy.
func StartProcesses(t testing.TB, bin string, o Options) *ProcessCluster {
	t.Helper()
	o = o.withDefaults()
	c := &ProcessCluster{bin: bin, o: o}
	c.t, c.dir = t, t.TempDir()
	c.attemptLog = filepath.Join(c.dir, "attempts.log")
	c.base.primaries = func() []Node {
		c.mu.Lock()
		defer c.mu.Unlock()
		return procNodes(c.primaries)
	}
	c.base.workers = func() []Node {
		c.mu.Lock()
		defer c.mu.Unlock()
		return procNodes(c.workers)
	}
	if o.secure() {
		c.pki = newTestPKI(t, filepath.Join(c.dir, "tls"))
		c.clientFiles = c.pki.issue(t, pki.RoleClient, "harness-client")
		c.clientTLS = load(t, c.clientFiles)
		c.peerTLS = load(t, c.pki.issue(t, pki.RolePrimary, "harness-primary"))
	}
	c.primaries = []*procNode{c.primaryNode(1)}
	if err := c.launch(c.primaries[0]); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= o.Primaries; i++ {
		c.primaries = append(c.primaries, c.primaryNode(i))
	}
	if err := launchAll(c, c.primaries[1:]); err != nil {
		t.Fatal(err)
	}
	if o.secure() {
		c.bootstrapToken(t)
	}
	for i, id := range o.workerNames() {
		c.workers = append(c.workers, c.workerNode(string(o.Workers[i]), id))
	}
	if err := launchAll(c, c.workers); err != nil {
		t.Fatal(err)
	}
	c.dial()
	c.WaitHealthy()
	return c
}

func procNodes(ns []*procNode) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}

// launchAll starts nodes at once.
func launchAll(c *ProcessCluster, ns []*procNode) error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Go(func() { errs[i] = c.launch(n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *ProcessCluster) primaryNode(i int) *procNode {
	id := fmt.Sprintf("primary-%d", i)
	n := &procNode{c: c, name: id, role: RolePrimary, dataDir: filepath.Join(c.dir, id), grpc: anyPort, raft: anyPort, gossip: anyPort}
	n.args = []string{"primary", "--node-id", id, "--data-dir", n.dataDir,
		"--worker-timeout", c.o.WorkerTimeout.String(), "--log-level", "debug", "--min-split-size", strconv.FormatInt(c.o.MinSplitSize, 10)}
	if i == 1 {
		n.args = append(n.args, "--bootstrap")
	} else {
		// Ignored once it has Raft state (a restart).
		n.args = append(n.args, "--join", c.primaries[0].Addr())
	}
	if o := c.o; o.TaskTimeout > 0 {
		n.args = append(n.args, "--task-timeout", o.TaskTimeout.String())
	}
	if c.o.MaxAttempts > 0 {
		n.args = append(n.args, "--max-attempts", strconv.Itoa(c.o.MaxAttempts))
	}
	if c.o.SpeculationMinGap > 0 {
		n.args = append(n.args, "--speculation-min-gap", c.o.SpeculationMinGap.String())
	}
	if c.pki != nil {
		n.args = append(n.args, c.pki.nodeArgs(c.t, pki.RolePrimary, id)...)
	}
	n.args = append(n.args, c.o.PrimaryArgs...)
	n.env = slices.Clone(c.o.Env)
	if c.o.PrimaryFaults != "" {
		n.env = append(n.env, "GOMR_FAULTS="+c.o.PrimaryFaults)
	}
	return n
}

func (c *ProcessCluster) workerNode(role, id string) *procNode {
	n := &procNode{c: c, name: id, role: role, dataDir: filepath.Join(c.dir, id), grpc: anyPort, gossip: anyPort}
	n.args = []string{"worker", "--id", id, "--role", role, "--join", strings.Join(c.Addrs(), ","),
		"--data-dir", n.dataDir, "--slots", strconv.Itoa(c.o.Slots), "--heartbeat-interval", "500ms", "--log-level", "debug",
		"--attempt-log", c.attemptLog}
	if c.o.MapOutputCodec != "" {
		n.args = append(n.args, "--map-output-codec", c.o.MapOutputCodec)
	}
	if c.pki != nil {
		n.args = append(n.args, c.pki.nodeArgs(c.t, pki.RoleWorker, id)...)
	}
	if c.o.WorkerFaults != "" || len(c.o.WorkerFaultsOf) > 0 {
		// Slowed or crashing maps run in slots only: the scenarios'
		// timing (a step still running after each restart) counts on the
		// slots' pace, and tiny slots would run small splits three times
		// as wide.
		n.args = append(n.args, "--tiny-slots", "0")
	}
	n.args = append(n.args, c.o.WorkerArgs...)
	n.env = slices.Clone(c.o.Env)
	if c.o.WorkerFaults != "" {
		n.env = append(n.env, "GOMR_FAULTS="+c.o.WorkerFaults)
	}
	if f, ok := c.o.WorkerFaultsOf[id]; ok {
		n.env = append(n.env, "GOMR_FAULTS="+f) // the last one counts
	}
	n.env = append(n.env, c.o.WorkerEnvOf[id]...)
	return n
}

// restartPatience bounds how long a restart tries again while one of the
// node's addresses is taken.
const restartPatience = 30 * time.Second

// launch starts a node's process, with extra environment variables, and
// waits until it has written its addresses file. A node that ran before
// comes back on the addresses it had (the Raft group and the gossip ring
// know it there); if the port was given to another socket in the meantime,
// the start fails and is tried again for a while.
func (c *ProcessCluster) launch(n *procNode, extraEnv ...string) error {
	deadline := time.Now().Add(restartPatience)
	for {
		n.mu.Lock()
		n.runs++
		run := n.runs
		args := slices.Clone(n.args)
		args = append(args, "--addr", n.grpc, "--gossip-addr", n.gossip)
		if n.role == RolePrimary {
			args = append(args, "--raft-addr", n.raft)
		}
		n.mu.Unlock()
		name := n.name
		if run > 1 {
			name = fmt.Sprintf("%s-run%d", n.name, run)
		}
		file := filepath.Join(n.dataDir, primary.AddressesFile)
		if n.role != RolePrimary {
			file = filepath.Join(n.dataDir, worker.AddressesFile)
		}
		if err := removeIfExists(file); err != nil {
			return err
		}
		p, err := StartProcess(c.t, c.bin, name, filepath.Join(c.dir, name+".log"), append(slices.Clone(n.env), extraEnv...), args...)
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.p = p
		n.mu.Unlock()
		var a struct{ GRPC, Raft, Gossip string }
		err = waitAddresses(p, file, &a)
		if err == nil {
			n.mu.Lock()
			defer n.mu.Unlock()
			if n.grpc != anyPort && (a.GRPC != n.grpc || a.Gossip != n.gossip || a.Raft != n.raft) {
				return fmt.Errorf("%s came back on %+v, not on its addresses %s %s %s", name, a, n.grpc, n.raft, n.gossip)
			}
			n.grpc, n.raft, n.gossip = a.GRPC, a.Raft, a.Gossip
			return nil
		}
		p.Kill()
		if !errors.Is(err, errExited) || !addrInUse(p) || time.Now().After(deadline) {
			return fmt.Errorf("start %s: %w", name, err)
		}
		c.t.Logf("%s: an address is taken, starting it again", name)
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *ProcessCluster) Runner() string { return "processes" }

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (c *ProcessCluster) node(n Node) *procNode {
	c.t.Helper()
	pn, ok := n.(*procNode)
	if !ok || pn.c != c {
		c.t.Fatalf("%v is not a node of this cluster", n)
	}
	return pn
}

func (c *ProcessCluster) running(n Node) *Process {
	c.t.Helper()
	pn := c.node(n)
	p := pn.Process()
	if p == nil || !p.Running() {
		c.t.Fatalf("%s is not running", n.Name())
	}
	return p
}

// Kill ends a node's process with SIGKILL.
func (c *ProcessCluster) Kill(n Node) {
	c.t.Helper()
	c.running(n).Kill()
}

// Stop ends a node's process with SIGTERM and expects a clean exit.
func (c *ProcessCluster) Stop(n Node) {
	c.t.Helper()
	c.running(n).Stop(c.t)
}

// Restart starts a node's process again.
func (c *ProcessCluster) Restart(n Node) {
	c.t.Helper()
	pn := c.node(n)
	if pn.Running() {
		c.t.Fatalf("restart %s: it is running", n.Name())
	}
	if err := c.launch(pn); err != nil {
		c.t.Fatal(err)
	}
}

// Freeze stops a node's process with SIGSTOP: it is neither dead nor
// alive until Thaw.
func (c *ProcessCluster) Freeze(n Node) {
	c.t.Helper()
	c.running(n).Signal(syscall.SIGSTOP)
}

// Thaw resumes a process stopped by Freeze (SIGCONT).
func (c *ProcessCluster) Thaw(n Node) {
	c.t.Helper()
	c.running(n).Signal(syscall.SIGCONT)
}

func (c *ProcessCluster) AddWorker(role state.WorkerRole, id string) Node {
	c.t.Helper()
	n := c.workerNode(string(role), id)
	c.mu.Lock()
	c.workers = append(c.workers, n)
	c.mu.Unlock()
	if err := c.launch(n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// SuperviseWorkers restarts every worker that exits while the test runs
// (workers crash on purpose in fault tests), each time with a new fault
// seed and the variables env (which override the worker's own). It
// returns a function that stops supervising and reports how many restarts
// happened.
func (c *ProcessCluster) SuperviseWorkers(seed uint64, env ...string) (stop func() int) {
	done := make(chan struct{})
	// The test's context ends before its cleanups kill the processes: a
	// test that fails before stop must not see them started again.
	ended := c.t.Context().Done()
	var mu sync.Mutex
	restarts := 0
	var wg sync.WaitGroup
	for i, n := range c.workers {
		wg.Go(func() {
			for start := 1; ; start++ {
				select {
				case <-done:
					return
				case <-ended:
					return
				case <-n.Process().Exited():
				}
				select {
				case <-done:
					return
				case <-ended:
					return
				default:
				}
				mu.Lock()
				restarts++
				mu.Unlock()
				if err := c.launch(n, append(slices.Clone(env), fmt.Sprintf("GOMR_FAULT_SEED=%d", seed*1000+uint64(i*100+start)))...); err != nil {
					select {
					case <-ended: // killed by the cleanups meanwhile
					default:
						c.t.Errorf("restart %s: %v", n.name, err)
					}
					return
				}
			}
		})
	}
	var once sync.Once
	stop = func() int {
		once.Do(func() { close(done) })
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return restarts
	}
	c.t.Cleanup(func() { stop() })
	return stop
}
