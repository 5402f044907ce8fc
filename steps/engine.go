package steps

// The engine: Run prepares a run under the state's lock, connects, then
// takes the selected steps in order (runStep), each host through its
// transitions (runHost, transitions.go), saving the state through the
// store (store.go) after every transition, and ends the run (finish).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// Run runs (or, with cfg.Resume, resumes) a procedure: for each step and host
// Check → skip when done → Apply → Verify, writing the state write-ahead after
// every transition. It returns the outcome and, unless the run is done, an
// error whose ExitCode is 1 (a step failed), 3 (stopped / waiting for a manual
// step), 4 (refused for safety) or 2 (bad input, nothing touched).
func Run(ctx context.Context, cfg RunConfig) (Outcome, error) {
	return runWith(ctx, cfg, openFileStore)
}

// runWith is Run with the state kept by the store that open returns for
// the state's path.
func runWith(ctx context.Context, cfg RunConfig, open func(path string) stateStore) (Outcome, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return Outcome{Status: StatusRefused}, err
	}
	if r.path, err = r.statePath(); err != nil {
		return Outcome{Status: StatusRefused}, err
	}
	r.store = open(r.path)
	out := Outcome{StatePath: r.path}
	unlock, err := r.store.Lock()
	if err != nil {
		if ExitCode(err) == ExitRefused {
			out.Status = StatusRefused
		}
		return out, err
	}
	defer unlock()
	if err := r.prepare(); err != nil {
		if ExitCode(err) == ExitRefused {
			out.Status = StatusRefused
		}
		return out, err
	}
	defer r.close()
	return r.run(ctx)
}

// runner is one run: its configuration, steps and state, and where events
// go.
type runner struct {
	cfg      RunConfig
	p        *Procedure
	answers  Answers
	list     []*Step
	st       *State
	path     string     // the state's; names the transcript and evidence beside it
	store    stateStore // locks, loads and saves st
	getenv   func(string) string
	redactor *remote.Redactor
	logger   *slog.Logger
	op       Operator
	env      *Env
	started  time.Time // when run began, for the run-end event
	replaced string    // why a new run replaces the state's run ("" = it does not)

	mu    sync.Mutex // st, saves
	saves int

	emitMu     sync.Mutex
	transcript *os.File
	curStep    atomic.Value         // string
	tails      map[string]*hostTail // by host (transcript.go)
}

func newRunner(cfg RunConfig) (*runner, error) {
	if cfg.Procedure == nil {
		return nil, &UsageError{Err: errors.New("no procedure")}
	}
	r := &runner{cfg: cfg, p: cfg.Procedure, answers: cfg.Answers, getenv: cfg.Getenv,
		redactor: cfg.Redactor, logger: cfg.Logger, op: cfg.Operator, tails: map[string]*hostTail{}}
	if r.getenv == nil {
		r.getenv = os.Getenv
	}
	if r.redactor == nil {
		r.redactor = remote.NewRedactor()
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.op == nil {
		r.op = NonInteractive{Yes: cfg.Yes}
	}
	r.op = &lockedOperator{op: r.op, answered: r.answered}
	if r.cfg.Renderer == nil {
		r.cfg.Renderer = RendererFunc(func(Event) {})
	}
	r.curStep.Store("")
	return r, nil
}

func (r *runner) statePath() (string, error) {
	if r.cfg.StatePath != "" {
		return filepath.Abs(r.cfg.StatePath)
	}
	return DefaultStatePath(r.getenv, r.p.Name, r.cfg.RunName)
}

func (r *runner) close() {
	if r.transcript != nil {
		_ = r.transcript.Close()
	}
}

func (r *runner) resumeCmd() string {
	if r.cfg.ResumeCommand != "" {
		return r.cfg.ResumeCommand
	}
	return "hawiz resume --state " + remote.ShArg(r.path)
}

// resumeWith is resumeCmd with flag, which gets past where the run stopped
// (none with ResumeFixed).
func (r *runner) resumeWith(flag string) string {
	if r.cfg.ResumeFixed {
		return r.resumeCmd()
	}
	return r.resumeCmd() + " " + flag
}

// run connects, runs the selected steps and ends the run. The state is
// locked and prepared.
func (r *runner) run(ctx context.Context) (Outcome, error) {
	r.started = time.Now()
	verb := "run"
	if r.cfg.Resume {
		verb = "resume"
	}
	r.emit(Event{Kind: EventRunStart, Message: fmt.Sprintf("%s %s (%s)", verb, r.p.Title, r.st.RunName), Total: len(r.list), StatePath: r.path})
	if r.replaced != "" {
		r.emit(Event{Kind: EventInfo, Message: r.replaced})
	}
	if err := r.save(); err != nil {
		return Outcome{StatePath: r.path}, err
	}

	r.env.ctx = ctx
	fleet, err := r.connect(ctx, r.env)
	if err != nil {
		return r.finish(r.connectEnd(ctx, err))
	}
	if fleet != nil {
		defer fleet.Close()
	}
	r.env.fleet = fleet
	// The answers must hold no secret: now that the secrets are known, check.
	if red := r.redactor.Redact(r.st.Answers); red != r.st.Answers {
		return r.finish(runEnd{status: StatusRefused, err: &RefusedError{Reason: "the answers contain the value of a secret (sudo/SSH password or passphrase); remove it from the answers file"}})
	}

	sel := r.selection()
	r.warnOrder(sel)
	for _, i := range sel {
		s := r.list[i]
		if err := r.runStep(ctx, i, s); err != nil {
			return r.finish(r.stepEnd(ctx, s, err))
		}
	}
	r.curStep.Store("")
	if !r.allDone() {
		// a partial run (--only / --from) that did what was asked
		o, err := r.finish(runEnd{status: StatusStopped})
		o.Status = StatusDone
		return o, err
	}
	return r.finish(runEnd{status: StatusDone})
}

// runEnd is how a run ends: its status, the error (nil when it did what was
// asked), and the step and host it stopped at.
type runEnd struct {
	status     Status
	err        error
	step, host string
}

// connectEnd is how a run ends whose connecting failed with err.
func (r *runner) connectEnd(ctx context.Context, err error) runEnd {
	err = classifyConnect(err)
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return runEnd{status: StatusStopped, err: &StoppedError{Reason: "interrupted while connecting", Resume: r.resumeCmd(), Err: context.Canceled}}
	case errors.Is(err, ErrWaitingForOperator):
		return runEnd{status: StatusWaiting, err: &StoppedError{Reason: err.Error(), Resume: r.resumeCmd(), Err: err}}
	case ExitCode(err) == ExitRefused:
		return runEnd{status: StatusRefused, err: err}
	}
	return runEnd{status: StatusFailed, err: fmt.Errorf("connecting: %w", err)}
}

// stepEnd is how a run ends whose step s stopped with err.
func (r *runner) stepEnd(ctx context.Context, s *Step, err error) runEnd {
	var se *StepError
	var stop *StoppedError
	switch {
	case ctx.Err() != nil:
		return runEnd{status: StatusStopped, err: &StoppedError{Reason: "interrupted during step " + s.ID, Resume: r.resumeCmd(), Err: ctx.Err()}, step: s.ID}
	case errors.As(err, &stop):
		status := StatusStopped
		if errors.Is(err, ErrWaitingForOperator) {
			status = StatusWaiting
		}
		return runEnd{status: status, err: err, step: s.ID}
	case errors.As(err, &se):
		return runEnd{status: StatusFailed, err: err, step: se.Step, host: se.Host}
	}
	return runEnd{status: StatusFailed, err: err, step: s.ID}
}

// allDone reports whether every step is done or skipped on every host.
func (r *runner) allDone() bool {
	for _, ss := range r.st.Steps {
		if st := ss.Status(); st != StatusDone && st != StatusSkipped {
			return false
		}
	}
	return true
}

// finish ends the run: it saves the state with the end's status and
// message, durably, writes the evidence report and emits run-end. It
// returns the outcome and the end's error (or the save's, when the run
// otherwise did what was asked).
func (r *runner) finish(end runEnd) (Outcome, error) {
	status, err := end.status, end.err
	r.mu.Lock()
	r.st.Status = status
	r.st.Message = ""
	if err != nil {
		r.st.Message = r.redactor.Redact(err.Error())
	} else if status == StatusStopped {
		r.st.Message = "the selected steps are done; the run is not complete"
	}
	serr := r.saveLocked(durable)
	r.mu.Unlock()
	if serr != nil && err == nil {
		err = serr
	}
	out := Outcome{StatePath: r.path, Status: status, Step: end.step, Host: end.host}
	if status != StatusDone && status != StatusRefused {
		out.Resume = r.resumeCmd()
		var stop *StoppedError
		if errors.As(err, &stop) && stop.Resume != "" {
			out.Resume = stop.Resume // with the flag that gets past where it stopped (--confirm STEP, --yes)
		}
	}
	if werr := writeEvidence(EvidencePath(r.path), r.p, r.list, r.st, r.redactor); werr != nil {
		r.emit(Event{Kind: EventWarning, Message: "evidence report: " + werr.Error()})
	}
	msg := string(status)
	if err != nil {
		msg = err.Error()
	} else if status == StatusStopped {
		msg = "the selected steps are done; the run is not complete"
	}
	if out.Resume != "" && status != StatusRefused && !strings.Contains(msg, "resume with:") {
		msg += "; resume with: " + out.Resume
	}
	r.emit(Event{Kind: EventRunEnd, Status: status, Message: msg, Elapsed: time.Since(r.started), StatePath: r.path, Step: end.step, Host: end.host})
	return out, err
}

func (r *runner) runStep(ctx context.Context, i int, s *Step) error {
	r.curStep.Store(s.ID)
	ss := r.st.Step(s.ID)
	start := time.Now()
	r.emit(Event{Kind: EventStepStart, Step: s.ID, Index: i + 1, Total: len(r.list), Title: s.Title, Message: s.Why})
	if slices.Contains(r.cfg.Skip, s.ID) {
		r.mu.Lock()
		for _, hs := range ss.Hosts {
			if hs.Status != StatusDone {
				hs.Status, hs.Note = StatusSkipped, "skipped by --skip"
			}
		}
		err := r.saveLocked(cacheOnly)
		r.mu.Unlock()
		r.emit(Event{Kind: EventSkip, Step: s.ID, Index: i + 1, Total: len(r.list), Title: s.Title, Message: "skipped by --skip"})
		return err
	}
	hosts := runHosts(s)
	if s.Mode == Parallel && len(hosts) > 1 {
		errs := make([]error, len(hosts))
		var wg sync.WaitGroup
		for j, h := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = r.runHost(ctx, i, s, h, ss.Host(h))
			}()
		}
		wg.Wait()
		for _, err := range errs { // the first host's error in order
			if err != nil {
				return err
			}
		}
	} else {
		for _, h := range hosts {
			if err := r.runHost(ctx, i, s, h, ss.Host(h)); err != nil {
				return err
			}
		}
	}
	r.emit(Event{Kind: EventStepDone, Step: s.ID, Index: i + 1, Total: len(r.list), Title: s.Title, Elapsed: time.Since(start)})
	return nil
}

// save saves the state (not durably). Callers must not hold r.mu.
func (r *runner) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.saveLocked(cacheOnly)
}

// set updates a host state under the lock and saves it (sync: durably).
func (r *runner) set(sync bool, f func()) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	return r.saveLocked(sync)
}

// saveLocked saves the state through the store, with the facts the steps
// set (redacted); sync: durably. Callers hold r.mu. It counts the saves
// and calls cfg.Hook around each.
func (r *runner) saveLocked(sync bool) error {
	r.saves++
	n := r.saves
	if r.cfg.Hook != nil {
		r.cfg.Hook("before-save", n)
	}
	r.st.Updated = time.Now().UTC()
	if r.env != nil {
		r.env.mu.Lock()
		for k, v := range r.env.facts {
			r.st.Facts[k] = r.redactor.Redact(v)
		}
		r.env.mu.Unlock()
	}
	if err := r.store.Save(r.st, sync); err != nil {
		return err
	}
	if r.cfg.Hook != nil {
		if sync {
			r.cfg.Hook("synced", n)
		}
		r.cfg.Hook("after-save", n)
	}
	return nil
}

func now() *time.Time {
	t := time.Now().UTC()
	return &t
}

// lockedOperator serialises calls to an Operator (Parallel steps).
type lockedOperator struct {
	mu       sync.Mutex
	op       Operator
	answered func(question string, yes bool) // a yes/no question was answered (the state records it)
}

func (l *lockedOperator) ConfirmHostKeys(ctx context.Context, keys []remote.NewHostKey) (map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.op.ConfirmHostKeys(ctx, keys)
}
func (l *lockedOperator) ConfirmManual(ctx context.Context, s *Step, host string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.op.ConfirmManual(ctx, s, host)
}
func (l *lockedOperator) Confirm(ctx context.Context, q string, def bool) (bool, error) {
	l.mu.Lock()
	yes, err := l.op.Confirm(ctx, q, def)
	l.mu.Unlock()
	if err == nil && l.answered != nil {
		l.answered(q, yes)
	}
	return yes, err
}
func (l *lockedOperator) Secret(ctx context.Context, name, prompt string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.op.Secret(ctx, name, prompt)
}
func (l *lockedOperator) Failure(ctx context.Context, s *Step, host string, err error) (FailureChoice, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.op.Failure(ctx, s, host, err)
}

// Wait is not serialised: poll may itself ask the operator (a secret).
func (l *lockedOperator) Wait(ctx context.Context, msg string, poll func(ctx context.Context) (bool, string, error)) error {
	return l.op.Wait(ctx, msg, poll)
}
