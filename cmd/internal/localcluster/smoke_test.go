package localcluster

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
)

func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := Start(ctx, Config{Primaries: 1, Core: 2, Task: 1, Slots: 2, DataDir: filepath.Join(dir, "data"), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cc, err := pb.Dial([]string{c.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	client := pb.NewClientClient(cc)
	inputs, _ := filepath.Glob("/work/shared/data/gutenberg-mr/*.txt")
	start := time.Now()
	resp, err := client.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: &pb.StepSpec{Job: "wordcount", Inputs: inputs, Output: filepath.Join(dir, "out"), Reducers: 3, SplitSize: 256 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := client.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: resp.StepId})
		if err != nil {
			t.Fatal(err)
		}
		if state.Terminal(d.Step.State) {
			t.Logf("%s in %s: %v err=%s", d.Step.State, time.Since(start), d.Step.Counters, d.Step.Error)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "out"))
	for _, e := range entries {
		t.Log(e.Name())
	}
}
