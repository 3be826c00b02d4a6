package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

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

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	incarnation int64
	running     map[string]*attempt
	outputs     map[string]string // map attempt id -> run file
	free        int
	slotFreed   chan struct{}
	stopOnce    sync.Once
	auditMu     sync.Mutex
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
	// Map outputs of an earlier run of this worker belong to a dead
	// incarnation: nothing will ever fetch them.
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, "steps")); err != nil {
		return nil, fmt.Errorf("clear data dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "steps"), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker{
		cfg: cfg, log: log, ctx: ctx, cancel: cancel,
		peers:       pb.NewConnCache(grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8 << 20))),
		incarnation: time.Now().UnixNano(),
		running:     make(map[string]*attempt),
		outputs:     make(map[string]string),
		free:        cfg.Slots,
		slotFreed:   make(chan struct{}, 1),
	}
	ok := false
	defer func() {
		if !ok {
			w.close()
		}
	}()
	var err error
	w.lis = cfg.Listener
	if w.lis == nil {
		if w.lis, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	w.grpc = grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}))
	workerpb.RegisterShuffleServer(w.grpc, &shuffleServer{w: w})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := w.grpc.Serve(w.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			log.Error("grpc server stopped", "err", err)
		}
	}()
	if w.primary, err = pb.Dial(cfg.Join); err != nil {
		return nil, err
	}
	w.client = pb.NewWorkerClient(w.primary)
	w.gossip, err = gossip.Start(gossip.Config{Name: cfg.ID, Addr: cfg.GossipAddr, Meta: w.meta(), Fast: cfg.Fast, Logger: log})
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
	ok = true
	log.Info("worker started", "role", cfg.Role, "addr", w.Addr(), "gossip", w.gossip.Addr(), "slots", cfg.Slots)
	return w, nil
}

// Addr returns the address of the worker's gRPC (shuffle) service.
func (w *Worker) Addr() string { return w.lis.Addr().String() }

// ID returns the worker's id.
func (w *Worker) ID() string { return w.cfg.ID }

func (w *Worker) meta() gossip.Meta {
	return gossip.Meta{Kind: gossip.KindWorker, Role: w.cfg.Role, GRPCAddr: w.Addr(), Slots: w.cfg.Slots, Incarnation: w.currentIncarnation()}
}

func (w *Worker) currentIncarnation() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.incarnation
}

// joinGossip asks a primary for the gossip ring's addresses and joins it.
func (w *Worker) joinGossip() {
	for w.ctx.Err() == nil {
		resp, err := w.client.Join(w.ctx, &pb.JoinRequest{})
		if err == nil {
			w.primary.SetAddrs(resp.PrimaryAddresses)
			if err = w.gossip.Join(w.ctx, resp.GossipAddresses); err == nil {
				return
			}
		}
		w.log.Debug("join gossip", "err", err)
		sleep(w.ctx, 500*time.Millisecond)
	}
}

// register registers the current incarnation, retrying while the cluster
// has no leader.
func (w *Worker) register(ctx context.Context) error {
	for {
		w.mu.Lock()
		inc := w.incarnation
		w.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := w.client.Register(rctx, &pb.RegisterRequest{Worker: &pb.WorkerInfo{
			Id: w.cfg.ID, Incarnation: inc, Role: w.cfg.Role, Address: w.Addr(), Slots: int32(w.cfg.Slots),
		}})
		cancel()
		if err == nil {
			w.log.Info("registered", "incarnation", inc)
			return nil
		}
		if !retryable(err) {
			return fmt.Errorf("register worker %s: %w", w.cfg.ID, err)
		}
		w.log.Debug("register", "err", err)
		if !sleep(ctx, 300*time.Millisecond) {
			return fmt.Errorf("register worker %s: %w (last error: %v)", w.cfg.ID, ctx.Err(), err)
		}
	}
}

// reincarnate is called when the leader no longer knows this incarnation:
// every attempt and map output of it is void, so they are dropped and a new
// incarnation registers.
func (w *Worker) reincarnate() {
	w.mu.Lock()
	old := w.incarnation
	w.incarnation = max(time.Now().UnixNano(), old+1)
	for _, a := range w.running {
		a.cancel()
	}
	w.outputs = make(map[string]string)
	w.mu.Unlock()
	w.log.Warn("leader does not know this incarnation; starting a new one", "old", old)
	os.RemoveAll(filepath.Join(w.cfg.DataDir, "steps"))
	os.MkdirAll(filepath.Join(w.cfg.DataDir, "steps"), 0o755)
	if err := w.gossip.UpdateMeta(w.meta()); err != nil {
		w.log.Warn("update gossip metadata", "err", err)
	}
	if err := w.register(w.ctx); err != nil && w.ctx.Err() == nil {
		w.log.Error("re-register", "err", err)
	}
}

func (w *Worker) heartbeatLoop() {
	tick := time.NewTicker(w.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-tick.C:
		}
		w.heartbeat()
	}
}

func (w *Worker) heartbeat() {
	req := &pb.HeartbeatRequest{WorkerId: w.cfg.ID}
	w.mu.Lock()
	req.Incarnation = w.incarnation
	for id, a := range w.running {
		req.Running = append(req.Running, &pb.AttemptStatus{AttemptId: id, Progress: a.progress.Get(), Ticks: a.progress.Ticks()})
	}
	w.mu.Unlock()
	entries, _ := os.ReadDir(filepath.Join(w.cfg.DataDir, "steps"))
	for _, e := range entries {
		req.HeldSteps = append(req.HeldSteps, e.Name())
	}
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	resp, err := w.client.Heartbeat(ctx, req)
	if err != nil {
		if status.Code(err) == codes.Aborted {
			w.reincarnate()
			return
		}
		w.log.Debug("heartbeat", "err", err)
		return
	}
	w.primary.SetAddrs(resp.PrimaryAddresses)
	w.mu.Lock()
	for _, id := range resp.KillAttempts {
		if a, ok := w.running[id]; ok {
			w.log.Info("killing attempt", "attempt", id)
			a.cancel()
		}
	}
	w.mu.Unlock()
	for _, step := range resp.DoneSteps {
		w.dropStep(step)
	}
}

// dropStep deletes a finished step's map outputs.
func (w *Worker) dropStep(step string) {
	dir := filepath.Join(w.cfg.DataDir, "steps", step)
	w.mu.Lock()
	for id, path := range w.outputs {
		if filepath.Dir(filepath.Dir(path)) == dir {
			delete(w.outputs, id)
		}
	}
	w.mu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		w.log.Warn("drop step data", "step", step, "err", err)
	}
}

// pollLoop asks the leader for work whenever a slot is free.
func (w *Worker) pollLoop() {
	backoff := 100 * time.Millisecond
	for w.ctx.Err() == nil {
		w.mu.Lock()
		free, inc := w.free, w.incarnation
		w.mu.Unlock()
		if free == 0 {
			select {
			case <-w.ctx.Done():
				return
			case <-w.slotFreed:
			}
			continue
		}
		resp, err := w.client.PollTasks(w.ctx, &pb.PollTasksRequest{WorkerId: w.cfg.ID, Incarnation: inc, FreeSlots: int32(free)})
		if err != nil {
			if w.ctx.Err() != nil {
				return
			}
			if status.Code(err) == codes.Aborted {
				w.reincarnate()
				continue
			}
			w.log.Debug("poll tasks", "err", err)
			sleep(w.ctx, backoff)
			backoff = min(2*backoff, 500*time.Millisecond)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, as := range resp.Assignments {
			w.launch(as, inc)
		}
	}
}

// launch starts an attempt in a slot.
func (w *Worker) launch(spec *pb.Assignment, inc int64) {
	ctx, cancel := context.WithCancel(w.ctx)
	a := &attempt{spec: spec, incarnation: inc, cancel: cancel}
	w.mu.Lock()
	if inc != w.incarnation {
		w.mu.Unlock()
		cancel()
		return
	}
	w.running[spec.AttemptId] = a
	w.free--
	w.mu.Unlock()
	w.log.Debug("attempt started", "attempt", spec.AttemptId)
	w.audit("start", spec.AttemptId, "")
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		result := w.runAttempt(ctx, a)
		w.audit("end", spec.AttemptId, result)
		w.mu.Lock()
		delete(w.running, spec.AttemptId)
		if a.lent {
			a.lent = false
			w.free--
		}
		w.free++
		w.mu.Unlock()
		select {
		case w.slotFreed <- struct{}{}:
		default:
		}
	}()
}

// audit appends a line to the attempt log, if the worker keeps one:
// "EVENT ATTEMPT WORKER UNIX-NANOS [RESULT]".
func (w *Worker) audit(event, attempt, result string) {
	if w.cfg.AttemptLog == "" {
		return
	}
	line := fmt.Sprintf("%s %s %s %d %s\n", event, attempt, w.cfg.ID, time.Now().UnixNano(), result)
	w.auditMu.Lock()
	defer w.auditMu.Unlock()
	f, err := os.OpenFile(w.cfg.AttemptLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.log.Warn("attempt log", "err", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		w.log.Warn("attempt log", "err", err)
	}
}

// lendSlot frees the slot of a reduce attempt that waits for a lost map
// output to be made again: without it, reducers waiting for maps could
// hold every slot while the maps they wait for find none.
func (w *Worker) lendSlot(a *attempt) {
	w.mu.Lock()
	lent := !a.lent
	if lent {
		a.lent = true
		w.free++
	}
	w.mu.Unlock()
	if lent {
		select {
		case w.slotFreed <- struct{}{}:
		default:
		}
	}
}

// reclaimSlot takes back a slot lendSlot lent.
func (w *Worker) reclaimSlot(a *attempt) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a.lent {
		a.lent = false
		w.free--
	}
}

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
