package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version describes this build: the module version and, when built from
// a git checkout, the commit (and whether the tree had changes), all read
// from the build information Go embeds in the binary.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with local changes"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (commit %s, %s%s)", rev[:min(12, len(rev))], at, dirty)
	}
	return v + " " + info.GoVersion
}

// newRootCmd builds the command tree. job is the value of --job on the
// command line, whose options become flags of the commands that run jobs.
func newRootCmd(job string) *cobra.Command {
	root := &cobra.Command{
		Use:   "gomr",
		Short: "gomr is a distributed MapReduce cluster",
		Long: `gomr runs MapReduce steps on a cluster of Raft-replicated primaries,
core workers and task workers, in the manner of Amazon EMR on Hadoop.

Start a cluster on this machine with "gomr local", then submit steps with
"gomr step add". Or run one step end to end with "gomr run".`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.PersistentFlags().String("config", "", "YAML config file; its keys are the long flag names (GOMR_<FLAG> environment variables override it, flags override both)")
	root.PersistentFlags().String("log-level", "info", "log level of node logs: debug, info, warn or error")
	root.AddCommand(
		newPrimaryCmd(),
		newWorkerCmd(),
		newLocalCmd(),
		newRunCmd(job),
		newStepCmd(job),
		newNodeCmd(),
		newHDFSCmd(),
		newJobsCmd(),
		newBenchCmd(job),
		newCertCmd(),
		newTokenCmd(),
	)
	return root
}

// newLogger makes the logger of a node process.
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
