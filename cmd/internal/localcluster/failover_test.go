package localcluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/primary"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// leaderIndex returns the index of the leading primary.
func leaderIndex(t *testing.T, c *ct.InProcessCluster) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := c.LC.WaitForLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Index(c.LC.Primaries, l)
}

// statusOf asks primary i for its Raft status and state digest.
func statusOf(t *testing.T, c *ct.InProcessCluster, i int) *pb.Primary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.PrimaryStatus(ctx, c.Addrs()[i])
	if err != nil {
		t.Fatalf("status of primary %d: %v", i, err)
	}
	return st
}

// TestIsolatedLeaderAcceptsNoWrite cuts the leader's Raft traffic. Writes
// and reads sent to it must fail (it steps down; it never answers with a
// stale success), the majority elects a new leader and carries on, and
// once healed the old leader holds exactly the majority's state.
func TestIsolatedLeaderAcceptsNoWrite(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core"), Slots: 2})
	in := tinyInput(t)
	out := t.TempDir()
	old := leaderIndex(t, c)
	ct.MustComplete(t, ct.RunStep(t, c.Client(), &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, "before"), Reducers: 1}))

	oldConn, err := c.DialAs(c.Addrs()[old])
	if err != nil {
		t.Fatal(err)
	}
	defer oldConn.Close()
	toOld := pb.NewClientClient(oldConn)
	c.LC.Isolate(old)
	isolatedAt := time.Now()

	// The majority elects another leader.
	var newLeader int
	for {
		newLeader = -1
		for i, p := range c.LC.Primaries {
			if i != old && p.IsLeader() {
				newLeader = i
			}
		}
		if newLeader >= 0 {
			break
		}
		if time.Since(isolatedAt) > 10*time.Second {
			t.Fatal("the majority elected no leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("new leader primary-%d elected %s after the cut", newLeader+1, time.Since(isolatedAt).Round(time.Millisecond))

	// Every write and read sent to the isolated primary fails, for a while.
	var codesSeen []codes.Code
	for i := 0; time.Since(isolatedAt) < 3*time.Second; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := toOld.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, fmt.Sprint("minority-", i)), Reducers: 1}})
		cancel()
		if err == nil {
			t.Fatalf("the isolated primary accepted step %s", resp.StepId)
		}
		codesSeen = append(codesSeen, status.Code(err))
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
		_, err = toOld.ListSteps(ctx, &pb.ListStepsRequest{})
		cancel()
		if err == nil {
			t.Fatal("the isolated primary answered a read")
		}
	}
	if c.LC.Primaries[old].IsLeader() {
		t.Fatal("the isolated primary still believes it leads")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err = toOld.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, "late"), Reducers: 1}})
	cancel()
	if status.Code(err) != codes.Unavailable || !containsAll(status.Convert(err).Message(), "no leader", "last known leader") {
		t.Fatalf("isolated primary: %v, want Unavailable naming the last known leader", err)
	}
	t.Logf("isolated primary refused with codes %v", slices.Compact(codesSeen))

	// The majority side carries on.
	majority, err := c.DialAs(c.Addrs()[newLeader])
	if err != nil {
		t.Fatal(err)
	}
	defer majority.Close()
	ct.MustComplete(t, ct.RunStep(t, pb.NewClientClient(majority), &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, "majority"), Reducers: 1}))

	c.LC.Heal(old)
	c.WaitConverged()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := toOld.ListSteps(ctx, &pb.ListStepsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var outputs []string
	for _, st := range list.Steps {
		outputs = append(outputs, filepath.Base(st.Spec.Output))
	}
	if !slices.Equal(outputs, []string{"majority", "before"}) {
		t.Fatalf("steps after healing: %v, want only majority and before", outputs)
	}
	for _, o := range []string{"minority-0", "late"} {
		if _, err := os.Stat(filepath.Join(out, o)); !os.IsNotExist(err) {
			t.Fatalf("a refused step left %s", o)
		}
	}
}

// TestLaggingPrimaryCatchesUpBySnapshot stops a follower while the leader
// compacts its log past the follower's last entry, then restarts it: it
// must catch up by installing a snapshot and end with the same state.
func TestLaggingPrimaryCatchesUpBySnapshot(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core"), Slots: 2, TunePrimary: func(pc *primary.Config) {
		pc.SnapshotThreshold = 16
		pc.SnapshotInterval = 50 * time.Millisecond
		pc.TrailingLogs = 4
		pc.LogSegmentBytes = 4 << 10 // so that compaction really drops old entries
	}})
	in := tinyInput(t)
	out := t.TempDir()
	lead := leaderIndex(t, c)
	lag := (lead + 1) % 3
	c.Stop(c.Primaries()[lag])
	lagged := statusAfterStop(t, c, lag)
	cl := c.Client()
	for i := range 8 {
		ct.MustComplete(t, ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, fmt.Sprint(i)), Reducers: 2}))
	}
	// Wait until the leader's log no longer holds the entries the stopped
	// primary needs.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := statusOf(t, c, lead)
		if st.FirstLogIndex > lagged+1 {
			t.Logf("leader compacted its log to [%d, %d]; the stopped primary has up to %d", st.FirstLogIndex, st.LastLogIndex, lagged)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader did not compact its log: first index %d, stopped primary at %d", st.FirstLogIndex, lagged)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Restart(c.Primaries()[lag])
	ct.WaitFor(t, "the restarted primary to install a snapshot", 20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := c.PrimaryStatus(ctx, c.Addrs()[lag])
		return err == nil && st.LastSnapshotIndex > lagged
	})
	// A primary that restored a snapshot reports the index it applied
	// only once it applies an entry after it (the FSM's Restore does not
	// record the snapshot's index), so the group writes one more.
	ct.MustComplete(t, ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, "after"), Reducers: 1}))
	c.WaitConverged()
	st := statusOf(t, c, lag)
	if st.LastSnapshotIndex <= lagged {
		t.Fatalf("restarted primary.s last snapshot is at %d, not past %d: it did not install one (%v)", st.LastSnapshotIndex, lagged, st)
	}
	t.Logf("restarted primary installed a snapshot at index %d", st.LastSnapshotIndex)
}

// statusAfterStop returns the last log index of a stopped primary, read
// from the others' view: its last applied entry is at most the commit
// index when it stopped.
func statusAfterStop(t *testing.T, c *ct.InProcessCluster, stopped int) uint64 {
	for i, p := range c.LC.Primaries {
		if p != nil && i != stopped {
			return statusOf(t, c, i).CommitIndex
		}
	}
	t.Fatal("no running primary")
	return 0
}

// TestPrimariesJoinAndLeave grows a group of three to five through --join
// (non-voters promoted once caught up), then removes two.
func TestPrimariesJoinAndLeave(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core"), Slots: 2})
	cl := c.Client()
	in := tinyInput(t)
	out := t.TempDir()
	for range 2 {
		c.AddPrimary()
	}
	t.Cleanup(func() {
		for _, p := range c.LC.Primaries[3:] {
			if p != nil {
				p.Stop()
			}
		}
	})
	voters := func() ([]string, []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := cl.ListNodes(ctx, &pb.ListNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var v, nv []string
		for _, p := range resp.Primaries {
			if p.Voter {
				v = append(v, p.Id)
			} else {
				nv = append(nv, p.Id)
			}
		}
		slices.Sort(v)
		return v, nv
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, nv := voters()
		if len(v) == 5 && len(nv) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("voters %v, non-voters %v", v, nv)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ct.MustComplete(t, ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, "five"), Reducers: 1}))
	c.WaitConverged()

	for _, id := range []string{"primary-4", "primary-5"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := cl.RemovePrimary(ctx, &pb.RemovePrimaryRequest{Id: id})
		cancel()
		if err != nil {
			t.Fatalf("remove %s: %v", id, err)
		}
	}
	if v, nv := voters(); !slices.Equal(v, []string{"primary-1", "primary-2", "primary-3"}) || len(nv) != 0 {
		t.Fatalf("after removal: voters %v, non-voters %v", v, nv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.RemovePrimary(ctx, &pb.RemovePrimaryRequest{Id: "primary-9"}); status.Code(err) != codes.NotFound {
		t.Fatalf("removing an unknown primary: %v", err)
	}
	ct.MustComplete(t, ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, "three"), Reducers: 1}))
}

// TestFivePrimariesFormAGroup bootstraps five primaries.
func TestFivePrimariesFormAGroup(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 5, Workers: ct.Roles("core"), Slots: 2})
	ct.MustComplete(t, ct.RunStep(t, c.Client(), &pb.StepSpec{Job: "wordcount", Inputs: []string{tinyInput(t)}, Output: filepath.Join(t.TempDir(), "out"), Reducers: 1}))
	c.WaitConverged()
}
