// Package committertest is the contract every output committer must
// keep, as one test suite to run against each (local folders, HDFS, S3):
// output appears exactly once, only from the chosen attempts, with
// _SUCCESS last; commits and aborts are idempotent, so a leader that dies
// part way is finished by the next one.
package committertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/gomr/gomr/mapreduce"
)

// Target is a place to run the contract: a file system and a fresh output
// path on it that does not exist yet (each call returns a new one).
type Target struct {
	FS     mapreduce.FileSystem
	Output func(t *testing.T) string
	// Interrupt, if set, makes the next n writes to the store (renames,
	// uploads completed) fail, as if the leader died there; the contract
	// then checks that another committer finishes the job. Without it the
	// test stops CommitTask part way instead.
	Interrupt func(n int)
}

// Run runs the committer contract against a target.
func Run(t *testing.T, target Target) {
	ctx := context.Background()
	t.Run("CheckOutput", func(t *testing.T) { checkOutput(ctx, t, target) })
	t.Run("CommitOnce", func(t *testing.T) {
		out := target.Output(t)
		cm := committer(t, target, out, "s-1")
		records := writeStep(ctx, t, cm)
		commit(ctx, t, cm, records)
		checkCommitted(ctx, t, target.FS, out)
	})
	t.Run("CommitTwiceIsIdempotent", func(t *testing.T) {
		out := target.Output(t)
		cm := committer(t, target, out, "s-1")
		records := writeStep(ctx, t, cm)
		commit(ctx, t, cm, records)
		// A new leader finds the step still committing and does it again.
		again := committer(t, target, out, "s-1")
		commit(ctx, t, again, records)
		checkCommitted(ctx, t, target.FS, out)
	})
	t.Run("LeaderDiesBetweenTasks", func(t *testing.T) {
		out := target.Output(t)
		cm := committer(t, target, out, "s-1")
		records := writeStep(ctx, t, cm)
		chosen := records.chosen()
		if err := cm.CommitTask(ctx, chosen[0]); err != nil {
			t.Fatal(err)
		}
		if target.Interrupt != nil {
			target.Interrupt(1)
			if err := cm.CommitTask(ctx, chosen[1]); err == nil {
				t.Fatal("an interrupted commit reported success")
			}
		}
		// The first leader is gone; the next one commits from the records.
		commit(ctx, t, committer(t, target, out, "s-1"), records)
		checkCommitted(ctx, t, target.FS, out)
	})
	t.Run("Abort", func(t *testing.T) {
		out := target.Output(t)
		cm := committer(t, target, out, "s-1")
		records := writeStep(ctx, t, cm)
		if err := cm.CommitTask(ctx, records.chosen()[0]); err != nil {
			t.Fatal(err)
		}
		for range 2 { // idempotent
			if err := cm.AbortJob(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if files := listAll(ctx, t, target.FS, out); len(files) != 0 {
			t.Fatalf("an aborted step left %v", files)
		}
		// The output can be used again.
		cm = committer(t, target, out, "s-2")
		commit(ctx, t, cm, writeStep(ctx, t, cm))
		checkCommitted(ctx, t, target.FS, out)
	})
	t.Run("AbortLeavesAnOutputItDidNotClaim", func(t *testing.T) {
		out := target.Output(t)
		cm := committer(t, target, out, "s-1")
		commit(ctx, t, cm, writeStep(ctx, t, cm))
		other := committer(t, target, out, "s-2")
		if err := other.SetupJob(ctx); !errors.Is(err, mapreduce.ErrOutputExists) {
			t.Fatalf("SetupJob of another step on a committed output: %v", err)
		}
		if err := other.AbortJob(ctx); err != nil {
			t.Fatal(err)
		}
		checkCommitted(ctx, t, target.FS, out)
	})
	t.Run("BadNames", func(t *testing.T) {
		cm := committer(t, target, target.Output(t), "s-1")
		if err := cm.SetupJob(ctx); err != nil {
			t.Fatal(err)
		}
		to, err := cm.SetupTask(ctx, "attempt_s-1_m_000000_0")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"../escape", "/abs", ""} {
			if w, err := to.Create(ctx, name); err == nil {
				w.Abort()
				t.Errorf("Create(%q) accepted", name)
			}
		}
		to.Abort(ctx)
		if err := cm.CommitTask(ctx, mapreduce.TaskCommit{AttemptID: "x", Record: json.RawMessage(`not json`)}); err == nil {
			t.Error("a corrupt commit record was accepted")
		}
	})
}

func committer(t *testing.T, target Target, out, step string) mapreduce.Committer {
	t.Helper()
	cm, err := target.FS.Committer(out, step)
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

func checkOutput(ctx context.Context, t *testing.T, target Target) {
	out := target.Output(t)
	cm := committer(t, target, out, "s-1")
	if err := cm.CheckOutput(ctx); err != nil {
		t.Fatalf("a new output refused: %v", err)
	}
	if err := cm.SetupJob(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cm.SetupJob(ctx); err != nil {
		t.Fatalf("SetupJob again for the same step (a new leader): %v", err)
	}
	if err := committer(t, target, out, "s-2").SetupJob(ctx); !errors.Is(err, mapreduce.ErrOutputExists) {
		t.Fatalf("SetupJob of another step: %v", err)
	}
	if err := committer(t, target, out, "s-2").CheckOutput(ctx); !errors.Is(err, mapreduce.ErrOutputExists) {
		t.Fatalf("CheckOutput of an output in use: %v", err)
	}
	cm.AbortJob(ctx)
}

// stepRecords are the commit records of one step's attempts.
type stepRecords struct {
	winners []mapreduce.TaskCommit // one per task, in task order
	losers  []mapreduce.TaskCommit // output reported, not chosen
}

func (r stepRecords) chosen() []mapreduce.TaskCommit { return r.winners }

// files the test step's chosen attempts write, and their contents.
var want = map[string]string{
	"part-r-00000":          "a\t1\nb\t2\n",
	"part-r-00001":          "c\t3\n",
	"part-r-00002":          strings.Repeat("d\t4\n", 3000),
	"_rejects/part-m-00001": "f\t7\tbad line\n",
	"part-r-00003":          "",
	"_rejects/part-m-00004": "g\t8\tbad\n",
	"part-r-00004":          "z\t26\n",
	"part-r-00005":          "y\t25\n",
	"part-r-00006":          "x\t24\n",
	"part-r-00007":          "w\t23\n",
	"_rejects/part-m-00009": "h\t9\tworse\n",
	"part-r-00008":          "v\t22\n",
	"part-r-00009":          "u\t21\n",
	"part-r-00010":          "t\t20\n",
	"part-r-00011":          "s\t19\n",
	"part-r-00012":          "r\t18\n",
	"part-r-00013":          "q\t17\n",
	"part-r-00014":          "p\t16\n",
	"part-r-00015":          "o\t15\n",
	"part-r-00016":          "n\t14\n",
	"part-r-00017":          "m\t13\n",
	"part-r-00018":          "l\t12\n",
	"part-r-00019":          "k\t11\n",
	"_rejects/part-m-00020": "i\t10\tbad\n",
	"part-r-00020":          "j\t10\n",
	"part-r-00021":          "i\t9\n",
	"_rejects/part-m-00022": "e\t5\tbad\n",
}

// writeStep sets the step up and has its attempts write: per file a
// winner, and for some a speculative loser and a failed attempt, which
// write other bytes to the same names.
func writeStep(ctx context.Context, t *testing.T, cm mapreduce.Committer) stepRecords {
	t.Helper()
	if err := cm.SetupJob(ctx); err != nil {
		t.Fatal(err)
	}
	var r stepRecords
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	for i, name := range names {
		write := func(attempt, content string) mapreduce.TaskOutput {
			return WriteFile(ctx, t, cm, attempt, name, content)
		}
		if i%3 == 0 {
			failed := fmt.Sprintf("attempt_s_t%02d_0", i)
			write(failed, "partial output of a failed attempt").Abort(ctx)
		}
		winner := fmt.Sprintf("attempt_s_t%02d_1", i)
		r.winners = append(r.winners, Record(ctx, t, winner, write(winner, want[name])))
		if i%4 == 0 {
			loser := fmt.Sprintf("attempt_s_t%02d_2", i)
			r.losers = append(r.losers, Record(ctx, t, loser, write(loser, "output of a speculative loser")))
		}
	}
	return r
}

// SetupJob returns fs's committer of step to out, its job set up.
func SetupJob(ctx context.Context, t *testing.T, fs mapreduce.FileSystem, out, step string) mapreduce.Committer {
	t.Helper()
	cm, err := fs.Committer(out, step)
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.SetupJob(ctx); err != nil {
		t.Fatal(err)
	}
	return cm
}

// WriteFile has attempt write one file of content through cm, as a task
// does, and returns the attempt's output, to commit or abort.
func WriteFile(ctx context.Context, t *testing.T, cm mapreduce.Committer, attempt, name, content string) mapreduce.TaskOutput {
	t.Helper()
	to, err := cm.SetupTask(ctx, attempt)
	if err != nil {
		t.Fatal(err)
	}
	w, err := to.Create(ctx, name)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return to
}

// Record returns the commit record of an attempt's output.
func Record(ctx context.Context, t *testing.T, attempt string, to mapreduce.TaskOutput) mapreduce.TaskCommit {
	t.Helper()
	rec, err := to.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return mapreduce.TaskCommit{AttemptID: attempt, Record: rec}
}

// commit is what the leader does at the end of a step.
func commit(ctx context.Context, t *testing.T, cm mapreduce.Committer, r stepRecords) {
	t.Helper()
	for _, tc := range r.winners {
		if err := cm.CommitTask(ctx, tc); err != nil {
			t.Fatalf("commit task %s: %v", tc.AttemptID, err)
		}
	}
	for _, tc := range r.losers {
		if err := cm.AbortTask(ctx, tc); err != nil {
			t.Fatalf("abort task %s: %v", tc.AttemptID, err)
		}
	}
	if err := cm.CommitJob(ctx, mapreduce.Manifest{Step: "s-1", Job: "test", Counters: map[string]int64{"RECORDS": 42}}); err != nil {
		t.Fatalf("commit job: %v", err)
	}
}

// listAll returns every file under a folder, relative to it.
func listAll(ctx context.Context, t *testing.T, fs mapreduce.FileSystem, dir string) []string {
	t.Helper()
	root, err := fs.Stat(ctx, dir)
	if errors.Is(err, mapreduce.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(d string)
	walk = func(d string) {
		entries, err := fs.List(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir {
				walk(e.Path)
				continue
			}
			rel, _ := mapreduce.Rel(root.Path, e.Path)
			out = append(out, rel)
		}
	}
	walk(root.Path)
	slices.Sort(out)
	return out
}

func read(ctx context.Context, t *testing.T, fs mapreduce.FileSystem, p string) []byte {
	t.Helper()
	f, err := fs.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, info.Size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

// checkCommitted checks that the output holds exactly the chosen files,
// byte for byte, and a _SUCCESS manifest of them.
func checkCommitted(ctx context.Context, t *testing.T, fs mapreduce.FileSystem, out string) {
	t.Helper()
	got := listAll(ctx, t, fs, out)
	var names []string
	for k := range want {
		names = append(names, k)
	}
	names = append(names, mapreduce.SuccessFile)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Fatalf("output holds %v, want %v", got, names)
	}
	for name, content := range want {
		if b := read(ctx, t, fs, mapreduce.Join(out, name)); !bytes.Equal(b, []byte(content)) {
			t.Fatalf("%s holds %q, want %q", name, b, content)
		}
	}
	var m mapreduce.Manifest
	if err := json.Unmarshal(read(ctx, t, fs, mapreduce.Join(out, mapreduce.SuccessFile)), &m); err != nil {
		t.Fatalf("_SUCCESS: %v", err)
	}
	if m.Step != "s-1" || m.Counters["RECORDS"] != 42 || len(m.Files) != len(want) {
		t.Fatalf("manifest %+v", m)
	}
	for _, f := range m.Files {
		content, ok := want[f.Name]
		if !ok || f.Size != int64(len(content)) || f.CRC32C != crc32.Checksum([]byte(content), crc32.MakeTable(crc32.Castagnoli)) {
			t.Fatalf("manifest entry %+v does not describe %q", f, content)
		}
	}
}
