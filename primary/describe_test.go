package primary

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// runningStep submits, on a primary without workers, a step that starts
// and then waits for a reducer slot that never comes: it stays RUNNING
// until it is cancelled.
func runningStep(t *testing.T, s *Server, c *clientService) *pb.DescribeStepResponse {
	t.Helper()
	dir := t.TempDir()
	sp := state.StepSpec{Name: "wc", Job: "wordcount", Inputs: []string{filepath.Join(dir, "in")}, Output: filepath.Join(dir, "out"), Reducers: 1, MaxAttempts: 1}
	if err := s.apply(&state.SubmitStep{ID: "s-1", Spec: sp, Time: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := c.DescribeStep(context.Background(), &pb.DescribeStepRequest{StepId: "s-1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Step.State.Value() == state.StepRunning {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("step did not start: %s", r.Step.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDescribeStepBlocks: a blocking DescribeStep returns the step's
// new state as soon as it changes, in that one call; with nothing
// changing it returns at its timeout, with the step as it was.
func TestDescribeStepBlocks(t *testing.T) {
	s := startGroup(t, 1)[0]
	c := &clientService{s: s}
	r0 := runningStep(t, s, c)
	if r0.Index == 0 || r0.StateIndex == 0 || r0.StateIndex > r0.Index {
		t.Fatalf("indexes %d (state %d): want 0 < state index <= index", r0.Index, r0.StateIndex)
	}

	// Nothing changes: the call returns at its timeout.
	const wait = 200 * time.Millisecond
	start := time.Now()
	r, err := c.DescribeStep(context.Background(), &pb.DescribeStepRequest{StepId: "s-1", WaitIndex: r0.StateIndex, WaitMillis: wait.Milliseconds(), StateOnly: true})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if r.Step.State.Value() != state.StepRunning || r.StateIndex != r0.StateIndex {
		t.Fatalf("after the timeout: %s at state index %d, want RUNNING at %d", r.Step.State, r.StateIndex, r0.StateIndex)
	}
	if took < wait {
		t.Fatalf("returned after %s, before its %s timeout, with nothing changed", took, wait)
	}
	t.Logf("returned at its timeout after %s (wait %s)", took, wait)

	// A change while the call waits ends the wait with the new state.
	type answer struct {
		r   *pb.DescribeStepResponse
		err error
		at  time.Time
	}
	got := make(chan answer, 1)
	const long = time.Minute
	go func() {
		r, err := c.DescribeStep(context.Background(), &pb.DescribeStepRequest{StepId: "s-1", WaitIndex: r0.StateIndex, WaitMillis: long.Milliseconds(), StateOnly: true})
		got <- answer{r, err, time.Now()}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for c.waiting.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the blocking call never waited")
		}
		time.Sleep(time.Millisecond)
	}
	cancelled := time.Now()
	if err := s.apply(&state.CancelStep{ID: "s-1", Reason: "test", Time: cancelled.UnixNano()}); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil {
		t.Fatal(a.err)
	}
	if st := a.r.Step.State.Value(); st != state.StepCancelPending && st != state.StepCancelled {
		t.Fatalf("woke with the step %s, want it cancelled", st)
	}
	if a.r.StateIndex <= r0.StateIndex {
		t.Fatalf("state index %d after the change, want more than %d", a.r.StateIndex, r0.StateIndex)
	}
	if d := a.at.Sub(cancelled); d >= long {
		t.Fatalf("woke %s after the change: at its timeout, not by the change", d)
	}
	t.Logf("woke %s after the step was cancelled", a.at.Sub(cancelled))

	// An index the step has changed past returns at once.
	r, err = c.DescribeStep(context.Background(), &pb.DescribeStepRequest{StepId: "s-1", WaitIndex: r0.Index, WaitMillis: long.Milliseconds()})
	if err != nil || r.Index <= r0.Index {
		t.Fatalf("past index: %v, %v", r, err)
	}
	// A missing step is NOT_FOUND, blocking or not.
	if _, err := c.DescribeStep(context.Background(), &pb.DescribeStepRequest{StepId: "s-none", WaitIndex: 1}); err == nil {
		t.Fatal("a missing step was described")
	}
}
