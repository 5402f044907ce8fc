package opsmanager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
	"golang.org/x/crypto/ssh"
)

// The fake curl of the no-forwarding worlds is this test binary run with
// envFakeCurl=1 (the wrapper in each server's fakebin/). It is the kernel
// twin of the world's PortFunc: the documented port (8080, 8443) is the
// port the stand-in bound and published, looked up per request; while no
// stand-in runs the port is refused, as curl reports it (exit 7, http_code
// 000). Every call is appended to envFakeCurlLog.
const (
	envFakeCurl     = "HAWIZ_TEST_FAKE_CURL"
	envFakeCurlPort = "HAWIZ_TEST_FAKE_CURL_PORTFILE"
	envFakeCurlLog  = "HAWIZ_TEST_FAKE_CURL_LOG"
)

func init() {
	if os.Getenv(envFakeCurl) == "1" {
		os.Exit(fakeCurl(os.Args[1:], os.Stdout, os.Stderr))
	}
}

// fakeCurl understands what remote's on-host probe passes curl: -sS, -k,
// --max-time N, -o FILE, -w FORMAT, -- URL. Redirects are not followed
// (curl without -L).
func fakeCurl(args []string, stdout, stderr io.Writer) int {
	var (
		insecure bool
		format   string
		timeout  = 10 * time.Second
		rawURL   string
	)
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-sS", "-s", "-S":
		case "-k":
			insecure = true
		case "--max-time", "-o", "-w":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "curl: option %s: requires parameter\n", a)
				return 2
			}
			i++
			switch a {
			case "--max-time":
				n, _ := strconv.Atoi(args[i])
				timeout = time.Duration(n) * time.Second
			case "-w":
				format = args[i]
			}
		case "--":
			if i+1 < len(args) {
				rawURL = args[i+1]
			}
			i = len(args)
		default:
			fmt.Fprintf(stderr, "curl: fake: unexpected argument %q\n", a)
			return 2
		}
	}
	if f, err := os.OpenFile(os.Getenv(envFakeCurlLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintln(f, strings.Join(args, " "))
		f.Close()
	}
	write := func(code string) {
		fmt.Fprint(stdout, strings.ReplaceAll(strings.ReplaceAll(format, "%{http_code}", code), `\n`, "\n"))
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		fmt.Fprintf(stderr, "curl: (3) URL rejected: %q\n", rawURL)
		write("000")
		return 3
	}
	if p := u.Port(); p == "8080" || p == "8443" {
		a := omstandin.Config{Addr: "127.0.0.1", PortFile: os.Getenv(envFakeCurlPort)}.ServeAddr()
		if a == "" {
			fmt.Fprintf(stderr, "curl: (7) Failed to connect to %s port %s after 0 ms: Couldn't connect to server\n", u.Hostname(), p)
			write("000")
			return 7
		}
		u.Host = a
	}
	c := &http.Client{Timeout: timeout,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u.String())
	if err != nil {
		fmt.Fprintf(stderr, "curl: (7) %v\n", err)
		write("000")
		return 7
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	write(fmt.Sprintf("%03d", resp.StatusCode))
	return 0
}

// noForwardWorld is newWorld with every server's sshd refusing TCP
// forwarding (AllowTcpForwarding no). With curl, each server's PATH starts
// with fakebin/curl (above); without, its PATH is a directory of links to
// every program of this machine's PATH except curl and wget.
func noForwardWorld(t *testing.T, n int, withCurl bool) *world {
	t.Helper()
	w := newWorld(t, n, false)
	b, err := os.ReadFile(w.key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var noHTTP string
	if !withCurl {
		noHTTP = pathWithout(t, "curl", "wget")
	}
	for i := range w.servers {
		w.servers[i].Close()
		var path string
		if withCurl {
			bin := filepath.Join(w.roots[i], "fakebin")
			os.MkdirAll(bin, 0o755)
			os.WriteFile(filepath.Join(bin, "curl"), []byte(fmt.Sprintf("#!/bin/sh\n%s=1 %s=%s %s=%s exec %s \"$@\"\n",
				envFakeCurl, envFakeCurlPort, w.portFile(i), envFakeCurlLog, w.curlLog(i), exe)), 0o755)
			path = bin + ":" + os.Getenv("PATH")
		} else {
			path = noHTTP
		}
		s, err := sshtest.Start(sshtest.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: w.roots[i],
			HostKeySeed: []byte(fmt.Sprintf("om%d", i+1)), AddrMap: w.appdbNet, NoForwarding: true,
			Env: []string{"PATH=" + path}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		w.servers[i] = s
	}
	return w
}

func (w *world) curlLog(i int) string { return filepath.Join(w.roots[i], "curl.log") }

// pathWithout is a directory of symlinks to the first program of each name
// in this machine's PATH, leaving out the names given.
func pathWithout(t *testing.T, leave ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	os.MkdirAll(dir, 0o755)
	skip := map[string]bool{}
	for _, n := range leave {
		skip[n] = true
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if skip[e.Name()] || e.IsDir() {
				continue
			}
			os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name())) // first one wins
		}
	}
	for _, n := range leave {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			t.Fatalf("%s still in %s", n, dir)
		}
	}
	return dir
}

// Issue 16 item 6: opsmanager-ha on servers whose sshd refuses TCP
// forwarding. Preflight finds it out and says the health URL is asked with
// curl on the host; every /monitor/health proof runs there (the fake
// curl's log), the run completes as with forwarding, and each server is
// asked at most one forward, not one per health poll.
func TestHAWithoutTCPForwarding(t *testing.T) {
	w := noForwardWorld(t, 2, true)
	state := filepath.Join(w.dir, "state.json")
	y := w.answers("", "  mode: first-server\n")
	out, err, rec := w.run(t, y, state, false, nil)
	if err != nil {
		t.Fatalf("run: %v (%+v)\n%s", err, out, rec)
	}
	w.checkDone(t)
	ev := rec.String()
	for i, s := range w.servers {
		name := fmt.Sprintf("om%d", i+1)
		if n := s.Forwards(); n > 1 {
			t.Errorf("%s: %d forwards asked of an sshd that refuses them", name, n)
		}
		if !strings.Contains(ev, name+": sshd refuses TCP forwarding (AllowTcpForwarding no): ports and health URLs are checked by commands run on the host (HTTP with curl)") {
			t.Errorf("%s: the preflight does not say so:\n%s", name, ev)
		}
		log, _ := os.ReadFile(w.curlLog(i))
		if !strings.Contains(string(log), "http://127.0.0.1:8080/monitor/health") {
			t.Errorf("%s: /monitor/health was not asked on the host (curl log %q)", name, log)
		}
	}

	// The verdicts, asked on the host: 200 while the server runs, no
	// answer (an error, not a status) once it stopped; still no forward.
	a, err := steps.LoadAnswers(HA(), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	f, err := remote.Connect(context.Background(), remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second,
		KnownHostsFile: w.known, SSHConfigFile: "none"}, steps.HostConfigs(a))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &a.(*Answers).Common
	h := f.Host("om2")
	before := w.servers[1].Forwards()
	for range 5 {
		if st, err := health(context.Background(), h, c); err != nil || st != 200 {
			t.Fatalf("health of a running server: %d %v", st, err)
		}
	}
	if out, err := exec.Command(filepath.Join(w.inst(1), "bin", "mongodb-mms"), "stop").CombinedOutput(); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	for range 5 {
		if st, err := health(context.Background(), h, c); err == nil {
			t.Fatalf("health of a stopped server: %d, want no answer", st)
		}
	}
	if n := w.servers[1].Forwards() - before; n > 1 {
		t.Errorf("%d forwards for 10 health proofs, want at most 1", n)
	}
}

// Issue 16 item 6: a server whose sshd refuses TCP forwarding and that has
// neither curl nor wget cannot have its health proven; preflight refuses
// it, naming the server and what to do, before anything changes: no
// configuration written, no gen.key, no server started.
func TestHAWithoutForwardingOrHTTPClientRefusedInPreflight(t *testing.T) {
	w := noForwardWorld(t, 2, false)
	confs := map[int]string{}
	for i := range w.servers {
		confs[i] = fileSHA(t, filepath.Join(w.inst(i), "conf", "conf-mms.properties"))
	}
	out, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "state.json"), false, nil)
	if err == nil {
		t.Fatalf("run passed (%+v)\n%s", out, rec)
	}
	named := func(h string) bool {
		return strings.Contains(err.Error(), "host "+h+": sshd refuses TCP forwarding (AllowTcpForwarding no) and neither curl nor wget is on the host's PATH") &&
			strings.Contains(err.Error(), "install curl or wget on "+h+", or allow TCP forwarding")
	}
	if !errors.Is(err, remote.ErrNoHTTPClient) || !named("om1") || !named("om2") {
		t.Fatalf("error %v, want the host named and what to do", err)
	}
	if !strings.Contains(rec.String(), StepPreflight) {
		t.Errorf("not refused in %s:\n%s", StepPreflight, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Errorf("%d applies before the refusal:\n%s", n, rec)
	}
	for i := range w.servers {
		if got := fileSHA(t, filepath.Join(w.inst(i), "conf", "conf-mms.properties")); got != confs[i] {
			t.Errorf("om%d: conf-mms.properties changed", i+1)
		}
		if _, err := os.Stat(w.keyPath(i)); err == nil {
			t.Errorf("om%d: a gen.key was written", i+1)
		}
		if omstandin.Running(mustConfig(t, w.inst(i))) != 0 {
			t.Errorf("om%d: Ops Manager was started", i+1)
		}
		if n := w.servers[i].Forwards(); n > 1 {
			t.Errorf("om%d: %d forwards", i+1, n)
		}
	}
}

// The same refusal in opsmanager-upgrade's preflight: nothing staged,
// stopped, installed or backed up.
func TestUpgradeWithoutForwardingOrHTTPClientRefusedInPreflight(t *testing.T) {
	w := noForwardWorld(t, 2, false)
	for i := range w.servers {
		os.MkdirAll(filepath.Dir(w.keyPath(i)), 0o700)
		os.WriteFile(w.keyPath(i), []byte("abcdefghijklmnopqrstuvwx"), 0o600)
	}
	exe, _ := os.Executable()
	pkg := filepath.Join(w.dir, "mongodb-mms-7.0.1.x86_64.tar.gz")
	f, _ := os.Create(pkg)
	if err := omstandin.WriteTarball(f, "7.0.1", w.user, standinWrapper(exe)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	backup := filepath.Join(w.dir, "key-before-upgrade")
	rec, err := w.runUpgrade(t, context.Background(), w.upgradeAnswers(pkg, "7.0.1", backup), filepath.Join(w.dir, "up.json"), false, nil)
	if !errors.Is(err, remote.ErrNoHTTPClient) || !strings.Contains(err.Error(), "host om2: sshd refuses TCP forwarding") ||
		!strings.Contains(err.Error(), "install curl or wget on om2, or allow TCP forwarding") {
		t.Fatalf("error %v, want the host named and what to do\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Errorf("%d applies before the refusal:\n%s", n, rec)
	}
	if _, err := os.Stat(backup); err == nil {
		t.Error("the gen.key backup was written before the refusal")
	}
	for i := range w.servers {
		if dst, _ := os.Readlink(filepath.Join(w.roots[i], "mms")); dst != w.inst(i) {
			t.Errorf("om%d: install_dir now points at %s", i+1, dst)
		}
		if m, _ := filepath.Glob(filepath.Join(w.roots[i], "mongodb-mms-7.0.1*")); len(m) != 0 {
			t.Errorf("om%d: 7.0.1 extracted: %v", i+1, m)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(w.dir, "hawiz-stage-*")); len(m) != 0 {
		t.Errorf("package staged: %v", m)
	}
}
