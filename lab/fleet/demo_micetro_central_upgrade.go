// The demo of micetro-central-upgrade: the members already form an HA
// cluster, and the installer is the Central stand-in's for
// DemoUpgradeVersion.
package fleet

import (
	"os"
	"path/filepath"
	"time"

	"github.com/hawiz/hawiz/lab/standins/mmcentral"
	"github.com/hawiz/hawiz/steps"
	"github.com/hawiz/hawiz/steps/micetro"
)

// DemoUpgradeVersion is the version the demo's Central installer installs.
const DemoUpgradeVersion = "10.3.6"

func setupMicetroCentralUpgrade(d *Demo) error {
	o := d.Opts
	if err := checkMembers(o, "members"); err != nil {
		return err
	}
	f, err := Start(Config{Kind: Micetro, Hosts: demoHostNames("central", o.Members), Seed: o.Seed, Exe: o.Exe, TempDir: o.TempDir, Root: o.Root, Cluster: true})
	if err != nil {
		return err
	}
	d.Fleet = f
	pkg := filepath.Join(f.Root, mmcentral.InstallerName(DemoUpgradeVersion))
	if err := writeInstaller(pkg); err != nil {
		return err
	}
	d.Procedure = micetro.CentralUpgrade()
	a := &micetro.UpgradeAnswers{}
	a.SSH = demoSSH(f)
	for _, h := range f.Hosts {
		a.Members = append(a.Members, micetro.Member{Name: h.Name,
			Host: steps.HostAnswers{Name: h.Name, Address: "127.0.0.1", Port: h.SSH.Port()}, IP: h.IP,
			PreferencesPath: h.PrefsPath(), UploadDir: h.UploadDir()})
	}
	a.Installer = micetro.Installer{Local: pkg, ExpectedVersion: DemoUpgradeVersion}
	a.StartWait = 15 * time.Second
	a.ServiceTimeout = 30 * time.Second
	a.InstallTimeout = time.Minute
	d.Answers = a
	d.Notes = []string{
		demoHostsNote(f),
		"the members already form an HA cluster running Central " + mmcentral.DefaultVersion + "; the installer is the lab's stand-in for " + DemoUpgradeVersion,
		"each host's files are in its own directory " + f.Root + "/HOST: the answers name each member's preferences.cfg and upload directory there (members[i].preferences_path, members[i].upload_dir)",
	}
	return nil
}

func writeInstaller(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := mmcentral.WriteInstaller(f, DemoUpgradeVersion); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
