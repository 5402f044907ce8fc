package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

// confirmAnswers are the answers of confirmProc: none to give.
type confirmAnswers struct {
	Zone string `yaml:"zone"`
}

func (*confirmAnswers) Validate() error { return nil }

const dnsQuestion = "Send an RFC 2136 UPDATE to 127.0.0.1:5301 (zone demo.hawiz.test) signed with key demo-key: add 3 A records?"

// confirmProc is one local step asking the operator a yes/no question, as
// the round-robin DNS step asks before it sends a DNS UPDATE; yes counts
// how often it was answered yes.
func confirmProc(yes *int) *steps.Procedure {
	return &steps.Procedure{Name: "confirm-test", Title: "Confirm test", Version: 1,
		NewAnswers: func() steps.Answers { return &confirmAnswers{} },
		Steps: func(steps.Answers) ([]*steps.Step, error) {
			return []*steps.Step{{ID: "round-robin-dns", Title: "Round-robin DNS", Why: "one name for every member",
				Check: func(context.Context, *steps.Env, string) (bool, string, error) { return *yes > 0, "", nil },
				Apply: func(ctx context.Context, e *steps.Env, _ string) error {
					ok, err := e.Operator().Confirm(ctx, dnsQuestion, true)
					if err == nil && ok {
						*yes++
					}
					return err
				},
				Verify: func(context.Context, *steps.Env, string) (string, error) { return "sent", nil },
			}}, nil
		}}
}

// resumeFlags runs the resume command hawiz printed: its flags become the
// resumed run's configuration (--state, --yes, --confirm STEP), as `hawiz
// resume` takes them. A flag it does not know fails the test.
func resumeFlags(t *testing.T, cmd string, rc *steps.RunConfig) {
	t.Helper()
	f := strings.Fields(cmd)
	if len(f) < 2 || f[0] != "hawiz" || f[1] != "resume" {
		t.Fatalf("resume command %q", cmd)
	}
	rc.Resume = true
	for i := 2; i < len(f); i++ {
		switch f[i] {
		case "--state":
			i++
			rc.StatePath = f[i]
		case "--yes":
			rc.Yes, rc.Operator = true, NonInteractiveOperator{NonInteractive: steps.NonInteractive{Yes: true}}
		case "--confirm":
			i++
			rc.Confirm = append(rc.Confirm, f[i])
		default:
			t.Fatalf("resume command %q: flag %q", cmd, f[i])
		}
	}
}

// A confirmation --plain or --json cannot ask stops the run with the
// question and the flag that answers it, and the resume command hawiz
// prints gets past it (issue 17 item 5: it stopped at the same place again).
func TestNonInteractiveConfirmationPrintsTheQuestionAndResumeGetsPast(t *testing.T) {
	for _, mode := range []string{"plain", "json"} {
		t.Run(mode, func(t *testing.T) {
			yes := 0
			p := confirmProc(&yes)
			state := filepath.Join(t.TempDir(), "s.json")
			var out bytes.Buffer
			var r steps.Renderer = NewPlainRenderer(&out)
			if mode == "json" {
				r = NewJSONRenderer(&out)
			}
			rc := steps.RunConfig{Procedure: p, Answers: &confirmAnswers{}, StatePath: state, RunName: "t",
				Renderer: r, Operator: NonInteractiveOperator{}}
			o, err := steps.Run(context.Background(), rc)
			if steps.ExitCode(err) != steps.ExitStopped {
				t.Fatalf("first run: %v (exit %d), want exit 3", err, steps.ExitCode(err))
			}
			text := out.String()
			if mode == "json" {
				// the run-end event's message is what --json says
				var last steps.Event
				lines := strings.Split(strings.TrimSpace(text), "\n")
				if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Kind != steps.EventRunEnd {
					t.Fatalf("last JSON line %q: %v", lines[len(lines)-1], err)
				}
				text = last.Message
			}
			for _, want := range []string{dnsQuestion, "--yes"} {
				if !strings.Contains(text, want) {
					t.Errorf("%s output does not say %q:\n%s", mode, want, text)
				}
			}
			// the command printed (in the error and the outcome) gets past it
			var se *steps.StoppedError
			if !strings.Contains(err.Error(), o.Resume) {
				t.Errorf("the error %q does not give the outcome's resume command %q", err, o.Resume)
			}
			if !errors.As(err, &se) || se.Resume != o.Resume {
				t.Fatalf("err %v, outcome resume %q", err, o.Resume)
			}
			next := steps.RunConfig{Renderer: NewPlainRenderer(&bytes.Buffer{}), Operator: NonInteractiveOperator{}}
			resumeFlags(t, o.Resume, &next)
			next.Procedure = p
			if _, err := steps.Run(context.Background(), next); err != nil {
				t.Fatalf("%s: %v", o.Resume, err)
			}
			if yes != 1 {
				t.Fatalf("the question was answered yes %d times, want 1", yes)
			}
			if !slices.Contains(strings.Fields(o.Resume), "--yes") {
				t.Fatalf("resume command %q", o.Resume)
			}
		})
	}
}

// A run given a ResumeCommand (the demo's `hawiz demo`: its fleet is gone
// once it exits, so `hawiz resume --state …` cannot work) prints that
// command, without flags, wherever it stops: the accessible demo printed
// the engine's resume command (issue 17 item 8).
func TestResumeCommandReplacesTheEngines(t *testing.T) {
	yes := 0
	var out bytes.Buffer
	rc := steps.RunConfig{Procedure: confirmProc(&yes), Answers: &confirmAnswers{}, StatePath: filepath.Join(t.TempDir(), "s.json"),
		RunName: "t", Renderer: NewPlainRenderer(&out), Operator: NonInteractiveOperator{}, ResumeCommand: "hawiz demo", ResumeFixed: true}
	o, err := steps.Run(context.Background(), rc)
	if steps.ExitCode(err) != steps.ExitStopped {
		t.Fatalf("run: %v (exit %d), want exit 3", err, steps.ExitCode(err))
	}
	if o.Resume != "hawiz demo" {
		t.Errorf("outcome resume %q, want %q", o.Resume, "hawiz demo")
	}
	for _, text := range []string{err.Error(), out.String()} {
		if strings.Contains(text, "hawiz resume") || !strings.Contains(text, "resume with: hawiz demo") {
			t.Errorf("%q: want the ResumeCommand, not the engine's", text)
		}
	}
}

// A ResumeCommand that takes flags (`hawiz rollback --state FILE`) gets the
// one that gets past where the run stopped, as `hawiz resume` does: a
// stopped rollback printed its command without the --confirm or --yes it
// needed, so the same command stopped at the same place again.
func TestResumeCommandGetsTheFlag(t *testing.T) {
	yes := 0
	rc := steps.RunConfig{Procedure: confirmProc(&yes), Answers: &confirmAnswers{}, StatePath: filepath.Join(t.TempDir(), "s.json"),
		RunName: "t", Renderer: NewPlainRenderer(&bytes.Buffer{}), Operator: NonInteractiveOperator{}, ResumeCommand: "hawiz rollback --state s.json"}
	o, err := steps.Run(context.Background(), rc)
	if steps.ExitCode(err) != steps.ExitStopped {
		t.Fatalf("run: %v (exit %d), want exit 3", err, steps.ExitCode(err))
	}
	if want := "hawiz rollback --state s.json --yes"; o.Resume != want {
		t.Errorf("outcome resume %q, want %q", o.Resume, want)
	}
}
