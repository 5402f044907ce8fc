package steps

// Events and the transcript: every event goes, redacted, to the renderer,
// the transcript (<state>.transcript.jsonl) and the debug log; remote's
// actions go to the transcript; the last lines of each host's output are
// kept for a failure's report.

import (
	"encoding/json"
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
		r.addTail(ev.Host, ev.Output...)
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

func (r *runner) addTail(host string, lines ...string) {
	t := append(r.tails[host], lines...)
	if len(t) > 10 {
		t = t[len(t)-10:]
	}
	r.tails[host] = t
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
	if a.Output != "" {
		r.addTail(a.Host, strings.Split(strings.TrimRight(r.redactor.Redact(a.Output), "\n"), "\n")...)
	}
	r.writeTranscript(transcriptLine{Time: a.Time.UTC(), Step: r.curStep.Load().(string), Host: a.Host, Action: a.Kind,
		Detail: a.Detail, ExitStatus: a.ExitStatus, DurationMS: float64(a.Duration) / float64(time.Millisecond),
		Output: a.Output, Error: a.Err})
}

func (r *runner) tail(host string) []string {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	return slices.Clone(r.tails[host])
}
