package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// benchRow is one line of the benchmark table.
type benchRow struct {
	// Mode is sequential, cluster, or the name of a baseline.
	Mode string `json:"mode"`
	// Name tells the modes apart: "cluster(2)" for a cluster of 2.
	Name     string  `json:"name"`
	Workers  int     `json:"workers"`
	Seconds  float64 `json:"wall_seconds"`
	MBps     float64 `json:"input_mb_per_s"`
	Speedup  float64 `json:"speedup_vs_sequential"`
	Output   string  `json:"output_check"`
	TinyStep float64 `json:"tiny_step_seconds,omitempty"`
	// Runs are the wall times of every run, in order.
	Runs []float64 `json:"run_seconds"`
}

// benchRatio compares a gomr mode with a baseline: Factor is the
// baseline's median time over the mode's, so above 1 gomr is faster.
type benchRatio struct {
	Mode     string  `json:"mode"`
	Baseline string  `json:"baseline"`
	Factor   float64 `json:"baseline_seconds_over_mode_seconds"`
	Text     string  `json:"text"`
}

// benchReport is what gomr bench --format json prints.
type benchReport struct {
	Job        string       `json:"job"`
	InputBytes int64        `json:"input_bytes"`
	Files      int          `json:"files"`
	Splits     int          `json:"splits"`
	Reducers   int          `json:"reducers"`
	Repeat     int          `json:"repeat"`
	Rows       []benchRow   `json:"rows"`
	Ratios     []benchRatio `json:"ratios"`
}

// benchMode is one way of running the job: gomr sequentially, gomr on a
// cluster, or a baseline program. run times one run and checks its
// output, returning an error on a difference.
type benchMode struct {
	row benchRow
	// inProcess tells whether the mode runs in this process (so is in
	// the Go profiles).
	inProcess bool
	gomr      bool
	run       func(ctx context.Context, r int) (float64, error)
}

func newBenchCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench --job NAME (--input PATH... | --generate SIZE) [--workers 1,2,4] [--baseline single,coreutils] [--repeat N] [--profile DIR]",
		Short: "Time a job sequentially, on embedded clusters of several sizes, and against the programs one would use instead",
		Long: `Run the same job sequentially in this process (the same job code through
the same sort buffer and merge, with no cluster, no RPC and no disk
shuffle), on embedded clusters of each size in --workers (one primary,
that many core workers with --slots slots each, all in this process), and
as each --baseline program. Each of the --repeat repetitions runs every
mode once, in turn, so that drift in the machine's speed hits all modes
alike; the table shows the median wall time, the input rate and the
speedup over the sequential run, then one line per gomr mode and
baseline, e.g. "cluster(2) vs single: 1.74x faster".

Every output is checked against the sequential run, which runs once
untimed first (it also warms the page cache): a cluster's must be
byte-identical, a baseline's must hold the same value for every key. A
difference is an error naming the first differing key.

--baseline (repeat it or give a comma list):
  single     the same job written plainly in Go, single-threaded, with no
             engine: 4 MiB buffered reads, a Go map, the output sorted by
             key as gomr's part files are. For wordcount (the same
             tokenisation: maximal runs of Unicode letters, and --lower)
             and logagg on access logs (logagg's own line parser and
             --group-by keys; rejected lines are skipped).
  coreutils  wordcount only: LC_ALL=C tr -cs A-Za-z '\n' | sort | uniq -c
             (with tr A-Z a-z for --lower). tr keeps ASCII letters only,
             so its counts equal gomr's only on ASCII text, such as
             --generate's; on other input the check fails.
  gnusort    terasort only: LC_ALL=C sort -S 4G --parallel=2 over the
             records as fixed-width text lines (key and value in hex, 202
             bytes a line), made once before the first run and not timed;
             gomr's output must hold the same records in the same order.
The single baseline runs in this process; coreutils and gnusort are
external programs, so they are not in the profiles. single uses one core;
the programs of the coreutils pipeline run side by side; sort
--parallel=2 uses two threads.

--profile DIR writes, for each mode that runs in this process, a CPU and
a heap profile over its runs (MODE.cpu.pprof, MODE.heap.pprof), and for a
cluster one CPU profile per node (e.g. cluster-2.core-1.cpu.pprof,
cluster-2.primary-1.cpu.pprof). The cluster's workers are goroutines of
this process; each node's goroutines carry the pprof labels mode and node,
so go tool pprof -tagfocus=node=core-1 picks one worker out of the whole
profile, as the per-node files do. Go heap profiles carry no labels, so a
cluster's heap profile covers all its nodes together; its figures are the
difference over the runs (alloc_space: what they allocated). Profiling
adds a garbage collection before and after each run and slows runs a
little; compare timings from runs without it.

--generate SIZE writes deterministic input of about SIZE bytes instead of
--input: ASCII text from a fixed vocabulary, access-log lines for logagg,
and for terasort the records teragen makes.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runBench(cmd, v, args)
		},
	}
	f := cmd.Flags()
	f.String("job", "", "built-in job to run (gomr jobs lists them)")
	f.StringArray("input", nil, "input file, folder or glob (repeat for several)")
	f.String("generate", "", "generate about this much input (e.g. 200MB) instead of --input")
	f.IntSlice("workers", []int{1, 2, 4}, "cluster sizes to run (comma-separated)")
	f.Int("slots", 1, "task slots per worker, so that --workers is the parallelism")
	f.Int("repeat", 3, "repetitions; each runs every mode once, and the table shows the medians")
	f.Int("reducers", 4, "number of reduce tasks")
	f.String("split-size", "16MiB", "largest input split a map task reads")
	f.String("sort-buffer", "100MiB", "map output a map task buffers before it spills")
	f.StringSlice("baseline", nil, "also time these programs on the same input: single, coreutils, gnusort (see above)")
	f.Bool("coreutils", false, "the same as --baseline coreutils")
	f.MarkDeprecated("coreutils", "use --baseline coreutils")
	f.String("work-dir", "", "folder for generated input and outputs (a temporary folder, removed afterwards, if not given)")
	f.String("profile", "", "write CPU and heap profiles of every mode, and a CPU profile of every worker, into this folder")
	f.String("cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	cmd.MarkFlagsMutuallyExclusive("profile", "cpuprofile")
	addFormatFlag(cmd)
	addJobFlags(cmd, job)
	return cmd
}

func runBench(cmd *cobra.Command, v *viper.Viper, args []string) error {
	ctx := cmd.Context()
	format, err := printFormat(cmd, v)
	if err != nil {
		return err
	}
	jobName := v.GetString("job")
	def, err := jobs.Lookup(jobName)
	if err != nil {
		return err
	}
	opts := jobOptions(cmd, jobName)
	if def.NoInput {
		return fmt.Errorf("job %s reads no input: gomr bench times jobs over input", jobName)
	}
	formats, err := def.Resolve(jobs.Formats{})
	if err != nil {
		return err
	}
	// Options are checked now, before any input is made; a job that
	// completes its options on the client is built again after that.
	job, err := def.BuildFor(opts, formats)
	if err != nil {
		return err
	}
	fullOpts := map[string]string{}
	for _, o := range def.Options {
		fullOpts[o.Name] = o.Default
	}
	maps.Copy(fullOpts, opts)
	baselineNames := v.GetStringSlice("baseline")
	if v.GetBool("coreutils") {
		baselineNames = append(baselineNames, baselineCoreutils)
	}
	baselines, err := parseBaselines(baselineNames, jobName)
	if err != nil {
		return err
	}
	if slices.Contains(baselines, baselineSingle) {
		if _, err := singleBaseline(jobName, fullOpts); err != nil {
			return err
		}
	}
	repeat := v.GetInt("repeat")
	if repeat < 1 {
		return fmt.Errorf("--repeat must be at least 1")
	}
	workers := v.GetIntSlice("workers")
	for _, w := range workers {
		if w < 1 {
			return fmt.Errorf("--workers: %d is not a cluster size", w)
		}
	}
	splitSize, err := sizeOpt(v, "split-size", 1)
	if err != nil {
		return err
	}
	sortBuffer, err := sizeOpt(v, "sort-buffer", 1)
	if err != nil {
		return err
	}
	reducers := v.GetInt("reducers")
	var prof *benchProfiler
	if dir := v.GetString("profile"); dir != "" {
		if prof, err = newBenchProfiler(dir); err != nil {
			return err
		}
	}
	if path := v.GetString("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	work := v.GetString("work-dir")
	if work == "" {
		if work, err = os.MkdirTemp("", "gomr-bench-"); err != nil {
			return fmt.Errorf("create work folder: %w", err)
		}
		defer os.RemoveAll(work)
	}
	progress := cmd.ErrOrStderr()
	inputs, _ := cmd.Flags().GetStringArray("input")
	inputs = append(inputs, args...)
	if gen := v.GetString("generate"); gen != "" {
		size, err := parseSize(gen, 1)
		if err != nil {
			return fmt.Errorf("--generate: %w", err)
		}
		dir := filepath.Join(work, "input")
		fmt.Fprintf(progress, "generating %s of input in %s\n", gen, dir)
		if err := generateInput(jobName, dir, size); err != nil {
			return err
		}
		inputs = append(inputs, dir)
	}
	if len(inputs) == 0 {
		return fmt.Errorf("--input or --generate is required")
	}
	for i, in := range inputs {
		if inputs[i], err = filepath.Abs(in); err != nil {
			return err
		}
	}
	fss := mapreduce.LocalFileSystems()
	files, err := mapreduce.ListInputsFor(ctx, fss, inputs, formats.Input)
	if err != nil {
		return err
	}
	splits, err := mapreduce.PlanInput(ctx, fss, files, splitSize, formats.Input)
	if err != nil {
		return err
	}
	if def.PreparesOnClient() {
		// As gomr step add does before it submits (terasort samples its
		// input for the reducers' key ranges).
		cs := &jobs.ClientStep{FileSystems: fss, Staging: filepath.Join(work, "staging"), Inputs: inputs, Reducers: reducers, SplitSize: splitSize, Options: opts}
		if err := def.PrepareClient(ctx, cs); err != nil {
			return err
		}
		opts = cs.Options
		if job, err = def.BuildFor(opts, formats); err != nil {
			return err
		}
		maps.Copy(fullOpts, opts)
	}
	outputFormat, err := def.OutputFormat(opts, formats)
	if err != nil {
		return err
	}
	report := benchReport{Job: jobName, Files: len(files), Splits: len(splits), Reducers: reducers, Repeat: repeat}
	var paths []string
	for _, f := range files {
		report.InputBytes += f.Size
		paths = append(paths, f.Path)
	}
	mb := float64(report.InputBytes) / 1e6
	fmt.Fprintf(progress, "%s on %.1f MB in %d files, %d splits, %d reducers, median of %d\n", jobName, mb, len(files), len(splits), reducers, repeat)

	// The reference: one untimed sequential run, which also warms up the
	// page cache and the sort-buffer memory.
	seqOpts := func(out string) mapreduce.SequentialOptions {
		return mapreduce.SequentialOptions{Reducers: reducers, SortBufferBytes: int(sortBuffer), FileSystems: fss, Output: out, JobName: jobName,
			InputFormat: formats.Input, OutputFormat: outputFormat}
	}
	ref := filepath.Join(work, "reference")
	os.RemoveAll(ref) // left by an earlier run in the same --work-dir
	if _, err := mapreduce.RunSequential(ctx, job, splits, seqOpts(ref)); err != nil {
		return fmt.Errorf("sequential reference run: %w", err)
	}
	fmt.Fprintln(progress, "  sequential warm-up run done (not timed), its output is the reference")

	modes := []*benchMode{{
		row: benchRow{Mode: "sequential", Name: "sequential", Workers: 1, Output: "reference"}, inProcess: true, gomr: true,
		run: func(ctx context.Context, r int) (float64, error) {
			out := filepath.Join(work, fmt.Sprintf("sequential-%d", r))
			defer os.RemoveAll(out)
			start := time.Now()
			if _, err := mapreduce.RunSequential(ctx, job, splits, seqOpts(out)); err != nil {
				return 0, fmt.Errorf("sequential run: %w", err)
			}
			secs := time.Since(start).Seconds()
			return secs, checkSameOutput("sequential", ref, out)
		},
	}}
	for _, n := range workers {
		c, err := startBenchCluster(ctx, work, n, v.GetInt("slots"))
		if err != nil {
			return err
		}
		defer c.stop()
		modes = append(modes, c.mode(&pb.StepSpec{
			Job: jobName, Options: opts, Inputs: inputs, Reducers: int32(reducers), SplitSize: splitSize, SortBufferBytes: sortBuffer,
		}, ref))
	}
	var refPairs keyedOutput
	env := baselineEnv{job: jobName, opts: fullOpts, files: paths, work: work, ref: ref, fss: fss, refPairs: func() (keyedOutput, error) {
		if refPairs == nil {
			var err error
			if refPairs, err = readPartPairs(ref); err != nil {
				return nil, fmt.Errorf("read the reference output: %w", err)
			}
		}
		return refPairs, nil
	}}
	for _, b := range baselines {
		m, err := newBaselineMode(b, env)
		if err != nil {
			return err
		}
		modes = append(modes, m)
	}

	for r := range repeat {
		for _, m := range modes {
			secs, err := prof.around(ctx, m.row.Name, m.inProcess, func(ctx context.Context) (float64, error) { return m.run(ctx, r) })
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", m.row.Name, r+1, err)
			}
			m.row.Runs = append(m.row.Runs, secs)
			fmt.Fprintf(progress, "  %s run %d of %d: %.2fs, output %s\n", m.row.Name, r+1, repeat, secs, m.row.Output)
		}
	}
	seq := median(modes[0].row.Runs)
	for _, m := range modes {
		m.row.Seconds = median(m.row.Runs)
		m.row.MBps = mb / m.row.Seconds
		m.row.Speedup = seq / m.row.Seconds
		report.Rows = append(report.Rows, m.row)
	}
	report.Ratios = append([]benchRatio{}, benchRatios(modes)...)
	if prof != nil {
		if err := prof.write(progress); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if format == "json" {
		return printJSON(out, report)
	}
	return printBenchTable(out, report)
}

// benchRatios compares every gomr mode with every baseline.
func benchRatios(modes []*benchMode) []benchRatio {
	var out []benchRatio
	for _, m := range modes {
		if !m.gomr {
			continue
		}
		for _, b := range modes {
			if b.gomr {
				continue
			}
			r := benchRatio{Mode: m.row.Name, Baseline: b.row.Name, Factor: b.row.Seconds / m.row.Seconds}
			if r.Factor >= 1 {
				r.Text = fmt.Sprintf("%s vs %s: %.2fx faster", r.Mode, r.Baseline, r.Factor)
			} else {
				r.Text = fmt.Sprintf("%s vs %s: %.2fx slower", r.Mode, r.Baseline, 1/r.Factor)
			}
			out = append(out, r)
		}
	}
	return out
}

// printBenchTable prints the report as a table and the ratio lines.
func printBenchTable(out io.Writer, report benchReport) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tworkers\twall s\tinput MB/s\tspeedup\toutput\ttiny step s\t")
	for _, r := range report.Rows {
		tiny := "-"
		if r.TinyStep > 0 {
			tiny = fmt.Sprintf("%.3f", r.TinyStep)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.1f\t%.2fx\t%s\t%s\t\n", r.Mode, r.Workers, r.Seconds, r.MBps, r.Speedup, r.Output, tiny)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range report.Ratios {
		if _, err := fmt.Fprintln(out, r.Text); err != nil {
			return err
		}
	}
	return nil
}

// generateInput writes about size bytes of deterministic input for a job
// into dir (emptied first), in files of at most 64 MB.
func generateInput(job, dir string, size int64) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear input folder: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create input folder: %w", err)
	}
	const perFile = 640_000 * jobs.TeraRecordBytes // 64 MB, whole TeraSort records
	for i := 0; int64(i)*perFile < size; i++ {
		n := min(perFile, size-int64(i)*perFile)
		path := filepath.Join(dir, fmt.Sprintf("input-%03d", i))
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create input: %w", err)
		}
		switch job {
		case jobs.TeraSortJob:
			// Whole records, numbered on from file to file as one
			// teragen run numbers them.
			rows := n / jobs.TeraRecordBytes
			_, err = jobs.WriteTeraRecords(f, uint64(int64(i)*perFile/jobs.TeraRecordBytes), uint64(rows))
		case "logagg":
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
			err = jobs.WriteSampleAccessLog(f, int(n/sampleLogLineBytes(start, uint64(i+1))), start, uint64(i+1))
		default:
			err = jobs.WriteSampleText(f, n, uint64(i+1))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("generate %s: %w", path, err)
		}
	}
	return nil
}

// sampleLogLineBytes is the mean size of the first 1,000 lines
// jobs.WriteSampleAccessLog writes from start with seed.
func sampleLogLineBytes(start time.Time, seed uint64) int64 {
	var n countingWriter
	if err := jobs.WriteSampleAccessLog(&n, 1000, start, seed); err != nil || n == 0 {
		return 180
	}
	return max(1, int64(n)/1000)
}

// countingWriter counts the bytes written to it.
type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
