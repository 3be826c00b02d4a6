package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRandomSequence drives the state machine with a long, mostly valid
// command sequence chosen from the current state, the way a leader would:
// workers register, restart and go down with rising incarnations; steps are
// submitted, started with random splits, assigned (with the scheduler's
// rules, reimplemented here: importing the scheduler would be a cycle),
// reported on, cancelled, failed, completed and cleaned up. A few commands
// are deliberately wrong and must be rejected with the expected sentinel
// and without changing the state. Every command goes through
// Encode, Decode and Apply, as Raft would apply it.
//
// It checks the invariants after every command (ended steps, which never
// change again, are checked whole when they end and every
// fullCheckInterval commands, and must keep their fingerprint), that two
// fresh replicas fed the log end byte-identical with the same result for
// every entry, and that snapshots taken every snapshotInterval entries
// round-trip and, once restored, follow the rest of the log identically.
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
	s    *State
	n    int // index of the command being made

	now      int64
	inc      map[string]int64 // highest incarnation used per worker
	nextStep int
	nextBad  int

	ids     []string // every attempt id assigned so far
	steps   []*Step  // the steps in order, as of the command being made
	chk     *checker
	entries [][]byte
	errs    []string // "" when accepted

	accepted map[CommandType]int
	rejected map[string]int // by sentinel
	events   map[string]int
}

func (g *gen) fatalf(format string, args ...any) {
	g.t.Helper()
	g.t.Fatalf("seed %d (GOMR_SEED=%d), command %d: %s", g.seed, g.seed, g.n, fmt.Sprintf(format, args...))
}

// candidate is a command the generator may emit, with the error it must
// get: nil to be accepted, else the sentinel of its rejection.
type candidate struct {
	weight float64
	name   string
	make   func() (Command, error)
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

func (g *gen) aliveWorkers() []*Worker {
	var out []*Worker
	for _, id := range randomWorkers {
		if w, ok := g.s.Workers[id]; ok && w.State == WorkerAlive {
			out = append(out, w)
		}
	}
	return out
}

type taskRef struct {
	step *Step
	task *Task
}

// assignable lists the tasks a scheduler may assign now: PENDING tasks of
// running steps, maps in the MAP phase and reduces in the REDUCE phase.
func (g *gen) assignable() []taskRef {
	var out []taskRef
	for _, st := range g.steps {
		if st.State != StepRunning {
			continue
		}
		var tasks []*Task
		switch st.Phase() {
		case PhaseMap:
			tasks = st.Maps
		case PhaseReduce:
			tasks = st.Reduces
		}
		for _, t := range tasks {
			if t.State == TaskPending {
				out = append(out, taskRef{st, t})
			}
		}
	}
	return out
}

// tasksWhere lists the tasks of steps in stepState that match keep.
func (g *gen) tasksWhere(stepState string, keep func(*Step, *Task) bool) []taskRef {
	var out []taskRef
	for _, st := range g.steps {
		if st.State != stepState {
			continue
		}
		for _, t := range st.Tasks() {
			if keep(st, t) {
				out = append(out, taskRef{st, t})
			}
		}
	}
	return out
}

// running lists the running attempts (all in running steps).
func (g *gen) running() []*Attempt {
	var out []*Attempt
	for _, st := range g.steps {
		if st.State != StepRunning {
			continue
		}
		for _, t := range st.Tasks() {
			for _, a := range t.Attempts {
				if a.State == AttemptRunning {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

func (g *gen) stepsWhere(keep func(*Step) bool) []*Step {
	var out []*Step
	for _, st := range g.steps {
		if keep(st) {
			out = append(out, st)
		}
	}
	return out
}

// attemptName names the next attempt of a task as the scheduler does.
func attemptName(st *Step, t *Task) string {
	k := 'm'
	if t.Kind == KindReduce {
		k = 'r'
	}
	return fmt.Sprintf("attempt_%s_%c_%06d_%d", st.ID, k, t.Index, len(t.Attempts))
}

func (g *gen) randomCounters() map[string]int64 {
	if g.r.IntN(4) == 0 {
		return nil
	}
	c := make(map[string]int64)
	for _, k := range []string{"IN", "OUT"} {
		if g.r.IntN(2) > 0 {
			c[k] = g.r.Int64N(1000)
		}
	}
	return c
}

func (g *gen) candidates() []candidate {
	var cands []candidate
	add := func(weight float64, name string, make func() (Command, error)) {
		if weight > 0 {
			cands = append(cands, candidate{weight, name, make})
		}
	}
	s, r := g.s, g.r
	g.steps = s.StepsInOrder()
	alive := g.aliveWorkers()

	// Workers.
	for _, id := range randomWorkers {
		w, known := s.Workers[id]
		if !known || w.State == WorkerDead {
			weight := 1.0
			if len(alive) < 2 {
				weight = 4
			}
			add(weight, "register", func() (Command, error) {
				g.inc[id] += 1 + r.Int64N(2)
				c := regW(id, g.inc[id], g.tick())
				c.Worker.Slots = 1 + r.IntN(4)
				if r.IntN(2) == 0 {
					c.Worker.Role = RoleTask
				}
				return c, nil
			})
		} else {
			add(0.15, "restart", func() (Command, error) {
				g.inc[id]++
				return regW(id, g.inc[id], g.tick()), nil
			})
			add(0.1, "re-register", func() (Command, error) {
				return regW(id, w.Incarnation, g.tick()), nil
			})
			add(0.4, "down", func() (Command, error) {
				return down(id, w.Incarnation, randomOf(r, []string{"left", "heartbeat", "gossip"}), g.tick()), nil
			})
		}
		if known {
			add(0.05, "bad: old incarnation registers", func() (Command, error) {
				return regW(id, w.Incarnation-1-r.Int64N(2), g.tick()), ErrStale
			})
			add(0.05, "bad: stale down", func() (Command, error) {
				inc := w.Incarnation
				if w.Up() {
					inc += 1 + r.Int64N(2)
					if r.IntN(2) == 0 {
						inc = w.Incarnation - 1
					}
				}
				return down(id, inc, "stale", g.tick()), ErrStale
			})
		}
	}
	add(0.02, "bad: unknown worker down", func() (Command, error) {
		return down("w-none", 1, "x", g.tick()), ErrNotFound
	})
	add(0.05, "primary", func() (Command, error) {
		id := fmt.Sprintf("p%d", r.IntN(3))
		port := r.IntN(100)
		return &RegisterPrimary{Primary: Primary{ID: id, Addr: fmt.Sprintf("%s:%d", id, port), RaftAddr: fmt.Sprintf("%s:%d", id, port+1), GossipAddr: fmt.Sprintf("%s:%d", id, port+2)}}, nil
	})
	add(0.02, "remove primary", func() (Command, error) {
		id := fmt.Sprintf("p%d", r.IntN(3))
		if _, ok := g.s.Primaries[id]; !ok {
			return &RemovePrimary{ID: id}, ErrNotFound
		}
		return &RemovePrimary{ID: id}, nil
	})
	add(0.01, "bad: incomplete primary", func() (Command, error) {
		return &RegisterPrimary{Primary: Primary{ID: "p0", Addr: "a"}}, ErrConflict
	})

	// Steps.
	open := g.stepsWhere(func(st *Step) bool { return !Terminal(st.State) })
	ended := g.stepsWhere(func(st *Step) bool { return Terminal(st.State) })
	busyOutput := func(out string) bool {
		return slices.ContainsFunc(open, func(st *Step) bool { return st.Spec.Output == out })
	}
	if len(open) < 3 {
		add(1.5, "submit", func() (Command, error) {
			g.nextStep++
			id := fmt.Sprintf("s-%04d", g.nextStep)
			output := "/out/" + id
			var want error
			if len(ended) > 0 && r.IntN(5) == 0 {
				output = randomOf(r, ended).Spec.Output
				if busyOutput(output) {
					want = ErrConflict
				}
			}
			sp := StepSpec{Job: "wc", Inputs: []string{"/in"}, Output: output, Reducers: r.IntN(4), MaxAttempts: randomOf(r, []int{0, 1, 2, 2, 3, 3, 4})}
			if r.IntN(8) == 0 {
				sp.Options = map[string]string{"k": strconv.Itoa(r.IntN(9))}
			}
			return &SubmitStep{ID: id, Spec: sp, Time: g.tick()}, want
		})
	}
	if len(open) > 0 {
		add(0.05, "bad: output in use", func() (Command, error) {
			g.nextStep++
			return &SubmitStep{ID: fmt.Sprintf("s-%04d", g.nextStep), Spec: spec(randomOf(r, open).Spec.Output, 1, 1), Time: g.tick()}, ErrConflict
		})
	}
	if len(s.Order) > 0 {
		add(0.02, "bad: step id in use", func() (Command, error) {
			return submit(randomOf(r, s.Order), "/out/fresh", 1, 1, g.tick()), ErrConflict
		})
	}
	for _, st := range open {
		switch st.State {
		case StepPending:
			add(3, "start", func() (Command, error) {
				return start(st.ID, randomOf(r, []int{0, 1, 2, 3, 3, 4, 5, 6}), g.tick()), nil
			})
		case StepRunning:
			add(0.05, "bad: start running step", func() (Command, error) { return start(st.ID, 1, g.tick()), ErrConflict })
			if st.Phase() == PhaseCommit {
				add(5, "complete", func() (Command, error) { return &CompleteStep{ID: st.ID, Time: g.tick()}, nil })
			} else {
				add(0.03, "bad: complete early", func() (Command, error) { return &CompleteStep{ID: st.ID, Time: g.tick()}, ErrConflict })
			}
		}
		add(0.08, "cancel", func() (Command, error) { return &CancelStep{ID: st.ID, Reason: "user", Time: g.tick()}, nil })
		add(0.04, "fail", func() (Command, error) {
			return &FailStep{ID: st.ID, Error: "commit output: disk full", Time: g.tick()}, nil
		})
		add(0.02, "bad: clean up open step", func() (Command, error) { return &StepCleanedUp{ID: st.ID}, ErrConflict })
	}
	for _, st := range ended {
		if !st.CleanedUp {
			add(3, "clean up", func() (Command, error) { return &StepCleanedUp{ID: st.ID}, nil })
		}
	}
	if len(ended) > 0 {
		if clean := g.stepsWhere(func(st *Step) bool { return st.CleanedUp }); len(clean) > 0 {
			add(0.05, "clean up again", func() (Command, error) { return &StepCleanedUp{ID: randomOf(r, clean).ID}, nil })
		}
		add(0.05, "bad: end ended step", func() (Command, error) {
			st := randomOf(r, ended)
			if r.IntN(2) == 0 {
				return &CancelStep{ID: st.ID, Time: g.tick()}, ErrConflict
			}
			return &FailStep{ID: st.ID, Time: g.tick()}, ErrConflict
		})
		add(0.02, "bad: start ended step", func() (Command, error) { return start(randomOf(r, ended).ID, 1, g.tick()), ErrConflict })
	}
	add(0.02, "bad: unknown step", func() (Command, error) {
		switch r.IntN(5) {
		case 0:
			return start("s-none", 1, g.tick()), ErrNotFound
		case 1:
			return &CancelStep{ID: "s-none", Time: g.tick()}, ErrNotFound
		case 2:
			return &FailStep{ID: "s-none", Time: g.tick()}, ErrNotFound
		case 3:
			return &CompleteStep{ID: "s-none", Time: g.tick()}, ErrNotFound
		}
		return &StepCleanedUp{ID: "s-none"}, ErrNotFound
	})

	// Assignments.
	ready := g.assignable()
	if len(ready) > 0 && len(alive) > 0 {
		add(6, "assign", func() (Command, error) {
			return &Assign{Assignments: g.plan(ready, alive), Time: g.tick()}, nil
		})
	}
	if len(alive) > 0 {
		add(0.4, "bad: assign", g.badAssign)
	}

	// Reports.
	running := g.running()
	if len(running) > 0 {
		add(8, "finish", func() (Command, error) {
			a := randomOf(r, running)
			x := r.IntN(100)
			switch {
			case x < 80:
				files := []string{}
				if r.IntN(2) == 0 {
					files = []string{"part-" + strconv.Itoa(r.IntN(10))}
				}
				return succeed(a.ID, a.Worker, a.Incarnation, g.tick(), g.randomCounters(), files...), nil
			case x < 99:
				return fail(a.ID, a.Worker, a.Incarnation, g.tick(), fmt.Sprintf("error %d", r.IntN(10))), nil
			}
			c := fail(a.ID, a.Worker, a.Incarnation, g.tick(), "corrupt input")
			c.Fatal = true
			return c, nil
		})
		add(0.1, "bad: report from another incarnation", func() (Command, error) {
			a := randomOf(r, running)
			if r.IntN(2) == 0 {
				return succeed(a.ID, a.Worker, a.Incarnation+1, g.tick(), nil), ErrStale
			}
			return fail(a.ID, a.Worker+"x", a.Incarnation, g.tick(), "x"), ErrStale
		})
	}
	if len(g.ids) > len(running) {
		add(0.25, "bad: report of an ended attempt", func() (Command, error) {
			for {
				if _, _, a, _ := s.Attempt(randomOf(r, g.ids)); a.State != AttemptRunning {
					return succeed(a.ID, a.Worker, a.Incarnation, g.tick(), nil), ErrStale
				}
			}
		})
	}
	if len(running) > 0 {
		add(0.6, "kill attempt", func() (Command, error) {
			a := randomOf(r, running)
			return &KillAttempt{AttemptID: a.ID, Reason: "killed", Failed: r.IntN(3) == 0, Time: g.tick()}, nil
		})
	}
	// Backups of running tasks on another alive worker.
	backups := g.tasksWhere(StepRunning, func(st *Step, t *Task) bool { return t.State == TaskRunning && len(t.Running()) == 1 })
	if len(backups) > 0 && len(alive) > 1 {
		add(1, "speculative assign", func() (Command, error) {
			tr := randomOf(r, backups)
			w := randomOf(r, alive)
			want := error(nil)
			if w.ID == tr.task.Running()[0].Worker || (tr.task.Kind == KindReduce && !allSucceeded(tr.step.Maps)) {
				want = ErrConflict
			}
			as := asg(attemptName(tr.step, tr.task), tr.step.ID, tr.task.Kind, tr.task.Index, w.ID, w.Incarnation)
			as.Speculative = true
			return &Assign{Assignments: []Assignment{as}, Time: g.tick()}, want
		})
	}
	// Map outputs reducers cannot fetch.
	lost := g.tasksWhere(StepRunning, func(st *Step, t *Task) bool {
		return t.Kind == KindMap && t.Winner != "" && !allSucceeded(st.Reduces)
	})
	if len(lost) > 0 {
		add(0.3, "map output lost", func() (Command, error) {
			return &MapOutputLost{AttemptID: randomOf(r, lost).task.Winner, Reason: "fetch failed", Time: g.tick()}, nil
		})
	}
	if len(alive) > 1 {
		add(0.1, "drain worker", func() (Command, error) {
			return &DrainWorker{ID: randomOf(r, alive).ID, Time: g.tick()}, nil
		})
	}
	add(0.02, "bad: report of an unknown attempt", func() (Command, error) {
		return succeed("attempt_none", "w1", 1, g.tick(), nil), ErrNotFound
	})
	return cands
}

// plan picks up to a few ready tasks for one or two alive workers, in the
// scheduler's order or shuffled.
func (g *gen) plan(ready []taskRef, alive []*Worker) []Assignment {
	r := g.r
	ready = slices.Clone(ready)
	if r.IntN(2) == 0 {
		r.Shuffle(len(ready), func(i, j int) { ready[i], ready[j] = ready[j], ready[i] })
	}
	n := min(len(ready), 1+r.IntN(4))
	out := make([]Assignment, 0, n)
	for _, tr := range ready[:n] {
		w := randomOf(r, alive)
		out = append(out, asg(attemptName(tr.step, tr.task), tr.step.ID, tr.task.Kind, tr.task.Index, w.ID, w.Incarnation))
	}
	return out
}

// badAssign makes an Assign that must be rejected as a whole: one bad
// assignment, alone or next to good ones.
func (g *gen) badAssign() (Command, error) {
	r, s := g.r, g.s
	alive := g.aliveWorkers()
	ready := g.assignable()
	w := randomOf(r, alive)
	g.nextBad++
	badID := fmt.Sprintf("bad-%d", g.nextBad)

	type option struct {
		as   Assignment
		want error
		task *Task // the task the bad assignment names, if any
	}
	var opts []option
	if ts := g.tasksWhere(StepRunning, func(_ *Step, t *Task) bool { return t.State == TaskRunning || t.State == TaskSucceeded }); len(ts) > 0 {
		tr := randomOf(r, ts)
		opts = append(opts, option{asg(badID, tr.step.ID, tr.task.Kind, tr.task.Index, w.ID, w.Incarnation), ErrConflict, tr.task})
	}
	if ts := g.tasksWhere(StepRunning, func(st *Step, t *Task) bool {
		return t.Kind == KindReduce && t.State == TaskPending && st.Phase() == PhaseMap
	}); len(ts) > 0 {
		tr := randomOf(r, ts)
		opts = append(opts, option{asg(badID, tr.step.ID, KindReduce, tr.task.Index, w.ID, w.Incarnation), ErrConflict, tr.task})
	}
	for _, state := range []string{StepCompleted, StepFailed, StepCancelled} {
		if ts := g.tasksWhere(state, func(*Step, *Task) bool { return true }); len(ts) > 0 {
			tr := randomOf(r, ts)
			opts = append(opts, option{asg(badID, tr.step.ID, tr.task.Kind, tr.task.Index, w.ID, w.Incarnation), ErrConflict, tr.task})
		}
	}
	if len(ready) > 0 {
		tr := randomOf(r, ready)
		var dead []*Worker
		for _, id := range randomWorkers {
			if dw, ok := s.Workers[id]; ok && dw.State == WorkerDead {
				dead = append(dead, dw)
			}
		}
		if len(dead) > 0 {
			dw := randomOf(r, dead)
			opts = append(opts, option{asg(badID, tr.step.ID, tr.task.Kind, tr.task.Index, dw.ID, dw.Incarnation), ErrStale, tr.task})
		}
		opts = append(opts,
			option{asg(badID, tr.step.ID, tr.task.Kind, tr.task.Index, w.ID, w.Incarnation-1), ErrStale, tr.task},
			option{asg(badID, tr.step.ID, tr.task.Kind, tr.task.Index, w.ID, w.Incarnation+1), ErrStale, tr.task},
			option{asg(badID, tr.step.ID, tr.task.Kind, tr.task.Index, "w-none", 1), ErrStale, tr.task},
			option{asg(badID, tr.step.ID, tr.task.Kind, len(tr.step.Maps)+len(tr.step.Reduces), w.ID, w.Incarnation), ErrNotFound, nil},
		)
		if len(g.ids) > 0 {
			opts = append(opts, option{asg(randomOf(r, g.ids), tr.step.ID, tr.task.Kind, tr.task.Index, w.ID, w.Incarnation), ErrConflict, tr.task})
		}
	}
	opts = append(opts, option{asg(badID, "s-none", KindMap, 0, w.ID, w.Incarnation), ErrNotFound, nil})
	bad := randomOf(r, opts)

	// Good assignments for other tasks around it.
	var good []Assignment
	if r.IntN(3) > 0 {
		others := slices.DeleteFunc(slices.Clone(ready), func(tr taskRef) bool { return tr.task == bad.task })
		if len(others) > 0 {
			good = g.plan(others, alive)
		}
	}
	as := slices.Clone(good)
	at := r.IntN(len(as) + 1)
	as = slices.Insert(as, at, bad.as)
	return &Assign{Assignments: as, Time: g.tick()}, bad.want
}

// run makes, encodes, decodes and applies one command.
func (g *gen) run() {
	g.t.Helper()
	c := g.pick(g.candidates())
	cmd, want := c.make()
	entry, err := Encode(cmd)
	if err != nil {
		g.fatalf("encode %s: %v", c.name, err)
	}
	decoded, err := Decode(entry)
	if err != nil {
		g.fatalf("decode %s: %v", c.name, err)
	}
	var before string
	if want != nil {
		before = g.touched(decoded)
	}
	err = g.s.Apply(decoded)
	switch {
	case want == nil && err != nil:
		g.fatalf("%s %s rejected: %v", c.name, js(cmd), err)
	case want != nil && !errors.Is(err, want):
		g.fatalf("%s %s: got %v, want %v", c.name, js(cmd), err, want)
	case want != nil:
		if after := g.touched(decoded); after != before {
			g.fatalf("rejected %s %s changed the state:\nbefore %s\nafter  %s", c.name, js(cmd), before, after)
		}
		g.rejected[want.Error()]++
	default:
		g.accepted[cmd.Type()]++
		if as, ok := decoded.(*Assign); ok {
			for _, a := range as.Assignments {
				g.ids = append(g.ids, a.AttemptID)
			}
		}
	}
	g.events[c.name]++
	g.entries = append(g.entries, entry)
	if err != nil {
		g.errs = append(g.errs, err.Error())
	} else {
		g.errs = append(g.errs, "")
	}
	if err := g.chk.check(g.s, g.n%fullCheckInterval == fullCheckInterval-1); err != nil {
		g.fatalf("after %s %s: invariant broken: %v", c.name, js(cmd), err)
	}
}

// touched encodes what a rejected command could have changed: everything
// but the ended steps it does not name. (Ended steps never change but for
// CleanedUp; the unit tests compare whole snapshots for every rejection.)
func (g *gen) touched(c Command) string {
	s := g.s
	named := make(map[string]bool)
	switch c := c.(type) {
	case *SubmitStep:
		named[c.ID] = true
	case *StartStep:
		named[c.ID] = true
	case *CancelStep:
		named[c.ID] = true
	case *FailStep:
		named[c.ID] = true
	case *CompleteStep:
		named[c.ID] = true
	case *StepCleanedUp:
		named[c.ID] = true
	case *Assign:
		for _, a := range c.Assignments {
			named[a.StepID] = true
			if st, _, _, ok := s.Attempt(a.AttemptID); ok {
				named[st.ID] = true
			}
		}
	case *FinishAttempt:
		if st, _, _, ok := s.Attempt(c.AttemptID); ok {
			named[st.ID] = true
		}
	}
	steps := make(map[string]*Step)
	for id, st := range s.Steps {
		if named[id] || !Terminal(st.State) {
			steps[id] = st
		}
	}
	var cleaned []string
	for _, id := range s.Order {
		if s.Steps[id].CleanedUp {
			cleaned = append(cleaned, id)
		}
	}
	b, err := json.Marshal(struct {
		Primaries map[string]*Primary
		Workers   map[string]*Worker
		Order     []string
		NextSeq   uint64
		Steps     map[string]*Step
		Cleaned   []string
		Index     int
	}{s.Primaries, s.Workers, s.Order, s.NextSeq, steps, cleaned, len(s.attempts)})
	if err != nil {
		g.fatalf("encode: %v", err)
	}
	return string(b)
}

func snapString(s *State) string {
	var b bytes.Buffer
	if _, err := s.WriteTo(&b); err != nil {
		panic(err)
	}
	return b.String()
}

// checkInvariants checks every invariant of a state.
func checkInvariants(s *State) error {
	return newChecker().check(s, true)
}

// checker checks the invariants of a state after each command. Ended
// steps never change again (but for CleanedUp), so once one has been
// checked whole it is frozen: later checks look at its step fields only,
// and at all of it again in full checks.
type checker struct {
	// frozen[i] is 1 + the number of attempts of the step at Order[i]
	// once that step is frozen, else 0.
	frozen         []int
	frozenAttempts int
	// prints holds a fingerprint of each step when it was first frozen:
	// full checks make sure an ended step's tasks never change.
	prints map[*Step]string
}

func newChecker() *checker { return &checker{prints: make(map[*Step]string)} }

// fingerprint sums up what may not change once a step ended.
func fingerprint(st *Step) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %d %q|", st.State, st.StartedAt, st.EndedAt, st.Error)
	for _, t := range st.Tasks() {
		fmt.Fprintf(&b, "%s%d %s %s:", t.Kind, t.Index, t.State, t.Winner)
		for _, a := range t.Attempts {
			fmt.Fprintf(&b, " %s %s %d %q %d %d;", a.ID, a.State, a.EndedAt, a.Error, len(a.Counters), len(a.Files))
		}
	}
	return b.String()
}

func (c *checker) check(s *State, full bool) error {
	if full {
		c.frozen, c.frozenAttempts = nil, 0
	}
	if len(s.Order) != len(s.Steps) {
		return fmt.Errorf("%d steps in Order, %d in Steps", len(s.Order), len(s.Steps))
	}
	// With as many entries as Steps, Order lists each step exactly once
	// when every entry names a step whose Seq is its position.
	steps := make([]*Step, len(s.Order))
	for i, id := range s.Order {
		st, ok := s.Steps[id]
		if !ok {
			return fmt.Errorf("Order lists unknown step %s", id)
		}
		if st.ID != id || st.Seq != uint64(i+1) {
			return fmt.Errorf("step %s at Order[%d] has id %s seq %d (listed twice?)", id, i, st.ID, st.Seq)
		}
		steps[i] = st
	}
	for len(c.frozen) < len(steps) {
		c.frozen = append(c.frozen, 0)
	}
	if s.NextSeq != uint64(len(s.Order)) {
		return fmt.Errorf("NextSeq %d with %d steps", s.NextSeq, len(s.Order))
	}
	for id, w := range s.Workers {
		if w.ID != id || (!w.Up() && w.State != WorkerDead) || (w.State == WorkerDead) != (w.DownAt != 0) {
			return fmt.Errorf("worker %s: %s", id, js(w))
		}
	}

	outputs := make(map[string]string)
	attempts := c.frozenAttempts
	for i, st := range steps {
		if err := checkStepFields(st); err != nil {
			return err
		}
		if !Terminal(st.State) {
			if other, ok := outputs[st.Spec.Output]; ok {
				return fmt.Errorf("steps %s and %s both write %s", other, st.ID, st.Spec.Output)
			}
			outputs[st.Spec.Output] = st.ID
		}
		if c.frozen[i] > 0 {
			continue
		}
		n, err := checkTasks(s, st)
		if err != nil {
			return err
		}
		attempts += n
		if Terminal(st.State) {
			c.frozen[i] = n + 1
			c.frozenAttempts += n
			p := fingerprint(st)
			if was, ok := c.prints[st]; !ok {
				c.prints[st] = p
			} else if was != p {
				return fmt.Errorf("ended step %s changed:\nwas %s\nnow %s", st.ID, was, p)
			}
		}
	}
	if attempts != len(s.attempts) {
		return fmt.Errorf("%d attempts, %d in the index", attempts, len(s.attempts))
	}
	return nil
}

func checkStepFields(st *Step) error {
	switch st.State {
	case StepPending:
		if len(st.Maps)+len(st.Reduces) != 0 || st.StartedAt != 0 || st.EndedAt != 0 {
			return fmt.Errorf("pending step %s has tasks or times", st.ID)
		}
	case StepRunning:
		if len(st.Reduces) != st.Spec.Reducers || st.EndedAt != 0 || st.StartedAt == 0 {
			return fmt.Errorf("running step %s: %d reduces for %d reducers, ended %d", st.ID, len(st.Reduces), st.Spec.Reducers, st.EndedAt)
		}
	case StepCompleted, StepFailed, StepCancelled:
		if st.EndedAt == 0 {
			return fmt.Errorf("ended step %s has no end time", st.ID)
		}
		if st.StartedAt == 0 && !st.CleanedUp {
			return fmt.Errorf("step %s never started but is not cleaned up", st.ID)
		}
	default:
		return fmt.Errorf("step %s in state %q", st.ID, st.State)
	}
	if st.State == StepCompleted && (st.Error != "" || !st.CleanedUp) {
		return fmt.Errorf("completed step %s: error %q cleaned %v", st.ID, st.Error, st.CleanedUp)
	}
	return nil
}

// checkTasks checks a step's tasks and attempts and returns how many
// attempts it has.
func checkTasks(s *State, st *Step) (int, error) {
	for i, t := range st.Maps {
		if t.Kind != KindMap || t.Index != i || t.Split == nil {
			return 0, fmt.Errorf("step %s map %d: kind %s index %d", st.ID, i, t.Kind, t.Index)
		}
	}
	for i, t := range st.Reduces {
		if t.Kind != KindReduce || t.Index != i || t.Split != nil {
			return 0, fmt.Errorf("step %s reduce %d: kind %s index %d", st.ID, i, t.Kind, t.Index)
		}
	}
	n := 0
	for _, t := range st.Tasks() {
		fail := func(format string, args ...any) (int, error) {
			return 0, fmt.Errorf("step %s (%s) %s task %d (%s): %s", st.ID, st.State, t.Kind, t.Index, t.State, fmt.Sprintf(format, args...))
		}
		running := 0
		for _, a := range t.Attempts {
			n++
			rs, rt, ra, ok := s.Attempt(a.ID)
			if !ok || rs != st || rt != t || ra != a {
				return fail("attempt %s is not indexed to itself", a.ID)
			}
			switch a.State {
			case AttemptRunning:
				running++
				if st.State != StepRunning {
					return fail("attempt %s runs in an ended step", a.ID)
				}
				w, ok := s.Workers[a.Worker]
				if !ok || w.Incarnation != a.Incarnation || !w.Up() {
					return fail("running attempt %s on %s incarnation %d, which is not alive", a.ID, a.Worker, a.Incarnation)
				}
				if a.EndedAt != 0 {
					return fail("running attempt %s has an end time", a.ID)
				}
			case AttemptSucceeded, AttemptFailed, AttemptKilled:
				if a.EndedAt < a.StartedAt || a.EndedAt == 0 {
					return fail("attempt %s ended at %d, started at %d", a.ID, a.EndedAt, a.StartedAt)
				}
			default:
				return fail("attempt %s in state %q", a.ID, a.State)
			}
		}
		switch t.State {
		case TaskSucceeded:
			w := t.WinningAttempt()
			if t.Winner == "" || w == nil || w.State != AttemptSucceeded {
				return fail("winner %q is not a succeeded attempt of the task", t.Winner)
			}
			if running != 0 {
				return fail("succeeded task has %d running attempts", running)
			}
		case TaskRunning:
			// One attempt runs, or two when the second is a backup.
			if running < 1 || running > 2 {
				return fail("%d running attempts", running)
			}
			if running == 2 && !slices.ContainsFunc(t.Attempts, func(a *Attempt) bool { return a.State == AttemptRunning && a.Speculative }) {
				return fail("two running attempts and no backup")
			}
		case TaskPending:
			if running != 0 {
				return fail("pending task has %d running attempts", running)
			}
		case TaskFailed:
			if running != 0 || st.State != StepFailed {
				return fail("failed task with %d running attempts", running)
			}
			fatal := strings.HasPrefix(st.Error, strings.ToLower(t.Kind)+" task ") && !strings.Contains(st.Error, "failed")
			if st.Spec.MaxAttempts >= 1 && t.failures() < st.Spec.MaxAttempts && !fatal {
				return fail("failed after %d failures, max %d", t.failures(), st.Spec.MaxAttempts)
			}
		default:
			return fail("unknown task state")
		}
		if t.State != TaskSucceeded && t.Winner != "" {
			return fail("winner %q", t.Winner)
		}
		if st.State == StepCompleted && t.State != TaskSucceeded {
			return fail("not succeeded in a completed step")
		}
	}
	return n, nil
}

// replay is a state fed the recorded entries as a Raft follower would be.
type replay struct {
	name string
	s    *State
}

func TestRandomSequence(t *testing.T) {
	seed := randomSeed(t)
	t.Logf("seed %d (set GOMR_SEED=%d to repeat)", seed, seed)
	g := &gen{
		t: t, seed: seed, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s: New(),
		now: 1_000_000, inc: make(map[string]int64), chk: newChecker(),
		accepted: make(map[CommandType]int), rejected: make(map[string]int), events: make(map[string]int),
	}
	t0 := time.Now()
	for g.n = 0; g.n < randomCommands; g.n++ {
		g.run()
	}
	generated := time.Since(t0)
	t0 = time.Now()
	g.n = randomCommands
	final := snapString(g.s)

	// (a) Determinism: two fresh states fed the same entries end identical,
	// with the same result for every entry.
	// (b) Snapshots: every snapshotInterval entries, a state restored from a
	// snapshot of the first replica round-trips byte for byte and then
	// follows the rest of the log in step with it.
	replicas := []*replay{{name: "replica A", s: New()}, {name: "replica B", s: New()}}
	for i, entry := range g.entries {
		if i > 0 && i%snapshotInterval == 0 {
			b := snapString(replicas[0].s)
			restored, err := Read(strings.NewReader(b))
			if err != nil {
				t.Fatalf("seed %d: Read snapshot at %d: %v", seed, i, err)
			}
			if again := snapString(restored); again != b {
				t.Fatalf("seed %d: snapshot at %d does not round-trip: %s", seed, i, firstDiff(b, again))
			}
			if err := checkInvariants(restored); err != nil {
				t.Fatalf("seed %d: restored at %d: %v", seed, i, err)
			}
			replicas = append(replicas, &replay{name: fmt.Sprintf("restored at %d", i), s: restored})
		}
		// Each fresh replica decodes its own copy of the entry, as a Raft
		// follower does; the restored ones share one.
		var shared Command
		for k, rp := range replicas {
			c := shared
			if k < 3 {
				var err error
				if c, err = Decode(entry); err != nil {
					t.Fatalf("seed %d: entry %d: %v", seed, i, err)
				}
				shared = c
			}
			got := ""
			if err := rp.s.Apply(c); err != nil {
				got = err.Error()
			}
			if got != g.errs[i] {
				t.Fatalf("seed %d: entry %d (%s): %s got error %q, the original got %q", seed, i, c.Type(), rp.name, got, g.errs[i])
			}
		}
	}
	if len(replicas) != 2+(randomCommands-1)/snapshotInterval {
		t.Fatalf("%d replicas", len(replicas))
	}
	for _, rp := range replicas {
		if got := snapString(rp.s); got != final {
			t.Fatalf("seed %d: %s ends different from the original: %s", seed, rp.name, firstDiff(final, got))
		}
		if err := checkInvariants(rp.s); err != nil {
			t.Fatalf("seed %d: %s: %v", seed, rp.name, err)
		}
	}

	t.Logf("generated and checked %d commands in %v, replayed them into %d replicas in %v", randomCommands, generated, len(replicas), time.Since(t0))
	// Counters agree with the attempts of each step.
	for _, st := range g.s.StepsInOrder() {
		checkCounters(t, seed, st)
	}

	// The run must have exercised the state machine broadly.
	states := make(map[string]int)
	lost, maxFailed := 0, 0
	for _, st := range g.s.StepsInOrder() {
		states[st.State]++
		for _, tk := range st.Tasks() {
			if tk.State == TaskFailed {
				maxFailed++
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
	t.Logf("steps %v, tasks failed %d, map outputs lost %d, snapshot %d bytes", states, maxFailed, lost, len(final))
	names := make([]string, 0, len(g.events))
	for k := range g.events {
		names = append(names, k)
	}
	sort.Strings(names)
	var ev strings.Builder
	for _, k := range names {
		fmt.Fprintf(&ev, " %s=%d", k, g.events[k])
	}
	t.Logf("commands:%s", ev.String())
	for ct := CmdRegisterWorker; ct <= CmdMapOutputLost; ct++ {
		if g.accepted[ct] == 0 {
			t.Errorf("seed %d: no %s was accepted", seed, ct)
		}
	}
	for _, e := range sentinels {
		if g.rejected[e.Error()] == 0 {
			t.Errorf("seed %d: nothing was rejected as %v", seed, e)
		}
	}
	if states[StepCompleted] == 0 || states[StepFailed] == 0 || states[StepCancelled] == 0 {
		t.Errorf("seed %d: steps ended %v, want some of each end", seed, states)
	}
	if lost == 0 {
		t.Errorf("seed %d: no map output was ever lost", seed)
	}
}

// checkCounters recomputes a step's counters from its attempts.
func checkCounters(t *testing.T, seed uint64, st *Step) {
	t.Helper()
	want := make(map[string]int64)
	for _, tk := range st.Tasks() {
		prefix := "MAPS"
		if tk.Kind == KindReduce {
			prefix = "REDUCES"
		}
		for _, a := range tk.Attempts {
			want["LAUNCHED_"+prefix]++
			if a.Speculative {
				want["SPECULATIVE_ATTEMPTS"]++
			}
			switch a.State {
			case AttemptFailed:
				want["FAILED_"+prefix]++
			case AttemptKilled:
				want["KILLED_"+prefix]++
			}
			if a.ID == tk.Winner {
				for k, v := range a.Counters {
					want[k] += v
				}
			}
		}
	}
	got := st.Counters()
	if !mapsEqual(got, want) {
		t.Fatalf("seed %d: step %s counters %v, want %v", seed, st.ID, got, want)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// firstDiff shows where two long snapshots first differ.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-80)
	return fmt.Sprintf("%d vs %d bytes, first difference at %d:\n  %s\n  %s", len(a), len(b), i, a[from:min(len(a), i+80)], b[from:min(len(b), i+80)])
}
