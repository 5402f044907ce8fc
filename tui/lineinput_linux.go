package tui

import (
	"os"

	"golang.org/x/sys/unix"
)

const (
	ioctlGetTermios      = unix.TCGETS
	ioctlSetTermiosFlush = unix.TCSETSF // tcsetattr(TCSAFLUSH)
)

// newPipe makes a pipe whose ends are closed on exec.
func newPipe(p []int) error { return unix.Pipe2(p, unix.O_CLOEXEC) }

// canWatch: poll(2) watches any descriptor.
func canWatch(fd, wake int) bool { return true }

// waitEither blocks in poll(2) until fd or wake has input.
func waitEither(fd, wake int) (fdReady, woken bool, err error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, -1); err != nil {
		return false, false, os.NewSyscallError("poll", err)
	}
	return fds[0].Revents != 0, fds[1].Revents != 0, nil
}
