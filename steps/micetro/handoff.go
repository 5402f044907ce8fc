package micetro

import "sync"

// handoff carries what one phase of a step observed on a host to a later
// phase of the same step on that host, moments later in the same run:
//
//   - a Check's read to its Apply, so Apply does not read it again: Apply
//     writes with a compare-and-swap on the content Check read (a change in
//     between is refused as "changed since it was read", never overwritten),
//     and decides nothing on it that Verify does not check afresh;
//   - an Apply's observation after its action to its Verify, only of exactly
//     what Verify checks (verifyRunning: the service active and port 1231
//     listening after a start/restart), never anything a Check read.
//
// A value is used once: take removes it. Each step owns its handoffs (fields
// of its struct), made when the step list is built: one per run. The zero
// value is ready; safe for concurrent use.
type handoff[T any] struct {
	mu sync.Mutex
	m  map[string]T // by host name
}

func (h *handoff[T]) put(host string, v T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]T{}
	}
	h.m[host] = v
}

// take returns host's value and removes it; false when there is none.
func (h *handoff[T]) take(host string) (T, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[host]
	delete(h.m, host)
	return v, ok
}
