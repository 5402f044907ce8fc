package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Config is what the wizard needs from the command line.
type Config struct {
	Procedures  []*steps.Procedure
	StateDir    string              // where resumable runs are listed from
	Getenv      func(string) string // nil = os.Getenv
	ToolVersion string
	Remote      remote.Options // base connection options
	// Run runs the engine; nil = steps.Run. Tests put a fake here.
	Run         func(ctx context.Context, cfg steps.RunConfig) (steps.Outcome, error)
	Now         func() time.Time // nil = time.Now
	OutputLines int              // output ring size; default 5000
	NoSpinner   bool             // a static marker instead (stable test output)
	// Answers, by procedure name, fill the answers form in (`hawiz demo`);
	// the operator can still change every field.
	Answers map[string]steps.Answers
	// PlanNotes, by procedure name, are shown above the plan (`hawiz demo`
	// says where its paths differ from the documented defaults).
	PlanNotes map[string][]string
	// AnswersFrom says where Answers came from, on the review screen that
	// shows complete and valid Answers before the plan (e.g. "hawiz demo
	// filled these answers in"); "" = a neutral sentence.
	AnswersFrom string
	// ResumeHint is how to continue a stopped run, shown in the quit
	// confirmation and on the Stopped screen; "" = the engine's resume
	// command (`hawiz resume --state …`). `hawiz demo` cannot use that: it
	// says "run `hawiz demo` again to resume".
	ResumeHint string
	// RemovedOnExit, when set, is asked once a run has completed: a
	// non-empty answer is shown on the finish screen instead of the state,
	// transcript and evidence paths and the audit hint, because those files
	// are removed when the wizard exits (`hawiz demo` without --keep, when
	// no other demo run is unfinished).
	RemovedOnExit func() string
}

type screen int

const (
	scrHome screen = iota
	scrReview
	scrForm
	scrFormErr
	scrPlan
	scrRun
	scrFinish
)

type rowStatus int

const (
	stPending rowStatus = iota
	stRunning
	stDone
	stSkipped
	stFailed
	stWaiting
)

type stepRow struct {
	id, title string
	hosts     []string
	status    rowStatus
	host      string
	started   time.Time
	elapsed   time.Duration
	note      string
}

type homeItem struct {
	proc   *steps.Procedure
	resume *Resumable
}

type promptKind int

const (
	pNone promptKind = iota
	pHostKeys
	pManual
	pConfirm
	pSecret
	pFailure
	pSkipSure
	pQuit
)

// prompt is the engine's (or the wizard's) question on screen.
type prompt struct {
	kind     promptKind
	keys     []remote.NewHostKey
	accept   []bool
	cursor   int
	hostKeyR chan map[string]bool
	step     *steps.Step
	host     string
	manualR  chan error
	question string
	defYes   bool
	confirmR chan bool
	secret   textinput.Model
	secretN  string
	secretR  chan string
	err      error
	failureR chan steps.FailureChoice
	prev     *prompt // the question under a quit confirmation
}

// Model is the wizard: home, answers, plan, run, finish.
type Model struct {
	cfg  Config
	st   styles
	w, h int
	scr  screen

	items  []homeItem
	cursor int
	notice string

	proc    *steps.Procedure
	af      *answersForm
	form    *huh.Form
	formErr error
	saved   string
	answers steps.Answers

	planVP   viewport.Model
	planText string // the plan as written; wrapped to the width in layout
	reviewVP viewport.Model
	review   []reviewSection

	bridge    *Bridge
	cancel    context.CancelFunc
	resume    bool
	statePath string
	rows      []*stepRow
	cur       int
	out       *ring
	follow    bool
	outOff    int
	vp        viewport.Model
	spin      spinner.Model
	pr        prompt
	pending   []tea.Msg // engine questions waiting for the one on screen
	paused    bool
	pauseReq  bool
	stopping  bool
	wait      *waitMsg
	warnings  []string
	started   time.Time
	failTail  []string

	outcome  steps.Outcome
	runErr   error
	finished bool
	removed  string // Config.RemovedOnExit's answer for the completed run

	help help.Model
	keys keyMap
}

type keyMap struct {
	Up, Down, Enter, Back, Quit, Pause, Retry, Skip, Transcript, Accept, AcceptAll, Toggle, Stop, Top, Bottom key.Binding
	list                                                                                                      []key.Binding
}

// ShortHelp implements help.KeyMap.
func (k keyMap) ShortHelp() []key.Binding { return k.list }

// FullHelp implements help.KeyMap.
func (k keyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.list} }

func newKeys() keyMap {
	b := key.NewBinding
	return keyMap{
		Up:         b(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
		Down:       b(key.WithKeys("down", "j")),
		Enter:      b(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
		Back:       b(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Quit:       b(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Pause:      b(key.WithKeys("p"), key.WithHelp("p", "pause after step")),
		Retry:      b(key.WithKeys("r"), key.WithHelp("r", "retry")),
		Skip:       b(key.WithKeys("s"), key.WithHelp("s", "skip")),
		Transcript: b(key.WithKeys("t"), key.WithHelp("t", "transcript")),
		Accept:     b(key.WithKeys("enter"), key.WithHelp("enter", "accept checked")),
		AcceptAll:  b(key.WithKeys("a"), key.WithHelp("a", "accept all")),
		Toggle:     b(key.WithKeys("space", " "), key.WithHelp("space", "check/uncheck")),
		Stop:       b(key.WithKeys("x"), key.WithHelp("x", "stop here")),
		Top:        b(key.WithKeys("pgup", "home"), key.WithHelp("pgup/pgdn", "scroll")),
		Bottom:     b(key.WithKeys("pgdown", "end")),
	}
}

// New returns the wizard's model.
func New(cfg Config) *Model {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Run == nil {
		cfg.Run = steps.Run
	}
	if cfg.OutputLines <= 0 {
		cfg.OutputLines = 5000
	}
	m := &Model{cfg: cfg, st: newStyles(), w: 80, h: 24, help: help.New(), keys: newKeys(),
		out: newRing(cfg.OutputLines), follow: true, spin: spinner.New(spinner.WithSpinner(spinner.Line))}
	m.vp = viewport.New()
	m.planVP = viewport.New()
	m.reviewVP = viewport.New()
	m.loadHome()
	return m
}

func (m *Model) loadHome() {
	m.items = m.items[:0]
	for _, r := range ListResumable(m.cfg.StateDir) {
		r := r
		m.items = append(m.items, homeItem{resume: &r})
	}
	for _, p := range m.cfg.Procedures {
		m.items = append(m.items, homeItem{proc: p})
	}
	m.cursor = 0
}

// ExitCode is the process exit code for how the wizard ended.
func (m *Model) ExitCode() int {
	if !m.finished {
		if m.bridge != nil {
			return steps.ExitStopped
		}
		return steps.ExitOK
	}
	return steps.ExitCode(m.runErr)
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return tea.RequestWindowSize }

func (m *Model) findProc(name string) *steps.Procedure {
	for _, p := range m.cfg.Procedures {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = max(20, msg.Width), max(8, msg.Height)
		m.layout()
		if m.form != nil {
			m.form.WithWidth(m.w).WithHeight(m.h - 2)
		}
		if m.scr != scrForm {
			return m, nil
		}
	case batchMsg:
		var cmds []tea.Cmd
		for _, x := range msg {
			cmds = append(cmds, m.engine(x))
		}
		m.refreshOutput()
		cmds = append(cmds, m.bridge.listen())
		return m, tea.Batch(cmds...)
	case spinner.TickMsg:
		if m.scr != scrRun || m.finished {
			return m, nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case transcriptDone:
		return m, nil
	}
	switch m.scr {
	case scrHome:
		return m.updateHome(msg)
	case scrReview:
		return m.updateReview(msg)
	case scrForm:
		return m.updateForm(msg)
	case scrFormErr:
		if k, ok := msg.(tea.KeyPressMsg); ok {
			if key.Matches(k, m.keys.Quit) && k.String() == "ctrl+c" {
				return m, tea.Quit
			}
			m.startForm()
			return m, m.form.Init()
		}
	case scrPlan:
		return m.updatePlan(msg)
	case scrRun:
		return m.updateRun(msg)
	case scrFinish:
		if k, ok := msg.(tea.KeyPressMsg); ok {
			switch {
			case key.Matches(k, m.keys.Transcript):
				return m, m.openTranscript()
			case key.Matches(k, m.keys.Quit), key.Matches(k, m.keys.Enter):
				return m, tea.Quit
			}
		}
	}
	return m, nil
}

func (m *Model) updateHome(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(k, m.keys.Up):
		m.cursor = max(0, m.cursor-1)
	case key.Matches(k, m.keys.Down):
		m.cursor = min(len(m.items)-1, m.cursor+1)
	case key.Matches(k, m.keys.Enter):
		if len(m.items) == 0 {
			return m, nil
		}
		it := m.items[m.cursor]
		if it.resume != nil {
			return m, m.startResume(it.resume)
		}
		m.proc = it.proc
		m.af = newAnswersForm(it.proc)
		m.af.initial = m.cfg.Answers[it.proc.Name]
		if a := m.af.prefilled(); a != nil {
			m.answers = a
			m.showReview()
			return m, nil
		}
		m.startForm()
		return m, m.form.Init()
	}
	return m, nil
}

// showReview shows answers that are complete and valid already: the plan
// is one key away, the form opens only to edit them.
func (m *Model) showReview() {
	m.review = m.af.review()
	m.scr = scrReview
	m.layout()
	m.reviewVP.GotoTop()
}

func (m *Model) updateReview(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	switch k.String() {
	case "ctrl+c", "q":
		return m, tea.Quit
	case "esc":
		m.scr = scrHome
		return m, nil
	case "e":
		m.startForm()
		return m, m.form.Init()
	case "enter", "y":
		return m, m.showPlan()
	}
	var cmd tea.Cmd
	m.reviewVP, cmd = m.reviewVP.Update(msg)
	return m, cmd
}

func (m *Model) startForm() {
	m.form = m.af.Form(false).WithWidth(m.w).WithHeight(m.h - 2).WithShowHelp(true)
	m.scr = scrForm
}

func (m *Model) updateForm(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" {
		m.scr = scrHome
		m.form = nil
		return m, nil
	}
	f, cmd := m.form.Update(msg)
	m.form = f.(*huh.Form)
	switch m.form.State {
	case huh.StateAborted:
		return m, tea.Quit
	case huh.StateCompleted:
		a, data, err := m.af.Result()
		if err != nil {
			m.formErr = err
			m.scr = scrFormErr
			return m, nil
		}
		m.answers = a
		if p, err := m.af.Save(data); err != nil {
			m.notice = "could not save the answers: " + err.Error()
		} else if p != "" {
			m.saved = p
			m.notice = "answers saved to " + p + " (no secrets)"
		}
		return m, m.showPlan()
	}
	return m, cmd
}

func (m *Model) showPlan() tea.Cmd {
	var b strings.Builder
	for _, n := range m.cfg.PlanNotes[m.proc.Name] {
		b.WriteString("Note: " + n + "\n")
	}
	if len(m.cfg.PlanNotes[m.proc.Name]) > 0 {
		b.WriteString("\n")
	}
	if err := steps.WritePlan(&b, m.proc, m.answers); err != nil {
		m.formErr = err
		m.scr = scrFormErr
		return nil
	}
	m.planText = b.String()
	m.scr = scrPlan
	m.layout()
	m.planVP.GotoTop()
	return nil
}

func (m *Model) updatePlan(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	switch {
	case k.String() == "ctrl+c", k.String() == "q":
		return m, tea.Quit
	case k.String() == "esc":
		m.startForm()
		return m, m.form.Init()
	case k.String() == "enter", k.String() == "y":
		return m, m.startRun(steps.RunConfig{Procedure: m.proc, Answers: m.answers, AnswersFile: m.saved})
	}
	var cmd tea.Cmd
	m.planVP, cmd = m.planVP.Update(msg)
	return m, cmd
}

func (m *Model) startResume(r *Resumable) tea.Cmd {
	p := m.findProc(r.Procedure)
	if p == nil {
		m.notice = fmt.Sprintf("%s: this hawiz has no procedure %s", r.Path, r.Procedure)
		return nil
	}
	m.proc = p
	m.resume = true
	st, err := steps.ReadState(r.Path)
	if err == nil {
		if a, lerr := steps.LoadAnswers(p, []byte(st.Answers)); lerr == nil {
			m.answers = a
		}
	}
	cmd := m.startRun(steps.RunConfig{Procedure: p, Resume: true, StatePath: r.Path, RunName: r.RunName})
	if st != nil {
		for i, ss := range st.Steps {
			if i < len(m.rows) {
				switch ss.Status() {
				case steps.StatusDone:
					m.rows[i].status = stDone
				case steps.StatusSkipped:
					m.rows[i].status = stSkipped
				case steps.StatusFailed:
					m.rows[i].status = stFailed
				}
			}
		}
	}
	return cmd
}

func (m *Model) startRun(rc steps.RunConfig) tea.Cmd {
	m.rows = nil
	if m.answers != nil {
		if list, err := steps.BuildSteps(m.proc, m.answers); err == nil {
			for _, s := range list {
				hosts := s.Hosts
				if s.Mode == steps.Once && len(hosts) > 1 {
					hosts = hosts[:1]
				}
				m.rows = append(m.rows, &stepRow{id: s.ID, title: s.Title, hosts: hosts})
			}
		}
	}
	m.scr = scrRun
	m.statePath = rc.StatePath
	m.started = m.cfg.Now()
	m.bridge = NewBridge()
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	rc.Renderer, rc.Operator = m.bridge, m.bridge
	rc.Remote = m.cfg.Remote
	rc.Getenv = m.cfg.Getenv
	rc.ToolVersion = m.cfg.ToolVersion
	b, run := m.bridge, m.cfg.Run
	go func() {
		out, err := run(ctx, rc)
		b.send(runDoneMsg{outcome: out, err: err})
	}()
	m.layout()
	cmds := []tea.Cmd{b.listen()}
	if !m.cfg.NoSpinner {
		cmds = append(cmds, m.spin.Tick)
	}
	return tea.Batch(cmds...)
}

// row returns the row for step id, adding one when the engine names a step
// the model did not know (e.g. answers it could not load).
func (m *Model) row(ev steps.Event) *stepRow {
	if ev.Index > 0 {
		for len(m.rows) < ev.Index {
			m.rows = append(m.rows, &stepRow{})
		}
		r := m.rows[ev.Index-1]
		if r.id == "" {
			r.id, r.title = ev.Step, ev.Title
		}
		return r
	}
	for _, r := range m.rows {
		if r.id == ev.Step {
			return r
		}
	}
	if ev.Step == "" {
		return nil
	}
	r := &stepRow{id: ev.Step, title: cmpOr(ev.Title, ev.Step)}
	m.rows = append(m.rows, r)
	return r
}

func (m *Model) line(s string) {
	if m.follow || m.out.Len() < m.vp.Height() {
		m.out.Add(s)
		return
	}
	before := m.out.Dropped()
	m.out.Add(s)
	if m.out.Dropped() > before && m.outOff > 0 {
		m.outOff-- // keep the operator's place when the oldest line goes
	}
}

func hostTag(h string) string {
	if h == "" {
		return "local"
	}
	return h
}

// engine handles one message from the engine goroutine.
func (m *Model) engine(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case eventMsg:
		m.event(msg.ev)
	case pausedMsg:
		m.paused = true
	case waitMsg:
		if msg.done {
			m.wait = nil
		} else {
			w := msg
			m.wait = &w
		}
	case runDoneMsg:
		m.finished = true
		m.outcome, m.runErr = msg.outcome, msg.err
		if m.runErr == nil && m.cfg.RemovedOnExit != nil {
			m.removed = m.cfg.RemovedOnExit()
		}
		if m.outcome.StatePath != "" {
			m.statePath = m.outcome.StatePath
		}
		m.scr = scrFinish
		m.pr = prompt{}
	case hostKeysReq, manualReq, confirmReq, secretReq, failureReq:
		if m.pr.kind != pNone {
			m.pending = append(m.pending, msg)
			return nil
		}
		return m.ask(msg)
	}
	return nil
}

func (m *Model) ask(msg tea.Msg) tea.Cmd {
	switch q := msg.(type) {
	case hostKeysReq:
		m.pr = prompt{kind: pHostKeys, keys: q.keys, accept: make([]bool, len(q.keys)), hostKeyR: q.reply}
	case manualReq:
		m.pr = prompt{kind: pManual, step: q.step, host: q.host, manualR: q.reply}
	case confirmReq:
		m.pr = prompt{kind: pConfirm, question: q.question, defYes: q.defaultYes, confirmR: q.reply}
	case secretReq:
		ti := textinput.New()
		ti.EchoMode = textinput.EchoPassword
		ti.EchoCharacter = '•'
		ti.Prompt = "> "
		ti.SetWidth(max(10, m.w-6))
		m.pr = prompt{kind: pSecret, question: q.prompt, secretN: q.name, secretR: q.reply, secret: ti}
		return m.pr.secret.Focus()
	case failureReq:
		m.pr = prompt{kind: pFailure, step: q.step, host: q.host, err: q.err, failureR: q.reply}
	}
	return nil
}

// answered clears the prompt and shows the next queued question.
func (m *Model) answered() tea.Cmd {
	m.pr = prompt{}
	if len(m.pending) > 0 {
		next := m.pending[0]
		m.pending = m.pending[1:]
		return m.ask(next)
	}
	return nil
}

func (m *Model) event(ev steps.Event) {
	switch ev.Kind {
	case steps.EventRunStart:
		if ev.StatePath != "" {
			m.statePath = ev.StatePath
		}
	case steps.EventConnect:
		if ev.Host != "" {
			m.line(fmt.Sprintf("connected to %s (%s)", ev.Host, ev.Message))
		}
	case steps.EventStepStart:
		r := m.row(ev)
		if r == nil {
			return
		}
		r.status, r.started, r.note = stRunning, m.cfg.Now(), ""
		r.host = ev.Host
		m.cur = ev.Index - 1
		m.out.Reset()
		m.outOff, m.follow = 0, true
		m.failTail = nil
		m.line(fmt.Sprintf("── step %d/%d: %s", ev.Index, max(ev.Total, len(m.rows)), ev.Title))
	case steps.EventCheck:
		m.line(fmt.Sprintf("[%s] check: not done yet%s", hostTag(ev.Host), suffix(ev.Evidence)))
	case steps.EventSkip:
		if r := m.row(ev); r != nil {
			// "already done", "done (re-checked)"…: its check holds; only
			// "skipped by --skip" / by the operator is a real skip.
			r.status, r.note = stDone, ev.Message
			if strings.Contains(ev.Message, "skip") {
				r.status = stSkipped
			}
			if ev.Host != "" {
				r.host = ev.Host
			}
		}
		m.line(fmt.Sprintf("[%s] skipped%s", hostTag(ev.Host), suffix(ev.Message)))
	case steps.EventApply:
		if r := m.row(ev); r != nil {
			r.host, r.status = ev.Host, stRunning
		}
		m.line(fmt.Sprintf("[%s] apply", hostTag(ev.Host)))
	case steps.EventVerify:
		m.line(fmt.Sprintf("[%s] verified%s", hostTag(ev.Host), suffix(ev.Evidence)))
	case steps.EventHostDone:
		m.line(fmt.Sprintf("[%s] done (%s)", hostTag(ev.Host), ev.Elapsed.Round(time.Millisecond)))
	case steps.EventStepDone:
		if r := m.row(ev); r != nil {
			if r.status != stSkipped {
				r.status = stDone
			}
			if r.note == "" && r.status == stDone {
				r.note = "verified"
			}
			r.elapsed = ev.Elapsed
			if r.elapsed == 0 && !r.started.IsZero() {
				r.elapsed = m.cfg.Now().Sub(r.started)
			}
		}
	case steps.EventStepFailed:
		if r := m.row(ev); r != nil {
			r.status, r.host, r.note = stFailed, ev.Host, ev.Message
			if !r.started.IsZero() {
				r.elapsed = m.cfg.Now().Sub(r.started)
			}
		}
		m.failTail = ev.Output
		m.line(fmt.Sprintf("[%s] FAILED: %s", hostTag(ev.Host), ev.Message))
	case steps.EventManualWait:
		if r := m.row(ev); r != nil {
			r.status = stWaiting
		}
	case steps.EventConfirmed:
		if r := m.row(ev); r != nil {
			r.status = stRunning
		}
		m.line(fmt.Sprintf("[%s] confirmed by the operator", hostTag(ev.Host)))
	case steps.EventOutput:
		for _, l := range ev.Output {
			if ev.Host != "" {
				l = ev.Host + "│ " + l
			}
			m.line(l)
		}
	case steps.EventWarning:
		m.warnings = append(m.warnings, ev.Message)
		m.line("warning: " + ev.Message)
	case steps.EventInfo:
		m.line(ev.Message)
	case steps.EventRunEnd:
		m.outcome.Status = ev.Status
		if ev.StatePath != "" {
			m.statePath = ev.StatePath
		}
	}
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

type transcriptDone struct{ err error }

func (m *Model) openTranscript() tea.Cmd {
	if m.statePath == "" {
		m.notice = "no transcript yet"
		return nil
	}
	path := steps.TranscriptPath(m.statePath)
	if _, err := os.Stat(path); err != nil {
		m.notice = "no transcript at " + path
		return nil
	}
	pager := cmpOr(m.cfg.Getenv("PAGER"), "less")
	c := exec.Command(pager, path)
	return tea.ExecProcess(c, func(err error) tea.Msg { return transcriptDone{err} })
}

func (m *Model) updateRun(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if m.pr.kind == pSecret {
			var cmd tea.Cmd
			m.pr.secret, cmd = m.pr.secret.Update(msg)
			return m, cmd
		}
		return m, nil
	}
	s := k.String()
	if s == "ctrl+c" && m.stopping {
		m.bridge.Close()
		return m, tea.Quit
	}
	if (s == "ctrl+c" || s == "q" && m.pr.kind != pSecret) && m.pr.kind != pNone && m.pr.kind != pQuit && m.pr.kind != pFailure && !m.stopping {
		prev := m.pr
		m.pr = prompt{kind: pQuit, prev: &prev}
		return m, nil
	}
	switch m.pr.kind {
	case pHostKeys:
		switch {
		case key.Matches(k, m.keys.Up):
			m.pr.cursor = max(0, m.pr.cursor-1)
		case key.Matches(k, m.keys.Down):
			m.pr.cursor = min(len(m.pr.keys)-1, m.pr.cursor+1)
		case s == "space" || s == " ":
			m.pr.accept[m.pr.cursor] = !m.pr.accept[m.pr.cursor]
		case s == "a" || s == "enter":
			acc := map[string]bool{}
			for i, hk := range m.pr.keys {
				if s == "a" || m.pr.accept[i] {
					acc[hk.Host] = true
				}
			}
			m.pr.hostKeyR <- acc
			return m, m.answered()
		case s == "esc" || s == "n":
			m.pr.hostKeyR <- map[string]bool{}
			return m, m.answered()
		}
		return m, nil
	case pManual:
		switch s {
		case "enter", "c":
			m.pr.manualR <- nil
			return m, m.answered()
		case "x":
			m.pr.manualR <- steps.ErrWaitingForOperator
			return m, m.answered()
		}
		return m, nil
	case pConfirm:
		switch s {
		case "y":
			m.pr.confirmR <- true
			return m, m.answered()
		case "n":
			m.pr.confirmR <- false
			return m, m.answered()
		case "enter":
			m.pr.confirmR <- m.pr.defYes
			return m, m.answered()
		}
		return m, nil
	case pSecret:
		switch s {
		case "enter":
			v := m.pr.secret.Value()
			m.pr.secret.SetValue("")
			m.pr.secretR <- v
			return m, m.answered()
		case "esc":
			m.pr.secretR <- ""
			return m, m.answered()
		}
		var cmd tea.Cmd
		m.pr.secret, cmd = m.pr.secret.Update(msg)
		return m, cmd
	case pFailure:
		switch s {
		case "r":
			m.pr.failureR <- steps.Retry
			return m, m.answered()
		case "s":
			m.pr.kind = pSkipSure
		case "q":
			m.pr.failureR <- steps.Quit
			return m, m.answered()
		}
		return m, nil
	case pSkipSure:
		switch s {
		case "y":
			m.pr.failureR <- steps.Skip
			return m, m.answered()
		default:
			m.pr.kind = pFailure
		}
		return m, nil
	case pQuit:
		switch s {
		case "y", "q":
			m.pr = prompt{}
			m.stop()
		default:
			if m.pr.prev != nil {
				m.pr = *m.pr.prev
			} else {
				m.pr = prompt{}
			}
		}
		return m, nil
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		if !m.stopping {
			m.pr = prompt{kind: pQuit}
		}
	case key.Matches(k, m.keys.Pause):
		if m.paused {
			m.paused, m.pauseReq = false, false
			m.bridge.Continue()
		} else {
			m.pauseReq = !m.pauseReq
			m.bridge.SetPause(m.pauseReq)
		}
	case s == "c" && m.paused:
		m.paused, m.pauseReq = false, false
		m.bridge.Continue()
	case s == "g" && m.wait != nil:
		m.bridge.GiveUp()
	case key.Matches(k, m.keys.Transcript):
		return m, m.openTranscript()
	case key.Matches(k, m.keys.Up):
		m.scroll(-1)
	case key.Matches(k, m.keys.Down):
		m.scroll(1)
	case s == "pgup":
		m.scroll(-m.vp.Height())
	case s == "pgdown":
		m.scroll(m.vp.Height())
	case s == "home":
		m.follow, m.outOff = false, 0
		m.refreshOutput()
	case s == "end":
		m.follow = true
		m.refreshOutput()
	}
	return m, nil
}

// stop cancels the run; the engine keeps the state and returns.
func (m *Model) stop() {
	m.stopping = true
	m.cancel()
	m.bridge.Continue()
	m.bridge.GiveUp()
}

func (m *Model) scroll(d int) {
	h := m.vp.Height()
	maxOff := max(0, m.out.Len()-h)
	if m.follow {
		m.outOff = maxOff
	}
	m.outOff = max(0, min(maxOff, m.outOff+d))
	m.follow = m.outOff >= maxOff
	m.refreshOutput()
}

// refreshOutput feeds the viewport the visible window of the ring only.
func (m *Model) refreshOutput() {
	h := m.vp.Height()
	if m.follow {
		m.outOff = max(0, m.out.Len()-h)
	}
	m.vp.SetContentLines(m.out.Window(m.outOff, h))
}

// stepRows is how many step rows the run screen shows.
func (m *Model) stepRows() int {
	return min(len(m.rows), max(3, (m.h-2)/3))
}

func (m *Model) layout() {
	m.help.SetWidth(m.w)
	m.vp.SetWidth(m.w)
	m.vp.SetHeight(max(1, m.h-2-m.stepRows()-1))
	m.planVP.SetWidth(m.w)
	m.planVP.SetHeight(max(1, m.h-3))
	if m.scr == scrPlan {
		m.planVP.SetContent(wrapHanging(m.planText, m.w))
	}
	m.reviewVP.SetWidth(m.w)
	m.reviewVP.SetHeight(max(1, m.h-2-strings.Count(m.reviewHead(), "\n")))
	if m.scr == scrReview {
		m.reviewVP.SetContent(reviewText(m.review, m.w, m.st.title, m.st.dim) + "\n" +
			m.st.dim.Render(ansi.Wrap("Fields not listed are empty: hawiz uses their defaults. Secrets are never shown here.", m.w, "")))
	}
	m.refreshOutput()
}

// errText is err's message without the engine's wrapping noise.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var hk *remote.HostKeyChangedError
	if errors.As(err, &hk) {
		return hk.Error()
	}
	var ce *remote.HostCertError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return err.Error()
}

// truncate cuts s to w cells.
func truncate(s string, w int) string { return ansi.Truncate(s, w, "…") }
