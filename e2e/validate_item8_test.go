//go:build e2e

package e2e

// Issue 16 item 8 on the lab: a ProxyJump chain set in ssh_config (each
// hop's name resolvable only on the hop before it) and the user it gives,
// connect lines that say the jump; a failed preflight run again with the
// same command; a bad dns.servers value refused before any connection.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sshdConnections counts the connections host i's sshd has logged.
func sshdConnections(t *testing.T, l *Lab, i int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.hostDir(i), "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "Connection from ")
}

// item8Setup writes the ssh_config (central3 → central2 → central1 as
// OpenSSH chains them: c3's ProxyJump is c2, whose own is c1; lab2 and lab3
// are named by names only the lab hosts resolve), a known_hosts that knows
// those names, and micetro-central-ha answers without ssh.user (ssh_config
// gives it) with dnsServer as dns.servers.
func item8Setup(t *testing.T, l *Lab, dir, dnsServer string) string {
	t.Helper()
	kh := l.knownHostsCopy(t)
	b, err := os.ReadFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	extra := ""
	for _, line := range strings.Split(string(b), "\n") {
		for i, name := range []string{"", "lab2.lab.hawiz.test", "lab3.lab.hawiz.test"} {
			if name != "" && strings.HasPrefix(line, l.Addrs[i]+" ") {
				extra += name + line[len(l.Addrs[i]):] + "\n"
			}
		}
	}
	if strings.Count(extra, "\n") != 2 {
		t.Fatalf("known_hosts %s lacks lab2/lab3 keys", kh)
	}
	if err := os.WriteFile(kh, append(b, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	if l.Port != 22 {
		t.Skip("the chain test names hosts without ports; the lab's sshd is on", l.Port)
	}
	for _, n := range []string{"lab2.lab.hawiz.test", "lab3.lab.hawiz.test"} {
		if _, err := os.Stat("/etc/hosts"); err == nil {
			if h, _ := os.ReadFile("/etc/hosts"); strings.Contains(string(h), n) {
				t.Fatalf("%s resolves on this machine: the chain would not be proven", n)
			}
		}
	}
	cfg := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`Host c1
  HostName %s
Host c2
  HostName lab2.lab.hawiz.test
  ProxyJump c1
Host c3
  HostName lab3.lab.hawiz.test
  ProxyJump c2
Host *
  User %s
  IdentityFile %s
  IdentitiesOnly yes
`, l.Addrs[0], l.User, l.Key)), 0o600); err != nil {
		t.Fatal(err)
	}
	answers := filepath.Join(dir, "ha.yaml")
	if err := os.WriteFile(answers, []byte(fmt.Sprintf(`ssh:
  ssh_config: %s
  known_hosts: %s
members:
  - {name: central1, host: {name: c1}, priority: 10, preferences_path: /srv/hawiz-item8/none.cfg}
  - {name: central2, host: {name: c2}, priority: 20, preferences_path: /srv/hawiz-item8/none.cfg}
  - {name: central3, host: {name: c3}, priority: 30, preferences_path: /srv/hawiz-item8/none.cfg}
dns:
  name: central.lab.hawiz.test
  servers: [%q]
`, cfg, kh, dnsServer)), 0o600); err != nil {
		t.Fatal(err)
	}
	return answers
}

// TestProxyJumpChainOnLab: hawiz reaches central3 through c1 then c2, as
// OpenSSH would, with the user ssh_config gives; the connect lines say so.
// Its preflight fails (no Central on these hosts): the same command runs
// again instead of refusing the state.
func TestProxyJumpChainOnLab(t *testing.T) {
	l := needLab(t)
	l.needHosts(t, 3)
	dir := t.TempDir()
	answers := item8Setup(t, l, dir, "127.0.0.1:1")
	env := []string{"XDG_STATE_HOME=" + dir, "NO_COLOR=1"}
	for round := 1; round <= 2; round++ {
		code, evs, stderr := hawizJSON(t, env, nil, time.Time{}, "run", "micetro-central-ha", "-a", answers, "--only", "preflight", "--yes")
		if code != 1 {
			t.Fatalf("round %d: exit %d (want 1: the preflight fails on hosts without Central)\n%s", round, code, stderr)
		}
		via := map[string]string{}
		for _, e := range evs {
			if e.Kind == "connect" && e.Host != "" {
				via[e.Host] = e.Message
			}
		}
		want := map[string]string{
			"c1": "connected to " + l.Addrs[0],
			"c2": "connected to lab2.lab.hawiz.test via ProxyJump c1",
			"c3": "connected to lab3.lab.hawiz.test via ProxyJump c1 → c2",
		}
		for h, w := range want {
			if via[h] != w {
				t.Errorf("round %d: %s: connect line %q, want %q", round, h, via[h], w)
			}
		}
		if round == 2 {
			said := false
			for _, e := range evs {
				said = said || e.Kind == "info" && strings.Contains(e.Message, "changed nothing")
			}
			if !said {
				t.Errorf("round 2: no event says the first run changed nothing and is replaced")
			}
		}
	}
}

// TestBadDNSServerRefusedBeforeConnecting: dns.servers 999.0.0.1:53 is
// refused naming the field, exit 2, before any host is dialled and before
// a state is written (it used to pass, and the run failed at its last step).
func TestBadDNSServerRefusedBeforeConnecting(t *testing.T) {
	l := needLab(t)
	l.needHosts(t, 3)
	dir := t.TempDir()
	answers := item8Setup(t, l, dir, "999.0.0.1:53")
	var before []int
	for i := 0; i < 3; i++ {
		before = append(before, sshdConnections(t, l, i))
	}
	code, evs, stderr := hawizJSON(t, []string{"XDG_STATE_HOME=" + dir, "NO_COLOR=1"}, nil, time.Time{}, "run", "micetro-central-ha", "-a", answers, "--yes")
	out := stderr
	for _, e := range evs {
		out += "\n" + e.Message
	}
	if code != 2 || !strings.Contains(out, `dns.servers[0]: "999.0.0.1:53"`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for i := 0; i < 3; i++ {
		if n := sshdConnections(t, l, i); n != before[i] {
			t.Errorf("%s: %d connection(s) made", l.Names[i], n-before[i])
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*", "*.json")); len(m) != 0 {
		t.Errorf("state written: %v", m)
	}
}
