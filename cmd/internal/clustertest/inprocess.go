package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/primary"
	"github.com/gomr/gomr/primary/faults"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
)

// InProcess runs clusters inside the test process, through localcluster.
type InProcess struct{}

func (InProcess) Name() string                          { return "in-process" }
func (InProcess) Start(t *testing.T, o Options) Cluster { return StartInProcess(t, o) }

// InProcessCluster is a cluster of primaries and workers running in the
// test process.
type InProcessCluster struct {
	base
	// LC is the local cluster (for Isolate, Heal, AddPrimary and the
	// primary.Server of each primary).
	LC        *localcluster.Cluster
	primaries []*localNode
	workers   []*localNode
}

// localNode is a node of an InProcessCluster; i is its index in the local
// cluster's Primaries or Workers.
type localNode struct {
	c       *InProcessCluster
	name    string
	role    string
	i       int
	primary bool
	addr    string
}

func (n *localNode) Name() string { return n.name }
func (n *localNode) Role() string { return n.role }
func (n *localNode) Addr() string { return n.addr }
func (n *localNode) Running() bool {
	if n.primary {
		return n.c.LC.Primaries[n.i] != nil
	}
	return n.c.LC.Workers[n.i] != nil
}

// Index is the node's index in the local cluster's Primaries or Workers.
func (n *localNode) Index() int { return n.i }

// StartInProcess starts a cluster inside the test process and stops it at
// the test's cleanup. If the test fails, every node's log is printed.
func StartInProcess(t testing.TB, o Options) *InProcessCluster {
	t.Helper()
	o = o.withDefaults()
	if len(o.WorkerFaultsOf) > 0 || len(o.WorkerEnvOf) > 0 || len(o.Env) > 0 || len(o.PrimaryArgs) > 0 || len(o.WorkerArgs) > 0 {
		t.Fatal("faults, variables or arguments of single nodes need a cluster of processes")
	}
	dir := t.TempDir()
	logs := newNodeLogs(t, filepath.Join(dir, "logs"))
	if spec := strings.Trim(o.PrimaryFaults+";"+o.WorkerFaults, ";"); spec != "" {
		ArmFaults(t, spec)
	}
	core, task := 0, 0
	for _, r := range o.Workers {
		switch r {
		case state.RoleCore:
			core++
		case state.RoleTask:
			task++
		default:
			t.Fatalf("unknown worker role %q", r)
		}
	}
	c := &InProcessCluster{}
	c.t, c.dir = t, dir
	c.attemptLog = filepath.Join(dir, "attempts.log")
	c.base.primaries = func() []Node { return nodes(c.primaries) }
	c.base.workers = func() []Node { return nodes(c.workers) }
	cfg := localcluster.Config{
		Primaries: o.Primaries, Core: core, Task: task, Slots: o.Slots,
		DataDir:       filepath.Join(dir, "data"),
		DataRoots:     dataRoots(filepath.Join(dir, "data")), // roots.go
		WorkerTimeout: o.WorkerTimeout,
		MinSplitSize:  o.MinSplitSize,
		Ephemeral:     o.Ephemeral,
		TLS:           o.secure(),
		TunePrimary: func(pc *primary.Config) {
			if o.TaskTimeout > 0 {
				pc.TaskTimeout = o.TaskTimeout
			}
			if o.MaxAttempts > 0 {
				pc.MaxAttempts = o.MaxAttempts
			}
			if o.SpeculationMinGap > 0 {
				pc.SpeculationMinGap = o.SpeculationMinGap
			}
			if o.TunePrimary != nil {
				o.TunePrimary(pc)
			}
		},
		TuneWorker: func(wc *worker.Config) {
			wc.AttemptLog, wc.MapOutputCodec = c.attemptLog, o.MapOutputCodec
			if o.TuneWorker != nil {
				o.TuneWorker(wc)
			}
		},
		Logger: logs.logger,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lc, err := localcluster.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lc.Stop)
	c.LC = lc
	c.clientTLS, c.clientFiles, c.peerTLS, c.clientToken = lc.ClientTLS(), lc.ClientTLSFiles(), lc.PrimaryTLS(0), lc.ClientToken()
	for i, p := range lc.Primaries {
		c.primaries = append(c.primaries, &localNode{c: c, name: p.ID(), role: RolePrimary, i: i, primary: true, addr: p.Addr()})
	}
	for i, w := range lc.Workers {
		role := state.RoleCore // localcluster starts the core workers first
		if i >= core {
			role = state.RoleTask
		}
		c.addWorkerNode(i, w, role)
	}
	c.dial()
	c.WaitHealthy()
	return c
}

func nodes(ns []*localNode) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}

func (c *InProcessCluster) addWorkerNode(i int, w *worker.Worker, role state.WorkerRole) *localNode {
	n := &localNode{c: c, name: w.ID(), role: string(role), i: i, addr: w.Addr()}
	c.workers = append(c.workers, n)
	return n
}

func (c *InProcessCluster) Runner() string { return "in-process" }

func (c *InProcessCluster) node(n Node) *localNode {
	c.t.Helper()
	ln, ok := n.(*localNode)
	if !ok || ln.c != c {
		c.t.Fatalf("%v is not a node of this cluster", n)
	}
	return ln
}

// Server returns a running primary's server.
func (c *InProcessCluster) Server(n Node) *primary.Server {
	ln := c.node(n)
	if !ln.primary || !ln.Running() {
		c.t.Fatalf("%s is not a running primary", n.Name())
	}
	return c.LC.Primaries[ln.i]
}

func (c *InProcessCluster) Kill(n Node) {
	c.t.Helper()
	ln := c.mustRun(n)
	if ln.primary {
		c.LC.CrashPrimary(ln.i)
	} else {
		c.LC.CrashWorker(ln.i)
	}
}

func (c *InProcessCluster) Stop(n Node) {
	c.t.Helper()
	ln := c.mustRun(n)
	if ln.primary {
		c.LC.StopPrimary(ln.i)
	} else {
		c.LC.StopWorker(ln.i)
	}
}

func (c *InProcessCluster) mustRun(n Node) *localNode {
	c.t.Helper()
	ln := c.node(n)
	if !ln.Running() {
		c.t.Fatalf("%s is not running", n.Name())
	}
	return ln
}

func (c *InProcessCluster) Restart(n Node) {
	c.t.Helper()
	ln := c.node(n)
	if ln.Running() {
		c.t.Fatalf("restart %s: it is running", n.Name())
	}
	var err error
	if ln.primary {
		err = c.LC.RestartPrimary(ln.i)
	} else {
		err = c.LC.RestartWorker(ln.i)
	}
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *InProcessCluster) AddWorker(role state.WorkerRole, id string) Node {
	c.t.Helper()
	w, err := c.LC.AddWorker(role, id)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.addWorkerNode(len(c.LC.Workers)-1, w, role)
}

// AddPrimary starts a primary that joins the running group (as a
// non-voter, promoted once caught up).
func (c *InProcessCluster) AddPrimary() Node {
	c.t.Helper()
	p, err := c.LC.AddPrimary()
	if err != nil {
		c.t.Fatal(err)
	}
	n := &localNode{c: c, name: p.ID(), role: RolePrimary, i: len(c.LC.Primaries) - 1, primary: true, addr: p.Addr()}
	c.primaries = append(c.primaries, n)
	return n
}

// faultsMu keeps tests that arm fault points in this process from
// running at the same time: the points are process-wide.
var faultsMu sync.Mutex

// ArmFaults arms fault points in the test process for the rest of the test
// and disarms them at cleanup. The points are process-wide: a test that
// arms any must not run in parallel with other tests (t.Parallel), and two
// that arm some wait for each other. An exit fault would end the test
// process, so it is refused.
func ArmFaults(t testing.TB, spec string) {
	t.Helper()
	if strings.Contains(spec, "=exit") {
		t.Fatalf("fault %q would end the test process: exit faults need a cluster of processes", spec)
	}
	faultsMu.Lock()
	seed := uint64(time.Now().UnixNano())
	if err := faults.Arm(spec, seed); err != nil {
		faultsMu.Unlock()
		t.Fatal(err)
	}
	t.Logf("fault points armed in-process: %s (seed %d)", spec, seed)
	t.Cleanup(func() {
		faults.Arm("", 0)
		faultsMu.Unlock()
	})
}

// nodeLogs keeps an in-process cluster's logs, one file per node (by
// the logger's "node" attribute), and prints each node's if the test
// fails.
type nodeLogs struct {
	mu     sync.Mutex
	dir    string
	files  map[string]*os.File
	order  []string
	closed bool
	logger *slog.Logger
}

func newNodeLogs(t testing.TB, dir string) *nodeLogs {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &nodeLogs{dir: dir, files: map[string]*os.File{}}
	l.logger = slog.New(&nodeHandler{logs: l})
	// Registered first, so that it runs last: after the cluster stopped.
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.closed = true
		for _, f := range l.files {
			f.Close()
		}
		if t.Failed() || showLogs {
			for _, n := range l.order {
				b, _ := os.ReadFile(filepath.Join(dir, n+".log"))
				t.Logf("---- log of %s ----\n%s", n, lastLines(strings.Split(strings.TrimRight(string(b), "\n"), "\n"), 80))
			}
		}
	})
	return l
}

func (l *nodeLogs) write(node string, p []byte) {
	if node == "" {
		node = "cluster"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	f := l.files[node]
	if f == nil {
		var err error
		if f, err = os.Create(filepath.Join(l.dir, filepath.Base(node)+".log")); err != nil {
			return
		}
		l.files[node] = f
		l.order = append(l.order, node)
	}
	f.Write(p)
}

// nodeHandler formats records as text and files them under the node
// named by the logger's "node" attribute.
type nodeHandler struct {
	logs *nodeLogs
	node string
	// with replays the logger's WithAttrs and WithGroup calls on a text
	// handler.
	with []func(slog.Handler) slog.Handler
}

func (h *nodeHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *nodeHandler) Handle(ctx context.Context, r slog.Record) error {
	var b bytes.Buffer
	var th slog.Handler = slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo})
	for _, w := range h.with {
		th = w(th)
	}
	if err := th.Handle(ctx, r); err != nil {
		return err
	}
	h.logs.write(h.node, b.Bytes())
	return nil
}

func (h *nodeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &nodeHandler{logs: h.logs, node: h.node, with: append(slices.Clip(h.with), func(th slog.Handler) slog.Handler { return th.WithAttrs(as) })}
	for _, a := range as {
		if a.Key == "node" {
			n.node = a.Value.String()
		}
	}
	return n
}

func (h *nodeHandler) WithGroup(name string) slog.Handler {
	return &nodeHandler{logs: h.logs, node: h.node, with: append(slices.Clip(h.with), func(th slog.Handler) slog.Handler { return th.WithGroup(name) })}
}

func lastLines(lines []string, n int) string {
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// String names a node in messages.
func (n *localNode) String() string { return fmt.Sprintf("%s (%s)", n.name, n.role) }
