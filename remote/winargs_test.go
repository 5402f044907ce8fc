package remote

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// parseWinArgs splits the arguments part of a Win32 command line by the
// rules of CommandLineToArgvW and the Microsoft C runtime (2008 and later):
// spaces and tabs separate arguments outside double quotes; 2n backslashes
// before a `"` are n backslashes and the quote opens or closes a quoted part;
// 2n+1 backslashes before a `"` are n backslashes and a literal `"`;
// backslashes before anything else are literal; inside a quoted part, `""`
// is a literal `"`.
func parseWinArgs(s string) []string {
	args := []string{}
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return args
		}
		var b strings.Builder
		quoted := false
		for i < len(s) {
			c := s[i]
			if (c == ' ' || c == '\t') && !quoted {
				break
			}
			switch c {
			case '\\':
				n := 0
				for i < len(s) && s[i] == '\\' {
					n++
					i++
				}
				if i < len(s) && s[i] == '"' {
					b.WriteString(strings.Repeat(`\`, n/2))
					if n%2 == 1 {
						b.WriteByte('"')
						i++
					}
				} else {
					b.WriteString(strings.Repeat(`\`, n))
				}
			case '"':
				if quoted && i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i += 2
					continue
				}
				quoted = !quoted
				i++
			default:
				b.WriteByte(c)
				i++
			}
		}
		args = append(args, b.String())
	}
}

func TestParseWinArgs(t *testing.T) {
	// the examples of Microsoft's "Parsing C command-line arguments"
	for line, want := range map[string][]string{
		`"a b c" d e`:        {"a b c", "d", "e"},
		`"ab\"c" "\\" d`:     {`ab"c`, `\`, "d"},
		`a\\\b d"e f"g h`:    {`a\\\b`, "de fg", "h"},
		`a\\\"b c d`:         {`a\"b`, "c", "d"},
		`a\\\\"b c" d e`:     {`a\\b c`, "d", "e"},
		`a"b"" c d`:          {`ab" c d`},
		`  "" x	 `:           {"", "x"},
		`C:\dir\ "C:\dir\\"`: {`C:\dir\`, `C:\dir\`},
	} {
		if got := parseWinArgs(line); !slices.Equal(got, want) {
			t.Errorf("parseWinArgs(%s) = %q, want %q", line, got, want)
		}
	}
}

var trickyWinArgs = [][]string{
	{`a"b`},
	{`say "hi" & exit`, `x`},
	{`" -evil`},
	{`C:\Program Files\dir\`, `C:\dir\`, `\\server\share\`},
	{``, ``, `a`, ``},
	{`\"`, `\\"`, `\\\"\`, `"\`},
	{"tab\there", "new\nline", "vt\vx"},
	{`-stop`, `/c`, `--opt=a b`},
	{`ünïcödé "ÿ"`, `‘quoted’`},
	{`a\\b`, `a\\`, `\`},
}

func TestWinCommandLineRoundTrips(t *testing.T) {
	for _, args := range trickyWinArgs {
		line, err := winCommandLine(args)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseWinArgs(line); !slices.Equal(got, args) {
			t.Errorf("%q rendered as %s parses back as %q", args, line, got)
		}
	}
	if line, _ := winCommandLine([]string{"-stop", "plain"}); line != "-stop plain" {
		t.Errorf("plain arguments quoted: %s", line)
	}
	if _, err := winCommandLine([]string{"ok", "a\x00b"}); err == nil || !strings.Contains(err.Error(), `argument 2 ("a\x00b") contains a NUL`) {
		t.Errorf("NUL: %v", err)
	}
	if _, err := winCommandLine([]string{strings.Repeat("x", 40000)}); err == nil || !strings.Contains(err.Error(), "40000 characters") {
		t.Errorf("too long: %v", err)
	}
}

// FuzzWinCommandLine: any arguments (without NUL) come back as they went.
// Seeds: go test -run FuzzWinCommandLine; explore: go test -fuzz FuzzWinCommandLine ./remote/
func FuzzWinCommandLine(f *testing.F) {
	for _, args := range trickyWinArgs {
		for len(args) < 3 {
			args = append(args, "")
		}
		f.Add(args[0], args[1], args[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		line, err := winCommandLine(args)
		if strings.ContainsRune(a+b+c, 0) {
			if err == nil {
				t.Fatal("NUL accepted")
			}
			return
		}
		if err != nil {
			if len(a)+len(b)+len(c) > 30000 {
				return
			}
			t.Fatal(err)
		}
		if got := parseWinArgs(line); !slices.Equal(got, args) {
			t.Fatalf("%q rendered as %s parses back as %q", args, line, got)
		}
	})
}

var siLine = regexp.MustCompile(`(?m)^\$si = \[Diagnostics\.ProcessStartInfo\]::new\(\$exe, '((?:[^'‘’‚‛]|''|‘‘|’’|‚‚|‛‛)*)'\)$`)

// psUnquote reverses psQuote on the body of a single-quoted string.
func psUnquote(s string) string {
	for _, q := range []string{"'", "‘", "’", "‚", "‛"} {
		s = strings.ReplaceAll(s, q+q, q)
	}
	return s
}

// The script hands the program exactly its arguments: the command line in
// the rendered script (a PowerShell literal) parses back into them, however
// they are quoted; the program is looked up as an application, with
// wildcards escaped; a batch file is refused for an argument cmd.exe would
// parse; env, stdin and the exit code are kept.
func TestPSRunScriptArguments(t *testing.T) {
	for _, args := range trickyWinArgs {
		sc, err := psRunScript(append([]string{`C:\Tools\x.exe`}, args...), nil, false)
		if err != nil {
			t.Fatal(err)
		}
		m := siLine.FindStringSubmatch(sc)
		if m == nil {
			t.Fatalf("no ProcessStartInfo line in\n%s", sc)
		}
		if got := parseWinArgs(psUnquote(m[1])); !slices.Equal(got, args) {
			t.Errorf("%q: the script's command line %s parses back as %q", args, m[1], got)
		}
		if !utf8.ValidString(sc) || strings.Contains(sc, "& '") {
			t.Errorf("%q: script runs the program through PowerShell's own argument passing:\n%s", args, sc)
		}
	}
	sc, _ := psRunScript([]string{"tool[1]*.exe", "-x"}, nil, false)
	if !strings.Contains(sc, "Get-Command -Name 'tool`[1`]`*.exe' -CommandType Application") {
		t.Errorf("wildcards not escaped:\n%s", sc)
	}
	if strings.Contains(sc, "batch file") {
		t.Errorf("safe arguments checked for a batch file:\n%s", sc)
	}
	sc, _ = psRunScript([]string{"setup.cmd", "ok", "a&calc"}, nil, false)
	if !strings.Contains(sc, "if ($exe -match '\\.(bat|cmd)$')") || !strings.Contains(sc, `refusing argument 2 (a&calc)`) ||
		strings.Index(sc, "batch file") > strings.Index(sc, "Process]::Start") {
		t.Errorf("batch file check:\n%s", sc)
	}
	if _, err := psRunScript([]string{"x.exe", "a\x00"}, nil, false); err == nil {
		t.Error("NUL accepted")
	}
	if _, err := psRunScript([]string{"x\x00.exe"}, nil, false); err == nil {
		t.Error("NUL in the program accepted")
	}
}

func TestWindowsNativeArgumentsGolden(t *testing.T) {
	l := newLab(t)
	w := &winResponder{}
	s := l.server(func(c *sshtest.Config) { c.Exec = w.exec })
	l.trust(s)
	hc := l.hostConfig("mm-central2", s)
	hc.OS = Windows
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Host("mm-central2")
	w.reply(winReply{code: 7})
	res, err := h.Run(ctxT(t), Cmd{Program: `C:\Program Files\Men and Mice\Central\mmcentral.exe`,
		Args: []string{`-cfg=C:\ProgramData\Men and Mice\`, `pass"word -evil`, ``, `a\\"b`}})
	if err != nil || res.ExitStatus != 7 {
		t.Fatalf("%v %+v", err, res)
	}
	golden(t, "run-native-quotes", w.last(t, 1)[0])
	if _, err := h.Run(ctxT(t), Cmd{Program: "x.exe", Args: []string{"a\x00b"}}); err == nil || !strings.Contains(err.Error(), "argument 1") {
		t.Fatalf("NUL: %v", err)
	}
}
