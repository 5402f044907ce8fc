package opsmanager

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/steps"
)

func ip(n int) *int { return &n }

func TestCheckPlacement(t *testing.T) {
	m := func(host, fac string, votes, prio int) Member {
		return Member{Host: host, Facility: fac, Votes: ip(votes), Priority: ip(prio)}
	}
	cases := []struct {
		name string
		ms   []Member
		want string // "" = holds
	}{
		{"one site", []Member{m("a:1", "", 1, 1), m("b:1", "", 1, 1), m("c:1", "", 1, 1)}, ""},
		{"majority and all eligible in dc1", []Member{m("a:1", "dc1", 1, 2), m("b:1", "dc1", 1, 1), m("c:1", "dc2", 1, 0)}, ""},
		{"2 of 5 votes", []Member{m("db1:1", "dc1", 1, 1), m("db2:1", "dc1", 1, 1), m("db3:1", "dc2", 1, 0), m("db4:1", "dc2", 1, 1), m("db5:1", "dc3", 1, 0)},
			`facility "dc1" holds 2 of 5 votes (needs 3); member db4:1 (priority 1) is in "dc2"`},
		{"even split", []Member{m("a:1", "dc1", 1, 1), m("b:1", "dc1", 1, 1), m("c:1", "dc2", 1, 0), m("d:1", "dc2", 1, 0)},
			`facility "dc1" holds 2 of 4 votes (needs 3)`},
		{"eligible member outside", []Member{m("a:1", "dc1", 1, 1), m("b:1", "dc1", 1, 1), m("c:1", "dc2", 1, 5)},
			`member c:1 (priority 5) is in "dc2"`},
		{"mixed facility answers", []Member{m("a:1", "dc1", 1, 1), m("b:1", "", 1, 1), m("c:1", "dc1", 1, 1)}, "every member a facility"},
	}
	for _, c := range cases {
		err := CheckPlacement(c.ms)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func TestParseAppDBURI(t *testing.T) {
	hs, err := ParseAppDBURI("mongodb://h0.example.net,h1.example.net:27018,[::1]:27019,[fe80::1]/?maxPoolSize=100")
	if err != nil || len(hs) != 4 || hs[0].String() != "h0.example.net:27017" || hs[2].String() != "[::1]:27019" || hs[3].String() != "[fe80::1]:27017" {
		t.Fatalf("%v %v", hs, err)
	}
	for _, bad := range []string{"mongodb+srv://x.example.net/", "http://a", "mongodb://u:p@a,b,c/", "mongodb://a:x,b,c", "mongodb:///x"} {
		if _, err := ParseAppDBURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	got := WithCredentials("mongodb://a,b,c/?x=1", "om user", "p@ss:w/rd#1%")
	if got != "mongodb://om%20user:p%40ss%3Aw%2Frd%231%25@a,b,c/?x=1" {
		t.Fatalf("credentials spliced as %s", got)
	}
}

const validYAML = `servers:
  - {name: om1, install: package}
  - {name: om2, install: tar, install_dir: /opt/om}
appdb:
  uri: mongodb://db1:27017,db2:27017,db3:27017/?maxPoolSize=100
load_balancer:
  url: http://om.example.net:8080
`

func TestAnswersValidation(t *testing.T) {
	a, err := steps.LoadAnswers(HA(), []byte(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	h := a.(*Answers)
	if h.GenKey.Mode != GenKeyFirst || h.LoadBalancer.RemoteIPHeader != "X-Forwarded-For" || h.Port != 8080 ||
		h.Servers[0].ServiceUser != "mongodb-mms" || h.Servers[0].InstallDir != "/opt/mongodb/mms" {
		t.Fatalf("defaults not applied: %+v", h)
	}
	cases := []struct{ yaml, want string }{
		{strings.Replace(validYAML, ",db3:27017", "", 1), "appdb.uri: lists 2 host(s)"},
		{strings.Replace(validYAML, "install: tar, install_dir: /opt/om", "install: tar", 1), "servers[1].install_dir: is required"},
		{strings.Replace(validYAML, "install: package", "install: rpm", 1), `servers[0].install: "rpm" must be package or tar`},
		{strings.Replace(validYAML, "  - {name: om2, install: tar, install_dir: /opt/om}\n", "", 1), "servers: an HA Ops Manager needs at least 2"},
		{strings.Replace(validYAML, "mongodb://db1", "mongodb://u:secret@db1", 1), "appdb.uri: must not hold credentials"},
		{validYAML + "  remote_ip_header: http://om.example.net\n", "load_balancer.remote_ip_header"},
		{strings.Replace(validYAML, "http://om.example.net:8080", "om.example.net", 1), "load_balancer.url"},
		{validYAML + "gen_key: {mode: file}\n", "gen_key.file: is required"},
		{validYAML + "gen_key: {mode: copy}\n", "gen_key.mode"},
		{validYAML + "  prioriy: 1\n", "line 8: unknown field prioriy"},
		{strings.Replace(validYAML, "?maxPoolSize=100\n", "?maxPoolSize=100\n  members:\n    - {host: db1, facility: a}\n    - {host: db2, facility: b}\n    - {host: db3, facility: b, priority: 0}\n", 1),
			`appdb.members: member db1:27017 (priority 1) is in "a"`},
		{strings.Replace(validYAML, "?maxPoolSize=100\n", "?maxPoolSize=100\n  members:\n    - {host: db1}\n    - {host: db2}\n", 1),
			"db3:27017 (in appdb.uri) is not described"},
		{strings.Replace(validYAML, "?maxPoolSize=100\n", "?maxPoolSize=100\n  members:\n    - {host: db1}\n    - {host: db2, votes: 2}\n    - {host: db3, votes: 0}\n", 1),
			"appdb.members[1].votes: 2 must be 0 or 1"},
		// a member whose host is empty or unparsable is named, not a crash
		// in the placement check that follows
		{strings.Replace(validYAML, "?maxPoolSize=100\n", "?maxPoolSize=100\n  members:\n    - {host: \"\"}\n    - {host: db2}\n    - {host: db3}\n", 1),
			"appdb.members[0].host: is required"},
		{strings.Replace(validYAML, "?maxPoolSize=100\n", "?maxPoolSize=100\n  members:\n    - {host: db1, facility: a}\n    - {host: \"db2:x\", facility: b}\n    - {host: db3, facility: b}\n", 1),
			"appdb.members[1].host"},
	}
	for _, c := range cases {
		_, err := steps.LoadAnswers(HA(), []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v\n%s", c.want, err, c.yaml)
		}
	}
	// The templates load.
	for _, p := range []*steps.Procedure{HA(), UpgradeProcedure()} {
		if _, err := steps.LoadAnswers(p, []byte(p.Template)); err != nil {
			t.Errorf("%s template: %v", p.Name, err)
		}
	}
	// Upgrade answers: package kind vs install type.
	_, err = steps.LoadAnswers(UpgradeProcedure(), []byte("servers:\n  - {name: a, install: package}\n  - {name: b, install: tar, install_dir: /x}\nupgrade: {package: x.deb, version: 7.0.1}\n"))
	if err == nil || !strings.Contains(err.Error(), "servers[1].install: tar install cannot take the deb file") {
		t.Errorf("upgrade answers: %v", err)
	}
}

func TestCacheSigns(t *testing.T) {
	t0 := time.Now()
	hd := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	clean := []Probe{
		{Sent: t0, Header: hd("Date", "Mon, 23 Nov 2026 11:00:00 GMT", "Cache-Control", "no-cache, no-store")},
		{Sent: t0.Add(1200 * time.Millisecond), Header: hd("Date", "Mon, 23 Nov 2026 11:00:01 GMT", "Cache-Control", "private, max-age=0")},
		{Sent: t0.Add(1300 * time.Millisecond), Header: hd("Date", "Mon, 23 Nov 2026 11:00:01 GMT", "X-Cache", "MISS")},
	}
	if s := CacheSigns(clean); len(s) != 0 {
		t.Fatalf("false positives: %v", s)
	}
	for _, c := range []struct {
		p    []Probe
		want string
	}{
		{[]Probe{{Sent: t0, Header: hd("Age", "12")}}, "Age: 12"},
		{[]Probe{{Sent: t0, Header: hd("X-Cache", "HIT from proxy")}}, "X-Cache: HIT"},
		{[]Probe{{Sent: t0, Header: hd("CF-Cache-Status", "hit")}}, "CF-Cache-Status"},
		{[]Probe{{Sent: t0, Header: hd("Cache-Control", "public")}}, "public"},
		{[]Probe{{Sent: t0, Header: hd("Cache-Control", "no-transform, max-age=60")}}, "max-age > 0"},
		{[]Probe{{Sent: t0, Header: hd("Cache-Control", "s-maxage=5")}}, "s-maxage > 0"},
		{[]Probe{{Sent: t0, Header: hd("Date", "D1")}, {Sent: t0.Add(1500 * time.Millisecond), Header: hd("Date", "D1")}}, "same Date"},
	} {
		s := CacheSigns(c.p)
		if len(s) == 0 || !strings.Contains(strings.Join(s, ";"), c.want) {
			t.Errorf("want %q, got %v", c.want, s)
		}
	}
}

func TestCheckLBNameWithDNS(t *testing.T) {
	zone := "$TTL 300\nlab.hawiz.test. IN SOA ns1.lab.hawiz.test. h.lab.hawiz.test. 2026112301 3600 600 86400 60\n" +
		"lab.hawiz.test. IN NS ns1.lab.hawiz.test.\nns1 IN A 127.0.0.1\nom 300 IN A 192.0.2.10\nom 300 IN A 192.0.2.11\n"
	srv, err := dnstest.Start(dnstest.Config{Zones: map[string]string{"lab.hawiz.test": zone}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	e := steps.NewEnv(context.Background(), nil, nil, nil)
	lb := LoadBalancer{URL: "http://om.lab.hawiz.test:8080", Expect: []string{"192.0.2.10", "192.0.2.11"}, DNSServers: []string{srv.Addr()}, DNSResolver: "127.0.0.1:1"}
	ev, err := checkLBName(context.Background(), e, &lb)
	if err != nil || !strings.Contains(ev, "on every authoritative server of lab.hawiz.test") {
		t.Fatalf("%v\n%s", err, ev)
	}
	lb.Expect = []string{"192.0.2.10"}
	if _, err := checkLBName(context.Background(), e, &lb); err == nil || !strings.Contains(err.Error(), "does not hold") {
		t.Fatalf("an extra address must fail: %v", err)
	}
	lb.URL = "http://127.0.0.1:8080"
	if ev, err := checkLBName(context.Background(), e, &lb); err != nil || !strings.Contains(ev, "names an IP address") {
		t.Fatalf("%v %s", err, ev)
	}
}
