package steps

// Rollback: a procedure generated from a run's change journal (journal.go)
// that undoes it, newest change first, with the engine's checks,
// checkpoints, resumption and evidence. A file is restored from the backup
// its write kept, or removed when the run created it, only while it still
// holds exactly what the run wrote; a service goes back to the state it
// had before the run's action. Where no technical undo exists, the step
// is manual and says what the documented recovery is.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/hawiz/hawiz/remote"
)

// RollbackStatePath is the rollback's own state file for the run whose
// state is at statePath: <state without .json>.rollback.json.
func RollbackStatePath(statePath string) string { return sidePath(statePath, ".rollback.json") }

// Undo kinds.
const (
	undoRestore = "restore" // write the backup's content back
	undoRemove  = "remove"  // remove a file the run created
	undoStart   = "start"
	undoStop    = "stop"
	undoRestart = "restart" // back to active, reading the restored files
	undoManual  = "manual"  // no technical undo: the operator does it
	undoDNS     = "dns"     // a signed UPDATE taking the run's records out again
)

type undo struct {
	c    *Change
	kind string
}

// undos lists what undoes journal, in the order to do it: newest change
// first, except that a restart (of a service active before the run) is
// moved after the restore of every file the run changed on that host
// before it, so the service reads the restored files; several restarts of
// one service on a host are undone by one (the newest's).
func undos(journal []*Change) []undo {
	rev := slices.Clone(journal)
	slices.SortFunc(rev, func(a, b *Change) int { return b.Seq - a.Seq })
	var out, restarts []undo
	for _, c := range rev {
		switch c.Kind {
		case ChangeFile:
			switch {
			case c.Before == "absent" && isSHA256(c.After):
				out = append(out, undo{c, undoRemove})
			case isSHA256(c.Before) && isSHA256(c.After) && c.Backup != "":
				out = append(out, undo{c, undoRestore})
			default:
				out = append(out, undo{c, undoManual})
			}
		case ChangeService:
			switch {
			case !c.StateKnown || c.Manager == nil:
				out = append(out, undo{c, undoManual})
			case c.WasActive && c.Action == remote.ServiceStop:
				out = append(out, undo{c, undoStart})
			case c.WasActive && c.Action == remote.ServiceRestart:
				// one restart per service and host: the newest, which goes
				// after the restore of every file an older one would wait for
				if !slices.ContainsFunc(restarts, func(r undo) bool { return sameService(r.c, c) }) {
					restarts = append(restarts, undo{c, undoRestart})
				}
			case !c.WasActive && (c.Action == remote.ServiceStart || c.Action == remote.ServiceRestart):
				out = append(out, undo{c, undoStop})
			} // start of an active service, stop of a stopped one: nothing to undo
		case ChangeDNS:
			if d := c.DNS; d != nil && (len(dnsGone(d)) > 0 || len(d.Removed) > 0) {
				out = append(out, undo{c, undoDNS})
			}
		}
	}
	for _, r := range restarts {
		pos := len(out) // in its place: after every undo of a later change
		for j, o := range out {
			if o.c.Seq < r.c.Seq {
				pos = j
				break
			}
		}
		for j, o := range out { // and after the restore of every file changed before it on its host
			if o.c.Kind == ChangeFile && o.c.Host == r.c.Host && o.c.Seq < r.c.Seq && j+1 > pos {
				pos = j + 1
			}
		}
		out = slices.Insert(out, pos, r)
	}
	return out
}

func sameService(a, b *Change) bool {
	if a.Host != b.Host || a.Service != b.Service || a.Manager == nil || b.Manager == nil {
		return false
	}
	m, n := a.Manager, b.Manager
	return m.Kind == n.Kind && slices.Equal(m.Command, n.Command) && slices.Equal(m.IsActive, n.IsActive) && m.StopStart == n.StopStart
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func (u undo) id() string { return fmt.Sprintf("undo-%d-%s", u.c.Seq, u.kind) }

func (u undo) what() string {
	c := u.c
	switch u.kind {
	case undoRestore:
		return fmt.Sprintf("restore %s on %s from %s (sha256 %s), only while it holds what hawiz wrote (sha256 %s)", c.Path, c.Host, c.Backup, short(c.Before), short(c.After))
	case undoRemove:
		return fmt.Sprintf("remove %s on %s (hawiz created it), only while it holds what hawiz wrote (sha256 %s)", c.Path, c.Host, short(c.After))
	case undoStart:
		return fmt.Sprintf("start %s on %s (active before step %s stopped it)", c.Service, c.Host, c.Step)
	case undoStop:
		return fmt.Sprintf("stop %s on %s (not active before step %s ran %s)", c.Service, c.Host, c.Step, c.Action)
	case undoRestart:
		return fmt.Sprintf("restart %s on %s (active before step %s restarted it), after the files are restored", c.Service, c.Host, c.Step)
	case undoDNS:
		return dnsWhat(c)
	}
	if c.Kind == ChangeService {
		return fmt.Sprintf("by hand: return %s on %s to its state before step %s (%s; hawiz could not read the state before)", c.Service, c.Host, c.Step, c.Action)
	}
	return fmt.Sprintf("by hand: restore %s on %s (hawiz kept no backup of it, or did not learn the content it replaced)", c.Path, c.Host)
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// RollbackProcedure is the procedure that undoes the run src holds (a run
// of srcProc): a preflight that checks every host before anything is
// written, then one step per change, newest first. Its steps depend only
// on src's journal, so the same state always gives the same procedure and
// a rollback resumes. It refuses a state with nothing to undo.
func RollbackProcedure(src *State, srcProc *Procedure) (*Procedure, error) {
	us := undos(src.Journal)
	manualOM := src.Procedure == "opsmanager-upgrade" && changedAnything(src)
	if len(us) == 0 && !manualOM {
		if len(src.Journal) == 0 {
			return nil, &UsageError{Err: fmt.Errorf("the run of %s in this state file recorded no change (a run by a hawiz without the change journal records none): nothing to roll back", src.Procedure)}
		}
		return nil, &UsageError{Err: fmt.Errorf("the run of %s changed nothing that needs undoing (every service action left the state it found)", src.Procedure)}
	}
	p := &Procedure{
		Name:        "rollback-" + src.Procedure,
		Title:       "Roll back " + srcProc.Title + " (" + src.RunName + ")",
		Description: "undo the changes the run recorded, newest first",
		DocURL:      srcProc.DocURL,
		Version:     1,
		NewAnswers:  srcProc.NewAnswers,
		Template:    srcProc.Template,
	}
	p.Steps = func(a Answers) ([]*Step, error) {
		list := rollbackSteps(us, manualOM)
		run, err := srcProc.Steps(a)
		if err != nil {
			return nil, err
		}
		return withManualUndos(list, us, run, src), nil
	}
	return p, nil
}

// withManualUndos adds, for every step of the run that was done and has an
// Undo (work hawiz cannot undo), a manual step at the point where it was
// done: before the undo of every change made by an earlier step of the run
// (newest first, as the journal's undos).
func withManualUndos(list []*Step, us []undo, run []*Step, src *State) []*Step {
	index := map[string]int{}
	for i, s := range run {
		index[s.ID] = i
	}
	done := map[string]bool{}
	for _, st := range src.Steps {
		for _, h := range st.Hosts {
			done[st.ID] = done[st.ID] || h.Status == StatusDone
		}
	}
	for i := len(run) - 1; i >= 0; i-- {
		s := run[i]
		if s.Undo == nil || !done[s.ID] {
			continue
		}
		m := &Step{
			ID: "undo-by-hand-" + s.ID, Title: "By hand (hawiz cannot undo it): undo step " + s.ID + ", " + s.Title,
			Why:    fmt.Sprintf("step %s of the run did work hawiz has no technical undo for; undo it here, where it comes in the reverse order of the run", s.ID),
			DocRef: s.DocRef, Hosts: s.Hosts, Mode: Once, After: []string{},
			Manual: s.Undo,
		}
		if len(m.Hosts) > 1 {
			m.Hosts = m.Hosts[:1]
		}
		pos := len(list)
		for j, l := range list {
			if l.Manual != nil && strings.HasPrefix(l.ID, "undo-by-hand-") {
				continue // a later step's manual undo: this one goes after it
			}
			if u, ok := undoOf(l, us); ok {
				if k, known := index[u.c.Step]; known && k < i {
					pos = j
					break
				}
			}
		}
		list = slices.Insert(list, pos, m)
	}
	return list
}

// undoOf is the undo behind step s of the rollback's list.
func undoOf(s *Step, us []undo) (undo, bool) {
	for _, u := range us {
		if u.id() == s.ID {
			return u, true
		}
	}
	return undo{}, false
}

func rollbackSteps(us []undo, manualOM bool) []*Step {
	var hosts []string
	dns := false
	for _, u := range us {
		dns = dns || u.kind == undoDNS
		if u.c.Host != "" && !slices.Contains(hosts, u.c.Host) {
			hosts = append(hosts, u.c.Host)
		}
	}
	var list []*Step
	if len(hosts) > 0 {
		list = append(list, &Step{
			ID: "check-before-rollback", Title: "Check every host before anything is undone",
			Why:   "nothing is written until every host was checked: a symbolic link where hawiz wrote a file, or a backup that no longer holds what it replaced, stops the rollback here",
			Hosts: hosts, Mode: Parallel, After: []string{},
			Actions: []string{"read each file's and backup's hash; refuse symbolic links"},
			// The check is the preflight itself, run at every invocation:
			// it holds (done, with what it found) or stops the rollback.
			Check: func(ctx context.Context, e *Env, host string) (bool, string, error) {
				ev, err := preflightHost(ctx, e, host, us)
				return err == nil, ev, err
			},
		})
	}
	if dns {
		list = append(list, &Step{
			ID: "check-dns-before-rollback", Title: "Check the DNS names the run changed before anything is undone",
			Why:     "nothing is written until every input was checked: the TSIG key the run used must be at hand (its key file, HAWIZ_TSIG_KEY, or asked for; never stored) for every name that still holds what the run left",
			Mode:    Once,
			After:   []string{},
			Actions: []string{"ask every authoritative server for each name the run changed; load the TSIG key the run signed with"},
			Check: func(ctx context.Context, e *Env, _ string) (bool, string, error) {
				ev, err := preflightDNS(ctx, e, us)
				return err == nil, ev, err
			},
		})
	}
	for i, u := range us {
		list = append(list, undoStep(u, i))
	}
	if manualOM {
		list = append(list, &Step{
			ID: "recover-opsmanager-version", Title: "Recover the earlier Ops Manager version (no downgrade path)",
			Why:    "Ops Manager has no downgrade path; the documented recovery from a failed upgrade is a restore of the App DB from its pre-upgrade backup and a reinstall of the earlier version",
			DocRef: "https://www.mongodb.com/docs/ops-manager/v6.0/tutorial/upgrade-ops-manager/ (Upgrade path); https://mongodb.com/docs/ops-manager/v5.0/reference/troubleshooting/upgrades (Failed Rolling Upgrade)",
			After:  []string{},
			Manual: &Manual{Instructions: []string{
				"First try the documented fix of a failed rolling upgrade: restart the instances and check that every host is upgraded; while two versions run Ops Manager stays in Upgrade Mode, so stop, upgrade and restart the host that runs the old version.",
				"If the upgrade cannot be finished: stop Ops Manager (mongodb-mms) on every server.",
				"Restore the Application Database from the backup taken before the upgrade.",
				"Reinstall the earlier Ops Manager version (the same package as before) on every server; keep conf-mms.properties and gen.key as they are now (hawiz restored the files it changed).",
				"Start Ops Manager on each server, one at a time, and log in; contact MongoDB support, as the documents ask.",
			}},
		})
	}
	return list
}

// leftText is the evidence of a file left as it is, holding cur.
func leftText(c *Change, cur string) string {
	return fmt.Sprintf("LEFT AS IT IS: %s was changed after hawiz wrote it (sha256 %s; hawiz wrote %s, before the run %s): restore it by hand if it should be", c.Path, cur, c.After, c.Before)
}

// leftKey is the fact that records a file left as it was found (the hash
// found; "" once restored).
func leftKey(c *Change) string { return "rollback.left." + strconv.Itoa(c.Seq) }

// preflightHost checks, read-only, every file change on host: no symbolic
// link where hawiz wrote the file or kept its backup, and a backup that
// still holds what the write replaced wherever the file is to be restored.
func preflightHost(ctx context.Context, e *Env, host string, us []undo) (string, error) {
	h, err := e.Host(host)
	if err != nil {
		return "", err
	}
	if h.OS() == remote.Windows {
		return "", fmt.Errorf("host %s: rollback runs on Linux hosts only; undo by hand, as the plan lists", host)
	}
	var lines []string
	var errs []error
	for _, u := range us {
		c := u.c
		if c.Host != host || (u.kind != undoRestore && u.kind != undoRemove) {
			continue
		}
		cur, err := fileState(ctx, h, c.Path, c.Sudo)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case cur == c.Before:
			lines = append(lines, fmt.Sprintf("%s: already as before the run (%s)", c.Path, short(cur)))
		case cur != c.After:
			lines = append(lines, fmt.Sprintf("%s: changed since hawiz wrote it (sha256 %s, hawiz wrote %s): will be left as it is", c.Path, short(cur), short(c.After)))
		case u.kind == undoRemove:
			lines = append(lines, fmt.Sprintf("%s: holds what hawiz wrote: will be removed", c.Path))
		default:
			b, err := fileState(ctx, h, c.Backup, c.Sudo)
			if err == nil && b != c.Before {
				err = fmt.Errorf("host %s: backup %s of %s holds sha256 %s, not the content the run replaced (%s): refusing to restore from it; restore %s by hand or put the backup back", host, c.Backup, c.Path, b, c.Before, c.Path)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			lines = append(lines, fmt.Sprintf("%s: holds what hawiz wrote: will be restored from %s", c.Path, c.Backup))
		}
	}
	return strings.Join(lines, "\n"), errors.Join(errs...)
}

// fileState is path's content hash, "absent" when it does not exist; a
// symbolic link, or anything but a regular file, is refused.
func fileState(ctx context.Context, h *remote.Host, path string, sudo bool) (string, error) {
	link, err := h.IsSymlink(ctx, path, sudo)
	if err != nil {
		return "", err
	}
	if link {
		return "", fmt.Errorf("host %s: %s is a symbolic link where hawiz wrote a regular file: refusing to follow it; nothing was written", h.Name(), path)
	}
	fi, err := h.Stat(ctx, path, sudo)
	if err != nil {
		return "", err
	}
	if !fi.Exists {
		return "absent", nil
	}
	if !fi.Mode.IsRegular() {
		return "", fmt.Errorf("host %s: %s is not a regular file: refusing to touch it", h.Name(), path)
	}
	return fi.SHA256, nil
}

// targetKey is the fact that records, for a file or a service on a host,
// the position (in the rollback's undo list) of the last undo that acted
// on it (wrote or removed the file; started, stopped or restarted the
// service), saved before it acts. An undo of the same target earlier in
// the list is superseded once a later one acted: its check says done
// without comparing with the state the later undo left (else a second
// rollback would stop a service the rollback stopped and started again,
// and start it again; or take a file the rollback restored through two
// writes for one changed since and name it "left as it is").
func targetKey(c *Change) string {
	if c.Kind == ChangeDNS {
		return "rollback.dns." + c.DNS.Name
	}
	if c.Kind == ChangeService {
		return "rollback.service." + c.Host + "." + c.Service
	}
	return "rollback.file." + c.Host + "." + c.Path
}

// superseded reports whether an undo after pos in the list already acted
// on c's file or service (targetKey).
func superseded(e *Env, c *Change, pos int) (bool, string) {
	v, ok := e.Fact(targetKey(c))
	if !ok {
		return false, ""
	}
	last, err := strconv.Atoi(v)
	if err != nil || last <= pos {
		return false, ""
	}
	what := c.Path
	switch c.Kind {
	case ChangeService:
		what = c.Service
	case ChangeDNS:
		what = "DNS " + c.DNS.Name
	}
	return true, fmt.Sprintf("%s on %s: a later undo of the rollback already acted on it (this one is superseded)", what, c.Host)
}

// fileNow is what c's file holds on host now (its SHA-256, or "absent"),
// and whether that is what an earlier rollback found the operator had left
// there.
func fileNow(ctx context.Context, e *Env, host string, c *Change) (cur string, left bool, err error) {
	h, err := e.Host(host)
	if err != nil {
		return "", false, err
	}
	if cur, err = fileState(ctx, h, c.Path, c.Sudo); err != nil {
		return "", false, err
	}
	l, _ := e.Fact(leftKey(c))
	return cur, l != "" && cur == l, nil
}

func undoStep(u undo, pos int) *Step {
	c := u.c
	s := &Step{ID: u.id(), Title: u.what(), Hosts: []string{c.Host}, Mode: Once,
		Why:     fmt.Sprintf("undoes change %d, made by step %s", c.Seq, c.Step),
		Actions: []string{u.what()}, After: []string{}}
	switch u.kind {
	case undoDNS:
		dnsUndoStep(s, u, pos)
	case undoRestore, undoRemove:
		s.Check = func(ctx context.Context, e *Env, host string) (bool, string, error) {
			if done, why := superseded(e, c, pos); done {
				return true, why, nil
			}
			cur, left, err := fileNow(ctx, e, host, c)
			if err != nil {
				return false, "", err
			}
			if left {
				return true, leftText(c, cur) + " (an earlier rollback found it so)", nil // still as the operator left it: nothing to do, named again
			}
			return cur == c.Before, fmt.Sprintf("%s sha256 %s (before the run %s, hawiz wrote %s)", c.Path, short(cur), short(c.Before), short(c.After)), nil
		}
		s.Apply = func(ctx context.Context, e *Env, host string) error { return undoFile(ctx, e, host, u, pos) }
		s.Verify = func(ctx context.Context, e *Env, host string) (string, error) {
			if done, why := superseded(e, c, pos); done {
				return why, nil
			}
			cur, left, err := fileNow(ctx, e, host, c)
			if err != nil {
				return "", err
			}
			if left {
				return leftText(c, cur), nil
			}
			if cur != c.Before {
				return "", fmt.Errorf("host %s: %s holds sha256 %s, not %s as before the run", host, c.Path, cur, c.Before)
			}
			if c.Before == "absent" {
				return fmt.Sprintf("%s absent, as before the run", c.Path), nil
			}
			return fmt.Sprintf("%s holds sha256 %s again, as before the run", c.Path, c.Before), nil
		}
	case undoStart, undoStop, undoRestart:
		want := u.kind != undoStop
		act := map[string]remote.ServiceAction{undoStart: remote.ServiceStart, undoStop: remote.ServiceStop, undoRestart: remote.ServiceRestart}[u.kind]
		state := map[bool]string{true: "active", false: "not active"}
		if u.kind != undoRestart { // a restart is done once (the engine records it); start and stop are checked
			s.Check = func(ctx context.Context, e *Env, host string) (bool, string, error) {
				if done, why := superseded(e, c, pos); done {
					return true, why, nil
				}
				h, err := e.Host(host)
				if err != nil {
					return false, "", err
				}
				on, err := h.Service(ctx, *c.Manager, c.Service, remote.ServiceIsActive, c.Sudo)
				return err == nil && on == want, fmt.Sprintf("%s is %s", c.Service, state[on]), err
			}
		}
		s.Apply = func(ctx context.Context, e *Env, host string) error {
			h, err := e.Host(host)
			if err != nil {
				return err
			}
			e.SetFact(targetKey(c), strconv.Itoa(pos)) // saved before the action: an earlier undo of it is superseded from here on
			_, err = h.Service(ctx, *c.Manager, c.Service, act, c.Sudo)
			return err
		}
		s.Verify = func(ctx context.Context, e *Env, host string) (string, error) {
			if done, why := superseded(e, c, pos); done {
				return why, nil
			}
			h, err := e.Host(host)
			if err != nil {
				return "", err
			}
			on, err := h.Service(ctx, *c.Manager, c.Service, remote.ServiceIsActive, c.Sudo)
			if err != nil {
				return "", err
			}
			if on != want {
				return "", fmt.Errorf("host %s: %s is %s after %s; before the run it was %s", host, c.Service, state[on], act, state[want])
			}
			return fmt.Sprintf("%s is %s, as before the run", c.Service, state[on]), nil
		}
	default:
		s.Manual = &Manual{Instructions: []string{u.what()}}
		if c.Kind == ChangeFile && (isSHA256(c.Before) || c.Before == "absent") {
			s.Manual.Values = []KV{{Label: "Path", Value: c.Path}, {Label: "SHA-256 before the run", Value: c.Before}}
			s.Verify = func(ctx context.Context, e *Env, host string) (string, error) {
				h, err := e.Host(host)
				if err != nil {
					return "", err
				}
				cur, err := fileState(ctx, h, c.Path, c.Sudo)
				if err == nil && cur != c.Before {
					err = fmt.Errorf("host %s: %s holds sha256 %s, not %s as before the run", host, c.Path, cur, c.Before)
				}
				return c.Path + " sha256 " + cur, err
			}
		}
	}
	return s
}

// undoFile restores or removes c's file on host while it holds what hawiz
// wrote; a file changed since is left as it is (recorded as a fact, named
// in a warning and in the evidence). pos is u's place in the undo list
// (targetKey). The restore is WriteFile's atomic
// replace with compare-and-swap on the hash hawiz wrote, with the backup's
// mode and owner; the content is never logged.
func undoFile(ctx context.Context, e *Env, host string, u undo, pos int) error {
	c := u.c
	h, err := e.Host(host)
	if err != nil {
		return err
	}
	cur, err := fileState(ctx, h, c.Path, c.Sudo)
	if err != nil {
		return err
	}
	if cur == c.Before {
		return nil
	}
	if cur != c.After {
		e.SetFact(leftKey(c), cur)
		e.Warn(host, "%s was changed after hawiz wrote it (sha256 %s, hawiz wrote %s): left as it is", c.Path, short(cur), short(c.After))
		return nil
	}
	e.SetFact(leftKey(c), "")
	e.SetFact(targetKey(c), strconv.Itoa(pos)) // saved before the write: an earlier undo of the file is superseded from here on
	if u.kind == undoRemove {
		_, err := h.RemoveFile(ctx, c.Path, c.After, c.Sudo)
		return err
	}
	if link, err := h.IsSymlink(ctx, c.Backup, c.Sudo); err != nil || link {
		if err == nil {
			err = fmt.Errorf("host %s: backup %s is a symbolic link: refusing to restore %s from it", host, c.Backup, c.Path)
		}
		return err
	}
	data, bfi, err := h.ReadFile(ctx, c.Backup, c.Sudo)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != c.Before {
		return fmt.Errorf("host %s: backup %s no longer holds the content the run replaced (sha256 %s): %s left as it is", host, c.Backup, c.Before, c.Path)
	}
	o := remote.WriteOptions{IfSHA256: c.After, Mode: bfi.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), Sudo: c.Sudo, Secret: true}
	if bfi.Owner != "" && bfi.Owner != "UNKNOWN" {
		o.Owner = bfi.Owner
	}
	if bfi.Group != "" && bfi.Group != "UNKNOWN" {
		o.Group = bfi.Group
	}
	_, err = h.WriteFile(ctx, c.Path, data, o)
	return err
}
