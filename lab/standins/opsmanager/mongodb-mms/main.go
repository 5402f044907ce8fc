// Command mongodb-mms is the lab's stand-in for Ops Manager's control script
// <install_dir>/bin/mongodb-mms (also /etc/init.d/mongodb-mms, so that
// `service mongodb-mms start` works). Package lab/standins/opsmanager has the rules.
//
//	mongodb-mms start|stop|restart|status|version
package main

import (
	"os"

	"github.com/hawiz/hawiz/lab/standins/opsmanager"
)

func main() {
	os.Exit(opsmanager.Main(os.Args[1:], os.Stdout, os.Stderr))
}
