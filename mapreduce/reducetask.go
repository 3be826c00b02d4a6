package mapreduce

import (
	"bytes"
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
	tc = tc.withContext(ctx)
	c, progress := tc.Counters, tc.Progress
	it, err := newMergeIter(newSegmentReaders(inputs))
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
	var groups, records int64
	for g.nextGroup() {
		if err := job.Reducer.Reduce(g.key, &g.vals, counting); err != nil {
			return fmt.Errorf("reduce key %q: %w", g.key, err)
		}
		records += g.vals.drain()
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
	c.Add(ReduceInputRecords, records)
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

// CombineSegments merges segments of one partition that a reduce task
// holds in memory into one segment in memory, running the job's combiner
// on each key: Hadoop's in-memory merge, which keeps the fetched map
// output a reduce task holds from growing with the number of maps when
// the job combines (a word count's 1,000 segments of the same words
// become one). The task context's counters get the combine counters.
// The returned input reads the merged segment; its Segment.Length is
// what it holds.
func CombineSegments(ctx context.Context, job *Job, partition int, inputs []SegmentInput, tc *TaskContext) (SegmentInput, error) {
	switch {
	case job.Combiner == nil:
		return SegmentInput{}, fmt.Errorf("combine %d segments: the job has no combiner", len(inputs))
	case len(inputs) == 0:
		return SegmentInput{}, fmt.Errorf("combine segments: none given")
	}
	if err := ctx.Err(); err != nil {
		return SegmentInput{}, err
	}
	tc = tc.withContext(ctx)
	var mem memRun
	rw, err := newRunWriter(&mem, "")
	if err != nil {
		return SegmentInput{}, err
	}
	if err := writeMergedSegment(rw, partition, inputs, job.Combiner, tc, tc.Counters); err != nil {
		return SegmentInput{}, fmt.Errorf("combine %d segments: %w", len(inputs), err)
	}
	return SegmentInput{
		Name:    fmt.Sprintf("%d combined segments (%s, ...)", len(inputs), inputs[0].Name),
		Reader:  bytes.NewReader(mem.buf),
		Segment: rw.segs[0],
	}, nil
}
