#!/bin/bash
# hawiz lab: N OpenSSH hosts, each in its own mount/UTS/IPC/PID namespace.
#
#   lab/sshd.sh start [N]   start N hosts (default 3, at most 30): labI on $NET.(10+I):$PORT
#   lab/sshd.sh stop        stop them (by saved PID + start time) and remove every trace
#   lab/sshd.sh status      print the hosts and whether they run
#   lab/sshd.sh kill-sshd N [--connections]
#                           SIGKILL host N's listening sshd (saved PID + start time, checked
#                           to be in host N's namespace; never by name): the host stays up
#                           with nothing listening; --connections also kills every sshd
#                           process serving an open connection to it (their commands are
#                           left running, as when a server's sshd crashes)
#   lab/sshd.sh start-sshd N
#                           start host N's sshd again (same config, same host keys)
#   lab/sshd.sh restart-sshd N [--connections]   both
#
# Root only. State lives in $HAWIZ_LAB_DIR (default /tmp/hawiz-lab); the file
# $HAWIZ_LAB_DIR/env describes the lab for the e2e tests and the bench (addresses,
# users, key paths, passwords: it is mode 0600 and never printed).
#
# Each host: overlays on /etc /var /opt /home /root /srv /usr (lower = the real tree,
# upper = the host's own directory), so /var/mmsuite, /etc/mongodb-mms, /opt/mongodb/mms,
# the home directories and /root are private; tmpfs on /run and /tmp; a stand-in
# systemctl bind-mounted over /usr/bin/systemctl (lab/systemctl); a stand-in rpm as
# /usr/bin/rpm (lab/standins/rpm/rpm, in the common layer); hostname labI; sshd -D.
# When the namespace's PID 1 (lab/ns-init.sh) exits, the kernel kills everything in the
# namespace and the mounts go with it: nothing is ever mounted in the real mount table.
#
# Environment: HAWIZ_LAB_DIR (state dir), HAWIZ_LAB_PORT (sshd port, default 22),
# HAWIZ_LAB_NET (first three octets of the hosts' addresses, default 127.0.0: another
# 127.x.y lets two labs run side by side without sharing service ports),
# HAWIZ_LAB_NOFORWARD (host numbers, e.g. "2" or "2 3": those hosts' sshd gets
# AllowTcpForwarding no, as a hardened server has; default none).
set -euo pipefail

LAB=${HAWIZ_LAB_DIR:-/tmp/hawiz-lab}
PORT=${HAWIZ_LAB_PORT:-22}
NET=${HAWIZ_LAB_NET:-127.0.0}
NOFORWARD=${HAWIZ_LAB_NOFORWARD:-}
[[ $NOFORWARD =~ ^[0-9\ ]*$ ]] || { echo "lab/sshd.sh: HAWIZ_LAB_NOFORWARD must be host numbers separated by spaces" >&2; exit 2; }
[[ $NET =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || { echo "lab/sshd.sh: HAWIZ_LAB_NET must be 127.X.Y" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MAXHOSTS=30
MARK=hawiz-lab # every mount source in the namespaces carries this name
# The Ops Manager stand-ins' shared "App DB" records: in /dev/shm, the one
# directory every host of a lab sees (/tmp is private per host); one per lab
# (network and port), so two labs on the machine never share or wipe them.
APPDB=/dev/shm/hawiz-lab-appdb.$NET.$PORT
# What this script owns in $LAB (lab/bind.sh keeps its own state in $LAB/bind).
PARTS=(bin keys hosts common env known_hosts ssh_config sshlatency)

remove_parts() {
	local p
	for p in "${PARTS[@]}"; do rm -rf "${LAB:?}/$p"; done
	rm -rf "${APPDB:?}"
	rmdir "$LAB" 2>/dev/null || true
}

parts_left() {
	local p
	for p in "${PARTS[@]}"; do [ -e "$LAB/$p" ] && echo "$LAB/$p"; done
	[ -e "$APPDB" ] && echo "$APPDB"
	return 0
}

die() { echo "lab/sshd.sh: $*" >&2; exit 1; }
log() { echo "lab/sshd.sh: $*"; }

# starttime PID: field 22 of /proc/PID/stat (clock ticks after boot), or empty.
starttime() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	[ "$1" = Z ] && return 0 # exited, waiting to be reaped: not running
	echo "${20}"
}

# alive PID START: the process exists and is the one we started (not a recycled PID).
alive() {
	[ -n "$1" ] && [ -n "$2" ] && [ "$(starttime "$1")" = "$2" ]
}

now_ms() { date +%s%3N; }

cmd_status() {
	[ -d "$LAB/hosts" ] || { log "no lab in $LAB"; return 1; }
	local h name ip ist upid ust rc=0
	for h in "$LAB"/hosts/*/; do
		name=$(basename "$h")
		[ -f "$h/pid" ] || { echo "$name: no pid file"; rc=1; continue; }
		read -r ip ist upid ust <"$h/pid"
		if alive "$ip" "$ist"; then
			local sp="" sst=""
			[ -f "$h/sshd.pid" ] && read -r sp sst <"$h/sshd.pid"
			if alive "$sp" "$sst"; then
				echo "$name: running (init pid $ip) on $(cat "$h/addr"):$PORT"
			else
				echo "$name: running (init pid $ip), sshd down (lab/sshd.sh start-sshd ${name#lab})"
				rc=1
			fi
		else
			echo "$name: not running"
			rc=1
		fi
	done
	return $rc
}

# running: 0 when any saved lab process still runs.
running() {
	local f ip ist upid ust
	for f in "$LAB"/hosts/*/pid; do
		[ -f "$f" ] || continue
		read -r ip ist upid ust <"$f"
		if alive "$ip" "$ist" || alive "$upid" "$ust"; then return 0; fi
	done
	return 1
}

cmd_stop() {
	local t0 f ip ist upid ust deadline left
	t0=$(now_ms)
	if [ ! -d "$LAB/hosts" ]; then
		log "no lab in $LAB"
		remove_parts
	else
		# TERM every namespace's PID 1 (it stops sshd and the stand-in services, then exits).
		for f in "$LAB"/hosts/*/pid; do
			[ -f "$f" ] || continue
			read -r ip ist upid ust <"$f"
			if alive "$ip" "$ist"; then kill -TERM "$ip" 2>/dev/null || true; fi
		done
		# Bounded wait, then KILL whatever is left (still checking start times).
		deadline=$(($(now_ms) + 5000))
		while running && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.02; done
		for f in "$LAB"/hosts/*/pid; do
			[ -f "$f" ] || continue
			read -r ip ist upid ust <"$f"
			if alive "$ip" "$ist"; then
				log "$(basename "$(dirname "$f")"): init did not stop in 5 s, sending KILL"
				kill -KILL "$ip" 2>/dev/null || true
			fi
			if alive "$upid" "$ust"; then kill -KILL "$upid" 2>/dev/null || true; fi
		done
		deadline=$(($(now_ms) + 5000))
		while running && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.02; done
		running && die "lab processes still running after KILL; $LAB kept"
		if [ -n "${HAWIZ_LAB_KEEP:-}" ]; then
			log "HAWIZ_LAB_KEEP set: state kept in $LAB"
		else
			remove_parts
		fi
	fi
	# Nothing may be left in the real mount table.
	if grep -q "$MARK" /proc/self/mountinfo; then
		grep "$MARK" /proc/self/mountinfo >&2
		die "lab mounts left in the mount table"
	fi
	if [ -z "${HAWIZ_LAB_KEEP:-}" ] && [ -n "$(parts_left)" ]; then die "left behind: $(parts_left)"; fi
	log "stopped in $(($(now_ms) - t0)) ms; no lab process, mount or file left"
}

# user_line NAME: the line for NAME in a passwd-style file, or empty.
free_id() { # free_id START FILE... : first id >= START unused in the files' 3rd field
	local id=$1
	shift
	while awk -F: -v id="$id" '$3 == id { found = 1 } END { exit !found }' "$@"; do id=$((id + 1)); done
	echo "$id"
}

cmd_start() {
	local n=${1:-3} i
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $MAXHOSTS ] || die "host count must be 1..$MAXHOSTS"
	[ "$(id -u)" = 0 ] || die "must run as root"
	local need
	for need in sshd:/usr/sbin/sshd sudo:/usr/bin/sudo unshare:/usr/bin/unshare ssh-keygen:/usr/bin/ssh-keygen openssl:/usr/bin/openssl; do
		[ -x "${need#*:}" ] || die "${need%%:*} not found (${need#*:}); install openssh-server openssh-client sudo util-linux openssl"
	done
	if [ -d "$LAB" ]; then
		running && die "a lab is already running in $LAB (lab/sshd.sh stop first)"
		remove_parts
	fi
	grep -q "$MARK" /proc/self/mountinfo && die "lab mounts already in the mount table"
	for ((i = 1; i <= n; i++)); do
		if (exec 3<>"/dev/tcp/$NET.$((10 + i))/$PORT") 2>/dev/null; then
			die "$NET.$((10 + i)):$PORT is already in use"
		fi
	done
	local t0
	t0=$(now_ms)
	umask 022
	mkdir -p "$LAB"/{bin,keys,hosts,common}
	chmod 0700 "$LAB"
	install -m 0755 "$HERE/ns-init.sh" "$LAB/bin/ns-init.sh"
	install -m 0755 "$HERE/systemctl" "$LAB/bin/systemctl"

	# Secrets: random per lab; they only go to the 0600 env file.
	local pw pass
	pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
	pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

	# Client keys: one plain, one encrypted with a passphrase.
	ssh-keygen -q -t ed25519 -N '' -C hawiz-lab-key -f "$LAB/keys/id_ed25519"
	ssh-keygen -q -t ed25519 -N "$pass" -C hawiz-lab-encrypted-key -f "$LAB/keys/id_ed25519_enc"

	# Common layer (a lower layer shared by every host, above the real tree).
	local c=$LAB/common uid_a uid_b
	mkdir -p "$c"/etc/{sudoers.d,ssh/sshd_config.d,hawiz-lab/services,hawiz-lab/enabled,mongodb-mms} \
		"$c"/var/{mmsuite,log/hawiz-lab} "$c"/opt/mongodb/mms "$c"/home
	uid_a=$(free_id 2901 /etc/passwd /etc/group)
	uid_b=$(free_id $((uid_a + 1)) /etc/passwd /etc/group)
	cp -p /etc/passwd /etc/group "$c/etc/"
	cp -p /etc/shadow "$c/etc/shadow"
	if [ -f /etc/gshadow ]; then cp -p /etc/gshadow "$c/etc/gshadow"; fi
	local hash day
	hash=$(printf '%s' "$pw" | openssl passwd -6 -stdin)
	day=$(($(date +%s) / 86400))
	{
		echo "hawiz:x:$uid_a:$uid_a:hawiz lab (NOPASSWD sudo):/home/hawiz:/bin/bash"
		echo "hawizpw:x:$uid_b:$uid_b:hawiz lab (sudo asks for a password):/home/hawizpw:/bin/bash"
	} >>"$c/etc/passwd"
	{
		echo "hawiz:*:$day:0:99999:7:::"
		echo "hawizpw:$hash:$day:0:99999:7:::"
	} >>"$c/etc/shadow"
	printf 'hawiz:x:%s:\nhawizpw:x:%s:\n' "$uid_a" "$uid_b" >>"$c/etc/group"
	if [ -f "$c/etc/gshadow" ]; then printf 'hawiz:!::\nhawizpw:!::\n' >>"$c/etc/gshadow"; fi
	cat >"$c/etc/sudoers.d/hawiz-lab" <<-'EOF'
		# hawiz lab: one user with passwordless sudo, one whose sudo asks for a password.
		hawiz   ALL=(ALL:ALL) NOPASSWD: ALL
		hawizpw ALL=(ALL:ALL) ALL
	EOF
	chmod 0440 "$c/etc/sudoers.d/hawiz-lab"
	cat >"$c/etc/ssh/sshd_config.d/hawiz-lab.conf" <<-EOF
		# hawiz lab (Debian's sshd_config includes this first; first value wins).
		# Host keys: the host's own ed25519 and ECDSA keys (two types, like real servers).
		HostKey /etc/ssh/ssh_host_ed25519_key
		HostKey /etc/ssh/ssh_host_ecdsa_key
		Port $PORT
		PasswordAuthentication yes
		KbdInteractiveAuthentication no
		PubkeyAuthentication yes
		PermitRootLogin no
		AllowTcpForwarding yes
		AllowAgentForwarding yes
		UseDNS no
		LogLevel VERBOSE
		# MaxSessions is left at OpenSSH's default (10), like the servers hawiz meets.
	EOF
	# /etc/hosts: every lab name, or sudo stalls on the unreachable resolver.
	{
		echo "127.0.0.1 localhost"
		echo "::1 localhost ip6-localhost ip6-loopback"
		for ((i = 1; i <= n; i++)); do echo "$NET.$((10 + i)) lab$i lab$i.lab.hawiz.test"; done
	} >"$c/etc/hosts"
	chmod 0755 "$c/etc/mongodb-mms" "$c/var/mmsuite" "$c/opt/mongodb" "$c/opt/mongodb/mms"
	chmod 0755 "$c/var/log/hawiz-lab"
	: >"$c/var/log/hawiz-lab/systemctl.log"
	chmod 0666 "$c/var/log/hawiz-lab/systemctl.log" # every user's calls get recorded
	# The stand-in rpm (lab/standins/rpm/rpm): an empty package database until a test
	# installs a stand-in package with it; every call recorded in rpm.log.
	mkdir -p "$c/usr/bin"
	install -m 0755 "$HERE/standins/rpm/rpm" "$c/usr/bin/rpm"
	: >"$c/var/log/hawiz-lab/rpm.log"
	chmod 0666 "$c/var/log/hawiz-lab/rpm.log"
	local u uid
	for u in hawiz:$uid_a hawizpw:$uid_b; do
		uid=${u#*:}
		u=${u%%:*}
		mkdir -p "$c/home/$u/.ssh"
		cp /etc/skel/.bashrc /etc/skel/.profile "$c/home/$u/" 2>/dev/null || true
		cat "$LAB/keys/id_ed25519.pub" "$LAB/keys/id_ed25519_enc.pub" >"$c/home/$u/.ssh/authorized_keys"
		chmod 0700 "$c/home/$u" "$c/home/$u/.ssh"
		chmod 0600 "$c/home/$u/.ssh/authorized_keys"
		chown -R "$uid:$uid" "$c/home/$u"
	done
	# Every lower layer's directories must carry the real directories' owner and mode.
	local d
	for d in etc var opt home usr usr/bin; do chmod --reference="/$d" "$c/$d"; chown --reference="/$d" "$c/$d"; done

	# Per-host upper dirs and host keys, then launch every host in parallel.
	local h addr name known=$LAB/known_hosts
	: >"$known"
	for ((i = 1; i <= n; i++)); do
		name=lab$i
		addr=$NET.$((10 + i))
		h=$LAB/hosts/$name
		mkdir -p "$h"/upper/etc/{ssh,hawiz-lab} "$h/work"
		for d in etc var opt home root srv usr; do
			[ -d "/$d" ] || continue
			mkdir -p "$h/upper/$d" "$h/work/$d"
			chmod --reference="/$d" "$h/upper/$d"
			chown --reference="/$d" "$h/upper/$d"
		done
		echo "$addr" >"$h/addr"
		echo "$name" >"$h/upper/etc/hostname"
		printf 'HAWIZ_HOST_NAME=%s\nHAWIZ_HOST_ADDR=%s\nHAWIZ_STANDIN_APPDB_DIR=%s\n' "$name" "$addr" "$APPDB" >"$h/upper/etc/hawiz-lab/host.env"
		if [[ " $NOFORWARD " == *" $i "* ]]; then
			# Read before hawiz-lab.conf (sshd_config.d/*.conf in order; first value wins).
			mkdir -p "$h/upper/etc/ssh/sshd_config.d"
			printf '# hawiz lab: HAWIZ_LAB_NOFORWARD\nAllowTcpForwarding no\n' >"$h/upper/etc/ssh/sshd_config.d/00-hawiz-noforward.conf"
		fi
		ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$h/upper/etc/ssh/ssh_host_ed25519_key"
		ssh-keygen -q -t ecdsa -b 256 -N '' -C "root@$name" -f "$h/upper/etc/ssh/ssh_host_ecdsa_key"
		# The lab's known_hosts holds what OpenSSH would record: the ed25519 key.
		local hostpat=$addr
		[ "$PORT" = 22 ] || hostpat="[$addr]:$PORT"
		echo "$hostpat $(cut -d' ' -f1,2 "$h/upper/etc/ssh/ssh_host_ed25519_key.pub")" >>"$known"
		# Launch: setsid execs unshare (same PID, own session); unshare forks the
		# namespace's PID 1 and kills it if unshare dies (--kill-child).
		setsid unshare --mount --uts --ipc --pid --fork --kill-child --mount-proc \
			--propagation private "$LAB/bin/ns-init.sh" "$name" "$addr" "$PORT" "$LAB" \
			</dev/null >"$h/sshd.log" 2>&1 &
		echo "$! $(starttime $!)" >"$h/unshare.pid"
	done

	# Wait for every host: record its PID 1 and sshd (PID + start time), then port open.
	local deadline upid ust ip ist sp sst ok
	deadline=$(($(now_ms) + 15000))
	for ((i = 1; i <= n; i++)); do
		name=lab$i
		h=$LAB/hosts/$name
		addr=$(cat "$h/addr")
		read -r upid ust <"$h/unshare.pid"
		ip="" sp=""
		ok=""
		while [ "$(now_ms)" -lt "$deadline" ]; do
			alive "$upid" "$ust" || break
			if [ -z "$ip" ]; then
				ip=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null | awk '{print $1}')
				if [ -n "$ip" ]; then
					ist=$(starttime "$ip")
					echo "$ip $ist $upid $ust" >"$h/pid"
				fi
			fi
			if [ -n "$ip" ] && [ -z "$sp" ] && [ -f "$h/upper/etc/hawiz-lab/sshd.nspid" ]; then
				for sp in $(cat "/proc/$ip/task/$ip/children" 2>/dev/null); do
					[ "$(cat "/proc/$sp/comm" 2>/dev/null)" = sshd ] && break
					sp=""
				done
				[ -n "$sp" ] && echo "$sp $(starttime "$sp")" >"$h/sshd.pid"
			fi
			if [ -n "$sp" ] && (exec 3<>"/dev/tcp/$addr/$PORT") 2>/dev/null; then ok=1; break; fi
			sleep 0.01
		done
		if [ -z "$ok" ]; then
			echo "---- $name log:" >&2
			cat "$h/sshd.log" >&2 || true
			cmd_stop >&2 || true
			die "$name did not come up on $addr:$PORT"
		fi
	done

	# The env file: everything the tests and the bench need (mode 0600, never printed).
	local names="" addrs=""
	for ((i = 1; i <= n; i++)); do
		names+="${names:+ }lab$i"
		addrs+="${addrs:+ }$NET.$((10 + i))"
	done
	(
		umask 077
		cat >"$LAB/env" <<-EOF
			# hawiz lab, written by lab/sshd.sh start $n at $(date -u +%FT%TZ)
			HAWIZ_LAB_DIR=$LAB
			HAWIZ_LAB_HOSTS=$n
			HAWIZ_LAB_NAMES="$names"
			HAWIZ_LAB_ADDRS="$addrs"
			HAWIZ_LAB_PORT=$PORT
			HAWIZ_LAB_NET=$NET
			HAWIZ_LAB_NOFORWARD="$NOFORWARD"
			HAWIZ_LAB_USER=hawiz
			HAWIZ_LAB_PW_USER=hawizpw
			HAWIZ_LAB_PASSWORD=$pw
			HAWIZ_LAB_KEY=$LAB/keys/id_ed25519
			HAWIZ_LAB_ENC_KEY=$LAB/keys/id_ed25519_enc
			HAWIZ_LAB_KEY_PASSPHRASE=$pass
			HAWIZ_LAB_KNOWN_HOSTS=$LAB/known_hosts
			HAWIZ_LAB_SSH_CONFIG=$LAB/ssh_config
			HAWIZ_LAB_SYSTEMCTL_LOG=/var/log/hawiz-lab/systemctl.log
			HAWIZ_LAB_SERVICES_DIR=/etc/hawiz-lab/services
			HAWIZ_LAB_APPDB_DIR=$APPDB
		EOF
	)
	# An ssh_config for people and for the bench: `ssh -F $LAB/ssh_config lab1`.
	{
		for ((i = 1; i <= n; i++)); do
			printf 'Host lab%s\n  HostName %s.%s\n' "$i" "$NET" $((10 + i))
		done
		printf 'Host *\n  User hawiz\n  Port %s\n  IdentityFile %s\n  IdentitiesOnly yes\n' "$PORT" "$LAB/keys/id_ed25519"
		printf '  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n' "$known"
	} >"$LAB/ssh_config"
	log "$n host(s) up in $(($(now_ms) - t0)) ms: $addrs (port $PORT); env file $LAB/env"
}

# ---- one host's sshd: kill-sshd, start-sshd, restart-sshd ----------------------------

# field N of /proc/PID/stat after the command name (3 = state, 4 = ppid), or empty.
statfield() {
	local s i=$(($2 - 2))
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo "${!i}"
}

# host_init N: checks host N runs; sets name, h, ip (its init's PID), port.
host_init() {
	[[ ${1:-} =~ ^[0-9]+$ ]] || die "host number expected (1 for lab1)"
	[ "$(id -u)" = 0 ] || die "must run as root"
	name=lab$1
	h=$LAB/hosts/$name
	[ -f "$h/pid" ] || die "$name: no such lab host in $LAB"
	local ist upid ust
	read -r ip ist upid ust <"$h/pid"
	alive "$ip" "$ist" || die "$name is not running"
	# Labs started by an older script: their init would end the host with its sshd.
	grep -q 'sshd.down' "$LAB/bin/ns-init.sh" ||
		die "$name: this lab was started by an older lab/sshd.sh (its init cannot restart sshd); stop and start it again"
	port=$(sed -n 's/^HAWIZ_LAB_PORT=//p' "$LAB/env" 2>/dev/null)
	port=${port:-$PORT}
}

# listener: PID of host N's listening sshd when it runs (saved PID + start time, a child
# of the host's init, in the host's PID namespace), else empty.
listener() {
	local sp="" sst=""
	[ -f "$h/sshd.pid" ] && read -r sp sst <"$h/sshd.pid"
	alive "$sp" "$sst" || return 0
	[ "$(statfield "$sp" 4)" = "$ip" ] || return 0
	[ "$(readlink "/proc/$sp/ns/pid")" = "$(readlink "/proc/$ip/ns/pid")" ] || return 0
	echo "$sp"
}

# conn_procs PID: "PID:STARTTIME" of every sshd process below PID (one connection =
# a privileged monitor and its unprivileged child; sshd-session on OpenSSH >= 9.8).
conn_procs() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		case "$(cat "/proc/$c/comm" 2>/dev/null)" in
		sshd | sshd-session) echo "$c:$(starttime "$c")" ;;
		esac
		conn_procs "$c"
	done
}

cmd_kill_sshd() {
	local name h ip port sp sst conns="" c p st n=0 t0
	t0=$(now_ms)
	host_init "${1:-}"
	case "${2:-}" in
	"") ;;
	--connections) conns=1 ;;
	*) die "kill-sshd N [--connections]" ;;
	esac
	sp=$(listener)
	[ -n "$sp" ] || die "$name: its sshd is not running (lab/sshd.sh start-sshd $1)"
	sst=$(starttime "$sp")
	# Collected before the listener dies (then they are the init's children).
	[ -z "$conns" ] || conns=$(conn_procs "$sp")
	# Tell the host's init this is on purpose (it waits for start-sshd instead of ending).
	: >"/proc/$ip/root/run/hawiz-lab/sshd.down" || die "$name: cannot write its sshd.down"
	kill -KILL "$sp"
	for c in $conns; do
		p=${c%%:*} st=${c#*:}
		if alive "$p" "$st"; then kill -KILL "$p" 2>/dev/null && n=$((n + 1)); fi
	done
	local deadline=$(($(now_ms) + 5000)) left
	while [ "$(now_ms)" -lt "$deadline" ]; do
		left=""
		alive "$sp" "$sst" && left=1
		for c in $conns; do alive "${c%%:*}" "${c#*:}" && left=1; done
		[ -z "$left" ] && break
		sleep 0.01
	done
	[ -z "$left" ] || die "$name: sshd processes still alive 5 s after KILL"
	rm -f "$h/sshd.pid"
	if [ -n "$conns" ]; then
		log "$name: sshd (pid $sp) and $n connection process(es) killed in $(($(now_ms) - t0)) ms; lab/sshd.sh start-sshd $1 starts it again"
	else
		log "$name: sshd (pid $sp) killed in $(($(now_ms) - t0)) ms (open connections kept); lab/sshd.sh start-sshd $1 starts it again"
	fi
}

cmd_start_sshd() {
	local name h ip port addr sp="" nspid="" c t0
	t0=$(now_ms)
	host_init "${1:-}"
	addr=$(cat "$h/addr")
	[ -z "$(listener)" ] || die "$name: sshd already runs (pid $(listener))"
	local root=/proc/$ip/root
	[ -e "$root/run/hawiz-lab/sshd.down" ] || die "$name: its sshd was not stopped by lab/sshd.sh kill-sshd"
	rm -f "$root/etc/hawiz-lab/sshd.nspid"
	kill -USR1 "$ip"
	local deadline=$(($(now_ms) + 10000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		alive "$ip" "$(cut -d' ' -f2 "$h/pid")" || die "$name: its init ended"
		if [ -z "$sp" ]; then
			nspid=$(cat "$root/etc/hawiz-lab/sshd.nspid" 2>/dev/null || true)
			if [ -n "$nspid" ]; then
				# The child of init whose PID in the host's namespace is nspid (NSpid:
				# root-namespace PID first, the host's last).
				for c in $(cat "/proc/$ip/task/$ip/children" 2>/dev/null); do
					if [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$c/status" 2>/dev/null)" = "$nspid" ]; then
						sp=$c
						echo "$sp $(starttime "$sp")" >"$h/sshd.pid"
						break
					fi
				done
			fi
		fi
		if [ -n "$sp" ] && (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
			log "$name: sshd started again (pid $sp) on $addr:$port in $(($(now_ms) - t0)) ms"
			return 0
		fi
		sleep 0.01
	done
	die "$name: sshd did not listen on $addr:$port within 10 s (see $h/sshd.log)"
}

case "${1:-}" in
start) cmd_start "${2:-3}" ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill-sshd) cmd_kill_sshd "${2:-}" "${3:-}" ;;
start-sshd) cmd_start_sshd "${2:-}" ;;
restart-sshd)
	cmd_kill_sshd "${2:-}" "${3:-}"
	cmd_start_sshd "${2:-}"
	;;
*) echo "usage: $0 start [N] | stop | status | kill-sshd N [--connections] | start-sshd N | restart-sshd N [--connections]" >&2; exit 2 ;;
esac
