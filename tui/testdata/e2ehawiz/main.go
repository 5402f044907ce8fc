// Command e2ehawiz is hawiz's wizard (tui.Run, as `hawiz` with no
// arguments runs it) with the engine's test procedure (steps/steptest) as
// its catalog, for the tmux end-to-end test against in-process SSH hosts:
// the real catalog's procedures need vendor software on the hosts.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
	"github.com/hawiz/hawiz/tui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := steps.DefaultStateDir(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg := tui.Config{Procedures: []*steps.Procedure{steptest.Procedure()}, StateDir: dir, ToolVersion: "e2e"}
	var code int
	if tui.Accessible(len(os.Args) > 1 && os.Args[1] == "--accessible", os.Getenv) {
		code, err = tui.RunAccessible(ctx, cfg, os.Stdin, os.Stdout)
	} else {
		code, err = tui.Run(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hawiz:", err)
	}
	os.Exit(code)
}
