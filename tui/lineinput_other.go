//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package tui

import (
	"context"
)

// platformReader: where a read cannot wait for ctx (Windows' console), one
// read at a time runs in a goroutine; a prompt cancelled while it waits
// leaves it to the next prompt, which takes its line only when it was read in
// the same mode (plain or secret).
type platformReader struct {
	inflight chan readResult
}

type readResult struct {
	data   []byte
	err    error
	secret bool
}

func (in *lineInput) read(ctx context.Context, p []byte) (int, error) {
	for {
		if in.inflight == nil {
			ch := make(chan readResult, 1)
			f, secret, size := in.f, in.secret, len(p)
			go func() {
				b := make([]byte, size)
				n, err := f.Read(b)
				ch <- readResult{b[:n], err, secret}
			}()
			in.inflight = ch
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case r := <-in.inflight:
			in.inflight = nil
			n := 0
			if r.secret == in.secret {
				n = copy(p, r.data)
			}
			clear(r.data)
			if n == 0 && r.err == nil {
				continue
			}
			return n, r.err
		}
	}
}
