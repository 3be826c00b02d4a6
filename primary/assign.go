package primary

import (
	"errors"
	"fmt"
	"time"

	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/scheduler"
	"github.com/gomr/gomr/primary/state"
)

// plannedTasks are the tasks of assignments planned and being committed
// through Raft, which views do not show yet. The scheduler leaves them
// alone, so that plans for several workers are committed side by side
// (Raft writes them to its log together) instead of one after another,
// without two of them giving out the same task. Server.schedMu guards
// it.
type plannedTasks struct {
	tasks map[string]bool
}

func plannedKey(stepID string, kind state.TaskKind, index int) string {
	return fmt.Sprintf("%s/%s/%d", stepID, kind, index)
}

func (p *plannedTasks) has(t *state.Task) bool {
	return p.tasks[plannedKey(t.StepID, t.Kind, t.Index)]
}

func (p *plannedTasks) mark(plan []state.Assignment, on bool) {
	if p.tasks == nil {
		p.tasks = make(map[string]bool)
	}
	for _, as := range plan {
		if on {
			p.tasks[plannedKey(as.StepID, as.Kind, as.Index)] = true
		} else {
			delete(p.tasks, plannedKey(as.StepID, as.Kind, as.Index))
		}
	}
}

// assign schedules up to free new attempts on a worker incarnation, and
// up to tiny more of tiny map tasks, and
// commits them, after first when given (the end of the attempt whose
// slot frees), in one log entry, and returns them for the worker. An
// error is first's rejection (or the worker's, when not registered and
// alive); a plan the state rejects because the state moved on meanwhile
// (another leader's, a cancelled step) gives no assignments and no
// error: the worker asks again.
func (w *workerService) assign(worker string, inc int64, free, tiny int, first state.Command) ([]*pb.Assignment, error) {
	s := w.s
	s.schedMu.Lock()
	v := s.fsm.view()
	var plan []state.Assignment
	if first == nil || free > 0 || tiny > 0 {
		if err := checkWorker(v, worker, inc); err != nil {
			s.schedMu.Unlock()
			if first != nil {
				return nil, s.apply(first)
			}
			return nil, err
		}
		opt := s.schedOptions()
		opt.Locality = func(sp *mapreduce.Split) []string { return s.splitLocations(v, sp) }
		opt.Skip = w.planned.has
		plan = scheduler.Assign(v, scheduler.Worker{ID: worker, Incarnation: inc, Free: free, Tiny: tiny}, opt)
	}
	w.planned.mark(plan, true)
	s.schedMu.Unlock()
	defer func() {
		s.schedMu.Lock()
		w.planned.mark(plan, false)
		s.schedMu.Unlock()
	}()
	now := time.Now()
	var cmd state.Command
	assign := &state.Assign{Assignments: plan, Time: now.UnixNano()}
	switch {
	case len(plan) == 0 && first == nil:
		return nil, nil
	case len(plan) == 0:
		cmd = first
	case first == nil:
		cmd = assign
	default:
		cmd = &state.Batch{Commands: []state.Command{first, assign}}
	}
	s.soft.seen(worker, now)
	err := s.apply(cmd)
	var be *state.BatchError
	switch {
	case errors.As(err, &be) && be.Index == 0:
		return nil, be.Err // first was rejected, and nothing after it applied
	case errors.As(err, &be), err != nil && first == nil && (errors.Is(err, state.ErrConflict) || errors.Is(err, state.ErrNotFound)):
		s.log.Debug("assignments rejected", "worker", worker, "err", err)
		return nil, nil
	case err != nil:
		return nil, err
	case len(plan) == 0:
		return nil, nil
	}
	v = s.fsm.view()
	var out []*pb.Assignment
	for _, as := range plan {
		step, ok := v.Step(as.StepID)
		if !ok {
			continue
		}
		p, err := assignmentProto(v, step, as)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
