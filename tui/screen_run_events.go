package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/steps"
)

// How the engine's messages change the run screen: events move the step
// rows and add output lines; questions go on show or wait in the queue.

// engine handles one message from the engine goroutine (the model handles
// the end of the run).
func (r *runScreen) engine(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case eventMsg:
		r.event(msg.ev)
	case pausedMsg:
		r.paused = true
	case waitMsg:
		if msg.done {
			r.wait = nil
		} else {
			w := msg
			r.wait = &w
		}
	case hostKeysReq, manualReq, confirmReq, secretReq, failureReq:
		if r.pr != nil || r.quit != nil {
			r.pending = append(r.pending, msg)
			return nil
		}
		return r.ask(msg)
	}
	return nil
}

// end takes the run's outcome: no question is on show any more.
func (r *runScreen) end(o steps.Outcome) {
	if o.StatePath != "" {
		r.statePath = o.StatePath
	}
	r.pr, r.quit = nil, nil
	r.ended = r.cfg.Now()
}

// markFrom shows a resumed run's progress as its state file has it.
func (r *runScreen) markFrom(st *steps.State) {
	for i, ss := range st.Steps {
		if i >= len(r.rows) {
			continue
		}
		switch ss.Status() {
		case steps.StatusDone:
			r.rows[i].status = stDone
		case steps.StatusSkipped:
			r.rows[i].status = stSkipped
		case steps.StatusFailed:
			r.rows[i].status = stFailed
		}
	}
}

// row returns the row for the event's step, adding one when the engine
// names a step the screen did not know (e.g. answers it could not load).
func (r *runScreen) row(ev steps.Event) *stepRow {
	if ev.Index > 0 {
		for len(r.rows) < ev.Index {
			r.rows = append(r.rows, &stepRow{})
		}
		row := r.rows[ev.Index-1]
		if row.id == "" {
			row.id, row.title = ev.Step, ev.Title
		}
		return row
	}
	for _, row := range r.rows {
		if row.id == ev.Step {
			return row
		}
	}
	if ev.Step == "" {
		return nil
	}
	row := &stepRow{id: ev.Step, title: cmpOr(ev.Title, ev.Step)}
	r.rows = append(r.rows, row)
	return row
}

// line adds an output line, keeping the operator's place when scrolled.
func (r *runScreen) line(s string) {
	if r.follow || r.out.Len() < r.vp.Height() {
		r.out.Add(s)
		return
	}
	before := r.out.Dropped()
	r.out.Add(s)
	if r.out.Dropped() > before && r.outOff > 0 {
		r.outOff-- // keep the operator's place when the oldest line goes
	}
}

func hostTag(h string) string {
	if h == "" {
		return "local"
	}
	return h
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func (r *runScreen) event(ev steps.Event) {
	switch ev.Kind {
	case steps.EventRunStart, steps.EventRunEnd:
		if ev.StatePath != "" {
			r.statePath = ev.StatePath
		}
	case steps.EventConnect:
		if ev.Host != "" {
			r.line(fmt.Sprintf("connected to %s (%s)", ev.Host, ev.Message))
		}
	case steps.EventStepStart:
		row := r.row(ev)
		if row == nil {
			return
		}
		row.status, row.started, row.note = stRunning, r.cfg.Now(), ""
		row.host = ev.Host
		r.cur = ev.Index - 1
		r.out.Reset()
		r.outOff, r.follow = 0, true
		r.failTail = nil
		r.line(fmt.Sprintf("── step %d/%d: %s", ev.Index, max(ev.Total, len(r.rows)), ev.Title))
	case steps.EventCheck:
		r.line(fmt.Sprintf("[%s] check: not done yet%s", hostTag(ev.Host), suffix(ev.Evidence)))
	case steps.EventSkip:
		if row := r.row(ev); row != nil {
			// "already done", "done (re-checked)"…: its check holds; only
			// "skipped by --skip" / by the operator is a real skip.
			row.status, row.note = stDone, ev.Message
			if strings.Contains(ev.Message, "skip") {
				row.status = stSkipped
			}
			if ev.Host != "" {
				row.host = ev.Host
			}
		}
		r.line(fmt.Sprintf("[%s] skipped%s", hostTag(ev.Host), suffix(ev.Message)))
	case steps.EventApply:
		if row := r.row(ev); row != nil {
			row.host, row.status = ev.Host, stRunning
		}
		r.line(fmt.Sprintf("[%s] apply", hostTag(ev.Host)))
	case steps.EventVerify:
		r.line(fmt.Sprintf("[%s] verified%s", hostTag(ev.Host), suffix(ev.Evidence)))
	case steps.EventHostDone:
		r.line(fmt.Sprintf("[%s] done (%s)", hostTag(ev.Host), ev.Elapsed.Round(time.Millisecond)))
	case steps.EventStepDone:
		if row := r.row(ev); row != nil {
			if row.status != stSkipped {
				row.status = stDone
			}
			if row.note == "" && row.status == stDone {
				row.note = "verified"
			}
			row.elapsed = ev.Elapsed
			if row.elapsed == 0 && !row.started.IsZero() {
				row.elapsed = r.cfg.Now().Sub(row.started)
			}
		}
	case steps.EventStepFailed:
		if row := r.row(ev); row != nil {
			row.status, row.host, row.note = stFailed, ev.Host, ev.Message
			if !row.started.IsZero() {
				row.elapsed = r.cfg.Now().Sub(row.started)
			}
		}
		r.failTail = ev.Output
		r.line(fmt.Sprintf("[%s] FAILED: %s", hostTag(ev.Host), ev.Message))
	case steps.EventManualWait:
		if row := r.row(ev); row != nil {
			row.status = stWaiting
		}
	case steps.EventConfirmed:
		if row := r.row(ev); row != nil {
			row.status = stRunning
		}
		r.line(fmt.Sprintf("[%s] confirmed by the operator", hostTag(ev.Host)))
	case steps.EventOutput:
		for _, l := range ev.Output {
			if ev.Host != "" {
				l = ev.Host + "│ " + l
			}
			r.line(l)
		}
	case steps.EventWarning:
		r.warnings = append(r.warnings, ev.Message)
		r.line("warning: " + ev.Message)
	case steps.EventInfo:
		r.line(ev.Message)
	}
}
