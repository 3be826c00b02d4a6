package primary

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/primary/state"
)

// startGroup starts n primaries forming one Raft group (default timings)
// and returns them with the leader first.
func startGroup(tb testing.TB, n int) []*Server {
	tb.Helper()
	dir := tb.TempDir()
	var cfgs []Config
	var peers []string
	for i := range n {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		rlis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		c := DefaultConfig()
		c.NodeID = fmt.Sprintf("p%d", i+1)
		c.DataDir = filepath.Join(dir, c.NodeID)
		c.Addr, c.RaftAddr, c.GossipAddr = lis.Addr().String(), rlis.Addr().String(), "127.0.0.1:0"
		c.Listener, c.RaftListener = lis, rlis
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		peers = append(peers, c.NodeID+"="+c.RaftAddr)
		cfgs = append(cfgs, c)
	}
	var servers []*Server
	for _, c := range cfgs {
		c.Peers = peers
		s, err := Start(c)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(s.Stop)
		servers = append(servers, s)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		for i, s := range servers {
			if s.IsLeader() {
				servers[0], servers[i] = servers[i], servers[0]
				return servers
			}
		}
		if time.Now().After(deadline) {
			tb.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkRaftApply measures commands applied per second through Raft
// (durable log, fsync) on one primary and on a group of three, with one
// client applying at a time (the baseline) and with 64 applying at once,
// which Raft batches into shared log writes.
func BenchmarkRaftApply(b *testing.B) {
	for _, n := range []int{1, 3} {
		servers := startGroup(b, n)
		leader := servers[0]
		var baseline float64
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("primaries=%d/clients=%d", n, clients), func(b *testing.B) {
				var wg sync.WaitGroup
				next := make(chan int, b.N)
				for i := range b.N {
					next <- i
				}
				close(next)
				b.ResetTimer()
				start := time.Now()
				for range clients {
					wg.Go(func() {
						for i := range next {
							p := state.Primary{ID: fmt.Sprintf("bench-%d", i%100), Addr: "a:1", RaftAddr: "a:2", GossipAddr: "a:3"}
							if err := leader.apply(&state.RegisterPrimary{Primary: p}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				rate := float64(b.N) / time.Since(start).Seconds()
				b.ReportMetric(rate, "commands/s")
				if clients == 1 {
					baseline = rate
				} else if baseline > 0 {
					b.ReportMetric(rate/baseline, "x_vs_one_client")
				}
			})
		}
	}
}
