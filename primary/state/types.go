package state

import (
	"encoding/json"
	"fmt"

	"github.com/gomr/gomr/mapreduce"
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

// Objects in the state are immutable once stored: Apply replaces an
// object with an updated copy, so a read view (and a snapshot) taken
// earlier keeps seeing the old one. Readers must not change what they get.

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
	Incarnation  int64       `json:"incarnation"`
	Role         WorkerRole  `json:"role"`
	Addr         string      `json:"addr"`
	Slots        int         `json:"slots"`
	State        WorkerState `json:"state"`
	RegisteredAt int64       `json:"registered_at"`
	DownAt       int64       `json:"down_at,omitempty"`
	DownReason   string      `json:"down_reason,omitempty"`
}

// Up reports whether the worker incarnation is alive (draining, being
// decommissioned or decommissioned included).
func (w *Worker) Up() bool { return w.State != WorkerDead }

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
	// InputFormat and OutputFormat name how input is read and part files
	// are written ("" is text); Compress names the part files' codec
	// ("" is none).
	InputFormat  string `json:"input_format,omitempty"`
	OutputFormat string `json:"output_format,omitempty"`
	Compress     string `json:"compress,omitempty"`
	// Overwrite lets the step replace what its output holds.
	Overwrite bool `json:"overwrite,omitempty"`
	// Export is the folder an export step copies the committed output to.
	Export string `json:"export,omitempty"`
	// After is the step this one waits for (see SubmitStep.Export).
	After string `json:"after,omitempty"`
	// ActionOnFailure is what a failure of the step does to the others
	// ("" is CONTINUE).
	ActionOnFailure ActionOnFailure `json:"action_on_failure,omitempty"`
}

// InputSummary describes a step's listed input: its files, bytes and the
// number of splits planned from them.
type InputSummary struct {
	Files  int   `json:"files"`
	Bytes  int64 `json:"bytes"`
	Splits int   `json:"splits"`
	// WholeFiles counts the files read whole by one map task each
	// (compressed files that cannot be split).
	WholeFiles int `json:"whole_files,omitempty"`
}

// Step is one submitted step. Its tasks are stored apart (Tasks); the
// step keeps their counts and its counters up to date as they change.
type Step struct {
	ID          string    `json:"id"`
	Seq         uint64    `json:"seq"`
	Spec        StepSpec  `json:"spec"`
	State       StepState `json:"state"`
	SubmittedAt int64     `json:"submitted_at"`
	StartedAt   int64     `json:"started_at,omitempty"`
	EndedAt     int64     `json:"ended_at,omitempty"`
	Error       string    `json:"error,omitempty"`
	// CleanedUp is set once the leader removed a failed or cancelled step's
	// partial output (and for every completed step).
	CleanedUp bool `json:"cleaned_up,omitempty"`
	// Unplanned is set while a step waits for the step Spec.After names
	// to complete, or (without After) for every earlier step to end,
	// before its input is listed (PlanStep clears it).
	Unplanned bool `json:"unplanned,omitempty"`
	// ExportStep is the id of the step exporting this one's output.
	ExportStep string `json:"export_step,omitempty"`
	// Input is what the step's input listing found at submission.
	Input InputSummary `json:"input"`
	// Maps and Reduces are how many tasks of each kind the step has (maps
	// recorded so far, while it is PENDING); MapsDone and ReducesDone how
	// many of them SUCCEEDED.
	Maps        int `json:"maps"`
	Reduces     int `json:"reduces"`
	MapsDone    int `json:"maps_done"`
	ReducesDone int `json:"reduces_done"`
	// Counters sums the counters of each task's winning attempt, plus the
	// attempt counts (launched, failed, killed per kind).
	Counters map[string]int64 `json:"counters,omitempty"`
	// FailuresOn counts the step's failed attempts per worker, to exclude
	// a worker that keeps failing them.
	FailuresOn map[string]int `json:"failures_on,omitempty"`
	// ModifyIndex is the log index of the entry that last changed the
	// step, StateIndex of the one that last changed its state or phase
	// (0 in a state built without indexes: see State.ApplyAt).
	ModifyIndex uint64 `json:"modify_index,omitempty"`
	StateIndex  uint64 `json:"state_index,omitempty"`
}

// PlanComplete reports whether every planned split of the step has been
// recorded as a map task.
func (s *Step) PlanComplete() bool { return !s.Unplanned && s.Maps >= s.Input.Splits }

// Phase returns the phase of a running step (PhaseNone otherwise).
func (s *Step) Phase() Phase {
	switch {
	case s.State != StepRunning:
		return PhaseNone
	case s.MapsDone < s.Maps:
		return PhaseMap
	case s.ReducesDone < s.Reduces:
		return PhaseReduce
	}
	return PhaseCommit
}

// Task is one map or reduce task of a step, with its attempts.
type Task struct {
	StepID string           `json:"step"`
	Kind   TaskKind         `json:"kind"`
	Index  int              `json:"index"`
	Split  *mapreduce.Split `json:"split,omitempty"`
	State  TaskState        `json:"state"`
	// Attempts are the task's attempts in the order they started.
	Attempts []Attempt `json:"attempts,omitempty"`
	// Winner is the id of the attempt whose output counts.
	Winner string `json:"winner,omitempty"`
}

// Name names the task in messages, e.g. "map task 3".
func (t *Task) Name() string {
	if t.Kind == KindReduce {
		return fmt.Sprintf("reduce task %d", t.Index)
	}
	return fmt.Sprintf("map task %d", t.Index)
}

// WinningAttempt returns the attempt whose output counts, or nil.
func (t *Task) WinningAttempt() *Attempt { return t.attempt(t.Winner) }

// attempt returns the task's attempt with that id, or nil.
func (t *Task) attempt(id string) *Attempt {
	if id == "" {
		return nil
	}
	for i := range t.Attempts {
		if t.Attempts[i].ID == id {
			return &t.Attempts[i]
		}
	}
	return nil
}

// Running returns the task's running attempts.
func (t *Task) Running() []*Attempt {
	var out []*Attempt
	for i := range t.Attempts {
		if t.Attempts[i].State == AttemptRunning {
			out = append(out, &t.Attempts[i])
		}
	}
	return out
}

// Failures counts the task's failed attempts.
func (t *Task) Failures() int {
	n := 0
	for _, a := range t.Attempts {
		if a.State == AttemptFailed {
			n++
		}
	}
	return n
}

// HasBackup reports whether the task ever had a speculative attempt.
func (t *Task) HasBackup() bool {
	for _, a := range t.Attempts {
		if a.Speculative {
			return true
		}
	}
	return false
}

// Attempt is one execution of a task on a worker.
type Attempt struct {
	ID          string           `json:"id"`
	Worker      string           `json:"worker"`
	Incarnation int64            `json:"incarnation"`
	Addr        string           `json:"addr"`
	State       AttemptState     `json:"state"`
	StartedAt   int64            `json:"started_at"`
	EndedAt     int64            `json:"ended_at,omitempty"`
	Error       string           `json:"error,omitempty"`
	Counters    map[string]int64 `json:"counters,omitempty"`
	// Commit is the attempt's commit record: what its output committer
	// needs to make its output visible, or to abort it (opaque here).
	Commit json.RawMessage `json:"commit,omitempty"`
	// Speculative marks a backup attempt started while another attempt of
	// the task was running slowly.
	Speculative bool `json:"speculative,omitempty"`
}

// AttemptID names attempt n of a task in Hadoop's style, e.g.
// attempt_s-1ABC_m_000003_0.
func AttemptID(stepID string, kind TaskKind, index, n int) string {
	return fmt.Sprintf("attempt_%s_%c_%06d_%d", stepID, kind.letter(), index, n)
}
