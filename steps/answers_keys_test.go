package steps_test

import (
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/steptest"
)

// YAML errors name the key's path, the key's own line and, for an unknown
// key, the key it may have meant (issue 17 item 6).
func TestLoadAnswersKeyPaths(t *testing.T) {
	p := steptest.Procedure()
	for _, tc := range []struct{ name, yaml, want string }{
		{"nested unknown key", strings.Replace(planAnswers, "  user: admin\n", "  usr: admin\n", 1),
			"ssh.usr: line 3: unknown field usr; did you mean ssh.user?"},
		{"unknown key in a list", strings.Replace(planAnswers, "    port: 2201\n", "    prot: 2201\n", 1),
			"hosts[0].prot: line 7: unknown field prot; did you mean hosts[0].port?"},
		{"top-level unknown key", planAnswers + "greting: hi\n", "greting: line 13: unknown field greting; did you mean greeting?"},
		// a flow mapping on one line: the key's own line, not the mapping's start
		{"flow mapping", strings.Replace(planAnswers, "  - name: h2\n    address: 10.0.0.2\n", "  - {name: h2,\n     adress: 10.0.0.2}\n", 1),
			"hosts[1].adress: line 9: unknown field adress; did you mean hosts[1].address?"},
		{"type error", strings.Replace(planAnswers, "port: 2201", "port: many", 1), "hosts[0].port: line 7: cannot unmarshal"},
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

func TestSuggest(t *testing.T) {
	known := []string{"micetro-central-ha", "micetro-central-upgrade", "opsmanager-ha", "opsmanager-upgrade"}
	if got := steps.Suggest("micetro-centrl-ha", known); len(got) == 0 || got[0] != "micetro-central-ha" {
		t.Fatalf("Suggest = %v", got)
	}
	if got := steps.Suggest("zzz", known); len(got) != 0 {
		t.Fatalf("Suggest(zzz) = %v", got)
	}
}
