package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	pb "github.com/gomr/gomr/primary/primarypb"
	"github.com/spf13/cobra"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Make, list and revoke client tokens (roles read, submit, admin)",
		Long: `A cluster with TLS asks every client call for a token, given with --token,
GOMR_TOKEN or the config file's token key. A token's role says what it may do:

  read    list and describe steps, tasks and nodes, read HDFS files and attempt logs
  submit  read, plus add, cancel and kill steps and attempts, and write HDFS files
  admin   submit, plus node, HDFS (fsck, safe mode) and token administration

The cluster keeps only a hash of each token's secret: a token is shown once,
when it is made. gomr local makes an admin token by itself; a cluster started
by hand gets its first one from gomr token bootstrap.`,
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd(), newTokenBootstrapCmd())
	return cmd
}

func newTokenCreateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create --name NAME --role read|submit|admin [--ttl DURATION]",
		Short: "Make a token (admin); its secret is printed once",
		Args:  cobra.NoArgs,
		RunE: runClient(func(x *clientCmd) error {
			ttl := x.v.GetDuration("ttl")
			if ttl < 0 {
				return fmt.Errorf("--ttl %s: give a positive duration, or 0 for a token that does not expire", ttl)
			}
			ctx, cancel := x.c.callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.CreateToken(ctx, &pb.CreateTokenRequest{Name: x.v.GetString("name"), Role: x.v.GetString("role"), TtlSeconds: int64(ttl / time.Second), DataRoots: x.v.GetStringSlice("data-roots")})
			if err != nil {
				return x.c.explain(err)
			}
			return printNewToken(x, resp)
		}),
	}
	cmd.Flags().String("name", "", "who or what holds the token (shown in lists and logs)")
	cmd.Flags().String("role", "read", "what the token may do: read, submit or admin")
	cmd.Flags().Duration("ttl", 0, "how long the token is valid, e.g. 720h; 0: until revoked")
	cmd.Flags().StringSlice("data-roots", nil, "confine the steps submitted with the token to these local folders, hdfs:///path and s3://bucket[/prefix] prefixes (within the cluster's own data roots)")
	addClusterFlag(cmd)
	addFormatFlag(cmd)
	return cmd
}

func newTokenBootstrapCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Make the first admin token of a cluster that has none (needs a client certificate, no token)",
		Args:  cobra.NoArgs,
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := x.c.callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: x.v.GetString("name")})
			if err != nil {
				return x.c.explain(err)
			}
			return printNewToken(x, resp)
		}),
	}
	cmd.Flags().String("name", "bootstrap", "who holds the token")
	addClusterFlag(cmd)
	addFormatFlag(cmd)
	return cmd
}

// printNewToken prints a token just made: its secret on a line of its
// own (text), so that a script can keep it with tail -1.
func printNewToken(x *clientCmd, resp *pb.CreateTokenResponse) error {
	out := x.cmd.OutOrStdout()
	if x.format == "json" {
		return printJSON(out, struct {
			tokenJSON
			Token string `json:"token"`
		}{tokenToJSON(resp.Token), resp.SecretToken})
	}
	t := resp.Token
	fmt.Fprintf(out, "token %s (%q, role %s, expires %s); its secret is shown only now:\n", t.Accessor, t.Name, t.Role, expiry(t.ExpiresUnixNano))
	fmt.Fprintln(out, resp.SecretToken)
	return nil
}

func expiry(ns int64) string {
	if ns == 0 {
		return "never"
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

// tokenJSON is a token in gomr token list --format json.
type tokenJSON struct {
	Accessor  string     `json:"accessor"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Created   *time.Time `json:"created"`
	Expires   *time.Time `json:"expires"`
	CreatedBy string     `json:"created_by"`
	DataRoots []string   `json:"data_roots"`
}

func tokenToJSON(t *pb.Token) tokenJSON {
	return tokenJSON{Accessor: t.Accessor, Name: t.Name, Role: t.Role, Created: jsonTime(t.CreatedUnixNano), Expires: jsonTime(t.ExpiresUnixNano), CreatedBy: t.CreatedBy, DataRoots: append([]string{}, t.DataRoots...)}
}

func newTokenListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every token (admin): accessor, name, role, expiry; never secrets",
		Args:  cobra.NoArgs,
		RunE: runClient(func(x *clientCmd) error {
			ctx, cancel := x.c.callCtx(x.cmd.Context())
			defer cancel()
			resp, err := x.c.ListTokens(ctx, &pb.ListTokensRequest{})
			if err != nil {
				return x.c.explain(err)
			}
			out := x.cmd.OutOrStdout()
			if x.format == "json" {
				list := []tokenJSON{}
				for _, t := range resp.Tokens {
					list = append(list, tokenToJSON(t))
				}
				return printJSON(out, list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ACCESSOR\tNAME\tROLE\tCREATED\tEXPIRES\tDATA ROOTS\tCREATED BY")
			for _, t := range resp.Tokens {
				roots := strings.Join(t.DataRoots, ",")
				if roots == "" {
					roots = "(the cluster's)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Accessor, t.Name, t.Role, time.Unix(0, t.CreatedUnixNano).UTC().Format(time.RFC3339), expiry(t.ExpiresUnixNano), roots, t.CreatedBy)
			}
			return tw.Flush()
		}),
	}
	addClusterFlag(cmd)
	addFormatFlag(cmd)
	return cmd
}

func newTokenRevokeCmd() *cobra.Command {
	return newActionCmd("revoke ACCESSOR...", "Revoke tokens (admin): calls with them fail from then on",
		func(ctx context.Context, c *clusterClient, accessor string) (string, error) {
			_, err := c.RevokeToken(ctx, &pb.RevokeTokenRequest{Accessor: accessor})
			return "token " + accessor + " revoked", err
		})
}
