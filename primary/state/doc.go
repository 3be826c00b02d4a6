// Package state is the replicated state of a gomr cluster and the
// deterministic state machine that changes it: workers, steps, tasks and
// attempts. Every change is a Command appended to the Raft log and applied
// by Apply on every primary in the same order.
//
// Apply never reads the clock, randomness or the network: ids and times are
// chosen by the leader and carried in commands. A command that breaks a rule
// (assigning a task that is already running, a report from a dead worker
// incarnation) is rejected with an error value and changes nothing.
//
// A step's life:
//
//	          SubmitStep          StartStep (splits planned)
//	(none) ─────────────▶ PENDING ───────────────────────▶ RUNNING
//	                         │                               │  MAP ─▶ REDUCE ─▶ COMMIT
//	                         │ CancelStep / FailStep         │          CompleteStep
//	                         ▼                               ├──────────────────────────▶ COMPLETED
//	                  CANCELLED / FAILED ◀───────────────────┘ CancelStep, FailStep,
//	                                                           a task out of attempts,
//	                                                           a fatal input error
//
// The phase of a RUNNING step is derived: MAP while a map task has not
// succeeded, REDUCE while a reduce task has not, then COMMIT, when the
// leader moves the chosen attempts' files into place and writes _SUCCESS.
//
// A task attempt's life:
//
//	Assign ──▶ RUNNING ──▶ SUCCEEDED   first success wins the task
//	              ├──────▶ FAILED      counts toward the attempt limit
//	              └──────▶ KILLED      worker lost, step ended, or another
//	                                   attempt won; never counted as a failure
//
// Counters of a step are computed from the winning attempt of each task, so
// nothing is counted twice however many attempts ran.
package state
