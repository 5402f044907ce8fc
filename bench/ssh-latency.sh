#!/bin/bash
# Latency of one remote command on the lab: hawiz remote vs bare x/crypto/ssh (the
# floor) vs ssh with a ControlMaster vs plain ssh (bench/sshlatency).
#
#   bench/ssh-latency.sh [--quick] [-n N] [-max-ratio R]
#
# Uses the running lab ($HAWIZ_LAB_DIR/env); when none runs, starts one (root) and stops
# it again on exit. Outside CI it fails when hawiz's median exceeds 1.2× the floor's;
# --quick (CI) runs fewer iterations and never fails on timing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HAWIZ_LAB_DIR=${HAWIZ_LAB_DIR:-/tmp/hawiz-lab}
args=()
for a in "$@"; do
	case "$a" in
	--quick) args+=(-quick) ;;
	*) args+=("$a") ;;
	esac
done
if [ ! -f "$HAWIZ_LAB_DIR/env" ]; then
	echo "bench: no lab running in $HAWIZ_LAB_DIR; starting one for this run"
	trap 'bash lab/sshd.sh stop' EXIT
	bash lab/sshd.sh start 3
fi
go build -tags e2e -o "$HAWIZ_LAB_DIR/sshlatency" ./bench/sshlatency
"$HAWIZ_LAB_DIR/sshlatency" "${args[@]}"
