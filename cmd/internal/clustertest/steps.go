package clustertest

import (
	"context"
	"testing"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// DescribeWithTasks fetches a step and every page of its tasks.
func DescribeWithTasks(ctx context.Context, cl pb.ClientClient, id string) (*Step, error) {
	d, err := cl.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
	if err != nil {
		return nil, err
	}
	st := &Step{Step: d.Step}
	for token := ""; ; {
		resp, err := cl.ListTasks(ctx, &pb.ListTasksRequest{StepId: id, PageToken: token})
		if err != nil {
			return nil, err
		}
		st.Tasks = append(st.Tasks, resp.Tasks...)
		if token = resp.NextPageToken; token == "" {
			return st, nil
		}
	}
}

// DescribeStep returns a step without its tasks, through one client (no
// retry: for clusters that have a leader).
func DescribeStep(t testing.TB, cl pb.ClientClient, id string) *pb.Step {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := cl.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d.Step
}

// RunStep submits a step through one client and waits for it to end.
func RunStep(t testing.TB, cl pb.ClientClient, spec *pb.StepSpec) *Step {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	resp, err := cl.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
	if err != nil {
		t.Fatalf("submit %s: %v", spec.Job, err)
	}
	return WaitStep(t, cl, resp.StepId)
}

// WaitStep waits, through one client, until a step ends.
func WaitStep(t testing.TB, cl pb.ClientClient, id string) *Step {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		// The step alone while it runs, with its tasks once it ended.
		d, err := cl.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		if d.Step.State.Value().Terminal() {
			st, err := DescribeWithTasks(ctx, cl, id)
			if err != nil {
				t.Fatalf("describe %s: %v", id, err)
			}
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// MustComplete fails the test unless the step COMPLETED.
func MustComplete(t testing.TB, st *Step) {
	t.Helper()
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step %s ended %s: %s", st.Id, st.State, st.Error)
	}
}

// CheckRanOnce checks, with the step's counters, that every task ran
// exactly once (what a healthy cluster does).
func CheckRanOnce(t testing.TB, st *Step) {
	t.Helper()
	c := st.Counters
	if c["LAUNCHED_MAPS"] != int64(st.MapsTotal) || c["LAUNCHED_REDUCES"] != int64(st.ReducesTotal) ||
		c["FAILED_MAPS"]+c["FAILED_REDUCES"]+c["KILLED_MAPS"]+c["KILLED_REDUCES"] != 0 {
		t.Fatalf("tasks did not run exactly once: %d maps, %d reduces, counters %v", st.MapsTotal, st.ReducesTotal, c)
	}
}

// RunningAttempts counts the step's running attempts.
func RunningAttempts(st *Step) int {
	n := 0
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			if a.State.Value() == state.AttemptRunning {
				n++
			}
		}
	}
	return n
}

// NextAttemptAfter returns when the first attempt started after t began,
// as the leader recorded it.
func NextAttemptAfter(st *Step, t time.Time) (time.Time, bool) {
	var first time.Time
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			at := time.Unix(0, a.StartedUnixNano)
			if at.After(t) && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	return first, !first.IsZero()
}

// WorkerRunning returns a worker that runs an attempt of the step of the
// given kind now, or nil.
func WorkerRunning(c Cluster, st *Step, kind state.TaskKind) Node {
	for _, task := range st.Tasks {
		if task.Kind.Value() != kind {
			continue
		}
		for _, a := range task.Attempts {
			if a.State.Value() == state.AttemptRunning {
				if n := c.Node(a.Worker); n != nil {
					return n
				}
			}
		}
	}
	return nil
}

// WorkerWithMapOutput returns a worker holding a map output while reduce
// attempts run on other workers, or nil.
func WorkerWithMapOutput(c Cluster, st *Step) Node {
	reducers := map[string]bool{}
	holders := map[string]bool{}
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			switch {
			case task.Kind.Value() == state.KindReduce && a.State.Value() == state.AttemptRunning:
				reducers[a.Worker] = true
			case task.Kind.Value() == state.KindMap && a.State.Value() == state.AttemptSucceeded:
				holders[a.Worker] = true
			}
		}
	}
	for _, n := range c.Workers() {
		if holders[n.Name()] && (len(reducers) > 1 || !reducers[n.Name()]) {
			return n
		}
	}
	return nil
}

// WaitDown waits until the leader has declared a worker down and returns
// when it saw that.
func WaitDown(t testing.TB, c Cluster, id string) time.Time {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for _, w := range c.Nodes().Workers {
			if w.Id == id && w.State.Value() == state.WorkerDead {
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s never declared down", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// IncarnationOf returns a worker's registered incarnation (0 if unknown).
func IncarnationOf(c Cluster, id string) int64 {
	for _, w := range c.Nodes().Workers {
		if w.Id == id {
			return w.Incarnation
		}
	}
	return 0
}

// KillLeaderAndTime kills the leader and returns it and how long it took
// until a new leader scheduled the step's next task (0 if the step needed
// no new task: it ended or was committing).
func KillLeaderAndTime(t testing.TB, c Cluster, id string) (Node, time.Duration) {
	t.Helper()
	l := c.Leader()
	killed := time.Now()
	c.Kill(l)
	st := c.WaitUntil(id, "a task scheduled after the kill", func(st *Step) bool {
		_, ok := NextAttemptAfter(st, killed)
		return ok || st.State.Value().Terminal() || st.Phase.Value() == state.PhaseCommit
	})
	next, ok := NextAttemptAfter(st, killed)
	if !ok {
		return l, 0
	}
	return l, next.Sub(killed)
}

// WaitFor polls cond until it holds, failing the test after patience.
func WaitFor(t testing.TB, what string, patience time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", patience, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
