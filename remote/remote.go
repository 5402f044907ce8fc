// Package remote runs typed operations on servers over SSH: one connection
// per host reused for every command and file operation, OpenSSH-compatible
// authentication, ~/.ssh/config and known_hosts handling, sudo, and typed
// primitives (Run, Stat, ReadFile, WriteFile, Service, Upload, DialTCP,
// DialTCPAddr, HTTPGet) rendered for POSIX sh (Linux) or PowerShell
// (Windows).
//
// Callers never build shell strings: every argument is quoted by the package.
//
// Remote process termination: on Linux every command runs as
//
//	echo "hawiz-pid:$$" >&2; 'PROGRAM' 'ARG'...
//
// in the login shell. The first stderr line (consumed by the package) tells
// the process-group id, since sshd starts each session in its own session and
// process group. When a command's Timeout or its context ends, the package
// sends the SSH "signal" request (KILL), closes the session, and — because
// not every sshd delivers signals, and a signal to sudo does not reach its
// child — runs `kill -s KILL -- -PGID` (through sudo when the command used
// sudo) on a fresh session.
//
// Assumptions and limits: the remote login shell is POSIX (sh, bash, dash,
// ksh, zsh) on Linux hosts; Windows hosts run Windows PowerShell
// (`powershell`) under the OpenSSH server. There are no SSH keepalives: a
// peer that vanishes without a TCP reset is noticed by the command Timeout
// or the caller's context.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"
)

// OS is the flavour of commands rendered for a host.
type OS int

const (
	Linux   OS = iota // POSIX sh
	Windows           // OpenSSH server + PowerShell
)

func (o OS) String() string {
	if o == Windows {
		return "windows"
	}
	return "linux"
}

// HostConfig is one target; zero fields fall back to ~/.ssh/config, then to
// OpenSSH's defaults. ssh_config's Host (and Match host) patterns are
// matched against Name and, when set, Address: a block applies when one of
// its patterns matches either and none of its negated patterns matches
// either (OpenSSH matches the one name given to ssh).
type HostConfig struct {
	Name          string   // the operator's name for the host; every message names it
	Address       string   // overrides ssh_config HostName (default: Name)
	Port          int      // overrides Port (default 22)
	User          string   // overrides User; without either, Connect fails (*NoUserError): never the local user
	IdentityFiles []string // overrides IdentityFile
	ProxyJump     string   // overrides ProxyJump ("a,b" or "none")
	OS            OS
	Password      string // secret: SSH password auth when set
	SudoPassword  string // secret: when set, sudo uses it (-S, stdin); else sudo -n
}

// Options are shared by every host of a Fleet.
type Options struct {
	SSHConfigFile  string // default ~/.ssh/config; "none" disables
	KnownHostsFile string // default: ssh_config UserKnownHostsFile, else ~/.ssh/known_hosts
	AgentSocket    string // default $SSH_AUTH_SOCK; "none" disables
	// Passphrase is asked at most once per encrypted identity file, and only
	// when the server would accept that key.
	Passphrase func(keyFile string) ([]byte, error)
	// ConfirmHostKeys is called once with EVERY unknown host key before
	// anything is sent to any host; it returns the accepted ones by
	// NewHostKey.Host. nil refuses every unknown key. (Hosts behind a jump
	// host whose own key was unknown can only be reached after that key is
	// accepted: they come in a second call.)
	ConfirmHostKeys func(ctx context.Context, keys []NewHostKey) (map[string]bool, error)
	Transcript      func(Action) // every action and its result, secrets already redacted; called from many goroutines
	Redactor        *Redactor    // nil: a new one; host passwords are always added
	DialTimeout     time.Duration
	Logger          *slog.Logger // may be nil
	// MaxSessions bounds the sessions open at once on one host's connection
	// (more callers wait). Default 10, OpenSSH's MaxSessions default.
	MaxSessions int
	// SessionPerCommand runs every command in an SSH session of its own,
	// each with its own sudo (so sudo logs every command). By default a
	// resident shell per host and privilege (one sudo) runs them in turn,
	// which is many times faster (shell.go).
	SessionPerCommand bool
	// ReadTimeout bounds a read that has no timeout of its own (Stat,
	// ReadFile and its hash, a service's state check): a host or resident
	// shell that stops answering fails the read instead of hanging it.
	// Default DefaultReadTimeout.
	ReadTimeout time.Duration
	// InsecureIgnoreHostKeysForTests disables host-key checking. Tests only;
	// hawiz itself never sets it.
	InsecureIgnoreHostKeysForTests bool
}

// DefaultReadTimeout is Options.ReadTimeout when it is not set.
const DefaultReadTimeout = 2 * time.Minute

// NewHostKey is a host key not found in known_hosts.
type NewHostKey struct {
	Host        string // HostConfig.Name, or the ProxyJump hop as written
	Address     string // "host:port" as dialled and as it will be recorded
	KeyType     string // e.g. "ssh-ed25519"
	Fingerprint string // "SHA256:..." as OpenSSH prints it
}

// HostKeyChangedError is returned when a host presents a key different from
// the one recorded in known_hosts. Nothing overrides it.
type HostKeyChangedError struct {
	Host           string
	Address        string
	KnownHostsFile string
	Line           int
	KeyType        string
	Fingerprint    string // the new (presented) key
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf(`host %s: 
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the %s key sent by the remote host %s is
%s.
Offending key in %s:%d
If the change is expected, remove the old key by hand:
  ssh-keygen -f %q -R %q
Host key verification failed; hawiz will not connect to %s.`,
		e.Host, e.KeyType, e.Address, e.Fingerprint, e.KnownHostsFile, e.Line,
		e.KnownHostsFile, knownHostsName(e.Address), e.Host)
}

// Cmd is one remote command. Program and Args are quoted by the package.
type Cmd struct {
	Program string
	Args    []string
	Sudo    bool
	Stdin   io.Reader
	Timeout time.Duration             // ends the remote process when reached
	OnLine  func(stream, line string) // "stdout"/"stderr", redacted, without "\n"
	Env     map[string]string
}

// Result of a command that ran to completion (any exit status).
type Result struct {
	ExitStatus int
	Stdout     []byte
	Stderr     []byte
	Duration   time.Duration
}

// ExitError returns an error describing a non-zero exit (nil for 0).
func (r Result) ExitError() error {
	if r.ExitStatus == 0 {
		return nil
	}
	return &ExitError{Status: r.ExitStatus, Stderr: lastLines(string(r.Stderr), 5)}
}

// ExitError is a command's non-zero exit status with the tail of its stderr.
type ExitError struct {
	Status int
	Stderr string
}

func (e *ExitError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("exit status %d", e.Status)
	}
	return fmt.Sprintf("exit status %d: %s", e.Status, e.Stderr)
}

// FileInfo describes a remote file. SHA256 is computed on the server (hex),
// empty for non-regular files.
type FileInfo struct {
	Exists  bool
	Size    int64
	Mode    fs.FileMode
	Owner   string
	Group   string
	SHA256  string
	ModTime time.Time
	// ModTimePrecision is how finely ModTime is known: the true
	// modification time lies in [ModTime, ModTime+ModTimePrecision).
	// Linux with GNU stat: 1ns (the file system's own granularity
	// may be coarser); Windows: 100ns; a stat without %.9Y, or a file
	// system that keeps whole seconds: 1s. 0 when the file does not exist.
	ModTimePrecision time.Duration
}

// WriteOptions for WriteFile and Upload.
type WriteOptions struct {
	Mode     fs.FileMode // 0 = keep existing mode, else 0644
	Owner    string      // "" = keep existing / default
	Group    string      // "" = keep existing / default
	IfSHA256 string      // compare-and-swap: refuse (ErrChanged) unless current content has this hash; "absent" = must not exist
	Backup   bool        // keep PATH.hawiz-YYYYMMDDTHHMMSSZ.bak of the previous content
	Sudo     bool
	Secret   bool // content never in transcript/logs (only path, size, sha256)
}

// WriteResult of WriteFile and Upload.
type WriteResult struct {
	Backup  string // path of the backup, "" when none was made
	SHA256  string // of the content now in place
	Changed bool   // false when the content (and mode/owner) already matched
}

// ErrChanged is returned (wrapped with host and path) when compare-and-swap
// finds the remote file changed since it was read.
var ErrChanged = errors.New("remote file changed since it was read")

// ErrSudoPassword is wrapped by errors for a refused sudo password.
var ErrSudoPassword = errors.New("sudo: the password was refused")

// ErrConnectionLost is wrapped by errors for a connection that died and
// could not be re-established, or died while a command was running (its
// outcome is then unknown).
var ErrConnectionLost = errors.New("connection lost")

// ServiceAction is what Service does.
type ServiceAction string

const (
	ServiceStart    ServiceAction = "start"
	ServiceStop     ServiceAction = "stop"
	ServiceRestart  ServiceAction = "restart"
	ServiceIsActive ServiceAction = "is-active"
)

// ServiceManager says how services are driven on a host.
type ServiceManager struct {
	Kind string // "systemctl" | "service" | "command" (Windows: "" or "windows" = Start-Service etc.)
	// Command, for Kind "command": argv template; "{action}" and "{service}"
	// are substituted in each argument.
	Command []string
	// IsActive, for Kind "command": the argv template that tells whether
	// the service is active (exit 0 = active; "{service}" substituted), used
	// for is-active and for the check after start, stop and restart. When
	// empty: on Linux, Command with {action} = "is-active"; on Windows,
	// Get-Service -Name SERVICE (Running = active), since a Windows program's
	// command line has no such convention (mmcentral.exe has no status
	// switch).
	IsActive []string
	// StopStart, for Kind "command": the program has no restart action, so
	// restart runs Command with {action} = "stop", then with "start".
	StopStart bool
}

// Action is one transcript record. Detail and Output are redacted.
type Action struct {
	Time       time.Time
	Host       string
	Kind       string // run|read|write|stat|service|upload|dial|shell (a resident shell started)
	Detail     string
	ExitStatus int
	Duration   time.Duration
	Output     string
	Err        string
}

func lastLines(s string, n int) string {
	s = trimRightNL(s)
	cnt := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			cnt++
			if cnt == n {
				return s[i+1:]
			}
		}
	}
	return s
}

func trimRightNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
