package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newProceduresCmd() *cobra.Command { return newProceduresCmdWith(defaultDeps()) }

func newProceduresCmdWith(d deps) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "procedures",
		Short: "List the procedures hawiz can run",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			w := c.OutOrStdout()
			procs := d.catalog()
			if asJSON {
				type item struct {
					Name        string `json:"name"`
					Title       string `json:"title"`
					Description string `json:"description"`
					DocURL      string `json:"doc_url,omitempty"`
				}
				items := []item{}
				for _, p := range procs {
					items = append(items, item{p.Name, p.Title, p.Description, p.DocURL})
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, p := range procs {
				fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Description)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
