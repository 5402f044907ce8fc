#!/bin/bash
# A/B: P1 (one remote command; bench/sshlatency) and P2 (micetro-central-ha on 3 members,
# fresh and re-run; bench/proof -only P2) for git revision REV and for the work tree,
# alternated in ONE run on ONE lab, so a change's cost is measured under the same load.
#
#   bench/ab.sh REV [--reps N] [-n N]
#
# Root. Both sides use the work tree's bench programs (bench/sshlatency, bench/proof): only
# the code under test differs (the remote package linked into sshlatency, the hawiz binary
# proof drives). Runs in a private network namespace (unshare --net, loopback only) with a
# 3-host lab of its own in $HAWIZ_AB_DIR (default /tmp/hawiz-ab), stopped on exit.
# Rounds alternate the order (A B, then B A, ...). Prints each round's rows, then the medians
# of A (REV) and B (work tree) and B/A; P2's Ansible row shows how far the load moved between sides.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rev="" reps=3 n=100
while [ $# -gt 0 ]; do
	case "$1" in
	--reps) reps=$2; shift 2 ;;
	-n) n=$2; shift 2 ;;
	-*) echo "usage: $0 REV [--reps N] [-n N]" >&2; exit 2 ;;
	*) [ -z "$rev" ] || { echo "usage: $0 REV [--reps N] [-n N]" >&2; exit 2; }; rev=$1; shift ;;
	esac
done
[ -n "$rev" ] || { echo "usage: $0 REV [--reps N] [-n N]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench/ab.sh: must run as root (the lab)" >&2; exit 2; }
work=${HAWIZ_AB_DIR:-/tmp/hawiz-ab}

if [ -z "${HAWIZ_AB_INNER:-}" ]; then
	command -v ansible-playbook >/dev/null || { echo "bench/ab.sh: needs ansible-playbook (bench/proof.sh installs it)" >&2; exit 2; }
	rm -rf "$work" && mkdir -p "$work/A" "$work/B"
	sha=$(git rev-parse --verify "$rev^{commit}")
	src=$work/src-A
	git worktree add --detach -f "$src" "$sha" >/dev/null
	trap 'git worktree remove --force "$src" >/dev/null 2>&1 || true' EXIT
	# The work tree's bench harness, the revision's code under test.
	rm -rf "$src/bench/sshlatency" && cp -r bench/sshlatency "$src/bench/sshlatency"
	(cd "$src" && go build -o "$work/A/hawiz" ./cmd/hawiz && go build -tags e2e -o "$work/A/sshlatency" ./bench/sshlatency)
	go build -o "$work/B/hawiz" ./cmd/hawiz
	go build -tags e2e -o "$work/B/sshlatency" ./bench/sshlatency
	go build -tags e2e -o "$work/proof" ./bench/proof
	go mod download
	echo "A = $rev ($sha), B = work tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'))"
	HAWIZ_AB_INNER=1 HAWIZ_AB_SHA=$sha unshare --net bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$rev" --reps "$reps" -n "$n"
	exit $?
fi

# ---- inside the private network namespace ----
export HAWIZ_LAB_DIR=$work/lab HAWIZ_LAB_PORT=22 GOFLAGS=${GOFLAGS:-} GOPROXY=off
unset HAWIZ_LAB_ENV
trap 'bash lab/sshd.sh stop >/dev/null || true' EXIT
bash lab/sshd.sh stop >/dev/null 2>&1 || true
bash lab/sshd.sh start 3
res=$work/results.tsv
: >"$res"
for r in $(seq 1 "$reps"); do
	order="A B"
	[ $((r % 2)) = 1 ] || order="B A" # ABBA: neither side always runs first
	for side in $order; do
		out=$work/$side/p1-$r.txt
		"$work/$side/sshlatency" -n "$n" -max-ratio 1000 >"$out"
		grep -E 'hawiz remote Run' "$out" | sed "s/^/round $r $side P1 /"
		awk -v s="$side" '/hawiz remote Run\(true\), reused conn/ {print s "\tP1 Run(true) median ms\t" $(NF-4)}
			/hawiz remote Run\(true, Sudo\)/ {print s "\tP1 Run(true, Sudo) median ms\t" $(NF-4)}
			/hawiz remote Run\(cat, 4 KiB stdin, Sudo\)/ {print s "\tP1 Run(cat, 4 KiB stdin, Sudo) median ms\t" $(NF-4)}' "$out" >>"$res"
		out=$work/$side/p2-$r.txt
		"$work/proof" -hawiz "$work/$side/hawiz" -dir "$work/$side/run-$r" -ansible "$PWD/bench/ansible" -only P2 -reps 1 -quick >"$out" 2>&1 || true
		grep -E '^proof: P2 ' "$out" | sed "s/^/round $r $side /"
		sed -n 's/^proof: P2 micetro-central-ha, 3 members, fresh[^:]*: \([0-9.]*\) s vs \([0-9.]*\) s.*/\1\t\2/p' "$out" |
			awk -v s="$side" -F'\t' '{print s "\tP2 fresh s\t" $1; print s "\tP2 fresh Ansible s\t" $2}' >>"$res"
		sed -n 's/^proof: P2   re-run on the finished cluster, 3 members: \([0-9.]*\) s vs \([0-9.]*\) s.*/\1/p' "$out" |
			awk -v s="$side" '{print s "\tP2 re-run s\t" $1}' >>"$res"
	done
done
echo
echo "medians over $reps round(s), A = ${HAWIZ_AB_SHA:0:12}, B = work tree; load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$res" <<'EOF'
import sys, statistics, collections
v = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    side, name, x = line.rstrip("\n").split("\t")
    if name not in order:
        order.append(name)
    v[(side, name)].append(float(x))
print(f"{'measure':42} {'A':>10} {'B':>10} {'B/A':>7}")
for name in order:
    a, b = v.get(("A", name)), v.get(("B", name))
    ma = statistics.median(a) if a else float("nan")
    mb = statistics.median(b) if b else float("nan")
    print(f"{name:42} {ma:10.3f} {mb:10.3f} {mb/ma if a and b and ma else float('nan'):7.2f}")
EOF
