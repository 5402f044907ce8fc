package micetro

import (
	"fmt"
	"strings"
)

// This file makes names from member names: the ID part of a member's steps
// and of its staging directories.

// slug turns a member name into an ID part: "Central 2" → "central-2".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// memberSlugs returns the ID part of each of ms[from:]: the slug of its
// name, else member-N (N its 1-based index in ms) when the slug is empty or
// an earlier one of ms[from:] has it. ms[:from] get "".
func memberSlugs(ms []Member, from int) []string {
	out := make([]string, len(ms))
	seen := map[string]bool{}
	for i := from; i < len(ms); i++ {
		s := slug(ms[i].Name)
		if s == "" || seen[s] {
			s = fmt.Sprintf("member-%d", i+1)
		}
		seen[s] = true
		out[i] = s
	}
	return out
}
