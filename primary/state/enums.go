package state

// StepState is where a step is in its life cycle (see the package doc).
type StepState string

// Step states.
const (
	StepPending StepState = "PENDING"
	// StepCancelPending: a step that had started was cancelled; its
	// attempts are killed and its partial output is being removed. It
	// becomes CANCELLED once that is done.
	StepCancelPending StepState = "CANCEL_PENDING"
	StepRunning       StepState = "RUNNING"
	StepCompleted     StepState = "COMPLETED"
	StepCancelled     StepState = "CANCELLED"
	StepFailed        StepState = "FAILED"
	// StepInterrupted: the step was running when the cluster was
	// terminated (a step's TERMINATE_CLUSTER action on failure).
	StepInterrupted StepState = "INTERRUPTED"
)

// StepStates lists every step state, in EMR's order.
var StepStates = []StepState{StepPending, StepCancelPending, StepRunning, StepCompleted, StepCancelled, StepFailed, StepInterrupted}

// Terminal reports whether a step state is final.
func (s StepState) Terminal() bool {
	return s == StepCompleted || s == StepFailed || s == StepCancelled || s == StepInterrupted
}

// Stopped reports whether a step in this state gets no more attempts:
// it ended, or its cancellation is being carried out.
func (s StepState) Stopped() bool { return s.Terminal() || s == StepCancelPending }

// ActionOnFailure is what happens to the cluster's other steps when a
// step fails, as on EMR.
type ActionOnFailure string

// Actions on failure.
const (
	// ActionContinue: the next steps run as if nothing happened.
	ActionContinue ActionOnFailure = "CONTINUE"
	// ActionCancelAndWait: every pending step is cancelled; the cluster
	// waits for new steps.
	ActionCancelAndWait ActionOnFailure = "CANCEL_AND_WAIT"
	// ActionTerminateCluster: every pending step is cancelled, every
	// running one interrupted, and the cluster takes no more steps.
	ActionTerminateCluster ActionOnFailure = "TERMINATE_CLUSTER"
)

// ParseActionOnFailure parses an action as EMR spells it ("" is
// CONTINUE; TERMINATE_JOB_FLOW is TERMINATE_CLUSTER's old name).
func ParseActionOnFailure(s string) (ActionOnFailure, bool) {
	switch a := ActionOnFailure(s); a {
	case "":
		return ActionContinue, true
	case ActionContinue, ActionCancelAndWait, ActionTerminateCluster:
		return a, true
	case "TERMINATE_JOB_FLOW":
		return ActionTerminateCluster, true
	}
	return "", false
}

// Phase is the phase of a running step.
type Phase string

// Phases of a running step ("" when it does not run).
const (
	PhaseNone   Phase = ""
	PhaseMap    Phase = "MAP"
	PhaseReduce Phase = "REDUCE"
	PhaseCommit Phase = "COMMIT"
)

// TaskKind says whether a task maps or reduces.
type TaskKind string

// Task kinds.
const (
	KindMap    TaskKind = "MAP"
	KindReduce TaskKind = "REDUCE"
)

// letter returns the kind's letter in attempt ids and part file names
// (Hadoop's m and r).
func (k TaskKind) letter() byte {
	if k == KindReduce {
		return 'r'
	}
	return 'm'
}

// TaskState is a task's state.
type TaskState string

// Task states.
const (
	TaskPending   TaskState = "PENDING"
	TaskRunning   TaskState = "RUNNING"
	TaskSucceeded TaskState = "SUCCEEDED"
	TaskFailed    TaskState = "FAILED"
)

// AttemptState is an attempt's state.
type AttemptState string

// Attempt states.
const (
	AttemptRunning   AttemptState = "RUNNING"
	AttemptSucceeded AttemptState = "SUCCEEDED"
	AttemptFailed    AttemptState = "FAILED"
	AttemptKilled    AttemptState = "KILLED"
)

// WorkerRole says whether a worker stores HDFS blocks (core) or only
// computes (task), as EMR's core and task nodes.
type WorkerRole string

// Worker roles.
const (
	RoleCore WorkerRole = "core"
	RoleTask WorkerRole = "task"
)

// ParseRole parses a role name as a user writes it.
func ParseRole(s string) (WorkerRole, bool) {
	switch WorkerRole(s) {
	case RoleCore, RoleTask:
		return WorkerRole(s), true
	}
	return "", false
}

// WorkerState is a worker incarnation's state.
type WorkerState string

// Worker states.
const (
	WorkerAlive WorkerState = "ALIVE"
	// WorkerDraining: alive, finishing its attempts, taking no new ones.
	WorkerDraining WorkerState = "DRAINING"
	// WorkerDecommissioning: a core worker taking no new attempts whose
	// HDFS blocks are being copied elsewhere; its replicas serve reads
	// but do not count toward their block's replication.
	WorkerDecommissioning WorkerState = "DECOMMISSIONING"
	// WorkerDecommissioned: every block it held has its replicas
	// elsewhere; it may be stopped.
	WorkerDecommissioned WorkerState = "DECOMMISSIONED"
	WorkerDead           WorkerState = "DEAD"
)
