package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/hdfs/hdfspb"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// TestHDFSCoreWorkerLoss SIGKILLs a core worker of four (replication 2)
// while `gomr hdfs cat` of a 64-block file is reading: the read completes
// with the right bytes from the other replicas; fsck then reports the
// very blocks the worker held under-replicated (HEALTHY, exit 0, in the
// words of hdfs fsck), and HEALTHY with every block on two live workers
// once they are copied; every file reads back identical. Then one replica
// is corrupted on disk: reads still return the right bytes, and the bad
// replica is replaced.
//
// Safe mode holds the copies back while the under-replicated state is
// checked, so that the check does not race with re-replication.
func TestHDFSCoreWorkerLoss(t *testing.T) {
	h := startHDFS(t, ct.Options{Workers: ct.Roles("core", "core", "core", "core"), WorkerTimeout: 3 * time.Second,
		PrimaryArgs: []string{"--replication", "2", "--replication-streams", "16"}})
	files := map[string][]byte{"/data/big": testData(64*hdfsBlock, 1)}
	for i, n := range []int{1, hdfsBlock, 3*hdfsBlock + 100} {
		files[fmt.Sprintf("/data/f%d", i)] = testData(n, uint64(10+i))
	}
	h.must("hdfs", "mkdir", "/data")
	for p, data := range files {
		h.put(data, p)
	}
	h.waitFsckHealthy("/")

	t.Run("killed while a read goes on", func(t *testing.T) {
		h := h.on(t)
		big := files["/data/big"]
		cat := h.start("hdfs", "cat", "/data/big")
		// The reader stops once its output pipe is full, a few dozen KiB
		// past what the test read.
		consumed := 16 * hdfsBlock
		head := make([]byte, consumed)
		if _, err := io.ReadFull(cat.stdout, head); err != nil {
			t.Fatalf("read the head of cat's output: %v (%s)", err, cat.stderr.String())
		}
		// The reader tries a block's replicas in the order the primaries
		// give (its first worker first): kill the first worker of a block
		// it has still to read.
		located := map[string][]*hdfspb.LocatedBlock{}
		for p := range files {
			located[p] = h.blocks(p)
		}
		next := located["/data/big"][20]
		victim := next.Locations[0].Worker
		lost, total := 0, 0 // blocks with a replica on the victim, and all
		for _, bs := range located {
			for _, b := range bs {
				total++
				if len(b.Locations) != 2 {
					t.Fatalf("block %d has %d replicas before the kill, want 2", b.Block.Id, len(b.Locations))
				}
				if slices.Contains(holders(b), victim) {
					lost++
				}
			}
		}
		if out := h.must("hdfs", "safemode", "enter"); !strings.Contains(out, "Safe mode is ON") {
			t.Fatalf("safemode enter printed %q", out)
		}
		h.Kill(h.Node(victim))
		rest, err := io.ReadAll(cat.stdout)
		if err != nil {
			t.Fatal(err)
		}
		if code := cat.wait(t); code != 0 {
			t.Fatalf("cat failed when %s was killed: exit %d: %s", victim, code, cat.stderr.String())
		}
		checkSame(t, "cat across the kill of "+victim, append(head, rest...), big)

		ct.WaitDown(t, h, victim)
		out, errOut, code := h.run("hdfs", "fsck", "/", "-files", "-blocks", "-locations")
		if code != 0 {
			t.Fatalf("fsck with under-replicated blocks: exit %d, want 0 (they are HEALTHY, as hdfs fsck says)\n%s%s", code, out, errOut)
		}
		for _, want := range []string{
			"Status: HEALTHY",
			fmt.Sprintf(" Under-replicated blocks:\t%d (%.1f %%)", lost, percent(int64(lost), int64(total))),
			" Missing blocks:\t\t0",
			" Number of data-nodes:\t3",
			"Target Replicas is 2 but found 1 live replica(s).",
			"The filesystem under path '/' is HEALTHY",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("fsck with %s dead does not say %q:\n%s", victim, want, out)
			}
		}
		if strings.Contains(out, victim+" ") {
			t.Errorf("fsck lists replicas on the dead %s:\n%s", victim, out)
		}
		s, _ := h.fsck("/")
		if s.UnderReplicated != int64(lost) || s.MissingReplicas != int64(lost) || s.Blocks != int64(total) {
			t.Errorf("fsck --format json: %+v, want %d of %d blocks under-replicated", s, lost, total)
		}
		checkSame(t, "get while under-replicated", h.get("/data/big"), big)

		h.must("hdfs", "safemode", "leave")
		h.waitFsckHealthy("/")
		for p := range files {
			for _, b := range h.blocks(p) {
				if got := holders(b); len(got) != 2 || slices.Contains(got, victim) {
					t.Errorf("block %d of %s is on %v after re-replication", b.Block.Id, p, got)
				}
			}
		}
		h.checkFiles(files)
	})

	t.Run("corrupt replica", func(t *testing.T) {
		h := h.on(t)
		data := testData(3*hdfsBlock, 5)
		h.put(data, "/data/c")
		b := h.blocks("/data/c")[1]
		bad := b.Locations[0].Worker // the replica every reader tries first
		block := data[b.Offset : b.Offset+b.Block.Length]
		replica := h.replicaPath(bad, b.Block.Id)
		raw, err := os.ReadFile(replica)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, block) {
			t.Fatalf("%s does not hold the block's bytes", replica)
		}
		raw[len(raw)/2] ^= 0x40 // the data, not the checksums (in blk_N.meta)
		if err := os.WriteFile(replica, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		checkSame(t, "cat through a corrupt replica", h.cat("/data/c"), data)
		checkSame(t, "get through a corrupt replica", h.get("/data/c"), data)
		h.waitFor("the corrupt replica to be replaced", func() (bool, string) {
			s, code := h.fsck("/data/c")
			got := holders(h.blocks("/data/c")[1])
			if code != 0 || s.UnderReplicated+s.Corrupt+s.Missing != 0 || len(got) != 2 {
				return false, fmt.Sprintf("fsck exit %d %+v, replicas on %v", code, s, got)
			}
			// Every replica left holds the block's bytes; the bad one is
			// gone (or was replaced by a good copy).
			for _, w := range append(got, bad) {
				raw, err := os.ReadFile(h.replicaPath(w, b.Block.Id))
				if os.IsNotExist(err) && w == bad && !slices.Contains(got, bad) {
					continue
				}
				if err != nil || !bytes.Equal(raw, block) {
					return false, fmt.Sprintf("the replica on %s: %v, %d bytes, good %t", w, err, len(raw), bytes.Equal(raw, block))
				}
			}
			return true, ""
		})
		files["/data/c"] = data
		h.checkFiles(files)
	})
}

// TestHDFSClientKilledMidPut SIGKILLs `gomr hdfs put` after it has
// written five blocks of a file: the file is never visible, and once its
// lease expires (--lease-timeout 3s) the five blocks are deleted from
// the core workers' disks while the blocks of the other files stay; the
// path can then be written again.
func TestHDFSClientKilledMidPut(t *testing.T) {
	h := startHDFS(t, ct.Options{Workers: ct.Roles("core", "core"), PrimaryArgs: []string{"--lease-timeout", "3s"}})
	keep := testData(2*hdfsBlock+3, 1)
	h.put(keep, "/keep", "--replication", "2")
	keepBlocks := map[int64]bool{}
	for _, b := range h.blocks("/keep") {
		keepBlocks[b.Block.Id] = true
	}
	before := h.lsR()
	onDisk := func() (mine, others int) {
		for _, w := range []string{"core-1", "core-2"} {
			for id := range h.replicaFiles(w) {
				if keepBlocks[id] {
					mine++
				} else {
					others++
				}
			}
		}
		return
	}

	put := h.start("hdfs", "put", "-", "/half")
	half := testData(5*hdfsBlock+hdfsBlock/2, 2)
	if _, err := put.stdin.Write(half); err != nil {
		t.Fatal(err)
	}
	h.waitFor("five blocks of /half on the core workers' disks", func() (bool, string) {
		_, others := onDisk()
		return others >= 5, fmt.Sprintf("%d blocks", others)
	})
	put.kill()

	if _, _, code := h.run("hdfs", "test", "-e", "/half"); code != 1 {
		t.Errorf("test -e /half after the put was killed: exit %d, want 1 (no such file)", code)
	}
	h.fails([]string{"hdfs:///half", "no such file or directory"}, "hdfs", "cat", "/half")
	if now := h.lsR(); now != before {
		t.Errorf("the namespace shows the killed put's file:\n%s\nwas:\n%s", now, before)
	}
	if s, _ := h.fsck("/"); s.Files != 1 || s.Blocks != int64(len(keepBlocks)) {
		t.Errorf("fsck / counts the killed put's blocks: %+v", s)
	}
	h.waitFor("the killed put's blocks to be deleted once its lease expired", func() (bool, string) {
		mine, others := onDisk()
		var used int64
		for _, w := range h.nodes().Workers {
			used += w.HdfsBlocks
		}
		rbw := 0
		for _, w := range []string{"core-1", "core-2"} {
			left, _ := filepath.Glob(filepath.Join(h.Dir(), w, "hdfs", "rbw", "*"))
			rbw += len(left)
		}
		return others == 0 && rbw == 0 && mine == 2*len(keepBlocks) && used == int64(2*len(keepBlocks)),
			fmt.Sprintf("%d orphan block files, %d being written, %d of /keep's %d replicas; node list counts %d blocks", others, rbw, mine, 2*len(keepBlocks), used)
	})
	checkSame(t, "/keep", h.cat("/keep"), keep)
	h.put(half, "/half")
	checkSame(t, "/half written again", h.cat("/half"), half)
	h.waitFsckHealthy("/")
}

// TestHDFSLeaderKilled SIGKILLs the leader of three primaries during a
// put, and during a step that reads hdfs:// input. The new leader has the
// whole namespace (ls -R identical, every file identical); the put
// completes, or fails with an error naming its file and then succeeds
// when run again; the step's output equals the sequential reference.
func TestHDFSLeaderKilled(t *testing.T) {
	// Maps stall on about one record in a hundred, so that the step runs
	// a few seconds.
	h := startHDFS(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "core", "core"), WorkerFaults: "map-record=stall@0.01:100ms",
		PrimaryArgs: []string{"--lease-timeout", "5s", "--replication", "2"}})
	dir, inputs := ct.GenerateText(t, 2, 200<<10, 7)
	files := map[string][]byte{}
	h.must("hdfs", "mkdir", "-p", "/in", "/ns/a/b", "/ns/empty")
	for _, f := range inputs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files["/in/"+filepath.Base(f)] = b
	}
	h.must(append(append([]string{"hdfs", "put"}, inputs...), "/in")...)
	for i, n := range []int{0, 5000, 2*hdfsBlock + 1} {
		p := fmt.Sprintf("/ns/a/b/f%d", i)
		files[p] = testData(n, uint64(i))
		h.put(files[p], p)
	}

	t.Run("during a put", func(t *testing.T) {
		h := h.on(t)
		before := h.lsR()
		replicas := func() int {
			n := 0
			for _, w := range []string{"core-1", "core-2", "core-3"} {
				n += len(h.replicaFiles(w))
			}
			return n
		}
		stored := replicas()
		data := testData(12*hdfsBlock+7, 3)
		put := h.start("hdfs", "put", "-", "/ns/during")
		if _, err := put.stdin.Write(data[:4*hdfsBlock]); err != nil {
			t.Fatal(err)
		}
		h.waitFor("the put to be under way", func() (bool, string) {
			n := replicas()
			return n >= stored+2*3, fmt.Sprintf("%d replicas on disk, %d before the put", n, stored)
		})
		killed := h.Leader()
		h.Kill(killed)
		go func() {
			put.stdin.Write(data[4*hdfsBlock:])
			put.stdin.Close()
		}()
		if code := put.wait(t); code != 0 {
			msg := put.stderr.String()
			t.Logf("the put failed when the leader died (exit %d): %s", code, msg)
			if !strings.Contains(msg, "/ns/during") {
				t.Errorf("the put's error does not name its file: %q", msg)
			}
			h.waitFor("the put to succeed when run again", func() (bool, string) {
				_, errOut, code := h.run("hdfs", "put", "-f", localFile(t, data), "/ns/during")
				return code == 0, errOut
			})
		}
		checkSame(t, "the file put across the leader's death", h.cat("/ns/during"), data)
		h.must("hdfs", "rm", "/ns/during")
		if now := h.lsR(); now != before {
			t.Errorf("namespace after the leader died:\n%s\nbefore:\n%s", now, before)
		}
		h.checkFiles(files)
		// Back to three primaries, so that the next leader can die too.
		h.Restart(killed)
		h.WaitHealthy()
	})

	t.Run("during a step", func(t *testing.T) {
		h := h.on(t)
		before := h.lsR()
		ref := ct.Reference(t, "wordcount", dir, 2)
		out := filepath.Join(t.TempDir(), "out")
		id := h.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{"hdfs:///in"}, Output: out, Reducers: 2})
		h.WaitUntil(id, "maps done and maps to do", func(st *ct.Step) bool {
			return st.MapsDone > 0 && st.MapsDone < st.MapsTotal
		})
		killed, took := ct.KillLeaderAndTime(t, h, id)
		t.Logf("killed leader %s; next task scheduled %s later", killed.Name(), took.Round(time.Millisecond))
		st := h.Wait(id)
		ct.MustComplete(t, st)
		ct.CheckOutput(t, out, ref)
		ct.CheckCounted(t, st, ref)
		if now := h.lsR(); now != before {
			t.Errorf("namespace after the leader died:\n%s\nbefore:\n%s", now, before)
		}
		h.checkFiles(files)
	})
}
