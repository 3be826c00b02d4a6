package client

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// Config configures a client.
type Config struct {
	// Primaries is a connection to the cluster's primaries (any of them
	// answers NameNode calls).
	Primaries grpc.ClientConnInterface
	// Dial returns a connection to a core worker's DataNode service.
	Dial func(addr string) (grpc.ClientConnInterface, error)
	// Worker is the worker this client runs on ("" for a client off the
	// cluster): its replicas are read first and, on a core worker, written
	// first.
	Worker string
	// Name names the client in leases; a random name when empty.
	Name string
	// Owner is the owner of the files and folders it creates.
	Owner string
	// LeaseRenewal is how often the leases of files being written are
	// renewed (default 5s; the primaries' lease timeout must be longer).
	LeaseRenewal time.Duration
	Logger       *slog.Logger
}

// Client talks to gomr's HDFS. It is safe for concurrent use.
type Client struct {
	cfg Config
	nn  hdfspb.NameNodeClient
	log *slog.Logger

	mu      sync.Mutex
	writing int // files open for writing: their lease is renewed
	stop    chan struct{}
}

// New returns a client.
func New(cfg Config) *Client {
	if cfg.Name == "" {
		cfg.Name = "gomr-client-" + rand.Text()[:10]
	}
	if cfg.LeaseRenewal <= 0 {
		cfg.LeaseRenewal = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Owner == "" {
		cfg.Owner = "gomr"
	}
	return &Client{cfg: cfg, nn: hdfspb.NewNameNodeClient(safeModeRetry{cfg.Primaries}), log: cfg.Logger}
}

// NameNode returns the client's NameNode stub, for calls this package does
// not wrap (fsck, safe mode, stats).
func (c *Client) NameNode() hdfspb.NameNodeClient { return c.nn }

// Name returns the client's lease name.
func (c *Client) Name() string { return c.cfg.Name }

// dataNode returns the DataNode stub of a core worker.
func (c *Client) dataNode(addr string) (hdfspb.DataNodeClient, error) {
	cc, err := c.cfg.Dial(addr)
	if err != nil {
		return nil, fmt.Errorf("connect to core worker %s: %w", addr, err)
	}
	return hdfspb.NewDataNodeClient(cc), nil
}

// openWriter counts a file open for writing, renewing the lease while
// any is.
func (c *Client) openWriter() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing++
	if c.writing == 1 {
		c.stop = make(chan struct{})
		go c.renewLeases(c.stop)
	}
}

func (c *Client) closeWriter() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing--
	if c.writing == 0 {
		close(c.stop)
	}
}

func (c *Client) renewLeases(stop chan struct{}) {
	tick := time.NewTicker(c.cfg.LeaseRenewal)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LeaseRenewal)
		_, err := c.nn.RenewLease(ctx, &hdfspb.RenewLeaseRequest{Client: c.cfg.Name})
		cancel()
		if err != nil {
			c.log.Warn("renew HDFS lease", "client", c.cfg.Name, "err", err)
		}
	}
}

// safeModeWait bounds how long a change waits for safe mode to end.
const safeModeWait = 2 * time.Minute

// leaderWait bounds how long a call waits for the primaries to have a
// leader again (an election after the leader died), as the CLI's other
// commands wait (their --timeout).
const leaderWait = 30 * time.Second

// safeModeRetry is a connection to the primaries that sends a NameNode
// call again while HDFS is in safe mode (as after a failover, until the
// core workers have reported their blocks), for up to safeModeWait, and
// while the primaries have no leader or the one it reached is gone, for
// up to leaderWait, as long as some primary can be reached.
//
// A change sent again may have been applied the first time, when the
// leader died between applying it and answering. Creating a file again
// is harmless (the same client may); a block added or a file completed
// twice is refused as not fitting the file's state, and Writer.Close
// recognises its own completed file.
type safeModeRetry struct{ grpc.ClientConnInterface }

func (r safeModeRetry) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	start := time.Now()
	backoff := 100 * time.Millisecond
	for {
		err := r.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
		switch {
		case hdfspb.IsSafeMode(err):
			if time.Since(start) > safeModeWait {
				return err
			}
		case status.Code(err) == codes.Unavailable:
			if time.Since(start) > leaderWait || r.unreachable() {
				return err
			}
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// unreachable reports whether no primary can be reached at all (every
// connection failed): a call is then not worth sending again.
func (r safeModeRetry) unreachable() bool {
	cc, ok := r.ClientConnInterface.(interface{ GetState() connectivity.State })
	return ok && cc.GetState() == connectivity.TransientFailure
}
