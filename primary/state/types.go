package state

import (
	"maps"
	"slices"

	"github.com/gomr/gomr/mapreduce"
)

// Step states.
const (
	StepPending   = "PENDING"
	StepRunning   = "RUNNING"
	StepCompleted = "COMPLETED"
	StepFailed    = "FAILED"
	StepCancelled = "CANCELLED"
)

// Phases of a running step.
const (
	PhaseMap    = "MAP"
	PhaseReduce = "REDUCE"
	PhaseCommit = "COMMIT"
)

// Task kinds.
const (
	KindMap    = "MAP"
	KindReduce = "REDUCE"
)

// Task states.
const (
	TaskPending   = "PENDING"
	TaskRunning   = "RUNNING"
	TaskSucceeded = "SUCCEEDED"
	TaskFailed    = "FAILED"
)

// Attempt states.
const (
	AttemptRunning   = "RUNNING"
	AttemptSucceeded = "SUCCEEDED"
	AttemptFailed    = "FAILED"
	AttemptKilled    = "KILLED"
)

// Worker roles and states.
const (
	RoleCore = "core"
	RoleTask = "task"

	WorkerAlive = "ALIVE"
	// WorkerDraining: alive, finishing its attempts, taking no new ones.
	WorkerDraining = "DRAINING"
	WorkerDead     = "DEAD"
)

// Counter names the state machine derives from attempts.
const (
	LaunchedMaps    = "LAUNCHED_MAPS"
	LaunchedReduces = "LAUNCHED_REDUCES"
	FailedMaps      = "FAILED_MAPS"
	FailedReduces   = "FAILED_REDUCES"
	KilledMaps      = "KILLED_MAPS"
	KilledReduces   = "KILLED_REDUCES"
	// SpeculativeAttempts counts backup attempts started for slow tasks.
	SpeculativeAttempts = "SPECULATIVE_ATTEMPTS"
)

// Primary is where a primary serves: gRPC for clients and workers, Raft,
// and gossip.
type Primary struct {
	ID         string `json:"id"`
	Addr       string `json:"addr"`
	RaftAddr   string `json:"raft_addr"`
	GossipAddr string `json:"gossip_addr"`
}

// Worker is one registered worker incarnation.
type Worker struct {
	ID string `json:"id"`
	// Incarnation distinguishes restarts of the same worker: reports from
	// an older incarnation are stale.
	Incarnation  int64  `json:"incarnation"`
	Role         string `json:"role"`
	Addr         string `json:"addr"`
	Slots        int    `json:"slots"`
	State        string `json:"state"`
	RegisteredAt int64  `json:"registered_at"`
	DownAt       int64  `json:"down_at,omitempty"`
	DownReason   string `json:"down_reason,omitempty"`
}

// Up reports whether the worker incarnation is alive (draining or not).
func (w *Worker) Up() bool { return w.State == WorkerAlive || w.State == WorkerDraining }

// StepSpec is what a client asked for.
type StepSpec struct {
	Name            string            `json:"name"`
	Job             string            `json:"job"`
	Options         map[string]string `json:"options,omitempty"`
	Inputs          []string          `json:"inputs"`
	Output          string            `json:"output"`
	Reducers        int               `json:"reducers"`
	SplitSize       int64             `json:"split_size"`
	SortBufferBytes int64             `json:"sort_buffer_bytes"`
	MaxLineBytes    int64             `json:"max_line_bytes"`
	MaxAttempts     int               `json:"max_attempts"`
	// ClientToken, when set, identifies the submission: a second
	// submission with the same token is refused (the client gets the first
	// step's id).
	ClientToken string `json:"client_token,omitempty"`
	// NoSpeculation turns speculative backup attempts off for the step.
	NoSpeculation bool `json:"no_speculation,omitempty"`
}

// Step is one submitted step and everything that happened to it.
type Step struct {
	ID          string   `json:"id"`
	Seq         uint64   `json:"seq"`
	Spec        StepSpec `json:"spec"`
	State       string   `json:"state"`
	SubmittedAt int64    `json:"submitted_at"`
	StartedAt   int64    `json:"started_at,omitempty"`
	EndedAt     int64    `json:"ended_at,omitempty"`
	Error       string   `json:"error,omitempty"`
	// CleanedUp is set once the leader removed a failed or cancelled step's
	// temporary output.
	CleanedUp bool `json:"cleaned_up,omitempty"`
	// Input is what the step's input listing found at submission.
	Input InputSummary `json:"input"`
	// Planned holds the splits recorded so far for a PENDING step; they
	// become its map tasks when it starts.
	Planned []mapreduce.Split `json:"planned,omitempty"`
	Maps    []*Task           `json:"maps,omitempty"`
	Reduces []*Task           `json:"reduces,omitempty"`
}

// InputSummary describes a step's listed input: its files, bytes and the
// number of splits planned from them.
type InputSummary struct {
	Files  int   `json:"files"`
	Bytes  int64 `json:"bytes"`
	Splits int   `json:"splits"`
}

// PlanComplete reports whether every planned split of a pending step has
// been recorded.
func (s *Step) PlanComplete() bool { return len(s.Planned) >= s.Input.Splits }

// Task is one map or reduce task of a step.
type Task struct {
	Kind     string           `json:"kind"`
	Index    int              `json:"index"`
	Split    *mapreduce.Split `json:"split,omitempty"`
	State    string           `json:"state"`
	Attempts []*Attempt       `json:"attempts,omitempty"`
	// Winner is the id of the attempt whose output counts.
	Winner string `json:"winner,omitempty"`
}

// Attempt is one execution of a task on a worker.
type Attempt struct {
	ID          string           `json:"id"`
	Worker      string           `json:"worker"`
	Incarnation int64            `json:"incarnation"`
	Addr        string           `json:"addr"`
	State       string           `json:"state"`
	StartedAt   int64            `json:"started_at"`
	EndedAt     int64            `json:"ended_at,omitempty"`
	Error       string           `json:"error,omitempty"`
	Counters    map[string]int64 `json:"counters,omitempty"`
	Files       []string         `json:"files,omitempty"`
	// Speculative marks a backup attempt started while another attempt of
	// the task was running slowly.
	Speculative bool `json:"speculative,omitempty"`
}

// Terminal reports whether a step state is final.
func Terminal(stepState string) bool {
	return stepState == StepCompleted || stepState == StepFailed || stepState == StepCancelled
}

// Phase returns the phase of a running step ("" otherwise).
func (s *Step) Phase() string {
	if s.State != StepRunning {
		return ""
	}
	if !allSucceeded(s.Maps) {
		return PhaseMap
	}
	if !allSucceeded(s.Reduces) {
		return PhaseReduce
	}
	return PhaseCommit
}

func allSucceeded(tasks []*Task) bool {
	for _, t := range tasks {
		if t.State != TaskSucceeded {
			return false
		}
	}
	return true
}

// Tasks returns the step's map tasks followed by its reduce tasks.
func (s *Step) Tasks() []*Task { return append(slices.Clip(s.Maps), s.Reduces...) }

// WinningAttempt returns the attempt whose output counts, or nil.
func (t *Task) WinningAttempt() *Attempt {
	for _, a := range t.Attempts {
		if a.ID == t.Winner {
			return a
		}
	}
	return nil
}

// Running returns the task's running attempts.
func (t *Task) Running() []*Attempt {
	var out []*Attempt
	for _, a := range t.Attempts {
		if a.State == AttemptRunning {
			out = append(out, a)
		}
	}
	return out
}

// failures counts the task's failed attempts.
func (t *Task) failures() int {
	n := 0
	for _, a := range t.Attempts {
		if a.State == AttemptFailed {
			n++
		}
	}
	return n
}

// Counters sums the counters of each task's winning attempt and adds the
// attempt counts (launched, failed, killed per kind).
func (s *Step) Counters() map[string]int64 {
	total := make(map[string]int64)
	for _, t := range s.Tasks() {
		launched, failed, killed := LaunchedMaps, FailedMaps, KilledMaps
		if t.Kind == KindReduce {
			launched, failed, killed = LaunchedReduces, FailedReduces, KilledReduces
		}
		for _, a := range t.Attempts {
			total[launched]++
			if a.Speculative {
				total[SpeculativeAttempts]++
			}
			switch a.State {
			case AttemptFailed:
				total[failed]++
			case AttemptKilled:
				total[killed]++
			}
		}
		if w := t.WinningAttempt(); w != nil {
			for k, v := range w.Counters {
				total[k] += v
			}
		}
	}
	return total
}

func cloneStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}
