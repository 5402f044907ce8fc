package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// PlainRenderer prints one line per event (manual instructions and output
// tails as indented continuation lines): no colour, no cursor movement. It is
// the renderer for --plain, and the default when stdout is not a terminal.
type PlainRenderer struct {
	W io.Writer
	// Timestamps prefixes every line with the local time (HH:MM:SS).
	Timestamps bool

	mu sync.Mutex
}

// NewPlainRenderer returns a PlainRenderer writing to w.
func NewPlainRenderer(w io.Writer) *PlainRenderer { return &PlainRenderer{W: w} }

// Event prints ev.
func (p *PlainRenderer) Event(ev steps.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.Timestamps {
		b.WriteString(ev.Time.Format("15:04:05 "))
	}
	where := func() string {
		var s string
		if ev.Index > 0 {
			s = fmt.Sprintf("[%d/%d] ", ev.Index, ev.Total)
		}
		s += ev.Step
		if ev.Host != "" {
			if s != "" {
				s += " "
			}
			s += ev.Host
		}
		return s
	}
	evidence := func() string {
		if ev.Evidence == "" {
			return ""
		}
		return " — " + oneLine(ev.Evidence)
	}
	switch ev.Kind {
	case steps.EventRunStart:
		fmt.Fprintf(&b, "hawiz: %s, %d steps", ev.Message, ev.Total)
		if ev.StatePath != "" {
			fmt.Fprintf(&b, "; state %s", ev.StatePath)
		}
	case steps.EventConnect:
		if ev.Host == "" {
			fmt.Fprintf(&b, "connect: %s (%s)", ev.Message, dur(ev.Elapsed))
		} else {
			fmt.Fprintf(&b, "connect %s: %s", ev.Host, ev.Message)
		}
	case steps.EventStepStart:
		fmt.Fprintf(&b, "%s: %s", where(), ev.Title)
	case steps.EventCheck:
		fmt.Fprintf(&b, "%s: check: %s%s", where(), ev.Message, evidence())
	case steps.EventSkip:
		fmt.Fprintf(&b, "%s: skip: %s%s", where(), ev.Message, evidence())
	case steps.EventApply:
		fmt.Fprintf(&b, "%s: apply", where())
	case steps.EventVerify:
		fmt.Fprintf(&b, "%s: verify: %s%s", where(), ev.Message, evidence())
	case steps.EventHostDone:
		fmt.Fprintf(&b, "%s: done (%s)", where(), dur(ev.Elapsed))
	case steps.EventStepDone:
		fmt.Fprintf(&b, "%s: step done (%s)", where(), dur(ev.Elapsed))
	case steps.EventStepFailed:
		fmt.Fprintf(&b, "%s: FAILED: %s", where(), oneLine(ev.Message))
		for _, l := range ev.Output {
			fmt.Fprintf(&b, "\n    | %s", l)
		}
	case steps.EventManualWait:
		fmt.Fprintf(&b, "%s: MANUAL: %s — do this by hand:", where(), ev.Title)
		if ev.Manual != nil {
			for i, in := range ev.Manual.Instructions {
				fmt.Fprintf(&b, "\n    %d) %s", i+1, in)
			}
			for _, kv := range ev.Manual.Values {
				fmt.Fprintf(&b, "\n       %s: %s", kv.Label, kv.Value)
			}
		}
	case steps.EventConfirmed:
		fmt.Fprintf(&b, "%s: %s", where(), ev.Message)
	case steps.EventOutput:
		for i, l := range ev.Output {
			if i > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "    %s| %s", ev.Host, l)
		}
	case steps.EventWarning:
		fmt.Fprintf(&b, "warning: ")
		if w := where(); w != "" {
			b.WriteString(w + ": ")
		}
		b.WriteString(oneLine(ev.Message))
	case steps.EventDrift:
		fmt.Fprintf(&b, "%s: DRIFT: %s%s", where(), oneLine(ev.Message), evidence())
	case steps.EventRunEnd:
		fmt.Fprintf(&b, "hawiz: %s after %s: %s", ev.Status, dur(ev.Elapsed), oneLine(ev.Message))
	default:
		if w := where(); w != "" {
			b.WriteString(w + ": ")
		}
		b.WriteString(oneLine(ev.Message))
	}
	b.WriteString("\n")
	_, _ = io.WriteString(p.W, b.String())
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return f != nil && term.IsTerminal(f.Fd()) }

// NonInteractiveOperator is the operator for --yes, --plain, --json or no
// terminal: steps.NonInteractive, except that secrets are read without echo
// from In when In is a terminal (so `--plain` at a keyboard still works).
type NonInteractiveOperator struct {
	steps.NonInteractive
	In  *os.File  // nil or not a terminal: secrets only from HAWIZ_* variables
	Out io.Writer // where the secret prompt goes (stderr)
}

// Secret reads a secret from the terminal, or returns ErrWaitingForOperator.
func (o NonInteractiveOperator) Secret(ctx context.Context, name, prompt string) (string, error) {
	if !IsTerminal(o.In) {
		return "", fmt.Errorf("%w: no terminal to ask for the %s; set %s", steps.ErrWaitingForOperator, prompt, steps.SecretEnvVar(name))
	}
	return readSecret(o.In, o.Out, prompt)
}

func readSecret(in *os.File, out io.Writer, prompt string) (string, error) {
	if out == nil {
		out = os.Stderr
	}
	fmt.Fprintf(out, "%s: ", prompt)
	b, err := term.ReadPassword(in.Fd())
	fmt.Fprintln(out)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// LineOperator asks the operator with plain line prompts (the interactive
// mode until the full TUI is in place, and for screen readers). It reads
// answers line by line from In and writes prompts to Out. Answers and secrets
// come through one reader of In (lineInput), one prompt at a time: a secret is
// the next line typed with the terminal's echo off, never a line typed for
// another prompt, and no read of In outlives its prompt.
type LineOperator struct {
	In  *os.File
	Out io.Writer

	once sync.Once
	in   *lineInput
}

// NewLineOperator returns a LineOperator on in/out.
func NewLineOperator(in *os.File, out io.Writer) *LineOperator {
	return &LineOperator{In: in, Out: out}
}

func (o *LineOperator) input() *lineInput {
	o.once.Do(func() { o.in = newLineInput(o.In) })
	return o.in
}

// Ask prints prompt and returns the next line of input, trimmed.
func (o *LineOperator) Ask(ctx context.Context, prompt string) (string, error) {
	return o.readLine(ctx, prompt)
}

func (o *LineOperator) readLine(ctx context.Context, prompt string) (string, error) {
	return o.input().line(ctx, o.Out, prompt)
}

// AnswersBy implements steps.AnswerSource: answers typed at a line prompt.
func (o *LineOperator) AnswersBy() string { return steps.ByPrompt }

func (o *LineOperator) ConfirmHostKeys(ctx context.Context, keys []remote.NewHostKey) (map[string]bool, error) {
	fmt.Fprintln(o.Out, "These hosts are not in known_hosts. Compare the fingerprints with the servers' own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub):")
	for _, k := range keys {
		fmt.Fprintf(o.Out, "  %-14s %-22s %s %s\n", k.Host, k.Address, k.KeyType, k.Fingerprint)
	}
	ans, err := o.readLine(ctx, "Accept and record them all? [y/N] ")
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	if yes(ans, false) {
		for _, k := range keys {
			m[k.Host] = true
		}
	}
	return m, nil
}

func (o *LineOperator) ConfirmManual(ctx context.Context, s *steps.Step, host string) error {
	for {
		ans, err := o.readLine(ctx, "Type 'done' when you have done it, or 'stop' to stop here (resume later): ")
		if err != nil {
			return err
		}
		switch strings.ToLower(ans) {
		case "done", "d", "yes", "y":
			return nil
		case "stop", "s", "q", "quit":
			return steps.ErrWaitingForOperator
		}
	}
}

func (o *LineOperator) Confirm(ctx context.Context, question string, defaultYes bool) (bool, error) {
	hint := " [y/N] "
	if defaultYes {
		hint = " [Y/n] "
	}
	ans, err := o.readLine(ctx, question+hint)
	if err != nil {
		return false, err
	}
	return yes(ans, defaultYes), nil
}

// Secret reads the secret as the next line of In with the terminal's echo
// off. When In is not a terminal it reads nothing and returns
// ErrWaitingForOperator naming the HAWIZ_* variable (secrets are never taken
// from piped input).
func (o *LineOperator) Secret(ctx context.Context, name, prompt string) (string, error) {
	if !IsTerminal(o.In) {
		return "", fmt.Errorf("%w: no terminal to ask for the %s; set %s", steps.ErrWaitingForOperator, prompt, steps.SecretEnvVar(name))
	}
	return o.input().secretLine(ctx, o.Out, prompt)
}

func (o *LineOperator) Failure(ctx context.Context, s *steps.Step, host string, err error) (steps.FailureChoice, error) {
	for {
		ans, rerr := o.readLine(ctx, "[r]etry, [s]kip this host (unsafe), or [q]uit (resume later)? ")
		if rerr != nil {
			return steps.Quit, rerr
		}
		switch strings.ToLower(ans) {
		case "r", "retry":
			return steps.Retry, nil
		case "s", "skip":
			return steps.Skip, nil
		case "q", "quit", "":
			return steps.Quit, nil
		}
	}
}

func (o *LineOperator) Wait(ctx context.Context, message string, poll func(ctx context.Context) (bool, string, error)) error {
	fmt.Fprintln(o.Out, message)
	for {
		ok, seen, err := poll(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if seen != "" {
			fmt.Fprintln(o.Out, "  now: "+oneLine(seen))
		}
		ans, err := o.readLine(ctx, "Press Enter to check again, or type 'stop': ")
		if err != nil {
			return err
		}
		if a := strings.ToLower(ans); a == "stop" || a == "q" {
			return steps.ErrWaitingForOperator
		}
	}
}

func yes(ans string, def bool) bool {
	switch strings.ToLower(ans) {
	case "y", "yes":
		return true
	case "n", "no":
		return false
	}
	return def
}
