package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/steps"
)

const (
	dnsTestZone = `$TTL 300
example.test. IN SOA ns1.example.test. hostmaster.example.test. 2026112201 3600 600 86400 60
example.test. IN NS ns1.example.test.
ns1 IN A 127.0.0.2
www IN A 10.0.0.11
`
	dnsTestSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg=="
)

// runCLI runs hawiz without fang's styling and returns the exit code and output.
func runCLI(t *testing.T, stdin *os.File, args ...string) (int, string) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	if stdin != nil {
		root.SetIn(stdin)
	} else {
		root.SetIn(strings.NewReader(""))
	}
	err := root.ExecuteContext(context.Background())
	code := steps.ExitOK
	if err != nil {
		out.WriteString("ERROR: " + err.Error() + "\n")
		var ee *exitError
		code = steps.ExitUsage
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return code, out.String()
}

func dnsLab(t *testing.T) (p, s *dnstest.Server, keyFile string) {
	t.Helper()
	p, err := dnstest.Start(dnstest.Config{Zones: map[string]string{"example.test": dnsTestZone}, Keys: map[string]string{"hawiz-key": dnsTestSecret}, AllowUpdate: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err = dnstest.StartSecondary(p, dnstest.Config{}, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); s.Close() })
	keyFile = filepath.Join(t.TempDir(), "hawiz.key")
	os.WriteFile(keyFile, []byte("key \"hawiz-key\" {\n\talgorithm hmac-sha256;\n\tsecret \""+dnsTestSecret+"\";\n};\n"), 0o600)
	return p, s, keyFile
}

func TestDNSVerifyExitCodes(t *testing.T) {
	p, s, _ := dnsLab(t)
	common := []string{"--server", p.Addr(), "--server", s.Addr(), "--resolver", "127.0.0.1:1", "--timeout", "300ms"}
	code, out := runCLI(t, nil, append([]string{"dns", "verify", "www.example.test", "--expect", "10.0.0.11"}, common...)...)
	if code != steps.ExitOK || !strings.Contains(out, "verified: 2 authoritative server(s) answer exactly 10.0.0.11, serial 2026112201") || !strings.Contains(out, "clients see: resolver 127.0.0.1:1:") {
		t.Fatalf("code %d:\n%s", code, out)
	}
	code, out = runCLI(t, nil, append([]string{"dns", "verify", "www.example.test", "--expect", "10.0.0.11,10.0.0.12", "--json"}, common...)...)
	var rep struct {
		OK       bool
		Problems []string
	}
	if code != steps.ExitFailed || json.Unmarshal([]byte(strings.SplitN(out, "ERROR:", 2)[0]), &rep) != nil || rep.OK || len(rep.Problems) != 2 {
		t.Fatalf("code %d:\n%s", code, out)
	}
	for _, bad := range [][]string{
		{"dns", "verify", "www.example.test", "--expect", "10.0.0.x"},
		{"dns", "verify", "www.example.test"},
		{"dns", "verify", "bad name", "--expect", "10.0.0.1"},
		{"dns", "verify", "www.example.test", "--expect", "10.0.0.1", "--server", "host:0"},
		{"dns", "verify"},
	} {
		if code, out := runCLI(t, nil, bad...); code != steps.ExitUsage {
			t.Errorf("%v: code %d\n%s", bad, code, out)
		}
	}
}

func TestDNSApply(t *testing.T) {
	p, s, keyFile := dnsLab(t)
	args := []string{"dns", "apply", "www.example.test", "--expect", "10.0.0.11,10.0.0.12", "--server", p.Addr(), "--server", s.Addr(), "--resolver", "127.0.0.1:1", "--timeout", "300ms", "--tsig-file", keyFile}

	// No --yes and stdin not a terminal: refuse to guess, send nothing.
	code, out := runCLI(t, nil, args...)
	if code != steps.ExitUsage || !strings.Contains(out, "use --yes") || !strings.Contains(out, "update add www.example.test. 300 A 10.0.0.12") || p.Updates() != 0 {
		t.Fatalf("code %d:\n%s", code, out)
	}
	// Bad key file: exit 2 naming the flag, nothing sent.
	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte(`key "k" { algorithm hmac-sha999; secret "`+dnsTestSecret+`"; };`), 0o600)
	for _, f := range []string{bad, "/nonexistent/key"} {
		code, out = runCLI(t, nil, append(args[:len(args)-1:len(args)-1], f, "--yes")...)
		if code != steps.ExitUsage || !strings.Contains(out, "--tsig-file") || strings.Contains(out, dnsTestSecret) || p.Queries() != 2 {
			t.Fatalf("%s: code %d queries %d:\n%s", f, code, p.Queries(), out)
		}
	}
	// Wrong secret: exit 4, zone unchanged, secret never shown.
	wrong := filepath.Join(t.TempDir(), "wrong.key")
	os.WriteFile(wrong, []byte(`key "hawiz-key" { algorithm hmac-sha256; secret "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc="; };`), 0o600)
	code, out = runCLI(t, nil, append(args[:len(args)-1:len(args)-1], wrong, "--yes")...)
	if code != steps.ExitRefused || !strings.Contains(out, "NOTAUTH, TSIG error BADSIG") || p.Updates() != 0 || strings.Contains(out, "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc=") {
		t.Fatalf("code %d:\n%s", code, out)
	}
	// --yes: sent, both servers agree, exit 0.
	code, out = runCLI(t, nil, append(args, "--yes")...)
	if code != steps.ExitOK || p.Updates() != 1 || !strings.Contains(out, "verified: 2 authoritative server(s)") || strings.Contains(out, dnsTestSecret) {
		t.Fatalf("code %d:\n%s", code, out)
	}
	// Again: nothing to change.
	code, out = runCLI(t, nil, append(args, "--yes")...)
	if code != steps.ExitOK || !strings.Contains(out, "nothing to change") || p.Updates() != 1 {
		t.Fatalf("code %d:\n%s", code, out)
	}
	// --ttl other than the records' TTL: the RRset is rewritten with it, and
	// every server is verified to give it; then nothing to change. A TTL
	// over 2^31-1 is refused naming the flag, nothing sent.
	code, out = runCLI(t, nil, append(args, "--yes", "--ttl", "4294967295")...)
	if code != steps.ExitUsage || !strings.Contains(out, "--ttl: ") || p.Updates() != 1 {
		t.Fatalf("huge ttl: code %d:\n%s", code, out)
	}
	code, out = runCLI(t, nil, append(args, "--yes", "--ttl", "60")...)
	if code != steps.ExitOK || p.Updates() != 2 || !strings.Contains(out, "the TTL changes from 300 to 60") ||
		!strings.Contains(out, "update delete www.example.test. A 10.0.0.11") || !strings.Contains(out, "update add www.example.test. 60 A 10.0.0.11") ||
		!strings.Contains(out, "verified: 2 authoritative server(s)") {
		t.Fatalf("--ttl 60: code %d updates %d:\n%s", code, p.Updates(), out)
	}
	code, out = runCLI(t, nil, append(args, "--yes", "--ttl", "60")...)
	if code != steps.ExitOK || !strings.Contains(out, "nothing to change") || p.Updates() != 2 {
		t.Fatalf("--ttl 60 again: code %d:\n%s", code, out)
	}
	// The key in HAWIZ_TSIG_KEY instead of a file; a bad one is refused
	// naming the variable, never showing it; neither: exit 2 naming both.
	noFile := append(args[:len(args)-2:len(args)-2], "--yes")
	t.Setenv("HAWIZ_TSIG_KEY", "")
	code, out = runCLI(t, nil, noFile...)
	if code != steps.ExitUsage || !strings.Contains(out, "--tsig-file: required") || !strings.Contains(out, "HAWIZ_TSIG_KEY") {
		t.Fatalf("no key: code %d:\n%s", code, out)
	}
	t.Setenv("HAWIZ_TSIG_KEY", "hmac-sha999:hawiz-key:"+dnsTestSecret)
	code, out = runCLI(t, nil, noFile...)
	if code != steps.ExitUsage || !strings.Contains(out, "HAWIZ_TSIG_KEY: ") || strings.Contains(out, dnsTestSecret) {
		t.Fatalf("bad env key: code %d:\n%s", code, out)
	}
	t.Setenv("HAWIZ_TSIG_KEY", "hawiz-key:"+dnsTestSecret)
	code, out = runCLI(t, nil, append(noFile[:2:2], "www.example.test", "--expect", "10.0.0.11", "--server", p.Addr(), "--server", s.Addr(), "--resolver", "127.0.0.1:1", "--timeout", "300ms", "--yes")...)
	if code != steps.ExitOK || p.Updates() != 3 || !strings.Contains(out, "verified: 2 authoritative server(s)") || strings.Contains(out, dnsTestSecret) {
		t.Fatalf("env key: code %d updates %d:\n%s", code, p.Updates(), out)
	}
}
