package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/primary/state"
)

var (
	hdfsMeasure   = flag.Bool("hdfs.measure", false, "TestHDFSMeasure: time HDFS put, get, re-replication and safe mode on real processes (slow; off by default)")
	hdfsMeasureMB = flag.Int("hdfs.measure.mb", 1024, "TestHDFSMeasure: size of the file, in MiB")
)

// TestHDFSMeasure reports, with t.Logf, what HDFS costs on this machine,
// on three core workers (real processes) sharing one disk: `gomr hdfs
// put` and `get` throughput of a 1 GiB file with replication 1 and 3,
// beside cp and dd (conv=fdatasync) of the same file on the same disk;
// how long re-replication takes once a core worker holding 1 GiB of
// blocks is SIGKILLed (until fsck is HEALTHY); and how long a restarted
// primary takes to leave safe mode. It runs only with -hdfs.measure:
//
//	go test ./cmd/gomr -run TestHDFSMeasure -v -args -hdfs.measure
//
// Run it without -race: the race detector slows every process down
// several times. The figures are measurements, not assertions; the test
// only checks that every copy is identical.
func TestHDFSMeasure(t *testing.T) {
	if !*hdfsMeasure {
		t.Skip("a measurement: run it with -args -hdfs.measure")
	}
	if raceEnabled {
		t.Log("the race detector is on: the figures are several times too slow")
	}
	size := int64(*hdfsMeasureMB) << 20
	h := startHDFS(t, ct.Options{Workers: ct.Roles("core", "core", "core"),
		PrimaryArgs: []string{"--block-size", "128MiB", "--replication-streams", "4"}})
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeBig(t, src, size)
	mbps := func(d time.Duration) string {
		return fmt.Sprintf("%7.1f MB/s (%s)", float64(size)/1e6/d.Seconds(), d.Round(time.Millisecond))
	}
	timed := func(name string, args ...string) time.Duration {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), h.env()...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return time.Since(start)
	}
	sync := func() { timed("sync") }

	sync()
	cp := timed("cp", src, filepath.Join(dir, "cp"))
	sameFile(t, src, filepath.Join(dir, "cp"))
	os.Remove(filepath.Join(dir, "cp"))
	sync()
	dd := timed("dd", "if="+src, "of="+filepath.Join(dir, "dd"), "bs=4M", "conv=fdatasync")
	sameFile(t, src, filepath.Join(dir, "dd"))
	os.Remove(filepath.Join(dir, "dd"))
	t.Logf("%d MiB file, on one disk for all (the core workers share it)", size>>20)
	t.Logf("cp                           %s", mbps(cp))
	t.Logf("dd bs=4M conv=fdatasync      %s", mbps(dd))

	h.must("hdfs", "mkdir", "/m")
	for _, rep := range []int{1, 3} {
		p := fmt.Sprintf("/m/r%d", rep)
		sync()
		put := timed(gomrBin, "hdfs", "put", "--replication", fmt.Sprint(rep), src, p)
		got := filepath.Join(dir, "got")
		sync()
		get := timed(gomrBin, "hdfs", "get", p, got)
		sameFile(t, src, got)
		os.Remove(got)
		t.Logf("gomr hdfs put, replication %d %s; %.2f of dd", rep, mbps(put), dd.Seconds()/put.Seconds())
		t.Logf("gomr hdfs get, replication %d %s; %.2f of cp", rep, mbps(get), cp.Seconds()/get.Seconds())
		if rep == 1 {
			h.must("hdfs", "rm", p) // its blocks would be lost with the worker killed next
		}
	}

	// A fourth core worker gets the copies of the blocks of the worker
	// killed (each of the three holds every block of /m/r3).
	h.AddWorker(state.RoleCore, "core-4")
	h.waitReported()
	h.waitFsckHealthy("/")
	killed := time.Now()
	h.Kill(h.Node("core-1"))
	down := ct.WaitDown(t, h, "core-1")
	h.waitFor("re-replication", func() (bool, string) {
		s, code := h.fsck("/")
		return code == 0 && s.UnderReplicated == 0 && s.Missing == 0, fmt.Sprintf("%+v", s)
	})
	healthy := time.Now()
	t.Logf("core-1 (%d MiB of blocks) SIGKILLed: declared down after %s (--worker-timeout 5s), fsck HEALTHY %s later (%s in all; %.1f MB/s copied, --transfer-bandwidth 100MiB per source)",
		size>>20, down.Sub(killed).Round(time.Millisecond), healthy.Sub(down).Round(time.Millisecond), healthy.Sub(killed).Round(time.Millisecond),
		float64(size)/1e6/healthy.Sub(down).Seconds())
	got := filepath.Join(dir, "got")
	h.must("hdfs", "get", "/m/r3", got)
	sameFile(t, src, got)

	// A primary restarted: from its start to safe mode off.
	p := h.Primaries()[0]
	h.Stop(p)
	start := time.Now()
	h.Restart(p)
	addrsAt := time.Now()
	var off time.Time
	h.waitFor("safe mode to end", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := h.nn.Stats(ctx, &hdfspb.StatsRequest{})
		if err != nil || st.SafeMode {
			return false, fmt.Sprint(err)
		}
		off = time.Now()
		return true, ""
	})
	left := regexp.MustCompile(`HDFS left safe mode.*after=(\S+)`).FindStringSubmatch(readLog(t, filepath.Join(h.Dir(), p.Name()+"-run2.log")))
	inLeader := "?"
	if left != nil {
		inLeader = left[1]
	}
	t.Logf("primary restarted: serving %s after its start, out of safe mode %s after its start (%s after it became leader, by its log)",
		addrsAt.Sub(start).Round(time.Millisecond), off.Sub(start).Round(time.Millisecond), inLeader)
}

// writeBig writes size pseudo-random bytes to path, 4 MiB at a time.
func writeBig(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 4<<20)
	for off, i := int64(0), uint64(0); off < size; i++ {
		n := min(4<<20, size-off)
		if _, err := w.Write(testData(int(n), i)); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameFile fails the test unless two local files hold the same bytes.
func sameFile(t *testing.T, a, b string) {
	t.Helper()
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 4<<20), make([]byte, 4<<20)
	for off := int64(0); ; {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			t.Fatalf("%s and %s differ in the 4 MiB from byte %d", a, b, off)
		}
		off += int64(na)
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			if eb != ea {
				t.Fatalf("%s and %s differ in length", a, b)
			}
			return
		}
		if ea != nil || eb != nil {
			t.Fatal(ea, eb)
		}
	}
}

func readLog(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("read %s: %v", path, err)
	}
	return string(b)
}
