package steps

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Audit is `hawiz check`: it connects, runs every step's Check and, when
// Check says done (or there is no Check), its Verify — never Apply, never a
// manual wait — and reports what does not hold as a *DriftError (exit 1).
// With cfg.StatePath, the facts recorded by that run are available to the
// checks (and its answers are used when cfg.Answers is nil); the state file
// is only read. cfg's flag and Hook fields are ignored; nothing is written
// locally except accepted host keys.
func Audit(ctx context.Context, cfg RunConfig) (Outcome, error) {
	cfg.Resume = false
	r, err := newRunner(cfg)
	if err != nil {
		return Outcome{Status: StatusRefused}, err
	}
	facts := map[string]string{}
	if cfg.StatePath != "" {
		st, err := ReadState(cfg.StatePath)
		if err != nil {
			return Outcome{}, err
		}
		if st.Procedure != r.p.Name {
			return Outcome{}, &UsageError{Err: fmt.Errorf("state file %s is a run of %s, not %s", cfg.StatePath, st.Procedure, r.p.Name)}
		}
		if r.answers == nil {
			if r.answers, err = LoadAnswers(r.p, []byte(st.Answers)); err != nil {
				return Outcome{}, &RefusedError{Reason: "the answers in " + cfg.StatePath + " are not valid for this hawiz", Err: err}
			}
		}
		facts = st.Facts
	}
	if r.answers == nil {
		return Outcome{}, &UsageError{Err: errors.New("no answers")}
	}
	if r.list, err = BuildSteps(r.p, r.answers); err != nil {
		return Outcome{}, err
	}
	r.env = &Env{ctx: ctx, answers: r.answers, operator: r.op, redactor: r.redactor, logger: r.logger,
		getenv: r.getenv, emit: r.emit, facts: facts, secrets: map[string]string{},
		step: func() string { return r.curStep.Load().(string) }}
	start := time.Now()
	r.emit(Event{Kind: EventRunStart, Message: "check " + r.p.Title + " (read-only)", Total: len(r.list)})
	fleet, err := r.connect(ctx, r.env)
	if err != nil {
		err = classifyConnect(err)
		if ctx.Err() != nil {
			err = &StoppedError{Reason: "interrupted while connecting", Err: ctx.Err()}
		} else if errors.Is(err, ErrWaitingForOperator) {
			err = &StoppedError{Reason: err.Error(), Err: err}
		} else if ExitCode(err) != ExitRefused {
			err = fmt.Errorf("connecting: %w", err)
		}
		r.emit(Event{Kind: EventRunEnd, Status: StatusFailed, Message: err.Error(), Elapsed: time.Since(start)})
		return Outcome{Status: StatusFailed}, err
	}
	if fleet != nil {
		defer fleet.Close()
	}
	r.env.fleet = fleet
	var drift []string
	for i, s := range r.list {
		r.curStep.Store(s.ID)
		r.emit(Event{Kind: EventStepStart, Step: s.ID, Index: i + 1, Total: len(r.list), Title: s.Title})
		for _, h := range runHosts(s) {
			if ctx.Err() != nil {
				err := &StoppedError{Reason: "interrupted", Err: ctx.Err()}
				r.emit(Event{Kind: EventRunEnd, Status: StatusStopped, Message: err.Error(), Elapsed: time.Since(start)})
				return Outcome{Status: StatusStopped, Drift: drift}, err
			}
			where := s.ID
			if h != "" {
				where += " on " + h
			}
			d := func(msg, evidence string) {
				msg = r.redactor.Redact(msg)
				drift = append(drift, where+": "+msg)
				r.emit(Event{Kind: EventDrift, Step: s.ID, Host: h, Title: s.Title, Message: msg, Evidence: evidence})
			}
			if s.Check != nil {
				done, ev, err := s.Check(ctx, r.env, h)
				if err != nil {
					d("check failed: "+err.Error(), ev)
					continue
				}
				if !done {
					d("not done", ev)
					continue
				}
				r.emit(Event{Kind: EventCheck, Step: s.ID, Host: h, Message: "done", Evidence: ev})
			}
			if s.Verify != nil {
				ev, err := s.Verify(ctx, r.env, h)
				if err != nil {
					d("verify failed: "+err.Error(), ev)
					continue
				}
				r.emit(Event{Kind: EventVerify, Step: s.ID, Host: h, Message: "holds", Evidence: ev})
			} else if s.Check == nil {
				r.emit(Event{Kind: EventInfo, Step: s.ID, Host: h, Message: "nothing to check automatically"})
			}
		}
	}
	r.curStep.Store("")
	if len(drift) > 0 {
		err := &DriftError{Drift: drift}
		r.emit(Event{Kind: EventRunEnd, Status: StatusFailed, Message: fmt.Sprintf("%d check(s) do not hold", len(drift)), Elapsed: time.Since(start)})
		return Outcome{Status: StatusFailed, Drift: drift}, err
	}
	r.emit(Event{Kind: EventRunEnd, Status: StatusDone, Message: "every check holds", Elapsed: time.Since(start)})
	return Outcome{Status: StatusDone}, nil
}
