//go:build e2e

package e2e

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The lab itself, checked with bare x/crypto/ssh: if these fail, the hawiz tests below
// would be testing a broken lab.

func TestLabHostsArePrivateNamespaces(t *testing.T) {
	l := needLab(t)
	l.needHosts(t, 2)
	marker := "lab-private-" + time.Now().Format("150405.000000")
	for i := range l.Names[:2] {
		c := l.rawClient(t, i, l.User)
		out, _, code := rawRun(t, c, "hostname; id -un; sudo -n id -u; getent hosts lab1 lab2", nil)
		want := l.Names[i] + "\n" + l.User + "\n0\n"
		if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, l.Addrs[1]+" ") {
			t.Fatalf("%s: got %q (exit %d), want prefix %q and lab names in /etc/hosts", l.Names[i], out, code, want)
		}
		// The stand-in systemctl is bound over /usr/bin/systemctl inside the host only.
		out, _, _ = rawRun(t, c, "head -n 3 /usr/bin/systemctl", nil)
		if !strings.Contains(out, "Stand-in systemctl") {
			t.Fatalf("%s: /usr/bin/systemctl is not the stand-in: %q", l.Names[i], out)
		}
	}
	if b, err := os.ReadFile("/usr/bin/systemctl"); err == nil && strings.Contains(string(b), "Stand-in systemctl") {
		t.Fatal("the real /usr/bin/systemctl was replaced by the stand-in")
	}
	// A file written on lab1 exists in lab1's private trees only.
	c1 := l.rawClient(t, 0, l.User)
	for _, dir := range []string{"/var/mmsuite", "/etc/mongodb-mms", "/opt/mongodb/mms", "/root"} {
		f := dir + "/" + marker
		if _, errs, code := rawRun(t, c1, "sudo -n sh -c 'mkdir -p "+dir+" && echo x > "+f+"'", nil); code != 0 {
			t.Fatalf("lab1: write %s: %s", f, errs)
		}
		if _, err := os.Stat(f); err == nil || !os.IsNotExist(err) {
			t.Fatalf("%s written on lab1 is visible on the real filesystem (%v)", f, err)
		}
		if _, err := os.Stat(l.hostPath(t, 0, f)); err != nil {
			t.Fatalf("%s not in lab1's tree: %v", f, err)
		}
		if _, err := os.Stat(l.hostPath(t, 1, f)); !os.IsNotExist(err) {
			t.Fatalf("%s written on lab1 is visible on lab2 (%v)", f, err)
		}
		rawRun(t, c1, "sudo -n rm -f "+f, nil)
	}
	// /root keeps the real directory's mode (overlay roots take the upper dir's mode).
	out, _, _ := rawRun(t, c1, "sudo -n stat -c %a /root", nil)
	if strings.TrimSpace(out) != "700" {
		t.Fatalf("lab1 /root mode %q, want 700", out)
	}
}

var errStop = errors.New("host key seen")

func TestLabHostKeysArePerHost(t *testing.T) {
	l := needLab(t)
	l.needHosts(t, 2)
	seen := map[string]string{}
	for i := range l.Names {
		var got ssh.PublicKey
		c, err := ssh.Dial("tcp", l.Addrs[i]+":"+l.Env["HAWIZ_LAB_PORT"], &ssh.ClientConfig{
			User: l.User, Auth: nil, Timeout: 5 * time.Second,
			HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
			HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error {
				got = k
				return errStop
			},
		})
		if c != nil {
			c.Close()
		}
		if got == nil {
			t.Fatalf("%s: no host key (%v)", l.Names[i], err)
		}
		fp := ssh.FingerprintSHA256(got)
		if other, dup := seen[fp]; dup {
			t.Fatalf("%s and %s share host key %s", other, l.Names[i], fp)
		}
		seen[fp] = l.Names[i]
		// and it is the key the lab's known_hosts records for that address
		rc, err := l.dialRaw(i, l.User)
		if err != nil {
			t.Fatalf("%s: known_hosts check: %v", l.Names[i], err)
		}
		rc.Close()
	}
}

func TestLabStandInSystemctl(t *testing.T) {
	l := needLab(t)
	l.needHosts(t, 2)
	c := l.rawClient(t, 0, l.User)
	svc := "labcheck-" + time.Now().Format("150405")
	def := "# start-wait: 0.1\nexec sleep 86400.7\n"
	if _, e, code := rawRun(t, c, "sudo -n tee /etc/hawiz-lab/services/"+svc+" >/dev/null", []byte(def)); code != 0 {
		t.Fatal(e)
	}
	step := func(cmd string, wantCode int, wantOut string) {
		t.Helper()
		out, errs, code := rawRun(t, c, cmd, nil)
		if code != wantCode || !strings.Contains(out, wantOut) {
			t.Fatalf("%s: exit %d out %q err %q; want exit %d and %q", cmd, code, out, errs, wantCode, wantOut)
		}
	}
	step("systemctl is-active "+svc, 3, "inactive")
	step("systemctl start "+svc, 1, "") // not root: refused like polkit would
	step("sudo -n systemctl start "+svc+".service", 0, "")
	step("systemctl is-active "+svc+".service", 0, "active")
	step("systemctl status "+svc, 0, "active (running)")
	// detached: the service outlives the SSH session and is a child of the host's PID 1
	c2 := l.rawClient(t, 1, l.User)
	out, _, _ := rawRun(t, c2, "systemctl is-active "+svc, nil)
	if strings.TrimSpace(out) != "inactive" {
		t.Fatalf("lab2 sees lab1's service: %q", out)
	}
	step("sudo -n systemctl restart "+svc, 0, "")
	step("sudo -n systemctl stop "+svc, 0, "")
	step("systemctl is-active "+svc, 3, "inactive")
	step("sudo -n systemctl start no-such-unit", 5, "")
	step("systemctl is-active no-such-unit", 3, "inactive")
	step("systemctl status no-such-unit", 4, "")
	// a service that exits at once fails its start (start-wait)
	rawRun(t, c, "printf '# start-wait: 0.3\\nexit 3\\n' | sudo -n tee /etc/hawiz-lab/services/"+svc+"-bad >/dev/null", nil)
	step("sudo -n systemctl start "+svc+"-bad", 1, "")
	step("systemctl is-active "+svc+"-bad", 3, "failed")
	// every call was recorded in the host's private log
	b, err := os.ReadFile(l.hostPath(t, 0, "/var/log/hawiz-lab/systemctl.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" start " + svc + " denied uid=", " start " + svc + " active uid=0", " restart " + svc + " active", " stop " + svc + " inactive", " is-active " + svc + " inactive", " start " + svc + "-bad failed"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("systemctl.log lacks %q:\n%s", want, b)
		}
	}
	rawRun(t, c, "sudo -n rm -f /etc/hawiz-lab/services/"+svc+" /etc/hawiz-lab/services/"+svc+"-bad", nil)
}
