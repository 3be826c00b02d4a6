package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/jobs"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/spf13/cobra"
)

func defaultSlots() int { return runtime.NumCPU() }

func newRunCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --job NAME [--input PATH...] [--output DIR] [job flags]",
		Short: "Start an embedded cluster, run one step on it, print its counters and stop",
		Long: `Start an embedded cluster (like "gomr local"), run one step, print its
counters and stop. Without --input, a small deterministic sample is
generated for the job (English-like text for wordcount and invertedindex,
access-log lines for logagg). Without --output, the output goes to a new
temporary folder, which is printed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			format, err := printFormat(cmd, v)
			if err != nil {
				return err
			}
			if v.GetString("job") == "" {
				return fmt.Errorf("--job is required (gomr jobs lists the jobs)")
			}
			if _, err := jobs.Lookup(v.GetString("job")); err != nil {
				return err
			}
			work, err := os.MkdirTemp("", "gomr-run-")
			if err != nil {
				return fmt.Errorf("create work folder: %w", err)
			}
			// The work folder keeps only the output; it goes if that is
			// elsewhere or was not made (a failed run leaves nothing).
			defer removeIfEmpty(work)
			inputs, _ := cmd.Flags().GetStringArray("input")
			inputs = append(inputs, args...)
			sample := ""
			if len(inputs) == 0 {
				// As on EMR: import the input into the cluster's HDFS, process
				// it there, keep the result.
				sample = filepath.Join(work, "input")
				defer os.RemoveAll(sample)
				if err := writeSample(v.GetString("job"), sample); err != nil {
					return err
				}
				cmd.Flags().Set("input", sampleHDFS)
			}
			output := v.GetString("output")
			if output == "" {
				output = filepath.Join(work, "output")
			}
			spec, err := specFromFlags(cmd, v, args, output)
			if err != nil {
				return err
			}
			cfg, cleanup, err := localConfig(cmd, v, "")
			if err != nil {
				return err
			}
			defer cleanup()
			started := time.Now()
			c, err := localcluster.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer c.Stop()
			fmt.Fprintf(cmd.ErrOrStderr(), "embedded cluster up in %s: %d primaries, %d core, %d task workers\n",
				time.Since(started).Round(time.Millisecond), cfg.Primaries, cfg.Core, cfg.Task)
			client, err := connectCluster(c.Addrs(), c.Addr(), defaultTimeout)
			if err != nil {
				return err
			}
			defer client.Close()
			if sample != "" {
				if err := importSample(cmd.Context(), client, sample); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "no --input: generated a sample and put it into the embedded cluster's HDFS at %s (the step's input; removed after the run with the cluster)\n", sampleHDFS)
			}
			ctx, cancel := client.callCtx(cmd.Context())
			resp, err := client.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
			cancel()
			if err != nil {
				return client.explain(err)
			}
			printWarnings(cmd.ErrOrStderr(), resp.Warnings)
			werr := waitStep(cmd.Context(), client, resp.StepId, waitOptions{progress: cmd.ErrOrStderr(), every: v.GetDuration("progress-interval")})
			ctx, cancel = client.callCtx(cmd.Context())
			d, err := client.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: resp.StepId})
			cancel()
			if err != nil {
				return client.explain(err)
			}
			if format == "json" {
				if err := printJSON(cmd.OutOrStdout(), stepJSON(d.Step, nil)); err != nil {
					return err
				}
			} else {
				printRunSummary(cmd.OutOrStdout(), d.Step)
			}
			return werr
		},
	}
	addSpecFlags(cmd, job)
	addClusterShapeFlags(cmd)
	cmd.Flags().String("output", "", "output folder; must not exist (a new temporary folder if not given)")
	addFormatFlag(cmd)
	addProgressFlag(cmd)
	return cmd
}

// sampleHDFS is where gomr run puts its generated sample in HDFS.
const sampleHDFS = "hdfs:///user/gomr/sample"

// importSample puts the files of a local folder into sampleHDFS.
func importSample(ctx context.Context, c *clusterClient, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read sample: %w", err)
	}
	hc, closeHC := newHDFSClient(c)
	defer closeHC()
	if err := hc.Mkdirs(ctx, sampleHDFS, true); err != nil {
		return fmt.Errorf("import the sample into HDFS: %w", err)
	}
	for _, e := range entries {
		if err := putFile(ctx, hc, filepath.Join(dir, e.Name()), namespace.Join(mustClean(sampleHDFS), e.Name()), client.CreateOptions{}); err != nil {
			return fmt.Errorf("import the sample into HDFS: %w", err)
		}
	}
	return nil
}

// removeIfEmpty removes a folder that holds nothing.
func removeIfEmpty(dir string) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
		os.Remove(dir)
	}
}

// writeSample generates the sample input of a job into dir.
func writeSample(job, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create sample folder: %w", err)
	}
	for i := range 4 {
		var path string
		var write func(io.Writer) error
		if job == "logagg" {
			path = filepath.Join(dir, fmt.Sprintf("access-%d.log", i+1))
			day := time.Date(2026, 11, 1+i, 0, 0, 0, 0, time.UTC)
			write = func(w io.Writer) error { return jobs.WriteSampleAccessLog(w, 20000, day, uint64(i+1)) }
		} else {
			path = filepath.Join(dir, fmt.Sprintf("text-%d.txt", i+1))
			write = func(w io.Writer) error { return jobs.WriteSampleText(w, 2<<20, uint64(i+1)) }
		}
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create sample: %w", err)
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write sample: %w", err)
		}
	}
	return nil
}

func printRunSummary(w io.Writer, st *pb.Step) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "step\t%s (%s)\n", st.Id, st.Spec.GetJob())
	fmt.Fprintf(tw, "state\t%s\n", st.State.Value())
	if st.EndedUnixNano > 0 {
		fmt.Fprintf(tw, "time\t%s\n", time.Duration(st.EndedUnixNano-st.SubmittedUnixNano).Round(time.Millisecond))
	}
	if st.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", st.Error)
	}
	fmt.Fprintf(tw, "output\t%s\n", st.Spec.GetOutput())
	tw.Flush()
	if st.State.Value() == state.StepCompleted {
		if parts, err := partFiles(st.Spec.GetOutput()); err == nil {
			fmt.Fprintf(w, "        %d part files; e.g. sort -t$'\\t' -k2,2nr %s/part-* | head\n", len(parts), st.Spec.GetOutput())
		}
	}
	names := make([]string, 0, len(st.Counters))
	for k := range st.Counters {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "counters")
	for _, k := range names {
		fmt.Fprintf(tw, "  %s\t%d\n", k, st.Counters[k])
	}
	tw.Flush()
}
