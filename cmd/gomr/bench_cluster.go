package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/mapreduce"
	"github.com/gomr/gomr/primary"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
	"google.golang.org/protobuf/proto"
)

// benchCluster is an embedded cluster the bench keeps running across its
// repetitions.
type benchCluster struct {
	n      int
	work   string
	c      *localcluster.Cluster
	cc     *pb.Conn
	client pb.ClientClient
	tiny   float64
}

// startBenchCluster starts an embedded cluster of n core workers and
// times a tiny step on it (which also warms it up). Every node's
// goroutines carry the pprof labels mode=cluster(n) and node=ID: the
// goroutines a node starts inherit the labels of the goroutine that
// starts it, which localcluster.Start sets through TunePrimary (called
// for each primary before any starts) and TuneWorker (called just before
// each worker starts).
func startBenchCluster(ctx context.Context, work string, n, slots int) (*benchCluster, error) {
	mode := fmt.Sprintf("cluster(%d)", n)
	b := &benchCluster{n: n, work: work}
	log, _ := newLogger("error")
	data := filepath.Join(work, fmt.Sprintf("cluster-%d", n))
	node := func(id string) {
		pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels(modeLabel, mode, nodeLabel, id)))
	}
	node("s3")
	c, err := localcluster.Start(ctx, localcluster.Config{
		Primaries: 1, Core: n, Slots: slots, DataDir: data, Logger: log,
		TunePrimary: func(pc *primary.Config) { node(pc.NodeID) },
		TuneWorker:  func(wc *worker.Config) { node(wc.ID) },
	})
	pprof.SetGoroutineLabels(ctx)
	if err != nil {
		return nil, err
	}
	b.c = c
	if b.cc, err = pb.Dial(c.Addrs()); err != nil {
		b.stop()
		return nil, err
	}
	b.client = pb.NewClientClient(b.cc)
	tiny := filepath.Join(data, "tiny.txt")
	if err := os.WriteFile(tiny, []byte("the quick brown fox jumps over the lazy dog\n"), 0o644); err != nil {
		b.stop()
		return nil, err
	}
	var tinyTimes []float64
	for r := range 5 {
		st, err := runTimedStep(ctx, b.client, &pb.StepSpec{Job: "wordcount", Inputs: []string{tiny}, Output: filepath.Join(data, fmt.Sprintf("tiny-out-%d", r)), Reducers: 1})
		if err != nil {
			b.stop()
			return nil, fmt.Errorf("%s: tiny step: %w", mode, err)
		}
		tinyTimes = append(tinyTimes, st)
	}
	b.tiny = median(tinyTimes)
	return b, nil
}

func (b *benchCluster) stop() {
	if b.cc != nil {
		b.cc.Close()
	}
	if b.c != nil {
		b.c.Stop()
	}
	os.RemoveAll(filepath.Join(b.work, fmt.Sprintf("cluster-%d", b.n)))
}

// mode returns the timed mode of the cluster. The time is the leader's,
// from submission to COMPLETED, which comes only after the output is
// committed; the output must be byte-identical to the reference.
func (b *benchCluster) mode(spec *pb.StepSpec, ref string) *benchMode {
	name := fmt.Sprintf("cluster(%d)", b.n)
	return &benchMode{
		row: benchRow{Mode: "cluster", Name: name, Workers: b.n, Output: "identical", TinyStep: b.tiny}, inProcess: true, gomr: true,
		run: func(ctx context.Context, r int) (float64, error) {
			s := proto.CloneOf(spec)
			s.Output = filepath.Join(b.work, fmt.Sprintf("cluster-%d-out-%d", b.n, r))
			defer os.RemoveAll(s.Output)
			secs, err := runTimedStep(ctx, b.client, s)
			if err != nil {
				return 0, err
			}
			return secs, checkSameOutput(name, ref, s.Output)
		},
	}
}

// checkSameOutput checks that an output folder is byte-identical to the
// reference; a difference is an error naming the first differing key
// where the outputs are key<TAB>value lines.
func checkSameOutput(what, ref, out string) error {
	same, diff, err := mapreduce.SameOutput(ref, out)
	if err != nil || same {
		return err
	}
	want, werr := readPartPairs(ref)
	got, gerr := readPartPairs(out)
	if werr == nil && gerr == nil {
		if err := compareKeyed(what, want, got); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s: output differs from the sequential run's: %s", what, diff)
}

// runTimedStep submits a step, waits for it, and returns the leader's
// submission-to-completion time in seconds.
func runTimedStep(ctx context.Context, client pb.ClientClient, spec *pb.StepSpec) (float64, error) {
	resp, err := client.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
	if err != nil {
		return 0, err
	}
	for {
		d, err := client.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: resp.StepId})
		if err != nil {
			return 0, err
		}
		if st := d.Step; st.State.Value().Terminal() {
			if st.State.Value() != state.StepCompleted {
				return 0, fmt.Errorf("step %s %s: %s", st.Id, st.State.Value(), st.Error)
			}
			return time.Duration(st.EndedUnixNano - st.SubmittedUnixNano).Seconds(), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}
