package steps_test

// The order of a run's state saves, pinned: which host states each save
// records and which saves are durable (fsynced). The same scenarios run
// against the state file (TestSaveOrder) and the in-memory store
// (TestRunSavesThroughStore in store_test.go).

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// savedState is one save as a test sees it: the state and whether the save
// was durable.
type savedState struct {
	st      *steps.State
	durable bool
}

// saveRun is one Run (or resume) of a scenario.
type saveRun struct {
	extra  string                                    // answers added to the lab's
	resume bool                                      // resume the state (answers from it)
	before func(t *testing.T, l *steptest.Lab)       // prepares the hosts
	cfg    func(c *steps.RunConfig, l *steptest.Lab) // sets flags or the operator
	exit   int                                       // the run's exit code
	want   []string                                  // describeSaves of its saves
}

// failOnce fails write-config on h2 (the file "fail" is there) and answers
// the failure with choice, removing the file first when it retries.
type failOnce struct {
	steps.NonInteractive
	l      *steptest.Lab
	choice steps.FailureChoice
}

func (o failOnce) Failure(context.Context, *steps.Step, string, error) (steps.FailureChoice, error) {
	if o.choice == steps.Retry {
		if err := os.Remove(filepath.Join(o.l.Roots[1], "fail")); err != nil {
			return steps.Quit, err
		}
	}
	return o.choice, nil
}

// doesManual does the manual step when asked, then confirms it.
type doesManual struct {
	steps.NonInteractive
	l *steptest.Lab
}

func (o doesManual) ConfirmManual(context.Context, *steps.Step, string) error {
	return os.WriteFile(filepath.Join(o.l.Roots[0], "manual.txt"), []byte("x"), 0o644)
}

func failFile(t *testing.T, l *steptest.Lab) {
	if err := os.WriteFile(filepath.Join(l.Roots[1], "fail"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// saveScenarios: each is a sequence of runs on one state. A line is one
// save: "!" durable or "." not, then what it changed ("run" is the run's
// status; "facts" the facts' keys). The saves of a Parallel step's hosts
// are listed host by host (their interleaving varies).
var saveScenarios = []struct {
	name string
	runs []saveRun
}{{
	name: "run-then-resume",
	runs: []saveRun{{
		extra: "use_secret: true\n",
		want: []string{
			". run running",
			"! write-config@h1 started", ". write-config@h1 done",
			"! write-config@h2 started", ". write-config@h2 done",
			"! bump-counter@h1 started", ". facts counter.want", ". bump-counter@h1 done",
			"! touch-markers@h1 started", ". touch-markers@h1 done",
			"! touch-markers@h2 started", ". touch-markers@h2 done",
			"! store-secret@h2 started", ". store-secret@h2 done",
			"! local-verify@ started", ". local-verify@ done",
			"! run done",
		},
	}, {
		resume: true,
		want: []string{
			". run running",
			". write-config@h1 done", ". write-config@h2 done",
			". bump-counter@h1 done",
			". touch-markers@h1 done", ". touch-markers@h2 done",
			". store-secret@h2 done",
			"! run done",
		},
	}},
}, {
	name: "manual-wait-confirm-flag-then-operator",
	runs: []saveRun{{
		extra: "manual: true\n",
		exit:  steps.ExitStopped,
		want: []string{
			". run running",
			"! write-config@h1 started", ". write-config@h1 done",
			"! write-config@h2 started", ". write-config@h2 done",
			"! bump-counter@h1 started", ". facts counter.want", ". bump-counter@h1 done",
			"! touch-markers@h1 started", ". touch-markers@h1 done",
			"! touch-markers@h2 started", ". touch-markers@h2 done",
			"! run waiting, confirm-by-hand@h1 pending",
		},
	}, {
		// --confirm without the work: Verify fails.
		resume: true,
		cfg:    func(c *steps.RunConfig, _ *steptest.Lab) { c.Confirm = []string{"confirm-by-hand"} },
		exit:   steps.ExitFailed,
		want: []string{
			". run running",
			". write-config@h1 done", ". write-config@h2 done",
			". bump-counter@h1 done",
			". touch-markers@h1 done", ". touch-markers@h2 done",
			". confirm-by-hand@h1 pending confirmed",
			"! confirm-by-hand@h1 started",
			". confirm-by-hand@h1 failed",
			"! run failed",
		},
	}, {
		// --redo without --confirm: the operator is asked again, does it.
		resume: true,
		cfg: func(c *steps.RunConfig, l *steptest.Lab) {
			c.Redo, c.Operator = []string{"confirm-by-hand"}, doesManual{NonInteractive: steps.NonInteractive{Yes: true}, l: l}
		},
		want: []string{
			". run running",
			". write-config@h1 done", ". write-config@h2 done",
			". bump-counter@h1 done",
			". touch-markers@h1 done", ". touch-markers@h2 done",
			"! confirm-by-hand@h1 failed confirmed",
			"! confirm-by-hand@h1 started",
			". confirm-by-hand@h1 done",
			"! local-verify@ started", ". local-verify@ done",
			"! run done",
		},
	}},
}, {
	name: "failure-retry",
	runs: []saveRun{{
		extra:  "fail_on: write-config\n",
		before: failFile,
		cfg: func(c *steps.RunConfig, l *steptest.Lab) {
			c.Operator = failOnce{NonInteractive: steps.NonInteractive{Yes: true}, l: l, choice: steps.Retry}
		},
		want: []string{
			". run running",
			"! write-config@h1 started", ". write-config@h1 done",
			"! write-config@h2 started", ". write-config@h2 failed",
			"! write-config@h2 started", ". write-config@h2 done",
			"! bump-counter@h1 started", ". facts counter.want", ". bump-counter@h1 done",
			"! touch-markers@h1 started", ". touch-markers@h1 done",
			"! touch-markers@h2 started", ". touch-markers@h2 done",
			"! local-verify@ started", ". local-verify@ done",
			"! run done",
		},
	}},
}, {
	name: "failure-skip-then-flags",
	runs: []saveRun{{
		extra:  "fail_on: write-config\n",
		before: failFile,
		cfg: func(c *steps.RunConfig, l *steptest.Lab) {
			c.Operator = failOnce{NonInteractive: steps.NonInteractive{Yes: true}, l: l, choice: steps.Skip}
		},
		want: []string{
			". run running",
			"! write-config@h1 started", ". write-config@h1 done",
			"! write-config@h2 started", ". write-config@h2 failed",
			"! write-config@h2 skipped",
			"! bump-counter@h1 started", ". facts counter.want", ". bump-counter@h1 done",
			"! touch-markers@h1 started", ". touch-markers@h1 done",
			"! touch-markers@h2 started", ". touch-markers@h2 done",
			"! local-verify@ started", ". local-verify@ done",
			"! run done",
		},
	}, {
		// --skip the skipped step again, --redo another.
		resume: true,
		cfg: func(c *steps.RunConfig, _ *steptest.Lab) {
			c.Skip, c.Redo = []string{"write-config"}, []string{"bump-counter"}
		},
		want: []string{
			". run running",
			". write-config@h2 skipped",
			"! bump-counter@h1 started", ". facts counter.want", ". bump-counter@h1 done",
			". touch-markers@h1 done", ". touch-markers@h2 done",
			"! run done",
		},
	}},
}}

// TestSaveOrder pins, through the state file, which transitions a run saves
// and which of those saves are durable.
func TestSaveOrder(t *testing.T) {
	for _, sc := range saveScenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := steptest.NewLab(t)
			state := filepath.Join(t.TempDir(), "s.json")
			for i, sr := range sc.runs {
				before, _ := steps.ReadState(state)
				var saves []savedState
				synced := map[int]bool{}
				c := scenarioConfig(t, l, state, sr)
				c.Hook = func(p string, n int) {
					switch p {
					case "synced":
						synced[n] = true
					case "after-save":
						st, err := steps.ReadState(state)
						if err != nil {
							t.Errorf("save %d: %v", n, err)
							return
						}
						saves = append(saves, savedState{st, synced[n]})
					}
				}
				_, err := steps.Run(context.Background(), c)
				checkScenarioRun(t, i, sr, err, describeSaves(before, saves))
			}
		})
	}
}

func scenarioConfig(t *testing.T, l *steptest.Lab, state string, sr saveRun) steps.RunConfig {
	t.Helper()
	if sr.before != nil {
		sr.before(t, l)
	}
	c := l.Config(t, state, sr.extra)
	if sr.resume {
		c.Answers, c.Resume = nil, true
	}
	if sr.cfg != nil {
		sr.cfg(&c, l)
	}
	return c
}

func checkScenarioRun(t *testing.T, i int, sr saveRun, err error, got []string) {
	t.Helper()
	if steps.ExitCode(err) != sr.exit {
		t.Fatalf("run %d: exit %d (%v), want %d", i, steps.ExitCode(err), err, sr.exit)
	}
	if !slices.Equal(got, sr.want) {
		t.Fatalf("run %d: saves\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(sr.want, "\n"))
	}
}

// describeSaves is one line per save: what it changed since the one before
// (before: the state the run started from, or nil).
func describeSaves(before *steps.State, saves []savedState) []string {
	var lines []string
	prev := before
	for _, s := range saves {
		var ch []string
		if prev == nil || prev.Status != s.st.Status {
			ch = append(ch, "run "+string(s.st.Status))
		}
		if prev == nil || !reflect.DeepEqual(prev.Facts, s.st.Facts) {
			if keys := factKeys(s.st.Facts); len(keys) > 0 {
				ch = append(ch, "facts "+strings.Join(keys, " "))
			}
		}
		for _, ss := range s.st.Steps {
			var old *steps.StepState
			if prev != nil {
				old = prev.Step(ss.ID)
			}
			for _, hs := range ss.Hosts {
				var oh *steps.HostState
				if old != nil {
					oh = old.Host(hs.Host)
				}
				if oh != nil && sameHostState(oh, hs) || oh == nil && hs.Status == steps.StatusPending {
					continue
				}
				d := ss.ID + "@" + hs.Host + " " + string(hs.Status)
				if hs.Confirmed != nil && (oh == nil || oh.Confirmed == nil || !oh.Confirmed.Equal(*hs.Confirmed)) {
					d += " confirmed"
				}
				ch = append(ch, d)
			}
		}
		mark := "."
		if s.durable {
			mark = "!"
		}
		if len(ch) == 0 && s.durable && prev != nil && len(s.st.Journal) > len(prev.Journal) {
			// a change journal entry, saved durably as the write or
			// service action that made it returns (journal.go; the
			// rollback tests check the entries): not a transition
			prev = s.st
			continue
		}
		if len(ch) == 0 {
			ch = append(ch, "(no change)")
		}
		lines = append(lines, mark+" "+strings.Join(ch, ", "))
		prev = s.st
	}
	return byHostInParallel(lines, "touch-markers@")
}

func sameHostState(a, b *steps.HostState) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func factKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// byHostInParallel orders each stretch of consecutive lines about the
// Parallel step prefix host by host, keeping each host's own order.
func byHostInParallel(lines []string, prefix string) []string {
	about := func(l string) bool { return strings.HasPrefix(l[2:], prefix) }
	host := func(l string) string { h, _, _ := strings.Cut(l[2+len(prefix):], " "); return h }
	for i := 0; i < len(lines); {
		if !about(lines[i]) {
			i++
			continue
		}
		j := i
		for j < len(lines) && about(lines[j]) {
			j++
		}
		sort.SliceStable(lines[i:j], func(a, b int) bool { return host(lines[i+a]) < host(lines[i+b]) })
		i = j
	}
	return lines
}
