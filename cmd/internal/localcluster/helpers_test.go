package localcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	pb "github.com/gomr/gomr/primary/primarypb"
	"google.golang.org/grpc/status"
)

// startCluster starts an in-process cluster (the harness's) with what
// these tests assume: splits of any size, and no backup attempt for one
// that only looks slow on a loaded machine (on a healthy cluster every
// task runs once).
func startCluster(t testing.TB, o ct.Options) *ct.InProcessCluster {
	t.Helper()
	if o.MinSplitSize == 0 {
		o.MinSplitSize = 1
	}
	if o.SpeculationMinGap == 0 {
		o.SpeculationMinGap = 10 * time.Second
	}
	return ct.StartInProcess(t, o)
}

// sampleText writes n files of generated text into a new folder.
func sampleText(t *testing.T, n int, size int64) string {
	t.Helper()
	dir, _ := ct.GenerateText(t, n, size, 1)
	return dir
}

func tinyInput(t *testing.T) string {
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("to be or not to be\n"), 0o644)
	return in
}

// submitErr submits a step that must be refused and returns the refusal.
func submitErr(t *testing.T, cl pb.ClientClient, spec *pb.StepSpec) *status.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cl.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
	if err == nil {
		t.Fatalf("step %s was accepted", resp.StepId)
	}
	return status.Convert(err)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
