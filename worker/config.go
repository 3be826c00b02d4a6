package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/mtls"
	"github.com/gomr/gomr/primary/state"
)

// Config configures a worker.
type Config struct {
	// ID names the worker; unique in the cluster.
	ID string
	// Role is core (runs tasks and stores HDFS blocks) or task (only
	// runs tasks).
	Role state.WorkerRole
	// Join lists primaries' gRPC addresses; any one that answers will do.
	Join []string
	// Addr is the gRPC address the shuffle service listens on.
	Addr string
	// GossipAddr is the memberlist address (TCP and UDP).
	GossipAddr string
	// DataDir holds map outputs and fetched shuffle data.
	DataDir string
	// Slots is how many attempts run at once.
	Slots int
	// TinySlots is how many attempts of tiny map tasks (a split of at
	// most mapreduce.TinySplitBytes) run beside the slots: such a task
	// takes little CPU or memory, and its time goes mostly to the
	// bookkeeping of its start and end, which attempts running side by
	// side share (a thousand one-line files).
	TinySlots int
	// HeartbeatInterval is how often the worker reports to the leader.
	HeartbeatInterval time.Duration
	// MapOutputCodec compresses what map attempts leave for the shuffle
	// ("" or "none": not at all; "s2" or "zstd"), as EMR sets Hadoop's
	// mapreduce.map.output.compress cluster-wide. Reducers read any codec.
	MapOutputCodec string
	// ShuffleMemoryBytes is how much fetched map output a reduce attempt
	// keeps in memory before it writes fetched segments to disk.
	ShuffleMemoryBytes int64
	// ShuffleMergeBytes is how much fetched map output a reduce attempt
	// whose job has a combiner holds in memory before it combines what
	// it holds into one segment (Hadoop's in-memory merge), so that what
	// it holds grows with the distinct keys, not with the number of
	// maps; 0 never combines.
	ShuffleMergeBytes int64
	// MapOutputCacheBytes is how much map output the worker holds written
	// through the page cache; map attempts that start past it write
	// their output behind it, straight to disk (writeBehind). Its default,
	// DefaultMapOutputCacheBytes, is a tenth of the machine's memory: the
	// share the kernel lets be dirty before it writes back on its own.
	MapOutputCacheBytes int64
	// SetMemoryLimit has the worker set the process's soft memory limit
	// (runtime/debug.SetMemoryLimit) to what its slots may hold at once:
	// a sort buffer and a shuffle budget each, and the tiny tasks' map
	// outputs, plus a base. Without it the heap grows to twice what is
	// live before the garbage collector runs, and a worker's peak memory
	// depends on when it ran. Only a process that is one worker sets it
	// (gomr worker, unless GOMEMLIMIT is set).
	SetMemoryLimit bool
	// AttemptLog, if set, is a file the worker appends a line to when an
	// attempt starts and ends (an audit trail; tests count executions
	// with it).
	AttemptLog string
	// TransferBandwidth bounds, in bytes per second, how fast a core
	// worker copies replicas to others for re-replication (0: the block
	// store's default, 100 MiB/s), so that it does not starve steps.
	TransferBandwidth int64
	// ScanBytesPerSecond and ScanPeriod pace the block scanner that
	// verifies every replica of a core worker (0: HDFS's defaults, 1 MiB/s
	// and three weeks).
	ScanBytesPerSecond int64
	ScanPeriod         time.Duration
	// LogRetentionBytes bounds the attempts' logs the worker keeps under
	// DATA-DIR/logs after the attempts end (0: 1 GiB); beyond it, the
	// logs of the steps last written longest ago are removed first.
	LogRetentionBytes int64
	// FileSystems resolves the paths steps read and write (by scheme);
	// nil means local paths only.
	FileSystems *mapreduce.FileSystems
	// TLS, when set, secures every connection of the worker with mutual
	// TLS (its shuffle, logs and block services, and its calls to the
	// primaries and other workers) and authorises each call by the
	// caller's certificate role; nil is plaintext.
	TLS *mtls.Identity
	// GossipKey, when set, encrypts gossip traffic; it must be the key
	// of the primaries' ring.
	GossipKey []byte
	// Fast shortens gossip timings for tests and local clusters.
	Fast bool
	// Logger receives the worker's logs.
	Logger *slog.Logger
	// Listener, if set, is used instead of listening on Addr.
	Listener net.Listener
	// RunAs names the unprivileged account a worker running as root runs
	// streaming commands as ("": DefaultRunAs); a worker not running as
	// root ignores it (runas.go).
	RunAs string

	// runAs is RunAs resolved by Start (nil: the worker's own account).
	runAs *mapreduce.RunAs
}

// DefaultConfig returns a worker's defaults.
func DefaultConfig() Config {
	return Config{
		ID:                  "worker-1",
		Role:                state.RoleCore,
		Join:                []string{"127.0.0.1:7400"},
		Addr:                "127.0.0.1:7410",
		GossipAddr:          "127.0.0.1:7411",
		DataDir:             "gomr-data/worker-1",
		Slots:               runtime.NumCPU(),
		TinySlots:           2 * runtime.NumCPU(),
		HeartbeatInterval:   time.Second,
		ShuffleMemoryBytes:  64 << 20,
		ShuffleMergeBytes:   4 << 20,
		LogRetentionBytes:   DefaultLogRetentionBytes,
		MapOutputCacheBytes: DefaultMapOutputCacheBytes(),
	}
}

// Validate reports what is wrong with the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if _, ok := state.ParseRole(string(c.Role)); !ok {
		errs = append(errs, fmt.Errorf("role must be core or task, got %q", c.Role))
	}
	if len(c.Join) == 0 {
		errs = append(errs, errors.New("join: no primary address given"))
	}
	if c.Listener == nil {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
		}
	}
	if _, _, err := net.SplitHostPort(c.GossipAddr); err != nil {
		errs = append(errs, fmt.Errorf("gossip-addr %q: %w", c.GossipAddr, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir is empty"))
	}
	if c.Slots < 1 {
		errs = append(errs, fmt.Errorf("slots must be at least 1, got %d", c.Slots))
	}
	if c.TinySlots < 0 {
		errs = append(errs, fmt.Errorf("tiny-slots must not be negative, got %d", c.TinySlots))
	}
	if c.HeartbeatInterval <= 0 {
		errs = append(errs, fmt.Errorf("heartbeat-interval must be positive, got %s", c.HeartbeatInterval))
	}
	if c.LogRetentionBytes < 0 {
		errs = append(errs, fmt.Errorf("log-retention must not be negative, got %d", c.LogRetentionBytes))
	}
	if c.MapOutputCodec == "none" {
		c.MapOutputCodec = ""
	}
	if err := mapreduce.CheckMapOutputCodec(c.MapOutputCodec); err != nil {
		errs = append(errs, fmt.Errorf("map-output-codec: %w", err))
	}
	if c.ShuffleMergeBytes < 0 {
		errs = append(errs, fmt.Errorf("shuffle-merge must not be negative, got %d", c.ShuffleMergeBytes))
	}
	if c.MapOutputCacheBytes < 0 {
		errs = append(errs, fmt.Errorf("map-output-cache must not be negative, got %d", c.MapOutputCacheBytes))
	}
	if c.ShuffleMemoryBytes < 0 {
		errs = append(errs, fmt.Errorf("shuffle-memory must not be negative, got %d", c.ShuffleMemoryBytes))
	}
	return errors.Join(errs...)
}
