package tui

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hawiz/hawiz/steps"
)

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "hawiz"
	return v
}

// Render is the screen as a string of exactly m.h lines, each at most m.w
// cells wide.
func (m *Model) Render() string {
	var body string
	var keys []key.Binding
	title := "hawiz"
	if m.proc != nil {
		title += " · " + m.proc.Title
	}
	switch m.scr {
	case scrHome:
		body, keys = m.viewHome(), []key.Binding{m.keys.Up, m.keys.Enter, m.keys.Quit}
	case scrReview:
		body = m.viewReview()
		keys = []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue to the plan")),
			key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit answers")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")), m.keys.Quit}
		if m.reviewVP.TotalLineCount() > m.reviewVP.Height() {
			scroll := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "scroll"))
			keys = append(keys[:2], append([]key.Binding{scroll}, keys[2:]...)...)
		}
	case scrForm:
		return fit(m.st.header.Render(truncate(title+" · answers", m.w))+"\n"+m.form.View(), m.w, m.h)
	case scrFormErr:
		body = ansi.Wrap(m.viewFormErr(), m.w, "")
		keys = []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("any key", "back to the answers"))}
	case scrPlan:
		body = m.st.title.Render("Plan — confirm to start") + "\n" + m.planVP.View()
		keys = []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter/y", "start")),
			m.keys.Up, key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "change answers")), m.keys.Quit}
	case scrRun:
		body, keys = m.viewRun()
		if m.pr.kind != pNone && m.pr.kind != pQuit {
			body = ansi.Wrap(body, m.w, "")
		}
	case scrFinish:
		body = ansi.Wrap(m.viewFinish(), m.w, "")
		keys = []key.Binding{m.keys.Transcript, key.NewBinding(key.WithKeys("q"), key.WithHelp("enter/q", "exit"))}
	}
	head := m.st.header.Render(truncate(title, m.w))
	m.keys.list = keys
	foot := m.help.View(m.keys)
	return fit(head, m.w, 1) + "\n" + fit(body, m.w, m.h-2) + "\n" + fit(foot, m.w, 1)
}

// hangingPrefix is what a continuation line is indented under: leading
// spaces and a list marker or label ("  1. ", "    why:   ", "Note: ", "- ").
var hangingPrefix = regexp.MustCompile(`^\s*(?:\d+[.)]\s+|[A-Za-z][A-Za-z ]{0,15}:\s+|-\s+)?`)

// wrapHanging wraps every line of s to w cells, continuation lines indented
// under the line's text (plain text: the plan).
func wrapHanging(s string, w int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if ansi.StringWidth(l) <= w {
			continue
		}
		ind := min(len(hangingPrefix.FindString(l)), w/2)
		first := ansi.Wrap(l, w, "")
		head, rest, _ := strings.Cut(first, "\n")
		if rest != "" {
			rest = strings.ReplaceAll(ansi.Wrap(strings.ReplaceAll(rest, "\n", " "), w-ind, ""), "\n", "\n"+strings.Repeat(" ", ind))
			head += "\n" + strings.Repeat(" ", ind) + rest
		}
		lines[i] = head
	}
	return strings.Join(lines, "\n")
}

// fit cuts s to h lines of at most w cells, padding with empty lines.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = truncate(l, w)
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

func (m *Model) viewHome() string {
	var b strings.Builder
	b.WriteString("Vendors' HA procedures, run step by step over SSH, verified and resumable.\n")
	if m.notice != "" {
		b.WriteString(m.st.warn.Render(m.notice) + "\n")
	}
	now := m.cfg.Now()
	section := ""
	for i, it := range m.items {
		cur := "  "
		if i == m.cursor {
			cur = m.st.sel.Render("> ")
		}
		if it.resume != nil {
			if section != "resume" {
				section = "resume"
				b.WriteString("\n" + m.st.title.Render("Resume an unfinished run") + "\n")
			}
			r := it.resume
			where := "not started"
			if r.StepIndex > 0 {
				where = fmt.Sprintf("at step %d/%d %s", r.StepIndex, r.Total, r.StepTitle)
			}
			fmt.Fprintf(&b, "%s%s (%s) · %s · %s · %s\n", cur, r.Procedure, r.RunName, r.Status, where, ago(now, r.Updated))
			continue
		}
		if section != "start" {
			section = "start"
			b.WriteString("\n" + m.st.title.Render("Start a procedure") + "\n")
		}
		line := it.proc.Title
		if i == m.cursor {
			line = m.st.sel.Render(line)
		}
		fmt.Fprintf(&b, "%s%s  %s\n", cur, line, m.st.dim.Render(it.proc.Name))
		if it.proc.Description != "" {
			fmt.Fprintf(&b, "    %s\n", it.proc.Description)
		}
	}
	if len(m.items) == 0 {
		b.WriteString("\nNo procedures in this build.\n")
	}
	return b.String()
}

// reviewHead is what the review screen shows above the answers.
func (m *Model) reviewHead() string {
	from := cmpOr(m.cfg.AnswersFrom, "These answers are complete and valid.")
	return m.st.title.Render("Review the answers") + "\n" +
		ansi.Wrap(from+" Continue to the plan, or edit them first.", m.w, "") + "\n\n"
}

func (m *Model) viewReview() string { return m.reviewHead() + m.reviewVP.View() }

func (m *Model) viewFormErr() string {
	var b strings.Builder
	b.WriteString(m.st.bad.Render("These answers would not load from a file either:") + "\n\n")
	for _, l := range strings.Split(m.formErr.Error(), "\n") {
		b.WriteString("  • " + l + "\n")
	}
	return b.String()
}

func (m *Model) icon(r *stepRow) string {
	switch r.status {
	case stRunning:
		if m.cfg.NoSpinner || m.paused {
			return m.st.run.Render("»")
		}
		return m.st.run.Render(m.spin.View())
	case stDone:
		return m.st.ok.Render("✓")
	case stSkipped:
		return m.st.warn.Render("↷")
	case stFailed:
		return m.st.bad.Render("✗")
	case stWaiting:
		return m.st.warn.Render("?")
	}
	return m.st.dim.Render("·")
}

var statusWord = map[rowStatus]string{stPending: "pending", stRunning: "running", stDone: "done", stSkipped: "skipped", stFailed: "failed", stWaiting: "waiting for you"}

func (m *Model) viewSteps() string {
	n := m.stepRows()
	first := max(0, min(m.cur-n/2, len(m.rows)-n))
	var b strings.Builder
	for i := first; i < first+n && i < len(m.rows); i++ {
		r := m.rows[i]
		el := ""
		switch {
		case r.status == stRunning && !r.started.IsZero() && !m.cfg.NoSpinner:
			el = m.cfg.Now().Sub(r.started).Round(time.Second).String()
		case r.elapsed > 0:
			el = r.elapsed.Round(100 * time.Millisecond).String()
		}
		host := r.host
		if host == "" && len(r.hosts) > 0 {
			host = strings.Join(r.hosts, ",")
		}
		right := fmt.Sprintf(" %-9s %-12s %7s", statusWord[r.status], truncate(host, 12), el)
		left := fmt.Sprintf("%s %2d. %s", m.icon(r), i+1, r.title)
		lw := m.w - lipgloss.Width(right)
		left = truncate(left, lw)
		pad := max(0, lw-lipgloss.Width(left))
		b.WriteString(left + strings.Repeat(" ", pad) + m.st.dim.Render(right) + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (m *Model) viewRun() (string, []key.Binding) {
	if m.pr.kind != pNone {
		return m.viewPrompt()
	}
	var b strings.Builder
	b.WriteString(m.viewSteps() + "\n")
	label := "output"
	if m.cur < len(m.rows) && len(m.rows) > 0 {
		r := m.rows[m.cur]
		label = fmt.Sprintf("output · %s", r.id)
		if r.host != "" {
			label += " · " + r.host
		}
	}
	if d := m.out.Dropped(); d > 0 {
		label += fmt.Sprintf(" · %d earlier lines dropped", d)
	}
	switch {
	case m.stopping:
		label = m.st.warn.Render("stopping… the state is kept")
	case m.paused:
		label = m.st.warn.Render("PAUSED after this step — p or c continues, q quits (state kept)")
	case m.pauseReq:
		label += m.st.warn.Render(" · will pause after this step")
	case m.wait != nil:
		label = m.st.warn.Render(fmt.Sprintf("waiting: %s — %s (g gives up)", m.wait.message, m.wait.observation))
	case len(m.warnings) > 0:
		label += m.st.warn.Render(fmt.Sprintf(" · %d warning(s)", len(m.warnings)))
	}
	if !m.follow {
		label += " · scrolled (end to follow)"
	}
	sep := "── " + label + " "
	b.WriteString(truncate(sep+strings.Repeat("─", max(0, m.w-lipgloss.Width(sep))), m.w) + "\n")
	b.WriteString(m.vp.View())
	pause := m.keys.Pause
	if m.pauseReq || m.paused {
		pause = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "don't pause"))
	}
	retry, skip := m.keys.Retry, m.keys.Skip
	retry.SetEnabled(false)
	skip.SetEnabled(false)
	return b.String(), []key.Binding{pause, m.keys.Top, m.keys.Transcript, retry, skip,
		key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit (state kept)"))}
}

func (m *Model) viewPrompt() (string, []key.Binding) {
	kb := func(k, h string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, h)) }
	var b strings.Builder
	switch m.pr.kind {
	case pHostKeys:
		b.WriteString(m.st.title.Render("New hosts: check these SSH host keys before anything is sent") + "\n")
		b.WriteString(m.st.dim.Render("Compare each fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host.") + "\n\n")
		for i, k := range m.pr.keys {
			cur := "  "
			if i == m.pr.cursor {
				cur = m.st.sel.Render("> ")
			}
			box := "[ ]"
			if m.pr.accept[i] {
				box = m.st.ok.Render("[x]")
			}
			fmt.Fprintf(&b, "%s%s %s (%s)\n      %s %s\n", cur, box, k.Host, k.Address, k.KeyType, k.Fingerprint)
		}
		b.WriteString("\nAccepted keys are added to known_hosts. A host whose key CHANGED is always refused.\n")
		return b.String(), []key.Binding{m.keys.AcceptAll, m.keys.Toggle, m.keys.Accept, m.keys.Up, kb("esc", "refuse all")}
	case pManual:
		s := m.pr.step
		where := ""
		if m.pr.host != "" {
			where = " on " + m.pr.host
		}
		b.WriteString(m.st.title.Render("By hand: "+s.Title+where) + "\n")
		if s.Why != "" {
			b.WriteString(m.st.dim.Render(s.Why) + "\n")
		}
		b.WriteString("\n")
		if s.Manual != nil {
			for i, in := range s.Manual.Instructions {
				fmt.Fprintf(&b, "%d) %s\n", i+1, in)
			}
			if len(s.Manual.Values) > 0 {
				var vb strings.Builder
				lw := 0
				for _, kv := range s.Manual.Values {
					lw = max(lw, lipgloss.Width(kv.Label))
				}
				for i, kv := range s.Manual.Values {
					if i > 0 {
						vb.WriteString("\n")
					}
					fmt.Fprintf(&vb, "%-*s  %s", lw+1, kv.Label+":", m.st.key.Render(kv.Value))
				}
				b.WriteString("\nValues to type:\n" + m.st.values.Render(vb.String()) + "\n")
			}
		}
		if s.DocRef != "" {
			b.WriteString(m.st.dim.Render("Docs: "+s.DocRef) + "\n")
		}
		return b.String(), []key.Binding{kb("enter", "done, continue"), kb("x", "stop here (resume later)"), kb("q", "quit")}
	case pConfirm:
		def := "y/N"
		if m.pr.defYes {
			def = "Y/n"
		}
		b.WriteString(m.st.title.Render(m.pr.question) + " (" + def + ")\n")
		return b.String(), []key.Binding{kb("y", "yes"), kb("n", "no"), kb("enter", "default")}
	case pSecret:
		b.WriteString(m.st.title.Render("The "+m.pr.question+" is needed") + "\n")
		b.WriteString(m.st.dim.Render(fmt.Sprintf("It is kept in memory for this run only: never shown, saved or logged. (Or set %s.)", steps.SecretEnvVar(m.pr.secretN))) + "\n\n")
		b.WriteString(m.pr.secret.View() + "\n")
		return b.String(), []key.Binding{kb("enter", "submit"), kb("esc", "decline (run stops, resumable)")}
	case pFailure, pSkipSure:
		s := m.pr.step
		where := ""
		if m.pr.host != "" {
			where = " on " + m.pr.host
		}
		b.WriteString(m.st.bad.Render("Step failed: "+s.Title+where) + "\n")
		b.WriteString(errText(m.pr.err) + "\n")
		tail := m.failTail
		if len(tail) == 0 {
			tail = m.out.Tail(8)
		}
		if len(tail) > 8 {
			tail = tail[len(tail)-8:]
		}
		if len(tail) > 0 {
			b.WriteString("\n" + m.st.dim.Render("Output (last lines):") + "\n" + strings.Join(tail, "\n") + "\n")
		}
		if m.pr.kind == pSkipSure {
			b.WriteString("\n" + m.st.warn.Render("Skip? The step stays UNVERIFIED and later steps may rely on it. y skips, any other key goes back.") + "\n")
			return b.String(), []key.Binding{kb("y", "skip anyway"), kb("n", "back")}
		}
		return b.String(), []key.Binding{m.keys.Retry, kb("s", "skip (warning)"), kb("q", "quit (state kept)"), m.keys.Transcript}
	case pQuit:
		b.WriteString(m.viewSteps() + "\n\n")
		kept := "its state is kept and `hawiz resume` continues it."
		if m.cfg.ResumeHint != "" {
			kept = "its state is kept: " + m.cfg.ResumeHint + "."
		}
		b.WriteString(m.st.warn.Render(ansi.Wrap("Quit now? The run stops after the current action; "+kept, m.w, "")) + "\n")
		return b.String(), []key.Binding{kb("y", "quit"), kb("n", "keep running")}
	}
	return "", nil
}

func (m *Model) viewFinish() string {
	var b strings.Builder
	var done, skipped, failed int
	for _, r := range m.rows {
		switch r.status {
		case stDone:
			done++
		case stSkipped:
			skipped++
		case stFailed:
			failed++
		}
	}
	status := m.outcome.Status
	if status == "" && m.runErr == nil {
		status = steps.StatusDone
	}
	switch {
	case m.runErr == nil:
		b.WriteString(m.st.ok.Render("Done: every step verified.") + "\n")
	case steps.ExitCode(m.runErr) == steps.ExitStopped:
		b.WriteString(m.st.warn.Render("Stopped: the state is kept; nothing is lost.") + "\n")
	case steps.ExitCode(m.runErr) == steps.ExitRefused:
		b.WriteString(m.st.bad.Render("Refused for safety:") + "\n")
	default:
		b.WriteString(m.st.bad.Render("The run did not finish:") + "\n")
	}
	var se *steps.StoppedError
	switch {
	case m.cfg.ResumeHint != "" && errors.As(m.runErr, &se):
		b.WriteString("stopped: " + se.Reason + "\n") // without the resume command: the hint below
	case m.runErr != nil:
		b.WriteString(errText(m.runErr) + "\n")
	case status != steps.StatusDone:
		b.WriteString("status: " + string(status) + "\n")
	}
	fmt.Fprintf(&b, "\n%d of %d steps done, %d skipped, %d failed", done, len(m.rows), skipped, failed)
	if !m.started.IsZero() {
		fmt.Fprintf(&b, " · %s", m.cfg.Now().Sub(m.started).Round(time.Second))
	}
	b.WriteString("\n")
	if len(m.warnings) > 0 {
		fmt.Fprintf(&b, "%d warning(s), in the evidence report.\n", len(m.warnings))
	}
	refused := m.runErr != nil && steps.ExitCode(m.runErr) == steps.ExitRefused
	if m.runErr == nil && m.removed != "" {
		// the files are gone once the wizard exits: no paths, no audit hint
		b.WriteString("\n" + m.removed + "\n")
		return b.String()
	}
	if m.statePath != "" && !refused {
		fmt.Fprintf(&b, "\nEvidence report: %s\nTranscript:      %s\nState:           %s\n",
			steps.EvidencePath(m.statePath), steps.TranscriptPath(m.statePath), m.statePath)
	}
	b.WriteString("\n" + m.st.title.Render("Next") + "\n")
	switch {
	case m.runErr == nil:
		b.WriteString("Keep the evidence report with the change record.\n")
		if m.proc != nil {
			fmt.Fprintf(&b, "Audit later without changing anything: hawiz check %s --state %s\n", m.proc.Name, m.statePath)
		}
	case m.cfg.ResumeHint != "" && steps.ExitCode(m.runErr) == steps.ExitStopped:
		b.WriteString("Continue where it stopped: " + m.st.key.Render(m.cfg.ResumeHint) + "\n")
	case resumeCmd(m.outcome, m.runErr) != "":
		b.WriteString("Continue where it stopped: " + m.st.key.Render(resumeCmd(m.outcome, m.runErr)) + "\n(or run hawiz again and pick the run under Resume)\n")
	case refused:
		b.WriteString("Nothing was changed by this refusal. Settle the cause above, then run hawiz again.\n")
	case m.cfg.ResumeHint != "":
		b.WriteString("Fix the cause above, then " + m.cfg.ResumeHint + ".\n")
	default:
		b.WriteString("Fix the cause above, then run hawiz again and pick the run under Resume.\n")
	}
	return b.String()
}

// resumeCmd is the command that continues a stopped run, if any.
func resumeCmd(o steps.Outcome, err error) string {
	if o.Resume != "" {
		return o.Resume
	}
	var se *steps.StoppedError
	if errors.As(err, &se) {
		return se.Resume
	}
	return ""
}
