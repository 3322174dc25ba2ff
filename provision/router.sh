#!/usr/bin/env bash
# The lab router: the tools the suites drive from it (tcpdump, arping by Thomas Habets, curl, iproute2,
# jq) and a web page on port 80 that names it. Its interfaces, dummies and forwarding come from
# network.sh; it gets no route for the pod CIDR (its default route stays the NAT interface), so native
# routing across the two subnets fails here until a suite adds routes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
start_log
require LAB_NODE LAB_POD_CIDR
print_versions

step "install router tools and Apache"
# arping here is Thomas Habets' (package arping), as on the reference router; it conflicts with iputils-arping.
apt_install tcpdump arping curl iproute2 jq apache2

step "web page naming the router"
printf '<h1>Web Server : %s</h1>\n' "$LAB_NODE" | write_if_changed /var/www/html/index.html 644 || true
systemctl enable --now apache2
wait_for "the web page on http://127.0.0.1/" 60 bash -c "curl -fsS http://127.0.0.1/ | grep -qF 'Web Server : $LAB_NODE'"

step "check: no route for the pod CIDR ${LAB_POD_CIDR}"
if ip -4 route show "$LAB_POD_CIDR" | grep -q .; then
  die "the router has a route for the pod CIDR: $(ip -4 route show "$LAB_POD_CIDR")"
fi
record ARPING "$(dpkg-query -W -f='${Package} ${Version}' arping)"
record_done
finish
