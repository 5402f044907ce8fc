#!/bin/sh
# Stand-in Micetro Central installer (hawiz lab and demo): the ./install of
# micetro-central-VERSION.linux.x64.tgz (procedures.md B.7). Like the real one
# it is run as root from the extracted directory and asks questions on stdin
# (an empty answer takes the default). It sets the stand-in's version, logs
# every install to /usr/share/mmcentral-standin/install.log and starts Central
# again afterwards, as the docs say the real installer does (C2).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
new=$(cat "$here/VERSION")
share=${MMCENTRAL_STANDIN_SHARE:-/usr/share/mmcentral-standin}
if [ "$(id -u)" != 0 ] && [ -z "${MMCENTRAL_STANDIN_NO_ROOT_CHECK:-}" ]; then
	echo "install: Micetro Central must be installed as root" >&2
	exit 1
fi
echo "Micetro Central $new installer (hawiz stand-in)"
printf 'Do you want to install Micetro Central? [Y/n] '
read -r a || a=""
echo
case "$a" in n* | N*) echo "Installation aborted."; exit 1 ;; esac
data=${MMCENTRAL_STANDIN_DATA:-/var/mmsuite/mmcentral}
printf 'Where should Central keep its configuration files? [%s] ' "$data"
read -r d || d=""
echo
d=${d:-$data}
if [ ! -d "$d" ]; then
	echo "install: $d does not exist" >&2
	exit 1
fi
old=$(cat "$share/VERSION" 2>/dev/null || echo none)
mkdir -p "$share"
systemctl stop mmcentral >/dev/null 2>&1 || true
printf '%s\n' "$new" >"$share/VERSION.tmp"
mv "$share/VERSION.tmp" "$share/VERSION"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) installed $new over $old" >>"$share/install.log"
if systemctl start mmcentral; then
	echo "Micetro Central $new installed and started."
else
	echo "install: Micetro Central $new installed but did not start; see $d/logs" >&2
	exit 1
fi
