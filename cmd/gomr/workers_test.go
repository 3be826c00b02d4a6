package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
// byte for byte, for several seeds.
func TestCrashes(t *testing.T) {
	in, ref := bigInput(t, 2, 1<<20, 3)
	seed := *crashSeed
	if seed == 0 {
		seed = rand.Uint64N(1 << 32)
	}
	for run := range *crashRuns {
		runSeed := seed + uint64(run)
		t.Run(fmt.Sprintf("seed=%d", runSeed), func(t *testing.T) {
			t.Logf("seed %d (repeat with -args -crash.seed=%d -crash.runs=1)", runSeed, runSeed)
			faults := "GOMR_FAULTS=map-record=exit@0.0001;map-record=stall@0.0001:3s;reduce-key=exit@0.0005;reduce-key=stall@0.0005:3s"
			envOf := map[string][]string{}
			for i, id := range []string{"core-1", "core-2", "task-1"} {
				envOf[id] = []string{fmt.Sprintf("GOMR_FAULT_SEED=%d", runSeed*1000+uint64(i*100))}
			}
			c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core", "task"},
				workerEnv: []string{faults}, envOf: envOf, primaryArgs: []string{"--task-timeout", "2s", "--max-attempts", "20"}})
			stop := c.superviseWorkers(runSeed)
			out := filepath.Join(t.TempDir(), "out")
			id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 3, SplitSize: 64 << 10})
			st := c.wait(id)
			restarts := stop()
			if st.State.Value() != state.StepCompleted {
				t.Fatalf("step ended %s: %s", st.State, st.Error)
			}
			checkOutput(t, out, ref)
			checkCounted(t, st, ref)
			t.Logf("completed after %d worker crashes; attempts launched %d maps + %d reduces for %d + %d tasks (%d failed, %d killed, %d speculative)",
				restarts, st.Counters["LAUNCHED_MAPS"], st.Counters["LAUNCHED_REDUCES"], st.MapsTotal, st.ReducesTotal,
				st.Counters["FAILED_MAPS"]+st.Counters["FAILED_REDUCES"], st.Counters["KILLED_MAPS"]+st.Counters["KILLED_REDUCES"], st.Counters["SPECULATIVE_ATTEMPTS"])
		})
	}
}

// workerRunning returns a worker that runs an attempt of the step now, of
// the given kind ("MAP" or "REDUCE").
func workerRunning(c *procCluster, st *testStep, kind state.TaskKind) *node {
	for _, task := range st.Tasks {
		if task.Kind.Value() != kind {
			continue
		}
		for _, a := range task.Attempts {
			if a.State.Value() == state.AttemptRunning {
				for _, n := range c.workers {
					if n.name == a.Worker {
						return n
					}
				}
			}
		}
	}
	return nil
}

// waitDown waits until the leader has declared a worker down and returns
// when it saw that.
func waitDown(t *testing.T, c *procCluster, id string) time.Time {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, w := range c.nodes().Workers {
			if w.Id == id && w.State.Value() == state.WorkerDead {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s never declared down", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWorkerKilled kills a worker (SIGKILL) in the middle of the map
// phase, of the shuffle, and of the reduce phase. Its running attempts run
// elsewhere, map outputs that lived on it are made again, reducers
// fetching from it move to the new outputs, and the output is exact.
func TestWorkerKilled(t *testing.T) {
	in, ref := bigInput(t, 2, 1<<20, 3)
	for _, tc := range []struct {
		name      string
		workerEnv string
		when      func(*testStep) bool
		victim    func(*procCluster, *testStep) *node
		freeze    bool // SIGSTOP (and later SIGCONT) instead of SIGKILL
	}{
		{"mid-map", "GOMR_FAULTS=" + slowMaps,
			func(st *testStep) bool { return st.MapsDone >= st.MapsTotal/4 && runningAttempts(st) > 0 },
			func(c *procCluster, st *testStep) *node { return workerRunning(c, st, state.KindMap) }, false},
		{"mid-shuffle", "GOMR_FAULTS=shuffle-send=sleep:1s",
			func(st *testStep) bool { return st.Phase.Value() == state.PhaseReduce && runningAttempts(st) > 0 },
			// A worker whose map outputs reducers on other workers need.
			func(c *procCluster, st *testStep) *node { return workerWithMapOutput(c, st) }, false},
		{"mid-reduce", "GOMR_FAULTS=reduce-end=sleep:3s",
			func(st *testStep) bool { return st.Phase.Value() == state.PhaseReduce && runningAttempts(st) > 0 },
			func(c *procCluster, st *testStep) *node { return workerRunning(c, st, state.KindReduce) }, false},
		{"frozen mid-map", "GOMR_FAULTS=" + slowMaps,
			func(st *testStep) bool { return st.MapsDone >= st.MapsTotal/4 && runningAttempts(st) > 0 },
			func(c *procCluster, st *testStep) *node { return workerRunning(c, st, state.KindMap) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core", "task"}, workerEnv: []string{tc.workerEnv}})
			out := filepath.Join(t.TempDir(), "out")
			id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 3, SplitSize: 128 << 10})
			st := c.waitUntil(id, tc.name, tc.when)
			victim := tc.victim(c, st)
			if victim == nil {
				t.Fatalf("no worker to kill at %s %s", st.State, st.Phase)
			}
			incarnation := incarnationOf(c, victim.name)
			killed := time.Now()
			if tc.freeze {
				victim.p.cmd.Process.Signal(syscall.SIGSTOP)
			} else {
				c.kill(victim)
			}
			downAt := waitDown(t, c, victim.name)
			t.Logf("stopped %s (freeze %t); declared down %s later", victim.name, tc.freeze, downAt.Sub(killed).Round(time.Millisecond))
			if tc.freeze {
				// Thawed, it finds it was declared down and comes back as
				// a new incarnation; its old attempts' reports are stale.
				victim.p.cmd.Process.Signal(syscall.SIGCONT)
				c.waitHealthy()
				if inc := incarnationOf(c, victim.name); inc == incarnation {
					t.Fatalf("%s came back as the same incarnation %d", victim.name, inc)
				}
			}
			st = c.wait(id)
			if st.State.Value() != state.StepCompleted {
				t.Fatalf("step ended %s: %s", st.State, st.Error)
			}
			checkOutput(t, out, ref)
			checkCounted(t, st, ref)
			if st.Counters["KILLED_MAPS"]+st.Counters["KILLED_REDUCES"] == 0 && tc.name != "mid-shuffle" {
				t.Errorf("no attempt was killed by the worker's death: %v", st.Counters)
			}
			if !tc.freeze {
				// The worker comes back as a new incarnation and works again.
				c.start(victim)
				c.waitHealthy()
			}
		})
	}
}

// incarnationOf returns a worker's registered incarnation.
func incarnationOf(c *procCluster, id string) int64 {
	for _, w := range c.nodes().Workers {
		if w.Id == id {
			return w.Incarnation
		}
	}
	return 0
}

// workerWithMapOutput returns a worker holding a map output while reduce
// attempts run on other workers.
func workerWithMapOutput(c *procCluster, st *testStep) *node {
	reducers := map[string]bool{}
	holders := map[string]bool{}
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			switch {
			case task.Kind.Value() == state.KindReduce && a.State.Value() == state.AttemptRunning:
				reducers[a.Worker] = true
			case task.Kind.Value() == state.KindMap && a.State.Value() == state.AttemptSucceeded:
				holders[a.Worker] = true
			}
		}
	}
	for _, n := range c.workers {
		if holders[n.name] && (len(reducers) > 1 || !reducers[n.name]) {
			return n
		}
	}
	return nil
}

// TestSlowWorkerGetsBackups runs the same step with speculation on and off
// on a cluster where one worker is very slow. With speculation, backup
// attempts run on the fast workers and the first to finish wins.
func TestSlowWorkerGetsBackups(t *testing.T) {
	in, ref := bigInput(t, 2, 1<<20, 2)
	c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core", "task"},
		envOf: map[string][]string{"task-1": {"GOMR_FAULTS=map-record=stall@0.05:200ms"}}})
	var took [2]time.Duration // with, without speculation
	for _, noSpec := range []bool{true, false} {
		out := filepath.Join(t.TempDir(), "out")
		st := c.wait(c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 32 << 10, NoSpeculation: noSpec}))
		if st.State.Value() != state.StepCompleted {
			t.Fatalf("step ended %s: %s", st.State, st.Error)
		}
		checkOutput(t, out, ref)
		checkCounted(t, st, ref)
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

// TestEveryTaskRunsOnce checks, with the workers' attempt log (what really
// ran, not what the primary thinks ran), that on a healthy cluster every
// map and reduce task runs exactly once.
func TestEveryTaskRunsOnce(t *testing.T) {
	in, ref := bigInput(t, 3, 1<<20, 4)
	// Speculation stays on; the wider gap keeps a loaded test machine from
	// making a healthy attempt look slow.
	c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core", "task"}, primaryArgs: []string{"--speculation-min-gap", "10s"}})
	out := filepath.Join(t.TempDir(), "out")
	st := c.wait(c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 4, SplitSize: 64 << 10}))
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	runs := map[string]int{}
	for _, ev := range c.attemptEvents() {
		if ev.event == "start" {
			runs[taskOf(ev.attempt)]++
		}
	}
	if len(runs) != int(st.MapsTotal+st.ReducesTotal) {
		t.Fatalf("%d tasks ran, want %d maps + %d reduces", len(runs), st.MapsTotal, st.ReducesTotal)
	}
	for task, n := range runs {
		if n != 1 {
			t.Errorf("task %s ran %d times", task, n)
		}
	}
}

// TestResizeWhileRunning adds a task worker in the middle of a step (it
// must get work at once), drains another (it must take no new attempt),
// and kills one attempt by hand (it runs again; no failure is counted).
func TestResizeWhileRunning(t *testing.T) {
	in, ref := bigInput(t, 2, 2<<20, 2)
	c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core"}, workerEnv: []string{"GOMR_FAULTS=" + slowMaps}})
	out := filepath.Join(t.TempDir(), "out")
	id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 32 << 10})
	c.waitUntil(id, "maps running", func(st *testStep) bool { return st.MapsDone > 2 })

	added := c.addWorker("task", "task-9")
	if out, errOut, code := gomr(t, []string{"GOMR_CLUSTER=" + c.addrs[0]}, "node", "drain", "core-2"); code != 0 || !strings.Contains(out, "DRAINING") {
		t.Fatalf("node drain: exit %d: %s %s", code, out, errOut)
	}
	drained := time.Now()
	st := c.waitUntil(id, "the new worker running a task", func(st *testStep) bool {
		for _, task := range st.Tasks {
			for _, a := range task.Attempts {
				if a.Worker == added.name {
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
		if _, errOut, code := gomr(t, []string{"GOMR_CLUSTER=" + c.addrs[0]}, "step", "kill-attempt", victim); code != 0 {
			t.Logf("kill-attempt %s: %s (it may have just finished)", victim, errOut)
		}
	}
	st = c.wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	checkCounted(t, st, ref)
	if st.Counters["FAILED_MAPS"]+st.Counters["FAILED_REDUCES"] != 0 {
		t.Fatalf("a kill was counted as a failure: %v", st.Counters)
	}
	for _, ev := range c.attemptEvents() {
		if ev.event == "start" && ev.worker == "core-2" && ev.at.After(drained.Add(200*time.Millisecond)) {
			t.Fatalf("draining worker core-2 started %s after the drain", ev.attempt)
		}
	}
	for _, w := range c.nodes().Workers {
		if w.Id == "core-2" && w.State.Value() != state.WorkerDraining {
			t.Fatalf("core-2 is %s", w.State)
		}
	}
}

// TestParallelism checks with the attempt log that, with two workers of
// one slot each, map attempts really run at the same time on both, and so
// do reduce attempts.
func TestParallelism(t *testing.T) {
	in, ref := bigInput(t, 2, 1<<20, 2)
	c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core"}, slots: 1,
		workerEnv: []string{"GOMR_FAULTS=" + slowMaps + ";reduce-end=sleep:500ms"}})
	out := filepath.Join(t.TempDir(), "out")
	st := c.wait(c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 128 << 10}))
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	type span struct {
		worker     string
		start, end time.Time
	}
	spans := map[string]*span{}
	for _, ev := range c.attemptEvents() {
		s := spans[ev.attempt]
		if s == nil {
			s = &span{worker: ev.worker}
			spans[ev.attempt] = s
		}
		if ev.event == "start" {
			s.start = ev.at
		} else {
			s.end = ev.at
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
	in, ref := bigInput(t, 2, 1<<20, 2)
	c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core", "task"},
		envOf: map[string][]string{"task-1": {"GOMR_FAULTS=map-record=stall@0.01:10s"}}, primaryArgs: []string{"--task-timeout", "2s"}})
	out := filepath.Join(t.TempDir(), "out")
	st := c.wait(c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 128 << 10, NoSpeculation: true}))
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	checkCounted(t, st, ref)
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
	in, ref := bigInput(t, (*workerKillMB+63)/64, int64(min(*workerKillMB, 64))<<20, 4)
	c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core", "task"}})
	run := func(kill bool) time.Duration {
		out := filepath.Join(t.TempDir(), "out-"+strconv.FormatBool(kill))
		id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 4, SplitSize: 16 << 20})
		if kill {
			st := c.waitUntil(id, "half the maps", func(st *testStep) bool { return st.MapsDone >= st.MapsTotal/2 && runningAttempts(st) > 0 })
			victim := workerRunning(c, st, state.KindMap)
			killed := time.Now()
			c.kill(victim)
			t.Logf("killed %s; declared down %s later", victim.name, waitDown(t, c, victim.name).Sub(killed).Round(time.Millisecond))
		}
		st := c.wait(id)
		if st.State.Value() != state.StepCompleted {
			t.Fatalf("step ended %s: %s", st.State, st.Error)
		}
		checkOutput(t, out, ref)
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
	in, ref := bigInput(t, 2, 1<<20, 4)
	c := startProcCluster(t, clusterOpts{primaries: 1, workers: []string{"core", "core"}, workerEnv: []string{"GOMR_FAULTS=shuffle-send=sleep:500ms"}})
	out := filepath.Join(t.TempDir(), "out")
	id := c.submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 4, SplitSize: 256 << 10})
	st := c.waitUntil(id, "the reduce phase", func(st *testStep) bool { return st.Phase.Value() == state.PhaseReduce && runningAttempts(st) >= 2 })
	victim := workerWithMapOutput(c, st)
	if victim == nil {
		t.Fatal("no worker holds a map output")
	}
	c.kill(victim)
	st = c.wait(id)
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step ended %s: %s", st.State, st.Error)
	}
	checkOutput(t, out, ref)
	checkCounted(t, st, ref)
}
