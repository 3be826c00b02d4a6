// Package scheduler decides which tasks a worker runs next. It is a pure
// function of a read-only view of the replicated state: it returns
// assignments, and the leader commits them through Raft. The state machine
// re-checks every assignment, so a plan made from a view that has since
// changed is rejected, never half applied.
package scheduler

import (
	"fmt"

	"github.com/gomr/gomr/primary/state"
)

// Worker is the worker asking for work.
type Worker struct {
	ID          string
	Incarnation int64
	// Free is how many attempts it can start now.
	Free int
}

// AttemptID names attempt n of a task in Hadoop's style, e.g.
// attempt_s-1ABC_m_000003_0.
func AttemptID(stepID, kind string, index, n int) string {
	k := 'm'
	if kind == state.KindReduce {
		k = 'r'
	}
	return fmt.Sprintf("attempt_%s_%c_%06d_%d", stepID, k, index, n)
}

// Assign picks up to w.Free pending tasks for w from the running steps,
// oldest step first; within a step, map tasks before reduce tasks (which
// become runnable only when every map task has succeeded), lowest index
// first.
func Assign(st *state.State, w Worker) []state.Assignment {
	if w.Free <= 0 {
		return nil
	}
	wk, ok := st.Workers[w.ID]
	if !ok || wk.Incarnation != w.Incarnation || wk.State != state.WorkerAlive {
		return nil
	}
	var out []state.Assignment
	for _, step := range st.StepsInOrder() {
		if step.State != state.StepRunning {
			continue
		}
		tasks := step.Maps
		if step.Phase() == state.PhaseReduce {
			tasks = step.Reduces
		}
		for _, t := range tasks {
			if t.State != state.TaskPending {
				continue
			}
			out = append(out, state.Assignment{
				AttemptID:   AttemptID(step.ID, t.Kind, t.Index, len(t.Attempts)),
				StepID:      step.ID,
				Kind:        t.Kind,
				Index:       t.Index,
				Worker:      w.ID,
				Incarnation: w.Incarnation,
			})
			if len(out) == w.Free {
				return out
			}
		}
	}
	return out
}
