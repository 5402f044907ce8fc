package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"charm.land/huh/v2"

	"github.com/hawiz/hawiz/steps"
)

// Accessible reports whether the wizard should use plain prompts: asked
// for (--accessible), or a terminal that cannot do more (TERM=dumb).
func Accessible(flag bool, getenv func(string) string) bool {
	return flag || getenv("TERM") == "dumb"
}

// RunAccessible is the wizard as plain prompts for screen readers (huh's
// accessible mode): the same flow as the full-screen wizard — pick a
// procedure or an unfinished run, review answers that are complete already
// (Config.Answers) or answer the same forms with the same validation, save
// the answers, read the plan, confirm, run with the plain
// renderer and line prompts. It returns the exit code.
func RunAccessible(ctx context.Context, cfg Config, in *os.File, out io.Writer) (int, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Run == nil {
		cfg.Run = steps.Run
	}
	// one reader of in for the forms and the run's line prompts
	op := NewLineOperator(in, out)
	fin := &formInput{ctx: ctx, in: op.input()}
	acc := func(f *huh.Form) *huh.Form {
		return f.WithAccessible(true).WithInput(fin).WithOutput(out)
	}
	// ask asks f's prompts; Ctrl-C (ctx) or Ctrl-D (the input's end) at any
	// of them ends the wizard: exit 3, nothing started.
	ask := func(f *huh.Form) (err error) {
		defer func() {
			if r := recover(); r != nil {
				e, ok := r.(formEnded)
				if !ok {
					panic(r)
				}
				fmt.Fprintln(out)
				err = e.err
			}
		}()
		return acc(f).RunWithContext(ctx)
	}
	var opts []huh.Option[int]
	runs := ListResumable(cfg.StateDir)
	for i, r := range runs {
		where := "not started"
		if r.StepIndex > 0 {
			where = fmt.Sprintf("at step %d of %d, %s", r.StepIndex, r.Total, r.StepTitle)
		}
		opts = append(opts, huh.NewOption(fmt.Sprintf("Resume %s (%s), %s, %s", r.Procedure, r.RunName, r.Status, where), -1-i))
	}
	for i, p := range cfg.Procedures {
		opts = append(opts, huh.NewOption(fmt.Sprintf("%s: %s", p.Title, p.Description), i))
	}
	if len(opts) == 0 {
		return steps.ExitUsage, fmt.Errorf("this hawiz knows no procedures")
	}
	choice := 0
	if err := ask(huh.NewForm(huh.NewGroup(huh.NewSelect[int]().Title("What do you want to do?").Options(opts...).Value(&choice)))); err != nil {
		return steps.ExitStopped, err
	}
	rc := steps.RunConfig{Getenv: cfg.Getenv, Remote: cfg.Remote, ToolVersion: cfg.ToolVersion, ResumeCommand: cfg.ResumeCommand, ResumeFixed: cfg.ResumeFixed,
		Renderer: NewPlainRenderer(out), Operator: op}
	if choice < 0 {
		r := runs[-1-choice]
		p := findIn(cfg.Procedures, r.Procedure)
		if p == nil {
			return steps.ExitUsage, fmt.Errorf("%s: this hawiz has no procedure %s", r.Path, r.Procedure)
		}
		rc.Procedure, rc.Resume, rc.StatePath, rc.RunName = p, true, r.Path, r.RunName
	} else {
		p := cfg.Procedures[choice]
		af := newAnswersForm(p)
		af.initial = cfg.Answers[p.Name]
		var a steps.Answers
		var data []byte
		if pa := af.prefilled(); pa != nil {
			// complete and valid already: the review, then the plan or the form
			fmt.Fprintln(out, "Review the answers. "+cmpOr(cfg.AnswersFrom, "These answers are complete and valid."))
			fmt.Fprint(out, plainReview(af.review()))
			fmt.Fprintln(out, "Fields not listed are empty: hawiz uses their defaults. Secrets are never shown here.")
			edit := false
			if err := ask(huh.NewForm(huh.NewGroup(huh.NewSelect[bool]().Title("Continue to the plan, or edit the answers?").
				Options(huh.NewOption("Continue to the plan", false), huh.NewOption("Edit answers", true)).Value(&edit)))); err != nil {
				return steps.ExitStopped, err
			}
			if !edit {
				a = pa
			}
		}
		for a == nil {
			if cf := af.CountForm(); cf != nil {
				if err := ask(cf); err != nil {
					return steps.ExitStopped, err
				}
			}
			if err := ask(af.Form(true)); err != nil {
				return steps.ExitStopped, err
			}
			var err error
			if a, data, err = af.Result(); err != nil {
				fmt.Fprintln(out, "These answers would not load from a file either:")
				for _, l := range strings.Split(err.Error(), "\n") {
					fmt.Fprintln(out, "  "+l)
				}
				fmt.Fprintln(out, "Please answer again; your answers so far are kept.")
			}
		}
		if data == nil {
			// not edited: nothing to save
		} else if path, err := af.Save(data); err != nil {
			fmt.Fprintln(out, "Could not save the answers:", err)
		} else if path != "" {
			fmt.Fprintln(out, "Answers saved to", path, "(no secrets).")
			rc.AnswersFile = path
		}
		if err := steps.WritePlan(out, p, a); err != nil {
			return steps.ExitCode(err), err
		}
		start := false
		if err := ask(huh.NewForm(huh.NewGroup(huh.NewConfirm().Title("Run this plan now?").Value(&start)))); err != nil {
			return steps.ExitStopped, err
		}
		if !start {
			return steps.ExitStopped, fmt.Errorf("not started")
		}
		rc.Procedure, rc.Answers = p, a
	}
	_, err := cfg.Run(ctx, rc)
	return steps.ExitCode(err), err
}

func findIn(ps []*steps.Procedure, name string) *steps.Procedure {
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// formInput is what huh's accessible prompts read: the wizard's lineInput,
// one line per Read, so a prompt takes its own line only and nothing reads
// the terminal between prompts. huh's accessible prompts cannot be
// cancelled, and take the input's end as "keep the value" (asking again
// forever, or failing, where the value does not validate): so when ctx ends
// (Ctrl-C) or the input does (Ctrl-D), Read ends the form with a formEnded
// panic, which the wizard's ask recovers as the error.
type formInput struct {
	ctx  context.Context
	in   *lineInput
	line []byte // the rest of the line being read
}

// formEnded is the panic by which formInput ends a form.
type formEnded struct{ err error }

func (r *formInput) Read(p []byte) (int, error) {
	if len(r.line) == 0 {
		l, err := r.in.line(r.ctx, io.Discard, "")
		switch {
		case r.ctx.Err() != nil:
			panic(formEnded{errors.New("interrupted (Ctrl-C) at a prompt; nothing was started")})
		case err != nil:
			panic(formEnded{fmt.Errorf("the input ended (Ctrl-D) at a prompt; nothing was started (%v)", err)})
		}
		r.line = append([]byte(l), '\n')
	}
	n := copy(p, r.line)
	r.line = r.line[n:]
	return n, nil
}
