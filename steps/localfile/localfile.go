// Package localfile opens and writes files on the machine hawiz runs on
// without following a symbolic link planted where a file is expected, and
// writes whole files atomically through a private temp file.
//
// On Unix a link is refused by the kernel (O_NOFOLLOW). On Windows, where
// os.OpenFile has no such flag, the path is checked with Lstat before the open
// (a symbolic link or any other reparse point is refused) and again after it
// (the opened file must be the file the path names).
package localfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LinkError is a path whose last element is a symbolic link (on Windows, any
// reparse point) where a file was expected.
type LinkError struct {
	Path string
	Kind string // "symbolic link" or "reparse point"
}

func (e *LinkError) Error() string {
	return fmt.Sprintf("%s is a %s: refusing to follow it", e.Path, e.Kind)
}

// CheckNotLink returns a *LinkError when path's last element is a link; nil
// when it is anything else or does not exist.
func CheckNotLink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if k := linkKind(fi); k != "" {
		return &LinkError{Path: path, Kind: k}
	}
	return nil
}

// CheckOpened checks, after path was opened as opened, that path is not a
// link and still names the opened file.
func CheckOpened(path string, opened fs.FileInfo) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if k := linkKind(fi); k != "" {
		return &LinkError{Path: path, Kind: k}
	}
	if !os.SameFile(fi, opened) {
		return fmt.Errorf("%s was replaced while it was being opened: refusing to use it", path)
	}
	return nil
}

// OpenNoFollow is os.OpenFile(path, flag, perm), refusing (with a
// *LinkError) a path whose last element is a link instead of opening, or
// creating, the file the link points to. Links in the directories above it
// are followed.
func OpenNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := CheckNotLink(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, flag|NoFollow, perm)
	if err != nil {
		// O_NOFOLLOW fails with ELOOP (EMLINK on some BSDs) when a link
		// appeared since the check: name it as such.
		if lerr := CheckNotLink(path); lerr != nil {
			return nil, lerr
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = CheckOpened(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// WriteAtomic writes data to path: a new temp file in path's directory
// (os.CreateTemp: a random name, created exclusively, never an existing file
// or link), mode perm, written, fsynced, renamed over path, and the directory
// fsynced. Without sync both fsyncs are skipped (still atomic for readers and
// across a killed process, not across a power loss). A link at path is
// replaced by the new file, never written through. perm is set on the temp
// file before any data is written, so the data is never more exposed than
// perm, whatever the file at path had.
func WriteAtomic(path string, data []byte, perm fs.FileMode, sync bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory (makes a rename in it durable).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// DirModeError is a directory that group or others can write.
type DirModeError struct {
	Dir  string
	Mode fs.FileMode
}

func (e *DirModeError) Error() string {
	return fmt.Sprintf("directory %s is writable by group or others (mode %04o)", e.Dir, e.Mode.Perm())
}

// CheckPrivateDir returns a *DirModeError when group or others can write
// dir (they could replace or remove a file stored there). On Windows, where
// access is set by ACLs and mode bits say nothing about it, it only checks
// that dir is a directory.
func CheckPrivateDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if modeBitsMeaningful && fi.Mode().Perm()&0o022 != 0 {
		return &DirModeError{Dir: dir, Mode: fi.Mode()}
	}
	return nil
}
