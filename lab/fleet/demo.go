package fleet

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// demoSetup is one procedure the demo can run. Its setup, in the file
// demo_<procedure>.go, starts the fleet and sets d.Fleet (as soon as it is
// started: Setup closes it on an error), d.Procedure, d.Answers (Setup
// validates them) and d.Notes (what differs from a real run).
type demoSetup struct {
	procedure string
	setup     func(d *Demo) error
}

// demoSetups lists the procedures the demo can run, the default first. A
// procedure joins the demo with one line here and its own file.
func demoSetups() []demoSetup {
	return []demoSetup{
		{"micetro-central-ha", setupMicetroCentralHA},
		{"opsmanager-ha", setupOpsManagerHA},
		{"micetro-central-upgrade", setupMicetroCentralUpgrade},
		{"micetro-remove-member", setupMicetroRemoveMember},
		{"micetro-change-active", setupMicetroChangeActive},
		{"opsmanager-remove-server", setupOpsManagerRemoveServer},
	}
}

// DemoProcedures are the procedures the demo can run, the default first.
func DemoProcedures() []string {
	var out []string
	for _, s := range demoSetups() {
		out = append(out, s.procedure)
	}
	return out
}

// Options is one `hawiz demo`.
type Options struct {
	Procedure string        // default micetro-central-ha
	Members   int           // default 3
	Seed      uint64        // 0 = random keys and names
	Speed     time.Duration // pause in every step so a recording can be followed
	Fail      string        // step ID whose first attempt fails (injected by the demo)
	Keep      bool          // keep the root and say where it is
	Exe       string        // binary with `__standin`; "" = os.Executable()
	TempDir   string        // "" = os.TempDir()
	Version   string        // hawiz version recorded in the state
	// Root is a fixed fleet root (fleet.Config.Root): a kept demo comes back
	// as it was, for the wizard's resume. "" = a fresh temporary root.
	Root string
	// Fresh: forget a kept demo at Root (the caller removes it).
	Fresh bool
	// StateHome is XDG_STATE_HOME for the run; "" = ROOT/state.
	StateHome string
	// Rollback: once the run finished, RunPlain rolls it back on the same
	// fleet (hawiz rollback), confirming its manual undo steps as the demo
	// confirms manual steps.
	Rollback bool
}

// Demo is a started demo: the fleet, the procedure and its answers.
type Demo struct {
	Opts      Options
	Fleet     *Fleet
	Procedure *steps.Procedure
	Answers   steps.Answers
	StatePath string
	Notes     []string // what differs from a real run, shown before the plan
}

// Setup starts the fleet and builds the procedure's answers.
func Setup(o Options) (*Demo, error) {
	if o.Procedure == "" {
		o.Procedure = demoSetups()[0].procedure
	}
	if o.Members == 0 {
		o.Members = 3
	}
	d := &Demo{Opts: o}
	var setup func(*Demo) error
	for _, s := range demoSetups() {
		if s.procedure == o.Procedure {
			setup = s.setup
		}
	}
	if setup == nil {
		return nil, fmt.Errorf("--procedure %q: the demo runs %s", o.Procedure, strings.Join(DemoProcedures(), ", "))
	}
	if err := setup(d); err != nil {
		if d.Fleet != nil {
			d.Fleet.Close()
		}
		return nil, err
	}
	if err := d.Answers.Validate(); err != nil {
		d.Fleet.Close()
		return nil, fmt.Errorf("demo answers: %w", err)
	}
	if o.Fail != "" {
		if err := d.checkFail(); err != nil {
			d.Fleet.Close()
			return nil, err
		}
	}
	d.StatePath = d.Fleet.StateDir + "/" + d.Procedure.Name + "-demo.json"
	if o.Root != "" {
		d.Notes = append(d.Notes, "the demo root is kept while a run is unfinished: run `hawiz demo` again to resume it")
	}
	if o.Speed > 0 || o.Fail != "" {
		d.Procedure = d.wrap(d.Procedure)
	}
	return d, nil
}

// checkFail refuses a --fail that names no step of the demo's run (the
// failure would never be injected), with the steps it may have meant.
func (d *Demo) checkFail() error {
	list, err := d.Procedure.Steps(d.Answers)
	if err != nil {
		return err
	}
	var ids []string
	for _, s := range list {
		if s.ID == d.Opts.Fail {
			return nil
		}
		ids = append(ids, s.ID)
	}
	hint := ""
	if m := steps.Suggest(d.Opts.Fail, ids); len(m) > 0 {
		hint = "; did you mean " + m[0] + "?"
	}
	return fmt.Errorf("--fail %q: %s has no such step%s (its steps: %s)", d.Opts.Fail, d.Procedure.Name, hint, strings.Join(ids, ", "))
}

// checkMembers refuses an o.Members the procedure's demo cannot run; unit
// names what it counts ("members", "servers").
func checkMembers(o Options, unit string) error {
	if o.Members < 2 || o.Members > 9 {
		return fmt.Errorf("--members %d: %s needs 2 to 9 %s", o.Members, o.Procedure, unit)
	}
	return nil
}

// demoHostNames is prefix1 … prefixN.
func demoHostNames(prefix string, n int) []string {
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("%s%d", prefix, i))
	}
	return names
}

// demoSSH is the answers' ssh block for f: the demo user, f's key and
// known_hosts, no ssh_config, no sudo.
func demoSSH(f *Fleet) steps.SSHAnswers {
	return steps.SSHAnswers{User: demoUser(), IdentityFile: f.KeyFile, KnownHosts: f.KnownHosts, SSHConfig: "none", Sudo: steps.SudoNone}
}

// demoHostsNote is every demo's first note: where the hosts are and who
// runs their commands.
func demoHostsNote(f *Fleet) string {
	return fmt.Sprintf("%d demo hosts are in-process SSH servers on 127.0.0.1 (ports %s); commands run on this machine as %s (ssh.sudo: none)", len(f.Hosts), sshPorts(f), demoUser())
}

func sshPorts(f *Fleet) string {
	var p []string
	for _, h := range f.Hosts {
		p = append(p, fmt.Sprint(h.SSH.Port()))
	}
	return strings.Join(p, ", ")
}

func demoUser() string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	return "demo"
}

// wrap returns p with the demo's pacing and injected failure: every step
// pauses Opts.Speed, and the first attempt of Opts.Fail fails.
func (d *Demo) wrap(p *steps.Procedure) *steps.Procedure {
	q := *p
	var mu sync.Mutex
	failed := false
	pause := func(ctx context.Context) {
		if d.Opts.Speed <= 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(d.Opts.Speed):
		}
	}
	inject := func(id string) error {
		mu.Lock()
		defer mu.Unlock()
		if id != d.Opts.Fail || failed {
			return nil
		}
		failed = true
		return fmt.Errorf("failure injected by hawiz demo --fail %s (retry it: the next attempt works)", id)
	}
	q.Steps = func(a steps.Answers) ([]*steps.Step, error) {
		list, err := p.Steps(a)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			s := s
			if check := s.Check; check != nil {
				s.Check = func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
					pause(ctx)
					if err := inject(s.ID); err != nil {
						return false, "", err
					}
					return check(ctx, e, h)
				}
			} else if apply := s.Apply; apply != nil {
				s.Apply = func(ctx context.Context, e *steps.Env, h string) error {
					pause(ctx)
					if err := inject(s.ID); err != nil {
						return err
					}
					return apply(ctx, e, h)
				}
			}
		}
		return list, nil
	}
	return &q
}

// RunConfig returns the engine configuration of the demo run: state,
// transcript and evidence in the demo root, the demo's known_hosts, no
// ~/.ssh/config, no agent.
func (d *Demo) RunConfig(r steps.Renderer, op steps.Operator) steps.RunConfig {
	return steps.RunConfig{
		Procedure: d.Procedure, Answers: d.Answers, AnswersFile: "(hawiz demo answers)", RunName: "demo",
		StatePath: d.StatePath, Renderer: r, Operator: op, Yes: true,
		Remote:      remote.Options{SSHConfigFile: "none", AgentSocket: "none", KnownHostsFile: d.Fleet.KnownHosts},
		Getenv:      d.Getenv(),
		ToolVersion: d.Opts.Version,
	}
}

// Getenv is the run's environment: see demoGetenv.
func (d *Demo) Getenv() func(string) string {
	if d.Opts.StateHome != "" {
		return demoGetenv(d.Opts.StateHome)
	}
	return demoGetenv(d.Fleet.Root + "/state")
}

// demoGetenv keeps the demo's state out of the user's state directory and
// the user's HAWIZ_* secrets out of the demo.
func demoGetenv(stateHome string) func(string) string {
	return func(k string) string {
		switch {
		case k == "XDG_STATE_HOME":
			return stateHome
		case k == steps.SecretEnvVar(steps.SecretAppDBPassword):
			return DemoAppDBPassword
		case strings.HasPrefix(k, "HAWIZ_"):
			return ""
		}
		return os.Getenv(k)
	}
}

// DemoAppDBPassword is the demo App DB's password (a demo secret: it is
// redacted like a real one).
const DemoAppDBPassword = "demo-appdb-secret"

// Close stops the fleet and removes the root unless Opts.Keep.
func (d *Demo) Close() error {
	if d.Opts.Keep {
		return d.Fleet.Stop()
	}
	return d.Fleet.Close()
}

// syncRenderer serialises events from the engine and the demo operator.
type syncRenderer struct {
	mu sync.Mutex
	r  steps.Renderer
	// demoHint: messages suggest running the demo again instead of a
	// resume command that cannot work after the demo (withoutResume)
	demoHint bool
}

func (s *syncRenderer) Event(ev steps.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if s.demoHint {
		ev.Message = withoutResume(ev.Message)
	}
	s.r.Event(ev)
}

// Operator is the demo's operator for --plain: it accepts the demo hosts'
// keys, confirms the manual steps and answers yes, saying so each time, and
// retries an injected failure once.
type Operator struct {
	R     steps.Renderer
	Retry bool // retry a failed step once (--fail)

	mu      sync.Mutex
	retried bool
}

func (o *Operator) info(msg string) {
	o.R.Event(steps.Event{Kind: steps.EventInfo, Message: msg})
}

// AnswersBy implements steps.AnswerSource: the demo confirms by itself.
func (o *Operator) AnswersBy() string { return steps.ByDemo }

func (o *Operator) ConfirmHostKeys(_ context.Context, keys []remote.NewHostKey) (map[string]bool, error) {
	m := map[string]bool{}
	for _, k := range keys {
		o.info(fmt.Sprintf("the demo accepts the host key of its own in-process server %s (%s): %s %s", k.Host, k.Address, k.KeyType, k.Fingerprint))
		m[k.Host] = true
	}
	return m, nil
}

func (o *Operator) ConfirmManual(_ context.Context, s *steps.Step, host string) error {
	var vals []string
	if s.Manual != nil {
		for _, kv := range s.Manual.Values {
			vals = append(vals, kv.Label+": "+kv.Value)
		}
	}
	msg := "the demo confirms this manual step itself: " + s.Title
	if len(vals) > 0 {
		msg += " (" + strings.Join(vals, ", ") + ")"
	}
	o.info(msg)
	return nil
}

func (o *Operator) Confirm(_ context.Context, q string, _ bool) (bool, error) {
	o.info("the demo answers yes: " + q)
	return true, nil
}

func (o *Operator) Secret(_ context.Context, name, _ string) (string, error) {
	return "", fmt.Errorf("the demo has no %s: %w", name, steps.ErrWaitingForOperator)
}

func (o *Operator) Failure(_ context.Context, s *steps.Step, host string, err error) (steps.FailureChoice, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Retry && !o.retried {
		o.retried = true
		o.info("the demo retries " + s.ID)
		return steps.Retry, nil
	}
	return steps.Quit, nil
}

func (o *Operator) Wait(ctx context.Context, msg string, poll func(ctx context.Context) (bool, string, error)) error {
	o.info("the demo waits: " + msg)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, _, err := poll(ctx)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return steps.ErrWaitingForOperator
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// RunPlain runs the demo to the end without a terminal, rendering events
// with r (the plain renderer), and returns the engine's error.
func (d *Demo) RunPlain(ctx context.Context, w io.Writer, r steps.Renderer) (steps.Outcome, error) {
	sr := &syncRenderer{r: r}
	for _, n := range d.Notes {
		fmt.Fprintln(w, "demo: "+n)
	}
	if err := steps.WritePlan(w, d.Procedure, d.Answers); err != nil {
		return steps.Outcome{}, err
	}
	op := &Operator{R: sr, Retry: d.Opts.Fail != ""}
	sr.demoHint = true
	out, err := steps.Run(ctx, d.RunConfig(sr, op))
	if err == nil && d.Opts.Rollback {
		out, err = d.rollbackPlain(ctx, w, sr, op)
	}
	if out.Resume != "" {
		out.Resume = ""
	}
	if err != nil {
		err = &demoError{err: err}
	}
	return out, err
}

// rollbackPlain rolls the finished demo run back on the same fleet, as
// `hawiz rollback --state STATE --yes` would: its plan, then the engine
// on the procedure generated from the run's change journal, with its
// state, transcript and evidence beside the run's. The demo operator
// confirms the manual undo steps (work hawiz cannot undo) as it confirms
// the run's manual steps, saying so.
func (d *Demo) rollbackPlain(ctx context.Context, w io.Writer, r steps.Renderer, op steps.Operator) (steps.Outcome, error) {
	st, err := steps.ReadState(d.StatePath)
	if err != nil {
		return steps.Outcome{}, err
	}
	p, err := steps.RollbackProcedure(st, d.Procedure)
	if err != nil {
		return steps.Outcome{}, err
	}
	fmt.Fprintf(w, "demo: the run finished; now its rollback, as `hawiz rollback --state %s --yes` does it:\n", d.StatePath)
	if err := steps.WritePlan(w, p, d.Answers); err != nil {
		return steps.Outcome{}, err
	}
	cfg := d.RunConfig(r, op)
	cfg.Procedure, cfg.StatePath = p, steps.RollbackStatePath(d.StatePath)
	return steps.Run(ctx, cfg)
}

// demoResumeHint replaces the engine's `hawiz resume --state …`, which
// cannot work once the demo has exited: its hosts are in-process servers
// that stop with it (and its root is removed unless --keep).
const demoResumeHint = "the demo's hosts stop when it exits, so it cannot be resumed: run `hawiz demo` again"

// withoutResume is msg with the engine's "; resume with: …" replaced by
// demoResumeHint.
func withoutResume(msg string) string {
	if before, _, ok := strings.Cut(msg, "; resume with: "); ok {
		return before + "; " + demoResumeHint
	}
	if before, _, ok := strings.Cut(msg, " — to answer yes, resume with "); ok {
		return before + "; " + demoResumeHint
	}
	return msg
}

// demoError is the engine's error with its resume command replaced
// (withoutResume); its exit code is the engine's.
type demoError struct{ err error }

func (e *demoError) Error() string { return withoutResume(e.err.Error()) }
func (e *demoError) Unwrap() error { return e.err }
