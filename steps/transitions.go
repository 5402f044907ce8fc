package steps

// One step on one host, as named transitions: check, await manual, mark
// started, apply and verify, mark done; and what a failure in any of them
// does (ask the operator: retry, skip or stop).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// hostFlow is what comes after a transition.
type hostFlow int

const (
	flowNext  hostFlow = iota // go on to the next transition
	flowRetry                 // start again at check: the operator retries a failure
	flowEnd                   // the host is finished (done or skipped), or the error stops the run
)

// hostRun is one step on one host while runHost takes it through its
// transitions. Its host state hs is shared with the state file's other
// writers: read and write it under r.mu.
type hostRun struct {
	r     *runner
	i     int // the step's index in r.list
	s     *Step
	host  string // "" for a step without hosts
	hs    *HostState
	redo  bool      // --redo: run it even when its Check says done
	start time.Time // for the host-done event's Elapsed

	evidence string // what Verify saw, for markDone
}

// runHost runs step s on host: after a --confirm, the transitions in order
// until one ends the host, again from check when the operator retries a
// failure. It returns nil when the host is done or skipped, or the error
// that stops the run.
func (r *runner) runHost(ctx context.Context, i int, s *Step, host string, hs *HostState) error {
	h := &hostRun{r: r, i: i, s: s, host: host, hs: hs, redo: slices.Contains(r.cfg.Redo, s.ID), start: time.Now()}
	if err := h.confirmByFlag(); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		flow, err := h.attempt(ctx)
		if flow != flowRetry {
			return err
		}
	}
}

// attempt goes through the transitions once. Each returns flowNext (with
// no error) to let the next one run, or ends the attempt.
func (h *hostRun) attempt(ctx context.Context) (hostFlow, error) {
	for _, transition := range []func(context.Context) (hostFlow, error){
		h.check, h.awaitManual, h.markStarted, h.applyAndVerify,
	} {
		if flow, err := transition(ctx); flow != flowNext {
			return flow, err
		}
	}
	return flowEnd, h.markDone()
}

// event is an event about this step on this host.
func (h *hostRun) event(k EventKind, msg string) Event {
	return Event{Kind: k, Step: h.s.ID, Index: h.i + 1, Total: len(h.r.list), Title: h.s.Title, Host: h.host, Message: msg}
}

// status is the host's status as last recorded.
func (h *hostRun) status() Status {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	return h.hs.Status
}

// confirmByFlag records a manual step's --confirm: the operator says it is
// done. Not durably: the flag is given again on resume.
func (h *hostRun) confirmByFlag() error {
	if h.s.Manual == nil || !slices.Contains(h.r.cfg.Confirm, h.s.ID) {
		return nil
	}
	if err := h.r.set(cacheOnly, func() { h.hs.Confirmed, h.hs.ConfirmedBy, h.hs.Note = now(), ByConfirmFlag, "" }); err != nil {
		return err
	}
	h.r.emit(h.event(EventConfirmed, "confirmed with --confirm"))
	return nil
}

// check asks the step's Check whether the work is already done on the host
// (not with --redo). Done: recorded done, and the host ends here. Not
// done: its evidence is kept, and the step runs. A step without a Check
// that was done earlier ends here; one that was interrupted after it
// started runs again.
func (h *hostRun) check(ctx context.Context) (hostFlow, error) {
	r := h.r
	prev := h.status()
	if h.s.Check == nil || h.redo {
		switch {
		case prev == StatusDone && !h.redo:
			r.emit(h.event(EventSkip, "done earlier (no check to repeat)"))
			return flowEnd, nil
		case prev == StatusStarted && !h.redo:
			r.emit(h.event(EventWarning, "was interrupted after it started and has no check: running it again"))
		}
		return flowNext, nil
	}
	done, evidence, err := h.s.Check(ctx, r.env, h.host)
	evidence = r.redactor.Redact(evidence)
	if err != nil {
		return h.failed(ctx, "check", err)
	}
	if done {
		return flowEnd, h.markChecked(prev, evidence)
	}
	e := h.event(EventCheck, "not done")
	e.Evidence = evidence
	r.emit(e)
	r.mu.Lock()
	h.hs.Check = evidence
	r.mu.Unlock()
	if prev == StatusDone {
		r.emit(h.event(EventWarning, "was done earlier, but its check now says not done: running it again"))
	}
	return flowNext, nil
}

// markChecked records the host done because its Check says so (prev: the
// status before), with the Check's evidence.
func (h *hostRun) markChecked(prev Status, evidence string) error {
	msg := "already done"
	if prev == StatusDone {
		msg = "done (re-checked)"
	} else if prev == StatusStarted {
		msg = "done (checked after an interruption)"
	}
	if err := h.r.set(cacheOnly, func() {
		h.hs.Status, h.hs.Check, h.hs.Error, h.hs.Finished = StatusDone, evidence, "", now()
	}); err != nil {
		return err
	}
	e := h.event(EventSkip, msg)
	e.Evidence = evidence
	h.r.emit(e)
	return nil
}

// awaitManual, for a manual step, asks the operator to do the work and
// confirm it, unless it is confirmed already (and not --redo without
// --confirm), and records the confirmation durably. An operator who cannot
// answer now (a non-interactive run) stops the run, resumable with
// --confirm.
func (h *hostRun) awaitManual(ctx context.Context) (hostFlow, error) {
	r := h.r
	if h.s.Manual == nil {
		return flowNext, nil
	}
	r.mu.Lock()
	confirmed := h.hs.Confirmed != nil
	r.mu.Unlock()
	askAgain := h.redo && !slices.Contains(r.cfg.Confirm, h.s.ID)
	if confirmed && !askAgain {
		return flowNext, nil
	}
	e := h.event(EventManualWait, "waiting for the operator")
	e.Manual = h.s.Manual
	r.emit(e)
	if err := r.op.ConfirmManual(ctx, h.s, h.host); err != nil {
		if errors.Is(err, ErrWaitingForOperator) {
			r.mu.Lock()
			h.hs.Note = "waiting for the operator's confirmation"
			r.mu.Unlock()
			return flowEnd, &StoppedError{Reason: "waiting for manual step " + h.s.ID + " (" + h.s.Title + ")",
				Resume: r.resumeWith("--confirm " + h.s.ID), Err: ErrWaitingForOperator}
		}
		if ctx.Err() != nil {
			return flowEnd, ctx.Err()
		}
		return flowEnd, &StoppedError{Reason: "manual step " + h.s.ID + ": " + err.Error(), Resume: r.resumeCmd(), Err: err}
	}
	if err := r.set(durable, func() { h.hs.Confirmed, h.hs.ConfirmedBy, h.hs.Note = now(), answersBy(r.op), "" }); err != nil {
		return flowEnd, err
	}
	r.emit(h.event(EventConfirmed, "confirmed by the operator"))
	return flowNext, nil
}

// markStarted writes ahead, durably, that the step is about to change the
// host (and counts the attempt): from here on a resume checks the host
// again before it applies anything.
func (h *hostRun) markStarted(context.Context) (hostFlow, error) {
	if err := h.r.set(durable, func() {
		h.hs.Status, h.hs.Error, h.hs.Started, h.hs.Finished = StatusStarted, "", now(), nil
		if h.s.Apply != nil {
			h.hs.Attempts++
		}
	}); err != nil {
		return flowEnd, err
	}
	return flowNext, nil
}

// applyAndVerify runs the step's Apply, then its Verify, and keeps what
// Verify saw. A failure of either asks the operator.
func (h *hostRun) applyAndVerify(ctx context.Context) (hostFlow, error) {
	r := h.r
	h.evidence = ""
	if h.s.Apply != nil {
		r.emit(h.event(EventApply, ""))
		if err := h.s.Apply(ctx, r.env, h.host); err != nil {
			return h.failed(ctx, "apply", err)
		}
	}
	if h.s.Verify != nil {
		evidence, err := h.s.Verify(ctx, r.env, h.host)
		evidence = r.redactor.Redact(evidence)
		if err != nil {
			return h.failed(ctx, "verify", err)
		}
		h.evidence = evidence
		e := h.event(EventVerify, "holds")
		e.Evidence = evidence
		r.emit(e)
	}
	return flowNext, nil
}

// markDone records the host done, with Verify's evidence.
func (h *hostRun) markDone() error {
	if err := h.r.set(cacheOnly, func() {
		h.hs.Status, h.hs.Evidence, h.hs.Finished, h.hs.Note = StatusDone, h.evidence, now(), ""
	}); err != nil {
		return err
	}
	e := h.event(EventHostDone, "done")
	e.Elapsed = time.Since(h.start)
	h.r.emit(e)
	return nil
}

// failed records the failure of action ("check", "apply" or "verify") and
// asks the operator: flowRetry, or flowEnd with the error that stops the
// run (nil when the operator skipped the host).
func (h *hostRun) failed(ctx context.Context, action string, err error) (hostFlow, error) {
	r, s, host, hs := h.r, h.s, h.host, h.hs
	if ctx.Err() != nil {
		return flowEnd, ctx.Err() // interrupted: the state stays as written ahead
	}
	if errors.Is(err, ErrWaitingForOperator) {
		resume := r.resumeCmd()
		var ce *ConfirmationError
		if errors.As(err, &ce) {
			resume = r.resumeWith(ConfirmFlag) // the same resume would stop at the same question
		}
		return flowEnd, &StoppedError{Reason: fmt.Sprintf("step %s on %s is waiting for the operator (%v)", s.ID, hostOrLocal(host), err), Resume: resume, Err: err}
	}
	se := &StepError{Step: s.ID, Host: host, Action: action, Output: r.tail(host, err), Err: err}
	var xe *remote.ExitError
	if errors.As(err, &xe) {
		se.ExitStatus = xe.Status
	}
	msg := r.redactor.Redact(se.Error())
	if serr := r.set(cacheOnly, func() { hs.Status, hs.Error, hs.Finished = StatusFailed, msg, now() }); serr != nil {
		return flowEnd, serr
	}
	r.emit(Event{Kind: EventStepFailed, Step: s.ID, Title: s.Title, Host: host, Message: msg, ExitStatus: se.ExitStatus, Output: se.Output})
	choice, cerr := r.op.Failure(ctx, s, host, se)
	if cerr != nil {
		if ctx.Err() != nil {
			return flowEnd, ctx.Err()
		}
		return flowEnd, se
	}
	switch choice {
	case Retry:
		r.emit(Event{Kind: EventInfo, Step: s.ID, Host: host, Message: "retrying"})
		return flowRetry, nil
	case Skip:
		if serr := r.set(durable, func() { hs.Status, hs.Note = StatusSkipped, "skipped by the operator after a failure" }); serr != nil {
			return flowEnd, serr
		}
		r.emit(Event{Kind: EventWarning, Step: s.ID, Host: host, Message: "skipped by the operator after a failure; later steps may not hold"})
		return flowEnd, nil
	}
	return flowEnd, se
}

func hostOrLocal(h string) string {
	if h == "" {
		return "this machine"
	}
	return h
}
