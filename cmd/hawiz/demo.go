package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/lab/fleet"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/tui"
)

func newDemoCmd() *cobra.Command {
	var (
		o     fleet.Options
		plain bool
		seed  uint64
	)
	c := &cobra.Command{
		Use:   "demo",
		Short: "Try hawiz on an embedded demo fleet: in-process SSH servers and DNS, nothing to install",
		Long: "Start an embedded demo fleet inside this process (one in-process SSH server per demo\n" +
			"host on 127.0.0.1, each with its own directory under a fresh temporary root standing\n" +
			"in for the host's filesystem, and an in-process authoritative DNS server for the zone\n" +
			"demo.hawiz.test accepting TSIG-signed updates), then run a procedure on it with the\n" +
			"real engine, SSH client and DNS checker. Nothing is left behind unless --keep.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Seed = seed
			o.Version = versionString()
			d, err := fleet.Setup(o)
			if err != nil {
				return usageErrorf("demo: %v", err)
			}
			defer func() {
				if err := d.Close(); err != nil {
					fmt.Fprintln(c.ErrOrStderr(), "demo: cleaning up:", err)
				}
				if o.Keep {
					fmt.Fprintf(c.ErrOrStderr(), "demo: kept the demo root %s (its services are stopped)\n", d.Fleet.Root)
				}
			}()
			out := c.OutOrStdout()
			interactive := false
			if fo, ok := out.(*os.File); ok {
				interactive = !plain && tui.IsTerminal(fo) && tui.IsTerminal(os.Stdin)
			}
			if interactive {
				fmt.Fprintln(c.ErrOrStderr(), "demo: the full-screen wizard is not wired into the demo yet; running it plainly")
			}
			_, err = d.RunPlain(c.Context(), out, tui.NewPlainRenderer(out))
			return withCode(steps.ExitCode(err), err)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Procedure, "procedure", "micetro-central-ha", "procedure to run on the demo fleet")
	f.IntVar(&o.Members, "members", 3, "number of demo hosts (members / servers)")
	f.DurationVar(&o.Speed, "speed", 0, "pause this long in every step so a recording can be followed (e.g. 400ms)")
	f.Uint64Var(&seed, "seed", 0, "deterministic host keys, client key and TSIG secret (0 = random)")
	f.StringVar(&o.Fail, "fail", "", "inject a failure into the first attempt of `STEP` (shows the failure and the retry)")
	f.BoolVar(&o.Keep, "keep", false, "keep the demo root (state, transcript, evidence, the hosts' files) and print where it is")
	f.BoolVar(&plain, "plain", false, "run non-interactively to the end: the demo accepts the host keys and confirms the manual steps itself, saying so")
	return c
}
