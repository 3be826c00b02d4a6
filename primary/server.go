package primary

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
	"sync/atomic"
	"time"

	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/gossip"
	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/primary/web"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// applyTimeout bounds how long a Raft apply may wait to be committed.
const applyTimeout = 10 * time.Second

// Server is a running primary.
type Server struct {
	cfg     Config
	log     *slog.Logger
	fsm     *fsm
	raft    *raft.Raft
	wal     *wal.WAL
	walMeta *metadb.BoltMetaDB
	trans   *raft.NetworkTransport
	gossip  *gossip.Node
	grpc    *grpc.Server
	lis     net.Listener
	// roots confine the paths steps name (confine.go).
	roots *dataRoots

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	peers      *primarypb.ConnCache
	self       *primarypb.Conn // to this primary's own services
	soft       *softState
	leaderCh   chan bool
	lastLeader atomic.Value // string
	joining    bool         // asks a running group to add it (Config.Join)
	crashed    bool         // stopped by Crash
	schedMu    sync.Mutex   // serialises scheduling decisions on the leader
	planning   planningSet  // steps whose splits this leader is recording

	// HDFS: where replicas are, safe mode and health (soft state of the
	// leader), and the last block id this leader handed out.
	blocks           *blockMap
	hdfs             *hdfsSoft
	decommissionLeft map[string]int64 // guarded by hdfs.mu
	blockIDMu        sync.Mutex
	lastBlockID      int64
	stopOnce         sync.Once
	// http serves the status page and metrics (nil without HTTPAddr).
	http *web.Server
}

// Start starts a primary: its Raft member, gossip member and gRPC server.
// It returns once they are serving; leadership may come later.
func Start(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("primary config: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", cfg.NodeID)
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(filepath.Join(raftDir, "wal"), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if cfg.FileSystems == nil {
		cfg.FileSystems = mapreduce.LocalFileSystems()
	}
	s := &Server{cfg: cfg, log: log, fsm: newFSM(log), ctx: ctx, cancel: cancel, soft: newSoftState(), blocks: newBlockMap(), hdfs: newHDFSSoft()}
	s.peers = primarypb.NewConnCache(cfg.TLS.DialOption())
	s.roots = newDataRoots(cfg.DataRoots, log)
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()

	var err error
	s.lis = cfg.Listener
	if s.lis == nil {
		if s.lis, err = net.Listen("tcp", cfg.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}
	if err := s.startRaft(raftDir); err != nil {
		return nil, err
	}
	s.gossip, err = gossip.Start(gossip.Config{
		Name:      cfg.NodeID,
		Addr:      cfg.GossipAddr,
		Meta:      gossip.Meta{Kind: gossip.KindPrimary, GRPCAddr: s.Addr(), RaftAddr: string(s.trans.LocalAddr())},
		Events:    s.soft,
		Fast:      cfg.Fast,
		SecretKey: cfg.GossipKey,
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}

	s.grpc = grpc.NewServer(append([]grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	}, cfg.TLS.ServerOptions(stateTokens{s})...)...)
	primarypb.RegisterClientServer(s.grpc, &clientService{s: s})
	primarypb.RegisterWorkerServer(s.grpc, &workerService{s: s})
	primarypb.RegisterPeerServer(s.grpc, &peerService{s: s})
	hdfspb.RegisterNameNodeServer(s.grpc, &nameNode{s: s})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.grpc.Serve(s.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			log.Error("grpc server stopped", "err", err)
		}
	}()
	// The primary reads and writes HDFS paths (listing inputs, committing
	// outputs) as any client does, through its own NameNode service.
	if s.self, err = primarypb.Dial([]string{s.Addr()}, cfg.TLS.DialOption()); err != nil {
		return nil, err
	}
	s.cfg.FileSystems = s.cfg.FileSystems.With("hdfs", client.New(client.Config{
		Primaries: s.self, Dial: func(addr string) (grpc.ClientConnInterface, error) { return s.peers.Get(addr) }, Logger: log,
	}).FileSystem())
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.watchLeadership() }()
	go func() { defer s.wg.Done(); s.announce() }()
	if s.joining {
		s.wg.Go(s.joinGroup)
	}
	if err := s.startHTTP(); err != nil {
		return nil, err
	}
	if err := writeAddresses(cfg.DataDir, Addresses{GRPC: s.Addr(), Raft: s.RaftAddr(), Gossip: s.GossipAddr(), HTTP: s.HTTPAddr()}); err != nil {
		return nil, err
	}
	ok = true
	log.Info("primary started", "addr", s.Addr(), "raft", s.trans.LocalAddr(), "gossip", s.gossip.Addr(), "http", s.HTTPAddr())
	return s, nil
}

// AddressesFile is the file in a primary's data folder that names the
// addresses it serves on, written once it listens: a primary started on
// port 0 picks free ports, and whoever started it finds them there.
const AddressesFile = "addresses.json"

// Addresses are where a primary serves.
type Addresses struct {
	GRPC   string `json:"grpc"`
	Raft   string `json:"raft"`
	Gossip string `json:"gossip"`
	// HTTP is the status page and metrics address ("" when off).
	HTTP string `json:"http,omitempty"`
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

func (s *Server) startRaft(dir string) error {
	cfg := s.cfg
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.Logger = hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Info,
		Output: gossip.LogWriter(s.log.With("component", "raft")),
	})
	if cfg.Fast {
		rc.HeartbeatTimeout = 500 * time.Millisecond
		rc.ElectionTimeout = 500 * time.Millisecond
		rc.LeaderLeaseTimeout = 250 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}
	s.leaderCh = make(chan bool, 8)
	rc.NotifyCh = s.leaderCh

	// The WAL does not close its meta store on Close, so it is given one
	// to close: a restarted primary in the same process must be able to
	// lock it again.
	s.walMeta = &metadb.BoltMetaDB{}
	segment := cfg.LogSegmentBytes
	if segment <= 0 {
		segment = 64 << 20
	}
	w, err := wal.Open(filepath.Join(dir, "wal"), wal.WithMetaStore(s.walMeta), wal.WithLogger(rc.Logger), wal.WithSegmentSize(segment))
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	s.wal = w
	snaps, err := raft.NewFileSnapshotStore(dir, 3, gossip.LogWriter(s.log.With("component", "raft-snapshots")))
	if err != nil {
		return fmt.Errorf("open snapshots: %w", err)
	}
	lis := cfg.RaftListener
	if lis == nil {
		if lis, err = net.Listen("tcp", cfg.RaftAddr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.RaftAddr, err)
		}
	}
	s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{StreamLayer: mtls.NewStreamLayer(lis, cfg.TLS), cut: cfg.RaftCut},
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  rc.Logger,
	})
	existing, err := raft.HasExistingState(w, w, snaps)
	if err != nil {
		return fmt.Errorf("read raft state: %w", err)
	}
	s.raft, err = raft.NewRaft(rc, s.fsm, w, w, snaps, s.trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.observeLeader()
	s.joining = len(cfg.Join) > 0 && !existing
	if cfg.Bootstrap && !existing && !s.joining {
		peers, _ := ParsePeers(cfg.Peers)
		servers := []raft.Server{{ID: rc.LocalID, Address: s.trans.LocalAddr()}}
		for _, p := range peers {
			if p.ID == cfg.NodeID {
				continue
			}
			servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
		}
		if err := s.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			return fmt.Errorf("bootstrap raft group: %w", err)
		}
		s.log.Info("bootstrapped raft group", "voters", len(servers))
	}
	return nil
}

// streamLayer is Raft's transport (TCP, or mutual TLS with Config.TLS)
// over a listener bound in advance. When cut holds true, every connection
// fails, as in a network partition.
type streamLayer struct {
	raft.StreamLayer
	cut *atomic.Bool
}

func (l *streamLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.StreamLayer.Accept()
		if err != nil || l.cut == nil {
			return c, err
		}
		if l.cut.Load() {
			c.Close()
			continue
		}
		return &cutConn{Conn: c, cut: l.cut}, nil
	}
}

func (l *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.cut != nil && l.cut.Load() {
		return nil, fmt.Errorf("dial %s: network cut", addr)
	}
	c, err := l.StreamLayer.Dial(addr, timeout)
	if err != nil || l.cut == nil {
		return c, err
	}
	return &cutConn{Conn: c, cut: l.cut}, nil
}

// cutConn fails (and closes) once its stream layer is cut.
type cutConn struct {
	net.Conn
	cut *atomic.Bool
}

func (c *cutConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.cut.Load() {
		c.Conn.Close()
		return 0, errNetworkCut
	}
	return n, err
}

func (c *cutConn) Write(p []byte) (int, error) {
	if c.cut.Load() {
		c.Conn.Close()
		return 0, errNetworkCut
	}
	return c.Conn.Write(p)
}

var errNetworkCut = errors.New("network cut")

// observeLeader remembers the last leader this primary heard of, to name
// it when there is none now.
func (s *Server) observeLeader() {
	ch := make(chan raft.Observation, 16)
	s.raft.RegisterObserver(raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.ctx.Done():
				return
			case o := <-ch:
				if lo := o.Data.(raft.LeaderObservation); lo.LeaderID != "" {
					s.lastLeader.Store(string(lo.LeaderID))
				}
			}
		}
	}()
}

// joinGroup asks a running group, through any of cfg.Join, to add this
// primary; the leader adds it as a non-voter and promotes it once caught up.
func (s *Server) joinGroup() {
	conn, err := primarypb.Dial(s.cfg.Join, s.cfg.TLS.DialOption())
	if err != nil {
		s.log.Error("join raft group", "err", err)
		return
	}
	defer conn.Close()
	me := &primarypb.Primary{Id: s.cfg.NodeID, Address: s.Addr(), RaftAddress: s.RaftAddr(), GossipAddress: s.GossipAddr()}
	for s.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		_, err := primarypb.NewPeerClient(conn).AddPrimary(ctx, &primarypb.AddPrimaryRequest{Primary: me})
		cancel()
		if err == nil {
			s.log.Info("asked to join the raft group", "via", s.cfg.Join)
			return
		}
		s.log.Warn("join raft group", "via", s.cfg.Join, "err", err)
		select {
		case <-s.ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Addr returns the primary's gRPC address.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// RaftAddr returns the primary's Raft transport address.
func (s *Server) RaftAddr() string { return string(s.trans.LocalAddr()) }

// GossipAddr returns the primary's gossip address.
func (s *Server) GossipAddr() string { return s.gossip.Addr() }

// ID returns the primary's node id.
func (s *Server) ID() string { return s.cfg.NodeID }

// IsLeader reports whether this primary is the Raft leader.
func (s *Server) IsLeader() bool { return s.raft.State() == raft.Leader }

// announce records this primary's addresses in the replicated state, so
// that followers can forward to it and workers can find its gossip port.
func (s *Server) announce() {
	me := state.Primary{ID: s.cfg.NodeID, Addr: s.Addr(), RaftAddr: s.RaftAddr(), GossipAddr: s.GossipAddr()}
	for {
		if p, ok := s.fsm.view().Primary(me.ID); ok && *p == me {
			s.joinPrimaries()
			return
		}
		if err := s.applyAnywhere(s.ctx, &state.RegisterPrimary{Primary: me}); err != nil {
			s.log.Debug("announce primary", "err", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// joinPrimaries joins this primary's gossip member to the other primaries'.
func (s *Server) joinPrimaries() {
	var addrs []string
	for _, p := range s.fsm.view().Primaries() {
		if p.ID != s.cfg.NodeID {
			addrs = append(addrs, p.GossipAddr)
		}
	}
	if len(addrs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := s.gossip.Join(ctx, addrs); err != nil {
		s.log.Warn("join primaries' gossip", "err", err)
	}
}

// Stop leaves the gossip ring and the Raft group's traffic gracefully and
// stops serving. The Raft log stays on disk for a restart.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.gossip != nil {
			s.gossip.Leave(time.Second)
		}
		s.close()
	})
}

// Crash stops the primary the way a killed process stops: no goodbye to
// the gossip ring, no wait for calls in flight. The Raft log stays on
// disk for a restart. Tests use it.
func (s *Server) Crash() {
	s.stopOnce.Do(func() {
		s.crashed = true
		s.close()
	})
}

func (s *Server) close() {
	s.cancel()
	s.stopHTTP()
	if s.grpc != nil && s.crashed {
		s.grpc.Stop()
	} else if s.grpc != nil {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			s.grpc.Stop()
		}
	} else if s.lis != nil {
		s.lis.Close()
	}
	if s.gossip != nil {
		s.gossip.Shutdown()
	}
	if s.raft != nil {
		if err := s.raft.Shutdown().Error(); err != nil {
			s.log.Warn("raft shutdown", "err", err)
		}
	}
	if s.trans != nil {
		s.trans.Close()
	}
	if s.wal != nil {
		s.wal.Close()
		s.walMeta.Close()
	}
	s.peers.Close()
	if s.self != nil {
		s.self.Close()
	}
	s.wg.Wait()
}
