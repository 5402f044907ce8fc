package main

import (
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/steps"
)

// This file holds the command-line conventions every command shares: "did
// you mean" for commands and procedure names, positional arguments that are
// named when missing, shell completion of procedure names and step IDs, and
// the version from the build information.

// didYouMean is "; did you mean X?" (or "X or Y"), or "" without a suggestion.
func didYouMean(s string, known []string) string {
	m := steps.Suggest(s, known)
	if len(m) == 0 {
		return ""
	}
	if len(m) > 3 {
		m = m[:3]
	}
	return "; did you mean " + strings.Join(m, " or ") + "?"
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// rootArgs refuses an unknown command with the commands it may have meant
// (hawiz and its commands that have commands).
func rootArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
			names = append(names, sub.Aliases...)
		}
	}
	return usageErrorf("unknown command %q%s (`%s --help` lists the commands)", args[0], didYouMean(args[0], names), c.CommandPath())
}

// procedureNames are the names of d's procedures.
func (d deps) procedureNames() []string {
	var names []string
	for _, p := range d.catalog() {
		names = append(names, p.Name)
	}
	return names
}

// procedureArg accepts one PROCEDURE (optional: at most one) and names it
// when it is missing, with the procedures to choose from.
func procedureArg(d deps, optional bool) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) == 0 && !optional:
			return usageErrorf("missing PROCEDURE: `hawiz %s PROCEDURE` takes one of %s (`hawiz procedures` describes them)",
				c.Name(), strings.Join(d.procedureNames(), ", "))
		case len(args) > 1:
			return usageErrorf("too many arguments after PROCEDURE %q: %s (`hawiz %s` takes one PROCEDURE; flags start with --)",
				args[0], strings.Join(args[1:], " "), c.Name())
		}
		return nil
	}
}

// completeProcedure completes the PROCEDURE argument: the catalog's names,
// each with its description.
func completeProcedure(d deps) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, p := range d.catalog() {
			out = append(out, cobra.CompletionWithDesc(p.Name, p.Description))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// stepFlags are the flags that take a STEP ID.
var stepFlags = []string{"from", "only", "redo", "skip", "confirm"}

// registerStepCompletion completes the STEP of run's and resume's step
// flags. Step IDs carry the members' names, so they come from the run
// itself: for run, -a FILE when it loads, else --state FILE, else the most
// recent state of PROCEDURE in the state directory; for resume, --state FILE
// or the most recent state. --confirm offers only the manual steps.
func registerStepCompletion(c *cobra.Command, d deps) {
	for _, name := range stepFlags {
		manualOnly := name == "confirm"
		_ = c.RegisterFlagCompletionFunc(name, func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var out []cobra.Completion
			for _, s := range d.completionSteps(c, args) {
				if manualOnly && s.Manual == nil {
					continue
				}
				out = append(out, cobra.CompletionWithDesc(s.ID, s.Title))
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		})
	}
	_ = c.RegisterFlagCompletionFunc("state", cobra.FixedCompletions(nil, cobra.ShellCompDirectiveDefault))
}

// completionSteps are the steps of the run the command line names (nil when
// none can be found). It reads files only: it connects nowhere.
func (d deps) completionSteps(c *cobra.Command, args []string) []*steps.Step {
	var p *steps.Procedure
	if len(args) > 0 {
		for _, q := range d.catalog() {
			if q.Name == args[0] {
				p = q
			}
		}
		if p == nil {
			return nil
		}
		if fl := c.Flags().Lookup("answers"); fl != nil && fl.Value.String() != "" {
			if data, err := os.ReadFile(fl.Value.String()); err == nil {
				if a, err := steps.LoadAnswers(p, data); err == nil {
					if list, err := p.Steps(a); err == nil {
						return list
					}
				}
			}
		}
	}
	statePath := ""
	if fl := c.Flags().Lookup("state"); fl != nil {
		statePath = fl.Value.String()
	}
	if statePath == "" {
		statePath = d.latestStateOf(p)
	}
	if statePath == "" {
		return nil
	}
	st, err := steps.ReadState(statePath)
	if err != nil || (p != nil && st.Procedure != p.Name) {
		return nil
	}
	if p == nil {
		for _, q := range d.catalog() {
			if q.Name == st.Procedure {
				p = q
			}
		}
		if p == nil {
			return nil
		}
	}
	a, err := steps.LoadAnswers(p, []byte(st.Answers))
	if err != nil {
		return nil
	}
	list, err := p.Steps(a)
	if err != nil {
		return nil
	}
	return list
}

// latestStateOf is the most recently updated state file of procedure p
// (any procedure when p is nil) in the state directory, or "".
func (d deps) latestStateOf(p *steps.Procedure) string {
	runs, err := listRuns(d.getenv)
	if err != nil {
		return ""
	}
	for _, r := range runs { // newest first
		if r.err == nil && (p == nil || r.state.Procedure == p.Name) {
			return r.path
		}
	}
	return ""
}

// buildVersion is the version `hawiz --version` shows and the state files
// record: the linker's main.version and main.commit when set, else the
// module version and VCS revision of the build information ("devel" for a
// build outside a module version), with "+dirty" for a modified tree.
func buildVersion(info *debug.BuildInfo, ok bool) (ver, rev string) {
	ver, rev = version, commit
	if ver != "" {
		return ver, rev
	}
	ver = "devel"
	if !ok || info == nil {
		return ver, rev
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		ver = v
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if rev == "" {
				rev = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && !strings.HasSuffix(ver, "+dirty") {
		ver += "+dirty"
	}
	return ver, rev
}

// versionLine is the version and, when known, the first 12 hex digits of
// the revision: "v1.2.0 (0123456789ab)".
func versionLine() string {
	ver, rev := buildVersion(debug.ReadBuildInfo())
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && !strings.Contains(ver, rev) {
		return ver + " (" + rev + ")"
	}
	return ver
}

// errMissingAnswers says that the answers file does not exist and how to make one.
func errMissingAnswers(p *steps.Procedure, path string) error {
	return usageErrorf("answers file %s does not exist: `hawiz answers %s > %s` writes a template to fill in",
		path, p.Name, remote.ShArg(path))
}
