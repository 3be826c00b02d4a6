package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
)

var (
	tlsMeasure       = flag.Bool("tls.measure", false, "TestTLSCost: measure what mutual TLS costs (slow; off by default)")
	tlsMeasureRounds = flag.Int("tls.measure.rounds", 3, "TestTLSCost: rounds, each running every measure on both clusters")
)

// TestTLSCost reports, with t.Logf, what mutual TLS and tokens cost, on
// two clusters of real processes side by side, one plaintext and one
// with TLS (one primary and two core workers with one slot each): a word
// count of about 200 MB (its shuffle crosses between the workers), a
// 1 GiB `gomr hdfs put` with two replicas (client to core to core), and
// a one-line step with `gomr step add --wait` (process start to exit).
// Each round runs every measure on both clusters in turn; the figures
// are medians. It runs only with -tls.measure:
//
//	go test ./cmd/gomr -run TestTLSCost -v -timeout 60m -args -tls.measure
//
// The two clusters' word count outputs must be identical.
func TestTLSCost(t *testing.T) {
	if !*tlsMeasure {
		t.Skip("a measurement: run it with -args -tls.measure")
	}
	if raceEnabled {
		t.Log("the race detector is on: the figures are several times too slow")
	}
	_, inputs := ct.GenerateText(t, 8, 25<<20, 91)
	big := filepath.Join(t.TempDir(), "big")
	writeBig(t, big, 1<<30)
	tiny := filepath.Join(t.TempDir(), "tiny.txt")
	if err := os.WriteFile(tiny, []byte("to be or not to be\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type cluster struct {
		name string
		env  []string
		wc   []time.Duration
		put  []time.Duration
		step []time.Duration
		out  string
	}
	var clusters []*cluster
	for _, secure := range []bool{false, true} {
		c := startProcCluster(t, ct.Options{Workers: ct.Roles("core", "core"), Slots: 1, Plaintext: !secure,
			PrimaryArgs: []string{"--block-size", "128MiB"}})
		name := "plaintext"
		if secure {
			name = "TLS"
		}
		clusters = append(clusters, &cluster{name: name, env: append(c.Env(), "GORACE=atexit_sleep_ms=0")})
	}
	run := func(c *cluster, args ...string) time.Duration {
		t.Helper()
		cmd := exec.Command(gomrBin, args...)
		cmd.Env = append(os.Environ(), c.env...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: gomr %s: %v\n%s", c.name, strings.Join(args, " "), err, out)
		}
		return time.Since(start)
	}
	outs := t.TempDir()
	for r := range *tlsMeasureRounds {
		for _, c := range clusters {
			c.out = filepath.Join(outs, fmt.Sprintf("%s-%d", c.name, r))
			c.wc = append(c.wc, run(c, append([]string{"step", "add", "--wait", "--job", "wordcount", "--reducers", "2", "--split-size", "16MiB", "--output", c.out, "--input"}, inputs...)...))
			dst := fmt.Sprintf("/put-%d", r)
			c.put = append(c.put, run(c, "hdfs", "put", "--replication", "2", big, dst))
			run(c, "hdfs", "rm", "-skipTrash", dst)
			for i := range 5 {
				c.step = append(c.step, run(c, "step", "add", "--wait", "--job", "wordcount", "--input", tiny, "--output", filepath.Join(outs, fmt.Sprintf("%s-tiny-%d-%d", c.name, r, i))))
			}
		}
	}
	if a, b := ct.PartLines(t, clusters[0].out), ct.PartLines(t, clusters[1].out); !slices.Equal(a, b) {
		t.Fatalf("the word counts differ: %d lines plaintext, %d with TLS", len(a), len(b))
	}
	median := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	var size int64
	for _, f := range inputs {
		st, _ := os.Stat(f)
		size += st.Size()
	}
	p, s := clusters[0], clusters[1]
	t.Logf("medians of %d rounds, plaintext vs TLS (ratio TLS/plaintext)", *tlsMeasureRounds)
	t.Logf("word count %d MB, 2 core workers: %s vs %s (%.2fx)", size/1e6, median(p.wc).Round(time.Millisecond), median(s.wc).Round(time.Millisecond), median(s.wc).Seconds()/median(p.wc).Seconds())
	mbps := func(d time.Duration) float64 { return float64(1<<30) / 1e6 / d.Seconds() }
	t.Logf("hdfs put 1 GiB, 2 replicas: %.1f MB/s vs %.1f MB/s (%.2fx the time)", mbps(median(p.put)), mbps(median(s.put)), median(s.put).Seconds()/median(p.put).Seconds())
	t.Logf("one-line step, step add --wait: %s vs %s (+%s)", median(p.step).Round(time.Millisecond), median(s.step).Round(time.Millisecond), (median(s.step) - median(p.step)).Round(time.Millisecond))
}
