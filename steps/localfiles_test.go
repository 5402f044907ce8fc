package steps_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofrs/flock"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

const victimData = "victim: not hawiz's file\n"

// victim is a file a planted link points to; untouched checks it after.
func victim(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(p, []byte(victimData), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func untouched(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || string(b) != victimData {
		t.Fatalf("victim %s changed: %q, %v", p, b, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("victim %s mode changed to %v", p, fi.Mode())
	}
}

// A link planted where the lock, the transcript or the state file goes is
// refused with an error naming it, before anything is written through it or
// any host is touched; the file it points to is untouched.
func TestRunRefusesLinkedLocalFiles(t *testing.T) {
	for name, link := range map[string]func(state string) string{
		"lock":       steps.LockPath,
		"transcript": steps.TranscriptPath,
		"state":      func(s string) string { return s },
	} {
		t.Run(name, func(t *testing.T) {
			l := steptest.NewLab(t)
			state := filepath.Join(t.TempDir(), "s.json")
			v := victim(t)
			if err := os.Symlink(v, link(state)); err != nil {
				t.Fatal(err)
			}
			_, err := steps.Run(context.Background(), l.Config(t, state, ""))
			if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), link(state)+" is a symbolic link") {
				t.Fatalf("err %v (exit %d)", err, steps.ExitCode(err))
			}
			untouched(t, v)
			if fi, err := os.Lstat(link(state)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("the link itself was replaced: %v %v", fi, err)
			}
			if len(l.Files(t)) != 0 {
				t.Fatalf("hosts touched: %s", steptest.MapString(l.Files(t)))
			}
		})
	}
}

// A dangling link is refused too: nothing is created where it points.
func TestRunRefusesDanglingLockLink(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	target := filepath.Join(t.TempDir(), "created-through-the-link")
	os.Symlink(target, steps.LockPath(state))
	_, err := steps.Run(context.Background(), l.Config(t, state, ""))
	if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), steps.LockPath(state)) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatal("a file was created through the lock link")
	}
}

// The evidence report is written to a new private temp file and renamed over
// its path: a link planted there is replaced, and what it points to is not
// written.
func TestEvidenceReplacesLinkNotTarget(t *testing.T) {
	l := steptest.NewLab(t)
	state := filepath.Join(t.TempDir(), "s.json")
	v := victim(t)
	os.Symlink(v, steps.EvidencePath(state))
	if _, err := steps.Run(context.Background(), l.Config(t, state, "")); err != nil {
		t.Fatal(err)
	}
	untouched(t, v)
	fi, err := os.Lstat(steps.EvidencePath(state))
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("evidence %v %v", fi, err)
	}
	for _, p := range []string{state, steps.TranscriptPath(state)} {
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
	}
	// the lock file is removed when the run ends (issue 17 item 6)
	if _, err := os.Lstat(steps.LockPath(state)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lock file left after the run: %v", err)
	}
}

// Two runs whose state paths differ only by a symlinked directory take the
// same lock: the second is refused while the first holds it, whichever path
// each uses.
func TestLockSharedThroughSymlinkedDir(t *testing.T) {
	l := steptest.NewLab(t)
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ held, run string }{{real, link}, {link, real}} {
		fl := flock.New(steps.LockPath(filepath.Join(c.held, "s.json")))
		if ok, err := fl.TryLock(); !ok || err != nil {
			t.Fatal(ok, err)
		}
		state := filepath.Join(c.run, "s.json")
		if _, locked := steps.LockedBy(state); !locked {
			t.Errorf("LockedBy(%s) does not see the lock taken through %s", state, c.held)
		}
		_, err := steps.Run(context.Background(), l.Config(t, state, ""))
		if steps.ExitCode(err) != steps.ExitRefused || !strings.Contains(err.Error(), "another hawiz run holds") {
			t.Fatalf("lock held through %s, run through %s: err %v", c.held, c.run, err)
		}
		fl.Unlock()
	}
	if _, err := steps.Run(context.Background(), l.Config(t, filepath.Join(link, "s.json"), "")); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}
