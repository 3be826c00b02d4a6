package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestHDFSSafeModeAndDecommission covers the administrator's side of
// HDFS on three core workers: safe mode entered by hand and after the
// primary restarts (the namespace refuses changes until the core workers
// report their blocks; `safemode get` and `wait` show it), and the
// decommission of a core worker (its blocks are copied to the others,
// node list shows how many are left, fsck is HEALTHY once it is gone),
// refused when the workers left cannot hold a file's replication.
func TestHDFSSafeModeAndDecommission(t *testing.T) {
	h := startHDFS(t, ct.Options{Workers: ct.Roles("core", "core", "core"), PrimaryArgs: []string{"--replication-streams", "16"}})
	files := map[string][]byte{}
	h.must("hdfs", "mkdir", "/s")
	for i, n := range []int{3*hdfsBlock + 1, 5000, 6 * hdfsBlock} {
		p := fmt.Sprintf("/s/f%d", i)
		files[p] = testData(n, uint64(i))
		h.put(files[p], p, "--replication", "2")
	}
	blocks := 0
	for p := range files {
		blocks += len(h.blocks(p))
	}
	h.waitFsckHealthy("/")
	t.Run("safe mode", func(t *testing.T) { hdfsSafeMode(t, h.on(t), files, blocks) })
	t.Run("decommission", func(t *testing.T) { hdfsDecommission(t, h.on(t), files) })
}

// refused checks that a change of the namespace is refused because of
// safe mode, through the NameNode API (the CLI waits for safe mode to
// end), and returns the error's message.
func refused(t *testing.T, h *hdfsCluster, p string) string {
	t.Helper()
	var err error
	h.waitFor("an answer to mkdir "+p, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = h.nn.Mkdirs(ctx, &hdfspb.MkdirsRequest{Path: p, Parents: true})
		// A primary that has just started may not be reached at once.
		return hdfspb.IsSafeMode(err) || status.Code(err) != codes.Unavailable, fmt.Sprint(err)
	})
	if !hdfspb.IsSafeMode(err) {
		t.Fatalf("mkdir %s in safe mode: %v, want a safe mode refusal", p, err)
	}
	if want := fmt.Sprintf("cannot make folder hdfs://%s: name node is in safe mode.", p); !strings.Contains(err.Error(), want) {
		t.Fatalf("mkdir %s in safe mode: %q does not say %q", p, err, want)
	}
	return err.Error()
}

func hdfsSafeMode(t *testing.T, h *hdfsCluster, files map[string][]byte, blocks int) {
	if out := h.must("hdfs", "safemode", "get"); out != "Safe mode is OFF\n" {
		t.Fatalf("safemode get: %q", out)
	}
	if out := h.must("hdfs", "safemode", "enter"); !strings.HasPrefix(out, "Safe mode is ON\n") {
		t.Fatalf("safemode enter: %q", out)
	}
	if out := h.must("hdfs", "safemode", "get"); out != "Safe mode is ON\nIt was entered by an administrator; leave it with gomr hdfs safemode leave.\n" {
		t.Fatalf("safemode get after enter: %q", out)
	}
	refused(t, h, "/s/new")
	h.checkFiles(files) // reads go on
	// The CLI waits while safe mode lasts, then makes the folder.
	mkdir := h.start("hdfs", "mkdir", "/s/new")
	if out := h.must("hdfs", "safemode", "leave"); out != "Safe mode is OFF\n" {
		t.Fatalf("safemode leave: %q", out)
	}
	if code := mkdir.wait(t); code != 0 {
		t.Fatalf("mkdir across safe mode: exit %d: %s", code, mkdir.stderr.String())
	}
	h.must("hdfs", "test", "-d", "/s/new")
	before := h.lsR()

	// Killed and restarted while the core workers are frozen, the primary
	// has its namespace but no block locations: it stays in safe mode
	// until the workers report.
	cores := h.Workers()
	for _, w := range cores {
		h.Freeze(w)
	}
	p := h.Primaries()[0]
	h.Kill(p)
	h.Restart(p)
	want := fmt.Sprintf("Safe mode is ON\nThe reported blocks 0 need additional %d blocks to reach the threshold 0.9990 of total blocks %d.\n", blocks, blocks)
	h.waitFor("the restarted primary to count its blocks", func() (bool, string) {
		out, errOut, _ := h.run("hdfs", "safemode", "get")
		return out == want, out + errOut
	})
	msg := refused(t, h, "/s/after")
	if !strings.Contains(msg, fmt.Sprintf("need additional %d blocks", blocks)) {
		t.Errorf("the refusal does not say why: %q", msg)
	}
	wait := h.start("hdfs", "safemode", "wait")
	mkdir = h.start("hdfs", "mkdir", "/s/after")
	if now := h.lsR(); now != before {
		t.Fatalf("namespace after the restart:\n%s\nbefore:\n%s", now, before)
	}
	select {
	case <-wait.done:
		t.Fatalf("safemode wait ended while no block was reported: %v %s", wait.err, wait.stderr.String())
	default:
	}
	for _, w := range cores {
		h.Thaw(w)
	}
	out, err := io.ReadAll(wait.stdout)
	if code := wait.wait(t); err != nil || code != 0 || string(out) != "Safe mode is OFF\n" {
		t.Fatalf("safemode wait: exit %d, %q %v %s", code, out, err, wait.stderr.String())
	}
	if code := mkdir.wait(t); code != 0 {
		t.Fatalf("mkdir once the blocks were reported: exit %d: %s", code, mkdir.stderr.String())
	}
	h.must("hdfs", "test", "-d", "/s/after")
	h.waitReported()
	h.checkFiles(files)
	h.waitFsckHealthy("/")
}

// decommissioning matches a worker's line of `gomr node list` while it
// is being decommissioned.
var decommissioning = regexp.MustCompile(`(?m)^(\S+)\s+core\s+\S+\s+DECOMMISSIONING \((\d+) blocks to copy\)`)

func hdfsDecommission(t *testing.T, h *hdfsCluster, files map[string][]byte) {
	const victim = "core-3"
	held := 0
	for p := range files {
		for _, b := range h.blocks(p) {
			if slices.Contains(holders(b), victim) {
				held++
			}
		}
	}
	if held == 0 {
		t.Fatalf("%s holds no block", victim)
	}
	// In safe mode nothing is copied yet: node list shows every block
	// the worker holds as left to copy.
	h.must("hdfs", "safemode", "enter")
	if out := h.must("node", "decommission", victim); out != "worker "+victim+" DECOMMISSIONING\n" {
		t.Fatalf("node decommission: %q", out)
	}
	h.waitFor("node list to show the blocks to copy", func() (bool, string) {
		out := h.must("node", "list")
		m := decommissioning.FindStringSubmatch(out)
		return m != nil && m[1] == victim && m[2] == fmt.Sprint(held), fmt.Sprintf("want %d blocks to copy:\n%s", held, out)
	})
	s, _ := h.fsck("/")
	if s.UnderReplicated != int64(held) || s.Status != "HEALTHY" {
		t.Errorf("fsck while %s is decommissioned: %+v, want its %d blocks under-replicated", victim, s, held)
	}
	h.must("hdfs", "safemode", "leave")
	h.waitFor(victim+" to be DECOMMISSIONED", func() (bool, string) {
		for _, w := range h.nodes().Workers {
			if w.Id == victim {
				return w.State == "DECOMMISSIONED", w.State
			}
		}
		return false, "not listed"
	})
	// Every block has its replicas elsewhere now: stopping the worker
	// (with copies held back by safe mode) leaves nothing under-replicated.
	h.must("hdfs", "safemode", "enter")
	h.Stop(h.Node(victim))
	ct.WaitDown(t, h, victim)
	s, code := h.fsck("/")
	if code != 0 || s.Status != "HEALTHY" || s.UnderReplicated+s.Missing+s.Corrupt != 0 || s.CoreWorkers != 2 {
		t.Fatalf("fsck once the decommissioned %s is gone: exit %d, %+v", victim, code, s)
	}
	h.must("hdfs", "safemode", "leave")
	h.checkFiles(files)

	// Two core workers cannot give up one: files have 2 replicas.
	h.fails([]string{"cannot decommission core-1: the 1 other core workers cannot hold the 2 replicas of /s/"}, "node", "decommission", "core-1")
	for _, w := range h.nodes().Workers {
		if w.Id == "core-1" && w.State != "ALIVE" {
			t.Errorf("core-1 is %s after a refused decommission", w.State)
		}
	}
	h.waitFsckHealthy("/")
	h.checkFiles(files)
}
