package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/cmd/internal/s3local"
	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/mapreduce/s3"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func defaultSlots() int { return runtime.NumCPU() }

func newRunCmd(job string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --job NAME [--input PATH...] [--output DIR] [job flags] | --steps FILE",
		Short: "Start an embedded cluster, run one step on it, print its counters and stop",
		Long: `Start an embedded cluster (like "gomr local"), run one step, print its
counters and stop. Without --input, a small deterministic sample is
generated for the job (English-like text for wordcount and invertedindex,
access-log lines for logagg) and put into the cluster's HDFS. Without
--output, the step writes to the cluster's HDFS and its result is
exported to the cluster's embedded S3 endpoint (as on a transient EMR
cluster: import, process, export); the endpoint keeps its objects in a
new temporary folder that stays after the run, and both are printed.

With --steps FILE (see "gomr step add --help"), the steps of the file run
in order on the new cluster, which then stops (--auto-terminate, as a
transient EMR cluster); the exit status is 0 only if every step
COMPLETED. --auto-terminate=false keeps the cluster up after the chain
until interrupted.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			format, err := printFormat(cmd, v)
			if err != nil {
				return err
			}
			if file := v.GetString("steps"); file != "" {
				return runChain(cmd, v, file)
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
			// The embedded S3 endpoint's folder stays only if an export
			// to it completed.
			keepS3 := false
			defer func() {
				if !keepS3 {
					os.RemoveAll(filepath.Join(work, "s3"))
				}
			}()
			inputs, _ := cmd.Flags().GetStringArray("input")
			inputs = append(inputs, args...)
			sample := ""
			if def, err := jobs.Lookup(v.GetString("job")); len(inputs) == 0 && (err != nil || !def.NoInput) {
				// As on EMR: import the input into the cluster's HDFS, process
				// it there, keep the result.
				sample = filepath.Join(work, "input")
				defer os.RemoveAll(sample)
				if err := writeSample(v.GetString("job"), sample); err != nil {
					return err
				}
				cmd.Flags().Set("input", sampleHDFS)
			}
			cfg, cleanup, err := localConfig(cmd, v, "")
			if err != nil {
				return err
			}
			defer cleanup()
			if cfg.S3 == nil {
				// The embedded S3 endpoint keeps its objects in the work
				// folder: they stay after the run.
				cfg.S3Dir = filepath.Join(work, "s3")
			}
			output := v.GetString("output")
			if output == "" {
				// As on a transient EMR cluster: the step writes to the
				// cluster's HDFS, which goes with it, and the result is
				// exported to S3, which stays.
				name := fmt.Sprintf("%s-%s", v.GetString("job"), time.Now().UTC().Format("20060102-150405"))
				output = runOutputHDFS + "/" + name
				if v.GetString("export") == "" {
					if cfg.S3 != nil {
						return fmt.Errorf("with an S3 service of your own (--s3-endpoint or AWS_ENDPOINT_URL_S3), give --output, or --export s3://BUCKET/PREFIX/ for the result")
					}
					cmd.Flags().Set("export", "s3://"+s3local.DefaultBucket+"/"+name+"/")
				}
			}
			spec, err := specFromFlags(cmd, v, args, output)
			if err != nil {
				return err
			}
			started := time.Now()
			c, err := localcluster.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer c.Stop()
			fmt.Fprintf(cmd.ErrOrStderr(), "embedded cluster up in %s: %d primaries, %d core, %d task workers\n",
				time.Since(started).Round(time.Millisecond), cfg.Primaries, cfg.Core, cfg.Task)
			if srv := c.S3(); srv != nil && strings.HasPrefix(spec.Export, "s3://"+srv.Bucket()+"/") {
				printS3Endpoint(cmd.ErrOrStderr(), srv)
			}
			client, err := connectCluster(c.Addrs(), c.Addr(), defaultTimeout, c.ClientTLS(), c.ClientToken())
			if err != nil {
				return err
			}
			defer client.Close()
			if err := shipFiles(cmd.Context(), cmd, client, spec); err != nil {
				return err
			}
			if sample != "" {
				if err := importSample(cmd.Context(), client, sample); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "no --input: generated a sample and put it into the embedded cluster's HDFS at %s (the step's input; removed after the run with the cluster)\n", sampleHDFS)
			}
			if err := prepareOnClient(cmd.Context(), v, client, spec); err != nil {
				return err
			}
			ctx, cancel := client.callCtx(cmd.Context())
			resp, err := client.SubmitStep(ctx, &pb.SubmitStepRequest{Spec: spec})
			cancel()
			if err != nil {
				return client.explain(err)
			}
			printWarnings(cmd.ErrOrStderr(), resp.Warnings)
			werr := waitStep(cmd.Context(), client, resp.StepId, waitOptions{progress: cmd.ErrOrStderr(), every: v.GetDuration("progress-interval"), followExport: true})
			ctx, cancel = client.callCtx(cmd.Context())
			d, err := client.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: resp.StepId})
			cancel()
			if err != nil {
				return client.explain(err)
			}
			var export *pb.Step
			if id := d.Step.ExportStep; id != "" {
				ctx, cancel = client.callCtx(cmd.Context())
				e, err := client.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
				cancel()
				if err != nil {
					return client.explain(err)
				}
				export = e.Step
				if bucket, _, err := s3.ParseURI(export.Spec.GetOutput()); err == nil && c.S3() != nil && bucket == c.S3().Bucket() {
					keepS3 = export.State.Value() == state.StepCompleted
				}
			}
			if format == "json" {
				// The step names its export step (export_step), which
				// "gomr step describe" shows.
				if err := printJSON(cmd.OutOrStdout(), stepJSON(d.Step, nil)); err != nil {
					return err
				}
			} else {
				printRunSummary(cmd.OutOrStdout(), d.Step, export, c.S3())
			}
			return werr
		},
	}
	addSpecFlags(cmd, job)
	addClusterShapeFlags(cmd)
	cmd.Flags().String("output", "", "output folder; must not exist (without it: HDFS, exported to the embedded S3 endpoint, whose objects stay in a new temporary folder)")
	addFormatFlag(cmd)
	addProgressFlag(cmd)
	cmd.Flags().String("steps", "", "run the steps of this YAML or JSON step file, in order, instead of one step")
	cmd.Flags().Bool("auto-terminate", true, "with --steps, stop the cluster once the steps have ended")
	return cmd
}

// runChain runs the steps of a step file on a new embedded cluster.
func runChain(cmd *cobra.Command, v *viper.Viper, file string) error {
	steps, warnings, err := readStepFile(file)
	if err != nil {
		return err
	}
	printWarnings(cmd.ErrOrStderr(), warnings)
	cfg, cleanup, err := localConfig(cmd, v, "")
	if err != nil {
		return err
	}
	defer cleanup()
	if cfg.S3 == nil {
		// What the steps write to the embedded S3 endpoint stays after the
		// run (the cluster's HDFS goes with it).
		work, err := os.MkdirTemp("", "gomr-run-")
		if err != nil {
			return fmt.Errorf("create work folder: %w", err)
		}
		cfg.S3Dir = filepath.Join(work, "s3")
		defer func() {
			if entries, _ := os.ReadDir(filepath.Join(cfg.S3Dir, "buckets", s3local.DefaultBucket)); len(entries) == 0 {
				os.RemoveAll(work)
			}
		}()
	}
	started := time.Now()
	c, err := localcluster.Start(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Fprintf(cmd.ErrOrStderr(), "embedded cluster up in %s: %d primaries, %d core, %d task workers; %d steps\n",
		time.Since(started).Round(time.Millisecond), cfg.Primaries, cfg.Core, cfg.Task, len(steps))
	if srv := c.S3(); srv != nil {
		printS3Endpoint(cmd.ErrOrStderr(), srv)
	}
	client, err := connectCluster(c.Addrs(), c.Addr(), defaultTimeout, c.ClientTLS(), c.ClientToken())
	if err != nil {
		return err
	}
	defer client.Close()
	ids, err := submitChain(cmd.Context(), client, steps, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	werr := waitChain(cmd.Context(), client, ids, waitOptions{progress: cmd.ErrOrStderr(), every: v.GetDuration("progress-interval"), followExport: true})
	for _, id := range ids {
		ctx, cancel := client.callCtx(cmd.Context())
		d, err := client.DescribeStep(ctx, &pb.DescribeStepRequest{StepId: id})
		cancel()
		if err != nil {
			return client.explain(err)
		}
		line := fmt.Sprintf("%s  %-14s %-10s %s", d.Step.Id, d.Step.Spec.GetName(), d.Step.State.Value(), d.Step.Spec.GetOutput())
		if d.Step.Error != "" {
			line += "  (" + oneLine(d.Step.Error) + ")"
		}
		fmt.Fprintln(cmd.OutOrStdout(), line)
	}
	if !v.GetBool("auto-terminate") && cmd.Context().Err() == nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "the steps have ended; the cluster stays up at %s (Ctrl-C stops it)\n", c.Addr())
		<-cmd.Context().Done()
	}
	return werr
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
		if job == jobs.TeraSortJob || job == jobs.TeraValidateJob {
			// TeraSort records (teragen's, 5 MB a file).
			path = filepath.Join(dir, fmt.Sprintf("tera-%d", i+1))
			write = func(w io.Writer) error { _, err := jobs.WriteTeraRecords(w, uint64(i)*50000, 50000); return err }
		} else if job == "logagg" {
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

// runOutputHDFS is where gomr run writes a step's output when --output
// is not given; the result is exported to S3 from there.
const runOutputHDFS = "hdfs:///user/gomr/output"

// printS3Endpoint tells how to reach the embedded S3 endpoint with the
// aws CLI (its credentials are printed for that, and logged nowhere).
func printS3Endpoint(w io.Writer, srv *s3local.Server) {
	fmt.Fprintf(w, "embedded S3 endpoint %s, bucket %s, objects in %s\n", srv.URL(), srv.Bucket(), filepath.Join(srv.Dir(), "buckets"))
	fmt.Fprintf(w, "  read it with: AWS_SHARED_CREDENTIALS_FILE=%s aws --profile %s s3 ls --recursive s3://%s/ --endpoint-url %s\n",
		srv.CredentialsFile(), s3local.Profile, srv.Bucket(), srv.URL())
}

func printRunSummary(w io.Writer, st, export *pb.Step, srv *s3local.Server) {
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
	local := st.Spec.GetOutput()
	if export != nil {
		fmt.Fprintf(tw, "export\t%s (step %s %s)\n", export.Spec.GetOutput(), export.Id, export.State.Value())
		if export.Error != "" {
			fmt.Fprintf(tw, "\t%s\n", export.Error)
		}
		local = ""
		if bucket, key, err := s3.ParseURI(export.Spec.GetOutput()); err == nil && srv != nil && bucket == srv.Bucket() {
			local = filepath.Join(srv.Dir(), "buckets", bucket, filepath.FromSlash(key))
			fmt.Fprintf(tw, "\tstored in %s\n", local)
		}
	}
	tw.Flush()
	if st.State.Value() == state.StepCompleted && local != "" && (export == nil || export.State.Value() == state.StepCompleted) {
		if parts, err := partFiles(local); err == nil {
			fmt.Fprintf(w, "        %d part files; e.g. sort -t$'\\t' -k2,2nr %s/part-* | head\n", len(parts), local)
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
