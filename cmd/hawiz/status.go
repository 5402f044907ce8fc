package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/steps"
)

func newStatusCmd() *cobra.Command { return newStatusCmdWith(defaultDeps()) }

func newStatusCmdWith(d deps) *cobra.Command {
	var (
		path   string
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "status [--state FILE]",
		Short: "Show where a run stands, step by step (reads the state file; connects nowhere)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if path == "" {
				var err error
				if path, err = steps.LatestState(d.getenv); err != nil {
					return withCode(steps.ExitCode(err), err)
				}
			}
			st, err := steps.ReadState(path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usageErrorf("no state file %s", path)
				}
				return withCode(steps.ExitCode(err), err)
			}
			w := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(w, "%s, run %q: %s (updated %s)\n", st.Procedure, st.RunName, st.Status, st.Updated.Local().Format(time.DateTime))
			fmt.Fprintf(w, "state: %s\n", path)
			if pid, locked := steps.LockedBy(path); locked {
				fmt.Fprintf(w, "in progress: a hawiz run (pid %s) holds it now\n", pid)
			}
			if st.Message != "" {
				fmt.Fprintf(w, "last: %s\n", st.Message)
			}
			done := 0
			for _, s := range st.Steps {
				if s.Status() == steps.StatusDone {
					done++
				}
			}
			fmt.Fprintf(w, "steps done: %d of %d\n\n", done, len(st.Steps))
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "#\tSTEP\tHOST\tSTATUS\tFINISHED\tNOTE")
			for i, s := range st.Steps {
				for j, h := range s.Hosts {
					num, id := fmt.Sprint(i+1), s.ID
					if j > 0 {
						num, id = "", ""
					}
					fin := ""
					if h.Finished != nil {
						fin = h.Finished.Local().Format(time.DateTime)
					}
					note := h.Note
					if h.Error != "" {
						note = h.Error
					}
					if h.Confirmed != nil && note == "" {
						note = "manual work confirmed"
					}
					host := h.Host
					if host == "" {
						host = "(local)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", num, id, host, h.Status, fin, strings.ReplaceAll(note, "\n", " "))
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if st.Status != steps.StatusDone {
				fmt.Fprintf(w, "\ncontinue with: hawiz resume --state %s\n", path)
			}
			return nil
		},
	}
	c.Flags().StringVar(&path, "state", "", "state FILE (default: the most recently updated in $XDG_STATE_HOME/hawiz)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the state file's JSON")
	return c
}
