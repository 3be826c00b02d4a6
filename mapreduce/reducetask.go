package mapreduce

import (
	"context"
	"fmt"
	"io"
)

// SegmentInput is one map output segment a reduce task merges.
type SegmentInput struct {
	// Name identifies the segment in errors (e.g. its map attempt).
	Name    string
	Reader  io.Reader
	Segment Segment
}

// RunReduce merges the segments (their order breaks key ties), groups the
// values of each key and calls the reducer, writing its pairs to out. The
// task context's counters get the task's; its progress, if set, ticks as
// keys are reduced.
func RunReduce(ctx context.Context, job *Job, inputs []SegmentInput, out Emitter, tc *TaskContext) error {
	if job.Reducer == nil {
		return fmt.Errorf("job has no reducer")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	task := *tc
	task.ctx = ctx
	tc = &task
	c, progress := tc.Counters, tc.Progress
	readers := make([]*segmentReader, len(inputs))
	for i, in := range inputs {
		readers[i] = newSegmentReader(in.Reader, in.Segment, in.Name)
	}
	it, err := newMergeIter(readers)
	if err != nil {
		return err
	}
	g := newGrouper(it)
	g.progress = progress
	counting := &countingEmitter{out: out}
	lifecycle, _ := job.Reducer.(TaskLifecycle)
	if lifecycle != nil {
		if err := lifecycle.Setup(tc); err != nil {
			return fmt.Errorf("reduce setup: %w", err)
		}
	}
	var groups int64
	for g.nextGroup() {
		if err := job.Reducer.Reduce(g.key, &g.vals, counting); err != nil {
			return fmt.Errorf("reduce key %q: %w", g.key, err)
		}
		c.Add(ReduceInputRecords, g.vals.drain())
		groups++
		if groups&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress.Tick()
			}
		}
	}
	if g.err != nil {
		return g.err
	}
	if lifecycle != nil {
		if err := lifecycle.Cleanup(tc, counting); err != nil {
			return fmt.Errorf("reduce cleanup: %w", err)
		}
	}
	c.Add(ReduceInputGroups, groups)
	c.Add(ReduceOutputRecords, counting.n)
	return nil
}

type countingEmitter struct {
	out Emitter
	n   int64
}

func (ce *countingEmitter) Emit(key, value []byte) error {
	ce.n++
	return ce.out.Emit(key, value)
}
