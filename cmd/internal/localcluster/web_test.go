package localcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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
//
// Every check is made on one answer and retried until it holds (or the
// patience is spent, when the last problem found fails the test): on a
// loaded machine the group may elect a new leader in the middle.
func TestStatusPageWhileAStepRuns(t *testing.T) {
	c := startCluster(t, ct.Options{Primaries: 3, Workers: ct.Roles("core", "task"), Slots: 2})
	leader := c.Server(c.Leader())
	var follower *primary.Server
	var urls []string
	for _, n := range c.Primaries() {
		p := c.Server(n)
		if p != leader && follower == nil {
			follower = p
		}
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
		urls = append(urls, pageURL(t, p.HTTPAddr(), c.ClientToken()))
	}
	followerURL := pageURL(t, follower.HTTPAddr(), c.ClientToken())

	dir := t.TempDir()
	gate := filepath.Join(ct.OpenDir(t), "gate") // seen by the mapper, which runs unprivileged
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
	eventually(t, "the follower's page of the running step", time.Minute, func() error {
		doc, err := getPage(followerURL + "/steps/" + id)
		if err != nil {
			return err
		}
		return runningStepPage(doc, id, workers)
	})
	eventually(t, "the follower's overview", time.Minute, func() error {
		doc, err := getPage(followerURL + "/")
		if err != nil {
			return err
		}
		var problems []string
		if cs := rowCells(byID(doc, "step-"+id)); len(cs) != 8 || cs[0] != id || cs[1] != "gated" || cs[2] != "streaming" || cs[3] != "RUNNING (MAP)" || cs[5] != "0% (0/1)" {
			problems = append(problems, fmt.Sprintf("step row %q", cs))
		}
		leaders := 0
		for _, p := range c.LC.Primaries {
			cs := rowCells(byID(doc, "primary-"+p.ID()))
			if len(cs) != 9 {
				problems = append(problems, fmt.Sprintf("primary row %q", cs))
			} else if cs[0] == p.ID()+" (leader)" && cs[2] == "Leader" {
				leaders++
				if got := text(byID(doc, "this-primary")); !strings.HasPrefix(got, "served by "+follower.ID()+": ") || !strings.HasSuffix(got, "leader "+p.ID()) {
					problems = append(problems, fmt.Sprintf("this primary: %q, leader %s", got, p.ID()))
				}
			}
		}
		if leaders != 1 {
			problems = append(problems, fmt.Sprintf("%d leaders listed", leaders))
		}
		// The core worker's HDFS usage comes with its block reports.
		core, task := rowCells(byID(doc, "worker-core-1")), rowCells(byID(doc, "worker-task-1"))
		if len(core) != 10 || core[1] != "core" || core[3] != "ALIVE" || core[4] != "2" || core[6] == "-" || core[7] == "-" || core[8] != "0" {
			problems = append(problems, fmt.Sprintf("core worker row %q (want its HDFS usage, no block)", core))
		}
		if len(task) != 10 || task[1] != "task" || task[3] != "ALIVE" || task[6] != "-" {
			problems = append(problems, fmt.Sprintf("task worker row %q", task))
		}
		if len(core) == 10 && len(task) == 10 && atoi(core[5])+atoi(task[5]) != 2 {
			problems = append(problems, fmt.Sprintf("running attempts %s + %s, want 2", core[5], task[5]))
		}
		return problemsErr(doc, problems)
	})
	eventually(t, "the leader's and a follower's metrics", time.Minute, func() error {
		var lf, ff map[string]*dto.MetricFamily
		for _, u := range urls {
			fams, err := metrics(u)
			if err != nil {
				return err
			}
			if v, _ := metricValue(fams, "gomr_raft_leader"); v == 1 {
				lf = fams
			} else if ff == nil {
				ff = fams
			}
		}
		if lf == nil || ff == nil {
			return fmt.Errorf("no leader, or no follower")
		}
		var problems []string
		for _, m := range []struct {
			fams   map[string]*dto.MetricFamily
			name   string
			labels []string
			want   float64
		}{
			{lf, "gomr_steps", []string{"state", "RUNNING"}, 1},
			{lf, "gomr_steps", []string{"state", "COMPLETED"}, 0},
			{lf, "gomr_running_attempts", []string{"kind", "map"}, 2},
			{lf, "gomr_running_attempts", []string{"kind", "reduce"}, 0},
			{lf, "gomr_pending_tasks", []string{"kind", "reduce"}, 1},
			{lf, "gomr_workers", []string{"role", "core", "state", "ALIVE"}, 1},
			{lf, "gomr_workers", []string{"role", "task", "state", "ALIVE"}, 1},
			{lf, "gomr_worker_slots", []string{"role", "core"}, 2},
			{lf, "gomr_raft_state", []string{"state", "leader"}, 1},
			{ff, "gomr_raft_leader", nil, 0},
			{ff, "gomr_raft_state", []string{"state", "follower"}, 1},
			{ff, "gomr_steps", []string{"state", "RUNNING"}, 1},
		} {
			if got, err := metricValue(m.fams, m.name, m.labels...); err != nil || got != m.want {
				problems = append(problems, fmt.Sprintf("%s%v = %g (%v), want %g", m.name, m.labels, got, err, m.want))
			}
		}
		lt, _ := metricValue(lf, "gomr_raft_term")
		ft, _ := metricValue(ff, "gomr_raft_term")
		if lt != ft || lt == 0 {
			problems = append(problems, fmt.Sprintf("terms %g (leader) and %g (follower)", lt, ft))
		}
		return problemsErr(nil, problems)
	})

	t.Run("chromium", func(t *testing.T) {
		eventually(t, "Chromium's rendering of the running step's page", time.Minute, func() error {
			dom, err := chromium(t, "--dump-dom", followerURL+"/steps/"+id)
			if err != nil {
				return err
			}
			doc, err := html.Parse(strings.NewReader(dom))
			if err != nil {
				return err
			}
			return runningStepPage(doc, id, workers)
		})
		shot := filepath.Join(t.TempDir(), "overview.png")
		if _, err := chromium(t, "--screenshot="+shot, followerURL+"/"); err != nil {
			t.Fatal(err)
		}
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
	eventually(t, "the logs page of "+attempt, time.Minute, func() error {
		doc, err := getPage(followerURL + "/steps/" + id + "/attempts/" + attempt + "/logs")
		if err != nil {
			return err
		}
		got := text(byID(doc, "attempt-worker"))
		if !slices.ContainsFunc(workers, func(w string) bool { return strings.HasPrefix(got, w+" at 127.0.0.1:") }) {
			return problemsErr(doc, []string{fmt.Sprintf("worker %q", got)})
		}
		if where := text(byID(doc, "where")); !strings.Contains(where, "steps/"+id+"/"+attempt+"/work/mapper.stderr") {
			return fmt.Errorf("where the logs are: %q", where)
		}
		return nil
	})

	os.WriteFile(gate, nil, 0o644)
	st := c.Wait(id)
	ct.MustComplete(t, st)
	if st.Counters["MAP_INPUT_RECORDS"] != 7 {
		t.Errorf("MAP_INPUT_RECORDS %d, want 7", st.Counters["MAP_INPUT_RECORDS"])
	}
	var want []string
	for name, v := range st.Counters {
		want = append(want, fmt.Sprintf("%s %d", name, v))
	}
	slices.Sort(want)
	eventually(t, "the follower's page of the completed step", time.Minute, func() error {
		doc, err := getPage(followerURL + "/steps/" + id)
		if err != nil {
			return err
		}
		var problems []string
		if got := text(byID(doc, "step-state")); got != "COMPLETED" {
			problems = append(problems, fmt.Sprintf("step state %q", got))
		}
		if got := text(byID(doc, "map-progress")) + " " + text(byID(doc, "reduce-progress")); got != "100% (2/2) 100% (1/1)" {
			problems = append(problems, fmt.Sprintf("progress %q", got))
		}
		if got := text(byID(doc, "counters")); got != strings.Join(want, " ") {
			problems = append(problems, fmt.Sprintf("counters\n got %q\nwant %q", got, strings.Join(want, " ")))
		}
		return problemsErr(doc, problems)
	})

	// Metrics, on the follower once it applied the step's end: the
	// counters summed from the step and the ended attempts' durations.
	ended := map[[2]string]uint64{}
	for _, task := range st.Tasks {
		for _, a := range task.Attempts {
			ended[[2]string{strings.ToLower(string(task.Kind.Value())), string(a.State.Value())}]++
		}
	}
	if ended[[2]string{"map", "SUCCEEDED"}] < 2 || ended[[2]string{"reduce", "SUCCEEDED"}] < 1 {
		t.Fatalf("attempts %v", ended)
	}
	eventually(t, "the follower's metrics of the completed step", time.Minute, func() error {
		fams, err := metrics(followerURL)
		if err != nil {
			return err
		}
		var problems []string
		for _, m := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"gomr_steps", []string{"state", "COMPLETED"}, 1},
			{"gomr_steps", []string{"state", "RUNNING"}, 0},
			{"gomr_running_attempts", []string{"kind", "map"}, 0},
			{"gomr_map_input_records_total", nil, float64(st.Counters["MAP_INPUT_RECORDS"])},
			{"gomr_shuffle_bytes_total", nil, float64(st.Counters["REDUCE_SHUFFLE_BYTES"])},
			{"gomr_reduce_output_records_total", nil, float64(st.Counters["REDUCE_OUTPUT_RECORDS"])},
			{"gomr_output_bytes_total", nil, float64(st.Counters["BYTES_WRITTEN"])},
			{"gomr_attempts_total", []string{"kind", "map", "outcome", "launched"}, float64(st.Counters["LAUNCHED_MAPS"])},
			{"gomr_attempts_total", []string{"kind", "reduce", "outcome", "launched"}, float64(st.Counters["LAUNCHED_REDUCES"])},
		} {
			if got, err := metricValue(fams, m.name, m.labels...); err != nil || got != m.want || (got == 0 && strings.HasSuffix(m.name, "_total")) {
				problems = append(problems, fmt.Sprintf("%s%v = %g (%v), want %g (not 0 for a counter)", m.name, m.labels, got, err, m.want))
			}
		}
		for _, kind := range []string{"map", "reduce"} {
			for _, as := range []string{"SUCCEEDED", "FAILED", "KILLED"} {
				m, err := findMetric(fams, "gomr_attempt_duration_seconds", "kind", kind, "state", as)
				if err != nil || m.Histogram.GetSampleCount() != ended[[2]string{kind, as}] {
					problems = append(problems, fmt.Sprintf("%s %s attempt durations: %v (%v), want %d", kind, as, m.GetHistogram().GetSampleCount(), err, ended[[2]string{kind, as}]))
				}
			}
		}
		return problemsErr(nil, problems)
	})
}

// runningStepPage checks the page of the gated step while both its maps
// wait for the gate.
func runningStepPage(doc *html.Node, id string, workers []string) error {
	var problems []string
	if got := text(byID(doc, "step-id")); got != id {
		problems = append(problems, fmt.Sprintf("page headed %q, want %s", got, id))
	}
	if got := text(byID(doc, "step-state")); got != "RUNNING (MAP)" {
		problems = append(problems, fmt.Sprintf("step state %q", got))
	}
	if got := text(byID(doc, "map-progress")); !regexp.MustCompile(`^\d+% \(0/2\)$`).MatchString(got) {
		problems = append(problems, fmt.Sprintf("map progress %q, want N%% (0/2)", got))
	}
	if got := text(byID(doc, "reduce-progress")); got != "0% (0/1)" {
		problems = append(problems, fmt.Sprintf("reduce progress %q", got))
	}
	for i := range 2 {
		// task, its state, split, attempt, worker, state, progress,
		// started, duration, status, error, logs
		cs := rowCells(byID(doc, "attempt-"+state.AttemptID(id, state.KindMap, i, 0)))
		if len(cs) != 12 || cs[0] != fmt.Sprintf("map %d", i) || cs[1] != "RUNNING" || !slices.Contains(workers, cs[4]) || cs[5] != "RUNNING" || cs[9] != "waiting for the gate" {
			problems = append(problems, fmt.Sprintf("map %d: %q", i, cs))
		}
	}
	return problemsErr(doc, problems)
}

// problemsErr joins what a check found wrong, with the page's error
// banner if it has one.
func problemsErr(doc *html.Node, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	if banner := text(byID(doc, "errors")); banner != "" {
		problems = append(problems, "page errors: "+banner)
	}
	return errors.New(strings.Join(problems, "; "))
}

// eventually polls check until it returns nil; after patience, the last
// problem fails the test.
func eventually(t *testing.T, what string, patience time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// pageURL returns the base URL of a primary's status page: the page
// itself, or, on a cluster with tokens (TLS), a proxy in the test that
// adds the cluster's token to each request, as a signed-in browser
// would send its cookie (Chromium too goes through it). Without the token
// the page sends the caller to its sign-in form.
func pageURL(t *testing.T, addr, token string) string {
	t.Helper()
	if token == "" {
		return "http://" + addr
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("the status page at %s without a token: %s to %q, want a redirect to /login", addr, resp.Status, resp.Header.Get("Location"))
	}
	target, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.Header.Set("Authorization", "Bearer "+token)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// getPage fetches and parses a page.
func getPage(url string) (*html.Node, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return html.Parse(resp.Body)
}

// metrics scrapes and parses a primary's /metrics.
func metrics(base string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s/metrics: %s: %s", base, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s/metrics is not Prometheus text: %w", base, err)
	}
	return fams, nil
}

func findMetric(fams map[string]*dto.MetricFamily, name string, labels ...string) (*dto.Metric, error) {
	f, ok := fams[name]
	if !ok {
		return nil, fmt.Errorf("no metric family %s", name)
	}
	for _, m := range f.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] })
		}
		if match {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no %s with labels %v", name, labels)
}

func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, error) {
	m, err := findMetric(fams, name, labels...)
	if err != nil {
		return 0, err
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue(), nil
	}
	return m.Counter.GetValue(), nil
}

// chromium runs headless Chromium on a page of this machine, as
// DEPENDENCIES.md says, and returns what it printed; the test is skipped
// where Chromium is not installed.
func chromium(t *testing.T, args ...string) (string, error) {
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
		return "", fmt.Errorf("chromium %v: %w\n%s", args, err, stderr.String())
	}
	return stdout.String(), nil
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
