package mapreduce

import (
	"context"
	"encoding/json"
	"fmt"
)

// SequentialOptions configures RunSequential.
type SequentialOptions struct {
	Reducers        int
	SortBufferBytes int
	MaxLineBytes    int
	// MapOutputCodec compresses the map tasks' output runs ("": none; one
	// of MapOutputCodecs).
	MapOutputCodec string
	// FileSystems reads the splits and writes the output (local paths
	// only when nil).
	FileSystems *FileSystems
	// Output is the folder to create; it must not exist.
	Output string
	// Step and JobName go into the _SUCCESS manifest.
	Step, JobName string
	// InputFormat is how splits are read (see MapTask.InputFormat) and
	// OutputFormat how part files are written (text when zero).
	InputFormat  string
	OutputFormat OutputFormat
}

// RunSequential runs a job in the calling goroutine: every split through
// the mapper, the sort buffer and the combiner, then every partition
// through the merge and the reducer. Runs stay in memory; nothing crosses a
// network. It writes the same files a cluster step writes, through the same
// output committer, so its output is the reference a cluster's output must
// equal byte for byte.
func RunSequential(ctx context.Context, job *Job, splits []Split, opt SequentialOptions) (*Counters, error) {
	step := opt.Step
	if step == "" {
		step = "sequential"
	}
	if opt.FileSystems == nil {
		opt.FileSystems = LocalFileSystems()
	}
	cm, err := opt.FileSystems.Committer(opt.Output, step)
	if err != nil {
		return nil, err
	}
	if err := cm.CheckOutput(ctx); err != nil {
		return nil, err
	}
	if err := cm.SetupJob(ctx); err != nil {
		return nil, err
	}
	total := NewCounters()
	var commits []TaskCommit
	var runs []*Run
	for i, s := range splits {
		id := fmt.Sprintf("attempt_%s_m_%06d_0", step, i)
		out, err := cm.SetupTask(ctx, id)
		if err != nil {
			return nil, err
		}
		res, err := RunMap(ctx, MapTask{
			Job:             job,
			Split:           s,
			Index:           i,
			FileSystems:     opt.FileSystems,
			Reducers:        opt.Reducers,
			SortBufferBytes: opt.SortBufferBytes,
			OutputCodec:     opt.MapOutputCodec,
			MaxLineBytes:    opt.MaxLineBytes,
			InputFormat:     opt.InputFormat,
			OutputFormat:    opt.OutputFormat,
			Output:          out,
			Info:            TaskInfo{StepID: step, AttemptID: id},
		})
		if err != nil {
			cm.AbortJob(ctx)
			return nil, fmt.Errorf("map %d: %w", i, err)
		}
		if commits, err = appendCommit(ctx, commits, id, out); err != nil {
			return nil, err
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
		id := fmt.Sprintf("attempt_%s_r_%06d_0", step, p)
		out, err := cm.SetupTask(ctx, id)
		if err != nil {
			return nil, err
		}
		w, err := opt.OutputFormat.Create(ctx, out, opt.OutputFormat.PartName('r', p))
		if err != nil {
			return nil, err
		}
		c := NewCounters()
		tc := &TaskContext{Counters: c, FileSystems: opt.FileSystems, Info: TaskInfo{StepID: step, AttemptID: id, Kind: "r", Index: p, Reducers: opt.Reducers}}
		if err := RunReduce(ctx, job, inputs, w, tc); err != nil {
			w.Abort()
			cm.AbortJob(ctx)
			return nil, fmt.Errorf("reduce %d: %w", p, err)
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		if commits, err = appendCommit(ctx, commits, id, out); err != nil {
			return nil, err
		}
		c.Add(BytesWritten, w.Bytes())
		total.Merge(c)
	}
	for _, tc := range commits {
		if err := cm.CommitTask(ctx, tc); err != nil {
			return nil, err
		}
	}
	if err := cm.CommitJob(ctx, Manifest{Step: opt.Step, Job: opt.JobName, Counters: total.Map()}); err != nil {
		return nil, err
	}
	return total, nil
}

func appendCommit(ctx context.Context, commits []TaskCommit, id string, out TaskOutput) ([]TaskCommit, error) {
	rec, err := out.Commit(ctx)
	if err != nil {
		return nil, err
	}
	return append(commits, TaskCommit{AttemptID: id, Record: json.RawMessage(rec)}), nil
}
