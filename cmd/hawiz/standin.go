//go:build !windows

package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/lab/fleet"
)

// newStandinCmd is the hidden `hawiz __standin NAME ARGS…`: the stand-in
// programs (systemctl, ps, mmcentrald, the Central service) of `hawiz demo`'s
// in-process hosts, run by the tiny scripts in each demo host's bin/.
func newStandinCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "__standin NAME [ARGS]...",
		Short:              "stand-in programs of the demo hosts (internal)",
		Hidden:             true,
		DisableFlagParsing: true,
		SilenceUsage:       true,
		RunE: func(c *cobra.Command, args []string) error {
			// Exit here: a stand-in's status is its answer (systemctl
			// is-active exits 3), not an error for fang to print.
			os.Exit(fleet.Standin(args, os.Stdout, os.Stderr))
			return nil
		},
	}
}
