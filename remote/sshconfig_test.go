package remote

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
	"golang.org/x/crypto/ssh"
)

// writeSSHConfig writes an ssh_config into the lab dir and returns its path.
func (l *lab) writeSSHConfig(name, body string) string {
	l.t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// trustAs records s's key in the lab's known_hosts under name (port 22 as
// OpenSSH writes it: the bare name).
func (l *lab) trustAs(name string, s *sshtest.Server) {
	l.t.Helper()
	f, err := os.OpenFile(l.knownHosts, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey()))) + "\n")
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"10.0.*", "10.0.0.5", true},
		{"10.0.*", "10.1.0.5", false},
		{"127.0.0.?", "127.0.0.1", true},
		{"127.0.0.?", "127.0.0.10", false}, // ? is exactly one character
		{"127.0.0.?", "127.0.0.", false},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"central?", "central3", true},
		{"c*l*", "central", true},
	} {
		if got := globMatch(c.pat, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

// TestSSHConfigHostPatterns: Host lines are matched as OpenSSH matches them,
// against the host's name AND its address: wildcards, `?`, several patterns
// on a line, negation (which excludes the host under either name), case,
// Match host pattern lists, an Include inside a Host block, first value wins.
func TestSSHConfigHostPatterns(t *testing.T) {
	l := newLab(t)
	inc := l.writeSSHConfig("included.conf", `
IdentityFile /keys/from-include
Host db*
  Port 2201
`)
	cfg := l.writeSSHConfig("config", `
Host web* DB1
  User multi
Host 10.0.* !10.0.0.9
  ProxyJump bastion
  User tenzero
Host 127.0.0.?
  User loop
Match host 192.168.1.*,192.168.2.*
  User matched
Host inc-*
  Include `+inc+`
Host *
  User fallback
  Port 2222
`)
	sc, err := loadSSHConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		names     []string
		key, want string
		why       string
	}{
		{[]string{"web1"}, "User", "multi", "second pattern of a line"},
		{[]string{"db1"}, "User", "multi", "case-insensitive (DB1)"},
		{[]string{"central1", "10.0.0.5"}, "User", "tenzero", "the address matches Host 10.0.*"},
		{[]string{"central1", "10.0.0.5"}, "ProxyJump", "bastion", "the address's block gives the jump"},
		{[]string{"central1"}, "ProxyJump", "", "the name alone matches no jump block"},
		{[]string{"bastion", "10.0.0.9"}, "ProxyJump", "", "negated address excludes the block"},
		{[]string{"10.0.0.9"}, "User", "fallback", "negated: falls through to Host *"},
		{[]string{"central1", "127.0.0.1"}, "User", "loop", "? matches one character"},
		{[]string{"central1", "127.0.0.10"}, "User", "fallback", "? matches exactly one character"},
		{[]string{"x", "192.168.2.7"}, "User", "matched", "Match host pattern list"},
		{[]string{"inc-db"}, "Port", "2222", "the included Host db* block does not match inc-db"},
		{[]string{"inc-a"}, "IdentityFile", "/keys/from-include", "Include's leading lines apply under the outer Host"},
		{[]string{"other"}, "IdentityFile", "", "an Include under another Host does not apply"},
		{[]string{"web1", "10.0.0.5"}, "User", "multi", "the first value wins"},
	} {
		if got := sc.get(c.names, c.key); got != c.want {
			t.Errorf("%v %s = %q, want %q (%s)", c.names, c.key, got, c.want, c.why)
		}
	}
	if got := sc.get([]string{"inc-x", "dbhost"}, "Port"); got != "2201" {
		t.Errorf("included Host db* matched by the address: Port %q, want 2201", got)
	}
}

// TestSSHConfigAddressPatternJump: a bastion configured for the members'
// addresses (Host 127.0.0.*) is used although the host is named otherwise;
// the bastion itself is excluded by negation. The connect record says so.
func TestSSHConfigAddressPatternJump(t *testing.T) {
	l := newLab(t)
	jump := l.server(nil)
	target := l.server(nil)
	l.trust(jump)
	l.trust(target)
	cfg := l.writeSSHConfig("config", `
Host bastion
  HostName 127.0.0.1
  Port `+itoa(jump.Port())+`
  User jumper
  IdentityFile `+l.key.path+`
Host 127.0.0.* !bastion
  ProxyJump bastion
`)
	o := l.opts()
	o.SSHConfigFile = cfg
	var tr transcript
	o.Transcript = tr.add
	f, err := Connect(ctxT(t), o, []HostConfig{l.hostConfig("central1", target)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if jump.Accepted() != 1 || target.Accepted() != 1 {
		t.Fatalf("accepted: bastion %d target %d: the Host 127.0.0.* block was not used", jump.Accepted(), target.Accepted())
	}
	if via := f.Host("central1").Via(); len(via) != 1 || via[0] != "bastion" {
		t.Fatalf("Via = %v", via)
	}
	found := false
	for _, a := range tr.all() {
		if a.Kind == "dial" && strings.Contains(a.Detail, "via ProxyJump bastion") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no dial record says the jump: %+v", tr.all())
	}
}

// TestProxyJumpChainsAsOpenSSH: central3's ProxyJump is central2, whose own
// ProxyJump is central1: OpenSSH reaches central3 through central1 then
// central2. Each hop's address is reachable only from the hop before it
// (the sshtest servers' AddrMap), so a direct dial of any of them fails.
func TestProxyJumpChainsAsOpenSSH(t *testing.T) {
	l := newLab(t)
	c3 := l.server(nil)
	c2 := l.server(func(c *sshtest.Config) { c.AddrMap = map[string]string{"c3.internal:22": c3.Addr()} })
	c1 := l.server(func(c *sshtest.Config) { c.AddrMap = map[string]string{"c2.internal:22": c2.Addr()} })
	l.trust(c1)
	l.trustAs("c2.internal", c2)
	l.trustAs("c3.internal", c3)
	cfg := l.writeSSHConfig("config", `
Host central1
  HostName 127.0.0.1
  Port `+itoa(c1.Port())+`
Host central2
  HostName c2.internal
  ProxyJump central1
Host central3
  HostName c3.internal
  ProxyJump central2
Host *
  User tester
  IdentityFile `+l.key.path+`
`)
	o := l.opts()
	o.SSHConfigFile = cfg
	routes, err := Routes(o, []HostConfig{{Name: "central3"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := routes[0]; strings.Join(r.Via, ",") != "central1,central2" || r.Address != "c3.internal:22" || r.User != "tester" {
		t.Fatalf("route %+v", r)
	}
	if c1.Accepted()+c2.Accepted()+c3.Accepted() != 0 {
		t.Fatal("Routes connected")
	}
	f, err := Connect(ctxT(t), o, []HostConfig{{Name: "central3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := f.Host("central3").Run(ctxT(t), Cmd{Program: "echo", Args: []string{"three hops"}})
	if err != nil || string(res.Stdout) != "three hops\n" {
		t.Fatalf("%v %q", err, res.Stdout)
	}
	if c1.Accepted() != 1 || c2.Accepted() != 1 || c3.Accepted() != 1 {
		t.Fatalf("accepted: c1 %d c2 %d c3 %d", c1.Accepted(), c2.Accepted(), c3.Accepted())
	}

	// -J semantics: with ProxyJump "central1,central2" given for the host,
	// central2's own ProxyJump is not followed again (central1 once).
	f2, err := Connect(ctxT(t), o, []HostConfig{{Name: "central3", ProxyJump: "central1,central2"}})
	if err != nil {
		t.Fatal(err)
	}
	f2.Close()
	if via := f2.Host("central3").Via(); strings.Join(via, ",") != "central1,central2" {
		t.Fatalf("Via %v", via)
	}
}

// TestProxyJumpRefusals: loops, ProxyCommand and a missing user are refused
// before anything is dialled, each naming the host.
func TestProxyJumpRefusals(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	cfg := l.writeSSHConfig("config", `
Host a
  ProxyJump b
Host b
  ProxyJump a
Host self
  ProxyJump self
Host pc
  ProxyCommand nc %h %p
Host pcfirst
  ProxyCommand none
  ProxyJump ignored
Host withuser
  User fromconfig
Host *
  HostName 127.0.0.1
  Port `+itoa(s.Port())+`
`)
	o := l.opts()
	o.SSHConfigFile = cfg
	for _, c := range []struct {
		hc   HostConfig
		want string
	}{
		{HostConfig{Name: "m1", User: "u", ProxyJump: "a"}, "ProxyJump loop: a → b → a"},
		{HostConfig{Name: "m2", User: "u", ProxyJump: "self"}, "ProxyJump loop: self → self"},
		{HostConfig{Name: "pc", User: "u"}, "ProxyCommand for pc"},
		{HostConfig{Name: "m3", User: "u", ProxyJump: "pc"}, "ProxyCommand for pc"},
		{HostConfig{Name: "m4", User: "u", ProxyJump: "a,b"}, "ProxyJump loop"},
	} {
		_, err := Connect(ctxT(t), o, []HostConfig{c.hc})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "host "+c.hc.Name) {
			t.Errorf("%+v: err = %v, want %q", c.hc, err, c.want)
		}
	}
	// ProxyCommand none before ProxyJump: neither applies (first value wins).
	if r, err := Routes(o, []HostConfig{{Name: "pcfirst", User: "u"}}); err != nil || len(r[0].Via) != 0 {
		t.Errorf("pcfirst: %+v %v", r, err)
	}
	// The answers' proxy_jump overrides ssh_config's ProxyCommand.
	if _, err := Routes(o, []HostConfig{{Name: "pc", User: "u", ProxyJump: "none"}}); err != nil {
		t.Errorf("ProxyJump none over ProxyCommand: %v", err)
	}
	// No user: an error naming the host, not the local user.
	_, err := Connect(ctxT(t), o, []HostConfig{{Name: "nouser", Address: "127.0.0.1"}, {Name: "withuser"}})
	var nu *NoUserError
	if !errors.As(err, &nu) || nu.Host != "nouser" || !strings.Contains(err.Error(), "nouser or 127.0.0.1") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Connect(ctxT(t), Options{SSHConfigFile: "none", AgentSocket: "none"}, []HostConfig{{Name: "x"}}); !errors.As(err, &nu) || !strings.Contains(err.Error(), "no ssh_config is read") {
		t.Fatalf("err = %v", err)
	}
	if r, err := Routes(o, []HostConfig{{Name: "withuser"}}); err != nil || r[0].User != "fromconfig" {
		t.Fatalf("User from ssh_config: %+v %v", r, err)
	}
	if s.Accepted() != 0 {
		t.Fatalf("%d connections accepted", s.Accepted())
	}
}
