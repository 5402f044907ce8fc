package main

import (
	"testing"

	"github.com/spf13/cobra"
)

// --session-per-command reaches the connection options of run, resume and
// check; without it, resident shells stay on.
func TestSessionPerCommandFlag(t *testing.T) {
	for _, mk := range []func(deps) *cobra.Command{newRunCmdWith, newResumeCmdWith, newCheckCmdWith} {
		c := mk(defaultDeps())
		fl := c.Flags().Lookup("session-per-command")
		if fl == nil {
			t.Fatalf("%s has no --session-per-command", c.Name())
		}
		if fl.DefValue != "false" {
			t.Errorf("%s: default %s", c.Name(), fl.DefValue)
		}
	}
	var of outFlags
	c := &cobra.Command{Use: "x"}
	of.add(c)
	if of.remoteOptions(defaultDeps()).SessionPerCommand {
		t.Fatal("resident shells off without the flag")
	}
	if err := c.Flags().Parse([]string{"--session-per-command"}); err != nil {
		t.Fatal(err)
	}
	if !of.remoteOptions(defaultDeps()).SessionPerCommand {
		t.Fatal("--session-per-command did not reach remote.Options")
	}
}
