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
// ("" when the run is in memory).
func (w *Worker) keepOutput(spec *pb.Assignment, dir string, run *mapreduce.Run) {
	o := mapOutput{step: spec.StepId}
	if dir == "" {
		o.run = run
	} else {
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
}

// forgetOutput drops an attempt's output from the table (its files, if
// any, are the caller's to remove). Call it with w.mu held.
func (w *Worker) forgetOutput(attemptID string) {
	if o, ok := w.outputs[attemptID]; ok {
		if o.run != nil {
			w.memOutputs -= o.run.Bytes()
		}
		delete(w.outputs, attemptID)
	}
}
