package primary

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
)

// fsm adapts state.State to raft.FSM and lets readers wait for changes.
type fsm struct {
	mu      sync.RWMutex
	st      *state.State
	changed chan struct{}
	index   uint64
}

func newFSM() *fsm {
	return &fsm{st: state.New(), changed: make(chan struct{})}
}

// Apply applies one committed log entry. It returns the command's error
// value (nil when accepted). An entry that cannot be decoded is a bug in
// the primary that wrote it, so it panics rather than let replicas differ.
func (f *fsm) Apply(l *raft.Log) any {
	cmd, err := state.Decode(l.Data)
	if err != nil {
		panic(fmt.Sprintf("raft log entry %d: %v", l.Index, err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	err = f.st.Apply(cmd)
	f.index = l.Index
	close(f.changed)
	f.changed = make(chan struct{})
	return err
}

// read calls fn with the state under a read lock; fn must not keep it.
func (f *fsm) read(fn func(*state.State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.st)
}

// Changed returns a channel closed at the next applied entry.
func (f *fsm) Changed() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.changed
}

// Snapshot encodes the state while holding the read lock, so Persist works
// on an immutable copy.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var buf bytes.Buffer
	if _, err := f.st.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &fsmSnapshot{data: buf.Bytes()}, nil
}

// Restore replaces the state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := state.Read(rc)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

type fsmSnapshot struct{ data []byte }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
