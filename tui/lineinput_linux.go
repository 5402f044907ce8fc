package tui

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

const (
	ioctlGetTermios      = unix.TCGETS
	ioctlSetTermiosFlush = unix.TCSETSF // tcsetattr(TCSAFLUSH)
)

// waitReadable returns nil once fd has input (a whole line on a terminal in
// canonical mode), ctx.Err() when ctx ends first.
func waitReadable(ctx context.Context, fd int) error {
	if ctx.Done() == nil {
		return nil
	}
	wake, stop, err := wakePipe(ctx, func(p []int) error { return unix.Pipe2(p, unix.O_CLOEXEC) })
	if err != nil {
		return err
	}
	defer stop()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if fds[1].Revents != 0 {
			return ctx.Err()
		}
		if fds[0].Revents != 0 {
			return nil
		}
	}
}
