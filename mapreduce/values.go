package mapreduce

import (
	"bytes"
	"context"
	"fmt"
)

// Values iterates over the values of one key, in the order the merge
// delivers them.
type Values struct {
	src   valueSource
	value []byte
	n     int64
}

type valueSource interface {
	nextValue() ([]byte, bool)
}

// Next advances to the next value and reports whether there is one.
func (v *Values) Next() bool {
	val, ok := v.src.nextValue()
	if !ok {
		return false
	}
	v.value = val
	v.n++
	return true
}

// Value returns the current value; it is valid until Next is called again.
func (v *Values) Value() []byte { return v.value }

// drain consumes the values the reducer left unread and returns how many
// values the group had.
func (v *Values) drain() int64 {
	for v.Next() {
	}
	return v.n
}

// keyGuard is the Emitter a combiner writes to: it lets through only pairs
// with the key being combined, so combined output stays sorted.
type keyGuard struct {
	key  []byte
	out  func(key, value []byte) error
	emit int64
}

func (g *keyGuard) Emit(key, value []byte) error {
	if !bytes.Equal(key, g.key) {
		return fmt.Errorf("combiner emitted key %q while combining key %q: a combiner must keep its key", key, g.key)
	}
	g.emit++
	return g.out(key, value)
}

// TaskContext is what a Mapper, Combiner or Reducer sees of the task
// running it.
type TaskContext struct {
	// Counters holds the task's counters; jobs add their own here. It is
	// used from the task's goroutine only.
	Counters *Counters
	// Info describes the task.
	Info TaskInfo
	// Progress, if set, takes a status line of the task (Hadoop's
	// reporter status), shown with the attempt.
	Progress *Progress
	// FileSystems, if set, opens the files a job fetches for its task by
	// path (a streaming job's shipped files in HDFS or S3).
	FileSystems *FileSystems
	reject      func(rec Record, reason string) error
	ctx         context.Context
}

// Context returns the task's context: it is cancelled when the attempt
// is cancelled and when the task returns, whichever comes first, so that
// what a job started for the task (a streaming command) ends with it.
func (tc *TaskContext) Context() context.Context {
	if tc.ctx == nil {
		return context.Background()
	}
	return tc.ctx
}

// withContext returns a copy of tc whose Context is ctx.
func (tc *TaskContext) withContext(ctx context.Context) *TaskContext {
	task := *tc
	task.ctx = ctx
	return &task
}

// TaskInfo describes a running task: what Hadoop Streaming puts in its
// commands' environment.
type TaskInfo struct {
	StepID    string
	AttemptID string
	// Kind is "m" for a map task, "r" for a reduce task.
	Kind  string
	Index int
	// Split is a map task's input split.
	Split    Split
	Reducers int
	// WorkDir is a folder of the task's own, removed when it ends.
	WorkDir string
	// LogDir, if set, is the attempt's log folder, kept after the task
	// ends and readable through the cluster (gomr step logs): what a job
	// would print on its task's stderr goes to LogDir/stderr, and a
	// streaming command's stderr to LogDir/ROLE.stderr.
	LogDir string
	// RunAs, if set, is the account the task's commands run as (see
	// RunAs).
	RunAs *RunAs
}

// TaskLifecycle is implemented by mappers and reducers that set up before
// their task's first record and finish after its last (Hadoop's setup and
// cleanup): a streaming job starts its command in Setup and, in Cleanup,
// closes its input and emits what it still writes.
type TaskLifecycle interface {
	Setup(tc *TaskContext) error
	Cleanup(tc *TaskContext, out Emitter) error
}

// StreamCombiner is implemented by combiners that combine a partition's
// sorted records as a stream rather than one key at a time (a streaming
// combiner command). The records they emit must keep the keys' order.
type StreamCombiner interface {
	CombineStream(tc *TaskContext, in func(yield func(key, value []byte) bool), out Emitter) error
}

// SetStatus sets the task's status line.
func (tc *TaskContext) SetStatus(s string) {
	if tc.Progress != nil {
		tc.Progress.SetStatus(s)
	}
}

// Reject records an input record the mapper cannot use: it is counted in
// REJECTED_RECORDS and copied, with its file, line number and reason, to the
// step's _rejects folder. Nothing is dropped silently.
func (tc *TaskContext) Reject(rec Record, reason string) error {
	tc.Counters.Add(RejectedRecords, 1)
	if tc.reject == nil {
		return nil
	}
	return tc.reject(rec, reason)
}
