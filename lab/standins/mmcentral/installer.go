package mmcentral

import (
	"archive/tar"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"time"
)

//go:embed install.sh
var installScript []byte

// InstallerName is the documented package name for version v (C6 binaries.rst).
func InstallerName(v string) string { return fmt.Sprintf("micetro-central-%s.linux.x64.tgz", v) }

// WriteInstaller writes a stand-in installer package for version v to w: a
// .tgz holding micetro-central-V.linux.x64/{install,VERSION}, run like the
// real one (`tar -xzf …; cd …; ./install`, B.7).
func WriteInstaller(w io.Writer, v string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	dir := fmt.Sprintf("micetro-central-%s.linux.x64/", v)
	mt := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // reproducible bytes
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"install", 0o755, installScript},
		{"VERSION", 0o644, []byte(v + "\n")},
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mt}); err != nil {
		return err
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mt}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// ServiceDefinition is the lab's service file for the stand-in
// (/etc/hawiz-lab/services/mmcentral, see lab/systemctl): start waits until
// the stand-in listens on 1231 on the host's own address, or fails when it
// refuses to start.
const ServiceDefinition = `# Micetro Central stand-in (lab/standins/mmcentral)
# ready-port: 1231
# start-timeout: 10
exec /usr/sbin/mmcentrald -f -d /var/mmsuite/mmcentral -a "$HAWIZ_HOST_ADDR"
`

// SamplePrefs is a Linux preferences.cfg naming an MSSQL database (B.2).
const SamplePrefs = `<Database value="MSSQL" />
<DatabaseServer value="sql1.lab.hawiz.test,1433\MMSUITE@mmsuite" />
<DatabaseUsername value="mmSuiteDBUser" />
<DatabasePassword value="plaintext:labpassword" />
`
