package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/hawiz/hawiz/steps/localfile"
	"github.com/hawiz/hawiz/remote"
)

// Run runs (or, with cfg.Resume, resumes) a procedure: for each step and host
// Check → skip when done → Apply → Verify, writing the state write-ahead after
// every transition. It returns the outcome and, unless the run is done, an
// error whose ExitCode is 1 (a step failed), 3 (stopped / waiting for a manual
// step), 4 (refused for safety) or 2 (bad input, nothing touched).
func Run(ctx context.Context, cfg RunConfig) (Outcome, error) {
	r, err := newRunner(cfg)
	if err != nil {
		return Outcome{Status: StatusRefused}, err
	}
	if r.path, err = r.statePath(); err != nil {
		return Outcome{Status: StatusRefused}, err
	}
	out := Outcome{StatePath: r.path}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return out, fmt.Errorf("state directory: %w", err)
	}
	if err := checkStatePath(r.path); err != nil {
		out.Status = StatusRefused
		return out, err
	}
	unlock, err := lockState(r.path)
	if err != nil {
		out.Status = StatusRefused
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

type runner struct {
	cfg      RunConfig
	p        *Procedure
	answers  Answers
	list     []*Step
	st       *State
	path     string
	getenv   func(string) string
	redactor *remote.Redactor
	logger   *slog.Logger
	op       Operator
	env      *Env

	mu    sync.Mutex // st, saves
	saves int

	emitMu     sync.Mutex
	transcript *os.File
	curStep    atomic.Value // string
	tails      map[string][]string
}

func newRunner(cfg RunConfig) (*runner, error) {
	if cfg.Procedure == nil {
		return nil, &UsageError{Err: errors.New("no procedure")}
	}
	r := &runner{cfg: cfg, p: cfg.Procedure, answers: cfg.Answers, getenv: cfg.Getenv,
		redactor: cfg.Redactor, logger: cfg.Logger, op: cfg.Operator, tails: map[string][]string{}}
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
	r.op = &lockedOperator{op: r.op}
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

// lockState takes STATE.lock (in the state's directory with its symbolic
// links resolved) or refuses (exit 4). The lock file is opened without
// following a link: a link planted there is refused, never written through.
func lockState(path string) (func(), error) {
	lp, err := lockPathOf(path)
	if err != nil {
		return nil, &RefusedError{Reason: "cannot lock " + LockPath(path), Err: err}
	}
	if err := localfile.CheckNotLink(lp); err != nil {
		return nil, &RefusedError{Reason: "cannot lock " + path, Err: err}
	}
	fl := flock.New(lp, flock.SetPermissions(0o600), flock.SetFlag(os.O_CREATE|os.O_RDWR|localfile.NoFollow))
	ok, err := fl.TryLock()
	if err != nil {
		if lerr := localfile.CheckNotLink(lp); lerr != nil {
			err = lerr
		}
		return nil, &RefusedError{Reason: "cannot lock " + path, Err: err}
	}
	if !ok {
		who := ""
		if pid := readLockPid(lp); pid != "" {
			who = " (pid " + pid + ")"
		}
		return nil, &RefusedError{Reason: fmt.Sprintf("another hawiz run holds %s%s; wait for it to end, or stop it", path, who)}
	}
	fi, err := fl.Stat()
	if err == nil {
		err = localfile.CheckOpened(lp, fi)
	}
	if err != nil {
		_ = fl.Unlock()
		return nil, &RefusedError{Reason: "cannot lock " + path, Err: err}
	}
	writeLockPid(lp, strconv.Itoa(os.Getpid())+"\n")
	return func() {
		writeLockPid(lp, "")
		_ = fl.Unlock()
	}, nil
}

// writeLockPid replaces the lock file's content (best effort), never
// through a link.
func writeLockPid(lp, s string) {
	f, err := localfile.OpenNoFollow(lp, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	_, _ = f.WriteString(s)
	_ = f.Close()
}

// readLockPid is the pid recorded in the lock file ("" when unknown), not
// read through a link.
func readLockPid(lp string) string {
	f, err := localfile.OpenNoFollow(lp, os.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 32)
	n, _ := f.Read(b)
	return strings.TrimSpace(string(b[:n]))
}

// LockedBy reports whether a hawiz run holds the state's lock now, and the
// pid it recorded ("" when unknown). A lock file that is a link counts as
// not held (a run would refuse it).
func LockedBy(statePath string) (pid string, locked bool) {
	lp, err := lockPathOf(statePath)
	if err != nil {
		return "", false
	}
	if fi, err := os.Lstat(lp); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	fl := flock.New(lp, flock.SetFlag(os.O_RDONLY|localfile.NoFollow))
	ok, err := fl.TryRLock()
	if err != nil {
		return "", false
	}
	if ok {
		_ = fl.Unlock()
		return "", false
	}
	return readLockPid(lp), true
}

// prepare loads or creates the state, builds the steps and checks flags.
// Nothing is written or connected when it fails.
func (r *runner) prepare() error {
	var old *State
	st, err := ReadState(r.path)
	switch {
	case err == nil:
		old = st
	case errors.Is(err, fs.ErrNotExist):
		if r.cfg.Resume {
			return &UsageError{Err: fmt.Errorf("no state file %s to resume; start with `hawiz run`", r.path)}
		}
	default:
		return err
	}
	if old != nil && old.Procedure != r.p.Name {
		return &RefusedError{Reason: "refusing to use " + r.path, Err: fmt.Errorf("it belongs to procedure %s, not %s", old.Procedure, r.p.Name)}
	}
	if old != nil && !r.cfg.Resume && old.Status != StatusDone && old.touched() {
		return &UsageError{Err: fmt.Errorf("state file %s already holds a run of %s (%s, updated %s): continue it with `%s`, or start another run with --name or --state",
			r.path, old.Procedure, old.Status, old.Updated.Format(time.RFC3339), r.resumeCmd())}
	}
	if r.cfg.Resume && r.answers == nil {
		a, err := LoadAnswers(r.p, []byte(old.Answers))
		if err != nil {
			return &RefusedError{Reason: "refusing to resume", Err: fmt.Errorf("the answers in %s are not valid for this hawiz's %s: %w", r.path, r.p.Name, err)}
		}
		r.answers = a
	}
	if r.answers == nil {
		return &UsageError{Err: errors.New("no answers")}
	}
	if r.list, err = BuildSteps(r.p, r.answers); err != nil {
		return err
	}
	ids := map[string]*Step{}
	for _, s := range r.list {
		ids[s.ID] = s
	}
	check := func(flag string, names ...string) error {
		for _, n := range names {
			if n == "" {
				continue
			}
			if ids[n] == nil {
				return &UsageError{Err: fmt.Errorf("%s %s: no such step in %s (see `hawiz plan`)", flag, n, r.p.Name)}
			}
		}
		return nil
	}
	if r.cfg.From != "" && r.cfg.Only != "" {
		return &UsageError{Err: errors.New("--from and --only cannot be combined")}
	}
	for _, c := range []struct {
		flag  string
		names []string
	}{{"--from", []string{r.cfg.From}}, {"--only", []string{r.cfg.Only}}, {"--redo", r.cfg.Redo}, {"--skip", r.cfg.Skip}, {"--confirm", r.cfg.Confirm}} {
		if err := check(c.flag, c.names...); err != nil {
			return err
		}
	}
	for _, c := range r.cfg.Confirm {
		if ids[c].Manual == nil {
			return &UsageError{Err: fmt.Errorf("--confirm %s: not a manual step", c)}
		}
	}
	answersYAML, err := MarshalAnswers(r.answers)
	if err != nil {
		return fmt.Errorf("answers: %w", err)
	}
	if r.cfg.Resume {
		if err := checkCompatible(r.path, old, r.p, r.list); err != nil {
			return err
		}
		r.st = old
		r.st.Status = StatusRunning
		r.st.Message = ""
		if r.cfg.ToolVersion != "" {
			r.st.ToolVersion = r.cfg.ToolVersion
		}
	} else {
		r.st = newState(r.p, r.list, runNameOr(r.cfg.RunName), answersYAML, r.cfg.AnswersFile, r.cfg.ToolVersion, time.Now().UTC())
	}
	tp := TranscriptPath(r.path)
	if r.transcript, err = localfile.OpenNoFollow(tp, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		var le *localfile.LinkError
		if errors.As(err, &le) {
			return &RefusedError{Reason: "refusing to write the transcript", Err: err}
		}
		return fmt.Errorf("transcript: %w", err)
	}
	r.env = &Env{
		answers: r.answers, operator: r.op, redactor: r.redactor, logger: r.logger,
		getenv: r.getenv, emit: r.emit, facts: map[string]string{}, secrets: map[string]string{},
		step:      func() string { return r.curStep.Load().(string) },
		saveFacts: func() error { return r.save() },
	}
	for k, v := range r.st.Facts {
		r.env.facts[k] = v
	}
	return nil
}

func runNameOr(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

func (r *runner) close() {
	if r.transcript != nil {
		_ = r.transcript.Close()
	}
}

func (r *runner) resumeCmd() string {
	return "hawiz resume --state " + shellQuote(r.path)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+=:,@", c))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Durability of checkpoints. Every save is atomic (temp file, rename): a
// killed hawiz (SIGKILL, crash) always leaves the last save complete, since
// the page cache outlives the process. Only a save that must survive a power
// loss of this machine is also fsynced (file and directory): the write-ahead
// "started" record before an Apply changes anything, the operator's own
// confirmations, and the run's end. The others (a Check or Verify that held,
// facts, --confirm flags, failures) would, if lost with the machine, leave
// the state as of the last durable save: resume then checks those steps
// again (every state a lost save recorded is one that Checks tell again).
// A non-durable save costs a write and a rename, not two fsyncs (≈ 2–4 ms
// each on a VM disk; a run saves about 50 times).
const (
	durable   = true
	cacheOnly = false
)

// save writes the state atomically (not fsynced). Callers must not hold r.mu.
func (r *runner) save() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.saveLocked(cacheOnly)
}

// saveLocked writes the state atomically; sync: also fsync the file and its
// directory (a durable save).
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
	data, err := json.MarshalIndent(r.st, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := writeFileAtomicSync(r.path, data, 0o600, sync); err != nil {
		return fmt.Errorf("writing state %s: %w", r.path, err)
	}
	if r.cfg.Hook != nil {
		if sync {
			r.cfg.Hook("synced", n)
		}
		r.cfg.Hook("after-save", n)
	}
	return nil
}

// emit sends an event to the renderer, the transcript and the log, redacted.
func (r *runner) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Procedure = r.p.Name
	ev.Message = r.redactor.Redact(ev.Message)
	ev.Evidence = r.redactor.Redact(ev.Evidence)
	for i, l := range ev.Output {
		ev.Output[i] = r.redactor.Redact(l)
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	if ev.Kind == EventOutput {
		r.addTail(ev.Host, ev.Output...)
	}
	r.cfg.Renderer.Event(ev)
	tl := transcriptLine{Time: ev.Time.UTC(), Step: ev.Step, Host: ev.Host, Action: "event:" + string(ev.Kind),
		Detail: ev.Message, Output: strings.Join(ev.Output, "\n"), Evidence: ev.Evidence, ExitStatus: ev.ExitStatus}
	if ev.Elapsed > 0 {
		tl.DurationMS = float64(ev.Elapsed) / float64(time.Millisecond)
	}
	r.writeTranscript(tl)
	r.logger.Debug("event", "kind", string(ev.Kind), "step", ev.Step, "host", ev.Host, "message", ev.Message)
}

func (r *runner) addTail(host string, lines ...string) {
	t := append(r.tails[host], lines...)
	if len(t) > 10 {
		t = t[len(t)-10:]
	}
	r.tails[host] = t
}

type transcriptLine struct {
	Time       time.Time `json:"time"`
	Step       string    `json:"step,omitempty"`
	Host       string    `json:"host,omitempty"`
	Action     string    `json:"action"`
	Detail     string    `json:"detail,omitempty"`
	ExitStatus int       `json:"exit_status"`
	DurationMS float64   `json:"duration_ms,omitempty"`
	Output     string    `json:"output,omitempty"`
	Evidence   string    `json:"evidence,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// writeTranscript appends one line; callers hold emitMu.
func (r *runner) writeTranscript(tl transcriptLine) {
	if r.transcript == nil {
		return
	}
	tl.Detail = r.redactor.Redact(tl.Detail)
	tl.Output = r.redactor.Redact(tl.Output)
	tl.Evidence = r.redactor.Redact(tl.Evidence)
	tl.Error = r.redactor.Redact(tl.Error)
	b, err := json.Marshal(tl)
	if err != nil {
		return
	}
	_, _ = r.transcript.Write(append(b, '\n'))
}

// onAction is remote's Transcript hook.
func (r *runner) onAction(a remote.Action) {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	if a.Output != "" {
		r.addTail(a.Host, strings.Split(strings.TrimRight(r.redactor.Redact(a.Output), "\n"), "\n")...)
	}
	r.writeTranscript(transcriptLine{Time: a.Time.UTC(), Step: r.curStep.Load().(string), Host: a.Host, Action: a.Kind,
		Detail: a.Detail, ExitStatus: a.ExitStatus, DurationMS: float64(a.Duration) / float64(time.Millisecond),
		Output: a.Output, Error: a.Err})
}

func (r *runner) tail(host string) []string {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	return slices.Clone(r.tails[host])
}

func (r *runner) sshAnswers() *SSHAnswers { return sshAnswersOf(r.answers) }

// connect asks the up-front secrets and connects every host.
func (r *runner) connect(ctx context.Context, e *Env) (*remote.Fleet, error) {
	hosts := HostConfigs(r.answers)
	if len(hosts) == 0 {
		return nil, nil
	}
	sa := r.sshAnswers()
	var sshPW, sudoPW string
	var err error
	if sa.Password {
		if sshPW, err = e.Secret(SecretSSHPassword); err != nil {
			return nil, err
		}
	}
	if sa.Sudo == SudoPassword {
		if sudoPW, err = e.Secret(SecretSudoPassword); err != nil {
			return nil, err
		}
	}
	for i := range hosts {
		if hosts[i].Password == "" {
			hosts[i].Password = sshPW
		}
		if hosts[i].SudoPassword == "" {
			hosts[i].SudoPassword = sudoPW
		}
	}
	opts := r.cfg.Remote
	if sa.KnownHosts != "" {
		opts.KnownHostsFile = sa.KnownHosts
	}
	if sa.SSHConfig != "" {
		opts.SSHConfigFile = sa.SSHConfig
	}
	opts.Redactor = r.redactor
	opts.Logger = r.logger
	opts.Transcript = r.onAction
	opts.ConfirmHostKeys = r.op.ConfirmHostKeys
	opts.Passphrase = func(string) ([]byte, error) {
		s, err := e.Secret(SecretKeyPassphrase)
		return []byte(s), err
	}
	start := time.Now()
	fleet, err := remote.Connect(ctx, opts, hosts)
	if err != nil {
		return nil, err
	}
	for _, h := range fleet.Hosts() {
		r.emit(Event{Kind: EventConnect, Host: h.Name(), Message: "connected to " + h.Address()})
	}
	if sa.Sudo != SudoNone {
		if err := fleet.CheckSudo(ctx); err != nil {
			fleet.Close()
			return nil, fmt.Errorf("sudo check: %w", err)
		}
		e.mu.Lock()
		e.sudoChecked = true
		e.mu.Unlock()
	}
	r.emit(Event{Kind: EventConnect, Message: fmt.Sprintf("connected to %d host(s)", len(fleet.Hosts())), Elapsed: time.Since(start)})
	return fleet, nil
}

// classify turns an error before the steps into the right exit code.
func classifyConnect(err error) error {
	var hk *remote.HostKeyChangedError
	var ce *remote.HostCertError
	if errors.As(err, &hk) || errors.As(err, &ce) {
		return &RefusedError{Reason: "refused", Err: err}
	}
	return err
}

func (r *runner) run(ctx context.Context) (Outcome, error) {
	start := time.Now()
	out := Outcome{StatePath: r.path}
	verb := "run"
	if r.cfg.Resume {
		verb = "resume"
	}
	r.emit(Event{Kind: EventRunStart, Message: fmt.Sprintf("%s %s (%s)", verb, r.p.Title, r.st.RunName), Total: len(r.list), StatePath: r.path})
	if err := r.save(); err != nil {
		return out, err
	}
	finish := func(status Status, err error, step, host string) (Outcome, error) {
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
		out.Status, out.Step, out.Host = status, step, host
		if status != StatusDone && status != StatusRefused {
			out.Resume = r.resumeCmd()
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
		r.emit(Event{Kind: EventRunEnd, Status: status, Message: msg, Elapsed: time.Since(start), StatePath: r.path, Step: step, Host: host})
		return out, err
	}

	r.env.ctx = ctx
	fleet, err := r.connect(ctx, r.env)
	if err != nil {
		err = classifyConnect(err)
		switch {
		case ctx.Err() != nil || errors.Is(err, context.Canceled):
			return finish(StatusStopped, &StoppedError{Reason: "interrupted while connecting", Resume: r.resumeCmd(), Err: context.Canceled}, "", "")
		case errors.Is(err, ErrWaitingForOperator):
			return finish(StatusWaiting, &StoppedError{Reason: err.Error(), Resume: r.resumeCmd(), Err: err}, "", "")
		case ExitCode(err) == ExitRefused:
			return finish(StatusRefused, err, "", "")
		}
		return finish(StatusFailed, fmt.Errorf("connecting: %w", err), "", "")
	}
	if fleet != nil {
		defer fleet.Close()
	}
	r.env.fleet = fleet
	// The answers must hold no secret: now that the secrets are known, check.
	if red := r.redactor.Redact(r.st.Answers); red != r.st.Answers {
		return finish(StatusRefused, &RefusedError{Reason: "the answers contain the value of a secret (sudo/SSH password or passphrase); remove it from the answers file"}, "", "")
	}

	sel := r.selection()
	r.warnOrder(sel)
	for _, i := range sel {
		s := r.list[i]
		if err := r.runStep(ctx, i, s); err != nil {
			var se *StepError
			var stop *StoppedError
			switch {
			case ctx.Err() != nil:
				return finish(StatusStopped, &StoppedError{Reason: "interrupted during step " + s.ID, Resume: r.resumeCmd(), Err: ctx.Err()}, s.ID, "")
			case errors.As(err, &stop):
				status := StatusStopped
				if errors.Is(err, ErrWaitingForOperator) {
					status = StatusWaiting
				}
				return finish(status, err, s.ID, "")
			case errors.As(err, &se):
				return finish(StatusFailed, err, se.Step, se.Host)
			}
			return finish(StatusFailed, err, s.ID, "")
		}
	}
	r.curStep.Store("")
	status := StatusDone
	for _, ss := range r.st.Steps {
		if st := ss.Status(); st != StatusDone && st != StatusSkipped {
			status = StatusStopped
		}
	}
	if status != StatusDone {
		// a partial run (--only / --from) that did what was asked
		o, err := finish(StatusStopped, nil, "", "")
		o.Status = StatusDone
		return o, err
	}
	return finish(StatusDone, nil, "", "")
}

// selection returns the indexes of the steps to run.
func (r *runner) selection() []int {
	var sel []int
	from := 0
	for i, s := range r.list {
		if s.ID == r.cfg.From {
			from = i
		}
	}
	for i, s := range r.list {
		switch {
		case r.cfg.Only != "":
			if s.ID == r.cfg.Only {
				sel = append(sel, i)
			}
		case i >= from:
			sel = append(sel, i)
		}
	}
	return sel
}

func (r *runner) prereqs(i int) []string {
	s := r.list[i]
	if s.After != nil {
		return s.After
	}
	var ids []string
	for _, p := range r.list[:i] {
		ids = append(ids, p.ID)
	}
	return ids
}

func (r *runner) stepDone(id string) bool {
	ss := r.st.Step(id)
	return ss != nil && ss.Status() == StatusDone
}

// warnOrder warns where --from/--only/--skip/--redo break the documented order.
func (r *runner) warnOrder(sel []int) {
	if len(sel) > 0 && (r.cfg.From != "" || r.cfg.Only != "") {
		first := sel[0]
		var missing []string
		for _, id := range r.prereqs(first) {
			if !r.stepDone(id) {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			r.emit(Event{Kind: EventWarning, Step: r.list[first].ID, Message: fmt.Sprintf("unsafe order: %s runs before %s %s done (the documented order puts them first)",
				r.list[first].ID, strings.Join(missing, ", "), isAre(len(missing)))})
		}
	}
	for _, sk := range r.cfg.Skip {
		for i := range r.list {
			if slices.Contains(r.prereqs(i), sk) && slices.Contains(sel, i) {
				r.emit(Event{Kind: EventWarning, Step: sk, Message: fmt.Sprintf("skipping %s: %s depends on it and will run without it", sk, r.list[i].ID)})
				break
			}
		}
	}
	for _, rd := range r.cfg.Redo {
		r.emit(Event{Kind: EventWarning, Step: rd, Message: fmt.Sprintf("redoing %s even if its check says done; the steps after it are re-checked", rd)})
	}
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
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

// set updates a host state under the lock and saves it (sync: durably).
func (r *runner) set(sync bool, f func()) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	return r.saveLocked(sync)
}

func now() *time.Time {
	t := time.Now().UTC()
	return &t
}

func (r *runner) runHost(ctx context.Context, i int, s *Step, host string, hs *HostState) error {
	start := time.Now()
	ev := func(k EventKind, msg string) Event {
		return Event{Kind: k, Step: s.ID, Index: i + 1, Total: len(r.list), Title: s.Title, Host: host, Message: msg}
	}
	redo := slices.Contains(r.cfg.Redo, s.ID)
	if s.Manual != nil && slices.Contains(r.cfg.Confirm, s.ID) {
		if err := r.set(cacheOnly, func() { hs.Confirmed, hs.Note = now(), "" }); err != nil { // the flag is given again on resume
			return err
		}
		r.emit(ev(EventConfirmed, "confirmed with --confirm"))
	}
	for {
		r.mu.Lock()
		prev := hs.Status
		r.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.Check != nil && !redo {
			done, evidence, err := s.Check(ctx, r.env, host)
			evidence = r.redactor.Redact(evidence)
			if err != nil {
				if retry, ferr := r.failed(ctx, s, host, hs, "check", err); retry {
					continue
				} else {
					return ferr
				}
			}
			if done {
				msg := "already done"
				if prev == StatusDone {
					msg = "done (re-checked)"
				} else if prev == StatusStarted {
					msg = "done (checked after an interruption)"
				}
				if err := r.set(cacheOnly, func() {
					hs.Status, hs.Check, hs.Error, hs.Finished = StatusDone, evidence, "", now()
				}); err != nil {
					return err
				}
				e := ev(EventSkip, msg)
				e.Evidence = evidence
				r.emit(e)
				return nil
			}
			e := ev(EventCheck, "not done")
			e.Evidence = evidence
			r.emit(e)
			r.mu.Lock()
			hs.Check = evidence
			r.mu.Unlock()
			if prev == StatusDone {
				r.emit(ev(EventWarning, "was done earlier, but its check now says not done: running it again"))
			}
		} else if prev == StatusDone && !redo {
			r.emit(ev(EventSkip, "done earlier (no check to repeat)"))
			return nil
		} else if prev == StatusStarted && !redo {
			r.emit(ev(EventWarning, "was interrupted after it started and has no check: running it again"))
		}

		if s.Manual != nil {
			r.mu.Lock()
			confirmed := hs.Confirmed != nil
			r.mu.Unlock()
			if !confirmed || (redo && !slices.Contains(r.cfg.Confirm, s.ID)) {
				e := ev(EventManualWait, "waiting for the operator")
				e.Manual = s.Manual
				r.emit(e)
				err := r.op.ConfirmManual(ctx, s, host)
				if err != nil {
					if errors.Is(err, ErrWaitingForOperator) {
						r.mu.Lock()
						hs.Note = "waiting for the operator's confirmation"
						r.mu.Unlock()
						return &StoppedError{Reason: "waiting for manual step " + s.ID + " (" + s.Title + ")",
							Resume: r.resumeCmd() + " --confirm " + s.ID, Err: ErrWaitingForOperator}
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return &StoppedError{Reason: "manual step " + s.ID + ": " + err.Error(), Resume: r.resumeCmd(), Err: err}
				}
				if err := r.set(durable, func() { hs.Confirmed = now(); hs.Note = "" }); err != nil {
					return err
				}
				r.emit(ev(EventConfirmed, "confirmed by the operator"))
			}
		}

		// Write-ahead: started before Apply, durably.
		if err := r.set(durable, func() {
			hs.Status, hs.Error, hs.Started, hs.Finished = StatusStarted, "", now(), nil
			if s.Apply != nil {
				hs.Attempts++
			}
		}); err != nil {
			return err
		}
		if s.Apply != nil {
			r.emit(ev(EventApply, ""))
			if err := s.Apply(ctx, r.env, host); err != nil {
				if retry, ferr := r.failed(ctx, s, host, hs, "apply", err); retry {
					continue
				} else {
					return ferr
				}
			}
		}
		evidence := ""
		if s.Verify != nil {
			var err error
			evidence, err = s.Verify(ctx, r.env, host)
			evidence = r.redactor.Redact(evidence)
			if err != nil {
				if retry, ferr := r.failed(ctx, s, host, hs, "verify", err); retry {
					continue
				} else {
					return ferr
				}
			}
			e := ev(EventVerify, "holds")
			e.Evidence = evidence
			r.emit(e)
		}
		if err := r.set(cacheOnly, func() {
			hs.Status, hs.Evidence, hs.Finished, hs.Note = StatusDone, evidence, now(), ""
		}); err != nil {
			return err
		}
		e := ev(EventHostDone, "done")
		e.Elapsed = time.Since(start)
		r.emit(e)
		return nil
	}
}

// failed records a failure and asks the operator. It returns retry=true, or
// the error that ends the run (nil when the operator skipped the host).
func (r *runner) failed(ctx context.Context, s *Step, host string, hs *HostState, action string, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err() // interrupted: the state stays as written ahead
	}
	if errors.Is(err, ErrWaitingForOperator) {
		return false, &StoppedError{Reason: fmt.Sprintf("step %s on %s is waiting for the operator (%v)", s.ID, hostOrLocal(host), err), Resume: r.resumeCmd(), Err: err}
	}
	se := &StepError{Step: s.ID, Host: host, Action: action, Output: r.tail(host), Err: err}
	var xe *remote.ExitError
	if errors.As(err, &xe) {
		se.ExitStatus = xe.Status
	}
	msg := r.redactor.Redact(se.Error())
	if serr := r.set(cacheOnly, func() { hs.Status, hs.Error, hs.Finished = StatusFailed, msg, now() }); serr != nil {
		return false, serr
	}
	r.emit(Event{Kind: EventStepFailed, Step: s.ID, Title: s.Title, Host: host, Message: msg, ExitStatus: se.ExitStatus, Output: se.Output})
	choice, cerr := r.op.Failure(ctx, s, host, se)
	if cerr != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, se
	}
	switch choice {
	case Retry:
		r.emit(Event{Kind: EventInfo, Step: s.ID, Host: host, Message: "retrying"})
		return true, nil
	case Skip:
		if serr := r.set(durable, func() { hs.Status, hs.Note = StatusSkipped, "skipped by the operator after a failure" }); serr != nil {
			return false, serr
		}
		r.emit(Event{Kind: EventWarning, Step: s.ID, Host: host, Message: "skipped by the operator after a failure; later steps may not hold"})
		return false, nil
	}
	return false, se
}

func hostOrLocal(h string) string {
	if h == "" {
		return "this machine"
	}
	return h
}

// lockedOperator serialises calls to an Operator (Parallel steps).
type lockedOperator struct {
	mu sync.Mutex
	op Operator
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
	defer l.mu.Unlock()
	return l.op.Confirm(ctx, q, def)
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
