package steps

// The change journal: every file a run's step changed on a host (path,
// backup, hashes before and after) and every service it started, stopped
// or restarted (the state before and after), in order, saved in the state
// durably as each change is made. `hawiz rollback` undoes them from it
// (rollback.go). No content is ever recorded: a gen.key write is its path
// and hashes. A DNS change (records a step added or removed with a
// TSIG-signed RFC 2136 UPDATE) is journaled by the step itself
// (Env.JournalDNS) with the zone, name, addresses, server and the key's
// name and source, never its secret.

import (
	"net/netip"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// Change kinds.
const (
	ChangeFile    = "file"
	ChangeService = "service"
	ChangeDNS     = "dns"
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

	// ChangeDNS (Host is ""): what the UPDATE changed.
	DNS *DNSChange `json:"dns,omitempty"`
}

// DNSChange is a change of one name's address records a step made with a
// TSIG-signed RFC 2136 UPDATE, as the step journals it (Env.JournalDNS)
// once the update was sent. The key is named, and where it came from; its
// secret is never recorded.
type DNSChange struct {
	Zone   string `json:"zone"`
	Name   string `json:"name"`
	Server string `json:"server"` // the primary the UPDATE went to, ip:port
	// Servers and Resolver are the authoritative servers (empty: discovered)
	// and resolver the step verified the name with; a rollback uses them.
	Servers  []string `json:"servers,omitempty"`
	Resolver string   `json:"resolver,omitempty"`
	KeyName  string   `json:"key_name"`
	// KeyFile is the BIND key file the key was read from (the answers'
	// dns.tsig_key_file); "" when it came from elsewhere (HAWIZ_TSIG_KEY).
	KeyFile string `json:"key_file,omitempty"`
	// Before is what the primary held when read (the update's prerequisite);
	// Added and Removed what the update added (with TTL) and deleted (they
	// had OldTTL, or TTL when 0).
	Before  []netip.Addr `json:"before"`
	Added   []netip.Addr `json:"added,omitempty"`
	Removed []netip.Addr `json:"removed,omitempty"`
	TTL     uint32       `json:"ttl"`
	OldTTL  uint32       `json:"old_ttl,omitempty"`
	// MaxWait is how long the step let the secondaries take to follow.
	MaxWait time.Duration `json:"max_wait,omitempty"`
	// Unconfirmed says why the server's reply did not count as done (not
	// authenticated, no reply): the zone may or may not have changed.
	Unconfirmed string `json:"unconfirmed,omitempty"`
}

// After is what the name holds once the change took effect: Before without
// Removed, with Added.
func (d *DNSChange) After() []netip.Addr {
	var out []netip.Addr
	for _, a := range d.Before {
		if !containsAddr(d.Removed, a) {
			out = append(out, a)
		}
	}
	for _, a := range d.Added {
		if !containsAddr(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

// JournalDNS records d, a DNS change the current step made (or may have
// made: d.Unconfirmed), in the run's change journal, saved durably before
// it returns. Outside the engine it does nothing.
func (e *Env) JournalDNS(d DNSChange) {
	if e.record == nil {
		return
	}
	step := ""
	if e.step != nil {
		step = e.step()
	}
	e.record(step, &Change{Kind: ChangeDNS, DNS: &d})
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
	j := &Change{Host: c.Host, Sudo: c.Sudo}
	if c.Service != "" {
		m := c.Manager
		j.Kind, j.Service, j.Manager, j.Action = ChangeService, c.Service, &m, c.Action
		j.StateKnown, j.WasActive, j.Active = c.StateKnown, c.WasActive, c.Active
	} else {
		j.Kind, j.Path, j.Backup, j.Before, j.After = ChangeFile, c.Path, c.Backup, c.Before, c.After
	}
	e.record(step, j)
}

// recordChange appends c, made by step, to the state's journal and saves
// the state durably before the write or action that made it returns.
func (r *runner) recordChange(step string, j *Change) {
	red := r.redactor.Redact
	j.Time, j.Step = time.Now().UTC(), step
	j.Service, j.Path, j.Backup = red(j.Service), red(j.Path), red(j.Backup)
	if d := j.DNS; d != nil {
		d.Name, d.Zone, d.KeyName, d.KeyFile, d.Unconfirmed = red(d.Name), red(d.Zone), red(d.KeyName), red(d.KeyFile), red(d.Unconfirmed)
	}
	err := r.set(durable, func() {
		j.Seq = len(r.st.Journal) + 1
		r.st.Journal = append(r.st.Journal, j)
	})
	if err != nil {
		r.logger.Error("saving the change journal", "host", j.Host, "err", err)
		r.emit(Event{Kind: EventWarning, Step: step, Host: j.Host, Message: "the change journal could not be saved: " + err.Error()})
	}
}
