#!/bin/bash
# The proof table: hawiz against the bare x/crypto/ssh floor, OpenSSH and Ansible on the
# OpenSSH lab, measured side by side in one run (P1 per command, P2 whole procedure vs an
# Ansible playbook, P3 scale 3 → 30 hosts vs the floor, P5 start-up).
#
#   bench/proof.sh [--quick] [--keep]
#
# Root. Runs everything in a private network namespace (unshare --net, loopback only), so
# its lab (lab/sshd.sh start 30, in $HAWIZ_PROOF_DIR, default /tmp/hawiz-proof) never
# collides with another lab on 127.0.0.11… of this machine; stops it on exit.
# Installs Debian's ansible-core when missing (policy-rc.d first).
# Exits 1 when a goal is missed; --quick (CI: fewer repetitions, P2 on 3 members only, P3 on
# 3 and 30 hosts once) prints the table but never fails on timing when CI is set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
quick="" keep=""
for a in "$@"; do
	case "$a" in
	--quick) quick=1 ;;
	--keep) keep=1 ;;
	*) echo "usage: $0 [--quick] [--keep]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench/proof.sh: must run as root (the lab)" >&2; exit 2; }
work=${HAWIZ_PROOF_DIR:-/tmp/hawiz-proof}

if [ -z "${HAWIZ_PROOF_INNER:-}" ]; then
	if ! command -v ansible-playbook >/dev/null; then
		echo "bench/proof.sh: installing ansible-core (Debian)"
		created=""
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && created=1
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible-core bind9-dnsutils </dev/null >/tmp/hawiz-proof-apt.log 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ansible-core bind9-dnsutils </dev/null >>/tmp/hawiz-proof-apt.log 2>&1; } ||
			{ tail -20 /tmp/hawiz-proof-apt.log >&2; exit 2; }
		[ -z "$created" ] || rm -f /usr/sbin/policy-rc.d
	fi
	# Build outside the namespace (the module proxy is not reachable inside).
	mkdir -p "$work/bin"
	go build -o "$work/bin/hawiz" ./cmd/hawiz
	go build -tags e2e -o "$work/bin/proof" ./bench/proof
	go build -o "$work/bin/mmcentrald" ./lab/standins/mmcentral/mmcentrald
	go build -tags e2e -o "$work/bin/sshlatency" ./bench/sshlatency
	go mod download
	export HAWIZ_PROOF_INNER=1
	exec unshare --net bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi

# ---- inside the private network namespace ----
export HAWIZ_LAB_DIR=$work/lab
unset HAWIZ_LAB_ENV
export HAWIZ_LAB_PORT=22
export GOFLAGS=${GOFLAGS:-} GOPROXY=off
hosts=30
trap 'rc=$?; [ -n "$keep" ] || bash lab/sshd.sh stop >/dev/null || true; exit $rc' EXIT
bash lab/sshd.sh stop >/dev/null 2>&1 || true
bash lab/sshd.sh start $hosts
echo "---- P1: bench/ssh-latency.sh"
p1=$work/p1.txt
args=()
[ -z "$quick" ] || args+=(--quick)
CI= bash bench/ssh-latency.sh "${args[@]}" | tee "$p1" || true
echo "---- P2, P3, P5"
pargs=(-hawiz "$work/bin/hawiz" -dir "$work/run" -ansible "$PWD/bench/ansible" -p1 "$p1")
[ -z "$quick" ] || pargs+=(-quick)
"$work/bin/proof" "${pargs[@]}"
