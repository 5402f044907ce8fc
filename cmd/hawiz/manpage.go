package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newManCmd is `hawiz man`: the man page, hawiz(1), in roff, written from
// the command tree (every command, its description, flags and examples), so
// it never falls behind --help. fang's own man page turns every line break
// of a description into a paragraph and lists the root's flags only.
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "man",
		Short: "Print the man page, hawiz(1), in roff",
		Example: "  hawiz man | man -l -\n" +
			"  hawiz man > ~/.local/share/man/man1/hawiz.1",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return writeManPage(c.OutOrStdout(), c.Root(), manDate())
		},
	}
}

// manDate is SOURCE_DATE_EPOCH's day (reproducible builds of the page),
// else today.
func manDate() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC()
}

// roffText escapes s for a roff text line: backslashes, hyphens kept as
// hyphens (\-, so that copied flags work), and a leading . or ' that would
// make the line a request.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// paragraphs splits a help text into paragraphs: lines joined, paragraphs
// separated by blank lines.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func writeManPage(w io.Writer, root *cobra.Command, date time.Time) error {
	var b strings.Builder
	pf := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	pf(".TH HAWIZ 1 %q %q %q\n", date.Format("2006-01-02"), "hawiz "+versionLine(), "hawiz manual")
	pf(".SH NAME\nhawiz \\- %s\n", roffText(root.Short))
	pf(".SH SYNOPSIS\n")
	pf(".B hawiz\n.RB [ \\-\\-accessible ]\n.br\n")
	pf(".B hawiz\n.I COMMAND\n.RI [ FLAGS ]\n")
	pf(".SH DESCRIPTION\n")
	for i, p := range paragraphs(root.Long) {
		if i > 0 {
			pf(".PP\n")
		}
		pf("%s\n", roffText(p))
	}
	manFlags(&b, root.LocalNonPersistentFlags())
	manExamples(&b, root.Example)
	pf(".SH COMMANDS\n")
	var commands func(parent *cobra.Command)
	commands = func(parent *cobra.Command) {
		for _, c := range parent.Commands() {
			if !c.IsAvailableCommand() || c.Name() == "help" || c.Name() == "completion" {
				continue
			}
			pf(".SS \"%s\"\n", roffText(c.UseLine()))
			text := c.Long
			if text == "" {
				text = c.Short
			}
			for i, p := range paragraphs(text) {
				if i > 0 {
					pf(".PP\n")
				}
				pf("%s\n", roffText(p))
			}
			manFlags(&b, c.LocalNonPersistentFlags())
			manExamples(&b, c.Example)
			commands(c)
		}
	}
	commands(root)
	pf(".SS \"hawiz completion bash|zsh|fish|powershell\"\n")
	pf("%s\n", roffText("Print the shell completion script: procedure names, and the step IDs of --from, --only, --redo, --skip and --confirm (read from -a FILE, --state FILE or the most recent run of the procedure)."))
	manExamples(&b, "  source <(hawiz completion bash)\n  hawiz completion zsh > \"${fpath[1]}/_hawiz\"\n  hawiz completion fish > ~/.config/fish/completions/hawiz.fish")
	pf(".SH EXIT STATUS\n")
	for _, e := range []struct{ code, text string }{
		{"0", "Done and verified (check: every check holds)."},
		{"1", "A step failed (resumable); check found drift; DNS records differ."},
		{"2", "Bad usage or invalid answers: nothing was touched."},
		{"3", "Stopped by the operator, interrupted, or waiting for a manual step (resumable)."},
		{"4", "Refused for safety: an unknown or changed host key, a lock held by another run, an incompatible or corrupt state file."},
	} {
		pf(".TP\n.B %s\n%s\n", e.code, roffText(e.text))
	}
	pf(".SH FILES\n")
	pf(".TP\n.I $XDG_STATE_HOME/hawiz/PROCEDURE\\-RUN.json\n%s\n", roffText("The state of a run (default directory ~/.local/state/hawiz), beside it PROCEDURE-RUN.transcript.jsonl (every remote command and its output, redacted) and PROCEDURE-RUN.evidence.md (the evidence report). hawiz status --all lists them."))
	pf(".SH ENVIRONMENT\n")
	pf(".TP\n.B XDG_STATE_HOME\n%s\n", roffText("Where the state directory is (hawiz under it)."))
	pf(".TP\n.B TERM=dumb\n%s\n", roffText("The wizard asks at plain prompts (as --accessible)."))
	pf(".SH SEE ALSO\n.BR ssh (1),\n.BR ssh_config (5)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var metavarRE = regexp.MustCompile(`\b[A-Z][A-Z_]{2,}\b`)

// manFlags lists fs's visible flags: .TP, the flag and its argument, then
// its description.
func manFlags(b *strings.Builder, fs *pflag.FlagSet) {
	var items []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := `\fB\-\-` + roffText(f.Name) + `\fR`
		if f.Shorthand != "" {
			name = `\fB\-` + f.Shorthand + `\fR, ` + name
		}
		arg, usage := pflag.UnquoteUsage(f)
		if m := metavarRE.FindString(usage); m != "" && arg != "" {
			arg = m // the FILE, STEP or NAME its description names
		}
		if arg != "" {
			name += ` \fI` + roffText(arg) + `\fR`
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		items = append(items, ".TP\n"+name+"\n"+roffText(strings.Join(strings.Fields(usage), " "))+"\n")
	})
	if len(items) == 0 {
		return
	}
	b.WriteString(".PP\n.B Flags:\n")
	for _, it := range items {
		b.WriteString(it)
	}
}

// manExamples shows a help's examples as they are typed (no fill).
func manExamples(b *strings.Builder, ex string) {
	if strings.TrimSpace(ex) == "" {
		return
	}
	b.WriteString(".PP\n.B Examples:\n.PP\n.RS 4\n.nf\n")
	for _, l := range strings.Split(strings.TrimRight(ex, "\n"), "\n") {
		b.WriteString(roffText(strings.TrimPrefix(l, "  ")) + "\n")
	}
	b.WriteString(".fi\n.RE\n")
}
