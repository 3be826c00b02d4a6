package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"google.golang.org/protobuf/proto"
)

// benchRow is one line of the benchmark table.
type benchRow struct {
	Mode     string  `json:"mode"`
	Workers  int     `json:"workers"`
	Seconds  float64 `json:"wall_seconds"`
	MBps     float64 `json:"input_mb_per_s"`
	Speedup  float64 `json:"speedup_vs_sequential"`
	Output   string  `json:"output_check"`
	TinyStep float64 `json:"tiny_step_seconds,omitempty"`
}

// benchReport is what gomr bench --format json prints.
type benchReport struct {
	Job        string     `json:"job"`
	InputBytes int64      `json:"input_bytes"`
	Files      int        `json:"files"`
	Splits     int        `json:"splits"`
	Reducers   int        `json:"reducers"`
	Repeat     int        `json:"repeat"`
	Rows       []benchRow `json:"rows"`
}

func newBenchCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench --job NAME (--input PATH... | --generate SIZE) [--workers 1,2,4] [--repeat N]",
		Short: "Time a job sequentially and on embedded clusters of several sizes",
		Long: `Run the same job sequentially in this process (the same job code through
the same sort buffer and merge, with no cluster, no RPC and no disk
shuffle), then on embedded clusters of each size in --workers (one
primary, that many core workers with --slots slots each). Every cluster
output must be byte-identical to the sequential output. Prints the median
wall time of --repeat runs, the input rate, and the speedup over the
sequential run. With --coreutils (word count only), also times
"tr -cs A-Za-z '\n' | sort | uniq -c" on the same input (LC_ALL=C).

--generate SIZE writes deterministic input of about SIZE bytes (text from
a fixed vocabulary, or access-log lines for logagg) instead of --input.`,
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
	f.Int("repeat", 3, "runs of each mode; the table shows the median")
	f.Int("reducers", 4, "number of reduce tasks")
	f.String("split-size", "16MiB", "largest input split a map task reads")
	f.String("sort-buffer", "64MiB", "map output a map task buffers before it spills")
	f.Bool("coreutils", false, "also time tr | sort | uniq -c on the same input (wordcount only)")
	f.String("work-dir", "", "folder for generated input and outputs (a temporary folder, removed afterwards, if not given)")
	f.String("cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
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
	job, err := def.Build(opts)
	if err != nil {
		return err
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
	files, err := mapreduce.ListInputs(ctx, fss, inputs)
	if err != nil {
		return err
	}
	splits, err := mapreduce.PlanSplits(files, splitSize)
	if err != nil {
		return err
	}
	report := benchReport{Job: jobName, Files: len(files), Splits: len(splits), Reducers: reducers, Repeat: repeat}
	for _, f := range files {
		report.InputBytes += f.Size
	}
	mb := float64(report.InputBytes) / 1e6
	fmt.Fprintf(progress, "%s on %.1f MB in %d files, %d splits, %d reducers, median of %d\n", jobName, mb, len(files), len(splits), reducers, repeat)

	// Sequential baseline, after one untimed warm-up run (page cache,
	// sort-buffer memory), so that the first timed run is not inflated.
	ref := filepath.Join(work, "sequential")
	warm := filepath.Join(work, "sequential-warm-up")
	if _, err := mapreduce.RunSequential(ctx, job, splits, mapreduce.SequentialOptions{
		Reducers: reducers, SortBufferBytes: int(sortBuffer), FileSystems: fss, Output: warm, JobName: jobName,
	}); err != nil {
		return fmt.Errorf("sequential warm-up run: %w", err)
	}
	os.RemoveAll(warm)
	fmt.Fprintln(progress, "  sequential warm-up run done (not timed)")
	var seqTimes []float64
	for r := range repeat {
		out := ref
		if r > 0 {
			out = filepath.Join(work, fmt.Sprintf("sequential-%d", r))
		}
		start := time.Now()
		_, err := mapreduce.RunSequential(ctx, job, splits, mapreduce.SequentialOptions{
			Reducers: reducers, SortBufferBytes: int(sortBuffer), FileSystems: fss, Output: out, JobName: jobName,
		})
		if err != nil {
			return fmt.Errorf("sequential run: %w", err)
		}
		seqTimes = append(seqTimes, time.Since(start).Seconds())
		if r > 0 {
			os.RemoveAll(out)
		}
		fmt.Fprintf(progress, "  sequential run %d: %.2fs\n", r+1, seqTimes[r])
	}
	seq := median(seqTimes)
	report.Rows = append(report.Rows, benchRow{Mode: "sequential", Workers: 1, Seconds: seq, MBps: mb / seq, Speedup: 1, Output: "reference"})

	for _, n := range workers {
		row, err := benchCluster(ctx, progress, work, n, v.GetInt("slots"), repeat, &pb.StepSpec{
			Job: jobName, Options: opts, Inputs: inputs, Reducers: int32(reducers), SplitSize: splitSize, SortBufferBytes: sortBuffer,
		}, ref)
		if err != nil {
			return err
		}
		row.MBps = mb / row.Seconds
		row.Speedup = seq / row.Seconds
		report.Rows = append(report.Rows, row)
	}

	if v.GetBool("coreutils") {
		if jobName != "wordcount" {
			return fmt.Errorf("--coreutils compares with word count only, not %s", jobName)
		}
		row, err := benchCoreutils(ctx, progress, files, repeat, ref)
		if err != nil {
			return err
		}
		row.MBps = mb / row.Seconds
		row.Speedup = seq / row.Seconds
		report.Rows = append(report.Rows, row)
	}
	out := cmd.OutOrStdout()
	if format == "json" {
		return printJSON(out, report)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tworkers\twall s\tinput MB/s\tspeedup\toutput\ttiny step s\t")
	for _, r := range report.Rows {
		tiny := "-"
		if r.TinyStep > 0 {
			tiny = fmt.Sprintf("%.3f", r.TinyStep)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.1f\t%.2fx\t%s\t%s\t\n", r.Mode, r.Workers, r.Seconds, r.MBps, r.Speedup, r.Output, tiny)
	}
	return tw.Flush()
}

// benchCluster times a step on an embedded cluster of n core workers. The
// time is the leader's, from submission to COMPLETED, which comes only
// after the output is committed.
func benchCluster(ctx context.Context, progress io.Writer, work string, n, slots, repeat int, spec *pb.StepSpec, ref string) (benchRow, error) {
	row := benchRow{Mode: "cluster", Workers: n, Output: "identical"}
	log, _ := newLogger("error")
	data := filepath.Join(work, fmt.Sprintf("cluster-%d", n))
	defer os.RemoveAll(data)
	c, err := localcluster.Start(ctx, localcluster.Config{Primaries: 1, Core: n, Slots: slots, DataDir: data, Logger: log})
	if err != nil {
		return row, err
	}
	defer c.Stop()
	cc, err := pb.Dial(c.Addrs())
	if err != nil {
		return row, err
	}
	defer cc.Close()
	client := pb.NewClientClient(cc)

	// A tiny step first: it also warms the cluster up.
	tiny := filepath.Join(data, "tiny.txt")
	if err := os.WriteFile(tiny, []byte("the quick brown fox jumps over the lazy dog\n"), 0o644); err != nil {
		return row, err
	}
	var tinyTimes []float64
	for r := range 5 {
		st, err := runTimedStep(ctx, client, &pb.StepSpec{Job: "wordcount", Inputs: []string{tiny}, Output: filepath.Join(data, fmt.Sprintf("tiny-out-%d", r)), Reducers: 1})
		if err != nil {
			return row, fmt.Errorf("tiny step: %w", err)
		}
		tinyTimes = append(tinyTimes, st)
	}
	row.TinyStep = median(tinyTimes)

	var times []float64
	for r := range repeat {
		s := proto.CloneOf(spec)
		s.Output = filepath.Join(work, fmt.Sprintf("cluster-%d-out-%d", n, r))
		secs, err := runTimedStep(ctx, client, s)
		if err != nil {
			return row, err
		}
		times = append(times, secs)
		same, diff, err := sameOutput(ref, s.Output)
		if err != nil {
			return row, err
		}
		if !same {
			row.Output = "DIFFERENT: " + diff
		}
		os.RemoveAll(s.Output)
		fmt.Fprintf(progress, "  cluster of %d, run %d: %.2fs, output %s\n", n, r+1, secs, row.Output)
	}
	row.Seconds = median(times)
	return row, nil
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

// benchCoreutils times the classic shell word count on the same files and
// checks its counts against the reference output.
func benchCoreutils(ctx context.Context, progress io.Writer, files []mapreduce.InputFile, repeat int, ref string) (benchRow, error) {
	row := benchRow{Mode: "coreutils", Workers: 1}
	var args []string
	for _, f := range files {
		args = append(args, f.Path)
	}
	var times []float64
	var out []byte
	for r := range repeat {
		c := exec.CommandContext(ctx, "bash", append([]string{"-c", `cat "$@" | tr -cs A-Za-z '\n' | sort | uniq -c`, "bench"}, args...)...)
		c.Env = append(os.Environ(), "LC_ALL=C")
		start := time.Now()
		var err error
		if out, err = c.Output(); err != nil {
			return row, fmt.Errorf("coreutils pipeline: %w", err)
		}
		times = append(times, time.Since(start).Seconds())
		fmt.Fprintf(progress, "  coreutils run %d: %.2fs\n", r+1, times[r])
	}
	row.Seconds = median(times)
	row.Output = "same counts"
	if diff, err := compareCounts(out, ref); err != nil {
		return row, err
	} else if diff != "" {
		row.Output = "differs (" + diff + ")"
	}
	return row, nil
}

// compareCounts compares `uniq -c` output with word count part files.
func compareCounts(uniq []byte, ref string) (string, error) {
	want := map[string]string{}
	parts, err := partFiles(ref)
	if err != nil {
		return "", err
	}
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		for line := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
			if w, n, ok := strings.Cut(line, "\t"); ok {
				want[w] = n
			}
		}
	}
	got := 0
	sc := bufio.NewScanner(bytes.NewReader(uniq))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue // the empty word before leading punctuation
		}
		got++
		if want[fields[1]] != fields[0] {
			return fmt.Sprintf("%q: %s vs %s", fields[1], fields[0], want[fields[1]]), nil
		}
	}
	if got != len(want) {
		return fmt.Sprintf("%d words vs %d", got, len(want)), nil
	}
	return "", nil
}

// sameOutput compares two output folders file by file, ignoring _SUCCESS
// (whose manifest holds timings and ids).
func sameOutput(a, b string) (bool, string, error) {
	la, err := outputFiles(a)
	if err != nil {
		return false, "", err
	}
	lb, err := outputFiles(b)
	if err != nil {
		return false, "", err
	}
	if !slices.Equal(la, lb) {
		return false, fmt.Sprintf("files %v vs %v", la, lb), nil
	}
	for _, name := range la {
		ba, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			return false, "", err
		}
		bb, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			return false, "", err
		}
		if !bytes.Equal(ba, bb) {
			return false, name + " differs", nil
		}
	}
	return true, "", nil
}

func outputFiles(dir string) ([]string, error) {
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() == mapreduce.SuccessFile {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		names = append(names, rel)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list output %s: %w", dir, err)
	}
	return names, nil
}

// generateInput writes about size bytes of deterministic input for a job,
// in files of at most 64 MB.
func generateInput(job, dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create input folder: %w", err)
	}
	const perFile = 64 << 20
	for i := 0; int64(i)*perFile < size; i++ {
		n := min(perFile, size-int64(i)*perFile)
		path := filepath.Join(dir, fmt.Sprintf("input-%03d", i))
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create input: %w", err)
		}
		if job == "logagg" {
			// About 180 bytes a line.
			err = jobs.WriteSampleAccessLog(f, int(n/180), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i), uint64(i+1))
		} else {
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
