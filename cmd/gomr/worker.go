package main

import (
	"cmp"
	"fmt"
	"os"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/primary/pki"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/worker"
	"github.com/spf13/cobra"
)

func newWorkerCmd() *cobra.Command {
	d := worker.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker node (core or task; both run map and reduce tasks)",
		Long: `Run a worker. It joins the cluster through any primary in --join, registers
with the leader and runs up to --slots attempts at once. Core workers also
store HDFS blocks in DATA-DIR/hdfs, checksummed, serve them to readers and
other core workers, and report them to the leader; task workers only
compute and can be added or removed at any time, like EMR task nodes (drain
one first with "gomr node drain"; decommission a core worker with
"gomr node decommission").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			log, err := newLogger(v.GetString("log-level"))
			if err != nil {
				return err
			}
			shuffleMem, err := sizeOpt(v, "shuffle-memory", 0)
			if err != nil {
				return err
			}
			shuffleMerge, err := sizeOpt(v, "shuffle-merge", 0)
			if err != nil {
				return err
			}
			mapOutputCache, err := sizeOpt(v, "map-output-cache", 0)
			if err != nil {
				return err
			}
			bandwidth, err := sizeOpt(v, "transfer-bandwidth", 1)
			if err != nil {
				return err
			}
			scanRate, err := sizeOpt(v, "scan-rate", 1)
			if err != nil {
				return err
			}
			logRetention, err := sizeOpt(v, "log-retention", 1)
			if err != nil {
				return err
			}
			fss, err := nodeFileSystems(cmd.Context(), v, log)
			if err != nil {
				return err
			}
			tlsID, gossipKey, err := nodeSecurity(cmd.Context(), v, log, pki.RoleWorker)
			if err != nil {
				return err
			}
			defer tlsID.Close()
			cfg := worker.Config{
				ID:                  v.GetString("id"),
				Role:                state.WorkerRole(v.GetString("role")),
				Join:                v.GetStringSlice("join"),
				Addr:                v.GetString("addr"),
				GossipAddr:          v.GetString("gossip-addr"),
				DataDir:             v.GetString("data-dir"),
				Slots:               cmp.Or(v.GetInt("slots"), d.Slots),
				TinySlots:           v.GetInt("tiny-slots"),
				HeartbeatInterval:   v.GetDuration("heartbeat-interval"),
				ShuffleMemoryBytes:  shuffleMem,
				ShuffleMergeBytes:   shuffleMerge,
				MapOutputCacheBytes: mapOutputCache,
				SetMemoryLimit:      os.Getenv("GOMEMLIMIT") == "", // the user's own limit stands
				MapOutputCodec:      v.GetString("map-output-codec"),
				AttemptLog:          v.GetString("attempt-log"),
				TransferBandwidth:   bandwidth,
				ScanBytesPerSecond:  scanRate,
				ScanPeriod:          v.GetDuration("scan-period"),
				LogRetentionBytes:   logRetention,
				RunAs:               v.GetString("run-as"),
				FileSystems:         fss,
				TLS:                 tlsID,
				GossipKey:           gossipKey,
				Logger:              log,
			}
			if tlsID != nil && tlsID.Principal().Name != cfg.ID {
				return fmt.Errorf("--tls-cert names worker %q, but this worker's --id is %q: a worker certificate speaks for its own worker only (issue one with gomr cert issue --role worker %s)", tlsID.Principal().Name, cfg.ID, cfg.ID)
			}
			w, err := worker.Start(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "worker %s (%s) serving on %s\n", cfg.ID, cfg.Role, w.Addr())
			<-cmd.Context().Done()
			log.Info("shutting down")
			w.Stop()
			return nil
		},
	}
	f := cmd.Flags()
	f.String("id", d.ID, "unique id of this worker")
	f.String("role", string(d.Role), "core (runs tasks and stores HDFS blocks) or task (compute only; add and remove freely)")
	f.StringSlice("join", d.Join, "gRPC addresses of primaries to join through (comma-separated)")
	f.String("addr", d.Addr, "gRPC address of this worker's shuffle service")
	f.String("gossip-addr", d.GossipAddr, "gossip (memberlist) address, TCP and UDP")
	f.String("data-dir", d.DataDir, "folder for map outputs and shuffle data")
	f.Int("slots", 0, "attempts run at once (0: one per CPU)")
	f.Int("tiny-slots", d.TinySlots, "attempts of tiny map tasks (a split of at most 64 KiB) run beside the slots")
	f.Duration("heartbeat-interval", d.HeartbeatInterval, "time between heartbeats to the leader")
	f.String("map-output-codec", "none", "compress map output for the shuffle: none, s2 or zstd (Hadoop's mapreduce.map.output.compress)")
	f.String("map-output-cache", humanize.IBytes(uint64(d.MapOutputCacheBytes)), "map output this worker holds written through the page cache (a tenth of this machine's memory unless set); map attempts past it write their output straight to disk, behind the cache (0: always)")
	f.String("shuffle-memory", "64MiB", "fetched map output a reduce attempt holds in memory before it spills to disk")
	f.String("shuffle-merge", "4MiB", "fetched map output a reduce attempt of a job with a combiner holds in memory before it combines it into one segment (0: never)")
	f.String("transfer-bandwidth", "100MiB", "bytes per second a core worker copies HDFS replicas to others at (re-replication, decommission)")
	f.String("scan-rate", "1MiB", "bytes per second the block scanner of a core worker verifies its replicas at")
	f.Duration("scan-period", 21*24*time.Hour, "the block scanner verifies every replica once in this period")
	f.String("attempt-log", "", "append a line to this file when an attempt starts and when it ends (an audit trail)")
	f.String("log-retention", "1GiB", "the attempts' logs (DATA-DIR/logs: syslog, stderr; gomr step logs reads them) kept after they end; beyond it the oldest steps' logs are removed first")
	f.String("run-as", "", "unprivileged account streaming commands run as when the worker runs as root (empty: "+worker.DefaultRunAs+"); ignored, with a warning, by a worker not running as root")
	addTLSFlags(f)
	addGossipKeyFlag(f)
	addS3Flags(f)
	return cmd
}
