package state_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/scheduler"
	"github.com/gomr/gomr/primary/state"
)

// TestRandomSequence drives the state machine with a long, mostly valid
// command sequence chosen from the current state, the way a leader would:
// workers register, restart, drain and go down with rising incarnations;
// steps are submitted, their splits recorded over several AddSplits
// entries, started, given work by the real scheduler (backups included),
// reported on, killed, cancelled, failed, completed and cleaned up. A few
// commands are deliberately wrong and must be rejected with the expected
// sentinel and without changing the state. Every command goes through
// Encode, Decode and Apply, as Raft would apply it.
//
// It checks the invariants after every command (the steps that have not
// ended, the workers and what runs on them; everything, every
// fullCheckInterval commands), that every plan of the scheduler is
// accepted, that a fresh replica fed the log ends identical to the
// original with the same result for every entry, and that snapshots taken
// every snapshotInterval entries round-trip and, once restored, follow the
// rest of the log identically.
//
// GOMR_SEED=<n> repeats a run; the seed is logged (go test -v) and is part
// of every failure message.

const (
	randomCommands    = 5000
	snapshotInterval  = 500
	fullCheckInterval = 250
)

var randomWorkers = []string{"w1", "w2", "w3", "w4"}

func randomSeed(t *testing.T) uint64 {
	t.Helper()
	if v := os.Getenv("GOMR_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GOMR_SEED=%q: %v", v, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// gen makes commands from the state it applies them to.
type gen struct {
	t    *testing.T
	seed uint64
	r    *rand.Rand
	s    *state.State
	v    *state.View // the state as of the command being made
	n    int         // index of the command being made

	now      int64
	inc      map[string]int64 // highest incarnation used per worker
	nextStep int
	nextBad  int
	stepIDs  []string // every step submitted
	ids      []string // every attempt id assigned
	chk      *checker

	entries [][]byte
	errs    []string // "" when accepted

	accepted map[state.CommandType]int
	rejected map[string]int // by sentinel
	events   map[string]int
	backups  int // speculative attempts the scheduler started
}

func (g *gen) fatalf(format string, args ...any) {
	g.t.Helper()
	g.t.Fatalf("seed %d (GOMR_SEED=%d), command %d: %s", g.seed, g.seed, g.n, fmt.Sprintf(format, args...))
}

// candidate is a command the generator may emit; make returns it with the
// error it must get: nil to be accepted, else the sentinel of its rejection.
type candidate struct {
	weight float64
	name   string
	make   func() (state.Command, error)
}

func (g *gen) tick() int64 {
	g.now += 1 + g.r.Int64N(10)
	return g.now
}

func (g *gen) pick(cands []candidate) candidate {
	total := 0.0
	for _, c := range cands {
		total += c.weight
	}
	x := g.r.Float64() * total
	for _, c := range cands {
		if x < c.weight {
			return c
		}
		x -= c.weight
	}
	return cands[len(cands)-1]
}

func randomOf[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func (g *gen) workersIn(states ...state.WorkerState) []*state.Worker {
	var out []*state.Worker
	for _, id := range randomWorkers {
		if w, ok := g.v.Worker(id); ok && slices.Contains(states, w.State) {
			out = append(out, w)
		}
	}
	return out
}

func regW(id string, inc, now int64) *state.RegisterWorker {
	return &state.RegisterWorker{Worker: state.Worker{ID: id, Incarnation: inc, Role: state.RoleCore, Addr: id + ":7070", Slots: 2}, Time: now}
}

func down(id string, inc int64, reason string, now int64) *state.WorkerDown {
	return &state.WorkerDown{ID: id, Incarnation: inc, Reason: reason, Time: now}
}

// split is split i of a step's input: checked to be map task i's.
func split(step string, i int) mapreduce.Split {
	return mapreduce.Split{File: fmt.Sprintf("/in/%s/%d", step, i), Doc: "/in/" + step, Offset: int64(i) * 64, Length: 64}
}

func splitsFrom(step string, from, n int) []mapreduce.Split {
	out := make([]mapreduce.Split, n)
	for i := range out {
		out[i] = split(step, from+i)
	}
	return out
}

func (g *gen) randomCounters() map[string]int64 {
	if g.r.IntN(4) == 0 {
		return nil
	}
	c := make(map[string]int64)
	for _, k := range []string{"IN", "OUT", "ZERO"} {
		if g.r.IntN(2) > 0 {
			c[k] = g.r.Int64N(1000)
			if k == "ZERO" {
				c[k] = 0
			}
		}
	}
	return c
}

type taskRef struct {
	step *state.Step
	task *state.Task
}

// tasksIn lists the tasks of the running steps in a state, of both kinds.
func (g *gen) tasksIn(running []*state.Step, ts state.TaskState) []taskRef {
	var out []taskRef
	for _, st := range running {
		for _, kind := range []state.TaskKind{state.KindMap, state.KindReduce} {
			for t := range g.v.TasksIn(st.ID, kind, ts) {
				out = append(out, taskRef{st, t})
			}
		}
	}
	return out
}

type runningAttempt struct {
	taskRef
	a *state.Attempt
}

// options are the scheduling policy of one request for work: speculation
// eager or not, and workers excluded after failures or not.
func (g *gen) options() scheduler.Options {
	return scheduler.Options{
		Now:                  g.now,
		SlowFactor:           randomOf(g.r, []float64{0, 1.2, 1.5, 2}),
		MinGap:               time.Duration(g.r.IntN(30)),
		MaxFailuresPerWorker: randomOf(g.r, []int{0, 1, 2, 3}),
	}
}

// plans asks the scheduler for work for every worker that is up, and
// checks what it says against its rules.
func (g *gen) plans(up []*state.Worker) map[string][]state.Assignment {
	out := make(map[string][]state.Assignment)
	for _, w := range up {
		opt := g.options()
		free := 1 + g.r.IntN(w.Slots+2)
		plan := scheduler.Assign(g.v, scheduler.Worker{ID: w.ID, Incarnation: w.Incarnation, Free: free}, opt)
		if len(plan) > free {
			g.fatalf("scheduler planned %d attempts for %d free slots", len(plan), free)
		}
		if w.State != state.WorkerAlive && len(plan) > 0 {
			g.fatalf("scheduler planned work for %s worker %s: %s", w.State, w.ID, js(plan))
		}
		for _, as := range plan {
			st, _ := g.v.Step(as.StepID)
			if as.Speculative && st.Spec.NoSpeculation {
				g.fatalf("scheduler planned a backup in step %s, which has speculation off", st.ID)
			}
			if as.Speculative && opt.SlowFactor <= 0 {
				g.fatalf("scheduler planned a backup with speculation off: %s", js(as))
			}
			if lim := opt.MaxFailuresPerWorker; lim > 0 && st.FailuresOn[w.ID] >= lim {
				for _, other := range g.workersIn(state.WorkerAlive) {
					if st.FailuresOn[other.ID] < lim {
						g.fatalf("scheduler planned %s on %s, excluded from step %s (%d failures), while %s is not", as.AttemptID, w.ID, st.ID, st.FailuresOn[w.ID], other.ID)
					}
				}
			}
			if as.Worker != w.ID || as.Incarnation != w.Incarnation {
				g.fatalf("scheduler planned for another worker: %s", js(as))
			}
		}
		if len(plan) > 0 {
			out[w.ID] = plan
		}
	}
	return out
}

func (g *gen) candidates() []candidate {
	var cands []candidate
	add := func(weight float64, name string, make func() (state.Command, error)) {
		if weight > 0 {
			cands = append(cands, candidate{weight, name, make})
		}
	}
	v, r := g.v, g.r
	alive := g.workersIn(state.WorkerAlive)
	up := g.workersIn(state.WorkerAlive, state.WorkerDraining)

	// Workers.
	for _, id := range randomWorkers {
		w, known := v.Worker(id)
		if !known || w.State == state.WorkerDead {
			weight := 1.0
			if len(alive) < 2 {
				weight = 4
			}
			add(weight, "register", func() (state.Command, error) {
				g.inc[id] += 1 + r.Int64N(2)
				c := regW(id, g.inc[id], g.tick())
				c.Worker.Slots = 1 + r.IntN(4)
				if r.IntN(2) == 0 {
					c.Worker.Role = state.RoleTask
				}
				return c, nil
			})
		} else {
			add(0.15, "restart", func() (state.Command, error) {
				g.inc[id]++
				return regW(id, g.inc[id], g.tick()), nil
			})
			add(0.1, "re-register", func() (state.Command, error) {
				return regW(id, w.Incarnation, g.tick()), nil
			})
			add(0.4, "down", func() (state.Command, error) {
				return down(id, w.Incarnation, randomOf(r, []string{"left", "heartbeat", "gossip"}), g.tick()), nil
			})
			if w.State == state.WorkerAlive && len(alive) > 1 {
				add(0.1, "drain", func() (state.Command, error) { return &state.DrainWorker{ID: id, Time: g.tick()}, nil })
			}
		}
		if known {
			add(0.05, "bad: old incarnation registers", func() (state.Command, error) {
				return regW(id, w.Incarnation-1-r.Int64N(2), g.tick()), state.ErrStale
			})
			add(0.05, "bad: stale down", func() (state.Command, error) {
				inc := w.Incarnation
				if w.Up() {
					inc += 1 + r.Int64N(2)
					if r.IntN(2) == 0 {
						inc = w.Incarnation - 1
					}
				}
				return down(id, inc, "stale", g.tick()), state.ErrStale
			})
			if w.State != state.WorkerAlive {
				add(0.05, "bad: drain a worker that is not alive", func() (state.Command, error) {
					return &state.DrainWorker{ID: id, Time: g.tick()}, state.ErrConflict
				})
			}
		}
	}
	add(0.02, "bad: unknown worker", func() (state.Command, error) {
		if r.IntN(2) == 0 {
			return &state.DrainWorker{ID: "w-none", Time: g.tick()}, state.ErrNotFound
		}
		return down("w-none", 1, "x", g.tick()), state.ErrNotFound
	})
	add(0.02, "bad: incomplete worker", func() (state.Command, error) {
		c := regW("w9", 1, g.tick())
		c.Worker.Slots = 0
		return c, state.ErrConflict
	})
	add(0.08, "primary", func() (state.Command, error) {
		id := fmt.Sprintf("p%d", r.IntN(3))
		port := r.IntN(100)
		return &state.RegisterPrimary{Primary: state.Primary{ID: id, Addr: fmt.Sprintf("%s:%d", id, port), RaftAddr: fmt.Sprintf("%s:%d", id, port+1), GossipAddr: fmt.Sprintf("%s:%d", id, port+2)}}, nil
	})
	if ps := v.Primaries(); len(ps) > 0 {
		add(0.05, "remove primary", func() (state.Command, error) {
			return &state.RemovePrimary{ID: randomOf(r, ps).ID}, nil
		})
	}
	add(0.01, "bad: remove unknown primary", func() (state.Command, error) {
		return &state.RemovePrimary{ID: "p-none"}, state.ErrNotFound
	})
	add(0.01, "bad: incomplete primary", func() (state.Command, error) {
		return &state.RegisterPrimary{Primary: state.Primary{ID: "p0", Addr: "a"}}, state.ErrConflict
	})

	// Steps.
	open := v.StepsIn(state.StepPending, state.StepRunning)
	running := v.StepsIn(state.StepRunning)
	// An output is busy while its step may still write it: a step being
	// cancelled has attempts that may still run.
	writing := v.StepsIn(state.StepPending, state.StepRunning, state.StepCancelPending)
	busyOutput := func(out string) bool {
		return slices.ContainsFunc(writing, func(st *state.Step) bool { return st.Spec.Output == out })
	}
	// anyStep picks a step ever submitted that is in one of the states.
	anyStep := func(keep func(*state.Step) bool) *state.Step {
		for range 10 {
			if len(g.stepIDs) == 0 {
				return nil
			}
			if st, _ := v.Step(randomOf(r, g.stepIDs)); keep(st) {
				return st
			}
		}
		return nil
	}
	ended := func(st *state.Step) bool { return st.State.Stopped() }
	if len(open) < 3 {
		add(1.5, "submit", func() (state.Command, error) {
			g.nextStep++
			id := fmt.Sprintf("s-%04d", g.nextStep)
			output := "/out/" + id
			var want error
			if old := anyStep(ended); old != nil && r.IntN(5) == 0 {
				output = old.Spec.Output
				if busyOutput(output) {
					want = state.ErrConflict
				}
			}
			sp := state.StepSpec{Job: "wc", Inputs: []string{"/in"}, Output: output, Reducers: r.IntN(4),
				MaxAttempts: randomOf(r, []int{0, 1, 2, 2, 3, 3, 4}), NoSpeculation: r.IntN(6) == 0}
			if r.IntN(8) == 0 {
				sp.Options = map[string]string{"k": strconv.Itoa(r.IntN(9))}
			}
			if r.IntN(5) == 0 {
				sp.ClientToken = "tok-" + id
			}
			n := randomOf(r, []int{0, 1, 2, 3, 3, 4, 5, 6, 8})
			return &state.SubmitStep{ID: id, Spec: sp, Input: state.InputSummary{Files: 1 + n/2, Bytes: int64(n) * 64, Splits: n}, Time: g.tick()}, want
		})
	}
	if len(open) > 0 {
		add(0.05, "bad: output in use", func() (state.Command, error) {
			g.nextStep++
			return &state.SubmitStep{ID: fmt.Sprintf("s-%04d", g.nextStep), Spec: state.StepSpec{Output: randomOf(r, open).Spec.Output, Reducers: 1}, Time: g.tick()}, state.ErrConflict
		})
	}
	if tokened := anyStep(func(st *state.Step) bool { return st.Spec.ClientToken != "" }); tokened != nil {
		add(0.05, "bad: client token in use", func() (state.Command, error) {
			g.nextStep++
			id := fmt.Sprintf("s-%04d", g.nextStep)
			return &state.SubmitStep{ID: id, Spec: state.StepSpec{Output: "/out/" + id, ClientToken: tokened.Spec.ClientToken}, Time: g.tick()}, state.ErrConflict
		})
	}
	if len(g.stepIDs) > 0 {
		add(0.02, "bad: step id in use", func() (state.Command, error) {
			return &state.SubmitStep{ID: randomOf(r, g.stepIDs), Spec: state.StepSpec{Output: "/out/fresh"}, Time: g.tick()}, state.ErrConflict
		})
	}
	for _, st := range open {
		switch st.State {
		case state.StepPending:
			left := st.Input.Splits - st.Maps
			if left > 0 {
				add(2, "add splits", func() (state.Command, error) {
					return &state.AddSplits{ID: st.ID, Splits: splitsFrom(st.ID, st.Maps, 1+r.IntN(min(left, 3)))}, nil
				})
				add(0.05, "bad: too many splits", func() (state.Command, error) {
					return &state.AddSplits{ID: st.ID, Splits: splitsFrom(st.ID, st.Maps, left+1)}, state.ErrConflict
				})
				add(0.05, "bad: start early", func() (state.Command, error) {
					return &state.StartStep{ID: st.ID, Splits: splitsFrom(st.ID, st.Maps, left-1), Time: g.tick()}, state.ErrConflict
				})
				if left <= 2 {
					add(1, "start with the last splits", func() (state.Command, error) {
						return &state.StartStep{ID: st.ID, Splits: splitsFrom(st.ID, st.Maps, left), Time: g.tick()}, nil
					})
				}
			} else {
				add(3, "start", func() (state.Command, error) { return &state.StartStep{ID: st.ID, Time: g.tick()}, nil })
			}
		case state.StepRunning:
			add(0.05, "bad: start running step", func() (state.Command, error) { return &state.StartStep{ID: st.ID, Time: g.tick()}, state.ErrConflict })
			add(0.05, "bad: splits for a running step", func() (state.Command, error) {
				return &state.AddSplits{ID: st.ID, Splits: splitsFrom(st.ID, st.Maps, 1)}, state.ErrConflict
			})
			if st.Phase() == state.PhaseCommit {
				add(5, "complete", func() (state.Command, error) { return &state.CompleteStep{ID: st.ID, Time: g.tick()}, nil })
			} else {
				add(0.03, "bad: complete early", func() (state.Command, error) {
					return &state.CompleteStep{ID: st.ID, Time: g.tick()}, state.ErrConflict
				})
			}
		}
		add(0.08, "cancel", func() (state.Command, error) {
			return &state.CancelStep{ID: st.ID, Reason: "user", Time: g.tick()}, nil
		})
		add(0.04, "fail", func() (state.Command, error) {
			return &state.FailStep{ID: st.ID, Error: "commit output: disk full", Time: g.tick()}, nil
		})
		add(0.02, "bad: clean up open step", func() (state.Command, error) { return &state.StepCleanedUp{ID: st.ID}, state.ErrConflict })
	}
	for _, st := range v.StepsToCleanUp() {
		add(3, "clean up", func() (state.Command, error) { return &state.StepCleanedUp{ID: st.ID}, nil })
	}
	if clean := anyStep(func(st *state.Step) bool { return st.CleanedUp }); clean != nil {
		add(0.05, "clean up again", func() (state.Command, error) { return &state.StepCleanedUp{ID: clean.ID}, nil })
	}
	if old := anyStep(ended); old != nil {
		add(0.05, "bad: end ended step", func() (state.Command, error) {
			if r.IntN(2) == 0 {
				return &state.CancelStep{ID: old.ID, Time: g.tick()}, state.ErrConflict
			}
			return &state.FailStep{ID: old.ID, Time: g.tick()}, state.ErrConflict
		})
		add(0.02, "bad: start ended step", func() (state.Command, error) { return &state.StartStep{ID: old.ID, Time: g.tick()}, state.ErrConflict })
		add(0.02, "bad: splits for an ended step", func() (state.Command, error) {
			return &state.AddSplits{ID: old.ID, Splits: splitsFrom(old.ID, old.Maps, 1)}, state.ErrConflict
		})
	}
	add(0.02, "bad: unknown step", func() (state.Command, error) {
		switch r.IntN(6) {
		case 0:
			return &state.StartStep{ID: "s-none", Time: g.tick()}, state.ErrNotFound
		case 1:
			return &state.CancelStep{ID: "s-none", Time: g.tick()}, state.ErrNotFound
		case 2:
			return &state.FailStep{ID: "s-none", Time: g.tick()}, state.ErrNotFound
		case 3:
			return &state.CompleteStep{ID: "s-none", Time: g.tick()}, state.ErrNotFound
		case 4:
			return &state.AddSplits{ID: "s-none"}, state.ErrNotFound
		}
		return &state.StepCleanedUp{ID: "s-none"}, state.ErrNotFound
	})

	// Assignments: what the scheduler plans for a worker asking for work.
	plans := g.plans(up)
	if len(plans) > 0 {
		workers := slices.Sorted(maps.Keys(plans))
		add(8, "assign", func() (state.Command, error) {
			plan := plans[randomOf(r, workers)]
			for _, as := range plan {
				if as.Speculative {
					g.backups++
				}
			}
			return &state.Assign{Assignments: plan, Time: g.tick()}, nil
		})
	}
	if len(alive) > 0 {
		add(0.4, "bad: assign", func() (state.Command, error) { return g.badAssign(running, alive, plans) })
	}

	// Reports.
	runningTasks := g.tasksIn(running, state.TaskRunning)
	var attempts []runningAttempt
	for _, tr := range runningTasks {
		for _, a := range tr.task.Running() {
			attempts = append(attempts, runningAttempt{tr, a})
		}
	}
	if len(attempts) > 0 {
		add(8, "finish", func() (state.Command, error) {
			ra := randomOf(r, attempts)
			a := ra.a
			x := r.IntN(100)
			switch {
			case x < 80:
				c := &state.FinishAttempt{AttemptID: a.ID, Worker: a.Worker, Incarnation: a.Incarnation, Success: true, Counters: g.randomCounters(), Time: g.tick()}
				if r.IntN(2) == 0 {
					c.Commit = json.RawMessage(fmt.Sprintf(`{"files":["part-%d"]}`, r.IntN(10)))
				}
				return c, nil
			case x < 99:
				return &state.FinishAttempt{AttemptID: a.ID, Worker: a.Worker, Incarnation: a.Incarnation, Error: fmt.Sprintf("error %d", r.IntN(10)), Time: g.tick()}, nil
			}
			return &state.FinishAttempt{AttemptID: a.ID, Worker: a.Worker, Incarnation: a.Incarnation, Error: "corrupt input", Fatal: true, Time: g.tick()}, nil
		})
		add(0.1, "bad: report from another incarnation", func() (state.Command, error) {
			a := randomOf(r, attempts).a
			if r.IntN(2) == 0 {
				return &state.FinishAttempt{AttemptID: a.ID, Worker: a.Worker, Incarnation: a.Incarnation + 1, Success: true, Time: g.tick()}, state.ErrStale
			}
			return &state.FinishAttempt{AttemptID: a.ID, Worker: a.Worker + "x", Incarnation: a.Incarnation, Error: "x", Time: g.tick()}, state.ErrStale
		})
		add(0.6, "kill attempt", func() (state.Command, error) {
			a := randomOf(r, attempts).a
			return &state.KillAttempt{AttemptID: a.ID, Reason: "killed", Failed: r.IntN(3) == 0, Time: g.tick()}, nil
		})
	}
	if len(g.ids) > len(attempts) {
		add(0.25, "bad: report of an ended attempt", func() (state.Command, error) {
			for {
				_, a, _ := v.AttemptTask(randomOf(r, g.ids))
				if a.State == state.AttemptRunning {
					continue
				}
				switch r.IntN(3) {
				case 0:
					return &state.KillAttempt{AttemptID: a.ID, Time: g.tick()}, state.ErrStale
				case 1:
					return &state.FinishAttempt{AttemptID: a.ID, Worker: a.Worker, Incarnation: a.Incarnation, Error: "late", Time: g.tick()}, state.ErrStale
				}
				return &state.FinishAttempt{AttemptID: a.ID, Worker: a.Worker, Incarnation: a.Incarnation, Success: true, Time: g.tick()}, state.ErrStale
			}
		})
	}
	// Map outputs reducers cannot fetch.
	var lost []taskRef
	for _, tr := range g.tasksIn(running, state.TaskSucceeded) {
		if tr.task.Kind == state.KindMap && tr.step.ReducesDone < tr.step.Reduces {
			lost = append(lost, tr)
		}
	}
	if len(lost) > 0 {
		add(0.3, "map output lost", func() (state.Command, error) {
			return &state.MapOutputLost{AttemptID: randomOf(r, lost).task.Winner, Reason: "fetch failed", Time: g.tick()}, nil
		})
	}
	if len(g.ids) > 0 {
		add(0.05, "bad: map output lost of an attempt that is not a needed map output", func() (state.Command, error) {
			for range 20 {
				t, a, _ := v.AttemptTask(randomOf(r, g.ids))
				st, _ := v.Step(t.StepID)
				if t.Kind != state.KindMap || t.Winner != a.ID || st.State != state.StepRunning || st.ReducesDone == st.Reduces {
					return &state.MapOutputLost{AttemptID: a.ID, Time: g.tick()}, state.ErrStale
				}
			}
			return &state.MapOutputLost{AttemptID: "attempt_none", Time: g.tick()}, state.ErrNotFound
		})
	}
	add(0.02, "bad: report of an unknown attempt", func() (state.Command, error) {
		if r.IntN(2) == 0 {
			return &state.KillAttempt{AttemptID: "attempt_none", Time: g.tick()}, state.ErrNotFound
		}
		return &state.FinishAttempt{AttemptID: "attempt_none", Worker: "w1", Incarnation: 1, Success: true, Time: g.tick()}, state.ErrNotFound
	})
	return cands
}

// badAssign makes an Assign that must be rejected as a whole: one bad
// assignment, alone or inside a plan of the scheduler's.
func (g *gen) badAssign(running []*state.Step, alive []*state.Worker, plans map[string][]state.Assignment) (state.Command, error) {
	r, v := g.r, g.v
	w := randomOf(r, alive)
	g.nextBad++
	badID := fmt.Sprintf("bad-%d", g.nextBad)
	mk := func(tr taskRef, worker string, inc int64) state.Assignment {
		return state.Assignment{AttemptID: badID, StepID: tr.step.ID, Kind: tr.task.Kind, Index: tr.task.Index, Worker: worker, Incarnation: inc}
	}

	type option struct {
		as   state.Assignment
		want error
	}
	var opts []option
	busy := append(g.tasksIn(running, state.TaskRunning), g.tasksIn(running, state.TaskSucceeded)...)
	if len(busy) > 0 {
		opts = append(opts, option{mk(randomOf(r, busy), w.ID, w.Incarnation), state.ErrConflict})
	}
	var ready, waiting []taskRef // pending tasks of the current phase; pending reduces in the map phase
	for _, tr := range g.tasksIn(running, state.TaskPending) {
		mapPhase := tr.step.Phase() == state.PhaseMap
		switch {
		case mapPhase == (tr.task.Kind == state.KindMap):
			ready = append(ready, tr)
		case tr.task.Kind == state.KindReduce:
			waiting = append(waiting, tr)
		}
	}
	if len(waiting) > 0 {
		opts = append(opts, option{mk(randomOf(r, waiting), w.ID, w.Incarnation), state.ErrConflict})
	}
	if len(g.stepIDs) > 0 {
		if old, _ := v.Step(randomOf(r, g.stepIDs)); old.State != state.StepRunning {
			if t, ok := v.Task(old.ID, state.KindMap, 0); ok {
				opts = append(opts, option{mk(taskRef{old, t}, w.ID, w.Incarnation), state.ErrConflict})
			}
		}
	}
	if len(ready) > 0 {
		tr := randomOf(r, ready)
		for _, dw := range g.workersIn(state.WorkerDead) {
			opts = append(opts, option{mk(tr, dw.ID, dw.Incarnation), state.ErrStale})
		}
		for _, dw := range g.workersIn(state.WorkerDraining) {
			opts = append(opts, option{mk(tr, dw.ID, dw.Incarnation), state.ErrConflict})
		}
		outOfRange := mk(tr, w.ID, w.Incarnation)
		outOfRange.Index = tr.step.Maps + tr.step.Reduces
		wrongKind := mk(tr, w.ID, w.Incarnation)
		wrongKind.Kind = "SHUFFLE"
		spec := mk(tr, w.ID, w.Incarnation)
		spec.Speculative = true
		opts = append(opts,
			option{mk(tr, w.ID, w.Incarnation-1), state.ErrStale},
			option{mk(tr, w.ID, w.Incarnation+1), state.ErrStale},
			option{mk(tr, "w-none", 1), state.ErrStale},
			option{outOfRange, state.ErrNotFound},
			option{wrongKind, state.ErrNotFound},
			option{spec, state.ErrConflict}, // a backup of a pending task
		)
		if len(g.ids) > 0 {
			dup := mk(tr, w.ID, w.Incarnation)
			dup.AttemptID = randomOf(r, g.ids)
			opts = append(opts, option{dup, state.ErrConflict})
		}
	}
	// A backup on the worker of the running attempt.
	for _, tr := range g.tasksIn(running, state.TaskRunning) {
		if run := tr.task.Running(); len(run) == 1 {
			if ow, ok := v.Worker(run[0].Worker); ok && ow.State == state.WorkerAlive {
				as := mk(tr, ow.ID, ow.Incarnation)
				as.Speculative = true
				opts = append(opts, option{as, state.ErrConflict})
			}
			break
		}
	}
	opts = append(opts, option{state.Assignment{AttemptID: badID, StepID: "s-none", Kind: state.KindMap, Worker: w.ID, Incarnation: w.Incarnation}, state.ErrNotFound})
	bad := randomOf(r, opts)

	// A plan of the scheduler's around it, without the bad one's task.
	var as []state.Assignment
	if len(plans) > 0 && r.IntN(3) > 0 {
		for _, a := range plans[randomOf(r, slices.Sorted(maps.Keys(plans)))] {
			if a.StepID != bad.as.StepID || a.Kind != bad.as.Kind || a.Index != bad.as.Index {
				as = append(as, a)
			}
		}
	}
	as = slices.Insert(as, r.IntN(len(as)+1), bad.as)
	return &state.Assign{Assignments: as, Time: g.tick()}, bad.want
}

// run makes, encodes, decodes and applies one command.
func (g *gen) run() {
	g.t.Helper()
	g.v = g.s.View()
	c := g.pick(g.candidates())
	cmd, want := c.make()
	entry, err := state.Encode(cmd)
	if err != nil {
		g.fatalf("encode %s: %v", c.name, err)
	}
	decoded, err := state.Decode(entry)
	if err != nil {
		g.fatalf("decode %s: %v", c.name, err)
	}
	var before fingerprint
	if want != nil {
		before = objects(g.s.View(), named(decoded, g.v))
	}
	err = g.s.Apply(decoded)
	switch {
	case want == nil && err != nil:
		g.fatalf("%s %s rejected: %v", c.name, js(cmd), err)
	case want != nil && !errors.Is(err, want):
		g.fatalf("%s %s: got %v, want %v", c.name, js(cmd), err, want)
	case want != nil:
		for _, other := range []error{state.ErrNotFound, state.ErrConflict, state.ErrStale} {
			if other != want && errors.Is(err, other) {
				g.fatalf("%s: error %q also matches %v", c.name, err, other)
			}
		}
		if after := objects(g.s.View(), named(decoded, g.v)); !before.same(after) {
			g.fatalf("rejected %s %s changed the state: %s", c.name, js(cmd), before.diff(after))
		}
		// Now and then, the whole snapshot too.
		if g.rejected[want.Error()]%50 == 0 {
			if a, b := digest(g.t, g.v), digest(g.t, g.s.View()); a != b {
				g.fatalf("rejected %s %s changed the snapshot", c.name, js(cmd))
			}
		}
		g.rejected[want.Error()]++
	default:
		g.accepted[cmd.Type()]++
		switch d := decoded.(type) {
		case *state.Assign:
			for _, a := range d.Assignments {
				g.ids = append(g.ids, a.AttemptID)
			}
		case *state.SubmitStep:
			g.stepIDs = append(g.stepIDs, d.ID)
		}
	}
	g.events[c.name]++
	g.entries = append(g.entries, entry)
	if err != nil {
		g.errs = append(g.errs, err.Error())
	} else {
		g.errs = append(g.errs, "")
	}
	if err := g.chk.check(g.s.View(), g.n%fullCheckInterval == fullCheckInterval-1, named(decoded, g.v)); err != nil {
		g.fatalf("after %s %s: invariant broken: %v", c.name, js(cmd), err)
	}
	if err := checkLostOutputs(g.v, g.s.View(), decoded); err != nil {
		g.fatalf("after %s %s: %v", c.name, js(cmd), err)
	}
}

// named returns the steps a command names or may end (as of the view
// before it was applied).
func named(c state.Command, v *state.View) []string {
	// A worker that goes kills its attempts, and a kill may fail a step
	// (a backup killed after the last failure allowed).
	runningOn := func(worker string) []string {
		var out []string
		if w, ok := v.Worker(worker); ok {
			for _, t := range v.RunningOn(w.ID, w.Incarnation) {
				out = append(out, t.StepID)
			}
		}
		return out
	}
	switch c := c.(type) {
	case *state.WorkerDown:
		return runningOn(c.ID)
	case *state.RegisterWorker:
		return runningOn(c.Worker.ID)
	case *state.SubmitStep:
		return []string{c.ID}
	case *state.AddSplits:
		return []string{c.ID}
	case *state.StartStep:
		return []string{c.ID}
	case *state.CancelStep:
		return []string{c.ID}
	case *state.FailStep:
		return []string{c.ID}
	case *state.CompleteStep:
		return []string{c.ID}
	case *state.StepCleanedUp:
		return []string{c.ID}
	case *state.Assign:
		var out []string
		for _, a := range c.Assignments {
			out = append(out, a.StepID)
		}
		return out
	case *state.FinishAttempt:
		if t, _, ok := v.AttemptTask(c.AttemptID); ok {
			return []string{t.StepID}
		}
	case *state.KillAttempt:
		if t, _, ok := v.AttemptTask(c.AttemptID); ok {
			return []string{t.StepID}
		}
	case *state.MapOutputLost:
		if t, _, ok := v.AttemptTask(c.AttemptID); ok {
			return []string{t.StepID}
		}
	}
	return nil
}

// checkLostOutputs checks that when a worker incarnation goes (down, or
// replaced by a newer one), no running step that still reduces keeps a
// map output on it.
func checkLostOutputs(before, after *state.View, c state.Command) error {
	var worker string
	var inc int64
	switch c := c.(type) {
	case *state.WorkerDown:
		worker, inc = c.ID, c.Incarnation
	case *state.RegisterWorker:
		old, ok := before.Worker(c.Worker.ID)
		if !ok {
			return nil
		}
		worker, inc = old.ID, old.Incarnation
	default:
		return nil
	}
	if w, ok := after.Worker(worker); ok && w.Incarnation == inc && w.Up() {
		return nil // nothing happened to it
	}
	for _, st := range after.StepsIn(state.StepRunning) {
		if st.ReducesDone == st.Reduces {
			continue
		}
		for t := range after.TasksIn(st.ID, state.KindMap, state.TaskSucceeded) {
			if w := t.WinningAttempt(); w.Worker == worker && w.Incarnation == inc {
				return fmt.Errorf("step %s map %d keeps its output %s on %s incarnation %d, which is gone", st.ID, t.Index, w.ID, worker, inc)
			}
		}
	}
	return nil
}

// fingerprint is the identity of the objects of a view: the primaries,
// workers and steps, and the tasks of the steps that have not ended and of
// those named. Objects are immutable and Apply stores changed copies, so a
// command that changed nothing leaves every pointer as it was. (The tasks
// of ended steps are checked to stay the same objects by the checker.)
type fingerprint struct {
	count int
	objs  []any
	names []string
}

func objects(v *state.View, named []string) fingerprint {
	var f fingerprint
	addObj := func(name string, o any) {
		f.objs = append(f.objs, o)
		f.names = append(f.names, name)
	}
	f.count = v.StepCount()
	for _, p := range v.Primaries() {
		addObj("primary "+p.ID, p)
	}
	for _, w := range v.Workers() {
		addObj("worker "+w.ID, w)
	}
	for st := range v.Steps() {
		addObj("step "+st.ID, st)
		if !st.State.Terminal() || slices.Contains(named, st.ID) {
			for t := range v.Tasks(st.ID) {
				addObj(fmt.Sprintf("task %s/%s/%d", t.StepID, t.Kind, t.Index), t)
			}
		}
	}
	return f
}

func (f fingerprint) same(g fingerprint) bool {
	return f.count == g.count && slices.Equal(f.objs, g.objs)
}

func (f fingerprint) diff(g fingerprint) string {
	if f.count != g.count {
		return fmt.Sprintf("step count %d -> %d", f.count, g.count)
	}
	for i := range min(len(f.objs), len(g.objs)) {
		if f.objs[i] != g.objs[i] {
			return fmt.Sprintf("%s (or %s) changed: %s -> %s", f.names[i], g.names[i], js(f.objs[i]), js(g.objs[i]))
		}
	}
	return fmt.Sprintf("%d objects -> %d", len(f.objs), len(g.objs))
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v (marshal: %v)", v, err)
	}
	return string(b)
}

func snapshot(t *testing.T, v *state.View) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := v.WriteTo(&b); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return b.Bytes()
}

func digest(t *testing.T, v *state.View) string {
	t.Helper()
	sum := sha256.Sum256(snapshot(t, v))
	return hex.EncodeToString(sum[:])
}

// checker checks the invariants of a state after each command.
type checker struct {
	// ended holds what each ended step looked like when first seen ended:
	// it never changes again, but for CleanedUp.
	ended map[string]endedStep
}

type endedStep struct {
	step  string // the step as JSON, CleanedUp cleared
	tasks []*state.Task
}

func newChecker() *checker { return &checker{ended: make(map[string]endedStep)} }

func stepJSON(st *state.Step) string {
	c := *st
	c.CleanedUp = false
	return js(&c)
}

// check checks the steps that have not ended and those named, the workers
// and what runs on them; with full, everything.
func (c *checker) check(v *state.View, full bool, named []string) error {
	if err := checkWorkers(v); err != nil {
		return err
	}
	steps := v.StepsIn(state.StepPending, state.StepRunning, state.StepCancelPending)
	for _, id := range named {
		if st, ok := v.Step(id); ok && st.State.Terminal() {
			steps = append(steps, st)
		}
	}
	if full {
		steps = nil
		var err error
		if steps, err = checkStepOrder(v); err != nil {
			return err
		}
	}
	for _, st := range steps {
		if err := checkStep(v, st); err != nil {
			return err
		}
		if !st.State.Terminal() {
			continue
		}
		// An ended step never changes again, but for CleanedUp: its tasks
		// are the very same objects.
		tasks := slices.Collect(v.Tasks(st.ID))
		was, ok := c.ended[st.ID]
		if !ok {
			c.ended[st.ID] = endedStep{stepJSON(st), tasks}
			continue
		}
		if now := stepJSON(st); now != was.step {
			return fmt.Errorf("ended step %s changed:\nwas %s\nnow %s", st.ID, was.step, now)
		}
		if !slices.Equal(tasks, was.tasks) {
			return fmt.Errorf("a task of ended step %s changed:\nwas %s\nnow %s", st.ID, js(was.tasks), js(tasks))
		}
	}
	return nil
}

// checkWorkers checks the workers, and that what the running index says
// runs on each agrees with the running steps' tasks.
func checkWorkers(v *state.View) error {
	type inc struct {
		worker string
		inc    int64
	}
	runs := make(map[inc][]string)
	for _, st := range v.StepsIn(state.StepRunning) {
		for _, kind := range []state.TaskKind{state.KindMap, state.KindReduce} {
			for t := range v.TasksIn(st.ID, kind, state.TaskRunning) {
				for _, a := range t.Running() {
					k := inc{a.Worker, a.Incarnation}
					id := fmt.Sprintf("%s/%s/%d", t.StepID, t.Kind, t.Index)
					if !slices.Contains(runs[k], id) {
						runs[k] = append(runs[k], id)
					}
				}
			}
		}
	}
	for _, w := range v.Workers() {
		if (!w.Up() && w.State != state.WorkerDead) || (w.State == state.WorkerDead) != (w.DownAt != 0) || w.Slots < 1 {
			return fmt.Errorf("worker %s", js(w))
		}
		k := inc{w.ID, w.Incarnation}
		var got []string
		for _, t := range v.RunningOn(w.ID, w.Incarnation) {
			got = append(got, fmt.Sprintf("%s/%s/%d", t.StepID, t.Kind, t.Index))
		}
		slices.Sort(got)
		want := runs[k]
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("RunningOn(%s, %d) = %v; the running steps run %v there", w.ID, w.Incarnation, got, want)
		}
		if !w.Up() && len(got) > 0 {
			return fmt.Errorf("dead worker %s runs %v", w.ID, got)
		}
		delete(runs, k)
	}
	for k, ids := range runs {
		return fmt.Errorf("%v run on %s incarnation %d, which is not a worker's current one", ids, k.worker, k.inc)
	}
	return nil
}

// checkStepOrder checks the step listings and returns every step.
func checkStepOrder(v *state.View) ([]*state.Step, error) {
	steps := slices.Collect(v.Steps())
	if n := v.StepCount(); n != len(steps) {
		return nil, fmt.Errorf("StepCount %d, %d steps", n, len(steps))
	}
	in := make(map[state.StepState][]string)
	var cleanup []string
	for i, st := range steps {
		if st.Seq != uint64(i+1) {
			return nil, fmt.Errorf("step %s at position %d has seq %d", st.ID, i, st.Seq)
		}
		if got, ok := v.Step(st.ID); !ok || got != st {
			return nil, fmt.Errorf("Step(%s) is not the listed step", st.ID)
		}
		if tok := st.Spec.ClientToken; tok != "" && v.StepByToken(tok) != st.ID {
			return nil, fmt.Errorf("StepByToken(%s) = %q, want %s", tok, v.StepByToken(tok), st.ID)
		}
		in[st.State] = append(in[st.State], st.ID)
		if (st.State == state.StepFailed || st.State == state.StepCancelled || st.State == state.StepCancelPending || st.State == state.StepInterrupted) && !st.CleanedUp {
			cleanup = append(cleanup, st.ID)
		}
	}
	for _, s := range state.StepStates {
		var got []string
		for _, st := range v.StepsIn(s) {
			got = append(got, st.ID)
		}
		if !slices.Equal(got, in[s]) {
			return nil, fmt.Errorf("StepsIn(%s) = %v, want %v", s, got, in[s])
		}
	}
	var got []string
	for _, st := range v.StepsToCleanUp() {
		got = append(got, st.ID)
	}
	if !slices.Equal(got, cleanup) {
		return nil, fmt.Errorf("StepsToCleanUp = %v, want %v", got, cleanup)
	}
	i := len(steps)
	for st := range v.StepsNewestFirst(0) {
		if i--; i < 0 || steps[i] != st {
			return nil, fmt.Errorf("StepsNewestFirst is not the reverse of Steps at %s", st.ID)
		}
	}
	if i != 0 {
		return nil, fmt.Errorf("StepsNewestFirst lists %d steps fewer", i)
	}
	return steps, nil
}

func kindCounters(k state.TaskKind) (launched, failed, killed string) {
	if k == state.KindReduce {
		return state.LaunchedReduces, state.FailedReduces, state.KilledReduces
	}
	return state.LaunchedMaps, state.FailedMaps, state.KilledMaps
}

func nonZero[K comparable, N int | int64](m map[K]N) map[K]N {
	out := make(map[K]N)
	for k, n := range m {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

// checkStep checks one step, its tasks and its attempts.
func checkStep(v *state.View, st *state.Step) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("step %s (%s): %s", st.ID, st.State, fmt.Sprintf(format, args...))
	}
	switch st.State {
	case state.StepPending:
		if st.Reduces != 0 || st.StartedAt != 0 || st.EndedAt != 0 || st.Maps > st.Input.Splits {
			return fail("%d maps of %d planned, %d reduces, started %d ended %d", st.Maps, st.Input.Splits, st.Reduces, st.StartedAt, st.EndedAt)
		}
	case state.StepRunning:
		if st.Reduces != st.Spec.Reducers || st.EndedAt != 0 || st.StartedAt == 0 || !st.PlanComplete() || st.Maps != st.Input.Splits {
			return fail("%d reduces for %d reducers, %d maps of %d planned, started %d, ended %d", st.Reduces, st.Spec.Reducers, st.Maps, st.Input.Splits, st.StartedAt, st.EndedAt)
		}
	case state.StepCancelPending:
		if st.EndedAt == 0 || st.StartedAt == 0 || st.CleanedUp {
			return fail("started %d, ended %d, cleaned up %t", st.StartedAt, st.EndedAt, st.CleanedUp)
		}
	case state.StepCompleted, state.StepFailed, state.StepCancelled, state.StepInterrupted:
		if st.EndedAt == 0 {
			return fail("no end time")
		}
		if st.StartedAt == 0 && !st.CleanedUp {
			return fail("never started but not cleaned up")
		}
	default:
		return fail("unknown state")
	}
	if st.State == state.StepCompleted && (st.Error != "" || !st.CleanedUp || st.MapsDone != st.Maps || st.ReducesDone != st.Reduces) {
		return fail("completed with error %q, cleaned %v, %d/%d maps and %d/%d reduces done", st.Error, st.CleanedUp, st.MapsDone, st.Maps, st.ReducesDone, st.Reduces)
	}
	var want state.Phase
	switch {
	case st.State != state.StepRunning:
	case st.MapsDone < st.Maps:
		want = state.PhaseMap
	case st.ReducesDone < st.Reduces:
		want = state.PhaseReduce
	default:
		want = state.PhaseCommit
	}
	if p := st.Phase(); p != want {
		return fail("phase %q, want %q", p, want)
	}

	counters := make(map[string]int64)
	failures := make(map[string]int)
	counts := map[state.TaskKind]int{}
	done := map[state.TaskKind]int{}
	byState := make(map[string][]int)
	for t := range v.Tasks(st.ID) {
		tfail := func(format string, args ...any) error {
			return fail("%s (%s): %s", t.Name(), t.State, fmt.Sprintf(format, args...))
		}
		if t.StepID != st.ID || t.Index != counts[t.Kind] {
			return tfail("step %s index %d, want index %d", t.StepID, t.Index, counts[t.Kind])
		}
		counts[t.Kind]++
		byState[string(t.Kind)+" "+string(t.State)] = append(byState[string(t.Kind)+" "+string(t.State)], t.Index)
		switch t.Kind {
		case state.KindMap:
			if t.Split == nil || !reflect.DeepEqual(*t.Split, split(st.ID, t.Index)) {
				return tfail("split %s, want %s", js(t.Split), js(split(st.ID, t.Index)))
			}
		case state.KindReduce:
			if t.Split != nil {
				return tfail("a reduce with a split")
			}
		default:
			return tfail("kind %q", t.Kind)
		}
		if st.State == state.StepPending && (t.State != state.TaskPending || len(t.Attempts) > 0 || t.Kind != state.KindMap) {
			return tfail("in a pending step: %s", js(t))
		}
		launched, failed, killed := kindCounters(t.Kind)
		running, backups := 0, 0
		for i := range t.Attempts {
			a := &t.Attempts[i]
			counters[launched]++
			if a.Speculative {
				counters[state.SpeculativeAttempts]++
				backups++
				if st.Spec.NoSpeculation {
					return tfail("backup %s with speculation off", a.ID)
				}
			}
			if at, aa, ok := v.AttemptTask(a.ID); !ok || at.StepID != st.ID || at.Kind != t.Kind || at.Index != t.Index || !reflect.DeepEqual(aa, a) {
				return tfail("AttemptTask(%s) does not find it", a.ID)
			}
			switch a.State {
			case state.AttemptRunning:
				running++
				if st.State != state.StepRunning {
					return tfail("attempt %s runs in an ended step", a.ID)
				}
				if w, ok := v.Worker(a.Worker); !ok || w.Incarnation != a.Incarnation || !w.Up() {
					return tfail("running attempt %s on %s incarnation %d, which is not up", a.ID, a.Worker, a.Incarnation)
				}
				if a.EndedAt != 0 {
					return tfail("running attempt %s has an end time", a.ID)
				}
			case state.AttemptSucceeded, state.AttemptFailed, state.AttemptKilled:
				if a.EndedAt < a.StartedAt || a.EndedAt == 0 {
					return tfail("attempt %s ended at %d, started at %d", a.ID, a.EndedAt, a.StartedAt)
				}
				if a.State == state.AttemptFailed {
					counters[failed]++
					failures[a.Worker]++
				}
				if a.State == state.AttemptKilled {
					counters[killed]++
				}
			default:
				return tfail("attempt %s in state %q", a.ID, a.State)
			}
			if a.State != state.AttemptSucceeded && (len(a.Counters) > 0 || len(a.Commit) > 0) {
				return tfail("attempt %s is %s with counters or a commit record", a.ID, a.State)
			}
		}
		if backups > 1 {
			return tfail("%d backups", backups)
		}
		switch t.State {
		case state.TaskSucceeded:
			w := t.WinningAttempt()
			if t.Winner == "" || w == nil || w.State != state.AttemptSucceeded {
				return tfail("winner %q is not a succeeded attempt of the task", t.Winner)
			}
			if strings.HasPrefix(w.Error, "map output lost") {
				return tfail("winner %s lost its output", w.ID)
			}
			if running != 0 {
				return tfail("%d running attempts", running)
			}
			done[t.Kind]++
			for k, n := range w.Counters {
				counters[k] += n
			}
		case state.TaskRunning:
			// One attempt runs, or two when one is a backup.
			if running < 1 || running > 2 {
				return tfail("%d running attempts", running)
			}
			if running == 2 && !slices.ContainsFunc(t.Attempts, func(a state.Attempt) bool { return a.State == state.AttemptRunning && a.Speculative }) {
				return tfail("two running attempts and no backup")
			}
		case state.TaskPending:
			if running != 0 {
				return tfail("%d running attempts", running)
			}
		case state.TaskFailed:
			if running != 0 || st.State != state.StepFailed {
				return tfail("%d running attempts", running)
			}
			fatal := strings.HasPrefix(st.Error, t.Name()+": ")
			if t.Failures() < max(st.Spec.MaxAttempts, 1) && !fatal {
				return tfail("failed after %d failures, max %d", t.Failures(), st.Spec.MaxAttempts)
			}
		default:
			return tfail("unknown task state")
		}
		if t.State != state.TaskSucceeded && t.Winner != "" {
			return tfail("winner %q", t.Winner)
		}
	}
	if counts[state.KindMap] != st.Maps || counts[state.KindReduce] != st.Reduces {
		return fail("%d maps, %d reduces; the step counts %d, %d", counts[state.KindMap], counts[state.KindReduce], st.Maps, st.Reduces)
	}
	if done[state.KindMap] != st.MapsDone || done[state.KindReduce] != st.ReducesDone {
		return fail("%d maps, %d reduces succeeded; the step counts %d, %d", done[state.KindMap], done[state.KindReduce], st.MapsDone, st.ReducesDone)
	}
	if got, want := nonZero(st.Counters), nonZero(counters); !maps.Equal(got, want) {
		return fail("counters %v, recomputed from the attempts %v", st.Counters, want)
	}
	if got, want := nonZero(st.FailuresOn), failures; !maps.Equal(got, want) {
		return fail("failures %v, recomputed from the attempts %v", st.FailuresOn, want)
	}
	// The state index agrees with the tasks.
	for _, kind := range []state.TaskKind{state.KindMap, state.KindReduce} {
		for _, ts := range []state.TaskState{state.TaskPending, state.TaskRunning, state.TaskSucceeded, state.TaskFailed} {
			var got []int
			for t := range v.TasksIn(st.ID, kind, ts) {
				got = append(got, t.Index)
			}
			if want := byState[string(kind)+" "+string(ts)]; !slices.Equal(got, want) {
				return fail("TasksIn(%s, %s) = %v, want %v", kind, ts, got, want)
			}
		}
	}
	return nil
}

func TestRandomSequence(t *testing.T) {
	seed := randomSeed(t)
	t.Logf("seed %d (set GOMR_SEED=%d to repeat)", seed, seed)
	g := &gen{
		t: t, seed: seed, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s: state.New(),
		now: 1_000_000, inc: make(map[string]int64), chk: newChecker(),
		accepted: make(map[state.CommandType]int), rejected: make(map[string]int), events: make(map[string]int),
	}
	t0 := time.Now()
	// The original's snapshot and digest every snapshotInterval entries.
	snaps := make(map[int][]byte)
	digests := make(map[int]string)
	for g.n = 0; g.n < randomCommands; g.n++ {
		if g.n > 0 && g.n%snapshotInterval == 0 {
			snaps[g.n] = snapshot(t, g.s.View())
			digests[g.n] = fmt.Sprintf("%x", sha256.Sum256(snaps[g.n]))
		}
		g.run()
	}
	generated := time.Since(t0)
	g.n = randomCommands
	final := digest(t, g.s.View())
	if err := newChecker().check(g.s.View(), true, nil); err != nil {
		g.fatalf("at the end: %v", err)
	}

	// (a) Determinism: a fresh replica fed the log (decoding each entry, as
	// a Raft follower does) gets the original's result for every entry and
	// ends identical to it.
	// (b) Snapshots: the state restored from the original's snapshot at
	// snapshotInterval entries round-trips byte for byte and follows the
	// log; at each further snapshotInterval entries it must be identical
	// to the original as it was then, and the state restored from its own
	// snapshot carries on. So every restored state follows the rest of the
	// log, through its successors, identically.
	// Both run at once: they share only the log.
	t0 = time.Now()
	follow := func(name string, s *state.State, from, to int) error {
		for i := from; i < to; i++ {
			c, err := state.Decode(g.entries[i])
			if err != nil {
				return fmt.Errorf("entry %d: %v", i, err)
			}
			got := ""
			if err := s.Apply(c); err != nil {
				got = err.Error()
			}
			if got != g.errs[i] {
				return fmt.Errorf("entry %d (%s): %s got error %q, the original got %q", i, c.Type(), name, got, g.errs[i])
			}
		}
		return nil
	}
	restore := func(at int, snap []byte) (*state.State, error) {
		s, err := state.Read(bytes.NewReader(snap))
		if err != nil {
			return nil, fmt.Errorf("Read snapshot at %d: %v", at, err)
		}
		var again bytes.Buffer
		if _, err := s.View().WriteTo(&again); err != nil {
			return nil, err
		}
		if !bytes.Equal(again.Bytes(), snap) {
			return nil, fmt.Errorf("snapshot at %d does not round-trip", at)
		}
		if err := newChecker().check(s.View(), true, nil); err != nil {
			return nil, fmt.Errorf("restored at %d: %v", at, err)
		}
		return s, nil
	}
	digestOf := func(s *state.State) string {
		var b bytes.Buffer
		if _, err := s.View().WriteTo(&b); err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%x", sha256.Sum256(b.Bytes()))
	}
	errs := make([]error, 2)
	restores := 0
	var wg sync.WaitGroup
	wg.Go(func() {
		a := state.New()
		if errs[0] = follow("replica A", a, 0, len(g.entries)); errs[0] == nil && digestOf(a) != final {
			errs[0] = fmt.Errorf("replica A ends different from the original")
		}
	})
	wg.Go(func() {
		at := snapshotInterval
		s, err := restore(at, snaps[at])
		for err == nil {
			next := min(at+snapshotInterval, len(g.entries))
			name := fmt.Sprintf("the state restored at %d", at)
			if err = follow(name, s, at, next); err != nil {
				break
			}
			restores++
			if next == len(g.entries) {
				if digestOf(s) != final {
					err = fmt.Errorf("%s ends different from the original", name)
				}
				break
			}
			var b bytes.Buffer
			if _, err = s.View().WriteTo(&b); err != nil {
				break
			}
			if fmt.Sprintf("%x", sha256.Sum256(b.Bytes())) != digests[next] {
				err = fmt.Errorf("%s differs from the original at %d", name, next)
				break
			}
			at = next
			s, err = restore(at, b.Bytes())
		}
		errs[1] = err
	})
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("seed %d (GOMR_SEED=%d): %v", seed, seed, err)
		}
	}
	if restores != (randomCommands-1)/snapshotInterval {
		t.Fatalf("%d snapshots restored", restores)
	}
	t.Logf("generated and checked %d commands in %v, replayed them into a replica and %d restored states in %v", randomCommands, generated, restores, time.Since(t0))

	// The run must have exercised the state machine broadly.
	v := g.s.View()
	states := make(map[state.StepState]int)
	lost, failedTasks, backupWins := 0, 0, 0
	for st := range v.Steps() {
		states[st.State]++
		for tk := range v.Tasks(st.ID) {
			if tk.State == state.TaskFailed {
				failedTasks++
			}
			if w := tk.WinningAttempt(); w != nil && w.Speculative {
				backupWins++
			}
			for _, a := range tk.Attempts {
				if strings.HasPrefix(a.Error, "map output lost") {
					lost++
				}
			}
		}
	}
	t.Logf("accepted %v", g.accepted)
	t.Logf("rejected %v", g.rejected)
	t.Logf("steps %v, tasks failed %d, map outputs lost %d, backups started %d (%d won), snapshot %d bytes",
		states, failedTasks, lost, g.backups, backupWins, len(snapshot(t, v)))
	var ev strings.Builder
	for _, k := range slices.Sorted(maps.Keys(g.events)) {
		fmt.Fprintf(&ev, " %s=%d", k, g.events[k])
	}
	t.Logf("commands:%s", ev.String())
	for ct := state.CmdRegisterWorker; ct <= state.CmdAddSplits; ct++ {
		if g.accepted[ct] == 0 {
			t.Errorf("seed %d: no %s was accepted", seed, ct)
		}
	}
	for _, e := range []error{state.ErrNotFound, state.ErrConflict, state.ErrStale} {
		if g.rejected[e.Error()] == 0 {
			t.Errorf("seed %d: nothing was rejected as %v", seed, e)
		}
	}
	if states[state.StepCompleted] == 0 || states[state.StepFailed] == 0 || states[state.StepCancelled] == 0 {
		t.Errorf("seed %d: steps ended %v, want some of each end", seed, states)
	}
	if lost == 0 {
		t.Errorf("seed %d: no map output was ever lost", seed)
	}
	if g.backups == 0 {
		t.Errorf("seed %d: the scheduler never started a backup", seed)
	}
}
