package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchOutput is a 64 KiB command output of 80-column lines with each of
// secrets appearing a few times, one of them wrapped across a line break.
func benchOutput(secrets []string) string {
	var b strings.Builder
	for i := 0; b.Len() < 64<<10; i++ {
		switch {
		case i%200 == 50:
			fmt.Fprintf(&b, "line %05d: password=%s ok\n", i, secrets[i%len(secrets)])
		case i%200 == 150:
			s := secrets[(i/200)%len(secrets)]
			fmt.Fprintf(&b, "line %05d: wrapped %s\n%s end\n", i, s[:len(s)/2], s[len(s)/2:])
		default:
			fmt.Fprintf(&b, "line %05d: %s\n", i, strings.Repeat("lorem ipsum dolor sit amet ", 3)[:66])
		}
	}
	return b.String()
}

func BenchmarkRedact(b *testing.B) {
	secrets := []string{"hunter2-Sup3r", "p@ss w0rd/with'quote", "Zm9vYmFy-tsig-key=="}
	r := NewRedactor()
	for _, s := range secrets {
		r.Add(s)
	}
	out := benchOutput(secrets)
	b.SetBytes(int64(len(out)))
	b.ResetTimer()
	for range b.N {
		_ = r.Redact(out)
	}
}

// BenchmarkLineStream streams the same output line by line.
func BenchmarkLineStream(b *testing.B) {
	secrets := []string{"hunter2-Sup3r", "p@ss w0rd/with'quote", "Zm9vYmFy-tsig-key=="}
	r := NewRedactor()
	for _, s := range secrets {
		r.Add(s)
	}
	out := benchOutput(secrets)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	b.SetBytes(int64(len(out)))
	b.ResetTimer()
	for range b.N {
		ls := r.NewLineStream(func(string) {})
		for _, l := range lines {
			ls.Line(l)
		}
		ls.Flush()
	}
}

// BenchmarkRedactLine is the common case: one short output line, no secret.
func BenchmarkRedactLine(b *testing.B) {
	r := NewRedactor()
	for _, s := range []string{"hunter2-Sup3r", "p@ss w0rd/with'quote", "Zm9vYmFy-tsig-key=="} {
		r.Add(s)
	}
	line := "Nov 30 12:00:01 central1 systemd[1]: Started mmcentral.service - Micetro Central."
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	for range b.N {
		_ = r.Redact(line)
	}
}

// redactsForm checks that every listed form of secret embedded in a line is
// gone after Redact, and that a [REDACTED] took its place.
func redactsForm(t *testing.T, r *Redactor, name, form string) {
	t.Helper()
	in := "before " + form + " after"
	out := r.Redact(in)
	if strings.Contains(out, form) || !strings.Contains(out, Redacted) ||
		!strings.HasPrefix(out, "before ") || !strings.HasSuffix(out, " after") {
		t.Errorf("%s form %q: Redact(%q) = %q", name, form, in, out)
	}
}

// The secret has bytes every encoding treats differently: a space, a
// slash, quotes, a backslash, HTML's <&>, a tab, non-ASCII (é, and 😀
// above U+FFFF) and PowerShell's typographic quote.
const formsSecret = "p@ss w0rd/'\"\\<&>\t+é😀’~"

func TestRedactURLEncoded(t *testing.T) {
	r := NewRedactor()
	r.Add(formsSecret)
	upper := ""
	for _, c := range []byte(formsSecret) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			upper += string(c)
		} else {
			upper += fmt.Sprintf("%%%02X", c)
		}
	}
	lower := regexp.MustCompile(`%[0-9A-F]{2}`).ReplaceAllStringFunc(upper, strings.ToLower)
	if lower == upper || !strings.Contains(lower, "%c3%a9") {
		t.Fatalf("lower = %s", lower)
	}
	for name, f := range map[string]string{
		"url.QueryEscape": url.QueryEscape(formsSecret),
		"url.PathEscape":  url.PathEscape(formsSecret),
		"userinfo":        strings.TrimPrefix(url.UserPassword("", formsSecret).String(), ":"),
		"%XX upper":       upper,
		"%XX lower":       lower,
	} {
		redactsForm(t, r, name, f)
	}
	// in a connection string, as a client would log it
	u := "mongodb://" + url.UserPassword("appdb", formsSecret).String() + "@db1:27017/?authSource=admin"
	if out := r.Redact(u); out != "mongodb://appdb:"+Redacted+"@db1:27017/?authSource=admin" {
		t.Errorf("connection string: %q", out)
	}
}

func TestRedactJSONEscaped(t *testing.T) {
	r := NewRedactor()
	r.Add(formsSecret)
	marshal := func(html bool) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(formsSecret); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	withHTML, noHTML := marshal(true), marshal(false)
	if withHTML == noHTML || !strings.Contains(withHTML, `\u003c`) {
		t.Fatalf("the two JSON forms should differ: %s %s", withHTML, noHTML)
	}
	// Python's json.dumps (ensure_ascii): é as \u00e9, 😀 as a surrogate pair
	ascii := strings.NewReplacer("é", `\u00e9`, "😀", `\ud83d\ude00`, "’", `\u2019`).Replace(noHTML)
	for name, f := range map[string]string{
		"json.Marshal":          withHTML[1 : len(withHTML)-1],
		"json.Marshal quoted":   withHTML,
		"json no HTML escaping": noHTML[1 : len(noHTML)-1],
		"json ASCII-only":       ascii[1 : len(ascii)-1],
	} {
		redactsForm(t, r, name, f)
	}
	// a whole JSON document, as an API would answer
	doc := `{"user":"appdb","pwd":` + withHTML + `,"ok":1}`
	if out := r.Redact(doc); out != `{"user":"appdb","pwd":"`+Redacted+`","ok":1}` {
		t.Errorf("JSON document: %s", out)
	}
}

func TestRedactShellQuoted(t *testing.T) {
	r := NewRedactor()
	r.Add("a'b")
	if q := ShQuote("a'b"); q != `'a'\''b'` {
		t.Fatalf("ShQuote = %s", q)
	}
	for name, f := range map[string]string{
		"sh quoted":           `'a'\''b'`,
		"sh quoted, inner":    `a'\''b`,
		"PowerShell":          `'a''b'`,
		"PowerShell, inner":   `a''b`,
		"long sh quoted":      ShQuote(formsSecret),
		"long PowerShell":     psQuote(formsSecret),
		"long sh, inner":      ShQuote(formsSecret)[1 : len(ShQuote(formsSecret))-1],
		"long PowerShell, in": psQuote(formsSecret)[1 : len(psQuote(formsSecret))-1],
	} {
		rr := r
		if strings.HasPrefix(name, "long") {
			rr = NewRedactor()
			rr.Add(formsSecret)
		}
		redactsForm(t, rr, name, f)
	}
	// as set -x traces a command line
	if out := r.Redact(`+ mongosh --password 'a'\''b' --eval 1`); strings.Contains(out, `a'\''b`) || strings.Contains(out, `'\''b`) {
		t.Errorf("set -x line: %s", out)
	}
}

func TestRedactSplitAcrossLines(t *testing.T) {
	r := NewRedactor()
	r.Add("abcdef")
	for _, tc := range []struct{ in, want string }{
		{"start abc\ndef end", "start " + Redacted + "\n" + Redacted + " end"},
		{"start abc\r\ndef end", "start " + Redacted + "\r\n" + Redacted + " end"},
		{"abc\r\n\r\ndef", Redacted + "\r\n\r\n" + Redacted},
		{"a\nb\nc\nd\ne\nf\n", strings.Repeat(Redacted+"\n", 6)},
		{"abc\ndeX abcdef", "abc\ndeX " + Redacted}, // not the secret: left alone
		{"no secret\nhere\n", "no secret\nhere\n"},
	} {
		if out := r.Redact(tc.in); out != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, out, tc.want)
		}
	}

	// A long secret and its base64, wrapped at 80 and 76 columns (fold,
	// base64 without -w0): every piece is gone, the lines stay.
	long := strings.Repeat("Sup3r-l0ng-secret-", 10)
	r.Add(long)
	for _, tc := range []struct {
		text  string
		width int
	}{{"export PW=" + long + "\n", 80}, {base64.StdEncoding.EncodeToString([]byte(long)) + "\n", 76}} {
		for _, eol := range []string{"\n", "\r\n"} {
			wrapped := wrap(tc.text, tc.width, eol)
			out := r.Redact(wrapped)
			if strings.Contains(stripBreaks(out), stripBreaks(tc.text[10:40])) || !strings.Contains(out, Redacted) {
				t.Errorf("wrapped at %d with %q: %q", tc.width, eol, out)
			}
			if strings.Count(out, "\n") != strings.Count(wrapped, "\n") {
				t.Errorf("lines not kept: %q", out)
			}
		}
	}

	// A secret that itself holds line breaks (a key file) is found however
	// its output is wrapped.
	r.Add("-----BEGIN KEY-----\nQUJDREVGR0hJSktM\n-----END KEY-----\n")
	if out := r.Redact("cat gen.key:\n-----BEGIN KEY-----\r\nQUJDREVG\nR0hJSktM\r\n-----END KEY-----\r\n$ "); out != "cat gen.key:\n"+Redacted+"\r\n"+Redacted+"\n"+Redacted+"\r\n"+Redacted+"\r\n$ " {
		t.Errorf("key file: %q", out)
	}
}

func wrap(s string, width int, eol string) string {
	s = strings.TrimSuffix(s, "\n")
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + eol)
		s = s[width:]
	}
	b.WriteString(s + eol)
	return b.String()
}

// Every byte any match covers is redacted: overlapping secrets and
// overlapping occurrences leave no piece behind.
func TestRedactOverlaps(t *testing.T) {
	r := NewRedactor()
	r.Add("abcd")
	r.Add("cdef")
	r.Add("xyxy")
	for in, want := range map[string]string{
		"1 abcdef 2":  "1 " + Redacted + " 2",
		"1 xyxyxy 2":  "1 " + Redacted + " 2",
		"1 abcd cdef": "1 " + Redacted + " " + Redacted,
		"abc def":     "abc def",
	} {
		if out := r.Redact(in); out != want {
			t.Errorf("Redact(%q) = %q, want %q", in, out, want)
		}
	}
	var nilR *Redactor
	if nilR.Redact("abcd") != "abcd" || !nilR.Empty() || !NewRedactor().Empty() || r.Empty() {
		t.Error("nil/empty redactor")
	}
}

// The old forms still work (base64 in four alphabets, hex in both cases).
func TestRedactBase64Hex(t *testing.T) {
	r := NewRedactor()
	s := "\xfb\xff secret?>"
	r.Add(s)
	for name, f := range map[string]string{
		"base64":      base64.StdEncoding.EncodeToString([]byte(s)),
		"raw base64":  base64.RawStdEncoding.EncodeToString([]byte(s)),
		"url base64":  base64.URLEncoding.EncodeToString([]byte(s)),
		"raw url b64": base64.RawURLEncoding.EncodeToString([]byte(s)),
		"hex":         hex.EncodeToString([]byte(s)),
		"HEX":         strings.ToUpper(hex.EncodeToString([]byte(s))),
	} {
		redactsForm(t, r, name, f)
	}
}

// countingListener counts the TCP connections made to it and drops them.
func countingListener(t *testing.T) (port int, count func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, n.Load
}

// A password or sudo password with CR, LF or NUL is refused, naming the
// host and the field, before any host is dialled: sudo reads its password
// up to the first newline and would run the rest as the command's input.
func TestPasswordWithLineBreakRefused(t *testing.T) {
	l := newLab(t)
	port, dials := countingListener(t)
	for _, tc := range []struct {
		name, want string
		mod        func(*HostConfig)
	}{
		{"sudo LF", "host web2: sudo password: contains a line break (CR or LF); sudo reads only up to the first newline and the rest would become the command's input",
			func(h *HostConfig) { h.SudoPassword = "pw\nid >/tmp/pwned" }},
		{"sudo CR", "host web2: sudo password: contains a line break", func(h *HostConfig) { h.SudoPassword = "pw\r" }},
		{"sudo CRLF", "host web2: sudo password: contains a line break", func(h *HostConfig) { h.SudoPassword = "pw\r\n" }},
		{"sudo NUL", "host web2: sudo password: contains a NUL byte", func(h *HostConfig) { h.SudoPassword = "pw\x00x" }},
		{"ssh LF", "host web2: SSH password: contains a line break (CR or LF)", func(h *HostConfig) { h.Password = "pw\nx" }},
		{"ssh CR", "host web2: SSH password: contains a line break (CR or LF)", func(h *HostConfig) { h.Password = "pw\rx" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosts := []HostConfig{
				{Name: "web1", Address: "127.0.0.1", Port: port, User: "tester", IdentityFiles: []string{l.key.path}},
				{Name: "web2", Address: "127.0.0.1", Port: port, User: "tester", IdentityFiles: []string{l.key.path}},
			}
			tc.mod(&hosts[1])
			tr := &transcript{}
			before := dials()
			f, err := Connect(context.Background(), Options{SSHConfigFile: "none", AgentSocket: "none", DialTimeout: time.Second,
				InsecureIgnoreHostKeysForTests: true, Transcript: tr.add}, hosts)
			if f != nil {
				f.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "pwned") || strings.Contains(err.Error(), "pw") && !strings.Contains(err.Error(), "password") {
				t.Errorf("the error shows the value: %v", err)
			}
			if n := dials() - before; n != 0 || len(tr.all()) != 0 {
				t.Errorf("%d connections made, %d actions recorded before the refusal", n, len(tr.all()))
			}
		})
	}
}

// A command's output reaches the transcript whole, so a secret that the
// output wraps over two lines is redacted there (streamed lines are
// redacted one at a time and cannot see it: see Redactor).
func TestTranscriptRedactsSplitSecret(t *testing.T) {
	l := newLab(t)
	s := l.server(nil)
	tr := &transcript{}
	o := l.opts()
	o.Transcript = tr.add
	o.Redactor = NewRedactor()
	const secret = "hunter2-Sup3r-long"
	o.Redactor.Add(secret)
	f := l.connect(o, s)
	ctx := ctxT(t)
	// the secret, its base64 wrapped at 8 columns, and the secret cut by CRLF
	script := `printf 'pw=%s\n' "$1" | fold -w 9; echo b64:; printf '%s' "$1" | base64 | fold -w 8; printf 'x=%.5s\r\n%s\n' "$1" "${1#?????}"`
	res, err := f.Host("web1").Run(ctx, Cmd{Program: "sh", Args: []string{"-c", script, "sh", secret}})
	if err != nil || res.ExitStatus != 0 {
		t.Fatal(err, res.ExitStatus, string(res.Stderr))
	}
	if !strings.Contains(string(res.Stdout), "\n") || strings.Contains(string(res.Stdout), secret) {
		t.Fatalf("the output should hold the secret only split: %q", res.Stdout)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	seen := false
	for _, a := range tr.all() {
		if a.Kind != "run" {
			continue
		}
		seen = true
		joined := stripBreaks(a.Output)
		if strings.Contains(joined, secret[:8]) || strings.Contains(joined, b64[:8]) || strings.Count(a.Output, Redacted) < 3 {
			t.Errorf("transcript output: %q", a.Output)
		}
	}
	if !seen {
		t.Fatal("no run action recorded")
	}
}

// A LineStream finds a secret that streamed lines split, holds back only a
// line whose end could begin a secret, and gives out exactly what Redact
// gives for the joined lines.
func TestLineStreamSplitSecret(t *testing.T) {
	r := NewRedactor()
	r.Add("hunter2-Sup3r-long")
	var got []string
	ls := r.NewLineStream(func(l string) { got = append(got, l) })
	step := func(line string, want ...string) {
		t.Helper()
		before := len(got)
		ls.Line(line)
		if fmt.Sprint(got[before:]) != fmt.Sprint(want) {
			t.Fatalf("after %q: emitted %q, want %q", line, got[before:], want)
		}
	}
	step("starting", "starting")                                 // no secret begins at its end: out at once
	step("pw=hunter")                                            // could begin the secret: held
	step("2-Sup3r-l")                                            // still could: held
	step("ong done", "pw="+Redacted, Redacted, Redacted+" done") // decided
	step("x=hun")                                                // held
	step("ting", "x=hun", "ting")                                // not the secret after all
	step("last hunter2")                                         // held: the stream may go on with the rest
	ls.Flush()                                                   // it does not: a prefix is no secret
	if got[len(got)-1] != "last hunter2" {
		t.Fatalf("Flush emitted %q", got[len(got)-1])
	}
	ls.Flush() // nothing left
	if len(got) != 7 {
		t.Fatalf("%d lines: %q", len(got), got)
	}

	// nil and empty redactors pass lines through
	for _, rr := range []*Redactor{nil, NewRedactor()} {
		var out []string
		s := rr.NewLineStream(func(l string) { out = append(out, l) })
		s.Line("a")
		s.Line("b")
		if fmt.Sprint(out) != "[a b]" {
			t.Fatalf("pass-through: %q", out)
		}
	}
}

// Streamed lines redact as the joined text does, wherever a line break or
// several split the secrets and their forms (seeded, repeatable).
func TestLineStreamMatchesRedact(t *testing.T) {
	r := NewRedactor()
	secrets := []string{"abcdef", "p@ss w0rd'x", "Zm9v-YmFy"}
	for _, s := range secrets {
		r.Add(s)
	}
	forms := []string{"abcdef", base64.StdEncoding.EncodeToString([]byte("abcdef")), url.QueryEscape(secrets[1]), ShQuote(secrets[1]),
		hex.EncodeToString([]byte(secrets[2])), "abcdefabcdef", "ab", "abc"}
	rnd := rand.New(rand.NewPCG(20261202, 6))
	for iter := range 2000 {
		var text strings.Builder
		for range 1 + rnd.IntN(6) {
			text.WriteString([]string{"x", " ", "ab", "lorem ", "%", "'"}[rnd.IntN(6)])
			text.WriteString(forms[rnd.IntN(len(forms))])
		}
		// split it at random points (empty lines too)
		src := text.String()
		var lines []string
		for len(src) > 0 {
			n := rnd.IntN(min(len(src), 7) + 1)
			lines = append(lines, src[:n])
			src = src[n:]
		}
		var got []string
		ls := r.NewLineStream(func(l string) { got = append(got, l) })
		for _, l := range lines {
			ls.Line(l)
		}
		ls.Flush()
		want := strings.Split(r.Redact(strings.Join(lines, "\n")), "\n")
		if len(lines) == 0 {
			want = nil
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("iteration %d, lines %q:\nstream %q\nRedact %q", iter, lines, got, want)
		}
		for _, s := range secrets {
			if strings.Contains(stripBreaks(strings.Join(got, "")), s) {
				t.Fatalf("iteration %d: %q in %q", iter, s, got)
			}
		}
	}
}

// A stream holds back at most maxHeld lines; what comes after still finds
// a secret begun before (its tail is searched again).
func TestLineStreamBoundedHold(t *testing.T) {
	r := NewRedactor()
	r.Add("abcdef")
	var got []string
	ls := r.NewLineStream(func(l string) { got = append(got, l) })
	ls.Line("x abc")
	for range maxHeld {
		ls.Line("")
	}
	if len(got) != maxHeld+1 || got[0] != "x abc" {
		t.Fatalf("after %d empty lines: %d emitted (%q)", maxHeld, len(got), got[:min(len(got), 2)])
	}
	ls.Line("def tail")
	ls.Flush()
	if last := got[len(got)-1]; last != Redacted+" tail" {
		t.Fatalf("the rest of the secret: %q", last)
	}
}
