//go:build e2e

package e2e

// Crash and fault survival on the lab (issue "Proof"): the hawiz binary against the
// OpenSSH lab with the Central and Ops Manager stand-ins.
//
//   R1 every procedure (micetro-central-ha, micetro-central-upgrade, opsmanager-ha with
//      gen_key.mode first-server and generate, opsmanager-upgrade): SIGKILL at step
//      boundaries and at seeded random instants, then `hawiz resume --yes` to the end.
//      Every host ends as after an uninterrupted run (every file the procedure touches:
//      SHA-256, mode, owner, backups; service states; the stand-in installers' install
//      logs: no host upgraded twice), the state file parses after every kill, and every
//      file hawiz replaced keeps a backup of its content from before the run.
//   R2 host N's listening sshd and every process serving its connections killed while
//      a command of hawiz runs there (lab/sshd.sh kill-sshd N --connections), then
//      started again (lab/sshd.sh start-sshd N): hawiz names the host and the step, a
//      resume while sshd is down names the host, the resume after the restart finishes;
//      the remote file is old or new, never half-written.
//   R4 every secret (sudo password, key passphrase, TSIG secret, App DB password,
//      gen.key bytes; raw, hex, base64) is absent from the state files, transcripts,
//      evidence reports, --log debug logs, stdout/stderr and the tmux screens of
//      interactive runs whose prompts (sudo password, passphrase, App DB password)
//      are answered by typing.
//   R6 two hawiz on one state at once: the second exits 4 naming the state and lock.
//   R8 the remote file edited between hawiz's read and write: refused, file named,
//      the operator's edit and the backup kept.
//
// Each test logs "R… N tried, N survived" per procedure.
//
// Counts (R1): HAWIZ_CHAOS_FULL=1 is the count: every step boundary and 20
// random instants per procedure (163 kills, about 19 minutes on 2 cores):
//
//	HAWIZ_CHAOS_FULL=1 go test -tags e2e -run Chaos -timeout 60m -v ./e2e/
//
// Without it (CI): 4 boundaries spread over the run (offset by the seed, so runs
// cover different ones) and 2 random instants per procedure (28 kills, about 3 1/2
// minutes; the whole chaos suite about 4 1/2). HAWIZ_CHAOS_STRIDE=K
// (every K-th boundary), HAWIZ_CHAOS_RANDOM=N, HAWIZ_CHAOS_SEED=S (default: the
// time; always printed) and HAWIZ_CHAOS_PROCS=name,name (a subset) override.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// manualIDs are micetro-central-ha's manual steps for n members.
func manualIDs(n int) []string {
	ids := []string{"register-primary", "verify-primary-active"}
	for i := 2; i <= n; i++ {
		ids = append(ids, fmt.Sprintf("register-central%d", i), fmt.Sprintf("verify-central%d-standby", i))
	}
	return append(ids, "log-in-through-dns-name")
}

func confirmArgs(state string, n int) []string {
	args := []string{"resume", "--state", state, "--yes"}
	for _, id := range manualIDs(n) {
		args = append(args, "--confirm", id)
	}
	return args
}

// stateOK: the state file, when there is one, parses as JSON with the engine's schema.
func stateOK(t *testing.T, path string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil // killed before the first save
	}
	if err != nil {
		return err
	}
	var s struct {
		Schema int               `json:"schema"`
		Steps  []json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(b, &s); err != nil || s.Schema != 1 || len(s.Steps) == 0 {
		return fmt.Errorf("state %s corrupt: %v (schema %d, %d steps, %d bytes)", path, err, s.Schema, len(s.Steps), len(b))
	}
	return nil
}

// ---- running hawiz ------------------------------------------------------------------

// chaosProc is one procedure on freshly prepared lab hosts.
type chaosProc struct {
	t        *testing.T
	lab      *Lab
	dir      string   // XDG_STATE_HOME and the test's files
	state    string   // the state file
	env      []string // added to hawiz's environment
	run      []string // run PROCEDURE -a FILE … (without --state, --yes, --json)
	confirms []string // manual steps confirmed on resume
	snap     func() string
	after    func() error // invariants after every run: no host upgraded twice
	backups  func() error // every file hawiz replaced has a backup of its content from before the run
}

func (p *chaosProc) runArgs() []string {
	return append(append([]string(nil), p.run...), "--yes", "--state", p.state)
}

func (p *chaosProc) resumeArgs() []string {
	args := []string{"resume", "--state", p.state, "--yes"}
	for _, c := range p.confirms {
		args = append(args, "--confirm", c)
	}
	return args
}

// invoke runs hawiz with --json. onEvent (optional) sees every event and may return
// true to SIGKILL hawiz at once; a non-zero deadline SIGKILLs it at that instant (at
// once when it has passed). code is -9 when hawiz died of the SIGKILL.
func (p *chaosProc) invoke(onEvent func(event) bool, deadline time.Time, args ...string) (code int, evs []event, stderr string) {
	p.t.Helper()
	return hawizJSON(p.t, append([]string{"XDG_STATE_HOME=" + p.dir, "NO_COLOR=1"}, p.env...), onEvent, deadline, args...)
}

func eventsText(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Kind == "output" {
			continue
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", e.Kind, e.Step, e.Host, e.Message)
	}
	return b.String()
}

// full runs the procedure from the start to the end: run, then (after exit 3 at a
// manual step) resume with every manual step confirmed. kill sees every event with the
// running count of step-done events (boundaries) and may SIGKILL hawiz; a non-zero
// deadline SIGKILLs it at that instant. It returns whether hawiz was killed.
func (p *chaosProc) full(kill func(e event, boundaries int) bool, deadline time.Time) (killed bool, boundaries int) {
	p.t.Helper()
	args := p.runArgs()
	for round := 0; round < 4; round++ {
		code, evs, stderr := p.invoke(func(e event) bool {
			if e.Kind == "step-done" {
				boundaries++
			}
			return kill != nil && kill(e, boundaries)
		}, deadline, args...)
		switch code {
		case -9:
			return true, boundaries
		case 0:
			return false, boundaries
		case 3:
			args = p.resumeArgs()
		default:
			p.t.Fatalf("%s: exit %d:\n%s\n%s", args[0], code, stderr, eventsText(evs))
		}
	}
	p.t.Fatalf("not done after 4 invocations")
	return false, boundaries
}

// finish resumes (or runs again, when hawiz died before the first save) to the end.
// Exit 0 ends it, exit 3 (a manual step) resumes again; anything else is an error:
// a resume after a kill must not fail.
func (p *chaosProc) finish() (invocations int, err error) {
	for round := 0; round < 4; round++ {
		args := p.resumeArgs()
		if _, err := os.Stat(p.state); os.IsNotExist(err) {
			args = p.runArgs()
		}
		code, evs, stderr := p.invoke(nil, time.Time{}, args...)
		invocations++
		switch code {
		case 0:
			return invocations, nil
		case 3:
			continue
		default:
			return invocations, fmt.Errorf("%s after the kill: exit %d:\n%s\n%s", args[0], code, stderr, eventsText(evs))
		}
	}
	return invocations, fmt.Errorf("not done after 4 resumes")
}

// ---- snapshots: what the procedure leaves on the hosts --------------------------------

// snapRoot is a tree (or file) on a host whose files are recorded.
type snapRoot struct {
	path string
	only *regexp.Regexp // nil: every file; else only paths matching
	skip *regexp.Regexp // paths left out (logs: they change on every start)
}

var (
	backupRE = regexp.MustCompile(`\.hawiz-\d{8}T\d{6}Z\.bak$`)
	tmpRE    = regexp.MustCompile(`\.hawiz-tmp\.[^/]*$`)
)

// snapshotter records, as root sees them from outside, every file under roots on
// hosts 0..n-1: path, content SHA-256 (after norm; files matching keys get a label
// KEY-A, KEY-B … by first appearance: random keys), mode and owner; lines sorted per
// host. A file's backups (PATH.hawiz-TIME.bak) are one line: the set of distinct
// contents they hold (a resume may back up the same content again, at another time).
// Temp files left behind show as PATH.hawiz-tmp.LEFT-BEHIND.
type snapshotter struct {
	l      *Lab
	t      *testing.T
	roots  []snapRoot
	keys   *regexp.Regexp      // random content: labelled, not hashed
	norm   func([]byte) []byte // per-setup strings to placeholders
	extra  func(i int) []string
	local  []string             // files on this machine (key backups)
	origin []map[string]fileRec // per host: path → the file before the run (capture)
}

type fileRec struct {
	kind  string // dir, file, link
	sum   string // full SHA-256 of the raw content
	data  []byte
	mode  fs.FileMode
	owner string
	link  string
}

// walk reads host i's files under the roots.
func (s *snapshotter) walk(i int) map[string]fileRec {
	recs := map[string]fileRec{}
	base := s.l.hostPath(s.t, i, "")
	for _, r := range s.roots {
		filepath.WalkDir(base+r.path, func(full string, d fs.DirEntry, err error) error {
			p := strings.TrimPrefix(full, base)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) || p != r.path {
					recs[p] = fileRec{kind: "error: " + err.Error()}
				}
				return nil
			}
			if (r.skip != nil && r.skip.MatchString(p)) || (r.only != nil && !r.only.MatchString(p) && p != r.path) {
				if d.IsDir() && p != r.path {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() && p == r.path && r.only != nil {
				return nil
			}
			fi, err := os.Lstat(full)
			if err != nil {
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			rec := fileRec{kind: "dir", mode: fi.Mode(), owner: fmt.Sprintf("%d:%d", st.Uid, st.Gid)}
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				rec.kind = "link"
				rec.link, _ = os.Readlink(full)
			case fi.Mode().IsRegular():
				rec.kind = "file"
				rec.data, _ = os.ReadFile(full)
				sum := sha256.Sum256(rec.data)
				rec.sum = hex.EncodeToString(sum[:])
			}
			recs[p] = rec
			return nil
		})
	}
	return recs
}

// capture records the hosts' files before the run: lostOriginals needs their content;
// the snapshot shows a file still as it was as "unchanged" (the starting state may
// vary between setups: opsmanager-upgrade starts after an opsmanager-ha run).
func (s *snapshotter) capture(n int) *snapshotter {
	s.origin = make([]map[string]fileRec, n)
	for i := 0; i < n; i++ {
		s.origin[i] = s.walk(i)
	}
	return s
}

func (r fileRec) same(o fileRec) bool {
	return r.kind == o.kind && r.sum == o.sum && r.mode == o.mode && r.owner == o.owner && r.link == o.link
}

// lostOriginals: every file hawiz replaced with a backup must have a backup holding
// its content from before the run (the operator's way back).
func (s *snapshotter) lostOriginals(n int) error {
	var errs []string
	for i := 0; i < n && i < len(s.origin); i++ {
		recs := s.walk(i)
		baks := map[string][]string{}
		for p, r := range recs {
			if backupRE.MatchString(p) {
				f := backupRE.ReplaceAllString(p, "")
				baks[f] = append(baks[f], r.sum)
			}
		}
		for f, sums := range baks {
			o, ok := s.origin[i][f]
			orig := o.sum
			if !ok || o.kind != "file" || recs[f].sum == orig || slices.Contains(sums, orig) {
				continue
			}
			var names []string
			for p := range recs {
				if strings.HasPrefix(p, f+".hawiz-") {
					names = append(names, filepath.Base(p))
				}
			}
			sort.Strings(names)
			errs = append(errs, fmt.Sprintf("%s: %s was replaced but none of its %d backup(s) %v holds its content from before the run (sha256 %.12s…): the original is lost",
				s.l.Names[i], f, len(sums), names, orig))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func (s *snapshotter) snapshot(n int) string {
	labels := map[string]string{}
	content := func(p string, data []byte) string {
		sum := sha256.Sum256(data)
		if s.keys != nil && s.keys.MatchString(p) {
			k := hex.EncodeToString(sum[:])
			if labels[k] == "" {
				labels[k] = fmt.Sprintf("KEY-%c", 'A'+len(labels))
			}
			return fmt.Sprintf("%s (%d bytes)", labels[k], len(data))
		}
		if s.norm != nil {
			data = s.norm(data)
			sum = sha256.Sum256(data)
		}
		return hex.EncodeToString(sum[:8])
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		recs := s.walk(i)
		paths := make([]string, 0, len(recs))
		for p := range recs {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		var lines []string
		baks := map[string]map[string]bool{}
		for _, p := range paths {
			r := recs[p]
			if i < len(s.origin) && r.same(s.origin[i][p]) {
				if !backupRE.MatchString(p) { // backups from before the run: left out
					lines = append(lines, p+" unchanged")
				}
				continue
			}
			what := r.kind
			switch r.kind {
			case "file":
				what = content(p, r.data)
			case "link":
				what = "-> " + r.link
			}
			line := fmt.Sprintf("%s %v %s", what, r.mode, r.owner)
			if backupRE.MatchString(p) {
				f := backupRE.ReplaceAllString(p, "")
				if baks[f] == nil {
					baks[f] = map[string]bool{}
				}
				baks[f][line] = true
				continue
			}
			lines = append(lines, tmpRE.ReplaceAllString(p, ".hawiz-tmp.LEFT-BEHIND")+" "+line)
		}
		for f, set := range baks {
			var l []string
			for c := range set {
				l = append(l, c)
			}
			sort.Strings(l)
			lines = append(lines, fmt.Sprintf("%s.hawiz-*.bak: %s", f, strings.Join(l, " | ")))
		}
		if s.extra != nil {
			lines = append(lines, s.extra(i)...)
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintf(&b, "%s %s\n", s.l.Names[i], l)
		}
	}
	for _, f := range s.local {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "local %s: absent\n", filepath.Base(f))
			continue
		}
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "local %s %s %v\n", filepath.Base(f), content(f, data), fi.Mode())
	}
	return b.String()
}

// installs counts the install log's "installed VERSION" lines by version.
func installs(log []byte) map[string]int {
	n := map[string]int{}
	for _, l := range strings.Split(string(log), "\n") {
		f := strings.Fields(l)
		for j := 0; j+1 < len(f); j++ {
			if f[j] == "installed" {
				n[f[j+1]]++
				break
			}
		}
	}
	return n
}

func installLine(log []byte) string {
	n := installs(log)
	var vs []string
	for v, c := range n {
		vs = append(vs, fmt.Sprintf("%s×%d", v, c))
	}
	sort.Strings(vs)
	return "installs: " + strings.Join(vs, " ")
}

// twice: an error naming every host whose install log shows a version installed more
// than once.
func twice(l *Lab, t *testing.T, n int, logPath string) error {
	var errs []string
	for i := 0; i < n; i++ {
		b, _ := os.ReadFile(l.hostPath(t, i, logPath))
		for v, c := range installs(b) {
			if c > 1 {
				errs = append(errs, fmt.Sprintf("%s: %s installed %d times:\n%s", l.Names[i], v, c, b))
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// ---- the procedures -------------------------------------------------------------------

const mmInstallLog = "/usr/share/mmcentral-standin/install.log"

func mmSnapshotter(m *mmLab, upgrade bool) *snapshotter {
	roots := []snapRoot{
		{path: "/var/mmsuite/mmcentral", skip: regexp.MustCompile(`^/var/mmsuite/mmcentral/logs/.`)},
		{path: "/usr/share/mmcentral-standin", skip: regexp.MustCompile(`/install\.log$`)},
		{path: "/usr/sbin/mmcentrald"},
		{path: "/etc/hawiz-lab/services/mmcentral"},
	}
	if upgrade { // the uploaded and extracted installer
		roots = append(roots, snapRoot{path: "/tmp", only: regexp.MustCompile(`^/tmp/(micetro|hawiz-stage-)`)})
	}
	return &snapshotter{l: m.Lab, t: m.t, roots: roots,
		extra: func(i int) []string {
			out, _, _ := rawRun(m.t, m.rawClient(m.t, i, m.User), "systemctl is-active mmcentral", nil)
			b, _ := os.ReadFile(m.hostPath(m.t, i, mmInstallLog))
			return []string{"service mmcentral: " + strings.TrimSpace(out), installLine(b)}
		},
	}
}

// chaosMicetroHA: micetro-central-ha on 3 members.
func chaosMicetroHA(t *testing.T) *chaosProc {
	m := setupMicetro(t, 3)
	s := mmSnapshotter(m, false).capture(3)
	return &chaosProc{t: t, lab: m.Lab, dir: m.dir, state: m.state,
		run:      []string{"run", "micetro-central-ha", "-a", m.haAnswers()},
		confirms: manualIDs(3),
		snap:     func() string { return s.snapshot(3) },
		after:    func() error { return twice(m.Lab, t, 3, mmInstallLog) },
		backups:  func() error { return s.lostOriginals(3) },
	}
}

// mmInstaller is the stand-in installer package for 10.3.6, written once per test.
func mmInstaller(t *testing.T, dir string) string {
	pkg := filepath.Join(dir, mmcentral.InstallerName("10.3.6"))
	if _, err := os.Stat(pkg); err == nil {
		return pkg
	}
	f, err := os.Create(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := mmcentral.WriteInstaller(f, "10.3.6"); err != nil {
		t.Fatal(err)
	}
	return pkg
}

// chaosMicetroUpgrade: micetro-central-upgrade 10.3.5 → 10.3.6 on 3 members.
func chaosMicetroUpgrade(pkg string) func(t *testing.T) *chaosProc {
	return func(t *testing.T) *chaosProc {
		m := setupMicetro(t, 3)
		for i := 0; i < 3; i++ { // a previous run's upload would be "already there"
			old, _ := filepath.Glob(m.hostPath(t, i, "/tmp/micetro*"))
			stage, _ := filepath.Glob(m.hostPath(t, i, "/tmp/hawiz-stage-*"))
			old = append(old, stage...)
			for _, f := range old {
				os.RemoveAll(f)
			}
		}
		a := m.answers("upgrade.yaml", nil, fmt.Sprintf("installer:\n  local: %s\n  expected_version: 10.3.6\n", pkg))
		s := mmSnapshotter(m, true).capture(3)
		return &chaosProc{t: t, lab: m.Lab, dir: m.dir, state: m.state,
			run:      []string{"run", "micetro-central-upgrade", "-a", a, "--confirm", "automatic-update-off", "--confirm", "confirm-active-member"},
			confirms: []string{"automatic-update-off", "confirm-active-member", "verify-ha-states"},
			snap:     func() string { return s.snapshot(3) },
			after:    func() error { return twice(m.Lab, t, 3, mmInstallLog) },
			backups:  func() error { return s.lostOriginals(3) },
		}
	}
}

func omSnapshotter(o *omLab, local ...string) *snapshotter {
	return &snapshotter{l: o.Lab, t: o.t,
		roots: []snapRoot{
			{path: "/etc/mongodb-mms"},
			{path: "/opt/mongodb/mms", skip: regexp.MustCompile(`^/opt/mongodb/mms/(logs|tmp)/.`)},
			{path: "/etc/init.d/mongodb-mms"},
			{path: "/tmp", only: regexp.MustCompile(`^/tmp/(hawiz-upgrade-|hawiz-stage-)`)}, // the uploaded package
		},
		keys: regexp.MustCompile(`gen\.key|key\.before-upgrade`),
		norm: func(b []byte) []byte {
			b = bytes.ReplaceAll(b, []byte(o.lbURL), []byte("LB-URL"))
			return bytes.ReplaceAll(b, []byte(o.tag), []byte("APPDB-TAG"))
		},
		extra: func(i int) []string {
			st, _ := o.sh(i, "dpkg-query -W -f='${Status} ${Version}' mongodb-mms")
			svc := "stopped"
			if o.running(i) {
				svc = "running"
			}
			b, _ := os.ReadFile(o.hostPath(o.t, i, omstandin.InstallLog))
			return []string{"package: " + st, "service mongodb-mms: " + svc, installLine(b)}
		},
		local: local,
	}
}

// chaosOMHA: opsmanager-ha on 3 servers, gen_key.mode first-server (with backup_to)
// or generate.
func chaosOMHA(mode string) func(t *testing.T) *chaosProc {
	return func(t *testing.T) *chaosProc {
		o := setupOM(t, 3, false)
		gk := "  mode: " + mode + "\n"
		var local []string
		if mode == "first-server" {
			backup := filepath.Join(o.dir, "backup", "gen.key")
			gk += "  backup_to: " + backup + "\n"
			local = append(local, backup)
		}
		s := omSnapshotter(o, local...).capture(3)
		return &chaosProc{t: t, lab: o.Lab, dir: o.dir, state: o.state,
			env:     []string{"HAWIZ_APPDB_PASSWORD=" + omPassword},
			run:     []string{"run", "opsmanager-ha", "-a", o.answers("ha.yaml", gk, "")},
			snap:    func() string { return s.snapshot(3) },
			after:   func() error { return twice(o.Lab, t, 3, omstandin.InstallLog) },
			backups: func() error { return s.lostOriginals(3) },
		}
	}
}

// chaosOMUpgrade: opsmanager-ha (uninterrupted, first-server), then opsmanager-upgrade
// 7.0.0 → 7.0.1 of the package in deb.
func chaosOMUpgrade(deb string) func(t *testing.T) *chaosProc {
	return func(t *testing.T) *chaosProc {
		o := setupOM(t, 3, false)
		a := o.answers("ha.yaml", "  mode: first-server\n", "")
		if code, evs, stderr := o.hawiz(nil, "run", "opsmanager-ha", "-a", a, "--yes", "--state", o.state); code != 0 {
			t.Fatalf("opsmanager-ha before the upgrade: exit %d:\n%s\n%s", code, stderr, evString(evs))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\nservers:\n", o.User, o.Key, o.knownHostsCopy(t))
		for i := 0; i < 3; i++ {
			fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", o.Names[i], o.Addrs[i], o.Port)
		}
		keyBackup := filepath.Join(o.dir, "key.before-upgrade")
		fmt.Fprintf(&b, "upgrade:\n  package: %s\n  version: 7.0.1\nstart_timeout: 60s\ngen_key_backup_to: %s\nload_balancer:\n  url: %s\n", deb, keyBackup, o.lbURL)
		ua := filepath.Join(o.dir, "upgrade.yaml")
		if err := os.WriteFile(ua, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			old, _ := filepath.Glob(o.hostPath(t, i, "/tmp/hawiz-upgrade-*"))
			stage, _ := filepath.Glob(o.hostPath(t, i, "/tmp/hawiz-stage-*"))
			old = append(old, stage...)
			for _, f := range old {
				os.RemoveAll(f)
			}
		}
		s := omSnapshotter(o, keyBackup).capture(3)
		return &chaosProc{t: t, lab: o.Lab, dir: o.dir, state: filepath.Join(o.dir, "upgrade.json"),
			env:     []string{"HAWIZ_APPDB_PASSWORD=" + omPassword},
			run:     []string{"run", "opsmanager-upgrade", "-a", ua},
			snap:    func() string { return s.snapshot(3) },
			after:   func() error { return twice(o.Lab, t, 3, omstandin.InstallLog) },
			backups: func() error { return s.lostOriginals(3) },
		}
	}
}

// ---- R1 ------------------------------------------------------------------------------

type chaosCase struct {
	name  string
	setup func(t *testing.T) *chaosProc
}

func TestChaosR1KillAnywhereResumes(t *testing.T) {
	needLab(t).needHosts(t, 3)
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("HAWIZ_CHAOS_SEED"), 10, 64); err == nil {
		seed = s
	}
	full := os.Getenv("HAWIZ_CHAOS_FULL") == "1"
	randoms := envInt("HAWIZ_CHAOS_RANDOM", map[bool]int{true: 20, false: 2}[full])
	t.Logf("HAWIZ_CHAOS_SEED=%d HAWIZ_CHAOS_FULL=%v, %d random instants per procedure", seed, full, randoms)

	// Built once: the installer packages every trial uploads (the same bytes each time).
	pkgDir := t.TempDir()
	mmPkg := mmInstaller(t, pkgDir)
	var deb bytes.Buffer
	if err := omstandin.WriteDeb(&deb, "7.0.1", buildOMStandin(t)); err != nil {
		t.Fatal(err)
	}
	omDeb := filepath.Join(pkgDir, "mongodb-mms_7.0.1_amd64.deb")
	if err := os.WriteFile(omDeb, deb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []chaosCase{
		{"micetro-central-ha", chaosMicetroHA},
		{"micetro-central-upgrade", chaosMicetroUpgrade(mmPkg)},
		{"opsmanager-ha-first-server", chaosOMHA("first-server")},
		{"opsmanager-ha-generate", chaosOMHA("generate")},
		{"opsmanager-upgrade", chaosOMUpgrade(omDeb)},
	}
	only := map[string]bool{}
	for _, n := range strings.Split(os.Getenv("HAWIZ_CHAOS_PROCS"), ",") {
		if n != "" {
			only[n] = true
		}
	}
	var summary []string
	for ci, c := range cases {
		if len(only) > 0 && !only[c.name] {
			continue
		}
		t0 := time.Now()
		rng := mrand.New(mrand.NewPCG(seed, uint64(ci)))
		line := chaosR1(t, c, seed, full, randoms, rng)
		summary = append(summary, fmt.Sprintf("%s (%v)", line, time.Since(t0).Round(time.Second)))
	}
	for _, s := range summary {
		t.Log(s)
	}
}

// chaosR1 runs one procedure's reference and its kills; it returns the summary line.
func chaosR1(t *testing.T, c chaosCase, seed uint64, full bool, randoms int, rng *mrand.Rand) string {
	var want string
	var refDur time.Duration
	boundaries := 0
	t.Run(c.name+"/reference", func(t *testing.T) {
		p := c.setup(t)
		t0 := time.Now()
		_, boundaries = p.full(nil, time.Time{})
		refDur = time.Since(t0)
		want = p.snap()
		t.Logf("uninterrupted run %v, %d step boundaries; end state:\n%s", refDur.Round(time.Millisecond), boundaries, want)
		if err := stateOK(t, p.state); err != nil {
			t.Error(err)
		}
		if err := p.after(); err != nil {
			t.Errorf("the uninterrupted run: %v", err)
		}
		if err := p.backups(); err != nil {
			t.Errorf("the uninterrupted run: %v", err)
		}
		if full { // the snapshot must not depend on anything but the procedure
			p2 := c.setup(t)
			t1 := time.Now()
			p2.full(nil, time.Time{})
			refDur = min(refDur, time.Since(t1))
			if got := p2.snap(); got != want {
				t.Errorf("two uninterrupted runs differ:\n%s", lineDiff(want, got))
			}
		}
	})
	if boundaries == 0 || want == "" {
		t.Errorf("R1 %s: no reference run", c.name)
		return fmt.Sprintf("R1 %s: no reference run", c.name)
	}
	stride := max(1, envInt("HAWIZ_CHAOS_STRIDE", map[bool]int{true: 1, false: (boundaries + 3) / 4}[full]))
	// backupOnly counts the trials whose only fault was a lost pre-run backup (and the
	// backup lines of the snapshot that follow from it): reported apart, still failed.
	tried, survived, backupOnly := 0, 0, 0
	trial := func(name string, kill func(e event, n int) bool, after time.Duration) (ran bool) {
		t.Run(c.name+"/"+name, func(t *testing.T) {
			p := c.setup(t)
			var deadline time.Time
			if after > 0 {
				deadline = time.Now().Add(after)
			}
			killed, _ := p.full(kill, deadline)
			if !killed {
				t.Logf("the run ended before the kill (not counted)")
				return
			}
			ran = true
			tried++
			other, lost := false, false
			problem := func(err error, backup bool, format string, args ...any) {
				if err == nil {
					return
				}
				t.Errorf(format, append(args, err)...)
				if backup {
					lost = true
				} else {
					other = true
				}
			}
			problem(stateOK(t, p.state), false, "after the kill: %v")
			problem(p.after(), false, "after the kill: %v")
			problem(p.backups(), true, "after the kill: %v")
			n, err := p.finish()
			if err != nil {
				t.Fatal(err)
			}
			problem(stateOK(t, p.state), false, "after %d resume(s): %v", n)
			problem(p.after(), false, "after %d resume(s): %v", n)
			problem(p.backups(), true, "after %d resume(s): %v", n)
			if got := p.snap(); got != want {
				d := lineDiff(want, got)
				backupLines := !regexp.MustCompile(`(?m)^[-+] .*$`).MatchString(regexp.MustCompile(`(?m)^[-+] .*\.hawiz-\*\.bak: .*\n?`).ReplaceAllString(d, ""))
				problem(errors.New(d), backupLines, "hosts differ from the uninterrupted run after %d resume(s):\n%v", n)
			}
			switch {
			case !t.Failed():
				survived++
			case lost && !other:
				backupOnly++
			}
		})
		return ran
	}
	first := 1 + int(seed%uint64(stride))
	nb := 0
	for k := first; k <= boundaries; k += stride {
		nb++
		trial(fmt.Sprintf("boundary-%02d", k), func(e event, n int) bool { return e.Kind == "step-done" && n == k }, 0)
	}
	for r := 0; r < randoms; r++ {
		d := time.Duration(rng.Int64N(int64(refDur)))
		// A run faster than the reference may end first: draw again, earlier.
		for try := 0; try < 3 && !trial(fmt.Sprintf("random-%02d-%v", r+1, d.Round(time.Millisecond)), nil, d); try++ {
			d = time.Duration(rng.Int64N(int64(d) + 1))
		}
	}
	line := fmt.Sprintf("R1 %s: %d tried, %d survived (seed %d; %d boundaries, %d killed at (every %d from %d), %d random instants in %v)",
		c.name, tried, survived, seed, boundaries, nb, stride, first, randoms, refDur.Round(time.Millisecond))
	if backupOnly > 0 {
		line += fmt.Sprintf("; %d of the failed only lost a file's pre-run backup", backupOnly)
	}
	t.Log(line)
	return line
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := map[string]int{}, map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		w[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		g[l]++
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] > 0 {
			g[l]--
			continue
		}
		fmt.Fprintf(&b, "- %s\n", l)
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] > 0 {
			w[l]--
			continue
		}
		fmt.Fprintf(&b, "+ %s\n", l)
	}
	return b.String()
}

// ---- R6 ------------------------------------------------------------------------------

func TestChaosR6SecondRunRefused(t *testing.T) {
	m := setupMicetro(t, 3)
	a := m.haAnswers()
	cmd := exec.Command(buildHawiz(t), "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state, "--json")
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+m.dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stop the first run (SIGSTOP) once it holds the lock and has started a step.
	buf := make([]byte, 4096)
	var seen strings.Builder
	for !strings.Contains(seen.String(), `"step-start"`) {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("first run: %v\n%s", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	tried, survived := 0, 0
	for _, args := range [][]string{
		{"run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state},
		{"resume", "--state", m.state, "--yes"},
	} {
		tried++
		code, _, stderr := m.hawiz(nil, args...)
		if code == 4 && strings.Contains(stderr, m.state) && (strings.Contains(stderr, "lock") || strings.Contains(stderr, "holds")) {
			survived++
		} else {
			t.Errorf("second %s: exit %d (want 4 naming the state and the lock):\n%s", args[0], code, stderr)
		}
		t.Logf("second %s: exit %d: %s", args[0], code, strings.TrimSpace(stderr))
	}
	cmd.Process.Signal(syscall.SIGCONT)
	go func() {
		for {
			if _, err := out.Read(buf); err != nil {
				return
			}
		}
	}()
	cmd.Wait()
	if err := stateOK(t, m.state); err != nil {
		t.Error(err)
	}
	t.Logf("R6 two hawiz on one state (run + run, run + resume): %d tried, %d survived", tried, survived)
}

// ---- helpers: inotify, freezing a host's processes, lab/sshd.sh ------------------------

// inotifyNames watches dir for mask; next(d) returns the name of the next event's
// file, false on timeout.
func inotifyNames(t *testing.T, dir string, mask uint32) (next func(time.Duration) (string, bool), closeFn func()) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: Close ends a pending Read
	ch := make(chan string, 256)
	go func() {
		defer close(ch)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				l := int(uint32(buf[off+12]) | uint32(buf[off+13])<<8 | uint32(buf[off+14])<<16 | uint32(buf[off+15])<<24)
				name := string(bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+l], "\x00"))
				ch <- name
				off += syscall.SizeofInotifyEvent + l
			}
		}
	}()
	return func(d time.Duration) (string, bool) {
		select {
		case n, ok := <-ch:
			return n, ok
		case <-time.After(d):
			return "", false
		}
	}, func() { f.Close() }
}

type procRef struct {
	pid   int
	start string
}

// freeze SIGSTOPs every process below host i's listening sshd (the connections' sshd
// processes and the commands they run), found from the lab's saved PID, never by name.
func (l *Lab) freeze(t testing.TB, i int) []procRef {
	var out []procRef
	for _, p := range descendants(l.sshdPID(t, i)) {
		if st := startTime(p); st != "" && syscall.Kill(p, syscall.SIGSTOP) == nil {
			out = append(out, procRef{p, st})
		}
	}
	return out
}

// thaw SIGCONTs the frozen processes that still run (the same process: start time).
// sudo relays a child's stop to itself once it runs again (it saw the child stopped),
// so stopped ones get SIGCONT again until none has been stopped for 200 ms (2 s at most).
func thaw(ps []procRef) {
	deadline := time.Now().Add(2 * time.Second)
	calm := time.Now()
	for time.Now().Before(deadline) && time.Since(calm) < 200*time.Millisecond {
		for _, p := range ps {
			if startTime(p.pid) != p.start {
				continue
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid)); err == nil {
				st := string(b)
				if f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:]); len(f) > 0 && (f[0] == "T" || f[0] == "t") {
					calm = time.Now()
				}
			}
			syscall.Kill(p.pid, syscall.SIGCONT)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procGone: the process exited (a zombie counts).
func procGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

// labSh runs lab/sshd.sh ARGS… for this lab.
func (l *Lab) labSh(args ...string) (string, error) {
	script, err := filepath.Abs("../lab/sshd.sh")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "HAWIZ_LAB_DIR="+l.Dir)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// pauseAfterTempCopy makes host i's cp, for a copy to one of hawiz's temp files
// (".hawiz-tmp."), stop once the copy is made until resume is called (30 s at
// most): a wrapper bind-mounted over /usr/bin/cp in the host's own mount
// namespace, removed again at the test's end. paused(d) waits until a cp has
// paused.
func (l *Lab) pauseAfterTempCopy(t *testing.T, i int) (paused func(time.Duration) bool, resume func()) {
	const dir = "/var/log/hawiz-lab"
	host := l.hostPath(t, i, dir)
	real, err := os.ReadFile("/usr/bin/cp")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(host+"/cp.real", real, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\n" + dir + "/cp.real \"$@\" || exit\n" +
		"case \"$*\" in *.hawiz-tmp.*)\n" +
		"  if [ -e " + dir + "/cp-pause ]; then\n" +
		"    : >" + dir + "/cp-paused; n=0\n" +
		"    while [ -e " + dir + "/cp-pause ] && [ $n -lt 1500 ]; do sleep 0.02; n=$((n+1)); done\n" +
		"  fi;;\n" +
		"esac\n"
	if err := os.WriteFile(host+"/cp-wrap", []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(l.initPID(t, i))
	if out, err := exec.Command("nsenter", "-t", pid, "-m", "-p", "--", "mount", "--bind", dir+"/cp-wrap", "/usr/bin/cp").CombinedOutput(); err != nil {
		t.Fatalf("bind-mount the cp wrapper on %s: %v %s", l.Names[i], err, out)
	}
	t.Cleanup(func() {
		// -p too: umount checks the host's /proc/self/mountinfo.
		if out, err := exec.Command("nsenter", "-t", pid, "-m", "-p", "--", "umount", "/usr/bin/cp").CombinedOutput(); err != nil {
			t.Errorf("%s: the cp wrapper is still mounted: %v %s", l.Names[i], err, out)
			return
		}
		for _, f := range []string{"cp-pause", "cp-paused", "cp-wrap", "cp.real"} {
			os.Remove(host + "/" + f)
		}
	})
	if err := os.WriteFile(host+"/cp-pause", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return func(d time.Duration) bool {
			return waitFor(d, func() bool { _, err := os.Stat(host + "/cp-paused"); return err == nil })
		}, func() {
			once.Do(func() { os.Remove(host + "/cp-pause") })
		}
}

// ---- R8 ------------------------------------------------------------------------------

// TestChaosR8EditBetweenReadAndWrite: copy-preferences-central2 reads central2's
// preferences.cfg, then writes the copy with a compare-and-swap on what it read. The
// operator's edit lands (a) right after hawiz's read, (b) after the write made its
// backup of the file, before the compare and rename (the host's cp pauses after
// that copy, so the order holds on any machine). Both: exit 1, the file named, the operator's edit
// kept, the backup kept, no temp file.
func TestChaosR8EditBetweenReadAndWrite(t *testing.T) {
	tried, survived := 0, 0
	for _, when := range []string{"after-read", "after-backup"} {
		tried++
		if t.Run(when, func(t *testing.T) { r8(t, when) }) {
			survived++
		}
	}
	t.Logf("R8 edit between read and write (micetro-central-ha copy-preferences-central2: after the read, after the backup): %d tried, %d survived", tried, survived)
}

func r8(t *testing.T, when string) {
	m := setupMicetro(t, 2)
	a := m.haAnswers()
	code, _, stderr := m.hawiz(nil, "run", "micetro-central-ha", "-a", a, "--yes", "--state", m.state)
	if code != 3 {
		t.Fatalf("run: exit %d %s", code, stderr)
	}
	target := m.hostPath(t, 1, mmPrefs)
	dir := filepath.Dir(target)
	edit := "<!-- edited by the operator meanwhile -->\n"
	var before []byte
	var editedAt time.Time
	var backups []string
	var wg sync.WaitGroup
	doEdit := func() {
		f, err := os.OpenFile(target, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			f.WriteString(edit)
			f.Close()
			editedAt = time.Now()
		}
	}
	code, evs, stderr := m.hawiz(func(e event) bool {
		if e.Kind != "apply" || e.Step != "copy-preferences-central2" {
			return false
		}
		before, _ = os.ReadFile(target)
		wg.Add(1)
		if when == "after-read" {
			// The Stat the compare-and-swap is based on closes the file.
			wait, closeFn := inotifyWatch(t, target, syscall.IN_CLOSE_NOWRITE|syscall.IN_CLOSE_WRITE)
			go func() {
				defer wg.Done()
				defer closeFn()
				if wait(10 * time.Second) {
					doEdit()
				}
			}()
			return false
		}
		// The write script copies the file to a private temp name (cp -p), renames
		// it to the backup's name, compares the file with what hawiz read and
		// renames the new content over it. The host's cp pauses once it has
		// made that copy, so the edit lands after the backup was taken and before
		// the compare, in that order on any machine.
		paused, resume := m.pauseAfterTempCopy(t, 1)
		go func() {
			defer wg.Done()
			defer resume()
			if paused(10 * time.Second) {
				doEdit()
			}
		}()
		return false
	}, confirmArgs(m.state, 2)...)
	wg.Wait()
	backups, _ = filepath.Glob(m.hostPath(t, 1, mmPrefs+".hawiz-*.bak"))
	all := stderr + eventsText(evs)
	got, _ := os.ReadFile(target)
	switch {
	case editedAt.IsZero():
		t.Fatalf("the edit was not made (exit %d):\n%s", code, all)
	case code != 1:
		t.Errorf("exit %d, want 1 (the write refused):\n%s", code, all)
	case !strings.Contains(all, mmPrefs) || !strings.Contains(all, "changed since it was read"):
		t.Errorf("the refusal does not name the file:\n%s", all)
	case string(got) != string(before)+edit:
		t.Errorf("the operator's edit was not kept:\n%s", got)
	}
	if when == "after-backup" {
		kept := false
		for _, b := range backups {
			if data, _ := os.ReadFile(b); string(data) == string(before) {
				kept = true
			}
		}
		if !kept {
			t.Errorf("the backup of the previous content was not kept (backups now: %v)", backups)
		}
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".preferences.cfg.hawiz-tmp.*")); len(tmps) > 0 {
		t.Errorf("temp files left: %v", tmps)
	}
	if err := stateOK(t, m.state); err != nil {
		t.Error(err)
	}
	t.Logf("%s: exit %d; %d backup(s) on %s; message: %s", when, code, len(backups), m.Names[1], firstLine(stderr))
}

// inotifyWatch watches file for mask; wait(d) returns at the next event.
func inotifyWatch(t *testing.T, file string, mask uint32) (wait func(time.Duration) bool, closeFn func()) {
	next, closeFn := inotifyNames(t, file, mask)
	return func(d time.Duration) bool { _, ok := next(d); return ok }, closeFn
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// ---- R2 ------------------------------------------------------------------------------

// r2Case: while hawiz runs step on host (0-based), a file matching match appears in
// dir on that host (the command is under way): the host's processes are frozen, its
// listening sshd and every connection process are killed (lab/sshd.sh kill-sshd N
// --connections), the command is let go on. mid says whether the file is whole
// (old or new) right after; end checks the hosts after the final resume.
type r2Case struct {
	name  string
	setup func(t *testing.T) *chaosProc
	host  int
	step  string
	dir   string
	match *regexp.Regexp
	seen  func(t *testing.T, p *chaosProc) // optional: when step's apply on host begins
	mid   func(t *testing.T, p *chaosProc) error
	end   func(t *testing.T, p *chaosProc) error
}

func TestChaosR2SSHDKilledMidCommandRestarted(t *testing.T) {
	l := needLab(t)
	l.needHosts(t, 3)
	if out, err := exec.Command("grep", "-q", "sshd.down", filepath.Join(l.Dir, "bin", "ns-init.sh")).CombinedOutput(); err != nil {
		t.Fatalf("this lab was started by an older lab/sshd.sh (no kill-sshd/start-sshd); restart it: %v %s", err, out)
	}
	pkg := mmInstaller(t, t.TempDir())
	var prefsBefore []byte
	cases := []r2Case{
		{
			name: "micetro-central-ha/preferences.cfg-write", setup: chaosMicetroHA, host: 1,
			step: "copy-preferences-central2", dir: filepath.Dir(mmPrefs), match: regexp.MustCompile(`^\.preferences\.cfg\.hawiz-tmp\.`),
			seen: func(t *testing.T, p *chaosProc) { prefsBefore, _ = os.ReadFile(p.lab.hostPath(t, 1, mmPrefs)) },
			mid: func(t *testing.T, p *chaosProc) error {
				got, _ := os.ReadFile(p.lab.hostPath(t, 1, mmPrefs))
				if string(got) != string(prefsBefore) && string(got) != wantPrefs(1) {
					return fmt.Errorf("preferences.cfg half-written:\n%s", got)
				}
				return nil
			},
			end: func(t *testing.T, p *chaosProc) error {
				for i := 0; i < 3; i++ {
					if got, _ := os.ReadFile(p.lab.hostPath(t, i, mmPrefs)); string(got) != wantPrefs(i) {
						return fmt.Errorf("%s: preferences.cfg\n%s", p.lab.Names[i], got)
					}
				}
				return nil
			},
		},
		{
			name: "opsmanager-ha/gen.key-write", setup: chaosOMHA("first-server"), host: 2,
			step: "copy-gen-key", dir: "/etc/mongodb-mms", match: regexp.MustCompile(`^\.gen\.key\.hawiz-tmp\.`),
			mid: func(t *testing.T, p *chaosProc) error {
				k0, _ := os.ReadFile(p.lab.hostPath(t, 0, "/etc/mongodb-mms/gen.key"))
				k2, err := os.ReadFile(p.lab.hostPath(t, 2, "/etc/mongodb-mms/gen.key"))
				if err == nil && !bytes.Equal(k0, k2) {
					return fmt.Errorf("%s: gen.key half-written (%d bytes, not the first server's %d)", p.lab.Names[2], len(k2), len(k0))
				}
				return nil
			},
			end: func(t *testing.T, p *chaosProc) error {
				k0, _ := os.ReadFile(p.lab.hostPath(t, 0, "/etc/mongodb-mms/gen.key"))
				for i := 0; i < 3; i++ {
					k, _ := os.ReadFile(p.lab.hostPath(t, i, "/etc/mongodb-mms/gen.key"))
					if len(k0) != 24 || !bytes.Equal(k, k0) {
						return fmt.Errorf("%s: gen.key (%d bytes) is not the first server's (%d bytes)", p.lab.Names[i], len(k), len(k0))
					}
					if out, code := rawSh(t, p.lab, i, "sudo service mongodb-mms status"); code != 0 {
						return fmt.Errorf("%s: Ops Manager not running: %s", p.lab.Names[i], out)
					}
				}
				return nil
			},
		},
		{
			name: "micetro-central-upgrade/installer", setup: chaosMicetroUpgrade(pkg), host: 1,
			step: "upgrade-central2", dir: "/usr/share/mmcentral-standin", match: regexp.MustCompile(`^VERSION\.tmp$`),
			mid: func(t *testing.T, p *chaosProc) error {
				v, _ := os.ReadFile(p.lab.hostPath(t, 1, "/usr/share/mmcentral-standin/VERSION"))
				if s := string(v); s != "10.3.5\n" && s != "10.3.6\n" {
					return fmt.Errorf("VERSION half-written: %q", v)
				}
				return nil
			},
			end: func(t *testing.T, p *chaosProc) error {
				for i := 0; i < 3; i++ {
					v, _ := os.ReadFile(p.lab.hostPath(t, i, "/usr/share/mmcentral-standin/VERSION"))
					log, _ := os.ReadFile(p.lab.hostPath(t, i, mmInstallLog))
					if string(v) != "10.3.6\n" || installs(log)["10.3.6"] != 1 {
						return fmt.Errorf("%s: version %q, install log:\n%s", p.lab.Names[i], v, log)
					}
					if out, code := rawSh(t, p.lab, i, "systemctl is-active mmcentral"); code != 0 {
						return fmt.Errorf("%s: mmcentral %s", p.lab.Names[i], out)
					}
				}
				return nil
			},
		},
	}
	tried, survived := 0, 0
	var lines []string
	for _, c := range cases {
		tried++
		var line string
		if t.Run(c.name, func(t *testing.T) { line = r2(t, c) }) {
			survived++
		}
		lines = append(lines, c.name+": "+line)
	}
	for _, l := range lines {
		t.Log(l)
	}
	t.Logf("R2 host's sshd killed mid-command, then restarted: %d tried, %d survived", tried, survived)
}

func wantPrefs(i int) string {
	return mmcentral.SamplePrefs + fmt.Sprintf(`<ClusterMemberName value="central%d"/>`, i+1) + "\n"
}

func rawSh(t *testing.T, l *Lab, i int, cmd string) (string, int) {
	c, err := l.dialRaw(i, l.User)
	if err != nil {
		return err.Error(), -1
	}
	defer c.Close()
	out, _, code := rawRun(t, c, cmd, nil)
	return strings.TrimSpace(out), code
}

func r2(t *testing.T, c r2Case) (summary string) {
	p := c.setup(t)
	l, name, n := p.lab, p.lab.Names[c.host], strconv.Itoa(c.host+1)
	t.Cleanup(func() { // never leave the lab with a host's sshd down
		if out, _ := l.labSh("status"); strings.Contains(out, name+": running (init pid") && strings.Contains(out, "sshd down") {
			l.labSh("start-sshd", n)
		}
	})
	var (
		wg      sync.WaitGroup
		armed   bool
		killOut string
		killErr error
		frozen  int
		killAt  time.Time
	)
	arm := func() {
		armed = true
		if c.seen != nil {
			c.seen(t, p)
		}
		next, closeFn := inotifyNames(t, l.hostPath(t, c.host, c.dir), syscall.IN_CREATE)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer closeFn()
			for {
				f, ok := next(30 * time.Second)
				if !ok {
					return
				}
				if c.match.MatchString(f) {
					ps := l.freeze(t, c.host)
					frozen = len(ps)
					killAt = time.Now()
					killOut, killErr = l.labSh("kill-sshd", n, "--connections")
					thaw(ps)
					return
				}
			}
		}()
	}
	args := p.runArgs()
	var code int
	var evs []event
	var stderr string
	t0 := time.Now()
	for round := 0; round < 4; round++ {
		code, evs, stderr = p.invoke(func(e event) bool {
			if !armed && e.Kind == "apply" && e.Step == c.step && e.Host == name {
				arm()
			}
			return false
		}, time.Time{}, args...)
		if code == 3 && !armed {
			args = p.resumeArgs()
			continue
		}
		break
	}
	wg.Wait()
	if killAt.IsZero() {
		t.Fatalf("no kill: %s never appeared while %s ran on %s (exit %d)\n%s", c.match, c.step, name, code, eventsText(evs))
	}
	if killErr != nil {
		t.Fatalf("lab/sshd.sh kill-sshd %s --connections: %v\n%s", n, killErr, killOut)
	}
	t.Logf("%s (%d processes of %s frozen, %v after the start)", killOut, frozen, name, killAt.Sub(t0).Round(time.Millisecond))
	all := stderr + eventsText(evs)
	failed := false
	for _, e := range evs {
		if e.Kind == "step-failed" && e.Step == c.step && e.Host == name {
			failed = true
		}
	}
	if code == 0 || !failed || !strings.Contains(stderr, name) {
		t.Errorf("exit %d: want a failure of step %s naming host %s (event and message):\n%s", code, c.step, name, all)
	}
	t.Logf("hawiz: exit %d: %s", code, firstLine(stderr))
	if err := c.mid(t, p); err != nil {
		t.Error(err)
	}
	if err := stateOK(t, p.state); err != nil {
		t.Fatal(err)
	}
	// Resumed while the host's sshd is down: refused, naming the host.
	code2, evs2, stderr2 := p.invoke(nil, time.Time{}, p.resumeArgs()...)
	if code2 == 0 || !strings.Contains(stderr2+eventsText(evs2), name) {
		t.Errorf("resume with %s's sshd down: exit %d, want a failure naming it:\n%s%s", name, code2, stderr2, eventsText(evs2))
	}
	t.Logf("resume with sshd down: exit %d: %s", code2, firstLine(stderr2))
	if err := stateOK(t, p.state); err != nil {
		t.Fatal(err)
	}
	out, err := l.labSh("start-sshd", n)
	if err != nil {
		t.Fatalf("lab/sshd.sh start-sshd %s: %v\n%s", n, err, out)
	}
	t.Log(out)
	// Same host keys: the resume checks them against known_hosts (a changed key is exit 4).
	if _, err := p.finish(); err != nil {
		t.Fatalf("resume after the restart: %v", err)
	}
	if err := stateOK(t, p.state); err != nil {
		t.Fatal(err)
	}
	if err := c.end(t, p); err != nil {
		t.Fatal(err)
	}
	if err := p.after(); err != nil {
		t.Fatal(err)
	}
	if tmps, _ := filepath.Glob(l.hostPath(t, c.host, filepath.Join(c.dir, ".*.hawiz-tmp.*"))); len(tmps) > 0 {
		t.Errorf("temp files left after the resume: %v", tmps)
	}
	return fmt.Sprintf("hawiz exit %d naming %s and %s; resume with sshd down exit %d; after start-sshd the resume finished", code, name, c.step, code2)
}

// ---- R4 ------------------------------------------------------------------------------

// tmuxRun drives interactive hawiz runs in a tmux server of its own (socket in dir).
// Every distinct screen it sees is appended to dir/tmux-screens.txt, the pane's raw
// output (pipe-pane) to dir/NAME.pty.
type tmuxRun struct {
	t        *testing.T
	dir      string
	sock     string
	conf     string
	screens  *os.File
	nScreens int
	last     string
}

func newTmux(t *testing.T, dir string) *tmuxRun {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux: %v (Debian: apt-get install tmux; .ci/run installs it)", err)
	}
	x := &tmuxRun{t: t, dir: dir, sock: filepath.Join(dir, "tmux.sock"), conf: filepath.Join(dir, "tmux.conf")}
	if err := os.WriteFile(x.conf, []byte("set -g history-limit 100000\nset -g status off\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "tmux-screens.txt"))
	if err != nil {
		t.Fatal(err)
	}
	x.screens = f
	t.Cleanup(func() {
		// The processes this server runs (pane shells, hawiz, pipe-pane's cat) end
		// before the test's directory is removed.
		var ps []procRef
		if out, err := x.tmux("display-message", "-p", "#{pid}"); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(out)); err == nil {
				for _, p := range append([]int{pid}, descendants(pid)...) {
					ps = append(ps, procRef{p, startTime(p)})
				}
			}
		}
		x.tmux("kill-server")
		alive := func() bool {
			for _, p := range ps {
				if p.start != "" && startTime(p.pid) == p.start {
					return true
				}
			}
			return false
		}
		if !waitFor(3*time.Second, func() bool { return !alive() }) {
			for _, p := range ps {
				if p.start != "" && startTime(p.pid) == p.start {
					syscall.Kill(p.pid, syscall.SIGKILL)
				}
			}
			waitFor(3*time.Second, func() bool { return !alive() })
		}
		f.Close()
	})
	return x
}

func (x *tmuxRun) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", x.sock, "-f", x.conf}, args...)...).CombinedOutput()
	return string(out), err
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// start runs env… hawiz args… in a new session; the pane's output goes to dir/NAME.pty
// from the first byte (the command waits for a line on stdin until pipe-pane is set).
func (x *tmuxRun) start(name string, env []string, args ...string) {
	cmd := "read go; env"
	for _, e := range env {
		cmd += " " + shq(e)
	}
	cmd += " " + shq(buildHawiz(x.t))
	for _, a := range args {
		cmd += " " + shq(a)
	}
	cmd += `; echo "[hawiz exit $?]"; sleep 600`
	if out, err := x.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "48", "sh", "-c", cmd); err != nil {
		x.t.Fatalf("tmux new-session: %v %s", err, out)
	}
	if out, err := x.tmux("pipe-pane", "-o", "-t", name, "cat >> "+shq(filepath.Join(x.dir, name+".pty"))); err != nil {
		x.t.Fatalf("tmux pipe-pane: %v %s", err, out)
	}
	x.tmux("send-keys", "-t", name, "Enter")
}

// screen is the visible screen (wrapped lines joined), the cursor row and the history
// size.
func (x *tmuxRun) screen(name string) (lines []string, cy, hist int) {
	out, err := x.tmux("capture-pane", "-p", "-J", "-t", name)
	if err != nil {
		x.t.Fatalf("tmux capture-pane: %v %s", err, out)
	}
	pos, _ := x.tmux("display-message", "-p", "-t", name, "#{cursor_y} #{history_size}")
	fmt.Sscan(pos, &cy, &hist)
	if out != x.last {
		x.last = out
		x.nScreens++
		fmt.Fprintf(x.screens, "==== %s screen %d\n%s", name, x.nScreens, out)
	}
	return strings.Split(strings.TrimRight(out, "\n"), "\n"), cy, hist
}

// keep appends a labelled capture of the screen (for the record of a prompt).
func (x *tmuxRun) keep(name, label string) string {
	out, _ := x.tmux("capture-pane", "-p", "-t", name)
	fmt.Fprintf(x.screens, "==== %s: %s\n%s", name, label, out)
	return out
}

// history is the pane's whole scrollback and screen.
func (x *tmuxRun) history(name string) string {
	out, _ := x.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", name)
	fmt.Fprintf(x.screens, "==== %s: whole history\n%s", name, out)
	return out
}

type tmuxPrompt struct {
	re     *regexp.Regexp
	reply  string
	secret string // the secret's name when reply is one (typed, checked never on screen)
}

var exitRE = regexp.MustCompile(`\[hawiz exit (\d+)\]`)

// drive answers prompts at the cursor until hawiz exits; it returns the exit code (-1
// when hawiz did not end within timeout: an error) and how many times each prompt
// was answered. A prompt not in prompts fails the test.
func (x *tmuxRun) drive(name string, prompts []tmuxPrompt, timeout time.Duration) (int, map[string]int) {
	t := x.t
	answered := map[string]int{}
	deadline := time.Now().Add(timeout)
	lastKey := ""
	for time.Now().Before(deadline) {
		lines, cy, hist := x.screen(name)
		for _, l := range lines {
			if mm := exitRE.FindStringSubmatch(l); mm != nil {
				code, _ := strconv.Atoi(mm[1])
				x.history(name)
				return code, answered
			}
		}
		// The prompt is the last line with text (a prompt that fills the line leaves
		// the cursor on the next one; a secret prompt's newline comes after the answer).
		cur, at := "", 0
		for j := len(lines) - 1; j >= 0; j-- {
			if l := strings.TrimRight(lines[j], " "); l != "" {
				cur, at = l, j
				break
			}
		}
		key := fmt.Sprintf("%d/%d/%s", hist, at, cur)
		if cur == "" || key == lastKey {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var pr *tmuxPrompt
		for i := range prompts {
			if prompts[i].re.MatchString(cur) {
				pr = &prompts[i]
				break
			}
		}
		if pr == nil {
			if regexp.MustCompile(`(\? ?|: ?|\] ?)$`).MatchString(cur) && strings.Contains(x.keep(name, "unexpected prompt?"), cur) {
				// Give output a moment: a line ending in ':' may be output, not a prompt.
				time.Sleep(2 * time.Second)
				if l2, _, h2 := x.screen(name); h2 == hist && len(l2) > at && strings.TrimRight(l2[at], " ") == cur && len(strings.TrimSpace(strings.Join(l2[at+1:], ""))) == 0 {
					t.Fatalf("%s: unexpected prompt %q; its screen:\n%s", name, cur, lastLines(x.history(name), 40))
				}
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		// A secret prompt (short) waits with the cursor on its line; its line stays the
		// last with text after the answer's newline (and moves when that scrolls the
		// screen) until output follows: the cursor on a blank row means answered.
		if raw, err := x.tmux("capture-pane", "-p", "-t", name); err == nil && pr.secret != "" {
			if rows := strings.Split(raw, "\n"); cy < len(rows) && strings.TrimSpace(rows[cy]) == "" {
				time.Sleep(50 * time.Millisecond)
				continue
			}
		}
		lastKey = key
		answered[pr.re.String()]++
		if pr.secret != "" {
			x.keep(name, pr.secret+" prompt")
			x.tmux("send-keys", "-t", name, "-l", pr.reply)
			time.Sleep(100 * time.Millisecond)
			typed := x.keep(name, pr.secret+" typed, before Enter")
			if strings.Contains(typed, pr.reply) {
				t.Errorf("%s: the %s is on the screen while typed", name, pr.secret)
			}
			x.tmux("send-keys", "-t", name, "Enter")
			time.Sleep(100 * time.Millisecond)
			t.Logf("%s: %s typed at its prompt; the screen's last lines then:\n%s", name, pr.secret, lastLines(typed, 2))
			x.keep(name, pr.secret+" answered")
			continue
		}
		x.tmux("send-keys", "-t", name, "-l", pr.reply)
		x.tmux("send-keys", "-t", name, "Enter")
	}
	t.Errorf("%s: hawiz did not end within %v (prompts answered %v); its screen:\n%s", name, timeout, answered, lastLines(x.history(name), 40))
	return -1, answered
}

// secretForms: s raw, in hex (lower, upper) and base64 (standard and URL alphabets, at
// the three alignments it can have inside a longer encoding: the characters that only
// depend on s).
func secretForms(name string, s []byte) map[string][]byte {
	f := map[string][]byte{name: s}
	f[name+" (hex)"] = []byte(hex.EncodeToString(s))
	f[name+" (HEX)"] = []byte(strings.ToUpper(hex.EncodeToString(s)))
	for shift := 0; shift < 3; shift++ {
		for _, enc := range []struct {
			n string
			e *base64.Encoding
		}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
			full := enc.e.EncodeToString(append(make([]byte, shift), s...))
			from, to := 0, 4*((shift+len(s))/3)
			if shift > 0 {
				from = 4
			}
			if to-from >= 8 {
				f[fmt.Sprintf("%s (%s, offset %d)", name, enc.n, shift)] = []byte(full[from:to])
			}
		}
	}
	return f
}

// TestChaosR4NoSecretAnywhere runs, as the lab user whose sudo asks for a password and
// with the passphrase-protected key:
//   - micetro-central-ha interactively in tmux (sudo password and passphrase typed at
//     the prompts; the round-robin name created by an RFC 2136 UPDATE signed with a
//     TSIG key, confirmed at the prompt; manual steps answered "done"),
//   - opsmanager-ha (gen_key.mode generate) interactively in tmux (sudo password,
//     passphrase and App DB password typed),
//   - opsmanager-upgrade with --json and the secrets in HAWIZ_* variables (it backs
//     up gen.key to a local file),
//   - hawiz dns apply --tsig-file, hawiz status of every state,
//
// every one with --log. Then it reads gen.key from the lab host itself (the test's own
// SSH access) and searches every file hawiz wrote (state, transcript, evidence, debug
// logs), the captured stdout/stderr, every tmux screen and the panes' raw output for
// every secret in every form: 0 hits.
func TestChaosR4NoSecretAnywhere(t *testing.T) {
	l := needLab(t)
	l.needHosts(t, 3)
	if l.PWUser == "" || l.Password == "" || l.EncKey == "" {
		t.Fatal("lab without the password user or the encrypted key")
	}
	tried, survived := 0, 0
	for _, c := range []struct {
		name string
		f    func(t *testing.T, l *Lab)
	}{{"interactive-and-json-runs", r4Runs}, {"passphrase-after-host-key-prompt", r4HostKeysThenPassphrase}} {
		tried++
		if t.Run(c.name, func(t *testing.T) { c.f(t, l) }) {
			survived++
		}
	}
	t.Logf("R4 no secret anywhere: %d tried, %d survived", tried, survived)
}

func r4Runs(t *testing.T, l *Lab) {
	work := t.TempDir()
	x := newTmux(t, work)
	var outputs []string // stdout/stderr of non-tmux runs
	runH := func(env []string, args ...string) int {
		cmd := exec.Command(buildHawiz(t), args...)
		cmd.Env = append(os.Environ(), env...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		outputs = append(outputs, "stdout of hawiz "+strings.Join(args, " ")+"\n"+o.String(), "stderr of hawiz "+strings.Join(args, " ")+"\n"+e.String())
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	}

	// 1. micetro-central-ha, interactive, TSIG update.
	m := setupMicetro(t, 2)
	tsigBytes := make([]byte, 32)
	rand.Read(tsigBytes)
	tsig := base64.StdEncoding.EncodeToString(tsigBytes)
	keyFile := filepath.Join(work, "tsig.key")
	os.WriteFile(keyFile, []byte("key \"chaos-r4\" {\n\talgorithm hmac-sha256;\n\tsecret \""+tsig+"\";\n};\n"), 0o600)
	zone := "$TTL 300\nlab.hawiz.test. IN SOA ns1.lab.hawiz.test. hostmaster.lab.hawiz.test. 2026112201 3600 600 86400 60\nlab.hawiz.test. IN NS ns1.lab.hawiz.test.\nns1 IN A 127.0.0.1\n"
	dns, err := dnstest.Start(dnstest.Config{Zones: map[string]string{"lab.hawiz.test": zone}, Keys: map[string]string{"chaos-r4": tsig}, AllowUpdate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n  sudo: password\n", l.PWUser, l.EncKey, m.knownHostsCopy(t))
	b.WriteString("members:\n")
	for i := 0; i < 2; i++ {
		fmt.Fprintf(&b, "  - name: central%d\n    host: {name: %s, address: %s, port: %d}\n    priority: %d\n", i+1, l.Names[i], l.Addrs[i], l.Port, 10*(i+1))
	}
	fmt.Fprintf(&b, "dns:\n  name: central.lab.hawiz.test\n  servers: [%q]\n  resolver: 127.0.0.1:1\n  tsig_key_file: %s\n", dns.Addr(), keyFile)
	mmA := filepath.Join(work, "micetro-pw.yaml")
	os.WriteFile(mmA, []byte(b.String()), 0o600)
	mmState := filepath.Join(work, "micetro.json")
	tEnv := []string{"XDG_STATE_HOME=" + work, "NO_COLOR=1", "HOME=" + work}
	sudoRE := regexp.MustCompile(`sudo password: ?$`)
	passRE := regexp.MustCompile(`SSH key passphrase: ?$`)
	prompts := []tmuxPrompt{
		{re: sudoRE, reply: l.Password, secret: "sudo password"},
		{re: passRE, reply: l.Passphrase, secret: "key passphrase"},
		{re: regexp.MustCompile(`\[(y/N|Y/n)\] ?$`), reply: "y"},
		{re: regexp.MustCompile(`or 'stop' to stop here \(resume later\): ?$`), reply: "done"},
	}
	x.start("micetro", tEnv, "run", "micetro-central-ha", "-a", mmA, "--state", mmState, "--log", filepath.Join(work, "micetro-debug.log"))
	code, answered := x.drive("micetro", prompts, 90*time.Second)
	if code != 0 {
		t.Fatalf("interactive micetro-central-ha: exit %d (answers %v); its screen:\n%s", code, answered, lastLines(x.history("micetro"), 40))
	}
	if answered[sudoRE.String()] == 0 || answered[passRE.String()] == 0 {
		t.Errorf("micetro-central-ha: the sudo password or passphrase prompt was never answered: %v", answered)
	}
	for i := 0; i < 2; i++ {
		if got := m.read(i, mmPrefs); got != m.wantPrefs(i) {
			t.Errorf("%s: preferences.cfg after the interactive run:\n%s", l.Names[i], got)
		}
	}
	t.Logf("micetro-central-ha interactive: exit 0, prompts answered %v", answered)
	runH(tEnv, "status", "--state", mmState)
	runH(tEnv, "dns", "apply", "central2.lab.hawiz.test", "--expect", l.Addrs[0], "--server", dns.Addr(), "--tsig-file", keyFile, "--yes", "--wait", "1s", "--log", filepath.Join(work, "dns-debug.log"))

	// 2. opsmanager-ha, generated key, interactive; App DB password typed.
	o := setupOM(t, 3, false)
	appdbPW := "r4 " + hex.EncodeToString(tsigBytes[:6]) + " p@ss:w/rd#%"
	b.Reset()
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n  sudo: password\nservers:\n", l.PWUser, l.EncKey, o.knownHostsCopy(t))
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", l.Names[i], l.Addrs[i], l.Port)
	}
	fmt.Fprintf(&b, "appdb:\n  uri: %s\n  username: opsmanager\n  live_check: off\nload_balancer:\n  url: %s\nstart_timeout: 60s\ngen_key:\n  mode: generate\n", o.uri, o.lbURL)
	omA := filepath.Join(work, "om-pw.yaml")
	os.WriteFile(omA, []byte(b.String()), 0o600)
	omState := filepath.Join(work, "om.json")
	appRE := regexp.MustCompile(`Application Database password: ?$`)
	x.start("opsmanager", tEnv, "run", "opsmanager-ha", "-a", omA, "--state", omState, "--log", filepath.Join(work, "om-debug.log"))
	code, answered = x.drive("opsmanager", append(prompts, tmuxPrompt{re: appRE, reply: appdbPW, secret: "App DB password"}), 90*time.Second)
	if code != 0 {
		t.Fatalf("interactive opsmanager-ha: exit %d (answers %v); its screen:\n%s", code, answered, lastLines(x.history("opsmanager"), 40))
	}
	if answered[appRE.String()] == 0 {
		t.Errorf("opsmanager-ha: the App DB password prompt was never answered: %v", answered)
	}
	t.Logf("opsmanager-ha interactive: exit 0, prompts answered %v", answered)
	// gen.key as the host has it, read with the test's own SSH access.
	k64, _, kc := rawRun(t, l.rawClient(t, 0, l.User), "sudo base64 -w0 /etc/mongodb-mms/gen.key", nil)
	genKey, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k64))
	if kc != 0 || err != nil || len(genKey) != 24 {
		t.Fatalf("gen.key from %s: exit %d, %v, %d bytes", l.Names[0], kc, err, len(genKey))
	}

	// 3. opsmanager-upgrade with --json, secrets from the environment, gen.key backed up.
	var ub strings.Builder
	fmt.Fprintf(&ub, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n  sudo: password\nservers:\n", l.PWUser, l.EncKey, o.knownHostsCopy(t))
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&ub, "  - name: %s\n    address: %s\n    port: %d\n    install: package\n", l.Names[i], l.Addrs[i], l.Port)
	}
	keyBackup := filepath.Join(work, "gen.key.before-upgrade")
	fmt.Fprintf(&ub, "upgrade:\n  package: %s\n  version: 7.0.1\nstart_timeout: 60s\ngen_key_backup_to: %s\nload_balancer:\n  url: %s\n", o.deb("7.0.1"), keyBackup, o.lbURL)
	upA := filepath.Join(work, "om-upgrade.yaml")
	os.WriteFile(upA, []byte(ub.String()), 0o600)
	upState := filepath.Join(work, "om-upgrade.json")
	envSecrets := append([]string{"HAWIZ_SUDO_PASSWORD=" + l.Password, "HAWIZ_KEY_PASSPHRASE=" + l.Passphrase, "HAWIZ_APPDB_PASSWORD=" + appdbPW}, tEnv...)
	if code := runH(envSecrets, "run", "opsmanager-upgrade", "-a", upA, "--yes", "--json", "--state", upState, "--log", filepath.Join(work, "upgrade-debug.log")); code != 0 {
		t.Fatalf("opsmanager-upgrade: exit %d\n%s", code, outputs[len(outputs)-1])
	}
	if kb, err := os.ReadFile(keyBackup); err != nil || !bytes.Equal(kb, genKey) {
		t.Errorf("gen.key backup %s: %v (%d bytes, equal: %v)", keyBackup, err, len(kb), bytes.Equal(kb, genKey))
	} else if fi, _ := os.Stat(keyBackup); fi.Mode().Perm() != 0o600 {
		t.Errorf("gen.key backup mode %v, want 0600", fi.Mode().Perm())
	}
	runH(tEnv, "status", "--state", omState)
	runH(tEnv, "status", "--state", upState)

	// The search.
	userinfo := url.UserPassword("opsmanager", appdbPW).String()
	searchSecrets(t, work, outputs, x, map[string][]byte{
		"sudo password":                   []byte(l.Password),
		"key passphrase":                  []byte(l.Passphrase),
		"TSIG secret":                     []byte(tsig),
		"TSIG secret bytes":               tsigBytes,
		"App DB password":                 []byte(appdbPW),
		"App DB password (URI-encoded)":   []byte(userinfo[strings.IndexByte(userinfo, ':')+1:]),
		"App DB password (query-escaped)": []byte(url.QueryEscape(appdbPW)),
		"gen.key bytes":                   genKey,
	}, []string{keyFile, keyBackup}, []string{"state", "transcript", "evidence", "debug log", "raw pane output", "tmux screens", "stdout/stderr"})
}

// r4HostKeysThenPassphrase: an interactive run whose known_hosts is empty asks to
// accept the host keys (a line prompt) before the key passphrase (a secret prompt).
func r4HostKeysThenPassphrase(t *testing.T, l *Lab) {
	work := t.TempDir()
	x := newTmux(t, work)
	m := setupMicetro(t, 2)
	known := filepath.Join(work, "empty_known_hosts")
	os.WriteFile(known, nil, 0o600)
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  user: %s\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n  sudo: password\n", l.PWUser, l.EncKey, known)
	b.WriteString("members:\n")
	for i := 0; i < 2; i++ {
		fmt.Fprintf(&b, "  - name: central%d\n    host: {name: %s, address: %s, port: %d}\n    priority: %d\n", i+1, l.Names[i], l.Addrs[i], l.Port, 10*(i+1))
	}
	fmt.Fprintf(&b, "dns:\n  name: central.lab.hawiz.test\n  servers: [%q]\n  resolver: 127.0.0.1:1\n", m.dns.Addr())
	a := filepath.Join(work, "hostkeys.yaml")
	os.WriteFile(a, []byte(b.String()), 0o600)
	x.start("hostkeys", []string{"XDG_STATE_HOME=" + work, "NO_COLOR=1", "HOME=" + work},
		"run", "micetro-central-ha", "-a", a, "--state", filepath.Join(work, "hostkeys.json"), "--log", filepath.Join(work, "hostkeys-debug.log"))
	code, answered := x.drive("hostkeys", []tmuxPrompt{
		{re: regexp.MustCompile(`sudo password: ?$`), reply: l.Password, secret: "sudo password"},
		{re: regexp.MustCompile(`SSH key passphrase: ?$`), reply: l.Passphrase, secret: "key passphrase"},
		{re: regexp.MustCompile(`Accept and record them all\? \[y/N\] ?$`), reply: "y"},
		{re: regexp.MustCompile(`or 'stop' to stop here \(resume later\): ?$`), reply: "stop"},
	}, 45*time.Second)
	if code != 3 {
		t.Errorf("exit %d, want 3 (stopped at the first manual step; -1: it hung); prompts answered %v", code, answered)
	}
	searchSecrets(t, work, nil, x, map[string][]byte{"sudo password": []byte(l.Password), "key passphrase": []byte(l.Passphrase)},
		nil, []string{"state", "transcript", "debug log", "raw pane output", "tmux screens"})
}

// searchSecrets searches every file under dir (but skip: the secrets' own files),
// the outputs and the tmux screens for every form of every secret: each hit is an
// error. Each kind in need must have been written (or the search proves nothing).
func searchSecrets(t *testing.T, dir string, outputs []string, x *tmuxRun, secrets map[string][]byte, skip []string, need []string) {
	forms := map[string][]byte{}
	for name, s := range secrets {
		for fn, f := range secretForms(name, s) {
			forms[fn] = f
		}
	}
	// The forms find a secret inside any base64 or hex stream (the search's own check).
	probe := []byte("a secret of twenty-four!")
	for k := 0; k < 3; k++ {
		blob := append(append(bytes.Repeat([]byte{7}, k), probe...), "tail"...)
		for _, enc := range []string{base64.StdEncoding.EncodeToString(blob), base64.RawURLEncoding.EncodeToString(blob), strings.ToUpper(hex.EncodeToString(blob))} {
			found := false
			for _, f := range secretForms("probe", probe) {
				found = found || strings.Contains(enc, string(f))
			}
			if !found {
				t.Fatalf("secretForms misses a secret at offset %d in %s", k, enc)
			}
		}
	}
	x.screens.Sync()
	artefacts := map[string][]byte{}
	kinds := map[string]int{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || slices.Contains(skip, p) || p == x.sock || strings.HasSuffix(p, ".deb") {
			return nil
		}
		data, _ := os.ReadFile(p)
		artefacts[p] = data
		switch {
		case strings.HasSuffix(p, ".transcript.jsonl"):
			kinds["transcript"]++
		case strings.HasSuffix(p, ".evidence.md"):
			kinds["evidence"]++
		case strings.HasSuffix(p, "-debug.log"):
			kinds["debug log"]++
		case strings.HasSuffix(p, ".pty"):
			kinds["raw pane output"]++
		case strings.HasSuffix(p, "tmux-screens.txt"):
			kinds["tmux screens"]++
		case strings.HasSuffix(p, ".json"):
			kinds["state"]++
		}
		return nil
	})
	for i, out := range outputs {
		artefacts[fmt.Sprintf("output %d: %s", i, firstLine(out))] = []byte(out)
	}
	kinds["stdout/stderr"] = len(outputs)
	for _, k := range need {
		if kinds[k] == 0 {
			t.Errorf("no %s was written: the search would prove nothing (files: %v)", k, keys(artefacts))
		}
	}
	hits := 0
	for p, data := range artefacts {
		for fn, f := range forms {
			if bytes.Contains(data, f) {
				hits++
				t.Errorf("%s found in %s", fn, p)
			}
		}
	}
	var bs int
	for _, d := range artefacts {
		bs += len(d)
	}
	t.Logf("%d secrets in %d forms searched in %d artefacts (%d bytes; %v; %d tmux screens): %d hits", len(secrets), len(forms), len(artefacts), bs, kinds, x.nScreens, hits)
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, filepath.Base(k))
	}
	sort.Strings(out)
	return out
}
