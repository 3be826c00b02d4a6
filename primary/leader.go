package primary

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/faults"
	"github.com/gomr/gomr/primary/gossip"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
)

// watchLeadership starts the leader's loops when this primary becomes
// leader and stops them when it stops being one.
func (s *Server) watchLeadership() {
	var stop func()
	for {
		select {
		case <-s.ctx.Done():
			if stop != nil {
				stop()
			}
			return
		case leader := <-s.leaderCh:
			if leader && stop == nil {
				stop = s.startLeading()
			} else if !leader && stop != nil {
				s.log.Info("lost leadership")
				stop()
				stop = nil
			}
		}
	}
}

// startLeading runs lead in the background; the returned function stops it
// and waits for it to end.
func (s *Server) startLeading() (stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.lead(ctx) }()
	return func() { cancel(); <-done }
}

// lead runs the leader-only loops until ctx ends.
func (s *Server) lead(ctx context.Context) {
	// The barrier makes sure every entry of earlier terms is applied before
	// this leader acts on the state.
	if err := s.raft.Barrier(applyTimeout).Error(); err != nil {
		s.log.Warn("leader barrier failed", "err", err)
		return
	}
	var workers []string
	s.fsm.read(func(st *state.State) {
		for id, w := range st.Workers {
			if w.Up() {
				workers = append(workers, id)
			}
		}
	})
	s.soft.reset(workers, time.Now())
	s.log.Info("became leader", "workers", len(workers))
	var wg sync.WaitGroup
	wg.Go(func() { s.stepLoop(ctx) })
	wg.Go(func() { s.livenessLoop(ctx) })
	wg.Go(func() { s.promoteLoop(ctx) })
	wg.Go(func() { s.hungLoop(ctx) })
	wg.Wait()
}

// stepLoop starts pending steps, commits finished ones and cleans up after
// failed ones, whenever the state changes.
func (s *Server) stepLoop(ctx context.Context) {
	for {
		changed := s.fsm.Changed()
		s.advanceSteps(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(time.Second):
		}
	}
}

type stepAction struct {
	kind string // "plan", "start", "commit" or "cleanup"
	step *state.Step
	// recorded is how many planned splits a "plan" step has already.
	recorded int
	// commit holds the chosen attempts' files, for "commit".
	commit   []mapreduce.CommittedTask
	counters map[string]int64
}

func (s *Server) advanceSteps(ctx context.Context) {
	var actions []stepAction
	s.fsm.read(func(st *state.State) {
		running := 0
		for _, step := range st.StepsInOrder() {
			if step.State == state.StepRunning {
				running++
			}
		}
		for _, step := range st.StepsInOrder() {
			switch {
			case step.State == state.StepPending && !step.PlanComplete():
				if !s.planning.has(step.ID) {
					actions = append(actions, stepAction{kind: "plan", step: cloneSpec(step), recorded: len(step.Planned)})
				}
			case step.State == state.StepPending && running < s.cfg.StepConcurrency:
				running++
				actions = append(actions, stepAction{kind: "start", step: cloneSpec(step)})
			case step.State == state.StepRunning && step.Phase() == state.PhaseCommit:
				actions = append(actions, stepAction{kind: "commit", step: cloneSpec(step), commit: committedTasks(step), counters: step.Counters()})
			case state.Terminal(step.State) && !step.CleanedUp:
				actions = append(actions, stepAction{kind: "cleanup", step: cloneSpec(step)})
			}
		}
	})
	for _, a := range actions {
		if ctx.Err() != nil {
			return
		}
		var err error
		switch a.kind {
		case "plan":
			err = s.finishPlanning(a.step, a.recorded)
		case "start":
			err = s.startStep(a.step)
		case "commit":
			err = s.commitStep(a)
		case "cleanup":
			if err = mapreduce.AbortOutput(a.step.Spec.Output, a.step.ID); err == nil {
				err = s.apply(&state.StepCleanedUp{ID: a.step.ID})
			}
		}
		if err != nil && !errors.Is(err, state.ErrConflict) {
			s.log.Warn("advance step", "step", a.step.ID, "action", a.kind, "err", err)
		}
	}
}

// cloneSpec copies what the step actions need out of the locked state.
func cloneSpec(st *state.Step) *state.Step {
	return &state.Step{ID: st.ID, Spec: st.Spec, State: st.State, Input: st.Input}
}

func committedTasks(step *state.Step) []mapreduce.CommittedTask {
	var out []mapreduce.CommittedTask
	for _, t := range step.Tasks() {
		if w := t.WinningAttempt(); w != nil && len(w.Files) > 0 {
			out = append(out, mapreduce.CommittedTask{AttemptID: w.ID, Files: w.Files})
		}
	}
	return out
}

// startStep claims a planned step's output folder and starts it; a step
// whose output is unusable fails here.
func (s *Server) startStep(step *state.Step) error {
	now := time.Now().UnixNano()
	if err := mapreduce.SetupOutput(step.Spec.Output, step.ID); err != nil {
		s.log.Info("step failed to start", "step", step.ID, "err", err)
		return s.apply(&state.FailStep{ID: step.ID, Error: err.Error(), Time: now})
	}
	s.log.Info("step started", "step", step.ID, "job", step.Spec.Job, "maps", step.Input.Splits, "reduces", step.Spec.Reducers)
	return s.apply(&state.StartStep{ID: step.ID, Time: now})
}

// commitStep moves each task's chosen output into place, writes _SUCCESS,
// and only then records the step COMPLETED.
func (s *Server) commitStep(a stepAction) error {
	m := mapreduce.Manifest{Step: a.step.ID, Job: a.step.Spec.Job, Counters: a.counters}
	if faults.Armed() {
		// Move half, then give a test the chance to kill this leader.
		if err := mapreduce.MoveCommitted(a.step.Spec.Output, a.commit[:len(a.commit)/2]); err != nil {
			s.log.Warn("commit first half", "step", a.step.ID, "err", err)
		}
		faults.Hit("commit-midway")
	}
	if err := mapreduce.CommitOutput(a.step.Spec.Output, a.commit, m); err != nil {
		return s.apply(&state.FailStep{ID: a.step.ID, Error: fmt.Sprintf("commit output: %v", err), Time: time.Now().UnixNano()})
	}
	s.log.Info("step completed", "step", a.step.ID)
	return s.apply(&state.CompleteStep{ID: a.step.ID, Time: time.Now().UnixNano()})
}

// livenessLoop registers workers the gossip ring knows and declares down
// those that left it or stopped sending heartbeats.
func (s *Server) livenessLoop(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		s.checkWorkers()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.soft.poke:
		}
	}
}

func (s *Server) checkWorkers() {
	now := time.Now()
	inGossip := make(map[string]gossip.Meta)
	for _, m := range s.gossip.Members() {
		if m.Meta.Kind == gossip.KindWorker {
			inGossip[m.Name] = m.Meta
		}
	}
	var register []state.Worker
	var down []state.WorkerDown
	s.fsm.read(func(st *state.State) {
		for name, meta := range inGossip {
			w, ok := st.Workers[name]
			if !ok || w.Incarnation < meta.Incarnation {
				register = append(register, state.Worker{ID: name, Incarnation: meta.Incarnation, Role: meta.Role, Addr: meta.GRPCAddr, Slots: meta.Slots})
			}
		}
		for id, w := range st.Workers {
			if !w.Up() {
				continue
			}
			last, heard := s.soft.lastHeard(id)
			if !heard {
				s.soft.seen(id, now) // registered by a previous leader: start its grace period
				continue
			}
			meta, gossiping := inGossip[id]
			switch {
			case gossiping && meta.Incarnation > w.Incarnation:
				// Restarted: RegisterWorker below replaces it.
			case !gossiping && now.Sub(last) > s.gossipGrace():
				down = append(down, state.WorkerDown{ID: id, Incarnation: w.Incarnation, Reason: "left the gossip ring", Time: now.UnixNano()})
			case now.Sub(last) > s.cfg.WorkerTimeout:
				down = append(down, state.WorkerDown{ID: id, Incarnation: w.Incarnation, Reason: fmt.Sprintf("no heartbeat for %s", now.Sub(last).Round(time.Millisecond)), Time: now.UnixNano()})
			}
		}
	})
	for _, w := range register {
		if err := s.apply(&state.RegisterWorker{Worker: w, Time: now.UnixNano()}); err != nil {
			s.log.Debug("register worker from gossip", "worker", w.ID, "err", err)
			continue
		}
		s.soft.seen(w.ID, now)
		s.log.Info("worker registered", "worker", w.ID, "role", w.Role, "addr", w.Addr, "slots", w.Slots, "incarnation", w.Incarnation)
	}
	for _, d := range down {
		if err := s.apply(&d); err != nil {
			s.log.Debug("declare worker down", "worker", d.ID, "err", err)
			continue
		}
		s.log.Warn("worker down", "worker", d.ID, "reason", d.Reason)
	}
}

// gossipGrace is how long a worker missing from the gossip ring is given
// before it is declared down: long enough for a new leader's gossip member
// to learn the ring.
func (s *Server) gossipGrace() time.Duration {
	if s.cfg.Fast {
		return time.Second
	}
	return 3 * time.Second
}

// promoteLag is how far behind the leader's log a non-voter may be when it
// is promoted to voter.
const promoteLag = 32

// promoteLoop promotes non-voting primaries (added by AddPrimary) to voters
// once they have caught up with the log, so that a new member never counts
// toward quorum before it can serve.
func (s *Server) promoteLoop(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cf := s.raft.GetConfiguration()
		if cf.Error() != nil {
			continue
		}
		for _, srv := range cf.Configuration().Servers {
			if srv.Suffrage != raft.Nonvoter {
				continue
			}
			var addr string
			s.fsm.read(func(st *state.State) {
				if p, ok := st.Primaries[string(srv.ID)]; ok {
					addr = p.Addr
				}
			})
			p := s.peerStatus(ctx, string(srv.ID), addr)
			if p.Error != "" || p.AppliedIndex+promoteLag < s.raft.LastIndex() {
				continue
			}
			if err := s.raft.AddVoter(srv.ID, srv.Address, 0, applyTimeout).Error(); err != nil {
				s.log.Warn("promote primary", "primary", srv.ID, "err", err)
				continue
			}
			s.log.Info("primary promoted to voter", "primary", srv.ID, "applied", p.AppliedIndex)
		}
	}
}

// hungLoop kills, as failed, attempts that made no progress for the task
// timeout; their tasks run again (Hadoop's mapreduce.task.timeout).
func (s *Server) hungLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		running := map[string]bool{}
		var hung []string
		s.fsm.read(func(st *state.State) {
			for _, step := range st.Steps {
				if step.State != state.StepRunning {
					continue
				}
				for _, t := range step.Tasks() {
					for _, a := range t.Running() {
						running[a.ID] = true
						if now.Sub(s.soft.stalledSince(a.ID, now)) > s.cfg.TaskTimeout {
							hung = append(hung, a.ID)
						}
					}
				}
			}
		})
		s.soft.forget(func(id string) bool { return running[id] })
		for _, id := range hung {
			reason := fmt.Sprintf("no progress for %s (task timeout)", s.cfg.TaskTimeout)
			if err := s.apply(&state.KillAttempt{AttemptID: id, Reason: reason, Failed: true, Time: now.UnixNano()}); err != nil {
				s.log.Debug("kill hung attempt", "attempt", id, "err", err)
				continue
			}
			s.log.Warn("attempt hung; killed", "attempt", id, "timeout", s.cfg.TaskTimeout)
		}
	}
}
