package primary

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// startThreeMaps starts a primary with one worker, w1 (kept alive by
// hand: it sends no heartbeats), and a running step s-1 of three maps of
// tiny splits; it returns the primary, its Worker service and the splits.
func startThreeMaps(t *testing.T) (*Server, *workerService, []mapreduce.Split) {
	t.Helper()
	s := startGroup(t, 1)[0]
	ws := &workerService{s: s}
	if err := s.apply(&state.RegisterWorker{Worker: state.Worker{ID: "w1", Incarnation: 1, Role: state.RoleTask, Addr: "127.0.0.1:1", Slots: 1}, Time: 1}); err != nil {
		t.Fatal(err)
	}
	// The worker sends no heartbeats: it is kept alive by hand.
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			s.soft.seen("w1", time.Now())
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	dir := t.TempDir()
	var splits []mapreduce.Split
	for i := range 3 {
		splits = append(splits, mapreduce.Split{File: filepath.Join(dir, fmt.Sprint(i)), Doc: fmt.Sprint(i), Length: 10, FileSize: 10, ModTime: 1})
	}
	sp := state.StepSpec{Name: "wc", Job: "wordcount", Inputs: []string{dir}, Output: filepath.Join(dir, "out"), Reducers: 1, MaxAttempts: 2}
	s.planning.add("s-1") // the splits come below, not from a listing
	if err := s.apply(&state.SubmitStep{ID: "s-1", Spec: sp, Input: state.InputSummary{Files: 3, Bytes: 30, Splits: 3}, Time: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.apply(&state.AddSplits{ID: "s-1", Splits: splits}); err != nil {
		t.Fatal(err)
	}
	s.planning.remove("s-1")
	deadline := time.Now().Add(30 * time.Second)
	for st, _ := s.fsm.view().Step("s-1"); st.State != state.StepRunning; st, _ = s.fsm.view().Step("s-1") {
		if time.Now().After(deadline) {
			t.Fatalf("step not started: %s", st.State)
		}
		time.Sleep(10 * time.Millisecond)
	}

	return s, ws, splits
}

// TestReportHandsTheSlotOn: an attempt's report that hands its slot back
// gets the slot's next attempt in its answer, recorded with the
// attempt's end in one log entry (a Batch); a report refused gives
// nothing.
func TestReportHandsTheSlotOn(t *testing.T) {
	s, ws, splits := startThreeMaps(t)
	ctx := context.Background()
	poll, err := ws.PollTasks(ctx, &pb.PollTasksRequest{WorkerId: "w1", Incarnation: 1, FreeSlots: 1})
	if err != nil || len(poll.Assignments) != 1 || poll.Assignments[0].TaskIndex != 0 {
		t.Fatalf("poll: %v, %v; want map 0", poll, err)
	}
	m0 := poll.Assignments[0].AttemptId
	resp, err := ws.ReportAttempt(ctx, &pb.ReportAttemptRequest{WorkerId: "w1", Incarnation: 1, AttemptId: m0, Success: true, FreeSlots: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Assignments) != 1 || resp.Assignments[0].TaskIndex != 1 || resp.Assignments[0].Split.GetFile() != splits[1].File {
		t.Fatalf("report answered %v, want map 1 with its split", resp.Assignments)
	}
	m1 := resp.Assignments[0].AttemptId
	v := s.fsm.view()
	if _, a, _ := v.AttemptTask(m0); a.State != state.AttemptSucceeded {
		t.Fatalf("%s is %s", m0, a.State)
	}
	if _, a, _ := v.AttemptTask(m1); a.State != state.AttemptRunning || a.Worker != "w1" {
		t.Fatalf("%s is %s on %s", m1, a.State, a.Worker)
	}
	// The step last changed in the entry that did both.
	st, _ := v.Step("s-1")
	var entry raft.Log
	if err := s.wal.GetLog(st.ModifyIndex, &entry); err != nil {
		t.Fatal(err)
	}
	cmd, err := state.Decode(entry.Data)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := cmd.(*state.Batch)
	if !ok || len(b.Commands) != 2 {
		t.Fatalf("entry %d is %s, want a batch of two", st.ModifyIndex, cmd.Type())
	}
	if f, ok := b.Commands[0].(*state.FinishAttempt); !ok || f.AttemptID != m0 {
		t.Fatalf("batch starts with %#v, want the end of %s", b.Commands[0], m0)
	}
	if as, ok := b.Commands[1].(*state.Assign); !ok || len(as.Assignments) != 1 || as.Assignments[0].AttemptID != m1 {
		t.Fatalf("batch ends with %#v, want the start of %s", b.Commands[1], m1)
	}

	// A stale report is refused as before, and starts nothing.
	_, err = ws.ReportAttempt(ctx, &pb.ReportAttemptRequest{WorkerId: "w1", Incarnation: 1, AttemptId: m0, Success: true, FreeSlots: 1})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("second report of %s: %v, want ABORTED", m0, err)
	}
	if tk, _ := s.fsm.view().Task("s-1", state.KindMap, 2); tk.State != state.TaskPending {
		t.Fatalf("map 2 is %s after a refused report, want PENDING", tk.State)
	}
	// A report that hands nothing back gets nothing.
	resp, err = ws.ReportAttempt(ctx, &pb.ReportAttemptRequest{WorkerId: "w1", Incarnation: 1, AttemptId: m1, Success: true})
	if err != nil || len(resp.Assignments) != 0 {
		t.Fatalf("report without a slot: %v, %v", resp, err)
	}
}

// TestLostAssignmentsEnd: an attempt the state has running on a worker
// that the worker's heartbeat does not list, assigned over
// lostAssignmentGrace ago (its answer never reached the worker), is
// ended as killed and its task is pending again; one listed, or assigned
// just now, is left alone.
func TestLostAssignmentsEnd(t *testing.T) {
	s, ws, _ := startThreeMaps(t)
	ctx := context.Background()
	old := time.Now().Add(-2 * lostAssignmentGrace).UnixNano()
	assign := func(index int, at int64) string {
		id := state.AttemptID("s-1", state.KindMap, index, 0)
		if err := s.apply(&state.Assign{Assignments: []state.Assignment{{AttemptID: id, StepID: "s-1", Kind: state.KindMap, Index: index, Worker: "w1", Incarnation: 1}}, Time: at}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	lost, listed, recent := assign(0, old), assign(1, old), assign(2, time.Now().UnixNano())
	if _, err := ws.Heartbeat(ctx, &pb.HeartbeatRequest{WorkerId: "w1", Incarnation: 1, Running: []*pb.AttemptStatus{{AttemptId: listed}}}); err != nil {
		t.Fatal(err)
	}
	v := s.fsm.view()
	for id, want := range map[string]state.AttemptState{lost: state.AttemptKilled, listed: state.AttemptRunning, recent: state.AttemptRunning} {
		if _, a, _ := v.AttemptTask(id); a.State != want {
			t.Errorf("%s is %s, want %s", id, a.State, want)
		}
	}
	if tk, _ := v.Task("s-1", state.KindMap, 0); tk.State != state.TaskPending {
		t.Errorf("the lost attempt's task is %s, want PENDING", tk.State)
	}
}
