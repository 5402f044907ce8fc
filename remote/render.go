package remote

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"unicode"
	"unicode/utf16"
)

// This file holds the pure renderers: remote command lines built from typed
// values. Nothing here touches the network, so golden tests cover them.

// sudoMode says how a command is elevated.
type sudoMode int

const (
	sudoNone     sudoMode = iota
	sudoNoPass            // sudo -n --
	sudoPassword          // sudo -S -p PROMPT -k -- sh -c 'echo OK >&2; exec "$@"' (password on stdin, gated)
)

// Markers of the gated sudo password exchange. sudo prints sudoPrompt (on
// stderr, -S) when it wants the password; the password is written only
// then, and the command's own stdin only after sudoOK shows that sudo
// accepted it and started the command. So the password never reaches the
// command (a NOPASSWD rule or a cached timestamp means no prompt), and the
// command's stdin is never tried as a password.
const (
	sudoPrompt = "hawiz-sudo-prompt:"
	sudoOK     = "hawiz-sudo-ok"
)

// pidMarker prefixes the stderr line that reports the remote process group.
const pidMarker = "hawiz-pid:"

// IsProtocolLine reports whether l is "hawiz-WORD" or "hawiz-WORD:…" with
// WORD lower-case letters and dashes: a line remote's own scripts write for
// remote (hawiz-stat:…, hawiz-absent, hawiz-write:…, hawiz-sudo-ok), kept in
// the transcript but never shown to a person as a command's output.
func IsProtocolLine(l string) bool {
	rest, ok := strings.CutPrefix(strings.TrimSpace(l), "hawiz-")
	if !ok {
		return false
	}
	word, _, _ := strings.Cut(rest, ":")
	if word == "" {
		return false
	}
	for _, c := range word {
		if (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}

// ShQuote quotes s for POSIX sh: the whole string in single quotes; each
// single quote inside is closed, backslash-escaped and reopened.
func ShQuote(s string) string {
	if s == "" {
		return "''"
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShArg is s as one word a POSIX shell reads back as s, quoted (as ShQuote)
// only when it needs to be: for commands hawiz shows a person (resume
// commands, suggestions), which stay readable.
func ShArg(s string) string {
	if s != "" && strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_./:=@%+,-", c))
	}) < 0 {
		return s
	}
	return ShQuote(s)
}

// ShJoin quotes every element and joins them with spaces.
func ShJoin(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ShQuote(a))
	}
	return b.String()
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// envKeys returns env's names sorted, or an error naming the first one that
// is not a valid environment variable name.
func envKeys(env map[string]string) ([]string, error) {
	keys := sortedKeys(env)
	for _, k := range keys {
		if !validEnvName(k) {
			return nil, fmt.Errorf("invalid environment variable name %q", k)
		}
	}
	return keys, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// renderPOSIX renders argv (with env) as the command line sent to a POSIX
// host's login shell. The first line the shell writes to stderr reports its
// PID, which is the session's process group (sshd starts every session in a
// new session/process group), so the whole command can be killed. There is
// deliberately no `exec`: a shell builtin such as `true` stays a builtin,
// as it is for a bare `ssh host true`, instead of costing an execve.
func renderPOSIX(argv []string, env map[string]string, sudo sudoMode) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", fmt.Errorf("empty program")
	}
	var b strings.Builder
	b.WriteString(`echo "` + pidMarker + `$$" >&2; `)
	keys, err := envKeys(env)
	if err != nil {
		return "", err
	}
	if sudo == sudoNone {
		for _, k := range keys {
			b.WriteString("export " + k + "=" + ShQuote(env[k]) + "; ")
		}
	} else {
		if sudo == sudoNoPass {
			b.WriteString("sudo -n -- ")
		} else {
			b.WriteString("sudo -S -p " + ShQuote(sudoPrompt+"\n") + " -k -- sh -c " +
				ShQuote(`echo `+sudoOK+` >&2; exec "$@"`) + " sh ")
		}
		if len(keys) > 0 {
			b.WriteString("env")
			for _, k := range keys {
				b.WriteString(" " + ShQuote(k+"="+env[k]))
			}
			b.WriteByte(' ')
		}
	}
	b.WriteString(ShJoin(argv))
	return b.String(), nil
}

// posixScript renders `sh -c SCRIPT hawiz ARGS...`: data travels as
// positional parameters, never interpolated into the script.
func posixScript(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "hawiz"}, args...)
}

// psQuote quotes s as a PowerShell single-quoted string. PowerShell also
// treats the typographic quotes ‘ ’ ‚ ‛ as single quotes, so they are
// doubled too.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// psPrelude starts every PowerShell script: stop on errors, and no progress
// records (they would reach stderr as CLIXML over SSH).
const psPrelude = "$ErrorActionPreference = 'Stop'\n$ProgressPreference = 'SilentlyContinue'\n"

// psCommandLine renders a PowerShell script as the command line sent to a
// Windows OpenSSH server: -EncodedCommand with base64 of UTF-16LE.
func psCommandLine(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	return "powershell -NoProfile -NonInteractive -EncodedCommand " + base64.StdEncoding.EncodeToString(b)
}

// DecodePowerShell reverses psCommandLine's encoding (for tests and
// transcripts): it returns the script of an -EncodedCommand line.
func DecodePowerShell(cmdline string) (string, error) {
	i := strings.LastIndex(cmdline, " ")
	raw, err := base64.StdEncoding.DecodeString(cmdline[i+1:])
	if err != nil || len(raw)%2 != 0 {
		return "", fmt.Errorf("not an -EncodedCommand line")
	}
	u := make([]uint16, len(raw)/2)
	for j := range u {
		u[j] = uint16(raw[2*j]) | uint16(raw[2*j+1])<<8
	}
	return string(utf16.Decode(u)), nil
}

// psRunScript renders a program call on Windows. Windows PowerShell 5.1
// passes arguments to a native program by joining them into one command
// line without escaping embedded double quotes (fixed only in PowerShell
// 7.3), so an argument holding `"` could split into several. The script
// therefore builds that command line itself (winCommandLine: the quoting
// that CommandLineToArgvW and the Microsoft C runtime undo) and starts the
// program with System.Diagnostics.Process: the program is found like `&`
// finds it (Get-Command, applications only, so no alias or function can
// stand in), its stdout and stderr are the script's own (bytes pass
// through untouched), its stdin is the script's standard input copied
// byte for byte with withStdin (else empty), and the script exits with its
// exit code. cmd.exe parses a batch file's command line by other rules
// (and expands %VAR% even inside quotes), so a .bat/.cmd program is
// refused when an argument holds anything but letters, digits, spaces and
// -_.:/\@+~.
func psRunScript(argv []string, env map[string]string, withStdin bool) (string, error) {
	body, err := psRunBody(argv, env, withStdin)
	if err != nil {
		return "", err
	}
	return psPrelude + body, nil
}

// psRunBody is psRunScript without its prelude: the part that sets the
// environment and runs the program.
func psRunBody(argv []string, env map[string]string, withStdin bool) (string, error) {
	if len(argv) == 0 || argv[0] == "" {
		return "", fmt.Errorf("empty program")
	}
	line, err := winCommandLine(argv[1:])
	if err != nil {
		return "", err
	}
	if strings.ContainsRune(argv[0], 0) {
		return "", fmt.Errorf("program %q contains a NUL character", argv[0])
	}
	var b strings.Builder
	keys, err := envKeys(env)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		b.WriteString("$env:" + k + " = " + psQuote(env[k]) + "\n")
	}
	b.WriteString("$exe = (Get-Command -Name " + psQuote(psWildcardEscape(argv[0])) + " -CommandType Application -TotalCount 1).Path\n")
	for i, a := range argv[1:] {
		if !batchSafe(a) {
			b.WriteString("if ($exe -match '\\.(bat|cmd)$') { [Console]::Error.WriteLine('hawiz: ' + $exe + " +
				psQuote(fmt.Sprintf(" is a batch file, whose command line cmd.exe parses by its own rules: refusing argument %d (%s)", i+1, refusalText(a))) +
				"); exit 126 }\n")
			break
		}
	}
	b.WriteString("$si = [Diagnostics.ProcessStartInfo]::new($exe, " + psQuote(line) + ")\n")
	b.WriteString("$si.UseShellExecute = $false\n$si.RedirectStandardInput = $true\n")
	b.WriteString("$c = [Diagnostics.Process]::Start($si)\n")
	if withStdin {
		b.WriteString("try { [Console]::OpenStandardInput().CopyTo($c.StandardInput.BaseStream); $c.StandardInput.Close() } catch [IO.IOException] { }\n")
	} else {
		b.WriteString("$c.StandardInput.Close()\n")
	}
	b.WriteString("$c.WaitForExit()\nexit $c.ExitCode\n")
	return b.String(), nil
}

// maxWinCommandLine is CreateProcess's limit on a command line, in UTF-16
// code units with its terminating NUL; the program's quoted path comes on
// top of the arguments, so they get somewhat less.
const maxWinCommandLine = 32767

// winCommandLine joins args into the arguments part of a Win32 command line
// that CommandLineToArgvW and the Microsoft C runtime split back into
// exactly args: an argument without space, tab, newline, vertical tab or
// double quote, and not empty, goes as it is; any other is put in double
// quotes, each `"` in it escaped as \", the backslashes before a `"` or
// before the closing quote doubled (other backslashes are literal).
func winCommandLine(args []string) (string, error) {
	var b strings.Builder
	for i, a := range args {
		if strings.ContainsRune(a, 0) {
			return "", fmt.Errorf("argument %d (%q) contains a NUL character, which a Windows command line cannot carry", i+1, a)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(winArg(a))
	}
	if n := len(utf16.Encode([]rune(b.String()))); n > maxWinCommandLine-300 {
		return "", fmt.Errorf("the arguments make a Windows command line of %d characters; with the program's path it must stay under %d", n, maxWinCommandLine)
	}
	return b.String(), nil
}

func winArg(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\n\v\"") {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	bs := 0 // backslashes not yet written
	for i := 0; i < len(a); i++ {
		switch c := a[i]; c {
		case '\\':
			bs++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*bs+1))
		default:
			b.WriteString(strings.Repeat(`\`, bs))
		}
		b.WriteByte(a[i])
		bs = 0
	}
	b.WriteString(strings.Repeat(`\`, 2*bs))
	b.WriteByte('"')
	return b.String()
}

// batchSafe: a is safe on a batch file's command line (cmd.exe's own
// parsing): letters, digits, spaces and -_.:/\@+~ only.
func batchSafe(a string) bool {
	for _, r := range a {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(` -_.:/\@+~`, r) {
			return false
		}
	}
	return true
}

// psWildcardEscape escapes PowerShell's wildcard characters (Get-Command
// -Name takes a pattern): *, ?, [, ] and the backtick itself.
func psWildcardEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("*?[]`", r) {
			b.WriteByte('`')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fileModeString renders the permission (and setuid/setgid/sticky) bits as
// chmod's octal, e.g. "644", "4755". 0 renders as "" (keep).
func fileModeString(m fs.FileMode) string {
	if m == 0 {
		return ""
	}
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%o", v)
}

// unixMode converts a raw st_mode to fs.FileMode.
func unixMode(raw uint32) fs.FileMode {
	m := fs.FileMode(raw & 0o777)
	switch raw & 0o170000 {
	case 0o040000:
		m |= fs.ModeDir
	case 0o120000:
		m |= fs.ModeSymlink
	case 0o010000:
		m |= fs.ModeNamedPipe
	case 0o140000:
		m |= fs.ModeSocket
	case 0o020000:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		m |= fs.ModeDevice
	}
	if raw&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if raw&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if raw&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// ---- POSIX scripts (constants; data comes as "$1", "$2", ...) ----

// statLine sets st to "SIZE RAWMODEHEX MTIME OWNER GROUP" for "$p", MTIME
// with nanoseconds (%.9Y) when the remote stat has them (GNU coreutils),
// else whole seconds: a stat that refuses %.9Y or prints anything
// but digits there is asked again with %Y.
const statLine = `st=$(stat -L -c '%s %f %.9Y %U %G' -- "$p" 2>/dev/null) || st=
t=${st#* * }; t=${t%% *}
case $t in ''|.*|*.|*.*.*|*[!0-9.]*) st=$(stat -L -c '%s %f %Y %U %G' -- "$p") || exit 1 ;; esac
`

// statScript prints "absent", or "exists SHA SIZE RAWMODEHEX MTIME OWNER GROUP"
// (SHA "-" for non-regular files). Follows symlinks.
const statScript = `p=$1
if [ ! -e "$p" ]; then echo absent; exit 0; fi
` + statLine + `h=-
if [ -f "$p" ]; then h=$(sha256sum < "$p") || exit 1; h=${h%% *}; fi
echo "exists $h $st"`

// readScript reports the stat line on stderr, then the content on stdout.
const readScript = `p=$1
if [ ! -e "$p" ]; then echo hawiz-absent >&2; exit 2; fi
` + statLine + `echo "hawiz-stat:exists - $st" >&2
exec cat -- "$p"`

// writeScript: $1 path, $2 CAS hash ("" none, "absent"), $3 new hash,
// $4 mode ("" keep), $5 owner, $6 group, $7 backup (1/0), $8 UTC timestamps
// (space-separated, the write's second first): the backup is named with the
// first one no backup of the file has yet, so a second write within the same
// second never overwrites the first one's backup.
// Content on stdin. Exit 3 = CAS refused (stderr hawiz-cas:CURRENT, and
// hawiz-backup:PATH when the file changed after its backup was taken: the
// backup, of the content the caller read, is kept),
// 4 = failure, 5 = interrupted, 6 = refused (stderr hawiz-refuse:WHY: a
// dangling symlink, a loop of them, not a regular file). Stdout:
// hawiz-write:changed:BACKUP or hawiz-write:unchanged:; a change also
// tells the replaced content's hash (or "absent") on stderr as
// hawiz-prev:SHA (the change journal's "before").
//
// A symlink (or a chain of them) is followed to the file it names, and that
// file is replaced, by a rename in its own directory: the links stay links.
// The new file gets the old one's mode and owner (numeric ids: an id without
// a name is kept too), set on the private temp file (umask 077, so 0600)
// before the rename: chown first, as chown may clear setuid/setgid, then
// chmod. The file in place is never chmod'ed or chown'ed: the same content
// with another mode or owner is written again. The backup is a copy (cp -p:
// the old file's mode, owner and times) made under a temp name of the same
// kind and renamed to its final name, so no one can have it follow a planted
// symlink or see it half-written.
//
// It runs as few programs as it can (each costs a fork and exec on the
// server, per write): the directory and name by parameter expansion, one
// stat for the target's and the temp file's mode and owner, chmod/chown of
// the temp file only when they differ from what it must get.
const writeScript = `p=$1 cas=$2 want=$3 mode=$4 owner=$5 group=$6 backup=$7 ts=$8
umask 077
nl='
'
drain() { cat >/dev/null; }
refuse() { drain; echo "hawiz-refuse:$1" >&2; exit 6; }
fmt=%a:%u:%g:%U:%G
m= u= g= U= G=
parse() { m=${1%%:*}; r=${1#*:}; u=${r%%:*}; r=${r#*:}; g=${r%%:*}; r=${r#*:}; U=${r%%:*}; G=${r#*:}; }
n=0
while [ -L "$p" ]; do
  n=$((n+1)); if [ "$n" -gt 40 ]; then refuse "$1: too many levels of symbolic links"; fi
  l=$(readlink -- "$p" && echo .) || { drain; exit 4; }
  l=${l%"$nl."}
  case $l in
  /*) p=$l ;;
  *) case $p in */*) p=${p%/*}/$l ;; *) p=$l ;; esac ;;
  esac
done
if [ "$n" -gt 0 ] && [ ! -e "$p" ]; then refuse "$1 is a symbolic link to $p, which does not exist"; fi
if [ -e "$p" ] && [ ! -f "$p" ]; then refuse "$p is not a regular file"; fi
case $p in
*/) dir=$(dirname -- "$p") && base=$(basename -- "$p") || { drain; exit 4; } ;;
*/*) dir=${p%/*} base=${p##*/}; if [ -z "$dir" ]; then dir=/; fi ;;
*) dir=. base=$p ;;
esac
for t in "$dir/.$base.hawiz-tmp."*; do if [ -f "$t" ]; then rm -f -- "$t"; fi; done
cur=absent
if [ -e "$p" ]; then cur=$(sha256sum < "$p") || { drain; exit 4; }; cur=${cur%% *}; fi
if [ -n "$cas" ] && [ "$cas" != "$cur" ]; then drain; echo "hawiz-cas:$cur" >&2; exit 3; fi
same=
if [ "$cur" = "$want" ]; then
  if [ -n "$mode$owner$group" ]; then
    st=$(stat -L -c "$fmt" -- "$p") || { drain; exit 4; }
    parse "$st"
    same=1
    if [ -n "$mode" ] && [ "$mode" != "$m" ]; then same=; fi
    if [ -n "$owner" ] && [ "$owner" != "$u" ] && [ "$owner" != "$U" ]; then same=; fi
    if [ -n "$group" ] && [ "$group" != "$g" ] && [ "$group" != "$G" ]; then same=; fi
    if [ -z "$same" ]; then backup=0; fi
  else
    same=1
  fi
  if [ -n "$same" ]; then drain; echo "hawiz-write:unchanged:"; exit 0; fi
fi
bt=
tmp=$(mktemp -- "$dir/.$base.hawiz-tmp.XXXXXXXX") || { drain; exit 4; }
trap 'rm -f -- "$tmp"; if [ -n "$bt" ]; then rm -f -- "$bt"; fi' EXIT
trap 'exit 5' HUP INT TERM PIPE
dd of="$tmp" bs=65536 conv=fsync 2>/dev/null || exit 4
got=$(sha256sum < "$tmp") || exit 4; got=${got%% *}
if [ "$got" != "$want" ]; then echo "hawiz-short:$got" >&2; exit 4; fi
m= u= g= U= G=
if [ "$cur" != absent ]; then
  st=$(stat -L -c "$fmt" -- "$p" "$tmp") || exit 4
  parse "${st%%"$nl"*}"
  mode=${mode:-$m} owner=${owner:-$u} group=${group:-$g}
  parse "${st#*"$nl"}"
else
  if [ -z "$mode" ]; then mode=644; fi
  if [ -n "$owner$group" ]; then st=$(stat -L -c "$fmt" -- "$tmp") || exit 4; parse "$st"; fi
fi
og=
if [ -n "$owner" ] && [ "$owner" != "$u" ] && [ "$owner" != "$U" ]; then og=$owner; fi
if [ -n "$group" ] && [ "$group" != "$g" ] && [ "$group" != "$G" ]; then og=$og:$group; fi
if [ -n "$og" ]; then chown -- "$og" "$tmp" || exit 4; fi
if [ "$m" != "$mode" ]; then chmod -- "$mode" "$tmp" || exit 4; fi
b=
if [ "$backup" = 1 ] && [ "$cur" != absent ]; then
  for t in $ts; do b="$p.hawiz-$t.bak"; if [ ! -e "$b" ] && [ ! -L "$b" ]; then break; fi; b=; done
  if [ -z "$b" ]; then echo "hawiz: no free backup name for $p" >&2; exit 4; fi
  bt=$(mktemp -- "$dir/.$base.hawiz-tmp.XXXXXXXX") || exit 4
  cp -p -- "$p" "$bt" || exit 4
  mv -f -- "$bt" "$b" || exit 4
  bt=
fi
if [ -n "$cas" ]; then now=absent; if [ -e "$p" ]; then now=$(sha256sum < "$p") || exit 4; now=${now%% *}; fi
  if [ "$now" != "$cas" ]; then echo "hawiz-cas:$now" >&2; if [ -n "$b" ]; then echo "hawiz-backup:$b" >&2; fi; exit 3; fi
fi
mv -f -- "$tmp" "$p" || exit 4
sync -- "$dir" 2>/dev/null || true
echo "hawiz-prev:$cur" >&2
echo "hawiz-write:changed:$b"`

// ---- PowerShell scripts (rendered with their data as quoted literals) ----

func psStatScript(path string) string {
	return psPrelude + "$p = " + psQuote(path) + `
if (-not (Test-Path -LiteralPath $p)) { [Console]::Out.Write("absent` + "`n" + `"); exit 0 }
$i = Get-Item -LiteralPath $p -Force
$h = '-'; $m = 16877; $n = 0
if (-not $i.PSIsContainer) { $h = (Get-FileHash -LiteralPath $p -Algorithm SHA256).Hash.ToLower(); $m = 33188; $n = $i.Length }
$o = (Get-Acl -LiteralPath $p).Owner
$w = $i.LastWriteTimeUtc; $t = '{0}.{1:D7}' -f ([DateTimeOffset]$w).ToUnixTimeSeconds(), ($w.Ticks % 10000000)
[Console]::Out.Write(("exists` + "`t{0}`t{1}`t{2:x}`t{3}`t{4}`t{4}`n" + `" -f $h, $n, $m, $t, $o))
`
}

func psReadScript(path string) string {
	return psPrelude + "$p = " + psQuote(path) + `
if (-not (Test-Path -LiteralPath $p -PathType Leaf)) { [Console]::Error.WriteLine('hawiz-absent'); exit 2 }
$i = Get-Item -LiteralPath $p -Force
$o = (Get-Acl -LiteralPath $p).Owner
$w = $i.LastWriteTimeUtc; $t = '{0}.{1:D7}' -f ([DateTimeOffset]$w).ToUnixTimeSeconds(), ($w.Ticks % 10000000)
[Console]::Error.WriteLine(("hawiz-stat:exists` + "`t-`t{0}`t81a4`t{1}`t{2}`t{2}" + `" -f $i.Length, $t, $o))
$b = [IO.File]::ReadAllBytes($p)
$s = [Console]::OpenStandardOutput()
$s.Write($b, 0, $b.Length)
$s.Flush()
`
}

// psWriteScript renders the Windows write: the same contract as writeScript
// (exit 3 CAS, 4 failure, 6 refused; hawiz-write: on stdout). A symbolic link
// (a chain of them) is followed to the file it names, with PowerShell 5.1's
// own Get-Item .LinkType/.Target (relative targets against the link's
// directory, the \??\ prefix of a raw target dropped); a link to a missing
// file, a loop, a directory, and any other reparse point are refused. The
// temp file is created with the old file's DACL (FileStream with a
// FileSecurity: never, not even while it is written, more open than the
// file it replaces; a new file inherits its directory's). It replaces the
// file with [IO.File]::Replace (ReplaceFile: the old file's DACL, times and
// identity carry over, and a failure leaves both files under their names),
// the old file moving to the backup's name, so the backup is the old file
// itself, or to a temp name removed afterwards.
func psWriteScript(path, cas, want, ts string, backup bool) string {
	bk := "$false"
	if backup {
		bk = "$true"
	}
	return psPrelude + "$p = " + psQuote(path) + "; $cas = " + psQuote(cas) + "; $want = " + psQuote(want) +
		"; $backup = " + bk + "; $ts = " + psQuote(ts) + `
$in = [Console]::OpenStandardInput()
function Refuse([string]$why) { $in.CopyTo([IO.Stream]::Null); [Console]::Error.WriteLine('hawiz-refuse:' + $why); exit 6 }
$full = [IO.Path]::GetFullPath($p)
$n = 0
while ($true) {
  $fi = [IO.FileInfo]::new($full)
  if (-not $fi.Exists -or ($fi.Attributes -band [IO.FileAttributes]::ReparsePoint) -eq 0) { break }
  $li = Get-Item -LiteralPath $full -Force
  if ($li.LinkType -ne 'SymbolicLink') { Refuse ($full + ' is a reparse point that is not a symbolic link (' + $li.LinkType + ')') }
  $n++
  if ($n -gt 40) { Refuse ($p + ': too many levels of symbolic links') }
  $l = [string]@($li.Target)[0]
  if ($l -eq '') { Refuse ($full + ' is a symbolic link whose target cannot be read') }
  if ($l.StartsWith('\??\UNC\')) { $l = '\\' + $l.Substring(8) } elseif ($l.StartsWith('\??\')) { $l = $l.Substring(4) }
  $full = [IO.Path]::GetFullPath([IO.Path]::Combine([IO.Path]::GetDirectoryName($full), $l))
}
if ([IO.Directory]::Exists($full)) { Refuse ($full + ' is not a regular file') }
if ($n -gt 0 -and -not [IO.File]::Exists($full)) { Refuse ($p + ' is a symbolic link to ' + $full + ', which does not exist') }
$cur = 'absent'
if ([IO.File]::Exists($full)) { $cur = (Get-FileHash -LiteralPath $full -Algorithm SHA256).Hash.ToLower() }
if ($cas -ne '' -and $cas -ne $cur) { $in.CopyTo([IO.Stream]::Null); [Console]::Error.WriteLine("hawiz-cas:$cur"); exit 3 }
if ($cur -eq $want) { $in.CopyTo([IO.Stream]::Null); [Console]::Out.WriteLine('hawiz-write:unchanged:'); exit 0 }
$dir = [IO.Path]::GetDirectoryName($full)
$base = [IO.Path]::GetFileName($full)
Get-ChildItem -LiteralPath $dir -Force -Filter ".$base.hawiz-tmp.*" -ErrorAction SilentlyContinue | Remove-Item -Force -ErrorAction SilentlyContinue
function Temp-Name { [IO.Path]::Combine($dir, ".$base.hawiz-tmp." + [guid]::NewGuid().ToString('N')) }
$tmp = Temp-Name
if ($cur -eq 'absent') {
  $f = [IO.FileStream]::new($tmp, [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, [IO.FileShare]::None)
} else {
  $sec = [Security.AccessControl.FileSecurity]::new()
  $sec.SetSecurityDescriptorSddlForm((Get-Acl -LiteralPath $full).GetSecurityDescriptorSddlForm('Access'), 'Access')
  $f = [IO.FileStream]::new($tmp, [IO.FileMode]::CreateNew, [Security.AccessControl.FileSystemRights]::Write, [IO.FileShare]::None, 65536, [IO.FileOptions]::None, $sec)
}
try { $in.CopyTo($f); $f.Flush($true) } finally { $f.Close() }
$got = (Get-FileHash -LiteralPath $tmp -Algorithm SHA256).Hash.ToLower()
if ($got -ne $want) { Remove-Item -LiteralPath $tmp -Force; [Console]::Error.WriteLine("hawiz-short:$got"); exit 4 }
$b = ''
if ($backup -and $cur -ne 'absent') {
  foreach ($t in $ts.Split(' ')) { $b = "$full.hawiz-$t.bak"; if (-not [IO.File]::Exists($b) -and -not [IO.Directory]::Exists($b)) { break }; $b = '' }
  if ($b -eq '') { Remove-Item -LiteralPath $tmp -Force; [Console]::Error.WriteLine("hawiz: no free backup name for $full"); exit 4 }
}
if ($cas -ne '') {
  $now = 'absent'
  if ([IO.File]::Exists($full)) { $now = (Get-FileHash -LiteralPath $full -Algorithm SHA256).Hash.ToLower() }
  if ($now -ne $cas) { Remove-Item -LiteralPath $tmp -Force; [Console]::Error.WriteLine("hawiz-cas:$now"); exit 3 }
}
if ($cur -eq 'absent') {
  [IO.File]::Move($tmp, $full)
} elseif ($b -ne '') {
  [IO.File]::Replace($tmp, $full, $b, $true)
} else {
  $old = Temp-Name
  [IO.File]::Replace($tmp, $full, $old, $true)
  Remove-Item -LiteralPath $old -Force
}
[Console]::Out.WriteLine("hawiz-write:changed:$b")
`
}

// psServiceScript renders a Windows service action through the Service
// cmdlets. is-active exits 0 when Running, 3 otherwise.
func psServiceScript(name string, a ServiceAction) (string, error) {
	q := psQuote(name)
	var body string
	switch a {
	case ServiceStart:
		body = "Start-Service -Name " + q
	case ServiceStop:
		body = "Stop-Service -Name " + q + " -Force"
	case ServiceRestart:
		body = "Restart-Service -Name " + q + " -Force"
	case ServiceIsActive:
		body = "if ((Get-Service -Name " + q + ").Status -eq 'Running') { exit 0 } else { exit 3 }"
	default:
		return "", fmt.Errorf("unknown service action %q", a)
	}
	return psPrelude + body + "\n", nil
}

// serviceArgv renders a service action for POSIX hosts (and, for Kind
// "command", the argv used on either flavour).
func serviceArgv(m ServiceManager, name string, a ServiceAction) ([]string, error) {
	switch a {
	case ServiceStart, ServiceStop, ServiceRestart, ServiceIsActive:
	default:
		return nil, fmt.Errorf("unknown service action %q", a)
	}
	if name == "" {
		return nil, fmt.Errorf("empty service name")
	}
	switch m.Kind {
	case "", "systemctl":
		if a == ServiceIsActive { // status, not is-active: exit 4 tells a unit that does not exist
			return []string{"systemctl", "status", "--no-pager", "--lines=0", "--", name}, nil
		}
		return []string{"systemctl", string(a), "--", name}, nil
	case "service":
		if a == ServiceIsActive {
			return []string{"service", name, "status"}, nil
		}
		return []string{"service", name, string(a)}, nil
	case "command":
		if len(m.Command) == 0 {
			return nil, fmt.Errorf("service manager kind \"command\" needs Command")
		}
		tmpl := m.Command
		if a == ServiceIsActive && len(m.IsActive) > 0 {
			tmpl = m.IsActive
		}
		if tmpl[0] == "" {
			return nil, fmt.Errorf("service manager: empty program")
		}
		out := make([]string, len(tmpl))
		for i, t := range tmpl {
			t = strings.ReplaceAll(t, "{action}", string(a))
			out[i] = strings.ReplaceAll(t, "{service}", name)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown service manager kind %q", m.Kind)
	}
}

// checkServiceManager refuses the command-only fields on other kinds.
func checkServiceManager(m ServiceManager) error {
	if m.Kind != "command" && (len(m.IsActive) > 0 || m.StopStart) {
		return fmt.Errorf("service manager kind %q: IsActive and StopStart are for kind \"command\"", m.Kind)
	}
	return nil
}

// ---- Windows stage directories (see stage.go) ----

// psSIDSystem and psSIDAdmins are the only accounts a Windows stage
// directory grants anything: LocalSystem and BUILTIN\Administrators.
const (
	psSIDSystem         = "S-1-5-18"
	psSIDAdmins         = "S-1-5-32-544"
	psSIDTrustedInstall = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
)

// psStagePrivate defines Test-Private: $d is a real directory (no link or
// junction), owned by SYSTEM, Administrators or this session's user, whose
// DACL is protected (inherits nothing) and names no account but SYSTEM and
// Administrators.
const psStagePrivate = `$me = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value
function Test-Private([string]$d) {
  $i = Get-Item -LiteralPath $d -Force -ErrorAction SilentlyContinue
  if ($null -eq $i -or -not $i.PSIsContainer -or ($i.Attributes -band [IO.FileAttributes]::ReparsePoint) -ne 0) { return $false }
  $acl = Get-Acl -LiteralPath $i.FullName
  if (-not $acl.AreAccessRulesProtected) { return $false }
  if (@('` + psSIDSystem + `', '` + psSIDAdmins + `', $me) -notcontains $acl.GetOwner([Security.Principal.SecurityIdentifier]).Value) { return $false }
  foreach ($r in $acl.GetAccessRules($true, $true, [Security.Principal.SecurityIdentifier])) {
    if (@('` + psSIDSystem + `', '` + psSIDAdmins + `') -notcontains $r.IdentityReference.Value) { return $false }
  }
  return $true
}
`

// psStageMakeScript renders the Windows counterpart of stageMakeScript
// (prefix "" = only check the parent): the session must be an elevated
// administrator (else exit 5, hawiz-refused:WHY). The parent and every
// directory above it must be a real directory (no link or junction),
// owned by SYSTEM, Administrators, TrustedInstaller or this session's
// user, and no other account may have, on the directory itself, a right
// to delete or rename it or what is in it or to change its ACL or owner:
// otherwise another user could move the stage directory, or one above it,
// away and put their own in its place (exit 3, hawiz-unsafe:WHY). The
// directory is PREFIX. and ten random letters and digits from a
// cryptographic generator, refused when the name exists (exit 5), and
// made with its security descriptor in the same call
// ([IO.Directory]::CreateDirectory with a DirectorySecurity): inheritance
// disabled, SYSTEM and Administrators full control, nobody else anything,
// so it is never, not even for a moment, open to others. It is checked
// afterwards (Test-Private, and empty): a directory of that name that
// someone else made at the same moment is refused (exit 5). Stdout
// hawiz-stage:PATH.
func psStageMakeScript(parent, prefix string) string {
	return psPrelude + "$parent = " + psQuote(parent) + "; $pre = " + psQuote(prefix) + "\n" + psStagePrivate + `function Unsafe([string]$why) { [Console]::Error.WriteLine('hawiz-unsafe:' + $why); exit 3 }
function Refuse([string]$why) { [Console]::Error.WriteLine('hawiz-refused:' + $why); exit 5 }
if (-not ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) { Refuse 'this session is not an elevated administrator' }
$pi = Get-Item -LiteralPath $parent -Force -ErrorAction SilentlyContinue
if ($null -eq $pi -or -not $pi.PSIsContainer) { Unsafe ($parent + ' is not a directory') }
$trusted = @('` + psSIDSystem + `', '` + psSIDAdmins + `', '` + psSIDTrustedInstall + `', $me)
$bad = 0x10000 -bor 0x40 -bor 0x40000 -bor 0x80000 -bor 0x10000000
for ($d = $pi; $null -ne $d; $d = $d.Parent) {
  if (($d.Attributes -band [IO.FileAttributes]::ReparsePoint) -ne 0) { Unsafe ($d.FullName + ' is a link or junction') }
  $acl = Get-Acl -LiteralPath $d.FullName
  $o = $acl.GetOwner([Security.Principal.SecurityIdentifier]).Value
  if ($trusted -notcontains $o) { Unsafe ($d.FullName + ' is owned by ' + $o + ', neither SYSTEM, Administrators, TrustedInstaller nor this user') }
  foreach ($r in $acl.GetAccessRules($true, $true, [Security.Principal.SecurityIdentifier])) {
    if ($r.AccessControlType -ne [Security.AccessControl.AccessControlType]::Allow) { continue }
    if (($r.PropagationFlags -band [Security.AccessControl.PropagationFlags]::InheritOnly) -ne 0) { continue }
    if ($trusted -notcontains $r.IdentityReference.Value -and ([int64]$r.FileSystemRights -band $bad) -ne 0) { Unsafe ($d.FullName + ' lets ' + $r.IdentityReference.Value + ' delete, rename or re-permission what is in it') }
  }
}
if ($pre -eq '') { [Console]::Out.WriteLine('hawiz-stage:' + $pi.FullName); exit 0 }
$b = New-Object 'byte[]' 10
$rng = [Security.Cryptography.RandomNumberGenerator]::Create()
$rng.GetBytes($b)
$rng.Dispose()
$chars = 'abcdefghijklmnopqrstuvwxyz0123456789'
$s = [IO.Path]::Combine($pi.FullName, $pre + '.' + (-join ($b | ForEach-Object { $chars[$_ % 36] })))
if (Test-Path -LiteralPath $s) { Refuse ($s + ' already exists') }
$sec = [Security.AccessControl.DirectorySecurity]::new()
$sec.SetAccessRuleProtection($true, $false)
foreach ($sid in '` + psSIDSystem + `', '` + psSIDAdmins + `') {
  $sec.AddAccessRule([Security.AccessControl.FileSystemAccessRule]::new([Security.Principal.SecurityIdentifier]::new($sid), [Security.AccessControl.FileSystemRights]::FullControl, [Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit', [Security.AccessControl.PropagationFlags]::None, [Security.AccessControl.AccessControlType]::Allow))
}
$null = [IO.Directory]::CreateDirectory($s, $sec)
if (-not (Test-Private $s) -or @(Get-ChildItem -LiteralPath $s -Force).Count -ne 0) { Refuse ($s + ' is not the private directory this session made (another account made one of that name at the same moment?)') }
[Console]::Out.WriteLine('hawiz-stage:' + $s)
`
}

// psStageListScript renders the Windows counterpart of stageListScript:
// stdout hawiz-stage:PATH for each directory PREFIX.XXXXXXXXXX (ten
// lower-case letters and digits) under parent that Test-Private accepts. A
// parent that does not exist holds none.
func psStageListScript(parent, prefix string) string {
	return psPrelude + "$parent = " + psQuote(parent) + "; $pre = " + psQuote(prefix) + "\n" + psStagePrivate + `$pi = Get-Item -LiteralPath $parent -Force -ErrorAction SilentlyContinue
if ($null -eq $pi -or -not $pi.PSIsContainer) { exit 0 }
$re = '^' + [regex]::Escape($pre) + '\.[a-z0-9]{10}$'
foreach ($c in @(Get-ChildItem -LiteralPath $pi.FullName -Force -Directory -Filter ($pre + '.*'))) {
  if ($c.Name -cmatch $re -and (Test-Private $c.FullName)) { [Console]::Out.WriteLine('hawiz-stage:' + $c.FullName) }
}
`
}

// psStageRemoveScript renders the Windows counterpart of
// stageRemoveScript: exit 3 with hawiz-refused:WHY when dir is not one
// Test-Private accepts; stdout hawiz-stage:removed or hawiz-stage:absent.
func psStageRemoveScript(dir string) string {
	return psPrelude + "$d = " + psQuote(dir) + "\n" + psStagePrivate + `if ($null -eq (Get-Item -LiteralPath $d -Force -ErrorAction SilentlyContinue)) { [Console]::Out.WriteLine('hawiz-stage:absent'); exit 0 }
if (-not (Test-Private $d)) { [Console]::Error.WriteLine('hawiz-refused:' + $d + ' is not a private directory of SYSTEM and Administrators (a link, a file, or another owner or ACL)'); exit 3 }
Remove-Item -LiteralPath $d -Recurse -Force
[Console]::Out.WriteLine('hawiz-stage:removed')
`
}

// psStageCopyScript renders the copy of the file src to dst, a new name in
// a stage directory: [IO.File]::Copy refuses a dst already there, and the
// copy gets the stage directory's inherited ACL (CopyFile copies no DACL).
func psStageCopyScript(src, dst string) string {
	return psPrelude + "[IO.File]::Copy(" + psQuote(src) + ", " + psQuote(dst) + ", $false)\n"
}

// psVerifiedRunScript renders the Windows counterpart of verifyScript: in
// the script that runs argv (psRunBody), right before it, file's directory
// must be a private stage directory (Test-Private) holding nothing but
// file, and file is opened for reading with sharing for reading only, so
// that no one (an administrator included) can write, replace, rename or
// delete it, or rename a directory above it, until the script ends, and
// hashed through that handle; the program runs only when the SHA-256 is
// sum, with the handle still open. Exit 97 with hawiz-sha256:GOT (or
// unreadable) on stderr, or with hawiz-unsafe:WHY, when it did not run.
func psVerifiedRunScript(file, sum string, argv []string, env map[string]string, withStdin bool) (string, error) {
	body, err := psRunBody(argv, env, withStdin)
	if err != nil {
		return "", err
	}
	return psPrelude + "$f = " + psQuote(file) + "; $want = " + psQuote(sum) + "\n" + psStagePrivate + `$dir = [IO.Path]::GetDirectoryName($f)
if (-not (Test-Private $dir)) { [Console]::Error.WriteLine('hawiz-unsafe:' + $dir + ' is not a private directory of SYSTEM and Administrators'); exit 97 }
if (@(Get-ChildItem -LiteralPath $dir -Force).Count -ne 1) { [Console]::Error.WriteLine('hawiz-unsafe:' + $dir + ' holds more than the installer'); exit 97 }
try { $hold = [IO.File]::Open($f, [IO.FileMode]::Open, [IO.FileAccess]::Read, [IO.FileShare]::Read) } catch { [Console]::Error.WriteLine('hawiz-sha256:unreadable'); exit 97 }
$sha = [Security.Cryptography.SHA256]::Create()
$got = -join ($sha.ComputeHash($hold) | ForEach-Object { $_.ToString('x2') })
if ($got -ne $want) { $hold.Close(); [Console]::Error.WriteLine('hawiz-sha256:' + $got); exit 97 }
` + body, nil
}
