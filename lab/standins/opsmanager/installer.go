package opsmanager

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultConf is the conf-mms.properties the stand-in packages ship,
// shaped like the real default (a single-host App DB on localhost).
const DefaultConf = `#
# Ops Manager local configuration (hawiz lab stand-in).
# Settings here override the global settings stored in the Application Database.
#

# Application Database connection string (M7)
mongo.mongoUri=mongodb://127.0.0.1:27017/?maxPoolSize=150

mongo.ssl=false

# TLS settings for the Application Database
#mongodb.ssl.CAFile=
#mongodb.ssl.PEMKeyFile=
`

// MMSConf is the mms.conf the package ships (M11, M12, M25).
func MMSConf(user, genKey string) string {
	return fmt.Sprintf(`# mms.conf (hawiz lab stand-in)
BASE_PORT=8080
MMS_USER=%s
ENC_KEY_PATH=%s
JAVA_MMS_UI_OPTS="-Xss328k -Xmx4352m -Xms4352m"
`, user, genKey)
}

// InstallLog is where the stand-in package's postinst records every install
// (one line per install: time, host, version, previous version), so tests
// can tell that no server was upgraded twice.
const InstallLog = "/var/log/hawiz-lab/mongodb-mms-installs.log"

var fixedTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type file struct {
	name string
	mode int64
	data []byte
	link string // symlink target
	dir  bool
}

func writeTarGz(w io.Writer, files []file) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: fixedTime, Uname: "root", Gname: "root"}
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
		case f.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

const postinst = `#!/bin/sh
# mongodb-mms stand-in postinst: the service user (M9) and an install record.
set -e
if [ "$1" = configure ]; then
	if ! getent passwd mongodb-mms >/dev/null; then
		useradd --system --user-group --home-dir /opt/mongodb/mms --shell /usr/sbin/nologin mongodb-mms
	fi
	mkdir -p /etc/mongodb-mms /opt/mongodb/mms/logs /opt/mongodb/mms/tmp
	chown mongodb-mms:mongodb-mms /etc/mongodb-mms /opt/mongodb/mms/logs /opt/mongodb/mms/tmp
	chmod 0700 /etc/mongodb-mms
	mkdir -p "$(dirname @LOG@)"
	echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) $(hostname) installed @VERSION@ over ${2:-none}" >>@LOG@
fi
exit 0
`

const prerm = `#!/bin/sh
# Like the real package, stop the server before its files are replaced.
if [ -x /opt/mongodb/mms/bin/mongodb-mms ] && [ "$1" = upgrade ]; then
	/opt/mongodb/mms/bin/mongodb-mms stop >/dev/null 2>&1 || true
fi
exit 0
`

// WriteDeb writes a stand-in mongodb-mms_VERSION_amd64.deb holding the
// control program (binary, built for the lab) at
// /opt/mongodb/mms/bin/mongodb-mms, a /etc/init.d/mongodb-mms link to it,
// conf-mms.properties and mms.conf as conffiles (an upgrade keeps local
// edits with --force-confold), and a postinst that creates the mongodb-mms
// user and appends to InstallLog.
func WriteDeb(w io.Writer, version string, binary []byte) error {
	control := fmt.Sprintf(`Package: mongodb-mms
Version: %s
Architecture: amd64
Maintainer: hawiz lab <lab@hawiz.invalid>
Section: database
Priority: optional
Description: MongoDB Ops Manager (hawiz lab stand-in)
 Behaves as the Ops Manager docs say the Application does; see lab/standins/opsmanager.
`, version)
	var ctl bytes.Buffer
	pi := strings.NewReplacer("@LOG@", InstallLog, "@VERSION@", version).Replace(postinst)
	err := writeTarGz(&ctl, []file{
		{name: "./", mode: 0o755, dir: true},
		{name: "./control", mode: 0o644, data: []byte(control)},
		{name: "./conffiles", mode: 0o644, data: []byte("/opt/mongodb/mms/conf/conf-mms.properties\n/opt/mongodb/mms/conf/mms.conf\n")},
		{name: "./postinst", mode: 0o755, data: []byte(pi)},
		{name: "./prerm", mode: 0o755, data: []byte(prerm)},
	})
	if err != nil {
		return err
	}
	var data bytes.Buffer
	err = writeTarGz(&data, packageTree("./", version, binary))
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "!<arch>\n"); err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl.Bytes()}, {"data.tar.gz", data.Bytes()}} {
		hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, fixedTime.Unix(), 0, 0, "100644", len(m.data))
		if _, err := io.WriteString(w, hdr); err != nil {
			return err
		}
		if _, err := w.Write(m.data); err != nil {
			return err
		}
		if len(m.data)%2 == 1 {
			if _, err := w.Write([]byte{'\n'}); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteTarball writes a stand-in archive install, mongodb-mms-VERSION.x86_64.tar.gz:
// one directory mongodb-mms-VERSION.x86_64/ with bin/mongodb-mms, conf/ (mms.conf
// with MMS_USER=user and ENC_KEY_PATH=${HOME}/.mongodb-mms/gen.key, M10, M25),
// logs/, tmp/ and VERSION.
func WriteTarball(w io.Writer, version, user string, binary []byte) error {
	d := "mongodb-mms-" + version + ".x86_64/"
	return writeTarGz(w, []file{
		{name: d, mode: 0o755, dir: true},
		{name: d + "VERSION", mode: 0o644, data: []byte(version + "\n")},
		{name: d + "bin/", mode: 0o755, dir: true},
		{name: d + "bin/mongodb-mms", mode: 0o755, data: binary},
		{name: d + "conf/", mode: 0o755, dir: true},
		{name: d + "conf/conf-mms.properties", mode: 0o640, data: []byte(DefaultConf)},
		{name: d + "conf/mms.conf", mode: 0o644, data: []byte(MMSConf(user, "${HOME}/.mongodb-mms/gen.key"))},
		{name: d + "logs/", mode: 0o755, dir: true},
		{name: d + "tmp/", mode: 0o755, dir: true},
	})
}

// packageTree is the package's file tree under root ("./" in a .deb's
// data.tar.gz, "payload/" in the stand-in rpm): the init script link, the
// service binary, VERSION and the default configuration.
func packageTree(root, version string, binary []byte) []file {
	return []file{
		{name: root, mode: 0o755, dir: true},
		{name: root + "etc/", mode: 0o755, dir: true},
		{name: root + "etc/init.d/", mode: 0o755, dir: true},
		{name: root + "etc/init.d/mongodb-mms", mode: 0o777, link: "/opt/mongodb/mms/bin/mongodb-mms"},
		{name: root + "opt/", mode: 0o755, dir: true},
		{name: root + "opt/mongodb/", mode: 0o755, dir: true},
		{name: root + "opt/mongodb/mms/", mode: 0o755, dir: true},
		{name: root + "opt/mongodb/mms/VERSION", mode: 0o644, data: []byte(version + "\n")},
		{name: root + "opt/mongodb/mms/bin/", mode: 0o755, dir: true},
		{name: root + "opt/mongodb/mms/bin/mongodb-mms", mode: 0o755, data: binary},
		{name: root + "opt/mongodb/mms/conf/", mode: 0o755, dir: true},
		{name: root + "opt/mongodb/mms/conf/conf-mms.properties", mode: 0o640, data: []byte(DefaultConf)},
		{name: root + "opt/mongodb/mms/conf/mms.conf", mode: 0o644, data: []byte(MMSConf("mongodb-mms", DefaultGenKey))},
	}
}
