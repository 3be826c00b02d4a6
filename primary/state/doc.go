// Package state is the replicated state of a gomr cluster and the
// deterministic state machine that changes it: primaries, workers, steps,
// tasks and attempts. Every change is a Command appended to the Raft log
// and applied by Apply on every primary in the same order.
//
// Apply never reads the clock, randomness or the network: ids and times are
// chosen by the leader and carried in commands. A command that breaks a rule
// (assigning a task that is already running, a report from a dead worker
// incarnation) is rejected with an error value and changes nothing: each
// command is one transaction, committed whole or not at all. A Batch
// carries several commands in one log entry (an attempt's end and the
// next attempt of the slot it freed), applied in order until one is
// rejected.
//
// ApplyAt stamps every step a command changes with the command's log
// index (ModifyIndex, and StateIndex when its state or phase changed):
// clients wait for a step to change past an index they saw (a blocking
// query), and the step's record carries a watch channel (View.WatchStep)
// that wakes them.
//
// The state lives in go-memdb tables (steps, tasks, workers, primaries),
// immutable radix trees indexed for the questions the leader asks (pending
// tasks of a step, attempts running on a worker, map outputs a worker
// holds). A View is a pointer to the roots at one moment: readers, and
// snapshots, never stop Apply. A snapshot is a stream of tagged records,
// one per object; Restore builds a fresh state from one.
//
// A step's life:
//
//	          SubmitStep, AddSplits...     StartStep
//	(none) ─────────────────────▶ PENDING ─────────────▶ RUNNING
//	                                 │                     │  MAP ─▶ REDUCE ─▶ COMMIT
//	                                 │ CancelStep,         │          CompleteStep
//	                                 │ FailStep            ├──────────────────────────▶ COMPLETED
//	                                 ▼                     │
//	                          CANCELLED / FAILED ◀─────────┘ CancelStep, FailStep,
//	                                                         a task out of attempts,
//	                                                         a fatal input error
//
// A step's input is listed when it is submitted; its splits are recorded
// as PENDING map tasks in AddSplits commands of bounded size, and it can
// start once all of them are. The phase of a RUNNING step is derived from
// its done counts: MAP while a map task has not succeeded, REDUCE while a
// reduce task has not, then COMMIT, when the leader's output committer
// makes the chosen attempts' output visible and writes _SUCCESS.
//
// A task attempt's life:
//
//	Assign ──▶ RUNNING ──▶ SUCCEEDED   first success wins the task
//	              ├──────▶ FAILED      counts toward the attempt limit
//	              └──────▶ KILLED      worker lost, step ended, or another
//	                                   attempt won; never counted as a failure
//
// A step's counters are kept as its tasks change: the counters of each
// task's winning attempt (taken away again if its output is lost), plus the
// number of attempts launched, failed and killed, so nothing is counted
// twice however many attempts ran.
package state
