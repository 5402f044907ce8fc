package tui

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

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
	// ResumeCommand replaces the engine's `hawiz resume --state FILE` in
	// what a stopped run prints (steps.RunConfig.ResumeCommand).
	ResumeCommand string
	ResumeFixed   bool // ResumeCommand takes no flags (steps.RunConfig.ResumeFixed)
	// RemovedOnExit, when set, is asked once a run has completed: a
	// non-empty answer is shown on the finish screen instead of the state,
	// transcript and evidence paths and the audit hint, because those files
	// are removed when the wizard exits (`hawiz demo` without --keep, when
	// no other demo run is unfinished).
	RemovedOnExit func() string
}

// Model is the wizard. It owns the screens — home, review, form, plan,
// run, finish, one file each (screen_*.go) — and routes every message to
// the one in front, as bubbletea's composable-views example delegates to
// the focused child. The model keeps only what crosses screens: the
// terminal's size, the engine's messages, the operator's choices so far,
// and the moves from one screen to the next (goTo).
type Model struct {
	cfg Config
	ui  *ui

	front  screen // the screen on show; it gets the keys
	home   *homeScreen
	review *reviewScreen
	form   *formScreen // nil until a procedure is picked
	plan   *planScreen
	run    *runScreen    // nil until a run starts
	finish *finishScreen // nil until the run ends

	proc    *steps.Procedure
	answers steps.Answers
	saved   string // where the answers were saved; "" = not saved
}

// screen is one of the wizard's screens.
type screen interface {
	// update handles a message while the screen is in front: it returns
	// a command, or a move to another screen (then no command).
	update(msg tea.Msg) (move, tea.Cmd)
	// view is the whole screen, under a header that says title.
	view(title string) string
	// resize lays the screen out again for the terminal's size.
	resize()
}

// A move is a screen asking for another screen; the model makes it
// (goTo), since the next screen needs what the model keeps.
type move interface{ isMove() }

type (
	pickProcedure struct{ p *steps.Procedure } // home: start this procedure
	pickRun       struct{ r *Resumable }       // home: resume this run
	toHome        struct{}                     // back to the home screen
	toForm        struct{}                     // edit the answers
	toPlan        struct{}                     // the plan for the answers as they are
	toRun         struct{}                     // the plan is confirmed: run it
	// formDone is the form completed with answers that load like a file:
	// saved is where they were saved ("" = not saved), notice what the
	// home screen says about it ("" = nothing new).
	formDone struct {
		answers       steps.Answers
		saved, notice string
	}
)

func (pickProcedure) isMove() {}
func (pickRun) isMove()       {}
func (toHome) isMove()        {}
func (toForm) isMove()        {}
func (toPlan) isMove()        {}
func (toRun) isMove()         {}
func (formDone) isMove()      {}

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
	m := &Model{cfg: cfg, ui: newUI()}
	m.home = newHomeScreen(&m.cfg, m.ui)
	m.review = newReviewScreen(&m.cfg, m.ui)
	m.plan = newPlanScreen(m.ui)
	m.front = m.home
	return m
}

// ExitCode is the process exit code for how the wizard ended.
func (m *Model) ExitCode() int {
	switch {
	case m.finish != nil:
		return steps.ExitCode(m.finish.err)
	case m.run != nil:
		return steps.ExitStopped
	}
	return steps.ExitOK
}

// finished reports whether the run has ended (the engine returned).
func (m *Model) finished() bool { return m.finish != nil }

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd { return tea.RequestWindowSize }

// Update implements tea.Model: the terminal's size, the engine's messages
// and the spinner's ticks are the model's; every other message goes to the
// screen in front.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.ui.w, m.ui.h = max(20, msg.Width), max(8, msg.Height)
		m.layout()
		if m.front != m.form {
			return m, nil
		}
		// the form (huh) sizes its fields itself
	case batchMsg:
		var cmds []tea.Cmd
		for _, x := range msg {
			cmds = append(cmds, m.engine(x))
		}
		m.run.refreshOutput()
		cmds = append(cmds, m.run.bridge.listen())
		return m, tea.Batch(cmds...)
	case spinner.TickMsg:
		if m.run == nil || m.front != m.run {
			return m, nil
		}
		return m, m.run.tick(msg)
	}
	mv, cmd := m.front.update(msg)
	if mv != nil {
		return m, tea.Batch(cmd, m.goTo(mv))
	}
	return m, cmd
}

// goTo makes a screen's move.
func (m *Model) goTo(mv move) tea.Cmd {
	switch mv := mv.(type) {
	case pickProcedure:
		return m.pick(mv.p)
	case pickRun:
		return m.startResume(mv.r)
	case toHome:
		m.front = m.home
	case toForm:
		return m.startForm()
	case toPlan:
		return m.showPlan()
	case formDone:
		m.answers = mv.answers
		if mv.notice != "" {
			m.home.notice = mv.notice
		}
		if mv.saved != "" {
			m.saved = mv.saved
		}
		return m.showPlan()
	case toRun:
		return m.startRun(steps.RunConfig{Procedure: m.proc, Answers: m.answers, AnswersFile: m.saved})
	}
	return nil
}

// show puts s in front, laid out for the terminal.
func (m *Model) show(s screen) {
	m.front = s
	m.layout()
}

func (m *Model) layout() {
	m.ui.help.SetWidth(m.ui.w)
	m.front.resize()
}

// pick starts on procedure p: answers that are complete and valid already
// (Config.Answers) are reviewed, the plan one key away; otherwise the form
// opens, filled in with whatever there is.
func (m *Model) pick(p *steps.Procedure) tea.Cmd {
	m.proc = p
	af := newAnswersForm(p)
	af.initial = m.cfg.Answers[p.Name]
	m.form = newFormScreen(m.ui, af)
	if a := af.prefilled(); a != nil {
		m.answers = a
		m.review.open(af.review())
		m.show(m.review)
		return nil
	}
	return m.startForm()
}

func (m *Model) startForm() tea.Cmd {
	m.front = m.form
	return m.form.start()
}

// showPlan shows the plan for the answers, with the procedure's notes
// above it; answers the plan cannot be written for go back to the form.
func (m *Model) showPlan() tea.Cmd {
	var b strings.Builder
	for _, n := range m.cfg.PlanNotes[m.proc.Name] {
		b.WriteString("Note: " + n + "\n")
	}
	if len(m.cfg.PlanNotes[m.proc.Name]) > 0 {
		b.WriteString("\n")
	}
	if err := steps.WritePlan(&b, m.proc, m.answers); err != nil {
		m.form.failed(err)
		m.front = m.form
		return nil
	}
	m.plan.open(b.String())
	m.show(m.plan)
	return nil
}

// startRun starts the engine on rc and shows the run screen.
func (m *Model) startRun(rc steps.RunConfig) tea.Cmd {
	rc.ResumeCommand, rc.ResumeFixed = m.cfg.ResumeCommand, m.cfg.ResumeFixed
	m.run = newRunScreen(&m.cfg, m.ui, planRows(m.proc, m.answers))
	cmd := m.run.start(rc)
	m.show(m.run)
	return cmd
}

// startResume continues an unfinished run: its rows show the state's
// progress before the engine reports any.
func (m *Model) startResume(r *Resumable) tea.Cmd {
	p := m.findProc(r.Procedure)
	if p == nil {
		m.home.notice = fmt.Sprintf("%s: this hawiz has no procedure %s", r.Path, r.Procedure)
		return nil
	}
	m.proc = p
	st, err := steps.ReadState(r.Path)
	if err == nil {
		if a, lerr := steps.LoadAnswers(p, []byte(st.Answers)); lerr == nil {
			m.answers = a
		}
	}
	cmd := m.startRun(steps.RunConfig{Procedure: p, Resume: true, StatePath: r.Path, RunName: r.RunName})
	if st != nil {
		m.run.markFrom(st)
	}
	return cmd
}

func (m *Model) findProc(name string) *steps.Procedure {
	for _, p := range m.cfg.Procedures {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// engine handles one message from the engine goroutine: the end of the
// run brings the finish screen, everything else is the run screen's.
func (m *Model) engine(msg tea.Msg) tea.Cmd {
	done, ok := msg.(runDoneMsg)
	if !ok {
		return m.run.engine(msg)
	}
	m.run.end(done.outcome)
	m.finish = newFinishScreen(&m.cfg, m.ui, m.proc, m.run, done)
	m.front = m.finish
	return nil
}
