package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/gomr/gomr/mapreduce"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// snap returns the state's snapshot (WriteTo) as a string.
func snap(t *testing.T, s *State) string {
	t.Helper()
	var b bytes.Buffer
	n, err := s.WriteTo(&b)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo returned %d, wrote %d bytes", n, b.Len())
	}
	return b.String()
}

// attemptKeys returns the ids in the attempt index, which WriteTo does not
// show, so that rejected commands can be checked not to touch it either.
func attemptKeys(s *State) []string {
	return slices.Sorted(maps.Keys(s.attempts))
}

func js(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
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

func mustApply(t *testing.T, s *State, cmds ...Command) {
	t.Helper()
	for _, c := range cmds {
		if err := s.Apply(c); err != nil {
			t.Fatalf("apply %s %s: %v", c.Type(), js(c), err)
		}
	}
}

var sentinels = []error{ErrNotFound, ErrConflict, ErrStale}

// mustReject applies c, expects an error wrapping want (and no other
// sentinel), and checks that neither the snapshot nor the attempt index
// changed.
func mustReject(t *testing.T, s *State, c Command, want error) {
	t.Helper()
	before, beforeIdx := snap(t, s), attemptKeys(s)
	err := s.Apply(c)
	if !errors.Is(err, want) {
		t.Fatalf("apply %s %s: got error %v, want %v", c.Type(), js(c), err, want)
	}
	for _, other := range sentinels {
		if other != want && errors.Is(err, other) {
			t.Fatalf("apply %s: error %q also matches %v", c.Type(), err, other)
		}
	}
	if after := snap(t, s); after != before {
		t.Fatalf("rejected %s changed the state:\nbefore %s\nafter  %s", c.Type(), before, after)
	}
	if afterIdx := attemptKeys(s); !slices.Equal(afterIdx, beforeIdx) {
		t.Fatalf("rejected %s changed the attempt index: %v -> %v", c.Type(), beforeIdx, afterIdx)
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

func submit(id, output string, reducers, maxAttempts int, now int64) *SubmitStep {
	return &SubmitStep{ID: id, Spec: spec(output, reducers, maxAttempts), Time: now}
}

func splits(n int) []mapreduce.Split {
	out := make([]mapreduce.Split, n)
	for i := range out {
		out[i] = mapreduce.Split{File: fmt.Sprintf("/in/f%d", i), Doc: fmt.Sprintf("/in/f%d", i), Offset: int64(i) * 100, Length: 100}
	}
	return out
}

func start(id string, nSplits int, now int64) *StartStep {
	return &StartStep{ID: id, Splits: splits(nSplits), Time: now}
}

func asg(id, step, kind string, index int, worker string, inc int64) Assignment {
	return Assignment{AttemptID: id, StepID: step, Kind: kind, Index: index, Worker: worker, Incarnation: inc}
}

func assign(now int64, as ...Assignment) *Assign {
	return &Assign{Assignments: as, Time: now}
}

func succeed(att, worker string, inc, now int64, counters map[string]int64, files ...string) *FinishAttempt {
	return &FinishAttempt{AttemptID: att, Worker: worker, Incarnation: inc, Success: true, Counters: counters, Files: files, Time: now}
}

func fail(att, worker string, inc, now int64, errText string) *FinishAttempt {
	return &FinishAttempt{AttemptID: att, Worker: worker, Incarnation: inc, Error: errText, Time: now}
}

// att is the attempt Assign creates (for the workers made by worker()).
func att(id, worker string, inc int64, state string, started, ended int64, errText string) *Attempt {
	return &Attempt{ID: id, Worker: worker, Incarnation: inc, Addr: worker + ":7070", State: state, StartedAt: started, EndedAt: ended, Error: errText}
}

// withCounters sets an expected attempt's counters.
func withCounters(a *Attempt, c map[string]int64) *Attempt {
	a.Counters = c
	return a
}

func mapTask(i int, state string, winner string, atts ...*Attempt) *Task {
	sp := splits(i + 1)[i]
	return &Task{Kind: KindMap, Index: i, Split: &sp, State: state, Attempts: atts, Winner: winner}
}

func reduceTask(i int, state string, winner string, atts ...*Attempt) *Task {
	return &Task{Kind: KindReduce, Index: i, State: state, Attempts: atts, Winner: winner}
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
		succeed("r0", "w2", 1, 51, map[string]int64{"OUT": 10}, "part-00000"),
		succeed("r1", "w2", 1, 52, map[string]int64{"OUT": 20}, "part-00001"),
	)
}

// restoreWith round-trips s through a snapshot, lets edit change the
// decoded copy, and restores the edited snapshot with Read, so that the
// attempt index is rebuilt from the edited data. It builds states that a
// snapshot can carry but Apply alone cannot reach.
func restoreWith(t *testing.T, s *State, edit func(*State)) *State {
	t.Helper()
	tmp, err := Read(strings.NewReader(snap(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	edit(tmp)
	out, err := Read(strings.NewReader(snap(t, tmp)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------------------
// RegisterPrimary
// ---------------------------------------------------------------------------

func TestRegisterPrimary(t *testing.T) {
	s := New()
	p1 := Primary{ID: "p1", Addr: "h1:9000", RaftAddr: "h1:9001", GossipAddr: "h1:9002"}
	p2 := Primary{ID: "p2", Addr: "h2:9000", RaftAddr: "h2:9001", GossipAddr: "h2:9002"}
	cmd := &RegisterPrimary{Primary: p1}
	mustApply(t, s, cmd, &RegisterPrimary{Primary: p2})
	cmd.Primary.Addr = "changed after apply"
	wantEqual(t, "primaries", s.Primaries, map[string]*Primary{"p1": {ID: "p1", Addr: "h1:9000", RaftAddr: "h1:9001", GossipAddr: "h1:9002"}, "p2": &p2})

	t.Run("same again is a no-op", func(t *testing.T) {
		before := snap(t, s)
		mustApply(t, s, &RegisterPrimary{Primary: p1})
		if after := snap(t, s); after != before {
			t.Fatalf("state changed: %s -> %s", before, after)
		}
	})
	t.Run("update replaces addresses", func(t *testing.T) {
		moved := Primary{ID: "p1", Addr: "h9:1", RaftAddr: "h9:2", GossipAddr: "h9:3"}
		mustApply(t, s, &RegisterPrimary{Primary: moved})
		wantEqual(t, "p1", s.Primaries["p1"], &moved)
		wantEqual(t, "p2", s.Primaries["p2"], &p2)
		if len(s.Primaries) != 2 {
			t.Fatalf("%d primaries, want 2", len(s.Primaries))
		}
	})
	t.Run("remove", func(t *testing.T) {
		r := New()
		mustApply(t, r, &RegisterPrimary{Primary: p1}, &RegisterPrimary{Primary: p2}, &RemovePrimary{ID: "p1"})
		wantEqual(t, "primaries", r.Primaries, map[string]*Primary{"p2": &p2})
		mustReject(t, r, &RemovePrimary{ID: "p1"}, ErrNotFound)
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
		wantEqual(t, "workers", s.Workers, map[string]*Worker{
			"w1": {ID: "w1", Incarnation: 3, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 100},
		})
		tw := Worker{ID: "t1", Incarnation: 1, Role: RoleTask, Addr: "t1:1", Slots: 1}
		mustApply(t, s, &RegisterWorker{Worker: tw, Time: 101})
		wantEqual(t, "task worker", s.Workers["t1"], &Worker{ID: "t1", Incarnation: 1, Role: RoleTask, Addr: "t1:1", Slots: 1, State: WorkerAlive, RegisteredAt: 101})
	})

	t.Run("idempotent", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
		before := snap(t, s)
		again := regW("w1", 1, 999)
		again.Worker.Addr, again.Worker.Slots = "elsewhere:1", 9
		mustApply(t, s, again, regW("w1", 1, 1000))
		if after := snap(t, s); after != before {
			t.Fatalf("repeated registration changed the state:\nbefore %s\nafter  %s", before, after)
		}
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
		wantEqual(t, "w1", s.Workers["w1"], &Worker{ID: "w1", Incarnation: 6, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 30})
	})

	t.Run("newer incarnation kills the old one's running attempts", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s,
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)),
			regW("w1", 2, 60),
		)
		wantEqual(t, "w1", s.Workers["w1"], &Worker{ID: "w1", Incarnation: 2, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 60})
		wantEqual(t, "maps", s.Steps["s1"].Maps, []*Task{
			mapTask(0, TaskPending, "", att("m0", "w1", 1, AttemptKilled, 40, 60, "worker restarted")),
			mapTask(1, TaskRunning, "", att("m1", "w2", 1, AttemptRunning, 40, 0, "")),
			mapTask(2, TaskPending, ""),
		})
		// The old incarnation's report is stale; the task can run again,
		// also on the new incarnation.
		mustReject(t, s, succeed("m0", "w1", 1, 61, nil), ErrStale)
		mustReject(t, s, assign(62, asg("m0b", "s1", KindMap, 0, "w1", 1)), ErrStale)
		mustApply(t, s, assign(62, asg("m0b", "s1", KindMap, 0, "w1", 2)))
	})

	t.Run("newer incarnation loses the old one's map outputs", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s, regW("w1", 2, 60))
		st := s.Steps["s1"]
		wantEqual(t, "maps", st.Maps, []*Task{
			mapTask(0, TaskPending, "", withCounters(att("m0", "w1", 1, AttemptSucceeded, 40, 41, "map output lost: worker restarted"), map[string]int64{"RECORDS": 1})),
			mapTask(1, TaskSucceeded, "m1", withCounters(att("m1", "w2", 1, AttemptSucceeded, 40, 42, ""), map[string]int64{"RECORDS": 2})),
			mapTask(2, TaskPending, "", withCounters(att("m2", "w1", 1, AttemptSucceeded, 40, 43, "map output lost: worker restarted"), map[string]int64{"RECORDS": 4})),
		})
		if p := st.Phase(); p != PhaseMap {
			t.Fatalf("phase %q, want MAP", p)
		}
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
		wantEqual(t, "w1", s.Workers["w1"], &Worker{ID: "w1", Incarnation: 1, Role: RoleCore, Addr: "w1:7070", Slots: 2, State: WorkerDead, RegisteredAt: 10, DownAt: 50, DownReason: "lost heartbeat"})
		wantEqual(t, "w2", s.Workers["w2"], &Worker{ID: "w2", Incarnation: 1, Role: RoleCore, Addr: "w2:7070", Slots: 2, State: WorkerAlive, RegisteredAt: 11})
		wantEqual(t, "s1 maps", s.Steps["s1"].Maps, []*Task{
			mapTask(0, TaskPending, "", att("m0", "w1", 1, AttemptKilled, 40, 50, "worker down: lost heartbeat")),
			mapTask(1, TaskRunning, "", att("m1", "w2", 1, AttemptRunning, 40, 0, "")),
			mapTask(2, TaskPending, ""),
		})
		wantEqual(t, "s2 maps", s.Steps["s2"].Maps, []*Task{
			mapTask(0, TaskPending, "", att("x0", "w1", 1, AttemptKilled, 40, 50, "worker down: lost heartbeat")),
		})
		if s.Steps["s1"].State != StepRunning || s.Steps["s2"].State != StepRunning {
			t.Fatalf("steps must keep running")
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
			succeed("z0", "w1", 1, 18, nil, "part-m-00000"),
			&CompleteStep{ID: "s0", Time: 19},
		)
		mapsDone(t, s)
		mustApply(t, s,
			assign(50, asg("r0", "s1", KindReduce, 0, "w2", 1), asg("r1", "s1", KindReduce, 1, "w2", 1)),
			succeed("r0", "w2", 1, 51, map[string]int64{"OUT": 10}),
		)
		s0Before := js(s.Steps["s0"])
		mustApply(t, s, down("w1", 1, "disk failed", 80))
		st := s.Steps["s1"]
		lost := "map output lost: worker down: disk failed"
		wantEqual(t, "maps", st.Maps, []*Task{
			mapTask(0, TaskPending, "", withCounters(att("m0", "w1", 1, AttemptSucceeded, 40, 41, lost), map[string]int64{"RECORDS": 1})),
			mapTask(1, TaskSucceeded, "m1", withCounters(att("m1", "w2", 1, AttemptSucceeded, 40, 42, ""), map[string]int64{"RECORDS": 2})),
			mapTask(2, TaskPending, "", withCounters(att("m2", "w1", 1, AttemptSucceeded, 40, 43, lost), map[string]int64{"RECORDS": 4})),
		})
		wantEqual(t, "reduces", st.Reduces, []*Task{
			reduceTask(0, TaskSucceeded, "r0", withCounters(att("r0", "w2", 1, AttemptSucceeded, 50, 51, ""), map[string]int64{"OUT": 10})),
			reduceTask(1, TaskRunning, "", att("r1", "w2", 1, AttemptRunning, 50, 0, "")),
		})
		if p := st.Phase(); p != PhaseMap {
			t.Fatalf("phase %q, want MAP", p)
		}
		if got := js(s.Steps["s0"]); got != s0Before {
			t.Fatalf("completed step changed:\n%s\n%s", s0Before, got)
		}
		// The lost maps run again on w2 with new attempts.
		mustApply(t, s,
			assign(81, asg("m0b", "s1", KindMap, 0, "w2", 1), asg("m2b", "s1", KindMap, 2, "w2", 1)),
			succeed("m0b", "w2", 1, 82, nil), succeed("m2b", "w2", 1, 83, nil),
		)
		if p := st.Phase(); p != PhaseReduce {
			t.Fatalf("phase %q, want REDUCE", p)
		}
		if st.Maps[0].Winner != "m0b" || st.Maps[2].Winner != "m2b" {
			t.Fatalf("winners %q %q, want m0b m2b", st.Maps[0].Winner, st.Maps[2].Winner)
		}
	})

	t.Run("map outputs kept once all reduces succeeded", func(t *testing.T) {
		s := cluster(t)
		allDone(t, s)
		before := js(s.Steps["s1"])
		mustApply(t, s, down("w1", 1, "gone", 80))
		if got := js(s.Steps["s1"]); got != before {
			t.Fatalf("step changed:\n%s\n%s", before, got)
		}
		if p := s.Steps["s1"].Phase(); p != PhaseCommit {
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
		s1, s2 := js(s.Steps["s1"]), js(s.Steps["s2"])
		mustApply(t, s, down("w1", 1, "gone", 50), regW("w1", 2, 51), regW("w2", 2, 52))
		if got := js(s.Steps["s1"]); got != s1 {
			t.Fatalf("cancelled step changed:\n%s\n%s", s1, got)
		}
		if got := js(s.Steps["s2"]); got != s2 {
			t.Fatalf("failed step changed:\n%s\n%s", s2, got)
		}
	})

	t.Run("map-only step keeps map outputs", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 1, 10), submit("s1", "/out", 0, 1, 20), start("s1", 2, 30),
			assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)),
			succeed("m0", "w1", 1, 41, nil, "part-m-00000"),
		)
		before := js(s.Steps["s1"])
		mustApply(t, s, down("w1", 1, "gone", 50))
		if got := js(s.Steps["s1"]); got != before {
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
		wantEqual(t, "maps", s.Steps["s1"].Maps, []*Task{
			mapTask(0, TaskPending, "", att("m0", "w1", 1, AttemptSucceeded, 40, 41, "map output lost: worker down: gone")),
			mapTask(1, TaskPending, "", att("m1", "w1", 1, AttemptKilled, 40, 50, "worker down: gone")),
			mapTask(2, TaskPending, ""),
		})
	})
}

// ---------------------------------------------------------------------------
// SubmitStep
// ---------------------------------------------------------------------------

func TestSubmitStep(t *testing.T) {
	s := New()
	c1 := submit("s1", "/out/a", 2, 3, 100)
	mustApply(t, s, c1, submit("s2", "/out/b", 0, 1, 200))
	// The state keeps its own copies of the spec's map and slice.
	c1.Spec.Options["lower"] = "false"
	c1.Spec.Inputs[0] = "/elsewhere"
	wantEqual(t, "s1", s.Steps["s1"], &Step{ID: "s1", Seq: 1, Spec: spec("/out/a", 2, 3), State: StepPending, SubmittedAt: 100})
	wantEqual(t, "s2", s.Steps["s2"], &Step{ID: "s2", Seq: 2, Spec: spec("/out/b", 0, 1), State: StepPending, SubmittedAt: 200})
	wantEqual(t, "order", s.Order, []string{"s1", "s2"})
	if s.NextSeq != 2 {
		t.Fatalf("NextSeq %d, want 2", s.NextSeq)
	}
	if got := s.StepsInOrder(); len(got) != 2 || got[0] != s.Steps["s1"] || got[1] != s.Steps["s2"] {
		t.Fatalf("StepsInOrder wrong: %s", js(got))
	}
	if p := s.Steps["s1"].Phase(); p != "" {
		t.Fatalf("pending step has phase %q", p)
	}

	t.Run("rejects", func(t *testing.T) {
		mustReject(t, s, submit("", "/out/c", 1, 1, 300), ErrConflict)
		mustReject(t, s, submit("s1", "/out/c", 1, 1, 300), ErrConflict)
		mustReject(t, s, submit("s3", "/out/a", 1, 1, 300), ErrConflict) // output of pending s1
		mustApply(t, s, start("s2", 0, 300))
		mustReject(t, s, submit("s3", "/out/b", 1, 1, 300), ErrConflict) // output of running s2
	})

	t.Run("output of an ended step can be reused, its id cannot", func(t *testing.T) {
		mustApply(t, s, &CancelStep{ID: "s1", Reason: "no", Time: 400})
		mustReject(t, s, submit("s1", "/out/z", 1, 1, 401), ErrConflict)
		mustApply(t, s, submit("s3", "/out/a", 1, 1, 402))
		wantEqual(t, "s3", s.Steps["s3"], &Step{ID: "s3", Seq: 3, Spec: spec("/out/a", 1, 1), State: StepPending, SubmittedAt: 402})
		wantEqual(t, "order", s.Order, []string{"s1", "s2", "s3"})
	})
}

// ---------------------------------------------------------------------------
// StartStep
// ---------------------------------------------------------------------------

func TestStartStep(t *testing.T) {
	s := New()
	mustApply(t, s, submit("s1", "/out/a", 2, 3, 100))
	c := start("s1", 3, 200)
	mustApply(t, s, c)
	c.Splits[0].File = "/changed" // the state keeps its own copy
	wantEqual(t, "s1", s.Steps["s1"], &Step{
		ID: "s1", Seq: 1, Spec: spec("/out/a", 2, 3), State: StepRunning, SubmittedAt: 100, StartedAt: 200,
		Maps:    []*Task{mapTask(0, TaskPending, ""), mapTask(1, TaskPending, ""), mapTask(2, TaskPending, "")},
		Reduces: []*Task{reduceTask(0, TaskPending, ""), reduceTask(1, TaskPending, "")},
	})
	if p := s.Steps["s1"].Phase(); p != PhaseMap {
		t.Fatalf("phase %q, want MAP", p)
	}

	t.Run("no splits", func(t *testing.T) {
		s := New()
		mustApply(t, s, submit("r", "/out/r", 2, 1, 1), start("r", 0, 2), submit("c", "/out/c", 0, 1, 3), start("c", 0, 4))
		if p := s.Steps["r"].Phase(); p != PhaseReduce {
			t.Fatalf("no splits, 2 reducers: phase %q, want REDUCE", p)
		}
		if p := s.Steps["c"].Phase(); p != PhaseCommit {
			t.Fatalf("no splits, no reducers: phase %q, want COMMIT", p)
		}
		if n := len(s.Steps["r"].Maps) + len(s.Steps["c"].Maps) + len(s.Steps["c"].Reduces); n != 0 {
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

// TestPlannedSplitsInBoundedEntries checks that a step's splits recorded
// over several AddSplits entries become its map tasks, in order, and that
// it cannot start before all of them are there or take more.
func TestPlannedSplitsInBoundedEntries(t *testing.T) {
	s := New()
	all := splits(5)
	mustApply(t, s, &SubmitStep{ID: "s-1", Spec: spec("/out", 2, 4), Input: InputSummary{Files: 5, Bytes: 500, Splits: 5}, Time: 1},
		&AddSplits{ID: "s-1", Splits: all[:2]}, &AddSplits{ID: "s-1", Splits: all[2:4]})
	if s.Steps["s-1"].PlanComplete() {
		t.Fatal("plan complete with 4 of 5 splits")
	}
	mustReject(t, s, &StartStep{ID: "s-1", Time: 2}, ErrConflict)
	mustReject(t, s, &AddSplits{ID: "s-1", Splits: all[3:]}, ErrConflict)
	mustApply(t, s, &AddSplits{ID: "s-1", Splits: all[4:]}, &StartStep{ID: "s-1", Time: 3})
	st := s.Steps["s-1"]
	if len(st.Maps) != 5 || len(st.Planned) != 0 || len(st.Reduces) != 2 {
		t.Fatalf("%d maps, %d planned, %d reduces", len(st.Maps), len(st.Planned), len(st.Reduces))
	}
	for i, m := range st.Maps {
		if *m.Split != all[i] {
			t.Fatalf("map %d has split %+v, want %+v", i, *m.Split, all[i])
		}
	}
	mustReject(t, s, &AddSplits{ID: "s-1", Splits: all[:1]}, ErrConflict)
}

// TestStartStepNegativeReducers checks that a step with a negative reducer
// count is rejected with an error rather than crashing Apply.
func TestStartStepNegativeReducers(t *testing.T) {
	s := New()
	submitErr := s.Apply(submit("s1", "/out", -1, 1, 1))
	if submitErr != nil {
		if !errors.Is(submitErr, ErrConflict) {
			t.Fatalf("submit: got %v, want ErrConflict", submitErr)
		}
		return // rejected at submission: fine
	}
	before := snap(t, s)
	var startErr error
	panicked := func() (p any) {
		defer func() { p = recover() }()
		startErr = s.Apply(start("s1", 1, 2))
		return nil
	}()
	if panicked != nil {
		half := ""
		if snap(t, s) != before {
			half = " It panics after changing the step (State RUNNING, StartedAt and Maps set), so a recovered caller sees a half-applied command."
		}
		t.Fatal("SubmitStep accepts Spec.Reducers < 0 and StartStep then panics in " +
			"make([]*Task, st.Spec.Reducers) (" + fmt.Sprint(panicked) + ") instead of returning ErrConflict; " +
			"in the Raft FSM that panic would crash every primary replaying the entry. " +
			"Only the client service's validation keeps such a step out today." + half)
	}
	if !errors.Is(startErr, ErrConflict) {
		t.Fatalf("start: got %v, want ErrConflict", startErr)
	}
	if after := snap(t, s); after != before {
		t.Fatalf("state changed")
	}
}

// ---------------------------------------------------------------------------
// Assign
// ---------------------------------------------------------------------------

func TestAssign(t *testing.T) {
	t.Run("accepted batch", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m2", "s1", KindMap, 2, "w2", 1)))
		wantEqual(t, "maps", s.Steps["s1"].Maps, []*Task{
			mapTask(0, TaskRunning, "", att("m0", "w1", 1, AttemptRunning, 40, 0, "")),
			mapTask(1, TaskPending, ""),
			mapTask(2, TaskRunning, "", att("m2", "w2", 1, AttemptRunning, 40, 0, "")),
		})
		st, task, a, ok := s.Attempt("m2")
		if !ok || st != s.Steps["s1"] || task != s.Steps["s1"].Maps[2] || a != s.Steps["s1"].Maps[2].Attempts[0] {
			t.Fatalf("Attempt(m2) = %v %v %v %v", st, task, a, ok)
		}
		if _, _, _, ok := s.Attempt("m1"); ok {
			t.Fatalf("Attempt(m1) found")
		}
		wantEqual(t, "index", attemptKeys(s), []string{"m0", "m2"})
	})

	t.Run("attempt takes the worker's current address", func(t *testing.T) {
		s := cluster(t)
		w := worker("w1", 2)
		w.Addr = "new:1"
		mustApply(t, s, &RegisterWorker{Worker: w, Time: 35}, assign(40, asg("m0", "s1", KindMap, 0, "w1", 2)))
		if a := s.Steps["s1"].Maps[0].Attempts[0]; a.Addr != "new:1" || a.Incarnation != 2 {
			t.Fatalf("attempt %s", js(a))
		}
	})

	t.Run("empty batch is a no-op", func(t *testing.T) {
		s := cluster(t)
		before := snap(t, s)
		mustApply(t, s, assign(40))
		if snap(t, s) != before {
			t.Fatalf("state changed")
		}
	})

	t.Run("reduce after every map succeeded", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s, assign(50, asg("r1", "s1", KindReduce, 1, "w1", 1)))
		wantEqual(t, "reduces", s.Steps["s1"].Reduces, []*Task{
			reduceTask(0, TaskPending, ""),
			reduceTask(1, TaskRunning, "", att("r1", "w1", 1, AttemptRunning, 50, 0, "")),
		})
	})

	t.Run("a failed task's next attempt", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), fail("m0", "w1", 1, 41, "oom"),
			assign(42, asg("m0-1", "s1", KindMap, 0, "w2", 1)))
		wantEqual(t, "map 0", s.Steps["s1"].Maps[0], mapTask(0, TaskRunning, "",
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
		{"old incarnation", func(t *testing.T, s *State) { mustApply(t, s, regW("w2", 2, 35)) },
			asg("x", "s1", KindMap, 0, "w2", 1), ErrStale, false},
		{"future incarnation", nil, asg("x", "s1", KindMap, 0, "w2", 2), ErrStale, false},
		{"attempt id twice in the batch", nil, asg("ok", "s1", KindMap, 0, "w1", 1), ErrConflict, true},
		{"task twice in the batch", nil, asg("x", "s1", KindMap, 1, "w2", 1), ErrConflict, true},
		{"existing attempt id", func(t *testing.T, s *State) {
			mustApply(t, s, assign(38, asg("m0", "s1", KindMap, 0, "w2", 1)), fail("m0", "w2", 1, 39, "x"))
		}, asg("m0", "s1", KindMap, 2, "w1", 1), ErrConflict, false},
		{"existing attempt id of another step", func(t *testing.T, s *State) {
			mustApply(t, s, submit("s2", "/out/s2", 1, 1, 35), start("s2", 1, 36), assign(38, asg("x", "s2", KindMap, 0, "w2", 1)))
		}, asg("x", "s1", KindMap, 0, "w1", 1), ErrConflict, false},
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

// ---------------------------------------------------------------------------
// FinishAttempt
// ---------------------------------------------------------------------------

func TestFinishAttempt(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
		c := succeed("m0", "w1", 1, 45, map[string]int64{"RECORDS": 7}, "spill-0", "spill-1")
		mustApply(t, s, c)
		c.Files[0] = "changed" // the state keeps its own copy of Files
		a := att("m0", "w1", 1, AttemptSucceeded, 40, 45, "")
		a.Counters = map[string]int64{"RECORDS": 7}
		a.Files = []string{"spill-0", "spill-1"}
		wantEqual(t, "map 0", s.Steps["s1"].Maps[0], mapTask(0, TaskSucceeded, "m0", a))
		if w := s.Steps["s1"].Maps[0].WinningAttempt(); w != s.Steps["s1"].Maps[0].Attempts[0] {
			t.Fatalf("WinningAttempt = %v", w)
		}
		if s.Steps["s1"].State != StepRunning {
			t.Fatalf("step %s", s.Steps["s1"].State)
		}
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
		mustReject(t, s, succeed("m1", "w2", 1, 50, nil), ErrStale)     // already failed
		mustReject(t, s, succeed("m2", "w3", 1, 50, nil), ErrStale)     // killed
		mustReject(t, s, fail("m2", "w3", 1, 50, "whatever"), ErrStale) // killed
	})

	t.Run("failure puts the task back to pending", func(t *testing.T) {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), fail("m0", "w1", 1, 45, "out of memory"))
		wantEqual(t, "map 0", s.Steps["s1"].Maps[0], mapTask(0, TaskPending, "", att("m0", "w1", 1, AttemptFailed, 40, 45, "out of memory")))
		if st := s.Steps["s1"]; st.State != StepRunning || st.Error != "" || st.EndedAt != 0 {
			t.Fatalf("step %s %q %d", st.State, st.Error, st.EndedAt)
		}
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
		st := s.Steps["s1"]
		wantEqual(t, "maps", st.Maps, []*Task{
			mapTask(0, TaskFailed, "", att("a0", "w1", 1, AttemptFailed, 40, 42, "e1"), att("a1", "w2", 1, AttemptFailed, 43, 44, "e2")),
			mapTask(1, TaskPending, "", att("b0", "w1", 1, AttemptKilled, 40, 44, "step failed")),
			mapTask(2, TaskSucceeded, "c0", att("c0", "w2", 1, AttemptSucceeded, 40, 41, "")),
		})
		if st.State != StepFailed || st.EndedAt != 44 || st.CleanedUp {
			t.Fatalf("step %s ended %d cleaned %v", st.State, st.EndedAt, st.CleanedUp)
		}
		if want := "map task 0 failed 2 times:\n  a0 on w1: e1\n  a1 on w2: e2"; st.Error != want {
			t.Fatalf("step error %q, want %q", st.Error, want)
		}
		if p := st.Phase(); p != "" {
			t.Fatalf("phase %q", p)
		}
		mustReject(t, s, assign(45, asg("a2", "s1", KindMap, 0, "w1", 1)), ErrConflict)
	})

	t.Run("reduce failures", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		mustApply(t, s,
			assign(50, asg("r0", "s1", KindReduce, 1, "w1", 1)), fail("r0", "w1", 1, 51, "x"),
			assign(52, asg("r1", "s1", KindReduce, 1, "w1", 1)), fail("r1", "w1", 1, 53, "y"),
		)
		st := s.Steps["s1"]
		if want := "reduce task 1 failed 2 times:\n  r0 on w1: x\n  r1 on w1: y"; st.State != StepFailed || st.Error != want {
			t.Fatalf("step %s %q, want FAILED %q", st.State, st.Error, want)
		}
		if st.Reduces[1].State != TaskFailed || st.Reduces[0].State != TaskPending {
			t.Fatalf("reduces %s %s", st.Reduces[0].State, st.Reduces[1].State)
		}
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
		if st := s.Steps["s1"]; st.State != StepRunning || st.Maps[0].State != TaskPending {
			t.Fatalf("step %s, task %s; want RUNNING, PENDING", st.State, st.Maps[0].State)
		}
		mustApply(t, s, assign(44, asg("a2", "s1", KindMap, 0, "w2", 1)), fail("a2", "w2", 1, 45, "e2"))
		st := s.Steps["s1"]
		if want := "map task 0 failed 2 times:\n  a1 on w1: e1\n  a2 on w2: e2"; st.State != StepFailed || st.Error != want {
			t.Fatalf("step %s %q, want FAILED %q", st.State, st.Error, want)
		}
	})

	t.Run("MaxAttempts below 1 means one attempt", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 1, 1), submit("s1", "/o", 1, 0, 2), start("s1", 1, 3),
			assign(4, asg("a0", "s1", KindMap, 0, "w1", 1)), fail("a0", "w1", 1, 5, "boom"))
		if st := s.Steps["s1"]; st.State != StepFailed || st.Error != "map task 0 failed 1 times:\n  a0 on w1: boom" {
			t.Fatalf("step %s %q", st.State, st.Error)
		}
	})

	t.Run("fatal failure fails the step at once", func(t *testing.T) {
		s := cluster(t) // MaxAttempts 2: a plain failure would be retried
		mustApply(t, s, assign(40, asg("a0", "s1", KindMap, 0, "w1", 1), asg("b0", "s1", KindMap, 1, "w2", 1)))
		c := fail("b0", "w2", 1, 41, "corrupt input")
		c.Fatal = true
		mustApply(t, s, c)
		st := s.Steps["s1"]
		if st.State != StepFailed || st.Error != "map task 1: corrupt input" || st.EndedAt != 41 {
			t.Fatalf("step %s %q %d", st.State, st.Error, st.EndedAt)
		}
		wantEqual(t, "maps", st.Maps, []*Task{
			mapTask(0, TaskPending, "", att("a0", "w1", 1, AttemptKilled, 40, 41, "step failed")),
			mapTask(1, TaskFailed, "", att("b0", "w2", 1, AttemptFailed, 40, 41, "corrupt input")),
			mapTask(2, TaskPending, ""),
		})
	})

	t.Run("fatal reduce failure", func(t *testing.T) {
		s := cluster(t)
		mapsDone(t, s)
		c := fail("r", "w1", 1, 51, "bad record")
		c.Fatal = true
		mustApply(t, s, assign(50, asg("r", "s1", KindReduce, 1, "w1", 1)), c)
		if st := s.Steps["s1"]; st.State != StepFailed || st.Error != "reduce task 1: bad record" {
			t.Fatalf("step %s %q", st.State, st.Error)
		}
	})
}

// TestFinishAttemptSpeculative covers a task with more than one running
// attempt. Assign only takes PENDING tasks, so Apply alone never makes one;
// these states come from an edited snapshot, which Read accepts.
func TestFinishAttemptSpeculative(t *testing.T) {
	// base: s1's map 0 runs as m0 on w1 and, speculatively, as m0s on w2.
	base := func(t *testing.T) *State {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)))
		return restoreWith(t, s, func(s *State) {
			task := s.Steps["s1"].Maps[0]
			task.Attempts = append(task.Attempts, att("m0s", "w2", 1, AttemptRunning, 41, 0, ""))
		})
	}

	t.Run("first success kills the other running attempts", func(t *testing.T) {
		s := base(t)
		mustApply(t, s, succeed("m0s", "w2", 1, 45, map[string]int64{"N": 1}))
		b := att("m0s", "w2", 1, AttemptSucceeded, 41, 45, "")
		b.Counters = map[string]int64{"N": 1}
		wantEqual(t, "map 0", s.Steps["s1"].Maps[0], mapTask(0, TaskSucceeded, "m0s",
			att("m0", "w1", 1, AttemptKilled, 40, 45, "another attempt succeeded"), b))
		mustReject(t, s, succeed("m0", "w1", 1, 46, nil), ErrStale)
	})

	t.Run("a failure while another attempt runs keeps the task running", func(t *testing.T) {
		s := base(t)
		mustApply(t, s, fail("m0", "w1", 1, 45, "e"))
		task := s.Steps["s1"].Maps[0]
		if task.State != TaskRunning || task.Attempts[0].State != AttemptFailed || s.Steps["s1"].State != StepRunning {
			t.Fatalf("task %s, attempt %s, step %s", task.State, task.Attempts[0].State, s.Steps["s1"].State)
		}
		mustApply(t, s, succeed("m0s", "w2", 1, 46, nil))
		if task.State != TaskSucceeded || task.Winner != "m0s" {
			t.Fatalf("task %s winner %q", task.State, task.Winner)
		}
	})

	// late: map 0 already won by m0 (counters N=1) while m0s still runs.
	late := func(t *testing.T) *State {
		s := cluster(t)
		mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), succeed("m0", "w1", 1, 42, map[string]int64{"N": 1}))
		return restoreWith(t, s, func(s *State) {
			task := s.Steps["s1"].Maps[0]
			task.Attempts = append(task.Attempts, att("m0s", "w2", 1, AttemptRunning, 41, 0, ""))
		})
	}

	t.Run("second success is recorded but does not win", func(t *testing.T) {
		s := late(t)
		mustApply(t, s, succeed("m0s", "w2", 1, 45, map[string]int64{"N": 100}, "f"))
		task := s.Steps["s1"].Maps[0]
		a := att("m0", "w1", 1, AttemptSucceeded, 40, 42, "")
		a.Counters = map[string]int64{"N": 1}
		b := att("m0s", "w2", 1, AttemptSucceeded, 41, 45, "")
		b.Counters = map[string]int64{"N": 100}
		b.Files = []string{"f"}
		wantEqual(t, "map 0", task, mapTask(0, TaskSucceeded, "m0", a, b))
		wantEqual(t, "counters", s.Steps["s1"].Counters(), map[string]int64{"N": 1, LaunchedMaps: 2})
	})

	t.Run("late failure changes nothing but the attempt", func(t *testing.T) {
		s := restoreWith(t, late(t), func(s *State) { s.Steps["s1"].Spec.MaxAttempts = 1 })
		mustApply(t, s, fail("m0s", "w2", 1, 45, "e"))
		task, st := s.Steps["s1"].Maps[0], s.Steps["s1"]
		if task.State != TaskSucceeded || task.Winner != "m0" || task.Attempts[1].State != AttemptFailed || st.State != StepRunning {
			t.Fatalf("task %s winner %q attempt %s step %s", task.State, task.Winner, task.Attempts[1].State, st.State)
		}
	})
}

// TestApplyCopiesCommandData checks that the state does not share maps or
// slices with the command it applied: a caller reusing a command value
// must not be able to change the state behind Apply's back.
func TestApplyCopiesCommandData(t *testing.T) {
	s := cluster(t)
	c := succeed("m0", "w1", 1, 45, map[string]int64{"RECORDS": 7}, "f0")
	mustApply(t, s, assign(40, asg("m0", "s1", KindMap, 0, "w1", 1)), c)
	c.Files[0] = "changed"
	c.Counters["RECORDS"] = 1000
	a := s.Steps["s1"].Maps[0].Attempts[0]
	if a.Files[0] != "f0" {
		t.Fatalf("Files shared with the command: %v", a.Files)
	}
	if a.Counters["RECORDS"] != 7 {
		t.Fatal("finishAttempt stores the command's Counters map itself (a.Counters = c.Counters) " +
			"while it clones Files (and SubmitStep clones Options/Inputs): changing the command's map " +
			"after Apply changes the replicated state (RECORDS became " + fmt.Sprint(a.Counters["RECORDS"]) + "). " +
			"Harmless on the Raft path, which decodes a fresh command per entry.")
	}
}

// ---------------------------------------------------------------------------
// CancelStep, FailStep
// ---------------------------------------------------------------------------

func TestEndStep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		end    func(id, text string, now int64) Command
		state  string
		killed string
	}{
		{"CancelStep", func(id, text string, now int64) Command { return &CancelStep{ID: id, Reason: text, Time: now} }, StepCancelled, "step cancelled"},
		{"FailStep", func(id, text string, now int64) Command { return &FailStep{ID: id, Error: text, Time: now} }, StepFailed, "step failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("pending step is cleaned up at once", func(t *testing.T) {
				s := New()
				mustApply(t, s, submit("s1", "/o", 1, 1, 10), tc.end("s1", "why", 20))
				wantEqual(t, "s1", s.Steps["s1"], &Step{ID: "s1", Seq: 1, Spec: spec("/o", 1, 1), State: tc.state, SubmittedAt: 10, EndedAt: 20, Error: "why", CleanedUp: true})
				mustReject(t, s, start("s1", 1, 30), ErrConflict)
			})

			t.Run("running step kills its running attempts", func(t *testing.T) {
				s := cluster(t)
				mustApply(t, s,
					submit("s2", "/out/s2", 1, 1, 21), start("s2", 1, 31),
					assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1), asg("x0", "s2", KindMap, 0, "w1", 1)),
					succeed("m1", "w2", 1, 41, nil),
					tc.end("s1", "enough", 50),
				)
				st := s.Steps["s1"]
				if st.State != tc.state || st.Error != "enough" || st.EndedAt != 50 || st.CleanedUp || st.StartedAt != 30 {
					t.Fatalf("step %s", js(st))
				}
				wantEqual(t, "maps", st.Maps, []*Task{
					mapTask(0, TaskPending, "", att("m0", "w1", 1, AttemptKilled, 40, 50, tc.killed)),
					mapTask(1, TaskSucceeded, "m1", att("m1", "w2", 1, AttemptSucceeded, 40, 41, "")),
					mapTask(2, TaskPending, ""),
				})
				// Other steps are untouched.
				wantEqual(t, "s2 maps", s.Steps["s2"].Maps, []*Task{mapTask(0, TaskRunning, "", att("x0", "w1", 1, AttemptRunning, 40, 0, ""))})
				mustReject(t, s, succeed("m0", "w1", 1, 51, nil), ErrStale)
				mustReject(t, s, assign(52, asg("m0b", "s1", KindMap, 0, "w1", 1)), ErrConflict)
				// The output is free again.
				mustApply(t, s, submit("s3", "/out/s1", 1, 1, 53))
			})

			t.Run("step in its commit phase", func(t *testing.T) {
				s := cluster(t)
				allDone(t, s)
				mustApply(t, s, tc.end("s1", "commit output: disk full", 60))
				if st := s.Steps["s1"]; st.State != tc.state || st.Error != "commit output: disk full" {
					t.Fatalf("step %s %q", st.State, st.Error)
				}
				mustReject(t, s, &CompleteStep{ID: "s1", Time: 61}, ErrConflict)
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
		if p := s.Steps["s1"].Phase(); p != PhaseCommit {
			t.Fatalf("phase %q", p)
		}
		before := s.Steps["s1"].Tasks()
		beforeJSON := js(before)
		mustApply(t, s, &CompleteStep{ID: "s1", Time: 60})
		st := s.Steps["s1"]
		if st.State != StepCompleted || st.EndedAt != 60 || !st.CleanedUp || st.Error != "" || st.Phase() != "" {
			t.Fatalf("step %s", js(st))
		}
		if got := js(st.Tasks()); got != beforeJSON {
			t.Fatalf("tasks changed")
		}
		mustReject(t, s, &CompleteStep{ID: "s1", Time: 61}, ErrConflict)
		mustReject(t, s, &StepCleanedUp{ID: "nope"}, ErrNotFound)
		mustApply(t, s, &StepCleanedUp{ID: "s1"}) // already clean: no change
	})
	t.Run("map-only and empty steps", func(t *testing.T) {
		s := New()
		mustApply(t, s, regW("w1", 1, 1),
			submit("e", "/e", 0, 1, 2), start("e", 0, 3), &CompleteStep{ID: "e", Time: 4},
			submit("m", "/m", 0, 1, 5), start("m", 1, 6))
		mustReject(t, s, &CompleteStep{ID: "m", Time: 7}, ErrConflict)
		mustApply(t, s, assign(8, asg("a", "m", KindMap, 0, "w1", 1)), succeed("a", "w1", 1, 9, nil), &CompleteStep{ID: "m", Time: 10})
		if s.Steps["e"].State != StepCompleted || s.Steps["m"].State != StepCompleted {
			t.Fatalf("states %s %s", s.Steps["e"].State, s.Steps["m"].State)
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
	if s.Steps["s1"].CleanedUp {
		t.Fatalf("started step cleaned up before StepCleanedUp")
	}
	mustApply(t, s, &StepCleanedUp{ID: "s1"})
	want := js(s.Steps["s1"])
	if !s.Steps["s1"].CleanedUp {
		t.Fatalf("not cleaned up")
	}
	mustApply(t, s, &StepCleanedUp{ID: "s1"}) // idempotent
	if js(s.Steps["s1"]) != want {
		t.Fatalf("second StepCleanedUp changed the step")
	}
	mustApply(t, s, submit("c", "/out/c", 1, 1, 60), start("c", 1, 61), &CancelStep{ID: "c", Time: 62})
	if s.Steps["c"].CleanedUp {
		t.Fatalf("started step cleaned up before StepCleanedUp")
	}
	mustApply(t, s, &StepCleanedUp{ID: "c"})
	if !s.Steps["c"].CleanedUp || s.Steps["c"].State != StepCancelled {
		t.Fatalf("step %s", js(s.Steps["c"]))
	}
}

// ---------------------------------------------------------------------------
// Step.Phase, Step.Counters, Terminal
// ---------------------------------------------------------------------------

func TestStepPhase(t *testing.T) {
	s := cluster(t)
	st := s.Steps["s1"]
	check := func(want string) {
		t.Helper()
		if got := st.Phase(); got != want {
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
	check("")

	for _, state := range []string{StepPending, StepCompleted, StepFailed, StepCancelled} {
		if p := (&Step{State: state}).Phase(); p != "" {
			t.Fatalf("%s step has phase %q", state, p)
		}
	}
}

func TestStepCounters(t *testing.T) {
	s := cluster(t) // MaxAttempts 2
	st := s.Steps["s1"]
	wantEqual(t, "no attempts", st.Counters(), map[string]int64{})
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
	if p := st.Phase(); p != PhaseCommit {
		t.Fatalf("phase %q", p)
	}
	// Winners: m0b, m1c, m2b, r0, r1b. m1b and m2 succeeded but lost their
	// output when w1 restarted: their counters do not count.
	wantEqual(t, "counters", st.Counters(), map[string]int64{
		"IN":     10 + 20 + 40,
		"OUT":    1 + 2 + 4 + 100 + 200,
		"GROUPS": 3 + 5,
		// map attempts: m0, m0b, m1, m1b, m1c, m2, m2b.
		LaunchedMaps: 7, FailedMaps: 1, KilledMaps: 1,
		LaunchedReduces: 3, FailedReduces: 1,
	})
	// Counters is a fresh map each time.
	c := st.Counters()
	c["IN"] = -1
	if st.Counters()["IN"] != 70 {
		t.Fatalf("Counters returned shared map")
	}
	mustApply(t, s, &CompleteStep{ID: "s1", Time: 60})
	if st.Counters()["IN"] != 70 {
		t.Fatalf("counters changed by completion")
	}
}

func TestStepCountersKilledReduces(t *testing.T) {
	s := cluster(t)
	mapsDone(t, s)
	mustApply(t, s, assign(50, asg("r0", "s1", KindReduce, 0, "w2", 1)), &CancelStep{ID: "s1", Time: 51})
	wantEqual(t, "counters", s.Steps["s1"].Counters(), map[string]int64{
		"RECORDS": 7, LaunchedMaps: 3, LaunchedReduces: 1, KilledReduces: 1,
	})
}

func TestTerminal(t *testing.T) {
	for st, want := range map[string]bool{
		StepPending: false, StepRunning: false, StepCompleted: true, StepFailed: true, StepCancelled: true, "": false,
	} {
		if got := Terminal(st); got != want {
			t.Errorf("Terminal(%q) = %v, want %v", st, got, want)
		}
	}
}

func TestTasks(t *testing.T) {
	s := cluster(t)
	st := s.Steps["s1"]
	tasks := st.Tasks()
	if len(tasks) != 5 || tasks[0] != st.Maps[0] || tasks[2] != st.Maps[2] || tasks[3] != st.Reduces[0] || tasks[4] != st.Reduces[1] {
		t.Fatalf("Tasks() = %s", js(tasks))
	}
	// Appending to the result must not write into the step's map slice.
	mapsBefore := slices.Clone(st.Maps)
	_ = append(st.Tasks()[:1], &Task{Kind: "X"})
	if !slices.Equal(st.Maps, mapsBefore) {
		t.Fatalf("Tasks aliases Maps")
	}
}

// ---------------------------------------------------------------------------
// Apply of unknown commands
// ---------------------------------------------------------------------------

type bogus struct{}

func (bogus) Type() CommandType { return 200 }

func TestApplyUnknownCommand(t *testing.T) {
	s := cluster(t)
	before := snap(t, s)
	// Apply takes the pointers Decode returns; values and foreign types are
	// refused without a sentinel.
	for _, c := range []Command{bogus{}, CancelStep{ID: "s1"}, RegisterWorker{Worker: worker("w9", 1)}, nil} {
		err := s.Apply(c)
		if err == nil {
			t.Fatalf("Apply(%T) accepted", c)
		}
		for _, e := range sentinels {
			if errors.Is(err, e) {
				t.Fatalf("Apply(%T) = %v, matches %v", c, err, e)
			}
		}
	}
	if snap(t, s) != before {
		t.Fatalf("state changed")
	}
}

// ---------------------------------------------------------------------------
// Encode / Decode
// ---------------------------------------------------------------------------

func allCommands() []Command {
	w := worker("w1", 7)
	w.Role = RoleTask
	return []Command{
		&RegisterPrimary{Primary: Primary{ID: "p1", Addr: "a:1", RaftAddr: "a:2", GossipAddr: "a:3"}},
		&RemovePrimary{ID: "p1"},
		&DrainWorker{ID: "w1", Time: 9},
		&KillAttempt{AttemptID: "a0", Reason: "by user", Failed: true, Time: 10},
		&MapOutputLost{AttemptID: "a0", Reason: "fetch failed", Time: 11},
		&RegisterWorker{Worker: w, Time: 1},
		&WorkerDown{ID: "w1", Incarnation: 7, Reason: "left", Time: 2},
		&SubmitStep{ID: "s-1", Spec: spec("/out", 3, 4), Input: InputSummary{Files: 2, Bytes: 200, Splits: 2}, Time: 3},
		&AddSplits{ID: "s-1", Splits: splits(1)},
		&StartStep{ID: "s-1", Splits: splits(2), Time: 4},
		&Assign{Assignments: []Assignment{asg("a0", "s-1", KindMap, 0, "w1", 7), asg("a1", "s-1", KindReduce, 2, "w2", 1)}, Time: 5},
		&FinishAttempt{AttemptID: "a0", Worker: "w1", Incarnation: 7, Success: true, Counters: map[string]int64{"X": 1, "Y": -2}, Files: []string{"f1", "f2"}, Time: 6},
		&FinishAttempt{AttemptID: "a1", Worker: "w2", Incarnation: 1, Error: "boom", Fatal: true, Time: 7},
		&CancelStep{ID: "s-1", Reason: "user", Time: 8},
		&FailStep{ID: "s-1", Error: "bad input", Time: 9},
		&CompleteStep{ID: "s-1", Time: 10},
		&StepCleanedUp{ID: "s-1"},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	seen := make(map[CommandType]bool)
	for _, c := range allCommands() {
		t.Run(c.Type().String(), func(t *testing.T) {
			b, err := Encode(c)
			if err != nil {
				t.Fatal(err)
			}
			if CommandType(b[0]) != c.Type() {
				t.Fatalf("tag %d, want %d", b[0], c.Type())
			}
			if !json.Valid(b[1:]) {
				t.Fatalf("payload is not JSON: %q", b[1:])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "decoded", got, c)
			// A value encodes like its pointer.
			vb, err := Encode(reflect.ValueOf(c).Elem().Interface().(Command))
			if err != nil || !bytes.Equal(vb, b) {
				t.Fatalf("value encoding %q, %v; want %q", vb, err, b)
			}
		})
		seen[c.Type()] = true
	}
	for ct := CommandType(1); ct <= CmdAddSplits; ct++ {
		if !seen[ct] {
			t.Errorf("no round trip test for %s", ct)
		}
	}
}

func TestCommandTags(t *testing.T) {
	// Tags are written to the Raft log: they must never change.
	for ct, want := range map[CommandType]struct {
		tag  uint8
		name string
	}{
		CmdRegisterWorker: {1, "RegisterWorker"}, CmdWorkerDown: {2, "WorkerDown"}, CmdSubmitStep: {3, "SubmitStep"},
		CmdStartStep: {4, "StartStep"}, CmdAssign: {5, "Assign"}, CmdFinishAttempt: {6, "FinishAttempt"},
		CmdCancelStep: {7, "CancelStep"}, CmdFailStep: {8, "FailStep"}, CmdCompleteStep: {9, "CompleteStep"},
		CmdStepCleanedUp: {10, "StepCleanedUp"}, CmdRegisterPrimary: {11, "RegisterPrimary"},
		CmdRemovePrimary: {12, "RemovePrimary"}, CmdDrainWorker: {13, "DrainWorker"}, CmdKillAttempt: {14, "KillAttempt"},
		CmdMapOutputLost: {15, "MapOutputLost"}, CmdAddSplits: {16, "AddSplits"},
	} {
		if uint8(ct) != want.tag || ct.String() != want.name {
			t.Errorf("%s = %d, want %s = %d", ct, uint8(ct), want.name, want.tag)
		}
	}
	if got := CommandType(0).String(); got != "CommandType(0)" {
		t.Errorf("String of tag 0 = %q", got)
	}
	if got := CommandType(42).String(); got != "CommandType(42)" {
		t.Errorf("String of tag 42 = %q", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"tag 0", append([]byte{0}, "{}"...)},
		{"tag 17", append([]byte{17}, "{}"...)},
		{"tag 255", append([]byte{255}, "{}"...)},
		{"tag only", []byte{byte(CmdAssign)}},
		{"bad JSON", append([]byte{byte(CmdSubmitStep)}, "{not json"...)},
		{"wrong JSON type", append([]byte{byte(CmdCancelStep)}, `{"id": 5}`...)},
		{"JSON array", append([]byte{byte(CmdCompleteStep)}, `[1]`...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode(tc.entry)
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, want error", tc.entry, c)
			}
			if c != nil {
				t.Fatalf("Decode returned a command with its error: %#v", c)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

func TestSnapshotRoundTrip(t *testing.T) {
	s := cluster(t)
	mustApply(t, s,
		&RegisterPrimary{Primary: Primary{ID: "p1", Addr: "a:1", RaftAddr: "a:2", GossipAddr: "a:3"}},
		regW("w3", 1, 12), down("w3", 1, "gone", 13),
		submit("s2", "/out/s2", 1, 1, 21),
		assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1)),
		succeed("m0", "w1", 1, 41, map[string]int64{"N": 3}, "x"),
	)
	before := snap(t, s)
	r, err := Read(strings.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	if got := snap(t, r); got != before {
		t.Fatalf("round trip differs:\n%s\n%s", before, got)
	}
	wantEqual(t, "restored", r, s) // includes the rebuilt attempt index
	// The attempt index points into the restored state, not the old one.
	st, task, a, ok := r.Attempt("m1")
	if !ok || st != r.Steps["s1"] || task != r.Steps["s1"].Maps[1] || a != r.Steps["s1"].Maps[1].Attempts[0] {
		t.Fatalf("restored Attempt(m1) = %p %p %p %v", st, task, a, ok)
	}
	// Both continue identically.
	more := []Command{succeed("m1", "w2", 1, 50, nil), assign(51, asg("m1", "s1", KindMap, 2, "w1", 1)), assign(52, asg("m2", "s1", KindMap, 2, "w1", 1))}
	for _, c := range more {
		e1, e2 := s.Apply(c), r.Apply(c)
		if fmt.Sprint(e1) != fmt.Sprint(e2) {
			t.Fatalf("%s: original %v, restored %v", c.Type(), e1, e2)
		}
	}
	if snap(t, s) != snap(t, r) {
		t.Fatalf("diverged after restore")
	}

	t.Run("empty state", func(t *testing.T) {
		e := New()
		b := snap(t, e)
		r, err := Read(strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if snap(t, r) != b {
			t.Fatalf("empty round trip: %s vs %s", b, snap(t, r))
		}
		mustApply(t, r, regW("w1", 1, 1), &RegisterPrimary{Primary: Primary{ID: "p", Addr: "a", RaftAddr: "r", GossipAddr: "g"}}, submit("s", "/o", 0, 1, 2))
	})
	t.Run("missing maps are made", func(t *testing.T) {
		r, err := Read(strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if r.Workers == nil || r.Steps == nil || r.Primaries == nil || r.attempts == nil {
			t.Fatalf("nil maps after Read: %+v", r)
		}
		mustApply(t, r, regW("w1", 1, 1), &RegisterPrimary{Primary: Primary{ID: "p", Addr: "a", RaftAddr: "r", GossipAddr: "g"}}, submit("s", "/o", 0, 1, 2))
	})
	t.Run("garbage", func(t *testing.T) {
		for _, in := range []string{"", "not json", `{"steps": 5}`, `[]`} {
			if _, err := Read(strings.NewReader(in)); err == nil {
				t.Errorf("Read(%q) succeeded", in)
			}
		}
	})
}
