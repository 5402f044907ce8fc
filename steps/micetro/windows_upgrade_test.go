package micetro

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hawiz/hawiz/remote"
	"github.com/hawiz/hawiz/remote/sshtest"
	"github.com/hawiz/hawiz/steps"
	"golang.org/x/crypto/ssh"
)

// winStageHost plays a Windows member for micetro-central-upgrade: it
// decodes each PowerShell script hawiz sends, keeps the staging
// directories and files they make in memory, and answers as the scripts
// would. Nothing here runs PowerShell: the test checks what hawiz asks for.
type winStageHost struct {
	mu       sync.Mutex
	scripts  []string          // every decoded script, in order
	dirs     map[string]bool   // staging directories that exist
	files    map[string]string // path -> sha256 of what was uploaded
	version  string
	nextName int
}

var psVar = regexp.MustCompile(`\$(p|d|f|want|parent|pre) = '((?:[^']|'')*)'`)

// vars returns the single-quoted literals the script assigns ($p = '…').
func psVars(script string) map[string]string {
	out := map[string]string{}
	for _, m := range psVar.FindAllStringSubmatch(script, -1) {
		if _, ok := out[m[1]]; !ok {
			out[m[1]] = strings.ReplaceAll(m[2], "''", "'")
		}
	}
	return out
}

func (w *winStageHost) exec(_ context.Context, req sshtest.ExecRequest) int {
	in, _ := io.ReadAll(req.Stdin)
	script, err := remote.DecodePowerShell(req.Command)
	if err != nil {
		fmt.Fprintln(req.Stderr, "not PowerShell")
		return 1
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scripts = append(w.scripts, script)
	v := psVars(script)
	switch {
	case strings.Contains(script, "CreateDirectory($s, $sec)"): // make (or check the parent)
		if v["pre"] == "" {
			fmt.Fprintln(req.Stdout, "hawiz-stage:"+v["parent"])
			return 0
		}
		w.nextName++
		d := fmt.Sprintf(`%s\%s.new%07d`, v["parent"], v["pre"], w.nextName)
		w.dirs[d] = true
		fmt.Fprintln(req.Stdout, "hawiz-stage:"+d)
	case strings.Contains(script, "Get-ChildItem -LiteralPath $pi.FullName"): // list
		for d := range w.dirs {
			if strings.HasPrefix(d, v["parent"]+`\`+v["pre"]+".") {
				fmt.Fprintln(req.Stdout, "hawiz-stage:"+d)
			}
		}
	case strings.Contains(script, "Remove-Item -LiteralPath $d -Recurse"): // remove
		if !w.dirs[v["d"]] {
			fmt.Fprintln(req.Stdout, "hawiz-stage:absent")
			return 0
		}
		delete(w.dirs, v["d"])
		for f := range w.files {
			if strings.HasPrefix(f, v["d"]+`\`) {
				delete(w.files, f)
			}
		}
		fmt.Fprintln(req.Stdout, "hawiz-stage:removed")
	case strings.Contains(script, "hawiz-write:"): // upload
		sum := sha256.Sum256(in)
		w.files[v["p"]] = hex.EncodeToString(sum[:])
		fmt.Fprintln(req.Stdout, "hawiz-write:changed:")
	case strings.Contains(script, "Get-FileHash -LiteralPath $p -Algorithm SHA256).Hash.ToLower(); $m = 33188"): // stat
		sum, ok := w.files[v["p"]]
		if !ok {
			fmt.Fprintln(req.Stdout, "absent")
			return 0
		}
		fmt.Fprintf(req.Stdout, "exists\t%s\t4\t81a4\t1700000000.1234567\tBUILTIN\\Administrators\tBUILTIN\\Administrators\r\n", sum)
	case strings.Contains(script, "$want = "): // the installer, after its hash check
		if w.files[v["f"]] != v["want"] {
			fmt.Fprintln(req.Stderr, "hawiz-sha256:"+w.files[v["f"]])
			return 97
		}
		w.version = "10.3.6"
	case strings.Contains(script, "ProcessStartInfo]::new($exe, '-v')"): // version
		fmt.Fprintln(req.Stdout, "Micetro Central "+w.version)
	case strings.Contains(script, "'hawiz-key:'"): // the service, found by its display name: Running
		fmt.Fprintln(req.Stdout, "hawiz-key:MicetroCentral")
	case strings.Contains(script, "[DateTime]::UtcNow"): // the clock
		fmt.Fprintln(req.Stdout, "1700000000.0000000")
	case strings.Contains(script, "Get-Process -Name"): // Central's start: restarted by the installer
		start := "1699990000.0000000"
		if w.version == "10.3.6" {
			start = "1700000005.0000000"
		}
		fmt.Fprintln(req.Stdout, "start "+start)
	}
	return 0 // is-active: Running
}

func (w *winStageHost) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.scripts
	w.scripts = nil
	return s
}

// On a Windows member the installer is staged in a fresh private directory
// under the upload directory (made with a protected ACL of SYSTEM and
// Administrators only), never at C:\Windows\Temp\NAME; the script that
// runs it checks its SHA-256 first; the directory is removed after the
// upgrade, and a leftover one (a killed run's) is removed by the next run.
func TestWindowsUpgradeStagesPrivately(t *testing.T) {
	fake := &winStageHost{dirs: map[string]bool{}, files: map[string]string{}, version: "10.3.5"}
	lis, err := net.Listen("tcp", "127.0.0.1:0") // Central's port 1231
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	w := newWorld(t) // only for the client key
	srv, err := sshtest.Start(sshtest.Config{
		AuthorizedKeys: []ssh.PublicKey{w.signer.PublicKey()},
		Exec:           fake.exec,
		PortMap:        map[int]string{CentralPort: lis.Addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	inst := filepath.Join(t.TempDir(), "Micetro_Central_x64.exe")
	if err := os.WriteFile(inst, []byte("the new Central installer"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("the new Central installer"))
	want := hex.EncodeToString(sum[:])
	a := &UpgradeAnswers{Common: Common{
		SSH: steps.SSHAnswers{User: "Administrator", IdentityFile: w.keyPath},
		Members: []Member{
			{Name: "central1", Host: steps.HostAnswers{Address: "127.0.0.1", Port: srv.Port(), OS: "windows"}},
			{Name: "central2", Host: steps.HostAnswers{Address: "127.0.0.1", Port: srv.Port(), OS: "windows"}},
		}},
		Installer:      Installer{Local: inst, ExpectedVersion: "10.3.6"},
		InstallCommand: []string{"{installer}", "/S"},
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := w.connect(ctx, steps.HostConfigs(a)[:1])
	e := steps.NewEnv(ctx, a, f, &testOperator{confirm: true})
	list, err := CentralUpgrade().Steps(a)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = `C:\Windows\Temp\hawiz-stage-micetro-upgrade-central1.`
	leftover := prefix + "killedrun1"
	fake.dirs[leftover] = true // a killed run's staging directory

	// Upload: into a new private directory; the leftover is removed.
	up := stepByID(t, list, "upload-installer")
	if err := up.Apply(ctx, e, "central1"); err != nil {
		t.Fatal(err)
	}
	scripts := fake.take()
	var made, wrote string
	removed := map[string]bool{}
	for _, s := range scripts {
		v := psVars(s)
		switch {
		case strings.Contains(s, "CreateDirectory($s, $sec)") && v["pre"] != "":
			made = s
		case strings.Contains(s, "hawiz-write:"):
			wrote = v["p"]
		case strings.Contains(s, "Remove-Item -LiteralPath $d -Recurse"):
			removed[v["d"]] = true
		}
	}
	if made == "" {
		t.Fatalf("no staging directory was made; scripts:\n%s", strings.Join(scripts, "\n----\n"))
	}
	for _, s := range []string{"SetAccessRuleProtection($true, $false)", "'S-1-5-18', 'S-1-5-32-544'", "FileSystemRights]::FullControl", "if (Test-Path -LiteralPath $s) { Refuse", "[Security.Cryptography.RandomNumberGenerator]::Create()"} {
		if !strings.Contains(made, s) {
			t.Errorf("the staging directory's script lacks %q:\n%s", s, made)
		}
	}
	if wrote == `C:\Windows\Temp\Micetro_Central_x64.exe` || !strings.HasPrefix(wrote, prefix) || !strings.HasSuffix(wrote, `\Micetro_Central_x64.exe`) {
		t.Fatalf("installer uploaded to %q, want %sXXXXXXXXXX\\Micetro_Central_x64.exe", wrote, prefix)
	}
	stage := strings.TrimSuffix(wrote, `\Micetro_Central_x64.exe`)
	if !removed[leftover] || fake.dirs[leftover] {
		t.Errorf("the leftover %s was not removed (removed: %v)", leftover, removed)
	}
	if _, err := up.Verify(ctx, e, "central1"); err != nil {
		t.Fatal(err)
	}
	fake.take()

	// Upgrade: the script that runs the installer checks its SHA-256 first.
	upg := stepByID(t, list, "upgrade-primary")
	if err := upg.Apply(ctx, e, "central1"); err != nil {
		t.Fatal(err)
	}
	scripts = fake.take()
	run, ranAt, removedAt := "", -1, -1
	for i, s := range scripts {
		v := psVars(s)
		if strings.Contains(s, "$want = ") {
			run, ranAt = s, i
		}
		if strings.Contains(s, "Remove-Item -LiteralPath $d -Recurse") && v["d"] == stage {
			removedAt = i
		}
	}
	if run == "" {
		t.Fatalf("the installer was not run through a verified script:\n%s", strings.Join(scripts, "\n----\n"))
	}
	v := psVars(run)
	if v["f"] != wrote || v["want"] != want {
		t.Errorf("verified run of %q with %q, want %q with %q", v["f"], v["want"], wrote, want)
	}
	check, start := strings.Index(run, "ComputeHash($hold)"), strings.Index(run, "[Diagnostics.Process]::Start($si)")
	if check < 0 || start < 0 || check > start || !strings.Contains(run, "if ($got -ne $want) {") {
		t.Errorf("the hash check does not precede the install in the same script:\n%s", run)
	}
	if !strings.Contains(run, "ProcessStartInfo]::new($exe, '/S')") || !strings.Contains(run, "-Name '"+wrote+"' -CommandType Application") {
		t.Errorf("the script does not run the staged installer:\n%s", run)
	}
	if removedAt < ranAt || fake.dirs[stage] {
		t.Errorf("the staging directory %s was not removed after the install", stage)
	}
	if _, err := upg.Verify(ctx, e, "central1"); err != nil {
		t.Fatal(err)
	}

	// A later run (resume) finds a leftover of an upgraded member and removes it.
	fake.dirs[prefix+"killedrun2"] = true
	if done, ev, err := upg.Check(ctx, e, "central1"); err != nil || done {
		t.Fatalf("check with a leftover: %v %q %v", done, ev, err)
	}
	if err := upg.Apply(ctx, e, "central1"); err != nil {
		t.Fatal(err)
	}
	if fake.dirs[prefix+"killedrun2"] {
		t.Error("the leftover of a killed run was not removed on resume")
	}
	if done, ev, err := upg.Check(ctx, e, "central1"); err != nil || !done {
		t.Fatalf("check after: %v %q %v", done, ev, err)
	}
}
