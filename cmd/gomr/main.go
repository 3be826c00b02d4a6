// Command gomr is the one binary of a gomr cluster: it runs primaries,
// workers and embedded local clusters, and it is the client that submits
// and watches steps.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		var exit exitError
		if errors.As(err, &exit) {
			if exit.msg != "" {
				fmt.Fprintln(os.Stderr, "gomr:", exit.msg)
			}
			os.Exit(exit.code)
		}
		fmt.Fprintln(os.Stderr, "gomr:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a given status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

// run executes the command line args.
func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "hdfs" {
		args = hadoopArgs(args, hadoopLongFlags)
	}
	// A Hadoop Streaming command line pastes into step add and run.
	if n := stepCommandWords(args); n > 0 {
		rest, warnings, err := stepArgs(args[n:])
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(os.Stderr, "gomr: warning:", w)
		}
		args = append(slices.Clone(args[:n]), rest...)
	}
	root := newRootCmd(jobFromArgs(args))
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// stepCommandWords returns how many words name a command that submits a
// step (2 for "step add", 1 for "run"), or 0.
func stepCommandWords(args []string) int {
	switch {
	case len(args) >= 2 && args[0] == "step" && args[1] == "add":
		return 2
	case len(args) >= 1 && args[0] == "run":
		return 1
	}
	return 0
}
