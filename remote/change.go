package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Change is one change a Host made on its server, as the hook set with
// OnChange is told it: a file write (WriteFile, Upload) that changed the
// file, or a service action (start, stop, restart). It holds paths,
// hashes and states only, never a file's content.
type Change struct {
	Host string // HostConfig.Name

	// A file write: Path as the caller gave it; Backup the copy of the
	// previous content the write kept ("" none); Before the previous
	// content's SHA-256, "absent" when the write created the file, ""
	// when the host did not tell it (Windows without IfSHA256); After the
	// content written.
	Path   string
	Backup string
	Before string
	After  string

	// A service action: Service and Manager as the caller gave them,
	// Action what ran, WasActive the state just before it (known only when
	// StateKnown), Active the state after it.
	Service    string
	Manager    ServiceManager
	Action     ServiceAction
	WasActive  bool
	StateKnown bool
	Active     bool

	Sudo bool
}

// OnChange sets the function h calls after each change it makes (nil: none),
// from the goroutine that made it; a change's call ends before the write or
// action returns. The last call wins; it may be set while h is in use.
func (h *Host) OnChange(fn func(Change)) {
	if fn == nil {
		h.onChange.Store(nil)
		return
	}
	h.onChange.Store(&fn)
}

func (h *Host) reportChange(c Change) {
	if p := h.onChange.Load(); p != nil {
		c.Host = h.cfg.Name
		(*p)(c)
	}
}

func (h *Host) watchesChanges() bool { return h.onChange.Load() != nil }

// serviceChange runs a service action with the change hook: the state just
// before the action (a read), the action, then the hook with both. A
// service that does not exist changes nothing and is not reported.
func (h *Host) serviceChange(ctx context.Context, m ServiceManager, name string, a ServiceAction, sudo bool) (bool, error) {
	was, serr := h.service(ctx, m, name, ServiceIsActive, sudo)
	if errors.Is(serr, ErrNoSuchService) {
		return false, serr
	}
	active, err := h.service(ctx, m, name, a, sudo)
	if err != nil && errors.Is(err, ErrNoSuchService) {
		return active, err
	}
	h.reportChange(Change{Service: name, Manager: m, Action: a, WasActive: was, StateKnown: serr == nil, Active: active, Sudo: sudo})
	return active, err
}

// removeScript: $1 path, $2 the SHA-256 the file must hold. Exit 0 with
// hawiz-remove:removed or hawiz-remove:absent; 3 hawiz-cas:CURRENT when
// the content differs; 6 hawiz-refuse:WHY for a symbolic link or a path
// that is not a regular file (nothing removed).
const removeScript = `p=$1 want=$2
if [ -L "$p" ]; then echo "hawiz-refuse:$p is a symbolic link" >&2; exit 6; fi
if [ ! -e "$p" ]; then echo hawiz-remove:absent; exit 0; fi
if [ ! -f "$p" ]; then echo "hawiz-refuse:$p is not a regular file" >&2; exit 6; fi
cur=$(sha256sum < "$p") || exit 4; cur=${cur%% *}
if [ "$cur" != "$want" ]; then echo "hawiz-cas:$cur" >&2; exit 3; fi
rm -f -- "$p" || exit 4
echo hawiz-remove:removed`

// RemoveFile removes path only when it is a regular file holding content
// of SHA-256 ifSHA256 (compare-and-remove): other content is ErrChanged
// (wrapped, with the hash found), a symbolic link or a path that is not a
// regular file is refused; a missing file is no error (removed=false).
// POSIX hosts only.
func (h *Host) RemoveFile(ctx context.Context, path, ifSHA256 string, sudo bool) (removed bool, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if path == "" || !isHexSHA256(ifSHA256) {
		return false, fmt.Errorf("host %s: remove %q: needs a path and the SHA-256 the file must hold", h.cfg.Name, path)
	}
	if h.cfg.OS == Windows {
		return false, fmt.Errorf("host %s: remove %s: not available on Windows", h.cfg.Name, path)
	}
	r := execReq{kind: "remove", detail: "remove " + path + " if sha256 " + ifSHA256, argv: posixScript(removeScript, path, strings.ToLower(ifSHA256)), sudo: sudo, noOutput: true}
	res, err := h.exec(ctx, &r)
	if err != nil {
		return false, err
	}
	stderr := string(res.Stderr)
	switch res.ExitStatus {
	case 0:
	case 3:
		now, _ := markerLine(stderr, "hawiz-cas:")
		return false, fmt.Errorf("host %s: %s: %w (expected sha256 %s, found %s)", h.cfg.Name, path, ErrChanged, ifSHA256, now)
	case 6:
		why := "refused by the remove script"
		if v, ok := markerLine(stderr, "hawiz-refuse:"); ok {
			why = refusalText(v)
		}
		return false, fmt.Errorf("host %s: remove %s: refused: %s; nothing was removed", h.cfg.Name, path, why)
	default:
		return false, fmt.Errorf("host %s: remove %s: %w", h.cfg.Name, path, h.exitErr(res))
	}
	return strings.TrimSpace(lastLines(string(res.Stdout), 1)) == "hawiz-remove:removed", nil
}

// linkScript prints hawiz-link:yes when $1 is a symbolic link, else
// hawiz-link:no.
const linkScript = `if [ -L "$1" ]; then echo hawiz-link:yes; else echo hawiz-link:no; fi`

// IsSymlink reports whether path itself is a symbolic link (not followed).
// POSIX hosts only.
func (h *Host) IsSymlink(ctx context.Context, path string, sudo bool) (_ bool, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if path == "" {
		return false, fmt.Errorf("host %s: is-symlink: empty path", h.cfg.Name)
	}
	if h.cfg.OS == Windows {
		return false, fmt.Errorf("host %s: is-symlink %s: not available on Windows", h.cfg.Name, path)
	}
	r := execReq{kind: "stat", detail: "is-symlink " + path, argv: posixScript(linkScript, path), sudo: sudo, noOutput: true, read: true}
	res, err := h.exec(ctx, &r)
	if err != nil {
		return false, err
	}
	out := strings.TrimSpace(lastLines(string(res.Stdout), 1))
	if res.ExitStatus != 0 || (out != "hawiz-link:yes" && out != "hawiz-link:no") {
		return false, fmt.Errorf("host %s: is-symlink %s: %w", h.cfg.Name, path, h.exitErr(res))
	}
	return out == "hawiz-link:yes", nil
}

// RunService runs c, a service action a of the service name that the
// caller renders and runs itself (its own timeout and streamed output, as
// Ops Manager's control script needs), with the change hook: with a hook
// set, the state just before is read with m, then c runs, then the state
// after is read, and the hook is told both and m, so that a rollback can
// act on the service again. The hook is told whenever c was started (it
// may have acted even when it failed or its connection dropped); a state
// that could not be read before makes the change's StateKnown false, one
// that could not be read after is reported not active. c's
// result and error are returned as Run's. Without a hook, or for
// ServiceIsActive, it is Run.
func (h *Host) RunService(ctx context.Context, m ServiceManager, name string, a ServiceAction, sudo bool, c Cmd) (Result, error) {
	if a == ServiceIsActive || !h.watchesChanges() {
		return h.Run(ctx, c)
	}
	was, serr := h.service(ctx, m, name, ServiceIsActive, sudo)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	res, err := h.Run(ctx, c)
	active := false // also when the state after cannot be read (as serviceChange's after a failed action)
	if ctx.Err() == nil {
		active, _ = h.service(ctx, m, name, ServiceIsActive, sudo)
	}
	h.reportChange(Change{Service: name, Manager: m, Action: a, WasActive: was, StateKnown: serr == nil, Active: active, Sudo: sudo})
	return res, err
}
