package micetro

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// This file holds what every step uses to talk to a member: its connected
// host, its preferences.cfg as read, probes run at once, and the record of
// which hosts this run changed. Everything talks to one host through
// remote's typed primitives. No answer value is ever pasted into a shell
// string: paths, names and argv go through remote.Cmd, which quotes them.

// readPrefs reads m's preferences.cfg. exists is false when there is none.
func readPrefs(ctx context.Context, c *Common, h *remote.Host, m *Member) (p *Prefs, info remote.FileInfo, err error) {
	b, info, err := h.ReadFile(ctx, c.prefsPath(m), c.sudo(m))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, remote.FileInfo{}, nil
	}
	if err != nil {
		return nil, info, fmt.Errorf("reading %s on %s: %w", c.prefsPath(m), m.Host.Name, err)
	}
	if !info.Exists {
		return nil, info, nil
	}
	return ParsePrefs(b, c.eol(m)), info, nil
}

// par runs fs at once and waits for all: read-only probes of one or more
// hosts that do not depend on each other (sessions are multiplexed on each
// host's one connection), so a step waits for the slowest, not the sum.
func par(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	fs[0]()
	wg.Wait()
}

func isNotExist(err error) bool { return err != nil && errors.Is(err, fs.ErrNotExist) }

// powershell runs a constant PowerShell expression (never user input).
func powershell(expr string) remote.Cmd {
	return remote.Cmd{Program: "powershell.exe", Args: []string{"-NoProfile", "-NonInteractive", "-Command", expr}}
}

// psQuote quotes s as a PowerShell single-quoted literal.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// factChanged lists the hosts this run changed (a file or a service), for
// the evidence.
const factChanged = "changed-by-this-run"

func markChanged(e *steps.Env, host string) {
	if v, _ := e.Fact(factChanged); !strings.Contains(" "+v+" ", " "+host+" ") {
		e.SetFact(factChanged, strings.TrimSpace(v+" "+host))
	}
}
