package primary

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/mtls"
)

// Config configures a primary.
type Config struct {
	// NodeID names the primary in the Raft group and the gossip ring; it
	// must be unique in the cluster.
	NodeID string
	// DataDir holds the Raft log and snapshots.
	DataDir string
	// Addr is the gRPC address clients and workers use.
	Addr string
	// RaftAddr is the Raft transport address.
	RaftAddr string
	// GossipAddr is the memberlist address (TCP and UDP).
	GossipAddr string
	// HTTPAddr is where the status page and Prometheus metrics are served
	// (package web); "" serves neither.
	HTTPAddr string
	// Bootstrap forms a new Raft group from Peers when the data directory
	// holds no Raft state yet.
	Bootstrap bool
	// Peers are the group's voters as ID=RAFTADDR, this primary included;
	// empty means a group of one.
	Peers []string
	// Join lists gRPC addresses of primaries of a running group. A primary
	// with no Raft state yet asks to be added to that group (as a
	// non-voter, promoted to voter once it has caught up) instead of
	// bootstrapping a new one.
	Join []string
	// StepConcurrency is how many steps run at once; later ones wait
	// PENDING (EMR's step concurrency level).
	StepConcurrency int
	// MaxAttempts is how many attempts a task gets before the step fails.
	MaxAttempts int
	// MaxFailuresPerWorker excludes a worker from a step once this many of
	// the step's attempts failed on it.
	MaxFailuresPerWorker int
	// TaskTimeout is how long an attempt may go without progress before it
	// is killed (and counted as failed) and its task runs again.
	TaskTimeout time.Duration
	// SpeculationSlowFactor and SpeculationMinGap decide when an attempt is
	// slow enough for a backup: it has run that many times the median time
	// of its phase's finished attempts, and at least the gap longer.
	SpeculationSlowFactor float64
	SpeculationMinGap     time.Duration
	// WorkerTimeout is how long a worker may miss heartbeats before it is
	// declared down.
	WorkerTimeout time.Duration
	// MaxTasksPerStep bounds a step's map and reduce tasks together; a
	// step that would have more is refused at submission.
	MaxTasksPerStep int
	// MinSplitSize is the smallest split size a step may ask for.
	MinSplitSize int64
	// PollTimeout bounds how long a worker's PollTasks call waits for work.
	PollTimeout time.Duration
	// SnapshotThreshold is how many log entries trigger a snapshot.
	SnapshotThreshold uint64
	// SnapshotInterval is how often Raft checks whether to take one.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries stay in the log after a snapshot,
	// so that a briefly lagging primary catches up without a snapshot.
	TrailingLogs uint64
	// LogSegmentBytes is the size of a Raft log segment file (0: the
	// log's default of 64 MiB). Compaction removes whole segments only.
	LogSegmentBytes int
	// BlockSize is the block size of HDFS files created without one.
	BlockSize int64
	// Replication is the replication of HDFS files created without one;
	// 0 follows EMR's rule for the live core workers (1 below 4, 2 below
	// 10, else 3).
	Replication int
	// LeaseTimeout is how long an HDFS writer's lease lasts without
	// renewal; then its files being written go.
	LeaseTimeout time.Duration
	// SafeModeThreshold is the share of blocks that must be reported with
	// a replica before a new leader lets HDFS change (HDFS's
	// dfs.namenode.safemode.threshold-pct).
	SafeModeThreshold float64
	// BlockCheckInterval is how often the leader checks every block's
	// replicas.
	BlockCheckInterval time.Duration
	// ReplicationStreams bounds the re-replications one core worker is the
	// source of at a time (HDFS's dfs.namenode.replication.max-streams).
	ReplicationStreams int
	// LocalityWait is how long a map task whose block has replicas waits
	// for a slot on a core worker holding one before it runs elsewhere
	// (delay scheduling).
	LocalityWait time.Duration
	// FileSystems resolves the paths steps read and write (by scheme);
	// nil means local paths only.
	FileSystems *mapreduce.FileSystems
	// DataRoots are the folders steps may read and write (confine.go):
	// local absolute folders, hdfs:///path and s3://bucket[/prefix]
	// prefixes ("s3://" for every bucket). Empty allows every path, as
	// the workers' own privileges do, with a warning at start.
	DataRoots []string
	// TLS, when set, secures every connection of the primary with mutual
	// TLS (gRPC served and dialled, the Raft transport) and authorises
	// each call by the caller's certificate role; nil is plaintext.
	TLS *mtls.Identity
	// GossipKey, when set, encrypts and authenticates gossip traffic
	// (16, 24 or 32 bytes: AES-128, -192 or -256); every member of the
	// ring needs the same key.
	GossipKey []byte
	// Fast shortens Raft and gossip timings for tests and local clusters.
	Fast bool
	// Logger receives the primary's logs.
	Logger *slog.Logger

	// Listeners already bound, used instead of Addr / RaftAddr when set
	// (local clusters bind every port before starting any node).
	Listener     net.Listener
	RaftListener net.Listener
	// RaftCut, when set, cuts every Raft connection of this primary while
	// it holds true: a network partition, for tests.
	RaftCut *atomic.Bool
}

// DefaultConfig returns the defaults of a single local primary.
func DefaultConfig() Config {
	return Config{
		NodeID:                "primary-1",
		DataDir:               "gomr-data/primary-1",
		Addr:                  "127.0.0.1:7400",
		RaftAddr:              "127.0.0.1:7401",
		GossipAddr:            "127.0.0.1:7402",
		Bootstrap:             true,
		StepConcurrency:       1,
		MaxAttempts:           4,
		MaxFailuresPerWorker:  3,
		TaskTimeout:           10 * time.Minute,
		SpeculationSlowFactor: 2,
		SpeculationMinGap:     time.Second,
		WorkerTimeout:         6 * time.Second,
		PollTimeout:           10 * time.Second,
		MaxTasksPerStep:       100_000,
		BlockSize:             128 << 20,
		LeaseTimeout:          time.Minute,
		SafeModeThreshold:     0.999,
		BlockCheckInterval:    time.Second,
		ReplicationStreams:    2,
		LocalityWait:          3 * time.Second,
		MinSplitSize:          1 << 20,
		SnapshotThreshold:     8192,
		SnapshotInterval:      2 * time.Minute,
		TrailingLogs:          10240,
	}
}

// Validate reports the first thing wrong with the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("node-id is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir is empty"))
	}
	for name, addr := range map[string]string{"addr": c.Addr, "raft-addr": c.RaftAddr, "gossip-addr": c.GossipAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, addr, err))
		}
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("http-addr %q: %w", c.HTTPAddr, err))
		}
	}
	if _, err := ParsePeers(c.Peers); err != nil {
		errs = append(errs, err)
	}
	if c.StepConcurrency < 1 {
		errs = append(errs, fmt.Errorf("step-concurrency must be at least 1, got %d", c.StepConcurrency))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max-attempts must be at least 1, got %d", c.MaxAttempts))
	}
	if c.TaskTimeout <= 0 {
		errs = append(errs, fmt.Errorf("task-timeout must be positive, got %s", c.TaskTimeout))
	}
	if c.SpeculationSlowFactor < 1 {
		errs = append(errs, fmt.Errorf("speculation-slow-factor must be at least 1, got %g", c.SpeculationSlowFactor))
	}
	if c.WorkerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("worker-timeout must be positive, got %s", c.WorkerTimeout))
	}
	if c.SnapshotThreshold < 1 || c.SnapshotInterval <= 0 {
		errs = append(errs, fmt.Errorf("snapshot-threshold and snapshot-interval must be positive"))
	}
	if c.MaxTasksPerStep < 1 {
		errs = append(errs, fmt.Errorf("max-tasks-per-step must be at least 1, got %d", c.MaxTasksPerStep))
	}
	if c.MinSplitSize < 1 {
		errs = append(errs, fmt.Errorf("min-split-size must be at least 1 byte, got %d", c.MinSplitSize))
	}
	if c.BlockSize < 512 || c.BlockSize%512 != 0 {
		errs = append(errs, fmt.Errorf("block-size must be a positive multiple of 512 bytes, got %d", c.BlockSize))
	}
	if c.Replication < 0 {
		errs = append(errs, fmt.Errorf("replication must not be negative, got %d", c.Replication))
	}
	if c.LeaseTimeout <= 0 || c.BlockCheckInterval <= 0 || c.ReplicationStreams < 1 || c.LocalityWait < 0 {
		errs = append(errs, fmt.Errorf("lease-timeout and block-check-interval must be positive, replication-streams at least 1, locality-wait not negative"))
	}
	if c.SafeModeThreshold < 0 || c.SafeModeThreshold > 1 {
		errs = append(errs, fmt.Errorf("safemode-threshold must be in [0, 1], got %g", c.SafeModeThreshold))
	}
	if _, err := parseDataRoots(c.DataRoots); err != nil { // confine.go
		errs = append(errs, err)
	}
	if c.PollTimeout <= 0 {
		errs = append(errs, fmt.Errorf("poll-timeout must be positive, got %s", c.PollTimeout))
	}
	return errors.Join(errs...)
}

// Peer is one voter of a Raft group to bootstrap.
type Peer struct {
	ID       string
	RaftAddr string
}

// ParsePeers parses ID=RAFTADDR entries.
func ParsePeers(entries []string) ([]Peer, error) {
	var peers []Peer
	seen := make(map[string]bool)
	for _, e := range entries {
		id, addr, ok := strings.Cut(e, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("peer %q: want ID=HOST:PORT", e)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("peer %q: %w", e, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("peer %q: id %s given twice", e, id)
		}
		seen[id] = true
		peers = append(peers, Peer{ID: id, RaftAddr: addr})
	}
	return peers, nil
}
