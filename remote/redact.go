package remote

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Redacted replaces every registered secret.
const Redacted = "[REDACTED]"

// Redactor replaces registered secrets with [REDACTED], in the forms a
// secret takes on its way through a command's output: as is; base64 (all
// four alphabets) and hex (both cases); URL-encoded (query, path, userinfo
// and every non-unreserved byte as %XX in both cases); JSON-escaped (with
// and without HTML escaping, and ASCII-only); and shell-quoted (POSIX and
// PowerShell, with and without the outer quotes).
//
// A secret is also found when line breaks (CR, LF) split it: output
// wrapped at 80 columns, `base64` wrapping at 76, a terminal. Redact of a
// multi-line text therefore sees more than Redact of each of its lines:
// redact whole outputs where there are any, and lines that stream one at a
// time through a LineStream. Each line's part of a secret becomes one
// [REDACTED]; the line breaks stay, so the text keeps its lines.
//
// Every byte covered by any match of any form is redacted (overlapping and
// adjacent matches on a line become one [REDACTED]). It is safe for concurrent use; a
// nil *Redactor redacts nothing.
type Redactor struct {
	mu      sync.Mutex
	secrets map[string]struct{} // the secrets as added
	set     atomic.Pointer[formSet]
}

// formSet is what Redact searches for: every form of every secret, with
// line breaks removed, and none that contains another (its matches are
// covered by the shorter one's).
type formSet struct {
	forms  []string
	maxLen int // the longest form's length
}

// NewRedactor returns an empty Redactor.
func NewRedactor() *Redactor { return &Redactor{secrets: map[string]struct{}{}} }

// Add registers a secret (empty strings are ignored).
func (r *Redactor) Add(secret string) {
	if r == nil || secret == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]struct{}{}
	}
	if _, ok := r.secrets[secret]; ok {
		return
	}
	r.secrets[secret] = struct{}{}
	uniq := map[string]struct{}{}
	for s := range r.secrets {
		for _, f := range secretForms(s) {
			if f = stripBreaks(f); f != "" {
				uniq[f] = struct{}{}
			}
		}
	}
	all := make([]string, 0, len(uniq))
	for f := range uniq {
		all = append(all, f)
	}
	sort.Slice(all, func(i, j int) bool {
		if len(all[i]) != len(all[j]) {
			return len(all[i]) < len(all[j])
		}
		return all[i] < all[j]
	})
	// Shortest first: a form containing a kept one adds nothing.
	var kept []string
	for _, f := range all {
		dominated := false
		for _, k := range kept {
			if strings.Contains(f, k) {
				dominated = true
				break
			}
		}
		if !dominated {
			kept = append(kept, f)
		}
	}
	fs := &formSet{forms: kept}
	for _, f := range kept {
		fs.maxLen = max(fs.maxLen, len(f))
	}
	r.set.Store(fs)
}

// secretForms returns the encodings of secret that Redact looks for.
func secretForms(secret string) []string {
	b := []byte(secret)
	lowerHex := hex.EncodeToString(b)
	sq := ShQuote(secret)
	pq := psQuote(secret)
	return []string{
		secret,
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		lowerHex,
		strings.ToUpper(lowerHex),
		url.QueryEscape(secret),
		url.PathEscape(secret),
		strings.TrimPrefix(url.UserPassword("", secret).String(), ":"),
		percentEncode(secret, "0123456789ABCDEF"),
		percentEncode(secret, "0123456789abcdef"),
		jsonEscape(secret, true),
		jsonEscape(secret, false),
		jsonASCII(secret),
		sq, sq[1 : len(sq)-1],
		pq, pq[1 : len(pq)-1],
	}
}

// percentEncode writes every byte but RFC 3986's unreserved ones as %XX.
func percentEncode(s, digits string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

// jsonEscape is s as encoding/json writes it inside a JSON string.
func jsonEscape(s string, escapeHTML bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil { // a string always encodes
		return s
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	return out[1 : len(out)-1]
}

// jsonASCII is s inside a JSON string as ASCII-only encoders write it
// (Python's json.dumps): every non-ASCII rune as \uXXXX (surrogate pairs
// above U+FFFF).
func jsonASCII(s string) string {
	e := jsonEscape(s, false)
	var b strings.Builder
	for _, c := range e {
		switch {
		case c < utf8.RuneSelf:
			b.WriteRune(c)
		case c > 0xFFFF:
			c -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(c>>10), 0xDC00+(c&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	return b.String()
}

// stripBreaks returns s without its CR and LF bytes.
func stripBreaks(s string) string {
	if strings.IndexByte(s, '\n') < 0 && strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.Map(func(c rune) rune {
		if c == '\r' || c == '\n' {
			return -1
		}
		return c
	}, s)
}

// gap is a run of line breaks removed from a text: at index at of the joined
// text, removed bytes in all up to and including this run.
type gap struct{ at, removed int }

// joinLines returns s without its CR and LF bytes, and where they were.
func joinLines(s string) (string, []gap) {
	var b strings.Builder
	b.Grow(len(s))
	var gaps []gap
	removed := 0
	nl, cr := -1, -1 // the next LF and CR at or after i (len(s): none)
	next := func(c byte, from, cached int) int {
		if cached >= from {
			return cached
		}
		if k := strings.IndexByte(s[from:], c); k >= 0 {
			return from + k
		}
		return len(s)
	}
	for i := 0; i < len(s); {
		nl, cr = next('\n', i, nl), next('\r', i, cr)
		j := min(nl, cr)
		b.WriteString(s[i:j])
		if j == len(s) {
			break
		}
		k := j
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		removed += k - j
		gaps = append(gaps, gap{at: b.Len(), removed: removed})
		i = k
	}
	return b.String(), gaps
}

// orig maps index i of the joined text back to s.
func orig(gaps []gap, i int) int {
	n := sort.Search(len(gaps), func(k int) bool { return gaps[k].at > i })
	if n == 0 {
		return i
	}
	return i + gaps[n-1].removed
}

type span struct{ start, end int }

// find returns the merged spans of t covered by any form, in order.
func (fs *formSet) find(t string) []span {
	var spans []span
	for _, f := range fs.forms {
		first := len(spans)
		for off := 0; off+len(f) <= len(t); {
			i := strings.Index(t[off:], f)
			if i < 0 {
				break
			}
			s, e := off+i, off+i+len(f)
			if n := len(spans); n > first && s <= spans[n-1].end {
				spans[n-1].end = e // overlaps this form's previous match
			} else {
				spans = append(spans, span{s, e})
			}
			off = s + 1
		}
	}
	if len(spans) < 2 {
		return spans
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	out := spans[:1]
	for _, sp := range spans[1:] {
		if last := &out[len(out)-1]; sp.start <= last.end {
			last.end = max(last.end, sp.end)
		} else {
			out = append(out, sp)
		}
	}
	return out
}

// scan returns the merged spans of s (a text with line breaks) that any
// form covers once line breaks are ignored, and, when wantPending, the
// smallest index at which the rest of s is a proper prefix of some form (a
// secret the next line may complete), or -1.
func (fs *formSet) scan(s string, wantPending bool) ([]span, int) {
	t, gaps := s, []gap(nil)
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
		t, gaps = joinLines(s)
	}
	spans := fs.find(t)
	for i, sp := range spans {
		spans[i] = span{orig(gaps, sp.start), orig(gaps, sp.end-1) + 1}
	}
	pending := -1
	if wantPending {
		if p := fs.pending(t); p >= 0 {
			pending = orig(gaps, p)
		}
	}
	return spans, pending
}

// pending returns the smallest i at which t[i:] is a non-empty proper
// prefix of a form, or -1.
func (fs *formSet) pending(t string) int {
	best := -1
	for _, f := range fs.forms {
		from := max(len(t)-len(f)+1, 0)
		if best >= 0 && from >= best {
			continue
		}
		for i := from; i < len(t); {
			k := strings.IndexByte(t[i:], f[0])
			if k < 0 {
				break
			}
			i += k
			if best >= 0 && i >= best {
				break
			}
			if strings.HasPrefix(f, t[i:]) {
				best = i
				break
			}
			i++
		}
	}
	return best
}

// render writes s[from:to] with the bytes spans cover replaced: one
// [REDACTED] for each run of them within a line, line breaks kept.
func render(b *strings.Builder, s string, spans []span, from, to int) {
	prev := from
	for _, sp := range spans {
		if sp.end <= from || sp.start >= to {
			continue
		}
		start, end := max(sp.start, from), min(sp.end, to)
		b.WriteString(s[prev:start])
		inRun := false
		for i := start; i < end; i++ {
			if c := s[i]; c == '\r' || c == '\n' {
				b.WriteByte(c)
				inRun = false
			} else if !inRun {
				b.WriteString(Redacted)
				inRun = true
			}
		}
		prev = end
	}
	b.WriteString(s[prev:to])
}

// Redact returns s with every registered secret replaced, also where line
// breaks split it (see Redactor).
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	fs := r.set.Load()
	if fs == nil {
		return s
	}
	spans, _ := fs.scan(s, false)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	render(&b, s, spans, 0, len(s))
	return b.String()
}

// maxHeld bounds the lines a LineStream holds back (a secret's beginning
// followed by that many empty lines is let through).
const maxHeld = 64

// LineStream redacts lines that arrive one at a time (a command's output as
// it streams) as Redact redacts them joined, so that a secret split over
// lines is found too. A line whose end could begin a secret that the next
// line completes is held back until the next line shows whether it does,
// or until Flush (the end of the stream): the callback may see a line late,
// never unredacted. Not safe for concurrent use: one per output stream.
type LineStream struct {
	r    *Redactor
	emit func(line string)
	held []string // lines not yet emitted
	// tail is the end (line breaks removed, raw) of the lines emitted, and
	// fs the form set they were emitted under. It is searched again with
	// the held lines when a secret may have begun in it and go on in them:
	// a match ran over from the last line emitted into the held ones, or
	// maxHeld forced lines out, or Add changed the forms.
	tail     string
	fs       *formSet
	needTail bool
}

// NewLineStream returns a LineStream that calls emit with each line,
// redacted.
func (r *Redactor) NewLineStream(emit func(line string)) *LineStream {
	return &LineStream{r: r, emit: emit}
}

// Line adds one line (without its line break).
func (ls *LineStream) Line(line string) {
	ls.held = append(ls.held, line)
	ls.advance(false)
}

// Flush emits every line held back; call it when the stream ends.
func (ls *LineStream) Flush() { ls.advance(true) }

func (ls *LineStream) advance(final bool) {
	if len(ls.held) == 0 {
		return
	}
	var fs *formSet
	if ls.r != nil {
		fs = ls.r.set.Load()
	}
	if fs == nil {
		for _, l := range ls.held {
			ls.emit(l)
		}
		ls.held, ls.tail, ls.fs = ls.held[:0], "", nil
		return
	}
	withTail := ls.tail != "" && (ls.needTail || ls.fs != fs)
	// text is the tail (if any), then the held lines joined by "\n".
	text, starts := ls.held[0], []int{0}
	if withTail || len(ls.held) > 1 {
		var b strings.Builder
		starts = make([]int, len(ls.held))
		if withTail {
			b.WriteString(ls.tail)
		}
		for i, l := range ls.held {
			if withTail || i > 0 {
				b.WriteByte('\n')
			}
			starts[i] = b.Len()
			b.WriteString(l)
		}
		text = b.String()
	}
	spans, pending := fs.scan(text, !final && len(ls.held) <= maxHeld)
	n := len(ls.held)
	if pending >= 0 {
		n = 0
		for n < len(ls.held) && starts[n]+len(ls.held[n]) <= pending {
			n++
		}
	}
	if n == 0 {
		return
	}
	for i := range n {
		from, to := starts[i], starts[i]+len(ls.held[i])
		if !covers(spans, from, to) {
			ls.emit(ls.held[i])
			continue
		}
		var lb strings.Builder
		render(&lb, text, spans, from, to)
		ls.emit(lb.String())
	}
	end := starts[n-1] + len(ls.held[n-1])
	ls.needTail = !final && len(ls.held) > maxHeld
	for _, sp := range spans {
		if sp.start < end && sp.end > end {
			ls.needTail = true // a match runs on into the lines still held
		}
	}
	ls.fs = fs
	ls.tail = lastBytes(text[:end], fs.maxLen-1)
	if final {
		ls.tail = ""
	}
	ls.held = append(ls.held[:0], ls.held[n:]...)
}

// covers reports whether a span meets s[from:to].
func covers(spans []span, from, to int) bool {
	for _, sp := range spans {
		if sp.start < to && sp.end > from {
			return true
		}
	}
	return false
}

// lastBytes returns the last n bytes of s that are not line breaks.
func lastBytes(s string, n int) string {
	var keep []byte
	for i := len(s) - 1; i >= 0 && len(keep) < n; i-- {
		if c := s[i]; c != '\r' && c != '\n' {
			keep = append(keep, c)
		}
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	return string(keep)
}

// checkPasswords refuses a host's password or sudo password that cannot be
// passed on as it is: sudo reads its password from stdin up to the first
// newline, so with a CR or LF in it the rest would become the command's
// input; a NUL cuts it. Connect calls it for every host before dialling any.
func checkPasswords(hc HostConfig) error {
	for _, p := range []struct{ field, v, why string }{
		{"SSH password", hc.Password, "an SSH password is read only up to the first newline, so no host has it"},
		{"sudo password", hc.SudoPassword, "sudo reads only up to the first newline and the rest would become the command's input"},
	} {
		switch {
		case strings.ContainsAny(p.v, "\r\n"):
			return fmt.Errorf("%s: contains a line break (CR or LF); %s", p.field, p.why)
		case strings.IndexByte(p.v, 0) >= 0:
			return fmt.Errorf("%s: contains a NUL byte; it would be cut there", p.field)
		}
	}
	return nil
}

// Empty reports whether no secret is registered.
func (r *Redactor) Empty() bool { return r == nil || r.set.Load() == nil }
