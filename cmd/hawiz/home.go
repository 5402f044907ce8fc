package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/tui"
)

// addHome makes `hawiz` with no arguments open the wizard: full-screen at a
// terminal; with --accessible (or TERM=dumb) the same flow as plain prompts
// for screen readers; without a terminal, help and exit 2 (runHome).
func addHome(root *cobra.Command, d deps) {
	var accessible bool
	root.Flags().BoolVar(&accessible, "accessible", false, "plain prompts instead of the full-screen wizard, for screen readers (automatic when TERM=dumb)")
	root.RunE = func(c *cobra.Command, _ []string) error { return runWizard(c, d, accessible) }
}

func runWizard(c *cobra.Command, d deps, accessible bool) error {
	out, isFile := c.OutOrStdout().(*os.File)
	if !isFile || !tui.IsTerminal(out) || !tui.IsTerminal(d.stdin) {
		return runHome(c, d) // help and exit 2
	}
	dir, err := steps.DefaultStateDir(d.getenv)
	if err != nil {
		return usageErrorf("%v", err)
	}
	cfg := tui.Config{Procedures: d.catalog(), StateDir: dir, Getenv: d.getenv, ToolVersion: d.version, Remote: d.remote}
	var code int
	if tui.Accessible(accessible, d.getenv) {
		code, err = tui.RunAccessible(c.Context(), cfg, d.stdin, out)
	} else {
		code, err = tui.Run(c.Context(), cfg)
	}
	if code == steps.ExitOK {
		return nil
	}
	if err == nil {
		err = errors.New(map[int]string{steps.ExitFailed: "the run did not finish", steps.ExitStopped: "stopped; the state is kept (run hawiz again to resume)", steps.ExitRefused: "refused for safety"}[code])
		if err.Error() == "" {
			err = fmt.Errorf("exit %d", code)
		}
	}
	return withCode(code, err)
}
