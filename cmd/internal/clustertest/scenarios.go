package clustertest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// SlowMaps makes every map attempt take a while (a stall on about one
// record in 300), so that a step lasts long enough to be disturbed.
const SlowMaps = "map-record=stall@0.003:100ms"

// Each scenario below is written once and run on every runner. The ones
// that arm fault points must not run in parallel with other tests.

// LeaderKilledMidStep kills the leader during the map phase, during the
// reduce phase, and in the middle of committing the output. The step must
// complete with output byte-identical to an undisturbed run, counted
// once, and exist once; the killed primary comes back and catches up.
// in is a BigInput (4 reducers).
func LeaderKilledMidStep(t *testing.T, r Runner, in Input) {
	for _, tc := range []struct {
		name                        string
		primaryFaults, workerFaults string
		when                        func(*Step) bool
	}{
		{"map phase", "", SlowMaps,
			func(st *Step) bool { return st.MapsDone >= st.MapsTotal/5 && st.MapsDone > 0 }},
		{"reduce phase", "", "reduce-end=sleep:2s",
			func(st *Step) bool { return st.Phase.Value() == state.PhaseReduce && RunningAttempts(st) > 0 }},
		{"while committing", "commit-midway=sleep:4s", "",
			func(st *Step) bool { return st.Phase.Value() == state.PhaseCommit }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := r.Start(t, Options{Primaries: 3, Workers: Roles("core", "core", "task"), PrimaryFaults: tc.primaryFaults, WorkerFaults: tc.workerFaults})
			out := filepath.Join(t.TempDir(), "out")
			id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: in.Reducers, SplitSize: 64 << 10})
			c.WaitUntil(id, tc.name, tc.when)
			if tc.primaryFaults != "" {
				// The leader commits half the tasks' files, then pauses
				// at commit-midway: kill it between the halves.
				half := max(1, int(in.Reducers)/2)
				WaitFor(t, "half the part files committed", time.Minute, func() bool {
					parts, _ := filepath.Glob(filepath.Join(out, "part-r-*"))
					return len(parts) >= half
				})
			}
			killed, took := KillLeaderAndTime(t, c, id)
			if took > 0 {
				t.Logf("killed leader %s; next task scheduled %s later", killed.Name(), took.Round(time.Millisecond))
			}
			st := c.Wait(id)
			if st.State.Value() != state.StepCompleted {
				t.Fatalf("step ended %s: %s", st.State, st.Error)
			}
			CheckOutput(t, out, in.Ref)
			CheckCounted(t, st, in.Ref)
			list := retry(t, "list steps", 30*time.Second, 5*time.Second, func(ctx context.Context) (*pb.ListStepsResponse, error) {
				return c.Client().ListSteps(ctx, &pb.ListStepsRequest{})
			})
			if len(list.Steps) != 1 {
				t.Fatalf("%d steps, want the one submitted: %v", len(list.Steps), list)
			}
			c.Restart(killed)
			c.WaitHealthy()
			c.WaitConverged()
		})
	}
}

// Freezer is a cluster that can pause a node without killing it
// (SIGSTOP): processes only.
type Freezer interface {
	Freeze(Node)
	Thaw(Node)
}

// freezingRunner starts clusters that are Freezers.
type freezingRunner interface{ startsFreezers() }

func (Processes) startsFreezers() {}

// WorkerKilled kills a worker in the middle of the map phase, of the
// shuffle, and of the reduce phase, and (on a Freezer) freezes one in the
// middle of the map phase. Its running attempts run elsewhere, map
// outputs that lived on it are made again, reducers fetching from it move
// to the new outputs, and the output is exact. in is a BigInput (3
// reducers).
func WorkerKilled(t *testing.T, r Runner, in Input) {
	for _, tc := range []struct {
		name         string
		workerFaults string
		when         func(*Step) bool
		victim       func(Cluster, *Step) Node
		freeze       bool // SIGSTOP (and later SIGCONT) instead of a kill
	}{
		{"mid-map", SlowMaps,
			func(st *Step) bool { return st.MapsDone >= st.MapsTotal/4 && RunningAttempts(st) > 0 },
			func(c Cluster, st *Step) Node { return WorkerRunning(c, st, state.KindMap) }, false},
		{"mid-shuffle", "shuffle-send=sleep:1s",
			func(st *Step) bool { return st.Phase.Value() == state.PhaseReduce && RunningAttempts(st) > 0 },
			// A worker whose map outputs reducers on other workers need.
			WorkerWithMapOutput, false},
		{"mid-reduce", "reduce-end=sleep:3s",
			func(st *Step) bool { return st.Phase.Value() == state.PhaseReduce && RunningAttempts(st) > 0 },
			func(c Cluster, st *Step) Node { return WorkerRunning(c, st, state.KindReduce) }, false},
		{"frozen mid-map", SlowMaps,
			func(st *Step) bool { return st.MapsDone >= st.MapsTotal/4 && RunningAttempts(st) > 0 },
			func(c Cluster, st *Step) Node { return WorkerRunning(c, st, state.KindMap) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := r.(freezingRunner); tc.freeze && !ok {
				t.Skipf("%s cannot freeze a node", r.Name())
			}
			c := r.Start(t, Options{Primaries: 1, Workers: Roles("core", "core", "task"), WorkerFaults: tc.workerFaults})
			fr, _ := c.(Freezer)
			out := filepath.Join(t.TempDir(), "out")
			id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: in.Reducers, SplitSize: 128 << 10})
			st := c.WaitUntil(id, tc.name, tc.when)
			victim := tc.victim(c, st)
			if victim == nil {
				t.Fatalf("no worker to kill at %s %s", st.State, st.Phase)
			}
			incarnation := IncarnationOf(c, victim.Name())
			killed := time.Now()
			if tc.freeze {
				fr.Freeze(victim)
			} else {
				c.Kill(victim)
			}
			downAt := WaitDown(t, c, victim.Name())
			t.Logf("stopped %s (freeze %t); declared down %s later", victim.Name(), tc.freeze, downAt.Sub(killed).Round(time.Millisecond))
			if tc.freeze {
				// Thawed, it finds it was declared down and comes back as
				// a new incarnation; its old attempts' reports are stale.
				fr.Thaw(victim)
				c.WaitHealthy()
				if inc := IncarnationOf(c, victim.Name()); inc == incarnation {
					t.Fatalf("%s came back as the same incarnation %d", victim.Name(), inc)
				}
			}
			st = c.Wait(id)
			if st.State.Value() != state.StepCompleted {
				t.Fatalf("step ended %s: %s", st.State, st.Error)
			}
			CheckOutput(t, out, in.Ref)
			CheckCounted(t, st, in.Ref)
			if st.Counters["KILLED_MAPS"]+st.Counters["KILLED_REDUCES"] == 0 && tc.name != "mid-shuffle" {
				t.Errorf("no attempt was killed by the worker's death: %v", st.Counters)
			}
			if !tc.freeze {
				// The worker comes back as a new incarnation and works again.
				c.Restart(victim)
				c.WaitHealthy()
				if inc := IncarnationOf(c, victim.Name()); inc == incarnation {
					t.Fatalf("%s came back as the same incarnation %d", victim.Name(), inc)
				}
			}
		})
	}
}

// EveryTaskRunsOnce runs a plain word count on a healthy cluster: its
// output must equal the sequential reference byte for byte, and the
// workers' attempt log (what really ran, not what the primary thinks ran)
// must show every map and reduce task run exactly once. in is a BigInput
// (4 reducers).
func EveryTaskRunsOnce(t *testing.T, r Runner, in Input) {
	// Speculation stays on; the wider gap keeps a loaded test machine from
	// making a healthy attempt look slow.
	c := r.Start(t, Options{Primaries: 1, Workers: Roles("core", "core", "task"), SpeculationMinGap: 10 * time.Second})
	out := filepath.Join(t.TempDir(), "out")
	st := c.Wait(c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: in.Reducers, SplitSize: 64 << 10}))
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	CheckOutput(t, out, in.Ref)
	CheckCounted(t, st, in.Ref)
	runs := RunsPerTask(c.AttemptEvents())
	if len(runs) != int(st.MapsTotal+st.ReducesTotal) {
		t.Fatalf("%d tasks ran, want %d maps + %d reduces", len(runs), st.MapsTotal, st.ReducesTotal)
	}
	for task, n := range runs {
		if n != 1 {
			t.Errorf("task %s ran %d times", task, n)
		}
	}
	CheckRanOnce(t, st)
}
