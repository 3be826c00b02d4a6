package state

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gomr/gomr/mapreduce"
)

// editStep stores a changed copy of the current version of step id.
func (w *tx) editStep(id string, fn func(*Step)) *Step {
	old, ok := w.Step(id)
	if !ok {
		panic("state: edit of a missing step " + id)
	}
	st := *old
	st.Counters = maps.Clone(old.Counters)
	st.FailuresOn = maps.Clone(old.FailuresOn)
	fn(&st)
	w.putStep(&st)
	return &st
}

// editTask stores a changed copy of the current version of a task.
func (w *tx) editTask(t *Task, fn func(*Task)) *Task {
	old, ok := w.Task(t.StepID, t.Kind, t.Index)
	if !ok {
		panic("state: edit of a missing task " + t.Name())
	}
	c := *old
	c.Attempts = slices.Clone(old.Attempts)
	fn(&c)
	w.put(tableTasks, &c)
	return &c
}

func addCounter(st *Step, name string, n int64) {
	if st.Counters == nil {
		st.Counters = make(map[string]int64)
	}
	st.Counters[name] += n
	if st.Counters[name] == 0 {
		delete(st.Counters, name)
	}
}

func countFailure(st *Step, worker string) {
	if st.FailuresOn == nil {
		st.FailuresOn = make(map[string]int)
	}
	st.FailuresOn[worker]++
}

// addCounters adds (sign 1) or takes away (sign -1) an attempt's counters.
func addCounters(st *Step, c map[string]int64, sign int64) {
	for _, k := range slices.Sorted(maps.Keys(c)) {
		addCounter(st, k, sign*c[k])
	}
}

func countersOf(kind TaskKind) (launched, failed, killed string) {
	if kind == KindReduce {
		return LaunchedReduces, FailedReduces, KilledReduces
	}
	return LaunchedMaps, FailedMaps, KilledMaps
}

// setWinner records the attempt whose output counts for a task (or none,
// when its output was lost), keeping the step's done counts and counters.
func (w *tx) setWinner(t *Task, winner *Attempt) *Task {
	prev := t.WinningAttempt()
	t = w.editTask(t, func(t *Task) {
		if winner != nil {
			t.Winner, t.State = winner.ID, TaskSucceeded
		} else {
			t.Winner, t.State = "", TaskPending
		}
	})
	w.editStep(t.StepID, func(st *Step) {
		done := &st.MapsDone
		if t.Kind == KindReduce {
			done = &st.ReducesDone
		}
		if prev != nil {
			*done--
			addCounters(st, prev.Counters, -1)
		}
		if winner != nil {
			*done++
			addCounters(st, winner.Counters, 1)
		}
	})
	return t
}

func (w *tx) registerPrimary(c *RegisterPrimary) error {
	p := c.Primary
	if p.ID == "" || p.Addr == "" || p.RaftAddr == "" || p.GossipAddr == "" {
		return fmt.Errorf("register primary %q: %w: incomplete addresses", p.ID, ErrConflict)
	}
	w.put(tablePrimaries, &p)
	return nil
}

func (w *tx) registerWorker(c *RegisterWorker) error {
	wk := c.Worker
	if wk.ID == "" || wk.Addr == "" || wk.Slots < 1 || (wk.Role != RoleCore && wk.Role != RoleTask) {
		return fmt.Errorf("register worker %q: %w: incomplete worker (role %q, addr %q, slots %d)", wk.ID, ErrConflict, wk.Role, wk.Addr, wk.Slots)
	}
	if old, ok := w.Worker(wk.ID); ok {
		if old.Incarnation == wk.Incarnation && old.Up() {
			return nil // already registered: registration is idempotent
		}
		if wk.Incarnation < old.Incarnation || (wk.Incarnation == old.Incarnation && !old.Up()) {
			return fmt.Errorf("register worker %s incarnation %d: %w: incarnation %d is newer or was declared down", wk.ID, wk.Incarnation, ErrStale, old.Incarnation)
		}
		w.killWorkerAttempts(old.ID, old.Incarnation, "worker restarted", c.Time)
	}
	wk.State = WorkerAlive
	wk.RegisteredAt = c.Time
	wk.DownAt, wk.DownReason = 0, ""
	w.put(tableWorkers, &wk)
	return nil
}

func (w *tx) workerDown(c *WorkerDown) error {
	old, ok := w.Worker(c.ID)
	if !ok {
		return fmt.Errorf("worker %s: %w", c.ID, ErrNotFound)
	}
	if old.Incarnation != c.Incarnation || !old.Up() {
		return fmt.Errorf("worker %s incarnation %d: %w", c.ID, c.Incarnation, ErrStale)
	}
	wk := *old
	wk.State = WorkerDead
	wk.DownAt = c.Time
	wk.DownReason = c.Reason
	w.put(tableWorkers, &wk)
	w.killWorkerAttempts(wk.ID, wk.Incarnation, "worker down: "+c.Reason, c.Time)
	return nil
}

// killWorkerAttempts kills the running attempts of a worker incarnation and
// returns their tasks to PENDING. Map outputs that lived on the worker and
// are still needed by an unfinished reduce phase are lost, so those map
// tasks run again too.
func (w *tx) killWorkerAttempts(worker string, inc int64, reason string, now int64) {
	for _, t := range w.RunningOn(worker, inc) {
		for _, a := range t.Running() {
			if a.Worker == worker && a.Incarnation == inc {
				w.endAttempt(t, a.ID, AttemptKilled, reason, now)
			}
		}
	}
	outputs := collect(all[*Task](w.txn.Get(tableTasks, indexOutput, incKey(worker, inc))))
	for _, t := range outputs {
		st, _ := w.Step(t.StepID)
		if st.State != StepRunning || st.ReducesDone == st.Reduces {
			continue // every reducer has its input: map outputs are no longer needed
		}
		w.loseOutput(t, "map output lost: "+reason)
	}
}

// loseOutput forgets a map task's winning output: the task runs again.
func (w *tx) loseOutput(t *Task, errText string) {
	id := t.Winner
	t = w.editTask(t, func(t *Task) { t.attempt(id).Error = errText })
	w.setWinner(t, nil)
}

// endAttempt ends a running attempt and settles its task. An attempt that
// no longer runs (an earlier change of the same command ended it) is left
// alone.
func (w *tx) endAttempt(t *Task, attemptID string, state AttemptState, errText string, now int64) {
	if cur, _ := w.Task(t.StepID, t.Kind, t.Index); cur.attempt(attemptID).State != AttemptRunning {
		return
	}
	t = w.editTask(t, func(t *Task) {
		a := t.attempt(attemptID)
		a.State = state
		a.EndedAt = now
		if errText != "" {
			a.Error = errText
		}
	})
	_, failed, killed := countersOf(t.Kind)
	worker := t.attempt(attemptID).Worker
	w.editStep(t.StepID, func(st *Step) {
		switch state {
		case AttemptFailed:
			addCounter(st, failed, 1)
			countFailure(st, worker)
		case AttemptKilled:
			addCounter(st, killed, 1)
		}
	})
	w.settle(t, now)
}

// settle updates a task after one of its attempts ended. A task with no
// attempt running and none that succeeded runs again, unless its failed
// attempts reached the limit: then it fails, and its step with it.
func (w *tx) settle(t *Task, now int64) {
	if t.State != TaskRunning || len(t.Running()) > 0 {
		return
	}
	st, _ := w.Step(t.StepID)
	if !st.State.Stopped() && t.Failures() >= max(st.Spec.MaxAttempts, 1) {
		t = w.editTask(t, func(t *Task) { t.State = TaskFailed })
		w.endStep(st.ID, StepFailed, taskFailure(t), now)
		return
	}
	w.editTask(t, func(t *Task) { t.State = TaskPending })
}

func (w *tx) drainWorker(c *DrainWorker) error {
	old, ok := w.Worker(c.ID)
	if !ok {
		return fmt.Errorf("worker %s: %w", c.ID, ErrNotFound)
	}
	if old.State != WorkerAlive {
		return fmt.Errorf("drain worker %s: %w: worker is %s", c.ID, ErrConflict, old.State)
	}
	wk := *old
	wk.State = WorkerDraining
	w.put(tableWorkers, &wk)
	return nil
}

func (w *tx) killAttempt(c *KillAttempt) error {
	t, a, ok := w.AttemptTask(c.AttemptID)
	if !ok {
		return fmt.Errorf("attempt %s: %w", c.AttemptID, ErrNotFound)
	}
	if a.State != AttemptRunning {
		return fmt.Errorf("kill attempt %s: %w: attempt is %s", c.AttemptID, ErrStale, a.State)
	}
	state := AttemptKilled
	if c.Failed {
		state = AttemptFailed
	}
	w.endAttempt(t, a.ID, state, c.Reason, c.Time)
	return nil
}

func (w *tx) mapOutputLost(c *MapOutputLost) error {
	t, a, ok := w.AttemptTask(c.AttemptID)
	if !ok {
		return fmt.Errorf("attempt %s: %w", c.AttemptID, ErrNotFound)
	}
	st, _ := w.Step(t.StepID)
	if t.Kind != KindMap || t.Winner != a.ID || st.State != StepRunning || st.ReducesDone == st.Reduces {
		return fmt.Errorf("map output %s: %w: not a map output a running step still needs", a.ID, ErrStale)
	}
	w.loseOutput(t, "map output lost: "+c.Reason)
	return nil
}

func (w *tx) submitStep(c *SubmitStep) error {
	if c.ID == "" {
		return fmt.Errorf("submit step: %w: no id", ErrConflict)
	}
	if _, ok := w.Step(c.ID); ok {
		return fmt.Errorf("submit step %s: %w: id in use", c.ID, ErrConflict)
	}
	if id := w.StepByToken(c.Spec.ClientToken); id != "" {
		return fmt.Errorf("submit step: %w: client token %q is step %s's", ErrConflict, c.Spec.ClientToken, id)
	}
	if why, ok := w.Terminated(); ok {
		return fmt.Errorf("submit step: %w: the cluster was terminated (%s) and takes no more steps", ErrConflict, why)
	}
	for _, st := range w.StepsIn(StepPending, StepRunning, StepCancelPending) {
		if st.Spec.Output == c.Spec.Output {
			return fmt.Errorf("submit step: %w: output %s is the output of step %s, which has not ended", ErrConflict, c.Spec.Output, st.ID)
		}
	}
	if c.Spec.Reducers < 0 {
		return fmt.Errorf("submit step %s: %w: %d reducers", c.ID, ErrConflict, c.Spec.Reducers)
	}
	if c.Input.Splits < 0 || c.Input.Files < 0 {
		return fmt.Errorf("submit step %s: %w: negative input summary", c.ID, ErrConflict)
	}
	spec := c.Spec
	spec.Options = maps.Clone(spec.Options)
	spec.Inputs = slices.Clone(spec.Inputs)
	seq, _ := first[*meta](w.txn, tableMeta, indexID, metaNextSeq)
	next := uint64(1)
	if seq != nil {
		next = seq.Value + 1
	}
	w.put(tableMeta, &meta{Name: metaNextSeq, Value: next})
	st := &Step{ID: c.ID, Seq: next, Spec: spec, State: StepPending, SubmittedAt: c.Time, Input: c.Input}
	if spec.After != "" {
		after, ok := w.Step(spec.After)
		if !ok {
			return fmt.Errorf("submit step %s: %w: it waits for step %s, which does not exist", c.ID, ErrConflict, spec.After)
		}
		if after.State.Stopped() {
			return fmt.Errorf("submit step %s: %w: it waits for step %s, which has ended", c.ID, ErrConflict, spec.After)
		}
		st.Unplanned, st.Input = true, InputSummary{}
	}
	if c.Deferred {
		st.Unplanned, st.Input = true, InputSummary{}
	}
	if c.Export != nil {
		if c.Export.Spec.After != c.ID || c.Export.Export != nil {
			return fmt.Errorf("submit step %s: %w: its export step must wait for it alone", c.ID, ErrConflict)
		}
		st.ExportStep = c.Export.ID
	}
	w.putStep(st)
	if c.Export != nil {
		return w.submitStep(c.Export)
	}
	return nil
}

func (w *tx) planStep(c *PlanStep) error {
	st, err := w.step(c.ID)
	if err != nil {
		return err
	}
	if st.State != StepPending || !st.Unplanned {
		return fmt.Errorf("plan step %s: %w: it is %s and not waiting to be planned", c.ID, ErrConflict, st.State)
	}
	if c.Input.Splits < 0 || c.Input.Files < 0 {
		return fmt.Errorf("plan step %s: %w: negative input summary", c.ID, ErrConflict)
	}
	w.editStep(st.ID, func(st *Step) { st.Unplanned, st.Input = false, c.Input })
	return nil
}

func (w *tx) addSplits(c *AddSplits) error {
	st, err := w.step(c.ID)
	if err != nil {
		return err
	}
	if st.State != StepPending {
		return fmt.Errorf("add splits to step %s: %w: step is %s", c.ID, ErrConflict, st.State)
	}
	if st.Maps+len(c.Splits) > st.Input.Splits {
		return fmt.Errorf("add splits to step %s: %w: %d splits recorded and %d more, %d planned", c.ID, ErrConflict, st.Maps, len(c.Splits), st.Input.Splits)
	}
	w.addMaps(st, c.Splits)
	return nil
}

// addMaps records splits as the step's next map tasks.
func (w *tx) addMaps(st *Step, splits []mapreduce.Split) {
	for i, sp := range splits {
		w.put(tableTasks, &Task{StepID: st.ID, Kind: KindMap, Index: st.Maps + i, Split: &sp, State: TaskPending})
	}
	w.editStep(st.ID, func(st *Step) { st.Maps += len(splits) })
}

func (w *tx) startStep(c *StartStep) error {
	st, err := w.step(c.ID)
	if err != nil {
		return err
	}
	if st.State != StepPending {
		return fmt.Errorf("start step %s: %w: step is %s", c.ID, ErrConflict, st.State)
	}
	if st.Unplanned {
		return fmt.Errorf("start step %s: %w: its input has not been listed yet", c.ID, ErrConflict)
	}
	if st.Spec.Reducers < 0 {
		return fmt.Errorf("start step %s: %w: %d reducers", c.ID, ErrConflict, st.Spec.Reducers)
	}
	if st.Maps+len(c.Splits) < st.Input.Splits {
		return fmt.Errorf("start step %s: %w: %d of %d planned splits recorded", c.ID, ErrConflict, st.Maps+len(c.Splits), st.Input.Splits)
	}
	w.addMaps(st, c.Splits)
	for i := range st.Spec.Reducers {
		w.put(tableTasks, &Task{StepID: st.ID, Kind: KindReduce, Index: i, State: TaskPending})
	}
	w.editStep(st.ID, func(st *Step) {
		st.State = StepRunning
		st.StartedAt = c.Time
		st.Reduces = st.Spec.Reducers
	})
	return nil
}

func (w *tx) assign(c *Assign) error {
	seen := make(map[string]bool)
	for _, as := range c.Assignments {
		taskKey := fmt.Sprintf("%s/%s/%d", as.StepID, as.Kind, as.Index)
		if seen[as.AttemptID] || seen[taskKey] {
			return fmt.Errorf("assign: %w: attempt %s or its task given twice", ErrConflict, as.AttemptID)
		}
		seen[as.AttemptID], seen[taskKey] = true, true
		if _, _, ok := w.AttemptTask(as.AttemptID); ok {
			return fmt.Errorf("assign: %w: attempt %s exists", ErrConflict, as.AttemptID)
		}
		st, err := w.step(as.StepID)
		if err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		if st.State != StepRunning {
			return fmt.Errorf("assign %s: %w: step is %s", as.AttemptID, ErrConflict, st.State)
		}
		t, err := w.task(st, as.Kind, as.Index)
		if err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		if as.Speculative {
			running := t.Running()
			if t.State != TaskRunning || len(running) != 1 || running[0].Worker == as.Worker {
				return fmt.Errorf("assign backup %s: %w: a backup needs a task with one running attempt on another worker", as.AttemptID, ErrConflict)
			}
		} else if t.State != TaskPending {
			return fmt.Errorf("assign %s: %w: task is %s", as.AttemptID, ErrConflict, t.State)
		}
		if as.Kind == KindReduce && st.MapsDone < st.Maps {
			return fmt.Errorf("assign %s: %w: map phase not done", as.AttemptID, ErrConflict)
		}
		wk, ok := w.Worker(as.Worker)
		if !ok || wk.Incarnation != as.Incarnation || !wk.Up() {
			return fmt.Errorf("assign %s to %s: %w: worker incarnation not alive", as.AttemptID, as.Worker, ErrStale)
		}
		if wk.State != WorkerAlive {
			return fmt.Errorf("assign %s to %s: %w: worker is %s", as.AttemptID, as.Worker, ErrConflict, strings.ToLower(string(wk.State)))
		}
		w.editTask(t, func(t *Task) {
			t.Attempts = append(t.Attempts, Attempt{ID: as.AttemptID, Worker: as.Worker, Incarnation: as.Incarnation, Addr: wk.Addr,
				State: AttemptRunning, StartedAt: c.Time, Speculative: as.Speculative})
			t.State = TaskRunning
		})
		launched, _, _ := countersOf(as.Kind)
		w.editStep(st.ID, func(st *Step) {
			addCounter(st, launched, 1)
			if as.Speculative {
				addCounter(st, SpeculativeAttempts, 1)
			}
		})
	}
	return nil
}

func (w *tx) finishAttempt(c *FinishAttempt) error {
	t, a, ok := w.AttemptTask(c.AttemptID)
	if !ok {
		return fmt.Errorf("attempt %s: %w", c.AttemptID, ErrNotFound)
	}
	if a.Worker != c.Worker || a.Incarnation != c.Incarnation {
		return fmt.Errorf("attempt %s: %w: reported by %s incarnation %d", a.ID, ErrStale, c.Worker, c.Incarnation)
	}
	if a.State != AttemptRunning {
		return fmt.Errorf("attempt %s: %w: attempt is %s", a.ID, ErrStale, a.State)
	}
	if !c.Success {
		if c.Fatal && t.State != TaskSucceeded {
			// Bad input: every attempt would fail the same way.
			t = w.editTask(t, func(t *Task) {
				a := t.attempt(c.AttemptID)
				a.State, a.EndedAt, a.Error = AttemptFailed, c.Time, c.Error
				t.State = TaskFailed
			})
			_, failed, _ := countersOf(t.Kind)
			w.editStep(t.StepID, func(st *Step) {
				addCounter(st, failed, 1)
				countFailure(st, c.Worker)
			})
			return w.endStep(t.StepID, StepFailed, fmt.Sprintf("%s: %s", t.Name(), c.Error), c.Time)
		}
		w.endAttempt(t, a.ID, AttemptFailed, c.Error, c.Time)
		return nil
	}
	// One copy of the task and one of the step (this runs once per
	// attempt): the attempt's end, and unless another attempt won first
	// (whose output counts; this one's is discarded), the task's winner,
	// as setWinner records it, and the end of the task's other attempts.
	won := t.State != TaskSucceeded
	var killed int64
	t = w.editTask(t, func(t *Task) {
		a := t.attempt(c.AttemptID)
		a.State = AttemptSucceeded
		a.EndedAt = c.Time
		a.Counters = maps.Clone(c.Counters)
		a.Commit = slices.Clone(c.Commit)
		if !won {
			return
		}
		t.Winner, t.State = a.ID, TaskSucceeded
		for _, other := range t.Running() {
			other.State = AttemptKilled
			other.EndedAt = c.Time
			other.Error = "another attempt succeeded"
			killed++
		}
	})
	if !won {
		return nil
	}
	winner := t.WinningAttempt()
	w.editStep(t.StepID, func(st *Step) {
		if t.Kind == KindReduce {
			st.ReducesDone++
		} else {
			st.MapsDone++
		}
		addCounters(st, winner.Counters, 1)
		if killed > 0 {
			_, _, kc := countersOf(t.Kind)
			addCounter(st, kc, killed)
		}
	})
	return nil
}

func taskFailure(t *Task) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed %d times:", t.Name(), t.Failures())
	for _, a := range t.Attempts {
		if a.State == AttemptFailed {
			fmt.Fprintf(&b, "\n  %s on %s: %s", a.ID, a.Worker, a.Error)
		}
	}
	return b.String()
}

// endStep moves a step that has not ended to a final state and kills its
// running attempts.
//
// A step that had started and is cancelled is CANCEL_PENDING until its
// partial output is removed (StepCleanedUp). A failed step's action on
// failure cancels the pending steps (CANCEL_AND_WAIT), and also
// interrupts the running ones and terminates the cluster
// (TERMINATE_CLUSTER).
func (w *tx) endStep(id string, state StepState, errText string, now int64) error {
	st, err := w.step(id)
	if err != nil {
		return err
	}
	if st.State.Stopped() {
		return fmt.Errorf("end step %s: %w: step is already %s", id, ErrConflict, st.State)
	}
	if state == StepCancelled && st.StartedAt != 0 {
		state = StepCancelPending
	}
	w.editStep(id, func(st *Step) {
		st.State = state
		st.Error = errText
		st.EndedAt = now
		if st.StartedAt == 0 {
			st.CleanedUp = true // never started: nothing was written
		}
	})
	// Running attempts are on running tasks, or on a task that just failed
	// (a fatal error of one attempt while a backup ran).
	for _, kind := range []TaskKind{KindMap, KindReduce} {
		for _, ts := range []TaskState{TaskRunning, TaskFailed} {
			for _, t := range collect(w.TasksIn(id, kind, ts)) {
				for _, a := range t.Running() {
					w.endAttempt(t, a.ID, AttemptKilled, "step "+strings.ToLower(string(state)), now)
				}
			}
		}
	}
	if state == StepFailed {
		return w.actOnFailure(st, now)
	}
	return nil
}

// actOnFailure carries out a failed step's action on failure.
func (w *tx) actOnFailure(failed *Step, now int64) error {
	action := failed.Spec.ActionOnFailure
	if action != ActionCancelAndWait && action != ActionTerminateCluster {
		return nil
	}
	why := fmt.Sprintf("step %s failed and its action on failure is %s", failed.ID, action)
	for _, st := range w.StepsIn(StepPending) {
		if err := w.endStep(st.ID, StepCancelled, "cancelled: "+why, now); err != nil {
			return err
		}
	}
	if action == ActionTerminateCluster {
		for _, st := range w.StepsIn(StepRunning) {
			if err := w.endStep(st.ID, StepInterrupted, "interrupted: the cluster was terminated: "+why, now); err != nil {
				return err
			}
		}
		w.put(tableMeta, &meta{Name: metaTerminated, Value: 1, Text: why})
	}
	return nil
}

func (w *tx) completeStep(c *CompleteStep) error {
	st, err := w.step(c.ID)
	if err != nil {
		return err
	}
	if st.Phase() != PhaseCommit {
		return fmt.Errorf("complete step %s: %w: step is %s %s", c.ID, ErrConflict, st.State, st.Phase())
	}
	w.editStep(c.ID, func(st *Step) {
		st.State = StepCompleted
		st.EndedAt = c.Time
		st.CleanedUp = true
	})
	return nil
}

func (w *tx) stepCleanedUp(c *StepCleanedUp) error {
	st, err := w.step(c.ID)
	if err != nil {
		return err
	}
	if !st.State.Stopped() {
		return fmt.Errorf("step %s: %w: step is %s", c.ID, ErrConflict, st.State)
	}
	w.editStep(c.ID, func(st *Step) {
		st.CleanedUp = true
		if st.State == StepCancelPending {
			st.State = StepCancelled
		}
	})
	return nil
}
