package streaming

import (
	"errors"
	"runtime"
	"sync"

	"github.com/gomr/gomr/mapreduce"
)

var errNoSetup = errors.New("streaming: the task did not call Setup: a wrapper around the job's mapper or reducer must pass on mapreduce.TaskLifecycle")

// slot holds a task's running command for the job's cleanup: when a job
// is dropped while one of its commands runs (its task failed in the
// engine, which calls no Cleanup then), the command is killed.
type slot struct {
	mu sync.Mutex
	p  *pipe
}

func (s *slot) swap(p *pipe) *pipe {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.p
	s.p = p
	return old
}

func abandon(s *slot) {
	if p := s.swap(nil); p != nil {
		go p.kill(errAbandoned)
	}
}

// task runs one command for a task: the mapper's or the reducer's.
type task struct {
	cmd  *command
	p    *pipe
	slot *slot
}

func (t *task) setup(tc *mapreduce.TaskContext) error {
	if old := t.slot.swap(nil); old != nil {
		old.kill(errNewTask)
	}
	t.p = nil
	p, err := t.cmd.start(tc)
	if err != nil {
		return err
	}
	t.p = p
	t.slot.swap(p)
	return nil
}

func (t *task) fail(err error) error {
	t.p.kill(err)
	t.p = nil
	t.slot.swap(nil)
	return err
}

func (t *task) cleanup(out mapreduce.Emitter) error {
	p := t.p
	if p == nil {
		return errNoSetup
	}
	t.p = nil
	t.slot.swap(nil)
	return p.finish(out)
}

// mapper runs the mapper command for each map task: every record's line is
// a line of its stdin, every line of its stdout a pair.
type mapper struct{ task }

func newMapper(cmd *command) *mapper {
	m := &mapper{task{cmd: cmd, slot: &slot{}}}
	runtime.AddCleanup(m, abandon, m.slot)
	return m
}

func (m *mapper) Setup(tc *mapreduce.TaskContext) error { return m.setup(tc) }

func (m *mapper) Map(_ *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	if m.p == nil {
		return errNoSetup
	}
	if err := m.p.putLine(rec.Line, out); err != nil {
		return m.fail(err)
	}
	return nil
}

func (m *mapper) Cleanup(_ *mapreduce.TaskContext, out mapreduce.Emitter) error {
	return m.cleanup(out)
}

// reducer runs the reducer command for each reduce task: every value is a
// key<TAB>value line of its stdin, in key order, and every line of its
// stdout an output line.
type reducer struct{ task }

func newReducer(cmd *command) *reducer {
	r := &reducer{task{cmd: cmd, slot: &slot{}}}
	runtime.AddCleanup(r, abandon, r.slot)
	return r
}

func (r *reducer) Setup(tc *mapreduce.TaskContext) error { return r.setup(tc) }

func (r *reducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	if r.p == nil {
		return errNoSetup
	}
	for values.Next() {
		if err := r.p.putPair(key, values.Value(), out); err != nil {
			return r.fail(err)
		}
	}
	return nil
}

func (r *reducer) Cleanup(_ *mapreduce.TaskContext, out mapreduce.Emitter) error {
	return r.cleanup(out)
}

// combiner runs the combiner command once for each map output partition
// it combines (at every spill and at the final merge), fed the
// partition's sorted pairs as key<TAB>value lines; the pairs it writes
// must keep their keys in order.
type combiner struct{ cmd *command }

func (c *combiner) CombineStream(tc *mapreduce.TaskContext, in func(yield func(key, value []byte) bool), out mapreduce.Emitter) error {
	var p *pipe
	var err error
	in(func(key, value []byte) bool {
		if p == nil {
			if p, err = c.cmd.start(tc); err != nil {
				return false
			}
			p.strict = true
		}
		err = p.putPair(key, value, out)
		return err == nil
	})
	if p == nil { // an empty partition, or the command did not start
		return err
	}
	if err == nil {
		return p.finish(out)
	}
	p.kill(err)
	return err
}

// Reduce is never called: the engine combines a StreamCombiner's
// partitions with CombineStream.
func (c *combiner) Reduce([]byte, *mapreduce.Values, mapreduce.Emitter) error {
	return errors.New("streaming combiner: the engine must call CombineStream")
}
