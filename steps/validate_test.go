package steps

import (
	"strings"
	"testing"
)

func TestCheckAddress(t *testing.T) {
	for _, ok := range []string{"10.0.0.5", "::1", "fe80::1%eth0", "central1", "central1.example.com", "central1.example.com.",
		"3com.example", "a-b.c", strings.Repeat("a", 63) + ".example"} {
		if err := CheckAddress(ok); err != nil {
			t.Errorf("CheckAddress(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "999.0.0.1", "10.0.0", "1.2.3.4.5", "central_1", "-central", "central-", "a..b",
		"<primary address>", "host name", "[::1]", "10.0.0.1:22", strings.Repeat("a", 64) + ".example", "exa$mple.com"} {
		if err := CheckAddress(bad); err == nil {
			t.Errorf("CheckAddress(%q) accepted", bad)
		}
	}
}

func TestCheckServer(t *testing.T) {
	for _, ok := range []string{"10.0.0.1", "10.0.0.1:53", "ns1.example.com", "ns1.example.com:5353", "::1", "[::1]:53", "2001:db8::1"} {
		if err := CheckServer(ok); err != nil {
			t.Errorf("CheckServer(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"999.0.0.1:53", "999.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "ns1:http", "ns1:+53",
		"ns_1.example.com", "[::1]:", "<dns server>", "ns1.example.com:53:53"} {
		if err := CheckServer(bad); err == nil {
			t.Errorf("CheckServer(%q) accepted", bad)
		}
	}
}

func TestCheckUser(t *testing.T) {
	for _, c := range []struct {
		name    string
		windows bool
		ok      bool
	}{
		{"admin", false, true},
		{"svc.hawiz-1", false, true},
		{"_apt", false, true},
		{"MACHINE$", false, true},
		{"jdoe@corp.example.com", false, true}, // sssd fully qualified
		{"-admin", false, false},
		{"1234", false, false},
		{"ad min", false, false},
		{"<ssh user>", false, false},
		{`CORP\admin`, false, false},
		{"a:b", false, false},
		{"", false, false},
		{"x\ny", false, false},
		{"Administrator", true, true},
		{`CORP\svc-hawiz`, true, true},
		{"svc.hawiz@corp.example.com", true, true},
		{"John Smith", true, true},
		{"abcdefghijklmnopqrstu", true, false}, // 21 characters
		{`CORP\a*b`, true, false},
		{"...", true, false},
		{`TOOLONGDOMAINNAME16\admin`, true, false},
		{`\admin`, true, false},
		{"admin@", true, false},
		{"<ssh user>", true, false},
	} {
		if err := CheckUser(c.name, c.windows); (err == nil) != c.ok {
			t.Errorf("CheckUser(%q, windows %v) = %v, want ok %v", c.name, c.windows, err, c.ok)
		}
	}
}

func TestCheckSSHUsersPerOS(t *testing.T) {
	hosts := []HostAnswers{{Name: "l1", OS: "linux"}, {Name: "w1", OS: "windows"}, {Name: "w2", OS: "windows", User: "bad*user"}}
	fields := []string{"members[0].host", "members[1].host", "members[2].host"}
	es := CheckSSHUsers(&SSHAnswers{User: `CORP\admin`}, hosts, fields)
	got := es.Error()
	if len(es) != 2 || !strings.Contains(got, "members[2].host.user") || !strings.Contains(got, "ssh.user") ||
		!strings.Contains(got, "Linux hosts l1") {
		t.Fatalf("%v", es)
	}
	if es := CheckSSHUsers(&SSHAnswers{User: "admin"}, hosts[:2], fields); len(es) != 0 {
		t.Fatalf("admin for Linux and Windows: %v", es)
	}
}

// placeholderCommon and placeholderAnswers are shaped like a procedure's
// answers: an inline embedded block, slices of structs, a map, a pointer.
type placeholderCommon struct {
	SSH     SSHAnswers `yaml:"ssh"`
	Members []struct {
		Name string `yaml:"name"`
		Host struct {
			Address string `yaml:"address,omitempty"`
		} `yaml:"host"`
	} `yaml:"members"`
}

type placeholderAnswers struct {
	placeholderCommon `yaml:",inline"`  // unexported: YAML cannot fill it either, so it is skipped
	Common            placeholderCommon `yaml:",inline"`
	Command           []string          `yaml:"install_command,omitempty"`
	Tags              map[string]string `yaml:"tags,omitempty"`
	Ptr               *HostAnswers      `yaml:"ptr,omitempty"`
	Version           string            // no tag: YAML's lower-cased name
}

func TestPlaceholders(t *testing.T) {
	a := &placeholderAnswers{Command: []string{"./install", "--dir=<dir>"}, Tags: map[string]string{"dc": "<facility>"},
		Ptr: &HostAnswers{Address: "<x>"}, Version: "<10.3.6>"}
	a.placeholderCommon.SSH.User = "<hidden>"
	a.Common.SSH.User = "<ssh user>"
	a.Common.Members = make([]struct {
		Name string `yaml:"name"`
		Host struct {
			Address string `yaml:"address,omitempty"`
		} `yaml:"host"`
	}, 2)
	a.Common.Members[0].Host.Address = "<primary address>"
	a.Common.Members[1].Host.Address = "10.0.0.2"
	es := WithPlaceholders(a, FieldErrors{{Field: "members[0].host.address", Msg: "is not a host name"}, {Field: "members", Msg: "other"}})
	got := es.Error()
	for _, want := range []string{
		`ssh.user: "<ssh user>" is a placeholder from the answers template: fill it in`,
		`members[0].host.address: "<primary address>"`,
		`install_command[1]: "<dir>"`, `tags.dc: "<facility>"`, `ptr.address: "<x>"`, `version: "<10.3.6>"`,
		"members: other",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "is not a host name") || strings.Contains(got, "hidden") || len(es) != 7 {
		t.Errorf("%d errors:\n%s", len(es), got)
	}
	if es := Placeholders(&placeholderAnswers{Version: "10.3.6", Command: []string{"a<b", "x > y"}}); len(es) != 0 {
		t.Errorf("no placeholder: %v", es)
	}
}
