package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc"
)

// countingClient counts the DescribeStep calls made through it.
type countingClient struct {
	pb.ClientClient
	describes atomic.Int64
}

func (c *countingClient) DescribeStep(ctx context.Context, in *pb.DescribeStepRequest, opts ...grpc.CallOption) (*pb.DescribeStepResponse, error) {
	c.describes.Add(1)
	return c.ClientClient.DescribeStep(ctx, in, opts...)
}

// TestWaitStepIsPushed: waiting for a step asks the cluster once per
// change of the step's state or phase, not every so often: a step whose
// reduce takes 1.5 s (a polling client would ask 15 times meanwhile) is
// seen through at most one call per change, and its end is seen as soon
// as it happens.
func TestWaitStepIsPushed(t *testing.T) {
	c := ct.StartInProcess(t, ct.Options{Workers: ct.Roles("core"), MinSplitSize: 1, WorkerFaults: "reduce-end=sleep:1500ms"})
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("to be or not to be\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := c.Submit(&pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"), Reducers: 1})
	counting := &countingClient{ClientClient: c.Client()}
	cl := &clusterClient{timeout: 30 * time.Second, ClientClient: counting}
	var progress bytes.Buffer
	if err := waitStep(context.Background(), cl, id, waitOptions{progress: &progress, every: time.Minute}); err != nil {
		t.Fatalf("wait: %v\n%s", err, progress.String())
	}
	returned := time.Now()
	calls := counting.describes.Load()
	st := c.Describe(id)
	// One call that returns at once, then one per change: PENDING to
	// RUNNING (map), to the reduce phase, to the commit phase, to
	// COMPLETED.
	if calls > 5 {
		t.Errorf("%d DescribeStep calls to wait for the step, want at most 5 (one per change of state or phase):\n%s", calls, progress.String())
	}
	if !strings.Contains(progress.String(), id+"  COMPLETED") {
		t.Errorf("progress does not show the step COMPLETED:\n%s", progress.String())
	}
	t.Logf("%d calls; the client saw the end %s after the primary recorded it", calls, returned.Sub(time.Unix(0, st.EndedUnixNano)).Round(time.Microsecond))
}
