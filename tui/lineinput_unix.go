//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tui

import (
	"context"
	"errors"
	"os"

	"github.com/muesli/cancelreader"
	"golang.org/x/sys/unix"
)

// platformReader: on Unix every read waits in a cancelreader made for it
// (epoll on Linux, kqueue or select on macOS and the BSDs, each with its own
// wake-up pipe), cancelled when ctx ends, so no read outlives its prompt. A
// regular file is read directly: it never blocks.
type platformReader struct {
	checked, direct bool
}

// read waits until f has input or ctx ends (then ctx.Err(), nothing read), and
// reads once.
func (in *lineInput) read(ctx context.Context, p []byte) (int, error) {
	if !in.checked {
		in.checked = true
		fi, err := in.f.Stat()
		in.direct = err == nil && fi.Mode().IsRegular()
	}
	if in.direct || ctx.Done() == nil {
		return in.f.Read(p)
	}
	r, err := cancelreader.NewReader(in.f)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		r.Cancel()
		close(cancelled)
	})
	n, err := r.Read(p)
	if !stop() {
		<-cancelled // Cancel has returned: Close may follow
	}
	if errors.Is(err, cancelreader.ErrCanceled) {
		return 0, ctx.Err()
	}
	return n, err
}

// echoOff turns f's echo off (canonical mode, signals on, as readpassphrase(3)
// does), discarding input typed before; restore puts the saved state back,
// discarding input typed since and not read. (x/term's ReadPassword does the
// same, but its read cannot be cancelled, and its state restore keeps what was
// typed: see lineinput.go.)
func echoOff(f *os.File) (restore func() error, err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Lflag &^= unix.ECHO | unix.ECHONL
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermiosFlush, &t); err != nil {
		return nil, err
	}
	return func() error { return unix.IoctlSetTermios(fd, ioctlSetTermiosFlush, old) }, nil
}
