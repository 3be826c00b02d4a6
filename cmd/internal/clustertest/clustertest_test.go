package clustertest

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// fatalTB records a Fatalf and ends the goroutine that called it, as
// testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs fn with a fatalTB and returns what it failed with.
func fatalOf(t *testing.T, fn func(testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); fn(f) }()
	<-done
	return f.msg
}

func TestPercentiles(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3}
	if got := Median(t, "x", d); got != 3 {
		t.Errorf("median %d, want 3", got)
	}
	if got := Percentile(t, "x", d, 100); got != 5 {
		t.Errorf("worst %d, want 5", got)
	}
	if got := Median(t, "x", []float64{1, 2}); got != 2 {
		t.Errorf("median of two %g, want the upper one", got)
	}
	if !slices.Equal(d, []time.Duration{5, 1, 4, 2, 3}) {
		t.Error("the samples were reordered")
	}
	msg := fatalOf(t, func(tb testing.TB) { Median(tb, "failover time", []time.Duration(nil)) })
	if !strings.Contains(msg, "no failover time measured") {
		t.Errorf("an empty sample failed with %q", msg)
	}
}

func TestAttemptLog(t *testing.T) {
	log := filepath.Join(t.TempDir(), "attempts.log")
	if evs, err := ReadAttemptLog(log); err != nil || len(evs) != 0 {
		t.Fatalf("a log not written yet: %v %v", evs, err)
	}
	os.WriteFile(log, []byte("start attempt_s-1_m_000003_1 core-1 100\n"+
		"end attempt_s-1_m_000003_1 core-1 200 succeeded\n"+
		"start attempt_s-1_r_000000_1 core-2 300\n"+
		"start attempt_s-1_m_000003_2 task-1 400\n"), 0o644)
	evs, err := ReadAttemptLog(log)
	if err != nil || len(evs) != 4 {
		t.Fatalf("%v %v", evs, err)
	}
	if e := evs[1]; e.Event != "end" || e.Worker != "core-1" || e.At != time.Unix(0, 200) || e.Result != "succeeded" {
		t.Errorf("parsed %+v", e)
	}
	if got := RunsPerTask(evs); len(got) != 2 || got["m_000003"] != 2 || got["r_000000"] != 1 {
		t.Errorf("runs %v", got)
	}
	if got := Unfinished(evs); !slices.Equal(got, []string{"attempt_s-1_m_000003_2", "attempt_s-1_r_000000_1"}) {
		t.Errorf("unfinished %v", got)
	}
}

func TestNodeLogsFileEachNodeApart(t *testing.T) {
	dir := t.TempDir()
	l := &nodeLogs{dir: dir, files: map[string]*os.File{}}
	log := slog.New(&nodeHandler{logs: l})
	log.With("node", "primary-1").With("component", "raft").Info(`vote for node="primary-2"`, "term", 3)
	log.With("node", "core-1").WithGroup("g").Info("registered", "incarnation", 7)
	log.Info("no node")
	log.With("node", "core-1").Debug("below the level")
	if !slices.Equal(l.order, []string{"primary-1", "core-1", "cluster"}) {
		t.Fatalf("files %v", l.order)
	}
	for name, want := range map[string]string{
		"primary-1": `msg="vote for node=\"primary-2\"" node=primary-1 component=raft term=3`,
		"core-1":    "msg=registered node=core-1 g.incarnation=7",
		"cluster":   `msg="no node"`,
	} {
		b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		if strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), want) {
			t.Errorf("%s.log holds %q, want one line with %q", name, b, want)
		}
	}
}
