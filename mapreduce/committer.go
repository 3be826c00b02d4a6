package mapreduce

import (
	"context"
	"encoding/json"
	"errors"
)

// A step's output, from setup to commit (Hadoop's OutputCommitter):
//
//	SetupJob      leader, before any task runs: claim the output
//	SetupTask     worker, per attempt: where the attempt writes
//	  TaskOutput.Commit   the attempt's output is complete; its commit
//	                      record goes to the leader, through Raft
//	  TaskOutput.Abort    the attempt failed or was killed
//	CommitTask    leader, once per task, for the attempt Raft chose
//	AbortTask     leader, for an attempt that reported output but lost
//	CommitJob     leader, after every CommitTask: _SUCCESS, written last
//	AbortJob      leader, for a failed or cancelled step
//
// The exactly-once decision is the replicated state's: which attempt of a
// task won, with its commit record, is in Raft. Every leader-side method is
// idempotent, so a leader that dies part way through a commit or an abort
// is finished by the next one from the same records.

// Committer makes one step's output visible exactly once.
type Committer interface {
	// CheckOutput refuses, at submission, an output that exists already
	// or could not be written (Hadoop's checkOutputSpecs).
	CheckOutput(ctx context.Context) error
	// SetupJob claims the output folder for the step. Running it again for
	// the same step (after a failover) succeeds; for another step, an
	// existing output is refused with ErrOutputExists.
	SetupJob(ctx context.Context) error
	// SetupTask returns where an attempt writes its files.
	SetupTask(ctx context.Context, attemptID string) (TaskOutput, error)
	// CommitTask makes the output of a task's chosen attempt visible.
	CommitTask(ctx context.Context, c TaskCommit) error
	// AbortTask discards the output of an attempt that will not count.
	AbortTask(ctx context.Context, c TaskCommit) error
	// CommitJob ends the commit: it removes what attempts left, then writes
	// the _SUCCESS manifest of every file in the output.
	CommitJob(ctx context.Context, m Manifest) error
	// AbortJob removes everything the step wrote, leaving an output that
	// was there before the step untouched.
	AbortJob(ctx context.Context) error
}

// TaskOutput is where one attempt writes its files.
type TaskOutput interface {
	// Create makes one file of the attempt's output; name is relative to
	// the step's output folder (part-r-00000, _rejects/part-m-00003).
	Create(ctx context.Context, name string) (FileWriter, error)
	// Commit seals the attempt's output and returns its commit record;
	// nothing is visible until the leader commits the task.
	Commit(ctx context.Context) (json.RawMessage, error)
	// Abort discards what the attempt wrote.
	Abort(ctx context.Context) error
}

// TaskCommit is the commit record of one attempt.
type TaskCommit struct {
	AttemptID string
	Record    json.RawMessage
}

const (
	// RejectsDir holds copies of rejected input records.
	RejectsDir = "_rejects"
	// SuccessFile is written last by a committed step.
	SuccessFile = "_SUCCESS"
)

// ErrOutputExists is returned when a step's output folder already exists
// (Hadoop's FileAlreadyExistsException).
var ErrOutputExists = errors.New("output folder already exists")

// ErrOutputIsFile is returned when a step's output path names a file.
var ErrOutputIsFile = errors.New("is a file, not a folder")

// Manifest is the content of _SUCCESS.
type Manifest struct {
	Step     string           `json:"step"`
	Job      string           `json:"job"`
	Files    []ManifestFile   `json:"files"`
	Counters map[string]int64 `json:"counters"`
}

// ManifestFile describes one committed file.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"`
}

// MarshalManifest encodes a manifest as _SUCCESS holds it.
func MarshalManifest(m Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
