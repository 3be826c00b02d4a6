package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/hdfs"
	"github.com/gomr/gomr/hdfs/hdfspb"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// TestHDFSCommands drives HDFS with the CLI on one cluster of real
// processes (a primary, three core workers and a task worker): files of
// every size around a block boundary go in with put and come back
// byte for byte with get and cat; then every kind of bad input gets a
// clear error naming the path and what is wrong, and nothing already
// stored changes.
func TestHDFSCommands(t *testing.T) {
	h := startHDFS(t, ct.Options{Workers: ct.Roles("core", "core", "core", "task")})
	t.Run("round trips", func(t *testing.T) { hdfsRoundTrips(t, h.on(t)) })
	t.Run("bad input", func(t *testing.T) { hdfsBadInput(t, h.on(t)) })
}

// hdfsRoundTrips puts files of 0 and 1 bytes, one byte short of a block,
// a block, a block and a byte and many blocks (with a 1 KiB block size
// given to put, and the cluster's 64 KiB), and reads each back with get
// and cat. stat, ls, du and fsck describe each as its size says.
func hdfsRoundTrips(t *testing.T, h *hdfsCluster) {
	const bs = 1024
	type file struct {
		path      string
		size      int
		blockSize int
		rep       int
	}
	var files []file
	for _, n := range []int{0, 1, bs - 1, bs, bs + 1, 37*bs + 123} {
		files = append(files, file{fmt.Sprintf("/sizes/bs1k/f%d", n), n, bs, 2})
	}
	for _, n := range []int{hdfsBlock - 1, hdfsBlock, 5*hdfsBlock + 7} {
		files = append(files, file{fmt.Sprintf("/sizes/bs64k/f%d", n), n, hdfsBlock, 3})
	}
	h.must("hdfs", "mkdir", "-p", "/sizes/bs1k", "/sizes/bs64k")
	written := map[string][]byte{}
	var total, consumed, blocks int64
	for i, f := range files {
		data := testData(f.size, uint64(i))
		flags := []string{"--replication", fmt.Sprint(f.rep)}
		if f.blockSize != hdfsBlock {
			flags = append(flags, "--block-size", fmt.Sprint(f.blockSize))
		}
		h.put(data, f.path, flags...)
		written[f.path] = data
		total += int64(f.size)
		consumed += int64(f.size * f.rep)
		blocks += int64((f.size + f.blockSize - 1) / f.blockSize)
		// %b length, %o block size, %r replication, %F type.
		want := fmt.Sprintf("%d %d %d regular file", f.size, f.blockSize, f.rep)
		if got := strings.TrimSpace(h.must("hdfs", "stat", "%b %o %r %F", f.path)); got != want {
			t.Errorf("stat %s: %q, want %q", f.path, got, want)
		}
	}
	h.checkFiles(written)

	// stdin as the source.
	data := testData(3*bs+5, 99)
	put := h.start("hdfs", "put", "--block-size", fmt.Sprint(bs), "-", "/sizes/stdin")
	if _, err := put.stdin.Write(data); err != nil {
		t.Fatal(err)
	}
	put.stdin.Close()
	if code := put.wait(t); code != 0 {
		t.Fatalf("put - : exit %d: %s", code, put.stderr.String())
	}
	checkSame(t, "cat /sizes/stdin", h.cat("/sizes/stdin"), data)
	written["/sizes/stdin"] = data
	total += int64(len(data))
	consumed += int64(len(data)) // the default replication of 3 core workers: 1
	blocks += 4

	var ls []jsonStatus
	if err := json.Unmarshal([]byte(h.must("hdfs", "ls", "-R", "/sizes", "--format", "json")), &ls); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, s := range ls {
		if s.Type == "file" {
			seen++
			if want, ok := written[s.Path]; !ok || s.Length != int64(len(want)) {
				t.Errorf("ls -R lists %s of %d bytes; %d were written there", s.Path, s.Length, len(want))
			}
		}
	}
	if seen != len(written) {
		t.Errorf("ls -R lists %d files, want %d: %v", seen, len(written), ls)
	}
	var du []struct {
		Length   int64 `json:"length"`
		Consumed int64 `json:"space_consumed"`
		Files    int64 `json:"files"`
	}
	if err := json.Unmarshal([]byte(h.must("hdfs", "du", "-s", "/sizes", "--format", "json")), &du); err != nil || len(du) != 1 {
		t.Fatalf("du -s: %v %v", err, du)
	}
	if du[0].Length != total || du[0].Consumed != consumed || du[0].Files != int64(len(written)) {
		t.Errorf("du -s /sizes: %+v, want %d bytes, %d consumed, %d files", du[0], total, consumed, len(written))
	}
	s := h.waitFsckHealthy("/sizes")
	if s.Files != int64(len(written)) || s.Blocks != blocks || s.Bytes != total {
		t.Errorf("fsck /sizes: %d files, %d blocks, %d bytes; want %d, %d, %d", s.Files, s.Blocks, s.Bytes, len(written), blocks, total)
	}
}

// hdfsBadInput tries every kind of bad input the issue names, each of
// which must end in a clear error that names the path and what is wrong
// (exit code not 0), while what is stored stays as it was: the namespace
// (ls -R) and every file's bytes are compared with what was there before.
func hdfsBadInput(t *testing.T, h *hdfsCluster) {
	orig, repl := testData(3*hdfsBlock+11, 1), testData(2*hdfsBlock+5, 2)
	h.must("hdfs", "mkdir", "-p", "/bad/sub")
	h.put(orig, "/bad/f", "--replication", "2")
	h.put(orig[:100], "/bad/sub/g")
	before := h.lsR()
	// rebase takes the namespace after an intended change as the one to
	// keep.
	rebase := func() { before = h.lsR() }
	intact := func(what string) {
		t.Helper()
		if now := h.lsR(); now != before {
			t.Fatalf("after %s the namespace changed:\n%s\nwas:\n%s", what, now, before)
		}
		// cat of both files, in one command.
		checkSame(t, "after "+what+", cat /bad/f /bad/sub/g", []byte(h.must("hdfs", "cat", "/bad/f", "/bad/sub/g")), append(slices.Clone(orig), orig[:100]...))
	}

	t.Run("put onto an existing file", func(t *testing.T) {
		h := h.on(t)
		h.fails([]string{"put: create /bad/f: file exists"}, "hdfs", "put", localFile(t, repl), "/bad/f")
		intact("put without -f")
		h.put(repl, "/bad/f", "-f", "--replication", "2")
		checkSame(t, "after put -f", h.cat("/bad/f"), repl)
		h.put(orig, "/bad/f", "-f", "--replication", "2")
		rebase()
		intact("put -f twice")
	})
	t.Run("read a missing path", func(t *testing.T) {
		h := h.on(t)
		for _, cmd := range []string{"cat", "get", "ls", "stat", "fsck"} {
			args := []string{"hdfs", cmd, "/bad/missing"}
			dst := filepath.Join(t.TempDir(), "out")
			if cmd == "get" {
				args = append(args, dst)
			}
			h.fails([]string{"hdfs:///bad/missing", "no such file or directory"}, args...)
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("%s of a missing path left a local file: %v", cmd, err)
			}
		}
		if _, _, code := h.run("hdfs", "test", "-e", "/bad/missing"); code != 1 {
			t.Errorf("test -e of a missing path: exit %d, want 1", code)
		}
		// get never overwrites a local file without -f.
		local := localFile(t, []byte("keep me"))
		h.fails([]string{local, "file exists"}, "hdfs", "get", "/bad/f", local)
		if b, _ := os.ReadFile(local); string(b) != "keep me" {
			t.Errorf("get without -f overwrote %s", local)
		}
		intact("reads of a missing path")
	})
	t.Run("bad paths", func(t *testing.T) {
		h := h.on(t)
		// Each bad path is refused by every command, as namespace.Clean
		// documents: "..", "." and empty components (HDFS refuses "//"
		// inside a path too), invalid UTF-8, control characters, ':'.
		for _, tc := range []struct{ path, why string }{
			{"/bad/../f", `component 2 is ".." (. and .. are not allowed)`},
			{"/bad/./f", `component 2 is "." (. and .. are not allowed)`},
			{"/bad//f", "component 2 is empty (a double slash)"},
			{"/bad/f//", "component 3 is empty (a double slash)"},
			{"/bad/\xffname", "invalid UTF-8 at byte 5"},
			{"/bad/a\tb", "control character U+0009 at byte 6"},
			{"/bad/a:b", `component 2 "a:b" contains ':'`},
			{"bad/f", "relative path"},
			{"s3://bucket/f", `scheme "s3" is not hdfs`},
		} {
			quoted := fmt.Sprintf("bad HDFS path %q", tc.path)
			h.fails([]string{quoted, tc.why}, "hdfs", "put", localFile(t, repl), tc.path)
			h.fails([]string{quoted, tc.why}, "hdfs", "cat", tc.path)
		}
		// Every command checks its paths.
		for _, args := range [][]string{
			{"mkdir", "-p", "/bad/../x"}, {"rm", "-r", "/bad/../x"}, {"mv", "/bad/f", "/bad/../x"}, {"mv", "/bad/../f", "/x"},
			{"cp", "/bad/f", "/bad/../x"}, {"ls", "/bad/../x"}, {"stat", "/bad/../x"}, {"get", "/bad/../x", t.TempDir()},
			{"setrep", "1", "/bad/../x"}, {"du", "/bad/../x"}, {"fsck", "/bad/../x"}, {"test", "-e", "/bad/../x"},
		} {
			h.fails([]string{"bad HDFS path", `component 2 is ".."`}, append([]string{"hdfs"}, args...)...)
		}
		intact("commands on bad paths")
	})
	t.Run("rm a folder that is not empty", func(t *testing.T) {
		h := h.on(t)
		h.fails([]string{"/bad", "folder that is not empty", "recursively"}, "hdfs", "rm", "/bad")
		h.fails([]string{"/bad/sub", "folder that is not empty"}, "hdfs", "rm", "/bad/sub")
		intact("rm without -r")
		h.must("hdfs", "mkdir", "/bad/empty")
		h.must("hdfs", "rm", "/bad/empty")
		rebase()
		intact("rm of an empty folder")
	})
	t.Run("mv onto itself or into itself", func(t *testing.T) {
		h := h.on(t)
		h.fails([]string{"/bad/f", "file exists"}, "hdfs", "mv", "/bad/f", "/bad/f")
		h.fails([]string{"rename /bad onto itself"}, "hdfs", "mv", "/bad", "/bad")
		h.fails([]string{"rename /bad into its own subfolder /bad/sub/bad"}, "hdfs", "mv", "/bad", "/bad/sub")
		h.fails([]string{"rename /bad into its own subfolder /bad/new"}, "hdfs", "mv", "/bad", "/bad/new")
		h.fails([]string{"/bad/f", "file exists"}, "hdfs", "mv", "/bad/sub/g", "/bad/f")
		h.fails([]string{"rename /", "cannot be moved"}, "hdfs", "mv", "/", "/bad/root")
		intact("mv into itself")
	})
	t.Run("setrep above the core workers", func(t *testing.T) {
		h := h.on(t)
		h.fails([]string{"hdfs:///bad/f", "bad replication 4: more than the 3 live core workers"}, "hdfs", "setrep", "4", "/bad/f")
		h.fails([]string{"hdfs:///bad", "bad replication 600: not in 1..512"}, "hdfs", "setrep", "600", "/bad")
		h.fails([]string{`replication "0"`, "at least 1"}, "hdfs", "setrep", "0", "/bad/f")
		h.fails([]string{"hdfs:///bad/f", "bad replication 4"}, "hdfs", "put", "-f", "--replication", "4", localFile(t, repl), "/bad/f")
		if r := strings.TrimSpace(h.must("hdfs", "stat", "%r", "/bad/f")); r != "2" {
			t.Errorf("replication of /bad/f is %s after refused changes, want 2", r)
		}
		intact("setrep refused")
	})
	t.Run("block writes to the wrong worker", func(t *testing.T) {
		h := h.on(t)
		task := h.Node("task-1")
		err := writeBlock(h.dataNode(task.Addr()), 1<<40, repl[:1000])
		if err == nil || !strings.Contains(err.Error(), "task worker: it stores no HDFS blocks") {
			t.Fatalf("a block write to a task worker: %v", err)
		}
		if _, err := os.Stat(filepath.Join(h.Dir(), "task-1", "hdfs")); !os.IsNotExist(err) {
			t.Errorf("the task worker has an HDFS folder: %v", err)
		}
		// A core worker refuses a block it holds already, and data whose
		// checksums do not match, keeping what it had.
		b := h.blocks("/bad/f")[0]
		holder := h.Node(b.Locations[0].Worker)
		err = writeBlock(h.dataNode(holder.Addr()), b.Block.Id, repl[:1000])
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("create block %d on worker %s: block already exists", b.Block.Id, holder.Name())) {
			t.Fatalf("a second write of block %d to %s: %v", b.Block.Id, holder.Name(), err)
		}
		stream, err := h.dataNode(holder.Addr()).WriteBlock(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stream.Send(&hdfspb.WriteBlockRequest{Header: &hdfspb.WriteBlockHeader{Block: &hdfspb.Block{Id: 1 << 41}, Reason: "client"}})
		stream.Send(&hdfspb.WriteBlockRequest{Data: repl[:512], Sums: []uint32{12345}})
		if _, err := stream.CloseAndRecv(); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("a block with a bad checksum: %v", err)
		}
		if _, err := os.Stat(h.replicaPath(holder.Name(), 1<<41)); !os.IsNotExist(err) {
			t.Errorf("a block with a bad checksum was stored: %v", err)
		}
		intact("block writes refused")
	})
	t.Run("bad block reports", func(t *testing.T) {
		h := h.on(t)
		hdfsBadBlockReports(t, h)
		intact("bad block reports")
	})
}

// hdfsBadBlockReports sends the leader block reports it must not trust:
// one from a worker incarnation that is not registered is refused; a
// block no file has (written to a core worker behind the primaries'
// back) is ordered deleted; and a replica of a file's block with the
// wrong length (the same id written, short, to a core worker without
// it) never counts as a replica and is deleted, while the good replicas
// stay.
func hdfsBadBlockReports(t *testing.T, h *hdfsCluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var core1 *pb.Node
	for _, w := range h.Nodes().Workers {
		if w.Id == "core-1" {
			core1 = w
		}
	}
	fsckBefore, _ := h.fsck("/")
	// The report comes as a worker's would: with the cluster's own
	// credentials (a primary's certificate on a TLS cluster).
	peer, err := pb.Dial(h.Addrs(), h.PeerDialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	_, err = pb.NewWorkerClient(peer).Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: "core-1", Incarnation: core1.Incarnation + 1,
		BlockReport: &hdfspb.BlockReport{Full: true, Seq: 1, Blocks: []*hdfspb.Block{{Id: 1 << 42, Length: 10}}}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("worker core-1 incarnation %d", core1.Incarnation+1)) || !strings.Contains(err.Error(), "not registered and alive") {
		t.Fatalf("a block report of an incarnation that is not registered: %v", err)
	}

	// A block of no file.
	unknown := int64(1 << 43)
	if err := writeBlock(h.dataNode(h.Node("core-2").Addr()), unknown, testData(1500, 7)); err != nil {
		t.Fatal(err)
	}
	// A short replica of a block of /bad/f, on the core worker that does
	// not hold it.
	b := h.blocks("/bad/f")[1]
	others := map[string]bool{"core-1": true, "core-2": true, "core-3": true}
	for _, w := range holders(b) {
		delete(others, w)
	}
	if len(others) != 1 {
		t.Fatalf("block %d of /bad/f is on %v: want 2 of the 3 core workers", b.Block.Id, holders(b))
	}
	var forger string
	for w := range others {
		forger = w
	}
	if err := writeBlock(h.dataNode(h.Node(forger).Addr()), b.Block.Id, testData(512, 8)); err != nil {
		t.Fatal(err)
	}
	// Both writes were answered, so both replicas were stored: a DataNode
	// answers a write once its replica is on disk. They are not looked
	// for on disk here, as the leader may already have had them deleted:
	// the worker reports a block it receives at once.
	h.waitFor("the leader to delete the replicas no file has and those of the wrong length", func() (bool, string) {
		if slices.Contains(holders(h.blocks("/bad/f")[1]), forger) {
			t.Fatalf("a replica of block %d of the wrong length on %s counts as a replica", b.Block.Id, forger)
		}
		for _, f := range []string{h.replicaPath("core-2", unknown), h.replicaPath(forger, b.Block.Id)} {
			if _, err := os.Stat(f); !os.IsNotExist(err) {
				return false, f + " is still there"
			}
		}
		return true, ""
	})
	if got := holders(h.blocks("/bad/f")[1]); !slices.Equal(got, holders(b)) {
		t.Fatalf("block %d is on %v now, was on %v", b.Block.Id, got, holders(b))
	}
	for _, w := range holders(b) {
		if _, err := os.Stat(h.replicaPath(w, b.Block.Id)); err != nil {
			t.Fatalf("the good replica on %s: %v", w, err)
		}
	}
	fsckAfter := h.waitFsckHealthy("/")
	if fsckAfter.Blocks != fsckBefore.Blocks || fsckAfter.Files != fsckBefore.Files {
		t.Fatalf("fsck / after bad reports: %+v, before %+v", fsckAfter, fsckBefore)
	}
}

// writeBlock writes a block straight to a worker's DataNode service, as
// a client does once the primaries have allocated it.
func writeBlock(dn hdfspb.DataNodeClient, id int64, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := dn.WriteBlock(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&hdfspb.WriteBlockRequest{Header: &hdfspb.WriteBlockHeader{Block: &hdfspb.Block{Id: id}, Reason: "client"}}); err != nil {
		_, rerr := stream.CloseAndRecv()
		return errors.Join(err, rerr)
	}
	var sums []uint32
	for i := 0; i < len(data); i += hdfs.ChunkSize {
		sums = append(sums, crc32.Checksum(data[i:min(len(data), i+hdfs.ChunkSize)], crc32.MakeTable(crc32.Castagnoli)))
	}
	if err := stream.Send(&hdfspb.WriteBlockRequest{Data: data, Sums: sums}); err != nil {
		_, rerr := stream.CloseAndRecv()
		return errors.Join(err, rerr)
	}
	_, err = stream.CloseAndRecv()
	return err
}
