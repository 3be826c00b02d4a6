package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/gomr/gomr/cmd/internal/localcluster"
	"github.com/gomr/gomr/jobs"
	"github.com/gomr/gomr/primary/access"
	"github.com/gomr/gomr/primary/mtls"
	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// defaultTimeout bounds how long a client command waits for the cluster
// to have a leader (an election after a primary failed).
const defaultTimeout = 30 * time.Second

func addClusterFlag(cmd *cobra.Command) {
	cmd.Flags().String("cluster", localcluster.DefaultAddr,
		"address of any primary, HOST:PORT (comma-separated for several); env GOMR_CLUSTER; gomr local listens on "+localcluster.DefaultAddr)
	cmd.Flags().Duration("timeout", defaultTimeout, "how long to wait for the cluster to answer while it elects a leader")
	cmd.Flags().String("token", "", "client token (gomr token create); env GOMR_TOKEN; a cluster with TLS asks one of every client")
	addTLSFlags(cmd.Flags())
}

// addFormatFlag adds --format, how a command prints its result. --output
// names data folders only (on step add and run); given here, it gets an
// error naming --format.
func addFormatFlag(cmd *cobra.Command) {
	cmd.Flags().String("format", "text", "how to print the result: text or json")
	if cmd.Flags().Lookup("output") == nil {
		cmd.Flags().StringP("output", "o", "", "not a print format: use --format")
		cmd.Flags().MarkHidden("output")
	}
}

// printFormat returns --format, refusing the old spelling --output.
func printFormat(cmd *cobra.Command, v *viper.Viper) (string, error) {
	if f := cmd.Flags().Lookup("output"); f != nil && f.Hidden && f.Changed {
		return "", fmt.Errorf("--output %s: --output names an output folder (of step add and run); choose how results are printed with --format text|json", f.Value)
	}
	f := v.GetString("format")
	if f != "text" && f != "json" {
		return "", fmt.Errorf("--format %q: want text or json", f)
	}
	return f, nil
}

// clusterClient is a connection to a cluster.
type clusterClient struct {
	addr    string
	timeout time.Duration
	// tls is the client's certificate (nil: plaintext) and token its
	// token (sent over TLS only); connections to workers (HDFS blocks,
	// logs) use them too.
	tls   *mtls.Identity
	token string
	cc    *pb.Conn
	pb.ClientClient
}

// dialCluster connects to the primaries of --cluster. A host name that
// does not resolve is reported at once.
func dialCluster(ctx context.Context, v *viper.Viper) (*clusterClient, error) {
	addr := v.GetString("cluster")
	timeout := v.GetDuration("timeout")
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	for part := range strings.SplitSeq(addr, ",") {
		host, _, err := net.SplitHostPort(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("--cluster %q: want HOST:PORT: %w", part, err)
		}
		if net.ParseIP(host) != nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = net.DefaultResolver.LookupHost(lctx, host)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("--cluster %s: host %s does not resolve: %w", part, host, err)
		}
	}
	id, err := loadTLS(v, nil, false)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(v.GetString("token"))
	if id == nil {
		// Without certificate flags, the client certificate (and token) a
		// gomr local of this user recorded for that address.
		first, _, _ := strings.Cut(addr, ",")
		if rec, ok := localClient(strings.TrimSpace(first)); ok {
			if id, err = mtls.Load(mtls.Options{Files: rec.Files, Poll: -1}); err != nil {
				return nil, fmt.Errorf("the client certificate gomr local recorded for %s: %w", first, err)
			}
			if token == "" {
				token = rec.Token
			}
		}
	}
	if token != "" {
		if _, _, err := access.ParseToken(token); err != nil {
			return nil, fmt.Errorf("--token: %w", err)
		}
	}
	return connectCluster([]string{addr}, addr, timeout, id, token)
}

// connectCluster connects to primaries at addrs, with the client
// certificate id (nil: plaintext) and token; addr names them in
// messages.
func connectCluster(addrs []string, addr string, timeout time.Duration, id *mtls.Identity, token string) (*clusterClient, error) {
	c := &clusterClient{addr: addr, timeout: timeout, tls: id, token: token}
	cc, err := pb.Dial(addrs, append(c.dialOptions(), grpc.WithUnaryInterceptor(c.retryNoLeader))...)
	if err != nil {
		return nil, err
	}
	c.cc, c.ClientClient = cc, pb.NewClientClient(cc)
	return c, nil
}

// dialOptions are the credentials of every connection the client makes:
// its certificate and, over TLS, its token.
func (c *clusterClient) dialOptions() []grpc.DialOption {
	return c.tls.ClientDialOptions(c.token)
}

func (c *clusterClient) Close() { c.cc.Close() }

// retriedMethods are the calls that may be sent again when no leader
// answered: reads, and step submission, which the client token makes
// idempotent.
var retriedMethods = []string{
	pb.Client_SubmitStep_FullMethodName,
	pb.Client_ListSteps_FullMethodName,
	pb.Client_DescribeStep_FullMethodName,
	pb.Client_ListTasks_FullMethodName,
	pb.Client_ListNodes_FullMethodName,
}

// retryNoLeader sends a call again, with backoff, while the cluster has no
// leader (an election after a primary failed) or while some primary is
// still reachable after one dropped the call, until the call's deadline.
// When no primary can be reached at all (refused connections, unknown
// hosts) the call fails at once.
func (c *clusterClient) retryNoLeader(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	backoff := 50 * time.Millisecond
	for {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if status.Code(err) != codes.Unavailable || !slices.Contains(retriedMethods, method) {
			return err
		}
		if !pb.IsNoLeader(err) && cc.GetState() == connectivity.TransientFailure {
			return err // no primary reachable: say so now
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
// checks --format, connects to the cluster and calls fn.
func runClient(fn func(x *clientCmd) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		v, err := loadConfig(cmd)
		if err != nil {
			return err
		}
		x := &clientCmd{cmd: cmd, args: args, v: v, format: "text"}
		if cmd.Flags().Lookup("format") != nil {
			if x.format, err = printFormat(cmd, v); err != nil {
				return err
			}
		}
		if x.c, err = dialCluster(cmd.Context(), v); err != nil {
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
		Args:  cobra.MinimumNArgs(1),
		RunE: runClient(func(x *clientCmd) error {
			// Every argument is tried; the first error is returned.
			var first error
			for _, arg := range x.args {
				ctx, cancel := x.c.callCtx(x.cmd.Context())
				line, err := call(ctx, x.c, arg)
				cancel()
				if err != nil {
					err = x.c.explain(err)
					if len(x.args) > 1 {
						fmt.Fprintf(x.cmd.ErrOrStderr(), "%s: %v\n", arg, err)
					}
					first = cmp.Or(first, err)
					continue
				}
				fmt.Fprintln(x.cmd.OutOrStdout(), line)
			}
			return first
		}),
	}
	addClusterFlag(cmd)
	return cmd
}

// callCtx returns a context for one call, bounded by --timeout.
func (c *clusterClient) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// explain turns a call's error into a message for the user.
func (c *clusterClient) explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch {
	case pb.IsNoLeader(err):
		return fmt.Errorf("the cluster at %s has no leader (waited %s): %s", c.addr, c.timeout, st.Message())
	case st.Code() == codes.Unavailable:
		hint := ""
		if c.addr == localcluster.DefaultAddr {
			hint = " (is a cluster running there? start one with gomr local)"
		}
		if c.tls == nil {
			hint += " (if the cluster uses TLS, give the client certificate: --tls-cert, --tls-key and --tls-ca, or GOMR_TLS_CERT, GOMR_TLS_KEY and GOMR_TLS_CA)"
		}
		return fmt.Errorf("no primary answers at %s: %s%s", c.addr, st.Message(), hint)
	case st.Code() == codes.DeadlineExceeded:
		return fmt.Errorf("no answer from the cluster at %s within %s (--timeout)", c.addr, c.timeout)
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
