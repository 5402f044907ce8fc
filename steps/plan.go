package steps

import (
	"fmt"
	"io"
	"strings"
)

// BuildSteps calls p.Steps(a) and lints the result against a's hosts.
func BuildSteps(p *Procedure, a Answers) ([]*Step, error) {
	list, err := p.Steps(a)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("%s: %w", p.Name, err)}
	}
	if err := Lint(list, HostNames(a)); err != nil {
		return nil, fmt.Errorf("procedure %s is defined wrongly (a hawiz bug):\n%w", p.Name, err)
	}
	return list, nil
}

// WritePlan prints every step, its hosts and remote actions, the manual
// instructions and values; it connects nowhere.
func WritePlan(w io.Writer, p *Procedure, a Answers) error {
	list, err := BuildSteps(p, a)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %s (%s", p.Title, p.Name)
	if p.Version != 0 {
		fmt.Fprintf(&b, ", definition v%d", p.Version)
	}
	b.WriteString(")\n")
	if p.DocURL != "" {
		fmt.Fprintf(&b, "Docs: %s\n", p.DocURL)
	}
	hosts := HostConfigs(a)
	if len(hosts) > 0 {
		b.WriteString("Hosts:\n")
	}
	for _, h := range hosts {
		addr := h.Address
		if addr == "" {
			addr = h.Name
		}
		if h.Port != 0 {
			addr = fmt.Sprintf("%s:%d", addr, h.Port)
		}
		user := ""
		if h.User != "" {
			user = h.User + "@"
		}
		fmt.Fprintf(&b, "  %-12s %s%s (%s)\n", h.Name, user, addr, h.OS)
	}
	fmt.Fprintf(&b, "Steps: %d\n", len(list))
	for i, s := range list {
		fmt.Fprintf(&b, "\n%2d. %s  [%s]\n", i+1, s.Title, s.ID)
		if s.Why != "" {
			fmt.Fprintf(&b, "    why:   %s\n", s.Why)
		}
		if s.DocRef != "" {
			fmt.Fprintf(&b, "    doc:   %s\n", s.DocRef)
		}
		fmt.Fprintf(&b, "    on:    %s\n", describeHosts(s))
		if s.After != nil {
			if len(s.After) == 0 {
				b.WriteString("    after: (no prerequisites)\n")
			} else {
				fmt.Fprintf(&b, "    after: %s\n", strings.Join(s.After, ", "))
			}
		}
		var parts []string
		if s.Check != nil {
			parts = append(parts, "check (skip when done)")
		}
		if s.Manual != nil {
			parts = append(parts, "manual (operator confirms)")
		}
		if s.Apply != nil {
			parts = append(parts, "apply")
		}
		if s.Verify != nil {
			parts = append(parts, "verify")
		}
		fmt.Fprintf(&b, "    does:  %s\n", strings.Join(parts, " → "))
		for _, act := range s.Actions {
			fmt.Fprintf(&b, "      - %s\n", act)
		}
		if s.Manual != nil {
			b.WriteString("    by hand:\n")
			for j, in := range s.Manual.Instructions {
				fmt.Fprintf(&b, "      %d) %s\n", j+1, in)
			}
			for _, kv := range s.Manual.Values {
				fmt.Fprintf(&b, "         %s: %s\n", kv.Label, kv.Value)
			}
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func describeHosts(s *Step) string {
	if len(s.Hosts) == 0 {
		return "this machine (local)"
	}
	if s.Mode == Once {
		return s.Hosts[0] + " (once)"
	}
	return strings.Join(s.Hosts, ", ") + " (" + s.Mode.String() + ")"
}
