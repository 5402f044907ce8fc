// Command mmcentrald is the lab's stand-in for Micetro Central's daemon
// (package lab/standins/mmcentral has the rules).
//
//	mmcentrald -v                       print the version and exit
//	mmcentrald [-f] [-d DIR] [-p PORT] [-a ADDR] [-u USER] [-g GROUP] [-ll N]
//
// -a (stand-in only) is the address to listen on; default $HAWIZ_HOST_ADDR,
// else 127.0.0.1 (lab hosts share one network namespace).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
)

func main() {
	fs := flag.NewFlagSet("mmcentrald", flag.ContinueOnError)
	ver := fs.Bool("v", false, "print the version and exit")
	fs.Bool("f", false, "run in the foreground (always)")
	dir := fs.String("d", mmcentral.DefaultDir, "data directory")
	port := fs.Int("p", mmcentral.DefaultPort, "port")
	addr := fs.String("a", os.Getenv("HAWIZ_HOST_ADDR"), "address to listen on")
	vfile := fs.String("version-file", mmcentral.DefaultVersionFile, "version file")
	fs.String("u", "", "user (ignored)")
	fs.String("g", "", "group (ignored)")
	fs.Int("ll", 0, "log level (ignored)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *ver {
		v, err := mmcentral.Version(*vfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mmcentrald:", err)
			os.Exit(1)
		}
		fmt.Printf("Micetro Central (mmcentrald) version %s (hawiz stand-in)\n", v)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := mmcentral.Serve(ctx, mmcentral.Config{Dir: *dir, Addr: *addr, Port: *port, VersionFile: *vfile}); err != nil {
		os.Exit(1)
	}
}
