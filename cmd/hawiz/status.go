package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
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
		all    bool
	)
	c := &cobra.Command{
		Use:   "status [--state FILE | --all]",
		Short: "Show where a run stands, step by step (reads the state file; connects nowhere)",
		Long: "Show where a run stands, step by step, and where its state file, transcript and\n" +
			"evidence report are. It reads the state file only: it connects nowhere. --all\n" +
			"lists the runs on this machine: the state files in the state directory\n" +
			"($XDG_STATE_HOME/hawiz, else ~/.local/state/hawiz); a run given its own --state\n" +
			"elsewhere is shown with status --state FILE.",
		Example: "  hawiz status                 # the most recent run\n" +
			"  hawiz status --all           # every run on this machine\n" +
			"  hawiz status --state ~/.local/state/hawiz/micetro-central-ha-central.json --json",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if all {
				if path != "" {
					return usageErrorf("--all and --state cannot be combined")
				}
				return statusAll(c, d, asJSON)
			}
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
				// the state, and where its files are
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					*steps.State
					Files runFiles `json:"files"`
				}{st, filesOf(path)})
			}
			fmt.Fprintf(w, "%s, run %q: %s (updated %s)\n", st.Procedure, st.RunName, st.Status, st.Updated.Local().Format(time.DateTime))
			writeFiles(w, path)
			if pid, locked := steps.LockedBy(path); locked {
				fmt.Fprintf(w, "in progress: a hawiz run (pid %s) holds it now\n", pid)
			}
			if st.Message != "" {
				fmt.Fprintf(w, "last: %s\n", st.Message)
			}
			fmt.Fprintf(w, "steps done: %d of %d\n\n", stepsDone(st), len(st.Steps))
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
	c.Flags().BoolVar(&asJSON, "json", false, "print the state file's JSON (with its files' paths); with --all, the list")
	c.Flags().BoolVar(&all, "all", false, "list the runs on this machine (the state directory), newest first")
	return c
}

// runFiles are where a run keeps its record.
type runFiles struct {
	State      string `json:"state"`
	Transcript string `json:"transcript"`
	Evidence   string `json:"evidence"`
}

func filesOf(statePath string) runFiles {
	if abs, err := filepath.Abs(statePath); err == nil {
		statePath = abs
	}
	return runFiles{State: statePath, Transcript: steps.TranscriptPath(statePath), Evidence: steps.EvidencePath(statePath)}
}

// writeFiles prints the three paths of a run, one a line, those that exist.
func writeFiles(w io.Writer, statePath string) {
	f := filesOf(statePath)
	for _, x := range []struct{ label, path string }{{"state", f.State}, {"transcript", f.Transcript}, {"evidence", f.Evidence}} {
		if _, err := os.Lstat(x.path); err == nil {
			fmt.Fprintf(w, "%s: %s\n", x.label, x.path)
		}
	}
}

// runInfo is one state file of the state directory.
type runInfo struct {
	path  string
	mod   time.Time
	state *steps.State // nil when err
	err   error
}

// listRuns reads every state file (*.json) of the state directory, newest
// first. A file that cannot be read is listed with its error.
func listRuns(getenv func(string) string) ([]runInfo, error) {
	dir, err := steps.DefaultStateDir(getenv)
	if err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var runs []runInfo
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		r := runInfo{path: p, mod: fi.ModTime()}
		r.state, r.err = steps.ReadState(p)
		runs = append(runs, r)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].mod.After(runs[j].mod) })
	return runs, nil
}

// statusAll is `hawiz status --all`: every run of the state directory.
func statusAll(c *cobra.Command, d deps, asJSON bool) error {
	dir, err := steps.DefaultStateDir(d.getenv)
	if err != nil {
		return usageErrorf("%v", err)
	}
	runs, err := listRuns(d.getenv)
	if err != nil {
		return usageErrorf("%v", err)
	}
	w := c.OutOrStdout()
	if asJSON {
		type item struct {
			Procedure string    `json:"procedure,omitempty"`
			RunName   string    `json:"run_name,omitempty"`
			Status    string    `json:"status,omitempty"`
			Updated   time.Time `json:"updated"`
			Done      int       `json:"steps_done"`
			Steps     int       `json:"steps"`
			Running   bool      `json:"running,omitempty"`
			Error     string    `json:"error,omitempty"`
			Files     runFiles  `json:"files"`
		}
		items := []item{}
		for _, r := range runs {
			it := item{Updated: r.mod, Files: filesOf(r.path)}
			if r.err != nil {
				it.Error = r.err.Error()
			} else {
				it.Procedure, it.RunName, it.Status, it.Updated = r.state.Procedure, r.state.RunName, string(r.state.Status), r.state.Updated
				it.Done, it.Steps = stepsDone(r.state), len(r.state.Steps)
			}
			_, it.Running = steps.LockedBy(r.path)
			items = append(items, it)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			StateDir string `json:"state_dir"`
			Runs     []item `json:"runs"`
		}{dir, items})
	}
	if len(runs) == 0 {
		fmt.Fprintf(w, "no runs in %s (a run with --state elsewhere: hawiz status --state FILE)\n", dir)
		return nil
	}
	fmt.Fprintf(w, "runs in %s, newest first:\n\n", dir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROCEDURE\tRUN\tSTATUS\tSTEPS\tUPDATED\tSTATE FILE")
	for _, r := range runs {
		if r.err != nil {
			fmt.Fprintf(tw, "?\t?\tunreadable\t\t%s\t%s (%s)\n", r.mod.Local().Format(time.DateTime), r.path, strings.ReplaceAll(r.err.Error(), "\n", " "))
			continue
		}
		st := r.state
		status := string(st.Status)
		if _, locked := steps.LockedBy(r.path); locked {
			status += " (running now)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", st.Procedure, st.RunName, status, stepsDone(st), len(st.Steps),
			st.Updated.Local().Format(time.DateTime), r.path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ndetails: hawiz status --state FILE")
	return nil
}

func stepsDone(st *steps.State) int {
	done := 0
	for _, s := range st.Steps {
		if s.Status() == steps.StatusDone {
			done++
		}
	}
	return done
}
