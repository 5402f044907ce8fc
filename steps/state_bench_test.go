package steps

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkStateWrite measures one checkpoint (marshal + temp file + fsync +
// rename + directory fsync) of a 40-step, 3-host state.
func BenchmarkStateWrite(b *testing.B) {
	p := &Procedure{Name: "bench", Version: 1}
	var list []*Step
	for i := range 40 {
		list = append(list, &Step{ID: fmt.Sprintf("step-%d", i), Title: "a step", Hosts: []string{"a", "b", "c"}, Mode: EachInOrder})
	}
	st := newState(p, list, "r", "hosts: []\n", "a.yaml", "dev", time.Now())
	for _, s := range st.Steps {
		for _, h := range s.Hosts {
			h.Status, h.Evidence = StatusDone, "sha256 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		}
	}
	path := filepath.Join(b.TempDir(), "s.json")
	for b.Loop() {
		data, _ := json.MarshalIndent(st, "", "  ")
		if err := writeFileAtomic(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}
