package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/catalog"
	"github.com/hawiz/hawiz/steps/localfile"
	"github.com/hawiz/hawiz/tui"
)

// deps are what the engine commands need from the outside world; tests
// replace them.
type deps struct {
	catalog func() []*steps.Procedure
	getenv  func(string) string
	stdin   *os.File
	remote  remote.Options // base connection options
	version string
}

func defaultDeps() deps {
	return deps{catalog: catalog.All, getenv: os.Getenv, stdin: os.Stdin, version: versionString()}
}

// versionString is the version recorded in state files and shown by
// --version (cli.go: the linker's, else the build information's).
func versionString() string { return versionLine() }

func (d deps) find(name string) (*steps.Procedure, error) {
	var names []string
	for _, p := range d.catalog() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return nil, usageErrorf("unknown procedure %q%s (known: %s; `hawiz procedures` describes them)", name, didYouMean(name, names), strings.Join(names, ", "))
}

// loadAnswers reads and validates an answers file: exit 2 with every error.
func (d deps) loadAnswers(p *steps.Procedure, path string) (steps.Answers, error) {
	if path == "" {
		return nil, usageErrorf("%s needs an answers file: -a FILE (`hawiz answers %s > FILE` prints a template)", p.Name, p.Name)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errMissingAnswers(p, path)
	}
	if err != nil {
		return nil, usageErrorf("answers: %v", err)
	}
	a, err := steps.LoadAnswers(p, data)
	if err != nil {
		msg := err.Error()
		if fe, ok := err.(steps.FieldErrors); ok {
			lines := make([]string, len(fe))
			for i, e := range fe {
				lines[i] = "  " + e.Error()
			}
			msg = strings.Join(lines, "\n")
		}
		return nil, usageErrorf("answers file %s is not valid (nothing was touched):\n%s", path, msg)
	}
	return a, nil
}

// outFlags are the output/interaction flags of run, resume and check.
type outFlags struct {
	yes, plain, json  bool
	logFile           string
	sessionPerCommand bool
}

func (f *outFlags) add(c *cobra.Command) {
	c.Flags().BoolVarP(&f.yes, "yes", "y", false, "answer yes to confirmations and accept unknown host keys (never a changed one); manual steps still stop the run (exit 3)")
	c.Flags().BoolVar(&f.plain, "plain", false, "one line per event, no colour or cursor movement, no prompts (default when stdout is not a terminal)")
	c.Flags().BoolVar(&f.json, "json", false, "one JSON object per event on stdout, no prompts")
	c.Flags().StringVar(&f.logFile, "log", "", "write a debug log (JSON lines, secrets redacted) to FILE")
	c.Flags().BoolVar(&f.sessionPerCommand, "session-per-command", false, "run every remote command in an SSH session of its own, each with its own sudo, so the hosts' sudo logs list every command (slower); by default one resident shell per host and privilege runs them")
}

// remoteOptions are d's connection options with the flags applied.
func (f *outFlags) remoteOptions(d deps) remote.Options {
	o := d.remote
	o.SessionPerCommand = o.SessionPerCommand || f.sessionPerCommand
	return o
}

// session is the renderer, operator, redactor and logger of one command.
type session struct {
	renderer steps.Renderer
	operator steps.Operator
	redactor *remote.Redactor
	logger   *slog.Logger
	close    func()
}

func (f *outFlags) session(c *cobra.Command, d deps) (*session, error) {
	if f.plain && f.json {
		return nil, usageErrorf("--plain and --json cannot be combined")
	}
	out := c.OutOrStdout()
	errOut := c.ErrOrStderr()
	s := &session{redactor: remote.NewRedactor(), close: func() {}}
	stdoutTTY := false
	if fo, ok := out.(*os.File); ok {
		stdoutTTY = tui.IsTerminal(fo)
	}
	interactive := stdoutTTY && tui.IsTerminal(d.stdin) && !f.plain && !f.json && !f.yes
	switch {
	case f.json:
		s.renderer = tui.NewJSONRenderer(out)
	default:
		// run, resume and check print one line per event (also at a
		// terminal, where they ask at line prompts); the full-screen TUI is
		// the wizard's: `hawiz` with no command and `hawiz demo` (home.go).
		s.renderer = tui.NewPlainRenderer(out)
	}
	if interactive {
		s.operator = tui.NewLineOperator(d.stdin, errOut)
	} else {
		s.operator = tui.NonInteractiveOperator{NonInteractive: steps.NonInteractive{Yes: f.yes}, In: d.stdin, Out: errOut}
	}
	s.logger = slog.New(slog.DiscardHandler)
	if f.logFile != "" {
		lf, err := openLog(f.logFile)
		if err != nil {
			return nil, usageErrorf("--log: %v", err)
		}
		h := slog.NewJSONHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug})
		s.logger = slog.New(steps.NewRedactingHandler(h, s.redactor))
		s.close = func() { lf.Close() }
	}
	return s, nil
}

// runFlags select steps (run and resume).
type runFlags struct {
	from, only string
	redo, skip []string
	statePath  string
}

func (f *runFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.statePath, "state", "", "state FILE (default $XDG_STATE_HOME/hawiz/PROCEDURE-NAME.json)")
	c.Flags().StringVar(&f.from, "from", "", "start at STEP (earlier steps are left as they are; warns when that breaks the documented order)")
	c.Flags().StringVar(&f.only, "only", "", "run just STEP (warns when its prerequisites are not done)")
	c.Flags().StringSliceVar(&f.redo, "redo", nil, "apply STEP again even when its check says done (repeatable)")
	c.Flags().StringSliceVar(&f.skip, "skip", nil, "mark STEP skipped without running it (repeatable; warns about steps that depend on it)")
}

var runNameRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// defaultRunName is the answers file's base name without extension.
func defaultRunName(answersFile string) string {
	base := strings.TrimSuffix(filepath.Base(answersFile), filepath.Ext(answersFile))
	base = strings.Trim(runNameRE.ReplaceAllString(base, "-"), "-.")
	if base == "" {
		return "default"
	}
	return base
}

func newRunCmd() *cobra.Command { return newRunCmdWith(defaultDeps()) }

func newRunCmdWith(d deps) *cobra.Command {
	var (
		of      outFlags
		rf      runFlags
		answers string
		name    string
		confirm []string
	)
	c := &cobra.Command{
		Use:   "run PROCEDURE -a FILE",
		Short: "Run a procedure: check, apply and verify every step, checkpointing as it goes",
		Long: "Run a procedure on the hosts named in the answers file. For every step and host\n" +
			"hawiz runs its check (skipping what is already done), applies it and verifies it,\n" +
			"writing the state file after every transition so an interrupted run resumes\n" +
			"with `hawiz resume`. Manual steps (vendor web UI) show instructions and wait for\n" +
			"confirmation; without a terminal the run stops with exit 3 and tells you how to\n" +
			"confirm with `hawiz resume --confirm STEP`. --confirm STEP (repeatable) records\n" +
			"up front that a manual step is done (automation: the vendor UI work is done\n" +
			"another way), so one run goes to the end; the step's verification still runs.",
		Example: "  hawiz answers micetro-central-ha > central.yaml   # fill it in\n" +
			"  hawiz run micetro-central-ha -a central.yaml\n" +
			"  hawiz run micetro-central-ha -a central.yaml --plain --yes --confirm STEP   # unattended\n" +
			"  hawiz run opsmanager-ha -a om.yaml --only verify-through-load-balancer",
		Args:              procedureArg(d, false),
		ValidArgsFunction: completeProcedure(d),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := d.find(args[0])
			if err != nil {
				return err
			}
			a, err := d.loadAnswers(p, answers)
			if err != nil {
				return err
			}
			if name == "" {
				name = defaultRunName(answers)
			}
			abs, _ := filepath.Abs(answers)
			return runEngine(c, d, &of, steps.RunConfig{
				Procedure: p, Answers: a, AnswersFile: abs, RunName: name,
				StatePath: rf.statePath, From: rf.from, Only: rf.only, Redo: rf.redo, Skip: rf.skip, Confirm: confirm,
			})
		},
	}
	c.Flags().StringVarP(&answers, "answers", "a", "", "answers FILE (YAML; hawiz answers PROCEDURE prints a template)")
	c.Flags().StringVar(&name, "name", "", "run NAME, part of the default state file name (default: the answers file's base name)")
	c.Flags().StringSliceVar(&confirm, "confirm", nil, "record that manual STEP is done (by hand, or by automation, in advance) so the run does not stop there; its verification still runs (repeatable)")
	of.add(c)
	rf.add(c)
	_ = c.MarkFlagFilename("answers", "yaml", "yml")
	registerStepCompletion(c, d)
	return c
}

// runEngine runs steps.Run with the session's renderer and operator and
// maps the outcome to the exit code.
func runEngine(c *cobra.Command, d deps, of *outFlags, cfg steps.RunConfig) error {
	s, err := of.session(c, d)
	if err != nil {
		return err
	}
	defer s.close()
	cfg.Renderer, cfg.Operator, cfg.Redactor, cfg.Logger = s.renderer, s.operator, s.redactor, s.logger
	cfg.Yes, cfg.Getenv, cfg.Remote, cfg.ToolVersion = of.yes, d.getenv, of.remoteOptions(d), d.version
	out, err := steps.Run(c.Context(), cfg)
	if out.StatePath != "" {
		reportFiles(c.OutOrStdout(), of.json, out.StatePath)
	}
	return withCode(steps.ExitCode(err), err)
}

// reportFiles says where the run's record is, after its last event: three
// lines (state, transcript, evidence; those that exist), or with --json
// one object {"kind":"files","files":{…}}.
func reportFiles(w io.Writer, asJSON bool, statePath string) {
	if asJSON {
		_ = json.NewEncoder(w).Encode(struct {
			Kind  string   `json:"kind"`
			Files runFiles `json:"files"`
		}{"files", filesOf(statePath)})
		return
	}
	writeFiles(w, statePath)
}

// runHome is `hawiz` with no arguments and no terminal: help, exit 2. (With
// a terminal, home.go opens the wizard.)
func runHome(c *cobra.Command, _ deps) error {
	_ = c.Help()
	return withCode(steps.ExitUsage, fmt.Errorf("no terminal: name a command (hawiz procedures, hawiz run …)"))
}

// openLog opens the --log file for appending without following a link
// (a link planted there could point at a file of someone else's). A link
// to a device or a pipe (/dev/stderr, /dev/fd/N) is not a file to clobber:
// it is opened as it is, never created.
func openLog(path string) (*os.File, error) {
	lf, err := localfile.OpenNoFollow(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	var le *localfile.LinkError
	if err != nil && errors.As(err, &le) {
		if fi, serr := os.Stat(path); serr == nil && fi.Mode()&(fs.ModeCharDevice|fs.ModeNamedPipe) != 0 {
			return os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		}
	}
	return lf, err
}
