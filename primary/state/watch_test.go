package state

import (
	"fmt"
	"testing"
	"time"
)

// TestWatchStepStaleView: a view older than the step's current version
// gets a closed channel (the step changed since the view was taken), and
// a rejected command wakes no one.
func TestWatchStepStaleView(t *testing.T) {
	s := cluster(t)
	old := s.View()
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
	st, ch, ok := old.WatchStep("s1")
	if !ok || st.Counters[LaunchedMaps] != 0 {
		t.Fatalf("WatchStep on the old view = %+v, %v: want the step as the view holds it", st, ok)
	}
	select {
	case <-ch:
	default:
		t.Fatal("the watch of a step changed since the view was taken is not closed")
	}
	_, ch, _ = s.View().WatchStep("s1")
	if err := s.Apply(assign(41, asg("m0", "s1", KindMap, 0, "w1", 1))); err == nil {
		t.Fatal("assigning an attempt id twice was accepted")
	}
	select {
	case <-ch:
		t.Fatal("a rejected command woke the watch of s1")
	default:
	}
	mustApply(t, s, &KillAttempt{AttemptID: "m0", Reason: "test", Time: 42})
	select {
	case <-ch:
	default:
		t.Fatal("the watch of s1 did not fire when s1 changed")
	}
}

// TestWatchStepWhileApplying: a reader that watches a step from fresh
// views while commands change it always wakes up for the next change, and
// ends up seeing the last one (run with -race).
func TestWatchStepWhileApplying(t *testing.T) {
	s := cluster(t)
	const rounds = 200
	done := make(chan error, 1)
	go func() {
		for {
			st, ch, ok := s.View().WatchStep("s1")
			if !ok {
				done <- fmt.Errorf("s1 not found")
				return
			}
			if st.Counters[KilledMaps] == rounds {
				done <- nil
				return
			}
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				done <- fmt.Errorf("no wake-up after %d kills of %d", st.Counters[KilledMaps], rounds)
				return
			}
		}
	}()
	for i := range rounds {
		id := fmt.Sprintf("m0-%d", i)
		mustApply(t, s,
			assign(int64(100+2*i), asg(id, "s1", KindMap, 0, "w1", 1)),
			&KillAttempt{AttemptID: id, Reason: "test", Time: int64(101 + 2*i)})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWatchMissingSteps: watching steps that do not exist keeps nothing
// per id (a client may ask for any id), and their one channel closes when
// a step appears.
func TestWatchMissingSteps(t *testing.T) {
	s := cluster(t)
	var chans []<-chan struct{}
	for i := range 100 {
		_, ch, ok := s.View().WatchStep(fmt.Sprintf("nope-%d", i))
		if ok {
			t.Fatalf("WatchStep found step nope-%d", i)
		}
		chans = append(chans, ch)
	}
	if n := len(s.watches.chans); n != 0 {
		t.Fatalf("%d channels kept for steps that do not exist", n)
	}
	mustApply(t, s, submit("nope-7", "/out/nope-7", 1, 1, 50))
	for i, ch := range chans {
		select {
		case <-ch:
		default:
			t.Fatalf("the watch of nope-%d did not fire when a step appeared", i)
		}
	}
}
