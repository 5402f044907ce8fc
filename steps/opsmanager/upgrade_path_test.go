package opsmanager

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
	"golang.org/x/crypto/ssh"
)

// Issue 16 item 7: the upgrade follows the current documents.

// The supported upgrade paths between release series ("Upgrade Path" of
// the upgrade page): within a series, or to the next one; anything else
// refused naming the page.
func TestUpgradePathRules(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
		want     string // in the error, or in the note when ok
	}{
		{"8.0.1.500.20241029T1739Z", "8.0.4.500.20250206T1200Z", true, ""},
		{"7.0.12.500.20240910T1606Z", "8.0.1.500.20241029T1739Z", true, "latest available 7.0 patch before moving to 8.0"},
		{"6.0.27", "7.0.1", true, "latest available 6.0 patch"},
		{"5.0.30", "6.0.0", true, "5.0"},
		{"4.4.30", "5.0.1", true, "4.4"},
		{"4.2.24", "4.4.0", true, "4.2"},
		{"8.0.3", "9.0.0", true, "8.0"},
		{"6.0.5", "8.0.1", false, "skips a release series; the documented path is the latest 6.0 patch, then the latest 7.0 patch, then 8.0"},
		{"4.4.30", "6.0.1", false, "the latest 4.4 patch, then the latest 5.0 patch, then 6.0"},
		{"7.0.1", "9.0.0", false, "skips a release series"},
		{"4.0.5", "4.2.24", false, "before 4.2 there is no Upgrade Mode"},
		{"4.2.10", "4.4.1", false, "4.2.24 or later"},
		{"unknown (/opt/mongodb/mms-custom)", "8.0.1", false, "cannot read its version"},
	} {
		note, err := checkUpgradePath("om1", c.from, c.to)
		if c.ok {
			if err != nil || !strings.Contains(note, c.want) || (c.want == "") != (note == "") {
				t.Errorf("%s → %s: want allowed (note %q), got %q, %v", c.from, c.to, c.want, note, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), DocUpgrade) {
			t.Errorf("%s → %s: want refused with %q naming %s, got %v", c.from, c.to, c.want, DocUpgrade, err)
		}
	}
}

// `rpm -U --oldpackage` exactly where the release notes require it.
func TestRpmOldPackageWhereDocumented(t *testing.T) {
	for _, c := range []struct {
		from, to string
		old      bool
	}{
		{"6.0.0.100.20220601T0000Z", "6.0.3.100.20220901T0000Z", true},
		{"6.0.2", "6.0.27", true},
		{"6.0.2", "7.0.1", true},
		{"6.0.3", "6.0.4", false},
		{"8.0.0.500.20240924T1611Z", "8.0.1.500.20241029T1739Z", true},
		{"8.0.1", "8.0.2", false},
		{"7.0.12", "8.0.0", false},
		{"8.0.0", "8.0.0", false},
	} {
		argv := rpmArgv(c.from, c.to, "/stage/p.rpm")
		want := []string{"rpm", "-U", "/stage/p.rpm"}
		if c.old {
			want = []string{"rpm", "-U", "--oldpackage", "/stage/p.rpm"}
		}
		if strings.Join(argv, " ") != strings.Join(want, " ") {
			t.Errorf("%s → %s: %v, want %v", c.from, c.to, argv, want)
		}
	}
}

// A series skipped (7.0 → 9.0) is refused in preflight, naming the page;
// nothing is applied and no server changes.
func TestUpgradeRefusesSkippedSeries(t *testing.T) {
	w := newWorld(t, 2, false)
	if _, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "ha.json"), false, nil); err != nil {
		t.Fatalf("ha: %v\n%s", err, rec)
	}
	exe, _ := os.Executable()
	pkg := filepath.Join(w.dir, "mongodb-mms-9.0.0.x86_64.tar.gz")
	f, _ := os.Create(pkg)
	if err := omstandin.WriteTarball(f, "9.0.0", w.user, standinWrapper(exe)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, _ := filepath.EvalSymlinks(filepath.Join(w.roots[0], "mms"))
	rec, err := w.runUpgrade(t, context.Background(), w.upgradeAnswers(pkg, "9.0.0", filepath.Join(w.dir, "key")), filepath.Join(w.dir, "up.json"), false, nil)
	if err == nil || !strings.Contains(err.Error(), StepUpPreflight) || !strings.Contains(err.Error(), "skips a release series") || !strings.Contains(err.Error(), DocUpgradePath) {
		t.Fatalf("want the skipped series refused in preflight naming the page, got %v\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Errorf("%d applies before the refusal:\n%s", n, rec)
	}
	if after, _ := filepath.EvalSymlinks(filepath.Join(w.roots[0], "mms")); after != before {
		t.Errorf("om1 install changed: %s -> %s", before, after)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "key")); err == nil {
		t.Error("the gen.key backup was written before the refusal")
	}
}

// install runs `rpm -U --oldpackage` on a server that ran the 8.0.0 rpm
// (the release notes of 8.0.1), plain `rpm -U` on one that ran 7.0.12. The
// host's rpm is a script that records its argv.
func TestUpgradeRpmInstallCommand(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	argvLog := filepath.Join(dir, "rpm.argv")
	os.WriteFile(filepath.Join(bin, "rpm"), []byte("#!/bin/sh\necho \"$*\" >> "+argvLog+"\n"), 0o755)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	key := filepath.Join(dir, "id")
	os.WriteFile(key, pem.EncodeToMemory(blk), 0o600)
	signer, _ := ssh.NewSignerFromKey(priv)
	srv, err := sshtest.Start(sshtest.Config{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}, Root: dir,
		Env: []string{"PATH=" + bin + ":" + os.Getenv("PATH")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	u, _ := user.Current()
	f, err := remote.Connect(context.Background(), remote.Options{SSHConfigFile: "none", AgentSocket: "none", InsecureIgnoreHostKeysForTests: true},
		[]remote.HostConfig{{Name: "om1", Address: "127.0.0.1", Port: srv.Port(), User: u.Username, IdentityFiles: []string{key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkg := filepath.Join(dir, "mongodb-mms-8.0.1.500.20241029T1739Z.x86_64.rpm")
	os.WriteFile(pkg, []byte("an rpm"), 0o600)
	sum, _, _ := fileSHA256(pkg)
	a := &UpgradeAnswers{Upgrade: Upgrade{Package: pkg, Version: "8.0.1.500.20241029T1739Z"}}
	for _, from := range []string{"8.0.0.500.20240924T1611Z", "7.0.12.500.20240910T1606Z"} {
		e := steps.NewEnv(context.Background(), a, f, steps.NonInteractive{Yes: true})
		e.SetFact("upgrade.package.sha256", sum)
		e.SetFact(upFact("om1", "from"), from)
		h, err := e.Host("om1")
		if err != nil {
			t.Fatal(err)
		}
		if err := install(context.Background(), e, a, h, layout{Install: InstallPackage}, pkg); err != nil {
			t.Fatalf("install from %s: %v", from, err)
		}
	}
	got, _ := os.ReadFile(argvLog)
	if want := "-U --oldpackage " + pkg + "\n-U " + pkg + "\n"; string(got) != want {
		t.Fatalf("rpm was run as\n%s\nwant\n%s", got, want)
	}
}
