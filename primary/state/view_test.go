package state

import (
	"fmt"
	"sync"
	"testing"
)

// ---------------------------------------------------------------------------
// View queries
// ---------------------------------------------------------------------------

// viewState has steps s1 (running, 12 maps, 3 reduces), s10 (an id with
// s1 as prefix, running), s2 (pending), s3 (completed), s4 (failed, not
// cleaned up), s5 (cancelled, cleaned up) and s6 (cancelled before it
// started), submitted in that order.
func viewState(t *testing.T) *State {
	t.Helper()
	s := New()
	mustApply(t, s, regW("w1", 1, 1), regW("w2", 1, 2),
		submit("s1", "/o/1", 3, 2, 3), start("s1", 12, 4),
		submit("s10", "/o/10", 1, 1, 5), start("s10", 2, 6),
		submit("s2", "/o/2", 1, 1, 7),
		submit("s3", "/o/3", 0, 1, 8), start("s3", 0, 9), &CompleteStep{ID: "s3", Time: 10},
		submit("s4", "/o/4", 0, 1, 11), start("s4", 1, 12), &FailStep{ID: "s4", Error: "x", Time: 13},
		submit("s5", "/o/5", 0, 1, 14), start("s5", 1, 15), &CancelStep{ID: "s5", Time: 16}, &StepCleanedUp{ID: "s5"},
		submit("s6", "/o/6", 0, 1, 17), &CancelStep{ID: "s6", Time: 18},
		assign(20, asg("a0", "s1", KindMap, 0, "w1", 1), asg("a9", "s1", KindMap, 9, "w2", 1), asg("a10", "s1", KindMap, 10, "w1", 1),
			asg("b0", "s10", KindMap, 0, "w1", 1)),
		succeed("a9", "w2", 1, 21, nil),
	)
	return s
}

func TestViewSteps(t *testing.T) {
	s := viewState(t)
	v := s.View()
	wantEqual(t, "Steps", stepIDs(s), []string{"s1", "s10", "s2", "s3", "s4", "s5", "s6"})
	if n := v.StepCount(); n != 7 {
		t.Fatalf("StepCount %d", n)
	}
	newest := func(before uint64) []string {
		var out []string
		for st := range v.StepsNewestFirst(before) {
			out = append(out, st.ID)
		}
		return out
	}
	wantEqual(t, "newest first", newest(0), []string{"s6", "s5", "s4", "s3", "s2", "s10", "s1"})
	wantEqual(t, "newest before seq 4", newest(4), []string{"s2", "s10", "s1"})
	wantEqual(t, "newest before seq 2", newest(2), []string{"s1"})
	if got := newest(1); len(got) != 0 {
		t.Fatalf("before seq 1: %v", got)
	}
	wantEqual(t, "newest before a seq past the end", newest(100), newest(0))
	// Stopping early is fine.
	for range v.StepsNewestFirst(0) {
		break
	}
	for range v.Steps() {
		break
	}
	wantEqual(t, "running", stepsIDs(v.StepsIn(StepRunning)), []string{"s1", "s10"})
	wantEqual(t, "pending or ended, in submission order", stepsIDs(v.StepsIn(StepCancelled, StepPending, StepCompleted, StepFailed)),
		[]string{"s2", "s3", "s4", "s5", "s6"})
	if got := v.StepsIn(); len(got) != 0 {
		t.Fatalf("StepsIn() = %s", js1(got))
	}
	wantEqual(t, "to clean up", stepsIDs(v.StepsToCleanUp()), []string{"s4"})
	if _, ok := v.Step("s7"); ok {
		t.Fatal("Step(s7) found")
	}
	if _, ok := v.Step(""); ok {
		t.Fatal("Step(\"\") found")
	}
}

func TestViewTasks(t *testing.T) {
	s := viewState(t)
	v := s.View()
	st, _ := v.Step("s1")
	var names []string
	for tk := range v.Tasks("s1") {
		names = append(names, fmt.Sprintf("%s%d", tk.Kind, tk.Index))
	}
	want := []string{"MAP0", "MAP1", "MAP2", "MAP3", "MAP4", "MAP5", "MAP6", "MAP7", "MAP8", "MAP9", "MAP10", "MAP11", "REDUCE0", "REDUCE1", "REDUCE2"}
	wantEqual(t, "Tasks(s1): maps by index, then reduces, none of s10", names, want)
	for pos := 0; pos <= len(want); pos++ {
		var got []string
		for tk := range v.TasksFrom(st, pos) {
			got = append(got, fmt.Sprintf("%s%d", tk.Kind, tk.Index))
		}
		if len(want[pos:]) == 0 {
			if len(got) != 0 {
				t.Fatalf("TasksFrom(%d) = %v", pos, got)
			}
			continue
		}
		wantEqual(t, fmt.Sprintf("TasksFrom(%d)", pos), got, want[pos:])
	}
	if n := len(collect(v.TasksOfKind("s1", KindMap))); n != 12 {
		t.Fatalf("%d maps", n)
	}
	if n := len(collect(v.TasksOfKind("s1", KindReduce))); n != 3 {
		t.Fatalf("%d reduces", n)
	}
	if n := len(collect(v.TasksOfKind("s10", KindMap))); n != 2 {
		t.Fatalf("%d maps of s10", n)
	}
	if n := len(collect(v.Tasks("nope"))); n != 0 {
		t.Fatalf("%d tasks of an unknown step", n)
	}
	idx := func(kind TaskKind, state TaskState) []int {
		var out []int
		for tk := range v.TasksIn("s1", kind, state) {
			out = append(out, tk.Index)
		}
		return out
	}
	wantEqual(t, "running maps", idx(KindMap, TaskRunning), []int{0, 10})
	wantEqual(t, "succeeded maps", idx(KindMap, TaskSucceeded), []int{9})
	wantEqual(t, "pending maps", idx(KindMap, TaskPending), []int{1, 2, 3, 4, 5, 6, 7, 8, 11})
	wantEqual(t, "pending reduces", idx(KindReduce, TaskPending), []int{0, 1, 2})
	if got := idx(KindReduce, TaskRunning); len(got) != 0 {
		t.Fatalf("running reduces %v", got)
	}

	running := func(w string) []string {
		var out []string
		for _, tk := range v.RunningOn(w, 1) {
			out = append(out, fmt.Sprintf("%s/%d", tk.StepID, tk.Index))
		}
		return out
	}
	wantEqual(t, "running on w1", running("w1"), []string{"s1/0", "s1/10", "s10/0"})
	if got := running("w2"); len(got) != 0 {
		t.Fatalf("running on w2: %v", got)
	}
	if got := v.RunningOn("w1", 2); len(got) != 0 {
		t.Fatalf("running on w1 incarnation 2: %s", js1(got))
	}
	tk, a, ok := v.AttemptTask("a9")
	if !ok || tk.StepID != "s1" || tk.Index != 9 || a.ID != "a9" || a.State != AttemptSucceeded || tk.Winner != "a9" {
		t.Fatalf("AttemptTask(a9) = %s %s %v", js1(tk), js1(a), ok)
	}
	if _, _, ok := v.AttemptTask(""); ok {
		t.Fatal("AttemptTask(\"\") found")
	}
}

// TestViewIsolation checks that a view keeps seeing the state as it was,
// and that readers of views may run while commands are applied (run with
// -race).
func TestViewIsolation(t *testing.T) {
	s := viewState(t)
	v := s.View()
	before := dump(v)
	beforeIdx := indexes(v)

	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				// Read everything a reader may read, from a fresh view.
				_ = dump(s.View())
				_ = indexes(s.View())
			}
		}()
	}
	mustApply(t, s,
		succeed("a0", "w1", 1, 30, map[string]int64{"X": 1}),
		down("w1", 1, "x", 31),
		regW("w1", 2, 32),
		assign(33, asg("a0b", "s1", KindMap, 0, "w1", 2), asg("a1", "s1", KindMap, 1, "w2", 1)),
		&CancelStep{ID: "s10", Time: 34},
		&StepCleanedUp{ID: "s10"},
		&StepCleanedUp{ID: "s4"},
		submit("s7", "/o/7", 1, 1, 35),
	)
	for i := range 50 {
		mustApply(t, s, submit(fmt.Sprintf("x%d", i), fmt.Sprintf("/x/%d", i), 1, 1, int64(40+i)), start(fmt.Sprintf("x%d", i), 3, int64(40+i)))
	}
	close(done)
	wg.Wait()
	if got := dump(v); got != before {
		t.Fatalf("an older view changed:\nbefore %s\nafter  %s", before, got)
	}
	if got := indexes(v); got != beforeIdx {
		t.Fatalf("an older view's indexes changed:\nbefore %s\nafter  %s", beforeIdx, got)
	}
}
