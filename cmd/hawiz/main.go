// Command hawiz is a terminal wizard that runs vendors' documented
// high-availability procedures over SSH, verifies every step, checks the
// round-robin DNS records and checkpoints progress so a run can resume.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"charm.land/fang/v2"
	"github.com/charmbracelet/x/term"
	"github.com/hawiz/hawiz/steps"
	"github.com/spf13/cobra"
)

// Set by the linker: -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234".
var (
	version = ""
	commit  = ""
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that main exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageErrorf reports bad input: exit 2, nothing touched.
func usageErrorf(format string, args ...any) error {
	return withCode(steps.ExitUsage, fmt.Errorf(format, args...))
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "hawiz",
		Short: "Run vendors' high-availability procedures over SSH, verified and resumable",
		Long: "hawiz takes an operator through the vendors' documented high-availability\n" +
			"procedures (Micetro Central HA, MongoDB Ops Manager Application HA, and their\n" +
			"upgrades): it asks for what it needs, shows the plan, runs every step on the\n" +
			"servers over SSH, verifies each one, checks the round-robin DNS records and\n" +
			"checkpoints progress so an interrupted run resumes where it stopped.",
		Example: "  hawiz                                   # the wizard (full screen; --accessible for prompts)\n" +
			"  hawiz demo                              # try it on an embedded demo fleet\n" +
			"  hawiz answers micetro-central-ha > central.yaml\n" +
			"  hawiz plan micetro-central-ha -a central.yaml\n" +
			"  hawiz run micetro-central-ha -a central.yaml\n" +
			"  hawiz status --all",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          rootArgs,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return withCode(steps.ExitUsage, err)
	})
	// hawiz with no arguments: the wizard.
	addHome(root, defaultDeps()) // cmd/hawiz/home.go: the wizard (TUI, or --accessible prompts)
	// One constructor per command, each in its own file of this package.
	root.AddCommand(
		newDNSCmd(),
		newProceduresCmd(),
		newAnswersCmd(),
		newPlanCmd(),
		newRunCmd(),
		newResumeCmd(),
		newStatusCmd(),
		newCheckCmd(),
		newDemoCmd(),
		newStandinCmd(),
		newManCmd(),
		newRollbackCmd(),
	// (commands are added here, one line each)
	)
	return root
}

// printError shows an error without changing a letter of it: messages name
// fields, flags and hosts exactly ("members[1].priority: …", "--expect: …"),
// so fang's default (which capitalises and appends a period) is not used.
// Without a terminal on stderr it prints one plain line.
func printError(w io.Writer, styles fang.Styles, err error) {
	if !term.IsTerminal(os.Stderr.Fd()) {
		_, _ = fmt.Fprintln(w, "hawiz: "+err.Error())
		return
	}
	_, _ = fmt.Fprintln(w, styles.ErrorHeader.String())
	_, _ = fmt.Fprintln(w, styles.ErrorText.UnsetTransform().UnsetWidth().Render(err.Error()))
	_, _ = fmt.Fprintln(w)
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	opts := []fang.Option{
		fang.WithNotifySignal(os.Interrupt, syscall.SIGTERM),
		fang.WithErrorHandler(printError),
	}
	// the version and revision of the linker or of the build information
	// (fang reads the latter only for `go install module@version`), and
	// our own man page (manpage.go)
	opts = append(opts, fang.WithVersion(versionLine()), fang.WithoutManpage())
	err := fang.Execute(ctx, root, opts...)
	if err == nil {
		return steps.ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own argument and flag errors are usage errors.
	return steps.ExitUsage
}
