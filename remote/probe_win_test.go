package remote

import (
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// The on-host probes on Windows (issue 16 item 6): the PowerShell scripts
// (golden), the port rendered from an int, the URL PowerShell-quoted, and
// the verdicts read from canned replies, the status of a 4xx/5xx taken from
// the exception's response.
func TestWindowsProbes(t *testing.T) {
	l := newLab(t)
	w := &winResponder{}
	s := l.server(func(c *sshtest.Config) { c.Exec = w.exec })
	l.trust(s)
	hc := l.hostConfig("mm-central2", s)
	hc.OS = Windows
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Host("mm-central2")
	ctx := ctxT(t)

	w.reply(winReply{stdout: "listen\r\n"})
	if ok, err := h.ProbeTCP(ctx, 1231); err != nil || !ok {
		t.Fatalf("listening port: %v %v", ok, err)
	}
	golden(t, "probe-tcp", w.last(t, 1)[0])
	w.reply(winReply{stdout: "closed\r\n"})
	if ok, err := h.ProbeTCP(ctx, 1231); err != nil || ok {
		t.Fatalf("closed port: %v %v", ok, err)
	}
	w.last(t, 1)
	w.reply(winReply{stderr: "Get-NetTCPConnection : not recognized\r\n", code: 1})
	if _, err := h.ProbeTCP(ctx, 1231); err == nil || !strings.Contains(err.Error(), "host mm-central2: probe TCP port 1231: exit 1") {
		t.Fatalf("failed probe: %v", err)
	}
	w.last(t, 1)
	if _, err := h.ProbeTCP(ctx, 70000); err == nil {
		t.Fatal("port 70000 accepted")
	}

	// https, a path with a quote and a $: one PowerShell string literal.
	w.reply(winReply{stdout: "hawiz-status:503\r\n"})
	if st, err := h.ProbeHTTP(ctx, 8443, "/monitor/it's $(x)", true); err != nil || st != 503 {
		t.Fatalf("https probe: %d %v", st, err)
	}
	cmd := w.last(t, 1)[0]
	golden(t, "probe-http-https", cmd)
	if sc, _ := DecodePowerShell(cmd); !strings.Contains(sc, "-Uri 'https://127.0.0.1:8443/monitor/it''s $(x)'") {
		t.Errorf("URL not one quoted literal:\n%s", sc)
	}
	w.reply(winReply{stdout: "hawiz-status:200\r\n"})
	if st, err := h.ProbeHTTP(ctx, 8080, "monitor/health", false); err != nil || st != 200 {
		t.Fatalf("http probe: %d %v", st, err)
	}
	golden(t, "probe-http", w.last(t, 1)[0])
	// No answer at all (connection refused): the message, exit 1, an error.
	w.reply(winReply{stderr: "Unable to connect to the remote server\r\n", code: 1})
	if st, err := h.ProbeHTTP(ctx, 8080, "/monitor/health", false); err == nil || !strings.Contains(err.Error(), "no HTTP answer (exit 1): Unable to connect to the remote server") {
		t.Fatalf("refused: %d %v", st, err)
	}
	w.last(t, 1)
	if c, err := h.HTTPProbeClient(ctx); err != nil || c != "Invoke-WebRequest" {
		t.Fatalf("HTTPProbeClient: %q %v", c, err)
	}
}
