package primary

import (
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
)

var webMeasure = flag.Bool("web.measure", false, "TestStatusPageLoadTime: time the status page over a history of 1,000 steps (else 120) and log the figures")

// TestStatusPageLoadTime fills a primary's history with completed steps
// (two maps and a reduce each, with counters), checks that the status page
// lists them newest first, a page at a time, and that /metrics counts
// them; it logs how long each page takes to serve. With -web.measure the
// history holds 1,000 steps:
//
//	go test ./primary -run TestStatusPageLoadTime -v -args -web.measure
func TestStatusPageLoadTime(t *testing.T) {
	n := 120
	if *webMeasure {
		n = 1000
	}
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Addr, cfg.RaftAddr, cfg.GossipAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Fast = true
	cfg.WorkerTimeout = time.Hour
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	for deadline := time.Now().Add(30 * time.Second); !s.IsLeader(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
	}
	started := time.Now()
	ids := webHistory(t, s, n)
	t.Logf("history of %d steps recorded in %s", n, time.Since(started).Round(time.Millisecond))
	base := "http://" + s.HTTPAddr()

	// The newest steps first, 100 a page, then the older ones.
	rows := regexp.MustCompile(`<tr id="step-([^"]+)">`)
	older := regexp.MustCompile(`<a href="([^"]+)" id="older">`)
	var listed []string
	var second string
	url, pages := base+"/", 0
	for url != "" {
		page := webGet(t, url)
		pages++
		var ids []string
		for _, m := range rows.FindAllStringSubmatch(page, -1) {
			ids = append(ids, m[1])
		}
		if len(ids) != min(100, n-len(listed)) {
			t.Fatalf("page %d lists %d steps", pages, len(ids))
		}
		listed = append(listed, ids...)
		url = ""
		if m := older.FindStringSubmatch(page); m != nil {
			url = base + html.UnescapeString(m[1])
			if second == "" {
				second = url
			}
		}
	}
	slices.Reverse(listed)
	var submitted []string
	for st := range s.fsm.view().Steps() {
		submitted = append(submitted, st.ID)
	}
	if !slices.Equal(listed, submitted) || len(listed) != len(ids) {
		t.Fatalf("pages list %d steps, not the %d submitted, newest first", len(listed), len(ids))
	}
	if page := webGet(t, base+"/steps/"+ids[0]); !strings.Contains(page, `<dd id="map-progress"><progress max="100" value="100"></progress> 100% (2/2)</dd>`) ||
		!strings.Contains(page, "<span>REDUCE_SHUFFLE_BYTES</span> <span class=\"num\">4096</span>") {
		t.Errorf("step page of %s:\n%s", ids[0], page)
	}
	// The first scrape reads every step's tasks; the next ones only those
	// of steps that have not ended.
	coldStart := time.Now()
	metrics := webGet(t, base+"/metrics")
	t.Logf("%d steps: %-36s %8s", n, "/metrics, first scrape", time.Since(coldStart).Round(10*time.Microsecond))
	for _, want := range []string{
		`gomr_steps{state="COMPLETED"} ` + promFloat(n),
		fmt.Sprintf(`gomr_attempt_duration_seconds_count{kind="map",state="SUCCEEDED"} %d`, 2*n),
		fmt.Sprintf(`gomr_attempt_duration_seconds_bucket{kind="reduce",state="SUCCEEDED",le="2.5"} %d`, n),
		`gomr_shuffle_bytes_total ` + promFloat(4096*n),
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Figures: one load of each page, then the median of 20.
	for _, p := range []struct{ what, path string }{
		{"steps list (newest 100) and nodes", "/"},
		{"steps list, second page", strings.TrimPrefix(second, base)},
		{"step page (3 tasks)", "/steps/" + ids[n/2]},
		{"/metrics", "/metrics"},
	} {
		first := webTime(t, base+p.path)
		var ds []time.Duration
		for range 20 {
			ds = append(ds, webTime(t, base+p.path))
		}
		slices.Sort(ds)
		t.Logf("%d steps: %-36s once %8s, median %8s, max %8s", n, p.what, first.Round(10*time.Microsecond), ds[len(ds)/2].Round(10*time.Microsecond), ds[len(ds)-1].Round(10*time.Microsecond))
	}
}

// promFloat writes a number as the text exposition format does.
func promFloat(n int) string { return strconv.FormatFloat(float64(n), 'g', -1, 64) }

func webGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v\n%s", url, resp.Status, err, b)
	}
	return string(b)
}

func webTime(t *testing.T, url string) time.Duration {
	t.Helper()
	start := time.Now()
	webGet(t, url)
	return time.Since(start)
}

// webHistory records n completed steps through Raft, as a leader would
// have: each with two maps (on two of four workers) and a reduce, times
// from a clock of its own. The commands are pipelined; the leader's own
// loops see the steps being planned (planning), then commit them. It
// returns the step ids.
func webHistory(t *testing.T, s *Server, n int) []string {
	t.Helper()
	workers := []string{"core-1", "core-2", "task-1", "task-2"}
	var cmds []state.Command
	for i, w := range workers {
		role := state.RoleCore
		if i >= 2 {
			role = state.RoleTask
		}
		cmds = append(cmds, &state.RegisterWorker{Worker: state.Worker{ID: w, Incarnation: 1, Role: role, Addr: fmt.Sprintf("127.0.0.1:%d", 7410+i), Slots: 4}, Time: 1})
	}
	webApply(t, s, [][]state.Command{cmds})
	// No heartbeat comes from these workers: they are kept alive by hand.
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			for _, w := range workers {
				s.soft.seen(w, time.Now())
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	dir := t.TempDir()
	clock := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC).UnixNano()
	tick := func(d time.Duration) int64 { clock += int64(d); return clock }
	var ids []string
	var perStep [][]state.Command
	for i := range n {
		id := fmt.Sprintf("s-HIST%09d", i)
		ids = append(ids, id)
		out := filepath.Join(dir, "out", id)
		os.MkdirAll(out, 0o755) // for the leader's own commit, if it comes first
		s.planning.add(id)
		var splits []mapreduce.Split
		for j := range 2 {
			splits = append(splits, mapreduce.Split{File: fmt.Sprintf("/data/in/part-%d", j), Doc: fmt.Sprintf("part-%d", j), Length: 1 << 20, FileSize: 1 << 20, ModTime: 1})
		}
		w := func(k int) (string, int64) { return workers[(i+k)%len(workers)], 1 }
		m0, inc := w(0)
		m1, _ := w(1)
		perStep = append(perStep, []state.Command{
			&state.SubmitStep{ID: id, Spec: state.StepSpec{Name: fmt.Sprintf("word count %d", i), Job: "wordcount", Inputs: []string{"/data/in"}, Output: out, Reducers: 1, SplitSize: 1 << 20, MaxAttempts: 4},
				Input: state.InputSummary{Files: 2, Bytes: 2 << 20, Splits: 2}, Time: tick(time.Second)},
			&state.StartStep{ID: id, Splits: splits, Time: tick(100 * time.Millisecond)},
			&state.Assign{Assignments: []state.Assignment{
				{AttemptID: state.AttemptID(id, state.KindMap, 0, 0), StepID: id, Kind: state.KindMap, Index: 0, Worker: m0, Incarnation: inc},
				{AttemptID: state.AttemptID(id, state.KindMap, 1, 0), StepID: id, Kind: state.KindMap, Index: 1, Worker: m1, Incarnation: inc},
			}, Time: tick(10 * time.Millisecond)},
			&state.FinishAttempt{AttemptID: state.AttemptID(id, state.KindMap, 0, 0), Worker: m0, Incarnation: inc, Success: true,
				Counters: map[string]int64{mapreduce.MapInputRecords: 1000, mapreduce.MapInputBytes: 1 << 20, mapreduce.MapOutputRecords: 5000}, Time: tick(1200 * time.Millisecond)},
			&state.FinishAttempt{AttemptID: state.AttemptID(id, state.KindMap, 1, 0), Worker: m1, Incarnation: inc, Success: true,
				Counters: map[string]int64{mapreduce.MapInputRecords: 1000, mapreduce.MapInputBytes: 1 << 20, mapreduce.MapOutputRecords: 5000}, Time: tick(300 * time.Millisecond)},
			&state.Assign{Assignments: []state.Assignment{
				{AttemptID: state.AttemptID(id, state.KindReduce, 0, 0), StepID: id, Kind: state.KindReduce, Index: 0, Worker: m1, Incarnation: inc},
			}, Time: tick(10 * time.Millisecond)},
			&state.FinishAttempt{AttemptID: state.AttemptID(id, state.KindReduce, 0, 0), Worker: m1, Incarnation: inc, Success: true,
				Counters: map[string]int64{mapreduce.ReduceShuffleBytes: 4096, mapreduce.ReduceOutputRecords: 700, mapreduce.BytesWritten: 9000}, Time: tick(2 * time.Second)},
		})
	}
	webApply(t, s, perStep)
	for _, id := range ids {
		s.planning.remove(id)
	}
	// The leader commits each step (an empty output, and _SUCCESS) and
	// records it COMPLETED; once all are, its step loop has no more to do.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		left := 0
		v := s.fsm.view()
		for _, id := range ids {
			if st, ok := v.Step(id); !ok || st.State != state.StepCompleted {
				left++
			}
		}
		if left == 0 {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d steps not completed", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// webApply applies lists of commands through Raft, the lists side by side
// and each in order, without waiting for a command before sending the
// next (Raft keeps their order).
func webApply(t *testing.T, s *Server, lists [][]state.Command) {
	t.Helper()
	work := make(chan []state.Command)
	errs := make(chan error, len(lists))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for cmds := range work {
				futures := make([]raft.ApplyFuture, len(cmds))
				for i, c := range cmds {
					b, err := state.Encode(c)
					if err != nil {
						errs <- err
						return
					}
					futures[i] = s.raft.Apply(b, applyTimeout)
				}
				for i, f := range futures {
					err := f.Error()
					if err == nil {
						err, _ = f.Response().(error)
					}
					if err != nil {
						errs <- fmt.Errorf("apply %s: %w", cmds[i].Type(), err)
					}
				}
			}
		})
	}
	for _, cmds := range lists {
		work <- cmds
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
