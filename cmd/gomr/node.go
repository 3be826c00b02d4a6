package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/gomr/gomr/primary/state"
	"github.com/spf13/cobra"
)

func newNodeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Inspect the cluster's primaries and workers",
	}
	cmd.AddCommand(newNodeListCmd(), newNodeRemovePrimaryCmd(), newNodeDrainCmd(), newNodeDecommissionCmd())
	return cmd
}

func newNodeDrainCmd() *cobra.Command {
	return newActionCmd("drain WORKER-ID", "Let a worker finish its attempts and give it no new ones (before removing it, as an EMR resize does)",
		func(ctx context.Context, c *clusterClient, id string) (string, error) {
			_, err := c.DrainWorker(ctx, &pb.DrainWorkerRequest{Id: id})
			return "worker " + id + " DRAINING", err
		})
}

func newNodeDecommissionCmd() *cobra.Command {
	return newActionCmd("decommission WORKER-ID", "Copy a core worker's HDFS blocks to the others, then let it leave (gomr node list shows the progress)",
		func(ctx context.Context, c *clusterClient, id string) (string, error) {
			_, err := c.DecommissionWorker(ctx, &pb.DecommissionWorkerRequest{Id: id})
			return "worker " + id + " DECOMMISSIONING", err
		})
}

func newNodeRemovePrimaryCmd() *cobra.Command {
	return newActionCmd("remove-primary ID", "Take a primary out of the Raft group (then stop its process)",
		func(ctx context.Context, c *clusterClient, id string) (string, error) {
			_, err := c.RemovePrimary(ctx, &pb.RemovePrimaryRequest{Id: id})
			return "primary " + id + " removed from the raft group", err
		})
}

func newNodeListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every primary (Raft state, term, commit and applied index) and every worker",
		Args:  cobra.NoArgs,
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := x.c.callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.ListNodes(ctx, &pb.ListNodesRequest{})
			if err != nil {
				return x.c.explain(err)
			}
			out := x.cmd.OutOrStdout()
			if x.format == "json" {
				return printJSON(out, nodesJSON(resp))
			}
			if resp.Terminated != "" {
				fmt.Fprintf(out, "cluster TERMINATED: %s; it takes no more steps\n\n", resp.Terminated)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PRIMARY\tADDRESS\tRAFT STATE\tVOTER\tTERM\tCOMMIT\tAPPLIED\tSNAPSHOT\tERROR")
			for _, p := range resp.Primaries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\t%d\t%d\t%d\t%s\n", p.Id, p.Address, p.RaftState, p.Voter, p.Term, p.CommitIndex, p.AppliedIndex, p.LastSnapshotIndex, oneLine(p.Error))
			}
			fmt.Fprintln(tw)
			fmt.Fprintln(tw, "WORKER\tROLE\tADDRESS\tSTATE\tSLOTS\tRUNNING\tHDFS USED\tHDFS FREE\tBLOCKS\tREGISTERED")
			for _, w := range resp.Workers {
				used, free, blocks := "-", "-", "-"
				if w.Role.Value() == state.RoleCore && w.HdfsCapacity > 0 {
					used, free, blocks = humanize.IBytes(uint64(w.HdfsUsed)), humanize.IBytes(uint64(w.HdfsRemaining)), fmt.Sprint(w.HdfsBlocks)
				}
				st := string(w.State.Value())
				if w.State.Value() == state.WorkerDecommissioning {
					st += fmt.Sprintf(" (%d blocks to copy)", w.DecommissionLeft)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", w.Id, w.Role.Value(), w.Address, st, w.Slots, w.Running,
					used, free, blocks, time.Unix(0, w.RegisteredUnixNano).Local().Format(time.DateTime))
			}
			return tw.Flush()
		}),
	}
	addClusterFlag(cmd)
	addFormatFlag(cmd)
	return cmd
}
