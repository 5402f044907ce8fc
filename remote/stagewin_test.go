package remote

import (
	"errors"
	"strings"
	"testing"

	"github.com/hawiz/hawiz/remote/sshtest"
)

// Windows stage directories: the PowerShell hawiz sends (golden files in
// testdata/windows/stage-*.golden, run-verified.golden) and how the
// answers are read. Nothing here runs PowerShell: the scripts are checked
// as text, the server's answers are canned.
func TestWindowsStageDirs(t *testing.T) {
	l := newLab(t)
	w := &winResponder{}
	s := l.server(func(c *sshtest.Config) { c.Exec = w.exec })
	l.trust(s)
	hc := l.hostConfig("mm-central2", s)
	hc.OS = Windows
	f, err := Connect(ctxT(t), l.opts(), []HostConfig{hc})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := f.Host("mm-central2")
	ctx := ctxT(t)
	const (
		parent = `C:\Windows\Temp`
		prefix = "hawiz-stage-micetro-upgrade-central1"
		dir    = parent + `\` + prefix + ".k3j4h5g6f7"
		sum    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	)
	decoded := func(cmd string) string {
		t.Helper()
		sc, err := DecodePowerShell(cmd)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}

	// Make: a protected DACL of SYSTEM and Administrators, made with the
	// directory; a name already there refused.
	w.reply(winReply{stdout: "hawiz-stage:" + dir + "\r\n"})
	got, err := h.MakeStageDir(ctx, parent, prefix, true)
	if err != nil || got != dir {
		t.Fatalf("MakeStageDir: %q %v", got, err)
	}
	cmd := w.last(t, 1)[0]
	golden(t, "stage-make", cmd)
	sc := decoded(cmd)
	for _, want := range []string{
		"IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)",
		"[Security.Cryptography.RandomNumberGenerator]::Create()",
		"if (Test-Path -LiteralPath $s) { Refuse ($s + ' already exists') }",
		"$sec.SetAccessRuleProtection($true, $false)",
		"foreach ($sid in 'S-1-5-18', 'S-1-5-32-544') {",
		"[IO.Directory]::CreateDirectory($s, $sec)",
		"if (-not (Test-Private $s) -or @(Get-ChildItem -LiteralPath $s -Force).Count -ne 0) { Refuse",
	} {
		if !strings.Contains(sc, want) {
			t.Errorf("make script lacks %q", want)
		}
	}
	if strings.Index(sc, "SetAccessRuleProtection") > strings.Index(sc, "CreateDirectory($s, $sec)") {
		t.Error("the directory is made before its ACL is built")
	}
	w.reply(winReply{stderr: "hawiz-unsafe:D:\\up lets S-1-5-21-1-2-3-1001 delete, rename or re-permission what is in it\r\n", code: 3})
	if _, err := h.MakeStageDir(ctx, `D:\up`, prefix, false); !errors.Is(err, ErrUnsafeParent) || !strings.Contains(err.Error(), `D:\up lets S-1-5-21-1-2-3-1001 delete`) {
		t.Fatalf("unsafe parent: %v", err)
	}
	w.last(t, 1)
	w.reply(winReply{stderr: "hawiz-refused:" + dir + " already exists\r\n", code: 5})
	if _, err := h.MakeStageDir(ctx, parent, prefix, false); err == nil || errors.Is(err, ErrUnsafeParent) || !strings.Contains(err.Error(), "refused: "+dir+" already exists") {
		t.Fatalf("existing name: %v", err)
	}
	w.last(t, 1)
	w.reply(winReply{stdout: "hawiz-stage:" + parent + `\elsewhere` + "\r\n"})
	if _, err := h.MakeStageDir(ctx, parent, prefix, false); err == nil || !strings.Contains(err.Error(), "unexpected output") {
		t.Fatalf("a made path that is no stage directory name: %v", err)
	}
	w.last(t, 1)
	if _, err := h.MakeStageDir(ctx, `Windows\Temp`, prefix, false); err == nil {
		t.Fatal("a relative parent was accepted")
	}

	// CheckStageParent: the make script without a prefix.
	w.reply(winReply{stdout: "hawiz-stage:" + parent + "\r\n"})
	if err := h.CheckStageParent(ctx, parent, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "stage-check-parent", w.last(t, 1)[0])

	// List: only names PREFIX.xxxxxxxxxx come back.
	w.reply(winReply{stdout: "hawiz-stage:" + dir + "\r\nhawiz-stage:" + parent + `\` + prefix + ".UPPERCASE1\r\nhawiz-stage:" + parent + `\` + prefix + ".short\r\n"})
	dirs, err := h.StageDirs(ctx, parent, prefix, false)
	if err != nil || len(dirs) != 1 || dirs[0] != dir {
		t.Fatalf("StageDirs: %q %v", dirs, err)
	}
	cmd = w.last(t, 1)[0]
	golden(t, "stage-list", cmd)
	if sc := decoded(cmd); !strings.Contains(sc, "(Test-Private $c.FullName)") {
		t.Error("the list does not check each directory is private")
	}

	// Remove: only a stage directory name is sent; a directory that is not
	// private is refused by the script.
	w.reply(winReply{stdout: "hawiz-stage:removed\r\n"})
	if ok, err := h.RemoveStageDir(ctx, dir, prefix, false); err != nil || !ok {
		t.Fatalf("RemoveStageDir: %v %v", ok, err)
	}
	cmd = w.last(t, 1)[0]
	golden(t, "stage-remove", cmd)
	if sc := decoded(cmd); strings.Index(sc, "if (-not (Test-Private $d))") > strings.Index(sc, "Remove-Item -LiteralPath $d -Recurse -Force") {
		t.Error("removed before checking it is private")
	}
	w.reply(winReply{stderr: "hawiz-refused:" + dir + " is not a private directory\r\n", code: 3})
	if _, err := h.RemoveStageDir(ctx, dir, prefix, false); err == nil || !strings.Contains(err.Error(), "refused: "+dir+" is not a private directory") {
		t.Fatalf("refused remove: %v", err)
	}
	w.last(t, 1)
	for _, bad := range []string{parent, `C:\Windows\Temp\..\` + prefix + ".k3j4h5g6f7", `C:/Windows/Temp/` + prefix + ".k3j4h5g6f7", parent + `\` + prefix + ".K3J4H5G6F7"} {
		if _, err := h.RemoveStageDir(ctx, bad, prefix, false); err == nil {
			t.Errorf("RemoveStageDir(%q) accepted", bad)
		}
	}

	// Copy into it: [IO.File]::Copy, which refuses a name already there.
	w.reply(winReply{})
	if _, err := h.CopyIntoStageDir(ctx, `D:\inst\Micetro_Central_x64.exe`, dir, prefix, "Micetro_Central_x64.exe", false, 0); err != nil {
		t.Fatal(err)
	}
	golden(t, "stage-copy", w.last(t, 1)[0])
	if _, err := h.CopyIntoStageDir(ctx, `D:\x.exe`, dir, prefix, `..\x.exe`, false, 0); err == nil {
		t.Error("a name with a separator was accepted")
	}

	// RunVerified: the hash check, in the script that runs the program,
	// before it starts it.
	file := dir + `\Micetro_Central_x64.exe`
	w.reply(winReply{stdout: "installed\r\n"})
	res, err := h.RunVerified(ctx, file, strings.ToUpper(sum), Cmd{Program: file, Args: []string{"/S"}})
	if err != nil || string(res.Stdout) != "installed\r\n" {
		t.Fatalf("RunVerified: %v %+v", err, res)
	}
	cmd = w.last(t, 1)[0]
	golden(t, "run-verified", cmd)
	sc = decoded(cmd)
	steps := []string{
		"$f = '" + file + "'; $want = '" + sum + "'",
		"if (-not (Test-Private $dir)) {",
		"@(Get-ChildItem -LiteralPath $dir -Force).Count -ne 1",
		"[IO.File]::Open($f, [IO.FileMode]::Open, [IO.FileAccess]::Read, [IO.FileShare]::Read)",
		"$got = -join ($sha.ComputeHash($hold)",
		"if ($got -ne $want) {",
		"$exe = (Get-Command -Name '" + file + "' -CommandType Application -TotalCount 1).Path",
		"$c = [Diagnostics.Process]::Start($si)",
		"exit $c.ExitCode",
	}
	at := -1
	for _, s := range steps {
		i := strings.Index(sc, s)
		if i < 0 || i < at {
			t.Fatalf("run-verified script: %q missing or out of order:\n%s", s, sc)
		}
		at = i
	}
	if strings.Contains(sc, "$hold.Close(); [Console]::Error.WriteLine('hawiz-sha256:' + $got)") == false {
		t.Error("a mismatch does not report the hash")
	}
	w.reply(winReply{stderr: "hawiz-sha256:" + strings.Repeat("0", 64) + "\r\n", code: 97})
	if _, err := h.RunVerified(ctx, file, sum, Cmd{Program: file}); !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "has sha256 "+strings.Repeat("0", 64)+", not "+sum) {
		t.Fatalf("mismatch: %v", err)
	}
	w.last(t, 1)
	w.reply(winReply{stderr: "hawiz-unsafe:" + dir + " holds more than the installer\r\n", code: 97})
	if _, err := h.RunVerified(ctx, file, sum, Cmd{Program: file}); !errors.Is(err, ErrNotVerified) || !strings.Contains(err.Error(), "holds more than the installer") {
		t.Fatalf("not private: %v", err)
	}
	w.last(t, 1)
	// The program's own exit 97 (no tag) is just its exit status.
	w.reply(winReply{code: 97})
	if res, err := h.RunVerified(ctx, file, sum, Cmd{Program: file}); err != nil || res.ExitStatus != 97 {
		t.Fatalf("program's exit 97: %v %+v", err, res)
	}
	w.last(t, 1)
}
