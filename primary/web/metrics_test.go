package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/primary/web"
	"github.com/hashicorp/raft"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// history applies commands to a state, as Raft would, with times in
// seconds from t0.
type history struct {
	t  *testing.T
	st *state.State
}

const t0 = int64(1_800_000_000) * int64(time.Second)

func at(seconds float64) int64 { return t0 + int64(seconds*float64(time.Second)) }

func (h history) apply(cmds ...state.Command) {
	h.t.Helper()
	for _, c := range cmds {
		if err := h.st.Apply(c); err != nil {
			h.t.Fatalf("apply %s: %v", c.Type(), err)
		}
	}
}

func assign(step string, kind state.TaskKind, index, n int, worker string, sec float64) *state.Assign {
	return &state.Assign{Assignments: []state.Assignment{{
		AttemptID: state.AttemptID(step, kind, index, n), StepID: step, Kind: kind, Index: index, Worker: worker, Incarnation: 1,
	}}, Time: at(sec)}
}

func finish(step string, kind state.TaskKind, index, n int, worker string, sec float64, ok bool, counters map[string]int64) *state.FinishAttempt {
	f := &state.FinishAttempt{AttemptID: state.AttemptID(step, kind, index, n), Worker: worker, Incarnation: 1, Success: ok, Counters: counters, Time: at(sec)}
	if !ok {
		f.Error = "mapper exited with status 1"
	}
	return f
}

func splits(n int) []mapreduce.Split {
	var out []mapreduce.Split
	for i := range n {
		out = append(out, mapreduce.Split{File: fmt.Sprintf("/in/part-%d", i), Doc: fmt.Sprintf("part-%d", i), Length: 100, FileSize: 100, ModTime: 1})
	}
	return out
}

func submit(id string, maps, reduces int, sec float64) []state.Command {
	return []state.Command{
		&state.SubmitStep{ID: id, Spec: state.StepSpec{Name: "wc " + id, Job: "wordcount", Inputs: []string{"/in"}, Output: "/out/" + id, Reducers: reduces, MaxAttempts: 4},
			Input: state.InputSummary{Files: maps, Bytes: int64(maps) * 100, Splits: maps}, Time: at(sec)},
		&state.AddSplits{ID: id, Splits: splits(maps)},
	}
}

// buildHistory makes a cluster's history: a core and a task worker; step
// s-DONE completed (a map attempt failed once, then two maps of 0.2s and
// 3s and a reduce of 40s); s-RUN running (one map running, one pending);
// s-WAIT pending.
func buildHistory(t *testing.T) history {
	h := history{t: t, st: state.New()}
	h.apply(
		&state.RegisterWorker{Worker: state.Worker{ID: "core-1", Incarnation: 1, Role: state.RoleCore, Addr: "127.0.0.1:7410", Slots: 4}, Time: at(0)},
		&state.RegisterWorker{Worker: state.Worker{ID: "task-1", Incarnation: 1, Role: state.RoleTask, Addr: "127.0.0.1:7420", Slots: 2}, Time: at(0)},
	)
	h.apply(submit("s-DONE", 2, 1, 1)...)
	h.apply(
		&state.StartStep{ID: "s-DONE", Time: at(2)},
		assign("s-DONE", state.KindMap, 0, 0, "core-1", 10),
		assign("s-DONE", state.KindMap, 1, 0, "task-1", 10),
		finish("s-DONE", state.KindMap, 0, 0, "core-1", 10.03, false, nil),
		assign("s-DONE", state.KindMap, 0, 1, "core-1", 11),
		finish("s-DONE", state.KindMap, 0, 1, "core-1", 11.2, true, map[string]int64{mapreduce.MapInputRecords: 10, "HDFS_BYTES_READ": 100}),
		finish("s-DONE", state.KindMap, 1, 0, "task-1", 13, true, map[string]int64{mapreduce.MapInputRecords: 5, "HDFS_BYTES_READ": 100}),
		assign("s-DONE", state.KindReduce, 0, 0, "task-1", 20),
		finish("s-DONE", state.KindReduce, 0, 0, "task-1", 60, true, map[string]int64{mapreduce.ReduceShuffleBytes: 300, "HDFS_BYTES_WRITTEN": 77}),
		&state.CompleteStep{ID: "s-DONE", Time: at(61)},
	)
	h.apply(submit("s-RUN", 2, 1, 70)...)
	h.apply(
		&state.StartStep{ID: "s-RUN", Time: at(71)},
		assign("s-RUN", state.KindMap, 0, 0, "core-1", 72),
	)
	h.apply(submit("s-WAIT", 1, 1, 80)...)
	return h
}

// fakeRaft is a Raft member's statistics.
type fakeRaft struct {
	stats  map[string]string
	leader string
}

func (f *fakeRaft) Stats() map[string]string { return f.stats }
func (f *fakeRaft) LeaderWithID() (raft.ServerAddress, raft.ServerID) {
	return "", raft.ServerID(f.leader)
}

func leaderRaft() *fakeRaft {
	return &fakeRaft{leader: "primary-1", stats: map[string]string{
		"state": "Leader", "term": "5", "commit_index": "42", "applied_index": "41", "last_log_index": "42",
		"last_snapshot_index": "30", "last_contact": "0", "num_peers": "2",
	}}
}

// scrape fetches /metrics and parses it as Prometheus text.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: status %d: %s", rec.Code, rec.Body)
	}
	return parseMetrics(t, rec.Body)
}

func parseMetrics(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the value of the metric of a family with these labels
// (name=value pairs), failing the test if there is none.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m := metric(t, fams, name, labels...)
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	t.Fatalf("%s%v is not a gauge or counter", name, labels)
	return 0
}

func metric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && got[labels[i]] == labels[i+1]
		}
		if match {
			return m
		}
	}
	t.Fatalf("no %s with labels %v", name, labels)
	return nil
}

// buckets returns a histogram's cumulative counts by upper bound.
func buckets(h *dto.Histogram) map[float64]uint64 {
	out := map[float64]uint64{}
	for _, b := range h.Bucket {
		out[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return out
}

func newHandler(t *testing.T, src web.Source, view func() *state.View, r web.Raft) http.Handler {
	t.Helper()
	h, err := web.NewHandler(web.Config{NodeID: "primary-1", Source: src, View: view, Raft: r, Now: func() time.Time { return time.Unix(0, at(100)) }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMetrics(t *testing.T) {
	h := buildHistory(t)
	handler := newHandler(t, &fakeSource{}, h.st.View, leaderRaft())
	check := func(fams map[string]*dto.MetricFamily, done bool) {
		t.Helper()
		want := map[string]float64{"PENDING": 1, "RUNNING": 1, "COMPLETED": 1, "FAILED": 0, "CANCELLED": 0}
		if done {
			want["RUNNING"], want["COMPLETED"] = 0, 2
		}
		for st, n := range want {
			if got := value(t, fams, "gomr_steps", "state", st); got != n {
				t.Errorf("gomr_steps{state=%q} = %g, want %g", st, got, n)
			}
		}
		if len(fams["gomr_steps"].Metric) != len(state.StepStates) {
			t.Errorf("gomr_steps has %d states, want every one of %v", len(fams["gomr_steps"].Metric), state.StepStates)
		}
		running, pending := 1.0, 1.0
		if done {
			running, pending = 0, 0
		}
		for _, c := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"gomr_primary_info", []string{"node", "primary-1"}, 1},
			{"gomr_raft_leader", nil, 1},
			{"gomr_raft_state", []string{"state", "leader"}, 1},
			{"gomr_raft_state", []string{"state", "follower"}, 0},
			{"gomr_raft_term", nil, 5},
			{"gomr_raft_commit_index", nil, 42},
			{"gomr_raft_applied_index", nil, 41},
			{"gomr_raft_last_snapshot_index", nil, 30},
			{"gomr_raft_last_contact_seconds", nil, 0},
			{"gomr_raft_peers", nil, 2},
			{"gomr_running_attempts", []string{"kind", "map"}, running},
			{"gomr_running_attempts", []string{"kind", "reduce"}, 0},
			{"gomr_pending_tasks", []string{"kind", "map"}, pending},
			{"gomr_workers", []string{"role", "core", "state", "ALIVE"}, 1},
			{"gomr_workers", []string{"role", "task", "state", "ALIVE"}, 1},
			{"gomr_workers", []string{"role", "core", "state", "DEAD"}, 0},
			{"gomr_worker_slots", []string{"role", "core"}, 4},
			{"gomr_worker_slots", []string{"role", "task"}, 2},
			{"gomr_shuffle_bytes_total", nil, 300},
			{"gomr_hdfs_bytes_read_total", nil, 200 + map[bool]float64{true: 100}[done]},
			{"gomr_hdfs_bytes_written_total", nil, 77},
			{"gomr_map_input_records_total", nil, 15 + map[bool]float64{true: 1}[done]},
			{"gomr_attempts_total", []string{"kind", "map", "outcome", "launched"}, 4 + map[bool]float64{true: 1}[done]},
			{"gomr_attempts_total", []string{"kind", "map", "outcome", "failed"}, 1},
			{"gomr_attempts_total", []string{"kind", "reduce", "outcome", "launched"}, 1},
		} {
			if got := value(t, fams, c.name, c.labels...); got != c.want {
				t.Errorf("%s%v = %g, want %g", c.name, c.labels, got, c.want)
			}
		}
		// Map attempts: 0.2s and 3s succeeded (and 0.5s once s-RUN's map
		// ended), 0.03s failed; the reduce: 40s.
		maps := metric(t, fams, "gomr_attempt_duration_seconds", "kind", "map", "state", "SUCCEEDED").Histogram
		wantMaps := map[float64]uint64{0.05: 0, 0.25: 1, 2.5: 1, 5: 2, 3600: 2}
		count, sum := uint64(2), 3.2
		if done {
			wantMaps = map[float64]uint64{0.05: 0, 0.25: 1, 0.5: 2, 2.5: 2, 5: 3, 3600: 3}
			count, sum = 3, 3.7
		}
		if maps.GetSampleCount() != count || !near(maps.GetSampleSum(), sum) {
			t.Errorf("map durations: count %d, sum %g; want %d, %g", maps.GetSampleCount(), maps.GetSampleSum(), count, sum)
		}
		got := buckets(maps)
		for le, n := range wantMaps {
			if got[le] != n {
				t.Errorf("map durations: bucket le=%g holds %d, want %d", le, got[le], n)
			}
		}
		failed := metric(t, fams, "gomr_attempt_duration_seconds", "kind", "map", "state", "FAILED").Histogram
		if failed.GetSampleCount() != 1 || buckets(failed)[0.05] != 1 {
			t.Errorf("failed map durations: count %d, buckets %v", failed.GetSampleCount(), buckets(failed))
		}
		reduces := metric(t, fams, "gomr_attempt_duration_seconds", "kind", "reduce", "state", "SUCCEEDED").Histogram
		if reduces.GetSampleCount() != 1 || !near(reduces.GetSampleSum(), 40) || buckets(reduces)[30] != 0 || buckets(reduces)[60] != 1 {
			t.Errorf("reduce durations: count %d, sum %g, buckets %v", reduces.GetSampleCount(), reduces.GetSampleSum(), buckets(reduces))
		}
		for _, f := range []string{"go_goroutines", "process_start_time_seconds"} {
			if _, ok := fams[f]; !ok {
				t.Errorf("no %s", f)
			}
		}
	}
	check(scrape(t, handler), false)
	// A second scrape counts the ended step once, from its kept totals.
	check(scrape(t, handler), false)
	h.apply(
		finish("s-RUN", state.KindMap, 0, 0, "core-1", 72.5, true, map[string]int64{mapreduce.MapInputRecords: 1, "HDFS_BYTES_READ": 100}),
		assign("s-RUN", state.KindMap, 1, 0, "core-1", 73),
		&state.CancelStep{ID: "s-RUN", Reason: "test", Time: at(74)},
	)
	fams := scrape(t, handler)
	// s-RUN was cancelled: its running attempt was killed.
	if got := value(t, fams, "gomr_steps", "state", "CANCELLED") + value(t, fams, "gomr_steps", "state", "CANCEL_PENDING"); got != 1 {
		t.Errorf("cancelled steps: %g, want 1", got)
	}
	killed := metric(t, fams, "gomr_attempt_duration_seconds", "kind", "map", "state", "KILLED").Histogram
	if killed.GetSampleCount() != 1 || !near(killed.GetSampleSum(), 1) {
		t.Errorf("killed map durations: count %d, sum %g, want 1, 1", killed.GetSampleCount(), killed.GetSampleSum())
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestMetricsOfAFollower: a follower exports its own Raft state.
func TestMetricsOfAFollower(t *testing.T) {
	r := &fakeRaft{leader: "primary-2", stats: map[string]string{"state": "Follower", "term": "7", "last_contact": "1.5s"}}
	fams := scrape(t, newHandler(t, &fakeSource{}, state.New().View, r))
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gomr_raft_leader", nil, 0},
		{"gomr_raft_state", []string{"state", "follower"}, 1},
		{"gomr_raft_term", nil, 7},
		{"gomr_raft_last_contact_seconds", nil, 1.5},
		{"gomr_steps", []string{"state", "RUNNING"}, 0},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %g, want %g", c.name, c.labels, got, c.want)
		}
	}
	r.stats["last_contact"] = "never"
	if _, ok := scrape(t, newHandler(t, &fakeSource{}, state.New().View, r))["gomr_raft_last_contact_seconds"]; ok {
		t.Error("a follower that never heard from a leader exports a last contact")
	}
}
