// Package scheduler decides which tasks a worker runs next. It is a pure
// function of a read-only view of the replicated state and the leader's
// clock: it returns assignments, and the leader commits them through Raft.
// The state machine re-checks every assignment, so a plan made from a view
// that has since changed is rejected, never half applied.
package scheduler

import (
	"slices"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/state"
)

// Worker is the worker asking for work.
type Worker struct {
	ID          string
	Incarnation int64
	// Free is how many attempts it can start now.
	Free int
	// Tiny is how many more attempts of tiny map tasks (Split.Tiny) it
	// can start beside its slots: such a task takes little CPU or memory,
	// and its time goes mostly to the bookkeeping of its start and end,
	// which attempts running side by side share.
	Tiny int
}

// Options are the scheduling policy.
type Options struct {
	// Now is the leader's clock, in Unix nanoseconds.
	Now int64
	// SlowFactor and MinGap decide when a running attempt is slow enough
	// to get a speculative backup: it has run SlowFactor times the median
	// time of the phase's succeeded attempts, and at least MinGap longer.
	SlowFactor float64
	MinGap     time.Duration
	// MaxFailuresPerWorker excludes a worker from a step once that many of
	// the step's attempts failed on it (Hadoop's per-node task failure
	// limit), unless every live worker is excluded.
	MaxFailuresPerWorker int
	// Locality, if set, returns the workers holding the data a map
	// task's split reads (the HDFS replicas of its block), nil when any
	// worker is as good.
	Locality func(*mapreduce.Split) []string
	// LocalityWait is how long a map task whose data is on some workers
	// waits for a slot on one of them before another worker runs it
	// (delay scheduling).
	LocalityWait time.Duration
	// Skip, if set, reports tasks to leave alone: those the leader is
	// committing assignments of already, which the view does not show
	// yet.
	Skip func(*state.Task) bool
}

// Assign picks up to w.Free attempts for w, and up to w.Tiny more of tiny
// map tasks: first the pending tasks of the running steps' current phases
// (maps, then reduces once every map has succeeded), oldest step first
// and lowest index first; then, for steps with nothing pending,
// speculative backups of the phase's slowest running attempts, which run
// on other workers (in slots, never beside them). A tiny task takes a
// tiny slot while one is free. A draining worker, and a worker excluded
// from a step for its failures there, get nothing of it.
func Assign(v *state.View, w Worker, opt Options) []state.Assignment {
	if w.Free <= 0 && w.Tiny <= 0 {
		return nil
	}
	wk, ok := v.Worker(w.ID)
	if !ok || wk.Incarnation != w.Incarnation || wk.State != state.WorkerAlive {
		return nil
	}
	var out []state.Assignment
	free, tiny := w.Free, w.Tiny
	// add assigns t if a slot for it is free, and reports whether every
	// slot is taken.
	add := func(step *state.Step, t *state.Task, speculative bool) bool {
		switch {
		case !speculative && tiny > 0 && t.Kind == state.KindMap && t.Split.Tiny():
			tiny--
		case free > 0:
			free--
		default:
			return false
		}
		out = append(out, state.Assignment{
			AttemptID:   state.AttemptID(step.ID, t.Kind, t.Index, len(t.Attempts)),
			StepID:      step.ID,
			Kind:        t.Kind,
			Index:       t.Index,
			Worker:      w.ID,
			Incarnation: w.Incarnation,
			Speculative: speculative,
		})
		return free == 0 && tiny == 0
	}
	// Pending work first, across every running step; backups only with
	// slots to spare.
	var speculate []*state.Step
	for _, step := range v.StepsIn(state.StepRunning) {
		if excluded(v, step, w.ID, opt.MaxFailuresPerWorker) {
			continue
		}
		kind := phaseKind(step)
		pending := false
		var later []*state.Task // tasks whose data is elsewhere, if their wait is over
		looked := 0
		for t := range v.TasksIn(step.ID, kind, state.TaskPending) {
			pending = true
			if free == 0 && looked >= maxTinyLook {
				break // only tiny slots are left, and this step's tasks are not tiny
			}
			looked++
			if opt.Skip != nil && opt.Skip(t) {
				continue
			}
			switch local(t, w.ID, opt) {
			case preferElsewhere:
				if waitedFor(step, t, opt) {
					later = append(later, t)
				}
				continue
			}
			if add(step, t, false) {
				return out
			}
		}
		for _, t := range later {
			if add(step, t, false) {
				return out
			}
		}
		if !pending && !step.Spec.NoSpeculation {
			speculate = append(speculate, step)
		}
	}
	for _, step := range speculate {
		if free == 0 {
			break
		}
		for _, t := range slowTasks(v, step, w.ID, opt) {
			if add(step, t, true) {
				return out
			}
		}
	}
	return out
}

// maxTinyLook is how many pending tasks of a step Assign looks at for a
// tiny one once only tiny slots are left.
const maxTinyLook = 64

// locality is how a task's data stands to a worker.
type locality int

const (
	anywhere        locality = iota // no worker is better than another
	onThisWorker                    // the worker holds the task's data
	preferElsewhere                 // other workers hold it
)

func local(t *state.Task, worker string, opt Options) locality {
	if opt.Locality == nil || t.Kind != state.KindMap {
		return anywhere
	}
	holders := opt.Locality(t.Split)
	switch {
	case len(holders) == 0:
		return anywhere
	case slices.Contains(holders, worker):
		return onThisWorker
	}
	return preferElsewhere
}

// waitedFor reports whether a pending task has waited its locality wait:
// since its step started, or since its last attempt ended.
func waitedFor(step *state.Step, t *state.Task, opt Options) bool {
	since := step.StartedAt
	for _, a := range t.Attempts {
		since = max(since, a.EndedAt)
	}
	return opt.Now-since >= int64(opt.LocalityWait)
}

// phaseKind returns the kind of task a running step's current phase runs.
func phaseKind(step *state.Step) state.TaskKind {
	if step.Phase() == state.PhaseReduce {
		return state.KindReduce
	}
	return state.KindMap
}

// excluded reports whether a worker has failed too many of a step's
// attempts to get more, while some other live worker has not.
func excluded(v *state.View, step *state.Step, worker string, limit int) bool {
	if limit <= 0 || step.FailuresOn[worker] < limit {
		return false
	}
	for _, w := range v.Workers() {
		if w.State == state.WorkerAlive && step.FailuresOn[w.ID] < limit {
			return true
		}
	}
	return false
}

// slowTasks returns the running tasks of a step's phase whose only
// attempt is slow and runs on another worker than the one asking, slowest
// first.
func slowTasks(v *state.View, step *state.Step, worker string, opt Options) []*state.Task {
	if opt.SlowFactor <= 0 {
		return nil
	}
	kind := phaseKind(step)
	var durations []int64
	for t := range v.TasksIn(step.ID, kind, state.TaskSucceeded) {
		for _, a := range t.Attempts {
			if a.State == state.AttemptSucceeded {
				durations = append(durations, a.EndedAt-a.StartedAt)
			}
		}
	}
	if len(durations) == 0 {
		return nil
	}
	slices.Sort(durations)
	median := durations[len(durations)/2]
	type slow struct {
		t       *state.Task
		elapsed int64
	}
	var found []slow
	for t := range v.TasksIn(step.ID, kind, state.TaskRunning) {
		running := t.Running()
		if len(running) != 1 || running[0].Worker == worker || t.HasBackup() || (opt.Skip != nil && opt.Skip(t)) {
			continue // one backup per task, on another worker
		}
		elapsed := opt.Now - running[0].StartedAt
		if float64(elapsed) > opt.SlowFactor*float64(median) && elapsed-median > int64(opt.MinGap) {
			found = append(found, slow{t, elapsed})
		}
	}
	slices.SortStableFunc(found, func(a, b slow) int { return int(b.elapsed - a.elapsed) })
	out := make([]*state.Task, len(found))
	for i, s := range found {
		out[i] = s.t
	}
	return out
}
