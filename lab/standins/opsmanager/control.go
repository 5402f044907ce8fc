package opsmanager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvInstallDir overrides the install directory the control program works
// on (default: the directory above the program's bin/).
const EnvInstallDir = "HAWIZ_MMS_INSTALL_DIR"

// EnvReexecArgs, when set, holds the arguments (space-separated) put before
// "run" when the control program re-executes itself to start the server:
// `hawiz demo` runs the control program as `hawiz __standin mongodb-mms`,
// so the server is `hawiz __standin mongodb-mms run`.
const EnvReexecArgs = "HAWIZ_MMS_REEXEC_ARGS"

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie is not running.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		s := string(b)
		if i := lastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			return false
		}
	}
	return true
}

func lastIndexByte(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// InstallDirOf returns the install directory for the control program at exe
// (…/bin/mongodb-mms → …), unless EnvInstallDir is set.
func InstallDirOf(exe string) string {
	if d := os.Getenv(EnvInstallDir); d != "" {
		return d
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(filepath.Dir(exe))
}

// Main is `mongodb-mms start|stop|restart|status|version|run`. It returns
// the exit status (LSB: status 3 = not running).
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 {
		fmt.Fprintln(stderr, "usage: mongodb-mms start|stop|restart|status|version")
		return 2
	}
	exe, _ := os.Executable()
	c, err := LoadConfig(InstallDirOf(exe))
	if err != nil {
		fmt.Fprintln(stderr, "mongodb-mms:", err)
		return 1
	}
	switch args[0] {
	case "start":
		return start(c, exe, stdout, stderr)
	case "stop":
		return stop(c, stdout)
	case "restart":
		stop(c, stdout)
		return start(c, exe, stdout, stderr)
	case "status":
		if pid := Running(c); pid != 0 {
			fmt.Fprintf(stdout, "Ops Manager is running (pid %d)\n", pid)
			return 0
		}
		fmt.Fprintln(stdout, "Ops Manager is not running")
		return 3
	case "version":
		fmt.Fprintf(stdout, "%s\n", c.Version())
		return 0
	case "run":
		ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer cancel()
		_ = os.MkdirAll(filepath.Dir(c.pidFile()), 0o755)
		_ = os.WriteFile(c.pidFile(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
		if err := Serve(ctx, c, nil); err != nil {
			fmt.Fprintln(stderr, "mongodb-mms:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "mongodb-mms: unknown action %q\n", args[0])
	return 2
}

func start(c Config, exe string, stdout, stderr io.Writer) int {
	if pid := Running(c); pid != 0 {
		fmt.Fprintf(stdout, "Ops Manager is already running (pid %d)\n", pid)
		return 0
	}
	fmt.Fprintln(stdout, "Starting pre-flight checks")
	if err := os.MkdirAll(c.logsDir(), 0o755); err != nil {
		fmt.Fprintln(stderr, "mongodb-mms:", err)
		return 1
	}
	out, err := os.OpenFile(filepath.Join(c.logsDir(), "mms0.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(stderr, "mongodb-mms:", err)
		return 1
	}
	defer out.Close()
	if c.PortFile != "" {
		_ = os.Remove(c.PortFile) // a previous server's port is not this one's
	}
	cmd := exec.Command(exe, append(strings.Fields(os.Getenv(EnvReexecArgs)), "run")...)
	cmd.Env = append(os.Environ(), EnvInstallDir+"="+c.InstallDir)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "mongodb-mms:", err)
		return 1
	}
	_ = os.MkdirAll(filepath.Dir(c.pidFile()), 0o755)
	_ = os.WriteFile(c.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			_ = os.Remove(c.pidFile())
			msg := lastStartupError(c)
			if msg == "" {
				msg = "the server exited; see " + c.StartupLog()
			}
			fmt.Fprintf(stderr, "Pre-flight check failed or the server did not start:\n%s\n", msg)
			return 1
		case <-time.After(50 * time.Millisecond):
		}
		if Healthy(c) {
			fmt.Fprintln(stdout, "Successfully finished pre-flight checks")
			fmt.Fprintln(stdout, "Instance 0 starting... [  OK  ]")
			return 0
		}
	}
	_ = cmd.Process.Kill()
	_ = os.Remove(c.pidFile())
	fmt.Fprintf(stderr, "Instance 0 did not answer on %s within 60s; last lines of %s:\n%s\n", c.healthURL(), c.StartupLog(), tail(c.StartupLog(), 10))
	return 1
}

func stop(c Config, stdout io.Writer) int {
	pid := Running(c)
	if pid == 0 {
		_ = os.Remove(c.pidFile())
		fmt.Fprintln(stdout, "Ops Manager is not running")
		return 0
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 500 && processAlive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if processAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = os.Remove(c.pidFile())
	fmt.Fprintln(stdout, "Stopping Ops Manager... [  OK  ]")
	return 0
}
