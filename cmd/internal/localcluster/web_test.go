package localcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/primary"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/net/html"
)

// TestStatusPageWhileAStepRuns runs a streaming step whose mappers wait
// for a file to appear, and reads the status pages and metrics of the
// leader and of a follower while it runs and once it completed; in the
// middle, headless Chromium renders the pages (skipped without it).
func TestStatusPageWhileAStepRuns(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "task"), Slots: 2})
	leaderNode := c.Leader()
	leader := c.Server(leaderNode)
	var follower *primary.Server
	for _, n := range c.Primaries() {
		if n.Name() != leaderNode.Name() {
			follower = c.Server(n)
			break
		}
	}
	for _, p := range []*primary.Server{leader, follower} {
		if p.HTTPAddr() == "" {
			t.Fatalf("%s serves no status page", p.ID())
		}
		var a primary.Addresses
		b, err := os.ReadFile(filepath.Join(c.Dir(), "data", p.ID(), primary.AddressesFile))
		if err == nil {
			err = json.Unmarshal(b, &a)
		}
		if err != nil || a.HTTP != p.HTTPAddr() {
			t.Fatalf("%s: %s names status page %q (%v), want %s", p.ID(), primary.AddressesFile, a.HTTP, err, p.HTTPAddr())
		}
	}
	leaderURL, followerURL := "http://"+leader.HTTPAddr(), "http://"+follower.HTTPAddr()

	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.txt"), []byte("one\ntwo\nthree\n"), 0o644)
	os.WriteFile(filepath.Join(in, "b.txt"), []byte("four\nfive\nsix\nseven\n"), 0o644)
	mapper := fmt.Sprintf(`sh -c 'echo reporter:status:waiting for the gate >&2; while [ ! -e %s ]; do sleep 0.02; done; exec cat'`, gate)
	id := c.Submit(&pb.StepSpec{Name: "gated", Job: "streaming", Inputs: []string{in}, Output: filepath.Join(dir, "out"), Reducers: 1,
		Options: map[string]string{"mapper": mapper, "reducer": "cat"}})
	workers := []string{"core-1", "task-1"}

	// While it runs: the follower's page shows what the leader knows (the
	// attempts' status lines are the leader's soft state).
	var running *html.Node
	ct.WaitFor(t, "both maps running, with their status line, on the follower's page", time.Minute, func() bool {
		doc, _, err := getPage(followerURL + "/steps/" + id)
		if err != nil {
			return false
		}
		for i := range 2 {
			row := byID(doc, "attempt-"+state.AttemptID(id, state.KindMap, i, 0))
			if row == nil {
				return false
			}
			cs := rowCells(row)
			if len(cs) != 12 || cs[5] != "RUNNING" || cs[9] != "waiting for the gate" {
				return false
			}
		}
		running = doc
		return true
	})
	if got := text(byID(running, "step-id")); got != id {
		t.Errorf("step page of %s is headed %q", id, got)
	}
	if got := text(byID(running, "step-state")); got != "RUNNING (MAP)" {
		t.Errorf("step state %q", got)
	}
	if got := text(byID(running, "map-progress")); !regexp.MustCompile(`^\d+% \(0/2\)$`).MatchString(got) {
		t.Errorf("map progress %q, want N%% (0/2)", got)
	}
	if got := text(byID(running, "reduce-progress")); got != "0% (0/1)" {
		t.Errorf("reduce progress %q", got)
	}
	for i := range 2 {
		cs := rowCells(byID(running, "attempt-"+state.AttemptID(id, state.KindMap, i, 0)))
		if cs[0] != fmt.Sprintf("map %d", i) || cs[1] != "RUNNING" || !slices.Contains(workers, cs[4]) {
			t.Errorf("map %d: %q", i, cs)
		}
	}
	// The core worker's HDFS usage comes with its block reports.
	var doc *html.Node
	ct.WaitFor(t, "the follower's overview to show the core worker's HDFS usage", 30*time.Second, func() bool {
		d, code, err := getPage(followerURL + "/")
		if err != nil || code != http.StatusOK {
			return false
		}
		doc = d
		core := rowCells(byID(doc, "worker-core-1"))
		return len(core) == 10 && core[6] != "-"
	})
	if cs := rowCells(byID(doc, "step-"+id)); len(cs) != 8 || cs[0] != id || cs[1] != "gated" || cs[2] != "streaming" || cs[3] != "RUNNING (MAP)" || cs[5] != "0% (0/1)" {
		t.Errorf("step row %q", cs)
	}
	if cs := rowCells(byID(doc, "primary-"+leader.ID())); len(cs) != 9 || cs[0] != leader.ID()+" (leader)" || cs[2] != "Leader" {
		t.Errorf("leader row %q", cs)
	}
	if got := text(byID(doc, "this-primary")); !strings.HasPrefix(got, "served by "+follower.ID()+": Follower") || !strings.HasSuffix(got, "leader "+leader.ID()) {
		t.Errorf("this primary: %q", got)
	}
	core, task := rowCells(byID(doc, "worker-core-1")), rowCells(byID(doc, "worker-task-1"))
	if len(core) != 10 || core[1] != "core" || core[3] != "ALIVE" || core[4] != "2" || core[6] == "-" || core[8] != "0" {
		t.Errorf("core worker row %q (want its HDFS usage, no block)", core)
	}
	if len(task) != 10 || task[1] != "task" || task[3] != "ALIVE" || task[6] != "-" {
		t.Errorf("task worker row %q", task)
	}
	if n, _ := strconv.Atoi(core[5]); n+atoi(task[5]) != 2 {
		t.Errorf("running attempts %s + %s, want 2", core[5], task[5])
	}
	fams := metrics(t, leaderURL)
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gomr_raft_leader", nil, 1},
		{"gomr_steps", []string{"state", "RUNNING"}, 1},
		{"gomr_running_attempts", []string{"kind", "map"}, 2},
		{"gomr_running_attempts", []string{"kind", "reduce"}, 0},
		{"gomr_workers", []string{"role", "core", "state", "ALIVE"}, 1},
		{"gomr_workers", []string{"role", "task", "state", "ALIVE"}, 1},
		{"gomr_worker_slots", []string{"role", "core"}, 2},
	} {
		if got := metricValue(t, fams, m.name, m.labels...); got != m.want {
			t.Errorf("leader: %s%v = %g, want %g", m.name, m.labels, got, m.want)
		}
	}
	term := metricValue(t, fams, "gomr_raft_term")
	ffams := metrics(t, followerURL)
	if metricValue(t, ffams, "gomr_raft_leader") != 0 || metricValue(t, ffams, "gomr_raft_term") != term || metricValue(t, ffams, "gomr_raft_state", "state", "follower") != 1 {
		t.Errorf("follower's raft metrics: leader %g, term %g (leader's %g)", metricValue(t, ffams, "gomr_raft_leader"), metricValue(t, ffams, "gomr_raft_term"), term)
	}

	t.Run("chromium", func(t *testing.T) {
		dom := chromium(t, "--dump-dom", followerURL+"/steps/"+id)
		doc, err := html.Parse(strings.NewReader(dom))
		if err != nil {
			t.Fatal(err)
		}
		if got := text(byID(doc, "step-id")); got != id {
			t.Errorf("rendered step page is headed %q, want %s", got, id)
		}
		if got := text(byID(doc, "step-state")); got != "RUNNING (MAP)" {
			t.Errorf("rendered step state %q", got)
		}
		if got := text(byID(doc, "map-progress")); !strings.HasSuffix(got, "(0/2)") {
			t.Errorf("rendered map progress %q", got)
		}
		cs := rowCells(byID(doc, "attempt-"+state.AttemptID(id, state.KindMap, 0, 0)))
		if len(cs) < 5 || !slices.Contains(workers, cs[4]) {
			t.Errorf("rendered attempt row %q names no worker", cs)
		}
		shot := filepath.Join(t.TempDir(), "overview.png")
		chromium(t, "--screenshot="+shot, leaderURL+"/")
		b, err := os.ReadFile(shot)
		if err != nil || len(b) == 0 {
			t.Fatalf("screenshot: %d bytes, %v", len(b), err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("screenshot is not a PNG: %v", err)
		}
		if r := img.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
			t.Errorf("screenshot of %v", r)
		}
	})

	// The attempt's log page names its worker.
	attempt := state.AttemptID(id, state.KindMap, 1, 0)
	doc, code, err := getPage(followerURL + "/steps/" + id + "/attempts/" + attempt + "/logs")
	if err != nil || code != http.StatusOK {
		t.Fatalf("logs page: %d, %v", code, err)
	}
	if got := text(byID(doc, "attempt-worker")); !slices.ContainsFunc(workers, func(w string) bool { return strings.HasPrefix(got, w+" at 127.0.0.1:") }) {
		t.Errorf("logs page: worker %q", got)
	}

	os.WriteFile(gate, nil, 0o644)
	st := c.Wait(id)
	ct.MustComplete(t, st)
	if st.Counters["MAP_INPUT_RECORDS"] != 7 {
		t.Errorf("MAP_INPUT_RECORDS %d, want 7", st.Counters["MAP_INPUT_RECORDS"])
	}
	doc, code, err = getPage(followerURL + "/steps/" + id)
	if err != nil || code != http.StatusOK {
		t.Fatalf("step page: %d, %v", code, err)
	}
	if got := text(byID(doc, "step-state")); got != "COMPLETED" {
		t.Errorf("step state %q", got)
	}
	if got := text(byID(doc, "map-progress")) + " " + text(byID(doc, "reduce-progress")); got != "100% (2/2) 100% (1/1)" {
		t.Errorf("progress %q", got)
	}
	var want []string
	for name, v := range st.Counters {
		want = append(want, fmt.Sprintf("%s %d", name, v))
	}
	slices.Sort(want)
	if got := text(byID(doc, "counters")); got != strings.Join(want, " ") {
		t.Errorf("counters\n got %q\nwant %q", got, strings.Join(want, " "))
	}

	// Metrics, on the follower once it applied the step's end: the
	// counters summed from the step and the ended attempts' durations.
	ct.WaitFor(t, "the follower's metrics to show the step completed", 30*time.Second, func() bool {
		ffams = metrics(t, followerURL)
		return metricValue(t, ffams, "gomr_steps", "state", "COMPLETED") == 1
	})
	ended := map[[2]string]uint64{}
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			ended[[2]string{strings.ToLower(string(task.Kind.Value())), string(a.State.Value())}]++
		}
	}
	if ended[[2]string{"map", "SUCCEEDED"}] < 2 || ended[[2]string{"reduce", "SUCCEEDED"}] < 1 {
		t.Fatalf("attempts %v", ended)
	}
	for _, kind := range []string{"map", "reduce"} {
		for _, as := range []string{"SUCCEEDED", "FAILED", "KILLED"} {
			h := findMetric(t, ffams, "gomr_attempt_duration_seconds", "kind", kind, "state", as).Histogram
			if h.GetSampleCount() != ended[[2]string{kind, as}] {
				t.Errorf("%s %s attempt durations: %d, want %d", kind, as, h.GetSampleCount(), ended[[2]string{kind, as}])
			}
		}
	}
	for _, m := range []struct {
		name, counter string
	}{
		{"gomr_map_input_records_total", "MAP_INPUT_RECORDS"},
		{"gomr_shuffle_bytes_total", "REDUCE_SHUFFLE_BYTES"},
		{"gomr_reduce_output_records_total", "REDUCE_OUTPUT_RECORDS"},
		{"gomr_output_bytes_total", "BYTES_WRITTEN"},
	} {
		if got := metricValue(t, ffams, m.name); got != float64(st.Counters[m.counter]) || got == 0 {
			t.Errorf("%s = %g, want %s = %d (not 0)", m.name, got, m.counter, st.Counters[m.counter])
		}
	}
	if got := metricValue(t, ffams, "gomr_attempts_total", "kind", "map", "outcome", "launched"); got != float64(st.Counters["LAUNCHED_MAPS"]) {
		t.Errorf("launched maps %g, want %d", got, st.Counters["LAUNCHED_MAPS"])
	}
	if got := metricValue(t, ffams, "gomr_running_attempts", "kind", "map"); got != 0 {
		t.Errorf("running maps %g after the step", got)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// getPage fetches and parses a page.
func getPage(url string) (*html.Node, int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	doc, err := html.Parse(resp.Body)
	return doc, resp.StatusCode, err
}

// metrics scrapes and parses a primary's /metrics.
func metrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s/metrics: %s: %s", base, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s/metrics is not Prometheus text: %v", base, err)
	}
	return fams
}

func findMetric(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range f.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] })
		}
		if match {
			return m
		}
	}
	t.Fatalf("no %s with labels %v", name, labels)
	return nil
}

func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	m := findMetric(t, fams, name, labels...)
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// chromium runs headless Chromium on a page of this machine, as
// DEPENDENCIES.md says, and returns what it printed; the test is skipped
// where Chromium is not installed.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (Debian: apt-get install -y chromium); skipping the rendered page checks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

func byID(n *html.Node, id string) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "id" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := byID(c, id); f != nil {
			return f
		}
	}
	return nil
}

// text is an element's text with white space collapsed ("" for none).
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && slices.Contains([]string{"td", "th", "tr", "div", "p", "dt", "dd"}, n.Data) {
			b.WriteByte(' ')
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// rowCells returns the texts of a table row's cells (nil for no row).
func rowCells(row *html.Node) []string {
	if row == nil {
		return nil
	}
	var out []string
	for c := row.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "td" {
			out = append(out, text(c))
		}
	}
	return out
}
