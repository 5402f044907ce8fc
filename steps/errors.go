package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/remote"
)

// Process exit codes (the user contract in README.md).
const (
	ExitOK      = 0 // done / verified
	ExitFailed  = 1 // a step failed (resumable) / drift found by `hawiz check` / DNS records differ
	ExitUsage   = 2 // bad usage or invalid answers; nothing touched
	ExitStopped = 3 // stopped by the operator, interrupted, or waiting for a manual step (resumable)
	ExitRefused = 4 // refused for safety: host key, lock held, incompatible or corrupt state
)

// StepError is a step that failed on a host. Exit 1; the run is resumable.
type StepError struct {
	Step, Host string
	Action     string   // "check" | "apply" | "verify" | "confirm"
	ExitStatus int      // of the failing remote command when known, else 0
	Output     []string // tail of its output (redacted)
	Err        error
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %s", e.Step)
	if e.Host != "" {
		fmt.Fprintf(&b, " on %s", e.Host)
	}
	fmt.Fprintf(&b, " failed in %s", e.Action)
	if e.ExitStatus != 0 && (e.Err == nil || !strings.Contains(e.Err.Error(), "exit status")) {
		fmt.Fprintf(&b, " (exit status %d)", e.ExitStatus)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

// RefusedError is a refusal for safety. Exit 4.
type RefusedError struct {
	Reason string
	Err    error
}

func (e *RefusedError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *RefusedError) Unwrap() error { return e.Err }

// UsageError is bad usage or input found before anything was touched. Exit 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// StoppedError is a run that stopped and can be resumed: interrupted, stopped
// by the operator, or waiting for a manual step. Exit 3.
type StoppedError struct {
	Reason string // "interrupted", "waiting for manual step X", …
	Resume string // the command that continues the run
	Err    error
}

func (e *StoppedError) Error() string {
	s := "stopped: " + e.Reason
	if e.Resume != "" {
		s += "; resume with: " + e.Resume
	}
	return s
}

func (e *StoppedError) Unwrap() error { return e.Err }

// ConfirmationError is a yes/no question nobody could answer (no terminal:
// --plain, --json or no TTY) and no --yes; it is ErrWaitingForOperator
// (exit 3). ConfirmFlag answers it on resume.
type ConfirmationError struct{ Question string }

// ConfirmFlag is the flag that answers a ConfirmationError's question yes.
const ConfirmFlag = "--yes"

func (e *ConfirmationError) Error() string {
	return "a question only an operator can answer, and no terminal to ask it: " + e.Question +
		" — to answer yes, resume with " + ConfirmFlag + " (it also answers the run's other questions yes)"
}

func (e *ConfirmationError) Unwrap() error { return ErrWaitingForOperator }

// DriftError lists what `hawiz check` found not holding. Exit 1.
type DriftError struct{ Drift []string }

func (e *DriftError) Error() string {
	return fmt.Sprintf("%d check(s) do not hold:\n  %s", len(e.Drift), strings.Join(e.Drift, "\n  "))
}

// ExitCode maps an error from this package (or remote) to the process exit
// code: nil 0; *UsageError, FieldErrors 2; *StoppedError, ErrWaitingForOperator,
// context.Canceled 3; *RefusedError, *remote.HostKeyChangedError,
// *remote.HostCertError 4;
// anything else (*StepError, *DriftError, connection errors) 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		re *RefusedError
		hk *remote.HostKeyChangedError
		ce *remote.HostCertError
		ue *UsageError
		fe FieldErrors
		se *StoppedError
	)
	switch {
	case errors.As(err, &re), errors.As(err, &hk), errors.As(err, &ce):
		return ExitRefused
	case errors.As(err, &ue), errors.As(err, &fe):
		return ExitUsage
	case errors.As(err, &se), errors.Is(err, ErrWaitingForOperator), errors.Is(err, context.Canceled):
		return ExitStopped
	}
	return ExitFailed
}
