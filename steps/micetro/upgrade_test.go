package micetro

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func upgradeSetup(t *testing.T, n int) (*world, *UpgradeAnswers, *steps.Env, []*steps.Step) {
	t.Helper()
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("central%d", i))
	}
	w := newWorld(t, names...)
	dir := t.TempDir()
	pkg := filepath.Join(dir, mmcentral.InstallerName("10.3.6"))
	f, err := os.Create(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if err := mmcentral.WriteInstaller(f, "10.3.6"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ha := w.answers()
	a := &UpgradeAnswers{Common: ha.Common}
	a.Installer = Installer{Local: pkg, ExpectedVersion: "10.3.6"}
	a.UploadDir = filepath.Join(dir, "upload")
	os.MkdirAll(a.UploadDir, 0o755)
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fl := w.connect(ctx, steps.HostConfigs(a))
	for i, h := range fl.Hosts() {
		w.hosts[i].writeFile("var/mmsuite/mmcentral/preferences.cfg", mmcentral.SamplePrefs+fmt.Sprintf(`<ClusterMemberName value="central%d"/>`+"\n", i+1))
		if _, err := h.Service(ctx, remote.ServiceManager{Kind: "systemctl"}, "mmcentral", remote.ServiceStart, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range w.hosts {
		os.Remove(filepath.Join(h.root, "run", "systemctl.log"))
	}
	e := steps.NewEnv(ctx, a, fl, &testOperator{confirm: true})
	list, err := CentralUpgrade().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	return w, a, e, list
}

func installs(h *fakeHost) int {
	return strings.Count(h.readFile("usr/share/mmcentral-standin/install.log"), "installed 10.3.6")
}

func TestUpgradeFullRunThenNoOp(t *testing.T) {
	w, _, e, list := upgradeSetup(t, 3)
	if got := strings.Join(ids(list), " "); got != "preflight automatic-update-off confirm-active-member upload-installer stop-secondaries upgrade-primary upgrade-central2 upgrade-central3 verify-ha-states" {
		t.Fatalf("steps %s", got)
	}
	ctx := context.Background()
	lg, err := runSteps(ctx, e, list)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 || strings.TrimSpace(h.readFile("usr/share/mmcentral-standin/VERSION")) != "10.3.6" {
			t.Errorf("%s: %d installs, version %s", h.name, installs(h), h.readFile("usr/share/mmcentral-standin/VERSION"))
		}
	}
	// Order: the secondaries were stopped before the primary was upgraded.
	for _, h := range w.hosts[1:] {
		log := h.systemctlLog()
		if !strings.HasPrefix(strings.ReplaceAll(log, "status mmcentral\n", ""), "stop mmcentral") {
			t.Errorf("%s: systemctl calls\n%s", h.name, log)
		}
	}
	if ev := lg.evid["upgrade-primary@central1"]; !strings.Contains(ev, "10.3.5 → 10.3.6") {
		t.Errorf("evidence %q", ev)
	}
	lg, err = runSteps(ctx, e, list)
	if err != nil || len(lg.applied) != 0 {
		t.Fatalf("second run: applied %v, err %v", lg.applied, err)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s installed twice", h.name)
		}
	}
}

func TestUpgradeInterruptedAfterPrimaryResumes(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 3)
	ctx := context.Background()
	// Run up to and including upgrade-primary, then "crash".
	var upto int
	for i, s := range list {
		if s.ID == "upgrade-primary" {
			upto = i + 1
		}
	}
	if _, err := runSteps(ctx, e, list[:upto]); err != nil {
		t.Fatal(err)
	}
	if installs(w.hosts[0]) != 1 || installs(w.hosts[1]) != 0 {
		t.Fatal("unexpected install state")
	}
	// A new session (the facts survive in the state; here a fresh Env
	// proves the hosts alone decide) runs everything again.
	e2 := steps.NewEnv(ctx, a, e.Fleet(), &testOperator{confirm: true})
	lg, err := runSteps(ctx, e2, list)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range w.hosts {
		if installs(h) != 1 {
			t.Errorf("%s: %d installs", h.name, installs(h))
		}
	}
	for _, k := range lg.applied {
		if k == "upgrade-primary@central1" || strings.HasPrefix(k, "upload-installer") {
			t.Errorf("resume re-applied %s", k)
		}
	}
}

func TestUpgradeInstallerFailureGuides(t *testing.T) {
	w, a, e, list := upgradeSetup(t, 2)
	a.InstallInput = []string{"n"} // the operator's answers say no
	_, err := runSteps(context.Background(), e, list)
	if err == nil || !strings.Contains(err.Error(), "the installer failed on central1") || !strings.Contains(err.Error(), "hawiz resume") {
		t.Fatalf("err = %v", err)
	}
	if installs(w.hosts[0]) != 0 {
		t.Fatal("installed")
	}
}

func TestUpgradeSHA256Mismatch(t *testing.T) {
	_, a, e, list := upgradeSetup(t, 2)
	a.Installer.SHA256 = strings.Repeat("0", 64)
	_, err := runSteps(context.Background(), e, list)
	if err == nil || !strings.Contains(err.Error(), "not installer.sha256") {
		t.Fatalf("err = %v", err)
	}
}

func TestUpgradeAnswersValidation(t *testing.T) {
	a := &UpgradeAnswers{Common: Common{Members: []Member{{Name: "a", Host: steps.HostAnswers{OS: "windows"}}, {Name: "b"}}}}
	err := a.Validate()
	var fe steps.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatal(err)
	}
	for _, want := range []string{"installer: set local", "installer.expected_version: is required", "install_command: is required for Windows"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("lacks %q: %v", want, err)
		}
	}
}

func TestUpgradeTemplateLoads(t *testing.T) {
	p := CentralUpgrade()
	pkg := filepath.Join(t.TempDir(), "micetro-central-10.3.6.linux.x64.tgz")
	os.WriteFile(pkg, []byte("x"), 0o644)
	tmpl := strings.NewReplacer("<ssh user>", "admin", "<primary address>", "10.0.0.1", "<failover address>", "10.0.0.2",
		"<./micetro-central-10.3.6.linux.x64.tgz>", pkg, "<10.3.6>", "10.3.6").Replace(p.Template)
	a, err := steps.LoadAnswers(p, []byte(tmpl))
	if err != nil {
		t.Fatalf("template does not load: %v\n%s", err, tmpl)
	}
	if _, err := p.Steps(a); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeRefusesDowngrade: a member already newer than the installer's
// version is refused in preflight, naming the member and the field; nothing
// is stopped or installed anywhere.
func TestUpgradeRefusesDowngrade(t *testing.T) {
	w, _, e, list := upgradeSetup(t, 3)
	w.hosts[1].writeFile("usr/share/mmcentral-standin/VERSION", "10.4.0\n")
	lg, err := runSteps(context.Background(), e, list)
	if err == nil || !strings.Contains(err.Error(), "central2 runs Central 10.4.0, newer than installer.expected_version 10.3.6") {
		t.Fatalf("err = %v", err)
	}
	if len(lg.applied) != 0 {
		t.Errorf("applied %v before the refusal", lg.applied)
	}
	for _, h := range w.hosts {
		if installs(h) != 0 || strings.Contains(h.systemctlLog(), "stop") {
			t.Errorf("%s touched: %d installs, systemctl %q", h.name, installs(h), h.systemctlLog())
		}
	}
}
