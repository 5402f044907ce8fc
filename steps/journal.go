package steps

// The change journal: every file a run's step changed on a host (path,
// backup, hashes before and after) and every service it started, stopped
// or restarted (the state before and after), in order, saved in the state
// durably as each change is made. `hawiz rollback` undoes them from it
// (rollback.go). No content is ever recorded: a gen.key write is its path
// and hashes.

import (
	"time"

	"github.com/hawiz/hawiz/remote"
)

// Change kinds.
const (
	ChangeFile    = "file"
	ChangeService = "service"
)

// Change is one change a run made, as the state records it.
type Change struct {
	Seq  int       `json:"seq"` // 1-based, in the order the changes were made
	Time time.Time `json:"time"`
	Step string    `json:"step"` // the step that made it
	Host string    `json:"host"`
	Kind string    `json:"kind"` // ChangeFile or ChangeService
	Sudo bool      `json:"sudo,omitempty"`

	// ChangeFile: Before is the SHA-256 of the content replaced, "absent"
	// when the write created the file, "" when the host did not tell it.
	Path   string `json:"path,omitempty"`
	Backup string `json:"backup,omitempty"`
	Before string `json:"sha256_before,omitempty"`
	After  string `json:"sha256_after,omitempty"`

	// ChangeService: the state before the action (StateKnown false: it
	// could not be read) and after it.
	Service    string                 `json:"service,omitempty"`
	Manager    *remote.ServiceManager `json:"manager,omitempty"`
	Action     remote.ServiceAction   `json:"action,omitempty"`
	StateKnown bool                   `json:"state_known,omitempty"`
	WasActive  bool                   `json:"was_active,omitempty"`
	Active     bool                   `json:"active,omitempty"`
}

// journalChange is the hook Env.Host installs on every host it returns:
// the change goes to the journal under the current step.
func (e *Env) journalChange(c remote.Change) {
	if e.record == nil {
		return
	}
	step := ""
	if e.step != nil {
		step = e.step()
	}
	e.record(step, c)
}

// recordChange appends c, made by step, to the state's journal and saves
// the state durably before the write or action that made it returns.
func (r *runner) recordChange(step string, c remote.Change) {
	red := r.redactor.Redact
	j := &Change{Time: time.Now().UTC(), Step: step, Host: c.Host, Sudo: c.Sudo}
	if c.Service != "" {
		m := c.Manager
		j.Kind, j.Service, j.Manager, j.Action = ChangeService, red(c.Service), &m, c.Action
		j.StateKnown, j.WasActive, j.Active = c.StateKnown, c.WasActive, c.Active
	} else {
		j.Kind, j.Path, j.Backup, j.Before, j.After = ChangeFile, red(c.Path), red(c.Backup), c.Before, c.After
	}
	err := r.set(durable, func() {
		j.Seq = len(r.st.Journal) + 1
		r.st.Journal = append(r.st.Journal, j)
	})
	if err != nil {
		r.logger.Error("saving the change journal", "host", c.Host, "err", err)
		r.emit(Event{Kind: EventWarning, Step: step, Host: c.Host, Message: "the change journal could not be saved: " + err.Error()})
	}
}
