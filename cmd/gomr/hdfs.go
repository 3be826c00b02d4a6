package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gomr/gomr/hdfs/client"
	"github.com/gomr/gomr/hdfs/hdfspb"
	"github.com/gomr/gomr/hdfs/namespace"
	"github.com/gomr/gomr/mapreduce"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// hadoopLongFlags are the hdfs dfs flags written with one dash and several
// letters; they are read as --NAME.
var hadoopLongFlags = []string{"skipTrash", "files", "blocks", "locations", "openforwrite"}

// hadoopArgs rewrites -NAME to --NAME for the given multi-letter flags,
// so that a Hadoop command line pastes in unchanged.
func hadoopArgs(args []string, long []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if name, ok := strings.CutPrefix(a, "-"); ok && !strings.HasPrefix(name, "-") {
			base, _, _ := strings.Cut(name, "=")
			if slices.Contains(long, base) {
				out[i] = "-" + a
			}
		}
	}
	return out
}

// grpcMessage returns a call's error as the primaries worded it.
func grpcMessage(err error) error {
	if st, ok := status.FromError(err); ok {
		return errors.New(st.Message())
	}
	return err
}

// hdfsCmd is what an hdfs subcommand has once it is connected.
type hdfsCmd struct {
	cmd    *cobra.Command
	args   []string
	v      *viper.Viper
	c      *client.Client
	format string
	out    io.Writer
	ctx    context.Context
}

// runHDFS makes the RunE of an hdfs subcommand.
func runHDFS(fn func(x *hdfsCmd) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		v, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		x := &hdfsCmd{cmd: cmd, args: args, v: v, format: "text", out: cmd.OutOrStdout(), ctx: cmd.Context()}
		if cmd.Flags().Lookup("format") != nil {
			if x.format, err = printFormat(cmd, v); err != nil {
				return err
			}
		}
		cc, err := dialCluster(cmd.Context(), v)
		if err != nil {
			return err
		}
		defer cc.Close()
		var closeHC func()
		x.c, closeHC = newHDFSClient(cc)
		defer closeHC()
		if err := fn(x); err != nil {
			return cc.explain(err)
		}
		return nil
	}
}

// newHDFSClient returns an HDFS client of the cluster, owned by the user
// running the command; the function closes its connections to core
// workers.
func newHDFSClient(cc *clusterClient) (*client.Client, func()) {
	peers := pb.NewConnCache(append(cc.dialOptions(), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))...)
	owner := "gomr"
	if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	return client.New(client.Config{
		Primaries: cc.cc,
		Dial:      func(addr string) (grpc.ClientConnInterface, error) { return peers.Get(addr) },
		Owner:     owner,
	}), peers.Close
}

func newHDFSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hdfs",
		Short: "Work with the cluster's HDFS (the commands of hdfs dfs and hdfs fsck)",
		Long: `Work with the files of the cluster's HDFS, stored in blocks on its core
workers, as "hdfs dfs" does. Paths are absolute HDFS paths (/data/x) or
hdfs:///data/x; Hadoop's one-dash flags (-f, -p, -R, -h, -skipTrash, -files
...) are accepted as they are.`,
	}
	cmd.AddCommand(newHDFSPutCmd(), newHDFSGetCmd(), newHDFSCatCmd(), newHDFSLsCmd(), newHDFSMkdirCmd(), newHDFSRmCmd(),
		newHDFSMvCmd(), newHDFSCpCmd(), newHDFSDuCmd(), newHDFSDfCmd(), newHDFSStatCmd(), newHDFSTestCmd(),
		newHDFSSetrepCmd(), newHDFSFsckCmd(), newHDFSSafemodeCmd())
	for _, sub := range cmd.Commands() {
		addClusterFlag(sub)
	}
	return cmd
}

// isDir reports whether an HDFS path is an existing folder.
func (x *hdfsCmd) isDir(p string) (bool, error) {
	s, err := x.c.Stat(x.ctx, p)
	if errors.Is(err, mapreduce.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.IsDir, nil
}

// progress returns a writer that shows a progress bar on a terminal for a
// large file, or nil.
func progress(size int64, name string) *progressbar.ProgressBar {
	if size < 16<<20 || !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return progressbar.DefaultBytes(size, name)
}

func newHDFSPutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "put [-f] [-p] LOCAL... DST",
		Short: "Copy local files (or - for stdin) into HDFS",
		Args:  cobra.MinimumNArgs(2),
		RunE: runHDFS(func(x *hdfsCmd) error {
			srcs, dst := x.args[:len(x.args)-1], x.args[len(x.args)-1]
			dstDir, err := x.isDir(dst)
			if err != nil {
				return err
			}
			if len(srcs) > 1 && !dstDir {
				return fmt.Errorf("put: %s: is not a folder (copying %d files needs one)", dst, len(srcs))
			}
			for _, src := range srcs {
				target := dst
				if dstDir {
					target = namespace.Join(mustClean(dst), filepath.Base(src))
				}
				if err := x.put(src, target); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolP("force", "f", false, "overwrite a file that exists")
	cmd.Flags().BoolP("preserve", "p", false, "keep the local file's modification time")
	cmd.Flags().Int32("replication", 0, "replication factor (0: the cluster's default)")
	cmd.Flags().String("block-size", "", "block size (the cluster's default, 128 MiB, if not given)")
	return cmd
}

func mustClean(p string) string {
	c, err := namespace.Clean(p)
	if err != nil {
		return p
	}
	return c
}

func (x *hdfsCmd) put(src, dst string) error {
	o := client.CreateOptions{Overwrite: x.v.GetBool("force"), Replication: x.v.GetInt32("replication")}
	if s := x.v.GetString("block-size"); s != "" {
		n, err := parseSize(s, 1)
		if err != nil {
			return fmt.Errorf("put: --block-size: %w", err)
		}
		o.BlockSize = n
	}
	if src != "-" && x.v.GetBool("preserve") {
		info, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("put: %w", err)
		}
		o.MTime = info.ModTime().UnixNano()
	}
	if err := putFile(x.ctx, x.c, src, dst, o); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	return nil
}

// putFile copies a local file (or stdin, for "-") into HDFS, showing a
// progress bar on a terminal for a large one.
func putFile(ctx context.Context, c *client.Client, src, dst string, o client.CreateOptions) error {
	var in io.Reader = os.Stdin
	var size int64
	if src != "-" {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if info.IsDir() {
			return fmt.Errorf("%s: is a folder (copy its files)", src)
		}
		in, size = f, info.Size()
	}
	w, err := c.Create(ctx, dst, o)
	if err != nil {
		return err
	}
	var sink io.Writer = w
	if bar := progress(size, "put "+filepath.Base(src)); bar != nil {
		sink = io.MultiWriter(w, bar)
	}
	if _, err := copyLarge(sink, in); err != nil {
		w.Abort()
		return fmt.Errorf("%s: %w", src, err)
	}
	return w.Close()
}

func newHDFSGetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get [-f] SRC... LOCALDST",
		Short: "Copy HDFS files to the local disk",
		Args:  cobra.MinimumNArgs(2),
		RunE: runHDFS(func(x *hdfsCmd) error {
			srcs, dst := x.args[:len(x.args)-1], x.args[len(x.args)-1]
			info, err := os.Stat(dst)
			dstDir := err == nil && info.IsDir()
			if len(srcs) > 1 && !dstDir {
				return fmt.Errorf("get: %s: is not a folder (copying %d files needs one)", dst, len(srcs))
			}
			for _, src := range srcs {
				target := dst
				if dstDir {
					target = filepath.Join(dst, namespace.Base(mustClean(src)))
				}
				if err := x.get(src, target); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolP("force", "f", false, "overwrite a local file that exists")
	return cmd
}

func (x *hdfsCmd) get(src, dst string) error {
	f, err := x.c.Open(x.ctx, src)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if x.v.GetBool("force") {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	out, err := os.OpenFile(dst, flags, 0o644)
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	var sink io.Writer = out
	if bar := progress(f.Size(), "get "+namespace.Base(mustClean(src))); bar != nil {
		sink = io.MultiWriter(out, bar)
	}
	if _, err := copyLarge(sink, io.NewSectionReader(f, 0, f.Size())); err != nil {
		out.Close()
		os.Remove(dst)
		return fmt.Errorf("get %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("get: %w", err)
	}
	return nil
}

// copyBufferBytes is what copyLarge moves at a time: each read of an
// HDFS file is a stream from a core worker, so reads are made large.
const copyBufferBytes = 4 << 20

// copyLarge copies src to dst in reads of copyBufferBytes (io.Copy would
// hand a file's ReadFrom 32 KiB reads).
func copyLarge(dst io.Writer, src io.Reader) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, copyBufferBytes))
}

func newHDFSCatCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cat PATH...",
		Short: "Print HDFS files",
		Args:  cobra.MinimumNArgs(1),
		RunE: runHDFS(func(x *hdfsCmd) error {
			for _, p := range x.args {
				f, err := x.c.Open(x.ctx, p)
				if err != nil {
					return fmt.Errorf("cat: %w", err)
				}
				if _, err := copyLarge(x.out, io.NewSectionReader(f, 0, f.Size())); err != nil {
					return fmt.Errorf("cat %s: %w", p, err)
				}
			}
			return nil
		}),
	}
}

// jsonStatus is a file or folder as --format json prints it.
type jsonStatus struct {
	Path        string     `json:"path"`
	Type        string     `json:"type"`
	Length      int64      `json:"length"`
	Replication int32      `json:"replication,omitempty"`
	BlockSize   int64      `json:"block_size,omitempty"`
	Blocks      int32      `json:"blocks,omitempty"`
	Owner       string     `json:"owner"`
	Modified    *time.Time `json:"modified,omitempty"`
}

func statusJSON(s *hdfspb.FileStatus) jsonStatus {
	j := jsonStatus{Path: s.Path, Type: "file", Length: s.Length, Replication: s.Replication, BlockSize: s.BlockSize, Blocks: s.Blocks, Owner: s.Owner, Modified: jsonTime(s.MtimeUnixNano)}
	if s.IsDir {
		j.Type = "directory"
	}
	return j
}

// lsLine formats an entry as hdfs dfs -ls does.
func lsLine(s *hdfspb.FileStatus, human bool) string {
	perm, rep := "-rw-r--r--", fmt.Sprint(s.Replication)
	if s.IsDir {
		perm, rep = "drwxr-xr-x", "-"
	}
	size := fmt.Sprint(s.Length)
	if human {
		size = humanize.IBytes(uint64(s.Length))
	}
	return fmt.Sprintf("%s %3s %-8s %-10s %10s %s %s", perm, rep, s.Owner, "supergroup", size, time.Unix(0, s.MtimeUnixNano).Local().Format("2006-01-02 15:04"), s.Path)
}

func newHDFSLsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ls [-R] [-h] [-d] [PATH...]",
		Short: "List files and folders",
		RunE: runHDFS(func(x *hdfsCmd) error {
			paths := x.args
			if len(paths) == 0 {
				paths = []string{"/"}
			}
			var all []*hdfspb.FileStatus
			for _, p := range paths {
				s, err := x.c.Stat(x.ctx, p)
				if err != nil {
					return fmt.Errorf("ls: %w", err)
				}
				var entries []*hdfspb.FileStatus
				switch {
				case !s.IsDir || x.v.GetBool("directory"):
					entries = []*hdfspb.FileStatus{s}
				case x.v.GetBool("recursive"):
					if entries, err = x.walk(s.Path); err != nil {
						return fmt.Errorf("ls: %w", err)
					}
				default:
					if entries, err = x.c.List(x.ctx, s.Path); err != nil {
						return fmt.Errorf("ls: %w", err)
					}
					if x.format == "text" {
						fmt.Fprintf(x.out, "Found %d items\n", len(entries))
					}
				}
				all = append(all, entries...)
				if x.format == "text" {
					for _, e := range entries {
						fmt.Fprintln(x.out, lsLine(e, x.v.GetBool("human-readable")))
					}
				}
			}
			if x.format == "json" {
				list := []jsonStatus{}
				for _, s := range all {
					list = append(list, statusJSON(s))
				}
				return printJSON(x.out, list)
			}
			return nil
		}),
	}
	cmd.Flags().BoolP("recursive", "R", false, "list folders' contents recursively")
	cmd.Flags().BoolP("human-readable", "h", false, "sizes as 1.5 KiB, 2.0 MiB")
	cmd.Flags().BoolP("directory", "d", false, "list folders as plain entries")
	cmd.Flags().Bool("help", false, "help for ls")
	addFormatFlag(cmd)
	return cmd
}

// walk returns every entry under a folder, depth first, by path.
func (x *hdfsCmd) walk(dir string) ([]*hdfspb.FileStatus, error) {
	entries, err := x.c.List(x.ctx, dir)
	if err != nil {
		return nil, err
	}
	var out []*hdfspb.FileStatus
	for _, e := range entries {
		out = append(out, e)
		if e.IsDir {
			sub, err := x.walk(e.Path)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

func newHDFSMkdirCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mkdir [-p] PATH...",
		Short: "Make folders",
		Args:  cobra.MinimumNArgs(1),
		RunE: runHDFS(func(x *hdfsCmd) error {
			for _, p := range x.args {
				if err := x.c.Mkdirs(x.ctx, p, x.v.GetBool("parents")); err != nil {
					return fmt.Errorf("mkdir: %w", err)
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolP("parents", "p", false, "make parent folders as needed; an existing folder is no error")
	return cmd
}

func newHDFSRmCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rm [-r] [-f] [-skipTrash] PATH...",
		Short: "Remove files and folders",
		Args:  cobra.MinimumNArgs(1),
		RunE: runHDFS(func(x *hdfsCmd) error {
			for _, p := range x.args {
				ok, err := x.c.Delete(x.ctx, p, x.v.GetBool("recursive"))
				if err != nil {
					return fmt.Errorf("rm: %w", err)
				}
				if !ok {
					if x.v.GetBool("force") {
						continue
					}
					return fmt.Errorf("rm: %s: no such file or directory", p)
				}
				fmt.Fprintf(x.out, "Deleted %s\n", mustClean(p))
			}
			return nil
		}),
	}
	cmd.Flags().BoolP("recursive", "r", false, "remove folders and everything in them")
	cmd.Flags().BoolP("R", "R", false, "same as -r")
	cmd.Flags().BoolP("force", "f", false, "a missing path is no error")
	cmd.Flags().Bool("skipTrash", false, "delete at once (gomr keeps no trash, so this is always so)")
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if r, _ := cmd.Flags().GetBool("R"); r {
			cmd.Flags().Set("recursive", "true")
		}
	}
	return cmd
}

func newHDFSMvCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "mv SRC... DST",
		Short: "Move files and folders (into DST when it is a folder)",
		Args:  cobra.MinimumNArgs(2),
		RunE: runHDFS(func(x *hdfsCmd) error {
			srcs, dst := x.args[:len(x.args)-1], x.args[len(x.args)-1]
			if len(srcs) > 1 {
				if ok, err := x.isDir(dst); err != nil || !ok {
					return fmt.Errorf("mv: %s: is not a folder (moving %d paths needs one)", dst, len(srcs))
				}
			}
			for _, src := range srcs {
				if err := x.c.Rename(x.ctx, src, dst); err != nil {
					return fmt.Errorf("mv: %w", err)
				}
			}
			return nil
		}),
	}
}

func newHDFSCpCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cp [-f] SRC... DST",
		Short: "Copy HDFS files",
		Args:  cobra.MinimumNArgs(2),
		RunE: runHDFS(func(x *hdfsCmd) error {
			srcs, dst := x.args[:len(x.args)-1], x.args[len(x.args)-1]
			dstDir, err := x.isDir(dst)
			if err != nil {
				return err
			}
			if len(srcs) > 1 && !dstDir {
				return fmt.Errorf("cp: %s: is not a folder (copying %d files needs one)", dst, len(srcs))
			}
			for _, src := range srcs {
				target := dst
				if dstDir {
					target = namespace.Join(mustClean(dst), namespace.Base(mustClean(src)))
				}
				f, err := x.c.Open(x.ctx, src)
				if err != nil {
					return fmt.Errorf("cp: %w", err)
				}
				w, err := x.c.Create(x.ctx, target, client.CreateOptions{Overwrite: x.v.GetBool("force")})
				if err != nil {
					return fmt.Errorf("cp: %w", err)
				}
				if _, err := copyLarge(w, io.NewSectionReader(f, 0, f.Size())); err != nil {
					w.Abort()
					return fmt.Errorf("cp %s: %w", src, err)
				}
				if err := w.Close(); err != nil {
					return fmt.Errorf("cp: %w", err)
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolP("force", "f", false, "overwrite a file that exists")
	return cmd
}

func newHDFSDuCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "du [-s] [-h] PATH...",
		Short: "Show the bytes of files and folders (and the space their replicas take)",
		Args:  cobra.MinimumNArgs(1),
		RunE: runHDFS(func(x *hdfsCmd) error {
			type row struct {
				Path     string `json:"path"`
				Length   int64  `json:"length"`
				Consumed int64  `json:"space_consumed"`
				Files    int64  `json:"files"`
				Dirs     int64  `json:"dirs"`
			}
			var rows []row
			for _, p := range x.args {
				s, err := x.c.Stat(x.ctx, p)
				if err != nil {
					return fmt.Errorf("du: %w", grpcMessage(err))
				}
				targets := []*hdfspb.FileStatus{s}
				if s.IsDir && !x.v.GetBool("summary") {
					if targets, err = x.c.List(x.ctx, s.Path); err != nil {
						return fmt.Errorf("du: %w", grpcMessage(err))
					}
				}
				for _, t := range targets {
					cs, err := x.c.NameNode().ContentSummary(x.ctx, &hdfspb.ContentSummaryRequest{Path: t.Path})
					if err != nil {
						return fmt.Errorf("du: %w", grpcMessage(err))
					}
					rows = append(rows, row{t.Path, cs.Length, cs.SpaceConsumed, cs.Files, cs.Dirs})
				}
			}
			if x.format == "json" {
				return printJSON(x.out, rows)
			}
			size := func(n int64) string {
				if x.v.GetBool("human-readable") {
					return humanize.IBytes(uint64(n))
				}
				return fmt.Sprint(n)
			}
			tw := tabwriter.NewWriter(x.out, 0, 4, 2, ' ', 0)
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", size(r.Length), size(r.Consumed), r.Path)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolP("summary", "s", false, "one total per path, not one line per entry")
	cmd.Flags().BoolP("human-readable", "h", false, "sizes as 1.5 KiB, 2.0 MiB")
	cmd.Flags().Bool("help", false, "help for du")
	addFormatFlag(cmd)
	return cmd
}

func newHDFSDfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "df [-h]",
		Short: "Show the file system's capacity and use",
		Args:  cobra.NoArgs,
		RunE: runHDFS(func(x *hdfsCmd) error {
			st, err := x.c.NameNode().Stats(x.ctx, &hdfspb.StatsRequest{})
			if err != nil {
				return fmt.Errorf("df: %w", grpcMessage(err))
			}
			if x.format == "json" {
				return printJSON(x.out, map[string]any{"filesystem": "hdfs:///", "size": st.Capacity, "used": st.Used, "available": st.Remaining,
					"live_core_workers": st.LiveCoreWorkers, "blocks": st.Blocks, "under_replicated": st.UnderReplicated, "missing": st.Missing, "corrupt": st.Corrupt, "safe_mode": st.SafeMode})
			}
			size := func(n int64) string {
				if x.v.GetBool("human-readable") {
					return humanize.IBytes(uint64(n))
				}
				return fmt.Sprint(n)
			}
			use := 0.0
			if st.Capacity > 0 {
				use = 100 * float64(st.Used) / float64(st.Capacity)
			}
			tw := tabwriter.NewWriter(x.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "Filesystem\tSize\tUsed\tAvailable\tUse%")
			fmt.Fprintf(tw, "hdfs:///\t%s\t%s\t%s\t%.0f%%\n", size(st.Capacity), size(st.Used), size(st.Remaining), use)
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolP("human-readable", "h", false, "sizes as 1.5 KiB, 2.0 MiB")
	cmd.Flags().Bool("help", false, "help for df")
	addFormatFlag(cmd)
	return cmd
}

func newHDFSStatCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stat [FORMAT] PATH...",
		Short: "Show a path's status (FORMAT as hdfs dfs -stat: %b %F %n %o %r %u %y %Y)",
		Args:  cobra.MinimumNArgs(1),
		RunE: runHDFS(func(x *hdfsCmd) error {
			format, paths := "%y", x.args
			if len(x.args) > 1 && strings.Contains(x.args[0], "%") {
				format, paths = x.args[0], x.args[1:]
			}
			var list []jsonStatus
			for _, p := range paths {
				s, err := x.c.Stat(x.ctx, p)
				if err != nil {
					return fmt.Errorf("stat: %w", err)
				}
				if x.format == "json" {
					list = append(list, statusJSON(s))
					continue
				}
				fmt.Fprintln(x.out, statLine(format, s))
			}
			if x.format == "json" {
				return printJSON(x.out, list)
			}
			return nil
		}),
	}
	addFormatFlag(cmd)
	return cmd
}

// statLine fills a stat format: %b length, %F type, %n name, %o block
// size, %r replication, %u owner, %y modification time, %Y the same in
// milliseconds.
func statLine(format string, s *hdfspb.FileStatus) string {
	typ := "regular file"
	if s.IsDir {
		typ = "directory"
	}
	mt := time.Unix(0, s.MtimeUnixNano).UTC()
	r := strings.NewReplacer("%b", fmt.Sprint(s.Length), "%F", typ, "%n", namespace.Base(s.Path), "%o", fmt.Sprint(s.BlockSize),
		"%r", fmt.Sprint(s.Replication), "%u", s.Owner, "%g", "supergroup", "%y", mt.Format("2006-01-02 15:04:05"), "%Y", fmt.Sprint(mt.UnixMilli()))
	return r.Replace(format)
}

func newHDFSTestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test -e|-d|-f|-s|-z PATH",
		Short: "Exit 0 if the path exists (-e), is a folder (-d), a file (-f), is not empty (-s) or is empty (-z)",
		Args:  cobra.ExactArgs(1),
		RunE: runHDFS(func(x *hdfsCmd) error {
			s, err := x.c.Stat(x.ctx, x.args[0])
			if err != nil && !errors.Is(err, mapreduce.ErrNotExist) {
				return err
			}
			ok := false
			switch {
			case x.v.GetBool("e"):
				ok = err == nil
			case x.v.GetBool("d"):
				ok = err == nil && s.IsDir
			case x.v.GetBool("f"):
				ok = err == nil && !s.IsDir
			case x.v.GetBool("s"):
				ok = err == nil && s.Length > 0
			case x.v.GetBool("z"):
				ok = err == nil && s.Length == 0
			default:
				return fmt.Errorf("test: give one of -e, -d, -f, -s, -z")
			}
			if !ok {
				return exitError{code: 1}
			}
			return nil
		}),
	}
	for _, f := range []struct{ name, usage string }{{"e", "the path exists"}, {"d", "it is a folder"}, {"f", "it is a file"}, {"s", "it is not empty"}, {"z", "it is empty"}} {
		cmd.Flags().BoolP(f.name, f.name, false, f.usage)
	}
	return cmd
}

func newHDFSSetrepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setrep [-w] N PATH...",
		Short: "Set the replication factor of files (every file under a folder)",
		Args:  cobra.MinimumNArgs(2),
		RunE: runHDFS(func(x *hdfsCmd) error {
			var n int32
			if _, err := fmt.Sscan(x.args[0], &n); err != nil || n < 1 {
				return fmt.Errorf("setrep: replication %q: want a number of replicas, at least 1", x.args[0])
			}
			for _, p := range x.args[1:] {
				clean, err := namespace.Clean(p)
				if err != nil {
					return fmt.Errorf("setrep: %w", grpcMessage(err))
				}
				if _, err := x.c.NameNode().SetReplication(x.ctx, &hdfspb.SetReplicationRequest{Path: clean, Replication: n}); err != nil {
					return fmt.Errorf("setrep: %w", grpcMessage(err))
				}
				fmt.Fprintf(x.out, "Replication %d set: %s\n", n, clean)
				if x.v.GetBool("wait") {
					fmt.Fprintf(x.out, "Waiting for %s ...", clean)
					if err := x.waitReplicated(clean, n); err != nil {
						return err
					}
					fmt.Fprintln(x.out, " done")
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolP("wait", "w", false, "wait until every block has that many replicas")
	return cmd
}

// waitReplicated waits until every block under a path has n live replicas.
func (x *hdfsCmd) waitReplicated(p string, n int32) error {
	for {
		ok := true
		for token := ""; ; {
			resp, err := x.c.NameNode().Fsck(x.ctx, &hdfspb.FsckRequest{Path: p, PageToken: token})
			if err != nil {
				return fmt.Errorf("setrep -w: %w", grpcMessage(err))
			}
			for _, f := range resp.Files {
				for _, b := range f.Blocks {
					ok = ok && b.LiveReplicas == n
				}
			}
			if token = resp.NextPageToken; token == "" {
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-x.ctx.Done():
			return x.ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func newHDFSSafemodeCmd() *cobra.Command {
	return &cobra.Command{
		Use:       "safemode get|enter|leave|wait",
		Short:     "Show, enter or leave safe mode (the namespace is read-only while blocks are reported), or wait for it to end",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"get", "enter", "leave", "wait"},
		RunE: runHDFS(func(x *hdfsCmd) error {
			action := map[string]hdfspb.SafeModeAction{"get": hdfspb.SafeModeAction_SAFEMODE_GET, "wait": hdfspb.SafeModeAction_SAFEMODE_GET,
				"enter": hdfspb.SafeModeAction_SAFEMODE_ENTER, "leave": hdfspb.SafeModeAction_SAFEMODE_LEAVE}
			a, ok := action[x.args[0]]
			if !ok {
				return fmt.Errorf("safemode: %q: want get, enter, leave or wait", x.args[0])
			}
			for {
				resp, err := x.c.NameNode().SafeMode(x.ctx, &hdfspb.SafeModeRequest{Action: a})
				if err != nil {
					return fmt.Errorf("safemode: %w", grpcMessage(err))
				}
				if x.args[0] != "wait" || !resp.On {
					fmt.Fprintf(x.out, "Safe mode is %s\n", map[bool]string{true: "ON", false: "OFF"}[resp.On])
					if resp.On && resp.Reason != "" {
						fmt.Fprintln(x.out, resp.Reason)
					}
					return nil
				}
				select {
				case <-x.ctx.Done():
					return x.ctx.Err()
				case <-time.After(200 * time.Millisecond):
				}
			}
		}),
	}
}
