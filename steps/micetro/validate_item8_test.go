package micetro

import (
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

// item8Answers are valid HA answers; each case below breaks one value.
const item8Answers = `ssh:
  user: admin
members:
  - name: central1
    host: {address: 10.0.0.1}
    priority: 10
  - name: central2
    host: {address: central2.example.com, os: windows, user: 'CORP\svc-hawiz'}
    priority: 20
dns:
  name: central.example.com
  servers: [10.0.0.53, "ns1.example.com:5353", "[2001:db8::53]:53"]
`

// TestHAAnswersRefuseBadValues: every bad value is an error naming its
// field, found by LoadAnswers (before anything connects).
func TestHAAnswersRefuseBadValues(t *testing.T) {
	p := CentralHA()
	if _, err := steps.LoadAnswers(p, []byte(item8Answers)); err != nil {
		t.Fatalf("valid answers refused: %v", err)
	}
	for _, c := range []struct{ old, new, field string }{
		{`servers: [10.0.0.53,`, `servers: ["999.0.0.1:53",`, "dns.servers[0]"},
		{`servers: [10.0.0.53,`, `servers: ["10.0.0.53:0",`, "dns.servers[0]"},
		{`"ns1.example.com:5353"`, `"ns1.example.com:99999"`, "dns.servers[1]"},
		{`"ns1.example.com:5353"`, `"ns_1.example.com"`, "dns.servers[1]"},
		{"  servers:", "  resolver: 300.1.1.1\n  servers:", "dns.resolver"},
		{"address: 10.0.0.1}", "address: 10.0.0.256}", "members[0].host.address"},
		{"address: 10.0.0.1}", "address: central_1.example.com}", "members[0].host.address"},
		{"user: admin", "user: -admin", "ssh.user"},
		{"user: admin", `user: 'CORP\admin'`, "ssh.user"},
		{`user: 'CORP\svc-hawiz'`, `user: 'svc*hawiz'`, "members[1].host.user"},
		{"address: 10.0.0.1}", "address: 10.0.0.1, user: 'root:0'}", "members[0].host.user"},
		{"name: central.example.com", "name: central_rr.example.com", "dns.name"},
	} {
		y := strings.Replace(item8Answers, c.old, c.new, 1)
		if y == item8Answers {
			t.Fatalf("case %s: %q not found", c.field, c.old)
		}
		_, err := steps.LoadAnswers(p, []byte(y))
		if err == nil || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("%s = %q: err = %v", c.field, c.new, err)
		}
	}
}

// TestTemplatePlaceholdersRefused: the printed template, loaded as it is,
// names every placeholder left in it (they used to pass: <ssh user> as the
// user, <central.example.com> as the DNS name).
func TestTemplatePlaceholdersRefused(t *testing.T) {
	for _, p := range []*steps.Procedure{CentralHA(), CentralUpgrade()} {
		_, err := steps.LoadAnswers(p, []byte(p.Template))
		if err == nil {
			t.Fatalf("%s: the unfilled template loads", p.Name)
		}
		want := []string{`ssh.user: "<ssh user>" is a placeholder`, `members[0].host.address: "<primary address>" is a placeholder`,
			`members[1].host.address: "<failover address>" is a placeholder`}
		if p.Name == "micetro-central-ha" {
			want = append(want, `dns.name: "<central.example.com>" is a placeholder`)
		} else {
			want = append(want, `installer.expected_version: "<10.3.6>" is a placeholder`, `installer.local: "<./micetro-central-10.3.6.linux.x64.tgz>"`)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: missing %q in:\n%v", p.Name, w, err)
			}
		}
		if strings.Contains(err.Error(), "not a host name") {
			t.Errorf("%s: a placeholder is also reported as a bad address:\n%v", p.Name, err)
		}
		// Only ssh.user left: still refused, naming it.
		filled := strings.NewReplacer("<primary address>", "10.0.0.1", "<failover address>", "10.0.0.2",
			"<central.example.com>", "central.example.com", "<10.3.6>", "10.3.6",
			"<./micetro-central-10.3.6.linux.x64.tgz>", "remote-installer").Replace(p.Template)
		filled = strings.Replace(filled, "local: remote-installer", "remote: /srv/installer.tgz", 1)
		_, err = steps.LoadAnswers(p, []byte(filled))
		if err == nil || !strings.HasPrefix(err.Error(), `ssh.user: "<ssh user>"`) || strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("%s: only ssh.user unfilled: %v", p.Name, err)
		}
	}
}
