package primary

import (
	"fmt"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// stepProto converts a step for clients.
func (s *Server) stepProto(v *state.View, st *state.Step) *pb.Step {
	p := &pb.Step{
		Id:                st.ID,
		Spec:              specProto(st.Spec),
		State:             pb.FromStepState(st.State),
		Phase:             pb.FromPhase(st.Phase()),
		SubmittedUnixNano: st.SubmittedAt,
		StartedUnixNano:   st.StartedAt,
		EndedUnixNano:     st.EndedAt,
		Error:             st.Error,
		Counters:          st.Counters,
		MapsTotal:         int32(st.Maps),
		MapsDone:          int32(st.MapsDone),
		ReducesTotal:      int32(st.Reduces),
		ReducesDone:       int32(st.ReducesDone),
		InputFiles:        int32(st.Input.Files),
		InputBytes:        st.Input.Bytes,
		CleanedUp:         st.CleanedUp,
		ExportStep:        st.ExportStep,
		InputWholeFiles:   int32(st.Input.WholeFiles),
	}
	if st.State == state.StepPending {
		p.MapsTotal = int32(st.Input.Splits)
	}
	p.MapProgress = s.progress(v, st, state.KindMap, st.Maps, st.MapsDone)
	p.ReduceProgress = s.progress(v, st, state.KindReduce, st.Reduces, st.ReducesDone)
	if st.State == state.StepCompleted {
		p.MapProgress, p.ReduceProgress = 1, 1
	}
	return p
}

// progress is the fraction of a phase's tasks done, counting running
// attempts by the progress they last reported.
func (s *Server) progress(v *state.View, st *state.Step, kind state.TaskKind, total, done int) float64 {
	if total == 0 {
		return 1
	}
	sum := float64(done)
	if st.State == state.StepRunning {
		for t := range v.TasksIn(st.ID, kind, state.TaskRunning) {
			best := 0.0
			for _, a := range t.Running() {
				best = max(best, s.soft.attemptProgress(a.ID))
			}
			sum += best
		}
	}
	return sum / float64(total)
}

func (s *Server) taskProto(t *state.Task) *pb.Task {
	tp := &pb.Task{Kind: pb.FromTaskKind(t.Kind), Index: int32(t.Index), State: pb.FromTaskState(t.State)}
	if t.Split != nil {
		tp.Split = pb.SplitProto(*t.Split)
	}
	for _, a := range t.Attempts {
		ap := &pb.Attempt{Id: a.ID, Worker: a.Worker, State: pb.FromAttemptState(a.State), StartedUnixNano: a.StartedAt, EndedUnixNano: a.EndedAt, Error: a.Error, Speculative: a.Speculative}
		switch a.State {
		case state.AttemptRunning:
			ap.Progress = s.soft.attemptProgress(a.ID)
			ap.Status = s.soft.attemptStatus(a.ID)
		case state.AttemptSucceeded:
			ap.Progress = 1
		}
		tp.Attempts = append(tp.Attempts, ap)
	}
	return tp
}

// specProto converts a step spec to its wire form; specFromProto (in
// validateSpec) is its inverse.
func specProto(sp state.StepSpec) *pb.StepSpec {
	return &pb.StepSpec{
		Name:            sp.Name,
		Job:             sp.Job,
		Options:         sp.Options,
		Inputs:          sp.Inputs,
		Output:          sp.Output,
		Reducers:        int32(sp.Reducers),
		SplitSize:       sp.SplitSize,
		SortBufferBytes: sp.SortBufferBytes,
		MaxLineBytes:    sp.MaxLineBytes,
		ClientToken:     sp.ClientToken,
		NoSpeculation:   sp.NoSpeculation,
		InputFormat:     sp.InputFormat,
		OutputFormat:    sp.OutputFormat,
		Compress:        sp.Compress,
		Overwrite:       sp.Overwrite,
		Export:          sp.Export,
		After:           sp.After,
		ActionOnFailure: string(sp.ActionOnFailure),
	}
}

// assignmentProto builds everything a worker needs to run an attempt,
// from the step and the assignment: the whole spec travels with it, so a
// new step option reaches the workers without another edit here.
func assignmentProto(v *state.View, st *state.Step, as state.Assignment) (*pb.Assignment, error) {
	p := &pb.Assignment{
		AttemptId: as.AttemptID,
		StepId:    st.ID,
		Kind:      pb.FromTaskKind(as.Kind),
		TaskIndex: int32(as.Index),
		Spec:      specProto(st.Spec),
	}
	switch as.Kind {
	case state.KindMap:
		t, ok := v.Task(st.ID, state.KindMap, as.Index)
		if !ok || t.Split == nil {
			return nil, fmt.Errorf("assignment %s: map task %d has no split", as.AttemptID, as.Index)
		}
		p.Split = pb.SplitProto(*t.Split)
	case state.KindReduce:
		p.MapOutputs = mapOutputs(v, st)
	}
	return p, nil
}

func mapOutputs(v *state.View, st *state.Step) []*pb.MapOutput {
	var out []*pb.MapOutput
	for t := range v.TasksIn(st.ID, state.KindMap, state.TaskSucceeded) {
		if w := t.WinningAttempt(); w != nil {
			out = append(out, &pb.MapOutput{MapIndex: int32(t.Index), AttemptId: w.ID, Address: w.Addr})
		}
	}
	return out
}
