package opsmanager

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Props is a conf-mms.properties file held as its original bytes, split into
// logical lines the way java.util.Properties.load reads them. Editing it
// replaces only the value bytes of the keys it sets; every other byte
// (comments, blank lines, order, unrelated keys, line endings) is kept.
type Props struct {
	entries []propEntry
	eol     string // the file's line ending, used for appended lines
}

type propEntry struct {
	raw []byte // every byte of the logical line, continuation lines and terminator included
	kv  bool
	key string // decoded key (kv only)
	// Offsets into raw (kv only): keyEnd is the end of the raw key text;
	// sep is true when an '=' or ':' or whitespace separator follows the key;
	// valStart..valEnd is the raw value text (without the final terminator).
	keyEnd, valStart, valEnd int
	sep                      bool
	// dangling is true when the logical line ends the file with an odd
	// number of backslashes and no terminator (a continuation into nothing).
	dangling bool
}

// ParseProps splits data into logical lines. It never fails: whatever
// bytes Java would ignore are kept as they are.
func ParseProps(data []byte) *Props {
	p := &Props{eol: detectEOL(data)}
	i := 0
	for i < len(data) {
		start := i
		// Read the first natural line and classify it.
		lineEnd, next := naturalLine(data, i)
		first := data[start:lineEnd]
		trim := bytes.TrimLeft(first, " \t\f")
		if len(trim) == 0 || trim[0] == '#' || trim[0] == '!' {
			p.entries = append(p.entries, propEntry{raw: data[start:next]})
			i = next
			continue
		}
		// A key/value line: follow continuations.
		end, term := lineEnd, next
		dangling := false
		for oddBackslashes(data[start:end]) {
			if term == end { // no terminator: end of file
				dangling = true
				break
			}
			if term == len(data) { // a continuation into the end of the file
				dangling = true
				end = term
				break
			}
			end, term = naturalLine(data, term)
		}
		e := propEntry{raw: data[start:term], kv: true, dangling: dangling}
		e.parseKV(end - start)
		if len(joinContinuations(e.raw[:end-start])) == 0 {
			// Only whitespace and continuation markers: Java skips it.
			e = propEntry{raw: e.raw, dangling: dangling}
		}
		p.entries = append(p.entries, e)
		i = term
	}
	return p
}

// naturalLine returns the end of the line starting at i (before its
// terminator) and the start of the next line.
func naturalLine(data []byte, i int) (end, next int) {
	for j := i; j < len(data); j++ {
		switch data[j] {
		case '\n':
			return j, j + 1
		case '\r':
			if j+1 < len(data) && data[j+1] == '\n' {
				return j, j + 2
			}
			return j, j + 1
		}
	}
	return len(data), len(data)
}

func oddBackslashes(b []byte) bool {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func detectEOL(data []byte) string {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\r' {
			if i+1 < len(data) && data[i+1] == '\n' {
				return "\r\n"
			}
			return "\r"
		}
	}
	return "\n"
}

// parseKV finds the key, separator and value in e.raw[:contentEnd].
func (e *propEntry) parseKV(contentEnd int) {
	raw := e.raw[:contentEnd]
	i := 0
	for i < len(raw) && isPropSpace(raw[i]) {
		i++
	}
	// The key ends at the first unescaped '=', ':' or whitespace. A
	// backslash-newline inside the key continues it.
	var key []byte
	for i < len(raw) {
		c := raw[i]
		if c == '\\' {
			if i+1 >= len(raw) {
				break // a dangling continuation: not part of the key
			}
			if raw[i+1] == '\r' || raw[i+1] == '\n' {
				i = skipContinuation(raw, i+1)
				continue
			}
			key = append(key, raw[i:i+2]...)
			if raw[i+1] == 'u' && i+6 <= len(raw) {
				key = append(key, raw[i+2:i+6]...)
				i += 6
				continue
			}
			i += 2
			continue
		}
		if c == '=' || c == ':' || isPropSpace(c) {
			break
		}
		key = append(key, c)
		i++
	}
	e.keyEnd = i
	e.key = unescapeProp(key)
	// Separator: whitespace, then at most one '=' or ':', then whitespace.
	j := i
	for j < len(raw) && isPropSpace(raw[j]) {
		j++
	}
	if j < len(raw) && (raw[j] == '=' || raw[j] == ':') {
		j++
		e.sep = true
	} else if j > i {
		e.sep = true // whitespace alone separates
	}
	for j < len(raw) {
		if isPropSpace(raw[j]) {
			j++
			continue
		}
		if raw[j] == '\\' && j+1 < len(raw) && (raw[j+1] == '\r' || raw[j+1] == '\n') {
			j = skipContinuation(raw, j+1)
			continue
		}
		break
	}
	e.valStart = j
	e.valEnd = len(raw)
}

// skipContinuation skips the line terminator at i and the next line's
// leading whitespace.
func skipContinuation(raw []byte, i int) int {
	if raw[i] == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
		i += 2
	} else {
		i++
	}
	for i < len(raw) && isPropSpace(raw[i]) {
		i++
	}
	return i
}

func isPropSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// value decodes the entry's value.
func (e *propEntry) value() string {
	return unescapeProp(joinContinuations(e.raw[e.valStart:e.valEnd]))
}

// joinContinuations removes backslash-newline-whitespace sequences and a
// final dangling backslash, leaving the escaped logical text.
func joinContinuations(raw []byte) []byte {
	raw = bytes.TrimLeft(raw, " \t\f")
	var out []byte
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+1 < len(raw) && (raw[i+1] == '\r' || raw[i+1] == '\n') {
			i = skipContinuation(raw, i+1) - 1
			continue
		}
		out = append(out, c)
	}
	if len(out) > 0 && out[len(out)-1] == '\\' && oddBackslashes(out) {
		out = out[:len(out)-1] // a trailing continuation into nothing
	}
	return out
}

func unescapeProp(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			if c < 0x80 {
				sb.WriteByte(c)
			} else {
				sb.WriteRune(rune(c)) // Properties.load(InputStream) reads ISO-8859-1
			}
			continue
		}
		i++
		switch b[i] {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			if r, ok := hex4(b, i+1); ok {
				i += 4
				if utf16.IsSurrogate(r) && i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					if r2, ok := hex4(b, i+3); ok {
						if c := utf16.DecodeRune(r, r2); c != utf8.RuneError {
							sb.WriteRune(c)
							i += 6
							continue
						}
					}
				}
				sb.WriteRune(r)
				continue
			}
			sb.WriteByte('u')
		default:
			if b[i] < 0x80 {
				sb.WriteByte(b[i])
			} else {
				sb.WriteRune(rune(b[i]))
			}
		}
	}
	return sb.String()
}

// escapePropValue renders v so that Properties.load reads back exactly v.
func escapePropValue(v string) string {
	var sb strings.Builder
	for i, r := range v {
		switch {
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\f':
			sb.WriteString(`\f`)
		case i == 0 && (r == ' ' || r == '=' || r == ':'):
			sb.WriteByte('\\') // a leading space or separator would be eaten by the reader
			sb.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				for _, s := range utf16Pair(r) {
					fmt.Fprintf(&sb, `\u%04x`, s)
				}
			} else {
				fmt.Fprintf(&sb, `\u%04x`, r)
			}
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func utf16Pair(r rune) [2]rune {
	r -= 0x10000
	return [2]rune{0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff}
}

func escapePropKey(k string) string {
	var sb strings.Builder
	for _, r := range k {
		switch r {
		case '=', ':', ' ', '#', '!':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		default:
			sb.WriteString(escapePropValue(string(r)))
		}
	}
	return sb.String()
}

// Get returns the value Java would load for key (the last occurrence wins).
func (p *Props) Get(key string) (string, bool) {
	for i := len(p.entries) - 1; i >= 0; i-- {
		e := &p.entries[i]
		if e.kv && e.key == key {
			return e.value(), true
		}
	}
	return "", false
}

// Keys lists the keys in file order (duplicates once, at first occurrence).
func (p *Props) Keys() []string {
	seen := map[string]bool{}
	var keys []string
	for _, e := range p.entries {
		if e.kv && !seen[e.key] {
			seen[e.key] = true
			keys = append(keys, e.key)
		}
	}
	return keys
}

// Set replaces the value of every occurrence of key in place, keeping the
// key's spelling and separator, or appends "key=value" at the end with the
// file's line ending. It reports whether the bytes changed.
func (p *Props) Set(key, value string) bool {
	found := false
	changed := false
	esc := escapePropValue(value)
	for i := range p.entries {
		e := &p.entries[i]
		if !e.kv || e.key != key {
			continue
		}
		found = true
		if e.value() == value && !e.dangling {
			continue
		}
		var nb []byte
		nb = append(nb, e.raw[:e.valStart]...)
		if !e.sep {
			nb = append(nb[:e.keyEnd], '=')
		}
		nb = append(nb, esc...)
		term := e.raw[e.valEnd:]
		if e.dangling {
			term = nil
		}
		nb = append(nb, term...)
		ne := propEntry{raw: nb, kv: true}
		ne.parseKV(len(nb) - len(term))
		*e = ne
		changed = true
	}
	if found {
		return changed
	}
	var tail []byte
	if n := len(p.entries); n > 0 {
		last := p.entries[n-1]
		switch {
		case last.dangling:
			// "a=b\" at end of file continues into the next line: end it
			// with an empty line so the appended key stands alone.
			tail = append(tail, p.eol+p.eol...)
		case !endsWithEOL(last.raw):
			tail = append(tail, p.eol...)
		}
	}
	line := escapePropKey(key) + "=" + esc + p.eol
	if len(tail) > 0 {
		p.entries = append(p.entries, propEntry{raw: tail})
	}
	e := propEntry{raw: []byte(line), kv: true}
	e.parseKV(len(line) - len(p.eol))
	p.entries = append(p.entries, e)
	return true
}

func endsWithEOL(b []byte) bool {
	return len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r')
}

// Bytes returns the file's bytes.
func (p *Props) Bytes() []byte {
	var out []byte
	for _, e := range p.entries {
		out = append(out, e.raw...)
	}
	return out
}

// Line returns the raw text (without terminator) of the last occurrence of
// key, for comparing lines across servers; "" when absent.
func (p *Props) Line(key string) string {
	for i := len(p.entries) - 1; i >= 0; i-- {
		e := &p.entries[i]
		if e.kv && e.key == key {
			return strings.TrimRight(string(e.raw), "\r\n")
		}
	}
	return ""
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, h := range b[i : i+4] {
		r <<= 4
		switch {
		case h >= '0' && h <= '9':
			r |= rune(h - '0')
		case h >= 'a' && h <= 'f':
			r |= rune(h-'a') + 10
		case h >= 'A' && h <= 'F':
			r |= rune(h-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
