package micetro

import (
	"sync"

	"github.com/hawiz/hawiz/remote"
)

// memo carries what a step's Check read on a host to the same step's Apply
// on that host, moments later in the same run, so Apply does not read it
// again: Apply writes with a compare-and-swap on the content Check read (a
// change in between is refused as "changed since it was read", never
// overwritten), and decides nothing on it that Verify does not check
// afresh. A value is used once. Verify uses the memo only for what the
// same step's Apply observed after its action, of exactly what Verify
// checks (verifyRunning: the service active and port 1231 listening after
// a start/restart), never for anything a Check read. One memo per built
// step list (one run).
type memo struct {
	mu sync.Mutex
	m  map[[2]string]any
}

func newMemo() *memo { return &memo{m: map[[2]string]any{}} }

func (mm *memo) put(step, host string, v any) {
	mm.mu.Lock()
	mm.m[[2]string{step, host}] = v
	mm.mu.Unlock()
}

func (mm *memo) take(step, host string) any {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	k := [2]string{step, host}
	v := mm.m[k]
	delete(mm.m, k)
	return v
}

// prefsRead is one read of a preferences.cfg.
type prefsRead struct {
	prefs *Prefs
	info  remote.FileInfo
}
