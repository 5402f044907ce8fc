package steps

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// StateSchema is the version of the state file format this build reads and writes.
const StateSchema = 1

// Status of a run, or of a step on one host.
type Status string

const (
	StatusPending Status = "pending" // not started
	StatusStarted Status = "started" // Apply may have run (write-ahead): Check again before re-applying
	StatusDone    Status = "done"    // verified
	StatusSkipped Status = "skipped" // skipped by --skip or the operator (not verified)
	StatusFailed  Status = "failed"  // resumable
	// Run-level only:
	StatusRunning Status = "running"
	StatusStopped Status = "stopped" // interrupted or stopped by the operator
	StatusWaiting Status = "waiting" // waiting for a manual step's confirmation
	StatusRefused Status = "refused"
)

// State is the checkpoint file: everything needed to resume, and nothing
// secret. It is written atomically after every transition.
type State struct {
	Schema           int               `json:"schema"`
	Procedure        string            `json:"procedure"`
	ProcedureVersion int               `json:"procedure_version"`
	Fingerprint      string            `json:"fingerprint"` // of the definition: name, version, step IDs, modes, hosts
	RunName          string            `json:"run_name"`
	ToolVersion      string            `json:"hawiz_version,omitempty"`
	AnswersFile      string            `json:"answers_file,omitempty"` // for humans; resume uses Answers
	Answers          string            `json:"answers"`                // YAML, as loaded and validated
	Status           Status            `json:"status"`
	Message          string            `json:"message,omitempty"` // why it stopped / failed
	Created          time.Time         `json:"created"`
	Updated          time.Time         `json:"updated"`
	Steps            []*StepState      `json:"steps"`
	Facts            map[string]string `json:"facts,omitempty"`
	// Journal lists every change the run made on its hosts, in order
	// (journal.go): what `hawiz rollback` undoes. Paths, hashes and
	// service states only, never a file's content.
	Journal []*Change `json:"journal,omitempty"`
	// HostKeys are the host keys the run connected with and how each was
	// trusted; Questions the yes/no questions its steps asked, answered
	// (confirm.go). Older state files have neither.
	HostKeys  []*HostKey  `json:"host_keys,omitempty"`
	Questions []*Question `json:"questions,omitempty"`
}

// StepState is one step's progress.
type StepState struct {
	ID    string       `json:"id"`
	Title string       `json:"title"`
	Hosts []*HostState `json:"hosts"` // one entry per host ("" for a local/Once-without-hosts step)
}

// HostState is one step's progress on one host.
type HostState struct {
	Host      string     `json:"host"`
	Status    Status     `json:"status"`
	Attempts  int        `json:"attempts,omitempty"` // times Apply was started
	Started   *time.Time `json:"started,omitempty"`
	Finished  *time.Time `json:"finished,omitempty"`
	Check     string     `json:"check_evidence,omitempty"`
	Evidence  string     `json:"verify_evidence,omitempty"`
	Error     string     `json:"error,omitempty"`
	Confirmed *time.Time `json:"manual_confirmed,omitempty"`
	// ConfirmedBy is how Confirmed was given (ByTUI, ByPrompt,
	// ByConfirmFlag, ByDemo; confirm.go); "" in older state files.
	ConfirmedBy string `json:"manual_confirmed_by,omitempty"`
	Note        string `json:"note,omitempty"` // e.g. "skipped by --skip"
}

// Step returns the state of step id, or nil.
func (s *State) Step(id string) *StepState {
	for _, st := range s.Steps {
		if st.ID == id {
			return st
		}
	}
	return nil
}

// touched reports whether any step got past pending (a new `run` may
// replace a state that was never touched, e.g. refused at connection).
func (s *State) touched() bool {
	for _, st := range s.Steps {
		for _, h := range st.Hosts {
			if h.Status != StatusPending || h.Confirmed != nil {
				return true
			}
		}
	}
	return false
}

// Host returns the state of the step on host, or nil.
func (s *StepState) Host(host string) *HostState {
	for _, h := range s.Hosts {
		if h.Host == host {
			return h
		}
	}
	return nil
}

// Status summarises the step over its hosts: done only when every host is
// done or skipped; failed/started when any is.
func (s *StepState) Status() Status {
	all := StatusDone
	for _, h := range s.Hosts {
		switch h.Status {
		case StatusFailed:
			return StatusFailed
		case StatusStarted:
			all = StatusStarted
		case StatusPending:
			if all == StatusDone {
				all = StatusPending
			}
		case StatusSkipped:
			if all == StatusDone {
				all = StatusSkipped
			}
		}
	}
	if all == StatusPending {
		for _, h := range s.Hosts {
			if h.Status != StatusPending {
				return StatusStarted
			}
		}
	}
	return all
}

// runHosts is the list of hosts a step runs on ("" for local).
func runHosts(s *Step) []string {
	if len(s.Hosts) == 0 {
		return []string{""}
	}
	if s.Mode == Once {
		return s.Hosts[:1]
	}
	return s.Hosts
}

// Fingerprint hashes what makes a state file resumable by a definition: the
// procedure name and Version, and the ordered step IDs with their modes and hosts.
func Fingerprint(p *Procedure, list []*Step) string {
	h := sha256.New()
	fmt.Fprintf(h, "hawiz-procedure\x00%s\x00%d\x00", p.Name, p.Version)
	for _, s := range list {
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00%t\x00", s.ID, s.Mode, strings.Join(s.Hosts, ","), s.Manual != nil)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// newState builds the initial state for a run.
func newState(p *Procedure, list []*Step, runName, answersYAML, answersFile, tool string, now time.Time) *State {
	st := &State{
		Schema: StateSchema, Procedure: p.Name, ProcedureVersion: p.Version,
		Fingerprint: Fingerprint(p, list), RunName: runName, ToolVersion: tool,
		AnswersFile: answersFile, Answers: answersYAML, Status: StatusRunning,
		Created: now, Updated: now, Facts: map[string]string{},
	}
	for _, s := range list {
		ss := &StepState{ID: s.ID, Title: s.Title}
		for _, h := range runHosts(s) {
			ss.Hosts = append(ss.Hosts, &HostState{Host: h, Status: StatusPending})
		}
		st.Steps = append(st.Steps, ss)
	}
	return st
}

// CorruptStateError is a state file that cannot be read. It is kept as is.
type CorruptStateError struct {
	Path string
	Err  error
}

func (e *CorruptStateError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (%v); it was kept as is: fix or move it aside (the hosts were not touched by this command); `hawiz check` audits the hosts without a state", e.Path, e.Err)
}

func (e *CorruptStateError) Unwrap() error { return e.Err }

// ReadState reads and checks a state file. A missing file returns an error
// wrapping fs.ErrNotExist; an unreadable one a *RefusedError wrapping
// *CorruptStateError (exit 4); the file is never modified.
func ReadState(path string) (*State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseState(path, data)
}

// parseState decodes and checks the state saved at path (named in errors),
// as ReadState does.
func parseState(path string, data []byte) (*State, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &RefusedError{Reason: "refusing to resume", Err: &CorruptStateError{path, errors.New("empty file")}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st State
	if err := dec.Decode(&st); err != nil {
		return nil, &RefusedError{Reason: "refusing to resume", Err: &CorruptStateError{path, err}}
	}
	if dec.More() {
		return nil, &RefusedError{Reason: "refusing to resume", Err: &CorruptStateError{path, errors.New("trailing data after the JSON document")}}
	}
	if st.Schema != StateSchema {
		return nil, &RefusedError{Reason: "refusing to resume", Err: fmt.Errorf("state file %s has schema version %d; this hawiz reads version %d: finish that run with the hawiz that started it (%s), or start a new run", path, st.Schema, StateSchema, orUnknown(st.ToolVersion))}
	}
	if st.Procedure == "" || st.Fingerprint == "" || len(st.Steps) == 0 {
		return nil, &RefusedError{Reason: "refusing to resume", Err: &CorruptStateError{path, errors.New("procedure, fingerprint or steps missing")}}
	}
	switch st.Status {
	case StatusRunning, StatusDone, StatusFailed, StatusStopped, StatusWaiting, StatusRefused:
	default:
		return nil, &RefusedError{Reason: "refusing to resume", Err: &CorruptStateError{path, fmt.Errorf("unknown run status %q", st.Status)}}
	}
	for i, s := range st.Steps {
		if s == nil || s.ID == "" || len(s.Hosts) == 0 {
			return nil, &RefusedError{Reason: "refusing to resume", Err: &CorruptStateError{path, fmt.Errorf("steps[%d] is incomplete", i)}}
		}
		for j, h := range s.Hosts {
			if h == nil || !validHostStatus(h.Status) {
				return nil, &RefusedError{Reason: "refusing to resume", Err: &CorruptStateError{path, fmt.Errorf("steps[%d].hosts[%d] has no valid status", i, j)}}
			}
		}
	}
	if st.Facts == nil {
		st.Facts = map[string]string{}
	}
	return &st, nil
}

func validHostStatus(s Status) bool {
	switch s {
	case StatusPending, StatusStarted, StatusDone, StatusSkipped, StatusFailed:
		return true
	}
	return false
}

func orUnknown(s string) string {
	if s == "" {
		return "version unknown"
	}
	return s
}

// checkCompatible refuses a state made by another definition of the procedure.
func checkCompatible(path string, st *State, p *Procedure, list []*Step) error {
	if st.Procedure != p.Name {
		return &RefusedError{Reason: "refusing to resume", Err: fmt.Errorf("state file %s belongs to procedure %s, not %s", path, st.Procedure, p.Name)}
	}
	fp := Fingerprint(p, list)
	if st.Fingerprint == fp {
		return nil
	}
	var diff []string
	if st.ProcedureVersion != p.Version {
		diff = append(diff, fmt.Sprintf("procedure version %d, this hawiz has %d", st.ProcedureVersion, p.Version))
	}
	var old, cur []string
	for _, s := range st.Steps {
		old = append(old, s.ID)
	}
	for _, s := range list {
		cur = append(cur, s.ID)
	}
	if strings.Join(old, " ") != strings.Join(cur, " ") {
		diff = append(diff, fmt.Sprintf("steps were [%s], now [%s]", strings.Join(old, " "), strings.Join(cur, " ")))
	} else {
		diff = append(diff, "a step's hosts, mode or manual flag changed")
	}
	return &RefusedError{Reason: "refusing to resume", Err: fmt.Errorf("state file %s was written by a different definition of %s (%s); finish it with the hawiz that started it (%s), or start a new run with another --state", path, p.Name, strings.Join(diff, "; "), orUnknown(st.ToolVersion))}
}

// DefaultStateDir is $XDG_STATE_HOME/hawiz, or ~/.local/state/hawiz.
func DefaultStateDir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "hawiz"), nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("no XDG_STATE_HOME or HOME for the state file; use --state FILE")
		}
	}
	return filepath.Join(home, ".local", "state", "hawiz"), nil
}

// DefaultStatePath is DefaultStateDir/<procedure>-<runName>.json.
func DefaultStatePath(getenv func(string) string, procedure, runName string) (string, error) {
	dir, err := DefaultStateDir(getenv)
	if err != nil {
		return "", err
	}
	if runName == "" {
		runName = "default"
	}
	return filepath.Join(dir, procedure+"-"+runName+".json"), nil
}

// LatestState returns the most recently updated state file in
// DefaultStateDir (for `hawiz resume` / `hawiz status` without --state).
func LatestState(getenv func(string) string) (string, error) {
	dir, err := DefaultStateDir(getenv)
	if err != nil {
		return "", err
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	type cand struct {
		path string
		mod  time.Time
	}
	var cs []cand
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			cs = append(cs, cand{p, fi.ModTime()})
		}
	}
	if len(cs) == 0 {
		return "", &UsageError{Err: fmt.Errorf("no state file in %s; name one with --state FILE", dir)}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].mod.After(cs[j].mod) })
	return cs[0].path, nil
}

// sidePath returns the transcript / evidence / lock path for a state path.
func sidePath(statePath, suffix string) string {
	return strings.TrimSuffix(statePath, ".json") + suffix
}

// TranscriptPath is <state without .json>.transcript.jsonl.
func TranscriptPath(statePath string) string { return sidePath(statePath, ".transcript.jsonl") }

// EvidencePath is <state without .json>.evidence.md.
func EvidencePath(statePath string) string { return sidePath(statePath, ".evidence.md") }

// LockPath is <state>.lock.
func LockPath(statePath string) string { return statePath + ".lock" }
