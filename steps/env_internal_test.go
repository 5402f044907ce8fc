package steps

import (
	"context"
	"testing"
)

// SetFact writes the state only when the value changes (the state already
// holds it otherwise); SudoChecked is false outside the engine.
func TestSetFactSavesOnlyChanges(t *testing.T) {
	e := NewEnv(context.Background(), nil, nil, nil)
	saves := 0
	e.saveFacts = func() error { saves++; return nil }
	e.SetFact("a", "1")
	e.SetFact("a", "1")
	e.SetFact("a", "2")
	e.SetFact("b", "")
	e.SetFact("b", "")
	if saves != 3 {
		t.Fatalf("%d saves, want 3", saves)
	}
	if v, _ := e.Fact("a"); v != "2" {
		t.Fatalf("fact a = %q", v)
	}
	if e.SudoChecked() {
		t.Fatal("SudoChecked outside the engine")
	}
}
