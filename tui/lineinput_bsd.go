//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package tui

import (
	"os"

	"golang.org/x/sys/unix"
)

const (
	ioctlGetTermios      = unix.TIOCGETA
	ioctlSetTermiosFlush = unix.TIOCSETAF // tcsetattr(TCSAFLUSH)
)

// newPipe makes a pipe whose ends are closed on exec (no pipe2 on macOS).
func newPipe(p []int) error {
	if err := unix.Pipe(p); err != nil {
		return err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return nil
}

// canWatch: select(2) watches descriptors below FD_SETSIZE only.
func canWatch(fd, wake int) bool { return fd < unix.FD_SETSIZE && wake < unix.FD_SETSIZE }

// waitEither blocks in select(2) until fd or wake has input. select, not
// poll or kqueue: macOS's poll and kqueue do not work on terminals.
func waitEither(fd, wake int) (fdReady, woken bool, err error) {
	var set unix.FdSet
	set.Set(fd)
	set.Set(wake)
	if _, err := unix.Select(max(fd, wake)+1, &set, nil, nil, nil); err != nil {
		return false, false, os.NewSyscallError("select", err)
	}
	return set.IsSet(fd), set.IsSet(wake), nil
}
