package steps

// The state store: where a run's checkpoint lives between transitions. The
// runner decides what to save and when; the store locks, loads and saves.
// fileStore is the state file on this machine; the tests' MemStore keeps
// the saves in memory.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"

	"github.com/hawiz/hawiz/steps/localfile"
)

// stateStore keeps one run's checkpoint, in the spirit of Terraform's
// statemgr (Locker, Reader, Writer and Persister), reduced to what a run
// does with it. A run calls Lock before anything else, then Load once, then
// Save after every transition, and the function Lock returned at its end.
// The runner calls Save under its own lock: never two at a time.
type stateStore interface {
	// Lock takes the run's exclusive hold on the state, or refuses with a
	// *RefusedError (exit 4): another run holds it, or a path is unsafe.
	// Nothing is read or written before it.
	Lock() (unlock func(), err error)
	// Load returns the last saved state: an error wrapping fs.ErrNotExist
	// when there is none, a *RefusedError wrapping *CorruptStateError when
	// it cannot be read (it is kept as is).
	Load() (*State, error)
	// Save replaces the saved state with st, atomically: a reader, or the
	// resume after a killed run, sees the old state or the new one, never a
	// mix. With durable (see below) the save also survives a power loss of
	// this machine.
	Save(st *State, durable bool) error
}

// Durability of checkpoints. Every save is atomic (temp file, rename): a
// killed hawiz (SIGKILL, crash) always leaves the last save complete, since
// the page cache outlives the process. Only a save that must survive a power
// loss of this machine is also fsynced (file and directory): the write-ahead
// "started" record before an Apply changes anything, the operator's own
// confirmations, and the run's end. The others (a Check or Verify that held,
// facts, --confirm flags, failures) would, if lost with the machine, leave
// the state as of the last durable save: resume then checks those steps
// again (every state a lost save recorded is one that Checks tell again).
// A non-durable save costs a write and a rename, not two fsyncs (≈ 2–4 ms
// each on a VM disk; a run saves about 50 times).
const (
	durable   = true
	cacheOnly = false
)

// fileStore is the state file at path (absolute), with its lock file
// (LockPath) in the same directory, that directory's links resolved.
type fileStore struct {
	path string
}

func openFileStore(path string) stateStore { return fileStore{path: path} }

// Lock creates the state's directory (0700) if needed, refuses a state
// file that is a link, and takes the lock file.
func (f fileStore) Lock() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := checkStatePath(f.path); err != nil {
		return nil, err
	}
	return lockState(f.path)
}

// Load reads and checks the state file (ReadState).
func (f fileStore) Load() (*State, error) { return ReadState(f.path) }

// Save writes the state file atomically, mode 0600; durable: fsynced, with
// its directory.
func (f fileStore) Save(st *State, durable bool) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := writeFileAtomicSync(f.path, data, 0o600, durable); err != nil {
		return fmt.Errorf("writing state %s: %w", f.path, err)
	}
	return nil
}

// checkStatePath refuses a state file that is a symbolic link (or, on
// Windows, another reparse point): hawiz would read another file's run and
// then replace the link, and runs reaching that file by its own name would
// not share this one's lock.
func checkStatePath(path string) error {
	if err := localfile.CheckNotLink(path); err != nil {
		return &RefusedError{Reason: "refusing to use the state file", Err: fmt.Errorf("%w; name the file itself with --state", err)}
	}
	return nil
}

// lockState takes STATE.lock (in the state's directory with its symbolic
// links resolved) or refuses (exit 4). The lock file is opened without
// following a link: a link planted there is refused, never written through.
func lockState(path string) (func(), error) {
	lp, err := lockPathOf(path)
	if err != nil {
		return nil, &RefusedError{Reason: "cannot lock " + LockPath(path), Err: err}
	}
	if err := localfile.CheckNotLink(lp); err != nil {
		return nil, &RefusedError{Reason: "cannot lock " + path, Err: err}
	}
	fl := flock.New(lp, flock.SetPermissions(0o600), flock.SetFlag(os.O_CREATE|os.O_RDWR|localfile.NoFollow))
	ok, err := fl.TryLock()
	if err != nil {
		if lerr := localfile.CheckNotLink(lp); lerr != nil {
			err = lerr
		}
		return nil, &RefusedError{Reason: "cannot lock " + path, Err: err}
	}
	if !ok {
		who := ""
		if pid := readLockPid(lp); pid != "" {
			who = " (pid " + pid + ")"
		}
		return nil, &RefusedError{Reason: fmt.Sprintf("another hawiz run holds %s%s; wait for it to end, or stop it", path, who)}
	}
	fi, err := fl.Stat()
	if err == nil {
		err = localfile.CheckOpened(lp, fi)
	}
	if err != nil {
		_ = fl.Unlock()
		return nil, &RefusedError{Reason: "cannot lock " + path, Err: err}
	}
	writeLockPid(lp, strconv.Itoa(os.Getpid())+"\n")
	return func() {
		// No lock file is left behind: it is removed while still held, so
		// a run that opened it meanwhile finds it gone once it holds it
		// (CheckOpened above) and refuses rather than share the state.
		if err := os.Remove(lp); err != nil {
			writeLockPid(lp, "")
		}
		_ = fl.Unlock()
	}, nil
}

// lockPathOf is LockPath of the state path with its directory's symbolic
// links resolved (filepath.EvalSymlinks), so that runs reaching one state
// through different directory names lock, and report, one lock file.
func lockPathOf(statePath string) (string, error) {
	dir, err := filepath.EvalSymlinks(filepath.Dir(statePath))
	if err != nil {
		return "", err
	}
	return LockPath(filepath.Join(dir, filepath.Base(statePath))), nil
}

// writeLockPid replaces the lock file's content (best effort), never
// through a link.
func writeLockPid(lp, s string) {
	f, err := localfile.OpenNoFollow(lp, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return
	}
	_, _ = f.WriteString(s)
	_ = f.Close()
}

// readLockPid is the pid recorded in the lock file ("" when unknown), not
// read through a link.
func readLockPid(lp string) string {
	f, err := localfile.OpenNoFollow(lp, os.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 32)
	n, _ := f.Read(b)
	return strings.TrimSpace(string(b[:n]))
}

// LockedBy reports whether a hawiz run holds the state's lock now, and the
// pid it recorded ("" when unknown). A lock file that is a link counts as
// not held (a run would refuse it).
func LockedBy(statePath string) (pid string, locked bool) {
	lp, err := lockPathOf(statePath)
	if err != nil {
		return "", false
	}
	if fi, err := os.Lstat(lp); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	fl := flock.New(lp, flock.SetFlag(os.O_RDONLY|localfile.NoFollow))
	ok, err := fl.TryRLock()
	if err != nil {
		return "", false
	}
	if ok {
		_ = fl.Unlock()
		return "", false
	}
	return readLockPid(lp), true
}

// writeFileAtomic writes data to path: temp file in the same directory,
// fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeFileAtomicSync(path, data, perm, true)
}

// writeFileAtomicSync is writeFileAtomic; without sync it skips both fsyncs
// (still atomic for readers and across a killed process, not across a power
// loss). The temp file has a random name (os.CreateTemp) and mode perm
// before any byte is written; a link at path is replaced, not written
// through.
func writeFileAtomicSync(path string, data []byte, perm fs.FileMode, sync bool) error {
	return localfile.WriteAtomic(path, data, perm, sync)
}
