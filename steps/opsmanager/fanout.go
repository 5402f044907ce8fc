// fanout.go holds the helpers that run a check on every server at once and
// find a server's place in the answers' order.

package opsmanager

import (
	"context"
	"errors"
	"sync"
)

// forEachServer runs f for every name at once and returns the results in
// names' order, with every error joined.
func forEachServer(ctx context.Context, names []string, f func(ctx context.Context, name string) (string, error)) ([]string, error) {
	out := make([]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = f(ctx, n)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// indexOf is x's position in xs (0 when absent).
func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}
