// The demo of micetro-central-ha: a standalone Central stand-in on every
// member and the round-robin zone on the in-process DNS servers.
package fleet

import (
	"fmt"
	"time"

	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/micetro"
)

func setupMicetroCentralHA(d *Demo) error {
	o := d.Opts
	if err := checkMembers(o, "members"); err != nil {
		return err
	}
	f, err := Start(Config{Kind: Micetro, Hosts: demoHostNames("central", o.Members), Seed: o.Seed, Exe: o.Exe, TempDir: o.TempDir, Root: o.Root})
	if err != nil {
		return err
	}
	d.Fleet = f
	d.Procedure = micetro.CentralHA()
	a := micetroHAAnswers(f)
	d.Answers = a
	d.Notes = []string{
		demoHostsNote(f),
		"each host's files are in its own directory " + f.Root + "/HOST: the answers name each member's preferences.cfg there (members[i].preferences_path)",
		"systemctl, ps and mmcentrald on the demo hosts are stand-ins (hawiz __standin) running the lab's Central stand-in",
		fmt.Sprintf("DNS: zone %s on in-process servers %s (primary, TSIG key %s) and %s", Zone, f.DNS.Addr(), f.TSIGFile, f.DNS2.Addr()),
	}
	return nil
}

// micetroHAAnswers are the demo's micetro-central-ha answers for f: every
// host a member (priorities 10, 20, …), the round-robin name
// central.demo.hawiz.test on the demo's DNS servers with its TSIG key.
func micetroHAAnswers(f *Fleet) *micetro.HAAnswers {
	a := &micetro.HAAnswers{}
	a.SSH = demoSSH(f)
	for i, h := range f.Hosts {
		a.Members = append(a.Members, micetro.Member{Name: h.Name,
			Host:     steps.HostAnswers{Name: h.Name, Address: "127.0.0.1", Port: h.SSH.Port()},
			Priority: 10 * (i + 1), IP: h.IP, PreferencesPath: h.PrefsPath()})
	}
	a.DNS = micetro.DNSAnswers{Name: "central." + Zone, Servers: []string{f.DNS.Addr(), f.DNS2.Addr()}, Resolver: f.DNS.Addr(),
		TSIGKeyFile: f.TSIGFile, MaxWait: 10 * time.Second}
	a.StartWait = 15 * time.Second
	a.ServiceTimeout = 30 * time.Second
	return a
}
