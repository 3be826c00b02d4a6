package localcluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ct "github.com/gomr/gomr/cmd/internal/clustertest"
	"github.com/gomr/gomr/primary"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"google.golang.org/grpc/codes"
)

// TestInputTruncatedUnderARunningStepFailsIt plans a step while every
// worker is draining, truncates its input, then adds a worker: the map
// finds the file shorter than planned and the step fails, once, with the
// file named, and leaves no output.
func TestInputTruncatedUnderARunningStepFailsIt(t *testing.T) {
	in := sampleText(t, 1, 400<<10)
	file := filepath.Join(in, "text-0.txt")
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 2})
	cl := c.Client()
	if _, err := cl.DrainWorker(context.Background(), &pb.DrainWorkerRequest{Id: "core-1"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	resp, err := cl.SubmitStep(context.Background(), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 100 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	ct.WaitFor(t, "the step to start", time.Minute, func() bool { return ct.DescribeStep(t, cl, resp.StepId).State.Value() == state.StepRunning })
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(file, 150<<10); err != nil {
		t.Fatal(err)
	}
	c.AddWorker(state.RoleTask, "task-late")
	st := ct.WaitStep(t, cl, resp.StepId)
	want := fmt.Sprintf("input %s changed while the step ran (planned %d bytes, found %d)", file, info.Size(), 150<<10)
	if st.State.Value() != state.StepFailed || !strings.Contains(st.Error, want) {
		t.Fatalf("step ended %s: %q; want FAILED with %q", st.State, st.Error, want)
	}
	failed := 0
	for _, task := range st.Tasks {
		if len(task.Attempts) > 1 {
			t.Fatalf("%s %d ran %d attempts; a changed input must not be retried", task.Kind, task.Index, len(task.Attempts))
		}
		for _, a := range task.Attempts {
			if a.State.Value() == state.AttemptFailed {
				failed++
			}
		}
	}
	if failed == 0 {
		t.Fatal("no attempt failed")
	}
	ct.WaitFor(t, "the partial output to be removed", time.Minute, func() bool { return ct.DescribeStep(t, cl, resp.StepId).CleanedUp })
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("output %s left behind: %v", out, err)
	}
}

// TestStepsThatWouldSinkTheClusterAreRefused checks the limits at
// submission and that the cluster keeps serving afterwards.
func TestStepsThatWouldSinkTheClusterAreRefused(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.txt")
	os.WriteFile(big, []byte(strings.Repeat("word ", 108_035)), 0o644) // 540,175 bytes
	tiny := filepath.Join(dir, "tiny.txt")
	os.WriteFile(tiny, []byte("the quick brown fox jumps\n"), 0o644)
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 2, TunePrimary: func(pc *primary.Config) { pc.MaxTasksPerStep = 1000 }})
	cl := c.Client()
	out := filepath.Join(dir, "out")

	st := submitErr(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{big}, Output: out, Reducers: 1, SplitSize: 1})
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "540175 map tasks") || !strings.Contains(st.Message(), "limit of 1000 tasks per step") {
		t.Fatalf("too many tasks: %v", st)
	}
	// A step of exactly the limit is accepted (999 maps and 1 reduce).
	resp, err := cl.SubmitStep(context.Background(), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{big}, Output: filepath.Join(dir, "at-limit"), Reducers: 1, SplitSize: 541}})
	if err != nil {
		t.Fatalf("a step at the limit: %v", err)
	}
	if d := ct.DescribeStep(t, cl, resp.StepId); d.MapsTotal != 999 {
		t.Fatalf("step at the limit planned %d maps", d.MapsTotal)
	}
	ct.MustComplete(t, ct.WaitStep(t, cl, resp.StepId))

	// Far more reducers than input gets a warning.
	resp, err = cl.SubmitStep(context.Background(), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{tiny}, Output: filepath.Join(dir, "many-reducers"), Reducers: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "100 reducers for 26 B of input in 1 map tasks") {
		t.Fatalf("warnings %q", resp.Warnings)
	}
	ct.MustComplete(t, ct.WaitStep(t, cl, resp.StepId))

	// The cluster still serves and counts right.
	got := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{tiny}, Output: filepath.Join(dir, "after"), Reducers: 1})
	ct.MustComplete(t, got)
	if got.Counters["REDUCE_OUTPUT_RECORDS"] != 5 {
		t.Fatalf("counters %v", got.Counters)
	}
}

// TestMinimumSplitSize checks that a default primary refuses splits under
// 1 MiB by name.
func TestMinimumSplitSize(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("a b c\n"), 0o644)
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 1, MinSplitSize: 1 << 20})
	st := submitErr(t, c.Client(), &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(dir, "out"), Reducers: 1, SplitSize: 64 << 10})
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "split size 64 KiB is below this cluster's minimum of 1.0 MiB") {
		t.Fatalf("small split: %v", st)
	}
}

// TestLongListsArePaged lists steps and tasks a page at a time.
func TestLongListsArePaged(t *testing.T) {
	in := sampleText(t, 1, 64<<10)
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 2})
	cl := c.Client()
	out := t.TempDir()
	var ids []string
	for i := range 5 {
		st := ct.RunStep(t, cl, &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: filepath.Join(out, fmt.Sprint(i)), Reducers: 3, SplitSize: 4 << 10})
		ct.MustComplete(t, st)
		ids = append(ids, st.Id)
	}
	var listed []string
	pages := 0
	for token := ""; ; pages++ {
		resp, err := cl.ListSteps(context.Background(), &pb.ListStepsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Steps) > 2 {
			t.Fatalf("page of %d steps", len(resp.Steps))
		}
		for _, st := range resp.Steps {
			listed = append(listed, st.Id)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if pages != 2 || strings.Join(listed, " ") != strings.Join([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}, " ") {
		t.Fatalf("%d pages listed %v; steps are %v", pages+1, listed, ids)
	}
	resp, err := cl.ListSteps(context.Background(), &pb.ListStepsRequest{States: []pb.StepState{pb.StepState_STEP_FAILED}})
	if err != nil || len(resp.Steps) != 0 {
		t.Fatalf("failed steps: %v %v", resp, err)
	}
	var tasks []*pb.Task
	for token := ""; ; {
		resp, err := cl.ListTasks(context.Background(), &pb.ListTasksRequest{StepId: ids[0], PageSize: 7, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, resp.Tasks...)
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	d := ct.DescribeStep(t, cl, ids[0])
	if len(tasks) != int(d.MapsTotal+d.ReducesTotal) || tasks[0].Kind.Value() != state.KindMap || tasks[len(tasks)-1].Kind.Value() != state.KindReduce {
		t.Fatalf("%d tasks listed, step has %d maps and %d reduces", len(tasks), d.MapsTotal, d.ReducesTotal)
	}
	if _, err := cl.ListTasks(context.Background(), &pb.ListTasksRequest{StepId: ids[0], PageToken: "x"}); err == nil {
		t.Fatal("a bad page token was accepted")
	}
}

// TestStoppedEphemeralClusterLeavesNothing stops an embedded cluster
// without a data folder while a step runs: the step is cancelled and its
// output folder, _temporary included, is gone.
func TestStoppedEphemeralClusterLeavesNothing(t *testing.T) {
	in := sampleText(t, 2, 2<<20)
	c := startCluster(t, ct.Options{Primaries: 1, Workers: ct.Roles("core"), Slots: 1, Ephemeral: true})
	cl := c.Client()
	out := filepath.Join(t.TempDir(), "out")
	resp, err := cl.SubmitStep(context.Background(), &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: []string{in}, Output: out, Reducers: 2, SplitSize: 64 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	ct.WaitFor(t, "the step to run a map", time.Minute, func() bool {
		d := ct.DescribeStep(t, cl, resp.StepId)
		return d.State.Value() == state.StepRunning && d.MapsDone > 0
	})
	if _, err := os.Stat(filepath.Join(out, "_temporary")); err != nil {
		t.Fatalf("no _temporary while running: %v", err)
	}
	c.LC.Stop()
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(out)
		t.Fatalf("the stopped cluster left %s behind (%v): %v", out, err, entries)
	}
}
