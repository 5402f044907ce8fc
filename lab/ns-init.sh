#!/bin/bash
# PID 1 of one hawiz lab host (started by lab/sshd.sh inside `unshare --mount --uts --ipc
# --pid --fork --kill-child --mount-proc --propagation private`).
#
#   ns-init.sh NAME ADDR PORT LABDIR
#
# Builds the host's private world, runs sshd -D on ADDR:PORT and waits (USR1 after
# `lab/sshd.sh kill-sshd` starts sshd again, see below). On TERM it stops
# every process of the namespace (TERM, then KILL after a bounded wait) and exits; the
# kernel then tears down the PID and mount namespaces, so nothing needs unmounting.
set -euo pipefail
name=$1 addr=$2 port=$3 lab=$4
h=$lab/hosts/$name
mark=hawiz-lab

# Private trees: overlay = (common lab layer, if any) over the real tree; writes go to
# the host's own upper dir. Everything is read from $lab before /tmp is replaced.
for d in etc var opt home root srv usr; do
	[ -d "/$d" ] || continue
	lower=/$d
	if [ -d "$lab/common/$d" ]; then lower=$lab/common/$d:/$d; fi
	mount -t overlay "$mark-$name-$d" -o "lowerdir=$lower,upperdir=$h/upper/$d,workdir=$h/work/$d" "/$d"
done
# The stand-in systemctl, in this namespace only.
[ -e /usr/bin/systemctl ] || : >/usr/bin/systemctl
mount --bind "$lab/bin/systemctl" /usr/bin/systemctl
mount -t tmpfs -o mode=0755,size=64m "$mark-$name-run" /run
mkdir -p /run/sshd /run/lock /run/hawiz-lab
chmod 1777 /run/lock
mount -t tmpfs -o mode=1777,size=1g "$mark-$name-tmp" /tmp
# Only this host's keys (the real host's RSA key stays out of the host's /etc/ssh).
rm -f /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_rsa_key.pub
hostname "$name"
cd /

children() { # every process of the namespace but this one
	local p out=""
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] || out+=" $p"
	done
	echo "$out"
}

stopping=""
shutdown() {
	stopping=1
	trap '' TERM INT
	kill -TERM -1 2>/dev/null || true
	local i
	for ((i = 0; i < 150; i++)); do # 3 s
		[ -z "$(children)" ] && exit 0
		sleep 0.02
	done
	kill -KILL -1 2>/dev/null || true
	exit 0
}
trap shutdown TERM INT

# sshd -D, its PID (in this namespace) in /etc/hawiz-lab/sshd.nspid.
start_sshd() {
	/usr/sbin/sshd -D -e -o "ListenAddress=$addr:$port" &
	sshd=$!
	echo "$sshd" >/etc/hawiz-lab/sshd.nspid
}
# `lab/sshd.sh kill-sshd N` writes $down, then kills the listening sshd: this host stays
# up (the connections' processes too, unless they were killed as well) until
# `lab/sshd.sh start-sshd N` sends USR1; then sshd starts again with the same config and
# host keys. An sshd that exits without $down ends the host, as before.
down=/run/hawiz-lab/sshd.down
wake=""
trap 'wake=1' USR1
start_sshd
# Bash (as PID 1) reaps orphans while it waits; leave when sshd is gone unasked.
while [ -z "$stopping" ]; do
	if kill -0 "$sshd" 2>/dev/null; then
		wait "$sshd" || true
		continue
	fi
	[ -e "$down" ] || break
	if [ -n "$wake" ]; then
		wake=""
		rm -f "$down"
		start_sshd
		echo "ns-init $name: sshd started again (pid $sshd in the namespace)" >&2
		continue
	fi
	# Interruptible wait: a trapped USR1 (or TERM) ends `wait` at once.
	sleep 0.5 &
	wait $! || true
done
echo "ns-init $name: sshd exited" >&2
shutdown
