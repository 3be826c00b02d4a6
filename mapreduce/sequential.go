package mapreduce

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// SequentialOptions configures RunSequential.
type SequentialOptions struct {
	Reducers        int
	SortBufferBytes int
	MaxLineBytes    int
	// Output is the folder to create; it must not exist.
	Output string
	// Step and JobName go into the _SUCCESS manifest.
	Step, JobName string
}

// RunSequential runs a job in the calling goroutine: every split through
// the mapper, the sort buffer and the combiner, then every partition
// through the merge and the reducer. Runs stay in memory; nothing crosses a
// network. It writes the same files a cluster step writes, so its output is
// the reference a cluster's output must equal byte for byte.
func RunSequential(ctx context.Context, job *Job, splits []Split, opt SequentialOptions) (*Counters, error) {
	if err := CheckOutput(opt.Output); err != nil {
		return nil, err
	}
	if err := os.Mkdir(opt.Output, 0o755); err != nil {
		return nil, fmt.Errorf("output %s: %w", opt.Output, err)
	}
	total := NewCounters()
	var runs []*Run
	for i, s := range splits {
		res, err := RunMap(ctx, MapTask{
			Job:             job,
			Split:           s,
			Reducers:        opt.Reducers,
			SortBufferBytes: opt.SortBufferBytes,
			MaxLineBytes:    opt.MaxLineBytes,
			RejectsPath:     filepath.Join(opt.Output, RejectsDir, PartName('m', i)),
			MapOnlyOutput:   filepath.Join(opt.Output, PartName('m', i)),
		})
		if err != nil {
			return nil, fmt.Errorf("map %d: %w", i, err)
		}
		total.Merge(res.Counters)
		if res.Output != nil {
			runs = append(runs, res.Output)
		}
	}
	for p := 0; p < opt.Reducers; p++ {
		inputs := make([]SegmentInput, len(runs))
		for i, r := range runs {
			rd, seg := r.OpenSegment(p)
			inputs[i] = SegmentInput{Name: fmt.Sprintf("map %d", i), Reader: rd, Segment: seg}
			total.Add(ReduceShuffleBytes, seg.Length)
		}
		w, err := CreateText(filepath.Join(opt.Output, PartName('r', p)))
		if err != nil {
			return nil, err
		}
		c := NewCounters()
		if err := RunReduce(ctx, job, inputs, w, c, nil); err != nil {
			w.Abort()
			return nil, fmt.Errorf("reduce %d: %w", p, err)
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		c.Add(BytesWritten, w.Bytes())
		total.Merge(c)
	}
	m := Manifest{Step: opt.Step, Job: opt.JobName, Counters: total.Map()}
	if err := CommitOutput(opt.Output, nil, m); err != nil {
		return nil, err
	}
	return total, nil
}
