package localcluster_test

// The fixed costs of a step on a warm embedded cluster: a one-line step,
// and many one-line files, one map task each. The figures are reported
// as metrics, never asserted:
//
//	go test ./cmd/internal/localcluster -run '^$' -bench 'TinyStep|ManyTinyFiles' -benchtime 5x
//
// (TMPDIR=/dev/shm takes the disk out of the figures.)

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/cmd/internal/localcluster"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// benchSlots is how many attempts the benchmark cluster runs at once.
const benchSlots = 4

// startBenchCluster starts a warm embedded cluster the way `gomr local`
// runs one on a laptop: one primary, two core workers with two slots
// each, logs discarded. One step has run on it before it is returned.
func startBenchCluster(b *testing.B) (*localcluster.Cluster, pb.ClientClient) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc, err := localcluster.Start(ctx, localcluster.Config{
		Primaries: 1, Core: 2, Slots: benchSlots / 2,
		DataDir:      b.TempDir(),
		MinSplitSize: 1,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(lc.Stop)
	conn, err := pb.Dial(lc.Addrs())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	cl := pb.NewClientClient(conn)
	in := filepath.Join(b.TempDir(), "warm.txt")
	if err := os.WriteFile(in, []byte("warm up\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	runStep(b, cl, in, filepath.Join(b.TempDir(), "warm-out"))
	return lc, cl
}

// runStep submits a word count of input and waits for it to complete;
// it returns the step's id.
func runStep(b *testing.B, cl pb.ClientClient, input, output string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	resp, err := cl.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{input}, Output: output, Reducers: 1}})
	if err != nil {
		b.Fatal(err)
	}
	st, err := waitEnded(ctx, cl, resp.StepId)
	if err != nil {
		b.Fatal(err)
	}
	if got := st.State.Value(); got != state.StepCompleted {
		b.Fatalf("step %s ended %s: %s", st.Id, got, st.Error)
	}
	return st.Id
}

// reportPhases reports where a finished step's time went, from the
// times the primary recorded: planning (submitted to started), the map
// phase (to the last map's end), the reduce phase, and the commit (to
// the step's end); and how busy the slots were during the map phase, as
// the leader sees it (an attempt runs from its assignment to its report
// being recorded).
func reportPhases(b *testing.B, cl pb.ClientClient, id string, slots int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := ct.DescribeWithTasks(ctx, cl, id)
	if err != nil {
		b.Fatal(err)
	}
	var lastMap, lastReduce, busy int64
	for _, t := range st.Tasks {
		for _, a := range t.Attempts {
			if t.Kind.Value() == state.KindMap {
				lastMap = max(lastMap, a.EndedUnixNano)
				busy += a.EndedUnixNano - a.StartedUnixNano
			} else {
				lastReduce = max(lastReduce, a.EndedUnixNano)
			}
		}
	}
	ms := func(d int64) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(st.StartedUnixNano-st.SubmittedUnixNano), "plan_ms")
	b.ReportMetric(ms(lastMap-st.StartedUnixNano), "map_ms")
	b.ReportMetric(ms(lastReduce-lastMap), "reduce_ms")
	b.ReportMetric(ms(st.EndedUnixNano-lastReduce), "commit_ms")
	if d := lastMap - st.StartedUnixNano; d > 0 {
		b.ReportMetric(float64(busy)/float64(int64(slots)*d), "map_slot_use")
	}
}

// waitEnded waits for a step to end, as the client does.
func waitEnded(ctx context.Context, cl pb.ClientClient, id string) (*pb.Step, error) {
	for {
		resp, err := cl.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
		if err != nil {
			return nil, err
		}
		if resp.Step.State.Value().Terminal() {
			return resp.Step, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// BenchmarkTinyStep measures a one-line word count on a warm cluster,
// from submission to the client seeing it COMPLETED.
func BenchmarkTinyStep(b *testing.B) {
	_, cl := startBenchCluster(b)
	in := filepath.Join(b.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("to be or not to be\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	outs := b.TempDir()
	b.ResetTimer()
	start := time.Now()
	var id string
	for i := range b.N {
		id = runStep(b, cl, in, filepath.Join(outs, fmt.Sprint(i)))
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1e3/float64(b.N), "ms/step")
	b.StopTimer()
	reportPhases(b, cl, id, benchSlots)
}

// BenchmarkManyTinyFiles measures a word count of many one-line files,
// one map task each, on a warm cluster.
func BenchmarkManyTinyFiles(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			_, cl := startBenchCluster(b)
			in := b.TempDir()
			for i := range n {
				if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("f%05d.txt", i)), []byte(fmt.Sprintf("word%d shared\n", i%97)), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			outs := b.TempDir()
			b.ResetTimer()
			start := time.Now()
			var id string
			for i := range b.N {
				id = runStep(b, cl, in, filepath.Join(outs, fmt.Sprint(i)))
			}
			ms := float64(time.Since(start).Microseconds()) / 1e3 / float64(b.N)
			b.ReportMetric(ms, "ms/step")
			b.ReportMetric(ms*1000/float64(n), "us/task")
			b.StopTimer()
			reportPhases(b, cl, id, benchSlots)
		})
	}
}
