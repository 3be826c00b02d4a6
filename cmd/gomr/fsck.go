package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/spf13/cobra"
)

// fsckSummary is what hdfs fsck counts of the blocks under a path.
type fsckSummary struct {
	Path              string  `json:"path"`
	Status            string  `json:"status"`
	Files             int64   `json:"files"`
	Dirs              int64   `json:"dirs"`
	Bytes             int64   `json:"total_size"`
	Blocks            int64   `json:"total_blocks"`
	MinimallyRepl     int64   `json:"minimally_replicated_blocks"`
	OverReplicated    int64   `json:"over_replicated_blocks"`
	UnderReplicated   int64   `json:"under_replicated_blocks"`
	MisReplicated     int64   `json:"mis_replicated_blocks"`
	Missing           int64   `json:"missing_blocks"`
	Corrupt           int64   `json:"corrupt_blocks"`
	MissingReplicas   int64   `json:"missing_replicas"`
	CoreWorkers       int32   `json:"data_nodes"`
	DefaultRepl       int32   `json:"default_replication"`
	AverageRepl       float64 `json:"average_block_replication"`
	replicas          int64
	UnderReplicatedAt []string `json:"under_replicated,omitempty"`
	CorruptAt         []string `json:"corrupt,omitempty"`
	MissingAt         []string `json:"missing,omitempty"`
}

func newHDFSFsckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fsck PATH [-files [-blocks [-locations]]]",
		Short: "Check the health of the blocks of the files under a path, as hdfs fsck",
		Long: `Check every block of every file under PATH and report healthy,
under-replicated, mis-replicated, missing and corrupt blocks in the words of
hdfs fsck. As hdfs fsck, it exits 0 when the path is HEALTHY (under-replicated
blocks are healthy: they are being copied) and 1 when it is CORRUPT (a block
has no good replica left).`,
		Args: cobra.ExactArgs(1),
		RunE: runHDFS(func(x *hdfsCmd) error {
			path, err := namespace.Clean(x.args[0])
			if err != nil {
				return fmt.Errorf("fsck: %w", err)
			}
			files, blocks, locations := x.v.GetBool("files"), x.v.GetBool("blocks"), x.v.GetBool("locations")
			sum := fsckSummary{Path: path}
			started := time.Now()
			if x.format == "text" {
				fmt.Fprintf(x.out, "FSCK started by %s for path %s at %s\n", x.c.Name(), path, started.Format(time.UnixDate))
			}
			for token := ""; ; {
				resp, err := x.c.NameNode().Fsck(x.ctx, &hdfspb.FsckRequest{Path: path, PageToken: token})
				if err != nil {
					return fmt.Errorf("fsck: %w", grpcMessage(err))
				}
				sum.CoreWorkers, sum.DefaultRepl = resp.LiveCoreWorkers, resp.DefaultReplication
				sum.Dirs += resp.Dirs
				for _, f := range resp.Files {
					sum.add(f)
					if x.format == "text" && files {
						printFsckFile(x.out, f, blocks, locations)
					}
				}
				if token = resp.NextPageToken; token == "" {
					break
				}
			}
			sum.Status = "HEALTHY"
			if sum.Missing > 0 || sum.Corrupt > 0 {
				sum.Status = "CORRUPT"
			}
			if sum.Blocks > 0 {
				sum.AverageRepl = float64(sum.replicas) / float64(sum.Blocks)
			}
			if x.format == "json" {
				if err := printJSON(x.out, sum); err != nil {
					return err
				}
			} else {
				printFsckSummary(x.out, sum, time.Since(started))
			}
			if sum.Status != "HEALTHY" {
				return exitError{code: 1}
			}
			return nil
		}),
	}
	cmd.Flags().Bool("files", false, "print every file checked")
	cmd.Flags().Bool("blocks", false, "with -files, print every block")
	cmd.Flags().Bool("locations", false, "with -blocks, print every replica's core worker")
	cmd.Flags().Bool("openforwrite", false, "accepted for compatibility (files being written are never checked)")
	addFormatFlag(cmd)
	return cmd
}

// add counts one file's blocks.
func (s *fsckSummary) add(f *hdfspb.FsckFile) {
	s.Files++
	s.Bytes += f.Status.Length
	for _, b := range f.Blocks {
		s.Blocks++
		s.replicas += int64(b.LiveReplicas)
		name := fmt.Sprintf("%s blk_%d", f.Status.Path, b.Block.Id)
		switch {
		case b.LiveReplicas == 0 && b.CorruptReplicas > 0:
			s.Corrupt++
			s.CorruptAt = append(s.CorruptAt, name)
		case b.LiveReplicas == 0:
			s.Missing++
			s.MissingAt = append(s.MissingAt, name)
		}
		if b.LiveReplicas > 0 {
			s.MinimallyRepl++
		}
		if b.LiveReplicas > 0 && b.LiveReplicas < b.Replication {
			s.UnderReplicated++
			s.UnderReplicatedAt = append(s.UnderReplicatedAt, name)
		}
		if b.LiveReplicas > b.Replication {
			s.OverReplicated++
		}
		if b.MisReplicated {
			s.MisReplicated++
		}
		if b.LiveReplicas < b.Replication {
			s.MissingReplicas += int64(b.Replication - b.LiveReplicas)
		}
	}
}

func printFsckFile(w io.Writer, f *hdfspb.FsckFile, blocks, locations bool) {
	health := "OK"
	for _, b := range f.Blocks {
		switch {
		case b.LiveReplicas == 0 && b.CorruptReplicas > 0:
			health = "CORRUPT"
		case b.LiveReplicas == 0 && health != "CORRUPT":
			health = "MISSING"
		case b.LiveReplicas < b.Replication && health == "OK":
			health = fmt.Sprintf("Under replicated blk_%d. Target Replicas is %d but found %d live replica(s).", b.Block.Id, b.Replication, b.LiveReplicas)
		}
	}
	fmt.Fprintf(w, "%s %d bytes, replicated: replication=%d, %d block(s):  %s\n", f.Status.Path, f.Status.Length, f.Status.Replication, len(f.Blocks), health)
	if !blocks {
		return
	}
	for i, b := range f.Blocks {
		line := fmt.Sprintf("%d. blk_%d len=%d Live_repl=%d", i, b.Block.Id, b.Block.Length, b.LiveReplicas)
		if b.CorruptReplicas > 0 {
			line += fmt.Sprintf(" Corrupt_repl=%d", b.CorruptReplicas)
		}
		if locations {
			var locs []string
			for _, l := range b.Locations {
				locs = append(locs, l.Worker+" "+l.Address)
			}
			line += " [" + strings.Join(locs, ", ") + "]"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
}

func percent(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func printFsckSummary(w io.Writer, s fsckSummary, took time.Duration) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Status: %s\n", s.Status)
	fmt.Fprintf(w, " Number of data-nodes:\t%d\n", s.CoreWorkers)
	fmt.Fprintf(w, " Number of racks:\t\t1\n")
	fmt.Fprintf(w, " Total dirs:\t\t\t%d\n", s.Dirs)
	fmt.Fprintf(w, " Total symlinks:\t\t0\n")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Replicated Blocks:")
	fmt.Fprintf(w, " Total size:\t%d B\n", s.Bytes)
	fmt.Fprintf(w, " Total files:\t%d\n", s.Files)
	avg := int64(0)
	if s.Blocks > 0 {
		avg = s.Bytes / s.Blocks
	}
	fmt.Fprintf(w, " Total blocks (validated):\t%d (avg. block size %d B)\n", s.Blocks, avg)
	for _, m := range s.CorruptAt {
		fmt.Fprintf(w, "  CORRUPT BLOCK: %s\n", m)
	}
	for _, m := range s.MissingAt {
		fmt.Fprintf(w, "  MISSING BLOCK: %s\n", m)
	}
	fmt.Fprintf(w, " Minimally replicated blocks:\t%d (%.1f %%)\n", s.MinimallyRepl, percent(s.MinimallyRepl, s.Blocks))
	fmt.Fprintf(w, " Over-replicated blocks:\t%d (%.1f %%)\n", s.OverReplicated, percent(s.OverReplicated, s.Blocks))
	fmt.Fprintf(w, " Under-replicated blocks:\t%d (%.1f %%)\n", s.UnderReplicated, percent(s.UnderReplicated, s.Blocks))
	fmt.Fprintf(w, " Mis-replicated blocks:\t\t%d (%.1f %%)\n", s.MisReplicated, percent(s.MisReplicated, s.Blocks))
	fmt.Fprintf(w, " Default replication factor:\t%d\n", s.DefaultRepl)
	fmt.Fprintf(w, " Average block replication:\t%.1f\n", s.AverageRepl)
	fmt.Fprintf(w, " Missing blocks:\t\t%d\n", s.Missing)
	fmt.Fprintf(w, " Corrupt blocks:\t\t%d\n", s.Corrupt)
	fmt.Fprintf(w, " Missing replicas:\t\t%d (%.1f %%)\n", s.MissingReplicas, percent(s.MissingReplicas, s.replicas+s.MissingReplicas))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "FSCK ended at %s in %d milliseconds\n", time.Now().Format(time.UnixDate), took.Milliseconds())
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\nThe filesystem under path '%s' is %s\n", s.Path, s.Status)
}
