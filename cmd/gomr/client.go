package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/jobs"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// callTimeout bounds one client call, including waiting for a primary to
// be reachable.
const callTimeout = 30 * time.Second

func addClusterFlag(cmd *cobra.Command) {
	cmd.Flags().String("cluster", localcluster.DefaultAddr,
		"address of any primary (comma-separated for several); env GOMR_CLUSTER; default: where `gomr local` listens")
}

func addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringP("output", "o", "text", "output format: text or json")
}

func outputFormat(v *viper.Viper) (string, error) {
	f := v.GetString("output")
	if f != "text" && f != "json" {
		return "", fmt.Errorf("--output %q: want text or json", f)
	}
	return f, nil
}

// clusterClient is a connection to a cluster.
type clusterClient struct {
	addr string
	cc   *pb.Conn
	pb.ClientClient
}

func dialCluster(v *viper.Viper) (*clusterClient, error) {
	addr := v.GetString("cluster")
	cc, err := pb.Dial([]string{addr}, grpc.WithUnaryInterceptor(retryUnavailable))
	if err != nil {
		return nil, err
	}
	return &clusterClient{addr: addr, cc: cc, ClientClient: pb.NewClientClient(cc)}, nil
}

func (c *clusterClient) Close() { c.cc.Close() }

// retriedMethods are the calls that may be sent again when no leader
// answered: reads, and step submission, which the client token makes
// idempotent.
var retriedMethods = []string{
	pb.Client_SubmitStep_FullMethodName,
	pb.Client_ListSteps_FullMethodName,
	pb.Client_DescribeStep_FullMethodName,
	pb.Client_ListNodes_FullMethodName,
}

// retryUnavailable sends a call again, with backoff, while the cluster has
// no leader (an election after a primary failed), until the call's
// deadline.
func retryUnavailable(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	backoff := 100 * time.Millisecond
	for {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if status.Code(err) != codes.Unavailable || !slices.Contains(retriedMethods, method) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// clientCmd is what a client command has once it is connected.
type clientCmd struct {
	cmd    *cobra.Command
	args   []string
	v      *viper.Viper
	c      *clusterClient
	format string // text or json
}

// runClient makes the RunE of a client command: it loads the settings,
// checks --output, connects to the cluster and calls fn.
func runClient(fn func(x *clientCmd) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		v, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		x := &clientCmd{cmd: cmd, args: args, v: v, format: "text"}
		if cmd.Flags().Lookup("output") != nil {
			if x.format, err = outputFormat(v); err != nil {
				return err
			}
		}
		if x.c, err = dialCluster(v); err != nil {
			return err
		}
		defer x.c.Close()
		return fn(x)
	}
}

// newActionCmd makes a client command that acts on its one argument with
// one call, then prints the line the call returns.
func newActionCmd(use, short string, call func(ctx context.Context, c *clusterClient, arg string) (string, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := callCtx(x.cmd.Context())
			defer cancel()
			line, err := call(ctx, x.c, x.args[0])
			if err != nil {
				return x.c.explain(err)
			}
			fmt.Fprintln(x.cmd.OutOrStdout(), line)
			return nil
		}),
	}
	addClusterFlag(cmd)
	return cmd
}

// callCtx returns a context for one call.
func callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// waitReady makes calls wait for a primary to come up instead of failing
// at once while its connection is being made.
var waitReady = grpc.WaitForReady(true)

// explain turns a call's error into a message for the user.
func (c *clusterClient) explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("cluster at %s is unavailable: %s (is a cluster running there? start one with `gomr local`)", c.addr, st.Message())
	case codes.DeadlineExceeded:
		if c.addr == localcluster.DefaultAddr {
			return fmt.Errorf("no answer from a cluster at %s within %s: is `gomr local` running?", c.addr, callTimeout)
		}
		return fmt.Errorf("no answer from the cluster at %s within %s", c.addr, callTimeout)
	}
	return errors.New(st.Message())
}

// jobFromArgs finds the value of --job in a command line, so that the
// job's own flags can be registered before the line is parsed.
func jobFromArgs(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--job="); ok {
			return v
		}
		if a == "--job" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// addJobFlags registers the options of the named job as flags of cmd. An
// unknown job registers nothing; the command reports it when it runs.
func addJobFlags(cmd *cobra.Command, job string) {
	def, err := jobs.Lookup(job)
	if err != nil {
		return
	}
	for _, o := range def.Options {
		if cmd.Flags().Lookup(o.Name) != nil {
			continue
		}
		usage := fmt.Sprintf("[%s] %s", def.Name, o.Usage)
		if o.Bool {
			cmd.Flags().Bool(o.Name, o.Default == "true", usage)
		} else {
			cmd.Flags().String(o.Name, o.Default, usage)
		}
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		var names []string
		for _, o := range def.Options {
			names = append(names, "--"+o.Name)
		}
		if len(names) == 0 {
			names = []string{"none"}
		}
		return fmt.Errorf("%w (options of job %s: %s; see `gomr jobs`)", err, def.Name, strings.Join(names, ", "))
	})
}

// jobOptions collects the job options given on the command line.
func jobOptions(cmd *cobra.Command, job string) map[string]string {
	opts := map[string]string{}
	def, err := jobs.Lookup(job)
	if err != nil {
		return opts
	}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if slices.ContainsFunc(def.Options, func(o jobs.Option) bool { return o.Name == f.Name }) {
			opts[f.Name] = f.Value.String()
		}
	})
	return opts
}
