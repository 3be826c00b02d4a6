package worker

import (
	"runtime/debug"

	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// memoryLimitBase is the soft memory limit's share for what a worker holds
// beside its slots' budgets: its gRPC and gossip buffers, the state of the
// attempts it tracks, the garbage collector's slack.
const memoryLimitBase = 128 << 20

// memoryLimit returns the soft memory limit of a worker process whose
// attempts' sort buffers are at most sortBuffer: each slot may hold a
// sort buffer and a reduce's shuffle budget, and the worker its tiny
// tasks' map outputs in memory (memoryMapOutputs).
func memoryLimit(cfg Config, sortBuffer int64) int64 {
	return memoryLimitBase + int64(cfg.Slots)*(sortBuffer+cfg.ShuffleMemoryBytes) + memoryMapOutputs
}

// raiseMemoryLimit makes room in the process's soft memory limit, if the
// worker sets it (Config.SetMemoryLimit), for an attempt whose step asks
// for a larger sort buffer than any before it.
func (w *Worker) raiseMemoryLimit(spec *pb.Assignment) {
	if !w.cfg.SetMemoryLimit {
		return
	}
	sb := max(spec.Spec.GetSortBufferBytes(), mapreduce.DefaultSortBufferBytes)
	w.mu.Lock()
	defer w.mu.Unlock()
	if sb <= w.limitSortBuffer {
		return
	}
	w.limitSortBuffer = sb
	limit := memoryLimit(w.cfg, sb)
	debug.SetMemoryLimit(limit)
	w.log.Debug("memory limit set", "bytes", limit, "sort_buffer", sb)
}
