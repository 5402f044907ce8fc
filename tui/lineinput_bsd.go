//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package tui

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

const (
	ioctlGetTermios      = unix.TIOCGETA
	ioctlSetTermiosFlush = unix.TIOCSETAF // tcsetattr(TCSAFLUSH)
)

// waitReadable returns nil once fd has input (a whole line on a terminal in
// canonical mode), ctx.Err() when ctx ends first. select(2), not poll or
// kqueue: macOS's poll and kqueue do not work on terminals.
func waitReadable(ctx context.Context, fd int) error {
	if ctx.Done() == nil {
		return nil
	}
	wake, stop, err := wakePipe(ctx, func(p []int) error {
		if err := unix.Pipe(p); err != nil {
			return err
		}
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
		return nil
	})
	if err != nil {
		return err
	}
	defer stop()
	if fd >= unix.FD_SETSIZE || wake >= unix.FD_SETSIZE {
		return ctx.Err() // select cannot watch it: a plain blocking read
	}
	for {
		var set unix.FdSet
		set.Set(fd)
		set.Set(wake)
		_, err := unix.Select(max(fd, wake)+1, &set, nil, nil, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("select", err)
		}
		if set.IsSet(wake) {
			return ctx.Err()
		}
		if set.IsSet(fd) {
			return nil
		}
	}
}
