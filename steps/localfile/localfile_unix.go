//go:build unix

package localfile

import (
	"io/fs"
	"syscall"
)

// NoFollow is the open flag that makes the open fail on a link as the last
// element (O_NOFOLLOW); OpenNoFollow adds it.
const NoFollow = syscall.O_NOFOLLOW

const modeBitsMeaningful = true

func linkKind(fi fs.FileInfo) string {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return "symbolic link"
	}
	return ""
}
