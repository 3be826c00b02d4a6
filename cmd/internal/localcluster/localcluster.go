// Package localcluster runs a whole gomr cluster inside one process, on
// loopback: primaries forming a Raft group, core workers and task workers,
// each started through the same Start functions a real node uses. It backs
// `gomr local`, `gomr run`, `gomr bench` and the tests.
package localcluster

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gomr/gomr/cmd/internal/s3local"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/mapreduce/s3"
	"github.com/gomr/gomr/primary"
	"github.com/gomr/gomr/primary/pki"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultAddr is the address `gomr local` serves clients on, and the
// address every client command uses when given none.
const DefaultAddr = "127.0.0.1:7400"

// Config configures a local cluster.
type Config struct {
	Primaries int
	Core      int
	Task      int
	// Slots per worker (number of CPUs when 0).
	Slots int
	// DataDir holds every node's data, one folder per node.
	DataDir string
	// Addr is the first primary's client address; "" picks free ports
	// for everything. With a fixed port P, primary i (from 0) serves
	// clients on P+i and Raft on P+100+i, so a cluster restarted from the
	// same DataDir finds its Raft group again, and its status page on
	// P+300+i.
	Addr string
	// WorkerTimeout overrides the primaries' heartbeat timeout when set.
	WorkerTimeout time.Duration
	// StepConcurrency overrides how many steps run at once when set.
	StepConcurrency int
	// MinSplitSize overrides the primaries' smallest split size when set.
	MinSplitSize int64
	// Ephemeral marks a cluster whose data goes when it stops: Stop then
	// cancels its steps that have not ended and removes their partial
	// output first, so that nothing is left behind.
	Ephemeral bool
	// TunePrimary, if set, adjusts each primary's configuration (tests
	// use it for snapshot thresholds).
	TunePrimary func(*primary.Config)
	// TuneWorker, if set, adjusts each worker's configuration (tests use
	// it for the attempt log).
	TuneWorker func(*worker.Config)
	// S3, when set, is where s3:// paths go (the user's S3 or S3-compatible
	// service). Without it the cluster starts an embedded endpoint of its
	// own on loopback (s3local), with its objects in S3Dir.
	S3 *s3.Config
	// DataRoots are the folders steps may read and write (see
	// primary.Config.DataRoots); empty means DefaultDataRoots.
	DataRoots []string
	// S3Dir holds the embedded endpoint's objects (default DataDir/s3).
	S3Dir string
	// S3Addr is the embedded endpoint's address (default: with a fixed
	// Addr port P, P+200 on its host, so that a restarted cluster keeps
	// its endpoint; else a free port on loopback).
	S3Addr string
	// TLS makes every connection of the cluster mutual TLS and encrypts
	// its gossip: a CA kept in DataDir/tls issues a certificate for each
	// node and one for the client (ClientTLS, ClientTLSFiles).
	TLS    bool
	Logger *slog.Logger
}

// Cluster is a running local cluster.
type Cluster struct {
	Primaries []*primary.Server
	Workers   []*worker.Worker
	cfg       Config
	// primaryCfgs and workerCfgs keep what is needed to restart a node
	// on the addresses it had.
	primaryCfgs []primary.Config
	workerCfgs  []worker.Config
	// cuts are the primaries' Raft network switches (Isolate, Heal).
	cuts     []*atomic.Bool
	stopOnce sync.Once
	// s3 is the embedded S3 endpoint (nil when Config.S3 is set), fss
	// what every node reads and writes.
	s3  *s3local.Server
	fss *mapreduce.FileSystems
	// pki issues the nodes' certificates of a TLS cluster (nil without).
	pki *clusterPKI
}

// S3 returns the embedded S3 endpoint, or nil when the cluster uses the
// S3 service of Config.S3.
func (c *Cluster) S3() *s3local.Server { return c.s3 }

// startS3 starts the embedded S3 endpoint unless the configuration names
// a service, and makes the file systems every node uses.
func (c *Cluster) startS3(ctx context.Context) error {
	cfg := c.cfg.S3
	if cfg == nil {
		dir := cmp.Or(c.cfg.S3Dir, filepath.Join(c.cfg.DataDir, "s3"))
		keys, err := s3Keys(dir)
		if err != nil {
			return err
		}
		addr := c.cfg.S3Addr
		if addr == "" && c.cfg.Addr != "" {
			if host, port, err := net.SplitHostPort(c.cfg.Addr); err == nil {
				if p, err := strconv.Atoi(port); err == nil && p > 0 && p+200 <= 65535 {
					addr = net.JoinHostPort(host, strconv.Itoa(p+200))
				}
			}
		}
		srv, err := s3local.Start(s3local.Config{Dir: dir, Addr: addr, AccessKey: keys.AccessKey, SecretKey: keys.SecretKey, Logger: c.cfg.Logger})
		if err != nil {
			return err
		}
		c.s3 = srv
		sc := srv.S3Config()
		sc.Logger = c.cfg.Logger
		cfg = &sc
	}
	fs, err := s3.New(ctx, *cfg)
	if err != nil {
		return fmt.Errorf("s3:// file system: %w", err)
	}
	c.fss = mapreduce.LocalFileSystems().With("s3", fs)
	return nil
}

// s3KeysFile, in the embedded endpoint's folder, keeps its key pair, so
// that a cluster restarted from its data folder takes the same
// credentials.
const s3KeysFile = "credentials.json"

type s3KeyPair struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// s3Keys returns the key pair kept in dir, making one the first time.
func s3Keys(dir string) (s3KeyPair, error) {
	var k s3KeyPair
	file := filepath.Join(dir, s3KeysFile)
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &k); err != nil || k.AccessKey == "" || k.SecretKey == "" {
			return k, fmt.Errorf("embedded S3 credentials %s: not a key pair", file)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return k, fmt.Errorf("embedded S3 credentials: %w", err)
	}
	k = s3KeyPair{AccessKey: "GOMRLOCAL" + rand.Text()[:12], SecretKey: rand.Text() + rand.Text()}
	b, _ := json.Marshal(k)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return k, fmt.Errorf("embedded S3 folder: %w", err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return k, fmt.Errorf("embedded S3 credentials: %w", err)
	}
	return k, nil
}

// Start starts the primaries, waits for a leader, then starts the workers.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Primaries < 1 {
		return nil, fmt.Errorf("local cluster needs at least one primary, got %d", cfg.Primaries)
	}
	if cfg.Core < 0 || cfg.Task < 0 || cfg.Core+cfg.Task < 1 {
		return nil, fmt.Errorf("local cluster needs at least one worker, got %d core and %d task", cfg.Core, cfg.Task)
	}
	if cfg.Slots == 0 {
		cfg.Slots = runtime.NumCPU()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	c := &Cluster{cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if err := c.startS3(ctx); err != nil {
		return nil, err
	}
	if cfg.TLS {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		var err error
		if c.pki, err = newClusterPKI(cfg.DataDir, host, cfg.Logger); err != nil {
			return nil, err
		}
	}
	// Bind every primary's ports first: each needs the others' Raft
	// addresses to bootstrap the group.
	var peers []string
	for i := range cfg.Primaries {
		addr, raftAddr, err := primaryAddrs(cfg.Addr, i)
		if err != nil {
			return nil, err
		}
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("primary %d: listen on %s: %w", i+1, addr, err)
		}
		rlis, err := net.Listen("tcp", raftAddr)
		if err != nil {
			lis.Close()
			return nil, fmt.Errorf("primary %d: listen for raft on %s: %w", i+1, raftAddr, err)
		}
		id := fmt.Sprintf("primary-%d", i+1)
		pc := primary.DefaultConfig()
		pc.NodeID = id
		pc.DataDir = filepath.Join(cfg.DataDir, id)
		pc.Addr = lis.Addr().String()
		pc.RaftAddr = rlis.Addr().String()
		pc.GossipAddr = "127.0.0.1:0"
		pc.HTTPAddr = primaryHTTPAddr(cfg.Addr, i)
		pc.Listener, pc.RaftListener = lis, rlis
		pc.Fast = true
		pc.Logger = cfg.Logger
		pc.FileSystems = c.fss
		pc.DataRoots = c.dataRoots() // roots.go
		if cfg.WorkerTimeout > 0 {
			pc.WorkerTimeout = cfg.WorkerTimeout
		}
		if cfg.StepConcurrency > 0 {
			pc.StepConcurrency = cfg.StepConcurrency
		}
		if cfg.MinSplitSize > 0 {
			pc.MinSplitSize = cfg.MinSplitSize
		}
		pc.RaftCut = new(atomic.Bool)
		c.cuts = append(c.cuts, pc.RaftCut)
		if pc.TLS, err = c.nodeIdentity(pki.RolePrimary, id); err != nil {
			lis.Close()
			rlis.Close()
			return nil, err
		}
		pc.GossipKey = c.GossipKey()
		if cfg.TunePrimary != nil {
			cfg.TunePrimary(&pc)
		}
		peers = append(peers, id+"="+pc.RaftAddr)
		c.primaryCfgs = append(c.primaryCfgs, pc)
	}
	for i := range c.primaryCfgs {
		c.primaryCfgs[i].Peers = peers
		p, err := primary.Start(c.primaryCfgs[i])
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", c.primaryCfgs[i].NodeID, err)
		}
		c.Primaries = append(c.Primaries, p)
		c.started(&c.primaryCfgs[i], p)
	}
	if _, err := c.WaitForLeader(ctx); err != nil {
		return nil, err
	}
	if err := c.waitAnnounced(ctx); err != nil {
		return nil, err
	}
	if err := c.pki.adminToken(ctx, c.Addrs()); err != nil {
		return nil, err
	}
	for i := range cfg.Core + cfg.Task {
		role, n := state.RoleCore, i+1
		if i >= cfg.Core {
			role, n = state.RoleTask, i-cfg.Core+1
		}
		if _, err := c.AddWorker(role, fmt.Sprintf("%s-%d", role, n)); err != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

// started records where a primary that started listens, for a restart
// on the same addresses; its listeners are used up.
func (c *Cluster) started(pc *primary.Config, p *primary.Server) {
	pc.Addr, pc.RaftAddr, pc.GossipAddr = p.Addr(), p.RaftAddr(), p.GossipAddr()
	pc.HTTPAddr = p.HTTPAddr()
	pc.Listener, pc.RaftListener = nil, nil
}

// primaryHTTPAddr returns the status page address of primary i: port
// P+300+i of a fixed base address (7700 for 7400), else a free port.
func primaryHTTPAddr(base string, i int) string {
	host, portStr, err := net.SplitHostPort(base)
	if port, perr := strconv.Atoi(portStr); err == nil && perr == nil && port > 0 && port+300+i <= 65535 {
		return net.JoinHostPort(host, strconv.Itoa(port+300+i))
	}
	return "127.0.0.1:0"
}

// primaryAddrs returns the client and Raft addresses of primary i.
func primaryAddrs(base string, i int) (string, string, error) {
	if base == "" {
		return "127.0.0.1:0", "127.0.0.1:0", nil
	}
	host, portStr, err := net.SplitHostPort(base)
	if err != nil {
		return "", "", fmt.Errorf("local cluster address %q: %w", base, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port+100+i > 65535 {
		return "", "", fmt.Errorf("local cluster address %q: want a fixed port below 65400", base)
	}
	return net.JoinHostPort(host, strconv.Itoa(port+i)), net.JoinHostPort(host, strconv.Itoa(port+100+i)), nil
}

// waitAnnounced waits until every primary's addresses are in the
// replicated state, so that any primary can forward to the leader.
func (c *Cluster) waitAnnounced(ctx context.Context) error {
	// Join is a call of workers (and primaries): the first primary's
	// certificate makes it.
	cc, err := pb.Dial(c.Addrs(), c.primaryCfgs[0].TLS.DialOption())
	if err != nil {
		return err
	}
	defer cc.Close()
	for {
		resp, err := pb.NewWorkerClient(cc).Join(ctx, &pb.JoinRequest{})
		if err == nil && len(resp.PrimaryAddresses) == len(c.primaryCfgs) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the primaries to announce themselves: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// AddWorker starts one more worker and waits for it to register.
func (c *Cluster) AddWorker(role state.WorkerRole, id string) (*worker.Worker, error) {
	wc := worker.DefaultConfig()
	wc.ID = id
	wc.Role = role
	wc.Join = c.Addrs()
	wc.Addr = "127.0.0.1:0"
	wc.GossipAddr = "127.0.0.1:0"
	wc.DataDir = filepath.Join(c.cfg.DataDir, id)
	wc.Slots = c.cfg.Slots
	wc.HeartbeatInterval = 200 * time.Millisecond
	wc.Fast = true
	wc.Logger = c.cfg.Logger
	wc.FileSystems = c.fss
	var err error
	if wc.TLS, err = c.nodeIdentity(pki.RoleWorker, id); err != nil {
		return nil, err
	}
	wc.GossipKey = c.GossipKey()
	if c.cfg.TuneWorker != nil {
		c.cfg.TuneWorker(&wc)
	}
	w, err := worker.Start(wc)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", id, err)
	}
	// A restart comes back on the addresses this run picked.
	wc.Addr = w.Addr()
	if a, err := workerAddresses(wc.DataDir); err == nil {
		wc.GossipAddr = a.Gossip
	}
	c.Workers = append(c.Workers, w)
	c.workerCfgs = append(c.workerCfgs, wc)
	return w, nil
}

// workerAddresses reads the addresses a worker wrote in its data folder.
func workerAddresses(dir string) (worker.Addresses, error) {
	var a worker.Addresses
	b, err := os.ReadFile(filepath.Join(dir, worker.AddressesFile))
	if err != nil {
		return a, err
	}
	return a, json.Unmarshal(b, &a)
}

// StopWorker stops worker i gracefully.
func (c *Cluster) StopWorker(i int) {
	c.Workers[i].Stop()
	c.Workers[i] = nil
}

// CrashWorker stops worker i the way a killed process stops (see
// worker.Worker.Crash).
func (c *Cluster) CrashWorker(i int) {
	c.Workers[i].Crash()
	c.Workers[i] = nil
}

// RestartWorker starts worker i again, as a new incarnation, on the
// addresses it had.
func (c *Cluster) RestartWorker(i int) error {
	wc := c.workerCfgs[i]
	var w *worker.Worker
	err := retryInUse(c.cfg.Logger, wc.ID, func() error {
		var err error
		w, err = worker.Start(wc)
		return err
	})
	if err != nil {
		return fmt.Errorf("restart %s: %w", wc.ID, err)
	}
	c.Workers[i] = w
	return nil
}

// restartPatience bounds how long a restart waits for its old addresses
// to be free again.
const restartPatience = 30 * time.Second

// retryInUse calls start until it does not fail for an address in use:
// a node restarts on the addresses it had (the Raft group and the gossip
// ring know it there), and in the meantime another socket may have been
// given one of its ports. Other errors end it at once.
func retryInUse(log *slog.Logger, name string, start func() error) error {
	deadline := time.Now().Add(restartPatience)
	for {
		err := start()
		if err == nil || !AddrInUse(err) || time.Now().After(deadline) {
			return err
		}
		log.Warn("restart: an address is taken, trying again", "node", name, "err", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// AddrInUse reports whether err is a failure to bind an address that is
// in use.
func AddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// Isolate cuts primary i's Raft traffic both ways, as a network partition
// would; its clients can still reach it.
func (c *Cluster) Isolate(i int) { c.cuts[i].Store(true) }

// Heal ends Isolate.
func (c *Cluster) Heal(i int) { c.cuts[i].Store(false) }

// StopPrimary stops primary i gracefully.
func (c *Cluster) StopPrimary(i int) {
	c.Primaries[i].Stop()
	c.Primaries[i] = nil
}

// CrashPrimary stops primary i the way a killed process stops (see
// primary.Server.Crash).
func (c *Cluster) CrashPrimary(i int) {
	c.Primaries[i].Crash()
	c.Primaries[i] = nil
}

// RestartPrimary starts primary i again from its data directory, on the
// same client, Raft and gossip addresses. If one of them was taken in the
// meantime, it tries again for a while.
func (c *Cluster) RestartPrimary(i int) error {
	pc := c.primaryCfgs[i]
	var p *primary.Server
	err := retryInUse(c.cfg.Logger, pc.NodeID, func() error {
		var err error
		p, err = primary.Start(pc)
		return err
	})
	if err != nil {
		return fmt.Errorf("restart %s: %w", pc.NodeID, err)
	}
	c.Primaries[i] = p
	return nil
}

// AddPrimary starts a new primary that joins the running group through
// the others (as a non-voter, promoted once it has caught up).
func (c *Cluster) AddPrimary() (*primary.Server, error) {
	pc := c.primaryCfgs[0]
	pc.NodeID = fmt.Sprintf("primary-%d", len(c.primaryCfgs)+1)
	pc.DataDir = filepath.Join(c.cfg.DataDir, pc.NodeID)
	pc.Addr, pc.RaftAddr, pc.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if pc.HTTPAddr != "" {
		pc.HTTPAddr = "127.0.0.1:0"
	}
	pc.Bootstrap, pc.Peers, pc.Join = false, nil, c.Addrs()
	pc.RaftCut = new(atomic.Bool)
	var err error
	if pc.TLS, err = c.nodeIdentity(pki.RolePrimary, pc.NodeID); err != nil {
		return nil, err
	}
	if pc.Listener, err = net.Listen("tcp", pc.Addr); err != nil {
		return nil, err
	}
	if pc.RaftListener, err = net.Listen("tcp", pc.RaftAddr); err != nil {
		pc.Listener.Close()
		return nil, err
	}
	pc.Addr, pc.RaftAddr = pc.Listener.Addr().String(), pc.RaftListener.Addr().String()
	p, err := primary.Start(pc)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", pc.NodeID, err)
	}
	c.started(&pc, p)
	c.primaryCfgs = append(c.primaryCfgs, pc)
	c.cuts = append(c.cuts, pc.RaftCut)
	c.Primaries = append(c.Primaries, p)
	return p, nil
}

// Dial connects to the cluster's primaries as its client (with the
// client certificate of a TLS cluster); opts are added.
func (c *Cluster) Dial(opts ...grpc.DialOption) (*pb.Conn, error) {
	return pb.Dial(c.Addrs(), append(c.ClientDialOptions(), opts...)...)
}

// ClientDialOptions returns what a client of the cluster dials with: the
// client certificate and the admin token of a TLS cluster.
func (c *Cluster) ClientDialOptions() []grpc.DialOption {
	return c.ClientTLS().ClientDialOptions(c.ClientToken())
}

// Addr returns the first primary's client address.
func (c *Cluster) Addr() string { return c.primaryCfgs[0].Addr }

// Addrs returns every primary's client address, running or not.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, pc := range c.primaryCfgs {
		out = append(out, pc.Addr)
	}
	return out
}

// WaitForLeader waits until one primary leads.
func (c *Cluster) WaitForLeader(ctx context.Context) (*primary.Server, error) {
	for {
		for _, p := range c.Primaries {
			if p != nil && p.IsLeader() {
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a leader: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop stops every worker, then every primary, each group at once. An
// ephemeral cluster first cancels its steps that have not ended, once its
// workers are stopped (so that no attempt writes any more), and waits for
// the leader to remove their partial output.
func (c *Cluster) Stop() { c.stopOnce.Do(c.stop) }

func (c *Cluster) stop() {
	var wg sync.WaitGroup
	for _, w := range c.Workers {
		if w != nil {
			wg.Go(w.Stop)
		}
	}
	wg.Wait()
	if c.cfg.Ephemeral {
		if err := c.abandonSteps(); err != nil {
			c.cfg.Logger.Warn("cancel running steps before stopping", "err", err)
		}
	}
	for _, p := range c.Primaries {
		if p != nil {
			wg.Go(p.Stop)
		}
	}
	wg.Wait()
	if c.s3 != nil {
		if err := c.s3.Close(); err != nil {
			c.cfg.Logger.Warn("stop the embedded S3 endpoint", "err", err)
		}
	}
	c.pki.close()
}

// abandonTimeout bounds how long Stop waits for the partial output of
// cancelled steps to be removed.
const abandonTimeout = 15 * time.Second

// abandonSteps cancels every step that has not ended and waits until the
// leader has removed the partial output of each.
func (c *Cluster) abandonSteps() error {
	ctx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
	defer cancel()
	cc, err := c.Dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	client := pb.NewClientClient(cc)
	var ids []string
	for token := ""; ; {
		resp, err := client.ListSteps(ctx, &pb.ListStepsRequest{PageToken: token, States: []pb.StepState{pb.StepState_STEP_PENDING, pb.StepState_STEP_RUNNING}}, grpc.WaitForReady(true))
		if err != nil {
			return fmt.Errorf("list steps: %w", err)
		}
		for _, st := range resp.Steps {
			ids = append(ids, st.Id)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	for _, id := range ids {
		if _, err := client.CancelStep(ctx, &pb.CancelStepRequest{StepId: id}, grpc.WaitForReady(true)); err != nil && status.Code(err) != codes.FailedPrecondition {
			return fmt.Errorf("cancel step %s: %w", id, err)
		}
	}
	for _, id := range ids {
		for {
			d, err := client.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id}, grpc.WaitForReady(true))
			if err == nil && d.Step.CleanedUp {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for the partial output of step %s to be removed: %w", id, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}
