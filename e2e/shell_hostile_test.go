//go:build e2e

package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// hostileBlocks is stdin that the resident shell's loop would run as
// commands (`touch marker` as root) if any byte of it ever reached it.
func hostileBlocks(size int, marker string) []byte {
	tok := "hawiz-end-" + strings.Repeat("ab", 16)
	block := tok + "\n-1\ntouch " + remote.ShQuote(marker) + "\n" + tok + "\n"
	var b bytes.Buffer
	for b.Len() < size {
		b.WriteString(block)
	}
	return b.Bytes()[:size]
}

// Issue 15 item 1 on real sshd and sudo: the root resident shell (through
// sudo with a password, and passwordless) never runs a byte of a command's
// stdin, whatever the command does; a write onto a full filesystem (64 KiB
// tmpfs) fails cleanly and the next command is in step; the shell's private
// directory is root's, 0700, and gone after the fleet closes.
func TestResidentShellHostileStdin(t *testing.T) {
	l := needLab(t)
	for _, tc := range []struct {
		name string
		hc   remote.HostConfig
	}{
		{"passwordless sudo", l.host(1, l.User)},
		{"sudo with a password", func() remote.HostConfig { hc := l.host(1, l.PWUser); hc.SudoPassword = l.Password; return hc }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, 120*time.Second)
			f := connect(t, l.opts(t), tc.hc)
			h := f.Host(l.Names[1])
			dir := "/srv/hawiz-e2e-hostile"
			marker := dir + "/pwned"
			run(t, h, remote.Cmd{Program: "mkdir", Args: []string{"-p", dir + "/full"}, Sudo: true})
			t.Cleanup(func() {
				c := testContext(t, 30*time.Second)
				h.Run(c, remote.Cmd{Program: "umount", Args: []string{dir + "/full"}, Sudo: true})
				h.Run(c, remote.Cmd{Program: "rm", Args: []string{"-rf", "--", dir}, Sudo: true})
			})
			res := run(t, h, remote.Cmd{Program: "mount", Args: []string{"-t", "tmpfs", "-o", "size=64k", "hawiz-e2e-full", dir + "/full"}, Sudo: true})
			if res.ExitStatus != 0 {
				t.Fatalf("mount a 64 KiB tmpfs: %q", res.Stderr)
			}
			for _, script := range []string{`exit 0`, `head -c 100 >/dev/null; exit 4`} {
				res := run(t, h, remote.Cmd{Program: "sh", Args: []string{"-c", script}, Sudo: true, Stdin: bytes.NewReader(hostileBlocks(300<<10, marker)), Timeout: 30 * time.Second})
				next, err := h.Run(ctx, remote.Cmd{Program: "id", Args: []string{"-u"}, Sudo: true, Timeout: 20 * time.Second})
				if err != nil || string(next.Stdout) != "0\n" {
					t.Fatalf("%s (exit %d): the next root command: %v %q", script, res.ExitStatus, err, next.Stdout)
				}
			}
			// WriteFile of 300 KiB onto the full tmpfs: refused, nothing left
			// there, the shell in step.
			big := hostileBlocks(300<<10, marker)
			_, err := h.WriteFile(ctx, dir+"/full/conf", big, remote.WriteOptions{Sudo: true, Mode: 0o600})
			if err == nil {
				t.Fatal("a 300 KiB write onto a 64 KiB tmpfs succeeded")
			}
			next, err := h.Run(ctx, remote.Cmd{Program: "ls", Args: []string{"-A", dir + "/full"}, Sudo: true, Timeout: 20 * time.Second})
			if err != nil || len(next.Stdout) != 0 {
				t.Fatalf("after the refused write: %v, left %q", err, next.Stdout)
			}
			if fi, err := h.Stat(ctx, marker, true); err != nil || fi.Exists {
				t.Fatalf("stdin was run as a root command (%s exists): %v", marker, err)
			}
			// the private directory: root's, 0700
			out := run(t, h, remote.Cmd{Program: "sh", Args: []string{"-c", `for d in /tmp/hawiz-shell.*; do [ -d "$d" ] && stat -c '%U %a' "$d"; done`}, Sudo: true})
			for _, line := range strings.Split(strings.TrimSpace(string(out.Stdout)), "\n") {
				if line != "root 700" {
					t.Fatalf("a resident root shell's private directory is %q, want root 700", line)
				}
			}
		})
	}
	// every shell closed: no private directory left on the host
	f := connect(t, l.opts(t), l.host(1, l.User))
	h := f.Host(l.Names[1])
	ok := waitFor(10*time.Second, func() bool {
		res, err := h.Run(testContext(t, 20*time.Second), remote.Cmd{Program: "sh", Args: []string{"-c", `ls -d /tmp/hawiz-shell.* 2>/dev/null | wc -l`}, Sudo: true})
		// this check runs in the fleet's own root shell, which makes its
		// directory only for a command with stdin: none
		return err == nil && strings.TrimSpace(string(res.Stdout)) == "0"
	})
	if !ok {
		res := run(t, h, remote.Cmd{Program: "sh", Args: []string{"-c", `ls -ld /tmp/hawiz-shell.*`}, Sudo: true})
		t.Fatalf("resident shell directories left on %s: %s", l.Names[1], res.Stdout)
	}
}
