package tui

import "testing"

// Page and field titles built from YAML keys read as the vendors write
// them ("App DB", not "Appdb").
func TestHumanizeTitles(t *testing.T) {
	for key, want := range map[string]string{
		"appdb":        "App DB",
		"appdb_member": "App DB member",
		"ssh":          "SSH",
		"live_via":     "Live via",
		"tsig_key":     "TSIG key",
		"uri":          "URI",
	} {
		if got := humanize(key); got != want {
			t.Errorf("humanize(%q) = %q, want %q", key, got, want)
		}
	}
}
