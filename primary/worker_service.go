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
	// planned holds the tasks of assignments being committed (assign.go).
	planned plannedTasks
}

func (w *workerService) Join(ctx context.Context, req *pb.JoinRequest) (*pb.JoinResponse, error) {
	resp := &pb.JoinResponse{GossipAddresses: []string{w.s.GossipAddr()}, PrimaryAddresses: w.s.primaryAddrs()}
	for _, p := range w.s.fsm.view().Primaries() {
		if p.ID != w.s.cfg.NodeID {
			resp.GossipAddresses = append(resp.GossipAddresses, p.GossipAddr)
		}
	}
	return resp, nil
}

// primaryAddrs returns every known primary's gRPC address, sorted.
func (s *Server) primaryAddrs() []string {
	var out []string
	for _, p := range s.fsm.view().Primaries() {
		out = append(out, p.Addr)
	}
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
			ID: info.GetId(), Incarnation: info.GetIncarnation(), Role: info.GetRole().Value(), Addr: info.GetAddress(), Slots: int(info.GetSlots()),
		}, Time: now.UnixNano()})
		if err != nil {
			return nil, err
		}
		w.s.soft.seen(info.GetId(), now)
		return &pb.RegisterResponse{}, nil
	})
}

// checkWorker confirms a worker incarnation is registered and alive.
func checkWorker(v *state.View, id string, inc int64) error {
	wk, ok := v.Worker(id)
	if !ok || wk.Incarnation != inc || !wk.Up() {
		return fmt.Errorf("worker %s incarnation %d: %w: not registered and alive; register again", id, inc, state.ErrStale)
	}
	return nil
}

func (w *workerService) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.HeartbeatResponse, error) {
		return pb.NewWorkerClient(cc).Heartbeat(ctx, req)
	}, func() (*pb.HeartbeatResponse, error) {
		v := w.s.fsm.view()
		if err := checkWorker(v, req.WorkerId, req.Incarnation); err != nil {
			return nil, err
		}
		resp := &pb.HeartbeatResponse{}
		reported := make(map[string]bool, len(req.Running))
		for _, r := range req.Running {
			reported[r.AttemptId] = true
			_, a, ok := v.AttemptTask(r.AttemptId)
			if !ok || a.State != state.AttemptRunning || a.Worker != req.WorkerId || a.Incarnation != req.Incarnation {
				resp.KillAttempts = append(resp.KillAttempts, r.AttemptId)
				continue
			}
			w.s.soft.setProgress(r.AttemptId, r.Progress, r.Status, r.Ticks, time.Now())
		}
		w.endLostAssignments(v, req.WorkerId, req.Incarnation, reported)
		for _, id := range req.HeldSteps {
			if step, ok := v.Step(id); !ok || step.State.Stopped() {
				resp.DoneSteps = append(resp.DoneSteps, id)
			}
		}
		w.s.soft.seen(req.WorkerId, time.Now())
		resp.PrimaryAddresses = w.s.primaryAddrs()
		if wk, _ := v.Worker(req.WorkerId); wk.Role == state.RoleCore {
			known := func(id int64) bool { _, ok := v.BlockFile(id); return ok }
			needFull := w.s.blocks.report(req.WorkerId, wk.Addr, req.BlockReport, known)
			resp.BlockCommands = w.s.blocks.commandsFor(req.WorkerId, needFull)
			if r := req.BlockReport; r != nil && (r.Full || len(r.Blocks)+len(r.Deleted)+len(r.Corrupt) > 0) {
				w.s.poke()
			}
		}
		return resp, nil
	})
}

// lostAssignmentGrace is how long after its assignment an attempt the
// state has running on a worker may be missing from the worker's
// heartbeats before it is taken for one that never reached the worker.
const lostAssignmentGrace = 10 * time.Second

// endLostAssignments ends, killed, the attempts the state has running on
// a worker incarnation that its heartbeat does not list although they
// were assigned over lostAssignmentGrace ago: the answer that carried
// them never reached the worker (a leader that committed them died
// before answering, a call cut off), so that their tasks run again now,
// not after the task timeout.
func (w *workerService) endLostAssignments(v *state.View, worker string, inc int64, reported map[string]bool) {
	now := time.Now()
	for _, t := range v.RunningOn(worker, inc) {
		for _, a := range t.Running() {
			if a.Worker != worker || a.Incarnation != inc || reported[a.ID] || now.UnixNano()-a.StartedAt < int64(lostAssignmentGrace) {
				continue
			}
			err := w.s.apply(&state.KillAttempt{AttemptID: a.ID, Reason: "assigned to " + worker + ", which never received it", Time: now.UnixNano()})
			if err != nil {
				w.s.log.Debug("end lost assignment", "attempt", a.ID, "err", err)
				continue
			}
			w.s.log.Warn("attempt never reached its worker; its task runs again", "attempt", a.ID, "worker", worker)
		}
	}
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
			as, err := w.assign(req.WorkerId, req.Incarnation, int(req.FreeSlots), int(req.TinySlots), nil)
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
		LocalityWait:         s.cfg.LocalityWait,
	}
}

func (w *workerService) ReportAttempt(ctx context.Context, req *pb.ReportAttemptRequest) (*pb.ReportAttemptResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.ReportAttemptResponse, error) {
		return pb.NewWorkerClient(cc).ReportAttempt(ctx, req)
	}, func() (*pb.ReportAttemptResponse, error) {
		finish := &state.FinishAttempt{
			AttemptID:   req.AttemptId,
			Worker:      req.WorkerId,
			Incarnation: req.Incarnation,
			Success:     req.Success,
			Error:       req.Error,
			Fatal:       req.Fatal,
			Counters:    req.Counters,
			Commit:      req.CommitRecord,
			Time:        time.Now().UnixNano(),
		}
		// The slot the attempt frees gets its next attempt in the same
		// log entry and the same answer (assign.go), planned from the
		// state before the end is recorded. After a failure the worker
		// polls instead: the plan must see the failure (the task to try
		// again, the worker's failures in the step).
		free, tiny := int(req.FreeSlots), int(req.TinySlots)
		if !req.Success {
			free, tiny = 0, 0
		}
		next, err := w.assign(req.WorkerId, req.Incarnation, free, tiny, finish)
		if err != nil {
			return nil, err
		}
		w.s.soft.seen(req.WorkerId, time.Now())
		if !req.Success {
			w.s.log.Warn("attempt failed", "attempt", req.AttemptId, "worker", req.WorkerId, "err", req.Error)
		}
		return &pb.ReportAttemptResponse{Assignments: next}, nil
	})
}

func (w *workerService) MapOutputs(ctx context.Context, req *pb.MapOutputsRequest) (*pb.MapOutputsResponse, error) {
	return forward(w.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.MapOutputsResponse, error) {
		return pb.NewWorkerClient(cc).MapOutputs(ctx, req)
	}, func() (*pb.MapOutputsResponse, error) {
		v := w.s.fsm.view()
		step, ok := v.Step(req.StepId)
		if !ok {
			return nil, fmt.Errorf("step %s: %w", req.StepId, state.ErrNotFound)
		}
		return &pb.MapOutputsResponse{MapOutputs: mapOutputs(v, step), StepState: pb.FromStepState(step.State)}, nil
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
