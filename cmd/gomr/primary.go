package main

import (
	"fmt"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/primary"
	"github.com/gomr/gomr/primary/pki"
	"github.com/spf13/cobra"
)

func newPrimaryCmd() *cobra.Command {
	d := primary.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "primary",
		Short: "Run a primary node (a member of the Raft group that runs the cluster)",
		Long: `Run a primary. One, three or five primaries form a Raft group; the leader
plans steps, schedules tasks and commits output, and any primary answers
clients and workers.

Form a new group with --bootstrap on every primary and the same --peers
list (ID=RAFT-ADDRESS for each primary, this one included), or add a
primary to a running group with --join (any of its primaries' gRPC
addresses): it joins as a non-voter and the leader promotes it to voter
once it has caught up. A primary restarted from its --data-dir rejoins its
group; --bootstrap and --join are then ignored. Remove one with
"gomr node remove-primary ID".`,
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
			minSplit, err := sizeOpt(v, "min-split-size", 1)
			if err != nil {
				return err
			}
			blockSize, err := sizeOpt(v, "block-size", 512)
			if err != nil {
				return err
			}
			fss, err := nodeFileSystems(cmd.Context(), v, log)
			if err != nil {
				return err
			}
			tlsID, gossipKey, err := nodeSecurity(cmd.Context(), v, log, pki.RolePrimary)
			if err != nil {
				return err
			}
			defer tlsID.Close()
			cfg := primary.Config{
				NodeID:                v.GetString("node-id"),
				DataDir:               v.GetString("data-dir"),
				Addr:                  v.GetString("addr"),
				RaftAddr:              v.GetString("raft-addr"),
				GossipAddr:            v.GetString("gossip-addr"),
				HTTPAddr:              v.GetString("http-addr"),
				Bootstrap:             v.GetBool("bootstrap"),
				Peers:                 v.GetStringSlice("peers"),
				Join:                  v.GetStringSlice("join"),
				SnapshotInterval:      v.GetDuration("snapshot-interval"),
				TrailingLogs:          v.GetUint64("trailing-logs"),
				StepConcurrency:       v.GetInt("step-concurrency"),
				MaxAttempts:           v.GetInt("max-attempts"),
				MaxFailuresPerWorker:  v.GetInt("max-failures-per-worker"),
				TaskTimeout:           v.GetDuration("task-timeout"),
				SpeculationSlowFactor: v.GetFloat64("speculation-slow-factor"),
				SpeculationMinGap:     v.GetDuration("speculation-min-gap"),
				WorkerTimeout:         v.GetDuration("worker-timeout"),
				PollTimeout:           v.GetDuration("poll-timeout"),
				SnapshotThreshold:     v.GetUint64("snapshot-threshold"),
				MaxTasksPerStep:       v.GetInt("max-tasks-per-step"),
				MinSplitSize:          minSplit,
				BlockSize:             blockSize,
				Replication:           v.GetInt("replication"),
				LeaseTimeout:          v.GetDuration("lease-timeout"),
				SafeModeThreshold:     v.GetFloat64("safemode-threshold"),
				BlockCheckInterval:    v.GetDuration("block-check-interval"),
				ReplicationStreams:    v.GetInt("replication-streams"),
				LocalityWait:          v.GetDuration("locality-wait"),
				FileSystems:           fss,
				DataRoots:             v.GetStringSlice("data-roots"),
				TLS:                   tlsID,
				GossipKey:             gossipKey,
				Logger:                log,
			}
			p, err := primary.Start(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "primary %s serving on %s\n", cfg.NodeID, p.Addr())
			if addr := p.HTTPAddr(); addr != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "status page on http://%s/\n", addr)
			}
			<-cmd.Context().Done()
			log.Info("shutting down")
			p.Stop()
			return nil
		},
	}
	f := cmd.Flags()
	f.String("node-id", d.NodeID, "unique id of this primary in the Raft group and gossip ring")
	f.String("data-dir", d.DataDir, "folder for the Raft log and snapshots")
	f.String("addr", d.Addr, "gRPC address for clients and workers")
	f.String("raft-addr", d.RaftAddr, "Raft transport address")
	f.String("gossip-addr", d.GossipAddr, "gossip (memberlist) address, TCP and UDP")
	f.String("http-addr", d.HTTPAddr, "address of the status page and Prometheus /metrics, e.g. 0.0.0.0:7700 (empty: not served)")
	f.StringSlice("data-roots", nil, "folders, hdfs:///path and s3://bucket[/prefix] prefixes steps may read and write (repeat or comma-separate); none: every path the workers can reach, with a warning")
	f.Bool("bootstrap", d.Bootstrap, "form a new Raft group from --peers if the data dir holds no Raft state")
	f.StringSlice("peers", nil, "voters of the group to bootstrap, as ID=RAFT-ADDRESS (comma-separated); empty: a group of one")
	f.StringSlice("join", nil, "gRPC addresses of primaries of a running group to join (as a non-voter, promoted once caught up) instead of bootstrapping")
	f.Int("step-concurrency", d.StepConcurrency, "how many steps run at once; later steps wait PENDING")
	f.Int("max-attempts", d.MaxAttempts, "attempts a task gets before its step fails")
	f.Int("max-failures-per-worker", d.MaxFailuresPerWorker, "failed attempts of a step on one worker that exclude the worker from the step")
	f.Duration("task-timeout", d.TaskTimeout, "an attempt with no progress for this long is killed and its task run again")
	f.Float64("speculation-slow-factor", d.SpeculationSlowFactor, "an attempt running this many times the median of its phase gets a speculative backup")
	f.Duration("speculation-min-gap", d.SpeculationMinGap, "... and only when it has run at least this much longer than the median")
	f.Duration("worker-timeout", d.WorkerTimeout, "how long a worker may miss heartbeats before it is declared down")
	f.Duration("poll-timeout", d.PollTimeout, "longest a worker's request for work waits")
	f.Uint64("snapshot-threshold", d.SnapshotThreshold, "Raft log entries between snapshots")
	f.Int("max-tasks-per-step", d.MaxTasksPerStep, "most map and reduce tasks one step may have; a step that would have more is refused at submission")
	f.String("min-split-size", humanize.IBytes(uint64(d.MinSplitSize)), "smallest --split-size a step may ask for")
	f.String("block-size", humanize.IBytes(uint64(d.BlockSize)), "HDFS block size of files created without one")
	f.Int("replication", 0, "HDFS replication of files created without one (0: EMR's rule, 1 below 4 core workers, 2 below 10, else 3)")
	f.Duration("lease-timeout", d.LeaseTimeout, "an HDFS writer that does not renew its lease for this long loses its files being written")
	f.Float64("safemode-threshold", d.SafeModeThreshold, "share of HDFS blocks that must be reported before a new leader lets HDFS change")
	f.Duration("block-check-interval", d.BlockCheckInterval, "how often the leader checks every HDFS block's replicas")
	f.Int("replication-streams", d.ReplicationStreams, "re-replications one core worker is the source of at a time")
	f.Duration("locality-wait", d.LocalityWait, "how long a map waits for a slot on a core worker holding its block before it runs elsewhere")
	f.Duration("snapshot-interval", d.SnapshotInterval, "how often Raft checks whether to take a snapshot")
	f.Uint64("trailing-logs", d.TrailingLogs, "Raft log entries kept after a snapshot, for followers that lag a little")
	addTLSFlags(f)
	addGossipKeyFlag(f)
	addS3Flags(f)
	return cmd
}
