package localcluster_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/jobs"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/worker"
)

// TestTinySlots runs a word count of two large files and twenty tiny ones
// on one worker with one slot and two tiny slots: the output equals the
// sequential run's; by the workers' attempt log, at most one large map
// and at most three maps in all ever ran at once, and tiny maps ran while
// a large one did (which one slot alone cannot do).
func TestTinySlots(t *testing.T) {
	in := filepath.Join(t.TempDir(), "input")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		var b strings.Builder
		if err := jobs.WriteSampleText(&b, 4<<20, uint64(i)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("a-large-%d.txt", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("b-tiny-%02d.txt", i)), []byte(fmt.Sprintf("tiny word%d and more\n", i%3)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ref := ct.Reference(t, "wordcount", in, 1)
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), TuneWorker: func(wc *worker.Config) { wc.Slots, wc.TinySlots = 1, 2 }})
	out := filepath.Join(t.TempDir(), "out")
	st := ct.RunStep(t, c.Client(), &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 1})
	ct.MustComplete(t, st)
	ct.CheckOutput(t, out, ref)

	// Maps 0 and 1 read the large files (the files' order), the rest the
	// tiny ones.
	large := func(attempt string) bool {
		task := ct.TaskOf(attempt)
		return task == "m_000000" || task == "m_000001"
	}
	running := map[string]bool{}
	maxAll, maxLarge, tinyBesideLarge := 0, 0, false
	for _, ev := range c.AttemptEvents() {
		if !strings.Contains(ev.Attempt, "_m_") {
			continue
		}
		switch ev.Event {
		case "start":
			running[ev.Attempt] = true
		case "end":
			delete(running, ev.Attempt)
		}
		nLarge := 0
		for a := range running {
			if large(a) {
				nLarge++
			}
		}
		maxAll, maxLarge = max(maxAll, len(running)), max(maxLarge, nLarge)
		if nLarge > 0 && slices.ContainsFunc(slices.Collect(maps.Keys(running)), func(a string) bool { return !large(a) }) {
			tinyBesideLarge = true
		}
	}
	if maxAll > 3 || maxLarge > 1 || !tinyBesideLarge {
		t.Fatalf("at most %d maps ran at once, %d large ones; tiny maps beside a large one: %v", maxAll, maxLarge, tinyBesideLarge)
	}
}
