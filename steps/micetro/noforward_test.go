package micetro

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
)

// procNetCat is the fake host's cat: the kernel's view of the stand-in's
// socket. The stand-in binds an ephemeral port and publishes it (as
// PortFunc maps 1231 to it for forwards); here /proc/net/tcp shows that
// socket on 1231 (04CF), so the on-host probe sees what a real host's
// kernel would show. Any other file is the real cat's.
const procNetCat = `#!/bin/sh
case "$1" in
/proc/net/tcp|/proc/net/tcp6)
  if [ "$#" -eq 1 ] && [ -r "$MMC_STANDIN_PORT_FILE" ]; then
    read port pid < "$MMC_STANDIN_PORT_FILE"
    hex=$(printf '%04X' "$port")
    exec sed "s/:$hex /:04CF /" "$1"
  fi ;;
esac
exec /bin/cat "$@"
`

// On members whose sshd forbids TCP forwarding (AllowTcpForwarding no), the
// HA run's proofs that Central listens on 1231 run on the host (reading
// /proc/net/tcp), the run completes, and each member is asked at most one
// forward (the preflight check, or the first refused dial), not one every
// 20 ms for a minute.
func TestHAWithoutTCPForwarding(t *testing.T) {
	names := []string{"central1", "central2"}
	w := newWorldWith(t, func(c *sshtest.Config) { c.NoForwarding = true }, names...)
	for _, h := range w.hosts {
		os.WriteFile(filepath.Join(h.root, "bin", "cat"), []byte(procNetCat), 0o755)
	}
	a := w.answers()
	p, s := dnsPair(t, "10.0.0.11", "10.0.0.12")
	a.DNS.Servers = []string{p.Addr(), s.Addr()}
	a.DNS.Resolver = "127.0.0.1:1"
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := w.connect(ctx, steps.HostConfigs(a))
	for _, h := range f.Hosts() {
		if _, err := h.Service(ctx, remote.ServiceManager{Kind: "systemctl"}, "mmcentral", remote.ServiceStart, false); err != nil {
			t.Fatal(err)
		}
	}
	e := steps.NewEnv(ctx, a, f, &testOperator{confirm: true})
	list, err := CentralHA().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := runSteps(ctx, e, list)
	if err != nil {
		for _, h := range w.hosts {
			t.Logf("%s: %s", h.name, h.systemctlLog())
		}
		t.Fatal(err)
	}
	if len(lg.applied) == 0 {
		t.Fatal("nothing applied")
	}
	// The preflight found out, before anything changed, and said so.
	for _, n := range names {
		if v, _ := e.Fact("ssh.tcp-forwarding." + n); v != "no" {
			t.Errorf("%s: forwarding verdict %q after the run, want no", n, v)
		}
		ev := ""
		for k, v := range lg.evid {
			if strings.HasPrefix(k, StepPreflight+"@") {
				ev = v
			}
		}
		if !strings.Contains(ev, n+": sshd refuses TCP forwarding") {
			t.Errorf("the preflight's evidence does not say %s refuses forwarding: %q", n, ev)
		}
	}
	for _, h := range w.hosts {
		if n := h.srv.Forwards(); n > 1 {
			t.Errorf("%s: %d forwards asked of an sshd that refuses them", h.name, n)
		}
		if !strings.Contains(h.systemctlLog(), "start mmcentral") {
			t.Errorf("%s: Central not (re)started:\n%s", h.name, h.systemctlLog())
		}
	}
	// Without the preflight's verdict (a step run on its own), the first
	// refused forward switches the member to the on-host probe.
	f2 := w.connect(ctx, steps.HostConfigs(a))
	e2 := steps.NewEnv(ctx, a, f2, &testOperator{confirm: true})
	h, _ := e2.Host("central1")
	before := w.hosts[0].srv.Forwards()
	for i := 0; i < 20; i++ {
		ok, ev, err := running(ctx, &a.Common, h, &a.Members[0])
		if err != nil || !ok {
			t.Fatalf("running: %v %s %v", ok, ev, err)
		}
	}
	if n := w.hosts[0].srv.Forwards() - before; n != 1 {
		t.Fatalf("%d forwards for 20 proofs, want 1", n)
	}
}
