package main

import (
	"strings"
	"testing"

	"github.com/hawiz/hawiz/dnscheck/dnstest"
	"github.com/hawiz/hawiz/steps"
)

// TestDNSApplyUnsignedReplyExit4: a primary (here, a man in the middle in
// front of it) that answers the signed update NOERROR without a TSIG does
// not count: exit 4 naming the server and the reason, and no claim that
// the records are right.
func TestDNSApplyUnsignedReplyExit4(t *testing.T) {
	p, s, keyFile := dnsLab(t)
	mitm, err := dnstest.StartProxy("", p.Addr(), dnstest.StripTSIG)
	if err != nil {
		t.Fatal(err)
	}
	defer mitm.Close()
	code, out := runCLI(t, nil, "dns", "apply", "www.example.test", "--expect", "10.0.0.11,10.0.0.12", "--server", mitm.Addr(), "--server", s.Addr(),
		"--resolver", "127.0.0.1:1", "--timeout", "300ms", "--tsig-file", keyFile, "--yes")
	want := "update to " + mitm.Addr() + ": the reply says NOERROR but is not authenticated, so hawiz does not count it as done: it is not signed (no TSIG record); the zone may or may not have changed: verify"
	if code != steps.ExitRefused || !strings.Contains(out, want) || strings.Contains(out, "update accepted") || strings.Contains(out, dnsTestSecret) {
		t.Fatalf("code %d:\n%s", code, out)
	}
	if p.Updates() != 1 {
		t.Fatalf("the update did not reach the primary (%d updates): the test proves nothing", p.Updates())
	}
}
