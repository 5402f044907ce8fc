//go:build !windows

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/lab/fleet"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/tui"
)

func newDemoCmd() *cobra.Command {
	var (
		o          fleet.Options
		plain      bool
		seed       uint64
		fresh      bool
		accessible bool
	)
	c := &cobra.Command{
		Use:   "demo",
		Short: "Try hawiz on an embedded demo fleet: in-process SSH servers and DNS, nothing to install",
		Long: "Start an embedded demo fleet inside this process (one in-process SSH server per demo\n" +
			"host on 127.0.0.1, each with its own directory under a fresh temporary root standing\n" +
			"in for the host's filesystem, and an in-process authoritative DNS server for the zone\n" +
			"demo.hawiz.test accepting TSIG-signed updates), then run a procedure on it with the\n" +
			"real engine, SSH client and DNS checker. Nothing is left behind unless --keep.",
		Example: "  hawiz demo                      # the wizard on the demo fleet\n" +
			"  hawiz demo --procedure opsmanager-ha --members 2\n" +
			"  hawiz demo --plain --procedure micetro-remove-member   # an HA cluster, then a member taken out\n" +
			"  hawiz demo --plain --fail start-member-central2   # a failure and its retry\n" +
			"  hawiz demo --plain --keep        # keep the evidence report\n" +
			"  hawiz demo --plain --rollback    # the run, then its rollback (hawiz rollback)",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Members <= 0 {
				return usageErrorf("--members %d: the demo needs 2 to 9 hosts", o.Members)
			}
			o.Seed = seed
			o.Fresh = fresh
			o.Version = versionString()
			out := c.OutOrStdout()
			interactive := false
			if fo, ok := out.(*os.File); ok {
				interactive = !plain && tui.IsTerminal(fo) && tui.IsTerminal(os.Stdin)
			}
			if interactive && o.Rollback {
				// the wizard has no rollback: the run and its rollback in plain output
				fmt.Fprintln(c.ErrOrStderr(), "demo: --rollback runs without the wizard, as --plain: the demo confirms the manual steps itself")
				interactive = false
			}
			if interactive {
				return runDemoTUI(c, o, tui.Accessible(accessible, os.Getenv))
			}
			d, err := fleet.Setup(o)
			if err != nil {
				return usageErrorf("demo: %v", err)
			}
			// A closed output pipe (hawiz demo --plain | head) stops the run
			// like an interrupt, so that the cleanup below removes the demo
			// root: without this, the runtime's SIGPIPE ended the process
			// first and left the root behind.
			ctx, stop := context.WithCancel(c.Context())
			defer stop()
			sigpipe := make(chan os.Signal, 1)
			signal.Notify(sigpipe, syscall.SIGPIPE)
			defer signal.Stop(sigpipe)
			pw := &pipeWriter{w: out, closed: stop}
			out = pw
			defer func() {
				if err := d.Close(); err != nil {
					fmt.Fprintln(c.ErrOrStderr(), "demo: cleaning up:", err)
				}
				if o.Keep {
					fmt.Fprintf(c.ErrOrStderr(), "demo: kept the demo root %s (its services are stopped)\n", d.Fleet.Root)
				}
			}()
			_, err = d.RunPlain(ctx, out, tui.NewPlainRenderer(out))
			if pw.broken.Load() {
				return withCode(steps.ExitStopped, fmt.Errorf("demo: the output pipe closed: the run stopped"))
			}
			return withCode(steps.ExitCode(err), err)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Procedure, "procedure", "micetro-central-ha", "procedure to run on the demo fleet: "+strings.Join(fleet.DemoProcedures(), ", "))
	f.IntVar(&o.Members, "members", 3, "number of demo hosts (members / servers)")
	f.DurationVar(&o.Speed, "speed", 0, "pause this long in every step so a recording can be followed (e.g. 400ms)")
	f.Uint64Var(&seed, "seed", 0, "deterministic host keys, client key, TSIG secret, root name and ports, for recordings (0 = random)")
	f.StringVar(&o.Fail, "fail", "", "inject a failure into the first attempt of `STEP` (shows the failure and the retry)")
	f.BoolVar(&o.Keep, "keep", false, "keep the demo root (state, transcript, evidence, the hosts' files) and print where it is")
	f.BoolVar(&fresh, "fresh", false, "forget a kept demo (an unfinished run) and start a new one")
	f.BoolVar(&accessible, "accessible", false, "plain prompts instead of the full-screen wizard, for screen readers (automatic when TERM=dumb)")
	f.BoolVar(&o.Rollback, "rollback", false, "once the run finished, roll it back on the demo fleet as `hawiz rollback` does (plain output; the demo confirms the manual undo steps)")
	f.BoolVar(&plain, "plain", false, "run non-interactively to the end: the demo accepts the host keys and confirms the manual steps itself, saying so")
	return c
}

// pipeWriter calls closed once a write finds the reader gone (EPIPE).
type pipeWriter struct {
	w      io.Writer
	closed func()
	broken atomic.Bool
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if err != nil && errors.Is(err, syscall.EPIPE) {
		p.broken.Store(true)
		p.closed()
	}
	return n, err
}

// demoBase is where the wizard's demo lives while a run is unfinished, so
// that `hawiz demo` again offers to resume it.
func demoBase() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("hawiz-demo-%d", os.Getuid()))
}

// runDemoTUI opens the wizard on the demo fleets (one per demo procedure,
// --procedure first), with the demo answers filled in: full-screen, or as
// plain prompts when accessible.
func runDemoTUI(c *cobra.Command, o fleet.Options, accessible bool) error {
	base := demoBase()
	if o.Fresh {
		stopKept(base)
		os.RemoveAll(base)
	}
	o.StateHome = filepath.Join(base, "state")
	names := []string{o.Procedure}
	for _, p := range fleet.DemoProcedures() {
		if p != o.Procedure {
			names = append(names, p)
		}
	}
	var demos []*fleet.Demo
	closeAll := func() {
		for _, d := range demos {
			d.Fleet.Stop()
		}
	}
	cfg := tui.Config{ToolVersion: versionString(), Answers: map[string]steps.Answers{}, PlanNotes: map[string][]string{},
		Remote:      remote.Options{SSHConfigFile: "none", AgentSocket: "none"},
		AnswersFrom: "hawiz demo filled these answers in for its demo hosts.",
		// the engine's `hawiz resume --state …` would not start the demo fleet
		ResumeHint: "run `hawiz demo` again to resume", ResumeCommand: "hawiz demo", ResumeFixed: true}
	for _, p := range names {
		q := o
		q.Procedure, q.Root = p, filepath.Join(base, p)
		d, err := fleet.Setup(q)
		if err != nil {
			closeAll()
			return withCode(steps.ExitUsage, fmt.Errorf("demo: %v (a kept demo may be stale: try hawiz demo --fresh)", err))
		}
		demos = append(demos, d)
		cfg.Procedures = append(cfg.Procedures, d.Procedure)
		cfg.Answers[d.Procedure.Name] = d.Answers
		cfg.PlanNotes[d.Procedure.Name] = append([]string{"hawiz demo filled these answers in; where the demo differs from a real run:"}, d.Notes...)
		cfg.Getenv = d.Getenv()
	}
	dir, err := steps.DefaultStateDir(cfg.Getenv)
	if err != nil {
		closeAll()
		return err
	}
	cfg.StateDir = dir
	if !o.Keep {
		// as the exit below decides: removed unless a run is unfinished
		cfg.RemovedOnExit = func() string {
			if len(tui.ListResumable(dir)) > 0 {
				return ""
			}
			return "The demo root (state, transcript, evidence report) is removed when you exit: " +
				"run `hawiz demo --keep` to keep the evidence report."
		}
	}
	var code int
	if accessible {
		code, err = tui.RunAccessible(c.Context(), cfg, os.Stdin, c.OutOrStdout())
	} else {
		code, err = tui.Run(c.Context(), cfg)
	}
	closeAll()
	unfinished := len(tui.ListResumable(dir)) > 0
	switch {
	case o.Keep:
		fmt.Fprintf(c.ErrOrStderr(), "demo: kept the demo root %s (its services are stopped)\n", base)
	case unfinished:
		fmt.Fprintf(c.ErrOrStderr(), "demo: an unfinished run is kept in %s: run `hawiz demo` again to resume it (`hawiz demo --fresh` forgets it)\n", base)
	default:
		os.RemoveAll(base)
	}
	if err != nil {
		if code == steps.ExitOK {
			code = steps.ExitFailed
		}
		return withCode(code, err) // the accessible wizard's error comes with its code
	}
	if code != steps.ExitOK {
		return withCode(code, fmt.Errorf("demo: the run did not finish (exit %d)", code))
	}
	return nil
}

// stopKept kills the services a kept demo recorded (normally none run).
func stopKept(base string) {
	files, _ := filepath.Glob(filepath.Join(base, "*", "*", "run", "*.pid"))
	more, _ := filepath.Glob(filepath.Join(base, "*", "*", "*", "tmp", "*.pid"))
	for _, p := range append(files, more...) {
		b, _ := os.ReadFile(p)
		var pid int
		fmt.Sscan(string(b), &pid)
		if fleet.Alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
