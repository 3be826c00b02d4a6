package state

import (
	"errors"
	"reflect"
	"testing"
)

// ---------------------------------------------------------------------------
// RegisterPrimary, RemovePrimary
// ---------------------------------------------------------------------------

func TestRegisterPrimary(t *testing.T) {
	s := New()
	p1 := Primary{ID: "p1", Addr: "h1:9000", RaftAddr: "h1:9001", GossipAddr: "h1:9002"}
	p2 := Primary{ID: "p2", Addr: "h2:9000", RaftAddr: "h2:9001", GossipAddr: "h2:9002"}
	cmd := &RegisterPrimary{Primary: p1}
	mustApply(t, s, cmd, &RegisterPrimary{Primary: p2})
	cmd.Primary.Addr = "changed after apply"
	wantEqual(t, "primaries", s.View().Primaries(), []*Primary{{ID: "p1", Addr: "h1:9000", RaftAddr: "h1:9001", GossipAddr: "h1:9002"}, &p2})
	if p, ok := s.View().Primary("p2"); !ok || *p != p2 {
		t.Fatalf("Primary(p2) = %v, %v", p, ok)
	}
	if _, ok := s.View().Primary("p3"); ok {
		t.Fatalf("Primary(p3) found")
	}

	t.Run("same again is a no-op", func(t *testing.T) {
		mustNotChange(t, s, &RegisterPrimary{Primary: p1})
	})
	t.Run("update replaces addresses", func(t *testing.T) {
		old := s.View()
		moved := Primary{ID: "p1", Addr: "h9:1", RaftAddr: "h9:2", GossipAddr: "h9:3"}
		mustApply(t, s, &RegisterPrimary{Primary: moved})
		wantEqual(t, "primaries", s.View().Primaries(), []*Primary{&moved, &p2})
		// A view taken before keeps the old addresses.
		if p, _ := old.Primary("p1"); p.Addr != "h1:9000" {
			t.Fatalf("old view sees %s", js1(p))
		}
	})
	t.Run("remove", func(t *testing.T) {
		r := New()
		mustApply(t, r, &RegisterPrimary{Primary: p1}, &RegisterPrimary{Primary: p2}, &RemovePrimary{ID: "p1"})
		wantEqual(t, "primaries", r.View().Primaries(), []*Primary{&p2})
		mustReject(t, r, &RemovePrimary{ID: "p1"}, ErrNotFound)
		mustReject(t, r, &RemovePrimary{ID: ""}, ErrNotFound)
	})
	for _, tc := range []struct {
		name string
		p    Primary
	}{
		{"no id", Primary{Addr: "a", RaftAddr: "r", GossipAddr: "g"}},
		{"no addr", Primary{ID: "p3", RaftAddr: "r", GossipAddr: "g"}},
		{"no raft addr", Primary{ID: "p3", Addr: "a", GossipAddr: "g"}},
		{"no gossip addr", Primary{ID: "p3", Addr: "a", RaftAddr: "r"}},
		{"incomplete update of a known primary", Primary{ID: "p2", Addr: "a", RaftAddr: "r"}},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			mustReject(t, s, &RegisterPrimary{Primary: tc.p}, ErrConflict)
		})
	}
}

// ---------------------------------------------------------------------------
// RegisterWorker
// ---------------------------------------------------------------------------

func TestRegisterWorker(t *testing.T) {
	t.Run("first registration", func(t *testing.T) {
		s := New()
		w := worker("w1", 3)
		// Fields the state machine owns are overwritten, whatever the command says.
		w.State, w.RegisteredAt, w.DownAt, w.DownReason = WorkerDead, 1, 2, "junk"
		mustApply(t, s, &RegisterWorker{Worker: w, Time: 100})
		wantEqual(t, "workers", s.View().Workers(), []*Worker{
			{ID: "w1", Incarnation: 3, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 100},
		})
		tw := Worker{ID: "t1", Incarnation: 1, Role: RoleTask, Addr: "t1:1", Slots: 1}
		mustApply(t, s, &RegisterWorker{Worker: tw, Time: 101})
		wantEqual(t, "task worker", getWorker(t, s, "t1"), &Worker{ID: "t1", Incarnation: 1, Role: RoleTask, Addr: "t1:1", Slots: 1, State: WorkerAlive, RegisteredAt: 101})
		if ws := s.View().Workers(); len(ws) != 2 || ws[0].ID != "t1" || ws[1].ID != "w1" {
			t.Fatalf("Workers not by id: %s", js1(ws))
		}
	})

	t.Run("idempotent", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
		again := regW("w1", 1, 999)
		again.Worker.Addr, again.Worker.Slots = "elsewhere:1", 9
		mustNotChange(t, s, again)
		mustNotChange(t, s, regW("w1", 1, 1000))
	})

	for _, tc := range []struct {
		name string
		w    Worker
	}{
		{"no id", Worker{Incarnation: 1, Role: RoleCore, Addr: "a:1", Slots: 1}},
		{"no addr", Worker{ID: "w9", Incarnation: 1, Role: RoleCore, Slots: 1}},
		{"no slots", Worker{ID: "w9", Incarnation: 1, Role: RoleCore, Addr: "a:1"}},
		{"negative slots", Worker{ID: "w9", Incarnation: 1, Role: RoleCore, Addr: "a:1", Slots: -1}},
		{"unknown role", Worker{ID: "w9", Incarnation: 1, Role: "master", Addr: "a:1", Slots: 1}},
		{"no role", Worker{ID: "w9", Incarnation: 1, Addr: "a:1", Slots: 1}},
		{"incomplete newer incarnation of a known worker", Worker{ID: "w1", Incarnation: 2, Role: RoleCore, Addr: "a:1"}},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			mustReject(t, cluster(t), &RegisterWorker{Worker: tc.w, Time: 50}, ErrConflict)
		})
	}

	t.Run("older incarnation is stale", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 5, 10))
		mustReject(t, s, regW("w1", 4, 20), ErrStale)
		mustApply(t, s, down("w1", 5, "gone", 30))
		mustReject(t, s, regW("w1", 4, 40), ErrStale)
	})

	t.Run("same incarnation after down is stale", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 5, 10), down("w1", 5, "gone", 20))
		mustReject(t, s, regW("w1", 5, 30), ErrStale)
	})

	t.Run("newer incarnation after down", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 5, 10), down("w1", 5, "gone", 20), regW("w1", 6, 30))
		wantEqual(t, "w1", getWorker(t, s, "w1"), &Worker{ID: "w1", Incarnation: 6, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 30})
	})

	t.Run("newer incarnation kills the old one's running attempts", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s,
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)),
			regW("w1", 2, 60),
		)
		wantEqual(t, "w1", getWorker(t, s, "w1"), &Worker{ID: "w1", Incarnation: 2, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 60})
		wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskPending, "", att("m0", "w1", 1, AttemptKilled, 40, 60, "worker restarted")),
			mapTask("s1", 1, TaskRunning, "", att("m1", "w2", 1, AttemptRunning, 40, 0, "")),
			mapTask("s1", 2, TaskPending, ""),
		})
		wantEqual(t, "counters", getStep(t, s, "s1").Counters, map[string]int64{LaunchedMaps: 2, KilledMaps: 1})
		if got := s.View().RunningOn("w1", 1); len(got) != 0 {
			t.Fatalf("still running on the old incarnation: %s", js1(got))
		}
		// The old incarnation's report is stale; the task can run again,
		// also on the new incarnation.
		mustReject(t, s, succeed("m0", "w1", 1, 61, nil), ErrStale)
		mustReject(t, s, assign(62, asg("m0b", "s1", KindMap, 0, "w1", 1)), ErrStale)
		mustApply(t, s, assign(62, asg("m0b", "s1", KindMap, 0, "w1", 2)))
		if got := s.View().RunningOn("w1", 2); len(got) != 1 || got[0].Index != 0 {
			t.Fatalf("RunningOn(w1, 2) = %s", js1(got))
		}
	})

	t.Run("newer incarnation loses the old one's map outputs", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s, regW("w1", 2, 60))
		lost := "map output lost: worker restarted"
		wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskPending, "", withCounters(att("m0", "w1", 1, AttemptSucceeded, 40, 41, lost), map[string]int64{"RECORDS": 1})),
			mapTask("s1", 1, TaskSucceeded, "m1", withCounters(att("m1", "w2", 1, AttemptSucceeded, 40, 42, ""), map[string]int64{"RECORDS": 2})),
			mapTask("s1", 2, TaskPending, "", withCounters(att("m2", "w1", 1, AttemptSucceeded, 40, 43, lost), map[string]int64{"RECORDS": 4})),
		})
		st := getStep(t, s, "s1")
		if p := st.Phase(); p != PhaseMap || st.MapsDone != 1 {
			t.Fatalf("phase %q, %d maps done; want MAP, 1", p, st.MapsDone)
		}
		wantEqual(t, "counters", st.Counters, map[string]int64{"RECORDS": 2, LaunchedMaps: 3})
	})
}

// ---------------------------------------------------------------------------
// WorkerDown
// ---------------------------------------------------------------------------

func TestWorkerDown(t *testing.T) {
	t.Run("rejects", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, regW("w3", 4, 12), assign(40, asg("m0", "s1", KindMap, 0, "w3", 4)))
		mustReject(t, s, down("nobody", 1, "x", 50), ErrNotFound)
		mustReject(t, s, down("w3", 3, "x", 50), ErrStale)
		mustReject(t, s, down("w3", 5, "x", 50), ErrStale)
		mustApply(t, s, down("w3", 4, "x", 50))
		mustReject(t, s, down("w3", 4, "again", 60), ErrStale)
	})

	t.Run("kills running attempts", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s,
			submit("s2", "/out/s2", 1, 2, 21),
			start("s2", 1, 31),
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1), asg("x0", "s2", KindMap, 0, "w1", 1)),
			down("w1", 1, "lost heartbeat", 50),
		)
		wantEqual(t, "w1", getWorker(t, s, "w1"), &Worker{ID: "w1", Incarnation: 1, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerDead, RegisteredAt: 10, DownAt: 50, DownReason: "lost heartbeat"})
		wantEqual(t, "w2", getWorker(t, s, "w2"), &Worker{ID: "w2", Incarnation: 1, Role: RoleCore, Addr: "w2:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 11})
		wantEqual(t, "s1 maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskPending, "", att("m0", "w1", 1, AttemptKilled, 40, 50, "worker down: lost heartbeat")),
			mapTask("s1", 1, TaskRunning, "", att("m1", "w2", 1, AttemptRunning, 40, 0, "")),
			mapTask("s1", 2, TaskPending, ""),
		})
		wantEqual(t, "s2 maps", mapsOf(s, "s2"), []*Task{
			mapTask("s2", 0, TaskPending, "", att("x0", "w1", 1, AttemptKilled, 40, 50, "worker down: lost heartbeat")),
		})
		if getStep(t, s, "s1").State != StepRunning || getStep(t, s, "s2").State != StepRunning {
			t.Fatalf("steps must keep running")
		}
		wantEqual(t, "s2 counters", getStep(t, s, "s2").Counters, map[string]int64{LaunchedMaps: 1, KilledMaps: 1})
		if f := getStep(t, s, "s1").FailuresOn; f != nil {
			t.Fatalf("killed attempts counted as failures: %v", f)
		}
		mustReject(t, s, succeed("m0", "w1", 1, 51, nil), ErrStale)
		mustReject(t, s, assign(52, asg("m0b", "s1", KindMap, 0, "w1", 1)), ErrStale)
	})

	t.Run("lost map outputs run again while reduces remain", func(t *testing.T) {
		s := cluster(t)
		// s0 completed earlier with its map output on w1: not touched.
		mustApply(t, s,
			submit("s0", "/out/s0", 0, 1, 15), start("s0", 1, 16),
			assign(17, asg("z0", "s0", KindMap, 0, "w1", 1)),
			succeed("z0", "w1", 1, 18, nil, `"part-m-00000"`),
			&CompleteStep{ID: "s0", Time: 19},
		)
		mapsDone(t, s)
		mustApply(t, s,
			assign(50, asg("r0", "s1", KindReduce, 0, "w2", 1), asg("r1", "s1", KindReduce, 1, "w2", 1)),
			succeed("r0", "w2", 1, 51, map[string]int64{"OUT": 10}),
		)
		s0Before := dumpStep(s, "s0")
		mustApply(t, s, down("w1", 1, "disk failed", 80))
		lost := "map output lost: worker down: disk failed"
		wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskPending, "", withCounters(att("m0", "w1", 1, AttemptSucceeded, 40, 41, lost), map[string]int64{"RECORDS": 1})),
			mapTask("s1", 1, TaskSucceeded, "m1", withCounters(att("m1", "w2", 1, AttemptSucceeded, 40, 42, ""), map[string]int64{"RECORDS": 2})),
			mapTask("s1", 2, TaskPending, "", withCounters(att("m2", "w1", 1, AttemptSucceeded, 40, 43, lost), map[string]int64{"RECORDS": 4})),
		})
		wantEqual(t, "reduces", reducesOf(s, "s1"), []*Task{
			reduceTask("s1", 0, TaskSucceeded, "r0", withCounters(att("r0", "w2", 1, AttemptSucceeded, 50, 51, ""), map[string]int64{"OUT": 10})),
			reduceTask("s1", 1, TaskRunning, "", att("r1", "w2", 1, AttemptRunning, 50, 0, "")),
		})
		st := getStep(t, s, "s1")
		if p := st.Phase(); p != PhaseMap || st.MapsDone != 1 || st.ReducesDone != 1 {
			t.Fatalf("phase %q, maps done %d, reduces done %d; want MAP, 1, 1", p, st.MapsDone, st.ReducesDone)
		}
		if got := dumpStep(s, "s0"); got != s0Before {
			t.Fatalf("completed step changed:\n%s\n%s", s0Before, got)
		}
		// The lost maps run again on w2 with new attempts.
		mustApply(t, s,
			assign(81, asg("m0b", "s1", KindMap, 0, "w2", 1), asg("m2b", "s1", KindMap, 2, "w2", 1)),
			succeed("m0b", "w2", 1, 82, nil), succeed("m2b", "w2", 1, 83, nil),
		)
		if p := getStep(t, s, "s1").Phase(); p != PhaseReduce {
			t.Fatalf("phase %q, want REDUCE", p)
		}
		if w0, w2 := getTask(t, s, "s1", KindMap, 0).Winner, getTask(t, s, "s1", KindMap, 2).Winner; w0 != "m0b" || w2 != "m2b" {
			t.Fatalf("winners %q %q, want m0b m2b", w0, w2)
		}
	})

	t.Run("map outputs kept once all reduces succeeded", func(t *testing.T) {
		s := cluster(t)
		allDone(t, s)
		before := dumpStep(s, "s1")
		mustApply(t, s, down("w1", 1, "gone", 80))
		if got := dumpStep(s, "s1"); got != before {
			t.Fatalf("step changed:\n%s\n%s", before, got)
		}
		if p := getStep(t, s, "s1").Phase(); p != PhaseCommit {
			t.Fatalf("phase %q, want COMMIT", p)
		}
		mustApply(t, s, &CompleteStep{ID: "s1", Time: 90})
	})

	t.Run("ended steps are not touched", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s) // map winners m0 and m2 on w1; reduces not run
		mustApply(t, s,
			submit("s2", "/out/s2", 1, 1, 21), start("s2", 1, 31),
			assign(44, asg("x0", "s2", KindMap, 0, "w1", 1)), succeed("x0", "w1", 1, 45, nil),
			&CancelStep{ID: "s1", Reason: "user", Time: 46},
			&FailStep{ID: "s2", Error: "commit output: x", Time: 47},
		)
		s1, s2 := dumpStep(s, "s1"), dumpStep(s, "s2")
		mustApply(t, s, down("w1", 1, "gone", 50), regW("w1", 2, 51), regW("w2", 2, 52))
		if got := dumpStep(s, "s1"); got != s1 {
			t.Fatalf("cancelled step changed:\n%s\n%s", s1, got)
		}
		if got := dumpStep(s, "s2"); got != s2 {
			t.Fatalf("failed step changed:\n%s\n%s", s2, got)
		}
	})

	t.Run("map-only step keeps map outputs", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 1, 10), submit("s1", "/out", 0, 1, 20), start("s1", 2, 30),
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)),
			succeed("m0", "w1", 1, 41, nil, `"part-m-00000"`),
		)
		before := dumpStep(s, "s1")
		mustApply(t, s, down("w1", 1, "gone", 50))
		if got := dumpStep(s, "s1"); got != before {
			t.Fatalf("step changed:\n%s\n%s", before, got)
		}
	})

	t.Run("maps lost in the map phase", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s,
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w1", 1)),
			succeed("m0", "w1", 1, 41, nil),
			down("w1", 1, "gone", 50),
		)
		wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskPending, "", att("m0", "w1", 1, AttemptSucceeded, 40, 41, "map output lost: worker down: gone")),
			mapTask("s1", 1, TaskPending, "", att("m1", "w1", 1, AttemptKilled, 40, 50, "worker down: gone")),
			mapTask("s1", 2, TaskPending, ""),
		})
	})

	t.Run("a draining worker can go down", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), &DrainWorker{ID: "w1", Time: 41}, down("w1", 1, "drained", 42))
		if w := getWorker(t, s, "w1"); w.State != WorkerDead || w.DownAt != 42 {
			t.Fatalf("w1 %s", js1(w))
		}
		if tk := getTask(t, s, "s1", KindMap, 0); tk.State != TaskPending || tk.Attempts[0].State != AttemptKilled {
			t.Fatalf("map 0 %s", js1(tk))
		}
	})
}

// dumpStep returns a step and its tasks as JSON.
func dumpStep(s *State, id string) string {
	v := s.View()
	st, _ := v.Step(id)
	out := js1(st)
	for t := range v.Tasks(id) {
		out += "\n" + js1(t)
	}
	return out
}

// ---------------------------------------------------------------------------
// DrainWorker
// ---------------------------------------------------------------------------

func TestDrainWorker(t *testing.T) {
	s := cluster(t)
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), &DrainWorker{ID: "w1", Time: 41})
	wantEqual(t, "w1", getWorker(t, s, "w1"), &Worker{ID: "w1", Incarnation: 1, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerDraining, RegisteredAt: 10})
	if !getWorker(t, s, "w1").Up() {
		t.Fatalf("a draining worker is up")
	}
	// It takes nothing new ...
	mustReject(t, s, assign(42, asg("m1", "s1", KindMap, 1, "w1", 1)), ErrConflict)
	mustReject(t, s, assign(42, asg("m1", "s1", KindMap, 1, "w2", 1), asg("m2", "s1", KindMap, 2, "w1", 1)), ErrConflict)
	// ... not even a backup ...
	mustReject(t, s, assign(42, backup("m0x", "s1", KindMap, 0, "w1", 1)), ErrConflict)
	// ... but what it runs finishes, and counts.
	mustApply(t, s, succeed("m0", "w1", 1, 43, map[string]int64{"N": 1}))
	if tk := getTask(t, s, "s1", KindMap, 0); tk.Winner != "m0" {
		t.Fatalf("map 0 %s", js1(tk))
	}
	// Registering the same incarnation again leaves it draining.
	mustNotChange(t, s, regW("w1", 1, 44))

	mustReject(t, s, &DrainWorker{ID: "nope", Time: 45}, ErrNotFound)
	mustReject(t, s, &DrainWorker{ID: "w1", Time: 45}, ErrConflict) // draining already
	mustApply(t, s, down("w2", 1, "x", 46))
	mustReject(t, s, &DrainWorker{ID: "w2", Time: 47}, ErrConflict) // dead

	// A new incarnation is alive again, and takes work.
	mustApply(t, s, regW("w1", 2, 48), assign(49, asg("m1", "s1", KindMap, 1, "w1", 2)))
	if w := getWorker(t, s, "w1"); w.State != WorkerAlive {
		t.Fatalf("w1 %s", js1(w))
	}
}

// ---------------------------------------------------------------------------
// KillAttempt
// ---------------------------------------------------------------------------

func TestKillAttempt(t *testing.T) {
	t.Run("killed runs again, not counted as a failure", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), &KillAttempt{AttemptID: "m0", Reason: "by user", Time: 41})
		wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskPending, "", att("m0", "w1", 1, AttemptKilled, 40, 41, "by user")))
		st := getStep(t, s, "s1")
		wantEqual(t, "counters", st.Counters, map[string]int64{LaunchedMaps: 1, KilledMaps: 1})
		if st.FailuresOn != nil {
			t.Fatalf("failures %v", st.FailuresOn)
		}
		mustReject(t, s, &KillAttempt{AttemptID: "m0", Reason: "again", Time: 42}, ErrStale)
		mustReject(t, s, succeed("m0", "w1", 1, 42, nil), ErrStale)
	})

	t.Run("failed counts toward the limit", func(t *testing.T) {
		s := cluster(t) // MaxAttempts 2
		mustApply(t, s,
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), &KillAttempt{AttemptID: "m0", Reason: "hung", Failed: true, Time: 41},
		)
		wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskPending, "", att("m0", "w1", 1, AttemptFailed, 40, 41, "hung")))
		st := getStep(t, s, "s1")
		wantEqual(t, "counters", st.Counters, map[string]int64{LaunchedMaps: 1, FailedMaps: 1})
		wantEqual(t, "failures", st.FailuresOn, map[string]int{"w1": 1})
		mustApply(t, s, assign(42, asg("m0b", "s1", KindMap, 0, "w2", 1)), &KillAttempt{AttemptID: "m0b", Reason: "hung", Failed: true, Time: 43})
		st = getStep(t, s, "s1")
		if st.State != StepFailed || st.Error != "map task 0 failed 2 times:\n  m0 on w1: hung\n  m0b on w2: hung" {
			t.Fatalf("step %s %q", st.State, st.Error)
		}
	})

	t.Run("kill one of two running attempts", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), assign(41, backup("m0x", "s1", KindMap, 0, "w2", 1)),
			&KillAttempt{AttemptID: "m0", Reason: "by user", Time: 42})
		wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskRunning, "",
			att("m0", "w1", 1, AttemptKilled, 40, 42, "by user"), speculative(att("m0x", "w2", 1, AttemptRunning, 41, 0, ""))))
	})

	t.Run("rejects", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustReject(t, s, &KillAttempt{AttemptID: "nope", Time: 50}, ErrNotFound)
		mustReject(t, s, &KillAttempt{AttemptID: "m0", Time: 50}, ErrStale) // succeeded
		mustReject(t, s, &KillAttempt{AttemptID: "m0", Failed: true, Time: 50}, ErrStale)
	})
}

// ---------------------------------------------------------------------------
// MapOutputLost
// ---------------------------------------------------------------------------

func TestMapOutputLost(t *testing.T) {
	t.Run("the map runs again and its counters go", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s, assign(50, asg("r0", "s1", KindReduce, 0, "w2", 1)))
		before := getStep(t, s, "s1")
		wantEqual(t, "counters before", before.Counters, map[string]int64{"RECORDS": 7, LaunchedMaps: 3, LaunchedReduces: 1})
		mustApply(t, s, &MapOutputLost{AttemptID: "m1", Reason: "fetch failed", Time: 51})
		wantEqual(t, "map 1", getTask(t, s, "s1", KindMap, 1), mapTask("s1", 1, TaskPending, "",
			withCounters(att("m1", "w2", 1, AttemptSucceeded, 40, 42, "map output lost: fetch failed"), map[string]int64{"RECORDS": 2})))
		st := getStep(t, s, "s1")
		if st.MapsDone != 2 || st.Phase() != PhaseMap {
			t.Fatalf("maps done %d, phase %s; want 2, MAP", st.MapsDone, st.Phase())
		}
		wantEqual(t, "counters after", st.Counters, map[string]int64{"RECORDS": 5, LaunchedMaps: 3, LaunchedReduces: 1})
		// The running reduce keeps running (it fetches again); a pending
		// one waits for the map.
		if tk := getTask(t, s, "s1", KindReduce, 0); tk.State != TaskRunning {
			t.Fatalf("reduce 0 %s", tk.State)
		}
		mustReject(t, s, assign(52, asg("r1", "s1", KindReduce, 1, "w1", 1)), ErrConflict)
		// A lost output is lost once; the map's next attempt wins it back.
		mustReject(t, s, &MapOutputLost{AttemptID: "m1", Reason: "again", Time: 52}, ErrStale)
		mustApply(t, s, assign(53, asg("m1b", "s1", KindMap, 1, "w1", 1)), succeed("m1b", "w1", 1, 54, map[string]int64{"RECORDS": 3}))
		st = getStep(t, s, "s1")
		if st.MapsDone != 3 || st.Phase() != PhaseReduce {
			t.Fatalf("maps done %d, phase %s; want 3, REDUCE", st.MapsDone, st.Phase())
		}
		wantEqual(t, "counters", st.Counters, map[string]int64{"RECORDS": 8, LaunchedMaps: 4, LaunchedReduces: 1})
		// The old view still sees the step as it was.
		if before.MapsDone != 3 || before.Counters["RECORDS"] != 7 {
			t.Fatalf("an earlier step object changed: %s", js1(before))
		}
	})

	t.Run("rejects", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)),
			fail("m0", "w1", 1, 41, "x"))
		mustReject(t, s, &MapOutputLost{AttemptID: "nope", Time: 50}, ErrNotFound)
		mustReject(t, s, &MapOutputLost{AttemptID: "m0", Time: 50}, ErrStale) // failed
		mustReject(t, s, &MapOutputLost{AttemptID: "m1", Time: 50}, ErrStale) // running
		mustApply(t, s, succeed("m1", "w2", 1, 51, nil), assign(52, asg("m0b", "s1", KindMap, 0, "w1", 1), asg("m2", "s1", KindMap, 2, "w1", 1)),
			succeed("m0b", "w1", 1, 53, nil), succeed("m2", "w1", 1, 54, nil),
			assign(55, asg("r0", "s1", KindReduce, 0, "w1", 1), asg("r1", "s1", KindReduce, 1, "w2", 1)),
			succeed("r0", "w1", 1, 56, nil))
		mustReject(t, s, &MapOutputLost{AttemptID: "r0", Time: 57}, ErrStale) // a reduce
		mustApply(t, s, succeed("r1", "w2", 1, 58, nil))
		mustReject(t, s, &MapOutputLost{AttemptID: "m1", Time: 59}, ErrStale) // every reduce succeeded
		mustApply(t, s, &CompleteStep{ID: "s1", Time: 60})
		mustReject(t, s, &MapOutputLost{AttemptID: "m1", Time: 61}, ErrStale) // completed

		c := cluster(t)
		mapsDone(t, c)
		mustApply(t, c, &CancelStep{ID: "s1", Time: 50})
		mustReject(t, c, &MapOutputLost{AttemptID: "m1", Time: 51}, ErrStale) // cancelled

		m := New()
		mustApply(t, m, regW("w1", 1, 1), submit("s", "/o", 0, 1, 2), start("s", 2, 3),
			assign(4, asg("a", "s", KindMap, 0, "w1", 1)), succeed("a", "w1", 1, 5, nil))
		mustReject(t, m, &MapOutputLost{AttemptID: "a", Time: 6}, ErrStale) // map-only: no reducer needs it
	})
}

// ---------------------------------------------------------------------------
// SubmitStep
// ---------------------------------------------------------------------------

func TestSubmitStep(t *testing.T) {
	s := New()
	c1 := submit("s1", "/out/a", 2, 3, 100)
	c1.Input = InputSummary{Files: 2, Bytes: 300, Splits: 0}
	mustApply(t, s, c1, submit("s2", "/out/b", 0, 1, 200))
	// The state keeps its own copies of the spec's map and slice.
	c1.Spec.Options["lower"] = "false"
	c1.Spec.Inputs[0] = "/elsewhere"
	wantEqual(t, "s1", getStep(t, s, "s1"), &Step{ID: "s1", Seq: 1, Spec: spec("/out/a", 2, 3), State: StepPending, SubmittedAt: 100, Input: InputSummary{Files: 2, Bytes: 300}})
	wantEqual(t, "s2", getStep(t, s, "s2"), &Step{ID: "s2", Seq: 2, Spec: spec("/out/b", 0, 1), State: StepPending, SubmittedAt: 200})
	wantEqual(t, "order", stepIDs(s), []string{"s1", "s2"})
	if n := s.View().StepCount(); n != 2 {
		t.Fatalf("StepCount %d, want 2", n)
	}
	if p := getStep(t, s, "s1").Phase(); p != PhaseNone {
		t.Fatalf("pending step has phase %q", p)
	}

	t.Run("rejects", func(t *testing.T) {
		mustReject(t, s, submit("", "/out/c", 1, 1, 300), ErrConflict)
		mustReject(t, s, submit("s1", "/out/c", 1, 1, 300), ErrConflict)
		mustReject(t, s, submit("s3", "/out/a", 1, 1, 300), ErrConflict) // output of pending s1
		mustReject(t, s, submit("s3", "/out/c", -1, 1, 300), ErrConflict)
		neg := submit("s3", "/out/c", 1, 1, 300)
		neg.Input.Splits = -1
		mustReject(t, s, neg, ErrConflict)
		neg.Input = InputSummary{Files: -1}
		mustReject(t, s, neg, ErrConflict)
		mustApply(t, s, start("s2", 0, 300))
		mustReject(t, s, submit("s3", "/out/b", 1, 1, 300), ErrConflict) // output of running s2
	})

	t.Run("output of an ended step can be reused, its id cannot", func(t *testing.T) {
		mustApply(t, s, &CancelStep{ID: "s1", Reason: "no", Time: 400})
		mustReject(t, s, submit("s1", "/out/z", 1, 1, 401), ErrConflict)
		mustApply(t, s, submit("s3", "/out/a", 1, 1, 402))
		wantEqual(t, "s3", getStep(t, s, "s3"), &Step{ID: "s3", Seq: 3, Spec: spec("/out/a", 1, 1), State: StepPending, SubmittedAt: 402})
		wantEqual(t, "order", stepIDs(s), []string{"s1", "s2", "s3"})
	})

	t.Run("client token", func(t *testing.T) {
		c := submit("s4", "/out/t", 1, 1, 500)
		c.Spec.ClientToken = "tok-1"
		mustApply(t, s, c)
		if id := s.View().StepByToken("tok-1"); id != "s4" {
			t.Fatalf("StepByToken = %q", id)
		}
		if id := s.View().StepByToken(""); id != "" {
			t.Fatalf("StepByToken(\"\") = %q", id)
		}
		again := submit("s5", "/out/t2", 1, 1, 501)
		again.Spec.ClientToken = "tok-1"
		mustReject(t, s, again, ErrConflict)
		// Even once the first step ended.
		mustApply(t, s, &CancelStep{ID: "s4", Time: 502})
		mustReject(t, s, again, ErrConflict)
	})
}

func stepIDs(s *State) []string {
	var out []string
	for st := range s.View().Steps() {
		out = append(out, st.ID)
	}
	return out
}

// ---------------------------------------------------------------------------
// StartStep, AddSplits
// ---------------------------------------------------------------------------

func TestStartStep(t *testing.T) {
	s := New()
	mustApply(t, s, submit("s1", "/out/a", 2, 3, 100))
	c := start("s1", 3, 200)
	mustApply(t, s, c)
	c.Splits[0].File = "/changed" // the state keeps its own copy
	wantEqual(t, "s1", getStep(t, s, "s1"), &Step{
		ID: "s1", Seq: 1, Spec: spec("/out/a", 2, 3), State: StepRunning, SubmittedAt: 100, StartedAt: 200,
		Maps: 3, Reduces: 2,
	})
	wantEqual(t, "tasks", collect(s.View().Tasks("s1")), []*Task{
		mapTask("s1", 0, TaskPending, ""), mapTask("s1", 1, TaskPending, ""), mapTask("s1", 2, TaskPending, ""),
		reduceTask("s1", 0, TaskPending, ""), reduceTask("s1", 1, TaskPending, ""),
	})
	if p := getStep(t, s, "s1").Phase(); p != PhaseMap {
		t.Fatalf("phase %q, want MAP", p)
	}

	t.Run("no splits", func(t *testing.T) {
		s := New()
		mustApply(t, s, submit("r", "/out/r", 2, 1, 1), start("r", 0, 2), submit("c", "/out/c", 0, 1, 3), start("c", 0, 4))
		if p := getStep(t, s, "r").Phase(); p != PhaseReduce {
			t.Fatalf("no splits, 2 reducers: phase %q, want REDUCE", p)
		}
		if p := getStep(t, s, "c").Phase(); p != PhaseCommit {
			t.Fatalf("no splits, no reducers: phase %q, want COMMIT", p)
		}
		if n := len(mapsOf(s, "r")) + len(collect(s.View().Tasks("c"))); n != 0 {
			t.Fatalf("%d tasks, want 0", n)
		}
	})

	t.Run("rejects", func(t *testing.T) {
		mustReject(t, s, start("nope", 1, 300), ErrNotFound)
		mustReject(t, s, start("s1", 1, 300), ErrConflict) // already running
		mustApply(t, s, submit("s2", "/out/b", 1, 1, 301), &CancelStep{ID: "s2", Time: 302})
		mustReject(t, s, start("s2", 1, 303), ErrConflict) // cancelled
	})
}

// TestPlannedSplits checks that a step's splits recorded over several
// AddSplits entries become its map tasks, in order, PENDING while the step
// is, and that it cannot start before all of them are there or take more.
func TestPlannedSplits(t *testing.T) {
	s := New()
	all := splits(7)
	mustApply(t, s, &SubmitStep{ID: "s-1", Spec: spec("/out", 2, 4), Input: InputSummary{Files: 5, Bytes: 700, Splits: 7}, Time: 1})
	if getStep(t, s, "s-1").PlanComplete() {
		t.Fatal("plan complete with 0 of 7 splits")
	}
	mustReject(t, s, &StartStep{ID: "s-1", Time: 2}, ErrConflict)
	mustApply(t, s, &AddSplits{ID: "s-1", Splits: all[:2]}, &AddSplits{ID: "s-1", Splits: nil}, &AddSplits{ID: "s-1", Splits: all[2:4]})
	st := getStep(t, s, "s-1")
	if st.PlanComplete() || st.Maps != 4 || st.Reduces != 0 || st.State != StepPending || st.Phase() != PhaseNone {
		t.Fatalf("after 4 of 7 splits: %s", js1(st))
	}
	// Recorded splits are PENDING map tasks of the pending step.
	wantEqual(t, "maps so far", mapsOf(s, "s-1"), []*Task{
		mapTask("s-1", 0, TaskPending, ""), mapTask("s-1", 1, TaskPending, ""), mapTask("s-1", 2, TaskPending, ""), mapTask("s-1", 3, TaskPending, ""),
	})
	// Not startable yet, even with some of the rest.
	mustReject(t, s, &StartStep{ID: "s-1", Time: 2}, ErrConflict)
	mustReject(t, s, &StartStep{ID: "s-1", Splits: all[4:6], Time: 2}, ErrConflict)
	// Nothing can be assigned while it is pending.
	mustApply(t, s, regW("w1", 1, 2))
	mustReject(t, s, assign(2, asg("a", "s-1", KindMap, 0, "w1", 1)), ErrConflict)
	// No more splits than planned.
	mustReject(t, s, &AddSplits{ID: "s-1", Splits: all[3:]}, ErrConflict)
	mustReject(t, s, &AddSplits{ID: "nope", Splits: all[:1]}, ErrNotFound)
	mustApply(t, s, &AddSplits{ID: "s-1", Splits: all[4:6]})
	// The last split comes with the start.
	mustApply(t, s, &StartStep{ID: "s-1", Splits: all[6:], Time: 3})
	st = getStep(t, s, "s-1")
	if st.Maps != 7 || st.Reduces != 2 || st.State != StepRunning || !st.PlanComplete() || st.StartedAt != 3 {
		t.Fatalf("started: %s", js1(st))
	}
	for i, m := range mapsOf(s, "s-1") {
		if !reflect.DeepEqual(*m.Split, all[i]) || m.Index != i {
			t.Fatalf("map %d has split %+v, want %+v", i, *m.Split, all[i])
		}
	}
	if n := len(reducesOf(s, "s-1")); n != 2 {
		t.Fatalf("%d reduces", n)
	}
	mustReject(t, s, &AddSplits{ID: "s-1", Splits: all[:1]}, ErrConflict) // running
	mustReject(t, s, &AddSplits{ID: "s-1"}, ErrConflict)

	t.Run("complete plan starts without splits", func(t *testing.T) {
		s := New()
		mustApply(t, s, &SubmitStep{ID: "s", Spec: spec("/o", 0, 1), Input: InputSummary{Splits: 2}, Time: 1},
			&AddSplits{ID: "s", Splits: splits(2)})
		if !getStep(t, s, "s").PlanComplete() {
			t.Fatal("plan not complete")
		}
		mustReject(t, s, &AddSplits{ID: "s", Splits: splits(1)}, ErrConflict)
		mustApply(t, s, &StartStep{ID: "s", Time: 2})
	})

	t.Run("a pending step's maps end with it", func(t *testing.T) {
		s := New()
		mustApply(t, s, &SubmitStep{ID: "s", Spec: spec("/o", 1, 1), Input: InputSummary{Splits: 3}, Time: 1},
			&AddSplits{ID: "s", Splits: splits(2)}, &FailStep{ID: "s", Error: "input changed", Time: 2})
		st := getStep(t, s, "s")
		if st.State != StepFailed || !st.CleanedUp || st.Maps != 2 {
			t.Fatalf("step %s", js1(st))
		}
		mustReject(t, s, &AddSplits{ID: "s", Splits: splits(1)}, ErrConflict)
		mustReject(t, s, &StartStep{ID: "s", Splits: splits(1), Time: 3}, ErrConflict)
	})
}

// TestStartStepNegativeReducers checks that a step with a negative reducer
// count is refused, at submission and (should one get into a snapshot) at
// its start, with an error rather than a crash of Apply.
func TestStartStepNegativeReducers(t *testing.T) {
	s := New()
	mustReject(t, s, submit("s1", "/out", -1, 1, 1), ErrConflict)
	mustApply(t, s, submit("s1", "/out", 1, 1, 1))
	s = restoreWith(t, s, func(w *tx) {
		w.editStep("s1", func(st *Step) { st.Spec.Reducers = -1 })
	})
	mustReject(t, s, start("s1", 1, 2), ErrConflict)
}

// ---------------------------------------------------------------------------
// Assign
// ---------------------------------------------------------------------------

func TestAssign(t *testing.T) {
	t.Run("accepted batch", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m2", "s1", KindMap, 2, "w2", 1)))
		wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskRunning, "", att("m0", "w1", 1, AttemptRunning, 40, 0, "")),
			mapTask("s1", 1, TaskPending, ""),
			mapTask("s1", 2, TaskRunning, "", att("m2", "w2", 1, AttemptRunning, 40, 0, "")),
		})
		v := s.View()
		task, a, ok := v.AttemptTask("m2")
		if !ok || task.Index != 2 || task.Kind != KindMap || task.StepID != "s1" || a != &task.Attempts[0] {
			t.Fatalf("AttemptTask(m2) = %v %v %v", task, a, ok)
		}
		if _, _, ok := v.AttemptTask("m1"); ok {
			t.Fatalf("AttemptTask(m1) found")
		}
		wantEqual(t, "counters", getStep(t, s, "s1").Counters, map[string]int64{LaunchedMaps: 2})
	})

	t.Run("attempt takes the worker's current address", func(t *testing.T) {
		s := cluster(t)
		w := worker("w1", 2)
		w.Addr = "new:1"
		mustApply(t, s, &RegisterWorker{Worker: w, Time: 35}, assign(40, asg("m0", "s1", KindMap, 0, "w1", 2)))
		if a := getTask(t, s, "s1", KindMap, 0).Attempts[0]; a.Addr != "new:1" || a.Incarnation != 2 {
			t.Fatalf("attempt %s", js(a))
		}
	})

	t.Run("empty batch is a no-op", func(t *testing.T) {
		mustNotChange(t, cluster(t), assign(40))
	})

	t.Run("reduce after every map succeeded", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s, assign(50, asg("r1", "s1", KindReduce, 1, "w1", 1)))
		wantEqual(t, "reduces", reducesOf(s, "s1"), []*Task{
			reduceTask("s1", 0, TaskPending, ""),
			reduceTask("s1", 1, TaskRunning, "", att("r1", "w1", 1, AttemptRunning, 50, 0, "")),
		})
	})

	t.Run("a failed task's next attempt", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), fail("m0", "w1", 1, 41, "oom"),
			assign(42, asg("m0-1", "s1", KindMap, 0, "w2", 1)))
		wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskRunning, "",
			att("m0", "w1", 1, AttemptFailed, 40, 41, "oom"),
			att("m0-1", "w2", 1, AttemptRunning, 42, 0, "")))
	})

	// Each rejected batch starts with a valid assignment: Assign is all or
	// nothing, so that one must not be applied either.
	good := asg("ok", "s1", KindMap, 1, "w1", 1)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, s *State)
		bad   Assignment
		want  error
		// pairOnly: bad is only wrong next to good.
		pairOnly bool
	}{
		{"unknown step", nil, asg("x", "nope", KindMap, 0, "w1", 1), ErrNotFound, false},
		{"unknown kind", nil, asg("x", "s1", "SHUFFLE", 0, "w1", 1), ErrNotFound, false},
		{"empty kind", nil, asg("x", "s1", "", 0, "w1", 1), ErrNotFound, false},
		{"index below range", nil, asg("x", "s1", KindMap, -1, "w1", 1), ErrNotFound, false},
		{"index above range", nil, asg("x", "s1", KindMap, 3, "w1", 1), ErrNotFound, false},
		{"reduce index above range", nil, asg("x", "s1", KindReduce, 2, "w1", 1), ErrNotFound, false},
		{"pending step", func(t *testing.T, s *State) { mustApply(t, s, submit("s2", "/out/s2", 1, 1, 35)) },
			asg("x", "s2", KindMap, 0, "w1", 1), ErrConflict, false},
		{"ended step", func(t *testing.T, s *State) {
			mustApply(t, s, submit("s2", "/out/s2", 1, 1, 35), start("s2", 1, 36), &CancelStep{ID: "s2", Time: 37})
		}, asg("x", "s2", KindMap, 0, "w1", 1), ErrConflict, false},
		{"running task", func(t *testing.T, s *State) { mustApply(t, s, assign(38, asg("m0", "s1", KindMap, 0, "w2", 1))) },
			asg("x", "s1", KindMap, 0, "w1", 1), ErrConflict, false},
		{"succeeded task", func(t *testing.T, s *State) {
			mustApply(t, s, assign(38, asg("m0", "s1", KindMap, 0, "w2", 1)), succeed("m0", "w2", 1, 39, nil))
		}, asg("x", "s1", KindMap, 0, "w1", 1), ErrConflict, false},
		{"reduce before any map succeeded", nil, asg("x", "s1", KindReduce, 0, "w1", 1), ErrConflict, false},
		{"reduce before every map succeeded", func(t *testing.T, s *State) {
			mustApply(t, s, assign(38, asg("m0", "s1", KindMap, 0, "w2", 1), asg("m2", "s1", KindMap, 2, "w2", 1)),
				succeed("m0", "w2", 1, 39, nil), succeed("m2", "w2", 1, 39, nil))
		}, asg("x", "s1", KindReduce, 0, "w1", 1), ErrConflict, false},
		{"unknown worker", nil, asg("x", "s1", KindMap, 0, "w9", 1), ErrStale, false},
		{"dead worker", func(t *testing.T, s *State) { mustApply(t, s, regW("w3", 1, 35), down("w3", 1, "x", 36)) },
			asg("x", "s1", KindMap, 0, "w3", 1), ErrStale, false},
		{"draining worker", func(t *testing.T, s *State) { mustApply(t, s, regW("w3", 1, 35), &DrainWorker{ID: "w3", Time: 36}) },
			asg("x", "s1", KindMap, 0, "w3", 1), ErrConflict, false},
		{"old incarnation", func(t *testing.T, s *State) { mustApply(t, s, regW("w2", 2, 35)) },
			asg("x", "s1", KindMap, 0, "w2", 1), ErrStale, false},
		{"future incarnation", nil, asg("x", "s1", KindMap, 0, "w2", 2), ErrStale, false},
		{"attempt id twice in the batch", nil, asg("ok", "s1", KindMap, 0, "w1", 1), ErrConflict, true},
		{"task twice in the batch", nil, asg("x", "s1", KindMap, 1, "w2", 1), ErrConflict, true},
		{"task twice in the batch, once as a backup", nil, backup("x", "s1", KindMap, 1, "w2", 1), ErrConflict, false},
		{"existing attempt id", func(t *testing.T, s *State) {
			mustApply(t, s, assign(38, asg("m0", "s1", KindMap, 0, "w2", 1)), fail("m0", "w2", 1, 39, "x"))
		}, asg("m0", "s1", KindMap, 2, "w1", 1), ErrConflict, false},
		{"existing attempt id of another step", func(t *testing.T, s *State) {
			mustApply(t, s, submit("s2", "/out/s2", 1, 1, 35), start("s2", 1, 36), assign(38, asg("x", "s2", KindMap, 0, "w2", 1)))
		}, asg("x", "s1", KindMap, 0, "w1", 1), ErrConflict, false},
		{"backup of a pending task", nil, backup("x", "s1", KindMap, 0, "w2", 1), ErrConflict, false},
		{"backup on the running attempt's worker", func(t *testing.T, s *State) { mustApply(t, s, assign(38, asg("m0", "s1", KindMap, 0, "w2", 1))) },
			backup("x", "s1", KindMap, 0, "w2", 1), ErrConflict, false},
		{"second backup", func(t *testing.T, s *State) {
			mustApply(t, s, regW("w3", 1, 35), assign(38, asg("m0", "s1", KindMap, 0, "w2", 1)), assign(39, backup("m0x", "s1", KindMap, 0, "w3", 1)))
		}, backup("x", "s1", KindMap, 0, "w1", 1), ErrConflict, false},
		{"backup of a succeeded task", func(t *testing.T, s *State) {
			mustApply(t, s, assign(38, asg("m0", "s1", KindMap, 0, "w2", 1)), succeed("m0", "w2", 1, 39, nil))
		}, backup("x", "s1", KindMap, 0, "w1", 1), ErrConflict, false},
		{"backup on a dead worker", func(t *testing.T, s *State) {
			mustApply(t, s, regW("w3", 1, 35), down("w3", 1, "x", 36), assign(38, asg("m0", "s1", KindMap, 0, "w2", 1)))
		}, backup("x", "s1", KindMap, 0, "w3", 1), ErrStale, false},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			s := cluster(t)
			if tc.setup != nil {
				tc.setup(t, s)
			}
			mustReject(t, s, assign(50, good, tc.bad), tc.want)
			mustReject(t, s, assign(50, tc.bad, good), tc.want)
			if !tc.pairOnly {
				mustReject(t, s, assign(50, tc.bad), tc.want)
			}
			mustApply(t, s, assign(51, good)) // the good one alone is fine
		})
	}
}

func TestAssignBackup(t *testing.T) {
	s := cluster(t)
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), assign(45, backup("m0x", "s1", KindMap, 0, "w2", 1)))
	wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskRunning, "",
		att("m0", "w1", 1, AttemptRunning, 40, 0, ""), speculative(att("m0x", "w2", 1, AttemptRunning, 45, 0, ""))))
	if tk := getTask(t, s, "s1", KindMap, 0); !tk.HasBackup() || len(tk.Running()) != 2 {
		t.Fatalf("HasBackup %v, %d running", tk.HasBackup(), len(tk.Running()))
	}
	wantEqual(t, "counters", getStep(t, s, "s1").Counters, map[string]int64{LaunchedMaps: 2, SpeculativeAttempts: 1})
	for _, w := range []string{"w1", "w2"} {
		if got := s.View().RunningOn(w, 1); len(got) != 1 || got[0].Index != 0 {
			t.Fatalf("RunningOn(%s) = %s", w, js1(got))
		}
	}
	// A backup of a reduce, in the reduce phase.
	r := cluster(t)
	mapsDone(t, r)
	mustApply(t, r, assign(50, asg("r0", "s1", KindReduce, 0, "w1", 1)), assign(51, backup("r0x", "s1", KindReduce, 0, "w2", 1)))
	wantEqual(t, "counters", getStep(t, r, "s1").Counters, map[string]int64{"RECORDS": 7, LaunchedMaps: 3, LaunchedReduces: 2, SpeculativeAttempts: 1})
}

// ---------------------------------------------------------------------------
// FinishAttempt
// ---------------------------------------------------------------------------

func TestFinishAttempt(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
		c := succeed("m0", "w1", 1, 45, map[string]int64{"RECORDS": 7}, `{"spills":["spill-0","spill-1"]}`)
		mustApply(t, s, c)
		c.Commit[2] = 'X' // the state keeps its own copy of the commit record
		a := att("m0", "w1", 1, AttemptSucceeded, 40, 45, "")
		a.Counters = map[string]int64{"RECORDS": 7}
		a.Commit = []byte(`{"spills":["spill-0","spill-1"]}`)
		task := getTask(t, s, "s1", KindMap, 0)
		wantEqual(t, "map 0", task, mapTask("s1", 0, TaskSucceeded, "m0", a))
		if w := task.WinningAttempt(); w != &task.Attempts[0] {
			t.Fatalf("WinningAttempt = %v", w)
		}
		st := getStep(t, s, "s1")
		if st.State != StepRunning || st.MapsDone != 1 {
			t.Fatalf("step %s, %d maps done", st.State, st.MapsDone)
		}
		wantEqual(t, "counters", st.Counters, map[string]int64{"RECORDS": 7, LaunchedMaps: 1})
		// A repeated report of the finished attempt is stale.
		mustReject(t, s, succeed("m0", "w1", 1, 46, nil), ErrStale)
		mustReject(t, s, fail("m0", "w1", 1, 46, "late"), ErrStale)
	})

	t.Run("rejects", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s,
			regW("w3", 1, 12),
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1), asg("m2", "s1", KindMap, 2, "w3", 1)),
			fail("m1", "w2", 1, 41, "x"),
			down("w3", 1, "gone", 42),
		)
		mustReject(t, s, succeed("nope", "w1", 1, 50, nil), ErrNotFound)
		mustReject(t, s, succeed("m0", "w2", 1, 50, nil), ErrStale)     // wrong worker
		mustReject(t, s, succeed("m0", "w1", 2, 50, nil), ErrStale)     // wrong incarnation
		mustReject(t, s, fail("m0", "w1", 0, 50, "x"), ErrStale)        // wrong incarnation
		mustReject(t, s, fatal("m0", "w1", 0, 50, "x"), ErrStale)       // wrong incarnation
		mustReject(t, s, succeed("m1", "w2", 1, 50, nil), ErrStale)     // already failed
		mustReject(t, s, succeed("m2", "w3", 1, 50, nil), ErrStale)     // killed
		mustReject(t, s, fail("m2", "w3", 1, 50, "whatever"), ErrStale) // killed
		mustReject(t, s, fatal("m2", "w3", 1, 50, "whatever"), ErrStale)
	})

	t.Run("failure puts the task back to pending", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), fail("m0", "w1", 1, 45, "out of memory"))
		wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskPending, "", att("m0", "w1", 1, AttemptFailed, 40, 45, "out of memory")))
		st := getStep(t, s, "s1")
		if st.State != StepRunning || st.Error != "" || st.EndedAt != 0 {
			t.Fatalf("step %s %q %d", st.State, st.Error, st.EndedAt)
		}
		wantEqual(t, "counters", st.Counters, map[string]int64{LaunchedMaps: 1, FailedMaps: 1})
		wantEqual(t, "failures", st.FailuresOn, map[string]int{"w1": 1})
	})

	t.Run("MaxAttempts failures fail the task and the step", func(t *testing.T) {
		s := cluster(t) // MaxAttempts 2
		mustApply(t, s,
			assign(40, asg("a0", "s1", KindMap, 0, "w1", 1), asg("b0", "s1", KindMap, 1, "w1", 1), asg("c0", "s1", KindMap, 2, "w2", 1)),
			succeed("c0", "w2", 1, 41, nil),
			fail("a0", "w1", 1, 42, "e1"),
			assign(43, asg("a1", "s1", KindMap, 0, "w2", 1)),
			fail("a1", "w2", 1, 44, "e2"),
		)
		wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskFailed, "", att("a0", "w1", 1, AttemptFailed, 40, 42, "e1"), att("a1", "w2", 1, AttemptFailed, 43, 44, "e2")),
			mapTask("s1", 1, TaskPending, "", att("b0", "w1", 1, AttemptKilled, 40, 44, "step failed")),
			mapTask("s1", 2, TaskSucceeded, "c0", att("c0", "w2", 1, AttemptSucceeded, 40, 41, "")),
		})
		st := getStep(t, s, "s1")
		if st.State != StepFailed || st.EndedAt != 44 || st.CleanedUp {
			t.Fatalf("step %s ended %d cleaned %v", st.State, st.EndedAt, st.CleanedUp)
		}
		if want := "map task 0 failed 2 times:\n  a0 on w1: e1\n  a1 on w2: e2"; st.Error != want {
			t.Fatalf("step error %q, want %q", st.Error, want)
		}
		if p := st.Phase(); p != PhaseNone {
			t.Fatalf("phase %q", p)
		}
		wantEqual(t, "counters", st.Counters, map[string]int64{LaunchedMaps: 4, FailedMaps: 2, KilledMaps: 1})
		wantEqual(t, "failures", st.FailuresOn, map[string]int{"w1": 1, "w2": 1})
		mustReject(t, s, assign(45, asg("a2", "s1", KindMap, 0, "w1", 1)), ErrConflict)
	})

	t.Run("reduce failures", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s,
			assign(50, asg("r0", "s1", KindReduce, 1, "w1", 1)), fail("r0", "w1", 1, 51, "x"),
			assign(52, asg("r1", "s1", KindReduce, 1, "w1", 1)), fail("r1", "w1", 1, 53, "y"),
		)
		st := getStep(t, s, "s1")
		if want := "reduce task 1 failed 2 times:\n  r0 on w1: x\n  r1 on w1: y"; st.State != StepFailed || st.Error != want {
			t.Fatalf("step %s %q, want FAILED %q", st.State, st.Error, want)
		}
		if r0, r1 := getTask(t, s, "s1", KindReduce, 0), getTask(t, s, "s1", KindReduce, 1); r1.State != TaskFailed || r0.State != TaskPending {
			t.Fatalf("reduces %s %s", r0.State, r1.State)
		}
		wantEqual(t, "failures", st.FailuresOn, map[string]int{"w1": 2})
	})

	t.Run("killed attempts do not count as failures", func(t *testing.T) {
		s := cluster(t) // MaxAttempts 2
		mustApply(t, s,
			regW("w3", 1, 12),
			assign(40, asg("a0", "s1", KindMap, 0, "w3", 1)),
			down("w3", 1, "gone", 41),
			assign(42, asg("a1", "s1", KindMap, 0, "w1", 1)),
			fail("a1", "w1", 1, 43, "e1"),
		)
		if st, tk := getStep(t, s, "s1"), getTask(t, s, "s1", KindMap, 0); st.State != StepRunning || tk.State != TaskPending {
			t.Fatalf("step %s, task %s; want RUNNING, PENDING", st.State, tk.State)
		}
		mustApply(t, s, assign(44, asg("a2", "s1", KindMap, 0, "w2", 1)), fail("a2", "w2", 1, 45, "e2"))
		st := getStep(t, s, "s1")
		if want := "map task 0 failed 2 times:\n  a1 on w1: e1\n  a2 on w2: e2"; st.State != StepFailed || st.Error != want {
			t.Fatalf("step %s %q, want FAILED %q", st.State, st.Error, want)
		}
	})

	t.Run("MaxAttempts below 1 means one attempt", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 1, 1), submit("s1", "/o", 1, 0, 2), start("s1", 1, 3),
			assign(4, asg("a0", "s1", KindMap, 0, "w1", 1)), fail("a0", "w1", 1, 5, "boom"))
		if st := getStep(t, s, "s1"); st.State != StepFailed || st.Error != "map task 0 failed 1 times:\n  a0 on w1: boom" {
			t.Fatalf("step %s %q", st.State, st.Error)
		}
	})

	t.Run("fatal failure fails the step at once", func(t *testing.T) {
		s := cluster(t) // MaxAttempts 2: a plain failure would be retried
		mustApply(t, s, assign(40, asg("a0", "s1", KindMap, 0, "w1", 1), asg("b0", "s1", KindMap, 1, "w2", 1)))
		mustApply(t, s, fatal("b0", "w2", 1, 41, "corrupt input"))
		st := getStep(t, s, "s1")
		if st.State != StepFailed || st.Error != "map task 1: corrupt input" || st.EndedAt != 41 {
			t.Fatalf("step %s %q %d", st.State, st.Error, st.EndedAt)
		}
		wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
			mapTask("s1", 0, TaskPending, "", att("a0", "w1", 1, AttemptKilled, 40, 41, "step failed")),
			mapTask("s1", 1, TaskFailed, "", att("b0", "w2", 1, AttemptFailed, 40, 41, "corrupt input")),
			mapTask("s1", 2, TaskPending, ""),
		})
		wantEqual(t, "counters", st.Counters, map[string]int64{LaunchedMaps: 2, FailedMaps: 1, KilledMaps: 1})
		wantEqual(t, "failures", st.FailuresOn, map[string]int{"w2": 1})
	})

	t.Run("fatal reduce failure", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s, assign(50, asg("r", "s1", KindReduce, 1, "w1", 1)), fatal("r", "w1", 1, 51, "bad record"))
		if st := getStep(t, s, "s1"); st.State != StepFailed || st.Error != "reduce task 1: bad record" {
			t.Fatalf("step %s %q", st.State, st.Error)
		}
	})
}

// TestFinishAttemptSpeculative covers a task with more than one attempt
// running: an attempt and its backup.
func TestFinishAttemptSpeculative(t *testing.T) {
	// base: s1's map 0 runs as m0 on w1 and, speculatively, as m0s on w2.
	base := func(t *testing.T) *State {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), assign(41, backup("m0s", "s1", KindMap, 0, "w2", 1)))
		return s
	}

	t.Run("first success kills the other running attempts", func(t *testing.T) {
		s := base(t)
		mustApply(t, s, succeed("m0s", "w2", 1, 45, map[string]int64{"N": 1}))
		b := speculative(withCounters(att("m0s", "w2", 1, AttemptSucceeded, 41, 45, ""), map[string]int64{"N": 1}))
		wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskSucceeded, "m0s",
			att("m0", "w1", 1, AttemptKilled, 40, 45, "another attempt succeeded"), b))
		wantEqual(t, "counters", getStep(t, s, "s1").Counters, map[string]int64{"N": 1, LaunchedMaps: 2, KilledMaps: 1, SpeculativeAttempts: 1})
		mustReject(t, s, succeed("m0", "w1", 1, 46, nil), ErrStale)
		if got := s.View().RunningOn("w1", 1); len(got) != 0 {
			t.Fatalf("killed attempt still indexed as running: %s", js1(got))
		}
	})

	t.Run("a failure while another attempt runs keeps the task running", func(t *testing.T) {
		s := base(t)
		mustApply(t, s, fail("m0", "w1", 1, 45, "e"))
		task, st := getTask(t, s, "s1", KindMap, 0), getStep(t, s, "s1")
		if task.State != TaskRunning || task.Attempts[0].State != AttemptFailed || st.State != StepRunning {
			t.Fatalf("task %s, attempt %s, step %s", task.State, task.Attempts[0].State, st.State)
		}
		mustApply(t, s, succeed("m0s", "w2", 1, 46, nil))
		if task := getTask(t, s, "s1", KindMap, 0); task.State != TaskSucceeded || task.Winner != "m0s" {
			t.Fatalf("task %s winner %q", task.State, task.Winner)
		}
	})

	t.Run("the last failure allowed fails the task once no attempt runs", func(t *testing.T) {
		s := restoreWith(t, base(t), func(w *tx) { w.editStep("s1", func(st *Step) { st.Spec.MaxAttempts = 1 }) })
		mustApply(t, s, fail("m0", "w1", 1, 45, "e"))
		if st := getStep(t, s, "s1"); st.State != StepRunning {
			t.Fatalf("step %s while the backup runs", st.State)
		}
		mustApply(t, s, &KillAttempt{AttemptID: "m0s", Reason: "x", Time: 46})
		if st := getStep(t, s, "s1"); st.State != StepFailed || st.Error != "map task 0 failed 1 times:\n  m0 on w1: e" {
			t.Fatalf("step %s %q", st.State, st.Error)
		}
	})

	t.Run("worker down kills only its attempt", func(t *testing.T) {
		s := base(t)
		mustApply(t, s, down("w1", 1, "x", 45))
		task := getTask(t, s, "s1", KindMap, 0)
		if task.State != TaskRunning || task.Attempts[0].State != AttemptKilled || task.Attempts[1].State != AttemptRunning {
			t.Fatalf("task %s", js1(task))
		}
	})

	t.Run("the step ending kills both", func(t *testing.T) {
		s := base(t)
		mustApply(t, s, &CancelStep{ID: "s1", Time: 45})
		task := getTask(t, s, "s1", KindMap, 0)
		if task.State != TaskPending || task.Attempts[0].State != AttemptKilled || task.Attempts[1].State != AttemptKilled {
			t.Fatalf("task %s", js1(task))
		}
	})

	// late: map 0 already won by m0 (counters N=1) while m0s still runs.
	// Apply never makes this (the winner kills the other attempts); a
	// snapshot can carry it.
	late := func(t *testing.T) *State {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), succeed("m0", "w1", 1, 42, map[string]int64{"N": 1}))
		return restoreWith(t, s, func(w *tx) {
			tk, _ := w.Task("s1", KindMap, 0)
			w.editTask(tk, func(tk *Task) {
				tk.Attempts = append(tk.Attempts, att("m0s", "w2", 1, AttemptRunning, 41, 0, ""))
			})
			w.editStep("s1", func(st *Step) { addCounter(st, LaunchedMaps, 1) })
		})
	}

	t.Run("second success is recorded but does not win", func(t *testing.T) {
		s := late(t)
		mustApply(t, s, succeed("m0s", "w2", 1, 45, map[string]int64{"N": 100}, `"f"`))
		a := withCounters(att("m0", "w1", 1, AttemptSucceeded, 40, 42, ""), map[string]int64{"N": 1})
		b := withCounters(att("m0s", "w2", 1, AttemptSucceeded, 41, 45, ""), map[string]int64{"N": 100})
		b.Commit = []byte(`"f"`)
		wantEqual(t, "map 0", getTask(t, s, "s1", KindMap, 0), mapTask("s1", 0, TaskSucceeded, "m0", a, b))
		st := getStep(t, s, "s1")
		wantEqual(t, "counters", st.Counters, map[string]int64{"N": 1, LaunchedMaps: 2})
		if st.MapsDone != 1 {
			t.Fatalf("%d maps done", st.MapsDone)
		}
	})

	t.Run("late failure changes nothing but the attempt", func(t *testing.T) {
		s := restoreWith(t, late(t), func(w *tx) { w.editStep("s1", func(st *Step) { st.Spec.MaxAttempts = 1 }) })
		mustApply(t, s, fail("m0s", "w2", 1, 45, "e"))
		task, st := getTask(t, s, "s1", KindMap, 0), getStep(t, s, "s1")
		if task.State != TaskSucceeded || task.Winner != "m0" || task.Attempts[1].State != AttemptFailed || st.State != StepRunning {
			t.Fatalf("task %s winner %q attempt %s step %s", task.State, task.Winner, task.Attempts[1].State, st.State)
		}
	})
}

// TestFatalFailureKillsBackup checks that when an attempt fails fatally
// while its task's backup attempt runs, the step fails and the backup is
// killed with the step's other running attempts.
func TestFatalFailureKillsBackup(t *testing.T) {
	s := cluster(t)
	mustApply(t, s,
		assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)),
		assign(41, backup("m0s", "s1", KindMap, 0, "w2", 1)),
		fatal("m0", "w1", 1, 42, "corrupt input"),
	)
	st := getStep(t, s, "s1")
	if st.State != StepFailed || st.Error != "map task 0: corrupt input" {
		t.Fatalf("step %s %q", st.State, st.Error)
	}
	if m1 := getTask(t, s, "s1", KindMap, 1); m1.Attempts[0].State != AttemptKilled {
		t.Fatalf("map 1 %s", js1(m1))
	}
	m0 := getTask(t, s, "s1", KindMap, 0)
	if m0.State != TaskFailed || m0.Attempts[1].State != AttemptKilled {
		t.Fatalf("FinishAttempt{Fatal} sets the task FAILED before endStep, and endStep only kills the attempts of "+
			"tasks in state RUNNING (TasksIn(id, kind, TaskRunning)), so the backup of the fatally failed task keeps running "+
			"in a FAILED step: task %s", js1(m0))
	}
	// And so a late success of that backup cannot win a task of the failed step.
	if err := s.Apply(succeed("m0s", "w2", 1, 43, nil)); !errors.Is(err, ErrStale) {
		t.Fatalf("success of the backup after the step failed: %v, want ErrStale; step %s", err, js1(getStep(t, s, "s1")))
	}
}

// TestAssignDecommissioningWorker checks that a worker being
// decommissioned, or decommissioned, takes no new attempts, as a draining
// one: the scheduler gives it none, and Apply must refuse a plan made
// before it started decommissioning.
func TestAssignDecommissioningWorker(t *testing.T) {
	for _, finish := range []bool{false, true} {
		s := cluster(t)
		mustApply(t, s, &DecommissionWorker{ID: "w1", Time: 35})
		if finish {
			mustApply(t, s, &FinishDecommission{ID: "w1", Time: 36})
		}
		state := getWorker(t, s, "w1").State
		before := digest(t, s)
		err := s.Apply(assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
		if err == nil {
			t.Fatalf("Assign accepts a new attempt on a %s worker: apply.go's assign refuses only WorkerDraining, "+
				"and Worker.Up() now counts DECOMMISSIONING and DECOMMISSIONED workers as up", state)
		}
		if !errors.Is(err, ErrConflict) || digest(t, s) != before {
			t.Fatalf("assign to a %s worker: %v, want ErrConflict and no change", state, err)
		}
	}
}

// TestApplyCopiesCommandData checks that the state does not share maps or
// slices with the command it applied: a caller reusing a command value
// must not be able to change the state behind Apply's back.
func TestApplyCopiesCommandData(t *testing.T) {
	s := cluster(t)
	c := succeed("m0", "w1", 1, 45, map[string]int64{"RECORDS": 7}, `"f0"`)
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), c)
	c.Commit[1] = 'X'
	c.Counters["RECORDS"] = 1000
	a := getTask(t, s, "s1", KindMap, 0).Attempts[0]
	if string(a.Commit) != `"f0"` {
		t.Fatalf("Commit shared with the command: %s", a.Commit)
	}
	if a.Counters["RECORDS"] != 7 {
		t.Fatalf("Counters shared with the command: %v", a.Counters)
	}
	if n := getStep(t, s, "s1").Counters["RECORDS"]; n != 7 {
		t.Fatalf("step counters %d", n)
	}

	sub := submit("s2", "/out/s2", 1, 1, 50)
	sub.Input.Splits = 1
	add := &AddSplits{ID: "s2", Splits: splits(1)}
	mustApply(t, s, sub, add)
	sub.Spec.Options["lower"] = "no"
	sub.Spec.Inputs[0] = "/x"
	add.Splits[0].File = "/x"
	st := getStep(t, s, "s2")
	if st.Spec.Options["lower"] != "true" || st.Spec.Inputs[0] != "/in/a" {
		t.Fatalf("spec shared with the command: %s", js1(st.Spec))
	}
	if m := getTask(t, s, "s2", KindMap, 0); m.Split.File != "/in/f0" {
		t.Fatalf("split shared with the command: %s", js1(m.Split))
	}
}

// ---------------------------------------------------------------------------
// CancelStep, FailStep
// ---------------------------------------------------------------------------

func TestEndStep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		end    func(id, text string, now int64) Command
		state  StepState
		killed string
		// started is the state of a step that had started (a cancelled
		// one is CANCEL_PENDING until its output is removed).
		started StepState
	}{
		{"CancelStep", func(id, text string, now int64) Command { return &CancelStep{ID: id, Reason: text, Time: now} }, StepCancelled, "step cancel_pending", StepCancelPending},
		{"FailStep", func(id, text string, now int64) Command { return &FailStep{ID: id, Error: text, Time: now} }, StepFailed, "step failed", StepFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("pending step is cleaned up at once", func(t *testing.T) {
				s := New()
				mustApply(t, s, submit("s1", "/o", 1, 1, 10), tc.end("s1", "why", 20))
				wantEqual(t, "s1", getStep(t, s, "s1"), &Step{ID: "s1", Seq: 1, Spec: spec("/o", 1, 1), State: tc.state, SubmittedAt: 10, EndedAt: 20, Error: "why", CleanedUp: true})
				mustReject(t, s, start("s1", 1, 30), ErrConflict)
				if got := s.View().StepsToCleanUp(); len(got) != 0 {
					t.Fatalf("StepsToCleanUp = %s", js1(got))
				}
			})

			t.Run("running step kills its running attempts", func(t *testing.T) {
				s := cluster(t)
				mustApply(t, s,
					submit("s2", "/out/s2", 1, 1, 21), start("s2", 1, 31),
					assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1), asg("x0", "s2", KindMap, 0, "w1", 1)),
					succeed("m1", "w2", 1, 41, nil),
					tc.end("s1", "enough", 50),
				)
				st := getStep(t, s, "s1")
				if st.State != tc.started || st.Error != "enough" || st.EndedAt != 50 || st.CleanedUp || st.StartedAt != 30 {
					t.Fatalf("step %s", js(st))
				}
				wantEqual(t, "maps", mapsOf(s, "s1"), []*Task{
					mapTask("s1", 0, TaskPending, "", att("m0", "w1", 1, AttemptKilled, 40, 50, tc.killed)),
					mapTask("s1", 1, TaskSucceeded, "m1", att("m1", "w2", 1, AttemptSucceeded, 40, 41, "")),
					mapTask("s1", 2, TaskPending, ""),
				})
				wantEqual(t, "counters", st.Counters, map[string]int64{LaunchedMaps: 2, KilledMaps: 1})
				// Other steps are untouched.
				wantEqual(t, "s2 maps", mapsOf(s, "s2"), []*Task{mapTask("s2", 0, TaskRunning, "", att("x0", "w1", 1, AttemptRunning, 40, 0, ""))})
				mustReject(t, s, succeed("m0", "w1", 1, 51, nil), ErrStale)
				mustReject(t, s, assign(52, asg("m0b", "s1", KindMap, 0, "w1", 1)), ErrConflict)
				wantEqual(t, "to clean up", s.View().StepsToCleanUp(), []*Step{st})
				if tc.started == StepCancelPending {
					// Its output is busy until it is removed.
					mustReject(t, s, submit("s3", "/out/s1", 1, 1, 53), ErrConflict)
					mustApply(t, s, &StepCleanedUp{ID: "s1"})
				}
				// The output is free again.
				mustApply(t, s, submit("s3", "/out/s1", 1, 1, 53))
			})

			t.Run("step in its commit phase", func(t *testing.T) {
				s := cluster(t)
				allDone(t, s)
				mustApply(t, s, tc.end("s1", "commit output: disk full", 60))
				if st := getStep(t, s, "s1"); st.State != tc.started || st.Error != "commit output: disk full" {
					t.Fatalf("step %s %q", st.State, st.Error)
				}
				mustReject(t, s, &CompleteStep{ID: "s1", Time: 61}, ErrConflict)
				// Once its output is removed, it is in its final state.
				mustApply(t, s, &StepCleanedUp{ID: "s1"})
				if st := getStep(t, s, "s1"); st.State != tc.state || !st.CleanedUp {
					t.Fatalf("cleaned up: step %s", js(st))
				}
			})

			t.Run("rejects", func(t *testing.T) {
				s := cluster(t)
				mustReject(t, s, tc.end("nope", "x", 50), ErrNotFound)
				allDone(t, s)
				mustApply(t, s,
					&CompleteStep{ID: "s1", Time: 60},
					submit("c", "/out/c", 1, 1, 61), &CancelStep{ID: "c", Time: 62},
					submit("f", "/out/f", 1, 1, 63), start("f", 1, 64), &FailStep{ID: "f", Error: "e", Time: 65},
				)
				for _, id := range []string{"s1", "c", "f"} {
					mustReject(t, s, tc.end(id, "again", 70), ErrConflict)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------
// CompleteStep, StepCleanedUp
// ---------------------------------------------------------------------------

func TestCompleteStep(t *testing.T) {
	t.Run("commit phase", func(t *testing.T) {
		s := cluster(t)
		allDone(t, s)
		if p := getStep(t, s, "s1").Phase(); p != PhaseCommit {
			t.Fatalf("phase %q", p)
		}
		before := collect(s.View().Tasks("s1"))
		mustApply(t, s, &CompleteStep{ID: "s1", Time: 60})
		st := getStep(t, s, "s1")
		if st.State != StepCompleted || st.EndedAt != 60 || !st.CleanedUp || st.Error != "" || st.Phase() != PhaseNone {
			t.Fatalf("step %s", js(st))
		}
		// Completing changes no task: they are the very same objects.
		after := collect(s.View().Tasks("s1"))
		if len(after) != len(before) {
			t.Fatalf("%d tasks, had %d", len(after), len(before))
		}
		for i := range after {
			if after[i] != before[i] {
				t.Fatalf("task %d changed: %s -> %s", i, js1(before[i]), js1(after[i]))
			}
		}
		mustReject(t, s, &CompleteStep{ID: "s1", Time: 61}, ErrConflict)
		mustReject(t, s, &StepCleanedUp{ID: "nope"}, ErrNotFound)
		mustNotChange(t, s, &StepCleanedUp{ID: "s1"}) // already clean
	})
	t.Run("map-only and empty steps", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 1, 1),
			submit("e", "/e", 0, 1, 2), start("e", 0, 3), &CompleteStep{ID: "e", Time: 4},
			submit("m", "/m", 0, 1, 5), start("m", 1, 6))
		mustReject(t, s, &CompleteStep{ID: "m", Time: 7}, ErrConflict)
		mustApply(t, s, assign(8, asg("a", "m", KindMap, 0, "w1", 1)), succeed("a", "w1", 1, 9, nil), &CompleteStep{ID: "m", Time: 10})
		if e, m := getStep(t, s, "e"), getStep(t, s, "m"); e.State != StepCompleted || m.State != StepCompleted {
			t.Fatalf("states %s %s", e.State, m.State)
		}
	})
	t.Run("rejects", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, submit("p", "/out/p", 1, 1, 21))
		mustReject(t, s, &CompleteStep{ID: "nope", Time: 50}, ErrNotFound)
		mustReject(t, s, &CompleteStep{ID: "p", Time: 50}, ErrConflict)  // pending
		mustReject(t, s, &CompleteStep{ID: "s1", Time: 50}, ErrConflict) // map phase
		mapsDone(t, s)
		mustReject(t, s, &CompleteStep{ID: "s1", Time: 50}, ErrConflict) // reduce phase
		mustApply(t, s, assign(50, asg("r0", "s1", KindReduce, 0, "w2", 1)), succeed("r0", "w2", 1, 51, nil))
		mustReject(t, s, &CompleteStep{ID: "s1", Time: 52}, ErrConflict) // one reduce left
		mustApply(t, s, &CancelStep{ID: "p", Time: 53})
		mustReject(t, s, &CompleteStep{ID: "p", Time: 54}, ErrConflict) // cancelled
	})
}

func TestStepCleanedUp(t *testing.T) {
	s := cluster(t)
	mustApply(t, s, submit("p", "/out/p", 1, 1, 21))
	mustReject(t, s, &StepCleanedUp{ID: "nope"}, ErrNotFound)
	mustReject(t, s, &StepCleanedUp{ID: "p"}, ErrConflict)  // pending
	mustReject(t, s, &StepCleanedUp{ID: "s1"}, ErrConflict) // running
	mustApply(t, s, &FailStep{ID: "s1", Error: "e", Time: 50})
	if getStep(t, s, "s1").CleanedUp {
		t.Fatalf("started step cleaned up before StepCleanedUp")
	}
	wantEqual(t, "to clean up", stepsIDs(s.View().StepsToCleanUp()), []string{"s1"})
	mustApply(t, s, &StepCleanedUp{ID: "s1"})
	if !getStep(t, s, "s1").CleanedUp {
		t.Fatalf("not cleaned up")
	}
	mustNotChange(t, s, &StepCleanedUp{ID: "s1"}) // idempotent
	mustApply(t, s, submit("c", "/out/c", 1, 1, 60), start("c", 1, 61), &CancelStep{ID: "c", Time: 62})
	if getStep(t, s, "c").CleanedUp {
		t.Fatalf("started step cleaned up before StepCleanedUp")
	}
	wantEqual(t, "to clean up", stepsIDs(s.View().StepsToCleanUp()), []string{"c"})
	mustApply(t, s, &StepCleanedUp{ID: "c"})
	if c := getStep(t, s, "c"); !c.CleanedUp || c.State != StepCancelled {
		t.Fatalf("step %s", js(c))
	}
	if got := s.View().StepsToCleanUp(); len(got) != 0 {
		t.Fatalf("StepsToCleanUp = %s", js1(got))
	}
}

func stepsIDs(steps []*Step) []string {
	var out []string
	for _, st := range steps {
		out = append(out, st.ID)
	}
	return out
}

// ---------------------------------------------------------------------------
// Step.Phase, Step.Counters, Step.FailuresOn, Terminal
// ---------------------------------------------------------------------------

func TestStepPhase(t *testing.T) {
	s := cluster(t)
	check := func(want Phase) {
		t.Helper()
		if got := getStep(t, s, "s1").Phase(); got != want {
			t.Fatalf("phase %q, want %q", got, want)
		}
	}
	check(PhaseMap)
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)),
		succeed("m0", "w1", 1, 41, nil), succeed("m1", "w2", 1, 42, nil))
	check(PhaseMap) // map 2 has not succeeded
	mustApply(t, s, assign(43, asg("m2", "s1", KindMap, 2, "w2", 1)), succeed("m2", "w2", 1, 44, nil))
	check(PhaseReduce)
	mustApply(t, s, assign(45, asg("r0", "s1", KindReduce, 0, "w2", 1)), succeed("r0", "w2", 1, 46, nil))
	check(PhaseReduce)
	mustApply(t, s, down("w1", 1, "x", 47)) // map 0's output is lost
	check(PhaseMap)
	mustApply(t, s, assign(48, asg("m0b", "s1", KindMap, 0, "w2", 1)), succeed("m0b", "w2", 1, 49, nil),
		assign(50, asg("r1", "s1", KindReduce, 1, "w2", 1)), succeed("r1", "w2", 1, 51, nil))
	check(PhaseCommit)
	mustApply(t, s, &CompleteStep{ID: "s1", Time: 52})
	check(PhaseNone)

	for _, state := range []StepState{StepPending, StepCompleted, StepFailed, StepCancelled} {
		if p := (&Step{State: state, Maps: 1}).Phase(); p != PhaseNone {
			t.Fatalf("%s step has phase %q", state, p)
		}
	}
}

func TestStepCounters(t *testing.T) {
	s := cluster(t) // MaxAttempts 2
	if c := getStep(t, s, "s1").Counters; len(c) != 0 {
		t.Fatalf("counters before any attempt: %v", c)
	}
	var mid *View
	mustApply(t, s,
		regW("w3", 1, 12),
		// map 0: fails once, then wins on w2.
		assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), fail("m0", "w1", 1, 41, "x"),
		assign(42, asg("m0b", "s1", KindMap, 0, "w2", 1)), succeed("m0b", "w2", 1, 43, map[string]int64{"IN": 10, "OUT": 1}),
		// map 1: killed on w3, then wins on w1, whose output is lost below.
		assign(44, asg("m1", "s1", KindMap, 1, "w3", 1)), down("w3", 1, "gone", 45),
		assign(46, asg("m1b", "s1", KindMap, 1, "w1", 1)), succeed("m1b", "w1", 1, 47, map[string]int64{"IN": 20, "OUT": 2}),
		// map 2: the same; the new winners' counters count instead.
		assign(48, asg("m2", "s1", KindMap, 2, "w1", 1)), succeed("m2", "w1", 1, 49, map[string]int64{"IN": 1000, "OUT": 1000}),
	)
	mid = s.View()
	mustApply(t, s,
		regW("w1", 2, 50),
		assign(51, asg("m1c", "s1", KindMap, 1, "w2", 1), asg("m2b", "s1", KindMap, 2, "w2", 1)),
		succeed("m1c", "w2", 1, 52, map[string]int64{"IN": 20, "OUT": 2}),
		succeed("m2b", "w2", 1, 53, map[string]int64{"IN": 40, "OUT": 4}),
		// reduces: r0 wins, r1 fails then wins.
		assign(54, asg("r0", "s1", KindReduce, 0, "w2", 1), asg("r1", "s1", KindReduce, 1, "w1", 2)),
		succeed("r0", "w2", 1, 55, map[string]int64{"GROUPS": 3, "OUT": 100}),
		fail("r1", "w1", 2, 56, "y"),
		assign(57, asg("r1b", "s1", KindReduce, 1, "w2", 1)),
		succeed("r1b", "w2", 1, 58, map[string]int64{"GROUPS": 5, "OUT": 200}),
	)
	st := getStep(t, s, "s1")
	if p := st.Phase(); p != PhaseCommit {
		t.Fatalf("phase %q", p)
	}
	// Winners: m0b, m1c, m2b, r0, r1b. m1b and m2 succeeded but lost their
	// output when w1 restarted: their counters do not count.
	want := map[string]int64{
		"IN":     10 + 20 + 40,
		"OUT":    1 + 2 + 4 + 100 + 200,
		"GROUPS": 3 + 5,
		// map attempts: m0, m0b, m1, m1b, m1c, m2, m2b.
		LaunchedMaps: 7, FailedMaps: 1, KilledMaps: 1,
		LaunchedReduces: 3, FailedReduces: 1,
	}
	wantEqual(t, "counters", st.Counters, want)
	wantEqual(t, "recomputed", recount(s.View(), st), want)
	// The view taken before w1 restarted still sees its counters.
	old, _ := mid.Step("s1")
	wantEqual(t, "counters in the earlier view", old.Counters, map[string]int64{
		"IN": 10 + 20 + 1000, "OUT": 1 + 2 + 1000, LaunchedMaps: 5, FailedMaps: 1, KilledMaps: 1,
	})
	if old.MapsDone != 3 {
		t.Fatalf("earlier view: %d maps done", old.MapsDone)
	}
	mustApply(t, s, &CompleteStep{ID: "s1", Time: 60})
	wantEqual(t, "counters after completion", getStep(t, s, "s1").Counters, want)
}

func TestStepCountersKilledReduces(t *testing.T) {
	s := cluster(t)
	mapsDone(t, s)
	mustApply(t, s, assign(50, asg("r0", "s1", KindReduce, 0, "w2", 1)), &CancelStep{ID: "s1", Time: 51})
	wantEqual(t, "counters", getStep(t, s, "s1").Counters, map[string]int64{
		"RECORDS": 7, LaunchedMaps: 3, LaunchedReduces: 1, KilledReduces: 1,
	})
}

// TestCountersIncremental follows a step's counts and counters command by
// command, including map outputs lost (by report and with their worker)
// and counters that cancel out.
func TestCountersIncremental(t *testing.T) {
	s := cluster(t)
	check := func(what string, mapsDone, reducesDone int, want map[string]int64) {
		t.Helper()
		st := getStep(t, s, "s1")
		if st.MapsDone != mapsDone || st.ReducesDone != reducesDone {
			t.Fatalf("%s: done %d maps, %d reduces; want %d, %d", what, st.MapsDone, st.ReducesDone, mapsDone, reducesDone)
		}
		if len(want) == 0 {
			want = nil
		}
		got := st.Counters
		if len(got) == 0 {
			got = nil
		}
		wantEqual(t, what, got, want)
		wantEqual(t, what+" (recomputed)", recount(s.View(), st), want)
	}
	check("start", 0, 0, nil)
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)))
	check("two launched", 0, 0, map[string]int64{LaunchedMaps: 2})
	mustApply(t, s, succeed("m0", "w1", 1, 41, map[string]int64{"A": 5, "B": -5}))
	check("m0 won", 1, 0, map[string]int64{LaunchedMaps: 2, "A": 5, "B": -5})
	mustApply(t, s, succeed("m1", "w2", 1, 42, map[string]int64{"A": -5, "C": 0}))
	check("m1 won: A cancels out", 2, 0, map[string]int64{LaunchedMaps: 2, "B": -5})
	mustApply(t, s, assign(43, asg("m2", "s1", KindMap, 2, "w1", 1)), succeed("m2", "w1", 1, 44, map[string]int64{"A": 1}))
	check("maps done", 3, 0, map[string]int64{LaunchedMaps: 3, "A": 1, "B": -5})
	mustApply(t, s, assign(45, asg("r0", "s1", KindReduce, 0, "w2", 1)), succeed("r0", "w2", 1, 46, map[string]int64{"R": 9}))
	check("r0 won", 3, 1, map[string]int64{LaunchedMaps: 3, LaunchedReduces: 1, "A": 1, "B": -5, "R": 9})
	mustApply(t, s, &MapOutputLost{AttemptID: "m1", Reason: "fetch", Time: 47})
	check("m1's output lost", 2, 1, map[string]int64{LaunchedMaps: 3, LaunchedReduces: 1, "A": 6, "B": -5, "R": 9})
	mustApply(t, s, down("w1", 1, "gone", 48))
	check("w1's outputs lost", 0, 1, map[string]int64{LaunchedMaps: 3, LaunchedReduces: 1, "R": 9})
	mustApply(t, s, assign(49, asg("m0b", "s1", KindMap, 0, "w2", 1), asg("m1b", "s1", KindMap, 1, "w2", 1), asg("m2b", "s1", KindMap, 2, "w2", 1)),
		succeed("m0b", "w2", 1, 50, nil), fail("m1b", "w2", 1, 51, "x"), &KillAttempt{AttemptID: "m2b", Time: 52})
	check("mixed", 1, 1, map[string]int64{LaunchedMaps: 6, FailedMaps: 1, KilledMaps: 1, LaunchedReduces: 1, "R": 9})
	wantEqual(t, "failures", getStep(t, s, "s1").FailuresOn, map[string]int{"w2": 1})
	// The same state restored from a snapshot keeps counting the same way.
	r := roundTrip(t, s)
	for _, st := range []*State{s, r} {
		mustApply(t, st, assign(53, asg("m1c", "s1", KindMap, 1, "w2", 1)), succeed("m1c", "w2", 1, 54, map[string]int64{"A": 2}))
	}
	check("after more", 2, 1, map[string]int64{LaunchedMaps: 7, FailedMaps: 1, KilledMaps: 1, LaunchedReduces: 1, "R": 9, "A": 2})
	if digest(t, r) != digest(t, s) {
		t.Fatalf("restored state counts differently:\n%s\n%s", dumpStep(s, "s1"), dumpStep(r, "s1"))
	}
}

// recount computes a step's counters from its tasks' attempts.
func recount(v *View, st *Step) map[string]int64 {
	out := make(map[string]int64)
	for t := range v.Tasks(st.ID) {
		launched, failed, killed := countersOf(t.Kind)
		for _, a := range t.Attempts {
			out[launched]++
			if a.Speculative {
				out[SpeculativeAttempts]++
			}
			switch a.State {
			case AttemptFailed:
				out[failed]++
			case AttemptKilled:
				out[killed]++
			}
		}
		if w := t.WinningAttempt(); w != nil {
			for k, n := range w.Counters {
				out[k] += n
			}
		}
	}
	for k, n := range out {
		if n == 0 {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func TestFailuresOn(t *testing.T) {
	s := New()
	mustApply(t, s, regW("w1", 1, 1), regW("w2", 1, 2), regW("w3", 1, 3),
		submit("s1", "/o1", 1, 9, 4), start("s1", 4, 5),
		submit("s2", "/o2", 0, 9, 6), start("s2", 1, 7),
		// s1: a failure on w1, a hung attempt on w1, a failure on w2, a kill on w3.
		assign(10, asg("a", "s1", KindMap, 0, "w1", 1), asg("b", "s1", KindMap, 1, "w1", 1), asg("c", "s1", KindMap, 2, "w2", 1), asg("d", "s1", KindMap, 3, "w3", 1)),
		fail("a", "w1", 1, 11, "x"),
		&KillAttempt{AttemptID: "b", Reason: "hung", Failed: true, Time: 12},
		fail("c", "w2", 1, 13, "x"),
		&KillAttempt{AttemptID: "d", Reason: "user", Time: 14},
		// w1 restarts: its failures stay counted against the worker id.
		regW("w1", 2, 15),
		assign(16, asg("a2", "s1", KindMap, 0, "w1", 2)), fail("a2", "w1", 2, 17, "x"),
		// s2: one on w3, counted for s2 only.
		assign(18, asg("e", "s2", KindMap, 0, "w3", 1)), fail("e", "w3", 1, 19, "x"),
	)
	wantEqual(t, "s1", getStep(t, s, "s1").FailuresOn, map[string]int{"w1": 3, "w2": 1})
	wantEqual(t, "s2", getStep(t, s, "s2").FailuresOn, map[string]int{"w3": 1})
	// A fatal failure counts too.
	mustApply(t, s, assign(20, asg("f", "s1", KindMap, 3, "w3", 1)), fatal("f", "w3", 1, 21, "bad"))
	wantEqual(t, "s1 after fatal", getStep(t, s, "s1").FailuresOn, map[string]int{"w1": 3, "w2": 1, "w3": 1})
	wantEqual(t, "s1 failed counter", getStep(t, s, "s1").Counters[FailedMaps], int64(5))
}

func TestTerminal(t *testing.T) {
	for st, want := range map[StepState]bool{
		StepPending: false, StepCancelPending: false, StepRunning: false, StepCompleted: true, StepFailed: true, StepCancelled: true, StepInterrupted: true, "": false,
	} {
		if got := st.Terminal(); got != want {
			t.Errorf("%q.Terminal() = %v, want %v", st, got, want)
		}
		if got := st.Stopped(); got != (want || st == StepCancelPending) {
			t.Errorf("%q.Stopped() = %v", st, got)
		}
	}
	wantEqual(t, "StepStates", StepStates, []StepState{"PENDING", "CANCEL_PENDING", "RUNNING", "COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"})
}

// TestEnumValues pins the strings of the typed enums: they are in
// snapshots and the Raft log.
func TestEnumValues(t *testing.T) {
	for _, c := range [][2]string{
		{string(PhaseMap), "MAP"}, {string(PhaseReduce), "REDUCE"}, {string(PhaseCommit), "COMMIT"}, {string(PhaseNone), ""},
		{string(KindMap), "MAP"}, {string(KindReduce), "REDUCE"},
		{string(TaskPending), "PENDING"}, {string(TaskRunning), "RUNNING"}, {string(TaskSucceeded), "SUCCEEDED"}, {string(TaskFailed), "FAILED"},
		{string(AttemptRunning), "RUNNING"}, {string(AttemptSucceeded), "SUCCEEDED"}, {string(AttemptFailed), "FAILED"}, {string(AttemptKilled), "KILLED"},
		{string(RoleCore), "core"}, {string(RoleTask), "task"},
		{string(WorkerAlive), "ALIVE"}, {string(WorkerDraining), "DRAINING"}, {string(WorkerDead), "DEAD"},
	} {
		if c[0] != c[1] {
			t.Errorf("%q, want %q", c[0], c[1])
		}
	}
	for in, want := range map[string]WorkerRole{"core": RoleCore, "task": RoleTask} {
		if got, ok := ParseRole(in); !ok || got != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "Core", "master", "core "} {
		if got, ok := ParseRole(in); ok {
			t.Errorf("ParseRole(%q) = %q, true", in, got)
		}
	}
}

func TestAttemptID(t *testing.T) {
	for _, tc := range []struct {
		step     string
		kind     TaskKind
		index, n int
		want     string
	}{
		{"s-1", KindMap, 3, 0, "attempt_s-1_m_000003_0"},
		{"s-1ABC", KindMap, 3, 0, "attempt_s-1ABC_m_000003_0"},
		{"s-1", KindReduce, 0, 2, "attempt_s-1_r_000000_2"},
		{"s-X", KindMap, 123456, 11, "attempt_s-X_m_123456_11"},
		{"s-X", KindReduce, 1234567, 1, "attempt_s-X_r_1234567_1"},
	} {
		if got := AttemptID(tc.step, tc.kind, tc.index, tc.n); got != tc.want {
			t.Errorf("AttemptID(%q, %q, %d, %d) = %q, want %q", tc.step, tc.kind, tc.index, tc.n, got, tc.want)
		}
	}
	tk := &Task{Kind: KindReduce, Index: 4}
	if tk.Name() != "reduce task 4" || (&Task{Kind: KindMap, Index: 0}).Name() != "map task 0" {
		t.Errorf("Name() = %q", tk.Name())
	}
}

// ---------------------------------------------------------------------------
// Apply of unknown commands
// ---------------------------------------------------------------------------

type bogus struct{}

func (bogus) Type() CommandType { return 200 }

func TestApplyUnknownCommand(t *testing.T) {
	s := cluster(t)
	before := digest(t, s)
	// Apply takes the pointers Decode returns; values and foreign types are
	// refused without a sentinel.
	for _, c := range []Command{bogus{}, CancelStep{ID: "s1"}, RegisterWorker{Worker: worker("w9", 1)}, nil} {
		err := s.Apply(c)
		if err == nil {
			t.Fatalf("Apply(%T) accepted", c)
		}
		for _, e := range append(sentinels, ErrIgnored) {
			if errors.Is(err, e) {
				t.Fatalf("Apply(%T) = %v, matches %v", c, err, e)
			}
		}
	}
	if digest(t, s) != before {
		t.Fatalf("state changed")
	}
}
