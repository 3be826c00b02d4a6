package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Errors a command can be rejected with.
var (
	// ErrNotFound: the command names a step, task, attempt or worker that
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the command does not fit the current state (a task
	// already running, a step already ended, a duplicate id).
	ErrConflict = errors.New("conflict")
	// ErrStale: the command comes from a worker incarnation or attempt
	// that is no longer current.
	ErrStale = errors.New("stale")
)

// State is the whole replicated state. Only Apply and Restore change it.
type State struct {
	// Primaries are the primaries that announced their addresses, by
	// Raft server id.
	Primaries map[string]*Primary `json:"primaries"`
	Workers   map[string]*Worker  `json:"workers"`
	Steps     map[string]*Step    `json:"steps"`
	// Order lists step ids in submission order.
	Order   []string `json:"order"`
	NextSeq uint64   `json:"next_seq"`

	attempts map[string]attemptRef
}

type attemptRef struct {
	step *Step
	task *Task
	att  *Attempt
}

// New returns an empty state.
func New() *State {
	return &State{
		Primaries: make(map[string]*Primary),
		Workers:   make(map[string]*Worker),
		Steps:     make(map[string]*Step),
		attempts:  make(map[string]attemptRef),
	}
}

// Attempt finds an attempt by id.
func (s *State) Attempt(id string) (*Step, *Task, *Attempt, bool) {
	r, ok := s.attempts[id]
	return r.step, r.task, r.att, ok
}

// StepsInOrder returns the steps in submission order.
func (s *State) StepsInOrder() []*Step {
	out := make([]*Step, 0, len(s.Order))
	for _, id := range s.Order {
		out = append(out, s.Steps[id])
	}
	return out
}

// Apply applies one command. A rejected command returns an error and
// leaves the state unchanged.
func (s *State) Apply(c Command) error {
	switch c := c.(type) {
	case *RegisterPrimary:
		return s.registerPrimary(c)
	case *RemovePrimary:
		if _, ok := s.Primaries[c.ID]; !ok {
			return fmt.Errorf("primary %s: %w", c.ID, ErrNotFound)
		}
		delete(s.Primaries, c.ID)
		return nil
	case *RegisterWorker:
		return s.registerWorker(c)
	case *DrainWorker:
		return s.drainWorker(c)
	case *KillAttempt:
		return s.killAttempt(c)
	case *MapOutputLost:
		return s.mapOutputLost(c)
	case *WorkerDown:
		return s.workerDown(c)
	case *SubmitStep:
		return s.submitStep(c)
	case *AddSplits:
		return s.addSplits(c)
	case *StartStep:
		return s.startStep(c)
	case *Assign:
		return s.assign(c)
	case *FinishAttempt:
		return s.finishAttempt(c)
	case *CancelStep:
		return s.endStep(c.ID, StepCancelled, c.Reason, c.Time)
	case *FailStep:
		return s.endStep(c.ID, StepFailed, c.Error, c.Time)
	case *CompleteStep:
		return s.completeStep(c)
	case *StepCleanedUp:
		return s.stepCleanedUp(c)
	}
	return fmt.Errorf("apply: unknown command %T", c)
}

func (s *State) registerPrimary(c *RegisterPrimary) error {
	p := c.Primary
	if p.ID == "" || p.Addr == "" || p.RaftAddr == "" || p.GossipAddr == "" {
		return fmt.Errorf("register primary %q: %w: incomplete addresses", p.ID, ErrConflict)
	}
	s.Primaries[p.ID] = &p
	return nil
}

func (s *State) registerWorker(c *RegisterWorker) error {
	w := c.Worker
	if w.ID == "" || w.Addr == "" || w.Slots < 1 || (w.Role != RoleCore && w.Role != RoleTask) {
		return fmt.Errorf("register worker %q: %w: incomplete worker (role %q, addr %q, slots %d)", w.ID, ErrConflict, w.Role, w.Addr, w.Slots)
	}
	if old, ok := s.Workers[w.ID]; ok {
		if old.Incarnation == w.Incarnation && old.Up() {
			return nil // already registered: registration is idempotent
		}
		if w.Incarnation < old.Incarnation || (w.Incarnation == old.Incarnation && !old.Up()) {
			return fmt.Errorf("register worker %s incarnation %d: %w: incarnation %d is newer or was declared down", w.ID, w.Incarnation, ErrStale, old.Incarnation)
		}
		s.killWorkerAttempts(old.ID, old.Incarnation, "worker restarted", c.Time)
	}
	w.State = WorkerAlive
	w.RegisteredAt = c.Time
	w.DownAt, w.DownReason = 0, ""
	s.Workers[w.ID] = &w
	return nil
}

func (s *State) workerDown(c *WorkerDown) error {
	w, ok := s.Workers[c.ID]
	if !ok {
		return fmt.Errorf("worker %s: %w", c.ID, ErrNotFound)
	}
	if w.Incarnation != c.Incarnation || !w.Up() {
		return fmt.Errorf("worker %s incarnation %d: %w", c.ID, c.Incarnation, ErrStale)
	}
	w.State = WorkerDead
	w.DownAt = c.Time
	w.DownReason = c.Reason
	s.killWorkerAttempts(w.ID, w.Incarnation, "worker down: "+c.Reason, c.Time)
	return nil
}

// killWorkerAttempts kills the running attempts of a worker incarnation and
// returns their tasks to PENDING. Map outputs that lived on the worker and
// are still needed by an unfinished reduce phase are lost, so those map
// tasks run again too.
func (s *State) killWorkerAttempts(worker string, inc int64, reason string, now int64) {
	for _, st := range s.StepsInOrder() {
		if st.State != StepRunning {
			continue
		}
		for _, t := range st.Tasks() {
			for _, a := range t.Attempts {
				if a.Worker == worker && a.Incarnation == inc && a.State == AttemptRunning {
					s.endAttempt(st, t, a, AttemptKilled, reason, now)
				}
			}
		}
		if allSucceeded(st.Reduces) {
			continue // every reducer has its input: map outputs are no longer needed
		}
		for _, t := range st.Maps {
			if w := t.WinningAttempt(); w != nil && w.Worker == worker && w.Incarnation == inc {
				w.Error = "map output lost: " + reason
				t.Winner = ""
				t.State = TaskPending
			}
		}
	}
}

// endAttempt ends a running attempt and settles its task.
func (s *State) endAttempt(st *Step, t *Task, a *Attempt, state, errText string, now int64) {
	a.State = state
	a.EndedAt = now
	if errText != "" {
		a.Error = errText
	}
	s.settle(st, t, now)
}

// settle updates a task after one of its attempts ended. A task with no
// attempt running and none that succeeded runs again, unless its failed
// attempts reached the limit: then it fails, and its step with it.
func (s *State) settle(st *Step, t *Task, now int64) {
	if t.State != TaskRunning || len(t.Running()) > 0 {
		return
	}
	if !Terminal(st.State) && t.failures() >= max(st.Spec.MaxAttempts, 1) {
		t.State = TaskFailed
		s.endStep(st.ID, StepFailed, taskFailure(t), now)
		return
	}
	t.State = TaskPending
}

func (s *State) drainWorker(c *DrainWorker) error {
	w, ok := s.Workers[c.ID]
	if !ok {
		return fmt.Errorf("worker %s: %w", c.ID, ErrNotFound)
	}
	if w.State != WorkerAlive {
		return fmt.Errorf("drain worker %s: %w: worker is %s", c.ID, ErrConflict, w.State)
	}
	w.State = WorkerDraining
	return nil
}

func (s *State) killAttempt(c *KillAttempt) error {
	r, ok := s.attempts[c.AttemptID]
	if !ok {
		return fmt.Errorf("attempt %s: %w", c.AttemptID, ErrNotFound)
	}
	if r.att.State != AttemptRunning {
		return fmt.Errorf("kill attempt %s: %w: attempt is %s", c.AttemptID, ErrStale, r.att.State)
	}
	state := AttemptKilled
	if c.Failed {
		state = AttemptFailed
	}
	s.endAttempt(r.step, r.task, r.att, state, c.Reason, c.Time)
	return nil
}

func (s *State) mapOutputLost(c *MapOutputLost) error {
	r, ok := s.attempts[c.AttemptID]
	if !ok {
		return fmt.Errorf("attempt %s: %w", c.AttemptID, ErrNotFound)
	}
	st, t, a := r.step, r.task, r.att
	if t.Kind != KindMap || t.Winner != a.ID || st.State != StepRunning || allSucceeded(st.Reduces) {
		return fmt.Errorf("map output %s: %w: not a map output a running step still needs", a.ID, ErrStale)
	}
	a.Error = "map output lost: " + c.Reason
	t.Winner = ""
	t.State = TaskPending
	return nil
}

func (s *State) submitStep(c *SubmitStep) error {
	if c.ID == "" {
		return fmt.Errorf("submit step: %w: no id", ErrConflict)
	}
	if _, ok := s.Steps[c.ID]; ok {
		return fmt.Errorf("submit step %s: %w: id in use", c.ID, ErrConflict)
	}
	if id := s.StepByToken(c.Spec.ClientToken); id != "" {
		return fmt.Errorf("submit step: %w: client token %q is step %s's", ErrConflict, c.Spec.ClientToken, id)
	}
	for _, st := range s.Steps {
		if !Terminal(st.State) && st.Spec.Output == c.Spec.Output {
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
	spec.Options = cloneStrings(spec.Options)
	spec.Inputs = slices.Clone(spec.Inputs)
	s.NextSeq++
	s.Steps[c.ID] = &Step{ID: c.ID, Seq: s.NextSeq, Spec: spec, State: StepPending, SubmittedAt: c.Time, Input: c.Input}
	s.Order = append(s.Order, c.ID)
	return nil
}

// StepByToken returns the id of the step submitted with a client token, or
// "" (always "" for the empty token).
func (s *State) StepByToken(token string) string {
	if token == "" {
		return ""
	}
	for _, st := range s.Steps {
		if st.Spec.ClientToken == token {
			return st.ID
		}
	}
	return ""
}

func (s *State) step(id string) (*Step, error) {
	st, ok := s.Steps[id]
	if !ok {
		return nil, fmt.Errorf("step %s: %w", id, ErrNotFound)
	}
	return st, nil
}

func (s *State) addSplits(c *AddSplits) error {
	st, err := s.step(c.ID)
	if err != nil {
		return err
	}
	if st.State != StepPending {
		return fmt.Errorf("add splits to step %s: %w: step is %s", c.ID, ErrConflict, st.State)
	}
	if len(st.Planned)+len(c.Splits) > st.Input.Splits {
		return fmt.Errorf("add splits to step %s: %w: %d splits recorded and %d more, %d planned", c.ID, ErrConflict, len(st.Planned), len(c.Splits), st.Input.Splits)
	}
	st.Planned = append(st.Planned, c.Splits...)
	return nil
}

func (s *State) startStep(c *StartStep) error {
	st, err := s.step(c.ID)
	if err != nil {
		return err
	}
	if st.State != StepPending {
		return fmt.Errorf("start step %s: %w: step is %s", c.ID, ErrConflict, st.State)
	}
	if st.Spec.Reducers < 0 {
		return fmt.Errorf("start step %s: %w: %d reducers", c.ID, ErrConflict, st.Spec.Reducers)
	}
	splits := append(slices.Clip(st.Planned), c.Splits...)
	if len(splits) < st.Input.Splits {
		return fmt.Errorf("start step %s: %w: %d of %d planned splits recorded", c.ID, ErrConflict, len(splits), st.Input.Splits)
	}
	st.State = StepRunning
	st.StartedAt = c.Time
	st.Planned = nil
	st.Maps = make([]*Task, len(splits))
	for i, sp := range splits {
		st.Maps[i] = &Task{Kind: KindMap, Index: i, Split: &sp, State: TaskPending}
	}
	st.Reduces = make([]*Task, st.Spec.Reducers)
	for i := range st.Reduces {
		st.Reduces[i] = &Task{Kind: KindReduce, Index: i, State: TaskPending}
	}
	return nil
}

func (s *State) task(st *Step, kind string, index int) (*Task, error) {
	var tasks []*Task
	switch kind {
	case KindMap:
		tasks = st.Maps
	case KindReduce:
		tasks = st.Reduces
	default:
		return nil, fmt.Errorf("task kind %q: %w", kind, ErrNotFound)
	}
	if index < 0 || index >= len(tasks) {
		return nil, fmt.Errorf("step %s %s task %d: %w", st.ID, kind, index, ErrNotFound)
	}
	return tasks[index], nil
}

func (s *State) assign(c *Assign) error {
	// Validate everything first: the command applies all or nothing.
	seen := make(map[string]bool)
	for _, as := range c.Assignments {
		taskKey := fmt.Sprintf("%s/%s/%d", as.StepID, as.Kind, as.Index)
		if seen[as.AttemptID] || seen[taskKey] {
			return fmt.Errorf("assign: %w: attempt %s or its task given twice", ErrConflict, as.AttemptID)
		}
		seen[as.AttemptID], seen[taskKey] = true, true
		if _, ok := s.attempts[as.AttemptID]; ok {
			return fmt.Errorf("assign: %w: attempt %s exists", ErrConflict, as.AttemptID)
		}
		st, err := s.step(as.StepID)
		if err != nil {
			return fmt.Errorf("assign: %w", err)
		}
		if st.State != StepRunning {
			return fmt.Errorf("assign %s: %w: step is %s", as.AttemptID, ErrConflict, st.State)
		}
		t, err := s.task(st, as.Kind, as.Index)
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
		if as.Kind == KindReduce && !allSucceeded(st.Maps) {
			return fmt.Errorf("assign %s: %w: map phase not done", as.AttemptID, ErrConflict)
		}
		w, ok := s.Workers[as.Worker]
		if !ok || w.Incarnation != as.Incarnation || !w.Up() {
			return fmt.Errorf("assign %s to %s: %w: worker incarnation not alive", as.AttemptID, as.Worker, ErrStale)
		}
		if w.State == WorkerDraining {
			return fmt.Errorf("assign %s to %s: %w: worker is draining", as.AttemptID, as.Worker, ErrConflict)
		}
	}
	for _, as := range c.Assignments {
		st := s.Steps[as.StepID]
		t, _ := s.task(st, as.Kind, as.Index)
		w := s.Workers[as.Worker]
		a := &Attempt{ID: as.AttemptID, Worker: as.Worker, Incarnation: as.Incarnation, Addr: w.Addr, State: AttemptRunning, StartedAt: c.Time, Speculative: as.Speculative}
		t.Attempts = append(t.Attempts, a)
		t.State = TaskRunning
		s.attempts[a.ID] = attemptRef{step: st, task: t, att: a}
	}
	return nil
}

func (s *State) finishAttempt(c *FinishAttempt) error {
	r, ok := s.attempts[c.AttemptID]
	if !ok {
		return fmt.Errorf("attempt %s: %w", c.AttemptID, ErrNotFound)
	}
	st, t, a := r.step, r.task, r.att
	if a.Worker != c.Worker || a.Incarnation != c.Incarnation {
		return fmt.Errorf("attempt %s: %w: reported by %s incarnation %d", a.ID, ErrStale, c.Worker, c.Incarnation)
	}
	if a.State != AttemptRunning {
		return fmt.Errorf("attempt %s: %w: attempt is %s", a.ID, ErrStale, a.State)
	}
	if !c.Success {
		if c.Fatal && t.State != TaskSucceeded {
			// Bad input: every attempt would fail the same way.
			a.State, a.EndedAt, a.Error = AttemptFailed, c.Time, c.Error
			t.State = TaskFailed
			s.endStep(st.ID, StepFailed, fmt.Sprintf("%s task %d: %s", strings.ToLower(t.Kind), t.Index, c.Error), c.Time)
			return nil
		}
		s.endAttempt(st, t, a, AttemptFailed, c.Error, c.Time)
		return nil
	}
	a.State = AttemptSucceeded
	a.EndedAt = c.Time
	a.Counters = maps.Clone(c.Counters)
	a.Files = slices.Clone(c.Files)
	if t.State == TaskSucceeded {
		return nil // another attempt won first; this output is discarded
	}
	t.State = TaskSucceeded
	t.Winner = a.ID
	for _, other := range t.Running() {
		other.State = AttemptKilled
		other.EndedAt = c.Time
		other.Error = "another attempt succeeded"
	}
	return nil
}

func taskFailure(t *Task) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s task %d failed %d times:", strings.ToLower(t.Kind), t.Index, t.failures())
	for _, a := range t.Attempts {
		if a.State == AttemptFailed {
			fmt.Fprintf(&b, "\n  %s on %s: %s", a.ID, a.Worker, a.Error)
		}
	}
	return b.String()
}

// endStep moves a step that has not ended to a final state and kills its
// running attempts.
func (s *State) endStep(id, state, errText string, now int64) error {
	st, err := s.step(id)
	if err != nil {
		return err
	}
	if Terminal(st.State) {
		return fmt.Errorf("end step %s: %w: step is already %s", id, ErrConflict, st.State)
	}
	st.State = state
	st.Error = errText
	st.EndedAt = now
	for _, t := range st.Tasks() {
		for _, a := range t.Running() {
			s.endAttempt(st, t, a, AttemptKilled, "step "+strings.ToLower(state), now)
		}
	}
	if st.StartedAt == 0 {
		// Never started: nothing was written.
		st.CleanedUp = true
	}
	return nil
}

func (s *State) completeStep(c *CompleteStep) error {
	st, err := s.step(c.ID)
	if err != nil {
		return err
	}
	if st.Phase() != PhaseCommit {
		return fmt.Errorf("complete step %s: %w: step is %s %s", c.ID, ErrConflict, st.State, st.Phase())
	}
	st.State = StepCompleted
	st.EndedAt = c.Time
	st.CleanedUp = true
	return nil
}

func (s *State) stepCleanedUp(c *StepCleanedUp) error {
	st, err := s.step(c.ID)
	if err != nil {
		return err
	}
	if !Terminal(st.State) {
		return fmt.Errorf("step %s: %w: step is %s", c.ID, ErrConflict, st.State)
	}
	st.CleanedUp = true
	return nil
}

// WriteTo writes the state as JSON (a snapshot).
func (s *State) WriteTo(w io.Writer) (int64, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return 0, fmt.Errorf("encode state: %w", err)
	}
	n, err := w.Write(b)
	return int64(n), err
}

// Read decodes a state written by WriteTo.
func Read(r io.Reader) (*State, error) {
	s := New()
	if err := json.NewDecoder(r).Decode(s); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	if s.Primaries == nil {
		s.Primaries = make(map[string]*Primary)
	}
	if s.Workers == nil {
		s.Workers = make(map[string]*Worker)
	}
	if s.Steps == nil {
		s.Steps = make(map[string]*Step)
	}
	for _, st := range s.Steps {
		for _, t := range st.Tasks() {
			for _, a := range t.Attempts {
				s.attempts[a.ID] = attemptRef{step: st, task: t, att: a}
			}
		}
	}
	return s, nil
}
