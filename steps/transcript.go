package steps

// Events and the transcript: every event goes, redacted, to the renderer,
// the transcript (<state>.transcript.jsonl) and the debug log; remote's
// actions go to the transcript; each host's output in the running step is
// kept for a failure's report (hostTail).

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// emit sends an event to the renderer, the transcript and the log, redacted.
func (r *runner) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Procedure = r.p.Name
	ev.Message = r.redactor.Redact(ev.Message)
	ev.Evidence = r.redactor.Redact(ev.Evidence)
	for i, l := range ev.Output {
		ev.Output[i] = r.redactor.Redact(l)
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	if ev.Kind == EventOutput {
		r.hostTail(ev.Host).add(protocolFree(ev.Output))
	}
	r.cfg.Renderer.Event(ev)
	tl := transcriptLine{Time: ev.Time.UTC(), Step: ev.Step, Host: ev.Host, Action: "event:" + string(ev.Kind),
		Detail: ev.Message, Output: strings.Join(ev.Output, "\n"), Evidence: ev.Evidence, ExitStatus: ev.ExitStatus}
	if ev.Elapsed > 0 {
		tl.DurationMS = float64(ev.Elapsed) / float64(time.Millisecond)
	}
	r.writeTranscript(tl)
	r.logger.Debug("event", "kind", string(ev.Kind), "step", ev.Step, "host", ev.Host, "message", ev.Message)
}

// tailLines is how many lines of a host's output a failure reports.
const tailLines = 10

// hostTail is a host's output in the running step: its last lines (streamed
// output and the commands' output), and the output of its last command that
// failed (exit status not 0), the failing command's own output when the
// step fails with that exit status.
type hostTail struct {
	step   string
	lines  []string
	failed []string
}

func (t *hostTail) add(lines []string) {
	t.lines = append(t.lines, lines...)
	if len(t.lines) > tailLines {
		t.lines = slices.Clone(t.lines[len(t.lines)-tailLines:])
	}
}

// hostTail is host's tail in the running step, emptied when a new step
// starts; callers hold emitMu.
func (r *runner) hostTail(host string) *hostTail {
	step := r.curStep.Load().(string)
	t := r.tails[host]
	if t == nil || t.step != step {
		t = &hostTail{step: step}
		r.tails[host] = t
	}
	return t
}

// protocolFree drops the lines remote's scripts write for remote itself
// (hawiz-stat:…, hawiz-absent, hawiz-write:…, hawiz-sudo-ok…): they are
// in the transcript, never in what a person is shown as output.
func protocolFree(lines []string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if !remote.IsProtocolLine(l) {
			out = append(out, l)
		}
	}
	return out
}

type transcriptLine struct {
	Time       time.Time `json:"time"`
	Step       string    `json:"step,omitempty"`
	Host       string    `json:"host,omitempty"`
	Action     string    `json:"action"`
	Detail     string    `json:"detail,omitempty"`
	ExitStatus int       `json:"exit_status"`
	DurationMS float64   `json:"duration_ms,omitempty"`
	Output     string    `json:"output,omitempty"`
	Evidence   string    `json:"evidence,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// writeTranscript appends one line; callers hold emitMu.
func (r *runner) writeTranscript(tl transcriptLine) {
	if r.transcript == nil {
		return
	}
	tl.Detail = r.redactor.Redact(tl.Detail)
	tl.Output = r.redactor.Redact(tl.Output)
	tl.Evidence = r.redactor.Redact(tl.Evidence)
	tl.Error = r.redactor.Redact(tl.Error)
	b, err := json.Marshal(tl)
	if err != nil {
		return
	}
	_, _ = r.transcript.Write(append(b, '\n'))
}

// onAction is remote's Transcript hook.
func (r *runner) onAction(a remote.Action) {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	var lines []string
	if a.Output != "" {
		lines = protocolFree(strings.Split(strings.TrimRight(r.redactor.Redact(a.Output), "\n"), "\n"))
	}
	t := r.hostTail(a.Host)
	t.add(lines)
	if a.ExitStatus != 0 {
		t.failed = lines
	}
	r.writeTranscript(transcriptLine{Time: a.Time.UTC(), Step: r.curStep.Load().(string), Host: a.Host, Action: a.Kind,
		Detail: a.Detail, ExitStatus: a.ExitStatus, DurationMS: float64(a.Duration) / float64(time.Millisecond),
		Output: a.Output, Error: a.Err})
}

// tail is what a failure with err on host reports as its output: the
// failing command's own output when err is a command's exit status, else
// the host's last output lines in this step; never an earlier step's.
func (r *runner) tail(host string, err error) []string {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	t := r.tails[host]
	if t == nil || t.step != r.curStep.Load().(string) {
		return nil
	}
	var xe *remote.ExitError
	if errors.As(err, &xe) && t.failed != nil {
		return slices.Clone(t.failed[max(0, len(t.failed)-tailLines):])
	}
	return slices.Clone(t.lines)
}
