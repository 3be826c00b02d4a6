package state

import (
	"iter"

	"github.com/hashicorp/go-memdb"
)

// View is a read-only, consistent view of the state as of one applied
// entry. Taking one costs a pointer copy and never blocks Apply; it may
// be read from any goroutine, for as long as needed.
type View struct {
	txn     *memdb.Txn
	watches *stepWatches // of the State the view was taken of
}

// first returns the object of table whose index key is k, or nil.
func first[T any](txn *memdb.Txn, table, idx, k string) (T, bool) {
	raw, err := txn.First(table, idx, k)
	if err != nil {
		panic(err) // a schema bug
	}
	if raw == nil {
		var zero T
		return zero, false
	}
	return raw.(T), true
}

// all yields the objects an iterator returns.
func all[T any](it memdb.ResultIterator, err error) iter.Seq[T] {
	if err != nil {
		panic(err) // a schema bug
	}
	return func(yield func(T) bool) {
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if !yield(raw.(T)) {
				return
			}
		}
	}
}

func collect[T any](seq iter.Seq[T]) []T {
	var out []T
	for x := range seq {
		out = append(out, x)
	}
	return out
}

// Primary returns a primary by id.
func (v *View) Primary(id string) (*Primary, bool) {
	return first[*Primary](v.txn, tablePrimaries, indexID, id)
}

// Primaries returns every announced primary, by id.
func (v *View) Primaries() []*Primary {
	return collect(all[*Primary](v.txn.Get(tablePrimaries, indexID+"_prefix", "")))
}

// Worker returns a worker by id.
func (v *View) Worker(id string) (*Worker, bool) {
	return first[*Worker](v.txn, tableWorkers, indexID, id)
}

// Workers returns every worker ever registered (its latest incarnation),
// by id.
func (v *View) Workers() []*Worker {
	return collect(all[*Worker](v.txn.Get(tableWorkers, indexID+"_prefix", "")))
}

// Step returns a step by id.
func (v *View) Step(id string) (*Step, bool) {
	return first[*Step](v.txn, tableSteps, indexID, id)
}

// WatchStep returns a step by id with a channel that is closed once a
// later Apply changes (or removes) it; a missing step's channel closes
// when the step appears (or, sooner, when any step changes: look again).
// The channel belongs to the state as it is now, not to this view: take
// the step from the same call.
//
// The channel is closed already when the state holds a newer version of
// the step than the view does, and for a View not taken of a State.
func (v *View) WatchStep(id string) (*Step, <-chan struct{}, bool) {
	st, ok := v.Step(id)
	if v.watches == nil {
		return st, closedChan, ok
	}
	return st, v.watches.watch(id, st), ok
}

// Steps yields every step in submission order.
func (v *View) Steps() iter.Seq[*Step] {
	return all[*Step](v.txn.Get(tableSteps, indexSeq+"_prefix", ""))
}

// StepsNewestFirst yields the steps submitted before the step of sequence
// number before (every step when before is 0), newest first.
func (v *View) StepsNewestFirst(before uint64) iter.Seq[*Step] {
	if before == 0 {
		return all[*Step](v.txn.GetReverse(tableSteps, indexSeq+"_prefix", ""))
	}
	return all[*Step](v.txn.ReverseLowerBound(tableSteps, indexSeq, seqKey(before-1)))
}

// StepCount returns how many steps were ever submitted.
func (v *View) StepCount() int {
	m, _ := first[*meta](v.txn, tableMeta, indexID, metaNextSeq)
	if m == nil {
		return 0
	}
	return int(m.Value)
}

// StepsIn returns the steps in any of the given states, in submission
// order. It is cheap for the states few steps are in (pending, running).
func (v *View) StepsIn(states ...StepState) []*Step {
	var out []*Step
	for _, s := range states {
		out = append(out, collect(all[*Step](v.txn.Get(tableSteps, indexState+"_prefix", key(string(s), ""))))...)
	}
	sortBySeq(out)
	return out
}

// StepsToCleanUp returns the ended steps whose partial output has not
// been removed yet, in submission order.
func (v *View) StepsToCleanUp() []*Step {
	var out []*Step
	for _, s := range []StepState{StepFailed, StepCancelPending, StepCancelled, StepInterrupted} {
		out = append(out, collect(all[*Step](v.txn.Get(tableSteps, indexState, key(string(s), "false"))))...)
	}
	sortBySeq(out)
	return out
}

func sortBySeq(steps []*Step) {
	for i := 1; i < len(steps); i++ { // few steps: insertion sort
		for j := i; j > 0 && steps[j].Seq < steps[j-1].Seq; j-- {
			steps[j], steps[j-1] = steps[j-1], steps[j]
		}
	}
}

// StepByToken returns the id of the step submitted with a client token,
// or "" (always "" for the empty token).
func (v *View) StepByToken(token string) string {
	if token == "" {
		return ""
	}
	if st, ok := first[*Step](v.txn, tableSteps, indexToken, token); ok {
		return st.ID
	}
	return ""
}

// Task returns one task of a step.
func (v *View) Task(stepID string, kind TaskKind, index int) (*Task, bool) {
	return first[*Task](v.txn, tableTasks, indexID, taskKey(stepID, kind, index))
}

// Tasks yields a step's tasks: its maps by index, then its reduces.
func (v *View) Tasks(stepID string) iter.Seq[*Task] {
	return all[*Task](v.txn.Get(tableTasks, indexID+"_prefix", stepID+"\x00"))
}

// TasksFrom yields a step's tasks from position pos on (maps first), for
// paged listings.
func (v *View) TasksFrom(st *Step, pos int) iter.Seq[*Task] {
	k := taskKey(st.ID, KindMap, pos)
	if pos >= st.Maps {
		k = taskKey(st.ID, KindReduce, pos-st.Maps)
	}
	tasks := all[*Task](v.txn.LowerBound(tableTasks, indexID, k))
	return func(yield func(*Task) bool) {
		for t := range tasks {
			if t.StepID != st.ID || !yield(t) {
				return
			}
		}
	}
}

// TasksOfKind yields a step's maps or reduces, by index.
func (v *View) TasksOfKind(stepID string, kind TaskKind) iter.Seq[*Task] {
	return all[*Task](v.txn.Get(tableTasks, indexID+"_prefix", key(stepID, string(kind.letter()))))
}

// TasksIn yields a step's tasks of one kind in one state.
func (v *View) TasksIn(stepID string, kind TaskKind, state TaskState) iter.Seq[*Task] {
	return all[*Task](v.txn.Get(tableTasks, indexPhase, key(stepID, string(kind), string(state))))
}

// AttemptTask finds an attempt by id, with its task.
func (v *View) AttemptTask(id string) (*Task, *Attempt, bool) {
	t, ok := first[*Task](v.txn, tableTasks, indexAttempt, id)
	if !ok {
		return nil, nil, false
	}
	return t, t.attempt(id), true
}

// RunningOn returns the tasks with an attempt running on a worker
// incarnation.
func (v *View) RunningOn(worker string, inc int64) []*Task {
	return collect(all[*Task](v.txn.Get(tableTasks, indexRunning, incKey(worker, inc))))
}

// Terminated returns why the cluster was terminated (a step's
// TERMINATE_CLUSTER action on failure), if it was: it takes no more
// steps.
func (v *View) Terminated() (string, bool) {
	m, ok := first[*meta](v.txn, tableMeta, indexID, metaTerminated)
	if !ok || m.Value == 0 {
		return "", false
	}
	return m.Text, true
}
