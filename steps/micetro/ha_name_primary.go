package micetro

import (
	"context"
	"errors"
	"fmt"

	"github.com/hawiz/hawiz/steps"
)

// Step name-primary of micetro-central-ha: "Edit the preferences file on the
// primary, adding <ClusterMemberName value="NAME"/> to the end of the file".
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html
// (C1 central_ha.rst, Linux or Windows, step 1).

// namePrimary is the step; its Check hands the file it read to its Apply.
type namePrimary struct {
	a    *HAAnswers
	p    *Member
	read handoff[*prefsRead]
}

func namePrimaryStep(a *HAAnswers) *steps.Step {
	s := &namePrimary{a: a, p: &a.Members[0]}
	p := s.p
	line := fmt.Sprintf(`<ClusterMemberName value="%s"/>`, p.Name)
	return &steps.Step{
		ID:      StepNamePrimary,
		Title:   "Edit the preferences file on the primary, adding " + line + " to the end of the file",
		Why:     "the name is unique and identifies this Central instance in the high availability cluster",
		DocRef:  haRef(a, p, hsNamePrimary).String(),
		Hosts:   []string{p.Host.Name},
		Mode:    steps.Once,
		Actions: []string{fmt.Sprintf("append %s to %s on %s (backup kept, every other byte unchanged)", line, a.prefsPath(p), p.Host.Name)},
		Check:   s.check,
		Apply:   s.apply,
		Verify:  s.verify,
	}
}

func (s *namePrimary) want() map[string]string {
	return map[string]string{ElemClusterMemberName: s.p.Name}
}

func (s *namePrimary) check(ctx context.Context, e *steps.Env, hn string) (bool, string, error) {
	a, p := s.a, s.p
	path := a.prefsPath(p)
	h, err := e.Host(hn)
	if err != nil {
		return false, "", err
	}
	pr, info, err := readPrefs(ctx, &a.Common, h, p)
	if err != nil || pr == nil {
		return false, "", errors.Join(err, errNoPrefs(path, hn, pr == nil))
	}
	s.read.put(hn, &prefsRead{pr, info})
	v, ok := pr.Get(ElemClusterMemberName)
	if ok && v == p.Name && len(pr.Find(ElemClusterMemberName)) == 1 {
		return true, fmt.Sprintf("%s already has ClusterMemberName %q", path, v), nil
	}
	if ok {
		return false, fmt.Sprintf("%s has ClusterMemberName %q, not %q", path, v, p.Name), nil
	}
	return false, fmt.Sprintf("%s has no ClusterMemberName", path), nil
}

func (s *namePrimary) apply(ctx context.Context, e *steps.Env, hn string) error {
	read, _ := s.read.take(hn)
	return setPrefs(ctx, e, &s.a.Common, s.p, s.want(), true, read)
}

func (s *namePrimary) verify(ctx context.Context, e *steps.Env, hn string) (string, error) {
	return verifyPrefs(ctx, e, &s.a.Common, s.p, s.want())
}

func errNoPrefs(path, host string, missing bool) error {
	if !missing {
		return nil
	}
	return fmt.Errorf("%s does not exist on %s", path, host)
}
