package micetro

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Central's preferences.cfg is a flat list of XML-ish elements, one per line
// (procedures.md B.2):
//
//	<Database value="MSSQL" />
//	<DatabaseServer value="db1,1433\MMSUITE@mmsuite" />
//	<ClusterMemberName value="central1"/>
//
// The editor below parses it leniently line by line and never touches a byte
// it was not asked to change: edits are byte splices into the original file.

// Element names hawiz reads or writes. Matching is case-insensitive because the
// docs mix `Database`/`database` (procedures.md open question 11); hawiz writes
// the documented spelling.
const (
	ElemClusterMemberName           = "ClusterMemberName"
	ElemDatabase                    = "Database"
	ElemHeartbeatInterval           = "HeartbeatInterval"
	ElemHeartbeatMaxAllowedDowntime = "HeartbeatMaxAllowedDowntime"
)

// Backend is the database backend named by preferences.cfg.
type Backend string

const (
	BackendMSSQL      Backend = "MSSQL"
	BackendPostgreSQL Backend = "PostgreSQL"
)

// element matches one `<Name value="…"/>` line. Quotes are matched leniently
// (ASCII double/single and the typographic ones the docs print) so that a
// broken line is still recognised and can be reported.
var element = regexp.MustCompile(`^[ \t]*<[ \t]*([A-Za-z_][A-Za-z0-9_.:-]*)[ \t]+value[ \t]*=[ \t]*("|'|“|”|‘|’)(.*?)("|'|“|”|‘|’)[ \t]*/?[ \t]*>[ \t]*$`)

// typographic lists the quote characters that break the file when pasted from
// the docs (procedures.md C.10, C1 "“primary”").
const typographic = "“”„‟‘’‚‛«»″"

// PrefLine is one line of the file.
type PrefLine struct {
	No       int    // 1-based line number
	Text     string // the line without its line ending
	Name     string // element name as written ("" when the line is not an element)
	Value    string // the value between the quotes
	valStart int    // byte offsets of Value within the file
	valEnd   int
	start    int // byte offset of the line
	end      int // offset of the line ending (or EOF)
}

// Prefs is a parsed preferences.cfg. It keeps the original bytes.
type Prefs struct {
	raw   []byte
	Lines []PrefLine
	EOL   string // the file's own line ending: "\r\n" or "\n"
}

// ParsePrefs parses b. It never fails: lines it does not understand are kept
// as they are (see Problems). defaultEOL is used when the file has no line
// ending at all ("\r\n" for Windows members, "\n" otherwise).
func ParsePrefs(b []byte, defaultEOL string) *Prefs {
	p := &Prefs{raw: append([]byte(nil), b...), EOL: detectEOL(b, defaultEOL)}
	off, no := 0, 0
	for off < len(b) {
		no++
		i := bytes.IndexByte(b[off:], '\n')
		end, next := len(b), len(b)
		if i >= 0 {
			end, next = off+i, off+i+1
			if end > off && b[end-1] == '\r' {
				end--
			}
		}
		ln := PrefLine{No: no, Text: string(b[off:end]), start: off, end: end}
		if m := element.FindSubmatchIndex(b[off:end]); m != nil {
			ln.Name = string(b[off+m[2] : off+m[3]])
			ln.valStart, ln.valEnd = off+m[6], off+m[7]
			ln.Value = string(b[ln.valStart:ln.valEnd])
		}
		p.Lines = append(p.Lines, ln)
		off = next
	}
	return p
}

func detectEOL(b []byte, def string) string {
	crlf := bytes.Count(b, []byte("\r\n"))
	lf := bytes.Count(b, []byte("\n"))
	switch {
	case lf == 0:
		if def == "" {
			return "\n"
		}
		return def
	case crlf*2 >= lf:
		return "\r\n"
	default:
		return "\n"
	}
}

// Bytes returns the file's content.
func (p *Prefs) Bytes() []byte { return append([]byte(nil), p.raw...) }

// Find returns the element lines named name (case-insensitive), in file order.
func (p *Prefs) Find(name string) []PrefLine {
	var out []PrefLine
	for _, l := range p.Lines {
		if l.Name != "" && strings.EqualFold(l.Name, name) {
			out = append(out, l)
		}
	}
	return out
}

// Get returns the value of the last element named name (case-insensitive);
// ok is false when there is none.
func (p *Prefs) Get(name string) (value string, ok bool) {
	ls := p.Find(name)
	if len(ls) == 0 {
		return "", false
	}
	return ls[len(ls)-1].Value, true
}

// ErrDuplicate is returned by Set when the element appears more than once:
// hawiz does not guess which line Central uses.
var ErrDuplicate = errors.New("element appears more than once")

// Set returns the file content with element name set to value: the value is
// replaced in place when the element exists (every other byte unchanged),
// otherwise `<Name value="value"/>` is appended at the end of the file with the
// file's own line ending (the previous last line gets one if it had none).
// changed is false when the value was already there.
func (p *Prefs) Set(name, value string) (out []byte, changed bool, err error) {
	if err := checkValue(value); err != nil {
		return nil, false, err
	}
	ls := p.Find(name)
	switch len(ls) {
	case 0:
		var b bytes.Buffer
		b.Grow(len(p.raw) + len(name) + len(value) + 16)
		b.Write(p.raw)
		if len(p.raw) > 0 && p.raw[len(p.raw)-1] != '\n' {
			b.WriteString(p.EOL)
		}
		fmt.Fprintf(&b, `<%s value="%s"/>`, name, value)
		b.WriteString(p.EOL)
		return b.Bytes(), true, nil
	case 1:
		l := ls[0]
		if l.Value == value && asciiQuoted(p.raw, l) {
			return p.Bytes(), false, nil
		}
		start, end := l.valStart, l.valEnd
		repl := value
		if !asciiQuoted(p.raw, l) {
			// Replace the broken quotes too, so the line parses again.
			start, end = l.valStart-quoteLen(p.raw[:l.valStart], true), l.valEnd+quoteLen(p.raw[l.valEnd:], false)
			repl = `"` + value + `"`
		}
		var b bytes.Buffer
		b.Write(p.raw[:start])
		b.WriteString(repl)
		b.Write(p.raw[end:])
		return b.Bytes(), true, nil
	default:
		lines := make([]string, len(ls))
		for i, l := range ls {
			lines[i] = fmt.Sprint(l.No)
		}
		return nil, false, fmt.Errorf("%s %w (lines %s): remove the extra lines by hand", name, ErrDuplicate, strings.Join(lines, ", "))
	}
}

// asciiQuoted reports whether the value of l is enclosed in ASCII double quotes.
func asciiQuoted(raw []byte, l PrefLine) bool {
	return l.valStart > 0 && raw[l.valStart-1] == '"' && l.valEnd < len(raw) && raw[l.valEnd] == '"'
}

// quoteLen is the byte length of the quote rune before (or after) the value.
func quoteLen(b []byte, before bool) int {
	if before {
		_, n := utf8.DecodeLastRune(b)
		return n
	}
	_, n := utf8.DecodeRune(b)
	return n
}

// checkValue refuses values that cannot be written between ASCII quotes.
func checkValue(v string) error {
	for _, r := range v {
		switch {
		case r == '"' || r == '<' || r == '>' || r == '&':
			return fmt.Errorf("value %q contains %q, which would break preferences.cfg", v, r)
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("value %q contains a control character", v)
		case r > 0x7e:
			return fmt.Errorf("value %q contains the non-ASCII character %q", v, r)
		}
	}
	return nil
}

// Problem is something in the file that Central would choke on.
type Problem struct {
	Line int
	Text string
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s: %s", p.Line, p.Msg, p.Text) }

// Problems lists typographic quotes and duplicated elements. Lines that are not
// elements are not reported: hawiz does not know every form Central accepts.
func (p *Prefs) Problems() []Problem {
	var out []Problem
	seen := map[string]int{}
	for _, l := range p.Lines {
		if strings.ContainsAny(l.Text, typographic) {
			out = append(out, Problem{l.No, l.Text, "typographic quotes (the docs print “…”; Central needs ASCII \"…\")"})
		}
		if l.Name == "" {
			continue
		}
		k := strings.ToLower(l.Name)
		if first, dup := seen[k]; dup {
			out = append(out, Problem{l.No, l.Text, fmt.Sprintf("%s repeats line %d", l.Name, first)})
			continue
		}
		seen[k] = l.No
	}
	return out
}

// Backend returns the database backend the file names. HA needs MSSQL or
// PostgreSQL (C1, C4): anything else is an error that says so.
func (p *Prefs) Backend() (Backend, error) {
	v, ok := p.Get(ElemDatabase)
	if !ok {
		return "", errors.New(`names no database backend (no <Database value="…"/> line): High Availability needs the MSSQL or PostgreSQL backend and is not available with SQLite (Micetro docs: central_ha, central_database)`)
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "mssql":
		return BackendMSSQL, nil
	case "postgresql", "postgres":
		return BackendPostgreSQL, nil
	}
	return "", fmt.Errorf(`names the database backend %q: High Availability needs the MSSQL or PostgreSQL backend and is not available with other backends such as SQLite (Micetro docs: central_ha, central_database)`, v)
}

// DatabaseLines returns the database connection elements (Database,
// DatabaseServer, DatabaseUsername), lower-cased name → value, which must
// agree on every member. DatabasePassword is left out: Central replaces a
// plaintext password by a hash at startup, so the text may differ per host
// (procedures.md B.2, open question 12); the primary's file is copied anyway.
func (p *Prefs) DatabaseLines() map[string]string {
	out := map[string]string{}
	for _, n := range []string{"database", "databaseserver", "databaseusername"} {
		if v, ok := p.Get(n); ok {
			out[n] = v
		}
	}
	return out
}

// LineDiff is one line that differs between two files.
type LineDiff struct {
	Line int
	A, B string
}

// DiffLines compares two files line by line (line endings ignored) and returns
// the lines that differ; a missing line compares as "".
func DiffLines(a, b []byte) []LineDiff {
	la, lb := splitLines(a), splitLines(b)
	n := max(len(la), len(lb))
	var out []LineDiff
	for i := range n {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			out = append(out, LineDiff{i + 1, x, y})
		}
	}
	return out
}

func splitLines(b []byte) []string {
	p := ParsePrefs(b, "\n")
	out := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		out[i] = l.Text
	}
	return out
}

// ValidName checks a ClusterMemberName: printable ASCII without quotes, angle
// brackets or ampersand (they would break the line), not empty, at most 64
// characters [derived].
func ValidName(n string) error {
	if n == "" {
		return errors.New("must not be empty")
	}
	if len(n) > 64 {
		return fmt.Errorf("%q is longer than 64 characters", n)
	}
	if strings.TrimSpace(n) != n {
		return fmt.Errorf("%q has leading or trailing spaces", n)
	}
	for _, r := range n {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("%q contains %q: use printable ASCII only", n, r)
		}
		if strings.ContainsRune(`"'<>&`, r) {
			return fmt.Errorf("%q contains %q, which would break preferences.cfg", n, r)
		}
	}
	return nil
}
