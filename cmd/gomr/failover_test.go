package main

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"slices"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

var failoverKills = flag.Int("failover.kills", 0, "TestFailoverTimes: how many leader kills to time (0 skips it)")

// TestLeaderKilledMidStep kills the leader (SIGKILL) during the map
// phase, during the reduce phase, and in the middle of committing the
// output (the localcluster tests run the same scenario in-process).
func TestLeaderKilledMidStep(t *testing.T) {
	in := ct.BigInput(t, 2, 3<<20, 4)
	onProcesses(t, func(t *testing.T, r ct.Runner) { ct.LeaderKilledMidStep(t, r, in) })
}

// TestRollingRestartOfPrimaries restarts the three primaries one at a time
// (SIGTERM, start again, wait until it caught up) while a step runs; the
// step must still be running after each restart, and complete exactly.
func TestRollingRestartOfPrimaries(t *testing.T) {
	in := ct.BigInput(t, 2, 3<<20, 3)
	c := startProcCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "core"), WorkerFaults: ct.SlowMaps})
	out := filepath.Join(t.TempDir(), "out")
	id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 3, SplitSize: 64 << 10})
	c.WaitUntil(id, "running", func(st *ct.Step) bool { return st.MapsDone > 0 })
	for _, n := range c.Primaries() {
		c.Stop(n)
		c.Restart(n)
		c.WaitHealthy()
		st := c.Describe(id)
		t.Logf("restarted %s: step %s %s, maps %d/%d", n.Name(), st.State, st.Phase, st.MapsDone, st.MapsTotal)
		if st.State.Value() != state.StepRunning {
			t.Fatalf("after restarting %s the step is %s, want it still RUNNING (the restarts must happen while it runs)", n.Name(), st.State)
		}
	}
	st := c.Wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	ct.CheckOutput(t, out, in.Ref)
	ct.CheckCounted(t, st, in.Ref)
	c.WaitConverged()
}

// TestWholeClusterRestart kills every primary and worker (SIGKILL) while a
// step runs, starts them all again from their data directories, and checks
// that the finished step's history is intact and the running step
// completes.
func TestWholeClusterRestart(t *testing.T) {
	in := ct.BigInput(t, 2, 3<<20, 2)
	c := startProcCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "core"), WorkerFaults: ct.SlowMaps})
	first := c.Wait(c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{filepath.Join(in.Dir, "text-0.txt")}, Output: filepath.Join(t.TempDir(), "first"), Reducers: 2}))
	if first.State.Value() != state.StepCompleted {
		t.Fatalf("first step ended %s: %s", first.State, first.Error)
	}
	out := filepath.Join(t.TempDir(), "out")
	id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 2, SplitSize: 64 << 10})
	c.WaitUntil(id, "a third of the maps", func(st *ct.Step) bool { return st.MapsDone >= st.MapsTotal/3 && st.MapsDone > 0 })
	for _, n := range append(c.Workers(), c.Primaries()...) {
		c.Kill(n)
	}
	for _, n := range append(c.Primaries(), c.Workers()...) {
		c.Restart(n)
	}
	c.WaitHealthy()
	again := c.Describe(first.Id)
	first.Tasks, again.Tasks = nil, nil
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Fatalf("history of the finished step changed across the restart:\nbefore %s\nafter  %s", a, b)
	}
	st := c.Wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	ct.CheckOutput(t, out, in.Ref)
	ct.CheckCounted(t, st, in.Ref)
}

// TestFailoverTimes runs one step undisturbed, then the same step while
// killing the leader -failover.kills times (restarting each killed
// primary), and reports the median and worst time from a kill to the next
// scheduled task, and the wall time the kills added to the step.
func TestFailoverTimes(t *testing.T) {
	if *failoverKills == 0 {
		t.Skip("a measurement: run with -args -failover.kills=N")
	}
	in := ct.BigInput(t, 4, 4<<20, 2)
	c := startProcCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "core", "task"), WorkerFaults: "map-record=stall@0.01:100ms"})
	spec := func(out string) *pb.StepSpec {
		return &pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 2, SplitSize: 16 << 10}
	}
	elapsed := func(st *ct.Step) time.Duration { return time.Duration(st.EndedUnixNano - st.SubmittedUnixNano) }
	calm := c.Wait(c.Submit(spec(filepath.Join(t.TempDir(), "calm"))))
	if calm.State.Value() != state.StepCompleted {
		t.Fatalf("undisturbed step ended %s: %s", calm.State, calm.Error)
	}
	out := filepath.Join(t.TempDir(), "out")
	id := c.Submit(spec(out))
	var took []time.Duration
	for range *failoverKills {
		c.WaitUntil(id, "maps running", func(st *ct.Step) bool { return ct.RunningAttempts(st) > 0 })
		killed, d := ct.KillLeaderAndTime(t, c, id)
		c.Restart(killed)
		c.WaitHealthy()
		if d == 0 {
			t.Logf("the step needed no new task after the kill of %s: it was committing or done", killed.Name())
			break
		}
		took = append(took, d)
	}
	st := c.Wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	ct.CheckOutput(t, out, in.Ref)
	ct.CheckCounted(t, st, in.Ref)
	if len(took) == 0 {
		t.Fatalf("no failover was timed: the step (%s undisturbed) ended before a kill was followed by a new task; make it longer", elapsed(calm).Round(time.Millisecond))
	}
	slices.Sort(took)
	t.Logf("%d leader kills: failover (kill to next scheduled task) median %s, worst %s, all %v",
		len(took), ct.Median(t, "failover time", took).Round(time.Millisecond), ct.Percentile(t, "failover time", took, 100).Round(time.Millisecond), took)
	extra := elapsed(st) - elapsed(calm)
	t.Logf("step undisturbed %s, with %d kills %s: %s more, %s per kill",
		elapsed(calm).Round(time.Millisecond), len(took), elapsed(st).Round(time.Millisecond), extra.Round(time.Millisecond), (extra / time.Duration(len(took))).Round(time.Millisecond))
}
