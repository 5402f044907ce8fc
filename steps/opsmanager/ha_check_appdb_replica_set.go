// ha_check_appdb_replica_set.go: step check-appdb-replica-set of
// opsmanager-ha, the prerequisite that the Application Database is a replica
// set of at least 3 members placed so one facility can elect a primary
// (https://www.mongodb.com/docs/ops-manager/current/tutorial/configure-application-high-availability/
// Prerequisites and "Replica Set for the Application Database", M1; step 3,
// M2; M15).

package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hawiz/hawiz/steps"
)

func haCheckAppDBReplicaSet(a *Answers) *steps.Step {
	return &steps.Step{
		ID:     StepAppDB,
		Title:  "Prerequisite: the Application Database replica set",
		Why:    "the App DB must be a replica set of at least 3 data-bearing members; one facility must be able to elect a primary (judged on the live set when hawiz can read it)",
		DocRef: docRefs(refHAPrereqs, haProcStep("3", "update each Application host with the replication hosts"), refBacking) + "; " + DocAppDBPlacement,
		Verify: func(ctx context.Context, e *steps.Env, _ string) (string, error) { return checkAppDB(ctx, e, a) },
	}
}

// checkAppDB checks the answers' App DB (hosts, data-bearing members,
// placement) and, when it can, the live replica-set configuration.
func checkAppDB(ctx context.Context, e *steps.Env, a *Answers) (string, error) {
	hosts, err := ParseAppDBURI(a.AppDB.URI)
	if err != nil {
		return "", err
	}
	if len(hosts) < 3 {
		return "", fmt.Errorf("appdb.uri lists %d hosts; at least 3 are needed (%s)", len(hosts), refReplHostsStep)
	}
	out := []string{appDBHostsLine(e, hosts)}
	if n := a.AppDB.DataBearing(); n < 3 {
		return "", fmt.Errorf("appdb.members: the App DB has %d data-bearing member(s); an HA Application Database needs three: Ops Manager writes with w:2, so losing one of two stops writes (%s)", n, DocAppDBTopology)
	}
	placement, err := placementLine(a.AppDB.Members)
	if err != nil {
		return "", err
	}
	out = append(out, placement)
	live, err := liveLine(ctx, e, a)
	if err != nil {
		return "", err
	}
	out = append(out, live)
	return strings.Join(out, "\n"), nil
}

// appDBHostsLine lists the URI's hosts, warning about upper-case names.
func appDBHostsLine(e *steps.Env, hosts []AppDBHost) string {
	var hs []string
	for _, h := range hosts {
		hs = append(hs, h.String())
		if h.Host != strings.ToLower(h.Host) {
			e.Warn("", "App DB host %s is not lower-case; use lower-case FQDNs or Ops Manager may not find the database ("+refBacking.String()+")", h.Host)
		}
	}
	return fmt.Sprintf("mongo.mongoUri lists %d hosts: %s", len(hosts), strings.Join(hs, ", "))
}

// placementLine checks appdb.members' placement (M1) and shows each
// facility's votes.
func placementLine(members []Member) (string, error) {
	if len(members) == 0 {
		return "appdb.members not given: the placement is judged on the live set only", nil
	}
	if err := CheckPlacement(members); err != nil {
		return "", fmt.Errorf("appdb.members: %w", err)
	}
	facs := map[string]int{}
	total := 0
	for _, m := range members {
		facs[m.Facility] += *m.Votes
		total += *m.Votes
	}
	var fs []string
	for f, v := range facs {
		if f == "" {
			f = "(one site)"
		}
		fs = append(fs, fmt.Sprintf("%s %d/%d votes", f, v, total))
	}
	sort.Strings(fs)
	return "placement holds (" + DocAppDBPlacement + "): " + strings.Join(fs, ", ") + "; every priority>0 member in the majority facility", nil
}

// liveLine judges the live replica-set configuration (three data-bearing
// members, the placement by the member tag appdb.facility_tag) and
// compares it with the answers, when appdb.username is given and
// appdb.live_check is not off. An unreachable App DB is a warning under
// live_check: try.
func liveLine(ctx context.Context, e *steps.Env, a *Answers) (string, error) {
	switch {
	case a.AppDB.Username == "":
		return "live configuration not read: no appdb.username (hawiz checked the answers only)", nil
	case a.AppDB.LiveCheck == "off":
		return "live configuration not read: appdb.live_check is off", nil
	}
	pw, err := e.Secret(steps.SecretAppDBPassword)
	if err != nil {
		return "", err
	}
	live, where, err := readLive(ctx, e, a, pw)
	if err != nil {
		if errors.Is(err, ErrAppDBUnreachable) && a.AppDB.LiveCheck == "try" {
			e.Warn("", "could not read the live replica-set configuration (replSetGetConfig): %v; set appdb.live_check: off to skip, required to insist, appdb.live_via to connect from elsewhere", err)
			return "live configuration not read: App DB not reachable from " + where, nil
		}
		return "", fmt.Errorf("reading the live replica-set configuration: %w", err)
	}
	problems, warnings := CompareLive(&a.AppDB, live)
	for _, w := range warnings {
		e.Warn("", "%s", w)
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("the live App DB does not match the answers:\n  %s\n(%s)", strings.Join(problems, "\n  "), live.summary())
	}
	_, note := livePlacement(&a.AppDB, live)
	return "live " + live.summary() + ": at least three data-bearing members; " + note + "; matches the answers", nil
}

// readLive reads the live configuration from where appdb.live_via says:
// through the first server's SSH connection (the driver's connections
// tunnelled with DialTCPAddr), from this machine, or the first, then the
// second when the first cannot reach the App DB. where names the places
// tried.
func readLive(ctx context.Context, e *steps.Env, a *Answers, pw string) (LiveConfig, string, error) {
	first := a.Servers[0].Name
	vias := map[string][]string{"server": {"server"}, "direct": {"direct"}, "server-then-direct": {"server", "direct"}}[a.AppDB.LiveVia]
	var (
		errs   []error
		wheres []string
	)
	for _, via := range vias {
		var dial Dialer
		where, server := "this machine", ""
		if via == "server" {
			h, err := e.Host(first)
			if err != nil {
				return LiveConfig{}, "", fmt.Errorf("the live check connects through %s, which is not connected", first)
			}
			dial, where, server = h.DialTCPAddr, first+" (through its SSH connection)", first
		}
		wheres = append(wheres, where)
		live, err := ReadLiveConfig(ctx, a.AppDB.URI, a.AppDB.Username, pw, a.AppDB.LiveTimeout, dial)
		if err == nil {
			live.Via = server
			return live, where, nil
		}
		if !errors.Is(err, ErrAppDBUnreachable) || ctx.Err() != nil {
			return LiveConfig{}, where, err
		}
		errs = append(errs, fmt.Errorf("from %s: %w", where, err))
	}
	return LiveConfig{}, strings.Join(wheres, " or "), errors.Join(errs...)
}
