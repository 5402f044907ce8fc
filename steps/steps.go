// Package steps is hawiz's engine: the step model procedures are written in,
// and the runner that plans, runs, verifies, checkpoints and resumes them.
//
// A Procedure builds an ordered list of Steps from validated Answers. For every
// step and host the engine runs Check (read-only: already done?), skips when
// done, otherwise Apply then Verify (the post-condition; what it observed is
// recorded as evidence). A state file is written write-ahead after every
// transition, so an interrupted run resumes: see Run.
//
// Rules for procedure authors:
//   - Step IDs are stable kebab-case; renaming one makes old state files
//     incompatible (the definition fingerprint changes).
//   - Check and Verify must be read-only: `hawiz check` runs them on live hosts.
//   - Apply must be safe to run again after an interruption (the engine runs
//     Check first; a step with a nil Check is applied again when it was started
//     but not finished).
//   - Never put a secret in Answers, Facts, evidence or Output; use Env.Secret,
//     which registers the value with the Redactor.
//   - No package-level mutable state: build everything in Procedure.Steps.
package steps

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hawiz/hawiz/remote"
)

// Mode says how a step runs across its hosts.
type Mode int

const (
	// Once runs the step once: on Hosts[0], or locally (host "") when Hosts is empty.
	Once Mode = iota
	// EachInOrder runs the step on each host in the order of Hosts, one at a
	// time; the first failure stops it.
	EachInOrder
	// Parallel runs the step on all hosts at once; it fails when any host fails.
	Parallel
)

// String returns "once", "each host in order" or "all hosts in parallel".
func (m Mode) String() string {
	switch m {
	case Once:
		return "once"
	case EachInOrder:
		return "each host in order"
	case Parallel:
		return "all hosts in parallel"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Step is one documented step of a procedure.
type Step struct {
	ID     string // stable kebab-case, unique in the procedure, e.g. "add-cluster-member-name"
	Title  string // the documented step's title
	Why    string // one line from the docs: why this step exists
	DocRef string // where the docs describe it: "URL (section as the page names and numbers it)", several joined by "; "

	Hosts []string // host names as in the answers; empty = local (e.g. a DNS check)
	Mode  Mode

	// Actions says what the step does remotely, one line each, for the plan:
	// `append <ClusterMemberName value="central1"/> to /var/mmsuite/mmcentral/preferences.cfg on central1`.
	Actions []string

	// Manual, when non-nil, is work the operator does by hand (a vendor's web
	// UI). The engine runs Check (done → skip), shows the instructions and
	// values, waits for the operator's confirmation (Operator.ConfirmManual),
	// runs Apply when non-nil, then Verify when non-nil.
	Manual *Manual
	// Undo is what undoes the step by hand where hawiz has no technical
	// undo (work in a vendor's UI, another system's configuration, data
	// written into a database): `hawiz rollback` shows it as a manual step
	// at the point where the step was done, citing DocRef. nil = nothing
	// to undo by hand (what the step changed is in the change journal).
	Undo *Manual

	// Check is read-only: is the step already done on host? The evidence
	// string says what was observed. nil = never done (always Apply).
	Check func(ctx context.Context, e *Env, host string) (done bool, evidence string, err error)
	// Apply does the step on host. nil = nothing to do (e.g. a pure check step).
	Apply func(ctx context.Context, e *Env, host string) error
	// Verify checks the post-condition on host after Apply (or after a Check
	// that said done, in `hawiz check`). Read-only. The evidence string is
	// recorded in the state and the evidence report. nil = nothing to verify.
	Verify func(ctx context.Context, e *Env, host string) (evidence string, err error)

	// After lists step IDs that must be done before this one. Used only to
	// warn when --from/--only/--skip/--redo break the order. nil = all the
	// previous steps; an empty non-nil slice = no prerequisites.
	After []string
}

// Manual is operator work in a vendor's UI.
type Manual struct {
	Instructions []string `json:"instructions"`     // exact instructions, one line each, in order
	Values       []KV     `json:"values,omitempty"` // the values to enter, shown as "Label: Value"
}

// KV is one labelled value to show the operator.
type KV struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Procedure is one vendor procedure hawiz can run.
type Procedure struct {
	Name        string // kebab-case, e.g. "micetro-central-ha"; used in state file names
	Title       string // "Micetro Central high availability"
	Description string // one line for `hawiz procedures`
	DocURL      string // the vendor's document this follows
	// Version is bumped when the procedure changes in a way that makes state
	// files written by the previous definition unsafe to resume (it is part of
	// the definition fingerprint, with the ordered step IDs and their hosts).
	Version int

	// NewAnswers returns a pointer to a fresh, zero answers struct (YAML tags,
	// loaded strictly: unknown keys are errors). Defaults are applied by Validate.
	NewAnswers func() Answers
	// Template is the annotated YAML template printed by `hawiz answers`. It
	// must load (LoadAnswers) once its placeholders are filled in.
	Template string
	// The hosts to connect and the ssh block come from the answers: see
	// HostSource.

	// Steps builds the ordered steps from validated answers.
	Steps func(a Answers) ([]*Step, error)
}

// Answers is a procedure's answers struct (a pointer, with YAML tags).
type Answers interface {
	// Validate applies defaults and checks the answers as a whole. It returns
	// nil or FieldErrors listing every problem, each naming its field path.
	Validate() error
}

// HostSource is implemented by a procedure's answers that name hosts to
// connect to over SSH. The engine connects to HostAnswers(), in order, each
// with SSHAnswers()'s defaults (see HostConfigs), and fills the passwords from
// Env secrets as SSHAnswers() asks. Answers that do not implement it connect
// nowhere (every step runs locally).
type HostSource interface {
	// HostAnswers lists every host of the answers, in their order.
	HostAnswers() []HostAnswers
	// SSHAnswers returns the answers' shared ssh block; nil = the defaults
	// (ssh_config, ~/.ssh/known_hosts, sudo nopasswd, key/agent auth).
	SSHAnswers() *SSHAnswers
}

// HostConfigs returns the fleet a's hosts make, in order, each built by the
// ssh block's HostConfig; nil when a names no hosts. Secrets are NOT filled:
// the engine fills Password / SudoPassword from Env secrets.
func HostConfigs(a Answers) []remote.HostConfig {
	src, ok := a.(HostSource)
	if !ok {
		return nil
	}
	hs := src.HostAnswers()
	if len(hs) == 0 {
		return nil
	}
	sa := sshAnswersOf(a)
	out := make([]remote.HostConfig, len(hs))
	for i, h := range hs {
		out[i] = sa.HostConfig(h)
	}
	return out
}

// HostNames returns the names of a's hosts, in order (nil when a names none),
// for Step.Hosts and Lint.
func HostNames(a Answers) []string {
	src, ok := a.(HostSource)
	if !ok {
		return nil
	}
	var out []string
	for _, h := range src.HostAnswers() {
		out = append(out, h.Name)
	}
	return out
}

// sshAnswersOf returns a's ssh block, or the defaults (sudo nopasswd) when a
// has none.
func sshAnswersOf(a Answers) *SSHAnswers {
	if src, ok := a.(HostSource); ok {
		if s := src.SSHAnswers(); s != nil {
			return s
		}
	}
	return &SSHAnswers{Sudo: SudoNoPasswd}
}

// FieldError is one invalid answer.
type FieldError struct {
	Field string // path: "members[1].priority", "ssh.sudo"; "" for the document as a whole
	Msg   string // "10 must be higher than the primary's 10"
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// FieldErrors is every problem found in a set of answers. The zero value is
// ready to use; Err returns nil when it is empty.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Add records a problem with field.
func (es *FieldErrors) Add(field, format string, args ...any) {
	*es = append(*es, FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Err returns es as an error, or nil when there are none.
func (es FieldErrors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Prefix returns a copy of es with prefix+"." put before every field
// ("ssh" + "user" → "ssh.user"), for validating embedded blocks.
func (es FieldErrors) Prefix(prefix string) FieldErrors {
	out := make(FieldErrors, len(es))
	for i, e := range es {
		switch {
		case e.Field == "":
			e.Field = prefix
		case strings.HasPrefix(e.Field, "["):
			e.Field = prefix + e.Field
		default:
			e.Field = prefix + "." + e.Field
		}
		out[i] = e
	}
	return out
}

// Sudo modes for SSHAnswers.Sudo.
const (
	SudoNoPasswd = "nopasswd" // default: sudo -n
	SudoPassword = "password" // the sudo password is asked once (or HAWIZ_SUDO_PASSWORD)
	SudoNone     = "none"     // the user is root; no sudo
)

// SSHAnswers is the shared `ssh:` block procedures embed as
// `SSH steps.SSHAnswers `yaml:"ssh"“. Every field is optional; empty fields
// fall back to ~/.ssh/config and then OpenSSH's defaults.
type SSHAnswers struct {
	// User: a host's own user, else this, else ssh_config's User for the
	// host's name or address; none of them is an error (never the local user).
	User         string `yaml:"user,omitempty" help:"the SSH user for every host (a host's own user wins)" example:"admin"`
	Port         int    `yaml:"port,omitempty" advanced:"true" help:"the SSH port for every host" example:"2222"`
	IdentityFile string `yaml:"identity_file,omitempty" help:"the private key to log in with" example:"~/.ssh/id_ed25519"`
	ProxyJump    string `yaml:"proxy_jump,omitempty" help:"jump host(s), as ssh -J takes them" example:"admin@bastion.example.com"`
	KnownHosts   string `yaml:"known_hosts,omitempty" advanced:"true" help:"the known_hosts file new host keys are checked against and added to" example:"~/.ssh/known_hosts_prod"`
	SSHConfig    string `yaml:"ssh_config,omitempty" advanced:"true" title:"SSH config" help:"an ssh_config file to read; none: read none" example:"~/.ssh/config.prod" default:"~/.ssh/config"`    // "none" disables ~/.ssh/config
	Sudo         string `yaml:"sudo,omitempty" help:"nopasswd: sudo -n; password: asked once (or HAWIZ_SUDO_PASSWORD); none: the user is root" options:"nopasswd,password,none" default:"nopasswd"` // nopasswd (default) | password | none
	Password     bool   `yaml:"password_auth,omitempty" help:"log in with a password (asked once, never stored) when no key works" default:"no"`
}

// Validate applies defaults (Sudo = nopasswd) and checks the block. Field
// paths are relative: use FieldErrors.Prefix("ssh").
func (s *SSHAnswers) Validate() FieldErrors {
	var es FieldErrors
	if s.Sudo == "" {
		s.Sudo = SudoNoPasswd
	}
	switch s.Sudo {
	case SudoNoPasswd, SudoPassword, SudoNone:
	default:
		es.Add("sudo", "%q must be one of nopasswd, password, none", s.Sudo)
	}
	if s.Port < 0 || s.Port > 65535 {
		es.Add("port", "%d is not a TCP port (1-65535)", s.Port)
	}
	if err := CheckProxyJump(s.ProxyJump); err != nil {
		es.Add("proxy_jump", "%v", err)
	}
	return es
}

// HostConfig builds the remote.HostConfig for h with this block's defaults
// (host fields win). Secrets are left empty: the engine fills them.
func (s *SSHAnswers) HostConfig(h HostAnswers) remote.HostConfig {
	c := remote.HostConfig{
		Name:      h.Name,
		Address:   h.Address,
		Port:      h.Port,
		User:      h.User,
		ProxyJump: s.ProxyJump,
	}
	if c.Port == 0 {
		c.Port = s.Port
	}
	if c.User == "" {
		c.User = s.User
	}
	if s.IdentityFile != "" {
		c.IdentityFiles = []string{s.IdentityFile}
	}
	if strings.EqualFold(h.OS, "windows") {
		c.OS = remote.Windows
	}
	return c
}

// HostAnswers is one host in a procedure's answers.
type HostAnswers struct {
	Name    string `yaml:"name" help:"your name for the host; every message uses it" example:"om1"`                                                           // the operator's name for it; every message uses it
	Address string `yaml:"address,omitempty" help:"IP address or DNS name to connect to" example:"10.0.0.11" default:"the name (through ssh_config and DNS)"` // default: Name (resolved via ssh_config/DNS)
	Port    int    `yaml:"port,omitempty" advanced:"true" help:"this host's SSH port" example:"2222" default:"the SSH port"`
	User    string `yaml:"user,omitempty" advanced:"true" help:"this host's SSH user" example:"admin" default:"the SSH user"`
	OS      string `yaml:"os,omitempty" title:"OS" options:"linux,windows" default:"linux" help:"the host's operating system"` // linux (default) | windows
}

var hostNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

// Validate applies defaults (OS = linux) and checks h. Field paths are
// relative: use FieldErrors.Prefix("hosts[0]").
func (h *HostAnswers) Validate() FieldErrors {
	var es FieldErrors
	if h.Name == "" {
		es.Add("name", "is required")
	} else if !hostNameRE.MatchString(h.Name) {
		es.Add("name", "%q: use letters, digits, '.', '-' and '_'", h.Name)
	}
	if h.OS == "" {
		h.OS = "linux"
	}
	h.OS = strings.ToLower(h.OS)
	if h.OS != "linux" && h.OS != "windows" {
		es.Add("os", "%q must be linux or windows", h.OS)
	}
	if h.Port < 0 || h.Port > 65535 {
		es.Add("port", "%d is not a TCP port (1-65535)", h.Port)
	}
	if h.Address != "" {
		if err := CheckAddress(h.Address); err != nil {
			es.Add("address", "%v", err)
		}
	}
	return es
}

// FailureChoice is the operator's answer to a failed step.
type FailureChoice int

const (
	Quit  FailureChoice = iota // stop the run (exit 1, resumable)
	Retry                      // run the step on that host again (Check first)
	Skip                       // mark it skipped and go on (a warning is recorded)
)

// ErrWaitingForOperator is returned by an Operator when nobody can answer
// (no terminal, --plain, --json): the run stops with exit 3, resumable.
var ErrWaitingForOperator = errors.New("waiting for the operator")

// Operator is whoever answers the engine's questions: the TUI, plain prompts,
// or the non-interactive operator (--yes / no terminal).
type Operator interface {
	// ConfirmHostKeys is called once with every unknown host key before
	// anything is sent; it returns the accepted ones by NewHostKey.Host.
	ConfirmHostKeys(ctx context.Context, keys []remote.NewHostKey) (map[string]bool, error)
	// ConfirmManual shows s.Manual (for host, "" when Once/local) and waits
	// until the operator says it is done. nil = confirmed;
	// ErrWaitingForOperator when nobody can confirm (→ exit 3).
	ConfirmManual(ctx context.Context, s *Step, host string) error
	// Confirm asks a yes/no question mid-step. Non-interactive: true with
	// --yes, else ErrWaitingForOperator.
	Confirm(ctx context.Context, question string, defaultYes bool) (bool, error)
	// Secret asks for a secret without echo. Env.Secret handles the
	// HAWIZ_* environment fallback before calling it; non-interactive
	// operators return ErrWaitingForOperator.
	Secret(ctx context.Context, name, prompt string) (string, error)
	// Failure asks what to do after s failed on host. Non-interactive: Quit.
	Failure(ctx context.Context, s *Step, host string, err error) (FailureChoice, error)
	// Wait shows message and calls poll until it reports true, the operator
	// gives up (ErrWaitingForOperator / context error), or poll errs. The
	// string poll returns is the latest observation to show.
	// Non-interactive: poll once; true → nil, else ErrWaitingForOperator.
	Wait(ctx context.Context, message string, poll func(ctx context.Context) (bool, string, error)) error
}
