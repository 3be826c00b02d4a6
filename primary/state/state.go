package state

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// Errors a command can be rejected with.
var (
	// ErrNotFound: the command names a step, task, attempt or worker that
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the command does not fit the current state (a task
	// already running, a step already ended, a duplicate id).
	ErrConflict = errors.New("conflict")
	// ErrStale: the command comes from a worker incarnation or attempt
	// that is no longer current (or a writer whose lease is gone).
	ErrStale = errors.New("stale")
	// ErrExists: the command would make something that exists already (a
	// file or folder of the HDFS namespace).
	ErrExists = errors.New("file exists")
)

// State is the whole replicated state. Only Apply and Restore change it;
// both are meant to be called from one goroutine (Raft's), while any
// number of goroutines read Views.
type State struct {
	db      *memdb.MemDB // tracks no mutations (see newDB)
	watches *stepWatches
}

// New returns an empty state.
func New() *State {
	db, err := newDB()
	if err != nil {
		panic(err.Error())
	}
	return &State{db: db, watches: &stepWatches{db: db, chans: make(map[string]chan struct{})}}
}

// View returns a read-only view of the state as it is now.
func (s *State) View() *View { return &View{txn: s.db.Txn(false), watches: s.watches} }

// Apply applies one command in one transaction: a rejected command
// returns an error and leaves the state unchanged. It stamps no modify
// index (see ApplyAt).
func (s *State) Apply(c Command) error { return s.ApplyAt(0, c) }

// ApplyAt applies the command of log entry index, as Apply does, and
// stamps the steps it changes with index (Step.ModifyIndex and
// Step.StateIndex), so that clients can wait for a step to change past
// an index they saw. Index 0 stamps nothing. A Batch applies its
// commands one by one (see Batch).
func (s *State) ApplyAt(index uint64, c Command) error {
	if b, ok := c.(*Batch); ok {
		return s.applyBatch(index, b)
	}
	return s.applyOne(index, c)
}

func (s *State) applyOne(index uint64, c Command) error {
	txn := s.db.Txn(true)
	w := &tx{txn: txn, View: View{txn: txn, watches: s.watches}, index: index}
	if err := w.apply(c); err != nil {
		txn.Abort()
		return err
	}
	txn.Commit()
	s.watches.notify(w.changedSteps)
	return nil
}

// tx is one command's write transaction. Reads through its View see the
// command's own writes. Stored objects are never changed in place: put
// stores an updated copy.
type tx struct {
	View
	txn *memdb.Txn
	// index is the log entry being applied (0: none known).
	index uint64
	// changedSteps are the ids of the steps stored, whose watchers are
	// woken once the transaction is committed.
	changedSteps []string
}

// putStep stores a step, stamped with the entry's index: ModifyIndex
// always, StateIndex when its state or phase changed.
func (w *tx) putStep(st *Step) {
	if w.index > 0 {
		st.ModifyIndex = w.index
		if old, ok := w.Step(st.ID); !ok || old.State != st.State || old.Phase() != st.Phase() {
			st.StateIndex = w.index
		}
	}
	w.put(tableSteps, st)
	if n := len(w.changedSteps); n == 0 || w.changedSteps[n-1] != st.ID {
		w.changedSteps = append(w.changedSteps, st.ID)
	}
}

func (w *tx) put(table string, obj any) {
	if err := w.txn.Insert(table, obj); err != nil {
		panic(fmt.Sprintf("state: insert into %s: %v", table, err)) // a schema bug
	}
}

func (w *tx) step(id string) (*Step, error) {
	st, ok := w.Step(id)
	if !ok {
		return nil, fmt.Errorf("step %s: %w", id, ErrNotFound)
	}
	return st, nil
}

func (w *tx) task(st *Step, kind TaskKind, index int) (*Task, error) {
	if kind != KindMap && kind != KindReduce {
		return nil, fmt.Errorf("task kind %q: %w", kind, ErrNotFound)
	}
	t, ok := w.Task(st.ID, kind, index)
	if !ok {
		return nil, fmt.Errorf("step %s %s task %d: %w", st.ID, kind, index, ErrNotFound)
	}
	return t, nil
}

func (w *tx) apply(c Command) error {
	switch c := c.(type) {
	case *RegisterPrimary:
		return w.registerPrimary(c)
	case *RemovePrimary:
		p, ok := w.Primary(c.ID)
		if !ok {
			return fmt.Errorf("primary %s: %w", c.ID, ErrNotFound)
		}
		if err := w.txn.Delete(tablePrimaries, p); err != nil {
			panic(err)
		}
		return nil
	case *RegisterWorker:
		return w.registerWorker(c)
	case *DrainWorker:
		return w.drainWorker(c)
	case *KillAttempt:
		return w.killAttempt(c)
	case *MapOutputLost:
		return w.mapOutputLost(c)
	case *WorkerDown:
		return w.workerDown(c)
	case *SubmitStep:
		return w.submitStep(c)
	case *AddSplits:
		return w.addSplits(c)
	case *PlanStep:
		return w.planStep(c)
	case *StartStep:
		return w.startStep(c)
	case *Assign:
		return w.assign(c)
	case *FinishAttempt:
		return w.finishAttempt(c)
	case *CancelStep:
		return w.endStep(c.ID, StepCancelled, c.Reason, c.Time)
	case *FailStep:
		return w.endStep(c.ID, StepFailed, c.Error, c.Time)
	case *CompleteStep:
		return w.completeStep(c)
	case *StepCleanedUp:
		return w.stepCleanedUp(c)
	case *DecommissionWorker:
		return w.decommissionWorker(c)
	case *FinishDecommission:
		return w.finishDecommission(c)
	case *Mkdirs:
		return w.mkdirs(c)
	case *CreateFile:
		return w.createFile(c)
	case *AddBlock:
		return w.addBlock(c)
	case *AbandonBlock:
		return w.abandonBlock(c)
	case *CompleteFile:
		return w.completeFile(c)
	case *AbandonFile:
		return w.abandonFile(c)
	case *RenewLease:
		return w.renewLease(c)
	case *ExpireLeases:
		return w.expireLeases(c)
	case *DeletePath:
		return w.deletePath(c)
	case *RenamePath:
		return w.renamePath(c)
	case *SetReplication:
		return w.setReplication(c)
	case *SetSafeMode:
		return w.setSafeMode(c)
	case *CreateToken:
		return w.createToken(c)
	case *RevokeToken:
		return w.revokeToken(c)
	}
	return fmt.Errorf("apply: unknown command %T", c)
}
