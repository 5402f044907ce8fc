package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/steps"
)

// runRoot runs the real command tree (newRootCmd) in-process.
func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// Issue 17 item 6: "did you mean" for commands and procedures, a missing
// argument named, a missing answers file with the command that makes one.
func TestCLIDidYouMeanAndMissingArgs(t *testing.T) {
	_, err := runRoot(t, "rn")
	if err == nil || !strings.Contains(err.Error(), `unknown command "rn"; did you mean run?`) || exitOf(err) != steps.ExitUsage {
		t.Fatalf("hawiz rn: %v", err)
	}
	_, err = runRoot(t, "stauts")
	if err == nil || !strings.Contains(err.Error(), "did you mean status?") {
		t.Fatalf("hawiz stauts: %v", err)
	}
	c := newEngineCLI(t)
	c.want(2, []string{"missing PROCEDURE", "one of test-files"}, "run")
	c.want(2, []string{"missing PROCEDURE"}, "plan")
	c.want(2, []string{"missing PROCEDURE"}, "answers")
	c.want(2, []string{"too many arguments"}, "answers", "test-files", "extra")
	c.want(2, []string{`unknown procedure "test-file"; did you mean test-files?`}, "answers", "test-file")
	missing := filepath.Join(c.dir, "new.yaml")
	c.want(2, []string{"answers file " + missing + " does not exist", "`hawiz answers test-files > " + missing + "`"},
		"run", "test-files", "-a", missing)
	odd := filepath.Join(c.dir, "it's.yaml")
	c.want(2, []string{`hawiz answers test-files > '` + strings.ReplaceAll(odd, "'", `'\''`) + `'`}, "plan", "test-files", "-a", odd)
	// no lock file after a usage error or a run
	a := c.answers("lk.yaml", "manual: true\n")
	c.want(2, []string{"no such step"}, "run", "test-files", "-a", a, "--yes", "--confirm", "nope")
	c.want(3, nil, "run", "test-files", "-a", a, "--yes", "--plain")
	locks, _ := filepath.Glob(filepath.Join(c.dir, "xdg", "hawiz", "*.lock"))
	if len(locks) != 0 {
		t.Fatalf("lock files left: %v", locks)
	}
}

func exitOf(err error) int {
	if ee, ok := err.(*exitError); ok {
		return ee.code
	}
	return -1
}

// Shell completion: procedure names, and step IDs for the step flags from
// -a FILE, --state FILE or the latest run of the procedure.
func TestCLICompletion(t *testing.T) {
	c := newEngineCLI(t)
	out := c.want(0, []string{"test-files\twrites files on two hosts", ":4"}, "__complete", "run", "")
	if strings.Contains(out, "ERROR") {
		t.Fatal(out)
	}
	c.want(0, []string{"test-files"}, "__complete", "plan", "te")
	a := c.answers("cmp.yaml", "manual: true\n")
	for _, fl := range []string{"--from", "--only", "--redo", "--skip"} {
		c.want(0, []string{"write-config\tWrite conf.txt", "touch-markers", "confirm-by-hand", "local-verify"},
			"__complete", "run", "test-files", "-a", a, fl, "")
	}
	out = c.want(0, []string{"confirm-by-hand\tCreate manual.txt by hand"}, "__complete", "run", "test-files", "-a", a, "--confirm", "")
	if strings.Contains(out, "write-config") {
		t.Fatalf("--confirm offers a step that is not manual:\n%s", out)
	}
	// without -a and without a run: nothing to offer (and no files)
	out = c.want(0, []string{":4"}, "__complete", "run", "test-files", "--from", "")
	if strings.Contains(out, "write-config") {
		t.Fatal(out)
	}
	// after a run: its steps, for run (latest run of the procedure) and resume
	c.want(3, nil, "run", "test-files", "-a", a, "--yes", "--plain")
	c.want(0, []string{"write-config", "confirm-by-hand"}, "__complete", "run", "test-files", "--from", "")
	c.want(0, []string{"confirm-by-hand"}, "__complete", "resume", "--confirm", "")
	state := filepath.Join(c.dir, "xdg", "hawiz", "test-files-cmp.json")
	c.want(0, []string{"touch-markers"}, "__complete", "resume", "--state", state, "--only", "")
}

// The man page: a title, paragraphs (not a paragraph per source line),
// every command with its flags and examples, exit codes; groff renders it.
func TestManPage(t *testing.T) {
	var b bytes.Buffer
	if err := writeManPage(&b, newRootCmd(), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.HasPrefix(page, `.TH HAWIZ 1 "2026-01-02" "hawiz `) {
		t.Fatalf("no title: %q", page[:min(80, len(page))])
	}
	for _, want := range []string{".SH NAME\nhawiz \\- ", ".SH SYNOPSIS", ".SH DESCRIPTION\nhawiz takes an operator through the vendors' documented high\\-availability procedures (Micetro",
		".SH COMMANDS", `.SS "hawiz run PROCEDURE \-a FILE`, `.TP` + "\n" + `\fB\-\-from\fR \fISTEP\fR`, `\fB\-a\fR, \fB\-\-answers\fR \fIFILE\fR`,
		`.SS "hawiz status`, `\fB\-\-all\fR`, ".B Examples:", ".SH EXIT STATUS", ".SH FILES"} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	// every request line is one man(7) knows; no text line starts a request
	known := regexp.MustCompile(`^\.(TH|SH|SS|PP|TP|B|I|BR|RB|RI|br|RS|RE|nf|fi)( |$)`)
	for i, l := range strings.Split(page, "\n") {
		if (strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'")) && !known.MatchString(l) {
			t.Errorf("line %d is not a man(7) request: %q", i+1, l)
		}
	}
	// a real renderer, when there is one (the checks above always run)
	if _, err := exec.LookPath("groff"); err == nil {
		cmd := exec.Command("groff", "-man", "-Tutf8", "-rLL=200n", "-P", "-cbou", "-ww")
		cmd.Stdin = strings.NewReader(page)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		txt, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("groff: %v\n%s", err, stderr.String())
		}
		for _, want := range []string{"HAWIZ(1)", "NAME", "EXIT STATUS", "--from STEP", "hawiz run PROCEDURE -a FILE"} {
			if !strings.Contains(string(txt), want) {
				t.Errorf("rendered page lacks %q", want)
			}
		}
	} else {
		t.Log("groff not installed: the page was checked as roff only")
	}
}

// --version: the module version and VCS revision of the build information
// when no -ldflags set them.
func TestBuildVersion(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/hawiz/hawiz", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	if v, r := buildVersion(info, true); v != "v1.4.0+dirty" || r != "0123456789abcdef0123" {
		t.Fatalf("buildVersion = %q %q", v, r)
	}
	info.Main.Version = "(devel)"
	info.Settings = info.Settings[:1]
	if v, r := buildVersion(info, true); v != "devel" || r != "0123456789abcdef0123" {
		t.Fatalf("buildVersion = %q %q", v, r)
	}
	if v, _ := buildVersion(nil, false); v != "devel" {
		t.Fatalf("no build info: %q", v)
	}
	old := version
	version = "v9.9.9"
	defer func() { version = old }()
	if v, _ := buildVersion(info, true); v != "v9.9.9" {
		t.Fatalf("ldflags version: %q", v)
	}
	if s := versionLine(); !strings.HasPrefix(s, "v9.9.9") {
		t.Fatalf("versionLine = %q", s)
	}
}

// Every command a user types has examples in its help.
func TestHelpExamples(t *testing.T) {
	root := newRootCmd()
	for _, c := range append(root.Commands(), root) {
		if !c.IsAvailableCommand() && c != root {
			continue
		}
		switch c.Name() {
		case "help", "completion", "procedures":
			continue
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("hawiz %s has no examples in --help", c.Name())
		}
	}
	_ = os.Stdout
}
