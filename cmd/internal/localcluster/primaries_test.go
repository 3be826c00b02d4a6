package localcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// TestThreePrimariesFormAGroup starts a group of three primaries, checks
// that it elects one leader, that every primary reports its Raft state,
// and that a step submitted to a follower runs.
func TestThreePrimariesFormAGroup(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "task"), Slots: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leader, err := c.LC.WaitForLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var follower *pb.Primary
	for {
		resp, err := c.Client().ListNodes(ctx, &pb.ListNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		leaders, followers := 0, 0
		for _, p := range resp.Primaries {
			switch {
			case p.RaftState == "Leader" && p.Id == leader.ID():
				leaders++
			case p.RaftState == "Follower" && p.Voter && p.AppliedIndex > 0:
				followers++
				follower = p
			}
		}
		if leaders == 1 && followers == 2 && len(resp.Workers) == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("group did not form: %v", resp)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Submit through a follower: it forwards to the leader.
	cc, err := c.DialAs(follower.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("to be or not to be\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	st := ct.RunStep(t, pb.NewClientClient(cc), &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 1})
	ct.MustComplete(t, st)
	got := ct.ReadLines(t, filepath.Join(out, "part-r-00000"))
	want := []string{"be\t2", "not\t1", "or\t1", "to\t2"}
	ct.DiffLines(t, got, want)
}
