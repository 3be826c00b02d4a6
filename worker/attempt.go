package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/faults"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// attemptResult is what an attempt reports.
type attemptResult struct {
	counters *mapreduce.Counters
	// commit is the attempt's commit record, from its task output.
	commit []byte
}

// runAttempt runs an attempt, records how it ended (succeeded, failed or
// killed) in the attempt log and reports it to the leader. A killed
// attempt reports nothing: the leader already recorded its end.
func (w *Worker) runAttempt(ctx context.Context, a *attempt) {
	spec := a.spec
	start := time.Now()
	defer w.startAttemptLog(a).close() // logs.go
	res, err := w.execute(ctx, a)
	if ctx.Err() != nil {
		a.log.Info("attempt stopped")
		w.discard(a)
		w.audit("end", spec.AttemptId, "killed")
		return
	}
	req := &pb.ReportAttemptRequest{WorkerId: w.cfg.ID, Incarnation: a.incarnation, AttemptId: spec.AttemptId}
	if err != nil {
		var inputErr *mapreduce.InputError
		req.Error = err.Error()
		req.Fatal = errors.As(err, &inputErr) || errors.Is(err, mapreduce.ErrInputChanged) || errors.Is(err, jobs.ErrBadOption) || errors.Is(err, jobs.ErrUnknownJob) ||
			errors.Is(err, mapreduce.ErrOutputRow)
		a.log.Warn("attempt failed", "err", err, "fatal", req.Fatal)
		w.discard(a)
	} else {
		req.Success = true
		req.Counters = res.counters.Map()
		req.CommitRecord = res.commit
		a.log.Info("attempt succeeded", "took", time.Since(start))
	}
	result := "failed"
	if req.Success {
		result = "succeeded"
	}
	w.audit("end", spec.AttemptId, result)              // before the attempts its slot starts next
	req.FreeSlots, req.TinySlots = w.slotsHandedBack(a) // slots.go
	resp := w.report(req)
	w.launchAll(resp.GetAssignments(), a.incarnation, a)
}

// report delivers an attempt's end, retrying until the leader records it
// or refuses it for good; it returns the leader's answer (nil if
// refused).
func (w *Worker) report(req *pb.ReportAttemptRequest) *pb.ReportAttemptResponse {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
		resp, err := w.client.ReportAttempt(ctx, req)
		cancel()
		if err == nil {
			return resp
		}
		if !retryable(err) || w.ctx.Err() != nil {
			if status.Code(err) != codes.Canceled {
				w.log.Info("attempt report refused", "attempt", req.AttemptId, "err", err)
			}
			return nil
		}
		w.log.Debug("report attempt", "attempt", req.AttemptId, "err", err)
		sleep(w.ctx, backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// discard removes what an attempt that will not count left: its local
// files and what it wrote of the step's output.
func (w *Worker) discard(a *attempt) {
	w.mu.Lock()
	w.forgetOutput(a.spec.AttemptId)
	out := a.output
	w.mu.Unlock()
	os.RemoveAll(w.attemptDir(a.spec))
	if out != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := out.Abort(ctx); err != nil {
			w.log.Warn("discard attempt output", "attempt", a.spec.AttemptId, "err", err)
		}
	}
}

func (w *Worker) attemptDir(spec *pb.Assignment) string {
	return filepath.Join(w.cfg.DataDir, "steps", spec.StepId, spec.AttemptId)
}

func (w *Worker) execute(ctx context.Context, a *attempt) (*attemptResult, error) {
	spec := a.spec
	def, err := jobs.Lookup(spec.Spec.GetJob())
	if err != nil {
		return nil, err
	}
	formats := jobs.Formats{Input: spec.Spec.GetInputFormat(), Output: spec.Spec.GetOutputFormat(), Compress: spec.Spec.GetCompress()}
	job, err := def.BuildFor(spec.Spec.GetOptions(), formats)
	if err != nil {
		return nil, err
	}
	sf, err := attemptFormats(def, spec.Spec.GetOptions(), formats)
	if err != nil {
		return nil, err
	}
	if faults.Armed() {
		job.Mapper = faultyMapper{job.Mapper}
		if job.Reducer != nil {
			job.Reducer = faultyReducer{job.Reducer}
		}
	}
	cm, err := w.cfg.FileSystems.CommitterFor(spec.Spec.GetOutput(), spec.StepId, spec.Spec.GetOverwrite())
	if err != nil {
		return nil, err
	}
	out, err := cm.SetupTask(ctx, spec.AttemptId)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	a.output = out
	w.mu.Unlock()
	var res *attemptResult
	switch spec.Kind {
	case pb.TaskKind_MAP:
		res, err = w.runMap(ctx, a, job, sf, out)
	case pb.TaskKind_REDUCE:
		res, err = w.runReduce(ctx, a, job, sf, out)
	default:
		return nil, fmt.Errorf("attempt %s: unknown task kind %s", spec.AttemptId, spec.Kind)
	}
	if err != nil {
		return nil, err
	}
	if res.commit, err = out.Commit(ctx); err != nil {
		return nil, err
	}
	a.log.Info("task output committed", "output", spec.Spec.GetOutput())
	if cs, ok := out.(mapreduce.CounterSource); ok {
		for k, v := range cs.Counters() {
			res.counters.Add(k, v)
		}
	}
	return res, nil
}

// stepFormats is how a step's attempts read input and write part files.
type stepFormats struct {
	input  string
	output mapreduce.OutputFormat
}

// attemptFormats resolves a step's formats for its job (csv2parquet reads
// csv and writes parquet whatever the step names) with its typed output.
func attemptFormats(def *jobs.Definition, opts map[string]string, f jobs.Formats) (stepFormats, error) {
	resolved, err := def.Resolve(f)
	if err != nil {
		return stepFormats{}, err
	}
	of, err := def.OutputFormat(opts, f)
	if err != nil {
		return stepFormats{}, err
	}
	return stepFormats{input: resolved.Input, output: of}, nil
}

func (w *Worker) runMap(ctx context.Context, a *attempt, job *mapreduce.Job, sf stepFormats, out mapreduce.TaskOutput) (*attemptResult, error) {
	spec := a.spec
	dir := w.attemptDir(spec)
	// A tiny task keeps its output in memory (mapoutputs.go); the others
	// write it, and their spills, in the attempt's folder.
	runDir, behind := "", false
	if !w.holdInMemory(spec) {
		behind = w.writeBehind()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create attempt folder: %w", err)
		}
		runDir = dir
	}
	res, err := mapreduce.RunMap(ctx, mapreduce.MapTask{
		Job:             job,
		Split:           spec.Split.Engine(),
		Index:           int(spec.TaskIndex),
		FileSystems:     w.cfg.FileSystems,
		Reducers:        int(spec.Spec.GetReducers()),
		SortBufferBytes: int(spec.Spec.GetSortBufferBytes()),
		OutputCodec:     w.cfg.MapOutputCodec,
		MaxLineBytes:    int(spec.Spec.GetMaxLineBytes()),
		InputFormat:     sf.input,
		OutputFormat:    sf.output,
		Dir:             runDir,
		WriteBehind:     behind,
		Output:          out,
		Progress:        &a.progress,
		Info:            w.taskInfo(a, dir),
	})
	if err != nil {
		return nil, err
	}
	logInputRead(a, res.Counters)
	if res.Output != nil {
		w.keepOutput(spec, runDir, res.Output, behind)
	}
	return &attemptResult{counters: res.Counters}, nil
}

func (w *Worker) runReduce(ctx context.Context, a *attempt, job *mapreduce.Job, sf stepFormats, out mapreduce.TaskOutput) (*attemptResult, error) {
	spec := a.spec
	dir := w.attemptDir(spec)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create attempt folder: %w", err)
	}
	defer os.RemoveAll(dir) // fetched segments are not needed once the part file is written
	counters := mapreduce.NewCounters()
	tc := &mapreduce.TaskContext{Counters: counters, Progress: &a.progress, FileSystems: w.cfg.FileSystems, Info: w.taskInfo(a, dir)}
	tc.Info.Kind, tc.Info.Index = "r", int(spec.TaskIndex)
	start := time.Now()
	inputs, err := w.fetchAll(ctx, a, job, dir, tc)
	if err != nil {
		return nil, err
	}
	// The phases of a reduce attempt, as Hadoop's job history times them:
	// shuffle (fetching), then merging and reducing, then closing the
	// part file (which syncs it).
	a.log.Info("shuffle finished", "took", time.Since(start), "segments", len(inputs), "bytes", counters.Get(mapreduce.ReduceShuffleBytes))
	start = time.Now()
	defer func() {
		for _, in := range inputs {
			in.close()
		}
	}()
	a.progress.Set(0.5)
	tw, err := sf.output.Create(ctx, out, sf.output.PartName('r', int(spec.TaskIndex)))
	if err != nil {
		return nil, err
	}
	segs := make([]mapreduce.SegmentInput, len(inputs))
	for i, in := range inputs {
		segs[i] = in.input
	}
	if err := mapreduce.RunReduce(ctx, job, segs, tw, tc); err != nil {
		tw.Abort()
		return nil, err
	}
	reduced := time.Since(start)
	start = time.Now()
	if err := tw.Close(); err != nil {
		return nil, err
	}
	a.log.Info("reduce finished", "took", reduced, "close", time.Since(start))
	faults.Hit("reduce-end")
	counters.Add(mapreduce.BytesWritten, tw.Bytes())
	logInputRead(a, counters)
	a.progress.Set(1)
	return &attemptResult{counters: counters}, nil
}

// taskInfo describes an attempt to its job.
func (w *Worker) taskInfo(a *attempt, dir string) mapreduce.TaskInfo {
	work := filepath.Join(dir, "work")
	return mapreduce.TaskInfo{StepID: a.spec.StepId, AttemptID: a.spec.AttemptId, Reducers: int(a.spec.Spec.GetReducers()), WorkDir: work, LogDir: a.logDir, RunAs: w.cfg.runAs}
}

// faultyMapper passes each record through the map-record fault point.
type faultyMapper struct{ mapreduce.Mapper }

func (m faultyMapper) Map(tc *mapreduce.TaskContext, rec mapreduce.Record, out mapreduce.Emitter) error {
	faults.Hit("map-record")
	return m.Mapper.Map(tc, rec, out)
}

// Setup passes the task's setup on to the mapper.
func (m faultyMapper) Setup(tc *mapreduce.TaskContext) error { return setup(m.Mapper, tc) }

// Cleanup passes the task's cleanup on to the mapper.
func (m faultyMapper) Cleanup(tc *mapreduce.TaskContext, out mapreduce.Emitter) error {
	return cleanup(m.Mapper, tc, out)
}

// faultyReducer passes each key through the reduce-key fault point.
type faultyReducer struct{ mapreduce.Reducer }

// Setup passes the task's setup on to the reducer.
func (r faultyReducer) Setup(tc *mapreduce.TaskContext) error { return setup(r.Reducer, tc) }

// Cleanup passes the task's cleanup on to the reducer.
func (r faultyReducer) Cleanup(tc *mapreduce.TaskContext, out mapreduce.Emitter) error {
	return cleanup(r.Reducer, tc, out)
}

func setup(f any, tc *mapreduce.TaskContext) error {
	if l, ok := f.(mapreduce.TaskLifecycle); ok {
		return l.Setup(tc)
	}
	return nil
}

func cleanup(f any, tc *mapreduce.TaskContext, out mapreduce.Emitter) error {
	if l, ok := f.(mapreduce.TaskLifecycle); ok {
		return l.Cleanup(tc, out)
	}
	return nil
}

func (r faultyReducer) Reduce(key []byte, values *mapreduce.Values, out mapreduce.Emitter) error {
	faults.Hit("reduce-key")
	return r.Reducer.Reduce(key, values, out)
}
