package remote

import (
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// The preflight's facts on Windows (issue 19 item 3): the PowerShell of
// ReachTCP (TcpClient, the address one quoted literal, the port and the
// wait rendered from ints), FreeDisk (DriveInfo of the path's root) and
// TimeSync (w32tm /query /status), golden; the verdicts read from canned
// replies.
func TestWindowsReachDiskTime(t *testing.T) {
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

	w.reply(winReply{stdout: "hawiz-reach:ok TcpClient\r\n"})
	r, err := h.ReachTCP(ctx, "db1.example.net", 1433, 3*time.Second)
	if err != nil || !r.OK || r.Tool != "TcpClient" {
		t.Fatalf("reachable: %+v %v", r, err)
	}
	cmd := w.last(t, 1)[0]
	golden(t, "reach-tcp", cmd)
	if sc, _ := DecodePowerShell(cmd); !strings.Contains(sc, "ConnectAsync('db1.example.net', 1433)") || !strings.Contains(sc, "Wait(3000)") {
		t.Errorf("address not one quoted literal, or port/wait not rendered:\n%s", sc)
	}
	w.reply(winReply{stdout: "hawiz-reach:fail TcpClient\r\nNo connection could be made because the target machine actively refused it 10.0.0.5:1433\r\n"})
	r, err = h.ReachTCP(ctx, "10.0.0.5", 1433, 0)
	if err != nil || r.OK || r.Detail != "No connection could be made because the target machine actively refused it 10.0.0.5:1433" {
		t.Fatalf("refused: %+v %v", r, err)
	}
	golden(t, "reach-tcp-ip-default-wait", w.last(t, 1)[0])
	w.reply(winReply{stdout: "hawiz-reach:fail TcpClient\r\ntimed out after 5s\r\n"})
	if r, err := h.ReachTCP(ctx, "fe80::1", 5432, 0); err != nil || r.OK || r.Detail != "timed out after 5s" {
		t.Fatalf("timed out: %+v %v", r, err)
	}
	if sc, _ := DecodePowerShell(w.last(t, 1)[0]); !strings.Contains(sc, "ConnectAsync('fe80::1', 5432)") {
		t.Errorf("IPv6 address:\n%s", sc)
	}
	// An answer without the marker (PowerShell failed before the script):
	// an error naming the host, not a verdict.
	w.reply(winReply{stderr: "powershell : not recognized\r\n", code: 1})
	if _, err := h.ReachTCP(ctx, "db1", 1433, 0); err == nil || !strings.Contains(err.Error(), "host mm-central2: connecting to db1 port 1433: unexpected answer (exit 1)") {
		t.Fatalf("broken answer: %v", err)
	}
	w.last(t, 1)
	for _, bad := range []string{"db1'; Remove-Item C:\\ -Recurse; '", "$(calc)", "db 1"} {
		if _, err := h.ReachTCP(ctx, bad, 1433, 0); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	w.mu.Lock()
	if len(w.cmds) != 0 {
		t.Fatalf("refused targets ran %d commands", len(w.cmds))
	}
	w.mu.Unlock()

	w.reply(winReply{stdout: "hawiz-free:52613349376 D:\\\r\n"})
	d, err := h.FreeDisk(ctx, `D:\Staging\it's here`, false)
	if err != nil || d.Avail != 52613349376 || d.Mount != `D:\` {
		t.Fatalf("free disk: %+v %v", d, err)
	}
	cmd = w.last(t, 1)[0]
	golden(t, "free-disk", cmd)
	if sc, _ := DecodePowerShell(cmd); !strings.Contains(sc, `GetPathRoot('D:\Staging\it''s here')`) {
		t.Errorf("path not one quoted literal:\n%s", sc)
	}
	w.reply(winReply{stdout: "hawiz-free: \r\n"})
	if _, err := h.FreeDisk(ctx, `D:\x`, false); err == nil || !strings.Contains(err.Error(), "unexpected answer") {
		t.Fatalf("no figure: %v", err)
	}
	w.last(t, 1)

	synced := "Leap Indicator: 0(no warning)\r\nStratum: 4 (secondary reference - syncd by (S)NTP)\r\nSource: dc1.example.net\r\n"
	w.reply(winReply{stdout: synced})
	ts, err := h.TimeSync(ctx)
	if err != nil || ts.State != TimeSynced || ts.Source != "w32tm" || ts.Evidence != "Leap Indicator 0(no warning), Source dc1.example.net" {
		t.Fatalf("synced: %+v %v", ts, err)
	}
	golden(t, "time-sync", w.last(t, 1)[0])
	for _, c := range []struct {
		out  string
		want TimeState
	}{
		{"Leap Indicator: 3(not synchronized)\r\nSource: Local CMOS Clock\r\n", TimeNotSynced},
		{"Leap Indicator: 0(no warning)\r\nSource: Free-running System Clock\r\n", TimeNotSynced},
		{"The following error occurred: The service has not been started. (0x80070426)\r\n", TimeUnknown},
	} {
		w.reply(winReply{stdout: c.out})
		if ts, err := h.TimeSync(ctx); err != nil || ts.State != c.want {
			t.Errorf("%q: %+v %v, want state %d", c.out, ts, err, c.want)
		}
		w.last(t, 1)
	}
}
