package steps

// Preparing a run, under the state's lock and before any host is touched:
// the state it continues (or the one it replaces), the answers, the steps
// and the flags that name them, the transcript, and the Env the steps get.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps/localfile"
)

// prepare loads or creates the state, builds the steps and checks flags.
// Nothing is written or connected when it fails.
func (r *runner) prepare() error {
	old, err := r.loadPrevious()
	if err != nil {
		return err
	}
	if r.cfg.Resume && r.answers == nil {
		a, err := LoadAnswers(r.p, []byte(old.Answers))
		if err != nil {
			return &RefusedError{Reason: "refusing to resume", Err: fmt.Errorf("the answers in %s are not valid for this hawiz's %s: %w", r.path, r.p.Name, err)}
		}
		r.answers = a
	}
	if r.answers == nil {
		return &UsageError{Err: errors.New("no answers")}
	}
	if r.list, err = BuildSteps(r.p, r.answers); err != nil {
		return err
	}
	if err := r.checkFlags(); err != nil {
		return err
	}
	if err := r.checkHosts(); err != nil {
		return err
	}
	if err := r.startState(old); err != nil {
		return err
	}
	if err := r.openTranscript(); err != nil {
		return err
	}
	r.env = r.newEnv()
	return nil
}

// loadPrevious is the state the store holds: the run a resume continues, a
// finished (or never touched) run a new run replaces, or nil when there is
// none and the run is new. A state of another procedure, or an unfinished
// run that the new run would replace, is refused.
func (r *runner) loadPrevious() (*State, error) {
	old, err := r.store.Load()
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if r.cfg.Resume {
			return nil, &UsageError{Err: fmt.Errorf("no state file %s to resume; start with `hawiz run`", r.path)}
		}
		return nil, nil
	default:
		return nil, err
	}
	if old.Procedure != r.p.Name {
		return nil, &RefusedError{Reason: "refusing to use " + r.path, Err: fmt.Errorf("it belongs to procedure %s, not %s", old.Procedure, r.p.Name)}
	}
	if !r.cfg.Resume && old.Status != StatusDone && old.touched() {
		if !changedAnything(old) {
			r.replaced = fmt.Sprintf("state file %s held a run that changed nothing (%s, updated %s): starting again", r.path, old.Status, old.Updated.Format(time.RFC3339))
			return old, nil
		}
		return nil, &UsageError{Err: fmt.Errorf("state file %s already holds a run of %s (%s, updated %s): continue it with `%s`, or start another run with --name or --state",
			r.path, old.Procedure, old.Status, old.Updated.Format(time.RFC3339), r.resumeCmd())}
	}
	return old, nil
}

// changedAnything reports whether the run st holds may have changed
// something: an Apply was started (its attempts count), or the operator
// confirmed a manual step. A run that only checked (a preflight that
// failed, a Check that erred) changed nothing, and a new run with the same
// command starts again in its place.
func changedAnything(st *State) bool {
	for _, s := range st.Steps {
		for _, h := range s.Hosts {
			if h.Attempts > 0 || h.Confirmed != nil {
				return true
			}
		}
	}
	return false
}

// sshOptions are the connection options: the run's, with the answers' ssh
// block's known_hosts and ssh_config.
func (r *runner) sshOptions() remote.Options {
	opts := r.cfg.Remote
	sa := r.sshAnswers()
	if sa.KnownHosts != "" {
		opts.KnownHostsFile = sa.KnownHosts
	}
	if sa.SSHConfig != "" {
		opts.SSHConfigFile = sa.SSHConfig
	}
	return opts
}

// checkHosts resolves every host of the answers as the connection will
// (ssh_config matched against each host's name and address, its user, its
// ProxyJump chain) and connects nothing: a host without a user, a loop of
// jumps, a ProxyCommand hawiz would bypass or an unreadable ssh_config is
// bad input (exit 2), found before the state is written.
func (r *runner) checkHosts() error {
	hosts := HostConfigs(r.answers)
	if len(hosts) == 0 {
		return nil
	}
	_, err := remote.Routes(r.sshOptions(), hosts)
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var es FieldErrors
	for _, e := range errs {
		var nu *remote.NoUserError
		if errors.As(e, &nu) {
			where := "no ssh_config is read (ssh.ssh_config: none)"
			if nu.ConfigFile != "" {
				where = nu.ConfigFile + " gives no User for " + strings.Join(nu.Names, " or ")
			}
			es.Add("ssh.user", "is required: host %s has no user of its own and %s; hawiz never logs in as the local user", nu.Host, where)
			continue
		}
		es.Add("ssh", "%v", e)
	}
	return es
}

// checkFlags refuses --from, --only, --redo, --skip and --confirm naming a
// step the procedure does not have, --from with --only, and --confirm of a
// step that is not manual.
func (r *runner) checkFlags() error {
	ids := map[string]*Step{}
	for _, s := range r.list {
		ids[s.ID] = s
	}
	check := func(flag string, names ...string) error {
		for _, n := range names {
			if n == "" {
				continue
			}
			if ids[n] == nil {
				return &UsageError{Err: fmt.Errorf("%s %s: no such step in %s (see `hawiz plan`)", flag, n, r.p.Name)}
			}
		}
		return nil
	}
	if r.cfg.From != "" && r.cfg.Only != "" {
		return &UsageError{Err: errors.New("--from and --only cannot be combined")}
	}
	for _, c := range []struct {
		flag  string
		names []string
	}{{"--from", []string{r.cfg.From}}, {"--only", []string{r.cfg.Only}}, {"--redo", r.cfg.Redo}, {"--skip", r.cfg.Skip}, {"--confirm", r.cfg.Confirm}} {
		if err := check(c.flag, c.names...); err != nil {
			return err
		}
	}
	for _, c := range r.cfg.Confirm {
		if ids[c].Manual == nil {
			return &UsageError{Err: fmt.Errorf("--confirm %s: not a manual step", c)}
		}
	}
	return nil
}

// startState sets r.st: the resumed state old, running again, when it was
// written by this definition of the procedure; otherwise a new state.
func (r *runner) startState(old *State) error {
	answersYAML, err := MarshalAnswers(r.answers)
	if err != nil {
		return fmt.Errorf("answers: %w", err)
	}
	if !r.cfg.Resume {
		r.st = newState(r.p, r.list, runNameOr(r.cfg.RunName), answersYAML, r.cfg.AnswersFile, r.cfg.ToolVersion, time.Now().UTC())
		return nil
	}
	if err := checkCompatible(r.path, old, r.p, r.list); err != nil {
		return err
	}
	r.st = old
	r.st.Status = StatusRunning
	r.st.Message = ""
	if r.cfg.ToolVersion != "" {
		r.st.ToolVersion = r.cfg.ToolVersion
	}
	return nil
}

// openTranscript opens the transcript for appending (0600), never through a
// link: a link there is refused.
func (r *runner) openTranscript() error {
	var err error
	tp := TranscriptPath(r.path)
	if r.transcript, err = localfile.OpenNoFollow(tp, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		var le *localfile.LinkError
		if errors.As(err, &le) {
			return &RefusedError{Reason: "refusing to write the transcript", Err: err}
		}
		return fmt.Errorf("transcript: %w", err)
	}
	return nil
}

// newEnv is the Env the steps get, with the facts the state holds; setting
// a fact saves the state.
func (r *runner) newEnv() *Env {
	e := &Env{
		answers: r.answers, operator: r.op, redactor: r.redactor, logger: r.logger,
		getenv: r.getenv, emit: r.emit, facts: map[string]string{}, secrets: map[string]string{},
		step:      func() string { return r.curStep.Load().(string) },
		saveFacts: func() error { return r.save() },
		record:    r.recordChange, // journal.go
	}
	for k, v := range r.st.Facts {
		e.facts[k] = v
	}
	return e
}

func runNameOr(s string) string {
	if s == "" {
		return "default"
	}
	return s
}
