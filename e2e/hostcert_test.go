//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// Host certificates against a real OpenSSH sshd. The lab's hosts have no
// HostCertificate, so this test starts sshds of its own: as root, each in a
// private mount and PID namespace of its own (unshare; a tmpfs /run for
// /run/sshd), listening on 127.0.0.1 and 127.0.0.2 at a free port, with keys,
// certificates and config in the test's temp dir; each is stopped at the end
// by the PID of its unshare (our child: no recycled PID), which takes the
// whole namespace with it. The certificates are made by ssh-keygen, and
// OpenSSH's own ssh client is asked about the same known_hosts, so hawiz's
// verdicts are checked against OpenSSH's.

// hcTool runs a local program and fails the test with its output.
func hcTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

type hcSSHD struct {
	port   int
	cmd    *exec.Cmd
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func hcFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// hcStartSSHD starts an sshd with hostKey (and cert, when not "") that lets
// root in with the keys in authorized.
func hcStartSSHD(t *testing.T, dir, hostKey, cert, authorized string) *hcSSHD {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	port := hcFreePort(t)
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.1:%d
ListenAddress 127.0.0.2:%d
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel VERBOSE
`, port, port, hostKey, authorized, filepath.Join(dir, "sshd.pid"))
	if cert != "" {
		cfg += "HostCertificate " + cert + "\n"
	}
	cfgFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd needs /run/sshd: a tmpfs /run of the namespace's own holds it.
	inNS := []string{"--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "--",
		"sh", "-c", `mount -t tmpfs -o mode=0755 hawiz-hostcert /run && mkdir -m 0755 /run/sshd && exec /usr/sbin/sshd "$@"`, "sh"}
	hcTool(t, "unshare", append(inNS, "-t", "-f", cfgFile)...) // a bad config fails here, before anything runs
	s := &hcSSHD{port: port, stderr: &syncBuffer{}}
	s.cmd = exec.Command("unshare", append(inNS, "-D", "-e", "-f", cfgFile)...)
	s.cmd.Stdout, s.cmd.Stderr = s.stderr, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// unshare is our child, not yet reaped: its PID cannot have been
		// recycled. It ignores SIGTERM; killed, it takes the namespace's
		// PID 1 (sshd, --kill-child) and so everything in the namespace.
		inside := map[int]string{} // PID -> start time
		select {
		case <-exited:
		default:
			for _, pid := range descendants(s.cmd.Process.Pid) {
				if st := startTime(pid); st != "" { // one already gone has nothing to survive
					inside[pid] = st
				}
			}
			s.cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
		for pid, st := range inside {
			if !waitFor(10*time.Second, func() bool { return startTime(pid) != st }) {
				t.Errorf("process %d (%s) of the test's sshd survived", pid, comm(pid))
			}
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited: %s", s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not listening on port %d: %v\n%s", port, err, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// openSSHAccepts reports whether OpenSSH's ssh, with StrictHostKeyChecking
// yes and known_hosts kh, connects to addr:port.
func openSSHAccepts(t *testing.T, kh, key, addr string, port int) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", "-F", "none", "-i", key, "-p", strconv.Itoa(port),
		"-o", "UserKnownHostsFile="+kh, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "CheckHostIP=no",
		"root@"+addr, "true").CombinedOutput()
	return err == nil, string(out)
}

func TestHostCertificateRealSSHD(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (an sshd of its own that lets root in)")
	}
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/ssh-keygen", "/usr/bin/ssh", "/usr/bin/unshare"} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %v", p, err)
			}
			t.Skipf("%s: %v", p, err)
		}
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	hcTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hawiz-e2e-client", "-f", p("client"))
	hcTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hawiz-e2e-ca", "-f", p("ca"))
	hcTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hawiz-e2e-other-ca", "-f", p("otherca"))
	authorized := p("authorized_keys")
	if b, err := os.ReadFile(p("client.pub")); err != nil || os.WriteFile(authorized, b, 0o600) != nil {
		t.Fatal(err)
	}
	// Three hosts, each with its own ed25519 host key: a valid certificate
	// for 127.0.0.1 (not 127.0.0.2, where the same sshd also listens), an
	// expired one, none.
	host := func(name, validity string) (key, cert string) {
		key = p(name + "_host_ed25519_key")
		hcTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@"+name, "-f", key)
		if validity == "" {
			return key, ""
		}
		hcTool(t, "ssh-keygen", "-q", "-s", p("ca"), "-I", name+" host key", "-h", "-n", "127.0.0.1", "-V", validity, key+".pub")
		return key, key + "-cert.pub"
	}
	vKey, vCert := host("valid", "-5m:+1h")
	eKey, eCert := host("expired", "20200101:20200102")
	pKey, _ := host("plain", "")
	valid := hcStartSSHD(t, p("sshd-valid"), vKey, vCert, authorized)
	expired := hcStartSSHD(t, p("sshd-expired"), eKey, eCert, authorized)
	plain := hcStartSSHD(t, p("sshd-plain"), pKey, "", authorized)

	caPub, err := os.ReadFile(p("ca.pub"))
	if err != nil {
		t.Fatal(err)
	}
	otherPub, err := os.ReadFile(p("otherca.pub"))
	if err != nil {
		t.Fatal(err)
	}
	khCA := "@cert-authority [127.0.0.*]:* " + string(caPub)
	khOther := "@cert-authority [127.0.0.*]:* " + string(otherPub)

	for _, tc := range []struct {
		name   string
		s      *hcSSHD
		addr   string
		kh     string
		reason string // "" = accepted; else in the HostCertError
	}{
		{"valid certificate", valid, "127.0.0.1", khCA, ""},
		{"principal is not the name dialled", valid, "127.0.0.2", khCA, `do not include the host name "127.0.0.2"`},
		{"another CA", valid, "127.0.0.1", khOther, "which no @cert-authority line for this host lists"},
		{"expired", expired, "127.0.0.1", khCA, "it expired at 2020-01-02"},
		{"plain key", plain, "127.0.0.1", khCA, "no certificate signed by its CA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(tc.kh), 0o600); err != nil {
				t.Fatal(err)
			}
			var shown atomic.Int32
			o := remote.Options{SSHConfigFile: "none", AgentSocket: "none", KnownHostsFile: kh, DialTimeout: 10 * time.Second,
				ConfirmHostKeys: func(_ context.Context, keys []remote.NewHostKey) (map[string]bool, error) {
					shown.Add(int32(len(keys))) // as --yes: accept whatever is shown
					m := map[string]bool{}
					for _, k := range keys {
						m[k.Host] = true
					}
					return m, nil
				}}
			hc := remote.HostConfig{Name: "certhost", Address: tc.addr, Port: tc.s.port, User: "root", IdentityFiles: []string{p("client")}}
			f, err := remote.Connect(testContext(t, 30*time.Second), o, []remote.HostConfig{hc})
			sshOK, sshOut := openSSHAccepts(t, kh, p("client"), tc.addr, tc.s.port)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("connect: %v\nsshd: %s", err, tc.s.stderr.String())
				}
				defer f.Close()
				if res := run(t, f.Host("certhost"), remote.Cmd{Program: "id", Args: []string{"-u"}}); string(res.Stdout) != "0\n" {
					t.Fatalf("id -u: %q", res.Stdout)
				}
				if !sshOK {
					t.Fatalf("OpenSSH's ssh refused what hawiz accepted: %s", sshOut)
				}
			} else {
				var ce *remote.HostCertError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.reason) || !strings.Contains(err.Error(), "host certhost") {
					t.Fatalf("err = %v, want a HostCertError saying %q", err, tc.reason)
				}
				if sshOK {
					t.Fatalf("OpenSSH's ssh accepted what hawiz refused: %s", sshOut)
				}
			}
			if n := shown.Load(); n != 0 {
				t.Fatalf("%d keys shown for confirmation, want none", n)
			}
			if b, _ := os.ReadFile(kh); string(b) != tc.kh {
				t.Fatalf("known_hosts changed:\n%s", b)
			}
		})
	}
}
