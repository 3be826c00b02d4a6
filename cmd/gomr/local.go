package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/mapreduce/s3"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

func newLocalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a whole cluster on loopback in the foreground",
		Long: `Run primaries, core workers and task workers in this process, on
loopback, until interrupted (Ctrl-C or SIGTERM). Clients find it at
--addr, which is also where every client command looks by default:

    gomr local &
    gomr step add --job wordcount --input books/ --output counts

Primary i (from 0) serves clients on the port of --addr plus i and Raft
on that port plus 100 plus i. Without --data-dir the cluster's data lives
in a temporary folder that is removed on exit, and steps still running
then are cancelled and their partial output removed; with --data-dir, the
cluster can be stopped and started again with its step history, and a
running step resumes.

s3:// paths go to an S3-compatible endpoint the cluster runs itself on
loopback (port of --addr plus 200), with its objects on disk under the
data folder and bucket "gomr"; its URL and key pair are printed for the
aws CLI. With --s3-endpoint, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL set,
that service is used instead, with the standard AWS credentials.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			cfg, cleanup, err := localConfig(cmd, v, v.GetString("addr"))
			if err != nil {
				return err
			}
			defer cleanup()
			c, err := localcluster.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "gomr local cluster: primaries %d, core workers %d, task workers %d, slots per worker %d\n", cfg.Primaries, cfg.Core, cfg.Task, cfg.Slots)
			fmt.Fprintf(out, "cluster address: %s\n", c.Addr())
			if len(c.Addrs()) > 1 {
				fmt.Fprintf(out, "all primaries:   GOMR_CLUSTER=%s\n", strings.Join(c.Addrs(), ","))
			}
			signIn := ""
			if c.ClientToken() != "" {
				signIn = "; sign in with the admin token"
			}
			fmt.Fprintf(out, "status page:     http://%s/ (metrics at /metrics%s)\n", c.Primaries[0].HTTPAddr(), signIn)
			fmt.Fprintf(out, "data:            %s\n", cfg.DataDir)
			if srv := c.S3(); srv != nil {
				printS3Endpoint(out, srv)
			} else {
				fmt.Fprintf(out, "s3:// paths:     %s\n", cfg.S3)
			}
			printClientTLS(out, c)
			if f := c.ClientTLSFiles(); f.Set() {
				defer saveLocalClient(c.Addr(), localClientRecord{Files: f, Token: c.ClientToken()}, cfg.Logger)()
			}
			fmt.Fprintln(out, "press Ctrl-C to stop")
			client, err := connectCluster(c.Addrs(), c.Addr(), defaultTimeout, c.ClientTLS(), c.ClientToken())
			if err != nil {
				c.Stop()
				return err
			}
			defer client.Close()
			why := watchCluster(cmd.Context(), client, v.GetDuration("idle-timeout"))
			fmt.Fprintf(out, "stopping: %s\n", why)
			c.Stop()
			if strings.HasPrefix(why, "terminated") {
				return exitError{code: 1, msg: "the cluster " + why}
			}
			return nil
		},
	}
	addClusterShapeFlags(cmd)
	cmd.Flags().String("addr", localcluster.DefaultAddr, "client address of the first primary")
	cmd.Flags().Duration("idle-timeout", 0, "stop once no step has been pending or running for this long, exports included (EMR's auto-termination); 0 never")
	return cmd
}

// watchCluster returns when the cluster should stop: ctx ends
// (interrupted), a step's TERMINATE_CLUSTER action terminated it, or no
// step was pending or running for idle (when idle > 0).
func watchCluster(ctx context.Context, c *clusterClient, idle time.Duration) string {
	busySince := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "interrupted"
		case <-tick.C:
		}
		cctx, cancel := c.callCtx(ctx)
		nodes, err := c.ListNodes(cctx, &pb.ListNodesRequest{})
		cancel()
		if err == nil && nodes.Terminated != "" {
			return "terminated: " + nodes.Terminated
		}
		if idle <= 0 {
			continue
		}
		cctx, cancel = c.callCtx(ctx)
		steps, err := c.ListSteps(cctx, &pb.ListStepsRequest{PageSize: 1, States: []pb.StepState{pb.StepState_STEP_PENDING, pb.StepState_STEP_RUNNING, pb.StepState_STEP_CANCEL_PENDING}})
		cancel()
		switch {
		case err != nil || len(steps.Steps) > 0:
			busySince = time.Now()
		case time.Since(busySince) >= idle:
			return fmt.Sprintf("idle: no step pending or running for %s", idle)
		}
	}
}

// addClusterShapeFlags adds the flags of an embedded cluster.
func addClusterShapeFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Int("primaries", 3, "number of primaries (1, 3 or 5)")
	f.Int("core", 2, "number of core workers")
	f.Int("task", 1, "number of task workers")
	f.Int("slots", 0, "task slots per worker (0: the number of CPUs)")
	f.String("min-split-size", "1MiB", "smallest --split-size a step may ask for")
	f.String("data-dir", "", "folder for every node's data; without it, a temporary folder, removed on exit with the partial output of running steps")
	f.StringSlice("data-roots", nil, "folders, hdfs:///path and s3://bucket[/prefix] prefixes steps may read and write (repeat or comma-separate; default: the working folder, the data folder, the system temp folder, hdfs:/// and the embedded S3 endpoint's buckets)")
	f.Bool("tls", embeddedTLS, "mutual TLS between every node and client and encrypted gossip, with a CA and certificates made under the data folder (--tls=false: plaintext)")
	addS3Flags(f)
}

// embeddedTLS is whether embedded clusters (gomr local, gomr run) use
// mutual TLS unless told otherwise.
const embeddedTLS = true

// printClientTLS tells how a client in another process connects to a TLS
// cluster: the client certificate files, as environment variables.
func printClientTLS(out io.Writer, c *localcluster.Cluster) {
	f := c.ClientTLSFiles()
	if !f.Set() {
		fmt.Fprintln(out, "TLS:             off (plaintext; anyone who can reach the ports can use the cluster)")
		return
	}
	fmt.Fprintf(out, "TLS:             mutual TLS; CA and certificates in %s\n", c.TLSDir())
	fmt.Fprintln(out, "clients:         gomr commands of this user on this machine find the client certificate and admin token by themselves; elsewhere:")
	fmt.Fprintf(out, "    export GOMR_CLUSTER=%s\n", strings.Join(c.Addrs(), ","))
	fmt.Fprintf(out, "    export GOMR_TLS_CERT=%s\n", f.Cert)
	fmt.Fprintf(out, "    export GOMR_TLS_KEY=%s\n", f.Key)
	fmt.Fprintf(out, "    export GOMR_TLS_CA=%s\n", f.CA)
	fmt.Fprintf(out, "    export GOMR_TOKEN=$(cat %s)\n", c.ClientTokenFile())
}

// userS3 returns the S3 service the user configured (--s3-endpoint, the
// config file, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL), or nil: the
// embedded cluster then runs an S3 endpoint of its own.
func userS3(v *viper.Viper, log *slog.Logger) *s3.Config {
	if v.GetString("s3-endpoint") == "" && os.Getenv("AWS_ENDPOINT_URL_S3") == "" && os.Getenv("AWS_ENDPOINT_URL") == "" {
		return nil
	}
	c := s3Config(v, log)
	return &c
}

// localConfig builds an embedded cluster's configuration. Node logs are
// shown from warnings up unless --log-level asks for more.
func localConfig(cmd *cobra.Command, v *viper.Viper, addr string) (localcluster.Config, func(), error) {
	level := v.GetString("log-level")
	if !cmd.Flags().Changed("log-level") && os.Getenv("GOMR_LOG_LEVEL") == "" {
		level = "warn"
	}
	log, err := newLogger(level)
	if err != nil {
		return localcluster.Config{}, nil, err
	}
	minSplit, err := sizeOpt(v, "min-split-size", 1)
	if err != nil {
		return localcluster.Config{}, nil, err
	}
	cfg := localcluster.Config{
		S3:           userS3(v, log),
		MinSplitSize: minSplit,
		Primaries:    v.GetInt("primaries"),
		Core:         v.GetInt("core"),
		Task:         v.GetInt("task"),
		Slots:        v.GetInt("slots"),
		DataDir:      v.GetString("data-dir"),
		Addr:         addr,
		TLS:          v.GetBool("tls"),
		DataRoots:    v.GetStringSlice("data-roots"),
		Logger:       log,
	}
	if cfg.Primaries != 1 && cfg.Primaries != 3 && cfg.Primaries != 5 {
		return cfg, nil, fmt.Errorf("--primaries must be 1, 3 or 5, got %d", cfg.Primaries)
	}
	if cfg.Slots == 0 {
		cfg.Slots = defaultSlots()
	}
	cleanup := func() {}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "gomr-local-")
		if err != nil {
			return cfg, nil, fmt.Errorf("create data dir: %w", err)
		}
		cfg.DataDir = dir
		cfg.Ephemeral = true
		cleanup = func() { os.RemoveAll(dir) }
	}
	return cfg, cleanup, nil
}
