package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/hdfs/hdfspb"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The HDFS tests run real gomr processes and drive HDFS through the CLI,
// as a user would; they inspect the cluster through the NameNode API and
// the core workers' block files on disk, and compare every byte read back
// with what was written.

// hdfsPatience bounds every wait of the HDFS tests (re-replication, lease
// expiry, safe mode): generous, for a loaded machine.
const hdfsPatience = 90 * time.Second

// hdfsBlock is the primaries' default block size in these tests (their
// --block-size): small, so that small files have many blocks.
const hdfsBlock = 64 << 10

// hdfsPrimaryArgs are the primaries' flags of the HDFS tests: small
// blocks and a block check every 200ms, then extra.
func hdfsPrimaryArgs(extra ...string) []string {
	return append([]string{"--block-size", strconv.Itoa(hdfsBlock), "--block-check-interval", "200ms"}, extra...)
}

// hdfsCluster is a cluster of gomr processes with the HDFS API at hand.
type hdfsCluster struct {
	*ct.ProcessCluster
	t *testing.T
	// nn is the NameNode API of the primaries, without the client's
	// retries in safe mode: it sees what the primaries answer.
	nn    hdfspb.NameNodeClient
	conn  *pb.Conn
	peers *pb.ConnCache
}

// startHDFS starts a cluster of processes (with hdfsPrimaryArgs before
// o.PrimaryArgs) and waits until every core worker has reported its
// blocks and HDFS is out of safe mode.
func startHDFS(t *testing.T, o ct.Options) *hdfsCluster {
	t.Helper()
	o.PrimaryArgs = hdfsPrimaryArgs(o.PrimaryArgs...)
	c := startProcCluster(t, o)
	conn, err := pb.Dial(c.Addrs(), c.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &hdfsCluster{ProcessCluster: c, t: t, nn: hdfspb.NewNameNodeClient(conn), conn: conn, peers: pb.NewConnCache(c.DialOptions()...)}
	t.Cleanup(h.peers.Close)
	h.waitReported()
	return h
}

// on returns the cluster as seen by the (sub)test t: its failures are t's.
func (h *hdfsCluster) on(t *testing.T) *hdfsCluster {
	c := *h
	c.t = t
	return &c
}

// waitReported waits until every running core worker is ALIVE and has
// reported its storage, and HDFS is out of safe mode.
func (h *hdfsCluster) waitReported() {
	h.t.Helper()
	h.waitFor("every core worker to report its blocks and HDFS to leave safe mode", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := h.nn.Stats(ctx, &hdfspb.StatsRequest{})
		if err != nil {
			return false, err.Error()
		}
		if st.SafeMode {
			return false, "safe mode is on"
		}
		nodes, err := h.Client().ListNodes(ctx, &pb.ListNodesRequest{})
		if err != nil {
			return false, err.Error()
		}
		reported := map[string]bool{}
		for _, w := range nodes.Workers {
			reported[w.Id] = w.HdfsCapacity > 0 && w.State.Value() == state.WorkerAlive
		}
		for _, w := range h.Workers() {
			if w.Role() == string(state.RoleCore) && w.Running() && !reported[w.Name()] {
				return false, w.Name() + " has not reported"
			}
		}
		return true, ""
	})
}

// waitFor polls cond until it holds, failing the test after hdfsPatience
// with what cond last said.
func (h *hdfsCluster) waitFor(what string, cond func() (bool, string)) {
	h.t.Helper()
	waitCond(h.t, what, cond)
}

func waitCond(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(hdfsPatience)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", hdfsPatience, what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// env is the environment of the CLI commands the tests run: the
// cluster's, and no pause at exit under the race detector (which waits a
// second by default for other goroutines to report).
func (h *hdfsCluster) env() []string {
	return append(h.Env(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// run runs a gomr command against the cluster.
func (h *hdfsCluster) run(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	return gomr(h.t, h.env(), args...)
}

// must runs a gomr command against the cluster and fails the test unless
// it exits 0; it returns the command's stdout.
func (h *hdfsCluster) must(args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("gomr %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs a gomr command that must fail: it checks the exit code is
// not 0 and that stderr holds every one of want, and returns stderr.
func (h *hdfsCluster) fails(want []string, args ...string) string {
	h.t.Helper()
	out, errOut, code := h.run(args...)
	if code == 0 {
		h.t.Fatalf("gomr %q succeeded, want an error\nstdout: %s", args, out)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			h.t.Errorf("gomr %q: error %q does not say %q", args, strings.TrimSpace(errOut), w)
		}
	}
	return errOut
}

// testData returns n pseudo-random bytes from seed.
func testData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < n; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// localFile writes data to a new local file and returns its path.
func localFile(t *testing.T, data []byte) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "local-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// put copies data into HDFS at p with `gomr hdfs put`, with more flags.
func (h *hdfsCluster) put(data []byte, p string, flags ...string) {
	h.t.Helper()
	h.must(append(append([]string{"hdfs", "put"}, flags...), localFile(h.t, data), p)...)
}

// cat reads an HDFS file with `gomr hdfs cat`.
func (h *hdfsCluster) cat(p string) []byte {
	h.t.Helper()
	return []byte(h.must("hdfs", "cat", p))
}

// get reads an HDFS file with `gomr hdfs get` into a new local file, and
// returns its bytes.
func (h *hdfsCluster) get(p string) []byte {
	h.t.Helper()
	dst := filepath.Join(h.t.TempDir(), "got")
	h.must("hdfs", "get", p, dst)
	b, err := os.ReadFile(dst)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// checkSame fails the test unless got is want, saying where they differ.
func checkSame(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: %d bytes read back, %d written; they differ from byte %d", what, len(got), len(want), i)
}

// checkFiles reads every file with get and cat and compares them with
// what was written.
func (h *hdfsCluster) checkFiles(files map[string][]byte) {
	h.t.Helper()
	for _, p := range slices.Sorted(mapsKeys(files)) {
		checkSame(h.t, "get "+p, h.get(p), files[p])
		checkSame(h.t, "cat "+p, h.cat(p), files[p])
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// fsck runs `gomr hdfs fsck PATH --format json` and returns its summary
// and exit code.
func (h *hdfsCluster) fsck(p string) (fsckSummary, int) {
	h.t.Helper()
	out, errOut, code := h.run("hdfs", "fsck", p, "--format", "json")
	var s fsckSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		h.t.Fatalf("fsck %s: exit %d, output %q (%v), stderr %s", p, code, out, err, errOut)
	}
	return s, code
}

// waitFsckHealthy waits until fsck of p says HEALTHY (exit 0) with every
// block fully replicated, and returns its summary.
func (h *hdfsCluster) waitFsckHealthy(p string) fsckSummary {
	h.t.Helper()
	var s fsckSummary
	h.waitFor("fsck "+p+" to be HEALTHY with every block fully replicated", func() (bool, string) {
		var code int
		s, code = h.fsck(p)
		return code == 0 && s.Status == "HEALTHY" && s.UnderReplicated+s.Missing+s.Corrupt == 0 && s.MissingReplicas == 0,
			fmt.Sprintf("exit %d, %+v", code, s)
	})
	return s
}

// blocks returns a file's blocks with their live replicas, as the
// primaries locate them.
func (h *hdfsCluster) blocks(p string) []*hdfspb.LocatedBlock {
	h.t.Helper()
	var resp *hdfspb.GetBlockLocationsResponse
	var err error
	h.waitFor("the block locations of "+p, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err = h.nn.GetBlockLocations(ctx, &hdfspb.GetBlockLocationsRequest{Path: p})
		// Unavailable: no leader yet, or a primary not reached again yet.
		return status.Code(err) != codes.Unavailable, fmt.Sprint(err)
	})
	if err != nil {
		h.t.Fatalf("block locations of %s: %v", p, err)
	}
	return resp.Blocks
}

// holders returns the workers holding a located block.
func holders(b *hdfspb.LocatedBlock) []string {
	var out []string
	for _, l := range b.Locations {
		out = append(out, l.Worker)
	}
	return out
}

// replicaPath is where a core worker keeps its replica of a block.
func (h *hdfsCluster) replicaPath(worker string, id int64) string {
	return filepath.Join(h.Dir(), worker, "hdfs", "current", fmt.Sprintf("blk_%d", id))
}

// replicaFiles returns the finalized block files on a core worker's disk,
// by block id.
func (h *hdfsCluster) replicaFiles(worker string) map[int64]string {
	h.t.Helper()
	files, err := filepath.Glob(filepath.Join(h.Dir(), worker, "hdfs", "current", "blk_*"))
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[int64]string{}
	for _, f := range files {
		if strings.HasSuffix(f, ".meta") {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(f), "blk_"), 10, 64)
		if err == nil {
			out[id] = f
		}
	}
	return out
}

// lsR returns `gomr hdfs ls -R /` as JSON, the namespace as a user sees it.
func (h *hdfsCluster) lsR() string {
	h.t.Helper()
	return h.must("hdfs", "ls", "-R", "/", "--format", "json")
}

// nodes returns `gomr node list --format json`.
func (h *hdfsCluster) nodes() nodesInfo {
	h.t.Helper()
	var n nodesInfo
	out := h.must("node", "list", "--format", "json")
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		h.t.Fatalf("node list: %v: %s", err, out)
	}
	return n
}

// nodesInfo is what the HDFS tests read of `gomr node list --format json`.
type nodesInfo struct {
	Leader  string
	Workers []struct {
		Id, Role, State  string
		HdfsBlocks       int64 `json:"hdfs_blocks"`
		DecommissionLeft int64 `json:"decommission_left"`
	}
}

// dataNode returns the DataNode API of a worker.
func (h *hdfsCluster) dataNode(addr string) hdfspb.DataNodeClient {
	h.t.Helper()
	cc, err := h.peers.Get(addr)
	if err != nil {
		h.t.Fatal(err)
	}
	return hdfspb.NewDataNodeClient(cc)
}

// bg is a gomr command running in the background, its stdin and stdout
// pipes held by the test.
type bg struct {
	cmd *exec.Cmd
	// stdout is the command's output; stdin its input (close it to end
	// the input).
	stdout *os.File
	stdin  *os.File
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// start runs a gomr command in the background with its stdin and stdout
// piped to the test; at cleanup it is killed if still running.
func (h *hdfsCluster) start(args ...string) *bg {
	h.t.Helper()
	b := &bg{cmd: exec.Command(gomrBin, args...), done: make(chan struct{})}
	b.cmd.Env = append(os.Environ(), h.env()...)
	b.cmd.Stderr = &b.stderr
	inR, inW, err := os.Pipe()
	if err != nil {
		h.t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		h.t.Fatal(err)
	}
	b.cmd.Stdin, b.cmd.Stdout = inR, outW
	if err := b.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	b.stdin, b.stdout = inW, outR
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	h.t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.done
		inW.Close()
		outR.Close()
	})
	return b
}

// wait waits until the command exits and returns its exit code.
func (b *bg) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(hdfsPatience):
		t.Fatalf("gomr %q still runs after %s", b.cmd.Args[1:], hdfsPatience)
	}
	if ee, ok := b.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return 0
}

// kill ends the command with SIGKILL and waits until it is gone.
func (b *bg) kill() {
	b.cmd.Process.Kill()
	<-b.done
}
