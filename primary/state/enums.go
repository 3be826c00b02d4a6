package state

// StepState is where a step is in its life cycle (see the package doc).
type StepState string

// Step states.
const (
	StepPending   StepState = "PENDING"
	StepRunning   StepState = "RUNNING"
	StepCompleted StepState = "COMPLETED"
	StepFailed    StepState = "FAILED"
	StepCancelled StepState = "CANCELLED"
)

// StepStates lists every step state, in life-cycle order.
var StepStates = []StepState{StepPending, StepRunning, StepCompleted, StepFailed, StepCancelled}

// Terminal reports whether a step state is final.
func (s StepState) Terminal() bool {
	return s == StepCompleted || s == StepFailed || s == StepCancelled
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
