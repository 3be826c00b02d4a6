package state

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Batch applies several commands from one log entry, in order, each in
// a transaction of its own: the leader writes what it decided together
// (an attempt's end and the next attempt of the slot it freed) with one
// log write instead of several. The first command rejected ends the
// batch: the commands before it stay applied, those after it are not
// applied at all, and Apply returns a *BatchError naming it. A batch
// holds no batch.
type Batch struct {
	Commands []Command `json:"-"`
}

// Type implements Command.
func (Batch) Type() CommandType { return CmdBatch }

// batchEntry is one command of a batch on the wire: its tag and its JSON.
type batchEntry struct {
	Type    CommandType     `json:"type"`
	Command json.RawMessage `json:"command"`
}

// MarshalJSON encodes the commands with their tags.
func (b Batch) MarshalJSON() ([]byte, error) {
	var entries []batchEntry
	for _, c := range b.Commands {
		if c.Type() == CmdBatch {
			return nil, errors.New("a batch inside a batch")
		}
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("batch command %s: %w", c.Type(), err)
		}
		entries = append(entries, batchEntry{Type: c.Type(), Command: raw})
	}
	return json.Marshal(struct {
		Commands []batchEntry `json:"commands"`
	}{entries})
}

// UnmarshalJSON decodes what MarshalJSON wrote. Every command of a batch
// must be of a tag this version knows, even one whose tag says it may be
// skipped: a batch is applied whole or not understood.
func (b *Batch) UnmarshalJSON(data []byte) error {
	var wire struct {
		Commands []batchEntry `json:"commands"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	b.Commands = nil
	for i, e := range wire.Commands {
		c := newCommand(e.Type)
		if c == nil || e.Type == CmdBatch {
			return fmt.Errorf("batch command %d: tag %d cannot be in a batch here", i, e.Type)
		}
		if err := json.Unmarshal(e.Command, c); err != nil {
			return fmt.Errorf("batch command %d (%s): %w", i, e.Type, err)
		}
		b.Commands = append(b.Commands, c)
	}
	return nil
}

// BatchError is the rejection of one command of a batch: the commands
// before Index were applied, the one at Index was rejected with Err, and
// the rest were not applied.
type BatchError struct {
	Index int
	Type  CommandType
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("batch command %d (%s): %v", e.Index, e.Type, e.Err)
}

// Unwrap returns the rejection, so that errors.Is sees ErrStale and the
// others through it.
func (e *BatchError) Unwrap() error { return e.Err }

// applyBatch applies a batch's commands in order until one is rejected.
func (s *State) applyBatch(index uint64, b *Batch) error {
	for i, c := range b.Commands {
		var err error
		if c.Type() == CmdBatch {
			err = fmt.Errorf("%w: a batch inside a batch", ErrConflict)
		} else {
			err = s.applyOne(index, c)
		}
		if err != nil {
			return &BatchError{Index: i, Type: c.Type(), Err: err}
		}
	}
	return nil
}
