package primary_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/primary"
	"github.com/gomr/gomr/primary/faults"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
	"google.golang.org/grpc"
)

// syncBuffer is a log sink safe for the nodes' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeaderRetriesAFailedBarrier makes the new leader's barrier fail for
// its first two seconds: the leader must keep trying while it leads, and
// then start every leader-only loop, so that steps still start and
// complete and a dead worker is still declared down.
func TestLeaderRetriesAFailedBarrier(t *testing.T) {
	if err := faults.Arm("leader-barrier=fail:2s", 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { faults.Arm("", 0) })
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	dir := t.TempDir()
	pc := primary.DefaultConfig()
	pc.NodeID, pc.DataDir = "p1", filepath.Join(dir, "p1")
	pc.Addr, pc.RaftAddr, pc.GossipAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	pc.Fast, pc.Logger, pc.WorkerTimeout, pc.MinSplitSize = true, log, 2*time.Second, 1
	p, err := primary.Start(pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	var workers []*worker.Worker
	for _, id := range []string{"core-1", "core-2"} {
		wc := worker.DefaultConfig()
		wc.ID, wc.Role, wc.Join = id, state.RoleCore, []string{p.Addr()}
		wc.Addr, wc.GossipAddr, wc.DataDir = "127.0.0.1:0", "127.0.0.1:0", filepath.Join(dir, id)
		wc.Slots, wc.HeartbeatInterval, wc.Fast, wc.Logger = 2, 200*time.Millisecond, true, log
		w, err := worker.Start(wc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		workers = append(workers, w)
	}
	cc, err := pb.Dial([]string{p.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cl := pb.NewClientClient(cc)

	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte(strings.Repeat("the quick brown fox\n", 2000)), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cl.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(dir, "out"), Reducers: 2, SplitSize: 8 << 10}}, grpcWait)
	if err != nil {
		t.Fatal(err)
	}
	var st *pb.Step
	waitFor(t, "the step to end", func() bool {
		d, err := cl.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: resp.StepId})
		st = d.GetStep()
		return err == nil && st.State.Value().Terminal()
	})
	if st.State.Value() != state.StepCompleted || st.Counters["REDUCE_OUTPUT_RECORDS"] != 4 {
		t.Fatalf("step ended %s (%s), counters %v", st.State.Value(), st.Error, st.Counters)
	}
	if n := strings.Count(logs.String(), "leader barrier failed; trying again"); n < 2 {
		t.Fatalf("the barrier failed %d times; the fault point did not fire", n)
	}

	workers[1].Crash()
	waitFor(t, "core-2 to be declared down", func() bool {
		nodes, err := cl.ListNodes(ctx, &pb.ListNodesRequest{})
		if err != nil {
			return false
		}
		for _, w := range nodes.Workers {
			if w.Id == "core-2" {
				return w.State.Value() == state.WorkerDead
			}
		}
		return false
	})
}

var grpcWait = grpc.WaitForReady(true)
