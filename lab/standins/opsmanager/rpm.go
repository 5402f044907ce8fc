package opsmanager

import (
	"fmt"
	"io"
	"strings"
)

const rpmPost = `#!/bin/sh
# mongodb-mms stand-in %post ($1: 1 install, 2 upgrade): the service user (M9) and an install record.
set -e
if ! getent passwd mongodb-mms >/dev/null; then
	useradd --system --user-group --home-dir /opt/mongodb/mms --shell /usr/sbin/nologin mongodb-mms
fi
mkdir -p /etc/mongodb-mms /opt/mongodb/mms/logs /opt/mongodb/mms/tmp
chown mongodb-mms:mongodb-mms /etc/mongodb-mms /opt/mongodb/mms/logs /opt/mongodb/mms/tmp
chmod 0700 /etc/mongodb-mms
mkdir -p "$(dirname @LOG@)"
echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) $(hostname) installed @VERSION@ (rpm, $1)" >>@LOG@
exit 0
`

const rpmPreun = `#!/bin/sh
# Like the deb's prerm: the old package stops the server before its files are replaced ($1 = 1: upgrade).
if [ -x /opt/mongodb/mms/bin/mongodb-mms ] && [ "$1" = 1 ]; then
	/opt/mongodb/mms/bin/mongodb-mms stop >/dev/null 2>&1 || true
fi
exit 0
`

// WriteRPM writes a package for the lab's stand-in rpm (lab/standins/rpm/rpm),
// mongodb-mms-VERSION.x86_64.rpm: not the RPM file format (the lab hosts are
// Debian and have no rpm), but the same files as WriteDeb under payload/, the
// package's NAME, EPOCH, VERSION, RELEASE and ARCH in HEADER, conf-mms.properties
// and mms.conf as %config(noreplace) in CONFIG, and %post / %preun scriptlets
// doing what the deb's postinst / prerm do. epoch > 0 models a package whose
// version information ranks it above later versions (the Ops Manager release
// notes' 6.0.0-6.0.2 and 8.0.0 rpm packages: upgrading from them needs
// rpm -U --oldpackage); rpm -q --qf %{VERSION} still prints version.
func WriteRPM(w io.Writer, version string, epoch int, binary []byte) error {
	if strings.ContainsAny(version, "\n=") {
		return fmt.Errorf("version %q", version)
	}
	post := strings.NewReplacer("@LOG@", InstallLog, "@VERSION@", version).Replace(rpmPost)
	return writeTarGz(w, append([]file{
		{name: "HEADER", mode: 0o644, data: []byte(fmt.Sprintf("NAME=mongodb-mms\nEPOCH=%d\nVERSION=%s\nRELEASE=1\nARCH=x86_64\n", epoch, version))},
		{name: "CONFIG", mode: 0o644, data: []byte("/opt/mongodb/mms/conf/conf-mms.properties\n/opt/mongodb/mms/conf/mms.conf\n")},
		{name: "post", mode: 0o755, data: []byte(post)},
		{name: "preun", mode: 0o755, data: []byte(rpmPreun)},
	}, packageTree("payload/", version, binary)...))
}
