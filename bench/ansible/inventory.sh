#!/bin/bash
# bench/ansible/inventory.sh N [ENVFILE] > inventory.ini
# The first N lab hosts as an Ansible inventory, from the lab's env file (lab/sshd.sh):
# the same user, key, port and known_hosts hawiz uses; become = sudo (NOPASSWD user).
# Group "members": lab1 = central1 (primary, priority 10), labI = centralI (priority 10·I).
set -euo pipefail
n=${1:?usage: inventory.sh N [ENVFILE]}
envf=${2:-${HAWIZ_LAB_ENV:-${HAWIZ_LAB_DIR:-/tmp/hawiz-lab}/env}}
# shellcheck disable=SC1090
. "$envf"
read -r -a names <<<"$HAWIZ_LAB_NAMES"
read -r -a addrs <<<"$HAWIZ_LAB_ADDRS"
[ "$n" -le "${#names[@]}" ] || { echo "inventory.sh: the lab has ${#names[@]} hosts, not $n" >&2; exit 2; }
echo "[members]"
for ((i = 0; i < n; i++)); do
	echo "${names[$i]} ansible_host=${addrs[$i]} member_name=central$((i + 1)) priority=$((10 * (i + 1)))"
done
echo
echo "[members:vars]"
echo "ansible_port=$HAWIZ_LAB_PORT"
echo "ansible_user=$HAWIZ_LAB_USER"
echo "ansible_ssh_private_key_file=$HAWIZ_LAB_KEY"
echo "ansible_ssh_common_args='-o UserKnownHostsFile=$HAWIZ_LAB_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"
echo "ansible_become=true"
echo "ansible_become_method=sudo"
