package web

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary/state"
	"github.com/prometheus/client_golang/prometheus"
)

// Prefix of every gomr metric.
const namespace = "gomr"

// DurationBuckets are the upper bounds, in seconds, of the attempt
// duration histograms: from tiny tasks to hour-long ones.
var DurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// counterMetric exports one step counter, summed over every step, as a
// Prometheus counter.
type counterMetric struct {
	name, counter, help string
}

// stepCounters are the step counters exported, and under which names.
var stepCounters = []counterMetric{
	{"shuffle_bytes_total", mapreduce.ReduceShuffleBytes, "Bytes reducers fetched from map outputs (REDUCE_SHUFFLE_BYTES)."},
	{"hdfs_bytes_read_total", client.BytesReadCounter, "Bytes tasks read from HDFS (HDFS_BYTES_READ)."},
	{"hdfs_bytes_written_total", client.BytesWrittenCounter, "Bytes tasks wrote to HDFS (HDFS_BYTES_WRITTEN)."},
	{"map_input_bytes_total", mapreduce.MapInputBytes, "Bytes map tasks read (MAP_INPUT_BYTES)."},
	{"map_input_records_total", mapreduce.MapInputRecords, "Records map tasks read (MAP_INPUT_RECORDS)."},
	{"map_output_records_total", mapreduce.MapOutputRecords, "Records map tasks emitted (MAP_OUTPUT_RECORDS)."},
	{"map_output_bytes_total", mapreduce.MapOutputBytes, "Bytes map tasks emitted (MAP_OUTPUT_BYTES)."},
	{"spilled_records_total", mapreduce.SpilledRecords, "Records spilled to disk (SPILLED_RECORDS)."},
	{"reduce_input_records_total", mapreduce.ReduceInputRecords, "Records reduce tasks read (REDUCE_INPUT_RECORDS)."},
	{"reduce_output_records_total", mapreduce.ReduceOutputRecords, "Records reduce tasks wrote (REDUCE_OUTPUT_RECORDS)."},
	{"output_bytes_total", mapreduce.BytesWritten, "Bytes of part files written (BYTES_WRITTEN)."},
	{"malformed_records_total", mapreduce.MalformedRecords, "Input records a job could not parse (MALFORMED_RECORDS)."},
	{"data_local_maps_total", mapreduce.DataLocalMaps, "Map tasks that ran on a core worker holding their block (DATA_LOCAL_MAPS)."},
	{"rack_local_maps_total", mapreduce.RackLocalMaps, "Map tasks that ran in their block's rack (RACK_LOCAL_MAPS)."},
	{"other_local_maps_total", mapreduce.OtherLocalMaps, "Map tasks that ran away from their block (OTHER_LOCAL_MAPS)."},
	{"distcp_bytes_copied_total", jobs.BytesCopied, "Bytes distcp steps copied (DISTCP_BYTES_COPIED)."},
	{"speculative_attempts_total", state.SpeculativeAttempts, "Speculative backup attempts started (SPECULATIVE_ATTEMPTS)."},
}

// attemptCounters are the step counters of attempts by kind and outcome:
// {counter of maps, counter of reduces} for launched, failed and killed.
var attemptCounters = []struct {
	outcome                   string
	mapCounter, reduceCounter string
}{
	{"launched", state.LaunchedMaps, state.LaunchedReduces},
	{"failed", state.FailedMaps, state.FailedReduces},
	{"killed", state.KilledMaps, state.KilledReduces},
}

// endedAttemptStates are the attempt states with a duration.
var endedAttemptStates = []state.AttemptState{state.AttemptSucceeded, state.AttemptFailed, state.AttemptKilled}

var taskKinds = []state.TaskKind{state.KindMap, state.KindReduce}

// Collector exports a primary's metrics, read at scrape time from its Raft
// member and its replicated state (see the package doc).
type Collector struct {
	view func() *state.View
	raft Raft

	info, raftLeader, raftState, raftTerm, raftCommit, raftApplied, raftLastLog, raftSnapshot, raftContact, raftPeers *prometheus.Desc

	steps, runningAttempts, pendingTasks, workers, slots *prometheus.Desc
	counters                                             []*prometheus.Desc
	attempts, durations                                  *prometheus.Desc

	mu sync.Mutex
	// sealed are the steps that had ended when a scrape saw them: their
	// share is in ended, and they are not read again.
	sealed map[string]struct{}
	ended  totals
}

// totals are sums over steps: their counters and their ended attempts'
// durations.
type totals struct {
	counters  map[string]int64
	durations map[durationKey]*histogram
}

type durationKey struct {
	kind  state.TaskKind
	state state.AttemptState
}

// histogram is a histogram's buckets (not cumulative), count and sum.
type histogram struct {
	buckets []uint64 // one per DurationBuckets bound; above the last only in count
	count   uint64
	sum     float64
}

func newTotals() totals {
	return totals{counters: make(map[string]int64), durations: make(map[durationKey]*histogram)}
}

func (t totals) clone() totals {
	c := totals{counters: maps.Clone(t.counters), durations: make(map[durationKey]*histogram, len(t.durations))}
	for k, h := range t.durations {
		hc := *h
		hc.buckets = slices.Clone(h.buckets)
		c.durations[k] = &hc
	}
	return c
}

func (t totals) observe(k durationKey, seconds float64) {
	h := t.durations[k]
	if h == nil {
		h = &histogram{buckets: make([]uint64, len(DurationBuckets))}
		t.durations[k] = h
	}
	h.count++
	h.sum += seconds
	if i, _ := slices.BinarySearch(DurationBuckets, seconds); i < len(DurationBuckets) {
		h.buckets[i]++
	}
}

// addStep adds a step's counters and its ended attempts' durations.
func (t totals) addStep(v *state.View, st *state.Step) {
	for name, n := range st.Counters {
		t.counters[name] += n
	}
	if st.Maps+st.Reduces == 0 {
		return
	}
	for task := range v.Tasks(st.ID) {
		for _, a := range task.Attempts {
			if a.State == state.AttemptRunning || a.StartedAt == 0 || a.EndedAt < a.StartedAt {
				continue
			}
			t.observe(durationKey{task.Kind, a.State}, time.Duration(a.EndedAt-a.StartedAt).Seconds())
		}
	}
}

// NewCollector returns the collector of a primary's metrics.
func NewCollector(nodeID string, view func() *state.View, r Raft) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
	}
	c := &Collector{
		view: view, raft: r,
		info:            prometheus.NewDesc(namespace+"_primary_info", "This primary (always 1), by node id.", nil, prometheus.Labels{"node": nodeID}),
		raftLeader:      d("raft_leader", "1 if this primary is the Raft leader, else 0."),
		raftState:       d("raft_state", "This primary's Raft state: 1 for the state it is in, 0 for the others.", "state"),
		raftTerm:        d("raft_term", "This primary's current Raft term."),
		raftCommit:      d("raft_commit_index", "The highest Raft log index this primary knows committed."),
		raftApplied:     d("raft_applied_index", "The highest Raft log index this primary has applied to its state."),
		raftLastLog:     d("raft_last_log_index", "The last index in this primary's Raft log."),
		raftSnapshot:    d("raft_last_snapshot_index", "The Raft log index of this primary's last snapshot."),
		raftContact:     d("raft_last_contact_seconds", "Seconds since this follower last heard from the leader (0 on the leader; absent before any contact)."),
		raftPeers:       d("raft_peers", "Other voters in this primary's Raft configuration."),
		steps:           d("steps", "Steps in the replicated history, by state.", "state"),
		runningAttempts: d("running_attempts", "Attempts running now, by task kind.", "kind"),
		pendingTasks:    d("pending_tasks", "Tasks of running steps waiting for a slot, by kind.", "kind"),
		workers:         d("workers", "Workers (each one's latest incarnation), by role and state.", "role", "state"),
		slots:           d("worker_slots", "Task slots of the workers that take attempts (ALIVE), by role.", "role"),
		attempts:        d("attempts_total", "Task attempts of every step, by kind and outcome (launched, failed, killed).", "kind", "outcome"),
		durations:       d("attempt_duration_seconds", "How long ended task attempts ran, by kind and end state.", "kind", "state"),
		sealed:          make(map[string]struct{}),
		ended:           newTotals(),
	}
	for _, m := range stepCounters {
		c.counters = append(c.counters, d(m.name, m.help))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.raftLeader, c.raftState, c.raftTerm, c.raftCommit, c.raftApplied, c.raftLastLog,
		c.raftSnapshot, c.raftContact, c.raftPeers, c.steps, c.runningAttempts, c.pendingTasks, c.workers, c.slots, c.attempts, c.durations} {
		ch <- d
	}
	for _, d := range c.counters {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(c.info, 1)
	c.collectRaft(gauge)

	v := c.view()
	byState := make(map[state.StepState]int)
	live := c.totals(v, byState)
	for _, s := range state.StepStates {
		gauge(c.steps, float64(byState[s]), string(s))
	}
	running := make(map[state.TaskKind]int)
	pending := make(map[state.TaskKind]int)
	for _, st := range v.StepsIn(state.StepRunning) {
		for _, kind := range taskKinds {
			for t := range v.TasksIn(st.ID, kind, state.TaskRunning) {
				running[kind] += len(t.Running())
			}
			for range v.TasksIn(st.ID, kind, state.TaskPending) {
				pending[kind]++
			}
		}
	}
	for _, kind := range taskKinds {
		gauge(c.runningAttempts, float64(running[kind]), kindLabel(kind))
		gauge(c.pendingTasks, float64(pending[kind]), kindLabel(kind))
	}
	workers := make(map[[2]string]int)
	slots := make(map[state.WorkerRole]int)
	for _, w := range v.Workers() {
		workers[[2]string{string(w.Role), string(w.State)}]++
		if w.State == state.WorkerAlive {
			slots[w.Role] += w.Slots
		}
	}
	for _, role := range []state.WorkerRole{state.RoleCore, state.RoleTask} {
		for _, ws := range []state.WorkerState{state.WorkerAlive, state.WorkerDraining, state.WorkerDecommissioning, state.WorkerDecommissioned, state.WorkerDead} {
			gauge(c.workers, float64(workers[[2]string{string(role), string(ws)}]), string(role), string(ws))
		}
		gauge(c.slots, float64(slots[role]), string(role))
	}

	for i, m := range stepCounters {
		counter(c.counters[i], float64(live.counters[m.counter]))
	}
	for _, ac := range attemptCounters {
		counter(c.attempts, float64(live.counters[ac.mapCounter]), "map", ac.outcome)
		counter(c.attempts, float64(live.counters[ac.reduceCounter]), "reduce", ac.outcome)
	}
	for _, kind := range taskKinds {
		for _, as := range endedAttemptStates {
			h := live.durations[durationKey{kind, as}]
			if h == nil {
				h = &histogram{buckets: make([]uint64, len(DurationBuckets))}
			}
			cumulative := make(map[float64]uint64, len(DurationBuckets))
			var n uint64
			for i, le := range DurationBuckets {
				n += h.buckets[i]
				cumulative[le] = n
			}
			ch <- prometheus.MustNewConstHistogram(c.durations, h.count, h.sum, cumulative, kindLabel(kind), string(as))
		}
	}
}

// totals counts the steps by state and returns the sums over every step:
// the ended steps' kept totals (adding those that ended since the last
// scrape) plus the steps that have not ended, read afresh.
func (c *Collector) totals(v *state.View, byState map[state.StepState]int) totals {
	c.mu.Lock()
	defer c.mu.Unlock()
	var open []*state.Step
	for st := range v.Steps() {
		byState[st.State]++
		if _, ok := c.sealed[st.ID]; ok {
			continue
		}
		if st.State.Terminal() {
			c.ended.addStep(v, st)
			c.sealed[st.ID] = struct{}{}
			continue
		}
		open = append(open, st)
	}
	live := c.ended.clone()
	for _, st := range open {
		live.addStep(v, st)
	}
	return live
}

// collectRaft exports the Raft member's statistics.
func (c *Collector) collectRaft(gauge func(*prometheus.Desc, float64, ...string)) {
	stats := c.raft.Stats()
	num := func(k string) float64 {
		n, _ := strconv.ParseUint(stats[k], 10, 64)
		return float64(n)
	}
	leader := 0.0
	if stats["state"] == "Leader" {
		leader = 1
	}
	gauge(c.raftLeader, leader)
	for _, s := range []string{"Follower", "Candidate", "Leader", "Shutdown"} {
		v := 0.0
		if stats["state"] == s {
			v = 1
		}
		gauge(c.raftState, v, strings.ToLower(s))
	}
	gauge(c.raftTerm, num("term"))
	gauge(c.raftCommit, num("commit_index"))
	gauge(c.raftApplied, num("applied_index"))
	gauge(c.raftLastLog, num("last_log_index"))
	gauge(c.raftSnapshot, num("last_snapshot_index"))
	gauge(c.raftPeers, num("num_peers"))
	// last_contact is "never", "0" (the leader) or a duration.
	switch lc := stats["last_contact"]; {
	case lc == "0" || leader == 1:
		gauge(c.raftContact, 0)
	case lc != "" && lc != "never":
		if d, err := time.ParseDuration(lc); err == nil {
			gauge(c.raftContact, d.Seconds())
		}
	}
}

func kindLabel(k state.TaskKind) string { return strings.ToLower(string(k)) }
