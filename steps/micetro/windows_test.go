package micetro

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
	"golang.org/x/crypto/ssh"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestWindowsGolden renders every remote command the Windows flavour of the
// procedure sends (through remote's PowerShell renderer, captured by an SSH
// server that records them) and compares the decoded scripts with
// testdata/windows/*.golden. Regenerate with `go test -run TestWindowsGolden -update`.
func TestWindowsGolden(t *testing.T) {
	var mu sync.Mutex
	var got []string
	w := newWorld(t) // only for the client key
	srv, err := sshtest.Start(sshtest.Config{
		AuthorizedKeys: []ssh.PublicKey{w.signer.PublicKey()},
		Exec: func(_ context.Context, req sshtest.ExecRequest) int {
			mu.Lock()
			got = append(got, req.Command)
			mu.Unlock()
			if script, _ := remote.DecodePowerShell(req.Command); strings.Contains(script, "'hawiz-key:'") {
				fmt.Fprintln(req.Stdout, "hawiz-key:MicetroCentral") // the service found by its display name
				return 0
			}
			fmt.Fprintln(req.Stdout, "1763900000")
			return 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a := &HAAnswers{Common: Common{
		SSH: steps.SSHAnswers{User: "Administrator", IdentityFile: w.keyPath},
		Members: []Member{
			{Name: "central1", Host: steps.HostAnswers{Address: "127.0.0.1", Port: srv.Port(), OS: "windows"}, Priority: 10},
			{Name: "central2", Host: steps.HostAnswers{Address: "127.0.0.1", Port: srv.Port(), OS: "windows"}, Priority: 20},
		}}, DNS: DNSAnswers{Name: "central.example.com"}}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := w.connect(ctx, steps.HostConfigs(a)[:1])
	h := f.Host("central1")
	m := &a.Members[0]
	if a.prefsPath(m) != `C:\ProgramData\Men and Mice\Central\preferences.cfg` || a.serviceName(m) != "Micetro Central" {
		t.Fatalf("windows defaults: %s, %s", a.prefsPath(m), a.serviceName(m))
	}
	calls := []struct {
		name string
		do   func()
	}{
		{"read-preferences", func() { readPrefs(ctx, &a.Common, h, m) }},
		{"stop", func() { service(ctx, &a.Common, h, m, remote.ServiceStop) }},
		{"start", func() { service(ctx, &a.Common, h, m, remote.ServiceStart) }},
		{"restart", func() { service(ctx, &a.Common, h, m, remote.ServiceRestart) }},
		{"is-active", func() { isActive(ctx, &a.Common, h, m) }},
		{"service-command-start", func() { // the state from Get-Service, not "{action}" = is-active
			c := a.Common
			c.ServiceCommand = []string{`C:\Tools\svc.exe`, "/{action}", "{service}"}
			service(ctx, &c, h, m, remote.ServiceStart)
		}},
		{"version", func() { centralVersion(ctx, &a.Common, h, m) }},
		{"clock", func() { remoteNow(ctx, h, m) }},
		{"started-at", func() { startedAt(ctx, &a.Common, h, m) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			c.do()
			mu.Lock()
			defer mu.Unlock()
			var b strings.Builder
			for i, cmd := range got {
				script, err := remote.DecodePowerShell(cmd)
				if err != nil {
					t.Fatalf("not PowerShell: %q", cmd)
				}
				fmt.Fprintf(&b, "# command %d: %s\n%s\n", i+1, cmd[:strings.LastIndex(cmd, " ")], script)
			}
			out := b.String()
			if strings.ContainsRune(out, '–') {
				t.Errorf("an en-dash reached a command:\n%s", out)
			}
			golden := filepath.Join("testdata", "windows", c.name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, []byte(out), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if out != string(want) {
				t.Errorf("%s differs from %s:\n%s", c.name, golden, out)
			}
		})
	}
	stop, _ := os.ReadFile(filepath.Join("testdata", "windows", "stop.golden"))
	if !strings.Contains(string(stop), `-Name 'C:\Program Files\Men and Mice\Central\mmcentral.exe' -CommandType Application`) ||
		!strings.Contains(string(stop), `ProcessStartInfo]::new($exe, '-stop')`) {
		t.Errorf("stop does not run mmcentral.exe -stop with an ASCII hyphen:\n%s", stop)
	}
}
