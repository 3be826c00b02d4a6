package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/gomr/gomr/jobs"
	"github.com/spf13/cobra"
)

func newJobsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "jobs",
		Short: "List the built-in jobs and their options",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, d := range jobs.All() {
				fmt.Fprintf(tw, "%s\t%s\n", d.Name, d.Summary)
				for _, o := range d.Options {
					if o.Bool {
						fmt.Fprintf(tw, "  --%s\t%s\n", o.Name, o.Usage)
						continue
					}
					if o.Default == "" {
						fmt.Fprintf(tw, "  --%s VALUE\t%s\n", o.Name, o.Usage)
						continue
					}
					fmt.Fprintf(tw, "  --%s VALUE\t%s (default %q)\n", o.Name, o.Usage, o.Default)
				}
			}
			return tw.Flush()
		},
	}
}
