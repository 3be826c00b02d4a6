package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/gomr/gomr/primary/pki"
	"github.com/spf13/cobra"
)

// defaultPKIDir is where gomr cert keeps the CA without --dir.
const defaultPKIDir = "gomr-pki"

func newCertCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Make the cluster CA and issue node and client certificates (mutual TLS)",
		Long: `Make the cluster's certificate authority and issue certificates signed by it.
Every primary, worker and client then starts with --tls-cert, --tls-key and
--tls-ca (or GOMR_TLS_CERT, GOMR_TLS_KEY, GOMR_TLS_CA), and every connection
is mutual TLS 1.3. The role in a certificate (primary, worker or client)
decides what its holder may call: a worker certificate cannot submit steps,
a client certificate cannot register as a worker.

    gomr cert init --dir pki
    gomr cert issue --dir pki --role primary primary-1 --addr 10.0.0.1 --addr primary-1.internal
    gomr cert issue --dir pki --role worker core-1 --addr 10.0.0.11
    gomr cert issue --dir pki --role client alice

Nodes reload their certificate files when they change (or on SIGHUP), so a
certificate is renewed by issuing it again in place.`,
	}
	cmd.AddCommand(newCertInitCmd(), newCertIssueCmd())
	return cmd
}

func newCertInitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the cluster CA (ca.crt, ca.key) and a gossip key (gossip.key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			dir, days := v.GetString("dir"), v.GetInt("days")
			if days < 1 {
				return fmt.Errorf("--days must be at least 1, got %d", days)
			}
			ca, err := pki.NewCA(v.GetString("name"), time.Duration(days)*24*time.Hour)
			if err != nil {
				return err
			}
			if err := ca.Save(dir); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "CA %q, valid until %s\n", ca.Cert.Subject.CommonName, ca.Cert.NotAfter.UTC().Format(time.RFC3339))
			fmt.Fprintf(out, "  %s  (give to every node and client: --tls-ca)\n", filepath.Join(dir, pki.CACertFile))
			fmt.Fprintf(out, "  %s  (keep secret; only gomr cert issue needs it)\n", filepath.Join(dir, pki.CAKeyFile))
			if v.GetBool("gossip-key") {
				file := filepath.Join(dir, pki.GossipKeyFile)
				if err := pki.SaveGossipKey(file, pki.NewGossipKey()); err != nil {
					return err
				}
				fmt.Fprintf(out, "  %s  (gossip encryption key: --gossip-key @%s on every primary and worker)\n", file, file)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("dir", defaultPKIDir, "folder for the CA's files (made if missing; an existing CA is never overwritten)")
	f.Int("days", int(pki.DefaultCAValidity/(24*time.Hour)), "days the CA is valid")
	f.String("name", "gomr cluster CA", "the CA's common name")
	f.Bool("gossip-key", true, "also write a new gossip encryption key, gossip.key")
	return cmd
}

func newCertIssueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issue --role primary|worker|client NAME",
		Short: "Issue a certificate signed by the cluster CA (NAME.crt, NAME.key)",
		Long: `Issue a certificate for a primary, a worker or a client, signed by the CA in
--dir, and write NAME.crt and NAME.key (mode 0600) into --out (or --dir).
The role and NAME are written into the certificate as the URI
gomr://role/ROLE/NAME. A primary or worker certificate needs every address
other nodes and clients reach the node by (--addr, IP addresses or DNS names,
repeated or comma-separated); clients verify them. Issuing a name again
replaces its files: a running node picks up the new pair.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			role, err := pki.ParseRole(v.GetString("role"))
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			hosts := v.GetStringSlice("addr")
			if role != pki.RoleClient && len(hosts) == 0 {
				return fmt.Errorf("a %s certificate needs at least one --addr: the IP addresses and host names other nodes reach %s by (e.g. --addr 10.0.0.5 --addr %s.internal)", role, args[0], args[0])
			}
			days := v.GetInt("days")
			if days < 1 {
				return fmt.Errorf("--days must be at least 1, got %d", days)
			}
			dir := v.GetString("dir")
			ca, err := pki.LoadCA(dir)
			if err != nil {
				return err
			}
			now := time.Now()
			is, err := ca.Issue(pki.Request{Role: role, Name: args[0], Hosts: hosts, NotAfter: now.Add(time.Duration(days) * 24 * time.Hour)})
			if err != nil {
				return err
			}
			out := v.GetString("out")
			if out == "" {
				out = dir
			}
			certFile, keyFile, err := is.Save(out, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s certificate %s (%s), valid until %s\n", role, args[0], pki.RoleURI(role, args[0]), is.Cert.NotAfter.UTC().Format(time.RFC3339))
			if len(hosts) > 0 {
				fmt.Fprintf(w, "  addresses: %v\n", hosts)
			}
			fmt.Fprintf(w, "  --tls-cert %s --tls-key %s --tls-ca %s\n", certFile, keyFile, filepath.Join(dir, pki.CACertFile))
			return nil
		},
	}
	f := cmd.Flags()
	f.String("dir", defaultPKIDir, "folder of the CA (gomr cert init)")
	f.String("out", "", "folder for the new files (empty: the --dir folder)")
	f.String("role", "", "primary, worker or client")
	f.StringSlice("addr", nil, "an IP address or DNS name the node is reached by (repeat, or comma-separated)")
	f.Int("days", int(pki.DefaultValidity/(24*time.Hour)), "days the certificate is valid (at most until the CA expires)")
	cmd.MarkFlagRequired("role")
	return cmd
}
