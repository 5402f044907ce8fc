package micetro

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	"github.com/hawiz/hawiz/steps"
)

func twoMembers() Common {
	return Common{Members: []Member{
		{Name: "central1", Host: steps.HostAnswers{Address: "10.0.0.1"}, Priority: 10},
		{Name: "central2", Host: steps.HostAnswers{Address: "10.0.0.2"}, Priority: 20},
	}}
}

// Per-member paths are checked for the member's OS, and the error names
// the member's field.
func TestMemberPathsValidation(t *testing.T) {
	cases := []struct {
		mod  func(*Common)
		want string
	}{
		{func(c *Common) { c.Members[1].PreferencesPath = "x" }, `members[1].preferences_path: "x" must be an absolute path`},
		{func(c *Common) { c.Members[0].PreferencesPath = "opt/p.cfg" }, `members[0].preferences_path: "opt/p.cfg" must be an absolute path`},
		{func(c *Common) { c.Members[1].Host.OS = "windows"; c.Members[1].PreferencesPath = "/var/p.cfg" },
			`members[1].preferences_path: "/var/p.cfg" must be an absolute path on a Windows member`},
		{func(c *Common) { c.Members[0].PreferencesPath = `C:\p.cfg` }, `members[0].preferences_path: "C:\\p.cfg" must be an absolute path`},
		{func(c *Common) { c.Members[1].UploadDir = "tmp" }, `members[1].upload_dir: "tmp" must be an absolute path`},
	}
	for _, c := range cases {
		ha := &HAAnswers{Common: twoMembers(), DNS: DNSAnswers{Name: "central.example.com"}}
		c.mod(&ha.Common)
		if err := ha.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("HA: want %q, got %v", c.want, err)
		}
		up := &UpgradeAnswers{Common: twoMembers(), Installer: Installer{Remote: "/srv/i.tgz", ExpectedVersion: "10.3.6"}}
		c.mod(&up.Common)
		if err := up.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("upgrade: want %q, got %v", c.want, err)
		}
	}
	ha := &HAAnswers{Common: twoMembers(), DNS: DNSAnswers{Name: "central.example.com"}}
	ha.Members[1].PreferencesPath = "/opt/mmc/preferences.cfg"
	ha.Members[0].Host.OS = "windows"
	ha.Members[0].PreferencesPath = `D:\Central\preferences.cfg`
	if err := ha.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The member's path wins over the top-level one, which wins over the
// documented default.
func TestMemberPathsPrecedence(t *testing.T) {
	c := twoMembers()
	m0, m1 := &c.Members[0], &c.Members[1]
	if p := c.prefsPath(m0); p != LinuxPrefsPath {
		t.Errorf("default %q", p)
	}
	c.PreferencesPath = "/srv/mmc/preferences.cfg"
	m1.PreferencesPath = "/opt/mmc/preferences.cfg"
	if p0, p1 := c.prefsPath(m0), c.prefsPath(m1); p0 != "/srv/mmc/preferences.cfg" || p1 != "/opt/mmc/preferences.cfg" {
		t.Errorf("prefs paths %q %q", p0, p1)
	}
	if d := logsDir(&c, m1); d != "/opt/mmc/logs" {
		t.Errorf("logs dir %q", d)
	}
	a := &UpgradeAnswers{Common: twoMembers(), Installer: Installer{Local: "/home/me/micetro-central-10.3.6.linux.x64.tgz"}, UploadDir: "/var/tmp"}
	a.Members[1].UploadDir = "/data/upload"
	if p0, p1 := a.uploadTarget(&a.Members[0]), a.uploadTarget(&a.Members[1]); p0 != "/var/tmp/hawiz-stage-micetro-upgrade-central1.XXXXXXXXXX/micetro-central-10.3.6.linux.x64.tgz" ||
		p1 != "/data/upload/hawiz-stage-micetro-upgrade-central2.XXXXXXXXXX/micetro-central-10.3.6.linux.x64.tgz" {
		t.Errorf("upload targets %q %q", p0, p1)
	}
	a.Members[0].Host.OS = "windows"
	if p := a.installerPath(&a.Members[0]); p != `C:\Windows\Temp\micetro-central-10.3.6.linux.x64.tgz` {
		t.Errorf("windows default %q", p)
	}
	a.Members[0].UploadDir = `D:\Staging\`
	if p := a.installerPath(&a.Members[0]); p != `D:\Staging\micetro-central-10.3.6.linux.x64.tgz` {
		t.Errorf("windows member upload_dir %q", p)
	}
}

// The plan says where a path differs from the documented default, and
// which answer set it.
func TestPlanNotesDifferingPaths(t *testing.T) {
	plan := func(p *steps.Procedure, a steps.Answers) string {
		t.Helper()
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := steps.WritePlan(&b, p, a); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	ha := &HAAnswers{Common: twoMembers(), DNS: DNSAnswers{Name: "central.example.com"}}
	if out := plan(CentralHA(), ha); strings.Contains(out, "note:") {
		t.Errorf("notes with default paths:\n%s", out)
	}
	ha = &HAAnswers{Common: twoMembers(), DNS: DNSAnswers{Name: "central.example.com"}}
	ha.Members[1].PreferencesPath = "/opt/mmc/preferences.cfg"
	out := plan(CentralHA(), ha)
	for _, want := range []string{
		"note: preferences.cfg on central2 is /opt/mmc/preferences.cfg (members[1].preferences_path), not the documented /var/mmsuite/mmcentral/preferences.cfg",
		"write /opt/mmc/preferences.cfg on central2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "preferences.cfg on central1 is") {
		t.Errorf("a note for central1, whose path is the default:\n%s", out)
	}
	ha = &HAAnswers{Common: twoMembers(), DNS: DNSAnswers{Name: "central.example.com"}}
	ha.PreferencesPath = "/srv/mmc/preferences.cfg"
	if out := plan(CentralHA(), ha); !strings.Contains(out, "note: preferences.cfg on central1 is /srv/mmc/preferences.cfg (preferences_path), not the documented") {
		t.Errorf("no note for the top-level path:\n%s", out)
	}

	up := &UpgradeAnswers{Common: twoMembers(), Installer: Installer{Remote: "/srv/i.tgz", ExpectedVersion: "10.3.6"}}
	pkg := filepath.Join(t.TempDir(), "micetro-central-10.3.6.linux.x64.tgz")
	os.WriteFile(pkg, []byte("x"), 0o644)
	up.Installer = Installer{Local: pkg, ExpectedVersion: "10.3.6"}
	if out := plan(CentralUpgrade(), up); !strings.Contains(out, "to /tmp/hawiz-stage-micetro-upgrade-MEMBER.XXXXXXXXXX/micetro-central-10.3.6.linux.x64.tgz on every member, SHA-256") {
		t.Errorf("upload action with the default directory:\n%s", out)
	}
	up.Members[1].UploadDir = "/data/upload"
	up.Members[1].PreferencesPath = "/opt/mmc/preferences.cfg"
	out = plan(CentralUpgrade(), up)
	for _, want := range []string{
		"to /tmp/hawiz-stage-micetro-upgrade-central1.XXXXXXXXXX/micetro-central-10.3.6.linux.x64.tgz on central1, /data/upload/hawiz-stage-micetro-upgrade-central2.XXXXXXXXXX/micetro-central-10.3.6.linux.x64.tgz on central2 (members[1].upload_dir, not the default /tmp), SHA-256",
		"in the installer's staging directory under /data/upload",
		"note: preferences.cfg on central2 is /opt/mmc/preferences.cfg (members[1].preferences_path)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}

// A member's own preferences_path is the file the procedure reads and
// writes on that member (over SSH, as in a real run).
func TestMemberPreferencesPathUsed(t *testing.T) {
	own := filepath.Join(t.TempDir(), "etc", "mmc", "preferences.cfg")
	os.MkdirAll(filepath.Dir(own), 0o755)
	os.WriteFile(own, []byte(mmcentral.SamplePrefs), 0o644)
	w, _, _, e, list := setup(t, 2, func(a *HAAnswers) { a.Members[0].PreferencesPath = own })
	ctx := context.Background()
	preflight, name := stepByID(t, list, "preflight"), stepByID(t, list, "name-primary")
	// The default file on central1 says SQLite: preflight must not read it.
	w.hosts[0].writeFile("var/mmsuite/mmcentral/preferences.cfg", `<Database value="SQLite"/>`+"\n")
	if _, _, err := preflight.Check(ctx, e, ""); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	if done, _, err := name.Check(ctx, e, "central1"); err != nil || done {
		t.Fatalf("name-primary check: %v %v", done, err)
	}
	if err := name.Apply(ctx, e, "central1"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(own)
	if !strings.Contains(string(b), `<ClusterMemberName value="central1"/>`) {
		t.Fatalf("%s: %q", own, b)
	}
	if p := w.hosts[0].prefs(); strings.Contains(p, "ClusterMemberName") {
		t.Fatalf("the default path was written: %q", p)
	}
}

// A member's own upload_dir is where its installer's staging directory is made.
func TestMemberUploadDirUsed(t *testing.T) {
	_, a, e, _ := upgradeSetup(t, 2)
	own := t.TempDir()
	a.Members[1].UploadDir = own
	list, err := CentralUpgrade().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	up := stepByID(t, list, "upload-installer")
	ctx := context.Background()
	for _, hn := range []string{"central1", "central2"} {
		if err := up.Apply(ctx, e, hn); err != nil {
			t.Fatal(err)
		}
		if _, err := up.Verify(ctx, e, hn); err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Base(a.Installer.Local)
	for _, c := range []struct{ dir, prefix string }{{own, "hawiz-stage-micetro-upgrade-central2"}, {a.UploadDir, "hawiz-stage-micetro-upgrade-central1"}} {
		m, _ := filepath.Glob(filepath.Join(c.dir, c.prefix+".*", name))
		if len(m) != 1 {
			t.Errorf("installer staged in %s: %v", c.dir, m)
		}
	}
}
