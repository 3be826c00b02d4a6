package primary

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
)

// maxReducers bounds a step's reducer count.
const maxReducers = 10000

// clientService implements the Client gRPC service.
type clientService struct {
	pb.UnimplementedClientServer
	s *Server
	// waiting counts the blocking DescribeStep calls waiting now.
	waiting atomic.Int64
}

func (c *clientService) SubmitStep(ctx context.Context, req *pb.SubmitStepRequest) (*pb.SubmitStepResponse, error) {
	// The roots of the caller's token are checked where the call
	// arrives: a forwarded call comes from a primary, with no token.
	if r, err := tokenRoots(ctx); err != nil || r != nil {
		if err == nil {
			p := req.GetSpec()
			err = r.checkSpec(state.StepSpec{Job: p.GetJob(), Inputs: p.GetInputs(), Output: p.GetOutput(), Export: p.GetExport(), Options: p.GetOptions()})
		}
		if err != nil {
			return nil, toStatus(err)
		}
	}
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.SubmitStepResponse, error) {
		return pb.NewClientClient(cc).SubmitStep(ctx, req)
	}, func() (*pb.SubmitStepResponse, error) {
		if id := c.s.stepByToken(req.GetSpec().GetClientToken()); id != "" {
			return &pb.SubmitStepResponse{StepId: id}, nil // submitted before: the same step
		}
		spec, err := c.s.validateSpec(ctx, req.GetSpec())
		if err != nil {
			return nil, err
		}
		plan, err := c.s.planInput(ctx, spec)
		deferred := false
		if (err == nil || errors.Is(err, mapreduce.ErrNotExist)) && c.s.queueBusy() {
			// A chain: the steps ahead of this one may be making its
			// input, as on EMR, where a step's input is listed when the
			// step starts. It is listed when its turn comes.
			deferred = true
			why := "steps ahead of this one have not ended"
			if err != nil {
				why = fmt.Sprintf("%v, but steps ahead of this one may make it", err)
			}
			plan = &inputPlan{warnings: []string{fmt.Sprintf("the input is listed when this step's turn comes (%s); the step fails then if it is missing", why)}}
		} else if err != nil {
			return nil, err
		}
		id := newStepID()
		c.s.planning.add(id)
		defer c.s.planning.remove(id)
		submit := &state.SubmitStep{ID: id, Spec: spec, Input: plan.summary(), Time: time.Now().UnixNano(), Deferred: deferred}
		if spec.Export != "" {
			submit.Export = &state.SubmitStep{ID: newStepID(), Spec: exportSpec(id, spec), Time: submit.Time}
		}
		if err := c.s.apply(submit); err != nil {
			if prev := c.s.stepByToken(spec.ClientToken); prev != "" {
				return &pb.SubmitStepResponse{StepId: prev}, nil
			}
			return nil, err
		}
		if err := c.s.recordSplits(id, plan.splits, 0); err != nil {
			return nil, err
		}
		c.s.log.Info("step submitted", "step", id, "job", spec.Job, "output", spec.Output, "files", len(plan.files), "splits", len(plan.splits))
		return &pb.SubmitStepResponse{StepId: id, Warnings: plan.warnings}, nil
	})
}

// validateSpec checks a submitted step the way Hadoop's job submission
// does: the job and its options, the sizes, and the output (it must not
// exist). planInput then checks the input.
func (s *Server) validateSpec(ctx context.Context, p *pb.StepSpec) (state.StepSpec, error) {
	if p == nil {
		return state.StepSpec{}, fmt.Errorf("%w: no step spec", errInvalid)
	}
	spec := state.StepSpec{
		Name:            p.Name,
		Job:             p.Job,
		Options:         p.Options,
		Inputs:          p.Inputs,
		Output:          p.Output,
		Reducers:        int(p.Reducers),
		SplitSize:       p.SplitSize,
		SortBufferBytes: p.SortBufferBytes,
		MaxLineBytes:    p.MaxLineBytes,
		MaxAttempts:     s.cfg.MaxAttempts,
		ClientToken:     p.ClientToken,
		NoSpeculation:   p.NoSpeculation,
		InputFormat:     p.InputFormat,
		OutputFormat:    p.OutputFormat,
		Compress:        p.Compress,
		Overwrite:       p.Overwrite,
		Export:          p.Export,
	}
	action, ok := state.ParseActionOnFailure(p.ActionOnFailure)
	if !ok {
		return spec, fmt.Errorf("%w: unknown action on failure %q (CONTINUE, CANCEL_AND_WAIT or TERMINATE_CLUSTER)", errInvalid, p.ActionOnFailure)
	}
	if action != state.ActionContinue && s.cfg.StepConcurrency > 1 {
		// EMR's rule: with steps running side by side, a failure cannot
		// stop the others.
		return spec, fmt.Errorf("%w: the action on failure %s is not valid on a cluster running %d steps at once (primary --step-concurrency); use CONTINUE", errInvalid, action, s.cfg.StepConcurrency)
	}
	spec.ActionOnFailure = action
	if err := refuseSecrets(spec); err != nil {
		return spec, err
	}
	if why, ok := s.fsm.view().Terminated(); ok {
		return spec, fmt.Errorf("%w: the cluster was terminated (%s) and takes no more steps", errInvalid, why)
	}
	if p.After != "" {
		return spec, fmt.Errorf("%w: after: a step waits for another only as its export step (--export)", errInvalid)
	}
	if err := checkFormats(spec); err != nil {
		return spec, err
	}
	def, err := jobs.Lookup(spec.Job)
	if err != nil {
		return spec, err
	}
	job, err := def.Build(spec.Options)
	if err != nil {
		return spec, err
	}
	if spec.Name == "" {
		spec.Name = spec.Job
	}
	if spec.Reducers < 0 || spec.Reducers > maxReducers {
		return spec, fmt.Errorf("%w: reducers must be in [0, %d], got %d", errInvalid, maxReducers, spec.Reducers)
	}
	if spec.Reducers == 0 && !def.MapOnly {
		return spec, fmt.Errorf("%w: job %s needs at least one reducer (its map output is not its final output)", errInvalid, def.Name)
	}
	if spec.Reducers > 0 && job.Reducer == nil {
		return spec, fmt.Errorf("%w: job %s has no reducer with these options (a map-only step): use --reducers 0", errInvalid, def.Name)
	}
	if spec.SplitSize == 0 {
		spec.SplitSize = mapreduce.DefaultSplitSize
	}
	if spec.SortBufferBytes == 0 {
		spec.SortBufferBytes = mapreduce.DefaultSortBufferBytes
	}
	if spec.MaxLineBytes == 0 {
		spec.MaxLineBytes = mapreduce.DefaultMaxLineBytes
	}
	switch {
	case spec.SplitSize < s.cfg.MinSplitSize:
		return spec, fmt.Errorf("%w: split size %s is below this cluster's minimum of %s (primary --min-split-size)", errInvalid, humanize.IBytes(uint64(max(0, spec.SplitSize))), humanize.IBytes(uint64(s.cfg.MinSplitSize)))
	case spec.SortBufferBytes < 1<<10 || spec.SortBufferBytes > 1<<31:
		return spec, fmt.Errorf("%w: sort buffer must be in [1 KiB, 2 GiB], got %d bytes", errInvalid, spec.SortBufferBytes)
	case spec.MaxLineBytes < 1 || spec.MaxLineBytes > 1<<30:
		return spec, fmt.Errorf("%w: line limit must be in [1, 1 GiB], got %d bytes", errInvalid, spec.MaxLineBytes)
	}
	for _, in := range spec.Inputs {
		if _, err := s.cfg.FileSystems.For(in); err != nil {
			return spec, fmt.Errorf("%w: input: %v", errInvalid, err)
		}
		if mapreduce.Scheme(in) == "file" {
			if _, err := mapreduce.LocalPath(in); err != nil {
				return spec, fmt.Errorf("%w: input: %v", errInvalid, err)
			}
		}
	}
	if err := s.confine(spec); err != nil { // confine.go: the data roots, overlapping outputs
		return spec, err
	}
	if mapreduce.Scheme(spec.Output) == "file" {
		out, err := mapreduce.LocalPath(spec.Output)
		if err != nil {
			return spec, fmt.Errorf("%w: output: %v", errInvalid, err)
		}
		spec.Output = out
	} else {
		spec.Output = strings.TrimSuffix(spec.Output, "/")
	}
	if err := s.checkOutput(ctx, spec.Output, spec.Overwrite); err != nil {
		return spec, err
	}
	if spec.Export != "" {
		spec.Export = strings.TrimSuffix(spec.Export, "/")
		if mapreduce.Scheme(spec.Export) == "file" {
			if spec.Export, err = mapreduce.LocalPath(spec.Export); err != nil {
				return spec, fmt.Errorf("%w: export: %v", errInvalid, err)
			}
		}
		if spec.Export == spec.Output {
			return spec, fmt.Errorf("%w: export: %s is the step's output", errInvalid, spec.Export)
		}
		if err := s.checkOutput(ctx, spec.Export, spec.Overwrite); err != nil {
			return spec, fmt.Errorf("export: %w", err)
		}
	}
	// Input and output formats (plan.go): the job's formats, its typed
	// output schema, and the options it computes from the input once.
	if err := s.prepareFormats(ctx, def, &spec); err != nil {
		return spec, err
	}
	return spec, nil
}

// queueBusy reports whether some step has not ended: a step submitted now
// waits behind it.
func (s *Server) queueBusy() bool {
	return len(s.fsm.view().StepsIn(state.StepPending, state.StepRunning, state.StepCancelPending)) > 0
}

// exportSpec is the spec of the export step of a step: a distcp of its
// committed output to its export folder, once it completed.
func exportSpec(id string, spec state.StepSpec) state.StepSpec {
	e := state.StepSpec{
		Name:            spec.Name + " export",
		Job:             jobs.DistCpJob,
		Inputs:          []string{spec.Output},
		Output:          spec.Export,
		SplitSize:       spec.SplitSize,
		SortBufferBytes: spec.SortBufferBytes,
		MaxLineBytes:    spec.MaxLineBytes,
		MaxAttempts:     spec.MaxAttempts,
		Overwrite:       spec.Overwrite,
		After:           id,
		ActionOnFailure: spec.ActionOnFailure,
	}
	if spec.ClientToken != "" {
		e.ClientToken = spec.ClientToken + "/export"
	}
	return e
}

// checkOutput checks that a step can write to output (see
// mapreduce.Committer.CheckOutput).
func (s *Server) checkOutput(ctx context.Context, output string, overwrite bool) error {
	cm, err := s.cfg.FileSystems.CommitterFor(output, "", overwrite)
	if err != nil {
		return fmt.Errorf("%w: output: %v", errInvalid, err)
	}
	return cm.CheckOutput(ctx)
}

// Formats and codecs a step may name ("" is the first of each).
var (
	inputFormats  = []string{"text", "csv", "jsonl", "parquet"}
	outputFormats = []string{"text", "jsonl", "csv", "parquet"}
	codecs        = []string{"none", "gzip", "zstd"}
)

// checkFormats refuses a format or codec gomr does not know.
func checkFormats(spec state.StepSpec) error {
	for _, c := range []struct {
		what, value string
		known       []string
	}{{"input format", spec.InputFormat, inputFormats}, {"output format", spec.OutputFormat, outputFormats}, {"compression", spec.Compress, codecs}} {
		if c.value != "" && !slices.Contains(c.known, c.value) {
			return fmt.Errorf("%w: unknown %s %q (known: %s)", errInvalid, c.what, c.value, strings.Join(c.known, ", "))
		}
	}
	return nil
}

func (s *Server) stepByToken(token string) string {
	return s.fsm.view().StepByToken(token)
}

// newStepID returns an id in EMR's style: "s-" and 13 characters.
func newStepID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 13)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "s-" + string(b)
}

// Page sizes of listings: the default, and the most one reply holds.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// pageSize returns the page size a request asks for, within bounds.
func pageSize(asked int32) int {
	if asked <= 0 {
		return defaultPageSize
	}
	return min(int(asked), maxPageSize)
}

// pageStart decodes a page token: the position to continue from.
func pageStart(token string) (uint64, error) {
	if token == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(token, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad page token %q", errInvalid, token)
	}
	return n, nil
}

func (c *clientService) ListSteps(ctx context.Context, req *pb.ListStepsRequest) (*pb.ListStepsResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.ListStepsResponse, error) {
		return pb.NewClientClient(cc).ListSteps(ctx, req)
	}, func() (*pb.ListStepsResponse, error) {
		if err := c.s.verifyLeader(); err != nil {
			return nil, err
		}
		// A page token is the sequence number of the next (older) step.
		before, err := pageStart(req.PageToken)
		if err != nil {
			return nil, err
		}
		if req.PageToken != "" && before == 0 {
			return &pb.ListStepsResponse{}, nil
		}
		var states []state.StepState
		for _, st := range req.States {
			states = append(states, st.Value())
		}
		size := pageSize(req.PageSize)
		v := c.s.fsm.view()
		resp := &pb.ListStepsResponse{}
		for step := range v.StepsNewestFirst(before) {
			if len(resp.Steps) == size {
				resp.NextPageToken = strconv.FormatUint(step.Seq+1, 10)
				break
			}
			if len(states) == 0 || slices.Contains(states, step.State) {
				resp.Steps = append(resp.Steps, c.s.stepProto(v, step))
			}
		}
		return resp, nil
	})
}

func (c *clientService) ListTasks(ctx context.Context, req *pb.ListTasksRequest) (*pb.ListTasksResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.ListTasksResponse, error) {
		return pb.NewClientClient(cc).ListTasks(ctx, req)
	}, func() (*pb.ListTasksResponse, error) {
		if err := c.s.verifyLeader(); err != nil {
			return nil, err
		}
		from, err := pageStart(req.PageToken)
		if err != nil {
			return nil, err
		}
		v := c.s.fsm.view()
		step, ok := v.Step(req.StepId)
		if !ok {
			return nil, fmt.Errorf("step %s: %w", req.StepId, state.ErrNotFound)
		}
		size := pageSize(req.PageSize)
		resp := &pb.ListTasksResponse{}
		pos := from
		for t := range v.TasksFrom(step, int(min(from, 1<<31))) {
			if len(resp.Tasks) == size {
				resp.NextPageToken = strconv.FormatUint(pos, 10)
				break
			}
			resp.Tasks = append(resp.Tasks, c.s.taskProto(t))
			pos++
		}
		return resp, nil
	})
}

func (c *clientService) DescribeStep(ctx context.Context, req *pb.DescribeStepRequest) (*pb.DescribeStepResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.DescribeStepResponse, error) {
		return pb.NewClientClient(cc).DescribeStep(ctx, req)
	}, func() (*pb.DescribeStepResponse, error) {
		if err := c.s.verifyLeader(); err != nil {
			return nil, err
		}
		return c.describeStep(ctx, req) // describe.go
	})
}

func (c *clientService) CancelStep(ctx context.Context, req *pb.CancelStepRequest) (*pb.CancelStepResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.CancelStepResponse, error) {
		return pb.NewClientClient(cc).CancelStep(ctx, req)
	}, func() (*pb.CancelStepResponse, error) {
		err := c.s.apply(&state.CancelStep{ID: req.StepId, Reason: "cancelled by user", Time: time.Now().UnixNano()})
		if err != nil {
			return nil, err
		}
		c.s.log.Info("step cancelled", "step", req.StepId)
		st, _ := c.s.fsm.view().Step(req.StepId)
		return &pb.CancelStepResponse{State: pb.FromStepState(st.State)}, nil
	})
}

func (c *clientService) ListNodes(ctx context.Context, req *pb.ListNodesRequest) (*pb.ListNodesResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.ListNodesResponse, error) {
		return pb.NewClientClient(cc).ListNodes(ctx, req)
	}, func() (*pb.ListNodesResponse, error) {
		if err := c.s.verifyLeader(); err != nil {
			return nil, err
		}
		return c.s.listNodes(ctx)
	})
}

// RemovePrimary takes a primary out of the Raft group and the state. The
// removed primary's process should then be stopped.
func (c *clientService) RemovePrimary(ctx context.Context, req *pb.RemovePrimaryRequest) (*pb.RemovePrimaryResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.RemovePrimaryResponse, error) {
		return pb.NewClientClient(cc).RemovePrimary(ctx, req)
	}, func() (*pb.RemovePrimaryResponse, error) {
		cf := c.s.raft.GetConfiguration()
		if err := cf.Error(); err != nil {
			return nil, fmt.Errorf("raft configuration: %w", err)
		}
		found := false
		for _, srv := range cf.Configuration().Servers {
			found = found || string(srv.ID) == req.Id
		}
		if !found {
			return nil, fmt.Errorf("primary %s: %w in the raft group", req.Id, state.ErrNotFound)
		}
		if err := c.s.apply(&state.RemovePrimary{ID: req.Id}); err != nil && !errors.Is(err, state.ErrNotFound) {
			return nil, err
		}
		if err := c.s.raft.RemoveServer(raft.ServerID(req.Id), 0, applyTimeout).Error(); err != nil {
			return nil, fmt.Errorf("%w: remove %s from the raft group: %v", ErrNoLeader, req.Id, err)
		}
		c.s.log.Info("primary removed", "primary", req.Id)
		return &pb.RemovePrimaryResponse{}, nil
	})
}

func (c *clientService) KillAttempt(ctx context.Context, req *pb.KillAttemptRequest) (*pb.KillAttemptResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.KillAttemptResponse, error) {
		return pb.NewClientClient(cc).KillAttempt(ctx, req)
	}, func() (*pb.KillAttemptResponse, error) {
		if err := c.s.apply(&state.KillAttempt{AttemptID: req.AttemptId, Reason: "killed by user", Time: time.Now().UnixNano()}); err != nil {
			return nil, err
		}
		c.s.log.Info("attempt killed by user", "attempt", req.AttemptId)
		return &pb.KillAttemptResponse{}, nil
	})
}

func (c *clientService) DrainWorker(ctx context.Context, req *pb.DrainWorkerRequest) (*pb.DrainWorkerResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.DrainWorkerResponse, error) {
		return pb.NewClientClient(cc).DrainWorker(ctx, req)
	}, func() (*pb.DrainWorkerResponse, error) {
		if err := c.s.apply(&state.DrainWorker{ID: req.Id, Time: time.Now().UnixNano()}); err != nil {
			return nil, err
		}
		c.s.log.Info("worker draining", "worker", req.Id)
		return &pb.DrainWorkerResponse{}, nil
	})
}

// DecommissionWorker starts decommissioning a core worker: its blocks are
// copied elsewhere, and once they all are it is DECOMMISSIONED and may be
// stopped. It is refused when the other core workers could not hold every
// file's replication.
func (c *clientService) DecommissionWorker(ctx context.Context, req *pb.DecommissionWorkerRequest) (*pb.DecommissionWorkerResponse, error) {
	return forward(c.s, ctx, func(ctx context.Context, cc *grpc.ClientConn) (*pb.DecommissionWorkerResponse, error) {
		return pb.NewClientClient(cc).DecommissionWorker(ctx, req)
	}, func() (*pb.DecommissionWorkerResponse, error) {
		v := c.s.fsm.view()
		live, decom := liveCore(v)
		remaining := 0
		for w := range live {
			if w != req.Id && !decom[w] {
				remaining++
			}
		}
		if _, ok := live[req.Id]; ok {
			for f := range v.Files() {
				if f.Replication > remaining {
					return nil, fmt.Errorf("%w: cannot decommission %s: the %d other core workers cannot hold the %d replicas of %s (lower it with gomr hdfs setrep, or add core workers first)",
						errInvalid, req.Id, remaining, f.Replication, f.Path)
				}
			}
		}
		if err := c.s.apply(&state.DecommissionWorker{ID: req.Id, Time: time.Now().UnixNano()}); err != nil {
			return nil, err
		}
		c.s.poke()
		c.s.log.Info("decommissioning worker", "worker", req.Id)
		return &pb.DecommissionWorkerResponse{}, nil
	})
}

func (s *Server) listNodes(ctx context.Context) (*pb.ListNodesResponse, error) {
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	resp := &pb.ListNodesResponse{Leader: s.cfg.NodeID}
	resp.Terminated, _ = s.fsm.view().Terminated()
	addrs := make(map[string]string)
	running := make(map[string]int32)
	v := s.fsm.view()
	for _, p := range v.Primaries() {
		addrs[p.ID] = p.Addr
	}
	runningAttempts(v, func(_ *state.Step, _ *state.Task, a *state.Attempt) { running[a.Worker]++ })
	for _, w := range v.Workers() {
		n := &pb.Node{
			Id: w.ID, Role: pb.FromWorkerRole(w.Role), Address: w.Addr, Slots: int32(w.Slots), State: pb.FromWorkerState(w.State),
			Incarnation: w.Incarnation, Running: running[w.ID], RegisteredUnixNano: w.RegisteredAt,
		}
		if d, ok := s.blocks.node(w.ID); ok && w.Up() {
			n.HdfsCapacity, n.HdfsUsed, n.HdfsRemaining, n.HdfsBlocks = d.capacity, d.used, d.remaining, int64(d.blocks)
		}
		if w.State == state.WorkerDecommissioning {
			n.DecommissionLeft = s.decommissionProgress(w.ID)
		}
		resp.Workers = append(resp.Workers, n)
	}
	sort.Slice(resp.Workers, func(i, j int) bool { return resp.Workers[i].Id < resp.Workers[j].Id })
	for _, srv := range cf.Configuration().Servers {
		id := string(srv.ID)
		var p *pb.Primary
		if id == s.cfg.NodeID {
			p = s.status()
		} else {
			p = s.peerStatus(ctx, id, addrs[id])
		}
		p.Id = id
		p.RaftAddress = string(srv.Address)
		p.Voter = srv.Suffrage == raft.Voter
		resp.Primaries = append(resp.Primaries, p)
	}
	return resp, nil
}

func (s *Server) peerStatus(ctx context.Context, id, addr string) *pb.Primary {
	if addr == "" {
		return &pb.Primary{RaftState: "unknown", Error: "address not announced yet"}
	}
	cc, err := s.peers.Get(addr)
	if err != nil {
		return &pb.Primary{Address: addr, RaftState: "unknown", Error: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	p, err := pb.NewPeerClient(cc).Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return &pb.Primary{Address: addr, RaftState: "unreachable", Error: err.Error()}
	}
	return p
}
