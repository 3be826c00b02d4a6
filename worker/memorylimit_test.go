package worker

import (
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// TestMemoryLimitFollowsTheBudgets starts attempts on a worker of 2 slots
// that sets the process's memory limit: the first sets it for the default
// sort buffer, a step with a smaller one leaves it, a larger one raises
// it; a worker that does not set it leaves the limit alone.
func TestMemoryLimitFollowsTheBudgets(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	debug.SetMemoryLimit(math.MaxInt64)
	cfg := Config{Slots: 2, ShuffleMemoryBytes: 64 << 20, SetMemoryLimit: true}
	w := &Worker{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	step := func(sortBuffer int64) *pb.Assignment {
		return &pb.Assignment{Spec: &pb.StepSpec{SortBufferBytes: sortBuffer}}
	}
	for _, c := range []struct {
		sortBuffer int64
		want       int64
	}{
		{0, memoryLimitBase + 2*(mapreduce.DefaultSortBufferBytes+64<<20) + memoryMapOutputs},
		{16 << 20, memoryLimitBase + 2*(mapreduce.DefaultSortBufferBytes+64<<20) + memoryMapOutputs},
		{512 << 20, memoryLimitBase + 2*(512<<20+64<<20) + memoryMapOutputs},
		{200 << 20, memoryLimitBase + 2*(512<<20+64<<20) + memoryMapOutputs},
	} {
		w.raiseMemoryLimit(step(c.sortBuffer))
		if got := debug.SetMemoryLimit(-1); got != c.want {
			t.Fatalf("after a step with a %d-byte sort buffer the limit is %d, want %d", c.sortBuffer, got, c.want)
		}
	}
	debug.SetMemoryLimit(math.MaxInt64)
	cfg.SetMemoryLimit = false
	(&Worker{cfg: cfg, log: slog.New(slog.DiscardHandler)}).raiseMemoryLimit(step(0))
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("a worker that does not set the limit set it to %d", got)
	}
}
