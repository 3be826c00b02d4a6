package state

import (
	"strings"
	"testing"
)

// TestActionOnFailure: a failed step's action cancels the pending steps
// (CANCEL_AND_WAIT), and also interrupts the running ones and terminates
// the cluster (TERMINATE_CLUSTER); CONTINUE leaves the others alone.
func TestActionOnFailure(t *testing.T) {
	for _, tc := range []struct {
		action               ActionOnFailure
		pending, running     StepState
		terminated, accepted bool
	}{
		{ActionContinue, StepPending, StepRunning, false, true},
		{ActionCancelAndWait, StepCancelled, StepRunning, false, true},
		{ActionTerminateCluster, StepCancelled, StepInterrupted, true, false},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			s := New()
			failing := submit("s1", "/out/s1", 1, 1, 10)
			failing.Spec.ActionOnFailure = tc.action
			mustApply(t, s,
				regW("w1", 1, 1),
				failing, start("s1", 1, 11),
				submit("s2", "/out/s2", 1, 1, 12), start("s2", 1, 13),
				submit("s3", "/out/s3", 1, 1, 14),
				&FailStep{ID: "s1", Error: "map task 0 failed", Time: 20},
			)
			if st := getStep(t, s, "s1"); st.State != StepFailed || st.Error != "map task 0 failed" {
				t.Fatalf("failed step: %s", js(st))
			}
			pending, running := getStep(t, s, "s3"), getStep(t, s, "s2")
			if pending.State != tc.pending || running.State != tc.running {
				t.Fatalf("pending step %s, running step %s; want %s and %s", pending.State, running.State, tc.pending, tc.running)
			}
			if tc.pending == StepCancelled && !strings.Contains(pending.Error, "step s1 failed and its action on failure is "+string(tc.action)) {
				t.Fatalf("cancelled step's reason %q", pending.Error)
			}
			if tc.running == StepInterrupted && (!strings.Contains(running.Error, "the cluster was terminated") || running.CleanedUp) {
				t.Fatalf("interrupted step: %s", js(running))
			}
			why, terminated := s.View().Terminated()
			if terminated != tc.terminated || (terminated && !strings.Contains(why, "s1")) {
				t.Fatalf("terminated %t (%q)", terminated, why)
			}
			next := submit("s4", "/out/s4", 1, 1, 30)
			if tc.accepted {
				mustApply(t, s, next)
			} else {
				mustReject(t, s, next, ErrConflict)
			}
		})
	}
}

// TestCancelPending: a started step that is cancelled is CANCEL_PENDING,
// holding its output, until its partial output is removed; then it is
// CANCELLED. A step that never started is CANCELLED at once.
func TestCancelPending(t *testing.T) {
	s := New()
	mustApply(t, s,
		submit("s1", "/out/s1", 1, 1, 10), start("s1", 1, 11),
		submit("s2", "/out/s2", 1, 1, 12),
		&CancelStep{ID: "s1", Reason: "by user", Time: 20},
		&CancelStep{ID: "s2", Reason: "by user", Time: 21},
	)
	if st := getStep(t, s, "s1"); st.State != StepCancelPending || st.CleanedUp {
		t.Fatalf("cancelled running step: %s", js(st))
	}
	if st := getStep(t, s, "s2"); st.State != StepCancelled || !st.CleanedUp {
		t.Fatalf("cancelled pending step: %s", js(st))
	}
	mustReject(t, s, &CancelStep{ID: "s1", Time: 22}, ErrConflict)
	mustReject(t, s, submit("s3", "/out/s1", 1, 1, 23), ErrConflict)
	mustApply(t, s, &StepCleanedUp{ID: "s1"})
	if st := getStep(t, s, "s1"); st.State != StepCancelled || !st.CleanedUp {
		t.Fatalf("after clean-up: %s", js(st))
	}
	mustApply(t, s, submit("s3", "/out/s1", 1, 1, 24))
}

// TestWaitingSteps: an export step is submitted with its step and waits
// for it, unplanned; a deferred step waits for its turn; PlanStep records
// the input of a waiting step once.
func TestWaitingSteps(t *testing.T) {
	s := New()
	main := submit("s1", "/out/s1", 1, 1, 10)
	main.Spec.Export = "s3://b/x"
	exp := &SubmitStep{ID: "s2", Spec: spec("s3://b/x", 0, 1), Time: 10}
	exp.Spec.After = "s1"
	main.Export = exp
	deferred := submit("s3", "/out/s3", 1, 1, 11)
	deferred.Deferred = true
	mustApply(t, s, main, deferred)
	if st := getStep(t, s, "s1"); st.ExportStep != "s2" || st.Unplanned {
		t.Fatalf("step: %s", js(st))
	}
	for _, id := range []string{"s2", "s3"} {
		if st := getStep(t, s, id); !st.Unplanned || st.PlanComplete() || st.State != StepPending {
			t.Fatalf("waiting step %s: %s", id, js(st))
		}
	}
	mustReject(t, s, &StartStep{ID: "s2", Time: 12}, ErrConflict)
	mustReject(t, s, &PlanStep{ID: "s1", Input: InputSummary{Splits: 1}}, ErrConflict)
	mustApply(t, s, &PlanStep{ID: "s2", Input: InputSummary{Files: 1, Bytes: 5, Splits: 1}})
	st := getStep(t, s, "s2")
	if st.Unplanned || st.Input.Splits != 1 || st.PlanComplete() {
		t.Fatalf("planned step: %s", js(st))
	}
	mustReject(t, s, &PlanStep{ID: "s2", Input: InputSummary{Splits: 1}}, ErrConflict)
	mustApply(t, s, start("s2", 1, 13))

	// An export step must wait for its own step, and that step must not
	// have ended.
	bad := submit("s4", "/out/s4", 1, 1, 20)
	bad.Export = &SubmitStep{ID: "s5", Spec: spec("s3://b/y", 0, 1), Time: 20}
	mustReject(t, s, bad, ErrConflict)
	late := &SubmitStep{ID: "s6", Spec: spec("s3://b/z", 0, 1), Time: 21}
	late.Spec.After = "s2"
	mustApply(t, s, &CancelStep{ID: "s2", Time: 22}, &StepCleanedUp{ID: "s2"})
	mustReject(t, s, late, ErrConflict)
}
