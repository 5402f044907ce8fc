package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/steps"
)

func newResumeCmd() *cobra.Command { return newResumeCmdWith(defaultDeps()) }

func newResumeCmdWith(d deps) *cobra.Command {
	var (
		of      outFlags
		rf      runFlags
		confirm []string
	)
	c := &cobra.Command{
		Use:   "resume [--state FILE]",
		Short: "Continue an interrupted, failed or waiting run from its state file",
		Long: "Continue a run from its state file (default: the most recently updated one in\n" +
			"$XDG_STATE_HOME/hawiz). Steps already done are checked again (their checks are\n" +
			"cheap and read-only) rather than trusted; a step that was started but not finished\n" +
			"is checked before it is applied again. The answers come from the state file;\n" +
			"secrets are asked for again (or read from HAWIZ_* variables): they are never saved.\n" +
			"--confirm STEP records that you did a manual step by hand; its verification\n" +
			"still runs.",
		Example: "  hawiz resume                                  # the most recent run\n" +
			"  hawiz resume --state ~/.local/state/hawiz/micetro-central-ha-central.json\n" +
			"  hawiz resume --confirm STEP                   # a manual step done by hand",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path := rf.statePath
			if path == "" {
				var err error
				if path, err = steps.LatestState(d.getenv); err != nil {
					return withCode(steps.ExitCode(err), err)
				}
			}
			st, err := steps.ReadState(path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return usageErrorf("no state file %s to resume", path)
				}
				return withCode(steps.ExitCode(err), err)
			}
			p, err := d.find(st.Procedure)
			if err != nil {
				return withCode(steps.ExitRefused, fmt.Errorf("state file %s is a run of procedure %q, which this hawiz does not know", path, st.Procedure))
			}
			return runEngine(c, d, &of, steps.RunConfig{
				Procedure: p, StatePath: path, Resume: true, RunName: st.RunName,
				From: rf.from, Only: rf.only, Redo: rf.redo, Skip: rf.skip, Confirm: confirm,
			})
		},
	}
	c.Flags().StringSliceVar(&confirm, "confirm", nil, "record that manual STEP was done by hand (repeatable)")
	of.add(c)
	rf.add(c)
	registerStepCompletion(c, d)
	return c
}
