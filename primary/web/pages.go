package web

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pages serves the HTML pages.
type pages struct {
	cfg Config
}

// layout is what every page shows around its content.
type layout struct {
	Title string
	// Node is this primary, with its own Raft state (read locally: it is
	// there even without a leader).
	Node localStatus
	// Refresh is the page's reload period in seconds (0: none).
	Refresh int
	// Errors are the reads that failed, for a banner.
	Errors []string
	// code is the HTTP status: the worst of the failed reads.
	code int
	// now is when the page is made (durations of what runs end there).
	now time.Time
}

// localStatus is this primary's Raft state as its own member sees it.
type localStatus struct {
	ID, RaftState, Leader, LastContact string
	Term, CommitIndex, AppliedIndex    uint64
}

func (p *pages) layout(title string, refresh bool) layout {
	stats := p.cfg.Raft.Stats()
	num := func(k string) uint64 {
		n, _ := strconv.ParseUint(stats[k], 10, 64)
		return n
	}
	_, leader := p.cfg.Raft.LeaderWithID()
	l := layout{
		Title: title,
		Node: localStatus{
			ID: p.cfg.NodeID, RaftState: stats["state"], Leader: string(leader), LastContact: stats["last_contact"],
			Term: num("term"), CommitIndex: num("commit_index"), AppliedIndex: num("applied_index"),
		},
		code: http.StatusOK,
		now:  p.cfg.Now(),
	}
	if l.Node.Leader == "" {
		l.Node.Leader = "none"
	}
	if refresh && p.cfg.Refresh > 0 {
		l.Refresh = max(1, int(p.cfg.Refresh.Round(time.Second)/time.Second))
	}
	return l
}

// fail records a failed read on the page.
func (l *layout) fail(what string, err error) {
	st := status.Convert(err)
	msg := st.Message()
	if what != "" {
		msg = what + ": " + msg
	}
	l.Errors = append(l.Errors, msg)
	code := http.StatusInternalServerError
	switch st.Code() {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument:
		code = http.StatusBadRequest
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		code = http.StatusServiceUnavailable
	}
	if l.code == http.StatusOK || code > l.code {
		l.code = code
	}
}

// overviewData is the main page: nodes and one page of steps.
type overviewData struct {
	layout
	Nodes *pb.ListNodesResponse
	HDFS  hdfsTotals
	Steps []*pb.Step
	// Filter is the state the steps are filtered on ("" for all), States
	// the states one can filter on.
	Filter string
	States []string
	// Paged says the list is not the first page; Next is the token of the
	// next (older) page, "" on the last.
	Paged bool
	Next  string
}

// hdfsTotals sums the core workers' HDFS usage.
type hdfsTotals struct {
	Capacity, Used, Remaining, Blocks int64
	Nodes                             int
}

func (p *pages) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()
	q := r.URL.Query()
	d := overviewData{layout: p.layout("gomr cluster", true), Filter: q.Get("state"), Paged: q.Get("page") != ""}
	for _, s := range state.StepStates {
		d.States = append(d.States, string(s))
	}
	req := &pb.ListStepsRequest{PageSize: int32(p.cfg.PageSize), PageToken: q.Get("page")}
	if d.Filter != "" {
		if !slices.Contains(d.States, d.Filter) {
			d.fail("steps", status.Errorf(codes.InvalidArgument, "unknown step state %q", d.Filter))
			p.render(w, "overview", &d)
			return
		}
		req.States = []pb.StepState{pb.FromStepState(state.StepState(d.Filter))}
	}
	// The two reads go to the leader at once: listing nodes asks every
	// primary for its status.
	var (
		wg              sync.WaitGroup
		nodesErr, stErr error
		nodes           *pb.ListNodesResponse
		steps           *pb.ListStepsResponse
	)
	wg.Go(func() { nodes, nodesErr = p.cfg.Source.ListNodes(ctx, &pb.ListNodesRequest{}) })
	wg.Go(func() { steps, stErr = p.cfg.Source.ListSteps(ctx, req) })
	wg.Wait()
	if nodesErr != nil {
		d.fail("nodes", nodesErr)
	} else {
		d.Nodes = nodes
		for _, n := range nodes.Workers {
			if n.Role.Value() == state.RoleCore && n.HdfsCapacity > 0 {
				d.HDFS.Nodes++
				d.HDFS.Capacity += n.HdfsCapacity
				d.HDFS.Used += n.HdfsUsed
				d.HDFS.Remaining += n.HdfsRemaining
				d.HDFS.Blocks += n.HdfsBlocks
			}
		}
	}
	if stErr != nil {
		d.fail("steps", stErr)
	} else {
		d.Steps, d.Next = steps.Steps, steps.NextPageToken
	}
	p.render(w, "overview", &d)
}

// stepData is a step's page.
type stepData struct {
	layout
	Step     *pb.Step
	Counters []counter
	Tasks    []*pb.Task
	// Paged says the tasks are not the first page; Next is the token of
	// the next page, "" on the last.
	Paged bool
	Next  string
}

type counter struct {
	Name  string
	Value int64
}

func (p *pages) step(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()
	id := chi.URLParam(r, "id")
	token := r.URL.Query().Get("tasks")
	d := stepData{layout: p.layout("step "+id, true), Paged: token != ""}
	resp, err := p.cfg.Source.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
	if err != nil {
		d.fail("", err) // the message names the step
		p.render(w, "step", &d)
		return
	}
	d.Step = resp.Step
	if d.Step.State.Value().Terminal() {
		d.Refresh = 0 // nothing will change
	}
	for name, v := range d.Step.Counters {
		d.Counters = append(d.Counters, counter{name, v})
	}
	slices.SortFunc(d.Counters, func(a, b counter) int { return strings.Compare(a.Name, b.Name) })
	tasks, err := p.cfg.Source.ListTasks(ctx, &pb.ListTasksRequest{StepId: id, PageSize: int32(p.cfg.PageSize), PageToken: token})
	if err != nil {
		d.fail("tasks", err)
	} else {
		d.Tasks, d.Next = tasks.Tasks, tasks.NextPageToken
	}
	p.render(w, "step", &d)
}

// logsData is the page of an attempt's logs.
type logsData struct {
	layout
	StepID    string
	AttemptID string
	Task      *pb.Task
	Attempt   *pb.Attempt
	// Worker is the worker the attempt ran on as the cluster knows it now
	// (nil if it is not listed).
	Worker *pb.Node
	// Dir is the attempt's folder under the worker's data folder.
	Dir string
}

// attemptLogs says where an attempt's logs are: attempts write them on
// their worker, in the attempt's folder, which the worker keeps until the
// step has ended.
func (p *pages) attemptLogs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
	defer cancel()
	stepID, attemptID := chi.URLParam(r, "id"), chi.URLParam(r, "attempt")
	d := logsData{layout: p.layout("logs of "+attemptID, false), StepID: stepID, AttemptID: attemptID, Dir: "steps/" + stepID + "/" + attemptID}
	resp, err := p.cfg.Source.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: stepID})
	if err != nil {
		d.fail("", err)
		p.render(w, "logs", &d)
		return
	}
	task, attempt, err := p.findAttempt(ctx, resp.Step, attemptID)
	if err != nil {
		d.fail("", err)
		p.render(w, "logs", &d)
		return
	}
	d.Task, d.Attempt = task, attempt
	if nodes, err := p.cfg.Source.ListNodes(ctx, &pb.ListNodesRequest{}); err == nil {
		for _, n := range nodes.Workers {
			if n.Id == attempt.Worker {
				d.Worker = n
			}
		}
	}
	p.render(w, "logs", &d)
}

// findAttempt finds an attempt of a step. Its id names its task (Hadoop's
// attempt_STEP_m_000003_0), and the task is fetched alone by its position
// (maps first, then reduces); failing that, the step's tasks are searched.
func (p *pages) findAttempt(ctx context.Context, st *pb.Step, id string) (*pb.Task, *pb.Attempt, error) {
	find := func(tasks []*pb.Task) (*pb.Task, *pb.Attempt) {
		for _, t := range tasks {
			for _, a := range t.Attempts {
				if a.Id == id {
					return t, a
				}
			}
		}
		return nil, nil
	}
	if kind, index, ok := parseAttemptID(st.Id, id); ok {
		pos := index
		if kind == state.KindReduce {
			pos += int(st.MapsTotal)
		}
		resp, err := p.cfg.Source.ListTasks(ctx, &pb.ListTasksRequest{StepId: st.Id, PageSize: 1, PageToken: strconv.Itoa(pos)})
		if err != nil {
			return nil, nil, err
		}
		if t, a := find(resp.Tasks); t != nil {
			return t, a, nil
		}
	}
	for token := ""; ; {
		resp, err := p.cfg.Source.ListTasks(ctx, &pb.ListTasksRequest{StepId: st.Id, PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, nil, err
		}
		if t, a := find(resp.Tasks); t != nil {
			return t, a, nil
		}
		if token = resp.NextPageToken; token == "" {
			return nil, nil, status.Errorf(codes.NotFound, "step %s has no attempt %s", st.Id, id)
		}
	}
}

// parseAttemptID reads the task of an attempt id of a step
// (state.AttemptID's form).
func parseAttemptID(stepID, id string) (state.TaskKind, int, bool) {
	rest, ok := strings.CutPrefix(id, "attempt_"+stepID+"_")
	if !ok {
		return "", 0, false
	}
	parts := strings.Split(rest, "_")
	if len(parts) != 3 {
		return "", 0, false
	}
	index, err := strconv.Atoi(parts[1])
	if err != nil || index < 0 {
		return "", 0, false
	}
	switch parts[0] {
	case "m":
		return state.KindMap, index, true
	case "r":
		return state.KindReduce, index, true
	}
	return "", 0, false
}

func (p *pages) notFound(w http.ResponseWriter, r *http.Request) {
	d := p.layout("not found", false)
	d.fail("page", status.Errorf(codes.NotFound, "no page at %s", r.URL.Path))
	p.render(w, "notfound", &d)
}

// statusCoder is the page data's HTTP status.
type statusCoder interface{ status() int }

func (l *layout) status() int { return l.code }

// render executes a page's template into a buffer first, so that a
// failing template never sends half a page.
func (p *pages) render(w http.ResponseWriter, name string, data statusCoder) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		p.cfg.Logger.Error("render status page", "page", name, "err", err)
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(data.status())
	w.Write(buf.Bytes())
}
