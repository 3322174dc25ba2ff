#!/usr/bin/env bash
# Network of one lab VM, made persistent so that it survives a reboot:
#   - lab addresses and static routes: /etc/netplan/60-cilium-lab.yaml
#   - router only: dummy interfaces (systemd-networkd .netdev/.network files) and IPv4 forwarding (sysctl.d)
#   - every VM: the lab's host names in /etc/hosts
# provision/render-network.sh renders the files; this script installs those that differ and applies them.
# Runs first on every VM; prints and records the versions in force. Re-running rewrites the same files and
# applies only what changed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
start_log
require LAB_NODE LAB_ROLE LAB_ADDRESSES LAB_FORWARDING LAB_HOSTS
print_versions
step "record versions in $LAB_VERSIONS_FILE"
record_versions
record KERNEL "$(uname -r)"
record OS "$(. /etc/os-release && echo "$PRETTY_NAME")"

step "render the network configuration"
lab_temp_dir
stage=$LAB_TEMP_DIR
"$here/render-network.sh" "$stage"
# install_staged PATH MODE: copies one rendered file into place when it differs; succeeds when it wrote.
install_staged() {
  write_if_changed "/$1" "$2" <"$stage/$1"
}

step "netplan: lab addresses and routes"
if install_staged etc/netplan/60-cilium-lab.yaml 600; then
  step "apply netplan"
  private_netplan_files
  netplan apply
fi

if [ -n "${LAB_DUMMIES:-}" ]; then
  step "dummy interfaces ${LAB_DUMMIES} (systemd-networkd)"
  changed=0
  for file in "$stage"/etc/systemd/network/*; do
    install_staged "etc/systemd/network/$(basename "$file")" 644 && changed=1
  done
  if [ "$changed" = 1 ]; then
    networkctl reload
  fi
  for entry in $LAB_DUMMIES; do
    dev=${entry%%=*}
    cidr=${entry#*=}
    wait_for "address ${cidr} on ${dev}" 60 bash -c "ip -4 -o addr show dev '$dev' | grep -qF ' ${cidr} '"
  done
fi

if [ "$LAB_FORWARDING" = 1 ]; then
  step "IPv4 forwarding on, permanently"
  install_staged etc/sysctl.d/60-cilium-lab-forwarding.conf 644 || true
  sysctl -q -p /etc/sysctl.d/60-cilium-lab-forwarding.conf
  [ "$(sysctl -n net.ipv4.ip_forward)" = 1 ] || die "net.ipv4.ip_forward is not 1"
fi
rm -rf "$stage"

step "lab host names in /etc/hosts"
hosts_doc=$(sed '/# cilium-lab begin/,/# cilium-lab end/d' /etc/hosts)
hosts_doc+=$'\n# cilium-lab begin'
for entry in $LAB_HOSTS; do
  hosts_doc+=$'\n'"${entry%%=*} ${entry#*=}"
done
hosts_doc+=$'\n# cilium-lab end'
printf '%s\n' "$hosts_doc" | write_if_changed /etc/hosts 644 || true

step "check addresses and routes"
for entry in $LAB_ADDRESSES; do
  dev=${entry%%=*}
  cidr=${entry#*=}
  wait_for "address ${cidr} on ${dev}" 60 bash -c "ip -4 -o addr show dev '$dev' | grep -qF ' ${cidr} '"
done
for route in ${LAB_ROUTES:-}; do
  IFS=: read -r dev dst via <<<"$route"
  wait_for "route ${dst} via ${via} dev ${dev}" 60 bash -c "ip -4 route show '$dst' | grep -qF 'via $via dev $dev'"
done
ip -4 -br addr
ip -4 route
finish
