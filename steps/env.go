package steps

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/hawiz/hawiz/remote"
)

// Secret names with a documented environment variable. Any other name N is
// read from HAWIZ_<N upper-cased, '-' and '.' as '_'> before the operator is asked.
const (
	SecretSudoPassword  = "sudo-password"  // HAWIZ_SUDO_PASSWORD
	SecretSSHPassword   = "ssh-password"   // HAWIZ_SSH_PASSWORD
	SecretKeyPassphrase = "key-passphrase" // HAWIZ_KEY_PASSPHRASE
	SecretAppDBPassword = "appdb-password" // HAWIZ_APPDB_PASSWORD
)

// SecretEnvVar returns the environment variable Env.Secret reads for name.
func SecretEnvVar(name string) string {
	r := strings.NewReplacer("-", "_", ".", "_", " ", "_")
	return "HAWIZ_" + strings.ToUpper(r.Replace(name))
}

var secretPrompts = map[string]string{
	SecretSudoPassword:  "sudo password",
	SecretSSHPassword:   "SSH password",
	SecretKeyPassphrase: "SSH key passphrase",
	SecretAppDBPassword: "Application Database password",
	SecretTSIGKey:       "TSIG key the run signed its DNS update with, as [ALGORITHM:]NAME:SECRET",
}

// Env is what a step's Check, Apply and Verify get: the connected fleet, the
// operator, facts that persist in the state, secrets, the redactor and a
// logger. Its methods are safe for concurrent use (Parallel steps).
type Env struct {
	ctx       context.Context
	answers   Answers
	fleet     *remote.Fleet
	operator  Operator
	redactor  *remote.Redactor
	logger    *slog.Logger
	getenv    func(string) string
	emit      func(Event)                  // nil-safe via e.event
	saveFacts func() error                 // persists facts (nil in plan/tests)
	step      func() string                // current step ID for Output events
	record    func(step string, c *Change) // the change journal (journal.go; nil outside the engine)

	mu          sync.Mutex
	facts       map[string]string
	secrets     map[string]string
	sudoChecked bool       // the engine proved sudo on every host when it connected
	asking      sync.Mutex // one secret prompt at a time
}

// NewEnv returns an Env for tests of a procedure's step functions outside the
// engine. fleet may be nil (local steps); op nil = NonInteractive(false).
func NewEnv(ctx context.Context, a Answers, fleet *remote.Fleet, op Operator) *Env {
	if op == nil {
		op = NonInteractive{}
	}
	return &Env{
		ctx: ctx, answers: a, fleet: fleet, operator: op,
		redactor: remote.NewRedactor(),
		logger:   slog.New(slog.DiscardHandler),
		getenv:   os.Getenv,
		facts:    map[string]string{},
		secrets:  map[string]string{},
	}
}

// Answers returns the run's validated answers (type-assert to the procedure's type).
func (e *Env) Answers() Answers { return e.answers }

// Host returns the connected host by its answers name (with what is known
// of its TCP forwarding, recorded or found, in step: syncForwarding). A name the fleet
// does not hold (not in the answers, not connected, a local step's "") is an
// error naming it, never a nil host.
func (e *Env) Host(name string) (*remote.Host, error) {
	if name == "" {
		return nil, fmt.Errorf("no host named: a local step has no host")
	}
	var h *remote.Host
	if e.fleet != nil {
		h = e.fleet.Host(name)
	}
	if h == nil {
		return nil, fmt.Errorf("host %s: not connected", name)
	}
	e.syncForwarding(h) // forwarding.go
	if e.record != nil {
		h.OnChange(e.journalChange) // journal.go
	}
	return h, nil
}

// Fleet returns every connected host (nil when the procedure has none).
func (e *Env) Fleet() *remote.Fleet { return e.fleet }

// SudoChecked reports whether the engine proved, when it connected this run,
// that sudo works on every host (remote.Fleet.CheckSudo), so a step need not
// prove it again. False outside the engine (NewEnv) and with sudo: none.
func (e *Env) SudoChecked() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sudoChecked
}

// Operator returns whoever answers questions in this run.
func (e *Env) Operator() Operator { return e.operator }

// Output streams one line of a step's output to the renderer, redacted.
func (e *Env) Output(host, line string) {
	if e.emit == nil {
		return
	}
	step := ""
	if e.step != nil {
		step = e.step()
	}
	e.emit(Event{Kind: EventOutput, Step: step, Host: host, Output: []string{e.redactor.Redact(line)}})
}

// Fact returns a small non-secret value recorded earlier in this run (also
// in a previous, interrupted session of it).
func (e *Env) Fact(key string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.facts[key]
	return v, ok
}

// SetFact records a small non-secret value ("primary.prefs.sha256") in the
// state, written at once so it survives an interruption.
func (e *Env) SetFact(key, value string) {
	e.mu.Lock()
	if old, ok := e.facts[key]; ok && old == value {
		e.mu.Unlock()
		return // already recorded (and saved): no state write
	}
	e.facts[key] = value
	e.mu.Unlock()
	if e.saveFacts != nil {
		if err := e.saveFacts(); err != nil {
			e.logger.Error("saving fact", "key", key, "err", err)
		}
	}
}

// Secret returns the secret called name: from this run's cache, else the
// environment variable SecretEnvVar(name), else the operator (asked once per
// run). The value is registered with the Redactor and never persisted.
func (e *Env) Secret(name string) (string, error) {
	e.asking.Lock()
	defer e.asking.Unlock()
	e.mu.Lock()
	v, ok := e.secrets[name]
	e.mu.Unlock()
	if ok {
		return v, nil
	}
	v = e.getenv(SecretEnvVar(name))
	from := "from " + SecretEnvVar(name)
	if v == "" {
		from = "as entered"
		prompt := secretPrompts[name]
		if prompt == "" {
			prompt = name
		}
		var err error
		v, err = e.operator.Secret(e.ctx, name, prompt)
		if err != nil {
			return "", fmt.Errorf("secret %s (or set %s): %w", name, SecretEnvVar(name), err)
		}
	}
	if err := checkSecret(name, from, v); err != nil {
		return "", err
	}
	e.redactor.Add(v)
	e.mu.Lock()
	e.secrets[name] = v
	e.mu.Unlock()
	return v, nil
}

// checkSecret refuses a secret value that cannot be passed on as it is: a
// line break or NUL in it would be cut or reinterpreted on the way (sudo
// reads its password up to the first newline and the rest would become the
// command's input). The error names the field and where the value came
// from (from is "from HAWIZ_…" or "as entered"), never the value.
func checkSecret(name, from, v string) error {
	what, why := "", ""
	switch {
	case strings.ContainsAny(v, "\r\n"):
		what = "a line break (CR or LF)"
		switch name {
		case SecretSudoPassword:
			why = "sudo reads only up to the first newline and the rest would become the command's input"
		case SecretSSHPassword, SecretKeyPassphrase:
			why = "ssh and ssh-keygen read a password or passphrase only up to the first newline, so no host or key has it"
		default:
			why = "a secret is one line of text and would be cut or misread where it is used"
		}
	case strings.IndexByte(v, 0) >= 0:
		what, why = "a NUL byte", "it would be cut there"
	default:
		return nil
	}
	field := secretPrompts[name]
	if field == "" {
		field = name
	}
	return fmt.Errorf("%s (%s): contains %s; %s", field, from, what, why)
}

// Redactor returns the run's redactor; register derived secret values with
// it (e.g. a file's content) before they can reach any output.
func (e *Env) Redactor() *remote.Redactor { return e.redactor }

// Logger returns the run's debug logger (secrets redacted); never nil.
func (e *Env) Logger() *slog.Logger { return e.logger }

// Warn emits a warning event that is also recorded in the transcript.
func (e *Env) Warn(host, format string, args ...any) {
	if e.emit == nil {
		return
	}
	step := ""
	if e.step != nil {
		step = e.step()
	}
	e.emit(Event{Kind: EventWarning, Step: step, Host: host, Message: e.redactor.Redact(fmt.Sprintf(format, args...))})
}
