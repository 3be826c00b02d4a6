package primary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
)

// fsm adapts state.State to raft.FSM and lets readers wait for changes.
// Raft calls Apply, Snapshot and Restore from one goroutine; any number of
// readers take Views meanwhile, which never wait for Apply.
type fsm struct {
	log *slog.Logger

	mu      sync.Mutex // guards the fields below
	st      *state.State
	changed chan struct{}
	index   uint64
}

func newFSM(log *slog.Logger) *fsm {
	return &fsm{log: log, st: state.New(), changed: make(chan struct{})}
}

// Apply applies one committed log entry. It returns the command's error
// value (nil when accepted). An entry of a command this version does not
// know is skipped if its tag says it may be; any other entry that cannot
// be decoded is a bug in the primary that wrote it (or a primary too old
// for the log), so it panics rather than let replicas differ.
func (f *fsm) Apply(l *raft.Log) any {
	cmd, err := state.Decode(l.Data)
	if errors.Is(err, state.ErrIgnored) {
		f.log.Warn("skipping a command this version does not know", "index", l.Index, "err", err)
		f.applied(l.Index)
		return nil
	}
	if err != nil {
		panic(fmt.Sprintf("raft log entry %d: %v", l.Index, err))
	}
	f.mu.Lock()
	st := f.st
	f.mu.Unlock()
	err = st.ApplyAt(l.Index, cmd)
	f.applied(l.Index)
	return err
}

// applied records an applied index and wakes the waiters.
func (f *fsm) applied(index uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index = index
	close(f.changed)
	f.changed = make(chan struct{})
}

// view returns a read-only view of the state as it is now.
func (f *fsm) view() *state.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.View()
}

// viewAt returns a view and the index of the last entry applied to it.
func (f *fsm) viewAt() (*state.View, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.View(), f.index
}

// Changed returns a channel closed at the next applied entry.
func (f *fsm) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Snapshot takes a view of the state, in constant time; Persist then
// streams it while Apply goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	v, index := f.viewAt()
	return &fsmSnapshot{view: v, index: index}, nil
}

// snapshotHeader starts every snapshot, before the index of the last entry
// it holds (8 bytes, big-endian) and the state's stream: Restore learns
// the index from it, which raft does not pass.
const snapshotHeader = "gomr-fsm\x01"

// Restore replaces the state with one built from a snapshot.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	head := make([]byte, len(snapshotHeader)+8)
	if _, err := io.ReadFull(rc, head); err != nil {
		return fmt.Errorf("restore: read snapshot header: %w", err)
	}
	if string(head[:len(snapshotHeader)]) != snapshotHeader {
		return fmt.Errorf("restore: not a gomr snapshot (header %q)", head[:len(snapshotHeader)])
	}
	index := binary.BigEndian.Uint64(head[len(snapshotHeader):])
	st, err := state.Read(rc)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
	f.index = index
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

type fsmSnapshot struct {
	view  *state.View
	index uint64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	head := binary.BigEndian.AppendUint64([]byte(snapshotHeader), s.index)
	if _, err := sink.Write(head); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	if _, err := s.view.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
