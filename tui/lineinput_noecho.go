//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package tui

import (
	"errors"
	"os"
)

func echoOff(*os.File) (func() error, error) {
	return nil, errors.New("no terminal echo control on this system")
}
