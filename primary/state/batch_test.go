package state

import (
	"errors"
	"fmt"
	"testing"
)

// TestBatchApply: a batch applies its commands in order, as applying
// them one by one would, and stops at the first rejected one, which it
// names; those before it stay applied.
func TestBatchApply(t *testing.T) {
	one, batched := cluster(t), cluster(t)
	cmds := []Command{
		assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)),
		succeed("m0", "w1", 1, 41, map[string]int64{"RECORDS": 1}),
		assign(42, asg("m1", "s1", KindMap, 1, "w1", 1)),
	}
	mustApply(t, one, cmds...)
	mustApply(t, batched, &Batch{Commands: cmds})
	compareStates(t, one, batched)

	// m1 runs on w1; reporting it from w2 is stale: the batch stops there.
	before := digest(t, batched)
	b := &Batch{Commands: []Command{
		assign(43, asg("m2", "s1", KindMap, 2, "w2", 1)),
		succeed("m1", "w2", 1, 44, nil),
		fail("m2", "w2", 1, 45, "never applied"),
	}}
	err := batched.Apply(b)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 1 || be.Type != CmdFinishAttempt || !errors.Is(err, ErrStale) {
		t.Fatalf("batch error %v (%#v), want command 1 (FinishAttempt) rejected as stale", err, be)
	}
	if digest(t, batched) == before {
		t.Fatal("the command before the rejected one was not applied")
	}
	mustApply(t, one, assign(43, asg("m2", "s1", KindMap, 2, "w2", 1)))
	compareStates(t, one, batched)

	// A batch inside a batch is refused, and changes nothing.
	mustReject(t, batched, &Batch{Commands: []Command{&Batch{}}}, ErrConflict)
	// An empty batch changes nothing.
	mustNotChange(t, batched, &Batch{})
}

// TestBatchSnapshot: a state built by batches survives a snapshot, and
// the restored copy goes on applying batches as the original does.
func TestBatchSnapshot(t *testing.T) {
	s := cluster(t)
	mustApply(t, s, &Batch{Commands: []Command{
		assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)),
		succeed("m0", "w1", 1, 41, map[string]int64{"RECORDS": 1}),
	}})
	r := roundTrip(t, s)
	compareStates(t, s, r)
	more := &Batch{Commands: []Command{
		succeed("m1", "w2", 1, 42, nil),
		assign(43, asg("m2", "s1", KindMap, 2, "w2", 1)),
	}}
	if err1, err2 := s.ApplyAt(9, more), r.ApplyAt(9, more); err1 != nil || err2 != nil {
		t.Fatalf("apply after restore: original %v, restored %v", err1, err2)
	}
	compareStates(t, s, r)
}

// TestModifyIndex: ApplyAt stamps the steps a command changes with its
// index, and StateIndex only when their state or phase changed; Apply
// stamps nothing; a rejected command stamps nothing either.
func TestModifyIndex(t *testing.T) {
	s := New()
	steps := func() *Step {
		t.Helper()
		st, ok := s.View().Step("s1")
		if !ok {
			t.Fatal("no step s1")
		}
		return st
	}
	want := func(what string, modify, stateIdx uint64) {
		t.Helper()
		if st := steps(); st.ModifyIndex != modify || st.StateIndex != stateIdx {
			t.Fatalf("%s: modify index %d, state index %d; want %d, %d", what, st.ModifyIndex, st.StateIndex, modify, stateIdx)
		}
	}
	at := func(index uint64, c Command) {
		t.Helper()
		if err := s.ApplyAt(index, c); err != nil {
			t.Fatalf("apply %s at %d: %v", c.Type(), index, err)
		}
	}
	at(1, regW("w1", 1, 10))
	at(2, submit("s1", "/out/s1", 1, 2, 20))
	want("submitted", 2, 2)
	at(3, start("s1", 2, 30)) // PENDING -> RUNNING, map phase
	want("started", 3, 3)
	at(4, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w1", 1)))
	want("maps assigned", 4, 3) // counters changed, not the phase
	at(5, succeed("m0", "w1", 1, 41, nil))
	want("one map done", 5, 3)
	if err := s.ApplyAt(6, succeed("m0", "w1", 1, 42, nil)); !errors.Is(err, ErrStale) {
		t.Fatalf("second report of m0: %v, want stale", err)
	}
	want("rejected", 5, 3)
	at(7, &Batch{Commands: []Command{succeed("m1", "w1", 1, 43, nil), assign(44, asg("r0", "s1", KindReduce, 0, "w1", 1))}})
	want("maps done, reduce assigned", 7, 7) // map phase -> reduce phase
	if err := s.Apply(succeed("r0", "w1", 1, 45, nil)); err != nil {
		t.Fatal(err)
	}
	if st := steps(); st.Phase() != PhaseCommit || st.ModifyIndex != 7 || st.StateIndex != 7 {
		t.Fatalf("Apply without an index: phase %s, indexes %d, %d; want COMMIT, 7, 7", st.Phase(), st.ModifyIndex, st.StateIndex)
	}
	at(8, &CompleteStep{ID: "s1", Time: 46})
	want("completed", 8, 8)
	r := roundTrip(t, s)
	if st, _ := r.View().Step("s1"); st.ModifyIndex != 8 || st.StateIndex != 8 {
		t.Fatalf("restored: indexes %d, %d; want 8, 8", st.ModifyIndex, st.StateIndex)
	}
}

// TestWatchStep: the channel WatchStep returns closes when the step
// changes, and not when another step does.
func TestWatchStep(t *testing.T) {
	s := cluster(t)
	mustApply(t, s, submit("s2", "/out/s2", 1, 1, 21))
	st, ch, ok := s.View().WatchStep("s1")
	if !ok || st.ID != "s1" {
		t.Fatalf("WatchStep(s1) = %v, %v", st, ok)
	}
	mustApply(t, s, &CancelStep{ID: "s2", Time: 22})
	select {
	case <-ch:
		t.Fatal("the watch of s1 fired when s2 changed")
	default:
	}
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
	select {
	case <-ch:
	default:
		t.Fatal("the watch of s1 did not fire when s1 changed")
	}
	if _, ch, ok := s.View().WatchStep("s9"); ok {
		t.Fatal("WatchStep found a missing step")
	} else {
		mustApply(t, s, submit("s9", "/out/s9", 1, 1, 23))
		select {
		case <-ch:
		default:
			t.Fatal("the watch of a missing step did not fire when it appeared")
		}
	}
}

// TestBatchDecodeRefusesWhatItCannotApply: a batch holding a command of a
// tag this version does not know (even one marked as skippable), or a
// batch, cannot be decoded: applying the rest without it would make this
// primary's state differ from its peers'.
func TestBatchDecodeRefusesWhatItCannotApply(t *testing.T) {
	for _, payload := range []string{
		fmt.Sprintf(`{"commands":[{"type":%d,"command":{}}]}`, unknownTag()),
		fmt.Sprintf(`{"commands":[{"type":%d,"command":{}}]}`, unknownTag()|IgnoreUnknownTypeFlag),
		fmt.Sprintf(`{"commands":[{"type":%d,"command":{"commands":[]}}]}`, CmdBatch),
		fmt.Sprintf(`{"commands":[{"type":%d,"command":{"id":7}}]}`, CmdStepCleanedUp),
	} {
		if c, err := Decode(append([]byte{byte(CmdBatch)}, payload...)); err == nil {
			t.Errorf("decoded %s as %#v", payload, c)
		}
	}
	if _, err := Encode(&Batch{Commands: []Command{&Batch{}}}); err == nil {
		t.Error("encoded a batch inside a batch")
	}
}
