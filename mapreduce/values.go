package mapreduce

import (
	"bytes"
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

// TaskContext is what a Mapper sees of the task running it.
type TaskContext struct {
	// Counters holds the task's counters; jobs add their own here.
	Counters *Counters
	reject   func(rec Record, reason string) error
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
