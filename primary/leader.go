package primary

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/faults"
	"github.com/gomr/gomr/primary/gossip"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
)

// barrierRetry is how long a new leader waits before it tries a failed
// barrier again.
const barrierRetry = 200 * time.Millisecond

// watchLeadership runs leaderLoop while this primary leads (Nomad's
// monitorLeadership): started on gaining leadership, stopped, and waited
// for, on losing it.
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

// startLeading runs leaderLoop in the background; the returned function
// stops it and waits for every leader-only loop to end.
func (s *Server) startLeading() (stop func()) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.leaderLoop(ctx) }()
	return func() { cancel(); <-done }
}

// leaderLoop is this primary's life as leader. The barrier makes sure
// every entry of earlier terms is applied before the leader acts on the
// state; while it fails the leader tries again, for as long as it leads
// (Nomad's leaderLoop). Then every leader-only loop starts, as one unit,
// and runs until leadership ends.
func (s *Server) leaderLoop(ctx context.Context) {
	for {
		err := faults.Err("leader-barrier")
		if err == nil {
			err = s.raft.Barrier(applyTimeout).Error()
		}
		if err == nil {
			break
		}
		s.log.Warn("leader barrier failed; trying again", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(barrierRetry):
		}
	}
	s.establishLeadership(ctx)
}

// establishLeadership starts every leader-only loop and returns once ctx
// ends and all of them have stopped.
func (s *Server) establishLeadership(ctx context.Context) {
	var workers []string
	for _, w := range s.fsm.view().Workers() {
		if w.Up() {
			workers = append(workers, w.ID)
		}
	}
	s.soft.reset(workers, time.Now())
	s.blocks.reset()
	s.enterAutoSafeMode()
	s.log.Info("became leader", "workers", len(workers))
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){s.stepLoop, s.livenessLoop, s.promoteLoop, s.hungLoop, s.hdfsLoop} {
		wg.Go(func() { loop(ctx) })
	}
	wg.Wait()
}

// stepLoop plans, starts, commits and cleans up steps whenever the state
// changes.
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

// stepAction is one thing the step loop does to one step.
type stepAction struct {
	kind string // "plan", "cancel", "start", "commit" or "cleanup"
	step *state.Step
}

func (s *Server) advanceSteps(ctx context.Context) {
	v := s.fsm.view()
	var actions []stepAction
	running := len(v.StepsIn(state.StepRunning))
	// Steps start in submission order: none starts ahead of an earlier one
	// still being planned (an export step whose step just completed).
	blocked := false
	for _, step := range v.StepsIn(state.StepPending) {
		switch {
		case step.Unplanned && step.Spec.After == "":
			// Its turn comes once every earlier step has ended.
			if !earlierUnended(v, step) {
				blocked = true
				if !s.planning.has(step.ID) {
					actions = append(actions, stepAction{kind: "plan", step: step})
				}
			}
		case step.Unplanned:
			after, _ := v.Step(step.Spec.After)
			switch {
			case after == nil || (after.State.Stopped() && after.State != state.StepCompleted):
				actions = append(actions, stepAction{kind: "cancel", step: step})
			case after.State == state.StepCompleted:
				blocked = true
				if !s.planning.has(step.ID) {
					actions = append(actions, stepAction{kind: "plan", step: step})
				}
			}
		case !step.PlanComplete():
			blocked = true
			if !s.planning.has(step.ID) {
				actions = append(actions, stepAction{kind: "plan", step: step})
			}
		case blocked:
		case running < s.cfg.StepConcurrency:
			running++
			actions = append(actions, stepAction{kind: "start", step: step})
		}
	}
	for _, step := range v.StepsIn(state.StepRunning) {
		if step.Phase() == state.PhaseCommit {
			actions = append(actions, stepAction{kind: "commit", step: step})
		}
	}
	for _, step := range v.StepsToCleanUp() {
		actions = append(actions, stepAction{kind: "cleanup", step: step})
	}
	for _, a := range actions {
		if ctx.Err() != nil {
			return
		}
		var err error
		switch a.kind {
		case "plan":
			if a.step.Unplanned {
				err = s.planWaitingStep(a.step)
			} else {
				err = s.finishPlanning(a.step)
			}
		case "cancel":
			err = s.apply(&state.CancelStep{ID: a.step.ID, Reason: waitedForReason(v, a.step), Time: time.Now().UnixNano()})
		case "start":
			err = s.startStep(ctx, a.step)
		case "commit":
			err = s.commitStep(ctx, v, a.step)
		case "cleanup":
			err = s.cleanUpStep(ctx, v, a.step)
		}
		if err != nil && !errors.Is(err, state.ErrConflict) {
			s.log.Warn("advance step", "step", a.step.ID, "action", a.kind, "err", err)
		}
	}
}

// earlierUnended reports whether a step submitted before this one has not
// ended yet.
func earlierUnended(v *state.View, step *state.Step) bool {
	for _, st := range v.StepsIn(state.StepPending, state.StepRunning, state.StepCancelPending) {
		if st.Seq < step.Seq {
			return true
		}
	}
	return false
}

// committer returns a step's output committer.
func (s *Server) committer(step *state.Step) (mapreduce.Committer, error) {
	return s.cfg.FileSystems.CommitterFor(step.Spec.Output, step.ID, step.Spec.Overwrite)
}

// startStep claims a planned step's output and starts it; a step whose
// output is unusable fails here.
func (s *Server) startStep(ctx context.Context, step *state.Step) error {
	now := time.Now().UnixNano()
	cm, err := s.committer(step)
	if err == nil {
		err = cm.SetupJob(ctx)
	}
	if err != nil {
		s.log.Info("step failed to start", "step", step.ID, "err", err)
		return s.apply(&state.FailStep{ID: step.ID, Error: err.Error(), Time: now})
	}
	s.log.Info("step started", "step", step.ID, "job", step.Spec.Job, "maps", step.Maps, "reduces", step.Spec.Reducers)
	return s.apply(&state.StartStep{ID: step.ID, Time: now})
}

// outputRecords returns the commit records of a step's attempts: the
// winner of each task, and the attempts that reported output but lost.
func outputRecords(v *state.View, step *state.Step) (chosen, losers []mapreduce.TaskCommit) {
	for t := range v.Tasks(step.ID) {
		for _, a := range t.Attempts {
			if a.State != state.AttemptSucceeded || len(a.Commit) == 0 {
				continue
			}
			tc := mapreduce.TaskCommit{AttemptID: a.ID, Record: a.Commit}
			if a.ID == t.Winner {
				chosen = append(chosen, tc)
			} else {
				losers = append(losers, tc)
			}
		}
	}
	return chosen, losers
}

// commitStep makes each task's chosen output visible through the step's
// committer, discards the output of attempts that lost, writes _SUCCESS,
// and only then records the step COMPLETED. Every committer call is
// idempotent: a leader that dies part way is finished by the next one,
// which starts again from the records in Raft.
func (s *Server) commitStep(ctx context.Context, v *state.View, step *state.Step) error {
	cm, err := s.committer(step)
	if err != nil {
		return s.failCommit(step, err)
	}
	chosen, losers := outputRecords(v, step)
	// Each piece stops once leadership ends (the committers' own calls may
	// not watch ctx): the next leader commits.
	for i, tc := range chosen {
		if i == len(chosen)/2 {
			faults.Hit("commit-midway")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := cm.CommitTask(ctx, tc); err != nil {
			return s.failCommit(step, err)
		}
	}
	for _, tc := range losers {
		if err := cm.AbortTask(ctx, tc); err != nil {
			return s.failCommit(step, err)
		}
	}
	m := mapreduce.Manifest{Step: step.ID, Job: step.Spec.Job, Counters: step.Counters}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := cm.CommitJob(ctx, m); err != nil {
		return s.failCommit(step, err)
	}
	if def, err := jobs.Lookup(step.Spec.Job); err == nil && def.DeletesInput(step.Spec.Options) {
		if err := s.deleteInput(ctx, v, step); err != nil {
			return s.failCommit(step, err)
		}
	}
	s.log.Info("step completed", "step", step.ID)
	return s.apply(&state.CompleteStep{ID: step.ID, Time: time.Now().UnixNano()})
}

// deleteInput removes the files a completed step read (distcp's
// --delete-on-success), once its output is committed. A file gone
// already is fine: a leader that died part way is finished by the next.
func (s *Server) deleteInput(ctx context.Context, v *state.View, step *state.Step) error {
	for t := range v.TasksIn(step.ID, state.KindMap, state.TaskSucceeded) {
		for _, f := range t.Split.Files() {
			fs, err := s.cfg.FileSystems.For(f.File)
			if err != nil {
				return err
			}
			if err := fs.Delete(ctx, f.File, false); err != nil && !errors.Is(err, mapreduce.ErrNotExist) {
				return fmt.Errorf("delete input %s: %w", f.File, err)
			}
		}
	}
	return nil
}

func (s *Server) failCommit(step *state.Step, err error) error {
	if errors.Is(err, context.Canceled) {
		return err // leadership ended: the next leader commits
	}
	return s.apply(&state.FailStep{ID: step.ID, Error: fmt.Sprintf("commit output: %v", err), Time: time.Now().UnixNano()})
}

// cleanUpStep removes what a failed or cancelled step wrote.
func (s *Server) cleanUpStep(ctx context.Context, v *state.View, step *state.Step) error {
	cm, err := s.committer(step)
	if err != nil {
		return err
	}
	chosen, losers := outputRecords(v, step)
	for _, tc := range append(chosen, losers...) {
		if err := cm.AbortTask(ctx, tc); err != nil {
			return err
		}
	}
	if err := cm.AbortJob(ctx); err != nil {
		return err
	}
	return s.apply(&state.StepCleanedUp{ID: step.ID})
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
	v := s.fsm.view()
	for name, meta := range inGossip {
		w, ok := v.Worker(name)
		role, valid := state.ParseRole(meta.Role)
		if valid && (!ok || w.Incarnation < meta.Incarnation) {
			register = append(register, state.Worker{ID: name, Incarnation: meta.Incarnation, Role: role, Addr: meta.GRPCAddr, Slots: meta.Slots})
		}
	}
	for _, w := range v.Workers() {
		if !w.Up() {
			continue
		}
		last, heard := s.soft.lastHeard(w.ID)
		if !heard {
			s.soft.seen(w.ID, now) // registered by a previous leader: start its grace period
			continue
		}
		meta, gossiping := inGossip[w.ID]
		switch {
		case gossiping && meta.Incarnation > w.Incarnation:
			// Restarted: RegisterWorker below replaces it.
		case !gossiping && now.Sub(last) > s.gossipGrace():
			down = append(down, state.WorkerDown{ID: w.ID, Incarnation: w.Incarnation, Reason: "left the gossip ring", Time: now.UnixNano()})
		case now.Sub(last) > s.cfg.WorkerTimeout:
			down = append(down, state.WorkerDown{ID: w.ID, Incarnation: w.Incarnation, Reason: fmt.Sprintf("no heartbeat for %s", now.Sub(last).Round(time.Millisecond)), Time: now.UnixNano()})
		}
	}
	for _, w := range register {
		if err := s.apply(&state.RegisterWorker{Worker: w, Time: now.UnixNano()}); err != nil {
			s.log.Debug("register worker from gossip", "worker", w.ID, "err", err)
			continue
		}
		s.soft.seen(w.ID, now)
		s.blocks.forget(w.ID) // a new incarnation reports its blocks afresh
		s.log.Info("worker registered", "worker", w.ID, "role", w.Role, "addr", w.Addr, "slots", w.Slots, "incarnation", w.Incarnation)
	}
	for _, d := range down {
		if err := s.apply(&d); err != nil {
			s.log.Debug("declare worker down", "worker", d.ID, "err", err)
			continue
		}
		s.blocks.forget(d.ID)
		s.poke()
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
			if p, ok := s.fsm.view().Primary(string(srv.ID)); ok {
				addr = p.Addr
			}
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

// runningAttempts yields every running attempt of the running steps.
func runningAttempts(v *state.View, fn func(step *state.Step, t *state.Task, a *state.Attempt)) {
	for _, step := range v.StepsIn(state.StepRunning) {
		for _, kind := range []state.TaskKind{state.KindMap, state.KindReduce} {
			for t := range v.TasksIn(step.ID, kind, state.TaskRunning) {
				for _, a := range t.Running() {
					fn(step, t, a)
				}
			}
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
		runningAttempts(s.fsm.view(), func(_ *state.Step, _ *state.Task, a *state.Attempt) {
			running[a.ID] = true
			if now.Sub(s.soft.stalledSince(a.ID, now)) > s.cfg.TaskTimeout {
				hung = append(hung, a.ID)
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
