package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/jobs/streaming"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"
)

func newStepCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "step",
		Short: "Add, watch, list, describe and cancel steps",
	}
	cmd.AddCommand(newStepAddCmd(job), newStepWaitCmd(), newStepListCmd(), newStepDescribeCmd(), newStepCancelCmd(), newStepKillAttemptCmd(), newStepLogsCmd())
	return cmd
}

// addSpecFlags adds the flags that describe a step.
func addSpecFlags(cmd *cobra.Command, job string) {
	f := cmd.Flags()
	f.String("job", "", "built-in job to run (gomr jobs lists them)")
	f.StringArray("input", nil, "input file, folder or glob (repeat for several; extra arguments are inputs too)")
	f.String("name", "", "step name (the job name if not given)")
	f.Int("reducers", 1, "number of reduce tasks (0: map-only, for jobs whose mapper output is final)")
	f.String("split-size", "64MiB", "largest input split a map task reads")
	f.String("sort-buffer", "100MiB", "map output a map task buffers in memory before it spills to disk")
	f.String("max-line-bytes", "1MiB", "longest input line accepted")
	f.Bool("no-speculation", false, "start no speculative backup attempts for slow tasks")
	f.String("input-format", "text", "how the input is read: text (lines), csv (a header row, then a row per line), jsonl (a JSON object per line), parquet (split by row group) or tera (100-byte TeraSort records); .gz, .bz2 and .zst files are decompressed whatever the format")
	f.String("output-format", "text", "how part files are written: text (key<TAB>value lines), jsonl, csv or parquet, with the job's typed schema, or tera (terasort's 100-byte records)")
	f.String("compress", "none", "compress the part files: none, gzip or zstd (part-r-00000.gz; for parquet, the column chunks)")
	f.Bool("overwrite", false, "replace what the output (and the --export folder) holds instead of refusing a non-empty one")
	f.String("export", "", "after the step completes, copy its output to this folder (usually s3://BUCKET/PREFIX/) in an export step, as EMR's s3-dist-cp")
	f.String("action-on-failure", "CONTINUE", "what the step's failure does to the other steps, as on EMR: CONTINUE, CANCEL_AND_WAIT (cancel the pending steps) or TERMINATE_CLUSTER (also interrupt the running ones; the cluster takes no more steps)")
	f.String("type", "", "STREAMING: a Hadoop Streaming step (the same as --job streaming; Hadoop's -mapper, -reducer, -combiner, -file, -files, -cmdenv, -numReduceTasks, -input, -output and -D are accepted)")
	f.StringArray("file", nil, "a local file (or hdfs:// or s3:// URI) shipped to the working folder of a streaming step's commands, with its mode (repeatable)")
	addJobFlags(cmd, job)
}

// absPath makes a local path absolute against the current folder; a URI
// (hdfs://, s3://, file://) stays as it is.
func absPath(p string) (string, error) {
	if strings.Contains(p, "://") {
		return p, nil
	}
	return filepath.Abs(p)
}

// specFromFlags builds a step spec from the command line. Relative local
// paths are made absolute against the current folder.
func specFromFlags(cmd *cobra.Command, v *viper.Viper, args []string, output string) (*pb.StepSpec, error) {
	job := v.GetString("job")
	if job == "" {
		return nil, fmt.Errorf("--job is required (gomr jobs lists the jobs)")
	}
	def, err := jobs.Lookup(job)
	if err != nil {
		return nil, err
	}
	if a := v.GetString("action-on-failure"); a != "" {
		if _, ok := state.ParseActionOnFailure(strings.ToUpper(a)); !ok {
			return nil, fmt.Errorf("--action-on-failure %s: want CONTINUE, CANCEL_AND_WAIT or TERMINATE_CLUSTER", a)
		}
	}
	inputs, _ := cmd.Flags().GetStringArray("input")
	inputs = append(inputs, args...)
	opts := jobOptions(cmd, job)
	// distcp's --src and --dest are the step's input and output.
	if src, ok := opts[def.InputOption]; ok && def.InputOption != "" {
		inputs = append(inputs, src)
		delete(opts, def.InputOption)
	}
	if dest, ok := opts[def.OutputOption]; ok && def.OutputOption != "" {
		if output != "" && output != dest {
			return nil, fmt.Errorf("--%s and --output name different folders", def.OutputOption)
		}
		output = dest
		delete(opts, def.OutputOption)
	}
	for _, o := range def.Options {
		if p := opts[o.Name]; o.Path && p != "" {
			abs, err := absPath(p)
			if err != nil {
				return nil, fmt.Errorf("--%s %s: %w", o.Name, p, err)
			}
			opts[o.Name] = abs
		}
	}
	if len(inputs) == 0 && !def.NoInput {
		return nil, fmt.Errorf("--input is required")
	}
	if output == "" {
		return nil, fmt.Errorf("--output is required")
	}
	spec := &pb.StepSpec{Name: v.GetString("name"), Job: job, Options: opts, Reducers: int32(v.GetInt("reducers")),
		ClientToken: rand.Text(), NoSpeculation: v.GetBool("no-speculation"),
		InputFormat: v.GetString("input-format"), OutputFormat: v.GetString("output-format"), Compress: v.GetString("compress"),
		Overwrite: v.GetBool("overwrite"), ActionOnFailure: strings.ToUpper(v.GetString("action-on-failure"))}
	if e := v.GetString("export"); e != "" {
		abs, err := absPath(e)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", e, err)
		}
		spec.Export = abs
	}
	if !cmd.Flags().Changed("reducers") {
		// As Hadoop Streaming's -reducer NONE: a job configured without a
		// reducer is map-only unless --reducers says otherwise.
		if j, err := def.Build(spec.Options); err == nil && j.Reducer == nil {
			spec.Reducers = 0
		}
	}
	for _, in := range inputs {
		abs, err := absPath(in)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in, err)
		}
		spec.Inputs = append(spec.Inputs, abs)
	}
	if spec.Output, err = absPath(output); err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	if spec.SplitSize, err = sizeOpt(v, "split-size", 1); err != nil {
		return nil, err
	}
	if spec.SortBufferBytes, err = sizeOpt(v, "sort-buffer", 1); err != nil {
		return nil, err
	}
	if spec.MaxLineBytes, err = sizeOpt(v, "max-line-bytes", 1); err != nil {
		return nil, err
	}
	return spec, nil
}

// stagingDir is where a client puts the local files a streaming step
// ships, in HDFS (Hadoop's job staging folder).
const stagingDir = "hdfs:///tmp/gomr/staging"

// shipFiles puts the step's --file files that are local into HDFS and
// names them all in the streaming job's files option, with their modes.
func shipFiles(ctx context.Context, cmd *cobra.Command, c *clusterClient, spec *pb.StepSpec) error {
	files, _ := cmd.Flags().GetStringArray("file")
	if len(files) == 0 {
		return nil
	}
	if spec.Job != "streaming" {
		return fmt.Errorf("--file ships files to a streaming step's commands; job %s takes none", spec.Job)
	}
	var list []streaming.File
	if prev := spec.Options["files"]; prev != "" {
		var err error
		if list, err = streaming.ParseFiles(prev); err != nil {
			return err
		}
	}
	hc, closeHC := newHDFSClient(c)
	defer closeHC()
	staged := ""
	for _, f := range files {
		name := path.Base(f)
		if strings.Contains(f, "://") {
			list = append(list, streaming.File{Name: name, Path: f})
			continue
		}
		info, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("--file %s: %w", f, err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("--file %s: not a regular file", f)
		}
		if staged == "" {
			staged = stagingDir + "/" + strings.ToLower(spec.ClientToken)
			if err := hc.Mkdirs(ctx, staged, true); err != nil {
				return fmt.Errorf("--file: staging folder %s: %w", staged, grpcMessage(err))
			}
		}
		dst := staged + "/" + name
		if err := putFile(ctx, hc, f, dst, client.CreateOptions{Overwrite: true}); err != nil {
			return fmt.Errorf("--file %s: ship it to %s: %w", f, dst, grpcMessage(err))
		}
		list = append(list, streaming.File{Name: name, Path: dst, Mode: info.Mode().Perm()})
	}
	if spec.Options == nil {
		spec.Options = map[string]string{}
	}
	spec.Options["files"] = streaming.FormatFiles(list)
	return nil
}

func newStepAddCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add --job NAME --input PATH... --output DIR [--reducers N] [job flags] | --steps FILE",
		Short: "Submit a step (or the steps of a step file); prints the ids",
		Long: `Submit a step to the cluster and print its id. The step is validated
first: an unknown job or option, a missing or unreadable input, or an
output folder that already exists is refused with an error. Steps run in
the order they were submitted; a step whose input does not exist yet
while steps ahead of it have not ended (a chain) has it listed when its
turn comes.

Job flags (e.g. --lower for wordcount, --group-by for logagg) follow the
job's name; "gomr step add --job NAME --help" lists them. A Hadoop
Streaming command line pastes in as it is:

    gomr step add --type STREAMING -files mapper.py,reducer.py -mapper mapper.py \
        -reducer reducer.py -input hdfs:///in -output hdfs:///out -D mapreduce.job.reduces=4

--steps FILE submits the steps of a YAML or JSON file shaped as the one
"aws emr add-steps --steps file://steps.json" reads: a list of Name,
ActionOnFailure, Type and Args. Type STREAMING takes a Hadoop Streaming
command line as Args; without a Type, Args are the arguments of
"gomr step add".`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if file := v.GetString("steps"); file != "" {
				return addStepFile(cmd, v, file)
			}
			spec, err := specFromFlags(cmd, v, args, v.GetString("output"))
			if err != nil {
				return err
			}
			c, err := dialCluster(cmd.Context(), v)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := shipFiles(cmd.Context(), cmd, c, spec); err != nil {
				return err
			}
			if err := prepareOnClient(cmd.Context(), v, c, spec); err != nil {
				return err
			}
			ctx, cancel := c.callCtx(cmd.Context())
			defer cancel()
			resp, err := c.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
			if err != nil {
				return c.explain(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), resp.StepId)
			printWarnings(cmd.ErrOrStderr(), resp.Warnings)
			if !v.GetBool("wait") {
				return nil
			}
			return waitStep(cmd.Context(), c, resp.StepId, waitOptions{progress: cmd.ErrOrStderr(), out: cmd.OutOrStdout(), format: "text", every: v.GetDuration("progress-interval"), followExport: true})
		},
	}
	addClusterFlag(cmd)
	addSpecFlags(cmd, job)
	cmd.Flags().String("output", "", "output folder; must not exist")
	cmd.Flags().Bool("wait", false, "wait for the step to end, showing progress")
	cmd.Flags().String("steps", "", "submit the steps of this YAML or JSON step file, in order (as aws emr add-steps --steps file://FILE)")
	addProgressFlag(cmd)
	return cmd
}

// addStepFile submits the steps of a step file and, with --wait, waits
// for every one.
func addStepFile(cmd *cobra.Command, v *viper.Viper, file string) error {
	steps, warnings, err := readStepFile(file)
	if err != nil {
		return err
	}
	printWarnings(cmd.ErrOrStderr(), warnings)
	c, err := dialCluster(cmd.Context(), v)
	if err != nil {
		return err
	}
	defer c.Close()
	ids, err := submitChain(cmd.Context(), c, steps, cmd.ErrOrStderr())
	for _, id := range ids {
		fmt.Fprintln(cmd.OutOrStdout(), id)
	}
	if err != nil {
		return err
	}
	if !v.GetBool("wait") {
		return nil
	}
	return waitChain(cmd.Context(), c, ids, waitOptions{progress: cmd.ErrOrStderr(), every: v.GetDuration("progress-interval"), followExport: true})
}

// printWarnings prints the cluster's warnings about a step on stderr.
func printWarnings(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintln(w, "gomr: warning:", s)
	}
}

func addProgressFlag(cmd *cobra.Command) {
	cmd.Flags().Duration("progress-interval", 10*time.Second, "when not on a terminal, print a progress line this often (and at every phase change)")
}

func newStepWaitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wait STEP-ID",
		Short: "Wait for a step to end, showing progress; exits 0 only if it COMPLETED",
		Args:  cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			return waitStep(x.cmd.Context(), x.c, x.args[0], waitOptions{progress: x.cmd.ErrOrStderr(), out: x.cmd.OutOrStdout(), format: x.format, every: x.v.GetDuration("progress-interval")})
		}),
	}
	addClusterFlag(cmd)
	addFormatFlag(cmd)
	addProgressFlag(cmd)
	return cmd
}

// waitOptions say where waitStep writes.
type waitOptions struct {
	// progress receives progress lines: redrawn in place on a terminal,
	// otherwise one at every phase change and every interval.
	progress io.Writer
	every    time.Duration
	// out receives the step in format when it ends (nothing if nil).
	out    io.Writer
	format string
	// followExport waits, after a step that completed, for its export
	// step too.
	followExport bool
}

// ttyRefresh is how often the progress line on a terminal is redrawn
// while the step's state stays the same (its progress comes from the
// workers' heartbeats).
const ttyRefresh = 200 * time.Millisecond

// waitStep watches a step until it ends, showing progress, then prints
// the step. It returns an error, whose message says why, unless the step
// COMPLETED; a completed step that looks wrong gets warnings.
//
// It does not poll: each call is a blocking query (DescribeStep with the
// state index of the previous answer) that the leader answers as soon as
// the step's state or phase changes, or after the refresh interval with
// the step's progress then.
func waitStep(ctx context.Context, c *clusterClient, id string, o waitOptions) error {
	tty := false
	if f, ok := o.progress.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	if o.every <= 0 {
		o.every = 10 * time.Second
	}
	wait := o.every
	if tty {
		wait = ttyRefresh
	}
	var last string
	var lastPrinted time.Time
	start := time.Now()
	var index uint64
	for {
		st, next, err := watchStep(ctx, c, id, index, wait)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("stopped waiting for step %s (it keeps running): %w", id, ctx.Err())
			}
			return c.explain(err)
		}
		line := progressLine(st, time.Since(start))
		if tty {
			fmt.Fprintf(o.progress, "\r\033[K%s", line)
		} else if key := stateText(st); key != last || time.Since(lastPrinted) >= o.every {
			fmt.Fprintln(o.progress, line)
			last, lastPrinted = key, time.Now()
		}
		if st.State.Value().Terminal() {
			if tty {
				fmt.Fprintln(o.progress)
			}
			failure := probableCause(ctx, c, st, nil) // nil unless it failed (logs.go)
			if o.out != nil {
				if err := printStepFailure(o.out, st, nil, failure, o.format); err != nil {
					return err
				}
			}
			if st.State.Value() != state.StepCompleted {
				msg := fmt.Sprintf("step %s %s", id, st.State.Value())
				if st.Error != "" {
					msg += ": " + st.Error
				}
				return exitError{code: 1, msg: msg + failure.pointer()}
			}
			printWarnings(o.progress, completionWarnings(st))
			if o.followExport && st.ExportStep != "" {
				fmt.Fprintf(o.progress, "exporting the output to %s in step %s\n", st.Spec.GetExport(), st.ExportStep)
				return waitStep(ctx, c, st.ExportStep, o)
			}
			return nil
		}
		if next == 0 {
			// A primary that does not answer blocking queries: ask again
			// in a while.
			select {
			case <-ctx.Done():
				if tty {
					fmt.Fprintln(o.progress)
				}
				return fmt.Errorf("stopped waiting for step %s (it keeps running): %w", id, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
		index = next
	}
}

// watchStep describes a step; with index set, it is a blocking query
// that waits up to wait for the step's state or phase to change past
// index. It returns the step and the index to wait on next (0 from a
// primary that does not block).
func watchStep(ctx context.Context, c *clusterClient, id string, index uint64, wait time.Duration) (*pb.Step, uint64, error) {
	// The wait stays well inside the call's deadline, so that a primary
	// that answers at its timeout is not taken for one that is gone.
	wait = min(wait, c.timeout/2)
	cctx, cancel := context.WithTimeout(ctx, c.timeout+wait)
	defer cancel()
	resp, err := c.DescribeStep(cctx, &pb.DescribeStepRequest{StepId: id, WaitIndex: index, WaitMillis: max(wait.Milliseconds(), 1), StateOnly: true})
	if err != nil {
		return nil, 0, err
	}
	return resp.Step, resp.StateIndex, nil
}

// completionWarnings are what looks wrong about a completed step: it read
// no input, or rejected every record it read.
func completionWarnings(st *pb.Step) []string {
	var out []string
	if st.InputFiles == 0 {
		out = append(out, fmt.Sprintf("step %s read 0 input files (%s)", st.Id, strings.Join(st.Spec.GetInputs(), ", ")))
	}
	in, rejected := st.Counters[mapreduce.MapInputRecords], st.Counters[mapreduce.RejectedRecords]
	if in > 0 && rejected == in {
		out = append(out, fmt.Sprintf("step %s rejected every one of its %d input records (see %s/%s): is it the right job for this input?", st.Id, in, st.Spec.GetOutput(), mapreduce.RejectsDir))
	}
	return out
}

func progressLine(st *pb.Step, waited time.Duration) string {
	s := fmt.Sprintf("%s  %-9s", st.Id, st.State.Value())
	if st.State.Value() == state.StepRunning || st.State.Value().Terminal() {
		s += fmt.Sprintf("  map %3.0f%% (%d/%d)  reduce %3.0f%% (%d/%d)",
			100*st.MapProgress, st.MapsDone, st.MapsTotal, 100*st.ReduceProgress, st.ReducesDone, st.ReducesTotal)
	}
	if ph := st.Phase.Value(); ph != state.PhaseNone {
		s += "  " + string(ph)
	}
	return s + fmt.Sprintf("  %s", waited.Round(100*time.Millisecond))
}

// printStep prints one step in full, with its tasks if given.
func printStep(w io.Writer, st *pb.Step, tasks []*pb.Task, format string) error {
	if format == "json" {
		return printJSON(w, stepJSON(st, tasks))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("Step", st.Id)
	row("Name", st.Spec.GetName())
	row("State", stateText(st))
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
	if e := st.Spec.GetExport(); e != "" {
		row("Export", fmt.Sprintf("%s (step %s)", e, st.ExportStep))
	}
	if a := st.Spec.GetAfter(); a != "" {
		row("After", fmt.Sprintf("step %s (this step starts once it completed)", a))
	}
	if f := st.Spec.GetInputFormat(); f != "" && f != "text" {
		row("Input format", f)
	}
	if f := st.Spec.GetOutputFormat(); f != "" && f != "text" {
		row("Output format", f)
	}
	if c := st.Spec.GetCompress(); c != "" && c != "none" {
		row("Compression", c)
	}
	if st.Spec.GetOverwrite() {
		row("Overwrite", "yes: the step replaces what its output held")
	}
	row("Reducers", fmt.Sprint(st.Spec.GetReducers()))
	row("Split size", humanize.IBytes(uint64(st.Spec.GetSplitSize())))
	row("Sort buffer", humanize.IBytes(uint64(st.Spec.GetSortBufferBytes())))
	if n := st.InputWholeFiles; n > 0 {
		row("Input read", fmt.Sprintf("%d files (%d read whole: compressed), %s", st.InputFiles, n, humanize.IBytes(uint64(st.InputBytes))))
	} else {
		row("Input read", fmt.Sprintf("%d files, %s", st.InputFiles, humanize.IBytes(uint64(st.InputBytes))))
	}
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
	if len(tasks) > 0 {
		fmt.Fprintln(w, "Tasks")
		fmt.Fprintln(tw, "  TASK\tSTATE\tATTEMPT\tWORKER\tATTEMPT STATE\tTIME\tERROR")
		for _, t := range tasks {
			for i, a := range t.Attempts {
				task, tstate := fmt.Sprintf("%s %d", t.Kind.Value(), t.Index), string(t.State.Value())
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
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", task, tstate, id, a.Worker, a.State.Value(), took, oneLine(a.Error))
			}
			if len(t.Attempts) == 0 {
				fmt.Fprintf(tw, "  %s %d\t%s\t\t\t\t\t\n", t.Kind.Value(), t.Index, t.State.Value())
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

func newStepListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List steps, newest first",
		Args:  cobra.NoArgs,
		RunE: runClient(func(x *clientCmd) error {
			var states []pb.StepState
			for _, name := range x.v.GetStringSlice("state") {
				st := state.StepState(strings.ToUpper(strings.TrimSpace(name)))
				if !slices.Contains(state.StepStates, st) {
					return fmt.Errorf("--state %q: want one of %s", name, strings.Join(stepStateNames(), ", "))
				}
				states = append(states, pb.FromStepState(st))
			}
			var steps []*pb.Step
			for token := ""; ; {
				ctx, cancel := x.c.callCtx(x.cmd.Context())
				resp, err := x.c.ListSteps(ctx, &pb.ListStepsRequest{PageToken: token, States: states})
				cancel()
				if err != nil {
					return x.c.explain(err)
				}
				steps = append(steps, resp.Steps...)
				if token = resp.NextPageToken; token == "" {
					break
				}
			}
			out := x.cmd.OutOrStdout()
			if x.format == "json" {
				list := struct {
					Steps []jsonStep `json:"steps"`
				}{Steps: []jsonStep{}}
				for _, st := range steps {
					list.Steps = append(list.Steps, stepJSON(st, nil))
				}
				return printJSON(out, list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATE\tSUBMITTED\tDURATION\tMAPS\tREDUCES\tOUTPUT")
			for _, st := range steps {
				dur := "-"
				if st.EndedUnixNano > 0 {
					dur = time.Duration(st.EndedUnixNano - st.SubmittedUnixNano).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%d/%d\t%s\n", st.Id, st.Spec.GetName(), stateText(st),
					stamp(st.SubmittedUnixNano), dur, st.MapsDone, st.MapsTotal, st.ReducesDone, st.ReducesTotal, st.Spec.GetOutput())
			}
			return tw.Flush()
		}),
	}
	addClusterFlag(cmd)
	addFormatFlag(cmd)
	cmd.Flags().StringSlice("state", nil, "list only steps in these states (comma-separated): "+strings.Join(stepStateNames(), ", "))
	return cmd
}

// stepStates are the states a step can be in.
func stepStateNames() []string {
	var out []string
	for _, s := range state.StepStates {
		out = append(out, string(s))
	}
	return out
}

// stateText is a step's state and phase, as the commands print them.
func stateText(st *pb.Step) string {
	s := string(st.State.Value())
	if ph := st.Phase.Value(); ph != state.PhaseNone {
		s += " " + string(ph)
	}
	return s
}

func newStepDescribeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe STEP-ID",
		Short: "Show a step's state, timings and counters",
		Args:  cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := x.c.callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: x.args[0]})
			if err != nil {
				return x.c.explain(err)
			}
			var tasks []*pb.Task
			if x.v.GetBool("tasks") {
				if tasks, err = listTasks(x.cmd.Context(), x.c, x.args[0]); err != nil {
					return err
				}
			}
			// A failed step's probable cause (logs.go).
			failure := probableCause(x.cmd.Context(), x.c, resp.Step, tasks)
			return printStepFailure(x.cmd.OutOrStdout(), resp.Step, tasks, failure, x.format)
		}),
	}
	addClusterFlag(cmd)
	addFormatFlag(cmd)
	cmd.Flags().Bool("tasks", false, "also list every task and attempt")
	return cmd
}

// listTasks fetches every task of a step, a page at a time.
func listTasks(ctx context.Context, c *clusterClient, id string) ([]*pb.Task, error) {
	var tasks []*pb.Task
	for token := ""; ; {
		cctx, cancel := c.callCtx(ctx)
		resp, err := c.ListTasks(cctx, &pb.ListTasksRequest{StepId: id, PageToken: token})
		cancel()
		if err != nil {
			return nil, c.explain(err)
		}
		tasks = append(tasks, resp.Tasks...)
		if token = resp.NextPageToken; token == "" {
			return tasks, nil
		}
	}
}

func newStepCancelCmd() *cobra.Command {
	return newActionCmd("cancel STEP-ID...", "Cancel steps that have not ended: their attempts are killed and their partial output removed (CANCEL_PENDING until then, then CANCELLED)",
		func(ctx context.Context, c *clusterClient, id string) (string, error) {
			resp, err := c.CancelStep(ctx, &pb.CancelStepRequest{StepId: id})
			if err != nil {
				return "", err
			}
			return id + " " + string(resp.State.Value()), nil
		})
}

func newStepKillAttemptCmd() *cobra.Command {
	return newActionCmd("kill-attempt ATTEMPT-ID...", "Kill a running attempt; its task runs again (a kill is not counted as a failure)",
		func(ctx context.Context, c *clusterClient, id string) (string, error) {
			_, err := c.KillAttempt(ctx, &pb.KillAttemptRequest{AttemptId: id})
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
