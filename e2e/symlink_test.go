//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hawiz/hawiz/remote"
)

// TestWriteThroughSymlink: on a real host, with sudo, a write to a symlinked
// config file (Ops Manager's conf dir linking to /etc) replaces the file the
// link names, keeps the link, and keeps that file's mode and owner (ids
// without names, as an application user may have), in the file and in its
// backup; a dangling link is refused and nothing is created.
func TestWriteThroughSymlink(t *testing.T) {
	l := needLab(t)
	f := connect(t, l.opts(t), l.host(0, l.User))
	h := f.Host(l.Names[0])
	ctx := testContext(t, 60*time.Second)
	stamp := time.Now().Format("150405.000000")
	realDir := "/etc/hawiz-e2e-symlink-" + stamp
	linkDir := "/opt/hawiz-e2e-symlink-" + stamp + "/conf"
	target := realDir + "/conf-mms.properties"
	link := linkDir + "/conf-mms.properties"
	t.Cleanup(func() {
		h.Run(testContext(t, 30*time.Second), remote.Cmd{Program: "rm", Args: []string{"-rf", "--", realDir, filepath.Dir(linkDir)}, Sudo: true})
	})
	setup := `set -e
mkdir -p -- "$1" "$2"
printf 'mongo.mongoUri=mongodb://old\n' > "$3"
chown 4242:4343 -- "$3"
chmod 0640 -- "$3"
ln -s -- "$3" "$4"
ln -s -- "$1/missing.properties" "$2/dangling.properties"`
	if res := run(t, h, remote.Cmd{Program: "sh", Args: []string{"-c", setup, "sh", realDir, linkDir, target, link}, Sudo: true}); res.ExitStatus != 0 {
		t.Fatalf("setup: %d %s", res.ExitStatus, res.Stderr)
	}

	fi, err := h.Stat(ctx, link, true)
	if err != nil || !fi.Exists {
		t.Fatalf("stat: %+v %v", fi, err)
	}
	wr, err := h.WriteFile(ctx, link, []byte("mongo.mongoUri=mongodb://new\n"), remote.WriteOptions{Sudo: true, IfSHA256: fi.SHA256, Backup: true, Secret: true})
	if err != nil || !wr.Changed {
		t.Fatalf("write through the link: %+v %v", wr, err)
	}

	onHost := func(p string) string { return l.hostPath(t, 0, p) }
	lst, err := os.Lstat(onHost(link))
	if err != nil || lst.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link is no longer a symlink: %v %v", lst.Mode(), err)
	}
	if to, _ := os.Readlink(onHost(link)); to != target {
		t.Fatalf("the link now points to %q", to)
	}
	if b, _ := os.ReadFile(onHost(target)); string(b) != "mongo.mongoUri=mongodb://new\n" {
		t.Fatalf("%s holds %q", target, b)
	}
	if !strings.HasPrefix(wr.Backup, target+".hawiz-") {
		t.Errorf("backup %s: want it next to %s", wr.Backup, target)
	}
	if b, _ := os.ReadFile(onHost(wr.Backup)); string(b) != "mongo.mongoUri=mongodb://old\n" {
		t.Errorf("backup holds %q", b)
	}
	for _, p := range []string{target, wr.Backup} {
		st, err := os.Lstat(onHost(p))
		if err != nil {
			t.Fatal(err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode() != 0o640 || sys.Uid != 4242 || sys.Gid != 4343 {
			t.Errorf("%s: %v %d:%d, want -rw-r----- 4242:4343 kept", p, st.Mode(), sys.Uid, sys.Gid)
		}
	}
	for dir, want := range map[string]int{linkDir: 2, realDir: 2} { // link + dangling link; file + backup
		ents, err := os.ReadDir(onHost(dir))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != want {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("%s holds %v", dir, names)
		}
	}

	// a dangling link: refused, naming it, and nothing created
	dangling := linkDir + "/dangling.properties"
	_, err = h.WriteFile(ctx, dangling, []byte("x\n"), remote.WriteOptions{Sudo: true})
	if err == nil || !strings.Contains(err.Error(), l.Names[0]) || !strings.Contains(err.Error(), dangling+" is a symbolic link to "+realDir+"/missing.properties, which does not exist") {
		t.Fatalf("dangling link: %v", err)
	}
	if _, err := os.Lstat(onHost(realDir + "/missing.properties")); !os.IsNotExist(err) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
}
