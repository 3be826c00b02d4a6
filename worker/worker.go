package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/jobs/streaming"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/gossip"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker/workerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// Worker is a running worker node.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	lis     net.Listener
	grpc    *grpc.Server
	gossip  *gossip.Node
	primary *pb.Conn
	client  pb.WorkerClient
	peers   *pb.ConnCache
	tokens  *tokenCache // clients' tokens, checked with the primary (tokens.go)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	data *dataNode // the block store of a core worker (nil on a task worker)
	logs *logStore // the attempts' logs (logs.go)

	mu          sync.Mutex
	incarnation int64
	running     map[string]*attempt
	outputs     map[string]mapOutput // map attempt id -> its output (mapoutputs.go)
	memOutputs  int64                // bytes of the outputs held in memory
	// cachedOutputs is the bytes of the run files held that were written
	// through the page cache (writeBehind).
	cachedOutputs int64
	// limitSortBuffer is the sort buffer the soft memory limit was last
	// set for (memorylimit.go).
	limitSortBuffer int64
	free            int // slots free
	tinyFree        int // tiny slots free (for tiny map tasks, beside the slots)
	slotFreed       chan struct{}
	stopOnce        sync.Once
	auditMu         sync.Mutex
}

// attempt is one running attempt.
type attempt struct {
	spec        *pb.Assignment
	incarnation int64
	cancel      context.CancelFunc
	progress    mapreduce.Progress
	// lent is set while a reduce attempt waits for a lost map output to
	// be made again and has lent its slot to that map (see lendSlot).
	lent bool
	// tiny is set for an attempt of a tiny map task that runs in a tiny
	// slot, beside the slots.
	tiny bool
	// output is where the attempt writes the step's output (once set up).
	output mapreduce.TaskOutput
	// log writes to the attempt's syslog and to the worker's log, and
	// logDir is the attempt's log folder ("" if it could not be made);
	// both are set when the attempt starts running.
	log    *slog.Logger
	logDir string
}

// Start starts a worker: its shuffle service, its gossip member, its
// registration with the leader and its heartbeat and poll loops.
func Start(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", cfg.ID)
	// Streaming commands' stderr lines go to the worker's log (the
	// setting is the process's: in-process clusters share it).
	streaming.SetLogger(log.With("component", "streaming"))
	if cfg.FileSystems == nil {
		cfg.FileSystems = mapreduce.LocalFileSystems()
	}
	runAs, err := processRunAs(cfg.RunAs, log) // runas.go
	if err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	cfg.runAs = runAs
	// Map outputs of an earlier run of this worker belong to a dead
	// incarnation: nothing will ever fetch them.
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, "steps")); err != nil {
		return nil, fmt.Errorf("clear data dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "steps"), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	logs, err := openLogStore(filepath.Join(cfg.DataDir, LogsDir), cfg.LogRetentionBytes, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker{
		cfg: cfg, log: log, ctx: ctx, cancel: cancel,
		peers:       pb.NewConnCache(cfg.TLS.DialOption(), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20))),
		incarnation: time.Now().UnixNano(),
		running:     make(map[string]*attempt),
		outputs:     make(map[string]mapOutput),
		free:        cfg.Slots,
		tinyFree:    cfg.TinySlots,
		slotFreed:   make(chan struct{}, 1),
		logs:        logs,
	}
	ok := false
	defer func() {
		if !ok {
			w.close()
		}
	}()
	w.lis = cfg.Listener
	if w.lis == nil {
		if w.lis, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	if w.primary, err = pb.Dial(cfg.Join, cfg.TLS.DialOption()); err != nil {
		return nil, err
	}
	w.client = pb.NewWorkerClient(w.primary)
	w.tokens = newTokenCache(w.client)
	w.grpc = grpc.NewServer(append([]grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	}, cfg.TLS.ServerOptions(w.tokens)...)...)
	workerpb.RegisterShuffleServer(w.grpc, &shuffleServer{w: w})
	workerpb.RegisterLogsServer(w.grpc, &logsServer{w: w})
	if err := w.startDataNode(w.grpc); err != nil {
		return nil, err
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := w.grpc.Serve(w.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			log.Error("grpc server stopped", "err", err)
		}
	}()
	w.cfg.FileSystems = w.cfg.FileSystems.With("hdfs", client.New(client.Config{
		Primaries: w.primary, Dial: func(addr string) (grpc.ClientConnInterface, error) { return w.peers.Get(addr) },
		Worker: cfg.ID, Logger: log,
	}).FileSystem())
	w.gossip, err = gossip.Start(gossip.Config{Name: cfg.ID, Addr: cfg.GossipAddr, Meta: w.meta(), Fast: cfg.Fast, SecretKey: cfg.GossipKey, Logger: log})
	if err != nil {
		return nil, err
	}
	w.wg.Add(1)
	go func() { defer w.wg.Done(); w.joinGossip() }()
	if err := w.register(ctx); err != nil {
		return nil, err
	}
	w.wg.Add(2)
	go func() { defer w.wg.Done(); w.heartbeatLoop() }()
	go func() { defer w.wg.Done(); w.pollLoop() }()
	if err := writeAddresses(cfg.DataDir, Addresses{GRPC: w.Addr(), Gossip: w.gossip.Addr()}); err != nil {
		return nil, err
	}
	ok = true
	log.Info("worker started", "role", cfg.Role, "addr", w.Addr(), "gossip", w.gossip.Addr(), "slots", cfg.Slots)
	return w, nil
}

// Addr returns the address of the worker's gRPC (shuffle) service.
func (w *Worker) Addr() string { return w.lis.Addr().String() }

// ID returns the worker's id.
func (w *Worker) ID() string { return w.cfg.ID }

// Stop stops the worker gracefully: it leaves the gossip ring and stops
// its attempts; the leader re-runs them elsewhere.
func (w *Worker) Stop() {
	w.stopOnce.Do(func() {
		if w.gossip != nil {
			w.gossip.Leave(time.Second)
		}
		w.close()
	})
}

// Crash stops the worker the way a killed process stops: no goodbye to the
// gossip ring and no report of its attempts. Tests use it.
func (w *Worker) Crash() { w.stopOnce.Do(w.close) }

func (w *Worker) close() {
	w.cancel()
	if w.grpc != nil {
		w.grpc.Stop()
	} else if w.lis != nil {
		w.lis.Close()
	}
	if w.gossip != nil {
		w.gossip.Shutdown()
	}
	w.wg.Wait()
	w.closeDataNode()
	if w.primary != nil {
		w.primary.Close()
	}
	w.peers.Close()
}

// retryable reports whether a call failed for a reason that passes: no
// leader yet, a primary restarting, a timeout.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Unknown, codes.Canceled:
		return true
	}
	return false
}

// sleep waits d or until ctx ends, reporting whether it waited fully.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// AddressesFile is the file in a worker's data folder that names the
// addresses it serves on, written once it listens: a worker started on
// port 0 picks free ports, and whoever started it finds them there.
const AddressesFile = "addresses.json"

// Addresses are where a worker serves.
type Addresses struct {
	GRPC   string `json:"grpc"`
	Gossip string `json:"gossip"`
}

func writeAddresses(dir string, a Addresses) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+AddressesFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", AddressesFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, AddressesFile)); err != nil {
		return fmt.Errorf("write %s: %w", AddressesFile, err)
	}
	return nil
}
