package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/spf13/cobra"
)

func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Inspect the cluster's primaries and workers",
	}
	cmd.AddCommand(newNodeListCmd(), newNodeRemovePrimaryCmd(), newNodeDrainCmd())
	return cmd
}

func newNodeDrainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drain WORKER-ID",
		Short: "Let a worker finish its attempts and give it no new ones (before removing it, as an EMR resize does)",
		Args:  cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := callCtx(x.cmd.Context())
			defer cancel()
			if _, err := x.c.DrainWorker(ctx, &pb.DrainWorkerRequest{Id: x.args[0]}, waitReady); err != nil {
				return x.c.explain(err)
			}
			fmt.Fprintf(x.cmd.OutOrStdout(), "worker %s DRAINING\n", x.args[0])
			return nil
		}),
	}
	addClusterFlag(cmd)
	return cmd
}

func newNodeRemovePrimaryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove-primary ID",
		Short: "Take a primary out of the Raft group (then stop its process)",
		Args:  cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := callCtx(x.cmd.Context())
			defer cancel()
			if _, err := x.c.RemovePrimary(ctx, &pb.RemovePrimaryRequest{Id: x.args[0]}, waitReady); err != nil {
				return x.c.explain(err)
			}
			fmt.Fprintf(x.cmd.OutOrStdout(), "primary %s removed from the raft group\n", x.args[0])
			return nil
		}),
	}
	addClusterFlag(cmd)
	return cmd
}

func newNodeListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every primary (Raft state, term, commit and applied index) and every worker",
		Args:  cobra.NoArgs,
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.ListNodes(ctx, &pb.ListNodesRequest{}, waitReady)
			if err != nil {
				return x.c.explain(err)
			}
			out := x.cmd.OutOrStdout()
			if x.format == "json" {
				return printJSON(out, resp)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PRIMARY\tADDRESS\tRAFT STATE\tVOTER\tTERM\tCOMMIT\tAPPLIED\tSNAPSHOT\tERROR")
			for _, p := range resp.Primaries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\t%d\t%d\t%d\t%s\n", p.Id, p.Address, p.RaftState, p.Voter, p.Term, p.CommitIndex, p.AppliedIndex, p.LastSnapshotIndex, oneLine(p.Error))
			}
			fmt.Fprintln(tw)
			fmt.Fprintln(tw, "WORKER\tROLE\tADDRESS\tSTATE\tSLOTS\tRUNNING\tREGISTERED")
			for _, w := range resp.Workers {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", w.Id, w.Role, w.Address, w.State, w.Slots, w.Running,
					time.Unix(0, w.RegisteredUnixNano).Local().Format(time.DateTime))
			}
			return tw.Flush()
		}),
	}
	addClusterFlag(cmd)
	addOutputFlag(cmd)
	return cmd
}
