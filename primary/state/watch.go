package state

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-memdb"
)

// newDB returns an empty database that tracks no mutations.
//
// A go-memdb database closes the watch channel of every radix node a
// commit changed. It lists them as the transaction goes, but only up to
// 8192 per index: past that, Commit compares the whole index tree before
// and after the transaction (go-immutable-radix's slowNotify), a walk of
// every object the state ever held, history included. Any large command
// overflows the list (a worker going down with thousands of running
// attempts, an Assign or AddSplits of thousands of tasks, each batch of a
// Restore), so that each cost more the longer the cluster lived: building
// a million tasks took hours. A memdb snapshot is a database that tracks
// nothing, so the state uses one, and wakes the only watchers it has, of
// steps (View.WatchStep), itself (stepWatches).
func newDB() (*memdb.MemDB, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("state schema: %w", err)
	}
	return db.Snapshot(), nil
}

// stepWatches holds the channels of the readers waiting for steps to
// change (View.WatchStep). Apply closes a step's channel once it commits
// a change of the step.
type stepWatches struct {
	db *memdb.MemDB

	mu    sync.Mutex
	chans map[string]chan struct{} // by step id, for the step's current version
	// missing is the one channel of the watchers of steps that do not
	// exist, closed at any change of a step: a map entry per id asked
	// for would keep every id ever looked up.
	missing chan struct{}
}

// closedChan is the channel of a step version that is no longer current.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// watch returns a channel closed once step id changes from seen (nil: the
// step did not exist), the version of the step a reader's View holds.
// Stored steps are never changed in place, so a version is a pointer: if
// the state holds another one already, the channel is closed.
func (w *stepWatches) watch(id string, seen *Step) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Reading the current version under mu orders this with notify,
	// which runs after the change is committed: either the change is
	// seen here, or its notify closes the channel made here.
	if cur, _ := first[*Step](w.db.Txn(false), tableSteps, indexID, id); cur != seen {
		return closedChan
	}
	if seen == nil {
		if w.missing == nil {
			w.missing = make(chan struct{})
		}
		return w.missing
	}
	ch, ok := w.chans[id]
	if !ok {
		ch = make(chan struct{})
		w.chans[id] = ch
	}
	return ch
}

// notify wakes the watchers of steps a committed transaction changed.
func (w *stepWatches) notify(ids []string) {
	if len(ids) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.missing != nil {
		close(w.missing)
		w.missing = nil
	}
	for _, id := range ids {
		if ch, ok := w.chans[id]; ok {
			close(ch)
			delete(w.chans, id)
		}
	}
}
