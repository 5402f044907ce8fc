package micetro

import (
	"context"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// This file is the procedure micetro-change-active: make another member
// Active (the UI's Set Active) and/or change members' priorities (Edit
// Member), each a UI step the operator confirms, then what hawiz can
// observe. Micetro documents no API or file that names the Active member
// or the priorities (procedures.md B.8): hawiz verifies that the new
// Active member runs Central (Active needs a running Central) and, when
// exactly one member runs Central, that it is that one; the rest is the
// operator's confirmation of what the UI shows.
// Docs: https://docs.menandmice.com/en/latest/guides/implementation/central_ha.html#editing-ha-member-options
// (Editing HA Member Options, steps 1–4: Edit Member, Set Active).

// Step IDs of micetro-change-active (stable: they are in state files).
const (
	StepCaPreflight = "preflight"
	StepCaSetActive = "set-active"
	StepCaVerify    = "verify-members"
)

func stepEditPriority(member string) string { return "edit-priority-" + member }

// PriorityChange is a member's new priority.
type PriorityChange struct {
	Member   string `yaml:"member" help:"the ClusterMemberName whose priority changes" example:"central2"`
	Priority int    `yaml:"priority" help:"its new priority: unique, higher than the primary's 10" example:"15"`
}

// ChangeActiveAnswers are micetro-central-ha's answers (the cluster as it
// is now) plus the change.
type ChangeActiveAnswers struct {
	HAAnswers  `yaml:",inline"`
	Active     string           `yaml:"active,omitempty" title:"Member to make Active" help:"the ClusterMemberName to make Active (Set Active)" example:"central2" default:"none: the Active member stays"`
	Priorities []PriorityChange `yaml:"priorities,omitempty" help:"members whose priority changes (Edit Member)"`
}

// Validate checks the HA answers and the change.
func (a *ChangeActiveAnswers) Validate() error {
	es, err := haFieldErrors(a.HAAnswers.Validate())
	if err != nil {
		return err
	}
	if a.Active == "" && len(a.Priorities) == 0 {
		es.Add("active", "is required unless priorities are given: the member to make Active")
	}
	if a.Active != "" {
		if _, msg := pickMember(&a.Common, a.Active, "active", "make Active"); msg != "" {
			es.Add("active", "%s", msg)
		}
	}
	prios := map[int]string{}
	for _, m := range a.Members {
		prios[m.Priority] = m.Name
	}
	for i, p := range a.Priorities {
		f := fmt.Sprintf("priorities[%d]", i)
		j, msg := pickMember(&a.Common, p.Member, "", "change the priority of")
		switch {
		case msg != "":
			es.Add(f+".member", "%s", msg)
		case j == 0:
			es.Add(f+".member", "%q is the primary: the documents give it priority %d; hawiz changes only failover members' priorities", p.Member, PrimaryPriority)
		case p.Priority <= PrimaryPriority:
			es.Add(f+".priority", "%d must be higher than the primary's %d (the documents: unique and higher than the primary)", p.Priority, PrimaryPriority)
		case prios[p.Priority] != "" && !strings.EqualFold(prios[p.Priority], a.Members[j].Name):
			es.Add(f+".priority", "%d is already %s's: priorities must be unique", p.Priority, prios[p.Priority])
		default:
			delete(prios, a.Members[j].Priority)
			prios[p.Priority] = a.Members[j].Name
		}
	}
	return steps.WithPlaceholders(a, es).Err()
}

// ChangeActive is the procedure micetro-change-active.
func ChangeActive() *steps.Procedure {
	return &steps.Procedure{
		Name:        "micetro-change-active",
		Title:       "Change the Active member or a priority of the Micetro Central HA cluster",
		Description: "Set Active and Edit Member (priority) in Micetro's UI, then verify what hawiz can observe",
		DocURL:      haPageLatest + "#editing-ha-member-options",
		Version:     1,
		NewAnswers:  func() steps.Answers { return &ChangeActiveAnswers{} },
		Template:    changeActiveTemplate,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return changeActiveSteps(a.(*ChangeActiveAnswers)) },
	}
}

func changeActiveSteps(a *ChangeActiveAnswers) ([]*steps.Step, error) {
	list := []*steps.Step{caPreflightStep(a)}
	if a.Active != "" {
		list = append(list, setActiveStep(a))
	}
	slugs := memberSlugs(a.Members, 0)
	for _, p := range a.Priorities {
		j, _ := pickMember(&a.Common, p.Member, "", "")
		list = append(list, editPriorityStep(a, &a.Members[j], slugs[j], p.Priority))
	}
	list = append(list, caVerifyStep(a))
	return list, steps.Lint(list, steps.HostNames(a))
}

func caPreflightStep(a *ChangeActiveAnswers) *steps.Step {
	run := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		runs, evs, errs := runningAll(ctx, e, &a.Common)
		var ev []string
		for i := range a.Members {
			m := &a.Members[i]
			if errs[i] != nil {
				return false, "", errs[i]
			}
			if _, ok := e.Fact(factRanBefore(m)); !ok {
				e.SetFact(factRanBefore(m), fmt.Sprint(runs[i]))
			}
			ev = append(ev, m.Name+": "+evs[i])
			if a.Active != "" && strings.EqualFold(m.Name, a.Active) && !runs[i] {
				return false, "", &steps.RefusedError{Reason: fmt.Sprintf("active: %s does not run Central (%s): a member whose Central is stopped cannot be Active; start it first. Nothing was changed", m.Name, evs[i])}
			}
		}
		return true, strings.Join(ev, "; "), nil
	}
	return &steps.Step{
		ID:     StepCaPreflight,
		Title:  "Preflight: every member reachable; the member to make Active runs Central",
		Why:    "Set Active makes a member Active; one whose Central is stopped cannot be [derived]",
		DocRef: refEditMembers("Set Active").String(),
		Mode:   steps.Once,
		Actions: []string{
			"probe every member: its Central service, port " + fmt.Sprint(CentralPort),
		},
		Check: run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

func setActiveStep(a *ChangeActiveAnswers) *steps.Step {
	j, _ := pickMember(&a.Common, a.Active, "", "")
	m := &a.Members[j]
	ins := []string{
		"Log in to the Micetro Web Application as \"administrator\" and go to Admin → Configuration.",
		"Select High Availability.",
		fmt.Sprintf("Hover over the member %q and click the row's … menu.", m.Name),
		"Choose Set Active.",
		fmt.Sprintf("The list now shows %q with state Active.", m.Name),
	}
	if a.VersionUI == UI101 {
		ins = []string{
			"Log in to the Management Console as \"administrator\"; go to Tools → Manage High availability.",
			fmt.Sprintf("Select %q and click Set Active.", m.Name),
			fmt.Sprintf("The list now shows %q with state Active.", m.Name),
		}
	}
	return &steps.Step{
		ID:     StepCaSetActive,
		Title:  fmt.Sprintf("Make %q the Active member (Set Active)", m.Name),
		Why:    "Set Active sets the server to be the Active member of the HA cluster manually; Micetro documents no API for it, so it is done in the UI",
		DocRef: refsEdit(&a.HAAnswers, m, "Set Active"),
		Hosts:  []string{a.Members[0].Host.Name},
		Mode:   steps.Once,
		Manual: &steps.Manual{Instructions: ins, Values: []steps.KV{{Label: "Active", Value: m.Name}}},
		Check:  factCheck(StepCaSetActive),
		Apply:  func(_ context.Context, e *steps.Env, _ string) error { recordConfirmed(e, StepCaSetActive); return nil },
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			runs, evs, errs := runningAll(ctx, e, &a.Common)
			var up []string
			for i := range a.Members {
				if errs[i] != nil {
					return "", errs[i]
				}
				if runs[i] {
					up = append(up, a.Members[i].Name)
				}
			}
			switch {
			case !runs[j]:
				return "", fmt.Errorf("%s does not run Central (%s): it cannot be Active", m.Name, evs[j])
			case len(up) == 1:
				return fmt.Sprintf("observed: %s is the only member running Central (%s), so it is the Active one", m.Name, evs[j]), nil
			}
			v, _ := e.Fact(factConfirmed(StepCaSetActive))
			return fmt.Sprintf("%s runs Central (%s), as the Active member must; %s run Central, so only the UI shows which is Active: the operator confirmed %s Active at %s", m.Name, evs[j], strings.Join(up, ", "), m.Name, v), nil
		},
	}
}

func editPriorityStep(a *ChangeActiveAnswers, m *Member, slug string, prio int) *steps.Step {
	id := stepEditPriority(slug)
	ins := []string{
		"Log in to the Micetro Web Application as \"administrator\" and go to Admin → Configuration.",
		"Select High Availability.",
		fmt.Sprintf("Hover over the member %q and click the row's … menu.", m.Name),
		fmt.Sprintf("Choose Edit Member; change the priority from %d to %d; save.", m.Priority, prio),
		fmt.Sprintf("The list now shows %q with priority %d.", m.Name, prio),
	}
	if a.VersionUI == UI101 {
		ins = []string{
			"Log in to the Management Console as \"administrator\"; go to Tools → Manage High availability.",
			fmt.Sprintf("Select %q, click Edit and change the priority from %d to %d; click OK.", m.Name, m.Priority, prio),
			fmt.Sprintf("The list now shows %q with priority %d.", m.Name, prio),
		}
	}
	return &steps.Step{
		ID:     id,
		Title:  fmt.Sprintf("Change %q's priority from %d to %d (Edit Member)", m.Name, m.Priority, prio),
		Why:    "Edit Member changes a member's name or priority; each failover's priority must be unique and higher than the primary's; Micetro documents no API, so it is done in the UI and the operator's confirmation is the evidence",
		DocRef: docRefs(docRef(steps.DocRef{URL: refEditMembers("").URL, Section: "Editing HA Member Options, steps 1–4: Edit Member"}), refAddFailover(&a.HAAnswers, m)),
		Hosts:  []string{a.Members[0].Host.Name},
		Mode:   steps.Once,
		Manual: &steps.Manual{Instructions: ins, Values: []steps.KV{{Label: "Name", Value: m.Name}, {Label: "Priority", Value: fmt.Sprint(prio)}}},
		Check:  factCheck(id),
		Apply:  func(_ context.Context, e *steps.Env, _ string) error { recordConfirmed(e, id); return nil },
		Verify: func(_ context.Context, e *steps.Env, _ string) (string, error) {
			v, ok := e.Fact(factConfirmed(id))
			if !ok {
				return "", fmt.Errorf("the new priority of %s was not confirmed", m.Name)
			}
			return fmt.Sprintf("the operator confirmed at %s that the list shows %s with priority %d (Micetro documents no API to read it)", v, m.Name, prio), nil
		},
	}
}

func caVerifyStep(a *ChangeActiveAnswers) *steps.Step {
	return &steps.Step{
		ID:      StepCaVerify,
		Title:   "Verify the members: every one that ran Central before this run still runs it",
		Why:     "a change in the UI must leave the cluster running; Micetro documents no API for member states, so hawiz checks what it can observe [derived]",
		DocRef:  refEditMembers("Edit Member, Set Active").String(),
		Mode:    steps.Once,
		Actions: []string{"probe every member: its Central service, port " + fmt.Sprint(CentralPort)},
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) {
			runs, evs, errs := runningAll(ctx, e, &a.Common)
			var ev, bad []string
			for i := range a.Members {
				m := &a.Members[i]
				if errs[i] != nil {
					return "", errs[i]
				}
				ev = append(ev, m.Name+": "+evs[i])
				if before, _ := e.Fact(factRanBefore(m)); before == "true" && !runs[i] {
					bad = append(bad, fmt.Sprintf("%s ran Central before this run and does not now: %s", m.Name, evs[i]))
				}
			}
			if len(bad) > 0 {
				return "", fmt.Errorf("%s", strings.Join(bad, "; "))
			}
			return strings.Join(ev, "; "), nil
		},
	}
}

const changeActiveTemplate = `# hawiz answers for micetro-change-active: your micetro-central-ha answers
# (every member as it is now, with its priority) plus the change.
ssh:
  user: <ssh user>
version_ui: "10.2+"           # "10.2+": web UI; "10.1": Management Console
members:
  - name: central1
    host: {address: <primary address>}
    priority: 10
  - name: central2
    host: {address: <failover address>}
    priority: 20
dns:
  name: <central.example.com>
active: central2              # Set Active: the member to make Active (it must run Central)
# priorities:                 # Edit Member: new priorities, unique and higher than the primary's 10
#   - {member: central2, priority: 15}
`
