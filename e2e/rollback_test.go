//go:build e2e

package e2e

// The rollback e2e (issue 19 item 1): a real run on the lab, then
// `hawiz rollback --state S --yes`, and every file the run touched is
// compared with what it was before the run (SHA-256, mode, owner), every
// service with its state before the run (is-active and the lab's
// systemctl log).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileMark is what a file is: its content's SHA-256 ("absent" when it does
// not exist), permission bits and owner.
type fileMark struct {
	SHA      string
	Mode     fs.FileMode
	UID, GID uint32
}

func (f fileMark) String() string {
	if f.SHA == "absent" {
		return "absent"
	}
	return fmt.Sprintf("sha256 %s mode %04o owner %d:%d", f.SHA[:12], f.Mode, f.UID, f.GID)
}

// markFile reads host i's path from outside the host (root).
func (l *Lab) markFile(t *testing.T, i int, path string) fileMark {
	t.Helper()
	p := l.hostPath(t, i, path)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fileMark{SHA: "absent"}
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	st := fi.Sys().(*syscall.Stat_t)
	return fileMark{SHA: hex.EncodeToString(sum[:]), Mode: fi.Mode(), UID: st.Uid, GID: st.Gid}
}

// journalEntry is one change of a state's journal (the fields the tests read).
type journalEntry struct {
	Seq     int    `json:"seq"`
	Step    string `json:"step"`
	Host    string `json:"host"`
	Kind    string `json:"kind"`
	Path    string `json:"path"`
	Backup  string `json:"backup"`
	Before  string `json:"sha256_before"`
	After   string `json:"sha256_after"`
	Service string `json:"service"`
	Action  string `json:"action"`
}

func readJournal(t *testing.T, state string) []journalEntry {
	t.Helper()
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Journal []journalEntry `json:"journal"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Journal
}

func rollbackSide(state, suffix string) string {
	return strings.TrimSuffix(state, ".json") + ".rollback" + suffix
}

// applies lists the apply events of evs as "step host".
func applies(evs []event) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == "apply" {
			out = append(out, e.Step+" "+e.Host)
		}
	}
	return out
}

// systemctlCalls is host i's systemctl log lines that start, stop or
// restart unit (the stand-in's record of every call).
func (m *mmLab) systemctlCalls(i int, unit string) []string {
	var out []string
	for _, l := range strings.Split(m.read(i, "/var/log/hawiz-lab/systemctl.log"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[2] == unit && (f[1] == "start" || f[1] == "stop" || f[1] == "restart") {
			out = append(out, f[1]+" "+f[3])
		}
	}
	return out
}

func (m *mmLab) active(i int) bool {
	c := m.rawClient(m.t, i, m.User)
	_, _, code := rawRun(m.t, c, "systemctl is-active mmcentral", nil)
	return code == 0
}

// mmBefore is what the Micetro rollback must bring back: every member's
// preferences.cfg and whether its Central is active.
type mmBefore struct {
	files  map[string]fileMark // "host path"
	active []bool
}

func (m *mmLab) snapshot() mmBefore {
	b := mmBefore{files: map[string]fileMark{}}
	for i := 0; i < m.n; i++ {
		b.files[m.Names[i]+" "+mmPrefs] = m.markFile(m.t, i, mmPrefs)
		b.active = append(b.active, m.active(i))
	}
	return b
}

// runHA runs micetro-central-ha to its end and checks that the journal
// touched no file the snapshot does not know.
func (m *mmLab) runHA(before mmBefore) []journalEntry {
	m.t.Helper()
	code, evs, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", m.haAnswers(), "--yes", "--state", m.state)
	m.drive(code, evs, stderr)
	j := readJournal(m.t, m.state)
	files := 0
	for _, c := range j {
		if c.Kind == "file" {
			files++
			if _, ok := before.files[c.Host+" "+c.Path]; !ok {
				m.t.Fatalf("the run changed %s on %s, which the test did not record before", c.Path, c.Host)
			}
		}
	}
	if files == 0 {
		m.t.Fatalf("the run journaled no file change: %+v", j)
	}
	for i := 0; i < m.n; i++ {
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			m.t.Fatalf("%s: preferences.cfg after the run\n%s", m.Names[i], got)
		}
	}
	return j
}

// checkRolledBack asserts every file and service is as before, except the
// files in left ("host path"), which must hold what they hold now (kept).
func (m *mmLab) checkRolledBack(before mmBefore, left map[string]fileMark) {
	m.t.Helper()
	for i := 0; i < m.n; i++ {
		key := m.Names[i] + " " + mmPrefs
		want := before.files[key]
		if l, ok := left[key]; ok {
			want = l
		}
		if got := m.markFile(m.t, i, mmPrefs); got != want {
			m.t.Errorf("%s: preferences.cfg %v, want %v", m.Names[i], got, want)
		}
		if got := m.active(i); got != before.active[i] {
			m.t.Errorf("%s: mmcentral active %v, before the run %v", m.Names[i], got, before.active[i])
		}
	}
}

// rollback runs `hawiz rollback --state S --yes` (onEvent may kill it),
// confirming the manual steps that undo the run's UI registrations (the
// operator's Remove Member: nothing on the hosts).
func (m *mmLab) rollback(onEvent func(event) bool) (int, []event, string) {
	m.t.Helper()
	args := []string{"rollback", "--state", m.state, "--yes"}
	b, err := os.ReadFile(m.state)
	if err != nil {
		m.t.Fatal(err)
	}
	var st struct {
		Steps []struct {
			ID string `json:"id"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		m.t.Fatal(err)
	}
	for _, s := range st.Steps {
		if strings.HasPrefix(s.ID, "register-") {
			args = append(args, "--confirm", "undo-by-hand-"+s.ID)
		}
	}
	return m.hawiz(onEvent, args...)
}

func TestRollbackMicetroHA(t *testing.T) {
	m := setupMicetro(t, 3)
	before := m.snapshot()
	j := m.runHA(before)
	runCalls := make([][]string, m.n)
	for i := range runCalls {
		runCalls[i] = m.systemctlCalls(i, "mmcentral")
	}
	t0 := time.Now()
	code, evs, stderr := m.rollback(nil)
	wall := time.Since(t0)
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	t.Logf("rollback of micetro-central-ha (%d journaled changes) on %d lab hosts: %v wall, %d applies", len(j), m.n, wall.Round(time.Millisecond), len(applies(evs)))
	m.checkRolledBack(before, nil)
	// The lab's systemctl log: the rollback's own calls, each succeeded, the
	// last one leaving Central as before the run.
	for i := 0; i < m.n; i++ {
		calls := m.systemctlCalls(i, "mmcentral")[len(runCalls[i]):]
		if len(calls) == 0 {
			t.Errorf("%s: the rollback called no start/stop/restart of mmcentral (the run did: %v)", m.Names[i], runCalls[i])
			continue
		}
		for _, c := range calls { // the log's result is the state the call left
			if f := strings.Fields(c); (f[0] == "stop") != (f[1] == "inactive") || (f[1] != "active" && f[1] != "inactive") {
				t.Errorf("%s: rollback's systemctl call %q did not succeed", m.Names[i], c)
			}
		}
		if strings.Count(strings.Join(calls, "\n"), "restart") > 1 {
			t.Errorf("%s: the rollback restarted Central more than once: %v", m.Names[i], calls)
		}
		last := strings.Fields(calls[len(calls)-1])[0]
		if (last != "stop") != before.active[i] {
			t.Errorf("%s: the rollback's last call %q (calls %v); active before the run: %v", m.Names[i], last, calls, before.active[i])
		}
		t.Logf("%s: the rollback's systemctl calls of mmcentral: %v", m.Names[i], calls)
	}
	ev, err := os.ReadFile(rollbackSide(m.state, ".evidence.md"))
	if err != nil {
		t.Fatalf("the rollback's evidence report: %v", err)
	}
	for _, c := range j {
		if c.Kind == "file" && !strings.Contains(string(ev), c.Path) {
			t.Errorf("the evidence report does not name %s", c.Path)
		}
	}
	if strings.Contains(string(ev), "LEFT AS IT IS") {
		t.Errorf("the evidence report says a file was left:\n%s", ev)
	}

	// A second rollback: nothing applied, nothing changed.
	calls := make([][]string, m.n)
	for i := range calls {
		calls[i] = m.systemctlCalls(i, "mmcentral")
	}
	code, evs, stderr = m.rollback(nil)
	if code != 0 || len(applies(evs)) != 0 {
		t.Fatalf("second rollback: exit %d, applies %v\n%s\n%s", code, applies(evs), stderr, evString(evs))
	}
	for i := 0; i < m.n; i++ {
		if got := m.systemctlCalls(i, "mmcentral"); len(got) != len(calls[i]) {
			t.Errorf("%s: the second rollback called systemctl: %v", m.Names[i], got[len(calls[i]):])
		}
	}
	m.checkRolledBack(before, nil)
}

func TestRollbackMicetroHAEditedFileLeft(t *testing.T) {
	m := setupMicetro(t, 3)
	before := m.snapshot()
	m.runHA(before)
	// The operator edits lab3's preferences.cfg after the run.
	p := m.hostPath(t, 2, mmPrefs)
	edited := m.read(2, mmPrefs) + "<!-- edited by the operator -->\n"
	if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	left := map[string]fileMark{m.Names[2] + " " + mmPrefs: m.markFile(t, 2, mmPrefs)}
	code, evs, stderr := m.rollback(nil)
	// cmd/hawiz/rollback.go: 0 rolled back, a file left as it is named in
	// the output and in the evidence.
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	m.checkRolledBack(before, left)
	named := false
	for _, e := range evs {
		if e.Kind == "warning" && e.Host == m.Names[2] && strings.Contains(e.Message, mmPrefs) && strings.Contains(e.Message, "left as it is") {
			named = true
		}
	}
	if !named {
		t.Errorf("no warning names %s on %s as left:\n%s", mmPrefs, m.Names[2], evString(evs))
	}
	ev, err := os.ReadFile(rollbackSide(m.state, ".evidence.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ev), "LEFT AS IT IS: "+mmPrefs) || strings.Count(string(ev), "LEFT AS IT IS") != 1 {
		t.Errorf("the evidence does not name the one file left:\n%s", ev)
	}
	if got := m.read(2, mmPrefs); got != edited {
		t.Errorf("%s: the operator's edit was not kept", m.Names[2])
	}
}

func TestRollbackMicetroHAKilledResumes(t *testing.T) {
	for _, killAt := range []int{1, 4, 7} {
		t.Run(fmt.Sprintf("apply%d", killAt), func(t *testing.T) {
			m := setupMicetro(t, 3)
			before := m.snapshot()
			m.runHA(before)
			n, killedOn := 0, ""
			code, evs, stderr := m.rollback(func(e event) bool {
				if e.Kind == "apply" {
					n++
					if n == killAt {
						killedOn = e.Step + " " + e.Host
						return true
					}
				}
				return false
			})
			if code != -9 {
				t.Fatalf("not killed at apply %d (exit %d, %d applies):\n%s\n%s", killAt, code, n, stderr, evString(evs))
			}
			code, evs, stderr = m.rollback(nil)
			if code != 0 {
				t.Fatalf("rollback again after SIGKILL on %s: exit %d\n%s\n%s", killedOn, code, stderr, evString(evs))
			}
			t.Logf("killed on apply %d (%s); the second invocation applied %v", killAt, killedOn, applies(evs))
			m.checkRolledBack(before, nil)
			if ev, err := os.ReadFile(rollbackSide(m.state, ".evidence.md")); err != nil || strings.Contains(string(ev), "LEFT AS IT IS") {
				t.Errorf("evidence: %v\n%s", err, ev)
			}
		})
	}
}

func TestRollbackOpsManagerHA(t *testing.T) {
	o := setupOM(t, 3, false)
	const conf = "/opt/mongodb/mms/conf/conf-mms.properties"
	const key = "/etc/mongodb-mms/gen.key"
	before := map[string]fileMark{}
	for i := 0; i < o.n; i++ {
		for _, p := range []string{conf, key} {
			before[o.Names[i]+" "+p] = o.markFile(t, i, p)
		}
		if before[o.Names[i]+" "+key].SHA != "absent" || o.running(i) {
			t.Fatalf("%s: setup left a gen.key or a running Ops Manager", o.Names[i])
		}
	}
	a := o.answers("ha.yaml", "  mode: first-server\n", "")
	code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state)
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, stderr, evString(evs))
	}
	o.checkHA()
	j := readJournal(t, o.state)
	wroteKey := map[string]bool{}
	for _, c := range j {
		if c.Kind != "file" {
			continue
		}
		if _, ok := before[c.Host+" "+c.Path]; !ok {
			t.Fatalf("the run changed %s on %s, which the test did not record before", c.Path, c.Host)
		}
		if c.Path == key {
			wroteKey[c.Host] = true
		}
	}
	// first-server: Ops Manager created lab1's key on its first start;
	// hawiz copied it to lab2 and lab3.
	if wroteKey[o.Names[0]] || !wroteKey[o.Names[1]] || !wroteKey[o.Names[2]] {
		t.Fatalf("gen.key writes journaled on %v", wroteKey)
	}
	firstKey := o.markFile(t, 0, key)
	// The operator replaces lab3's key after the run: not what hawiz wrote.
	other := []byte("0123456789abcdefghijklmn")
	if err := os.WriteFile(o.hostPath(t, 2, key), other, 0o600); err != nil {
		t.Fatal(err)
	}
	otherMark := o.markFile(t, 2, key)

	// What hawiz cannot undo waits for the operator, in the reverse order of
	// the run: first the App DB data of Ops Manager's first start (once
	// every server is stopped again; the documented recovery is a restore
	// of the App DB backup), last the load balancer the operator set up.
	t0 := time.Now()
	code, evs, stderr = o.hawiz(nil, "rollback", "--state", o.state, "--yes")
	wall := time.Since(t0)
	if code != 3 || !strings.Contains(stderr, "waiting for manual step undo-by-hand-start-first-server") ||
		!strings.Contains(stderr, "restore it from the backup taken before the run") || !strings.Contains(stderr, "out of the pool") {
		t.Fatalf("rollback without confirmation: exit %d, want 3 waiting at undo-by-hand-start-first-server\n%s\n%s", code, stderr, evString(evs))
	}
	for i := 0; i < o.n; i++ {
		if o.running(i) {
			t.Errorf("%s: Ops Manager runs while the rollback waits at the App DB step", o.Names[i])
		}
	}
	confirm := []string{"rollback", "--state", o.state, "--yes", "--confirm", "undo-by-hand-start-first-server", "--confirm", "undo-by-hand-configure-load-balancer"}
	t1 := time.Now()
	code, evs2, stderr2 := o.hawiz(nil, confirm...)
	wall += time.Since(t1)
	evs, stderr = append(evs, evs2...), stderr+stderr2
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, stderr, evString(evs))
	}
	t.Logf("rollback of opsmanager-ha (%d journaled changes) on %d lab hosts: %v wall (two invocations)", len(j), o.n, wall.Round(time.Millisecond))
	for i := 0; i < o.n; i++ {
		if got, want := o.markFile(t, i, conf), before[o.Names[i]+" "+conf]; got != want {
			t.Errorf("%s: conf-mms.properties %v, before the run %v", o.Names[i], got, want)
		}
		if o.running(i) {
			t.Errorf("%s: Ops Manager runs; it was stopped before the run", o.Names[i])
		}
	}
	if got := o.markFile(t, 0, key); got != firstKey {
		t.Errorf("%s: the gen.key Ops Manager created (not hawiz) was touched: %v, was %v", o.Names[0], got, firstKey)
	}
	if got := o.markFile(t, 1, key); got.SHA != "absent" {
		t.Errorf("%s: the gen.key hawiz copied is still there: %v", o.Names[1], got)
	}
	if got := o.markFile(t, 2, key); got != otherMark {
		t.Errorf("%s: the gen.key the operator replaced was touched: %v", o.Names[2], got)
	}
	named := false
	for _, e := range evs {
		if e.Kind == "warning" && e.Host == o.Names[2] && strings.Contains(e.Message, key) {
			named = true
		}
	}
	if !named {
		t.Errorf("no warning names %s on %s:\n%s", key, o.Names[2], evString(evs))
	}
	var all strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&all, "%s %s %s\n", e.Message, e.Evidence, strings.Join(e.Output, "\n"))
	}
	ev, _ := os.ReadFile(rollbackSide(o.state, ".evidence.md"))
	tr, _ := os.ReadFile(rollbackSide(o.state, ".transcript.jsonl"))
	o.noSecrets(all.String(), stderr, string(ev), string(tr))
	for _, k := range [][]byte{other} {
		for _, s := range []string{all.String(), stderr, string(ev), string(tr)} {
			if strings.Contains(s, string(k)) {
				t.Errorf("the replaced key's bytes appear in the rollback's output")
			}
		}
	}
	// Again: nothing to do (the manual steps were confirmed before).
	code, evs, stderr = o.hawiz(nil, "rollback", "--state", o.state, "--yes")
	if code != 0 || len(applies(evs)) != 0 {
		t.Fatalf("second rollback: exit %d, applies %v\n%s", code, applies(evs), stderr)
	}
}
