package worker

import (
	"path/filepath"

	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// The map outputs a worker holds for the shuffle: files in the attempt's
// folder, or, for a tiny task, the bytes themselves. A one-line input
// would otherwise cost a folder and two file creations (the run and its
// index), each a journal write, for a few bytes of output.
//
// memoryMapOutputs bounds the outputs of tiny map tasks (isTiny) a worker
// holds in memory; past it, tiny tasks write files too. (It may be passed
// by the last output held, which is at most what a tiny task emits.)
const memoryMapOutputs = 64 << 20

// mapOutput is a map attempt's output: its run file, or the run in
// memory.
type mapOutput struct {
	step string
	path string         // the run file ("" when in memory)
	run  *mapreduce.Run // the run in memory (nil when on disk)
	// cached is the size of a run file written through the page cache
	// (0 if written behind or in memory).
	cached int64
}

// writeBehind reports whether a map attempt is to write its output
// behind the page cache: the worker holds Config.MapOutputCacheBytes of
// map output written through it already. A step whose map output is
// larger than the memory the kernel can cache would otherwise grow the
// cache over the input and everything else, only for the kernel to write
// it out and drop it; written behind, it goes to disk as it is written,
// through a few megabytes of cache, and a reduce reads it from there.
func (w *Worker) writeBehind() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cachedOutputs >= w.cfg.MapOutputCacheBytes
}

// holdInMemory reports whether a map attempt's output is to be kept in
// memory: its split is tiny and the worker has room.
func (w *Worker) holdInMemory(spec *pb.Assignment) bool {
	if !isTiny(spec) {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.memOutputs < memoryMapOutputs
}

// keepOutput records a finished map attempt's output, written in dir
// ("" when the run is in memory), behind the page cache or not.
func (w *Worker) keepOutput(spec *pb.Assignment, dir string, run *mapreduce.Run, behind bool) {
	o := mapOutput{step: spec.StepId}
	if dir == "" {
		o.run = run
	} else {
		if !behind {
			o.cached = run.Bytes()
		}
		run.Close()
		o.path = filepath.Join(dir, mapreduce.OutputName)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetOutput(spec.AttemptId)
	w.outputs[spec.AttemptId] = o
	if o.run != nil {
		w.memOutputs += o.run.Bytes()
	}
	w.cachedOutputs += o.cached
}

// forgetOutput drops an attempt's output from the table (its files, if
// any, are the caller's to remove). Call it with w.mu held.
func (w *Worker) forgetOutput(attemptID string) {
	if o, ok := w.outputs[attemptID]; ok {
		if o.run != nil {
			w.memOutputs -= o.run.Bytes()
		}
		w.cachedOutputs -= o.cached
		delete(w.outputs, attemptID)
	}
}
