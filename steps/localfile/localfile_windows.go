//go:build windows

package localfile

import (
	"io/fs"
	"syscall"
)

// NoFollow is 0 on Windows: os.OpenFile has no flag for it, so
// OpenNoFollow (and callers that open with NoFollow themselves) check with
// Lstat before the open and CheckOpened after it.
const NoFollow = 0

const modeBitsMeaningful = false

func linkKind(fi fs.FileInfo) string {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return "symbolic link"
	}
	if a, ok := fi.Sys().(*syscall.Win32FileAttributeData); ok && a.FileAttributes&syscall.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		return "reparse point"
	}
	if fi.Mode()&fs.ModeIrregular != 0 {
		return "reparse point"
	}
	return ""
}
