package localcluster

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomr/gomr/primary"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

// testLog sends node logs to the test's log, shown when a test fails.
type testLog struct {
	mu sync.Mutex
	t  testing.TB
	on bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// startCluster starts a local cluster for a test and stops it at cleanup.
func startCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	tl := &testLog{t: t, on: true}
	t.Cleanup(func() { tl.mu.Lock(); tl.on = false; tl.mu.Unlock() })
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.MinSplitSize == 0 {
		cfg.MinSplitSize = 1 // the tests cut small inputs into many splits
	}
	// The tests check that on a healthy cluster every task runs once; a
	// loaded test machine must not make a task look slow enough for a
	// backup.
	tune := cfg.TunePrimary
	cfg.TunePrimary = func(pc *primary.Config) {
		pc.SpeculationMinGap = 10 * time.Second
		if tune != nil {
			tune(pc)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// client connects to a cluster.
func client(t testing.TB, c *Cluster) pb.ClientClient {
	t.Helper()
	cc, err := pb.Dial(c.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewClientClient(cc)
}

// runStep submits a step and waits for it to end.
func runStep(t testing.TB, cl pb.ClientClient, spec *pb.StepSpec) *testStep {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	resp, err := cl.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
	if err != nil {
		t.Fatalf("submit %s: %v", spec.Job, err)
	}
	return waitStep(t, cl, resp.StepId)
}

func waitStep(t testing.TB, cl pb.ClientClient, id string) *testStep {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for {
		d, err := describeWithTasks(ctx, cl, id)
		if err != nil {
			t.Fatalf("describe %s: %v", id, err)
		}
		if d.State.Value().Terminal() {
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testStep is a step with its tasks, as the tests inspect it.
type testStep struct {
	*pb.Step
	Tasks []*pb.Task
}

// describeWithTasks fetches a step and every page of its tasks.
func describeWithTasks(ctx context.Context, cl pb.ClientClient, id string) (*testStep, error) {
	d, err := cl.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
	if err != nil {
		return nil, err
	}
	st := &testStep{Step: d.Step}
	for token := ""; ; {
		resp, err := cl.ListTasks(ctx, &pb.ListTasksRequest{StepId: id, PageToken: token})
		if err != nil {
			return nil, err
		}
		st.Tasks = append(st.Tasks, resp.Tasks...)
		if token = resp.NextPageToken; token == "" {
			return st, nil
		}
	}
}

// mustComplete fails the test unless the step COMPLETED.
func mustComplete(t testing.TB, st *testStep) {
	t.Helper()
	if st.State.Value() != state.StepCompleted {
		t.Fatalf("step %s ended %s: %s", st.Id, st.State, st.Error)
	}
}

// sharedData returns a folder of ../shared/data beside the repository, or
// skips the test when it is absent (a clone outside this workspace).
func sharedData(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("third-party test data %s is not here (it sits beside the repository in ../shared/data): %v", p, err)
	}
	return p
}

// outputLines reads every part file of an output folder, checking that the
// folder is committed (_SUCCESS, no _temporary) and that each part file is
// sorted by key, and returns all lines sorted.
func outputLines(t testing.TB, out string, parts int) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Fatalf("no _SUCCESS in %s: %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(out, "_temporary")); !os.IsNotExist(err) {
		t.Fatalf("_temporary left in %s", out)
	}
	files, _ := filepath.Glob(filepath.Join(out, "part-r-*"))
	if len(files) != parts {
		t.Fatalf("%d part files in %s, want %d", len(files), out, parts)
	}
	var all []string
	for _, f := range files {
		lines := readLines(t, f)
		var keys []string
		for _, l := range lines {
			k, _, _ := strings.Cut(l, "\t")
			keys = append(keys, k)
		}
		if !slices.IsSorted(keys) {
			t.Fatalf("%s is not sorted by key", f)
		}
		all = append(all, lines...)
	}
	slices.Sort(all)
	return all
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// diffLines reports the first difference between two sorted line lists.
func diffLines(t testing.TB, got, want []string) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q, want %q (%d lines vs %d)", i+1, got[i], want[i], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
}
