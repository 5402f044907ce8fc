package steptest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/steps"
)

// internalCode matches the codes of the team's own notes (C1, M2,
// procedures.md, a document's .rst source, § sections), which an operator
// cannot follow.
var internalCode = regexp.MustCompile(`\b[CM]\d+b?\b|\b[AB]\.\d+\b|procedures\.md|\.rst\b|§`)

// docRefForm is one reference: an https URL, a space and the section in
// parentheses.
var docRefForm = regexp.MustCompile(`^https://\S+ \(.+\)$`)

// CheckDocRefs fails t for every step of list whose DocRef is not a list of
// "URL (Section)" references (joined by "; ") on one of the vendor sites in
// urlPrefixes, or whose DocRef, title, why or manual instructions carry an
// internal code.
func CheckDocRefs(t testing.TB, list []*steps.Step, urlPrefixes ...string) {
	t.Helper()
	if len(list) == 0 {
		t.Fatal("no steps")
	}
	for _, s := range list {
		if s.DocRef == "" {
			t.Errorf("%s: no DocRef", s.ID)
			continue
		}
		CheckRef(t, s.ID, s.DocRef, urlPrefixes...)
		texts := []string{s.Title, s.Why}
		if s.Manual != nil {
			texts = append(texts, s.Manual.Instructions...)
		}
		for _, x := range texts {
			if c := InternalCode(x); c != "" {
				t.Errorf("%s: %q carries the internal code %q", s.ID, x, c)
			}
		}
	}
}

// CheckRef fails t (naming where) unless ref is a "; "-joined list of
// "https://… (section)" references on one of the sites in urlPrefixes,
// free of internal codes.
func CheckRef(t testing.TB, where, ref string, urlPrefixes ...string) {
	t.Helper()
	for _, r := range splitRefs(ref) {
		if !docRefForm.MatchString(r) {
			t.Errorf("%s: reference %q is not \"https://… (section)\"", where, r)
			continue
		}
		ok := false
		for _, p := range urlPrefixes {
			ok = ok || strings.HasPrefix(r, p)
		}
		if !ok {
			t.Errorf("%s: reference %q is not on the vendor's site (%s)", where, r, strings.Join(urlPrefixes, ", "))
		}
	}
	if c := InternalCode(ref); c != "" {
		t.Errorf("%s: %q carries the internal code %q", where, ref, c)
	}
}

// InternalCode returns the first internal code (C1, M2, B.3, procedures.md,
// .rst, §) in text, "" when there is none.
func InternalCode(text string) string { return internalCode.FindString(text) }

// splitRefs splits a DocRef at the "; " that ends a reference (after its
// closing parenthesis), not at one inside a section's words.
func splitRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "); https://")
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+3:]
	}
}
