package steps_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const planAnswers = `ssh:
  sudo: none
  user: admin
hosts:
  - name: h1
    address: 10.0.0.1
    port: 2201
  - name: h2
    address: 10.0.0.2
greeting: hello
manual: true
use_secret: true
`

func TestPlanGolden(t *testing.T) {
	p := steptest.Procedure()
	a, err := steps.LoadAnswers(p, []byte(planAnswers))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := steps.WritePlan(&b, p, a); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "plan.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestPlanGolden -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("plan differs from %s (go test -run TestPlanGolden -update):\n%s", golden, b.String())
	}
}

func TestTemplateLoads(t *testing.T) {
	p := steptest.Procedure()
	if _, err := steps.LoadAnswers(p, []byte(p.Template)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadAnswersErrors(t *testing.T) {
	p := steptest.Procedure()
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", planAnswers + "colour: blue\n", "line 13: unknown field colour"},
		{"unknown nested key", strings.Replace(planAnswers, "  user: admin\n", "  usr: admin\n", 1), "line 3: unknown field usr"},
		{"type", strings.Replace(planAnswers, "port: 2201", "port: many", 1), "line 7: cannot unmarshal !!str `many` into int"},
		{"validation, every error", strings.NewReplacer("sudo: none", "sudo: maybe", "greeting: hello", "greeting: \"\"", "port: 2201", "port: 70000").Replace(planAnswers),
			"ssh.sudo: \"maybe\" must be one of nopasswd, password, none\nhosts[0].port: 70000 is not a TCP port (1-65535)\ngreeting: is required"},
		{"empty", "  \n", "answers file is empty"},
		{"two documents", planAnswers + "---\ngreeting: x\n", "more than one YAML document"},
		{"not a mapping", "- a\n- b\n", "cannot unmarshal"},
		{"duplicate key", planAnswers + "greeting: again\n", "already defined"},
		{"syntax", "ssh: [\n", "line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := steps.LoadAnswers(p, []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q, want it to contain %q", err, tc.want)
			}
			if steps.ExitCode(err) != steps.ExitUsage {
				t.Fatalf("exit %d", steps.ExitCode(err))
			}
		})
	}
}

func FuzzLoadAnswers(f *testing.F) {
	f.Add([]byte(planAnswers))
	f.Add([]byte(steptest.Procedure().Template))
	f.Add([]byte("ssh: {sudo: password}\nhosts: [{name: a}, {name: b, os: windows}]\ngreeting: x\n"))
	p := steptest.Procedure()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := steps.LoadAnswers(p, data)
		if err != nil {
			if a != nil {
				t.Fatal("answers returned with an error")
			}
			if steps.ExitCode(err) != steps.ExitUsage {
				t.Fatalf("exit %d for %v", steps.ExitCode(err), err)
			}
			return
		}
		// Valid answers round-trip through the state's YAML unchanged.
		y, err := steps.MarshalAnswers(a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := steps.LoadAnswers(p, []byte(y))
		if err != nil {
			t.Fatalf("re-marshalled answers do not load: %v\n%s", err, y)
		}
		y2, _ := steps.MarshalAnswers(b)
		if y != y2 {
			t.Fatalf("round trip differs:\n%s\n%s", y, y2)
		}
	})
}
