package primary

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
)

var (
	snapshotTasks   = flag.Int("snapshot.tasks", 20_000, "map tasks in the generated state of TestSnapshotDoesNotStopApply (the issue's scale: 1000000)")
	snapshotRounds  = flag.Int("snapshot.attempts", 3, "attempts per task in the generated state")
	snapshotApplies = flag.Int("snapshot.applies", 3000, "commands timed with and without a snapshot being taken")
)

// generator applies commands to an fsm as Raft would.
type generator struct {
	t     testing.TB
	f     *fsm
	index uint64
	now   int64
}

func (g *generator) apply(c state.Command) time.Duration {
	g.t.Helper()
	b, err := state.Encode(c)
	if err != nil {
		g.t.Fatal(err)
	}
	g.index++
	start := time.Now()
	res := g.f.Apply(&raft.Log{Index: g.index, Data: b})
	took := time.Since(start)
	if err, ok := res.(error); ok && err != nil {
		g.t.Fatalf("apply %s: %v", c.Type(), err)
	}
	return took
}

func (g *generator) tick() int64 { g.now++; return g.now }

// build fills the state with steps of 100,000 map tasks each (the most a
// step may have), every task with rounds attempts, all killed by their
// workers going down, as a long-lived cluster's history would hold.
func (g *generator) build(tasks, rounds int) {
	const workers = 16
	inc := int64(1)
	register := func() {
		for w := range workers {
			g.apply(&state.RegisterWorker{Worker: state.Worker{ID: fmt.Sprintf("w%02d", w), Incarnation: inc, Role: state.RoleCore, Addr: fmt.Sprintf("10.0.0.%d:7410", w), Slots: 8}, Time: g.tick()})
		}
	}
	register()
	for s := 0; s*100_000 < tasks; s++ {
		n := min(100_000, tasks-s*100_000)
		id := fmt.Sprintf("s-%013d", s)
		g.apply(&state.SubmitStep{ID: id, Spec: state.StepSpec{Job: "wordcount", Inputs: []string{"/data/in"}, Output: "/data/out-" + id, Reducers: 0, SplitSize: 1 << 20, MaxAttempts: rounds + 1}, Input: state.InputSummary{Files: n, Bytes: int64(n) << 20, Splits: n}, Time: g.tick()})
		for i := 0; i < n; i += 2048 {
			var splits []mapreduce.Split
			for j := i; j < min(n, i+2048); j++ {
				splits = append(splits, mapreduce.Split{File: fmt.Sprintf("/data/in/part-%06d", j), Doc: fmt.Sprintf("part-%06d", j), Length: 1 << 20, FileSize: 1 << 20, ModTime: 1})
			}
			g.apply(&state.AddSplits{ID: id, Splits: splits})
		}
		g.apply(&state.StartStep{ID: id, Time: g.tick()})
		for r := range rounds {
			for i := 0; i < n; i += 1000 {
				var as []state.Assignment
				for j := i; j < min(n, i+1000); j++ {
					as = append(as, state.Assignment{AttemptID: state.AttemptID(id, state.KindMap, j, r), StepID: id, Kind: state.KindMap, Index: j, Worker: fmt.Sprintf("w%02d", j%workers), Incarnation: inc})
				}
				g.apply(&state.Assign{Assignments: as, Time: g.tick()})
			}
			for w := range workers {
				g.apply(&state.WorkerDown{ID: fmt.Sprintf("w%02d", w), Incarnation: inc, Reason: "test", Time: g.tick()})
			}
			inc++
			register()
		}
		g.apply(&state.CancelStep{ID: id, Reason: "test", Time: g.tick()})
	}
}

// timeApplies applies n small commands (a step submitted and cancelled)
// and returns each Apply's latency.
func (g *generator) timeApplies(n int, tag string) []time.Duration {
	var out []time.Duration
	for i := range n / 2 {
		id := fmt.Sprintf("s-%s%08d", tag, i)
		out = append(out, g.apply(&state.SubmitStep{ID: id, Spec: state.StepSpec{Job: "wordcount", Inputs: []string{"/x"}, Output: "/o/" + id, Reducers: 1}, Time: g.tick()}))
		out = append(out, g.apply(&state.CancelStep{ID: id, Reason: "test", Time: g.tick()}))
	}
	return out
}

func percentiles(t *testing.T, what string, ds []time.Duration) string {
	t.Helper()
	if len(ds) == 0 {
		t.Fatalf("%s: no samples", what)
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("p50 %s, p99 %s, max %s", s[len(s)/2], s[len(s)*99/100], s[len(s)-1])
}

// fileSink is a raft.SnapshotSink writing to a file.
type fileSink struct {
	*os.File
	n int64
}

func (f *fileSink) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.n += int64(n)
	return n, err
}
func (f *fileSink) ID() string    { return "test" }
func (f *fileSink) Cancel() error { return f.File.Close() }

func digest(t *testing.T, v *state.View) string {
	t.Helper()
	h := sha256.New()
	if _, err := v.WriteTo(h); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestSnapshotDoesNotStopApply takes a snapshot of a large generated state
// while commands are applied, and restores it: taking the snapshot costs
// a pointer copy, Apply goes on while it is written, and the restored
// state is the one snapshotted. The figures are logged; run at the scale
// of a million tasks (about ten minutes on two cores, 10 GB of memory)
// with
//
//	go test ./primary -run TestSnapshotDoesNotStopApply -v -timeout 40m -args -snapshot.tasks=1000000
func TestSnapshotDoesNotStopApply(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)))
	g := &generator{t: t, f: f}
	start := time.Now()
	g.build(*snapshotTasks, *snapshotRounds)
	t.Logf("generated %d tasks with %d attempts each in %s (%d log entries)", *snapshotTasks, *snapshotRounds, time.Since(start).Round(time.Millisecond), g.index)

	quiet := g.timeApplies(*snapshotApplies, "q")

	took := time.Now()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	takeTime := time.Since(took)
	want := digest(t, snap.(*fsmSnapshot).view)
	sink := &fileSink{}
	if sink.File, err = os.Create(filepath.Join(t.TempDir(), "snapshot")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	persistStart := time.Now()
	var persistTime time.Duration
	go func() { err := snap.Persist(sink); persistTime = time.Since(persistStart); done <- err }()
	var during []time.Duration
	for i := 0; ; i++ {
		during = append(during, g.timeApplies(2, fmt.Sprintf("d%d-", i))...)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			goto persisted
		default:
		}
	}
persisted:
	if len(during) < *snapshotApplies {
		during = append(during, g.timeApplies(*snapshotApplies-len(during), "e")...)
	}
	t.Logf("Apply latency without a snapshot: %s", percentiles(t, "quiet", quiet))
	t.Logf("Apply latency while a snapshot is written: %s (%d commands)", percentiles(t, "during", during), len(during))
	t.Logf("snapshot taken in %s, written in %s, %d bytes", takeTime, persistTime.Round(time.Millisecond), sink.n)

	rf, err := os.Open(sink.Name())
	if err != nil {
		t.Fatal(err)
	}
	restored := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)))
	start = time.Now()
	if err := restored.Restore(rf); err != nil {
		t.Fatal(err)
	}
	t.Logf("restored in %s", time.Since(start).Round(time.Millisecond))
	if got := digest(t, restored.view()); got != want {
		t.Fatal("the restored state differs from the snapshotted one")
	}
	if _, index := restored.viewAt(); index == 0 || index != snap.(*fsmSnapshot).index {
		t.Fatalf("restored applied index %d, the snapshot holds entries up to %d", index, snap.(*fsmSnapshot).index)
	}
	if v := restored.view(); v.StepCount() != f.view().StepCount()-(len(during)+len(quiet))/2 && v.StepCount() == 0 {
		t.Fatalf("restored %d steps", v.StepCount())
	}
	// Taking a snapshot is a pointer copy, whatever the state's size: a
	// handful of allocations, none per task.
	if allocs := testing.AllocsPerRun(5, func() { f.Snapshot() }); allocs > 20 {
		t.Fatalf("taking a snapshot of %d tasks allocates %.0f times: it must not copy the state", *snapshotTasks, allocs)
	}
}
