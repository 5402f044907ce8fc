// backup.go holds the gen.key backup on the machine hawiz runs on
// (gen_key.backup_to, gen_key_backup_to): the step's check and action,
// shared by opsmanager-ha and opsmanager-upgrade, and the private write.

package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/localfile"
)

// writeBackup stores the cluster's gen.key at to (gen_key.backup_to, on the
// machine hawiz runs on), mode 0600. It refuses (*steps.RefusedError) a
// directory that group or others can write, a link at to (neither followed
// nor replaced: the key would land outside the checked directory, or the
// operator's own arrangement would be silently undone), anything but a
// regular file there, and a file holding another key. The key goes to a new
// temp file (os.CreateTemp: random name, never an existing file or link),
// 0600 before any byte is written, fsynced, renamed over to, and the
// directory fsynced.
func writeBackup(to string, key []byte) error {
	to = absPath(to)
	dir := filepath.Dir(to)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("gen.key backup directory: %w", err)
	}
	if err := localfile.CheckPrivateDir(dir); err != nil {
		var de *localfile.DirModeError
		if errors.As(err, &de) {
			return &steps.RefusedError{Reason: fmt.Sprintf("backup directory %s is writable by group or others (mode %04o): refusing to store gen.key there; choose another gen_key.backup_to", dir, de.Mode.Perm())}
		}
		return &steps.RefusedError{Reason: "gen.key backup not written", Err: err}
	}
	if err := localfile.CheckNotLink(to); err != nil {
		return &steps.RefusedError{Reason: "gen.key backup not written", Err: fmt.Errorf("%w; choose another gen_key.backup_to, or remove the link", err)}
	}
	fi, err := os.Lstat(to)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return &steps.RefusedError{Reason: fmt.Sprintf("gen.key backup not written: %s exists and is not a regular file (%v); choose another gen_key.backup_to", to, fi.Mode().Type())}
	case err == nil:
		old, err := readNoFollow(to)
		if err != nil {
			return &steps.RefusedError{Reason: "gen.key backup not written", Err: fmt.Errorf("reading the existing %s: %w", to, err)}
		}
		if sha(old) != sha(key) {
			return &steps.RefusedError{Reason: fmt.Sprintf("%s exists and holds a different key; choose another gen_key.backup_to", to)}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("gen.key backup: %w", err)
	}
	if err := localfile.WriteAtomic(to, key, 0o600, true); err != nil {
		return fmt.Errorf("writing the gen.key backup %s: %w", to, err)
	}
	return nil
}

// readNoFollow reads a small file (at most 64 KiB) without following a link.
func readNoFollow(path string) ([]byte, error) {
	f, err := localfile.OpenNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<10))
}

// backupDirPrivate reports whether the directory of to is one writeBackup
// would store the key in (group and others cannot write it).
func backupDirPrivate(to string) bool {
	return localfile.CheckPrivateDir(filepath.Dir(absPath(to))) == nil
}

// backupCheck: done when to holds the cluster's key, a regular file, mode
// 0600, in a directory only its owner can write.
func backupCheck(ctx context.Context, e *steps.Env, c *Common, to string) (bool, string, error) {
	if to == "" {
		return false, "no gen_key.backup_to in the answers", nil
	}
	want, err := wantKeySHA(ctx, e, c)
	if err != nil {
		return false, "", err
	}
	b, err := os.ReadFile(to)
	if err != nil {
		return false, fmt.Sprintf("no backup at %s yet", to), nil
	}
	// A link, or a copy in a directory others can write, is not the backup:
	// Apply refuses it and says why.
	st, err := os.Lstat(to)
	if err == nil && st.Mode().IsRegular() && sha(b) == want && st.Mode().Perm() == 0o600 && backupDirPrivate(to) {
		e.SetFact(factGenKeyBackup, absPath(to))
		return true, fmt.Sprintf("backup %s holds the cluster's gen.key (sha256 %s, mode 0600)", absPath(to), short(want)), nil
	}
	return false, fmt.Sprintf("%s is not a 0600 copy of the cluster's gen.key in a directory only its owner can write", to), nil
}

// absPath is p made absolute (p itself when that fails).
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// backupApply asks the operator, then writes the cluster's key to to (none
// given, or declined: a warning says to back it up by hand).
func backupApply(ctx context.Context, e *steps.Env, c *Common, to string) error {
	first := c.Servers[0].Name
	if to == "" {
		e.Warn("", "no gen_key.backup_to given: back up gen.key from %s to a secure location yourself ("+refGenKeyImportant.String()+")", first)
		return nil
	}
	ok, err := e.Operator().Confirm(ctx, fmt.Sprintf("Save a backup copy of gen.key to %s (mode 0600)?", absPath(to)), true)
	if err != nil {
		return err
	}
	if !ok {
		e.Warn("", "gen.key backup declined: back up gen.key from %s to a secure location yourself ("+refGenKeyImportant.String()+")", first)
		return nil
	}
	key, err := sourceKey(ctx, e, c, GenKeyFirst, "")
	if err != nil {
		return err
	}
	if err := writeBackup(to, key); err != nil {
		return err
	}
	e.SetFact(factGenKeyBackup, absPath(to))
	e.Output("", "gen.key backup written to "+absPath(to)+" (mode 0600)")
	return nil
}
