package primarypb

import "github.com/gomr/gomr/primary/state"

// The one place where the replicated state's typed enums are mapped to
// and from the protos' enums.

// enum maps a state enum to a proto enum and back.
type enum[S comparable, P comparable] struct {
	to   map[S]P
	from map[P]S
}

func newEnum[S comparable, P comparable](pairs map[S]P) enum[S, P] {
	e := enum[S, P]{to: pairs, from: make(map[P]S, len(pairs))}
	for s, p := range pairs {
		e.from[p] = s
	}
	return e
}

var (
	stepStates = newEnum(map[state.StepState]StepState{
		state.StepPending: StepState_STEP_PENDING, state.StepRunning: StepState_STEP_RUNNING,
		state.StepCompleted: StepState_STEP_COMPLETED, state.StepFailed: StepState_STEP_FAILED, state.StepCancelled: StepState_STEP_CANCELLED,
		state.StepCancelPending: StepState_STEP_CANCEL_PENDING, state.StepInterrupted: StepState_STEP_INTERRUPTED,
	})
	phases = newEnum(map[state.Phase]StepPhase{
		state.PhaseNone: StepPhase_PHASE_NONE, state.PhaseMap: StepPhase_PHASE_MAP,
		state.PhaseReduce: StepPhase_PHASE_REDUCE, state.PhaseCommit: StepPhase_PHASE_COMMIT,
	})
	taskKinds  = newEnum(map[state.TaskKind]TaskKind{state.KindMap: TaskKind_MAP, state.KindReduce: TaskKind_REDUCE})
	taskStates = newEnum(map[state.TaskState]TaskState{
		state.TaskPending: TaskState_TASK_PENDING, state.TaskRunning: TaskState_TASK_RUNNING,
		state.TaskSucceeded: TaskState_TASK_SUCCEEDED, state.TaskFailed: TaskState_TASK_FAILED,
	})
	attemptStates = newEnum(map[state.AttemptState]AttemptState{
		state.AttemptRunning: AttemptState_ATTEMPT_RUNNING, state.AttemptSucceeded: AttemptState_ATTEMPT_SUCCEEDED,
		state.AttemptFailed: AttemptState_ATTEMPT_FAILED, state.AttemptKilled: AttemptState_ATTEMPT_KILLED,
	})
	workerRoles  = newEnum(map[state.WorkerRole]WorkerRole{state.RoleCore: WorkerRole_CORE, state.RoleTask: WorkerRole_TASK})
	workerStates = newEnum(map[state.WorkerState]WorkerState{
		state.WorkerAlive: WorkerState_WORKER_ALIVE, state.WorkerDraining: WorkerState_WORKER_DRAINING, state.WorkerDead: WorkerState_WORKER_DEAD,
		state.WorkerDecommissioning: WorkerState_WORKER_DECOMMISSIONING, state.WorkerDecommissioned: WorkerState_WORKER_DECOMMISSIONED,
	})
)

// FromStepState returns the proto of a step state.
func FromStepState(s state.StepState) StepState { return stepStates.to[s] }

// Value returns the step state in the state package's terms ("" for an
// unspecified one).
func (x StepState) Value() state.StepState { return stepStates.from[x] }

// FromPhase returns the proto of a step phase.
func FromPhase(p state.Phase) StepPhase { return phases.to[p] }

// Value returns the phase in the state package's terms.
func (x StepPhase) Value() state.Phase { return phases.from[x] }

// FromTaskKind returns the proto of a task kind.
func FromTaskKind(k state.TaskKind) TaskKind { return taskKinds.to[k] }

// Value returns the task kind in the state package's terms.
func (x TaskKind) Value() state.TaskKind { return taskKinds.from[x] }

// FromTaskState returns the proto of a task state.
func FromTaskState(s state.TaskState) TaskState { return taskStates.to[s] }

// Value returns the task state in the state package's terms.
func (x TaskState) Value() state.TaskState { return taskStates.from[x] }

// FromAttemptState returns the proto of an attempt state.
func FromAttemptState(s state.AttemptState) AttemptState { return attemptStates.to[s] }

// Value returns the attempt state in the state package's terms.
func (x AttemptState) Value() state.AttemptState { return attemptStates.from[x] }

// FromWorkerRole returns the proto of a worker role.
func FromWorkerRole(r state.WorkerRole) WorkerRole { return workerRoles.to[r] }

// Value returns the worker role in the state package's terms.
func (x WorkerRole) Value() state.WorkerRole { return workerRoles.from[x] }

// FromWorkerState returns the proto of a worker state.
func FromWorkerState(s state.WorkerState) WorkerState { return workerStates.to[s] }

// Value returns the worker state in the state package's terms.
func (x WorkerState) Value() state.WorkerState { return workerStates.from[x] }
