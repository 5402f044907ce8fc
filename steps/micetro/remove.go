package micetro

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

// This file is the procedure micetro-remove-member: the step IDs, its
// answers and one ordered table of the steps. Each step lives in its own
// file (remove_*.go). The vendor's page describes removing a member in one
// line of "Editing HA Member Options" (the web UI's Remove Member); what
// happens on the removed server, its ClusterMemberName and the round-robin
// name is not described: those steps are hawiz's [derived] reversal of
// the HA procedure's steps 10–14, and each says so in its Why.

// refEditMembers is the section of the HA page that lists Edit Member, Set
// Active and Remove Member (10.2 and later, the web UI).
func refEditMembers(detail string) docRef {
	return docRef{haPageLatest + "#editing-ha-member-options", "Editing HA Member Options, steps 1–4: " + detail}
}

// refConsoleDialog is the 10.1 page's Management Console dialog: the page
// shows it (console_ha.png: Add, Edit, Remove, Set Active; Name, Priority,
// State, Last seen) but describes no edit, removal or Set Active in words.
func refConsoleDialog(a *HAAnswers, m *Member) docRef {
	r := haRef(&HAAnswers{VersionUI: UI101}, m, hsRegisterMember)
	r.Section += ": the Manage High availability dialog (its screenshot shows Add, Edit, Remove and Set Active); the 10.1 page describes them in no words"
	return r
}

// refsEdit is the reference of a UI step that edits the member list: the
// latest page's section, and for the Management Console (10.1) its dialog.
func refsEdit(a *HAAnswers, m *Member, detail string) string {
	if a.VersionUI == UI101 {
		return docRefs(refEditMembers(detail), refConsoleDialog(a, m))
	}
	return refEditMembers(detail).String()
}

// Step IDs of micetro-remove-member (stable: they are in state files).
const (
	StepRmPreflight     = "preflight"
	StepRmNotActive     = "confirm-member-not-active"
	StepRmInUI          = "remove-member-in-ui"
	StepRmStop          = "stop-removed-member"
	StepRmName          = "remove-cluster-member-name"
	StepRmDNS           = "remove-from-round-robin-dns"
	StepRmVerifyCluster = "verify-remaining-members"
)

// Facts of micetro-remove-member (stable: they are in state files).
func factRanBefore(m *Member) string { return "ran-before-run." + m.Host.Name }

// factRemovedBefore records (in preflight, once, before anything changes)
// that the member was already out: Central stopped and no
// ClusterMemberName in its file.
const factRemovedBefore = "member-removed-before-run"

// RemoveAnswers are the answers of micetro-remove-member: the cluster as
// micetro-central-ha's answers describe it (members with their current
// priorities, the round-robin name), plus the member to take out.
type RemoveAnswers struct {
	HAAnswers `yaml:",inline"`
	// Remove is the ClusterMemberName (or host name) of the member to take
	// out of the cluster: one of members, not the primary (members[0]).
	Remove string `yaml:"remove" title:"Member to remove" help:"the ClusterMemberName of the member to take out of the cluster: one of the members, not the primary (the first)" example:"central3"`
}

// Validate checks the HA answers, then remove.
func (a *RemoveAnswers) Validate() error {
	es, err := haFieldErrors(a.HAAnswers.Validate())
	if err != nil {
		return err
	}
	if a.HATweaks != nil {
		es.Add("ha_tweaks", "is not used by micetro-remove-member: leave it out")
	}
	_, msg := pickMember(&a.Common, a.Remove, "remove", "take out of the cluster")
	if msg == "" && len(a.Members) > 0 {
		i, _ := pickMember(&a.Common, a.Remove, "", "")
		switch {
		case len(a.Members) == 1:
			msg = fmt.Sprintf("%q is the cluster's last member: removing it leaves no Central; the documents describe no such removal, so hawiz refuses it", a.Remove)
		case i == 0:
			msg = fmt.Sprintf("%q is members[0], the primary (priority %d): the documents describe no removal of the primary, so hawiz refuses it; remove a failover member", a.Remove, PrimaryPriority)
		}
	}
	if msg != "" {
		es.Add("remove", "%s", msg)
	}
	return steps.WithPlaceholders(a, es).Err()
}

// haFieldErrors turns a Validate result into its field errors (err: any
// other error).
func haFieldErrors(err error) (steps.FieldErrors, error) {
	if err == nil {
		return nil, nil
	}
	var fe steps.FieldErrors
	if errors.As(err, &fe) {
		return fe, nil
	}
	return nil, err
}

// pickMember finds the member named name (its ClusterMemberName, case
// insensitive, or its host name); msg says why there is none, naming what
// the field is for.
func pickMember(c *Common, name, field, what string) (int, string) {
	if name == "" {
		return -1, fmt.Sprintf("is required: the ClusterMemberName of the member to %s (one of members[].name)", what)
	}
	for i, m := range c.Members {
		if strings.EqualFold(m.Name, name) {
			return i, ""
		}
	}
	for i, m := range c.Members {
		if m.Host.Name == name {
			return i, ""
		}
	}
	names := make([]string, len(c.Members))
	for i, m := range c.Members {
		names[i] = m.Name
	}
	return -1, fmt.Sprintf("%q is not one of the members (%s)", name, strings.Join(names, ", "))
}

// removed is the member to take out.
func (a *RemoveAnswers) removed() *Member {
	i, _ := pickMember(&a.Common, a.Remove, "", "")
	return &a.Members[i]
}

// remaining are the members that stay.
func (a *RemoveAnswers) remaining() []*Member {
	x := a.removed()
	var out []*Member
	for i := range a.Members {
		if &a.Members[i] != x {
			out = append(out, &a.Members[i])
		}
	}
	return out
}

// RemoveMember is the procedure micetro-remove-member.
func RemoveMember() *steps.Procedure {
	return &steps.Procedure{
		Name:        "micetro-remove-member",
		Title:       "Remove a member from the Micetro Central HA cluster",
		Description: "Take a failover member out of Central HA: Remove Member in the UI, stop its Central, remove its ClusterMemberName and its round-robin DNS record",
		DocURL:      haPageLatest + "#editing-ha-member-options",
		Version:     1,
		NewAnswers:  func() steps.Answers { return &RemoveAnswers{} },
		Template:    removeTemplate,
		Steps:       func(a steps.Answers) ([]*steps.Step, error) { return removeSteps(a.(*RemoveAnswers)) },
	}
}

// removeSteps is the table of micetro-remove-member: the checks, the UI
// step, then the member's server and the DNS name, then the cluster.
func removeSteps(a *RemoveAnswers) ([]*steps.Step, error) {
	list := []*steps.Step{
		removePreflightStep(a),
		notActiveStep(a),
		removeInUIStep(a),
		removeStopStep(a),
		removeNameStep(a),
		removeDNSStep(a),
		removeVerifyStep(a),
	}
	return list, steps.Lint(list, steps.HostNames(a))
}

const removeTemplate = `# hawiz answers for micetro-remove-member: your micetro-central-ha answers
# (every member as it is now, with its priority) plus the member to remove.
ssh:
  user: <ssh user>
version_ui: "10.2+"           # "10.2+": web UI; "10.1": Management Console
members:                      # the cluster as it is now; the first is the primary
  - name: central1
    host: {address: <primary address>}
    priority: 10
  - name: central2
    host: {address: <failover address>}
    priority: 20
  - name: central3
    host: {address: <failover address>}
    priority: 30
dns:
  name: <central.example.com> # the round-robin name: the removed member's record is deleted from it
  # servers: [ns1.example.com]  # authoritative servers to check; default: discovered (SOA, NS)
  # tsig_key_file: /etc/hawiz/central.key   # with it hawiz offers the RFC 2136 delete; without it you delete the record by hand
remove: central3              # the member to take out: not the primary, not the last
`
