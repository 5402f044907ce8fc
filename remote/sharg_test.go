package remote

import "testing"

// ShArg leaves plain words as they are and quotes the rest as ShQuote does.
func TestShArg(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/state-1.json":  "/tmp/state-1.json",
		"a_b:c=d@e%f+g,h":    "a_b:c=d@e%f+g,h",
		"":                   "''",
		"/tmp/my state.json": "'/tmp/my state.json'",
		"it's":               `'it'\''s'`,
		"$(reboot)":          "'$(reboot)'",
		"a;b":                "'a;b'",
		"~/x":                "'~/x'",
	} {
		if got := ShArg(in); got != want {
			t.Errorf("ShArg(%q) = %s, want %s", in, got, want)
		}
	}
}
