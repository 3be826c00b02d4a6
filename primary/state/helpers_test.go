package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// This file holds the helpers of the package's internal tests: building
// states with real commands, comparing what a View returns, and checking
// that a rejected command changed nothing.

// snapshot returns the view's snapshot (WriteTo).
func snapshot(t testing.TB, v *View) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := v.WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, b.Len())
	}
	return b.Bytes()
}

// digest returns the sha256 of the state's snapshot.
func digest(t testing.TB, s *State) string {
	t.Helper()
	sum := sha256.Sum256(snapshot(t, s.View()))
	return hex.EncodeToString(sum[:])
}

// roundTrip restores a copy of s from its snapshot.
func roundTrip(t testing.TB, s *State) *State {
	t.Helper()
	r, err := Read(bytes.NewReader(snapshot(t, s.View())))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return r
}

// dump lists every object of a view as JSON, one a line, for failure
// messages and field-by-field comparisons.
func dump(v *View) string {
	var b strings.Builder
	for _, p := range v.Primaries() {
		fmt.Fprintf(&b, "primary %s\n", js1(p))
	}
	for _, w := range v.Workers() {
		fmt.Fprintf(&b, "worker %s\n", js1(w))
	}
	fmt.Fprintf(&b, "step count %d\n", v.StepCount())
	for st := range v.Steps() {
		fmt.Fprintf(&b, "step %s\n", js1(st))
		for t := range v.Tasks(st.ID) {
			fmt.Fprintf(&b, "  task %s\n", js1(t))
		}
	}
	return b.String()
}

// indexes lists what the view's secondary indexes answer (every query but
// the primary ids), which a snapshot does not show: a rejected command
// must not change them either, and a restored state must rebuild them.
func indexes(v *View) string {
	var b strings.Builder
	for _, s := range StepStates {
		fmt.Fprintf(&b, "in %s:", s)
		for _, st := range v.StepsIn(s) {
			fmt.Fprintf(&b, " %s", st.ID)
		}
		b.WriteString("\n")
	}
	b.WriteString("to clean up:")
	for _, st := range v.StepsToCleanUp() {
		fmt.Fprintf(&b, " %s", st.ID)
	}
	b.WriteString("\nnewest first:")
	for st := range v.StepsNewestFirst(0) {
		fmt.Fprintf(&b, " %s", st.ID)
	}
	b.WriteString("\n")
	type inc struct {
		worker string
		inc    int64
	}
	incs := map[inc]bool{}
	for _, w := range v.Workers() {
		incs[inc{w.ID, w.Incarnation}] = true
	}
	for st := range v.Steps() {
		if tok := st.Spec.ClientToken; tok != "" {
			fmt.Fprintf(&b, "token %s: %s\n", tok, v.StepByToken(tok))
		}
		for _, kind := range []TaskKind{KindMap, KindReduce} {
			for _, ts := range []TaskState{TaskPending, TaskRunning, TaskSucceeded, TaskFailed} {
				var ids []string
				for t := range v.TasksIn(st.ID, kind, ts) {
					ids = append(ids, fmt.Sprint(t.Index))
				}
				if len(ids) > 0 {
					fmt.Fprintf(&b, "%s %s %s: %s\n", st.ID, kind, ts, strings.Join(ids, " "))
				}
			}
		}
		for t := range v.Tasks(st.ID) {
			for _, a := range t.Attempts {
				incs[inc{a.Worker, a.Incarnation}] = true
				at, aa, ok := v.AttemptTask(a.ID)
				if !ok {
					fmt.Fprintf(&b, "attempt %s: not found\n", a.ID)
					continue
				}
				fmt.Fprintf(&b, "attempt %s: %s %s %d %s\n", a.ID, at.StepID, at.Kind, at.Index, aa.State)
			}
		}
	}
	keys := make([]inc, 0, len(incs))
	for k := range incs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b inc) int {
		if c := strings.Compare(a.worker, b.worker); c != 0 {
			return c
		}
		return int(a.inc - b.inc)
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "running on %s/%d:", k.worker, k.inc)
		for _, t := range v.RunningOn(k.worker, k.inc) {
			fmt.Fprintf(&b, " %s/%s/%d", t.StepID, t.Kind, t.Index)
		}
		fmt.Fprintf(&b, "\noutputs on %s/%d:", k.worker, k.inc)
		for t := range all[*Task](v.txn.Get(tableTasks, indexOutput, incKey(k.worker, k.inc))) {
			fmt.Fprintf(&b, " %s/%d", t.StepID, t.Index)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func js(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v (marshal: %v)", v, err)
	}
	return string(b)
}

func js1(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v (marshal: %v)", v, err)
	}
	return string(b)
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got: %s\nwant: %s", what, js(got), js(want))
	}
}

func mustApply(t testing.TB, s *State, cmds ...Command) {
	t.Helper()
	for _, c := range cmds {
		if err := s.Apply(c); err != nil {
			t.Fatalf("apply %s %s: %v", c.Type(), js1(c), err)
		}
	}
}

var sentinels = []error{ErrNotFound, ErrConflict, ErrStale}

// mustReject applies c, expects an error wrapping want (and no other
// sentinel), and checks that neither the snapshot nor any index changed.
func mustReject(t *testing.T, s *State, c Command, want error) {
	t.Helper()
	before, beforeIdx, beforeDump := digest(t, s), indexes(s.View()), dump(s.View())
	err := s.Apply(c)
	if !errors.Is(err, want) {
		t.Fatalf("apply %s %s: got error %v, want %v", c.Type(), js1(c), err, want)
	}
	for _, other := range sentinels {
		if other != want && errors.Is(err, other) {
			t.Fatalf("apply %s: error %q also matches %v", c.Type(), err, other)
		}
	}
	if after := digest(t, s); after != before {
		t.Fatalf("rejected %s changed the state:\nbefore %s\nafter  %s", c.Type(), beforeDump, dump(s.View()))
	}
	if after := indexes(s.View()); after != beforeIdx {
		t.Fatalf("rejected %s changed the indexes:\nbefore %s\nafter  %s", c.Type(), beforeIdx, after)
	}
}

// mustNotChange applies c, expects it accepted, and checks that it changed
// nothing (an idempotent command repeated).
func mustNotChange(t *testing.T, s *State, c Command) {
	t.Helper()
	before, beforeDump := digest(t, s), dump(s.View())
	mustApply(t, s, c)
	if digest(t, s) != before {
		t.Fatalf("%s changed the state:\nbefore %s\nafter  %s", c.Type(), beforeDump, dump(s.View()))
	}
}

func worker(id string, inc int64) Worker {
	return Worker{ID: id, Incarnation: inc, Role: RoleCore, Addr: id + ":7070", Slots: 2}
}

func regW(id string, inc, now int64) *RegisterWorker {
	return &RegisterWorker{Worker: worker(id, inc), Time: now}
}

func down(id string, inc int64, reason string, now int64) *WorkerDown {
	return &WorkerDown{ID: id, Incarnation: inc, Reason: reason, Time: now}
}

func spec(output string, reducers, maxAttempts int) StepSpec {
	return StepSpec{
		Name: "count words", Job: "wordcount",
		Options: map[string]string{"lower": "true"},
		Inputs:  []string{"/in/a", "/in/b"},
		Output:  output, Reducers: reducers,
		SplitSize: 64 << 20, SortBufferBytes: 1 << 20, MaxLineBytes: 1 << 16,
		MaxAttempts: maxAttempts,
	}
}

// submit submits a step without a listed input: StartStep brings its
// splits (see planned for the leader's way, with AddSplits).
func submit(id, output string, reducers, maxAttempts int, now int64) *SubmitStep {
	return &SubmitStep{ID: id, Spec: spec(output, reducers, maxAttempts), Time: now}
}

func splits(n int) []mapreduce.Split {
	out := make([]mapreduce.Split, n)
	for i := range out {
		out[i] = mapreduce.Split{File: fmt.Sprintf("/in/f%d", i), Doc: fmt.Sprintf("/in/f%d", i), Offset: int64(i) * 100, Length: 100, FileSize: 1000, ModTime: 7}
	}
	return out
}

func start(id string, nSplits int, now int64) *StartStep {
	return &StartStep{ID: id, Splits: splits(nSplits), Time: now}
}

func asg(id, step string, kind TaskKind, index int, worker string, inc int64) Assignment {
	return Assignment{AttemptID: id, StepID: step, Kind: kind, Index: index, Worker: worker, Incarnation: inc}
}

// backup is a speculative assignment.
func backup(id, step string, kind TaskKind, index int, worker string, inc int64) Assignment {
	a := asg(id, step, kind, index, worker, inc)
	a.Speculative = true
	return a
}

func assign(now int64, as ...Assignment) *Assign {
	return &Assign{Assignments: as, Time: now}
}

// succeed reports a successful attempt, with an optional commit record.
func succeed(att, worker string, inc, now int64, counters map[string]int64, commit ...string) *FinishAttempt {
	c := &FinishAttempt{AttemptID: att, Worker: worker, Incarnation: inc, Success: true, Counters: counters, Time: now}
	if len(commit) > 0 {
		c.Commit = json.RawMessage(commit[0])
	}
	return c
}

func fail(att, worker string, inc, now int64, errText string) *FinishAttempt {
	return &FinishAttempt{AttemptID: att, Worker: worker, Incarnation: inc, Error: errText, Time: now}
}

func fatal(att, worker string, inc, now int64, errText string) *FinishAttempt {
	c := fail(att, worker, inc, now, errText)
	c.Fatal = true
	return c
}

// att is the attempt Assign creates (for the workers made by worker()).
func att(id, worker string, inc int64, state AttemptState, started, ended int64, errText string) Attempt {
	return Attempt{ID: id, Worker: worker, Incarnation: inc, Addr: worker + ":7070", State: state, StartedAt: started, EndedAt: ended, Error: errText}
}

func withCounters(a Attempt, c map[string]int64) Attempt {
	a.Counters = c
	return a
}

// speculative marks an expected attempt as a backup.
func speculative(a Attempt) Attempt {
	a.Speculative = true
	return a
}

func mapTask(step string, i int, state TaskState, winner string, atts ...Attempt) *Task {
	sp := splits(i + 1)[i]
	return &Task{StepID: step, Kind: KindMap, Index: i, Split: &sp, State: state, Attempts: atts, Winner: winner}
}

func reduceTask(step string, i int, state TaskState, winner string, atts ...Attempt) *Task {
	return &Task{StepID: step, Kind: KindReduce, Index: i, State: state, Attempts: atts, Winner: winner}
}

// getStep returns a step of the state as it is now.
func getStep(t testing.TB, s *State, id string) *Step {
	t.Helper()
	st, ok := s.View().Step(id)
	if !ok {
		t.Fatalf("no step %s", id)
	}
	return st
}

// getTask returns a task of the state as it is now.
func getTask(t testing.TB, s *State, step string, kind TaskKind, index int) *Task {
	t.Helper()
	tk, ok := s.View().Task(step, kind, index)
	if !ok {
		t.Fatalf("no %s task %d in step %s", kind, index, step)
	}
	return tk
}

func getWorker(t testing.TB, s *State, id string) *Worker {
	t.Helper()
	w, ok := s.View().Worker(id)
	if !ok {
		t.Fatalf("no worker %s", id)
	}
	return w
}

func mapsOf(s *State, step string) []*Task {
	return collect(s.View().TasksOfKind(step, KindMap))
}

func reducesOf(s *State, step string) []*Task {
	return collect(s.View().TasksOfKind(step, KindReduce))
}

// cluster returns a state with workers w1 and w2 (incarnation 1) and step
// s1 (2 reducers, 2 attempts per task) running with 3 map tasks.
func cluster(t *testing.T) *State {
	t.Helper()
	s := New()
	mustApply(t, s,
		regW("w1", 1, 10),
		regW("w2", 1, 11),
		submit("s1", "/out/s1", 2, 2, 20),
		start("s1", 3, 30),
	)
	return s
}

// mapsDone runs every map task of s1 to success: m0 and m2 on w1, m1 on w2.
func mapsDone(t *testing.T, s *State) {
	t.Helper()
	mustApply(t, s,
		assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1), asg("m2", "s1", KindMap, 2, "w1", 1)),
		succeed("m0", "w1", 1, 41, map[string]int64{"RECORDS": 1}),
		succeed("m1", "w2", 1, 42, map[string]int64{"RECORDS": 2}),
		succeed("m2", "w1", 1, 43, map[string]int64{"RECORDS": 4}),
	)
}

// allDone runs s1 into its COMMIT phase: maps as mapsDone, both reduces on w2.
func allDone(t *testing.T, s *State) {
	t.Helper()
	mapsDone(t, s)
	mustApply(t, s,
		assign(50, asg("r0", "s1", KindReduce, 0, "w2", 1), asg("r1", "s1", KindReduce, 1, "w2", 1)),
		succeed("r0", "w2", 1, 51, map[string]int64{"OUT": 10}, `{"files":["part-00000"]}`),
		succeed("r1", "w2", 1, 52, map[string]int64{"OUT": 20}, `{"files":["part-00001"]}`),
	)
}

// restoreWith round-trips s through a snapshot, lets edit change the
// restored copy in one write transaction (with the package's own
// copy-on-write helpers), and restores a snapshot of the result, so that
// every index is rebuilt from the edited objects. It builds states that a
// snapshot can carry but Apply alone cannot reach.
func restoreWith(t *testing.T, s *State, edit func(w *tx)) *State {
	t.Helper()
	tmp := roundTrip(t, s)
	txn := tmp.db.Txn(true)
	edit(&tx{txn: txn, View: View{txn: txn}})
	txn.Commit()
	return roundTrip(t, tmp)
}
