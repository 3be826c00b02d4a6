package client_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/primary"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
	"google.golang.org/grpc"
)

// testCluster is one primary and a few core workers in this process.
type testCluster struct {
	t       *testing.T
	dir     string
	p       *primary.Server
	workers map[string]*worker.Worker
	logs    *syncLog
	conn    *pb.Conn
	peers   *pb.ConnCache
}

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startCluster(t *testing.T, core int, tune func(*primary.Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, dir: t.TempDir(), workers: map[string]*worker.Worker{}, logs: &syncLog{}}
	log := slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.logs.String())
		}
	})
	pc := primary.DefaultConfig()
	pc.NodeID, pc.DataDir = "p1", filepath.Join(c.dir, "p1")
	pc.Addr, pc.RaftAddr, pc.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	pc.Fast, pc.Logger, pc.WorkerTimeout, pc.MinSplitSize = true, log, 2*time.Second, 1
	pc.BlockSize, pc.BlockCheckInterval, pc.LeaseTimeout = 4096, 100*time.Millisecond, 2*time.Second
	if tune != nil {
		tune(&pc)
	}
	p, err := primary.Start(pc)
	if err != nil {
		t.Fatal(err)
	}
	c.p = p
	t.Cleanup(p.Stop)
	for i := range core {
		c.addWorker(fmt.Sprintf("core-%d", i+1), state.RoleCore)
	}
	if c.conn, err = pb.Dial([]string{p.Addr()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close() })
	c.peers = pb.NewConnCache()
	t.Cleanup(c.peers.Close)
	c.waitReported()
	return c
}

// waitReported waits until every core worker has reported its blocks and
// HDFS is out of safe mode.
func (c *testCluster) waitReported() {
	c.t.Helper()
	c.waitFor("every core worker to report its blocks", func() bool {
		st, err := c.client("").NameNode().Stats(context.Background(), &hdfspb.StatsRequest{})
		if err != nil || st.SafeMode {
			return false
		}
		nodes, err := pb.NewClientClient(c.conn).ListNodes(context.Background(), &pb.ListNodesRequest{})
		if err != nil {
			return false
		}
		reported := 0
		for _, w := range nodes.Workers {
			if w.HdfsCapacity > 0 && w.State.Value() == state.WorkerAlive {
				reported++
			}
		}
		return reported == len(c.workers)
	})
}

func (c *testCluster) addWorker(id string, role state.WorkerRole) *worker.Worker {
	c.t.Helper()
	wc := worker.DefaultConfig()
	wc.ID, wc.Role, wc.Join = id, role, []string{c.p.Addr()}
	wc.Addr, wc.GossipAddr, wc.DataDir = "127.0.0.1:0", "127.0.0.1:0", filepath.Join(c.dir, id)
	wc.Slots, wc.HeartbeatInterval, wc.Fast = 2, 100*time.Millisecond, true
	wc.Logger = slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	w, err := worker.Start(wc)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(w.Stop)
	c.workers[id] = w
	return w
}

// client returns an HDFS client running on a worker ("" for none).
func (c *testCluster) client(worker string) *client.Client {
	return client.New(client.Config{
		Primaries: c.conn, Worker: worker, LeaseRenewal: 200 * time.Millisecond,
		Dial: func(addr string) (grpc.ClientConnInterface, error) { return c.peers.Get(addr) },
	})
}

func (c *testCluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func put(t *testing.T, cl *client.Client, p string, data []byte, o client.CreateOptions) {
	t.Helper()
	w, err := cl.Create(context.Background(), p, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, cl *client.Client, p string) []byte {
	t.Helper()
	f, err := cl.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, f.Size())
	if n, err := f.ReadAt(b, 0); err != nil && n != len(b) {
		t.Fatalf("read %s: %v", p, err)
	}
	return b
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// fsck returns the health of every block under a path.
func (c *testCluster) fsck(p string) (under, missing, corrupt, blocks int) {
	resp, err := c.client("").NameNode().Fsck(context.Background(), &hdfspb.FsckRequest{Path: p})
	if err != nil {
		c.t.Fatal(err)
	}
	for _, f := range resp.Files {
		for _, b := range f.Blocks {
			blocks++
			switch {
			case b.LiveReplicas == 0 && b.CorruptReplicas > 0:
				corrupt++
			case b.LiveReplicas == 0:
				missing++
			case b.LiveReplicas < b.Replication:
				under++
			}
		}
	}
	return
}

func TestWriteAndReadBackEverySize(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := c.client("")
	for i, n := range []int{0, 1, 511, 512, 4095, 4096, 4097, 3*4096 + 100, 40 * 4096} {
		data := randomBytes(n, byte(i))
		p := fmt.Sprintf("/sizes/f%d", n)
		put(t, cl, p, data, client.CreateOptions{CreateParent: true, Replication: 2})
		if got := readAll(t, cl, p); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes that differ", n, len(got))
		}
		f, err := cl.Open(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if n > 1000 { // a read at an odd offset across a block boundary
			off := int64(n/2 + 7)
			buf := make([]byte, min(5000, n-int(off)))
			if _, err := f.ReadAt(buf, off); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, data[off:off+int64(len(buf))]) {
				t.Fatalf("%d bytes: ranged read differs", n)
			}
		}
	}
	if under, missing, corrupt, blocks := c.fsck("/"); under+missing+corrupt != 0 || blocks < 50 {
		t.Fatalf("fsck: %d blocks, %d under-replicated, %d missing, %d corrupt", blocks, under, missing, corrupt)
	}
}

// TestReadGoesOnWhenAReplicaDies crashes the worker a read is reading from,
// mid-read: the read completes with the right bytes from another replica;
// then the lost replicas are made again elsewhere.
func TestReadGoesOnWhenAReplicaDies(t *testing.T) {
	c := startCluster(t, 4, nil)
	cl := c.client("")
	data := randomBytes(64*4096, 9)
	put(t, cl, "/f", data, client.CreateOptions{Replication: 2})
	f, err := cl.Open(context.Background(), "/f")
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 3*4096)
	if _, err := f.ReadAt(first, 0); err != nil {
		t.Fatal(err)
	}
	// Crash one of the workers holding the next block.
	victim := f.Locations(3 * 4096)[0]
	c.workers[victim].Crash()
	rest := make([]byte, len(data)-len(first))
	if _, err := f.ReadAt(rest, int64(len(first))); err != nil {
		t.Fatalf("the read failed when %s died: %v", victim, err)
	}
	if !bytes.Equal(append(first, rest...), data) {
		t.Fatal("the bytes read differ")
	}
	c.waitFor("the lost replicas to be made again", func() bool {
		under, missing, corrupt, _ := c.fsck("/")
		return under+missing+corrupt == 0
	})
	if got := readAll(t, c.client(""), "/f"); !bytes.Equal(got, data) {
		t.Fatal("after re-replication the file differs")
	}
}

// TestCorruptReplicaIsReplaced flips a byte of one replica on disk: reads
// still return the right bytes, the bad replica is reported, deleted and
// replaced, and every replica then reads right.
func TestCorruptReplicaIsReplaced(t *testing.T) {
	c := startCluster(t, 3, nil)
	cl := c.client("")
	data := randomBytes(2*4096, 3)
	put(t, cl, "/c", data, client.CreateOptions{Replication: 2})
	holder := c.locations("/c")[0][0]
	blockID := c.blockIDs("/c")[0]
	replica := filepath.Join(c.dir, holder, "hdfs", "current", fmt.Sprintf("blk_%d", blockID))
	raw, err := os.ReadFile(replica)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(replica, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c.client(holder), "/c"); !bytes.Equal(got, data) { // its own, corrupt replica first
		t.Fatal("a read through a corrupt replica returned wrong bytes")
	}
	c.waitFor("the corrupt replica to be replaced", func() bool {
		under, missing, corrupt, _ := c.fsck("/")
		return under+missing+corrupt == 0 && len(c.locations("/c")[0]) == 2
	})
	for _, w := range c.locations("/c")[0] {
		if got := readAll(t, c.client(w), "/c"); !bytes.Equal(got, data) {
			t.Fatalf("the replica on %s reads wrong", w)
		}
	}
}

// blockIDs returns the ids of a file's blocks.
func (c *testCluster) blockIDs(p string) []int64 {
	resp, err := c.client("").NameNode().GetBlockLocations(context.Background(), &hdfspb.GetBlockLocationsRequest{Path: p})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []int64
	for _, b := range resp.Blocks {
		out = append(out, b.Block.Id)
	}
	return out
}

// locations returns the workers holding each block of a file.
func (c *testCluster) locations(p string) [][]string {
	resp, err := c.client("").NameNode().GetBlockLocations(context.Background(), &hdfspb.GetBlockLocationsRequest{Path: p})
	if err != nil {
		c.t.Fatal(err)
	}
	var out [][]string
	for _, b := range resp.Blocks {
		var ws []string
		for _, l := range b.Locations {
			ws = append(ws, l.Worker)
		}
		out = append(out, ws)
	}
	return out
}

// TestAbandonedWriteLeavesNothing: a writer that stops renewing its lease
// (as one that was killed) leaves no visible file, and once the lease
// expires its blocks are deleted from the core workers.
func TestAbandonedWriteLeavesNothing(t *testing.T) {
	c := startCluster(t, 2, nil)
	conn, err := pb.Dial([]string{c.p.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(client.Config{Primaries: conn, LeaseRenewal: time.Hour, // it never renews
		Dial: func(addr string) (grpc.ClientConnInterface, error) { return c.peers.Get(addr) }})
	w, err := cl.Create(context.Background(), "/half", client.CreateOptions{Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(5*4096, 1)); err != nil { // full blocks go out as they fill
		t.Fatal(err)
	}
	conn.Close() // the writer is gone, without closing the file
	if _, err := c.client("").Stat(context.Background(), "/half"); err == nil {
		t.Fatal("a file being written is visible")
	}
	c.waitFor("the lease to expire and the orphan blocks to be deleted", func() bool {
		n := 0
		for id := range c.workers {
			files, _ := filepath.Glob(filepath.Join(c.dir, id, "hdfs", "current", "blk_*[0-9]"))
			n += len(files)
		}
		return n == 0
	})
}

func TestTaskWorkersStoreNoBlocks(t *testing.T) {
	c := startCluster(t, 1, nil)
	tw := c.addWorker("task-1", state.RoleTask)
	cc, err := c.peers.Get(tw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	stream, err := hdfspb.NewDataNodeClient(cc).WriteBlock(context.Background())
	if err == nil {
		stream.Send(&hdfspb.WriteBlockRequest{Header: &hdfspb.WriteBlockHeader{Block: &hdfspb.Block{Id: 99}}})
		_, err = stream.CloseAndRecv()
	}
	if err == nil || !strings.Contains(err.Error(), "task worker: it stores no HDFS blocks") {
		t.Fatalf("a block write to a task worker: %v", err)
	}
}
