package micetro

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Step copy-preferences-MEMBER of micetro-central-ha: "Copy the
// preferences.cfg file from the first server to NAME, and change the
// ClusterMemberName value to NAME".
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux or Windows, step 8).

// copyPreferences writes failover member i's preferences.cfg. Its Check
// hands both files and the service's state to its Apply.
type copyPreferences struct {
	a    *HAAnswers
	i    int
	m    *Member
	seen handoff[*checkedCopy]
}

func copyPreferencesStep(a *HAAnswers, i int, id string) *steps.Step {
	m, p := &a.Members[i], &a.Members[0]
	s := &copyPreferences{a: a, i: i, m: m}
	return &steps.Step{
		ID:     id,
		Title:  fmt.Sprintf("Copy the preferences.cfg file from the first server to %s, and change the ClusterMemberName value to %q", m.Name, m.Name),
		Why:    "every member uses the same database settings; only the member name differs",
		DocRef: haRef(a, m, hsCopyPreferences).String(),
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{fmt.Sprintf("write %s on %s: the primary %s's file with <ClusterMemberName value=%q/> (backup kept); the files then differ in that line only",
			a.prefsPath(m), m.Host.Name, p.Host.Name, m.Name)},
		Check:  s.check,
		Apply:  s.apply,
		Verify: s.verify,
	}
}

// check reads the files, and (for Apply, which must not write while
// Central runs) the service's state, at once.
func (s *copyPreferences) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	var (
		cs         copyState
		down       bool
		downEv     string
		errR, errA error
	)
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	par(func() { cs, errR = readCopyState(ctx, e, s.a, s.i) },
		func() { down, downEv, errA = stopped(ctx, &s.a.Common, h, s.m) })
	if errR != nil {
		return false, "", errR
	}
	if errA == nil {
		s.seen.put(hn, &checkedCopy{cs, down, downEv})
	}
	return copyDoneIn(s.a, s.i, cs)
}

// observe returns both files and whether Central is stopped (stopped's
// verdict and evidence) as the Check saw them moments ago, else as they are
// now.
func (s *copyPreferences) observe(ctx context.Context, e *steps.Env, h *remote.Host, hn string) (cs copyState, down bool, downEv string, errA, errR error) {
	if seen, ok := s.seen.take(hn); ok {
		return seen.copyState, seen.stopped, seen.stoppedEv, nil, nil
	}
	par(func() { down, downEv, errA = stopped(ctx, &s.a.Common, h, s.m) },
		func() { cs, errR = readCopyState(ctx, e, s.a, s.i) })
	return cs, down, downEv, errA, errR
}

// apply writes the primary's file with the member's name, as a
// compare-and-swap on the member's file as observed (a change since is
// refused, never overwritten); Verify compares with the primary's file
// afresh.
func (s *copyPreferences) apply(ctx context.Context, e *steps.Env, hn string) error {
	h, err := e.Host(hn)
	if err != nil {
		return err
	}
	cs, down, downEv, errA, errR := s.observe(ctx, e, h, hn)
	if errA != nil {
		return errA
	}
	if !down {
		return fmt.Errorf("%w: it must be stopped before its preferences.cfg is replaced (step 7)", notStoppedErr(&s.a.Common, s.m, downEv))
	}
	if errR != nil {
		return errR
	}
	want, _, err := wantedCopy(s.a, s.i, cs)
	if err != nil {
		return err
	}
	cas := cs.info.SHA256
	if !cs.info.Exists {
		cas = "absent"
	}
	return writePrefs(ctx, e, &s.a.Common, h, s.m, want, cas)
}

// verify: the member's file differs from the primary's in the
// ClusterMemberName line only, which holds the member's name.
func (s *copyPreferences) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	a, m := s.a, s.m
	cs, err := readCopyState(ctx, e, a, s.i)
	if err != nil {
		return "", err
	}
	_, primary, err := wantedCopy(a, s.i, cs)
	if err != nil {
		return "", err
	}
	if !cs.info.Exists {
		return "", fmt.Errorf("read %s on %s: %w", a.prefsPath(m), hn, fs.ErrNotExist)
	}
	d := DiffLines(primary, cs.member)
	if len(d) != 1 {
		return "", fmt.Errorf("%s on %s differs from the primary's in %d lines, want exactly 1 (ClusterMemberName): %v", a.prefsPath(m), hn, len(d), d)
	}
	got := ParsePrefs([]byte(d[0].B+"\n"), "\n")
	if v, ok := got.Get(ElemClusterMemberName); !ok || v != m.Name {
		return "", fmt.Errorf("%s on %s: line %d differs from the primary's but is not ClusterMemberName %q: %q", a.prefsPath(m), hn, d[0].Line, m.Name, d[0].B)
	}
	return fmt.Sprintf("differs from the primary's in line %d only: %s → %s; sha256 %s", d[0].Line, d[0].A, d[0].B, short(cs.info.SHA256)), nil
}

// copyState is the primary's and member i's preferences.cfg as read.
type copyState struct {
	primary *Prefs          // nil: the primary has none
	member  []byte          // member i's content
	info    remote.FileInfo // member i's file (Exists false: none)
}

// checkedCopy is what the copy step's Check saw: the files, and whether
// Central was stopped on the member (stopped's verdict and evidence).
type checkedCopy struct {
	copyState
	stopped   bool
	stoppedEv string
}

// readCopyState reads the primary's and member i's preferences.cfg at once.
func readCopyState(ctx context.Context, e *steps.Env, a *HAAnswers, i int) (copyState, error) {
	p, m := &a.Members[0], &a.Members[i]
	var cs copyState
	ph, err := e.Host(p.Host.Name)
	if err != nil {
		return cs, err
	}
	mh, err := e.Host(m.Host.Name)
	if err != nil {
		return cs, err
	}
	var errP, errM error
	par(func() { cs.primary, _, errP = readPrefs(ctx, &a.Common, ph, p) },
		func() {
			cs.member, cs.info, errM = mh.ReadFile(ctx, a.prefsPath(m), a.sudo(m))
			if isNotExist(errM) {
				cs.member, cs.info, errM = nil, remote.FileInfo{}, nil
			}
		})
	if errP != nil {
		return cs, errP
	}
	return cs, errM
}

// wantedCopy is the primary's preferences.cfg (as read in cs) with
// ClusterMemberName set to member i's name, and the primary's file.
func wantedCopy(a *HAAnswers, i int, cs copyState) (want, primary []byte, err error) {
	p := &a.Members[0]
	pr := cs.primary
	if pr == nil {
		return nil, nil, fmt.Errorf("%s does not exist on the primary %s", a.prefsPath(p), p.Host.Name)
	}
	if v, _ := pr.Get(ElemClusterMemberName); v != p.Name {
		return nil, nil, fmt.Errorf("the primary's %s names ClusterMemberName %q, not %q: run step name-primary first", a.prefsPath(p), v, p.Name)
	}
	primary = pr.Bytes()
	m := &a.Members[i]
	if p.windows() != m.windows() {
		// Mixed platforms: carry the lines over with the target's line ending.
		primary = bytes.ReplaceAll(primary, []byte("\r\n"), []byte("\n"))
		if m.windows() {
			primary = bytes.ReplaceAll(primary, []byte("\n"), []byte("\r\n"))
		}
	}
	want, _, err = ParsePrefs(primary, a.eol(m)).Set(ElemClusterMemberName, m.Name)
	return want, pr.Bytes(), err
}

// copyDone: member i's file is the primary's with only ClusterMemberName changed.
func copyDone(ctx context.Context, e *steps.Env, a *HAAnswers, i int) (bool, string, error) {
	cs, err := readCopyState(ctx, e, a, i)
	if err != nil {
		return false, "", err
	}
	return copyDoneIn(a, i, cs)
}

func copyDoneIn(a *HAAnswers, i int, cs copyState) (bool, string, error) {
	m := &a.Members[i]
	want, _, err := wantedCopy(a, i, cs)
	if err != nil {
		return false, "", err
	}
	if cs.info.Exists && bytes.Equal(cs.member, want) {
		return true, fmt.Sprintf("%s on %s is the primary's with ClusterMemberName %q (sha256 %s)", a.prefsPath(m), m.Host.Name, m.Name, short(cs.info.SHA256)), nil
	}
	return false, fmt.Sprintf("%s on %s is not the primary's copy yet", a.prefsPath(m), m.Host.Name), nil
}
