package opsmanager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

func (w *world) upgradeAnswers(pkg, version, backup string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh:\n  sudo: none\n  identity_file: %s\n  known_hosts: %s\n  ssh_config: none\n  user: tester\nservers:\n", w.key, w.known)
	for i, s := range w.servers {
		fmt.Fprintf(&b, "  - name: om%d\n    address: 127.0.0.1\n    port: %d\n    install: tar\n    install_dir: %s\n", i+1, s.Port(), filepath.Join(w.roots[i], "mms"))
	}
	fmt.Fprintf(&b, "upgrade:\n  package: %s\n  version: %s\n  remote_dir: %s\nstart_timeout: 30s\ngen_key_backup_to: %s\nload_balancer:\n  url: %s\n", pkg, version, w.dir, backup, w.lbURL)
	return b.String()
}

func (w *world) runUpgrade(t *testing.T, ctx context.Context, y, state string, resume bool, hook func(string, int), onEvent ...func(steps.Event)) (*recorder, error) {
	t.Helper()
	p := UpgradeProcedure()
	a, err := steps.LoadAnswers(p, []byte(y))
	if err != nil {
		t.Fatalf("answers: %v\n%s", err, y)
	}
	rec := &recorder{}
	var r steps.Renderer = rec
	if len(onEvent) > 0 {
		r = steps.RendererFunc(func(ev steps.Event) { rec.Event(ev); onEvent[0](ev) })
	}
	cfg := steps.RunConfig{Procedure: p, Answers: a, StatePath: state, RunName: "u", Resume: resume, Renderer: r,
		Operator: steps.NonInteractive{Yes: true}, Yes: true, Hook: hook,
		Remote: remote.Options{AgentSocket: "none", DialTimeout: 5 * time.Second},
		Getenv: func(string) string { return "" }}
	if resume {
		cfg.Answers = nil
	}
	_, err = steps.Run(ctx, cfg)
	return rec, err
}

func TestUpgradeInterruptedAndResumed(t *testing.T) {
	w := newWorld(t, 3, false)
	_, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "ha.json"), false, nil)
	if err != nil {
		t.Fatalf("ha: %v\n%s", err, rec)
	}
	keySHA := fileSHA(t, w.keyPath(0))
	confSHA := fileSHA(t, filepath.Join(w.inst(1), "conf", "conf-mms.properties"))
	exe, _ := os.Executable()
	pkg := filepath.Join(w.dir, "mongodb-mms-7.0.1.x86_64.tar.gz")
	f, _ := os.Create(pkg)
	if err := omstandin.WriteTarball(f, "7.0.1", w.user, standinWrapper(exe)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	y := w.upgradeAnswers(pkg, "7.0.1", filepath.Join(w.dir, "key-before-upgrade"))
	state := filepath.Join(w.dir, "up.json")

	// Interrupt after om1 is upgraded, in the middle of om2's.
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	rec, err = w.runUpgrade(t, ctx, y, state, false, nil, func(ev steps.Event) {
		if ev.Kind == steps.EventApply && ev.Step == StepUpEach && ev.Host == "om2" {
			go func() { time.Sleep(150 * time.Millisecond); once.Do(cancel) }()
		}
	})
	if steps.ExitCode(err) != steps.ExitStopped {
		t.Fatalf("interrupted upgrade: %v\n%s", err, rec)
	}
	t.Logf("interrupted run:\n%s", rec)
	rec, err = w.runUpgrade(t, context.Background(), y, state, true, nil)
	t.Logf("resumed run:\n%s", rec)
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, rec)
	}
	for i := range w.servers {
		real, _ := filepath.EvalSymlinks(filepath.Join(w.roots[i], "mms"))
		if filepath.Base(real) != "mongodb-mms-7.0.1.x86_64" {
			t.Errorf("om%d runs from %s", i+1, real)
		}
		if fileSHA(t, w.keyPath(i)) != keySHA {
			t.Errorf("om%d gen.key changed", i+1)
		}
		if got := fileSHA(t, filepath.Join(real, "conf", "conf-mms.properties")); i == 1 && got != confSHA {
			t.Errorf("om%d conf changed", i+1)
		}
		if !omstandin.Healthy(mustConfig(t, real)) {
			t.Errorf("om%d not healthy", i+1)
		}
		if omstandin.Running(mustConfig(t, w.inst(i))) != 0 {
			t.Errorf("om%d: the old version still runs", i+1)
		}
	}
	if !strings.Contains(rec.String(), "Upgrade Mode") {
		t.Error("Upgrade Mode not mentioned")
	}
	// A re-run upgrades nothing.
	rec, err = w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up2.json"), false, nil)
	if err != nil {
		t.Fatalf("re-run: %v\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 0 {
		t.Fatalf("re-run applied %d times:\n%s", n, rec)
	}
	uploads := func() []string {
		m, _ := filepath.Glob(filepath.Join(w.dir, "hawiz-stage-*"))
		old, _ := filepath.Glob(filepath.Join(w.dir, "hawiz-upgrade-*"))
		return append(m, old...)
	}
	if u := uploads(); len(u) != 0 {
		t.Fatalf("uploaded packages left: %v", u)
	}

	// A run killed after installing and before removing its staging
	// directory (chaos R1 found one) leaves it; the next run removes it.
	left := filepath.Join(w.dir, "hawiz-stage-opsmanager-upgrade-om2.KILLEDRUN1")
	if err := os.Mkdir(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, filepath.Base(pkg)), []byte("package"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, err = w.runUpgrade(t, context.Background(), y, filepath.Join(w.dir, "up3.json"), false, nil)
	if err != nil {
		t.Fatalf("run with a left upload: %v\n%s", err, rec)
	}
	if n := rec.count(steps.EventApply); n != 1 || !strings.Contains(rec.String(), "removed "+left) {
		t.Fatalf("want one apply that removes %s; got %d:\n%s", left, n, rec)
	}
	if u := uploads(); len(u) != 0 {
		t.Fatalf("uploaded packages left: %v", u)
	}
}

// TestUpgradeRefusesDowngrade: a package older than what the servers run is
// refused in preflight (M17: there is no downgrade path), naming the server
// and the field; nothing is applied.
func TestUpgradeRefusesDowngrade(t *testing.T) {
	w := newWorld(t, 2, false)
	if _, err, rec := w.run(t, w.answers("", "  mode: first-server\n"), filepath.Join(w.dir, "ha.json"), false, nil); err != nil {
		t.Fatalf("ha: %v\n%s", err, rec)
	}
	exe, _ := os.Executable()
	pkg := filepath.Join(w.dir, "mongodb-mms-6.0.5.x86_64.tar.gz")
	f, _ := os.Create(pkg)
	if err := omstandin.WriteTarball(f, "6.0.5", w.user, standinWrapper(exe)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before, _ := filepath.EvalSymlinks(filepath.Join(w.roots[0], "mms"))
	rec, err := w.runUpgrade(t, context.Background(), w.upgradeAnswers(pkg, "6.0.5", filepath.Join(w.dir, "key")), filepath.Join(w.dir, "up.json"), false, nil)
	if err == nil || !strings.Contains(err.Error(), "om1 runs Ops Manager 7.0.0, newer than upgrade.version 6.0.5") || !strings.Contains(err.Error(), "no downgrade path") {
		t.Fatalf("want the downgrade refused naming om1 and upgrade.version, got %v\n%s", err, rec)
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
