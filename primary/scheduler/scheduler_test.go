package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/state"
)

// The states below are built with state.New and Apply of real commands,
// so they are states the state machine can actually be in.

// cluster applies cmds to a new state: workers are registered, steps
// submitted and run, exactly as the leader would.
type cluster struct {
	t   *testing.T
	st  *state.State
	now int64
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	return &cluster{t: t, st: state.New(), now: 1000}
}

func (c *cluster) apply(cmds ...state.Command) *cluster {
	c.t.Helper()
	for _, cmd := range cmds {
		if err := c.st.Apply(cmd); err != nil {
			b, _ := json.Marshal(cmd)
			c.t.Fatalf("apply %s %s: %v", cmd.Type(), b, err)
		}
	}
	return c
}

func (c *cluster) tick() int64 { c.now++; return c.now }

// plan asks Assign for work for w, and checks that it only read the
// state.
func (c *cluster) plan(w Worker, opt Options) []state.Assignment {
	c.t.Helper()
	v := c.st.View()
	before := snapshot(c.t, v)
	got := Assign(v, w, opt)
	if !bytes.Equal(snapshot(c.t, c.st.View()), before) || !bytes.Equal(snapshot(c.t, v), before) {
		c.t.Fatalf("Assign changed the state")
	}
	return got
}

// accept applies a plan as one command and checks that every task it
// names then runs on the worker.
func (c *cluster) accept(plan []state.Assignment) *cluster {
	c.t.Helper()
	c.apply(&state.Assign{Assignments: plan, Time: c.tick()})
	v := c.st.View()
	for _, as := range plan {
		task, a, ok := v.AttemptTask(as.AttemptID)
		if !ok || task.State != state.TaskRunning || a.State != state.AttemptRunning || a.Worker != as.Worker || a.Incarnation != as.Incarnation ||
			task.StepID != as.StepID || task.Index != as.Index || task.Kind != as.Kind || a.Speculative != as.Speculative {
			c.t.Fatalf("after applying %s: task %s attempt %s", as.AttemptID, js(task), js(a))
		}
	}
	return c
}

func (c *cluster) step(id string) *state.Step {
	c.t.Helper()
	st, ok := c.st.View().Step(id)
	if !ok {
		c.t.Fatalf("no step %s", id)
	}
	return st
}

func (c *cluster) task(step string, kind state.TaskKind, index int) *state.Task {
	c.t.Helper()
	t, ok := c.st.View().Task(step, kind, index)
	if !ok {
		c.t.Fatalf("no %s task %d in %s", kind, index, step)
	}
	return t
}

func snapshot(t *testing.T, v *state.View) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := v.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (c *cluster) worker(id string, inc int64) *cluster {
	c.t.Helper()
	return c.apply(&state.RegisterWorker{Worker: state.Worker{ID: id, Incarnation: inc, Role: state.RoleCore, Addr: id + ":1", Slots: 4}, Time: c.tick()})
}

func (c *cluster) down(id string, inc int64) *cluster {
	c.t.Helper()
	return c.apply(&state.WorkerDown{ID: id, Incarnation: inc, Reason: "test", Time: c.tick()})
}

// submit adds a PENDING step.
func (c *cluster) submit(id string, reducers int) *cluster {
	c.t.Helper()
	return c.apply(&state.SubmitStep{ID: id, Spec: state.StepSpec{Job: "wc", Inputs: []string{"/in"}, Output: "/out/" + id, Reducers: reducers, MaxAttempts: 3}, Time: c.tick()})
}

// start starts a submitted step with maps map tasks.
func (c *cluster) start(id string, maps int) *cluster {
	c.t.Helper()
	splits := make([]mapreduce.Split, maps)
	for i := range splits {
		splits[i] = mapreduce.Split{File: fmt.Sprintf("/in/%d", i), Offset: 0, Length: 10}
	}
	return c.apply(&state.StartStep{ID: id, Splits: splits, Time: c.tick()})
}

// run submits and starts a step.
func (c *cluster) run(id string, maps, reducers int) *cluster {
	c.t.Helper()
	return c.submit(id, reducers).start(id, maps)
}

// assign starts attempt att of a task on worker w1 incarnation 1.
func (c *cluster) assign(att, step string, kind state.TaskKind, index int) *cluster {
	c.t.Helper()
	return c.apply(&state.Assign{Assignments: []state.Assignment{{AttemptID: att, StepID: step, Kind: kind, Index: index, Worker: "w1", Incarnation: 1}}, Time: c.tick()})
}

func (c *cluster) finish(att string, success bool) *cluster {
	c.t.Helper()
	return c.apply(&state.FinishAttempt{AttemptID: att, Worker: "w1", Incarnation: 1, Success: success, Error: "x", Time: c.tick()})
}

// succeed runs a task to success with attempt att.
func (c *cluster) succeed(att, step string, kind state.TaskKind, index int) *cluster {
	c.t.Helper()
	return c.assign(att, step, kind, index).finish(att, true)
}

// mapsDone runs every map task of a step to success.
func (c *cluster) mapsDone(step string, maps int) *cluster {
	c.t.Helper()
	for i := 0; i < maps; i++ {
		c.succeed(fmt.Sprintf("pre_%s_m%d", step, i), step, state.KindMap, i)
	}
	return c
}

// want is the assignment Assign should plan: attempt n of a task, named
// in Hadoop's style.
func want(step string, kind state.TaskKind, index, n int, worker string, inc int64) state.Assignment {
	k := "m"
	if kind == state.KindReduce {
		k = "r"
	}
	return state.Assignment{
		AttemptID: fmt.Sprintf("attempt_%s_%s_%06d_%d", step, k, index, n),
		StepID:    step, Kind: kind, Index: index, Worker: worker, Incarnation: inc,
	}
}

func TestAssign(t *testing.T) {
	const (
		M = state.KindMap
		R = state.KindReduce
	)
	w1 := Worker{ID: "w1", Incarnation: 1, Free: 100}
	base := func(t *testing.T) *cluster { return newCluster(t).worker("w1", 1) }

	for _, tc := range []struct {
		name   string
		build  func(t *testing.T) *cluster
		worker Worker
		want   []state.Assignment // nil: nothing
	}{
		{
			name:   "unknown worker",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 2, 1) },
			worker: Worker{ID: "w9", Incarnation: 1, Free: 4},
		},
		{
			name:   "dead worker",
			build:  func(t *testing.T) *cluster { return base(t).worker("w2", 1).down("w2", 1).run("s-1", 2, 1) },
			worker: Worker{ID: "w2", Incarnation: 1, Free: 4},
		},
		{
			name:   "older incarnation",
			build:  func(t *testing.T) *cluster { return base(t).worker("w2", 3).run("s-1", 2, 1) },
			worker: Worker{ID: "w2", Incarnation: 2, Free: 4},
		},
		{
			name:   "newer incarnation than registered",
			build:  func(t *testing.T) *cluster { return base(t).worker("w2", 3).run("s-1", 2, 1) },
			worker: Worker{ID: "w2", Incarnation: 4, Free: 4},
		},
		{
			name: "draining worker",
			build: func(t *testing.T) *cluster {
				c := base(t).run("s-1", 2, 1)
				return c.apply(&state.DrainWorker{ID: "w1", Time: c.tick()})
			},
			worker: w1,
		},
		{
			name:   "no free slot",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 2, 1) },
			worker: Worker{ID: "w1", Incarnation: 1, Free: 0},
		},
		{
			name:   "negative free",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 2, 1) },
			worker: Worker{ID: "w1", Incarnation: 1, Free: -1},
		},
		{
			name:   "no steps",
			build:  base,
			worker: w1,
		},
		{
			name:   "free limits the batch",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 5, 2) },
			worker: Worker{ID: "w1", Incarnation: 1, Free: 2},
			want:   []state.Assignment{want("s-1", M, 0, 0, "w1", 1), want("s-1", M, 1, 0, "w1", 1)},
		},
		{
			name:   "free of one",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 5, 2) },
			worker: Worker{ID: "w1", Incarnation: 1, Free: 1},
			want:   []state.Assignment{want("s-1", M, 0, 0, "w1", 1)},
		},
		{
			name:   "every pending map, no reduce while maps are pending",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 3, 2) },
			worker: w1,
			want:   []state.Assignment{want("s-1", M, 0, 0, "w1", 1), want("s-1", M, 1, 0, "w1", 1), want("s-1", M, 2, 0, "w1", 1)},
		},
		{
			name: "assignment carries the asking worker's id and incarnation",
			build: func(t *testing.T) *cluster {
				return base(t).worker("w2", 7).run("s-1", 2, 0)
			},
			worker: Worker{ID: "w2", Incarnation: 7, Free: 3},
			want:   []state.Assignment{want("s-1", M, 0, 0, "w2", 7), want("s-1", M, 1, 0, "w2", 7)},
		},
		{
			name: "skips running and succeeded maps",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 5, 1).assign("a", "s-1", M, 0).succeed("b", "s-1", M, 2).assign("c", "s-1", M, 4)
			},
			worker: w1,
			want:   []state.Assignment{want("s-1", M, 1, 0, "w1", 1), want("s-1", M, 3, 0, "w1", 1)},
		},
		{
			name: "no reduce until every map succeeded",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 2, 2).succeed("a", "s-1", M, 0).assign("b", "s-1", M, 1)
			},
			worker: w1,
		},
		{
			name:   "reduces once every map succeeded",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 2, 3).mapsDone("s-1", 2) },
			worker: w1,
			want:   []state.Assignment{want("s-1", R, 0, 0, "w1", 1), want("s-1", R, 1, 0, "w1", 1), want("s-1", R, 2, 0, "w1", 1)},
		},
		{
			name:   "step without maps starts with reduces",
			build:  func(t *testing.T) *cluster { return base(t).run("s-1", 0, 2) },
			worker: w1,
			want:   []state.Assignment{want("s-1", R, 0, 0, "w1", 1), want("s-1", R, 1, 0, "w1", 1)},
		},
		{
			name: "skips running and succeeded reduces",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 1, 4).mapsDone("s-1", 1).assign("a", "s-1", R, 0).succeed("b", "s-1", R, 2)
			},
			worker: w1,
			want:   []state.Assignment{want("s-1", R, 1, 0, "w1", 1), want("s-1", R, 3, 0, "w1", 1)},
		},
		{
			name: "step in its commit phase",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 1, 1).mapsDone("s-1", 1).succeed("r", "s-1", R, 0)
			},
			worker: w1,
		},
		{
			name: "lost map output: the map runs again, reduces wait",
			build: func(t *testing.T) *cluster {
				c := base(t).worker("w2", 1).run("s-1", 2, 2).mapsDone("s-1", 2)
				// Both maps won on w1, which dies: they run again and win on
				// w2, which dies too while reduce 0 runs on w1's new
				// incarnation.
				c.apply(&state.WorkerDown{ID: "w1", Incarnation: 1, Reason: "x", Time: c.tick()}).worker("w1", 2)
				c.apply(&state.Assign{Assignments: []state.Assignment{
					{AttemptID: "m0b", StepID: "s-1", Kind: M, Index: 0, Worker: "w2", Incarnation: 1},
					{AttemptID: "m1b", StepID: "s-1", Kind: M, Index: 1, Worker: "w2", Incarnation: 1},
				}, Time: c.tick()})
				c.apply(
					&state.FinishAttempt{AttemptID: "m0b", Worker: "w2", Incarnation: 1, Success: true, Time: c.tick()},
					&state.FinishAttempt{AttemptID: "m1b", Worker: "w2", Incarnation: 1, Success: true, Time: c.tick()},
					&state.Assign{Assignments: []state.Assignment{{AttemptID: "r0", StepID: "s-1", Kind: R, Index: 0, Worker: "w1", Incarnation: 2}}, Time: c.tick()},
				)
				return c.down("w2", 1)
			},
			worker: Worker{ID: "w1", Incarnation: 2, Free: 10},
			// Both maps' outputs were on w2: each has 2 attempts already.
			want: []state.Assignment{want("s-1", M, 0, 2, "w1", 2), want("s-1", M, 1, 2, "w1", 2)},
		},
		{
			name: "skips pending, completed, failed and cancelled steps",
			build: func(t *testing.T) *cluster {
				c := base(t).submit("s-pending", 1)
				c.run("s-done", 1, 0).mapsDone("s-done", 1).apply(&state.CompleteStep{ID: "s-done", Time: c.tick()})
				c.run("s-failed", 2, 1).apply(&state.FailStep{ID: "s-failed", Error: "x", Time: c.tick()})
				c.run("s-cancelled", 2, 1).apply(&state.CancelStep{ID: "s-cancelled", Time: c.tick()})
				c.submit("s-never", 1).apply(&state.CancelStep{ID: "s-never", Time: c.tick()})
				return c.run("s-run", 1, 1)
			},
			worker: w1,
			want:   []state.Assignment{want("s-run", M, 0, 0, "w1", 1)},
		},
		{
			name: "failed step with pending tasks",
			build: func(t *testing.T) *cluster {
				c := base(t).run("s-1", 3, 1).assign("a", "s-1", M, 0)
				return c.apply(&state.FinishAttempt{AttemptID: "a", Worker: "w1", Incarnation: 1, Error: "bad", Fatal: true, Time: c.tick()})
			},
			worker: w1,
		},
		{
			name: "oldest step first, by submission not id or start",
			build: func(t *testing.T) *cluster {
				// s-b is submitted before s-a, but started after it.
				return base(t).submit("s-b", 0).submit("s-a", 0).start("s-a", 2).start("s-b", 2)
			},
			worker: w1,
			want: []state.Assignment{
				want("s-b", M, 0, 0, "w1", 1), want("s-b", M, 1, 0, "w1", 1),
				want("s-a", M, 0, 0, "w1", 1), want("s-a", M, 1, 0, "w1", 1),
			},
		},
		{
			name: "older step fills the batch first",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 3, 0).run("s-2", 3, 0)
			},
			worker: Worker{ID: "w1", Incarnation: 1, Free: 4},
			want: []state.Assignment{
				want("s-1", M, 0, 0, "w1", 1), want("s-1", M, 1, 0, "w1", 1), want("s-1", M, 2, 0, "w1", 1),
				want("s-2", M, 0, 0, "w1", 1),
			},
		},
		{
			name: "an older step with nothing pending does not block a newer one",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 1, 2).assign("a", "s-1", M, 0).run("s-2", 2, 0)
			},
			worker: w1,
			want:   []state.Assignment{want("s-2", M, 0, 0, "w1", 1), want("s-2", M, 1, 0, "w1", 1)},
		},
		{
			name: "older step's reduces before newer step's maps",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 1, 2).run("s-2", 1, 1).mapsDone("s-1", 1)
			},
			worker: w1,
			want: []state.Assignment{
				want("s-1", R, 0, 0, "w1", 1), want("s-1", R, 1, 0, "w1", 1),
				want("s-2", M, 0, 0, "w1", 1),
			},
		},
		{
			name: "attempt number counts earlier attempts",
			build: func(t *testing.T) *cluster {
				c := base(t).worker("w2", 1).run("s-1", 4, 1)
				// map 3: one failure, then one attempt killed with its worker.
				c.assign("x1", "s-1", M, 3).finish("x1", false)
				c.apply(&state.Assign{Assignments: []state.Assignment{{AttemptID: "x2", StepID: "s-1", Kind: M, Index: 3, Worker: "w2", Incarnation: 1}}, Time: c.tick()})
				c.down("w2", 1)
				// map 1: one failure.
				return c.assign("y1", "s-1", M, 1).finish("y1", false)
			},
			worker: w1,
			want: []state.Assignment{
				want("s-1", M, 0, 0, "w1", 1), want("s-1", M, 1, 1, "w1", 1),
				want("s-1", M, 2, 0, "w1", 1), want("s-1", M, 3, 2, "w1", 1),
			},
		},
		{
			name: "reduce attempt number",
			build: func(t *testing.T) *cluster {
				return base(t).run("s-1", 1, 2).mapsDone("s-1", 1).assign("r", "s-1", R, 1).finish("r", false)
			},
			worker: w1,
			want:   []state.Assignment{want("s-1", R, 0, 0, "w1", 1), want("s-1", R, 1, 1, "w1", 1)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.build(t)
			got := c.plan(tc.worker, Options{})
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("Assign = %s, want nothing", js(got))
				}
			} else if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Assign:\n got %s\nwant %s", js(got), js(tc.want))
			}
			// What it plans, the state machine accepts as one command, and
			// every task it named is then running on the worker.
			if len(got) > 0 {
				c.accept(got)
				// Nothing pending is left to plan again for the same tasks.
				for _, as := range c.plan(Worker{ID: tc.worker.ID, Incarnation: tc.worker.Incarnation, Free: 100}, Options{}) {
					for _, prev := range got {
						if as.StepID == prev.StepID && as.Kind == prev.Kind && as.Index == prev.Index {
							t.Fatalf("task %s/%s/%d planned again while it runs", as.StepID, as.Kind, as.Index)
						}
					}
				}
			}
		})
	}
}

// TestAssignDrainsStep repeatedly asks for work and reports success, as
// workers do, until the step reaches its commit phase.
func TestAssignDrainsStep(t *testing.T) {
	c := newCluster(t).worker("w1", 1).run("s-1", 5, 3)
	w := Worker{ID: "w1", Incarnation: 1, Free: 2}
	var order []string
	for round := 0; round < 20; round++ {
		got := c.plan(w, Options{})
		if len(got) == 0 {
			break
		}
		if len(got) > w.Free {
			t.Fatalf("round %d: %d assignments for %d free slots", round, len(got), w.Free)
		}
		c.accept(got)
		for _, as := range got {
			order = append(order, as.AttemptID)
			c.finish(as.AttemptID, true)
		}
	}
	wantOrder := []string{
		"attempt_s-1_m_000000_0", "attempt_s-1_m_000001_0", "attempt_s-1_m_000002_0", "attempt_s-1_m_000003_0", "attempt_s-1_m_000004_0",
		"attempt_s-1_r_000000_0", "attempt_s-1_r_000001_0", "attempt_s-1_r_000002_0",
	}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Fatalf("attempts %v, want %v", order, wantOrder)
	}
	if p := c.step("s-1").Phase(); p != state.PhaseCommit {
		t.Fatalf("phase %q, want COMMIT", p)
	}
}

// TestAssignPlannedStep checks a step started the leader's way, its
// splits recorded in AddSplits entries: nothing while it is pending, its
// maps in order once it runs.
func TestAssignPlannedStep(t *testing.T) {
	c := newCluster(t).worker("w1", 1)
	splits := make([]mapreduce.Split, 5)
	for i := range splits {
		splits[i] = mapreduce.Split{File: fmt.Sprintf("/in/%d", i), Length: 10}
	}
	c.apply(&state.SubmitStep{ID: "s-1", Spec: state.StepSpec{Job: "wc", Inputs: []string{"/in"}, Output: "/out/s-1", Reducers: 1, MaxAttempts: 1},
		Input: state.InputSummary{Files: 5, Bytes: 50, Splits: 5}, Time: c.tick()},
		&state.AddSplits{ID: "s-1", Splits: splits[:2]}, &state.AddSplits{ID: "s-1", Splits: splits[2:4]})
	w := Worker{ID: "w1", Incarnation: 1, Free: 10}
	if got := c.plan(w, Options{}); len(got) != 0 {
		t.Fatalf("work from a pending step: %s", js(got))
	}
	c.apply(&state.StartStep{ID: "s-1", Splits: splits[4:], Time: c.tick()})
	got := c.plan(w, Options{})
	var wantAs []state.Assignment
	for i := range 5 {
		wantAs = append(wantAs, want("s-1", state.KindMap, i, 0, "w1", 1))
	}
	if !reflect.DeepEqual(got, wantAs) {
		t.Fatalf("Assign:\n got %s\nwant %s", js(got), js(wantAs))
	}
	c.accept(got)
}

func js(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// at runs commands at a chosen leader time.
func (c *cluster) at(t int64, cmds ...state.Command) *cluster {
	c.t.Helper()
	c.now = t
	return c.apply(cmds...)
}

func asgOn(att, step string, kind state.TaskKind, index int, worker string) state.Assignment {
	return state.Assignment{AttemptID: att, StepID: step, Kind: kind, Index: index, Worker: worker, Incarnation: 1}
}

const ms = int64(time.Millisecond)

// speculation builds a step with 4 maps: three finished in 100 ms each on
// w1, the fourth started on w1 at t=1000 ms and still running.
func speculation(t *testing.T) *cluster {
	c := newCluster(t).worker("w1", 1).worker("w2", 1).run("s", 4, 1)
	for i := range 3 {
		att := fmt.Sprintf("a%d", i)
		c.at(int64(i)*200*ms, &state.Assign{Assignments: []state.Assignment{asgOn(att, "s", state.KindMap, i, "w1")}, Time: int64(i) * 200 * ms})
		c.at(int64(i)*200*ms+100*ms, &state.FinishAttempt{AttemptID: att, Worker: "w1", Incarnation: 1, Success: true, Time: int64(i)*200*ms + 100*ms})
	}
	return c.at(1000*ms, &state.Assign{Assignments: []state.Assignment{asgOn("a3", "s", state.KindMap, 3, "w1")}, Time: 1000 * ms})
}

func TestSpeculation(t *testing.T) {
	opt := func(now int64) Options {
		return Options{Now: now, SlowFactor: 2, MinGap: time.Second, MaxFailuresPerWorker: 3}
	}
	w2 := Worker{ID: "w2", Incarnation: 1, Free: 2}
	backupOf := func(step string, kind state.TaskKind, index, n int, worker string) state.Assignment {
		a := want(step, kind, index, n, worker, 1)
		a.Speculative = true
		return a
	}
	t.Run("not yet slow", func(t *testing.T) {
		// 1 s elapsed: over twice the 100 ms median but not 1 s longer.
		if got := speculation(t).plan(w2, opt(2000*ms)); len(got) != 0 {
			t.Fatalf("backup of an attempt that is not slow: %v", got)
		}
	})
	t.Run("not with speculation off in the options", func(t *testing.T) {
		o := opt(9000 * ms)
		o.SlowFactor = 0
		if got := speculation(t).plan(w2, o); len(got) != 0 {
			t.Fatalf("backup with SlowFactor 0: %v", got)
		}
	})
	t.Run("slow gets one backup elsewhere", func(t *testing.T) {
		c := speculation(t)
		got := c.plan(w2, opt(2200*ms))
		wantAs := backupOf("s", state.KindMap, 3, 1, "w2")
		if !reflect.DeepEqual(got, []state.Assignment{wantAs}) {
			t.Fatalf("got %v, want %v", got, wantAs)
		}
		if got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 2}, opt(2200*ms)); len(got) != 0 {
			t.Fatalf("backup on the slow attempt's own worker: %v", got)
		}
		c.accept(got)
		c.worker("w3", 1)
		if got := c.plan(Worker{ID: "w3", Incarnation: 1, Free: 2}, opt(5000*ms)); len(got) != 0 {
			t.Fatalf("second backup of one task: %v", got)
		}
		// The first to finish wins; the other is killed.
		c.apply(&state.FinishAttempt{AttemptID: wantAs.AttemptID, Worker: "w2", Incarnation: 1, Success: true, Time: 2300 * ms})
		task := c.task("s", state.KindMap, 3)
		if task.Winner != wantAs.AttemptID || task.Attempts[0].State != state.AttemptKilled {
			t.Fatalf("winner %s, first attempt %s", task.Winner, task.Attempts[0].State)
		}
		st := c.step("s")
		if n := st.Counters[state.SpeculativeAttempts]; n != 1 {
			t.Fatalf("SPECULATIVE_ATTEMPTS = %d", n)
		}
		if n := st.Counters[state.KilledMaps]; n != 1 {
			t.Fatalf("KILLED_MAPS = %d", n)
		}
	})
	t.Run("one backup per task, even once the first ended", func(t *testing.T) {
		c := speculation(t)
		c.accept(c.plan(w2, opt(2200*ms)))
		// The backup dies with its worker: the original runs on alone.
		c.down("w2", 1).worker("w3", 1)
		if got := c.plan(Worker{ID: "w3", Incarnation: 1, Free: 2}, opt(9000*ms)); len(got) != 0 {
			t.Fatalf("another backup of a task that had one: %v", got)
		}
	})
	t.Run("off for the step", func(t *testing.T) {
		c := newCluster(t).worker("w1", 1).worker("w2", 1)
		c.apply(&state.SubmitStep{ID: "s", Spec: state.StepSpec{Job: "wc", Inputs: []string{"/in"}, Output: "/o", Reducers: 1, MaxAttempts: 3, NoSpeculation: true}, Time: 1})
		c.start("s", 2)
		c.at(0, &state.Assign{Assignments: []state.Assignment{asgOn("a0", "s", state.KindMap, 0, "w1"), asgOn("a1", "s", state.KindMap, 1, "w1")}, Time: 0})
		c.apply(&state.FinishAttempt{AttemptID: "a0", Worker: "w1", Incarnation: 1, Success: true, Time: 10 * ms})
		if got := c.plan(w2, opt(100000*ms)); len(got) != 0 {
			t.Fatalf("backup with speculation off: %v", got)
		}
	})
	t.Run("pending tasks first", func(t *testing.T) {
		c := speculation(t).run("t", 1, 1)
		got := c.plan(Worker{ID: "w2", Incarnation: 1, Free: 1}, opt(9000*ms))
		if len(got) != 1 || got[0].Speculative || got[0].StepID != "t" {
			t.Fatalf("got %v, want the newer step's pending map before the older step's backup", got)
		}
		// With a slot to spare, the backup too.
		got = c.plan(Worker{ID: "w2", Incarnation: 1, Free: 2}, opt(9000*ms))
		if len(got) != 2 || got[0].StepID != "t" || !reflect.DeepEqual(got[1], backupOf("s", state.KindMap, 3, 1, "w2")) {
			t.Fatalf("got %v", js(got))
		}
		c.accept(got)
	})
	t.Run("no backups while the phase has pending tasks", func(t *testing.T) {
		// Maps 0 and 1 took 100 ms; 2 runs slowly; 3 waits.
		c := newCluster(t).worker("w1", 1).worker("w2", 1).run("s", 4, 1)
		c.at(0, &state.Assign{Assignments: []state.Assignment{asgOn("a0", "s", state.KindMap, 0, "w1"), asgOn("a1", "s", state.KindMap, 1, "w1"), asgOn("a2", "s", state.KindMap, 2, "w1")}, Time: 0})
		c.at(100*ms, &state.FinishAttempt{AttemptID: "a0", Worker: "w1", Incarnation: 1, Success: true, Time: 100 * ms},
			&state.FinishAttempt{AttemptID: "a1", Worker: "w1", Incarnation: 1, Success: true, Time: 100 * ms})
		got := c.plan(Worker{ID: "w2", Incarnation: 1, Free: 5}, opt(9000*ms))
		if !reflect.DeepEqual(got, []state.Assignment{want("s", state.KindMap, 3, 0, "w2", 1)}) {
			t.Fatalf("got %s, want only the pending map", js(got))
		}
	})
	t.Run("slowest first", func(t *testing.T) {
		// Maps 0 and 1 took 100 ms; 2 started at 1 s and 3 at 500 ms.
		c := newCluster(t).worker("w1", 1).worker("w2", 1).run("s", 4, 1)
		c.at(0, &state.Assign{Assignments: []state.Assignment{asgOn("a0", "s", state.KindMap, 0, "w1"), asgOn("a1", "s", state.KindMap, 1, "w1")}, Time: 0})
		c.at(100*ms, &state.FinishAttempt{AttemptID: "a0", Worker: "w1", Incarnation: 1, Success: true, Time: 100 * ms},
			&state.FinishAttempt{AttemptID: "a1", Worker: "w1", Incarnation: 1, Success: true, Time: 100 * ms})
		c.at(500*ms, &state.Assign{Assignments: []state.Assignment{asgOn("a3", "s", state.KindMap, 3, "w1")}, Time: 500 * ms})
		c.at(1000*ms, &state.Assign{Assignments: []state.Assignment{asgOn("a2", "s", state.KindMap, 2, "w1")}, Time: 1000 * ms})
		got := c.plan(Worker{ID: "w2", Incarnation: 1, Free: 1}, opt(9000*ms))
		if !reflect.DeepEqual(got, []state.Assignment{backupOf("s", state.KindMap, 3, 1, "w2")}) {
			t.Fatalf("got %s, want a backup of map 3, the slowest", js(got))
		}
		got = c.plan(Worker{ID: "w2", Incarnation: 1, Free: 5}, opt(9000*ms))
		if !reflect.DeepEqual(got, []state.Assignment{backupOf("s", state.KindMap, 3, 1, "w2"), backupOf("s", state.KindMap, 2, 1, "w2")}) {
			t.Fatalf("got %s, want backups of maps 3 and 2", js(got))
		}
		c.accept(got)
	})
	t.Run("reduce backups against the reduces' median", func(t *testing.T) {
		c := newCluster(t).worker("w1", 1).worker("w2", 1).run("s", 1, 2)
		// The map took 100 s: it does not count for the reduces.
		c.at(0, &state.Assign{Assignments: []state.Assignment{asgOn("m", "s", state.KindMap, 0, "w1")}, Time: 0})
		c.at(100000*ms, &state.FinishAttempt{AttemptID: "m", Worker: "w1", Incarnation: 1, Success: true, Time: 100000 * ms})
		c.at(100000*ms, &state.Assign{Assignments: []state.Assignment{asgOn("r0", "s", state.KindReduce, 0, "w1"), asgOn("r1", "s", state.KindReduce, 1, "w1")}, Time: 100000 * ms})
		c.at(100100*ms, &state.FinishAttempt{AttemptID: "r0", Worker: "w1", Incarnation: 1, Success: true, Time: 100100 * ms})
		got := c.plan(w2, opt(102000*ms))
		if !reflect.DeepEqual(got, []state.Assignment{backupOf("s", state.KindReduce, 1, 1, "w2")}) {
			t.Fatalf("got %s, want a backup of reduce 1", js(got))
		}
		c.accept(got)
	})
	t.Run("no median yet", func(t *testing.T) {
		c := newCluster(t).worker("w1", 1).worker("w2", 1).run("s", 1, 1)
		c.at(0, &state.Assign{Assignments: []state.Assignment{asgOn("m", "s", state.KindMap, 0, "w1")}, Time: 0})
		if got := c.plan(w2, opt(1e9*ms)); len(got) != 0 {
			t.Fatalf("backup with no attempt to compare with: %v", got)
		}
	})
}

func TestWorkerExclusionAndDraining(t *testing.T) {
	c := newCluster(t).worker("w1", 1).worker("w2", 1).run("s", 4, 1)
	opt := Options{MaxFailuresPerWorker: 2}
	for i := range 2 {
		att := fmt.Sprintf("f%d", i)
		c.apply(&state.Assign{Assignments: []state.Assignment{asgOn(att, "s", state.KindMap, i, "w1")}, Time: c.tick()},
			&state.FinishAttempt{AttemptID: att, Worker: "w1", Incarnation: 1, Error: "boom", Time: c.tick()})
	}
	if f := c.step("s").FailuresOn; f["w1"] != 2 {
		t.Fatalf("FailuresOn %v", f)
	}
	if got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 4}, opt); len(got) != 0 {
		t.Fatalf("excluded worker got %v", got)
	}
	if got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 4}, Options{}); len(got) != 4 {
		t.Fatalf("with no limit, the worker got %v", got)
	}
	// Excluded from one step, it still gets another's work.
	c.run("t", 1, 0)
	if got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 4}, opt); !reflect.DeepEqual(got, []state.Assignment{want("t", state.KindMap, 0, 0, "w1", 1)}) {
		t.Fatalf("excluded worker got %s, want step t's map", js(got))
	}
	if got := c.plan(Worker{ID: "w2", Incarnation: 1, Free: 5}, opt); len(got) != 5 {
		t.Fatalf("other worker got %v", got)
	}
	// A draining worker does not count as one that could take the work.
	c.apply(&state.DrainWorker{ID: "w2", Time: c.tick()})
	if got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 10}, opt); len(got) != 5 {
		t.Fatalf("only live worker left got %v", got)
	}
	if got := c.plan(Worker{ID: "w2", Incarnation: 1, Free: 4}, opt); len(got) != 0 {
		t.Fatalf("draining worker got %v", got)
	}
	// When every live worker is excluded, exclusion is ignored.
	c.down("w2", 1)
	got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 5}, opt)
	if len(got) != 5 {
		t.Fatalf("only worker left got %v", got)
	}
	c.accept(got)
	c.apply(&state.DrainWorker{ID: "w1", Time: c.tick()})
	if got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 4}, opt); len(got) != 0 {
		t.Fatalf("draining worker got %v", got)
	}
	// A new incarnation is alive, and keeps the worker id's failures.
	c.worker("w1", 2)
	if got := c.plan(Worker{ID: "w1", Incarnation: 2, Free: 10}, opt); len(got) != 5 {
		t.Fatalf("restarted worker got %v", got)
	}
	c.worker("w3", 1)
	if got := c.plan(Worker{ID: "w1", Incarnation: 2, Free: 10}, opt); len(got) != 1 || got[0].StepID != "t" {
		t.Fatalf("restarted worker, excluded again once w3 is up, got %s", js(got))
	}
}

// TestAssignSkips: tasks the leader is committing assignments of already
// are left alone, pending or slow, and no speculation starts while a
// pending task is only skipped.
func TestAssignSkips(t *testing.T) {
	c := newCluster(t).worker("w1", 1).run("s", 4, 1)
	skip := func(indexes ...int) func(*state.Task) bool {
		return func(t *state.Task) bool {
			for _, i := range indexes {
				if t.Kind == state.KindMap && t.Index == i {
					return true
				}
			}
			return false
		}
	}
	got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 2}, Options{Skip: skip(0, 2)})
	wantPlan := []state.Assignment{want("s", state.KindMap, 1, 0, "w1", 1), want("s", state.KindMap, 3, 0, "w1", 1)}
	if !reflect.DeepEqual(got, wantPlan) {
		t.Fatalf("got %v, want %v", got, wantPlan)
	}
	if got := c.plan(Worker{ID: "w1", Incarnation: 1, Free: 2}, Options{Skip: skip(0, 1, 2, 3), SlowFactor: 2}); len(got) != 0 {
		t.Fatalf("every task skipped, got %v", got)
	}

	// The slow map 3 gets no backup while it is being given one already.
	spec := speculation(t)
	opt := Options{Now: 2200 * ms, SlowFactor: 2, MinGap: time.Second, Skip: skip(3)}
	if got := spec.plan(Worker{ID: "w2", Incarnation: 1, Free: 2}, opt); len(got) != 0 {
		t.Fatalf("backup of a task being assigned: %v", got)
	}
}

// TestAssignTinySlots checks the slots beside the slots: they take only
// map tasks of tiny splits (at most mapreduce.TinySplitBytes), a tiny task
// takes one while one is free and a slot after that, reduces and
// speculative backups take slots only, and a worker with tiny slots
// alone free gets only tiny tasks.
func TestAssignTinySlots(t *testing.T) {
	const (
		M = state.KindMap
		R = state.KindReduce
	)
	// Maps 0, 2 and 4 read more than a tiny split; 1, 3 and 5 are tiny
	// (5 at the limit exactly).
	build := func(t *testing.T) *cluster {
		c := newCluster(t).worker("w1", 1).submit("s-1", 1)
		sizes := []int64{mapreduce.TinySplitBytes + 1, 10, 1 << 20, 100, 64 << 20, mapreduce.TinySplitBytes}
		splits := make([]mapreduce.Split, len(sizes))
		for i, n := range sizes {
			splits[i] = mapreduce.Split{File: fmt.Sprintf("/in/%d", i), Length: n}
		}
		return c.apply(&state.StartStep{ID: "s-1", Splits: splits, Time: c.tick()})
	}
	w := func(free, tiny int) Worker { return Worker{ID: "w1", Incarnation: 1, Free: free, Tiny: tiny} }
	for _, tc := range []struct {
		name   string
		worker Worker
		want   []int // map indexes, in order
	}{
		{"slots only", w(2, 0), []int{0, 1}},
		{"tiny slots only", w(0, 2), []int{1, 3}},
		{"tiny slots only, more than the tiny tasks", w(0, 9), []int{1, 3, 5}},
		{"a tiny task takes a tiny slot first", w(1, 1), []int{0, 1}},
		{"then slots", w(3, 1), []int{0, 1, 2, 3}},
		{"everything", w(3, 3), []int{0, 1, 2, 3, 4, 5}},
		{"nothing free", w(0, 0), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := build(t).plan(tc.worker, Options{})
			var idx []int
			for _, as := range got {
				if as.Kind != M || as.Speculative {
					t.Fatalf("assignment %+v", as)
				}
				idx = append(idx, as.Index)
			}
			if !reflect.DeepEqual(idx, tc.want) {
				t.Fatalf("assigned maps %v, want %v", idx, tc.want)
			}
		})
	}

	// Reduces never take a tiny slot.
	c := newCluster(t).worker("w1", 1).run("s-1", 2, 2).mapsDone("s-1", 2)
	if got := c.plan(w(0, 4), Options{}); len(got) != 0 {
		t.Fatalf("tiny slots took reduces: %+v", got)
	}
	if got := c.plan(w(1, 4), Options{}); len(got) != 1 || got[0].Kind != R {
		t.Fatalf("a slot and tiny slots got %+v, want one reduce", got)
	}

	// Nor do backups: a slow tiny map gets one in a slot only.
	c = newCluster(t).worker("w1", 1).worker("w2", 1).run("s-1", 2, 1)
	c.succeed("a0", "s-1", M, 0)
	c.assign("a1", "s-1", M, 1)
	opt := Options{Now: c.now + int64(time.Hour), SlowFactor: 1.5, MinGap: time.Second}
	if got := c.plan(Worker{ID: "w2", Incarnation: 1, Tiny: 4}, opt); len(got) != 0 {
		t.Fatalf("a tiny slot got a backup: %+v", got)
	}
	if got := c.plan(Worker{ID: "w2", Incarnation: 1, Free: 1, Tiny: 4}, opt); len(got) != 1 || !got[0].Speculative || got[0].Index != 1 {
		t.Fatalf("a slot got %+v, want the backup of map 1", got)
	}
}
