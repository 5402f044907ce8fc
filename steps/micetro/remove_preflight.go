package micetro

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hawiz/hawiz/dnscheck"
	"github.com/hawiz/hawiz/steps"
)

// Step preflight of micetro-remove-member: every member reachable, sudo,
// every preferences.cfg readable and whole, every member that stays names
// itself (it is in the cluster), the removed one names itself or nothing,
// a Central runs on a member that stays, the removed member's address and
// the TSIG key (when given) are known. Nothing is written.
// Docs: the note at the top of the HA page (an HA cluster on MSSQL or
// PostgreSQL); the rest is [derived].

func removePreflightStep(a *RemoveAnswers) *steps.Step {
	x := a.removed()
	run := func(ctx context.Context, e *steps.Env, _ string) (bool, string, error) {
		ev, err := removePreflight(ctx, e, a)
		if err != nil {
			return false, "", err
		}
		return true, ev, nil
	}
	return &steps.Step{
		ID:     StepRmPreflight,
		Title:  "Preflight: every member reachable, its preferences.cfg whole, " + x.Name + " not the only Central running",
		Why:    "nothing is changed until every member and input has been checked; the documents give no removal checks, these are hawiz's [derived]",
		DocRef: docRefs(refHARequirement, refEditMembers("Remove Member")),
		Mode:   steps.Once,
		Actions: append([]string{
			"check sudo on every member",
			"read preferences.cfg on every member: whole (no typographic quotes), each member that stays names itself in ClusterMemberName, " + x.Name + "'s names " + x.Name + " or nothing",
			"probe Central on every member (service, port 1231): at least one member that stays runs it",
			"tell " + x.Name + "'s address in " + a.DNS.Name + "; load the TSIG key file when given",
		}, a.pathNotes()...),
		Check: run,
		Verify: func(ctx context.Context, e *steps.Env, h string) (string, error) {
			_, ev, err := run(ctx, e, h)
			return ev, err
		},
		After: []string{},
	}
}

func removePreflight(ctx context.Context, e *steps.Env, a *RemoveAnswers) (string, error) {
	if f := e.Fleet(); f != nil && a.SSH.Sudo != steps.SudoNone && !e.SudoChecked() {
		if err := f.CheckSudo(ctx); err != nil {
			return "", err
		}
	}
	x := a.removed()
	reads := make([]prefsRead, len(a.Members))
	errs := make([]error, len(a.Members))
	fs := make([]func(), len(a.Members))
	for i := range a.Members {
		fs[i] = func() {
			m := &a.Members[i]
			h, err := e.Host(m.Host.Name)
			if err != nil {
				errs[i] = err
				return
			}
			reads[i].prefs, reads[i].info, errs[i] = readPrefs(ctx, &a.Common, h, m)
		}
	}
	var runs []bool
	var runEvs []string
	var runErrs []error
	par(func() { par(fs...) }, func() { runs, runEvs, runErrs = runningAll(ctx, e, &a.Common) })
	var problems []string
	for i := range a.Members {
		m := &a.Members[i]
		if err := errors.Join(errs[i], runErrs[i]); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		path := a.prefsPath(m)
		pr := reads[i].prefs
		if pr == nil {
			problems = append(problems, fmt.Sprintf("%s: %s does not exist: is %s a member of this cluster? (set members[%d].preferences_path if it is elsewhere)", m.Host.Name, path, m.Name, i))
			continue
		}
		if probs := pr.Problems(); len(probs) > 0 {
			problems = append(problems, fmt.Sprintf("%s: %s: %v: fix it by hand first", m.Host.Name, path, probs))
			continue
		}
		names := pr.Find(ElemClusterMemberName)
		switch {
		case len(names) > 1:
			problems = append(problems, fmt.Sprintf("%s: %s has %d ClusterMemberName lines: remove the extra ones by hand first", m.Host.Name, path, len(names)))
		case m == x && len(names) == 1 && names[0].Value != m.Name:
			problems = append(problems, fmt.Sprintf("remove: %s's %s names the member %q, not %q: the answers do not describe this cluster; nothing was changed", m.Host.Name, path, names[0].Value, m.Name))
		case m != x && (len(names) == 0 || names[0].Value != m.Name):
			got := "no ClusterMemberName"
			if len(names) == 1 {
				got = fmt.Sprintf("ClusterMemberName %q", names[0].Value)
			}
			problems = append(problems, fmt.Sprintf("members[%d]: %s's %s has %s, not %q: the answers do not describe this cluster; nothing was changed", i, m.Host.Name, path, got, m.Name))
		}
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "\n"))
	}
	var up []string
	for i := range a.Members {
		m := &a.Members[i]
		if _, ok := e.Fact(factRanBefore(m)); !ok {
			e.SetFact(factRanBefore(m), fmt.Sprint(runs[i]))
		}
		if runs[i] && m != x {
			up = append(up, m.Name)
		}
	}
	if len(up) == 0 {
		return "", &steps.RefusedError{Reason: fmt.Sprintf("no member that stays runs Central (%s): removing %s would leave the cluster without an Active member; nothing was changed", strings.Join(runEvs, "; "), x.Name)}
	}
	xi, _ := pickMember(&a.Common, a.Remove, "", "")
	if _, ok := e.Fact(factRemovedBefore); !ok {
		gone := !runs[xi] && len(reads[xi].prefs.Find(ElemClusterMemberName)) == 0
		e.SetFact(factRemovedBefore, fmt.Sprint(gone))
	}
	ip, err := memberAddr(ctx, e, &a.HAAnswers, x)
	if err != nil {
		return "", err
	}
	if a.DNS.TSIGKeyFile != "" {
		key, err := dnscheck.LoadTSIGFile(a.DNS.TSIGKeyFile)
		if err != nil {
			return "", fmt.Errorf("dns.tsig_key_file: %w", err)
		}
		e.Redactor().Add(key.Secret)
	}
	return fmt.Sprintf("%d members read, each whole and naming itself; Central runs on %s, which stay; %s is %s in %s", len(a.Members), strings.Join(up, ", "), x.Name, ip, a.DNS.Name), nil
}
