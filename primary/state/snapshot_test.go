package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

// sampleState is a small state with a bit of everything: primaries, live,
// draining and dead workers, pending, running and ended steps, every kind
// of attempt, counters, commit records and a client token.
func sampleState(t *testing.T) *State {
	t.Helper()
	s := cluster(t)
	tok := submit("s2", "/out/s2", 1, 1, 21)
	tok.Spec.ClientToken = "tok-2"
	tok.Input = InputSummary{Files: 1, Bytes: 10, Splits: 2}
	mustApply(t, s,
		&RegisterPrimary{Primary: Primary{ID: "p1", Addr: "a:1", RaftAddr: "a:2", GossipAddr: "a:3"}},
		regW("w3", 1, 12), down("w3", 1, "gone", 13),
		regW("w4", 1, 14), &DrainWorker{ID: "w4", Time: 15},
		tok, &AddSplits{ID: "s2", Splits: splits(1)},
		submit("s3", "/out/s3", 0, 1, 22), start("s3", 1, 23), &CancelStep{ID: "s3", Time: 24},
		assign(40, asg("m0", "s1", KindMap, 0, "w1", 1), asg("m1", "s1", KindMap, 1, "w2", 1), asg("m2", "s1", KindMap, 2, "w1", 1)),
		succeed("m0", "w1", 1, 41, map[string]int64{"N": 3}, `{"files":["x"]}`),
		fail("m2", "w1", 1, 42, "oom"),
		assign(43, backup("m1s", "s1", KindMap, 1, "w1", 1)),
	)
	return s
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := sampleState(t)
	before := snapshot(t, s.View())
	r, err := Read(bytes.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, r.View()); !bytes.Equal(got, before) {
		t.Fatalf("round trip differs:\n%s\n%s", dump(s.View()), dump(r.View()))
	}
	// Every object, field by field, and every index.
	compareStates(t, s, r)
	if a, b := indexes(s.View()), indexes(r.View()); a != b {
		t.Fatalf("indexes differ after restore:\n%s\n%s", a, b)
	}
	// Both continue identically, rejections included.
	more := []Command{
		succeed("m1", "w2", 1, 50, nil),
		assign(51, asg("m1", "s1", KindMap, 2, "w1", 1)),
		assign(52, asg("m2b", "s1", KindMap, 2, "w1", 1)),
		submit("s4", "/out/s4", 1, 1, 53),
		&AddSplits{ID: "s2", Splits: splits(1)},
		&StartStep{ID: "s2", Time: 54},
		tok("s5", "tok-2"),
		down("w1", 1, "x", 55),
		&StepCleanedUp{ID: "s3"},
	}
	for _, c := range more {
		e1, e2 := s.Apply(c), r.Apply(c)
		if fmt.Sprint(e1) != fmt.Sprint(e2) {
			t.Fatalf("%s: original %v, restored %v", c.Type(), e1, e2)
		}
	}
	if digest(t, s) != digest(t, r) {
		t.Fatalf("diverged after restore:\n%s\n%s", dump(s.View()), dump(r.View()))
	}
	if st := getStep(t, r, "s4"); st.Seq != 4 {
		t.Fatalf("step submitted after restore has seq %d, want 4", st.Seq)
	}

	t.Run("empty state", func(t *testing.T) {
		e := New()
		b := snapshot(t, e.View())
		r, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(snapshot(t, r.View()), b) {
			t.Fatalf("empty round trip differs")
		}
		if n := r.View().StepCount(); n != 0 {
			t.Fatalf("StepCount %d", n)
		}
		mustApply(t, r, regW("w1", 1, 1), &RegisterPrimary{Primary: Primary{ID: "p", Addr: "a", RaftAddr: "r", GossipAddr: "g"}}, submit("s", "/o", 0, 1, 2))
		if st := getStep(t, r, "s"); st.Seq != 1 {
			t.Fatalf("seq %d", st.Seq)
		}
	})

	t.Run("a view is a fixed point in time", func(t *testing.T) {
		s := sampleState(t)
		v := s.View()
		b := snapshot(t, v)
		mustApply(t, s, succeed("m1", "w2", 1, 60, nil), down("w2", 1, "x", 61), &CancelStep{ID: "s1", Time: 62})
		if !bytes.Equal(snapshot(t, v), b) {
			t.Fatalf("the snapshot of an older view changed")
		}
	})
}

func tok(id, token string) *SubmitStep {
	c := submit(id, "/out/"+id, 1, 1, 60)
	c.Spec.ClientToken = token
	return c
}

// compareStates compares every object of two states field by field.
func compareStates(t *testing.T, a, b *State) {
	t.Helper()
	va, vb := a.View(), b.View()
	wantEqual(t, "primaries", vb.Primaries(), va.Primaries())
	wantEqual(t, "workers", vb.Workers(), va.Workers())
	if va.StepCount() != vb.StepCount() {
		t.Fatalf("StepCount %d, restored %d", va.StepCount(), vb.StepCount())
	}
	nextB, stopB := iter.Pull(vb.Steps())
	defer stopB()
	n := 0
	for sa := range va.Steps() {
		sb, ok := nextB()
		if !ok {
			t.Fatalf("restored state has %d steps, want more", n)
		}
		if !reflect.DeepEqual(sa, sb) {
			t.Fatalf("step %d differs:\n got %s\nwant %s", n, js1(sb), js1(sa))
		}
		nextT, stopT := iter.Pull(vb.Tasks(sb.ID))
		for ta := range va.Tasks(sa.ID) {
			tb, ok := nextT()
			if !ok || !reflect.DeepEqual(ta, tb) {
				stopT()
				t.Fatalf("step %s task differs:\n got %s\nwant %s", sa.ID, js1(tb), js1(ta))
			}
		}
		if tb, ok := nextT(); ok {
			stopT()
			t.Fatalf("restored step %s has an extra task %s", sa.ID, js1(tb))
		}
		stopT()
		n++
	}
	if sb, ok := nextB(); ok {
		t.Fatalf("restored state has an extra step %s", js1(sb))
	}
}

// body returns a snapshot's uncompressed content.
func body(t *testing.T, snap []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	b, err := zr.DecodeAll(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compress makes a snapshot of an uncompressed content.
func compress(t *testing.T, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// record returns one tagged record.
func record(tag byte, payload []byte) []byte {
	b := binary.AppendUvarint([]byte{tag}, uint64(len(payload)))
	return append(b, payload...)
}

// records splits a snapshot's content after its header into records.
func records(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		t.Fatalf("no header: %q", b[:min(len(b), 20)])
	}
	b = b[len(snapshotMagic):]
	var out [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b[1:])
		if k <= 0 {
			t.Fatalf("bad record length")
		}
		end := 1 + k + int(n)
		out = append(out, b[:end])
		b = b[end:]
	}
	return out
}

// TestSnapshotFormat pins the layout: a zstd stream of a header line, then
// one tagged, length-prefixed JSON record per object, of a known type,
// each step followed by its tasks.
func TestSnapshotFormat(t *testing.T) {
	s := sampleState(t)
	b := body(t, snapshot(t, s.View()))
	if !bytes.HasPrefix(b, []byte("gomr-state-v1\n")) {
		t.Fatalf("header %q", b[:min(len(b), 20)])
	}
	count := map[RecordType]int{}
	step := ""
	for _, r := range records(t, b) {
		tag := RecordType(r[0])
		_, k := binary.Uvarint(r[1:])
		payload := r[1+k:]
		if !json.Valid(payload) {
			t.Fatalf("record %d is not JSON: %q", tag, payload)
		}
		if _, obj := recordObject(tag); obj == nil {
			t.Fatalf("record of unknown type %d written", tag)
		}
		count[tag]++
		switch tag {
		case RecordStep:
			var st Step
			if err := json.Unmarshal(payload, &st); err != nil {
				t.Fatal(err)
			}
			step = st.ID
		case RecordTask:
			var tk Task
			if err := json.Unmarshal(payload, &tk); err != nil {
				t.Fatal(err)
			}
			if tk.StepID != step {
				t.Fatalf("task of step %s after step %q", tk.StepID, step)
			}
		default:
			if step != "" {
				t.Fatalf("record %d after the steps", tag)
			}
		}
	}
	wantEqual(t, "records", count, map[RecordType]int{RecordPrimary: 1, RecordWorker: 4, RecordMeta: 1, RecordStep: 3, RecordTask: 7})
}

// unknownRecordTags returns record tags this version does not know.
func unknownRecordTags() []byte {
	var out []byte
	for tag := range 128 {
		if _, obj := recordObject(RecordType(tag)); obj == nil {
			out = append(out, byte(tag))
		}
	}
	return out
}

func TestSnapshotUnknownRecords(t *testing.T) {
	s := sampleState(t)
	want := digest(t, s)
	recs := records(t, body(t, snapshot(t, s.View())))
	// with puts extra records at the start, in the middle and at the end.
	with := func(extra []byte) []byte {
		b := []byte(snapshotMagic)
		b = append(b, extra...)
		for i, r := range recs {
			if i == len(recs)/2 {
				b = append(b, extra...)
			}
			b = append(b, r...)
		}
		b = append(b, extra...)
		return compress(t, b)
	}

	t.Run("ignorable records are skipped", func(t *testing.T) {
		for _, extra := range [][]byte{
			record(byte(IgnoreUnknownTypeFlag)|unknownRecordTags()[1], []byte(`{"future":"field"}`)),
			record(0xff, []byte("not even json \x00\x01")),
			record(0x80, nil),
			// A known record's tag with the flag is a type this version
			// does not know: skipped too, even with a valid object.
			record(byte(IgnoreUnknownTypeFlag)|byte(RecordStep), []byte(`{"id":"ghost","seq":99,"state":"RUNNING"}`)),
		} {
			r, err := Read(bytes.NewReader(with(extra)))
			if err != nil {
				t.Fatalf("record %#x: %v", extra[0], err)
			}
			if got := digest(t, r); got != want {
				t.Fatalf("record %#x changed the restored state:\n%s", extra[0], dump(r.View()))
			}
		}
	})

	t.Run("other unknown records are refused", func(t *testing.T) {
		tags := unknownRecordTags() // 0, the lowest unknown ones, ..., 127
		for _, tag := range []byte{tags[0], tags[1], tags[2], tags[len(tags)/2], tags[len(tags)-1]} {
			_, err := Read(bytes.NewReader(with(record(tag, []byte(`{}`)))))
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("record %d: %v, want ErrBadSnapshot", tag, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("unknown record type %d", tag)) {
				t.Errorf("record %d: error %q does not name the record type", tag, err)
			}
		}
	})

	t.Run("bad records", func(t *testing.T) {
		for name, extra := range map[string][]byte{
			"step not JSON":        record(byte(RecordStep), []byte("{not json")),
			"step of wrong type":   record(byte(RecordStep), []byte(`{"id":5}`)),
			"task as an array":     record(byte(RecordTask), []byte(`[1,2]`)),
			"length past the end":  append([]byte{byte(RecordWorker)}, binary.AppendUvarint(nil, 1000)...),
			"length over 1 GiB":    append([]byte{byte(RecordWorker)}, binary.AppendUvarint(nil, 1<<31)...),
			"length not a uvarint": {byte(RecordWorker), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			"tag without length":   {byte(RecordWorker)},
		} {
			// At the end only: a bad length makes the rest unreadable.
			b := append(bytes.Clone(body(t, snapshot(t, s.View()))), extra...)
			_, err := Read(bytes.NewReader(compress(t, b)))
			if !errors.Is(err, ErrBadSnapshot) {
				t.Errorf("%s: %v, want ErrBadSnapshot", name, err)
			}
		}
	})
}

func TestSnapshotReadGarbage(t *testing.T) {
	s := sampleState(t)
	snap := snapshot(t, s.View())
	old, _ := json.Marshal(map[string]any{"steps": map[string]any{}, "workers": map[string]any{}}) // the old format
	for name, in := range map[string][]byte{
		"empty":                 nil,
		"not zstd":              []byte("not a snapshot at all"),
		"old JSON snapshot":     old,
		"zstd magic only":       {0x28, 0xb5, 0x2f, 0xfd},
		"zstd of nothing":       compress(t, nil),
		"zstd of a bad header":  compress(t, []byte("gomr-state-v9\n")),
		"zstd of half a header": compress(t, []byte("gomr-st")),
		"zstd of old JSON":      compress(t, old),
		"flipped byte":          flip(snap, len(snap)/2),
		"two snapshots":         append(bytes.Clone(snap), snap...),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := readNoPanic(t, in)
			if name == "two snapshots" {
				// Two zstd frames decode as one stream: the second header
				// is read as a record and refused.
				if !errors.Is(err, ErrBadSnapshot) {
					t.Fatalf("Read = %v, want ErrBadSnapshot", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Read accepted it: %s", dump(r.View()))
			}
			if r != nil {
				t.Fatalf("Read returned a state with its error")
			}
			t.Logf("%v", err)
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x5a
	return b
}

// readNoPanic reads a snapshot; a panic of Read fails the test.
func readNoPanic(t *testing.T, b []byte) (*State, error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Read of %d bytes panicked: %v", len(b), p)
		}
	}()
	return Read(bytes.NewReader(b))
}

// TestSnapshotTruncated cuts a snapshot at every length: Read must refuse
// each with an error (the zstd frame is incomplete), never panic or
// restore part of the state.
func TestSnapshotTruncated(t *testing.T) {
	s := sampleState(t)
	for i := range 20 {
		mustApply(t, s, submit(fmt.Sprintf("x%d", i), fmt.Sprintf("/x/%d", i), 2, 1, int64(100+i)), start(fmt.Sprintf("x%d", i), 5, int64(100+i)))
	}
	snap := snapshot(t, s.View())
	for n := range len(snap) {
		if _, err := readNoPanic(t, snap[:n]); err == nil {
			t.Fatalf("Read of the first %d of %d bytes succeeded", n, len(snap))
		}
	}
	// The content cut inside a record, but properly compressed.
	b := body(t, snap)
	for _, n := range []int{len(snapshotMagic) + 1, len(snapshotMagic) + 2, len(b) / 2, len(b) - 1} {
		_, err := readNoPanic(t, compress(t, b[:n]))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("content cut at %d of %d: %v, want ErrBadSnapshot", n, len(b), err)
		}
	}
	// A reader that fails midway.
	if _, err := Read(io.MultiReader(bytes.NewReader(snap[:len(snap)/2]), iotest.ErrReader(errors.New("disk on fire")))); err == nil {
		t.Fatalf("Read through a failing reader succeeded")
	}
}

// TestSnapshotWriteError checks that WriteTo reports a failing writer.
func TestSnapshotWriteError(t *testing.T) {
	s := sampleState(t)
	w := &limitWriter{n: 10}
	if _, err := s.View().WriteTo(w); err == nil {
		t.Fatalf("WriteTo to a failing writer succeeded")
	}
}

type limitWriter struct{ n int }

func (w *limitWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errors.New("no space left")
	}
	w.n -= len(p)
	return len(p), nil
}

// bigState builds, straight into the tables, a state of steps steps with
// tasks tasks each (10 of them reduces) of attempts attempts each: most
// steps completed, some failed, cancelled, pending and running, with
// counters and commit records on the winners. The counts and counters of
// every step agree with its tasks.
func bigState(t testing.TB, steps, tasks, attempts int) *State {
	t.Helper()
	s := New()
	txn := s.db.Txn(true)
	inserted := 0
	put := func(table string, obj any) {
		if err := txn.Insert(table, obj); err != nil {
			t.Fatal(err)
		}
		// Smaller transactions build faster than one huge one.
		if inserted++; inserted%10_000 == 0 {
			txn.Commit()
			txn = s.db.Txn(true)
		}
	}
	const workers = 50
	for i := range workers {
		w := worker(fmt.Sprintf("w%02d", i), int64(1+i%3))
		w.State, w.RegisteredAt = WorkerAlive, 1
		if i%10 == 9 {
			w.State, w.DownAt, w.DownReason = WorkerDead, 2, "gone"
		}
		put(tableWorkers, &w)
	}
	for i := range 3 {
		put(tablePrimaries, &Primary{ID: fmt.Sprintf("p%d", i), Addr: "a", RaftAddr: "r", GossipAddr: "g"})
	}
	n := 0 // attempts made, to spread them over workers
	for i := range steps {
		id := fmt.Sprintf("s-%05d", i)
		st := &Step{ID: id, Seq: uint64(i + 1), Spec: spec("/out/"+id, 10, attempts), SubmittedAt: int64(i), StartedAt: int64(i) + 1,
			Input: InputSummary{Files: 3, Bytes: 1 << 30, Splits: tasks - 10}}
		if i%7 == 0 {
			st.Spec.ClientToken = "tok-" + id
		}
		switch {
		case i%100 == 99:
			st.State = StepPending
			st.StartedAt = 0
		case i%100 == 98:
			st.State = StepRunning
		case i%10 == 3:
			st.State, st.EndedAt, st.Error = StepFailed, int64(i)+9, "map task 3 failed"
		case i%20 == 4:
			st.State, st.EndedAt, st.CleanedUp = StepCancelled, int64(i)+9, true
		case i%20 == 14:
			st.State, st.EndedAt = StepCancelPending, int64(i)+9
		case i%10 == 5:
			st.State, st.EndedAt, st.Error = StepInterrupted, int64(i)+9, "interrupted: the cluster was terminated"
			st.CleanedUp = i%20 == 5
		default:
			st.State, st.EndedAt, st.CleanedUp = StepCompleted, int64(i)+9, true
		}
		maps := tasks - 10
		if st.State == StepPending {
			maps = tasks / 2 // part of the plan recorded
		} else {
			st.Reduces = 10
		}
		st.Maps = maps
		for k := range maps + st.Reduces {
			tk := &Task{StepID: id, Kind: KindMap, Index: k, State: TaskSucceeded}
			if k >= maps {
				tk.Kind, tk.Index = KindReduce, k-maps
			} else {
				tk.Split = &splits(1)[0]
				tk.Split.Offset = int64(k) << 20
			}
			launched, failed, killed := countersOf(tk.Kind)
			if st.State != StepPending {
				for a := range attempts {
					j := n % workers
					n++
					if j%10 == 9 && a == attempts-1 {
						j-- // the last attempt may run: on a live worker
					}
					w := fmt.Sprintf("w%02d", j)
					at := Attempt{ID: AttemptID(id, tk.Kind, tk.Index, a), Worker: w, Incarnation: int64(1 + j%3), Addr: w + ":7070",
						StartedAt: int64(a), EndedAt: int64(a) + 1}
					switch {
					case a < attempts-1 && a%2 == 0:
						at.State, at.Error = AttemptFailed, "exit status 1"
						addCounter(st, failed, 1)
						countFailure(st, w)
					case a < attempts-1:
						at.State, at.Error = AttemptKilled, "worker down: gone"
						addCounter(st, killed, 1)
					case st.State == StepRunning && k%3 == 0:
						at.State, at.EndedAt = AttemptRunning, 0
						at.Speculative = k%6 == 0
						if at.Speculative {
							addCounter(st, SpeculativeAttempts, 1)
						}
					default:
						at.State = AttemptSucceeded
						at.Counters = map[string]int64{"IN": int64(k), "OUT": int64(a + 1)}
						at.Commit = json.RawMessage(fmt.Sprintf(`{"files":["part-%05d"]}`, k))
					}
					addCounter(st, launched, 1)
					tk.Attempts = append(tk.Attempts, at)
				}
			}
			last := len(tk.Attempts) - 1
			switch {
			case st.State == StepPending:
				tk.State = TaskPending
			case tk.Attempts[last].State == AttemptRunning:
				tk.State = TaskRunning
			case st.State == StepCompleted || k%2 == 0:
				tk.Winner = tk.Attempts[last].ID
				addCounters(st, tk.Attempts[last].Counters, 1)
				if tk.Kind == KindMap {
					st.MapsDone++
				} else {
					st.ReducesDone++
				}
			default:
				tk.State = TaskPending
			}
			put(tableTasks, tk)
		}
		put(tableSteps, st)
	}
	put(tableMeta, &meta{Name: metaNextSeq, Value: uint64(steps)})
	txn.Commit()
	return s
}

// TestSnapshotLarge round-trips a large generated state and compares every
// object field by field, the snapshots' digests, and the answers of the
// indexes; then both states apply the same commands.
func TestSnapshotLarge(t *testing.T) {
	// 100 tasks of 3 attempts per step: 60,000 tasks and 180,000 attempts
	// (12,000 and 36,000 with -race or -short, to stay within about 10 s).
	// GOMR_SNAPSHOT_STEPS=2000 makes it 200,000 tasks and 600,000 attempts:
	// about 30 s, and minutes with -race.
	steps, tasks, attempts := 600, 100, 3
	if raceEnabled || testing.Short() {
		steps = 120
	}
	if v := os.Getenv("GOMR_SNAPSHOT_STEPS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("GOMR_SNAPSHOT_STEPS=%q: want a number of at least 100", v)
		}
		steps = n
	}
	t0 := time.Now()
	s := bigState(t, steps, tasks, attempts)
	built := time.Since(t0)

	t0 = time.Now()
	snap := snapshot(t, s.View())
	wrote := time.Since(t0)
	t0 = time.Now()
	r, err := Read(bytes.NewReader(snap))
	if err != nil {
		t.Fatal(err)
	}
	read := time.Since(t0)
	t0 = time.Now()
	if again := snapshot(t, r.View()); !bytes.Equal(again, snap) {
		t.Fatalf("the restored state's snapshot differs (%d vs %d bytes)", len(again), len(snap))
	}
	compareStates(t, s, r)
	compared := time.Since(t0)

	// The indexes of the restored state answer as the original's.
	va, vb := s.View(), r.View()
	for _, st := range StepStates {
		if a, b := len(va.StepsIn(st)), len(vb.StepsIn(st)); a != b || a == 0 {
			t.Fatalf("StepsIn(%s): %d, restored %d", st, a, b)
		}
	}
	wantEqual(t, "to clean up", stepsIDs(vb.StepsToCleanUp()), stepsIDs(va.StepsToCleanUp()))
	for _, w := range va.Workers() {
		wantEqual(t, "running on "+w.ID, vb.RunningOn(w.ID, w.Incarnation), va.RunningOn(w.ID, w.Incarnation))
		a := collect(all[*Task](va.txn.Get(tableTasks, indexOutput, incKey(w.ID, w.Incarnation))))
		b := collect(all[*Task](vb.txn.Get(tableTasks, indexOutput, incKey(w.ID, w.Incarnation))))
		if len(a) != len(b) {
			t.Fatalf("outputs on %s: %d, restored %d", w.ID, len(a), len(b))
		}
	}
	for i := 0; i < steps; i += 37 {
		id := fmt.Sprintf("s-%05d", i)
		if i%7 == 0 && vb.StepByToken("tok-"+id) != id {
			t.Fatalf("StepByToken(tok-%s) = %q", id, vb.StepByToken("tok-"+id))
		}
		for _, kind := range []TaskKind{KindMap, KindReduce} {
			for _, ts := range []TaskState{TaskPending, TaskRunning, TaskSucceeded, TaskFailed} {
				wantEqual(t, fmt.Sprintf("%s %s %s", id, kind, ts), collect(vb.TasksIn(id, kind, ts)), collect(va.TasksIn(id, kind, ts)))
			}
		}
		for a := range attempts {
			aid := AttemptID(id, KindMap, 5, a)
			ta, aa, oka := va.AttemptTask(aid)
			tb, ab, okb := vb.AttemptTask(aid)
			if oka != okb || !reflect.DeepEqual(ta, tb) || !reflect.DeepEqual(aa, ab) {
				t.Fatalf("AttemptTask(%s) = %v, restored %v", aid, oka, okb)
			}
		}
	}

	// Both go on the same way: a worker with running attempts and map
	// outputs in running steps goes down, a step is submitted, work assigned.
	running := va.StepsIn(StepRunning)[0]
	var victim *Attempt
	for tk := range va.TasksIn(running.ID, KindMap, TaskRunning) {
		victim = tk.Running()[0]
		break
	}
	wk, _ := va.Worker(victim.Worker)
	t.Logf("taking down %s incarnation %d: %d tasks running on it", wk.ID, wk.Incarnation, len(va.RunningOn(wk.ID, wk.Incarnation)))
	for _, c := range []Command{
		&WorkerDown{ID: wk.ID, Incarnation: wk.Incarnation, Reason: "test", Time: 1e6},
		&WorkerDown{ID: victim.Worker, Incarnation: victim.Incarnation, Reason: "again", Time: 1e6 + 1},
		submit("s-new", "/out/s-new", 1, 1, 1e6+2),
		start("s-new", 2, 1e6+3),
		assign(1e6+4, asg("a-new", "s-new", KindMap, 0, "w00", 1)),
		&CancelStep{ID: running.ID, Time: 1e6 + 5},
	} {
		e1, e2 := s.Apply(c), r.Apply(c)
		if fmt.Sprint(e1) != fmt.Sprint(e2) {
			t.Fatalf("%s: original %v, restored %v", c.Type(), e1, e2)
		}
	}
	if digest(t, s) != digest(t, r) {
		t.Fatalf("diverged after restore")
	}
	if st := getStep(t, r, "s-new"); st.Seq != uint64(steps+1) {
		t.Fatalf("new step seq %d, want %d", st.Seq, steps+1)
	}
	t.Logf("%d steps, %d tasks, %d attempts: built in %v; snapshot of %d bytes written in %v, read in %v; compared in %v",
		steps, steps*tasks, steps*tasks*attempts, built, len(snap), wrote, read, compared)
}

// TestSnapshotMalformedKnownRecords reads snapshots with a record of each
// known type holding an empty object: Read may refuse it or restore it,
// but must not panic (it would crash the primary restoring it).
func TestSnapshotMalformedKnownRecords(t *testing.T) {
	for tag := range 128 {
		if _, obj := recordObject(RecordType(tag)); obj == nil {
			continue
		}
		for _, payload := range []string{`{}`, `null`} {
			b := compress(t, append([]byte(snapshotMagic), record(byte(tag), []byte(payload))...))
			var err error
			panicked := func() (p any) {
				defer func() { p = recover() }()
				_, err = Read(bytes.NewReader(b))
				return nil
			}()
			if panicked != nil {
				t.Fatalf("Read panics on a record of type %d holding %s instead of returning ErrBadSnapshot: %v "+
					"(the inodes table's parent index calls parentOf on the empty path; Read validates no object)", tag, payload, panicked)
			}
			if err != nil && !errors.Is(err, ErrBadSnapshot) {
				t.Errorf("record %d holding %s: %v, want ErrBadSnapshot", tag, payload, err)
			}
		}
	}
}
