package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// EventKind names what happened. The values are stable: `--json` prints them.
type EventKind string

const (
	EventRunStart   EventKind = "run-start"   // Message: procedure title; Total: number of steps
	EventConnect    EventKind = "connect"     // Host connected (Message: address) or all connected (Host "")
	EventStepStart  EventKind = "step-start"  // a step begins (Index/Total, Title)
	EventCheck      EventKind = "check"       // Check ran: not done (Evidence)
	EventSkip       EventKind = "skip"        // Check said done, or skipped by flag/operator (Message says which)
	EventApply      EventKind = "apply"       // Apply begins on Host
	EventVerify     EventKind = "verify"      // Verify held (Evidence)
	EventHostDone   EventKind = "host-done"   // the step is done on Host (Elapsed)
	EventStepDone   EventKind = "step-done"   // the step is done on all its hosts (Elapsed)
	EventStepFailed EventKind = "step-failed" // Host, Message (the error), ExitStatus, Output (tail)
	EventManualWait EventKind = "manual-wait" // Manual: instructions and values; waiting for confirmation
	EventConfirmed  EventKind = "confirmed"   // the operator confirmed a manual step
	EventOutput     EventKind = "output"      // Output lines from a step (redacted)
	EventWarning    EventKind = "warning"     // Message
	EventInfo       EventKind = "info"        // Message
	EventDrift      EventKind = "drift"       // `hawiz check`: Check/Verify does not hold (Message, Evidence)
	EventRunEnd     EventKind = "run-end"     // Status, Message (e.g. the resume command), Elapsed
)

// Event is one thing that happened in a run; renderers (plain, JSON, TUI)
// show the same flow of events. Strings are already redacted.
type Event struct {
	Time       time.Time     `json:"time"`
	Kind       EventKind     `json:"kind"`
	Procedure  string        `json:"procedure,omitempty"`
	Step       string        `json:"step,omitempty"`  // step ID
	Index      int           `json:"index,omitempty"` // 1-based step number
	Total      int           `json:"total,omitempty"` // number of steps
	Host       string        `json:"host,omitempty"`
	Title      string        `json:"title,omitempty"` // step title
	Message    string        `json:"message,omitempty"`
	Output     []string      `json:"output,omitempty"`
	Evidence   string        `json:"evidence,omitempty"`
	ExitStatus int           `json:"exit_status,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns,omitempty"`
	Manual     *Manual       `json:"manual,omitempty"`
	Status     Status        `json:"status,omitempty"` // run-end: done|failed|stopped|waiting|refused
	StatePath  string        `json:"state,omitempty"`  // run-start, run-end
}

// Renderer shows events. Event is called from one goroutine at a time.
type Renderer interface {
	Event(Event)
}

// RendererFunc adapts a function to Renderer.
type RendererFunc func(Event)

// Event calls f(ev).
func (f RendererFunc) Event(ev Event) { f(ev) }

// NonInteractive is the Operator used when nobody is at a terminal (--yes,
// --plain, --json, no TTY). With Yes, host keys of unknown hosts are accepted
// (accept-new: a changed key is always refused by remote) and yes/no
// questions are answered yes. Manual steps, secrets and waits that are not
// already satisfied return ErrWaitingForOperator (exit 3, resumable).
type NonInteractive struct {
	Yes bool
}

func (o NonInteractive) ConfirmHostKeys(_ context.Context, keys []remote.NewHostKey) (map[string]bool, error) {
	if !o.Yes {
		var msg string
		for _, k := range keys {
			msg += fmt.Sprintf("\n  %s (%s) %s %s", k.Host, k.Address, k.KeyType, k.Fingerprint)
		}
		return nil, &RefusedError{Reason: "unknown host keys; verify the fingerprints, then accept them with --yes (or add them to known_hosts):" + msg}
	}
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k.Host] = true
	}
	return m, nil
}

func (o NonInteractive) ConfirmManual(context.Context, *Step, string) error {
	return ErrWaitingForOperator
}

// Confirm answers yes with Yes; without it the question stops the run with
// a *ConfirmationError (ErrWaitingForOperator) that names it and the flag
// answering it, and the resume command the engine prints carries that flag.
func (o NonInteractive) Confirm(_ context.Context, question string, _ bool) (bool, error) {
	if o.Yes {
		return true, nil
	}
	return false, &ConfirmationError{Question: question}
}

func (o NonInteractive) Secret(context.Context, string, string) (string, error) {
	return "", ErrWaitingForOperator
}

func (o NonInteractive) Failure(context.Context, *Step, string, error) (FailureChoice, error) {
	return Quit, nil
}

func (o NonInteractive) Wait(ctx context.Context, _ string, poll func(ctx context.Context) (bool, string, error)) error {
	ok, _, err := poll(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return ErrWaitingForOperator
	}
	return nil
}
