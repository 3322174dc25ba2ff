#!/usr/bin/env bash
# Prints the netplan document for a VM's lab interfaces, from the environment the Vagrantfile passes:
#   LAB_ADDRESSES  "eth1=192.168.10.100/24 eth2=..."        (addresses; no DHCP on lab interfaces)
#   LAB_ROUTES     "eth1:192.168.20.0/24:192.168.10.200 ..." (static routes: device, destination, gateway)
# Pure: reads nothing else and changes nothing, so the self-tests run it as it is.
set -euo pipefail

addresses=${LAB_ADDRESSES:-}
routes=${LAB_ROUTES:-}
[ -n "$addresses" ] || { echo "render-netplan: LAB_ADDRESSES is empty" >&2; exit 1; }

devices=" "
for entry in $addresses; do devices+="${entry%%=*} "; done
for route in $routes; do
  [[ $devices == *" ${route%%:*} "* ]] || { echo "render-netplan: route \"$route\" is on an interface with no lab address" >&2; exit 1; }
done

echo "# Written by cilium-lab provisioning (provision/network.sh): lab interfaces and their routes."
echo "network:"
echo "  version: 2"
echo "  ethernets:"
for entry in $addresses; do
  dev=${entry%%=*}
  cidr=${entry#*=}
  [[ $dev =~ ^[A-Za-z0-9_.-]{1,15}$ && $cidr =~ ^[0-9.]+/[0-9]+$ ]] || { echo "render-netplan: bad address entry \"$entry\"" >&2; exit 1; }
  echo "    $dev:"
  echo "      dhcp4: false"
  echo "      dhcp6: false"
  echo "      addresses:"
  echo "        - $cidr"
  first=1
  for route in $routes; do
    IFS=: read -r rdev dst via <<<"$route"
    [[ -n $rdev && $dst =~ ^[0-9.]+/[0-9]+$ && $via =~ ^[0-9.]+$ ]] || { echo "render-netplan: bad route entry \"$route\"" >&2; exit 1; }
    [ "$rdev" = "$dev" ] || continue
    if [ "$first" = 1 ]; then
      echo "      routes:"
      first=0
    fi
    echo "        - to: $dst"
    echo "          via: $via"
  done
done
