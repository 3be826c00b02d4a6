package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/gomr/gomr/mapreduce"
	"reflect"
	"testing"
	"time"

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
func (c *cluster) assign(att, step, kind string, index int) *cluster {
	c.t.Helper()
	return c.apply(&state.Assign{Assignments: []state.Assignment{{AttemptID: att, StepID: step, Kind: kind, Index: index, Worker: "w1", Incarnation: 1}}, Time: c.tick()})
}

func (c *cluster) finish(att string, success bool) *cluster {
	c.t.Helper()
	return c.apply(&state.FinishAttempt{AttemptID: att, Worker: "w1", Incarnation: 1, Success: success, Error: "x", Time: c.tick()})
}

// succeed runs a task to success with attempt att.
func (c *cluster) succeed(att, step, kind string, index int) *cluster {
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

func want(step, kind string, index, n int, worker string, inc int64) state.Assignment {
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
			var before bytes.Buffer
			if _, err := c.st.WriteTo(&before); err != nil {
				t.Fatal(err)
			}
			got := Assign(c.st, tc.worker, Options{})
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("Assign = %s, want nothing", js(got))
				}
			} else if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Assign:\n got %s\nwant %s", js(got), js(tc.want))
			}
			// Assign only reads the state.
			var after bytes.Buffer
			if _, err := c.st.WriteTo(&after); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before.Bytes(), after.Bytes()) {
				t.Fatalf("Assign changed the state")
			}
			// What it plans, the state machine accepts as one command, and
			// every task it named is then running on the worker.
			if len(got) > 0 {
				c.apply(&state.Assign{Assignments: got, Time: c.tick()})
				for _, as := range got {
					_, task, a, ok := c.st.Attempt(as.AttemptID)
					if !ok || task.State != state.TaskRunning || a.Worker != tc.worker.ID || a.Incarnation != tc.worker.Incarnation || task.Index != as.Index || task.Kind != as.Kind {
						t.Fatalf("after applying %s: task %+v attempt %+v", as.AttemptID, task, a)
					}
				}
				// Nothing pending is left to plan again for the same tasks.
				for _, as := range Assign(c.st, Worker{ID: tc.worker.ID, Incarnation: tc.worker.Incarnation, Free: 100}, Options{}) {
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
		got := Assign(c.st, w, Options{})
		if len(got) == 0 {
			break
		}
		if len(got) > w.Free {
			t.Fatalf("round %d: %d assignments for %d free slots", round, len(got), w.Free)
		}
		c.apply(&state.Assign{Assignments: got, Time: c.tick()})
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
	if p := c.st.Steps["s-1"].Phase(); p != state.PhaseCommit {
		t.Fatalf("phase %q, want COMMIT", p)
	}
}

func TestAttemptID(t *testing.T) {
	for _, tc := range []struct {
		step, kind string
		index, n   int
		want       string
	}{
		{"s-1", state.KindMap, 3, 0, "attempt_s-1_m_000003_0"},
		{"s-1ABC", state.KindMap, 3, 0, "attempt_s-1ABC_m_000003_0"},
		{"s-1", state.KindReduce, 0, 2, "attempt_s-1_r_000000_2"},
		{"s-X", state.KindMap, 123456, 11, "attempt_s-X_m_123456_11"},
		{"s-X", state.KindReduce, 1234567, 1, "attempt_s-X_r_1234567_1"},
	} {
		if got := AttemptID(tc.step, tc.kind, tc.index, tc.n); got != tc.want {
			t.Errorf("AttemptID(%q, %q, %d, %d) = %q, want %q", tc.step, tc.kind, tc.index, tc.n, got, tc.want)
		}
	}
}

func js(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// at runs a command at a chosen leader time.
func (c *cluster) at(t int64, cmds ...state.Command) *cluster {
	c.t.Helper()
	c.now = t
	return c.apply(cmds...)
}

func asgOn(att, step, kind string, index int, worker string) state.Assignment {
	return state.Assignment{AttemptID: att, StepID: step, Kind: kind, Index: index, Worker: worker, Incarnation: 1}
}

// speculation builds a step with 4 maps: three finished in 100 ms each on
// w1, the fourth started on w1 at t=1000 ms and still running.
func speculation(t *testing.T) *cluster {
	ms := int64(time.Millisecond)
	c := newCluster(t).worker("w1", 1).worker("w2", 1).run("s", 4, 1)
	for i := range 3 {
		att := fmt.Sprintf("a%d", i)
		c.at(int64(i)*200*ms, &state.Assign{Assignments: []state.Assignment{asgOn(att, "s", state.KindMap, i, "w1")}, Time: int64(i) * 200 * ms})
		c.at(int64(i)*200*ms+100*ms, &state.FinishAttempt{AttemptID: att, Worker: "w1", Incarnation: 1, Success: true, Time: int64(i)*200*ms + 100*ms})
	}
	return c.at(1000*ms, &state.Assign{Assignments: []state.Assignment{asgOn("a3", "s", state.KindMap, 3, "w1")}, Time: 1000 * ms})
}

func TestSpeculation(t *testing.T) {
	ms := int64(time.Millisecond)
	opt := func(now int64) Options {
		return Options{Now: now, SlowFactor: 2, MinGap: time.Second, MaxFailuresPerWorker: 3}
	}
	w2 := Worker{ID: "w2", Incarnation: 1, Free: 2}
	t.Run("not yet slow", func(t *testing.T) {
		// 1 s elapsed: over twice the 100 ms median but not 1 s longer.
		if got := Assign(speculation(t).st, w2, opt(2000*ms)); len(got) != 0 {
			t.Fatalf("backup of an attempt that is not slow: %v", got)
		}
	})
	t.Run("slow gets one backup elsewhere", func(t *testing.T) {
		c := speculation(t)
		got := Assign(c.st, w2, opt(2200*ms))
		wantAs := want("s", state.KindMap, 3, 1, "w2", 1)
		wantAs.Speculative = true
		if !reflect.DeepEqual(got, []state.Assignment{wantAs}) {
			t.Fatalf("got %v, want %v", got, wantAs)
		}
		if got := Assign(c.st, Worker{ID: "w1", Incarnation: 1, Free: 2}, opt(2200*ms)); len(got) != 0 {
			t.Fatalf("backup on the slow attempt's own worker: %v", got)
		}
		c.apply(&state.Assign{Assignments: got, Time: 2200 * ms})
		w3 := c.worker("w3", 1)
		if got := Assign(w3.st, Worker{ID: "w3", Incarnation: 1, Free: 2}, opt(5000*ms)); len(got) != 0 {
			t.Fatalf("second backup of one task: %v", got)
		}
		// The first to finish wins; the other is killed.
		c.apply(&state.FinishAttempt{AttemptID: wantAs.AttemptID, Worker: "w2", Incarnation: 1, Success: true, Time: 2300 * ms})
		task := c.st.Steps["s"].Maps[3]
		if task.Winner != wantAs.AttemptID || task.Attempts[0].State != state.AttemptKilled {
			t.Fatalf("winner %s, first attempt %s", task.Winner, task.Attempts[0].State)
		}
		if n := c.st.Steps["s"].Counters()[state.SpeculativeAttempts]; n != 1 {
			t.Fatalf("SPECULATIVE_ATTEMPTS = %d", n)
		}
	})
	t.Run("off for the step", func(t *testing.T) {
		c := newCluster(t).worker("w1", 1).worker("w2", 1)
		c.apply(&state.SubmitStep{ID: "s", Spec: state.StepSpec{Job: "wc", Inputs: []string{"/in"}, Output: "/o", Reducers: 1, MaxAttempts: 3, NoSpeculation: true}, Time: 1})
		c.start("s", 2)
		c.at(0, &state.Assign{Assignments: []state.Assignment{asgOn("a0", "s", state.KindMap, 0, "w1"), asgOn("a1", "s", state.KindMap, 1, "w1")}, Time: 0})
		c.apply(&state.FinishAttempt{AttemptID: "a0", Worker: "w1", Incarnation: 1, Success: true, Time: 10 * ms})
		if got := Assign(c.st, w2, opt(100000*ms)); len(got) != 0 {
			t.Fatalf("backup with speculation off: %v", got)
		}
	})
	t.Run("pending tasks first", func(t *testing.T) {
		c := speculation(t).run("t", 1, 1)
		got := Assign(c.st, Worker{ID: "w2", Incarnation: 1, Free: 1}, opt(9000*ms))
		if len(got) != 1 || got[0].Speculative || got[0].StepID != "t" {
			t.Fatalf("got %v, want the newer step's pending map before the older step's backup", got)
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
	if got := Assign(c.st, Worker{ID: "w1", Incarnation: 1, Free: 4}, opt); len(got) != 0 {
		t.Fatalf("excluded worker got %v", got)
	}
	if got := Assign(c.st, Worker{ID: "w2", Incarnation: 1, Free: 4}, opt); len(got) != 4 {
		t.Fatalf("other worker got %v", got)
	}
	// When every live worker is excluded, exclusion is ignored.
	c.down("w2", 1)
	if got := Assign(c.st, Worker{ID: "w1", Incarnation: 1, Free: 4}, opt); len(got) != 4 {
		t.Fatalf("only worker left got %v", got)
	}
	c.apply(&state.DrainWorker{ID: "w1", Time: c.tick()})
	if got := Assign(c.st, Worker{ID: "w1", Incarnation: 1, Free: 4}, opt); len(got) != 0 {
		t.Fatalf("draining worker got %v", got)
	}
}
