package steps

import (
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// writeEvidence writes the Markdown evidence report: what each step checked
// and what it saw, redacted.
func writeEvidence(path string, p *Procedure, list []*Step, st *State, red *remote.Redactor) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Evidence: %s\n\n", p.Title)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Procedure | `%s` (definition v%d, %s) |\n", p.Name, p.Version, st.Fingerprint)
	if p.DocURL != "" {
		fmt.Fprintf(&b, "| Documentation | %s |\n", p.DocURL)
	}
	fmt.Fprintf(&b, "| Run | `%s` |\n", st.RunName)
	if st.AnswersFile != "" {
		fmt.Fprintf(&b, "| Answers | `%s` |\n", st.AnswersFile)
	}
	fmt.Fprintf(&b, "| Status | **%s** |\n", st.Status)
	if st.Message != "" {
		fmt.Fprintf(&b, "| Message | %s |\n", mdCell(st.Message))
	}
	fmt.Fprintf(&b, "| Started | %s |\n| Updated | %s |\n", st.Created.Format(time.RFC3339), st.Updated.Format(time.RFC3339))
	if st.ToolVersion != "" {
		fmt.Fprintf(&b, "| hawiz | %s |\n", st.ToolVersion)
	}
	fmt.Fprintf(&b, "| Operator | `%s` (the account that ran hawiz and wrote this report) |\n", mdCell(operatorName()))
	if strings.TrimSpace(st.Answers) != "" {
		// the validated answers as the run used them: secrets are never
		// part of them (asked for, or read from HAWIZ_*), and the report
		// as a whole is redacted below
		fmt.Fprintf(&b, "\n## Answers\n\n%s\n", fenceLang("yaml", st.Answers))
	}
	if len(st.HostKeys) > 0 {
		b.WriteString("\n## Host keys\n\nThe SSH host keys the run connected with (fingerprints as `ssh-keygen -lf` prints them) and how each was accepted.\n\n")
		b.WriteString("| Host | Address | Key type | Fingerprint | Accepted | When |\n|---|---|---|---|---|---|\n")
		for _, k := range st.HostKeys {
			how := byText(k.AcceptedBy)
			if k.CA != "" {
				how += " (CA " + k.CA + ")"
			} else if k.AcceptedBy != ByKnownHosts && k.AcceptedBy != ByCertificate {
				how = "not in known_hosts: accepted " + how
			}
			fmt.Fprintf(&b, "| %s | %s | %s | `%s` | %s | %s |\n", mdCell(k.Host), mdCell(k.Address), mdCell(k.KeyType),
				mdCell(k.Fingerprint), mdCell(how), k.When.Format(time.RFC3339))
		}
	}
	if len(st.Questions) > 0 {
		b.WriteString("\n## Questions answered\n\n| Step | Question | Answer | Given | When |\n|---|---|---|---|---|\n")
		for _, q := range st.Questions {
			ans := "no"
			if q.Yes {
				ans = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(q.Step), mdCell(q.Question), ans, mdCell(byText(q.By)), q.When.Format(time.RFC3339))
		}
	}
	for i, s := range list {
		ss := st.Step(s.ID)
		if ss == nil {
			continue
		}
		fmt.Fprintf(&b, "\n## %d. %s (`%s`) — %s\n\n", i+1, s.Title, s.ID, ss.Status())
		if s.Why != "" {
			fmt.Fprintf(&b, "%s\n\n", s.Why)
		}
		if s.DocRef != "" {
			fmt.Fprintf(&b, "Reference: %s\n\n", s.DocRef)
		}
		for _, hs := range ss.Hosts {
			fmt.Fprintf(&b, "### %s: %s\n\n", hostOrLocal(hs.Host), hs.Status)
			if hs.Finished != nil {
				fmt.Fprintf(&b, "- finished: %s\n", hs.Finished.Format(time.RFC3339))
			}
			if hs.Attempts > 0 {
				fmt.Fprintf(&b, "- applied: %d time(s)\n", hs.Attempts)
			}
			if hs.Confirmed != nil {
				fmt.Fprintf(&b, "- manual work confirmed by the operator %s: %s\n", byText(hs.ConfirmedBy), hs.Confirmed.Format(time.RFC3339))
			}
			if hs.Note != "" {
				fmt.Fprintf(&b, "- note: %s\n", hs.Note)
			}
			if hs.Error != "" {
				fmt.Fprintf(&b, "- error: %s\n", mdCell(hs.Error))
			}
			if hs.Check != "" {
				fmt.Fprintf(&b, "\nCheck saw:\n\n%s\n", fence(hs.Check))
			}
			if hs.Evidence != "" {
				fmt.Fprintf(&b, "\nVerify saw:\n\n%s\n", fence(hs.Evidence))
			}
			b.WriteString("\n")
		}
	}
	return writeFileAtomic(path, []byte(red.Redact(b.String())), 0o600)
}

// operatorName is user@machine of the account running hawiz.
func operatorName() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if v := os.Getenv("USER"); v != "" {
		name = v
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return name + "@" + host
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", `\|`)
}

func fence(s string) string { return fenceLang("", s) }

// fenceLang is s in a fenced code block (of language lang) that s cannot end.
func fenceLang(lang, s string) string {
	f := "```"
	for strings.Contains(s, f) {
		f += "`"
	}
	return f + lang + "\n" + strings.TrimRight(s, "\n") + "\n" + f
}
