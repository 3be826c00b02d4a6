package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"golang.org/x/net/html"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeSource answers the pages' reads from fixed data, paging as the
// Client service does.
type fakeSource struct {
	mu    sync.Mutex
	nodes *pb.ListNodesResponse
	steps []*pb.Step // newest first
	tasks map[string][]*pb.Task
	err   error
	// asked records the ListSteps requests.
	asked []*pb.ListStepsRequest
}

func (f *fakeSource) ListNodes(context.Context, *pb.ListNodesRequest) (*pb.ListNodesResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.nodes == nil {
		return &pb.ListNodesResponse{}, nil
	}
	return f.nodes, nil
}

func (f *fakeSource) ListSteps(_ context.Context, req *pb.ListStepsRequest) (*pb.ListStepsResponse, error) {
	f.mu.Lock()
	f.asked = append(f.asked, req)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var steps []*pb.Step
	for _, s := range f.steps {
		if len(req.States) == 0 || slices.Contains(req.States, s.State) {
			steps = append(steps, s)
		}
	}
	from, _ := strconv.Atoi(req.PageToken)
	resp := &pb.ListStepsResponse{}
	for i := from; i < len(steps); i++ {
		if len(resp.Steps) == int(req.PageSize) {
			resp.NextPageToken = strconv.Itoa(i)
			break
		}
		resp.Steps = append(resp.Steps, steps[i])
	}
	return resp, nil
}

func (f *fakeSource) DescribeStep(_ context.Context, req *pb.DescribeStepRequest) (*pb.DescribeStepResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	for _, s := range f.steps {
		if s.Id == req.StepId {
			return &pb.DescribeStepResponse{Step: s}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "step %s: not found", req.StepId)
}

func (f *fakeSource) ListTasks(_ context.Context, req *pb.ListTasksRequest) (*pb.ListTasksResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	tasks := f.tasks[req.StepId]
	from, _ := strconv.Atoi(req.PageToken)
	resp := &pb.ListTasksResponse{}
	for i := from; i < len(tasks); i++ {
		if len(resp.Tasks) == int(req.PageSize) {
			resp.NextPageToken = strconv.Itoa(i)
			break
		}
		resp.Tasks = append(resp.Tasks, tasks[i])
	}
	return resp, nil
}

// cluster is the fake cluster of the page tests: three primaries, a core
// and a task worker, a running step with two maps (one done, one half
// way) and a reduce, and a completed one.
func cluster() *fakeSource {
	run := &pb.Step{
		Id: "s-RUN", Spec: &pb.StepSpec{Name: "count words", Job: "wordcount", Inputs: []string{"/in/a", "/in/b"}, Output: "/out/run", Reducers: 1},
		State: pb.StepState_STEP_RUNNING, Phase: pb.StepPhase_PHASE_MAP,
		SubmittedUnixNano: at(10), StartedUnixNano: at(11),
		MapsTotal: 2, MapsDone: 1, MapProgress: 0.75, ReducesTotal: 1, ReduceProgress: 0,
		InputFiles: 2, InputBytes: 2048,
		Counters: map[string]int64{"MAP_INPUT_RECORDS": 7, "LAUNCHED_MAPS": 3, "FAILED_MAPS": 1},
	}
	done := &pb.Step{
		Id: "s-DONE", Spec: &pb.StepSpec{Name: "grep", Job: "grep", Output: "/out/done", Reducers: 1},
		State: pb.StepState_STEP_COMPLETED, SubmittedUnixNano: at(1), StartedUnixNano: at(1), EndedUnixNano: at(4.5),
		MapsTotal: 1, MapsDone: 1, MapProgress: 1, ReducesTotal: 1, ReducesDone: 1, ReduceProgress: 1,
	}
	return &fakeSource{
		nodes: &pb.ListNodesResponse{
			Leader: "primary-1",
			Primaries: []*pb.Primary{
				{Id: "primary-1", Address: "127.0.0.1:7400", RaftState: "Leader", Voter: true, Term: 3, CommitIndex: 90, AppliedIndex: 90},
				{Id: "primary-2", Address: "127.0.0.1:7401", RaftState: "Follower", Voter: true, Term: 3, CommitIndex: 90, AppliedIndex: 89},
				{Id: "primary-3", Address: "127.0.0.1:7402", RaftState: "unreachable", Error: "connection refused"},
			},
			Workers: []*pb.Node{
				{Id: "core-1", Role: pb.WorkerRole_CORE, Address: "127.0.0.1:7410", Slots: 4, State: pb.WorkerState_WORKER_ALIVE, Running: 1,
					RegisteredUnixNano: at(0), HdfsCapacity: 10 << 30, HdfsUsed: 3 << 20, HdfsRemaining: 9 << 30, HdfsBlocks: 3},
				{Id: "task-1", Role: pb.WorkerRole_TASK, Address: "127.0.0.1:7420", Slots: 2, State: pb.WorkerState_WORKER_DEAD, RegisteredUnixNano: at(0)},
			},
		},
		steps: []*pb.Step{run, done},
		tasks: map[string][]*pb.Task{
			"s-RUN": {
				{Kind: pb.TaskKind_MAP, Index: 0, State: pb.TaskState_TASK_SUCCEEDED, Split: &pb.Split{File: "/in/a", Offset: 0, Length: 1024},
					Attempts: []*pb.Attempt{
						{Id: "attempt_s-RUN_m_000000_0", Worker: "task-1", State: pb.AttemptState_ATTEMPT_FAILED, StartedUnixNano: at(12), EndedUnixNano: at(12.25), Error: "mapper exited with status 1"},
						{Id: "attempt_s-RUN_m_000000_1", Worker: "core-1", State: pb.AttemptState_ATTEMPT_SUCCEEDED, StartedUnixNano: at(13), EndedUnixNano: at(14.5), Progress: 1},
					}},
				{Kind: pb.TaskKind_MAP, Index: 1, State: pb.TaskState_TASK_RUNNING, Split: &pb.Split{File: "/in/b", Offset: 0, Length: 1024},
					Attempts: []*pb.Attempt{{Id: "attempt_s-RUN_m_000001_0", Worker: "core-1", State: pb.AttemptState_ATTEMPT_RUNNING, StartedUnixNano: at(40), Progress: 0.5, Status: "reading /in/b"}}},
				{Kind: pb.TaskKind_REDUCE, Index: 0, State: pb.TaskState_TASK_PENDING},
			},
		},
	}
}

// get serves one request.
func get(t *testing.T, h http.Handler, url string) (int, *html.Node, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	body := rec.Body.String()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: not HTML: %v", url, err)
	}
	return rec.Code, doc, body
}

// byID finds the element with an id.
func byID(n *html.Node, id string) *html.Node {
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

// all finds the elements of a tag under n.
func all(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// text is an element's text with white space collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && slices.Contains([]string{"td", "th", "tr", "div", "p", "dt", "dd", "br"}, n.Data) {
			b.WriteByte(' ') // a block ends a word
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// cells returns the texts of a table row's cells.
func cells(t *testing.T, doc *html.Node, rowID string) []string {
	t.Helper()
	row := byID(doc, rowID)
	if row == nil {
		t.Fatalf("no row %s", rowID)
	}
	var out []string
	for c := row.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
			out = append(out, text(c))
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func wantCells(t *testing.T, doc *html.Node, rowID string, want ...string) {
	t.Helper()
	if got := cells(t, doc, rowID); !slices.Equal(got, want) {
		t.Errorf("row %s:\n got %q\nwant %q", rowID, got, want)
	}
}

func TestOverview(t *testing.T) {
	h := newHandler(t, cluster(), state.New().View, leaderRaft())
	code, doc, body := get(t, h, "/")
	if code != http.StatusOK {
		t.Fatalf("status %d:\n%s", code, body)
	}
	if got := text(byID(doc, "this-primary")); got != "served by primary-1: Leader, term 5, applied 41, leader primary-1" {
		t.Errorf("this primary: %q", got)
	}
	wantCells(t, doc, "primary-primary-1", "primary-1 (leader)", "127.0.0.1:7400", "Leader", "yes", "3", "90", "90", "0", "")
	wantCells(t, doc, "primary-primary-3", "primary-3", "127.0.0.1:7402", "unreachable", "no", "0", "0", "0", "0", "connection refused")
	wantCells(t, doc, "worker-core-1", "core-1", "core", "127.0.0.1:7410", "ALIVE", "4", "1", "3.0 MiB", "9.0 GiB", "3", "2027-01-15 08:00:00")
	wantCells(t, doc, "worker-task-1", "task-1", "task", "127.0.0.1:7420", "DEAD", "2", "0", "-", "-", "-", "2027-01-15 08:00:00")
	if got := text(byID(doc, "hdfs")); got != "HDFS: 3.0 MiB used, 9.0 GiB free of 10 GiB, 3 block replicas on 1 core workers" {
		t.Errorf("hdfs: %q", got)
	}
	// Running: measured to the page's time, 100s.
	wantCells(t, doc, "step-s-RUN", "s-RUN", "count words", "wordcount", "RUNNING (MAP)", "75% (1/2)", "0% (0/1)", "2027-01-15 08:00:10", "1m29s")
	wantCells(t, doc, "step-s-DONE", "s-DONE", "grep", "grep", "COMPLETED", "100% (1/1)", "100% (1/1)", "2027-01-15 08:00:01", "3.5s")
	bars := all(byID(doc, "step-s-RUN"), "progress")
	if len(bars) != 2 || attr(bars[0], "value") != "75" || attr(bars[1], "value") != "0" {
		t.Errorf("progress bars of s-RUN: %d, first %q", len(bars), attr(bars[0], "value"))
	}
	links := all(byID(doc, "step-s-RUN"), "a")
	if len(links) != 1 || attr(links[0], "href") != "/steps/s-RUN" {
		t.Errorf("link of s-RUN: %v", links)
	}
	var refresh string
	for _, m := range all(doc, "meta") {
		if attr(m, "http-equiv") == "refresh" {
			refresh = attr(m, "content")
		}
	}
	if refresh != "5" {
		t.Errorf("the page reloads every %q seconds, want 5", refresh)
	}
	if byID(doc, "older") != nil || byID(doc, "errors") != nil {
		t.Error("one page of steps has a link to older ones, or the page shows errors")
	}
}

// TestStepsArePaged: the newest steps first, a link to each older page.
func TestStepsArePaged(t *testing.T) {
	src := &fakeSource{}
	for i := 250; i >= 1; i-- {
		src.steps = append(src.steps, &pb.Step{Id: fmt.Sprintf("s-%03d", i), Spec: &pb.StepSpec{Name: "wc", Job: "wordcount"}, State: pb.StepState_STEP_COMPLETED})
	}
	h := newHandler(t, src, state.New().View, leaderRaft())
	url := "/"
	var pages [][]string
	for range 5 {
		code, doc, body := get(t, h, url)
		if code != http.StatusOK {
			t.Fatalf("GET %s: status %d:\n%s", url, code, body)
		}
		var ids []string
		for _, tr := range all(byID(doc, "steps"), "tr")[1:] {
			ids = append(ids, strings.TrimPrefix(attr(tr, "id"), "step-"))
		}
		pages = append(pages, ids)
		if (url != "/") != (strings.Contains(text(byID(doc, "steps-pager")), "newest")) {
			t.Errorf("GET %s: a link to the newest steps on a later page only", url)
		}
		older := byID(doc, "older")
		if older == nil {
			break
		}
		url = attr(older, "href")
	}
	if len(pages) != 3 || len(pages[0]) != 100 || len(pages[1]) != 100 || len(pages[2]) != 50 {
		t.Fatalf("pages of %v steps, want 100, 100, 50", func() (n []int) {
			for _, p := range pages {
				n = append(n, len(p))
			}
			return
		}())
	}
	if pages[0][0] != "s-250" || pages[0][99] != "s-151" || pages[1][0] != "s-150" || pages[2][49] != "s-001" {
		t.Errorf("pages start with %s, %s, %s and end with %s", pages[0][0], pages[1][0], pages[2][0], pages[2][49])
	}
}

func TestStateFilter(t *testing.T) {
	src := cluster()
	h := newHandler(t, src, state.New().View, leaderRaft())
	code, doc, _ := get(t, h, "/?state=COMPLETED")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if byID(doc, "step-s-DONE") == nil || byID(doc, "step-s-RUN") != nil {
		t.Error("filtered on COMPLETED, the page does not show s-DONE alone")
	}
	if last := src.asked[len(src.asked)-1]; len(last.States) != 1 || last.States[0] != pb.StepState_STEP_COMPLETED {
		t.Errorf("asked for states %v", last.States)
	}
	code, doc, _ = get(t, h, "/?state=SLEEPING")
	if code != http.StatusBadRequest || !strings.Contains(text(byID(doc, "errors")), `unknown step state "SLEEPING"`) {
		t.Errorf("unknown state: status %d, errors %q", code, text(byID(doc, "errors")))
	}
}

func TestStepPage(t *testing.T) {
	h := newHandler(t, cluster(), state.New().View, leaderRaft())
	code, doc, body := get(t, h, "/steps/s-RUN")
	if code != http.StatusOK {
		t.Fatalf("status %d:\n%s", code, body)
	}
	if got := text(byID(doc, "step-state")); got != "RUNNING (MAP)" {
		t.Errorf("state %q", got)
	}
	if got := text(byID(doc, "map-progress")); got != "75% (1/2)" {
		t.Errorf("map progress %q", got)
	}
	if got := text(byID(doc, "reduce-progress")); got != "0% (0/1)" {
		t.Errorf("reduce progress %q", got)
	}
	if got := text(byID(doc, "counters")); got != "FAILED_MAPS 1 LAUNCHED_MAPS 3 MAP_INPUT_RECORDS 7" {
		t.Errorf("counters %q", got)
	}
	wantCells(t, doc, "attempt-attempt_s-RUN_m_000000_0", "map 0", "SUCCEEDED", "/in/a [0+1024]", "attempt_s-RUN_m_000000_0", "task-1", "FAILED", "0%",
		"2027-01-15 08:00:12", "250ms", "", "mapper exited with status 1", "logs")
	wantCells(t, doc, "attempt-attempt_s-RUN_m_000000_1", "attempt_s-RUN_m_000000_1", "core-1", "SUCCEEDED", "100%", "2027-01-15 08:00:13", "1.5s", "", "", "logs")
	wantCells(t, doc, "attempt-attempt_s-RUN_m_000001_0", "map 1", "RUNNING", "/in/b [0+1024]", "attempt_s-RUN_m_000001_0", "core-1", "RUNNING", "50%",
		"2027-01-15 08:00:40", "1m0s", "reading /in/b", "", "logs")
	logs := all(byID(doc, "attempt-attempt_s-RUN_m_000001_0"), "a")
	if len(logs) != 1 || attr(logs[0], "href") != "/steps/s-RUN/attempts/attempt_s-RUN_m_000001_0/logs" {
		t.Errorf("logs link %v", logs)
	}
	if got := text(byID(doc, "tasks")); !strings.Contains(got, "reduce 0 PENDING - no attempt yet") {
		t.Errorf("the pending reduce is not listed: %q", got)
	}

	// An ended step's page does not reload.
	_, doc, _ = get(t, h, "/steps/s-DONE")
	for _, m := range all(doc, "meta") {
		if attr(m, "http-equiv") == "refresh" {
			t.Error("the page of a completed step reloads itself")
		}
	}
	code, doc, _ = get(t, h, "/steps/s-NONE")
	if code != http.StatusNotFound || text(byID(doc, "errors")) != "step s-NONE: not found" {
		t.Errorf("unknown step: status %d, errors %q", code, text(byID(doc, "errors")))
	}
}

func TestTasksArePaged(t *testing.T) {
	src := cluster()
	for i := range 130 {
		src.tasks["s-DONE"] = append(src.tasks["s-DONE"], &pb.Task{Kind: pb.TaskKind_MAP, Index: int32(i), State: pb.TaskState_TASK_SUCCEEDED,
			Attempts: []*pb.Attempt{{Id: fmt.Sprintf("attempt_s-DONE_m_%06d_0", i), Worker: "core-1", State: pb.AttemptState_ATTEMPT_SUCCEEDED}}})
	}
	h := newHandler(t, src, state.New().View, leaderRaft())
	_, doc, _ := get(t, h, "/steps/s-DONE")
	more := byID(doc, "more-tasks")
	if more == nil || byID(doc, "attempt-attempt_s-DONE_m_000099_0") == nil || byID(doc, "attempt-attempt_s-DONE_m_000100_0") != nil {
		t.Fatal("the first page does not hold the first 100 tasks alone with a link to more")
	}
	_, doc, _ = get(t, h, attr(more, "href"))
	if byID(doc, "more-tasks") != nil || byID(doc, "attempt-attempt_s-DONE_m_000100_0") == nil || byID(doc, "attempt-attempt_s-DONE_m_000129_0") == nil {
		t.Error("the second page does not hold the last 30 tasks")
	}
}

func TestAttemptLogs(t *testing.T) {
	src := cluster()
	src.steps[0].MapsTotal = 2
	src.tasks["s-RUN"][2].Attempts = []*pb.Attempt{{Id: "attempt_s-RUN_r_000000_0", Worker: "task-1", State: pb.AttemptState_ATTEMPT_KILLED, Error: "worker lost"}}
	h := newHandler(t, src, state.New().View, leaderRaft())
	code, doc, body := get(t, h, "/steps/s-RUN/attempts/attempt_s-RUN_m_000001_0/logs")
	if code != http.StatusOK {
		t.Fatalf("status %d:\n%s", code, body)
	}
	if got := text(byID(doc, "attempt-worker")); got != "core-1 at 127.0.0.1:7410, now ALIVE" {
		t.Errorf("worker %q", got)
	}
	where := text(byID(doc, "where"))
	for _, want := range []string{"worker core-1", "steps/s-RUN/attempt_s-RUN_m_000001_0/ under the worker's data folder", "steps/s-RUN/attempt_s-RUN_m_000001_0/work/mapper.stderr"} {
		if !strings.Contains(where, want) {
			t.Errorf("where the logs are: %q lacks %q", where, want)
		}
	}
	// A reduce: found after the step's maps.
	_, doc, _ = get(t, h, "/steps/s-RUN/attempts/attempt_s-RUN_r_000000_0/logs")
	if got := text(byID(doc, "attempt")); !strings.Contains(got, "reduce 0") || !strings.Contains(got, "worker lost") {
		t.Errorf("reduce attempt: %q", got)
	}
	if !strings.Contains(text(byID(doc, "where")), "work/reducer.stderr") {
		t.Errorf("a reduce's log is not reducer.stderr: %q", text(byID(doc, "where")))
	}
	code, doc, _ = get(t, h, "/steps/s-RUN/attempts/attempt_s-RUN_m_000007_0/logs")
	if code != http.StatusNotFound || text(byID(doc, "errors")) != "step s-RUN has no attempt attempt_s-RUN_m_000007_0" {
		t.Errorf("unknown attempt: status %d, errors %q", code, text(byID(doc, "errors")))
	}
}

// TestNoLeader: the reads fail, the page says why and still shows this
// primary's own Raft state.
func TestNoLeader(t *testing.T) {
	src := &fakeSource{err: status.Error(codes.Unavailable, "no leader: primary-2 has none (no quorum, or an election is under way; last known leader: primary-1)")}
	r := &fakeRaft{stats: map[string]string{"state": "Candidate", "term": "9", "applied_index": "88"}}
	h := newHandler(t, src, state.New().View, r)
	code, doc, _ := get(t, h, "/")
	if code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", code)
	}
	if got := text(byID(doc, "errors")); !strings.HasPrefix(got, "nodes: no leader: primary-2 has none") || !strings.Contains(got, "steps: no leader") {
		t.Errorf("errors %q", got)
	}
	if got := text(byID(doc, "this-primary")); got != "served by primary-1: Candidate, term 9, applied 88, leader none" {
		t.Errorf("this primary: %q", got)
	}
}

func TestNotFound(t *testing.T) {
	code, doc, _ := get(t, newHandler(t, cluster(), state.New().View, leaderRaft()), "/nodes/x")
	if code != http.StatusNotFound || text(byID(doc, "errors")) != "page: no page at /nodes/x" {
		t.Errorf("status %d, errors %q", code, text(byID(doc, "errors")))
	}
}
