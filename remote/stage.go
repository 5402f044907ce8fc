package remote

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// A stage directory holds a file hawiz is about to install as root: a fresh
// directory made with mktemp -d under a parent directory, owned by the user
// the commands run as (root, with sudo), mode 0700, so no other local user
// can read what is in it, replace it or add to it. Its name is
// PREFIX.XXXXXXXXXX (ten mktemp characters), so that a later run finds and
// removes one that a killed run left: only a real directory (not a
// symlink) of that name, owned by that user and of mode 0700, is ever
// listed or removed.
//
// Upload into it with WriteOptions.Sudo set to the same sudo, and run what
// installs with RunVerified: the root shell that installs checks the file's
// SHA-256 just before it runs the installer.

var (
	stagePrefixRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	stageSuffixRE = regexp.MustCompile(`^\.[A-Za-z0-9]{10}$`)
)

// ErrUnsafeParent is wrapped by MakeStageDir's error when the parent
// directory, or one above it, could let another user rename the stage
// directory away.
var ErrUnsafeParent = errors.New("unsafe parent directory")

// ErrNotVerified is wrapped by RunVerified's error when the file does not
// have the expected SHA-256: the program was not run.
var ErrNotVerified = errors.New("the file does not have the expected SHA-256")

// stageMakeScript: $1 parent, $2 prefix ("" = only check the parent). The parent is resolved to its
// physical path; it and every directory above it must be owned by root or
// by the user this runs as, and not writable by group or others unless
// sticky (sshd's StrictModes rule): otherwise another user could rename
// the new directory, or one above it, and put their own in its place.
// Exit 3 with hawiz-unsafe:WHY on stderr; stdout hawiz-stage:PATH.
const stageMakeScript = `parent=$1 pre=$2
cd -P -- "$parent" 2>/dev/null || { echo "hawiz-unsafe:$parent is not a directory" >&2; exit 3; }
phys=$(pwd -P) || exit 4
me=$(id -u) || exit 4
d=$phys
while :; do
	st=$(stat -c '%u %f' -- "$d") || exit 4
	u=${st%% *} m=$((0x${st#* }))
	if [ "$u" != 0 ] && [ "$u" != "$me" ]; then echo "hawiz-unsafe:$d is owned by uid $u, neither root nor uid $me" >&2; exit 3; fi
	if [ $((m & 18)) -ne 0 ] && [ $((m & 512)) -eq 0 ]; then echo "hawiz-unsafe:$d is writable by its group or others and not sticky" >&2; exit 3; fi
	if [ "$d" = / ]; then break; fi
	d=${d%/*}
	if [ -z "$d" ]; then d=/; fi
done
if [ -z "$pre" ]; then echo "hawiz-stage:$phys"; exit 0; fi
s=$(mktemp -d -- "$phys/$pre.XXXXXXXXXX") || exit 4
chmod 700 -- "$s" || { rmdir -- "$s"; exit 4; }
echo "hawiz-stage:$s"`

// stageListScript: $1 parent, $2 prefix; stdout hawiz-stage:PATH for each.
const stageListScript = `parent=$1 pre=$2
cd -P -- "$parent" 2>/dev/null || exit 0
phys=$(pwd -P) || exit 4
me=$(id -u) || exit 4
for d in "$phys/$pre".??????????; do
	if [ -d "$d" ] && [ ! -L "$d" ]; then
		st=$(stat -c '%u %a' -- "$d") || exit 4
		if [ "$st" = "$me 700" ]; then echo "hawiz-stage:$d"; fi
	fi
done`

// stageRemoveScript: $1 the directory. Exit 3 with hawiz-refused:WHY when
// it is not one of ours; stdout hawiz-stage:removed or hawiz-stage:absent.
const stageRemoveScript = `d=$1
if [ ! -e "$d" ] && [ ! -L "$d" ]; then echo hawiz-stage:absent; exit 0; fi
if [ -L "$d" ] || [ ! -d "$d" ]; then echo "hawiz-refused:$d is not a directory" >&2; exit 3; fi
me=$(id -u) || exit 4
st=$(stat -c '%u %a' -- "$d") || exit 4
if [ "$st" != "$me 700" ]; then echo "hawiz-refused:$d has owner uid and mode $st, not $me 700" >&2; exit 3; fi
rm -rf -- "$d" || exit 4
echo hawiz-stage:removed`

// verifyScript: $1 file, $2 expected SHA-256, then the program and its
// arguments, run by exec in the same process once the hash matched.
const verifyScript = `f=$1 want=$2
shift 2
got=$(sha256sum < "$f") || { echo "hawiz-sha256:unreadable" >&2; exit 97; }
got=${got%% *}
if [ "$got" != "$want" ]; then echo "hawiz-sha256:$got" >&2; exit 97; fi
exec "$@"`

const stageTimeout = time.Minute

func checkStagePrefix(prefix string) error {
	if !stagePrefixRE.MatchString(prefix) {
		return fmt.Errorf("stage directory prefix %q: want letters, digits, '-' and '_'", prefix)
	}
	return nil
}

// IsStageDir reports whether dir is an absolute, clean path whose last
// element is a stage directory name of prefix (PREFIX.XXXXXXXXXX).
func IsStageDir(dir, prefix string) bool {
	if !path.IsAbs(dir) || path.Clean(dir) != dir || checkStagePrefix(prefix) != nil {
		return false
	}
	rest, ok := strings.CutPrefix(path.Base(dir), prefix)
	return ok && stageSuffixRE.MatchString(rest)
}

func (h *Host) stageScript(ctx context.Context, what string, sudo bool, script string, args ...string) (Result, error) {
	if h.cfg.OS == Windows {
		return Result{}, fmt.Errorf("host %s: %s: stage directories are for POSIX hosts", h.cfg.Name, what)
	}
	return h.Run(ctx, Cmd{Program: "sh", Args: append([]string{"-c", script, "hawiz"}, args...), Sudo: sudo, Timeout: stageTimeout})
}

// stderrTag returns the text after the first "TAG:" line of stderr.
func stderrTag(res Result, tag string) (string, bool) {
	for _, l := range strings.Split(string(res.Stderr), "\n") {
		if rest, ok := strings.CutPrefix(l, tag+":"); ok {
			return rest, true
		}
	}
	return "", false
}

// stageLines returns the PATHs of stdout's hawiz-stage:PATH lines.
func stageLines(res Result) []string {
	var out []string
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if rest, ok := strings.CutPrefix(l, "hawiz-stage:"); ok {
			out = append(out, rest)
		}
	}
	return out
}

// MakeStageDir makes a new stage directory under parent (see above) and
// returns its physical path. It refuses (ErrUnsafeParent) a parent that
// is not a directory, or when that directory or one above it is owned by
// another user than root and the one the commands run as, or is writable
// by its group or others without the sticky bit (as /tmp has).
func (h *Host) MakeStageDir(ctx context.Context, parent, prefix string, sudo bool) (string, error) {
	what := "stage directory under " + parent
	if err := checkStagePrefix(prefix); err != nil {
		return "", fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, err)
	}
	if !path.IsAbs(parent) {
		return "", fmt.Errorf("host %s: %s: not an absolute path", h.cfg.Name, what)
	}
	res, err := h.stageScript(ctx, what, sudo, stageMakeScript, parent, prefix)
	if err != nil {
		return "", err
	}
	if why, ok := stderrTag(res, "hawiz-unsafe"); ok && res.ExitStatus == 3 {
		return "", fmt.Errorf("host %s: %s: %s: %w", h.cfg.Name, what, why, ErrUnsafeParent)
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, h.exitErr(res))
	}
	l := stageLines(res)
	if len(l) != 1 || !IsStageDir(l[0], prefix) {
		return "", fmt.Errorf("host %s: %s: unexpected output %q", h.cfg.Name, what, res.Stdout)
	}
	return l[0], nil
}

// CheckStageParent tells whether MakeStageDir would accept parent (an
// error wrapping ErrUnsafeParent when not), without making anything: for a
// preflight that checks every host before anything is written.
func (h *Host) CheckStageParent(ctx context.Context, parent string, sudo bool) error {
	what := "stage directory under " + parent
	if !path.IsAbs(parent) {
		return fmt.Errorf("host %s: %s: not an absolute path", h.cfg.Name, what)
	}
	res, err := h.stageScript(ctx, what, sudo, stageMakeScript, parent, "")
	if err != nil {
		return err
	}
	if why, ok := stderrTag(res, "hawiz-unsafe"); ok && res.ExitStatus == 3 {
		return fmt.Errorf("host %s: %s: %s: %w", h.cfg.Name, what, why, ErrUnsafeParent)
	}
	if res.ExitStatus != 0 || len(stageLines(res)) != 1 {
		return fmt.Errorf("host %s: %s: %w (output %q)", h.cfg.Name, what, h.exitErr(res), res.Stdout)
	}
	return nil
}

// StageDirs lists the stage directories of prefix under parent: real
// directories (not symlinks) named PREFIX.XXXXXXXXXX, owned by the user the
// commands run as, mode 0700. A parent that does not exist holds none.
func (h *Host) StageDirs(ctx context.Context, parent, prefix string, sudo bool) ([]string, error) {
	what := "list stage directories under " + parent
	if err := checkStagePrefix(prefix); err != nil {
		return nil, fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, err)
	}
	if !path.IsAbs(parent) {
		return nil, fmt.Errorf("host %s: %s: not an absolute path", h.cfg.Name, what)
	}
	res, err := h.stageScript(ctx, what, sudo, stageListScript, parent, prefix)
	if err != nil {
		return nil, err
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, h.exitErr(res))
	}
	var out []string
	for _, d := range stageLines(res) {
		if IsStageDir(d, prefix) { // a name with a newline is never one of ours
			out = append(out, d)
		}
	}
	return out, nil
}

// RemoveStageDir removes the stage directory dir (a name of prefix) and all
// it holds. It reports false, and no error, when dir is already gone, and
// refuses anything that is not a stage directory: a symlink, a file, or a
// directory of another owner or mode.
func (h *Host) RemoveStageDir(ctx context.Context, dir, prefix string, sudo bool) (bool, error) {
	what := "remove stage directory " + dir
	if !IsStageDir(dir, prefix) {
		return false, fmt.Errorf("host %s: %s: not a stage directory name of %q", h.cfg.Name, what, prefix)
	}
	res, err := h.stageScript(ctx, what, sudo, stageRemoveScript, dir)
	if err != nil {
		return false, err
	}
	if why, ok := stderrTag(res, "hawiz-refused"); ok && res.ExitStatus == 3 {
		return false, fmt.Errorf("host %s: %s: refused: %s", h.cfg.Name, what, why)
	}
	if res.ExitStatus != 0 {
		return false, fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, h.exitErr(res))
	}
	switch l := stageLines(res); {
	case len(l) == 1 && l[0] == "removed":
		return true, nil
	case len(l) == 1 && l[0] == "absent":
		return false, nil
	}
	return false, fmt.Errorf("host %s: %s: unexpected output %q", h.cfg.Name, what, res.Stdout)
}

// RunVerified runs c only if file has the SHA-256 sum: the shell that runs
// c (as root with c.Sudo) hashes file and then replaces itself with c's
// program, so nothing runs between the check and the program. For a file
// in a stage directory nobody else can change it in between either. A
// different hash (or an unreadable file) is an error wrapping
// ErrNotVerified, and c did not run. POSIX hosts only.
func (h *Host) RunVerified(ctx context.Context, file, sum string, c Cmd) (Result, error) {
	what := "run " + c.Program + " after checking " + file
	if !isHexSHA256(sum) {
		return Result{}, fmt.Errorf("host %s: %s: %q is not a SHA-256 hex digest", h.cfg.Name, what, sum)
	}
	if file == "" || c.Program == "" {
		return Result{}, fmt.Errorf("host %s: %s: empty file or program", h.cfg.Name, what)
	}
	if h.cfg.OS == Windows {
		return Result{}, fmt.Errorf("host %s: %s: POSIX hosts only", h.cfg.Name, what)
	}
	c.Args = append([]string{"-c", verifyScript, "hawiz-verify", file, strings.ToLower(sum), c.Program}, c.Args...)
	c.Program = "sh"
	res, err := h.Run(ctx, c)
	if err != nil {
		return res, err
	}
	if got, ok := stderrTag(res, "hawiz-sha256"); ok && res.ExitStatus == 97 {
		return res, fmt.Errorf("host %s: %s has sha256 %s, not %s: refused to run %s: %w", h.cfg.Name, file, got, strings.ToLower(sum), c.Args[5], ErrNotVerified)
	}
	return res, nil
}
