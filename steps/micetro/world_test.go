package micetro

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
	"golang.org/x/crypto/ssh"
)

// The unit-test world: one sshtest server per member, each with its own root
// directory standing in for /, fake sudo/systemctl/ps/pgrep/mmcentrald first in
// PATH, and the stand-in Central (lab/standins/mmcentral) run by re-executing
// this test binary. Absolute paths under /var/mmsuite/ and /usr/share/ in
// commands are rewritten to the host's root, so the procedure runs with its
// real default paths. Nothing but Go and /bin/sh is needed.

// worldSessions: this world rewrites the paths in each session's command
// line, so every command takes a session of its own; a resident shell gets
// its commands on stdin, out of the rewrite's reach (remote's tests and the
// e2e suite on real sshd cover resident shells).
const worldSessions = true

func TestMain(m *testing.M) {
	if dir := os.Getenv("MMC_STANDIN_DIR"); dir != "" {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go func() { // never outlive the test's world (its temp dir)
			for {
				time.Sleep(200 * time.Millisecond)
				if _, err := os.Stat(dir); err != nil {
					os.Exit(0)
				}
			}
		}()
		// An ephemeral port, published for the host's SSH server (1231
		// reaches it): a port reserved by listening and closing could be
		// taken by another process before the stand-in binds it.
		err := mmcentral.Serve(ctx, mmcentral.Config{Dir: dir, PortFile: os.Getenv("MMC_STANDIN_PORT_FILE"), VersionFile: os.Getenv("MMC_STANDIN_VERSION_FILE"),
			Ready: func(string) { os.WriteFile(os.Getenv("MMC_STANDIN_READY"), nil, 0o644) }})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const fakeSudo = `#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in
	--) shift; break ;;
	-p | -u | -g) shift 2 ;;
	-*) shift ;;
	*) break ;;
	esac
done
exec "$@"
`

// fakeSystemctl runs the stand-in detached; state in $HAWIZ_ROOT/run.
const fakeSystemctl = `#!/bin/sh
act="" svc=""
for a in "$@"; do
	case "$a" in
	-*) ;;
	*) if [ -z "$act" ]; then act=$a; else svc=$a; fi ;;
	esac
done
svc=${svc%.service}
run=$HAWIZ_ROOT/run
mkdir -p "$run"
echo "$act $svc" >>"$run/systemctl.log"
pidf=$run/$svc.pid
alive() { # running and not a zombie (PID 1 here may reap late)
	[ -f "$pidf" ] || return 1
	st=$(cat "/proc/$(cat "$pidf")/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}
start() {
	alive && return 0
	rm -f "$run/ready" "$run/service.port"
	MMC_STANDIN_DIR=$HAWIZ_ROOT/var/mmsuite/mmcentral MMC_STANDIN_READY=$run/ready \
		MMC_STANDIN_VERSION_FILE=$HAWIZ_ROOT/usr/share/mmcentral-standin/VERSION \
		setsid "$MMC_TESTBIN" </dev/null >>"$run/$svc.log" 2>&1 &
	echo $! >"$pidf"
	date +%s >"$run/$svc.started"
	i=0
	while [ $i -lt 2000 ]; do
		[ -f "$run/ready" ] && return 0
		alive || { rm -f "$pidf"; echo "Job for $svc.service failed" >&2; return 1; }
		sleep 0.01
		i=$((i+1))
	done
	return 1
}
stop() {
	alive || { rm -f "$pidf"; return 0; }
	kill "$(cat "$pidf")"
	while alive; do sleep 0.01; done
	rm -f "$pidf"
}
# A unit exists while $HAWIZ_ROOT/units/NAME does (systemd: its unit file).
known() { [ -f "$HAWIZ_ROOT/units/$svc" ]; }
case "$act" in
start | stop | restart) known || { echo "Failed to $act $svc.service: Unit $svc.service not found." >&2; exit 5; } ;;
esac
case "$act" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
is-active) if alive; then echo active; else echo inactive; exit 3; fi ;;
status) known || { echo "Unit $svc.service could not be found." >&2; exit 4; }
	if alive; then echo "Active: active (running)"; else echo "Active: inactive (dead)"; exit 3; fi ;;
*) echo "fake systemctl: $act" >&2; exit 1 ;;
esac
`

const fakePs = `#!/bin/sh
# ps -o etimes= -C mmcentrald: every service's stand-in Central (whatever
# unit started it: run/UNIT.pid and run/UNIT.started)
run=$HAWIZ_ROOT/run
for f in "$run"/*.pid; do
pid=$(cat "$f" 2>/dev/null) && [ -n "$pid" ] && st=$(cat "/proc/$pid/stat" 2>/dev/null) && st=${st##*) } && [ "${st%% *}" != Z ] && \
if true; then
	echo "   $(( $(date +%s) - $(cat "${f%.pid}.started") ))"
fi
done
exit 0
`

// fakePgrep answers "pgrep -x -- mmcentrald" with the PIDs of every
// service's stand-in (real processes: their /proc/PID/stat dates their start).
const fakePgrep = `#!/bin/sh
for a in "$@"; do name=$a; done
[ "$name" = mmcentrald ] || exit 1
rc=1
for f in "$HAWIZ_ROOT"/run/*.pid; do
pid=$(cat "$f" 2>/dev/null) || continue
[ -n "$pid" ] || continue
st=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
st=${st##*) }
[ "${st%% *}" != Z ] || continue
echo "$pid"
rc=0
done
exit $rc
`

const fakeMmcentrald = `#!/bin/sh
[ "$1" = -v ] || { echo "fake mmcentrald: only -v" >&2; exit 2; }
echo "Micetro Central (mmcentrald) version $(cat "$HAWIZ_ROOT/usr/share/mmcentral-standin/VERSION" 2>/dev/null || echo 10.3.5) (hawiz stand-in)"
`

// world is a set of fake Central hosts.
type world struct {
	t       *testing.T
	dir     string
	keyPath string
	signer  ssh.Signer
	hosts   []*fakeHost
}

type fakeHost struct {
	name string
	root string
	srv  *sshtest.Server
	mu   sync.Mutex
	cmds []string
	// onExec, when set, sees each command line before it runs.
	onExec func(cmd string)
}

func newWorld(t *testing.T, names ...string) *world {
	t.Helper()
	return newWorldWith(t, nil, names...)
}

// newWorldWith is newWorld with mod applied to every host's sshtest.Config
// (e.g. NoForwarding).
func newWorldWith(t *testing.T, mod func(*sshtest.Config), names ...string) *world {
	t.Helper()
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, dir: dir, keyPath: filepath.Join(dir, "id_ed25519")}
	os.WriteFile(w.keyPath, pem.EncodeToMemory(blk), 0o600)
	w.signer, _ = ssh.NewSignerFromKey(priv)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		h := &fakeHost{name: n, root: filepath.Join(dir, n)}
		for _, d := range []string{"bin", "run", "units", "var/mmsuite/mmcentral/logs", "usr/share/mmcentral-standin"} {
			os.MkdirAll(filepath.Join(h.root, d), 0o755)
		}
		h.writeFile("units/mmcentral", "")
		for name, body := range map[string]string{"sudo": fakeSudo, "systemctl": fakeSystemctl, "ps": fakePs, "pgrep": fakePgrep, "mmcentrald": fakeMmcentrald} {
			os.WriteFile(filepath.Join(h.root, "bin", name), []byte(body), 0o755)
		}
		h.writeFile("var/mmsuite/mmcentral/preferences.cfg", mmcentral.SamplePrefs)
		h.writeFile("usr/share/mmcentral-standin/VERSION", "10.3.5\n")
		env := []string{"PATH=" + filepath.Join(h.root, "bin") + ":" + os.Getenv("PATH"), "MMC_TESTBIN=" + exe,
			"MMCENTRAL_STANDIN_SHARE=" + filepath.Join(h.root, "usr/share/mmcentral-standin"),
			"MMCENTRAL_STANDIN_DATA=" + filepath.Join(h.root, "var/mmsuite/mmcentral"), "MMCENTRAL_STANDIN_NO_ROOT_CHECK=1",
			"MMC_STANDIN_PORT_FILE=" + h.portFile()}
		cfg := sshtest.Config{
			AuthorizedKeys: []ssh.PublicKey{w.signer.PublicKey()},
			Root:           h.root,
			// 1231 reaches the port the stand-in bound and published,
			// looked up per connection; refused while none runs.
			PortFunc: func(port int) (string, bool) {
				if port != mmcentral.DefaultPort {
					return "", false
				}
				return h.serviceAddr(), true
			},
			Exec: h.exec(env),
		}
		if mod != nil {
			mod(&cfg)
		}
		h.srv, err = sshtest.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			h.srv.Close()
			// stop a stand-in left running (under any unit)
			pids, _ := filepath.Glob(filepath.Join(h.root, "run", "*.pid"))
			for _, p := range pids {
				b, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				var pid int
				fmt.Sscan(string(b), &pid)
				if pid > 0 {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		})
		w.hosts = append(w.hosts, h)
	}
	return w
}

func (h *fakeHost) portFile() string { return filepath.Join(h.root, "run", "service.port") }

// serviceAddr is where the host's stand-in Central listens: the port it
// published ("PORT PID"), while the process that bound it runs; "" if none.
func (h *fakeHost) serviceAddr() string {
	b, err := os.ReadFile(h.portFile())
	if err != nil {
		return ""
	}
	var port, pid int
	if n, _ := fmt.Sscan(string(b), &port, &pid); n != 2 || port <= 0 || port > 65535 || pid <= 0 {
		return ""
	}
	if syscall.Kill(pid, 0) != nil {
		return ""
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := strings.LastIndex(string(st), ") "); i >= 0 && strings.HasPrefix(string(st)[i+2:], "Z") {
			return "" // a zombie is not running (PID 1 here may reap late)
		}
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// exec runs a command with the host's root standing in for /var/mmsuite and /usr/share.
func (h *fakeHost) exec(env []string) func(ctx context.Context, req sshtest.ExecRequest) int {
	return func(ctx context.Context, req sshtest.ExecRequest) int {
		cmd := req.Command
		for _, p := range []string{"/var/mmsuite/", "/usr/share/mmcentral-standin/"} {
			cmd = strings.ReplaceAll(cmd, p, h.root+p)
		}
		h.mu.Lock()
		h.cmds = append(h.cmds, req.Command)
		hook := h.onExec
		h.mu.Unlock()
		if hook != nil {
			hook(req.Command)
		}
		c := exec.Command("/bin/sh", "-c", cmd)
		c.Dir = h.root
		c.Env = append(append(append(os.Environ(), "HAWIZ_ROOT="+h.root), env...), req.Env...)
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		c.Stdout, c.Stderr = req.Stdout, req.Stderr
		stdin, _ := c.StdinPipe()
		if err := c.Start(); err != nil {
			fmt.Fprintln(req.Stderr, err)
			return 127
		}
		go func() { io.Copy(stdin, req.Stdin); stdin.Close() }()
		done := make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
				syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			case <-done:
			}
		}()
		err := c.Wait()
		close(done)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() < 0 {
				return 255
			}
			return ee.ExitCode()
		}
		if err != nil {
			return 255
		}
		return 0
	}
}

func (h *fakeHost) writeFile(rel, content string) {
	if err := os.WriteFile(filepath.Join(h.root, rel), []byte(content), 0o644); err != nil {
		panic(err)
	}
}

func (h *fakeHost) readFile(rel string) string {
	b, _ := os.ReadFile(filepath.Join(h.root, rel))
	return string(b)
}

func (h *fakeHost) prefs() string { return h.readFile("var/mmsuite/mmcentral/preferences.cfg") }

func (h *fakeHost) systemctlLog() string { return h.readFile("run/systemctl.log") }

// answers returns HA answers for the world's hosts.
func (w *world) answers() *HAAnswers {
	a := &HAAnswers{}
	a.SSH = steps.SSHAnswers{User: "tester", IdentityFile: w.keyPath, SSHConfig: "none"}
	for i, h := range w.hosts {
		a.Members = append(a.Members, Member{Name: h.name, Host: steps.HostAnswers{Address: "127.0.0.1", Port: h.srv.Port()},
			Priority: 10 * (i + 1), IP: fmt.Sprintf("10.0.0.%d", 11+i)})
	}
	a.DNS.Name = "central.example.test"
	return a
}

func (w *world) connect(ctx context.Context, hosts []remote.HostConfig) *remote.Fleet {
	w.t.Helper()
	f, err := remote.Connect(ctx, remote.Options{SSHConfigFile: "none", AgentSocket: "none", InsecureIgnoreHostKeysForTests: true, DialTimeout: 5 * time.Second, SessionPerCommand: worldSessions}, hosts)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { f.Close() })
	return f
}

// testOperator confirms manual steps (unless told to stop at one) and
// answers questions as configured.
type testOperator struct {
	mu        sync.Mutex
	stopAt    map[string]bool // manual step IDs to refuse (ErrWaitingForOperator)
	confirm   bool
	confirmed []string
	questions []string
	waits     []string
}

func (o *testOperator) ConfirmHostKeys(context.Context, []remote.NewHostKey) (map[string]bool, error) {
	return nil, nil
}
func (o *testOperator) ConfirmManual(_ context.Context, s *steps.Step, host string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopAt[s.ID] {
		return steps.ErrWaitingForOperator
	}
	o.confirmed = append(o.confirmed, s.ID)
	return nil
}
func (o *testOperator) Confirm(_ context.Context, q string, _ bool) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.questions = append(o.questions, q)
	return o.confirm, nil
}
func (o *testOperator) Secret(context.Context, string, string) (string, error) {
	return "", steps.ErrWaitingForOperator
}
func (o *testOperator) Failure(context.Context, *steps.Step, string, error) (steps.FailureChoice, error) {
	return steps.Quit, nil
}
func (o *testOperator) Wait(ctx context.Context, msg string, poll func(context.Context) (bool, string, error)) error {
	o.mu.Lock()
	o.waits = append(o.waits, msg)
	o.mu.Unlock()
	ok, _, err := poll(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return steps.ErrWaitingForOperator
	}
	return nil
}

// runLog is what the mini-runner did.
type runLog struct {
	applied []string // "step@host"
	skipped []string
	evid    map[string]string
}

// runSteps is a small engine for unit tests: Check → skip, else confirm
// manual, Apply, Verify. It stops at the first error.
func runSteps(ctx context.Context, e *steps.Env, list []*steps.Step) (runLog, error) {
	lg := runLog{evid: map[string]string{}}
	for _, s := range list {
		hosts := s.Hosts
		if len(hosts) == 0 {
			hosts = []string{""}
		}
		if s.Mode == steps.Once {
			hosts = hosts[:1]
		}
		for _, h := range hosts {
			key := s.ID + "@" + h
			if s.Check != nil {
				done, ev, err := s.Check(ctx, e, h)
				if err != nil {
					return lg, fmt.Errorf("%s check: %w", key, err)
				}
				if done {
					lg.skipped = append(lg.skipped, key)
					lg.evid[key] = ev
					continue
				}
			}
			if s.Manual != nil {
				if err := e.Operator().ConfirmManual(ctx, s, h); err != nil {
					return lg, fmt.Errorf("%s: %w", key, err)
				}
			}
			if s.Apply != nil {
				if err := s.Apply(ctx, e, h); err != nil {
					return lg, fmt.Errorf("%s apply: %w", key, err)
				}
			}
			lg.applied = append(lg.applied, key)
			if s.Verify != nil {
				ev, err := s.Verify(ctx, e, h)
				if err != nil {
					return lg, fmt.Errorf("%s verify: %w", key, err)
				}
				lg.evid[key] = ev
			}
		}
	}
	return lg, nil
}
