package fleet

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/tui"
)

// The stand-in scripts exec this test binary's `__standin`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "__standin" {
		os.Exit(Standin(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runPlain runs the demo like `hawiz demo --plain` and checks that nothing
// is left behind: root removed, ports closed, stand-in processes gone.
func runPlain(t *testing.T, o Options) string {
	t.Helper()
	out, _ := runPlainDemo(t, o)
	return out
}

// runPlainDemo is runPlain returning the (closed) demo too; o.TempDir
// defaults to a fresh t.TempDir().
func runPlainDemo(t *testing.T, o Options) (string, *Demo) {
	t.Helper()
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	d, err := Setup(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	t0 := time.Now()
	oc, runErr := d.RunPlain(ctx, &out, tui.NewPlainRenderer(&out))
	t.Logf("demo %s: %v", o.Procedure, time.Since(t0))
	pids := d.Fleet.PIDs()
	if len(pids) == 0 && runErr == nil {
		t.Error("no stand-in service was running at the end of the run")
	}
	ports := d.Fleet.Ports()
	root := d.Fleet.Root
	if err := d.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if runErr != nil {
		t.Fatalf("run: %v (status %s at %s)\n%s", runErr, oc.Status, oc.Step, out.String())
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("demo root %s left behind (%v)", root, err)
	}
	for _, p := range pids {
		if Alive(p) {
			t.Errorf("stand-in pid %d still running", p)
		}
	}
	for _, a := range ports {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listening", a)
		}
	}
	return out.String(), d
}

func TestDemoPlainMicetro(t *testing.T) {
	out := runPlain(t, Options{Procedure: "micetro-central-ha", Members: 3, Seed: 1})
	for _, want := range []string{
		"the demo accepts the host key",
		"the demo confirms this manual step itself",
		"central.demo.hawiz.test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

func TestDemoPlainOpsManager(t *testing.T) {
	out := runPlain(t, Options{Procedure: "opsmanager-ha", Members: 3, Seed: 1})
	if strings.Contains(out, DemoAppDBPassword) {
		t.Errorf("the App DB password is in the output")
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

func TestDemoPlainMicetroUpgrade(t *testing.T) {
	out := runPlain(t, Options{Procedure: "micetro-central-upgrade", Members: 3, Seed: 1})
	if !strings.Contains(out, DemoUpgradeVersion) {
		t.Errorf("output never names %s:\n%s", DemoUpgradeVersion, out)
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

// A fleet with a fixed root comes back as it was: same SSH, DNS and LB
// ports, host keys and files, and the services that ran are started again
// (on ports they bind and publish themselves, reached through 1231).
func TestFleetRestoredFromFixedRoot(t *testing.T) {
	root := t.TempDir() + "/demo"
	cfg := Config{Kind: Micetro, Hosts: []string{"central1", "central2"}, Root: root, Cluster: true}
	f, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ports, key := f.fixedPorts(), f.Hosts[0].SSH.HostKey().Marshal()
	os.WriteFile(f.Hosts[1].Root+"/var/mmsuite/mmcentral/marker", []byte("x"), 0o644)
	stop := exec.Command(os.Args[0], "__standin", "systemctl", "stop", "mmcentral")
	stop.Env = append(os.Environ(), "HAWIZ_ROOT="+f.Hosts[1].Root)
	if out, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	g, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if fmt.Sprint(g.fixedPorts()) != fmt.Sprint(ports) || !bytes.Equal(g.Hosts[0].SSH.HostKey().Marshal(), key) {
		t.Fatalf("ports %v, want %v (or the host key changed)", g.fixedPorts(), ports)
	}
	if g.Hosts[0].ServiceAddr() == "" || g.Hosts[1].ServiceAddr() != "" {
		t.Fatalf("service addresses %q %q, want central1's only", g.Hosts[0].ServiceAddr(), g.Hosts[1].ServiceAddr())
	}
	if _, err := os.Stat(g.Hosts[1].Root + "/var/mmsuite/mmcentral/marker"); err != nil {
		t.Fatal("the host's files were not kept")
	}
	if pids := g.PIDs(); len(pids) != 1 || !Alive(pids[0]) {
		t.Fatalf("running services after restore: %v, want central1's only", pids)
	}
}
