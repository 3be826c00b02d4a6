package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomr/gomr/hdfs/pagecache"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
)

// mapWorker returns a worker of cfg (its id, data folder and file
// systems set) that runs map attempts without a cluster, and the job and
// formats of the built-in job named.
func mapWorker(t *testing.T, cfg Config, jobName string) (*Worker, *mapreduce.Job, stepFormats) {
	t.Helper()
	cfg.ID, cfg.DataDir, cfg.FileSystems = "core-1", t.TempDir(), mapreduce.LocalFileSystems()
	w := &Worker{cfg: cfg, log: slog.New(slog.DiscardHandler), outputs: map[string]mapOutput{}}
	def, err := jobs.Lookup(jobName)
	if err != nil {
		t.Fatal(err)
	}
	job, err := def.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := attemptFormats(def, nil, jobs.Formats{})
	if err != nil {
		t.Fatal(err)
	}
	return w, job, sf
}

// TestTinyMapOutputsStayInMemory runs the map of a word count on a tiny
// split and on a larger one: the tiny one leaves no folder or file on
// disk and is served from memory, the larger one writes its run and
// index; both serve each partition whole (the cluster tests check the
// words counted through either), and dropping the step gives the memory
// back.
func TestTinyMapOutputsStayInMemory(t *testing.T) {
	w, job, sf := mapWorker(t, Config{}, "wordcount")
	in := t.TempDir()
	run := func(name string, size int) (*pb.Assignment, string) {
		file := filepath.Join(in, name)
		line := "the quick brown fox jumps over the lazy dog\n"
		text := strings.Repeat(line, size/len(line)+1)[:size]
		text = text[:strings.LastIndexByte(text, '\n')+1]
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		spec := &pb.Assignment{StepId: "s-1", AttemptId: "attempt_s-1_m_00000" + name[:1] + "_0", Kind: pb.TaskKind_MAP,
			Spec:  &pb.StepSpec{Job: "wordcount", Reducers: 2, SortBufferBytes: 1 << 20, MaxLineBytes: 1 << 20},
			Split: &pb.Split{File: file, Offset: 0, Length: int64(len(text)), FileSize: int64(len(text))}}
		a := &attempt{spec: spec, log: slog.New(slog.DiscardHandler)}
		if _, err := w.runMap(context.Background(), a, job, sf, nil); err != nil {
			t.Fatalf("map of %s: %v", name, err)
		}
		return spec, text
	}
	tiny, _ := run("1-tiny.txt", 2<<10)
	if _, err := os.Stat(w.attemptDir(tiny)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a tiny map made its folder: %v", err)
	}
	if o := w.outputs[tiny.AttemptId]; o.run == nil || o.path != "" || w.memOutputs != o.run.Bytes() || w.memOutputs == 0 {
		t.Fatalf("tiny output %+v, %d bytes in memory", o, w.memOutputs)
	}
	big, _ := run("2-big.txt", mapreduce.TinySplitBytes+200)
	if o := w.outputs[big.AttemptId]; o.run != nil || o.path == "" {
		t.Fatalf("larger output %+v", o)
	}
	if _, err := os.Stat(w.outputs[big.AttemptId].path + ".index"); err != nil {
		t.Fatalf("the larger map's run has no index: %v", err)
	}
	// Both serve their partitions the same way.
	for _, id := range []string{tiny.AttemptId, big.AttemptId} {
		r, err := w.openOutput(id)
		if err != nil {
			t.Fatal(err)
		}
		for p := range 2 {
			seg, info := r.OpenSegment(p)
			b, err := io.ReadAll(seg)
			if err != nil || int64(len(b)) != info.Length {
				t.Fatalf("%s partition %d: %d bytes of %d, %v", id, p, len(b), info.Length, err)
			}
		}
		r.Close()
	}
	if w.holdInMemory(&pb.Assignment{Kind: pb.TaskKind_MAP, Split: &pb.Split{Length: mapreduce.TinySplitBytes + 1}}) || !w.holdInMemory(&pb.Assignment{Kind: pb.TaskKind_MAP, Split: &pb.Split{Length: 10}}) {
		t.Error("holdInMemory does not follow the split's size")
	}
	w.memOutputs = memoryMapOutputs
	if w.holdInMemory(&pb.Assignment{Kind: pb.TaskKind_MAP, Split: &pb.Split{Length: 10}}) {
		t.Error("a full memory budget still takes tiny outputs")
	}
	w.memOutputs = w.outputs[tiny.AttemptId].run.Bytes()
	w.dropStep("s-1")
	if len(w.outputs) != 0 || w.memOutputs != 0 {
		t.Fatalf("after the step: %d outputs, %d bytes in memory", len(w.outputs), w.memOutputs)
	}
}

// TestMapOutputsPastTheCacheAreWrittenBehind runs three maps of the same
// split on a worker that keeps 1 byte of map output in the page cache:
// the first writes through the cache, those after it behind; all three
// serve the same bytes, and dropping the step gives the cache back.
func TestMapOutputsPastTheCacheAreWrittenBehind(t *testing.T) {
	w, job, sf := mapWorker(t, Config{MapOutputCacheBytes: 1}, "terasort")
	// 300,000 TeraSort records: each map output is about 30 MiB, past
	// the windows a written-behind run is synced and dropped in.
	file := filepath.Join(t.TempDir(), "part-m-00000")
	text := make([]byte, 300000*jobs.TeraRecordBytes)
	rand.NewChaCha8([32]byte{1}).Read(text)
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	var served [][]byte
	for i := range 3 {
		spec := &pb.Assignment{StepId: "s-1", AttemptId: fmt.Sprintf("attempt_s-1_m_%06d_0", i), Kind: pb.TaskKind_MAP,
			Spec:  &pb.StepSpec{Job: "terasort", Reducers: 1, SortBufferBytes: 64 << 20, MaxLineBytes: 1 << 20},
			Split: &pb.Split{File: file, Offset: 0, Length: int64(len(text)), FileSize: int64(len(text))}}
		if _, err := w.runMap(context.Background(), &attempt{spec: spec, log: slog.New(slog.DiscardHandler)}, job, sf, nil); err != nil {
			t.Fatalf("map %d: %v", i, err)
		}
		o := w.outputs[spec.AttemptId]
		if through := o.cached > 0; through != (i == 0) {
			t.Fatalf("map %d: written through the cache %v (%d bytes cached in all)", i, through, w.cachedOutputs)
		}
		r, err := w.openOutput(spec.AttemptId)
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for p := range 1 {
			seg, _ := r.OpenSegment(p)
			b, err := io.ReadAll(seg)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		r.Close()
		served = append(served, all)
		if len(all) < 2*pagecache.Window || string(all) != string(served[0]) {
			t.Fatalf("map %d serves %d bytes, unlike map 0's %d", i, len(all), len(served[0]))
		}
	}
	if w.cachedOutputs != w.outputs["attempt_s-1_m_000000_0"].cached {
		t.Fatalf("%d bytes counted as cached, want map 0's %d", w.cachedOutputs, w.outputs["attempt_s-1_m_000000_0"].cached)
	}
	w.dropStep("s-1")
	if w.cachedOutputs != 0 || w.writeBehind() {
		t.Fatalf("after the step: %d bytes counted as cached", w.cachedOutputs)
	}
}
