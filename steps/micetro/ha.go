package micetro

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// Doc references (procedures.md §0).
const (
	DocURL    = "https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html"
	docLinux  = "C1 central_ha.rst, Linux"
	docWin    = "C1 central_ha.rst, Windows"
	docTweaks = "C3 ha_tweaks_central.rst"
)

// CentralHA is the procedure micetro-central-ha.
func CentralHA() *steps.Procedure {
	return &steps.Procedure{
		Name:        "micetro-central-ha",
		Title:       "Micetro Central high availability",
		Description: "Configure failover instances of Men&Mice Central with a round-robin DNS name",
		DocURL:      DocURL,
		Version:     1,
		NewAnswers:  func() steps.Answers { return &HAAnswers{} },
		Template:    haTemplate,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return haSteps(a.(*HAAnswers)) },
	}
}

// docStep returns "C1 central_ha.rst, Linux step N" (Windows when the member is).
func docStep(m *Member, n string) string {
	if m.windows() {
		return docWin + " step " + n
	}
	return docLinux + " step " + n
}

// slug turns a member name into an ID part: "Central 2" → "central-2".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func haSteps(a *HAAnswers) ([]*steps.Step, error) {
	p := &a.Members[0]
	ph := p.Host.Name
	mc := newMemo()
	var list []*steps.Step
	list = append(list, preflightStep(a))
	list = append(list, namePrimaryStep(a, mc))
	if a.HATweaks != nil {
		list = append(list, tweaksStep(a))
	}
	list = append(list,
		restartStep(a, mc, "restart-primary", "Restart the primary Central application", docStep(p, "2"), ""),
		registerStep(a, 0, "register-primary", docStep(p, "3")),
		restartStep(a, mc, "restart-primary-after-register", "Restart Central", docStep(p, "4"), factRegisteredAt(p)),
		stateStep(a, 0, "verify-primary-active", "Verify that the current server is running with state \"Active\"", docStep(p, "5")),
	)
	seen := map[string]bool{}
	for i := 1; i < len(a.Members); i++ {
		m := &a.Members[i]
		s := slug(m.Name)
		if s == "" || seen[s] {
			s = fmt.Sprintf("member-%d", i+1)
		}
		seen[s] = true
		list = append(list,
			registerStep(a, i, "register-"+s, docStep(m, "6")),
			stopStep(a, mc, i, "stop-"+s),
			copyStep(a, mc, i, "copy-preferences-"+s),
			startStep(a, mc, i, "start-"+s),
			stateStep(a, i, "verify-"+s+"-standby", "Verify that you now have "+fmt.Sprint(i+1)+" servers, one primary and "+secondaries(i)+" in High Availability", docStep(m, "10")),
		)
	}
	_ = ph
	list = append(list, dnsStep(a), loginStep(a))
	return list, steps.Lint(list, steps.HostNames(a))
}

func secondaries(n int) string {
	if n == 1 {
		return "one secondary"
	}
	return fmt.Sprintf("%d secondaries", n)
}

func factRegisteredAt(m *Member) string { return "registered-at." + m.Host.Name }
func factRestarted(m *Member) string    { return "restarted-prefs-sha256." + m.Host.Name }
func factConfirmed(id string) string    { return "confirmed." + id }

// ---- 1. preflight -------------------------------------------------------

type memberFacts struct {
	prefs   *Prefs
	info    remote.FileInfo
	backend Backend
	clock   time.Duration // host clock minus local midpoint
	version string
	err     error
}

func preflightStep(a *HAAnswers) *steps.Step {
	run := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		ev, err := preflight(ctx, e, a)
		if err != nil {
			return false, "", err
		}
		return true, ev, nil
	}
	return &steps.Step{
		ID:     "preflight",
		Title:  "Preflight: every member reachable, sudo, preferences.cfg on an MSSQL/PostgreSQL database, clocks and versions agree",
		Why:    "High Availability mode is available only with the MSSQL or PostgreSQL database backend; failover compares heartbeat times, so clocks must agree",
		DocRef: "C1 note; C4 central_database.rst; C3 (heartbeats use local clocks)",
		Mode:   steps.Once,
		Actions: append([]string{
			"check sudo on every member",
			"read preferences.cfg on every member: a database of MSSQL or PostgreSQL, the same database lines everywhere, no typographic quotes",
			"read every member's clock (within " + a.MaxClockSkew.String() + ") and Central version (the same everywhere)",
		}, a.pathNotes()...),
		Check: run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

func preflight(ctx context.Context, e *steps.Env, a *HAAnswers) (string, error) {
	if f := e.Fleet(); f != nil && a.SSH.Sudo != steps.SudoNone && !e.SudoChecked() { // the engine checks at connect
		if err := f.CheckSudo(ctx); err != nil {
			return "", err
		}
	}
	facts := make([]memberFacts, len(a.Members))
	var wg sync.WaitGroup
	for i := range a.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			facts[i] = gatherMember(ctx, e, &a.Common, &a.Members[i])
		}()
	}
	wg.Wait()
	var problems []string
	for i, f := range facts {
		if f.err != nil {
			problems = append(problems, f.err.Error())
			continue
		}
		m := &a.Members[i]
		for _, p := range f.prefs.Problems() {
			problems = append(problems, fmt.Sprintf("%s: %s %s", m.Host.Name, a.prefsPath(m), p))
		}
		if i == 0 {
			continue
		}
		if f.backend == "" {
			e.Warn(m.Host.Name, "%s names no MSSQL/PostgreSQL database yet; it will be replaced by the primary's copy (C1 step 8)", a.prefsPath(m))
			continue
		}
		pd, md := facts[0].prefs.DatabaseLines(), f.prefs.DatabaseLines()
		for _, k := range []string{"database", "databaseserver", "databaseusername"} {
			if pd[k] != md[k] && !(k == "database" && strings.EqualFold(pd[k], md[k])) {
				problems = append(problems, fmt.Sprintf("%s: %s is %q but the primary %s has %q: every member must use the same database", m.Host.Name, k, md[k], a.Members[0].Host.Name, pd[k]))
			}
		}
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "\n"))
	}
	// Clocks and versions.
	lo, hi := facts[0], facts[0]
	var loName, hiName = a.Members[0].Host.Name, a.Members[0].Host.Name
	versions := map[string][]string{}
	for i, f := range facts {
		n := a.Members[i].Host.Name
		if f.clock < lo.clock {
			lo, loName = f, n
		}
		if f.clock > hi.clock {
			hi, hiName = f, n
		}
		versions[f.version] = append(versions[f.version], n)
	}
	skew := (hi.clock - lo.clock).Round(time.Millisecond)
	if skew > a.MaxClockSkew {
		problems = append(problems, fmt.Sprintf("clocks differ by %v (%s ahead of %s), more than max_clock_skew %v: Central's failover compares heartbeat times written with each member's clock (C3); synchronise the clocks (NTP) first", skew, hiName, loName, a.MaxClockSkew))
	}
	if len(versions) > 1 {
		var vs []string
		for v, ns := range versions {
			vs = append(vs, fmt.Sprintf("%s on %s", v, strings.Join(ns, ", ")))
		}
		sort.Strings(vs)
		problems = append(problems, "Central versions differ ("+strings.Join(vs, "; ")+"): upgrade every member to the same version first")
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "\n"))
	}
	if _, ok := e.Fact(factCompleteBefore); !ok {
		done, ev, err := clusterComplete(ctx, e, a, facts)
		if err != nil {
			return "", err
		}
		if done {
			e.SetFact(factCompleteBefore, "yes: "+ev)
		} else {
			e.SetFact(factCompleteBefore, "no: "+ev)
		}
	}
	return fmt.Sprintf("%d members; database %s %s; Central %s everywhere; clock skew ≤ %v",
		len(a.Members), facts[0].backend, facts[0].prefs.DatabaseLines()["databaseserver"], facts[0].version, skew), nil
}

// gatherMember reads m's preferences.cfg, clock and Central version: three
// read-only probes at once.
func gatherMember(ctx context.Context, e *steps.Env, c *Common, m *Member) memberFacts {
	var f memberFacts
	h, err := host(e, m.Host.Name)
	if err != nil {
		f.err = err
		return f
	}
	var (
		p                *Prefs
		now              time.Time
		t0, t1           time.Time
		errP, errC, errV error
	)
	par(func() { p, f.info, errP = readPrefs(ctx, c, h, m) },
		func() { t0 = time.Now(); now, _, errC = remoteNow(ctx, h, m); t1 = time.Now() },
		func() { f.version, errV = centralVersion(ctx, c, h, m) })
	if errP != nil {
		f.err = errP
		return f
	}
	if p == nil {
		f.err = fmt.Errorf("%s: %s does not exist: install Micetro Central there first (B.7), or set preferences_path", m.Host.Name, c.prefsPath(m))
		return f
	}
	f.prefs = p
	f.backend, err = p.Backend()
	if err != nil && m == &c.Members[0] {
		f.err = fmt.Errorf("%s: %s %v", m.Host.Name, c.prefsPath(m), err)
		return f
	}
	if err != nil {
		// A failover that names another backend (SQLite) is a fresh install;
		// one that names nothing too: the primary's copy replaces the file.
		f.backend = ""
	}
	if errC != nil {
		f.err = errC
		return f
	}
	f.clock = now.Sub(t0.Add(t1.Sub(t0) / 2))
	f.err = errV
	return f
}

// ---- 2. name the primary -----------------------------------------------

func namePrimaryStep(a *HAAnswers, mc *memo) *steps.Step {
	p := &a.Members[0]
	path := a.prefsPath(p)
	line := fmt.Sprintf(`<ClusterMemberName value="%s"/>`, p.Name)
	return &steps.Step{
		ID:      "name-primary",
		Title:   "Edit the preferences file on the primary, adding " + line + " to the end of the file",
		Why:     "the name is unique and identifies this Central instance in the high availability cluster",
		DocRef:  docStep(p, "1"),
		Hosts:   []string{p.Host.Name},
		Mode:    steps.Once,
		Actions: []string{fmt.Sprintf("append %s to %s on %s (backup kept, every other byte unchanged)", line, path, p.Host.Name)},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			pr, info, err := readPrefs(ctx, &a.Common, h, p)
			if err != nil || pr == nil {
				return false, "", errors.Join(err, errNoPrefs(a.prefsPath(p), hn, pr == nil))
			}
			mc.put("name-primary", hn, &prefsRead{pr, info})
			v, ok := pr.Get(ElemClusterMemberName)
			if ok && v == p.Name && len(pr.Find(ElemClusterMemberName)) == 1 {
				return true, fmt.Sprintf("%s already has ClusterMemberName %q", path, v), nil
			}
			if ok {
				return false, fmt.Sprintf("%s has ClusterMemberName %q, not %q", path, v, p.Name), nil
			}
			return false, fmt.Sprintf("%s has no ClusterMemberName", path), nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			read, _ := mc.take("name-primary", hn).(*prefsRead)
			return setPrefs(ctx, e, &a.Common, p, map[string]string{ElemClusterMemberName: p.Name}, true, read)
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			return verifyPrefs(ctx, e, &a.Common, p, map[string]string{ElemClusterMemberName: p.Name})
		},
	}
}

func errNoPrefs(path, host string, missing bool) error {
	if !missing {
		return nil
	}
	return fmt.Errorf("%s does not exist on %s", path, host)
}

// setPrefs sets each element=value of want in m's preferences.cfg, in one
// write: compare-and-swap on the content read, a backup kept. read, when not
// nil, is the content the step's Check just read (not read again): a file
// changed since is refused (remote.ErrChanged), never overwritten.
// askOnDifferent: an element holding another value stops and asks the
// operator (ClusterMemberName).
func setPrefs(ctx context.Context, e *steps.Env, c *Common, m *Member, want map[string]string, askOnDifferent bool, read *prefsRead) error {
	h, err := host(e, m.Host.Name)
	if err != nil {
		return err
	}
	path := c.prefsPath(m)
	if read == nil {
		pr, info, err := readPrefs(ctx, c, h, m)
		if err != nil {
			return err
		}
		read = &prefsRead{pr, info}
	}
	pr, info := read.prefs, read.info
	if pr == nil {
		return fmt.Errorf("%s does not exist on %s", path, m.Host.Name)
	}
	if probs := pr.Problems(); len(probs) > 0 {
		return fmt.Errorf("%s on %s: %v: fix it by hand first (Central would not start)", path, m.Host.Name, probs)
	}
	out, changed := pr.Bytes(), false
	for _, elem := range slices.Sorted(maps.Keys(want)) {
		value := want[elem]
		if old, ok := pr.Get(elem); ok && old != value && askOnDifferent {
			q := fmt.Sprintf("%s on %s already has <%s value=%q/>, not %q. Replace it? (a member renamed in the file must be renamed in the HA list too)", path, m.Host.Name, elem, old, value)
			yes, err := e.Operator().Confirm(ctx, q, false)
			if err != nil {
				return err
			}
			if !yes {
				return &steps.StoppedError{Reason: fmt.Sprintf("%s on %s names the member %q; the answers say %q", path, m.Host.Name, old, value)}
			}
		}
		o, ch, err := pr.Set(elem, value)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", path, m.Host.Name, err)
		}
		if ch {
			out, changed = o, true
			pr = ParsePrefs(o, c.eol(m))
		}
	}
	if !changed {
		return nil
	}
	markChanged(e, m.Host.Name)
	res, err := h.WriteFile(ctx, path, out, remote.WriteOptions{IfSHA256: info.SHA256, Backup: true, Sudo: c.sudo(m)})
	if err != nil {
		return fmt.Errorf("writing %s on %s: %w", path, m.Host.Name, err)
	}
	if res.Backup != "" {
		e.SetFact("backup."+m.Host.Name+"."+path, res.Backup)
		e.Output(m.Host.Name, fmt.Sprintf("%s written (backup %s)", path, res.Backup))
	}
	return nil
}

// verifyPrefs checks that m's preferences.cfg holds want (once each), has no
// typographic quotes and still names the database.
func verifyPrefs(ctx context.Context, e *steps.Env, c *Common, m *Member, want map[string]string) (string, error) {
	h, err := host(e, m.Host.Name)
	if err != nil {
		return "", err
	}
	pr, info, err := readPrefs(ctx, c, h, m)
	if err != nil {
		return "", err
	}
	path := c.prefsPath(m)
	if pr == nil {
		return "", fmt.Errorf("%s does not exist on %s", path, m.Host.Name)
	}
	var ev []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		got := pr.Find(k)
		if len(got) != 1 || got[0].Value != want[k] {
			return "", fmt.Errorf("%s on %s: want exactly one <%s value=%q/>, found %d", path, m.Host.Name, k, want[k], len(got))
		}
		ev = append(ev, fmt.Sprintf("%s=%q (line %d)", k, want[k], got[0].No))
	}
	if probs := pr.Problems(); len(probs) > 0 {
		return "", fmt.Errorf("%s on %s: %v", path, m.Host.Name, probs)
	}
	if _, err := pr.Backend(); err != nil {
		return "", fmt.Errorf("%s on %s %v", path, m.Host.Name, err)
	}
	return fmt.Sprintf("%s: %s; sha256 %s", path, strings.Join(ev, ", "), short(info.SHA256)), nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// ---- HA tweaks (C3) ----------------------------------------------------

func (t *HATweaks) values() map[string]string {
	out := map[string]string{}
	if t.HeartbeatInterval != 0 {
		out[ElemHeartbeatInterval] = fmt.Sprint(t.HeartbeatInterval)
	}
	if t.HeartbeatMaxAllowedDowntime != 0 {
		out[ElemHeartbeatMaxAllowedDowntime] = fmt.Sprint(t.HeartbeatMaxAllowedDowntime)
	}
	return out
}

func tweaksStep(a *HAAnswers) *steps.Step {
	p := &a.Members[0]
	want := a.HATweaks.values()
	var acts []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		acts = append(acts, fmt.Sprintf(`set <%s value="%s" /> in %s on %s (the failovers get it with the copy of this file)`, k, want[k], a.prefsPath(p), p.Host.Name))
	}
	return &steps.Step{
		ID:      "set-ha-tweaks",
		Title:   "Set HeartbeatInterval / HeartbeatMaxAllowedDowntime in preferences.cfg",
		Why:     "fine-tuning the Central High Availability cluster; written with ASCII quotes (the docs print “10”, which breaks the file)",
		DocRef:  docTweaks,
		Hosts:   []string{p.Host.Name},
		Mode:    steps.Once,
		Actions: acts,
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			ev, err := verifyPrefs(ctx, e, &a.Common, p, want)
			return err == nil, ev, nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			return setPrefs(ctx, e, &a.Common, p, want, false, nil)
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			return verifyPrefs(ctx, e, &a.Common, p, want)
		},
	}
}

// ---- restarts ------------------------------------------------------------

func restartCommand(c *Common, m *Member) string {
	switch {
	case len(c.ServiceCommand) > 0:
		return strings.Join(c.ServiceCommand, " ")
	case m.windows():
		return fmt.Sprintf("%s -stop; %s -start", c.WindowsExe, c.WindowsExe)
	default:
		return "systemctl restart " + c.serviceName(m)
	}
}

// restartStep restarts Central on the primary. registeredFact, when set,
// names the fact holding the time the member was registered: the restart
// must come after it.
func restartStep(a *HAAnswers, mc *memo, id, title, doc, registeredFact string) *steps.Step {
	p := &a.Members[0]
	factKey := factRestarted(p) + "." + id
	check := func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
		h, err := host(e, hn)
		if err != nil {
			return false, "", err
		}
		var notBefore string
		if registeredFact != "" {
			v, ok := e.Fact(registeredFact)
			if !ok {
				// Registered in an earlier run (inferred): any restart
				// since the last edit is after it.
				if done, _, err := inferredDone(ctx, e, a); err != nil || !done {
					return false, "the member's registration time is unknown", err
				}
			}
			notBefore = v
		}
		ok, ev, seen, err := loadedCurrentPrefs(ctx, e, &a.Common, h, p, factKey, notBefore, false)
		mc.put(id, hn, seen)
		return ok, ev, err
	}
	notBefore := func(e *steps.Env) string {
		if registeredFact == "" {
			return ""
		}
		v, _ := e.Fact(registeredFact)
		return v
	}
	return &steps.Step{
		ID:      id,
		Title:   title,
		Why:     "Central reads preferences.cfg (and its HA membership) only when it starts",
		DocRef:  doc,
		Hosts:   []string{p.Host.Name},
		Mode:    steps.Once,
		Actions: []string{restartCommand(&a.Common, p) + " on " + p.Host.Name + fmt.Sprintf("; then the service is active and port %d listens", CentralPort)},
		Check:   check,
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			// The file's hash as the restart finds it: the Check's stat,
			// moments ago, else stat now. Read before the restart, never
			// after: a write after the restart must not be taken as loaded
			// (the check then compares times and restarts again).
			seen, _ := mc.take(id, hn).(observed)
			if !seen.stat {
				seen.info, err = h.Stat(ctx, a.prefsPath(p), a.sudo(p))
				seen.stat = err == nil
			}
			markChanged(e, hn)
			active, err := startAndVerify(ctx, &a.Common, h, p, remote.ServiceRestart)
			if err != nil {
				return err
			}
			if seen.stat && seen.info.Exists {
				e.SetFact(factKey, restartStamp(seen.info.SHA256, notBefore(e)))
			}
			proveRunning(mc, &a.Common, p, id, hn, active)
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			return verifyRunning(ctx, e, mc, &a.Common, p, id, hn)
		},
	}
}

// ---- manual steps --------------------------------------------------------

// registerInstructions are the exact UI steps for adding member m.
func registerInstructions(a *HAAnswers, m *Member) []string {
	if a.VersionUI == UI101 {
		return []string{
			"Log in to the Management Console as \"administrator\" (only the administrator account(s) see the menu item).",
			"Go to Tools → Manage High availability.",
			fmt.Sprintf("Click Add; enter the name %q and set the priority to %d; click OK.", m.Name, m.Priority),
			fmt.Sprintf("The list now shows %q with priority %d.", m.Name, m.Priority),
		}
	}
	return []string{
		"Log in to the Micetro web UI as \"administrator\".",
		"Go to Admin → Configuration → High Availability.",
		fmt.Sprintf("Add Member: Name %q, Priority %d; click Add Member.", m.Name, m.Priority),
		fmt.Sprintf("The member list now shows %q with priority %d.", m.Name, m.Priority),
	}
}

func registerStep(a *HAAnswers, i int, id, doc string) *steps.Step {
	m := &a.Members[i]
	title := "Add the primary to the High Availability list with priority 10"
	why := "the name in the list must match ClusterMemberName in the primary's preferences.cfg"
	if i > 0 {
		title = fmt.Sprintf("Add %q as a high availability failover with priority %d", m.Name, m.Priority)
		why = "each failover member needs a unique name and a priority higher than the primary's"
	}
	p := &a.Members[0]
	return &steps.Step{
		ID:     id,
		Title:  title,
		Why:    why + " (Micetro documents no API for HA members: this is done in the UI)",
		DocRef: doc,
		Hosts:  []string{p.Host.Name},
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: registerInstructions(a, m),
			Values:       []steps.KV{{Label: "Name", Value: m.Name}, {Label: "Priority", Value: fmt.Sprint(m.Priority)}},
		},
		Check: manualCheck(id, a),
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			if i == 0 {
				// The restart after this must come later than now (primary's clock).
				h, err := host(e, hn)
				if err != nil {
					return err
				}
				now, prec, err := remoteNow(ctx, h, p)
				if err != nil {
					return err
				}
				e.SetFact(factRegisteredAt(p), formatHostTime(now, prec))
			}
			e.SetFact(factConfirmed(id), time.Now().UTC().Format(time.RFC3339))
			return nil
		},
	}
}

// factCheck: a manual step is done when this run's state records the
// operator's confirmation (Micetro has no API to read HA members, B.8).
func factCheck(id string) func(context.Context, *steps.Env, string) (bool, string, error) {
	return func(_ context.Context, e *steps.Env, _ string) (bool, string, error) {
		if v, ok := e.Fact(factConfirmed(id)); ok {
			return true, "confirmed by the operator at " + v, nil
		}
		return false, "not confirmed yet", nil
	}
}

// manualCheck: confirmed in this run's state, or inferred: the cluster was
// already complete before this run changed anything (every member named,
// holding the primary's copy and running), which hawiz only reaches after
// every UI step was confirmed. So a second run of a finished procedure asks
// nothing.
func manualCheck(id string, a *HAAnswers) func(context.Context, *steps.Env, string) (bool, string, error) {
	fc := factCheck(id)
	return func(ctx context.Context, e *steps.Env, h string) (bool, string, error) {
		if done, ev, err := fc(ctx, e, h); done || err != nil {
			return done, ev, err
		}
		return inferredDone(ctx, e, a)
	}
}

// factCompleteBefore records, once per run (in preflight, before anything
// changes), whether the cluster was already complete.
const factCompleteBefore = "cluster-complete-before-run"

func inferredDone(ctx context.Context, e *steps.Env, a *HAAnswers) (bool, string, error) {
	if v, _ := e.Fact(factCompleteBefore); strings.HasPrefix(v, "yes") {
		return true, "inferred: " + strings.TrimPrefix(v, "yes: ") + " before this run, and hawiz gets there only after every UI step", nil
	}
	return false, "not confirmed yet", nil
}

// clusterComplete: the primary names itself, every failover holds the
// primary's file with its own name, and Central runs on every member. The
// files are preflight's reads (facts); the members' services are probed at
// once.
func clusterComplete(ctx context.Context, e *steps.Env, a *HAAnswers, facts []memberFacts) (bool, string, error) {
	p := &a.Members[0]
	pr := facts[0].prefs
	if pr == nil {
		return false, p.Host.Name + " has no preferences.cfg", nil
	}
	if v, _ := pr.Get(ElemClusterMemberName); v != p.Name {
		return false, p.Host.Name + " is not named yet", nil
	}
	for i := 1; i < len(a.Members); i++ {
		cs := copyState{primary: pr, info: facts[i].info}
		if facts[i].prefs != nil {
			cs.member = facts[i].prefs.Bytes()
		}
		if ok, ev, err := copyDoneIn(a, i, cs); err != nil || !ok {
			return false, ev, err
		}
	}
	oks := make([]bool, len(a.Members))
	evs := make([]string, len(a.Members))
	errs := make([]error, len(a.Members))
	fs := make([]func(), len(a.Members))
	for i := range a.Members {
		fs[i] = func() {
			m := &a.Members[i]
			h, err := host(e, m.Host.Name)
			if err != nil {
				errs[i] = err
				return
			}
			oks[i], evs[i], errs[i] = running(ctx, &a.Common, h, m)
		}
	}
	par(fs...)
	for i := range a.Members {
		if errs[i] != nil || !oks[i] {
			return false, a.Members[i].Host.Name + ": " + evs[i], errs[i]
		}
	}
	return true, fmt.Sprintf("all %d members were configured and running", len(a.Members)), nil
}

func stateInstructions(a *HAAnswers, upto int) []string {
	var want []string
	for j := 0; j <= upto; j++ {
		st := "Standby"
		if j == 0 {
			st = "Active"
		}
		want = append(want, fmt.Sprintf("%q (priority %d): %s", a.Members[j].Name, a.Members[j].Priority, st))
	}
	where := "Admin → Configuration → High Availability in the Micetro web UI"
	if a.VersionUI == UI101 {
		where = "Tools → Manage High availability in the Management Console"
	}
	return []string{
		"Log in as \"administrator\" and open " + where + ".",
		"Check the states: " + strings.Join(want, "; ") + ".",
		"A member shown Offline has no recent heartbeat: check its name and its clock, and its startup log.",
	}
}

func stateStep(a *HAAnswers, i int, id, title, doc string) *steps.Step {
	m := &a.Members[i]
	vals := []steps.KV{}
	for j := 0; j <= i; j++ {
		st := "Standby"
		if j == 0 {
			st = "Active"
		}
		vals = append(vals, steps.KV{Label: a.Members[j].Name, Value: st})
	}
	return &steps.Step{
		ID:     id,
		Title:  title,
		Why:    "only the UI shows the members' HA states (Active, Standby, Offline); Micetro documents no API for them",
		DocRef: doc,
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Manual: &steps.Manual{Instructions: stateInstructions(a, i), Values: vals},
		Check:  manualCheck(id, a),
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			e.SetFact(factConfirmed(id), time.Now().UTC().Format(time.RFC3339))
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			h, err := host(e, hn)
			if err != nil {
				return "", err
			}
			ok, ev, err := running(ctx, &a.Common, h, m)
			if err == nil && !ok {
				err = errors.New(ev)
			}
			return ev, err
		},
	}
}

// ---- failover members ----------------------------------------------------

func stopCommand(c *Common, m *Member) string {
	switch {
	case len(c.ServiceCommand) > 0:
		return strings.Join(c.ServiceCommand, " ")
	case m.windows():
		return c.WindowsExe + " -stop"
	default:
		return "systemctl stop " + c.serviceName(m)
	}
}

func stopStep(a *HAAnswers, mc *memo, i int, id string) *steps.Step {
	m := &a.Members[i]
	return &steps.Step{
		ID:     id,
		Title:  fmt.Sprintf("On %s, install the Men&Mice Central application; if it is already installed, make sure it is stopped", m.Name),
		Why:    "the failover must not run against the database before it has the cluster configuration",
		DocRef: docStep(m, "7"),
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{
			"Central is installed (preflight found its preferences.cfg and version)",
			stopCommand(&a.Common, m) + " on " + m.Host.Name + "; then the service is not active",
		},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			var (
				ok, active bool
				ev         string
				errC, errA error
			)
			par(func() { ok, ev, errC = copyDone(ctx, e, a, i) },
				func() { active, errA = isActive(ctx, &a.Common, h, m) })
			if errC != nil || ok {
				return ok, ev + " (already configured; stopping it is no longer needed)", errC
			}
			if errA != nil {
				return false, "", errA
			}
			if active {
				return false, "service " + a.serviceName(m) + " is active", nil
			}
			return true, "service " + a.serviceName(m) + " is not active", nil
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			markChanged(e, hn)
			active, err := service(ctx, &a.Common, h, m, remote.ServiceStop)
			if err == nil && !active { // the state check of the stop's own session
				mc.put(id+"/proved", hn, "service "+a.serviceName(m)+" is not active (seen right after the stop)")
			}
			return err
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			// Holds when the service is not active (as the stop's own
			// session saw right after it, else asked now), or when the
			// member is already configured (then it may run).
			if ev, ok := mc.take(id+"/proved", hn).(string); ok {
				return ev, nil
			}
			h, err := host(e, hn)
			if err != nil {
				return "", err
			}
			active, err := isActive(ctx, &a.Common, h, m)
			if err != nil {
				return "", err
			}
			if !active {
				return "service " + a.serviceName(m) + " is not active", nil
			}
			if ok, ev, err := copyDone(ctx, e, a, i); err != nil || ok {
				return ev, err
			}
			return "", fmt.Errorf("service %s is still active on %s", a.serviceName(m), hn)
		},
	}
}

// copyState is the primary's and member i's preferences.cfg as read.
type copyState struct {
	primary *Prefs          // nil: the primary has none
	member  []byte          // member i's content
	info    remote.FileInfo // member i's file (Exists false: none)
}

// checkedCopy is what the copy step's Check saw: the files, and whether
// Central was active on the member.
type checkedCopy struct {
	copyState
	active bool
}

// readCopyState reads the primary's and member i's preferences.cfg at once.
func readCopyState(ctx context.Context, e *steps.Env, a *HAAnswers, i int) (copyState, error) {
	p, m := &a.Members[0], &a.Members[i]
	var cs copyState
	ph, err := host(e, p.Host.Name)
	if err != nil {
		return cs, err
	}
	mh, err := host(e, m.Host.Name)
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

func copyStep(a *HAAnswers, mc *memo, i int, id string) *steps.Step {
	m := &a.Members[i]
	p := &a.Members[0]
	return &steps.Step{
		ID:     id,
		Title:  fmt.Sprintf("Copy the preferences.cfg file from the first server to %s, and change the ClusterMemberName value to %q", m.Name, m.Name),
		Why:    "every member uses the same database settings; only the member name differs",
		DocRef: docStep(m, "8"),
		Hosts:  []string{m.Host.Name},
		Mode:   steps.Once,
		Actions: []string{fmt.Sprintf("write %s on %s: the primary %s's file with <ClusterMemberName value=%q/> (backup kept); the files then differ in that line only",
			a.prefsPath(m), m.Host.Name, p.Host.Name, m.Name)},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			// The files, and (for Apply, which must not write while
			// Central runs) the service's state, at once.
			var (
				cs         copyState
				active     bool
				errR, errA error
			)
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			par(func() { cs, errR = readCopyState(ctx, e, a, i) },
				func() { active, errA = isActive(ctx, &a.Common, h, m) })
			if errR != nil {
				return false, "", errR
			}
			if errA == nil {
				mc.put(id, hn, &checkedCopy{cs, active})
			}
			return copyDoneIn(a, i, cs)
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			// Both files and the service's state as the Check saw them
			// moments ago (else ask now): the write is a compare-and-swap on
			// the member's file as read (a change since is refused, never
			// overwritten), and Verify compares with the primary's file
			// afresh.
			var (
				cs         = new(copyState)
				active     bool
				errA, errR error
			)
			if seen, ok := mc.take(id, hn).(*checkedCopy); ok {
				*cs, active = seen.copyState, seen.active
			} else {
				par(func() { active, errA = isActive(ctx, &a.Common, h, m) },
					func() { *cs, errR = readCopyState(ctx, e, a, i) })
			}
			if errA != nil {
				return errA
			}
			if active {
				return fmt.Errorf("Central is running on %s: it must be stopped before its preferences.cfg is replaced (step 7)", hn)
			}
			if errR != nil {
				return errR
			}
			want, _, err := wantedCopy(a, i, *cs)
			if err != nil {
				return err
			}
			cas := cs.info.SHA256
			if !cs.info.Exists {
				cas = "absent"
			}
			markChanged(e, hn)
			res, err := h.WriteFile(ctx, a.prefsPath(m), want, remote.WriteOptions{IfSHA256: cas, Backup: true, Sudo: a.sudo(m)})
			if err != nil {
				return fmt.Errorf("writing %s on %s: %w", a.prefsPath(m), hn, err)
			}
			if res.Backup != "" {
				e.SetFact("backup."+hn+"."+a.prefsPath(m), res.Backup)
				e.Output(hn, fmt.Sprintf("%s written (backup %s)", a.prefsPath(m), res.Backup))
			}
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			cs, err := readCopyState(ctx, e, a, i)
			if err != nil {
				return "", err
			}
			_, primary, err := wantedCopy(a, i, cs)
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
		},
	}
}

func isNotExist(err error) bool { return err != nil && errors.Is(err, fs.ErrNotExist) }

func startCommand(c *Common, m *Member) string {
	switch {
	case len(c.ServiceCommand) > 0:
		return strings.Join(c.ServiceCommand, " ")
	case m.windows():
		return c.WindowsExe + " -start"
	default:
		return "systemctl start " + c.serviceName(m)
	}
}

func startStep(a *HAAnswers, mc *memo, i int, id string) *steps.Step {
	m := &a.Members[i]
	factKey := factRestarted(m) + "." + id
	return &steps.Step{
		ID:      id,
		Title:   "Start Central on " + m.Name,
		Why:     "the failover joins the cluster when it starts with its ClusterMemberName",
		DocRef:  docStep(m, "9"),
		Hosts:   []string{m.Host.Name},
		Mode:    steps.Once,
		Actions: []string{startCommand(&a.Common, m) + " on " + m.Host.Name + fmt.Sprintf("; then the service is active and port %d listens", CentralPort)},
		Check: func(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
			h, err := host(e, hn)
			if err != nil {
				return false, "", err
			}
			ok, ev, seen, err := loadedCurrentPrefs(ctx, e, &a.Common, h, m, factKey, "", true)
			mc.put(id, hn, seen)
			return ok, ev, err
		},
		Apply: func(ctx context.Context, e *steps.Env, hn string) error {
			h, err := host(e, hn)
			if err != nil {
				return err
			}
			// What the Check saw moments ago (else ask now): the state, and
			// the file's hash as the start finds it (read before the start,
			// as for the restarts).
			seen, cached := mc.take(id, hn).(observed)
			if !cached {
				var errA, errS error
				par(func() { seen.active, errA = isActive(ctx, &a.Common, h, m) },
					func() { seen.info, errS = h.Stat(ctx, a.prefsPath(m), a.sudo(m)) })
				seen.stat = errS == nil
				if errA != nil {
					seen.active = false
				}
			}
			// Running with an older file (Check said not loaded): restart.
			act := remote.ServiceStart
			if seen.active {
				act = remote.ServiceRestart
			}
			markChanged(e, hn)
			active, err := startAndVerify(ctx, &a.Common, h, m, act)
			if err != nil {
				return err
			}
			if seen.stat && seen.info.Exists {
				e.SetFact(factKey, restartStamp(seen.info.SHA256, ""))
			}
			proveRunning(mc, &a.Common, m, id, hn, active)
			return nil
		},
		Verify: func(ctx context.Context, e *steps.Env, hn string) (string, error) {
			return verifyRunning(ctx, e, mc, &a.Common, m, id, hn)
		},
	}
}

// ---- DNS -------------------------------------------------------------------

// expectedAddrs are the addresses the round-robin name must hold.
func expectedAddrs(ctx context.Context, e *steps.Env, a *HAAnswers) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, m := range a.Members {
		cands := []string{m.IP, m.Host.Address}
		if h := e.Host(m.Host.Name); h != nil {
			cands = append(cands, h.Address())
		}
		var addr netip.Addr
		for _, c := range cands {
			if c == "" {
				continue
			}
			if ap, err := netip.ParseAddrPort(c); err == nil {
				c = ap.Addr().String()
			}
			if ip, err := netip.ParseAddr(c); err == nil {
				addr = ip.Unmap()
				break
			}
		}
		if !addr.IsValid() {
			name := m.Host.Address
			if name == "" {
				name = m.Host.Name
			}
			ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("members: cannot tell the IP address of %s for the DNS records (set members[].ip): %v", m.Host.Name, err)
			}
			addr = ips[0].Unmap()
		}
		out = append(out, addr)
	}
	return out, nil
}

func dnsQuery(a *HAAnswers, expect []netip.Addr) dnscheck.Query {
	return dnscheck.Query{Name: a.DNS.Name, Expect: expect, Servers: a.DNS.Servers, Resolver: a.DNS.Resolver}
}

func reportText(r dnscheck.Report) string {
	if r.OK {
		var got []string
		for _, s := range r.Servers {
			got = append(got, s.Address)
		}
		return fmt.Sprintf("%s holds exactly %v on every authoritative server (%s)", r.Name, r.Expect, strings.Join(got, ", "))
	}
	return strings.Join(r.Problems, "; ")
}

func dnsStep(a *HAAnswers) *steps.Step {
	verify := func(ctx context.Context, e *steps.Env) (dnscheck.Report, []netip.Addr, error) {
		expect, err := expectedAddrs(ctx, e, a)
		if err != nil {
			return dnscheck.Report{}, nil, err
		}
		r, err := dnscheck.Verify(ctx, dnsQuery(a, expect))
		return r, expect, err
	}
	action := fmt.Sprintf("verify that %s has exactly the members' A/AAAA records on every authoritative server", a.DNS.Name)
	if a.DNS.TSIGKeyFile != "" {
		action += "; offer to fix them by RFC 2136 UPDATE signed with " + a.DNS.TSIGKeyFile
	} else {
		action += "; show the records to create and wait for them"
	}
	return &steps.Step{
		ID:      "round-robin-dns",
		Title:   "Create a round robin DNS name for the high availability setup: one A record per Central server, same name",
		Why:     "clients reach the cluster through one name that holds every member's address",
		DocRef:  docLinux + " step 11",
		Mode:    steps.Once,
		Actions: []string{action},
		Check: func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
			r, _, err := verify(ctx, e)
			if err != nil {
				return false, "", err
			}
			return r.OK, reportText(r), nil
		},
		Apply: func(ctx context.Context, e *steps.Env, _ string) error {
			r, expect, err := verify(ctx, e)
			if err != nil {
				return err
			}
			if r.OK {
				return nil
			}
			change, err := dnscheck.PlanChange(r, expect, a.DNS.TTL)
			if err != nil {
				return err
			}
			if a.DNS.TSIGKeyFile != "" {
				key, err := dnscheck.LoadTSIGFile(a.DNS.TSIGKeyFile)
				if err != nil {
					return err
				}
				e.Redactor().Add(key.Secret)
				q := fmt.Sprintf("Send an RFC 2136 UPDATE to %s (zone %s) signed with key %s: %s?", change.Primary, change.Zone, key.Name, describeChange(change))
				yes, err := e.Operator().Confirm(ctx, q, true)
				if err != nil {
					return err
				}
				if yes {
					if err := dnscheck.Apply(ctx, change.Primary, change, key, change.Have); err != nil {
						return fmt.Errorf("DNS update: %w", err)
					}
					wr, err := dnscheck.WaitConsistent(ctx, dnsQuery(a, expect), a.DNS.MaxWait)
					if err != nil {
						return err
					}
					if !wr.OK {
						return fmt.Errorf("after the update: %s", reportText(wr))
					}
					return nil
				}
			}
			msg := "Create these records (a round-robin name: one record per member, same name):\n  " + strings.Join(zoneLines(a, expect), "\n  ")
			if len(change.Remove) > 0 {
				msg += fmt.Sprintf("\nand remove the %s records for %v", a.DNS.Name, change.Remove)
			}
			msg += "\nAs an nsupdate script:\n  " + strings.Join(change.Script(), "\n  ")
			return e.Operator().Wait(ctx, msg, func(ctx context.Context) (bool, string, error) {
				r, err := dnscheck.Verify(ctx, dnsQuery(a, expect))
				if err != nil {
					return false, "", err
				}
				return r.OK, reportText(r), nil
			})
		},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			r, _, err := verify(ctx, e)
			if err != nil {
				return "", err
			}
			if !r.OK {
				return "", errors.New(reportText(r))
			}
			return reportText(r), nil
		},
	}
}

func describeChange(c dnscheck.Change) string {
	var parts []string
	if len(c.Add) > 0 {
		parts = append(parts, fmt.Sprintf("add %v", c.Add))
	}
	if len(c.Remove) > 0 {
		parts = append(parts, fmt.Sprintf("remove %v", c.Remove))
	}
	return fmt.Sprintf("%s %s (TTL %d)", c.Name, strings.Join(parts, ", "), c.TTL)
}

func zoneLines(a *HAAnswers, expect []netip.Addr) []string {
	name := strings.TrimSuffix(a.DNS.Name, ".") + "."
	var out []string
	for _, ip := range expect {
		t := "A"
		if ip.Is6() {
			t = "AAAA"
		}
		out = append(out, fmt.Sprintf("%s %d IN %s %s", name, a.DNS.TTL, t, ip))
	}
	return out
}

func loginStep(a *HAAnswers) *steps.Step {
	where := "the Micetro web UI"
	if a.VersionUI == UI101 {
		where = "the Management Console"
	}
	id := "log-in-through-dns-name"
	return &steps.Step{
		ID:     id,
		Title:  "Log in using the domain name set in the DNS as the server name to verify the high availability cluster",
		Why:    "proves that clients reach the cluster through the round-robin name",
		DocRef: docLinux + " step 12",
		Mode:   steps.Once,
		Manual: &steps.Manual{
			Instructions: []string{
				fmt.Sprintf("Log in to %s with %s as the server name.", where, strings.TrimSuffix(a.DNS.Name, ".")),
				"Check that the High Availability list shows one Active member and the others Standby.",
			},
			Values: []steps.KV{{Label: "Server", Value: strings.TrimSuffix(a.DNS.Name, ".")}},
		},
		Check: manualCheck(id, a),
		Apply: func(ctx context.Context, e *steps.Env, _ string) error {
			e.SetFact(factConfirmed(id), time.Now().UTC().Format(time.RFC3339))
			return nil
		},
	}
}
