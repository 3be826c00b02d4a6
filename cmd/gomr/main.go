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
	root := newRootCmd(jobFromArgs(args))
	if len(args) > 0 && args[0] == "hdfs" {
		args = hadoopArgs(args, hadoopLongFlags)
	}
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
