#!/usr/bin/env bash
# Renders the persistent network configuration of one lab VM under ROOT (a staging directory), from the
# environment the Vagrantfile passes; provision/network.sh installs what differs into / and applies it.
#   LAB_ADDRESSES  "eth1=192.168.10.100/24 eth2=..."         -> ROOT/etc/netplan/60-cilium-lab.yaml
#   LAB_ROUTES     "eth1:192.168.20.0/24:192.168.10.200 ..."  (device:destination:gateway), same file
#   LAB_DUMMIES    "loop1=10.10.1.200/24 ..."                 -> ROOT/etc/systemd/network/60-cilium-lab-<dev>.{netdev,network}
#   LAB_FORWARDING "1"                                        -> ROOT/etc/sysctl.d/60-cilium-lab-forwarding.conf
# Writes only under ROOT and reads nothing else, so the self-tests run it as it is.
set -euo pipefail

root=${1:?usage: render-network.sh ROOT}
addresses=${LAB_ADDRESSES:-}
routes=${LAB_ROUTES:-}
dummies=${LAB_DUMMIES:-}
fail() {
  echo "render-network: $*" >&2
  exit 1
}
[ -n "$addresses" ] || fail "LAB_ADDRESSES is empty"

cidr_re='^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$'
ip_re='^[0-9]{1,3}(\.[0-9]{1,3}){3}$'
dev_re='^[A-Za-z0-9_.-]{1,15}$'
devices=" "
for entry in $addresses; do
  [[ ${entry%%=*} =~ $dev_re && ${entry#*=} =~ $cidr_re ]] || fail "bad address entry \"$entry\""
  devices+="${entry%%=*} "
done
for route in $routes; do
  IFS=: read -r rdev dst via <<<"$route"
  [[ -n $rdev && $dst =~ $cidr_re && ${via:-} =~ $ip_re ]] || fail "bad route entry \"$route\""
  [[ $devices == *" $rdev "* ]] || fail "route \"$route\" is on an interface with no lab address"
done
for entry in $dummies; do
  [[ ${entry%%=*} =~ $dev_re && ${entry#*=} =~ $cidr_re ]] || fail "bad dummy entry \"$entry\""
done

mkdir -p "$root/etc/netplan"
{
  echo "# Written by cilium-lab provisioning (provision/render-network.sh): lab interfaces and their routes."
  echo "network:"
  echo "  version: 2"
  echo "  ethernets:"
  for entry in $addresses; do
    dev=${entry%%=*}
    echo "    $dev:"
    echo "      dhcp4: false"
    echo "      dhcp6: false"
    echo "      addresses:"
    echo "        - ${entry#*=}"
    first=1
    for route in $routes; do
      IFS=: read -r rdev dst via <<<"$route"
      [ "$rdev" = "$dev" ] || continue
      if [ "$first" = 1 ]; then
        echo "      routes:"
        first=0
      fi
      echo "        - to: $dst"
      echo "          via: $via"
    done
  done
} >"$root/etc/netplan/60-cilium-lab.yaml"
chmod 600 "$root/etc/netplan/60-cilium-lab.yaml"

for entry in $dummies; do
  dev=${entry%%=*}
  mkdir -p "$root/etc/systemd/network"
  printf '# Written by cilium-lab provisioning: a dummy interface of the router.\n[NetDev]\nName=%s\nKind=dummy\n' "$dev" \
    >"$root/etc/systemd/network/60-cilium-lab-$dev.netdev"
  printf '# Written by cilium-lab provisioning.\n[Match]\nName=%s\n\n[Network]\nAddress=%s\nConfigureWithoutCarrier=yes\n' "$dev" "${entry#*=}" \
    >"$root/etc/systemd/network/60-cilium-lab-$dev.network"
done

if [ "${LAB_FORWARDING:-0}" = 1 ]; then
  mkdir -p "$root/etc/sysctl.d"
  printf '# Written by cilium-lab provisioning: this VM routes between the lab subnets.\nnet.ipv4.ip_forward = 1\n' \
    >"$root/etc/sysctl.d/60-cilium-lab-forwarding.conf"
fi
