package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/steps"
)

// The home screen: the unfinished runs to resume (home.go lists them) and
// the procedures to start.

type homeItem struct {
	proc   *steps.Procedure
	resume *Resumable
}

type homeScreen struct {
	cfg    *Config
	ui     *ui
	items  []homeItem
	cursor int
	notice string // what happened last (answers saved, a run that cannot resume)
}

func newHomeScreen(cfg *Config, u *ui) *homeScreen {
	s := &homeScreen{cfg: cfg, ui: u}
	for _, r := range ListResumable(cfg.StateDir) {
		s.items = append(s.items, homeItem{resume: &r})
	}
	for _, p := range cfg.Procedures {
		s.items = append(s.items, homeItem{proc: p})
	}
	return s
}

func (s *homeScreen) update(msg tea.Msg) (move, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, nil
	}
	switch {
	case key.Matches(k, s.ui.keys.Quit):
		return nil, tea.Quit
	case key.Matches(k, s.ui.keys.Up):
		s.cursor = max(0, s.cursor-1)
	case key.Matches(k, s.ui.keys.Down):
		s.cursor = min(len(s.items)-1, s.cursor+1)
	case key.Matches(k, s.ui.keys.Enter):
		if len(s.items) == 0 {
			return nil, nil
		}
		it := s.items[s.cursor]
		if it.resume != nil {
			return pickRun{it.resume}, nil
		}
		return pickProcedure{it.proc}, nil
	}
	return nil, nil
}

func (s *homeScreen) resize() {}

// view is the home screen under "hawiz" alone: no procedure is open here
// (after esc from a form, the header no longer names the one left).
func (s *homeScreen) view(title string) string {
	title, _, _ = strings.Cut(title, " · ")
	return s.ui.frame(title, s.body(), []key.Binding{s.ui.keys.Up, s.ui.keys.Enter, s.ui.keys.Quit})
}

func (s *homeScreen) body() string {
	st := s.ui.st
	var b strings.Builder
	b.WriteString("Vendors' HA procedures, run step by step over SSH, verified and resumable.\n")
	if s.notice != "" {
		b.WriteString(st.warn.Render(s.notice) + "\n")
	}
	now := s.cfg.Now()
	section := ""
	for i, it := range s.items {
		cur := "  "
		if i == s.cursor {
			cur = st.sel.Render("> ")
		}
		if it.resume != nil {
			if section != "resume" {
				section = "resume"
				b.WriteString("\n" + st.title.Render("Resume an unfinished run") + "\n")
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
			b.WriteString("\n" + st.title.Render("Start a procedure") + "\n")
		}
		line := it.proc.Title
		if i == s.cursor {
			line = st.sel.Render(line)
		}
		fmt.Fprintf(&b, "%s%s  %s\n", cur, line, st.dim.Render(it.proc.Name))
		if it.proc.Description != "" {
			fmt.Fprintf(&b, "    %s\n", it.proc.Description)
		}
	}
	if len(s.items) == 0 {
		b.WriteString("\nNo procedures in this build.\n")
	}
	return b.String()
}
