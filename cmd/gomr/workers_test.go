package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

var (
	crashSeed    = flag.Uint64("crash.seed", 0, "TestCrashes: the first seed (0: random)")
	crashRuns    = flag.Int("crash.runs", 3, "TestCrashes: how many seeds to run")
	workerKillMB = flag.Int("worker.kill.mb", 0, "TestWorkerKillCost: MB of input (0 skips it)")
)

// TestCrashes is modelled on the MIT 6.824 MapReduce lab's crash test: map
// and reduce functions, at random, make the whole worker process exit or
// stall for seconds (longer than the task timeout); the test restarts every
// worker that dies. The output must equal that of a run with no faults,
// byte for byte, for several seeds, and workers must really have crashed.
func TestCrashes(t *testing.T) {
	in := ct.BigInput(t, 2, 1<<20, 3)
	seed := *crashSeed
	if seed == 0 {
		seed = rand.Uint64N(1 << 32)
	}
	for run := range *crashRuns {
		runSeed := seed + uint64(run)
		t.Run(fmt.Sprintf("seed=%d", runSeed), func(t *testing.T) {
			t.Logf("seed %d (repeat with -args -crash.seed=%d -crash.runs=1)", runSeed, runSeed)
			const faults = "map-record=exit@0.0001;map-record=stall@0.0001:3s;reduce-key=exit@0.0005;reduce-key=stall@0.0005:3s"
			envOf := map[string][]string{}
			for i, id := range []string{"core-1", "core-2", "task-1"} {
				envOf[id] = []string{fmt.Sprintf("GOMR_FAULT_SEED=%d", runSeed*1000+uint64(i*100))}
			}
			// Some seeds would crash no worker at those rates (or once);
			// core-1's first run surely crashes (its map attempts exit on
			// one record in 500). Every restart has the common faults.
			envOf["core-1"] = append(envOf["core-1"], "GOMR_FAULTS="+faults+";map-record=exit@0.002")
			c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core", "task"),
				WorkerFaults: faults, WorkerEnvOf: envOf, TaskTimeout: 2 * time.Second, MaxAttempts: 20})
			stop := c.SuperviseWorkers(runSeed, "GOMR_FAULTS="+faults)
			out := filepath.Join(t.TempDir(), "out")
			id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 3, SplitSize: 64 << 10})
			st := c.Wait(id)
			restarts := stop()
			if st.State.Value() != state.StepCompleted {
				t.Fatalf("step ended %s: %s", st.State, st.Error)
			}
			ct.CheckOutput(t, out, in.Ref)
			ct.CheckCounted(t, st, in.Ref)
			crashed := ct.Unfinished(c.AttemptEvents())
			t.Logf("completed after %d worker crashes (%d attempts cut short); attempts launched %d maps + %d reduces for %d + %d tasks (%d failed, %d killed, %d speculative)",
				restarts, len(crashed), st.Counters["LAUNCHED_MAPS"], st.Counters["LAUNCHED_REDUCES"], st.MapsTotal, st.ReducesTotal,
				st.Counters["FAILED_MAPS"]+st.Counters["FAILED_REDUCES"], st.Counters["KILLED_MAPS"]+st.Counters["KILLED_REDUCES"], st.Counters["SPECULATIVE_ATTEMPTS"])
			if restarts == 0 {
				t.Fatalf("no worker crashed with seed %d, so the test proved nothing: the exit faults never fired", runSeed)
			}
		})
	}
}

// TestWorkerKilled kills a worker (SIGKILL) in the middle of the map
// phase, of the shuffle, and of the reduce phase, and freezes one
// (SIGSTOP) (the localcluster tests run the same scenario in-process).
func TestWorkerKilled(t *testing.T) {
	in := ct.BigInput(t, 2, 1<<20, 3)
	onProcesses(t, func(t *testing.T, r ct.Runner) { ct.WorkerKilled(t, r, in) })
}

// TestSlowWorkerGetsBackups runs the same step with speculation on and off
// on a cluster where one worker is very slow. With speculation, backup
// attempts run on the fast workers and the first to finish wins.
func TestSlowWorkerGetsBackups(t *testing.T) {
	in := ct.BigInput(t, 2, 1<<20, 2)
	c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core", "task"),
		WorkerFaultsOf: map[string]string{"task-1": "map-record=stall@0.05:200ms"}})
	var took [2]time.Duration // with, without speculation
	for _, noSpec := range []bool{true, false} {
		out := filepath.Join(t.TempDir(), "out")
		st := c.Wait(c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 2, SplitSize: 32 << 10, NoSpeculation: noSpec}))
		if st.State.Value() != state.StepCompleted {
			t.Fatalf("step ended %s: %s", st.State, st.Error)
		}
		ct.CheckOutput(t, out, in.Ref)
		ct.CheckCounted(t, st, in.Ref)
		i := 0
		if noSpec {
			i = 1
		}
		took[i] = time.Duration(st.EndedUnixNano - st.SubmittedUnixNano)
		backups := st.Counters[state.SpeculativeAttempts]
		if noSpec && backups != 0 {
			t.Fatalf("%d backups with speculation off", backups)
		}
		if !noSpec && backups == 0 {
			t.Fatalf("no backup attempt for the slow worker's tasks: %v", st.Counters)
		}
	}
	t.Logf("with a slow worker: %s with speculation, %s without (%.1fx)", took[0].Round(time.Millisecond), took[1].Round(time.Millisecond), float64(took[1])/float64(took[0]))
}

// TestEveryTaskRunsOnce checks, with the workers' attempt log, that on a
// healthy cluster every map and reduce task runs exactly once and the
// output equals the sequential reference byte for byte (the localcluster
// tests run the same scenario in-process).
func TestEveryTaskRunsOnce(t *testing.T) {
	in := ct.BigInput(t, 3, 1<<20, 4)
	onProcesses(t, func(t *testing.T, r ct.Runner) { ct.EveryTaskRunsOnce(t, r, in) })
}

// TestResizeWhileRunning adds a task worker in the middle of a step (it
// must get work at once), drains another (it must take no new attempt),
// and kills one attempt by hand (it runs again; no failure is counted).
func TestResizeWhileRunning(t *testing.T) {
	in := ct.BigInput(t, 2, 2<<20, 2)
	c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core"), WorkerFaults: ct.SlowMaps})
	out := filepath.Join(t.TempDir(), "out")
	id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 2, SplitSize: 32 << 10})
	c.WaitUntil(id, "maps running", func(st *ct.Step) bool { return st.MapsDone > 2 })

	added := c.AddWorker(state.RoleTask, "task-9")
	if out, errOut, code := gomr(t, c.Env(), "node", "drain", "core-2"); code != 0 || !strings.Contains(out, "DRAINING") {
		t.Fatalf("node drain: exit %d: %s %s", code, out, errOut)
	}
	drained := time.Now()
	st := c.WaitUntil(id, "the new worker running a task", func(st *ct.Step) bool {
		for _, task := range st.Tasks {
			for _, a := range task.Attempts {
				if a.Worker == added.Name() {
					return true
				}
			}
		}
		return false
	})
	// Kill one running attempt by hand.
	var victim string
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			if a.State.Value() == state.AttemptRunning && victim == "" {
				victim = a.Id
			}
		}
	}
	if victim != "" {
		if _, errOut, code := gomr(t, c.Env(), "step", "kill-attempt", victim); code != 0 {
			t.Logf("kill-attempt %s: %s (it may have just finished)", victim, errOut)
		}
	}
	st = c.Wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	ct.CheckOutput(t, out, in.Ref)
	ct.CheckCounted(t, st, in.Ref)
	if st.Counters["FAILED_MAPS"]+st.Counters["FAILED_REDUCES"] != 0 {
		t.Fatalf("a kill was counted as a failure: %v", st.Counters)
	}
	for _, ev := range c.AttemptEvents() {
		if ev.Event == "start" && ev.Worker == "core-2" && ev.At.After(drained.Add(200*time.Millisecond)) {
			t.Fatalf("draining worker core-2 started %s after the drain", ev.Attempt)
		}
	}
	for _, w := range c.Nodes().Workers {
		if w.Id == "core-2" && w.State.Value() != state.WorkerDraining {
			t.Fatalf("core-2 is %s", w.State)
		}
	}
}

// TestParallelism checks with the attempt log that, with two workers of
// one slot each, map attempts really run at the same time on both, and so
// do reduce attempts.
func TestParallelism(t *testing.T) {
	in := ct.BigInput(t, 2, 1<<20, 2)
	c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core"), Slots: 1,
		WorkerFaults: ct.SlowMaps + ";reduce-end=sleep:500ms"})
	out := filepath.Join(t.TempDir(), "out")
	st := c.Wait(c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 2, SplitSize: 128 << 10}))
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	ct.CheckOutput(t, out, in.Ref)
	type span struct {
		worker     string
		start, end time.Time
	}
	spans := map[string]*span{}
	for _, ev := range c.AttemptEvents() {
		s := spans[ev.Attempt]
		if s == nil {
			s = &span{worker: ev.Worker}
			spans[ev.Attempt] = s
		}
		if ev.Event == "start" {
			s.start = ev.At
		} else {
			s.end = ev.At
		}
	}
	for _, kind := range []string{"m", "r"} {
		overlap := false
		for a, sa := range spans {
			for b, sb := range spans {
				if strings.Contains(a, "_"+kind+"_") && strings.Contains(b, "_"+kind+"_") && sa.worker < sb.worker &&
					sa.start.Before(sb.end) && sb.start.Before(sa.end) {
					overlap = true
				}
			}
		}
		if !overlap {
			t.Errorf("no two %s attempts ran at the same time on the two workers: %d attempts", kind, len(spans))
		}
	}
}

// TestHungAttemptsTimeOut makes one worker hang in its map attempts for
// longer than the task timeout: those attempts are killed as failed, the
// worker is excluded from the step after repeated failures, and the step
// completes on the others.
func TestHungAttemptsTimeOut(t *testing.T) {
	in := ct.BigInput(t, 2, 1<<20, 2)
	c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core", "task"),
		WorkerFaultsOf: map[string]string{"task-1": "map-record=stall@0.01:10s"}, TaskTimeout: 2 * time.Second})
	out := filepath.Join(t.TempDir(), "out")
	st := c.Wait(c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 2, SplitSize: 128 << 10, NoSpeculation: true}))
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	ct.CheckOutput(t, out, in.Ref)
	ct.CheckCounted(t, st, in.Ref)
	hung := 0
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			if a.State.Value() == state.AttemptFailed && strings.Contains(a.Error, "no progress for 2s") {
				hung++
			}
		}
	}
	if hung == 0 {
		t.Fatalf("no attempt timed out: %v", st.Counters)
	}
	t.Logf("%d hung attempts were killed and re-run", hung)
}

// TestWorkerKillCost measures what killing one worker in the middle of a
// large word count costs: detection time and added wall time.
func TestWorkerKillCost(t *testing.T) {
	if *workerKillMB == 0 {
		t.Skip("a measurement: run with -args -worker.kill.mb=200")
	}
	in := ct.BigInput(t, (*workerKillMB+63)/64, int64(min(*workerKillMB, 64))<<20, 4)
	c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core", "task")})
	run := func(kill bool) time.Duration {
		out := filepath.Join(t.TempDir(), "out-"+strconv.FormatBool(kill))
		id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 4, SplitSize: 16 << 20})
		if kill {
			st := c.WaitUntil(id, "half the maps", func(st *ct.Step) bool { return st.MapsDone >= st.MapsTotal/2 && ct.RunningAttempts(st) > 0 })
			victim := ct.WorkerRunning(c, st, state.KindMap)
			if victim == nil {
				t.Fatalf("no worker runs a map to kill at %d/%d maps: nothing to measure (use more input)", st.MapsDone, st.MapsTotal)
			}
			killed := time.Now()
			c.Kill(victim)
			t.Logf("killed %s; declared down %s later", victim.Name(), ct.WaitDown(t, c, victim.Name()).Sub(killed).Round(time.Millisecond))
		}
		st := c.Wait(id)
		if st.State.Value() != state.StepCompleted {
			t.Fatalf("step ended %s: %s", st.State, st.Error)
		}
		ct.CheckOutput(t, out, in.Ref)
		os.RemoveAll(out)
		return time.Duration(st.EndedUnixNano - st.SubmittedUnixNano)
	}
	calm := run(false)
	disturbed := run(true)
	t.Logf("%d MB word count: %s undisturbed, %s with a worker killed mid-map: %s more",
		*workerKillMB, calm.Round(time.Millisecond), disturbed.Round(time.Millisecond), (disturbed - calm).Round(time.Millisecond))
}

// TestLostMapOutputsWithEverySlotReducing kills a worker while reducers
// fill every slot of the one worker left: the reducers waiting for lost map
// outputs must lend their slots to the maps that make them again, or the
// step would wait forever.
func TestLostMapOutputsWithEverySlotReducing(t *testing.T) {
	in := ct.BigInput(t, 2, 1<<20, 4)
	c := startProcCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core", "core"), WorkerFaults: "shuffle-send=sleep:500ms"})
	out := filepath.Join(t.TempDir(), "out")
	id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in.Dir}, Output: out, Reducers: 4, SplitSize: 256 << 10})
	st := c.WaitUntil(id, "the reduce phase", func(st *ct.Step) bool { return st.Phase.Value() == state.PhaseReduce && ct.RunningAttempts(st) >= 2 })
	victim := ct.WorkerWithMapOutput(c, st)
	if victim == nil {
		t.Fatal("no worker holds a map output")
	}
	c.Kill(victim)
	st = c.Wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	ct.CheckOutput(t, out, in.Ref)
	ct.CheckCounted(t, st, in.Ref)
}
