package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// parseStat parses "absent" or
// "exists SHA SIZE RAWMODEHEX MTIME OWNER GROUP" (tab-separated on Windows,
// where the owner may contain spaces).
func parseStat(line string) (FileInfo, error) {
	line = strings.TrimRight(line, "\r\n")
	if line == "absent" {
		return FileInfo{}, nil
	}
	var fields []string
	if strings.Contains(line, "\t") {
		fields = strings.Split(line, "\t")
	} else {
		fields = strings.Fields(line)
	}
	if len(fields) != 7 || fields[0] != "exists" {
		return FileInfo{}, fmt.Errorf("unexpected stat output %q", line)
	}
	size, err1 := strconv.ParseInt(fields[2], 10, 64)
	mode, err2 := strconv.ParseUint(fields[3], 16, 32)
	mtime, prec, err3 := parseUnixTime(fields[4])
	if err1 != nil || err2 != nil || err3 != nil {
		return FileInfo{}, fmt.Errorf("unexpected stat output %q", line)
	}
	fi := FileInfo{Exists: true, Size: size, Mode: unixMode(uint32(mode)), ModTime: mtime, ModTimePrecision: prec,
		Owner: fields[5], Group: fields[6]}
	if fields[1] != "-" {
		fi.SHA256 = fields[1]
	}
	return fi, nil
}

// parseUnixTime parses Unix seconds with an optional fraction ("SECS" or
// "SECS.DIGITS", up to 9 digits) and tells its precision: 1s for whole
// seconds and for an all-zero fraction (a file system that keeps whole
// seconds prints .000000000), else 10^-digits s.
func parseUnixTime(s string) (time.Time, time.Duration, error) {
	secs, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || len(frac) > 9 || strings.HasPrefix(secs, "+") {
		return time.Time{}, 0, fmt.Errorf("%q is not a Unix time", s)
	}
	if strings.Trim(frac, "0") == "" {
		if strings.Contains(s, ".") && frac == "" {
			return time.Time{}, 0, fmt.Errorf("%q is not a Unix time", s)
		}
		return time.Unix(n, 0).UTC(), time.Second, nil
	}
	ns, err := strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("%q is not a Unix time", s)
	}
	prec := time.Duration(1)
	for range 9 - len(frac) {
		prec *= 10
	}
	if n < 0 || strings.HasPrefix(secs, "-") { // -1.25 is 1.25 s before the epoch
		return time.Unix(n, -int64(ns)).UTC(), prec, nil
	}
	return time.Unix(n, int64(ns)).UTC(), prec, nil
}

// Stat describes path. A missing file is FileInfo{Exists: false} and no
// error. ModTime has sub-second precision when the host tells it
// (FileInfo.ModTimePrecision). The SHA-256 is computed on the server (regular files only), so a
// secret can be compared without being read back. Symlinks are followed.
func (h *Host) Stat(ctx context.Context, path string, sudo bool) (_ FileInfo, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if path == "" {
		return FileInfo{}, fmt.Errorf("host %s: stat: empty path", h.cfg.Name)
	}
	r := execReq{kind: "stat", detail: "stat " + path, argv: posixScript(statScript, path), sudo: sudo, noOutput: true}
	if h.cfg.OS == Windows {
		r.ps = psStatScript(path)
	}
	res, err := h.exec(ctx, &r)
	if err != nil {
		return FileInfo{}, err
	}
	if res.ExitStatus != 0 {
		return FileInfo{}, fmt.Errorf("host %s: stat %s: %w", h.cfg.Name, path, h.exitErr(res))
	}
	fi, err := parseStat(lastLines(string(res.Stdout), 1))
	if err != nil {
		return FileInfo{}, fmt.Errorf("host %s: stat %s: %w", h.cfg.Name, path, err)
	}
	return fi, nil
}

// ReadFile returns path's content and its FileInfo (SHA256 of the content
// read, ready for WriteOptions.IfSHA256). A missing file is an error
// wrapping fs.ErrNotExist.
func (h *Host) ReadFile(ctx context.Context, path string, sudo bool) (_ []byte, _ FileInfo, err error) {
	defer func() { err = h.f.redactErr(err) }()
	if path == "" {
		return nil, FileInfo{}, fmt.Errorf("host %s: read: empty path", h.cfg.Name)
	}
	r := execReq{kind: "read", detail: "read " + path, argv: posixScript(readScript, path), sudo: sudo, noOutput: true}
	if h.cfg.OS == Windows {
		r.ps = psReadScript(path)
	}
	res, err := h.exec(ctx, &r)
	if err != nil {
		return nil, FileInfo{}, err
	}
	stderr := string(res.Stderr)
	if res.ExitStatus == 2 && strings.Contains(stderr, "hawiz-absent") {
		return nil, FileInfo{}, fmt.Errorf("host %s: read %s: %w", h.cfg.Name, path, fs.ErrNotExist)
	}
	if res.ExitStatus != 0 {
		return nil, FileInfo{}, fmt.Errorf("host %s: read %s: %w", h.cfg.Name, path, h.exitErr(res))
	}
	var fi FileInfo
	for _, l := range strings.Split(stderr, "\n") {
		if rest, ok := strings.CutPrefix(l, "hawiz-stat:"); ok {
			if fi, err = parseStat(rest); err != nil {
				return nil, FileInfo{}, fmt.Errorf("host %s: read %s: %w", h.cfg.Name, path, err)
			}
		}
	}
	sum := sha256.Sum256(res.Stdout)
	fi.Exists = true
	fi.SHA256 = hex.EncodeToString(sum[:])
	fi.Size = int64(len(res.Stdout))
	return res.Stdout, fi, nil
}

// WriteFile replaces path with data atomically: a temp file in the same
// directory, fsync, chmod/chown, optional timestamped backup of the previous
// content, compare-and-swap check, rename. The content travels on stdin,
// never on a command line. The same content (and mode/owner) already in
// place means no write and Changed=false. A write interrupted mid-way leaves
// at most a temp file (.NAME.hawiz-tmp.XXXXXXXX), removed by the next write
// to the same path; the target is never half-written.
//
// A symlink at path (or a chain of them) is followed: the file it names is
// replaced in its own directory, the links stay, and the backup is made
// next to that file. A link to a missing file, a loop of links and a path
// that is not a regular file are refused, naming the path. The new file
// and the backup get the old file's mode and owner, set before the new
// file is put in place (so no file is ever more exposed than it was); a
// new file gets Mode, else 0644. Mode, Owner and Group, when set, are what
// the file gets.
//
// On Windows, Mode, Owner and Group are not applied (ACLs are left as they
// are) and Sudo is ignored.
func (h *Host) WriteFile(ctx context.Context, path string, data []byte, o WriteOptions) (_ WriteResult, err error) {
	defer func() { err = h.f.redactErr(err) }()
	sum := sha256.Sum256(data)
	d := fmt.Sprintf("write %s (%d bytes, sha256 %s)", path, len(data), hex.EncodeToString(sum[:]))
	if !o.Secret && h.f.opts.Transcript != nil && utf8.Valid(data) && len(data) <= maxTranscriptOutput {
		d += "\n" + string(data)
	}
	return h.write(ctx, "write", d, path, bytes.NewReader(data), hex.EncodeToString(sum[:]), o)
}

func (h *Host) write(ctx context.Context, kind, detail, path string, content io.Reader, sum string, o WriteOptions) (WriteResult, error) {
	if path == "" {
		return WriteResult{}, fmt.Errorf("host %s: %s: empty path", h.cfg.Name, kind)
	}
	if o.IfSHA256 != "" && o.IfSHA256 != "absent" && !isHexSHA256(o.IfSHA256) {
		return WriteResult{}, fmt.Errorf("host %s: %s %s: IfSHA256 %q is not a SHA-256 hex digest or \"absent\"", h.cfg.Name, kind, path, o.IfSHA256)
	}
	now := time.Now().UTC()
	// The backup's name is the write's UTC second; a backup of that name
	// already there (an earlier write in the same second) is never
	// overwritten: the script takes the next free second of these.
	stamps := make([]string, 60)
	for i := range stamps {
		stamps[i] = now.Add(time.Duration(i) * time.Second).Format("20060102T150405Z")
	}
	backup := "0"
	if o.Backup {
		backup = "1"
	}
	cas := strings.ToLower(o.IfSHA256)
	r := execReq{kind: kind, detail: detail, sudo: o.Sudo, stdin: content, noOutput: true,
		argv: posixScript(writeScript, path, cas, sum, fileModeString(o.Mode), o.Owner, o.Group, backup, strings.Join(stamps, " "))}
	if h.cfg.OS == Windows {
		r.ps = psWriteScript(path, cas, sum, strings.Join(stamps, " "), o.Backup)
	}
	res, err := h.exec(ctx, &r)
	if err != nil {
		return WriteResult{}, err
	}
	stderr := string(res.Stderr)
	switch res.ExitStatus {
	case 0:
	case 3:
		now, _ := markerLine(stderr, "hawiz-cas:")
		kept := ""
		if v, ok := markerLine(stderr, "hawiz-backup:"); ok {
			kept = "; the backup taken just before, of the content that was read, is kept: " + v
		}
		return WriteResult{}, fmt.Errorf("host %s: %s: %w (expected sha256 %s, found %s)%s", h.cfg.Name, path, ErrChanged, cas, now, kept)
	case 6:
		why := "refused by the write script"
		if v, ok := markerLine(stderr, "hawiz-refuse:"); ok {
			why = refusalText(v)
		}
		return WriteResult{}, fmt.Errorf("host %s: %s %s: refused: %s; nothing was written", h.cfg.Name, kind, path, why)
	default:
		if strings.Contains(stderr, "hawiz-short:") {
			return WriteResult{}, fmt.Errorf("host %s: %s %s: content arrived incomplete; file left unchanged", h.cfg.Name, kind, path)
		}
		return WriteResult{}, fmt.Errorf("host %s: %s %s: %w", h.cfg.Name, kind, path, h.exitErr(res))
	}
	out := lastLines(string(res.Stdout), 1)
	rest, ok := strings.CutPrefix(strings.TrimSpace(out), "hawiz-write:")
	if !ok {
		return WriteResult{}, fmt.Errorf("host %s: %s %s: unexpected output %q", h.cfg.Name, kind, path, out)
	}
	state, bak, _ := strings.Cut(rest, ":")
	wr := WriteResult{Backup: bak, SHA256: sum, Changed: state == "changed"}
	if wr.Changed {
		before, _ := markerLine(stderr, "hawiz-prev:")
		if before != "absent" && !isHexSHA256(before) {
			before = cas // Windows: what the compare-and-swap proved, if any
		}
		h.reportChange(Change{Path: path, Backup: bak, Before: before, After: sum, Sudo: o.Sudo})
	}
	return wr, nil
}

// refusalText replaces control characters (a terminal escape from a hostile
// host) in text that goes into an error message.
func refusalText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Upload copies a local file to remotePath with WriteFile's guarantees
// (atomic, backup, compare-and-swap, mode/owner). progress, when set, is
// called as bytes are sent (from another goroutine). The SHA-256 is computed
// locally and verified on the server before the file is put in place.
func (h *Host) Upload(ctx context.Context, localPath, remotePath string, o WriteOptions, progress func(done, total int64)) (_ string, err error) {
	defer func() { err = h.f.redactErr(err) }()
	f, err := os.Open(localPath)
	if err != nil {
		return "", fmt.Errorf("host %s: upload: %w", h.cfg.Name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("host %s: upload: %w", h.cfg.Name, err)
	}
	hs := sha256.New()
	if _, err := io.Copy(hs, f); err != nil {
		return "", fmt.Errorf("host %s: upload: %w", h.cfg.Name, err)
	}
	sum := hex.EncodeToString(hs.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("host %s: upload: %w", h.cfg.Name, err)
	}
	var src io.Reader = io.LimitReader(f, st.Size())
	if progress != nil {
		progress(0, st.Size())
		src = &progressReader{r: src, total: st.Size(), fn: progress}
	}
	d := fmt.Sprintf("upload %s -> %s (%d bytes, sha256 %s)", localPath, remotePath, st.Size(), sum)
	if _, err := h.write(ctx, "upload", d, remotePath, src, sum, o); err != nil {
		return "", err
	}
	return sum, nil
}

type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.fn(p.done, p.total)
	}
	return n, err
}

// markerLine is the rest of the line after the first marker (e.g.
// "hawiz-cas:") in a script's stderr, trimmed; ok is false when the marker
// is not there.
func markerLine(stderr, marker string) (string, bool) {
	i := strings.Index(stderr, marker)
	if i < 0 {
		return "", false
	}
	line, _, _ := strings.Cut(stderr[i+len(marker):], "\n")
	return strings.TrimSpace(line), true
}
