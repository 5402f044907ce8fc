package catalog

import (
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hawiz/hawiz/steps"
)

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func TestCatalog(t *testing.T) {
	a, b := All(), All()
	seen := map[string]bool{}
	for i, p := range a {
		if p == b[i] {
			t.Errorf("%s: All returns the same *Procedure twice (must be fresh on each call)", p.Name)
		}
		if !kebab.MatchString(p.Name) || seen[p.Name] {
			t.Errorf("name %q is not kebab-case or is duplicated", p.Name)
		}
		seen[p.Name] = true
		if p.Title == "" || p.Description == "" || strings.Contains(p.Description, "\n") {
			t.Errorf("%s: needs a title and a one-line description", p.Name)
		}
		if p.NewAnswers == nil || p.NewAnswers() == nil || p.Steps == nil {
			t.Errorf("%s: NewAnswers, Steps and Hosts are required", p.Name)
		} else if _, ok := p.NewAnswers().(steps.HostSource); !ok {
			t.Errorf("%s: its answers must implement steps.HostSource (the hosts to connect)", p.Name)
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(p.Template), &n); err != nil || p.Template == "" {
			t.Errorf("%s: template is not YAML: %v", p.Name, err)
		}
		if Find(p.Name) == nil {
			t.Errorf("Find(%q) = nil", p.Name)
		}
	}
}
