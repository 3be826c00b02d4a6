package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func newStepCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "step",
		Short: "Add, watch, list, describe and cancel steps",
	}
	cmd.AddCommand(newStepAddCmd(job), newStepWaitCmd(), newStepListCmd(), newStepDescribeCmd(), newStepCancelCmd(), newStepKillAttemptCmd())
	return cmd
}

// addSpecFlags adds the flags that describe a step.
func addSpecFlags(cmd *cobra.Command, job string) {
	f := cmd.Flags()
	f.String("job", "", "built-in job to run (see `gomr jobs`)")
	f.StringArray("input", nil, "input file, folder or glob (repeat for several; extra arguments are inputs too)")
	f.String("name", "", "step name (default: the job name)")
	f.Int("reducers", 1, "number of reduce tasks (0: map-only, for jobs whose mapper output is final)")
	f.String("split-size", "64MiB", "largest input split a map task reads")
	f.String("sort-buffer", "64MiB", "map output a map task buffers in memory before it spills to disk")
	f.String("max-line-bytes", "1MiB", "longest input line accepted")
	f.Bool("no-speculation", false, "start no speculative backup attempts for slow tasks")
	addJobFlags(cmd, job)
}

// specFromFlags builds a step spec from the command line. Relative paths
// are made absolute against the current folder.
func specFromFlags(cmd *cobra.Command, v *viper.Viper, args []string, output string) (*pb.StepSpec, error) {
	job := v.GetString("job")
	if job == "" {
		return nil, fmt.Errorf("--job is required (jobs: see `gomr jobs`)")
	}
	inputs, _ := cmd.Flags().GetStringArray("input")
	inputs = append(inputs, args...)
	if len(inputs) == 0 {
		return nil, fmt.Errorf("--input is required")
	}
	spec := &pb.StepSpec{Name: v.GetString("name"), Job: job, Options: jobOptions(cmd, job), Reducers: int32(v.GetInt("reducers")),
		ClientToken: rand.Text(), NoSpeculation: v.GetBool("no-speculation")}
	for _, in := range inputs {
		abs, err := filepath.Abs(in)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		spec.Inputs = append(spec.Inputs, abs)
	}
	abs, err := filepath.Abs(output)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	spec.Output = abs
	if spec.SplitSize, err = sizeOpt(v, "split-size"); err != nil {
		return nil, err
	}
	if spec.SortBufferBytes, err = sizeOpt(v, "sort-buffer"); err != nil {
		return nil, err
	}
	if spec.MaxLineBytes, err = sizeOpt(v, "max-line-bytes"); err != nil {
		return nil, err
	}
	return spec, nil
}

func newStepAddCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add --job NAME --input PATH... --output DIR [--reducers N] [job flags]",
		Short: "Submit a step; prints its id",
		Long: `Submit a step to the cluster and print its id. The step is validated
first: an unknown job or option, a missing or unreadable input, or an
output folder that already exists is refused with an error.

Job flags (e.g. --lower for wordcount, --group-by for logagg) follow the
job's name; "gomr step add --job NAME --help" lists them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			out := v.GetString("output")
			if out == "" {
				return fmt.Errorf("--output is required")
			}
			spec, err := specFromFlags(cmd, v, args, out)
			if err != nil {
				return err
			}
			c, err := dialCluster(v)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := callCtx(cmd.Context())
			defer cancel()
			resp, err := c.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec}, waitReady)
			if err != nil {
				return c.explain(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.StepId)
			if !v.GetBool("wait") {
				return nil
			}
			return waitStep(cmd.Context(), c, resp.StepId, cmd.ErrOrStderr(), "text", cmd.OutOrStdout())
		},
	}
	addClusterFlag(cmd)
	addSpecFlags(cmd, job)
	cmd.Flags().String("output", "", "output folder; must not exist")
	cmd.Flags().Bool("wait", false, "wait for the step to end, showing progress")
	return cmd
}

func newStepWaitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wait STEP-ID",
		Short: "Wait for a step to end, showing progress; exits 0 only if it COMPLETED",
		Args:  cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			return waitStep(x.cmd.Context(), x.c, x.args[0], x.cmd.ErrOrStderr(), x.format, x.cmd.OutOrStdout())
		}),
	}
	addClusterFlag(cmd)
	addOutputFlag(cmd)
	return cmd
}

// waitStep polls a step until it ends, drawing progress on progressOut,
// then prints the step. It returns an error unless the step COMPLETED.
func waitStep(ctx context.Context, c *clusterClient, id string, progressOut io.Writer, format string, out io.Writer) error {
	tty := false
	if f, ok := progressOut.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	var last string
	start := time.Now()
	for {
		cctx, cancel := callCtx(ctx)
		resp, err := c.DescribeStep(cctx, &pb.DescribeStepRequest{StepId: id}, waitReady)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("stopped waiting for step %s (it keeps running): %w", id, ctx.Err())
			}
			return c.explain(err)
		}
		st := resp.Step
		line := progressLine(st, time.Since(start))
		if tty {
			fmt.Fprintf(progressOut, "\r\033[K%s", line)
		} else if key := st.State + " " + st.Phase; key != last {
			fmt.Fprintln(progressOut, line)
			last = key
		}
		if state.Terminal(st.State) {
			if tty {
				fmt.Fprintln(progressOut)
			}
			if err := printStep(out, st, format); err != nil {
				return err
			}
			if st.State != state.StepCompleted {
				return exitError{code: 1, msg: fmt.Sprintf("step %s %s", id, st.State)}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(progressOut)
			}
			return fmt.Errorf("stopped waiting for step %s (it keeps running): %w", id, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func progressLine(st *pb.Step, waited time.Duration) string {
	s := fmt.Sprintf("%s  %-9s", st.Id, st.State)
	if st.State == state.StepRunning || state.Terminal(st.State) {
		s += fmt.Sprintf("  map %3.0f%% (%d/%d)  reduce %3.0f%% (%d/%d)",
			100*st.MapProgress, st.MapsDone, st.MapsTotal, 100*st.ReduceProgress, st.ReducesDone, st.ReducesTotal)
	}
	if st.Phase != "" {
		s += "  " + st.Phase
	}
	return s + fmt.Sprintf("  %s", waited.Round(100*time.Millisecond))
}

// printStep prints one step in full.
func printStep(w io.Writer, st *pb.Step, format string) error {
	if format == "json" {
		return printJSON(w, st)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("Step", st.Id)
	row("Name", st.Spec.GetName())
	row("State", strings.TrimSpace(st.State+" "+st.Phase))
	job := st.Spec.GetJob()
	if opts := st.Spec.GetOptions(); len(opts) > 0 {
		var kv []string
		for k, v := range opts {
			kv = append(kv, "--"+k+"="+v)
		}
		sort.Strings(kv)
		job += " " + strings.Join(kv, " ")
	}
	row("Job", job)
	row("Input", strings.Join(st.Spec.GetInputs(), ", "))
	row("Output", st.Spec.GetOutput())
	row("Reducers", fmt.Sprint(st.Spec.GetReducers()))
	row("Submitted", stamp(st.SubmittedUnixNano))
	if st.StartedUnixNano > 0 {
		row("Started", stamp(st.StartedUnixNano))
	}
	if st.EndedUnixNano > 0 {
		row("Ended", fmt.Sprintf("%s (took %s)", stamp(st.EndedUnixNano), time.Duration(st.EndedUnixNano-st.SubmittedUnixNano).Round(time.Millisecond)))
	}
	row("Maps", fmt.Sprintf("%d/%d done (%.0f%%)", st.MapsDone, st.MapsTotal, 100*st.MapProgress))
	row("Reduces", fmt.Sprintf("%d/%d done (%.0f%%)", st.ReducesDone, st.ReducesTotal, 100*st.ReduceProgress))
	if st.Error != "" {
		row("Error", st.Error)
	}
	tw.Flush()
	if len(st.Counters) > 0 {
		fmt.Fprintln(w, "Counters")
		names := make([]string, 0, len(st.Counters))
		for k := range st.Counters {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(tw, "  %s\t%d\n", k, st.Counters[k])
		}
		tw.Flush()
	}
	if len(st.Tasks) > 0 {
		fmt.Fprintln(w, "Tasks")
		fmt.Fprintln(tw, "  TASK\tSTATE\tATTEMPT\tWORKER\tATTEMPT STATE\tTIME\tERROR")
		for _, t := range st.Tasks {
			for i, a := range t.Attempts {
				task, tstate := fmt.Sprintf("%s %d", t.Kind, t.Index), t.State
				if i > 0 {
					task, tstate = "", ""
				}
				took := ""
				if a.EndedUnixNano > 0 {
					took = time.Duration(a.EndedUnixNano - a.StartedUnixNano).Round(time.Millisecond).String()
				} else {
					took = fmt.Sprintf("%.0f%%", 100*a.Progress)
				}
				id := a.Id
				if a.Speculative {
					id += " (backup)"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", task, tstate, id, a.Worker, a.State, took, oneLine(a.Error))
			}
			if len(t.Attempts) == 0 {
				fmt.Fprintf(tw, "  %s %d\t%s\t\t\t\t\t\n", t.Kind, t.Index, t.State)
			}
		}
		tw.Flush()
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func stamp(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).Local().Format("2006-01-02 15:04:05.000")
}

func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, UseProtoNames: true, EmitUnpopulated: false}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func newStepListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List steps, newest first",
		Args:  cobra.NoArgs,
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.ListSteps(ctx, &pb.ListStepsRequest{}, waitReady)
			if err != nil {
				return x.c.explain(err)
			}
			out := x.cmd.OutOrStdout()
			if x.format == "json" {
				return printJSON(out, resp)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATE\tSUBMITTED\tDURATION\tMAPS\tREDUCES\tOUTPUT")
			for _, st := range resp.Steps {
				dur := "-"
				if st.EndedUnixNano > 0 {
					dur = time.Duration(st.EndedUnixNano - st.SubmittedUnixNano).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%d/%d\t%s\n", st.Id, st.Spec.GetName(), strings.TrimSpace(st.State+" "+st.Phase),
					stamp(st.SubmittedUnixNano), dur, st.MapsDone, st.MapsTotal, st.ReducesDone, st.ReducesTotal, st.Spec.GetOutput())
			}
			return tw.Flush()
		}),
	}
	addClusterFlag(cmd)
	addOutputFlag(cmd)
	return cmd
}

func newStepDescribeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe STEP-ID",
		Short: "Show a step's state, timings and counters",
		Args:  cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: x.args[0], Tasks: x.v.GetBool("tasks")}, waitReady)
			if err != nil {
				return x.c.explain(err)
			}
			return printStep(x.cmd.OutOrStdout(), resp.Step, x.format)
		}),
	}
	addClusterFlag(cmd)
	addOutputFlag(cmd)
	cmd.Flags().Bool("tasks", false, "also list every task and attempt")
	return cmd
}

func newStepCancelCmd() *cobra.Command {
	return newActionCmd("cancel STEP-ID", "Cancel a step that has not ended; its partial output is removed",
		func(ctx context.Context, c *clusterClient, id string) (string, error) {
			resp, err := c.CancelStep(ctx, &pb.CancelStepRequest{StepId: id}, waitReady)
			if err != nil {
				return "", err
			}
			return id + " " + resp.State, nil
		})
}

func newStepKillAttemptCmd() *cobra.Command {
	return newActionCmd("kill-attempt ATTEMPT-ID", "Kill a running attempt; its task runs again (a kill is not counted as a failure)",
		func(ctx context.Context, c *clusterClient, id string) (string, error) {
			_, err := c.KillAttempt(ctx, &pb.KillAttemptRequest{AttemptId: id}, waitReady)
			return id + " KILLED", err
		})
}

// partFiles lists the part files of a step's output folder.
func partFiles(out string) ([]string, error) {
	entries, err := os.ReadDir(out)
	if err != nil {
		return nil, fmt.Errorf("read output: %w", err)
	}
	var parts []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "part-") {
			parts = append(parts, filepath.Join(out, e.Name()))
		}
	}
	return parts, nil
}
