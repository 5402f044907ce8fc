package tui

import (
	"os"

	"golang.org/x/sys/windows"
)

// echoOff turns the console's echo off (line input on); restore puts the
// saved mode back.
func echoOff(f *os.File) (restore func() error, err error) {
	h := windows.Handle(f.Fd())
	var old uint32
	if err := windows.GetConsoleMode(h, &old); err != nil {
		return nil, err
	}
	m := old&^windows.ENABLE_ECHO_INPUT | windows.ENABLE_LINE_INPUT | windows.ENABLE_PROCESSED_INPUT
	if err := windows.SetConsoleMode(h, m); err != nil {
		return nil, err
	}
	return func() error { return windows.SetConsoleMode(h, old) }, nil
}
