package tui

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Bridge connects the engine (running in its own goroutine) to the TUI: it
// is the run's steps.Renderer and steps.Operator. Events become tea
// messages; every Operator method sends a request carrying a reply channel
// and blocks until the model answers or ctx is done. Nothing about the run
// is kept here: state, transcript and evidence are the engine's.
type Bridge struct {
	ch   chan tea.Msg
	done chan struct{}
	once sync.Once

	pause   atomic.Bool   // pause after the current step
	resumeC chan struct{} // the operator continues after a pause

	mu     sync.Mutex
	giveUp chan struct{} // closed when the operator gives up a Wait
}

// NewBridge returns a Bridge; the model reads its messages with listen.
func NewBridge() *Bridge {
	return &Bridge{ch: make(chan tea.Msg, 1024), done: make(chan struct{}), resumeC: make(chan struct{}, 1)}
}

// Close releases every blocked engine call (the model is gone).
func (b *Bridge) Close() { b.once.Do(func() { close(b.done) }) }

func (b *Bridge) send(m tea.Msg) {
	select {
	case b.ch <- m:
	case <-b.done:
	}
}

// batchMsg is several engine messages delivered at once.
type batchMsg []tea.Msg

// listen returns a command that waits for the next engine message and
// takes whatever else is already queued (up to a frame's worth), so a
// stream of output lines costs one update per batch, not per line.
func (b *Bridge) listen() tea.Cmd {
	return func() tea.Msg {
		var first tea.Msg
		select {
		case first = <-b.ch:
		case <-b.done:
			return nil
		}
		batch := batchMsg{first}
		for len(batch) < 4096 {
			select {
			case m := <-b.ch:
				batch = append(batch, m)
			default:
				return batch
			}
		}
		return batch
	}
}

// Messages from the engine to the model.
type (
	eventMsg    struct{ ev steps.Event }
	pausedMsg   struct{ step string }
	hostKeysReq struct {
		keys  []remote.NewHostKey
		reply chan map[string]bool
	}
	manualReq struct {
		step  *steps.Step
		host  string
		reply chan error
	}
	confirmReq struct {
		question   string
		defaultYes bool
		reply      chan bool
	}
	secretReq struct {
		name, prompt string
		reply        chan string
	}
	failureReq struct {
		step  *steps.Step
		host  string
		err   error
		reply chan steps.FailureChoice
	}
	waitMsg struct {
		message, observation string
		done                 bool
	}
	runDoneMsg struct {
		outcome steps.Outcome
		err     error
	}
)

// Event implements steps.Renderer. After a step-done event it blocks while
// the operator asked to pause after this step.
func (b *Bridge) Event(ev steps.Event) {
	b.send(eventMsg{ev})
	if ev.Kind == steps.EventStepDone && b.pause.Load() {
		b.send(pausedMsg{step: ev.Step})
		select {
		case <-b.resumeC:
		case <-b.done:
		}
	}
}

// SetPause asks the bridge to stop after the running step (true) or not.
func (b *Bridge) SetPause(on bool) { b.pause.Store(on) }

// Continue releases a pause.
func (b *Bridge) Continue() {
	b.pause.Store(false)
	select {
	case b.resumeC <- struct{}{}:
	default:
	}
}

func ask[T any](ctx context.Context, b *Bridge, msg tea.Msg, reply chan T) (T, error) {
	b.send(msg)
	select {
	case v := <-reply:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	case <-b.done:
		var zero T
		return zero, context.Canceled
	}
}

// AnswersBy implements steps.AnswerSource: the TUI's answers are given in it.
func (b *Bridge) AnswersBy() string { return steps.ByTUI }

// ConfirmHostKeys implements steps.Operator.
func (b *Bridge) ConfirmHostKeys(ctx context.Context, keys []remote.NewHostKey) (map[string]bool, error) {
	r := make(chan map[string]bool, 1)
	return ask(ctx, b, hostKeysReq{keys: keys, reply: r}, r)
}

// ConfirmManual implements steps.Operator.
func (b *Bridge) ConfirmManual(ctx context.Context, s *steps.Step, host string) error {
	r := make(chan error, 1)
	err, cerr := ask(ctx, b, manualReq{step: s, host: host, reply: r}, r)
	if cerr != nil {
		return cerr
	}
	return err
}

// Confirm implements steps.Operator.
func (b *Bridge) Confirm(ctx context.Context, question string, defaultYes bool) (bool, error) {
	r := make(chan bool, 1)
	return ask(ctx, b, confirmReq{question: question, defaultYes: defaultYes, reply: r}, r)
}

// Secret implements steps.Operator. An empty answer means the operator
// declined: ErrWaitingForOperator.
func (b *Bridge) Secret(ctx context.Context, name, prompt string) (string, error) {
	r := make(chan string, 1)
	v, err := ask(ctx, b, secretReq{name: name, prompt: prompt, reply: r}, r)
	if err == nil && v == "" {
		return "", steps.ErrWaitingForOperator
	}
	return v, err
}

// Failure implements steps.Operator.
func (b *Bridge) Failure(ctx context.Context, s *steps.Step, host string, err error) (steps.FailureChoice, error) {
	r := make(chan steps.FailureChoice, 1)
	return ask(ctx, b, failureReq{step: s, host: host, err: err, reply: r}, r)
}

// pollEvery is how often Wait polls.
const pollEvery = 2 * time.Second

// Wait implements steps.Operator: it polls until poll reports true, the
// operator gives up (key g) or ctx ends, showing the latest observation.
func (b *Bridge) Wait(ctx context.Context, message string, poll func(ctx context.Context) (bool, string, error)) error {
	b.mu.Lock()
	b.giveUp = make(chan struct{})
	giveUp := b.giveUp
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.giveUp = nil
		b.mu.Unlock()
	}()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		ok, obs, err := poll(ctx)
		if err != nil {
			b.send(waitMsg{message: message, observation: err.Error(), done: true})
			return err
		}
		b.send(waitMsg{message: message, observation: obs, done: ok})
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			b.send(waitMsg{done: true})
			return ctx.Err()
		case <-b.done:
			return context.Canceled
		case <-giveUp:
			b.send(waitMsg{done: true})
			return steps.ErrWaitingForOperator
		case <-t.C:
		}
	}
}

// GiveUp ends a Wait in progress.
func (b *Bridge) GiveUp() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.giveUp != nil {
		close(b.giveUp)
		b.giveUp = nil
	}
}
