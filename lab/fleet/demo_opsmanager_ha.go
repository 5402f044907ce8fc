// The demo of opsmanager-ha: tar installs of the Ops Manager stand-in behind
// an in-process load balancer, with an in-process App DB stand-in.
package fleet

import (
	"strings"
	"time"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/opsmanager"
)

func setupOpsManagerHA(d *Demo) error {
	o := d.Opts
	if err := checkMembers(o, "servers"); err != nil {
		return err
	}
	f, err := Start(Config{Kind: OpsManager, Hosts: demoHostNames("om", o.Members), Seed: o.Seed, Exe: o.Exe, TempDir: o.TempDir, Root: o.Root})
	if err != nil {
		return err
	}
	d.Fleet = f
	d.Procedure = opsmanager.HA()
	a := opsManagerHAAnswers(f)
	d.Answers = a
	d.Notes = []string{
		demoHostsNote(f),
		"each host is a tar install of the lab's stand-in Ops Manager under " + f.Root + " (install_dir in the answers); its control program is hawiz __standin mongodb-mms",
		"the load balancer " + f.LBURL + " is an in-process stand-in in front of the servers' port 8080",
		"the App DB " + strings.Join(AppDBHosts(), ", ") + " is an in-process stand-in (MongoDB wire protocol, SCRAM, replSetGetConfig) that the hosts reach by those names through their SSH connections; its password is the demo's own (HAWIZ_APPDB_PASSWORD is not read)",
	}
	return nil
}

// opsManagerHAAnswers are the demo's opsmanager-ha answers for f: every
// host a tar-installed server behind the demo's load balancer, the demo
// App DB, gen.key from the first server.
func opsManagerHAAnswers(f *Fleet) *opsmanager.Answers {
	a := &opsmanager.Answers{}
	a.SSH = demoSSH(f)
	for _, h := range f.Hosts {
		a.Servers = append(a.Servers, opsmanager.Server{
			HostAnswers: steps.HostAnswers{Name: h.Name, Address: "127.0.0.1", Port: h.SSH.Port()},
			Install:     opsmanager.InstallTar, InstallDir: h.InstallDir})
	}
	a.AppDB = opsmanager.AppDB{URI: "mongodb://" + strings.Join(AppDBHosts(), ",") + "/?maxPoolSize=100", Username: AppDBUser}
	a.LoadBalancer = opsmanager.LoadBalancer{URL: f.LBURL, CacheProbeGap: 1100 * time.Millisecond}
	a.GenKey = opsmanager.GenKey{Mode: opsmanager.GenKeyFirst, BackupTo: f.Root + "/gen.key.backup"}
	a.StartTimeout = 60 * time.Second
	return a
}
