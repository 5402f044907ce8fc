package fleet

import (
	"context"
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

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	omstandin "github.com/hawiz/hawiz/lab/standins/opsmanager"
)

// Standin runs one stand-in program of a demo host (`hawiz __standin NAME
// ARGS…`), inside the host's world ($HAWIZ_ROOT, set by the fleet):
//
//	systemctl ACTION SERVICE   start|stop|restart|is-active|status, services run detached
//	ps -o etimes= -C PROCESS   elapsed seconds of the running service
//	pgrep -x -- PROCESS        the running service's PID (this host's only)
//	mmcentrald -v              the Central version
//	mongodb-mms ACTION          the Ops Manager control program (lab/standins/opsmanager)
//	service-mmcentral          the Central daemon itself (lab/standins/mmcentral rules)
func Standin(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "__standin: which stand-in?")
		return 2
	}
	root := os.Getenv("HAWIZ_ROOT")
	if root == "" {
		fmt.Fprintln(stderr, "__standin: HAWIZ_ROOT is not set (this runs only inside a hawiz demo host)")
		return 2
	}
	if args[0] == "service-mmcentral" || args[0] == "mongodb-mms" && len(args) > 1 && args[1] == "run" {
		go watchOwner()
	}
	switch args[0] {
	case "systemctl":
		return systemctl(root, args[1:], stdout, stderr)
	case "ps":
		return ps(root, args[1:], stdout, stderr)
	case "pgrep":
		return pgrep(root, args[1:], stdout)
	case "mmcentrald":
		if len(args) < 2 || args[1] != "-v" {
			fmt.Fprintln(stderr, "mmcentrald (hawiz demo stand-in): only -v is supported")
			return 2
		}
		v, err := mmcentral.Version(filepath.Join(root, MicetroShareDir, "VERSION"))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "Micetro Central (mmcentrald) version %s (hawiz demo stand-in)\n", v)
		return 0
	case "mongodb-mms":
		return omstandin.Main(args[1:], stdout, stderr)
	case "service-mmcentral":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		// An ephemeral port, published for the host's SSH server
		// (1231 reaches it), never a port reserved beforehand.
		err := mmcentral.Serve(ctx, mmcentral.Config{
			Dir: filepath.Join(root, MicetroDataDir), PortFile: filepath.Join(root, ServicePortFile),
			VersionFile: filepath.Join(root, MicetroShareDir, "VERSION"),
			Ready:       func(string) { os.WriteFile(filepath.Join(root, "run", "mmcentral.ready"), nil, 0o644) },
		})
		if err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "__standin: unknown stand-in %q\n", args[0])
	return 2
}

// EnvOwner names the process (the hawiz demo) whose end ends the stand-in
// services, so that nothing outlives the demo even when it is killed.
const EnvOwner = "HAWIZ_DEMO_OWNER"

func watchOwner() {
	pid, _ := strconv.Atoi(os.Getenv(EnvOwner))
	if pid <= 0 {
		return
	}
	for {
		time.Sleep(300 * time.Millisecond)
		if syscall.Kill(pid, 0) != nil {
			os.Exit(0)
		}
	}
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// services the stand-in systemctl knows: unit name → __standin program.
var services = map[string]string{"mmcentral": "service-mmcentral"}

func systemctl(root string, args []string, stdout, stderr io.Writer) int {
	var act, svc string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if act == "" {
			act = a
		} else if svc == "" {
			svc = strings.TrimSuffix(a, ".service")
		}
	}
	run := filepath.Join(root, "run")
	if lf, err := os.OpenFile(filepath.Join(run, "systemctl.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(lf, "%s %s\n", act, svc)
		lf.Close()
	}
	prog, ok := services[svc]
	if !ok {
		fmt.Fprintf(stderr, "Unit %s.service could not be found.\n", svc)
		switch act {
		case "is-active":
			fmt.Fprintln(stdout, "inactive")
			return 3
		case "status":
			return 4 // as systemd: no such unit
		}
		return 5
	}
	pidFile := filepath.Join(run, svc+".pid")
	alive := func() bool { return Alive(readPID(pidFile)) }
	stop := func() int {
		pid := readPID(pidFile)
		if !Alive(pid) {
			os.Remove(pidFile)
			return 0
		}
		syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; Alive(pid); i++ {
			if i == 500 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(10 * time.Millisecond)
		}
		os.Remove(pidFile)
		return 0
	}
	start := func() int {
		if alive() {
			return 0
		}
		ready := filepath.Join(run, svc+".ready")
		os.Remove(ready)
		os.Remove(filepath.Join(root, ServicePortFile)) // the previous process's port
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		logf, err := os.OpenFile(filepath.Join(run, svc+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer logf.Close()
		c := exec.Command(exe, "__standin", prog)
		c.Dir = root
		c.Stdout, c.Stderr = logf, logf
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		os.WriteFile(pidFile, []byte(strconv.Itoa(c.Process.Pid)+"\n"), 0o644)
		os.WriteFile(filepath.Join(run, svc+".started"), []byte(strconv.FormatInt(time.Now().Unix(), 10)+"\n"), 0o644)
		exited := make(chan struct{})
		go func() { c.Wait(); close(exited) }()
		deadline := time.After(60 * time.Second)
		for {
			if _, err := os.Stat(ready); err == nil {
				return 0
			}
			select {
			case <-exited:
				os.Remove(pidFile)
				fmt.Fprintf(stderr, "Job for %s.service failed because the control process exited with error code.\nSee the startup log in %s for details.\n", svc, filepath.Join(root, MicetroDataDir, "logs"))
				return 1
			case <-deadline:
				fmt.Fprintf(stderr, "Job for %s.service timed out.\n", svc)
				return 1
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	switch act {
	case "start":
		return start()
	case "stop":
		return stop()
	case "restart":
		stop()
		return start()
	case "is-active", "status":
		if alive() {
			fmt.Fprintln(stdout, "active")
			return 0
		}
		fmt.Fprintln(stdout, "inactive")
		return 3
	}
	fmt.Fprintf(stderr, "systemctl (hawiz demo stand-in): %q is not supported\n", act)
	return 1
}

// pgrep answers `pgrep -x -- PROCESS` with this host's running service's
// PID (the demo's hosts share the machine's processes: the real pgrep
// would find every host's, and any other mmcentrald on the machine).
func pgrep(root string, args []string, stdout io.Writer) int {
	if len(args) == 0 {
		return 2
	}
	svc := map[string]string{"mmcentrald": "mmcentral"}[args[len(args)-1]]
	if svc == "" {
		return 1
	}
	pid := readPID(filepath.Join(root, "run", svc+".pid"))
	if !Alive(pid) {
		return 1
	}
	fmt.Fprintln(stdout, pid)
	return 0
}

// ps answers `ps -o etimes= -C PROCESS` for the stand-in services.
func ps(root string, args []string, stdout, stderr io.Writer) int {
	var proc string
	for i, a := range args {
		if a == "-C" && i+1 < len(args) {
			proc = args[i+1]
		}
	}
	svc := map[string]string{"mmcentrald": "mmcentral"}[proc]
	if svc == "" {
		return 1
	}
	run := filepath.Join(root, "run")
	if !Alive(readPID(filepath.Join(run, svc+".pid"))) {
		return 1
	}
	started, _ := strconv.ParseInt(strings.TrimSpace(readString(filepath.Join(run, svc+".started"))), 10, 64)
	fmt.Fprintf(stdout, "%8d\n", time.Now().Unix()-started)
	return 0
}
