//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package tui

import (
	"context"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// platformReader: on Unix nothing; reads are synchronous (waitReadable).
type platformReader struct{}

// read waits until f has input or ctx ends (then ctx.Err(), nothing read), and
// reads once.
func (in *lineInput) read(ctx context.Context, p []byte) (int, error) {
	fd := int(in.f.Fd())
	for {
		if err := waitReadable(ctx, fd); err != nil {
			return 0, err
		}
		n, err := unix.Read(fd, p)
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n <= 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// echoOff turns f's echo off (canonical mode, signals on, as readpassphrase(3)
// does), discarding input typed before; restore puts the saved state back,
// discarding input typed since and not read.
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

// waitReadable returns nil once fd has input (a whole line on a terminal in
// canonical mode), ctx.Err() when ctx ends first. The wait is the OS's
// waitEither (poll on Linux, select on macOS and the BSDs) on fd and a pipe
// written to when ctx ends.
func waitReadable(ctx context.Context, fd int) error {
	if ctx.Done() == nil {
		return nil
	}
	wake, stop, err := wakePipe(ctx, newPipe)
	if err != nil {
		return err
	}
	defer stop()
	if !canWatch(fd, wake) {
		return ctx.Err() // the wait cannot watch it: a plain blocking read
	}
	for {
		fdReady, woken, err := waitEither(fd, wake)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if woken {
			return ctx.Err()
		}
		if fdReady {
			return nil
		}
	}
}

// wakePipe is a pipe written to when ctx ends; close it with stop.
func wakePipe(ctx context.Context, pipe func([]int) error) (r int, stop func(), err error) {
	var p [2]int
	if err := pipe(p[:]); err != nil {
		return -1, nil, os.NewSyscallError("pipe", err)
	}
	fired := make(chan struct{})
	cancel := context.AfterFunc(ctx, func() {
		unix.Write(p[1], []byte{0})
		close(fired)
	})
	return p[0], func() {
		if !cancel() {
			<-fired
		}
		unix.Close(p[0])
		unix.Close(p[1])
	}, nil
}
