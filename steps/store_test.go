package steps_test

// A run saves through its store, and only through it: the in-memory store
// sees the saves TestSaveOrder sees in the state file, in the same order
// and with the same durability; the hook's counts agree; no state file is
// written.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

func TestRunSavesThroughStore(t *testing.T) {
	for _, sc := range saveScenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := steptest.NewLab(t)
			state := filepath.Join(t.TempDir(), "s.json")
			store := &steps.MemStore{}
			for i, sr := range sc.runs {
				var before *steps.State
				done := store.Saves()
				if len(done) > 0 {
					before = done[len(done)-1].State
				}
				hooked, synced := 0, map[int]bool{}
				c := scenarioConfig(t, l, state, sr)
				c.Hook = func(p string, n int) {
					switch p {
					case "synced":
						synced[n] = true
					case "after-save":
						hooked = n
					}
				}
				_, err := steps.RunWithStore(context.Background(), c, store)
				var saves []savedState
				for k, s := range store.Saves()[len(done):] {
					if s.Durable != synced[k+1] {
						t.Errorf("run %d: save %d durable %t, but the hook says synced %t", i, k+1, s.Durable, synced[k+1])
					}
					saves = append(saves, savedState{s.State, s.Durable})
				}
				if len(saves) != hooked {
					t.Errorf("run %d: the store has %d saves, the hook counted %d", i, len(saves), hooked)
				}
				checkScenarioRun(t, i, sr, err, describeSaves(before, saves))
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Fatalf("a state file was written beside the store: %v", err)
			}
		})
	}
}

// A store whose lock is held refuses the run (exit 4) before it saves
// anything or touches a host.
func TestRunRefusedByStoreLock(t *testing.T) {
	l := steptest.NewLab(t)
	store := &steps.MemStore{}
	unlock, err := store.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c := l.Config(t, filepath.Join(t.TempDir(), "s.json"), "")
	out, err := steps.RunWithStore(context.Background(), c, store)
	if steps.ExitCode(err) != steps.ExitRefused || out.Status != steps.StatusRefused || !strings.Contains(err.Error(), "another hawiz run holds") {
		t.Fatalf("err %v (exit %d), outcome %+v", err, steps.ExitCode(err), out)
	}
	if n := len(store.Saves()); n != 0 {
		t.Fatalf("%d saves while the lock was held", n)
	}
	if got := l.Files(t); len(got) != 0 {
		t.Fatalf("hosts touched: %v", got)
	}
}
