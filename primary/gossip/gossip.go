// Package gossip is the cluster's membership layer on hashicorp/memberlist:
// every primary and worker is a member, and the metadata each one gossips
// (kind, role, gRPC address, Raft address, slots, incarnation) is encoded
// and decoded here, in one place, into one typed struct.
package gossip

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Member kinds.
const (
	KindPrimary = "primary"
	KindWorker  = "worker"
)

// Meta is what a member tells the others about itself.
type Meta struct {
	Kind string `json:"kind"`
	// Role is core or task for a worker.
	Role string `json:"role,omitempty"`
	// GRPCAddr is where the member serves gRPC.
	GRPCAddr string `json:"grpc"`
	// RaftAddr is a primary's Raft transport address.
	RaftAddr string `json:"raft,omitempty"`
	// Slots is a worker's number of task slots.
	Slots int `json:"slots,omitempty"`
	// Incarnation tells restarts of the same worker apart.
	Incarnation int64 `json:"inc,omitempty"`
}

// Member is one live member with its decoded metadata.
type Member struct {
	Name string
	Meta Meta
}

// DecodeMeta decodes the metadata of a memberlist node.
func DecodeMeta(n *memberlist.Node) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(n.Meta, &m); err != nil {
		return m, fmt.Errorf("member %s: decode metadata: %w", n.Name, err)
	}
	return m, nil
}

// Events receives membership changes; it must not block.
type Events interface {
	Joined(Member)
	Left(name string, meta Meta)
}

// Config configures a gossip member.
type Config struct {
	// Name is the member's unique node id.
	Name string
	// Addr is host:port to bind for gossip (TCP and UDP); port 0 picks one.
	Addr string
	Meta Meta
	// Events, if set, is told of joins and departures.
	Events Events
	// Fast shortens probe and gossip intervals, for tests and local
	// clusters on loopback.
	Fast bool
	// SecretKey, when set, encrypts and authenticates every gossip
	// message (AES-GCM; 16, 24 or 32 bytes): a node without the key can
	// neither join the ring nor read its traffic. Every member needs the
	// same key.
	SecretKey []byte
	Logger    *slog.Logger
}

// Node is a running gossip member.
type Node struct {
	ml     *memberlist.Memberlist
	d      *delegate
	bridge *eventBridge
}

type delegate struct {
	mu   sync.Mutex
	meta []byte
}

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.meta
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// eventBridge keeps the member list from memberlist's events. The events
// are delivered while memberlist holds its node lock, so metadata is
// decoded (copied) there; reading it later from memberlist's own node
// structs would race with its updates.
type eventBridge struct {
	events Events
	log    *slog.Logger

	mu      sync.Mutex
	members map[string]Member
}

func (e *eventBridge) NotifyJoin(n *memberlist.Node) {
	m, err := DecodeMeta(n)
	if err != nil {
		e.log.Warn("ignoring member", "err", err)
		return
	}
	member := Member{Name: n.Name, Meta: m}
	e.mu.Lock()
	e.members[n.Name] = member
	e.mu.Unlock()
	if e.events != nil {
		e.events.Joined(member)
	}
}

func (e *eventBridge) NotifyLeave(n *memberlist.Node) {
	e.mu.Lock()
	m, ok := e.members[n.Name]
	delete(e.members, n.Name)
	e.mu.Unlock()
	if ok && e.events != nil {
		e.events.Left(n.Name, m.Meta)
	}
}

func (e *eventBridge) NotifyUpdate(n *memberlist.Node) { e.NotifyJoin(n) }

// Start creates a member and starts gossiping (it has joined nobody yet).
func Start(cfg Config) (*Node, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gossip address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("gossip address %q: bad port", cfg.Addr)
	}
	meta, err := json.Marshal(cfg.Meta)
	if err != nil {
		return nil, fmt.Errorf("encode gossip metadata: %w", err)
	}
	mc := memberlist.DefaultLANConfig()
	if cfg.Fast {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.SuspicionMult = 2
		mc.PushPullInterval = 2 * time.Second
	}
	mc.Name = cfg.Name
	// A node restarted on another address (a new host, a new port) takes
	// its name back once its old incarnation has been dead this long.
	mc.DeadNodeReclaimTime = 10 * time.Second
	if len(cfg.SecretKey) > 0 {
		switch len(cfg.SecretKey) {
		case 16, 24, 32:
		default:
			return nil, fmt.Errorf("gossip key: %d bytes; want 16, 24 or 32", len(cfg.SecretKey))
		}
		// Set, a key makes memberlist encrypt everything it sends and
		// drop whatever is not encrypted with it.
		mc.SecretKey = cfg.SecretKey
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	mc.BindAddr = host
	mc.BindPort = port
	mc.AdvertisePort = port
	d := &delegate{meta: meta}
	mc.Delegate = d
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	bridge := &eventBridge{events: cfg.Events, log: logger, members: make(map[string]Member)}
	mc.Events = bridge
	mc.Logger = nil
	mc.LogOutput = LogWriter(logger.With("component", "memberlist"))
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", cfg.Addr, err)
	}
	return &Node{ml: ml, d: d, bridge: bridge}, nil
}

// UpdateMeta changes this member's metadata and gossips the change.
func (n *Node) UpdateMeta(m Meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode gossip metadata: %w", err)
	}
	n.d.mu.Lock()
	n.d.meta = b
	n.d.mu.Unlock()
	if err := n.ml.UpdateNode(time.Second); err != nil {
		return fmt.Errorf("gossip metadata update: %w", err)
	}
	return nil
}

// Addr returns the address other members reach this one at.
func (n *Node) Addr() string {
	ln := n.ml.LocalNode()
	return net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
}

// Join contacts existing members, retrying until one answers or ctx ends.
func (n *Node) Join(ctx context.Context, addrs []string) error {
	for {
		_, err := n.ml.Join(addrs)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("join gossip %v: %w (last error: %v)", addrs, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Members returns the live members (this one included), sorted by name.
func (n *Node) Members() []Member {
	n.bridge.mu.Lock()
	defer n.bridge.mu.Unlock()
	out := make([]Member, 0, len(n.bridge.members))
	for _, m := range n.bridge.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Leave tells the others this member is leaving, then stops it.
func (n *Node) Leave(timeout time.Duration) error {
	err := n.ml.Leave(timeout)
	if serr := n.ml.Shutdown(); serr != nil && err == nil {
		err = serr
	}
	return err
}

// Shutdown stops the member without telling anyone (as a crash would).
func (n *Node) Shutdown() error { return n.ml.Shutdown() }

// LogWriter returns a writer that turns the "[LEVEL] text" log lines of
// HashiCorp libraries (memberlist, raft) into slog records. Their warnings
// and errors are mostly routine for a cluster (an election, a peer that is
// down or slow, which gomr reports in its own words) and are logged at
// info; their debug lines at debug.
func LogWriter(log *slog.Logger) io.Writer { return &slogWriter{log: log} }

type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelDebug
	if i := strings.Index(line, "["); i >= 0 {
		if j := strings.Index(line[i:], "]"); j > 0 {
			switch strings.TrimSpace(line[i+1 : i+j]) {
			case "ERR", "ERROR", "WARN", "INFO":
				level = slog.LevelInfo
			}
			line = strings.TrimSpace(line[i+j+1:])
		}
	}
	w.log.Log(context.Background(), level, line)
	return len(p), nil
}
