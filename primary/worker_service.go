package primary

import (
	"context"
	"fmt"
	"slices"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/scheduler"
	"github.com/gomr/gomr/primary/state"
	"google.golang.org/grpc"
)

// workerService implements the Worker gRPC service.
type workerService struct {
	pb.UnimplementedWorkerServer
	s *Server
}

func (w *workerService) Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinResponse, error) {
	resp := &pb.JoinResponse{GossipAddresses: []string{w.s.GossipAddr()}, PrimaryAddresses: w.s.primaryAddrs()}
	w.s.fsm.read(func(st *state.State) {
		for id, p := range st.Primaries {
			if id != w.s.cfg.NodeID {
				resp.GossipAddresses = append(resp.GossipAddresses, p.GossipAddr)
			}
		}
	})
	return resp, nil
}

// primaryAddrs returns every known primary's gRPC address, sorted.
func (s *Server) primaryAddrs() []string {
	var out []string
	s.fsm.read(func(st *state.State) {
		for _, p := range st.Primaries {
			out = append(out, p.Addr)
		}
	})
	slices.Sort(out)
	return out
}

func (w *workerService) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.RegisterResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.RegisterResponse, error) {
		return pb.NewWorkerClient(cc).Register(ctx, req)
	}, func() (*pb.RegisterResponse, error) {
		info := req.GetWorker()
		now := time.Now()
		err := w.s.apply(&state.RegisterWorker{Worker: state.Worker{
			ID: info.GetId(), Incarnation: info.GetIncarnation(), Role: info.GetRole(), Addr: info.GetAddress(), Slots: int(info.GetSlots()),
		}, Time: now.UnixNano()})
		if err != nil {
			return nil, err
		}
		w.s.soft.seen(info.GetId(), now)
		return &pb.RegisterResponse{}, nil
	})
}

// checkWorker confirms a worker incarnation is registered and alive.
func checkWorker(st *state.State, id string, inc int64) error {
	wk, ok := st.Workers[id]
	if !ok || wk.Incarnation != inc || !wk.Up() {
		return fmt.Errorf("worker %s incarnation %d: %w: not registered and alive; register again", id, inc, state.ErrStale)
	}
	return nil
}

func (w *workerService) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.HeartbeatResponse, error) {
		return pb.NewWorkerClient(cc).Heartbeat(ctx, req)
	}, func() (*pb.HeartbeatResponse, error) {
		resp := &pb.HeartbeatResponse{}
		var err error
		w.s.fsm.read(func(st *state.State) {
			if err = checkWorker(st, req.WorkerId, req.Incarnation); err != nil {
				return
			}
			for _, r := range req.Running {
				_, _, a, ok := st.Attempt(r.AttemptId)
				if !ok || a.State != state.AttemptRunning || a.Worker != req.WorkerId || a.Incarnation != req.Incarnation {
					resp.KillAttempts = append(resp.KillAttempts, r.AttemptId)
					continue
				}
				w.s.soft.setProgress(r.AttemptId, r.Progress, r.Ticks, time.Now())
			}
			for _, id := range req.HeldSteps {
				if step, ok := st.Steps[id]; !ok || state.Terminal(step.State) {
					resp.DoneSteps = append(resp.DoneSteps, id)
				}
			}
		})
		if err != nil {
			return nil, err
		}
		w.s.soft.seen(req.WorkerId, time.Now())
		resp.PrimaryAddresses = w.s.primaryAddrs()
		return resp, nil
	})
}

func (w *workerService) PollTasks(ctx context.Context, req *pb.PollTasksRequest) (*pb.PollTasksResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.PollTasksResponse, error) {
		return pb.NewWorkerClient(cc).PollTasks(ctx, req)
	}, func() (*pb.PollTasksResponse, error) {
		timeout := time.NewTimer(w.s.cfg.PollTimeout)
		defer timeout.Stop()
		// Besides state changes, time passing can make work: an attempt
		// becomes slow enough for a backup.
		recheck := time.NewTicker(250 * time.Millisecond)
		defer recheck.Stop()
		for {
			changed := w.s.fsm.Changed()
			as, err := w.s.assignTo(req)
			if err != nil || len(as) > 0 {
				return &pb.PollTasksResponse{Assignments: as}, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-w.s.ctx.Done():
				return nil, fmt.Errorf("%w: primary stopping", ErrNoLeader)
			case <-timeout.C:
				return &pb.PollTasksResponse{}, nil
			case <-changed:
			case <-recheck.C:
			}
		}
	})
}

// schedOptions returns the scheduling policy at the current time.
func (s *Server) schedOptions() scheduler.Options {
	return scheduler.Options{
		Now:                  time.Now().UnixNano(),
		SlowFactor:           s.cfg.SpeculationSlowFactor,
		MinGap:               s.cfg.SpeculationMinGap,
		MaxFailuresPerWorker: s.cfg.MaxFailuresPerWorker,
	}
}

// assignTo schedules up to the worker's free slots and commits the plan.
func (s *Server) assignTo(req *pb.PollTasksRequest) ([]*pb.Assignment, error) {
	s.schedMu.Lock()
	defer s.schedMu.Unlock()
	var plan []state.Assignment
	var err error
	s.fsm.read(func(st *state.State) {
		if err = checkWorker(st, req.WorkerId, req.Incarnation); err != nil {
			return
		}
		plan = scheduler.Assign(st, scheduler.Worker{ID: req.WorkerId, Incarnation: req.Incarnation, Free: int(req.FreeSlots)}, s.schedOptions())
	})
	if err != nil || len(plan) == 0 {
		return nil, err
	}
	now := time.Now()
	s.soft.seen(req.WorkerId, now)
	if err := s.apply(&state.Assign{Assignments: plan, Time: now.UnixNano()}); err != nil {
		return nil, err
	}
	var out []*pb.Assignment
	s.fsm.read(func(st *state.State) {
		for _, as := range plan {
			if step, ok := st.Steps[as.StepID]; ok {
				out = append(out, assignmentProto(step, as))
			}
		}
	})
	return out, nil
}

func (w *workerService) ReportAttempt(ctx context.Context, req *pb.ReportAttemptRequest) (*pb.ReportAttemptResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.ReportAttemptResponse, error) {
		return pb.NewWorkerClient(cc).ReportAttempt(ctx, req)
	}, func() (*pb.ReportAttemptResponse, error) {
		err := w.s.apply(&state.FinishAttempt{
			AttemptID:   req.AttemptId,
			Worker:      req.WorkerId,
			Incarnation: req.Incarnation,
			Success:     req.Success,
			Error:       req.Error,
			Fatal:       req.Fatal,
			Counters:    req.Counters,
			Files:       req.Files,
			Time:        time.Now().UnixNano(),
		})
		if err != nil {
			return nil, err
		}
		w.s.soft.seen(req.WorkerId, time.Now())
		if !req.Success {
			w.s.log.Warn("attempt failed", "attempt", req.AttemptId, "worker", req.WorkerId, "err", req.Error)
		}
		return &pb.ReportAttemptResponse{}, nil
	})
}

func (w *workerService) MapOutputs(ctx context.Context, req *pb.MapOutputsRequest) (*pb.MapOutputsResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.MapOutputsResponse, error) {
		return pb.NewWorkerClient(cc).MapOutputs(ctx, req)
	}, func() (*pb.MapOutputsResponse, error) {
		var resp *pb.MapOutputsResponse
		w.s.fsm.read(func(st *state.State) {
			if step, ok := st.Steps[req.StepId]; ok {
				resp = &pb.MapOutputsResponse{MapOutputs: mapOutputs(step), StepState: step.State}
			}
		})
		if resp == nil {
			return nil, fmt.Errorf("step %s: %w", req.StepId, state.ErrNotFound)
		}
		return resp, nil
	})
}

func (w *workerService) ReportFetchFailure(ctx context.Context, req *pb.ReportFetchFailureRequest) (*pb.ReportFetchFailureResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.ReportFetchFailureResponse, error) {
		return pb.NewWorkerClient(cc).ReportFetchFailure(ctx, req)
	}, func() (*pb.ReportFetchFailureResponse, error) {
		reason := fmt.Sprintf("%s could not fetch it: %s", req.WorkerId, req.Error)
		err := w.s.apply(&state.MapOutputLost{AttemptID: req.MapAttemptId, Reason: reason, Time: time.Now().UnixNano()})
		if err != nil {
			return nil, err
		}
		w.s.log.Warn("map output lost; the map runs again", "attempt", req.MapAttemptId, "reason", reason)
		return &pb.ReportFetchFailureResponse{}, nil
	})
}
