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
//
// On Windows the administrator session makes it (sudo is ignored, as
// everywhere on Windows): PREFIX. and ten random lower-case letters and
// digits, created with a protected DACL (no inheritance) that grants SYSTEM
// and Administrators full control and nobody else anything; only such a
// directory (no link or junction, owned by SYSTEM, Administrators or the
// session's user) is listed or removed. RunVerified's script checks that
// the file's directory is still such a directory holding nothing else,
// and hashes the file through a handle that lets nobody write, replace or
// rename it until the program it then runs has ended. The PowerShell is
// rendered by psStage*Script and psVerifiedRunScript (render.go).

var (
	stagePrefixRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	stageSuffixRE    = regexp.MustCompile(`^\.[A-Za-z0-9]{10}$`)
	winStageSuffixRE = regexp.MustCompile(`^\.[a-z0-9]{10}$`)
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

// isWinStageDir is IsStageDir for a Windows host: dir is an absolute path
// X:\… in backslashes without empty, . or .. elements, whose last element
// is PREFIX. and ten lower-case letters and digits.
func isWinStageDir(dir, prefix string) bool {
	if !winAbs(dir) || checkStagePrefix(prefix) != nil {
		return false
	}
	for _, el := range strings.Split(dir[3:], `\`) {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	rest, ok := strings.CutPrefix(dir[strings.LastIndexByte(dir, '\\')+1:], prefix)
	return ok && winStageSuffixRE.MatchString(rest)
}

// winAbs: p starts with a drive letter, a colon and a backslash, and holds
// no slash or NUL.
func winAbs(p string) bool {
	return winDrive(p) && p[2] == '\\' && !strings.ContainsAny(p, "/\x00")
}

// winDrive: p starts with a drive letter, a colon and a separator.
func winDrive(p string) bool {
	return len(p) >= 3 && p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z' && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}

// isStageDir is IsStageDir for h's flavour.
func (h *Host) isStageDir(dir, prefix string) bool {
	if h.cfg.OS == Windows {
		return isWinStageDir(dir, prefix)
	}
	return IsStageDir(dir, prefix)
}

// absParent: parent is an absolute path on h (on Windows X:\ or X:/).
func (h *Host) absParent(parent string) bool {
	if h.cfg.OS == Windows {
		return winDrive(parent) && !strings.ContainsRune(parent, 0)
	}
	return path.IsAbs(parent)
}

// stageScript runs a stage script: on POSIX hosts script (a constant) with
// args as its positional parameters, on Windows ps (the rendered script).
func (h *Host) stageScript(ctx context.Context, what string, sudo bool, script, ps string, args ...string) (Result, error) {
	if h.cfg.OS == Windows {
		return h.exec(ctx, &execReq{kind: "run", detail: what, ps: ps, timeout: stageTimeout})
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

// tagText is a stage script's reason as an error shows it: on Windows,
// where it may carry a name another account chose (an ACL's account, a
// path), control characters become '?' (refusalText); POSIX hosts' as
// they always were.
func (h *Host) tagText(why string) string {
	if h.cfg.OS == Windows {
		return refusalText(why)
	}
	return why
}

// stageTag is stderrTag, and stageOut stageLines, for h: on Windows, whose
// PowerShell ends lines with CRLF, without the CR.
func (h *Host) stageTag(res Result, tag string) (string, bool) {
	why, ok := stderrTag(res, tag)
	if h.cfg.OS == Windows {
		why = strings.TrimSuffix(why, "\r")
	}
	return why, ok
}

func (h *Host) stageOut(res Result) []string {
	l := stageLines(res)
	if h.cfg.OS == Windows {
		for i := range l {
			l[i] = strings.TrimSuffix(l[i], "\r")
		}
	}
	return l
}

// stageRefusal is the make script's refusal: exit 3 hawiz-unsafe (an
// error wrapping ErrUnsafeParent), or on Windows exit 5 hawiz-refused (not
// an administrator session, a name already there); nil otherwise.
func (h *Host) stageRefusal(res Result, what string) error {
	if why, ok := h.stageTag(res, "hawiz-unsafe"); ok && res.ExitStatus == 3 {
		return fmt.Errorf("host %s: %s: %s: %w", h.cfg.Name, what, h.tagText(why), ErrUnsafeParent)
	}
	if why, ok := h.stageTag(res, "hawiz-refused"); ok && res.ExitStatus == 5 && h.cfg.OS == Windows {
		return fmt.Errorf("host %s: %s: refused: %s", h.cfg.Name, what, h.tagText(why))
	}
	return nil
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
	if !h.absParent(parent) {
		return "", fmt.Errorf("host %s: %s: not an absolute path", h.cfg.Name, what)
	}
	res, err := h.stageScript(ctx, what, sudo, stageMakeScript, psStageMakeScript(parent, prefix), parent, prefix)
	if err != nil {
		return "", err
	}
	if err := h.stageRefusal(res, what); err != nil {
		return "", err
	}
	if res.ExitStatus != 0 {
		return "", fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, h.exitErr(res))
	}
	l := h.stageOut(res)
	if len(l) != 1 || !h.isStageDir(l[0], prefix) {
		return "", fmt.Errorf("host %s: %s: unexpected output %q", h.cfg.Name, what, res.Stdout)
	}
	return l[0], nil
}

// CheckStageParent tells whether MakeStageDir would accept parent (an
// error wrapping ErrUnsafeParent when not), without making anything: for a
// preflight that checks every host before anything is written.
func (h *Host) CheckStageParent(ctx context.Context, parent string, sudo bool) error {
	what := "stage directory under " + parent
	if !h.absParent(parent) {
		return fmt.Errorf("host %s: %s: not an absolute path", h.cfg.Name, what)
	}
	res, err := h.stageScript(ctx, what, sudo, stageMakeScript, psStageMakeScript(parent, ""), parent, "")
	if err != nil {
		return err
	}
	if err := h.stageRefusal(res, what); err != nil {
		return err
	}
	if res.ExitStatus != 0 || len(h.stageOut(res)) != 1 {
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
	if !h.absParent(parent) {
		return nil, fmt.Errorf("host %s: %s: not an absolute path", h.cfg.Name, what)
	}
	res, err := h.stageScript(ctx, what, sudo, stageListScript, psStageListScript(parent, prefix), parent, prefix)
	if err != nil {
		return nil, err
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, h.exitErr(res))
	}
	var out []string
	for _, d := range h.stageOut(res) {
		if h.isStageDir(d, prefix) { // a name with a newline is never one of ours
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
	if !h.isStageDir(dir, prefix) {
		return false, fmt.Errorf("host %s: %s: not a stage directory name of %q", h.cfg.Name, what, prefix)
	}
	res, err := h.stageScript(ctx, what, sudo, stageRemoveScript, psStageRemoveScript(dir), dir)
	if err != nil {
		return false, err
	}
	if why, ok := h.stageTag(res, "hawiz-refused"); ok && res.ExitStatus == 3 {
		return false, fmt.Errorf("host %s: %s: refused: %s", h.cfg.Name, what, h.tagText(why))
	}
	if res.ExitStatus != 0 {
		return false, fmt.Errorf("host %s: %s: %w", h.cfg.Name, what, h.exitErr(res))
	}
	switch l := h.stageOut(res); {
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
// ErrNotVerified, and c did not run.
//
// On Windows the PowerShell script that runs c (psVerifiedRunScript) first
// checks that file's directory is a private stage directory holding
// nothing else, then hashes file through a handle that lets nobody write,
// replace or rename it, and runs c's program while it holds that handle.
// A directory that is not private, or holds more, is refused too (an error
// wrapping ErrNotVerified); c.Sudo is ignored.
func (h *Host) RunVerified(ctx context.Context, file, sum string, c Cmd) (Result, error) {
	what := "run " + c.Program + " after checking " + file
	if !isHexSHA256(sum) {
		return Result{}, fmt.Errorf("host %s: %s: %q is not a SHA-256 hex digest", h.cfg.Name, what, sum)
	}
	if file == "" || c.Program == "" {
		return Result{}, fmt.Errorf("host %s: %s: empty file or program", h.cfg.Name, what)
	}
	if h.cfg.OS == Windows {
		return h.runVerifiedWindows(ctx, file, sum, c)
	}
	c.Args = append([]string{"-c", verifyScript, "hawiz-verify", file, strings.ToLower(sum), c.Program}, c.Args...)
	c.Program = "sh"
	res, err := h.Run(ctx, c)
	if err != nil {
		return res, err
	}
	if got, ok := h.stageTag(res, "hawiz-sha256"); ok && res.ExitStatus == 97 {
		return res, fmt.Errorf("host %s: %s has sha256 %s, not %s: refused to run %s: %w", h.cfg.Name, file, got, strings.ToLower(sum), c.Args[5], ErrNotVerified)
	}
	return res, nil
}

func (h *Host) runVerifiedWindows(ctx context.Context, file, sum string, c Cmd) (Result, error) {
	argv := append([]string{c.Program}, c.Args...)
	ps, err := psVerifiedRunScript(file, strings.ToLower(sum), argv, c.Env, c.Stdin != nil)
	if err != nil {
		return Result{}, fmt.Errorf("host %s: run %s after checking %s: %w", h.cfg.Name, c.Program, file, err)
	}
	r := execReq{kind: "run", ps: ps, stdin: c.Stdin, timeout: c.Timeout, onLine: c.OnLine}
	if h.f.opts.Transcript != nil {
		r.detail = ShJoin(argv) + " (after checking that " + file + " has sha256 " + strings.ToLower(sum) + ")"
	}
	res, err := h.exec(ctx, &r)
	if err != nil || res.ExitStatus != 97 {
		return res, err
	}
	if got, ok := h.stageTag(res, "hawiz-sha256"); ok {
		return res, fmt.Errorf("host %s: %s has sha256 %s, not %s: refused to run %s: %w", h.cfg.Name, file, refusalText(got), strings.ToLower(sum), c.Program, ErrNotVerified)
	}
	if why, ok := h.stageTag(res, "hawiz-unsafe"); ok {
		return res, fmt.Errorf("host %s: %s: %s: refused to run %s: %w", h.cfg.Name, file, refusalText(why), c.Program, ErrNotVerified)
	}
	return res, nil
}

// CopyIntoStageDir copies the file src on the host into the stage
// directory dir (a name of prefix) as name, as root with sudo: on POSIX
// hosts `cp -- SRC DIR/NAME`, on Windows [IO.File]::Copy, which refuses a
// name already there and gives the copy the directory's inherited ACL.
// The error is for what Run's is; a failed copy is Result.ExitStatus.
func (h *Host) CopyIntoStageDir(ctx context.Context, src, dir, prefix, name string, sudo bool, timeout time.Duration) (Result, error) {
	what := "copy " + src + " into stage directory " + dir
	if !h.isStageDir(dir, prefix) {
		return Result{}, fmt.Errorf("host %s: %s: not a stage directory name of %q", h.cfg.Name, what, prefix)
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || h.cfg.OS == Windows && strings.ContainsAny(name, `\:`) {
		return Result{}, fmt.Errorf("host %s: %s: %q is not a file name", h.cfg.Name, what, name)
	}
	if h.cfg.OS == Windows {
		return h.exec(ctx, &execReq{kind: "run", detail: what, ps: psStageCopyScript(src, dir+`\`+name), timeout: timeout})
	}
	return h.Run(ctx, Cmd{Program: "cp", Args: []string{"--", src, path.Join(dir, name)}, Sudo: sudo, Timeout: timeout})
}
