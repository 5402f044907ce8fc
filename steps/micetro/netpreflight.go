package micetro

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// The network and host preflight of both Micetro procedures (issue 19
// item 3), run from the members themselves before the first change: every
// member reaches the database server (answers: database), every member
// reaches port 1231 of every other member where Central runs, and every
// member's time service says its clock is synchronised. C6 (ports: 1231),
// C3 (heartbeats use local clocks), C4 (Central does not start without its
// database).

// netPreflightActions are the plan's lines.
func (c *Common) netPreflightActions() []string {
	db := "the database server: not checked without answers field database (host:port); preflight warns and shows preferences.cfg's DatabaseServer"
	if c.Database != "" {
		db = "every member opens a TCP connection to the database server " + c.Database + " (" + refDatabase.String() + ")"
	}
	return []string{db,
		"every member opens a TCP connection to port 1231 of every other member where Central runs (a member whose Central is stopped is checked after its start)",
		"every member's time service says its clock is synchronised (timedatectl, chronyc, ntpq; w32tm on Windows): not synchronised stops the run, unknown is a warning",
	}
}

// peerAddr is the address hawiz reaches m at (its SSH address): the
// member's own address, the one the other members are probed against.
func peerAddr(_ *Member, h *remote.Host) string { return h.Address() }

// netPreflight runs the network and host checks; runs[i] says whether
// Central runs on member i; dbServer is preferences.cfg's DatabaseServer
// (for the warning when the answers name no database).
func netPreflight(ctx context.Context, e *steps.Env, c *Common, runs []bool, dbServer string) (string, error) {
	var db *steps.Target
	if c.Database != "" {
		t, err := steps.ParseTarget(c.Database, 0, "the database server")
		if err != nil {
			return "", fmt.Errorf("database: %w", err)
		}
		db = &t
	} else {
		e.Warn("", "the path from every member to the database server is not checked: set database (host:port) in the answers to check it before any change (preferences.cfg names DatabaseServer %q; Central does not start without its database, %s)", dbServer, refDatabase)
	}
	targets := map[string][]steps.Target{}
	var notYet []string
	addrs := make([]string, len(c.Members))
	for i := range c.Members {
		h, err := e.Host(c.Members[i].Host.Name)
		if err != nil {
			return "", err
		}
		addrs[i] = peerAddr(&c.Members[i], h)
	}
	for i := range c.Members {
		m := &c.Members[i]
		var ts []steps.Target
		if db != nil {
			ts = append(ts, *db)
		}
		for j := range c.Members {
			if j == i || addrs[j] == addrs[i] {
				continue // a host's own address crosses no network
			}
			if !runs[j] {
				continue
			}
			ts = append(ts, steps.Target{Addr: addrs[j], Port: CentralPort, What: "Central on " + c.Members[j].Host.Name})
		}
		targets[m.Host.Name] = ts
		if !runs[i] {
			notYet = append(notYet, m.Host.Name)
		}
	}
	ev, err := steps.CheckReach(ctx, e, targets)
	if err != nil {
		return "", err
	}
	if len(notYet) > 0 {
		ev = append(ev, "port 1231 of "+strings.Join(notYet, ", ")+": Central is not running there, so nothing listens yet; checked after its start")
	}
	names := make([]string, len(c.Members))
	for i := range c.Members {
		names[i] = c.Members[i].Host.Name
	}
	tev, err := steps.CheckTimeSync(ctx, e, names)
	if err != nil {
		return "", err
	}
	return strings.Join(append(ev, tev...), "\n"), nil
}

// stageFactor is how many times the installer's size must be free where
// the upgrade stages it: the Linux default copies the .tgz into the
// staging directory and extracts it beside itself (the copy, and an
// extracted tree of executables that gzip shrank to about a half or a
// third: 4 leaves room for both); a Windows installer or an
// install_command runs the copy in place (2: the copy, and as much again
// for what the installer unpacks to a temporary directory).
func (a *UpgradeAnswers) stageFactor(m *Member) int64 {
	if m.windows() || len(a.InstallCommand) > 0 {
		return 2
	}
	return 4
}

// installerSize is the installer's size: the local file's, else the
// remote path's on m.
func (a *UpgradeAnswers) installerSize(ctx context.Context, h *remote.Host, m *Member) (int64, error) {
	if a.Installer.Local != "" {
		st, err := os.Stat(a.Installer.Local)
		if err != nil {
			return 0, fmt.Errorf("installer.local: %w", err)
		}
		return st.Size(), nil
	}
	fi, err := h.Stat(ctx, a.Installer.Remote, a.sudo(m))
	if err != nil {
		return 0, err
	}
	if !fi.Exists {
		return 0, fmt.Errorf("%s: installer.remote %s does not exist", m.Host.Name, a.Installer.Remote)
	}
	return fi.Size, nil
}

// checkStageSpace: the upload directory of m has room for the staged
// installer (stageFactor × its size).
func (a *UpgradeAnswers) checkStageSpace(ctx context.Context, e *steps.Env, h *remote.Host, m *Member) (string, error) {
	size, err := a.installerSize(ctx, h, m)
	if err != nil {
		return "", err
	}
	f := a.stageFactor(m)
	return steps.CheckFreeDisk(ctx, e, m.Host.Name, a.uploadDir(m), size*f, a.sudo(m),
		fmt.Sprintf("staging the installer (%s × %d)", steps.Bytes(size), f))
}
