package primary

import (
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// stepProto converts a step for clients; the caller holds the state lock.
func (s *Server) stepProto(st *state.Step) *pb.Step {
	p := &pb.Step{
		Id:                st.ID,
		Spec:              specProto(st.Spec),
		State:             st.State,
		Phase:             st.Phase(),
		SubmittedUnixNano: st.SubmittedAt,
		StartedUnixNano:   st.StartedAt,
		EndedUnixNano:     st.EndedAt,
		Error:             st.Error,
		Counters:          st.Counters(),
		MapsTotal:         int32(len(st.Maps)),
		ReducesTotal:      int32(len(st.Reduces)),
		InputFiles:        int32(st.Input.Files),
		InputBytes:        st.Input.Bytes,
		CleanedUp:         st.CleanedUp,
	}
	if st.State == state.StepPending {
		p.MapsTotal = int32(st.Input.Splits)
	}
	p.MapProgress, p.MapsDone = s.progress(st.Maps)
	p.ReduceProgress, p.ReducesDone = s.progress(st.Reduces)
	if st.State == state.StepCompleted {
		p.MapProgress, p.ReduceProgress = 1, 1
	}
	return p
}

// progress is the fraction of tasks done, counting running attempts by the
// progress they last reported.
func (s *Server) progress(tasks []*state.Task) (float64, int32) {
	if len(tasks) == 0 {
		return 1, 0
	}
	var done int32
	var sum float64
	for _, t := range tasks {
		if t.State == state.TaskSucceeded {
			done++
			sum++
			continue
		}
		best := 0.0
		for _, a := range t.Attempts {
			if a.State == state.AttemptRunning {
				best = max(best, s.soft.attemptProgress(a.ID))
			}
		}
		sum += best
	}
	return sum / float64(len(tasks)), done
}

func (s *Server) taskProto(t *state.Task) *pb.Task {
	tp := &pb.Task{Kind: t.Kind, Index: int32(t.Index), State: t.State}
	if t.Split != nil {
		tp.Split = pb.SplitProto(*t.Split)
	}
	for _, a := range t.Attempts {
		ap := &pb.Attempt{Id: a.ID, Worker: a.Worker, State: a.State, StartedUnixNano: a.StartedAt, EndedUnixNano: a.EndedAt, Error: a.Error, Speculative: a.Speculative}
		switch a.State {
		case state.AttemptRunning:
			ap.Progress = s.soft.attemptProgress(a.ID)
		case state.AttemptSucceeded:
			ap.Progress = 1
		}
		tp.Attempts = append(tp.Attempts, ap)
	}
	return tp
}

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
	}
}

// assignmentProto builds what a worker needs to run an attempt; the caller
// holds the state lock.
func assignmentProto(st *state.Step, as state.Assignment) *pb.Assignment {
	p := &pb.Assignment{
		AttemptId:       as.AttemptID,
		StepId:          st.ID,
		Kind:            as.Kind,
		TaskIndex:       int32(as.Index),
		Job:             st.Spec.Job,
		Options:         st.Spec.Options,
		Reducers:        int32(st.Spec.Reducers),
		Output:          st.Spec.Output,
		SortBufferBytes: st.Spec.SortBufferBytes,
		MaxLineBytes:    st.Spec.MaxLineBytes,
	}
	switch as.Kind {
	case state.KindMap:
		p.Split = pb.SplitProto(*st.Maps[as.Index].Split)
	case state.KindReduce:
		p.MapOutputs = mapOutputs(st)
	}
	return p
}

func mapOutputs(st *state.Step) []*pb.MapOutput {
	var out []*pb.MapOutput
	for _, t := range st.Maps {
		if w := t.WinningAttempt(); w != nil {
			out = append(out, &pb.MapOutput{MapIndex: int32(t.Index), AttemptId: w.ID, Address: w.Addr})
		}
	}
	return out
}
