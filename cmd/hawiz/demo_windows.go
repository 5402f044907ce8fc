package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// The demo's hosts run POSIX shells and detached stand-in services: on
// Windows, `hawiz demo` says so instead (run it on Linux or macOS, or in WSL).
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Try hawiz on an embedded demo fleet (Linux and macOS)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("%v", errors.New("hawiz demo needs Linux or macOS (its in-process hosts run a POSIX shell); on Windows, run it in WSL"))
		},
	}
}

func newStandinCmd() *cobra.Command {
	return &cobra.Command{Use: "__standin", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return usageErrorf("no stand-ins on Windows")
	}}
}
