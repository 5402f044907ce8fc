// The demos of micetro-remove-member and micetro-change-active: the
// members already form an HA cluster (ClusterMemberName set, Central
// running on every member), and the round-robin name holds the address of
// every member in it, as a micetro-central-ha run leaves them.
package fleet

import (
	"fmt"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/hawiz/hawiz/steps/micetro"
)

// startMicetroCluster starts the cluster fleet and puts the round-robin
// name central.demo.hawiz.test on the demo's DNS servers: the address of
// every member whose preferences.cfg names a cluster member (a kept demo
// whose member was taken out comes back without its address).
func startMicetroCluster(d *Demo) error {
	o := d.Opts
	if err := checkMembers(o, "members"); err != nil {
		return err
	}
	f, err := Start(Config{Kind: Micetro, Hosts: demoHostNames("central", o.Members), Seed: o.Seed, Exe: o.Exe, TempDir: o.TempDir, Root: o.Root, Cluster: true})
	if err != nil {
		return err
	}
	d.Fleet = f
	var records []string
	for _, h := range f.Hosts {
		if b, err := os.ReadFile(h.PrefsPath()); err == nil && strings.Contains(string(b), "<ClusterMemberName ") {
			records = append(records, fmt.Sprintf("central.%s. 300 IN A %s", Zone, h.IP))
		}
	}
	if err := f.DNS.Replace("central."+Zone, dns.TypeA, records...); err != nil {
		return fmt.Errorf("demo DNS: %w", err)
	}
	return nil
}

func clusterNotes(f *Fleet) []string {
	return []string{
		demoHostsNote(f),
		"the members already form an HA cluster (each preferences.cfg names its member, Central runs on every one), as a micetro-central-ha run leaves them; each host's files are in its own directory " + f.Root + "/HOST",
		fmt.Sprintf("DNS: central.%s holds every member's address on in-process servers %s (primary, TSIG key %s) and %s", Zone, f.DNS.Addr(), f.TSIGFile, f.DNS2.Addr()),
		"Micetro's web UI is not part of the demo: the demo confirms its steps (Remove Member, Set Active, Edit Member) itself in --plain; in the wizard you confirm them",
	}
}

func setupMicetroRemoveMember(d *Demo) error {
	if err := startMicetroCluster(d); err != nil {
		return err
	}
	f := d.Fleet
	d.Procedure = micetro.RemoveMember()
	a := &micetro.RemoveAnswers{HAAnswers: *micetroHAAnswers(f), Remove: f.Hosts[len(f.Hosts)-1].Name}
	d.Answers = a
	d.Notes = append(clusterNotes(f), "remove: "+a.Remove+" (the last member; the primary "+f.Hosts[0].Name+" cannot be removed)")
	return nil
}

func setupMicetroChangeActive(d *Demo) error {
	if err := startMicetroCluster(d); err != nil {
		return err
	}
	f := d.Fleet
	d.Procedure = micetro.ChangeActive()
	last := f.Hosts[len(f.Hosts)-1].Name
	a := &micetro.ChangeActiveAnswers{HAAnswers: *micetroHAAnswers(f), Active: f.Hosts[1].Name,
		Priorities: []micetro.PriorityChange{{Member: last, Priority: 10*len(f.Hosts) + 5}}}
	d.Answers = a
	d.Notes = append(clusterNotes(f), fmt.Sprintf("active: %s; priorities: %s → %d", a.Active, last, a.Priorities[0].Priority))
	return nil
}
