package steps

import "strings"

// DocRef is one place in a vendor's documents an operator can open: the
// page's URL (with the section's anchor where the page has one) and the
// section as that page names and numbers it today. docs/procedures.md lists
// every fact hawiz takes from these places.
type DocRef struct {
	URL     string
	Section string
}

// String is "URL (Section)", the form plans, evidence and errors print.
func (r DocRef) String() string { return r.URL + " (" + r.Section + ")" }

// DocRefs joins references for one Step.DocRef.
func DocRefs(rs ...DocRef) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, "; ")
}
