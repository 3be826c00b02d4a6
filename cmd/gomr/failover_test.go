package main

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"slices"
	"testing"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

var failoverKills = flag.Int("failover.kills", 0, "TestFailoverTimes: how many leader kills to time (0 skips it)")

func jsonUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// slowMaps makes every map attempt take a while (a stall on about one
// record in 300), so that a step lasts long enough to be disturbed.
const slowMaps = "map-record=stall@0.003:100ms"

// nextAttemptAfter returns when the first attempt started after t began, as
// the leader recorded it.
func nextAttemptAfter(st *testStep, t time.Time) (time.Time, bool) {
	var first time.Time
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			at := time.Unix(0, a.StartedUnixNano)
			if at.After(t) && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	return first, !first.IsZero()
}

// killLeaderAndTime kills the leader with SIGKILL and returns how long it
// took until a new leader scheduled the step's next task.
func killLeaderAndTime(t *testing.T, c *procCluster, id string) (*node, time.Duration) {
	t.Helper()
	l := c.leader()
	killed := time.Now()
	c.kill(l)
	st := c.waitUntil(id, "a task scheduled after the kill", func(st *testStep) bool {
		_, ok := nextAttemptAfter(st, killed)
		return ok || st.State.Value().Terminal() || st.Phase.Value() == state.PhaseCommit
	})
	next, ok := nextAttemptAfter(st, killed)
	if !ok {
		return l, 0
	}
	return l, next.Sub(killed)
}

// TestLeaderKilledMidStep kills the leader (SIGKILL) during the map phase,
// during the reduce phase, and in the middle of committing the output. The
// step must complete with output byte-identical to an undisturbed run,
// counted once, and exist once.
func TestLeaderKilledMidStep(t *testing.T) {
	in, ref := bigInput(t, 2, 3<<20, 4)
	for _, tc := range []struct {
		name       string
		primaryEnv []string
		workerEnv  []string
		when       func(*testStep) bool
	}{
		{"map phase", nil, []string{"GOMR_FAULTS=" + slowMaps},
			func(st *testStep) bool { return st.MapsDone >= st.MapsTotal/5 && st.MapsDone > 0 }},
		{"reduce phase", nil, []string{"GOMR_FAULTS=reduce-end=sleep:2s"},
			func(st *testStep) bool { return st.Phase.Value() == state.PhaseReduce && runningAttempts(st) > 0 }},
		{"while committing", []string{"GOMR_FAULTS=commit-midway=sleep:4s"}, nil,
			func(st *testStep) bool { return st.Phase.Value() == state.PhaseCommit }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startProcCluster(t, clusterOpts{primaries: 3, workers: []string{"core", "core", "task"}, primaryEnv: tc.primaryEnv, workerEnv: tc.workerEnv})
			out := filepath.Join(t.TempDir(), "out")
			id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 4, SplitSize: 64 << 10})
			c.waitUntil(id, tc.name, tc.when)
			if tc.name == "while committing" {
				time.Sleep(time.Second) // the leader is now between moving half the files and the rest
			}
			killed, took := killLeaderAndTime(t, c, id)
			if took > 0 {
				t.Logf("killed leader %s; next task scheduled %s later", killed.name, took.Round(time.Millisecond))
			}
			st := c.wait(id)
			if st.State.Value() != state.StepCompleted {
				t.Fatalf("step ended %s: %s", st.State, st.Error)
			}
			checkOutput(t, out, ref)
			checkCounted(t, st, ref)
			list, err := c.client().ListSteps(t.Context(), &pb.ListStepsRequest{})
			if err != nil || len(list.Steps) != 1 {
				t.Fatalf("steps: %v %v", list, err)
			}
			// The killed primary comes back and catches up.
			c.start(killed)
			c.waitHealthy()
			c.waitConverged()
		})
	}
}

func runningAttempts(st *testStep) int {
	n := 0
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			if a.State.Value() == state.AttemptRunning {
				n++
			}
		}
	}
	return n
}

// TestRollingRestartOfPrimaries restarts the three primaries one at a time
// (SIGTERM, start again, wait until it caught up) while a step runs.
func TestRollingRestartOfPrimaries(t *testing.T) {
	in, ref := bigInput(t, 2, 3<<20, 3)
	c := startProcCluster(t, clusterOpts{primaries: 3, workers: []string{"core", "core"}, workerEnv: []string{"GOMR_FAULTS=" + slowMaps}})
	out := filepath.Join(t.TempDir(), "out")
	id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 3, SplitSize: 64 << 10})
	c.waitUntil(id, "running", func(st *testStep) bool { return st.MapsDone > 0 })
	for _, n := range c.primaries {
		c.stop(n)
		c.start(n)
		c.waitHealthy()
		st := c.describe(id)
		t.Logf("restarted %s: step %s %s, maps %d/%d", n.name, st.State, st.Phase, st.MapsDone, st.MapsTotal)
	}
	st := c.wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	checkCounted(t, st, ref)
	c.waitConverged()
}

// TestWholeClusterRestart kills every primary and worker (SIGKILL) while a
// step runs, starts them all again from their data directories, and checks
// that the finished step's history is intact and the running step
// completes.
func TestWholeClusterRestart(t *testing.T) {
	in, ref := bigInput(t, 2, 3<<20, 2)
	c := startProcCluster(t, clusterOpts{primaries: 3, workers: []string{"core", "core"}, workerEnv: []string{"GOMR_FAULTS=" + slowMaps}})
	first := c.wait(c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{filepath.Join(in, "text-0.txt")}, Output: filepath.Join(t.TempDir(), "first"), Reducers: 2}))
	if first.State.Value() != state.StepCompleted {
		t.Fatalf("first step ended %s: %s", first.State, first.Error)
	}
	out := filepath.Join(t.TempDir(), "out")
	id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 64 << 10})
	c.waitUntil(id, "a third of the maps", func(st *testStep) bool { return st.MapsDone >= st.MapsTotal/3 && st.MapsDone > 0 })
	for _, n := range append(slices.Clone(c.workers), c.primaries...) {
		c.kill(n)
	}
	for _, n := range append(slices.Clone(c.primaries), c.workers...) {
		c.start(n)
	}
	c.waitHealthy()
	again := c.describe(first.Id)
	first.Tasks, again.Tasks = nil, nil
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Fatalf("history of the finished step changed across the restart:\nbefore %s\nafter  %s", a, b)
	}
	st := c.wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	checkCounted(t, st, ref)
}

// TestFailoverTimes runs one step undisturbed, then the same step while
// killing the leader -failover.kills times (restarting each killed
// primary), and reports the median and worst time from a kill to the next
// scheduled task, and the wall time the kills added to the step.
func TestFailoverTimes(t *testing.T) {
	if *failoverKills == 0 {
		t.Skip("a measurement: run with -args -failover.kills=N")
	}
	in, ref := bigInput(t, 4, 4<<20, 2)
	c := startProcCluster(t, clusterOpts{primaries: 3, workers: []string{"core", "core", "task"}, workerEnv: []string{"GOMR_FAULTS=map-record=stall@0.01:100ms"}})
	spec := func(out string) *pb.StepSpec {
		return &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 16 << 10}
	}
	elapsed := func(st *testStep) time.Duration { return time.Duration(st.EndedUnixNano - st.SubmittedUnixNano) }
	calm := c.wait(c.submit(spec(filepath.Join(t.TempDir(), "calm"))))
	if calm.State.Value() != state.StepCompleted {
		t.Fatalf("undisturbed step ended %s: %s", calm.State, calm.Error)
	}
	out := filepath.Join(t.TempDir(), "out")
	id := c.submit(spec(out))
	var took []time.Duration
	for range *failoverKills {
		c.waitUntil(id, "maps running", func(st *testStep) bool { return runningAttempts(st) > 0 })
		killed, d := killLeaderAndTime(t, c, id)
		if d == 0 {
			break
		}
		took = append(took, d)
		c.start(killed)
		c.waitHealthy()
	}
	st := c.wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	checkCounted(t, st, ref)
	slices.Sort(took)
	t.Logf("%d leader kills: failover (kill to next scheduled task) median %s, worst %s, all %v",
		len(took), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), took)
	extra := elapsed(st) - elapsed(calm)
	t.Logf("step undisturbed %s, with %d kills %s: %s more, %s per kill",
		elapsed(calm).Round(time.Millisecond), len(took), elapsed(st).Round(time.Millisecond), extra.Round(time.Millisecond), (extra / time.Duration(len(took))).Round(time.Millisecond))
}
