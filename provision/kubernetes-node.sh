#!/usr/bin/env bash
# Every Kubernetes node: kernel modules and sysctls, swap off, containerd (containerd.io from Docker's apt
# repository) and kubelet/kubeadm/kubectl (pkgs.k8s.io) at the pinned versions, held. The kubelet's node IP
# (the eth1 address) is set by the kubeadm configuration in control-plane.sh / worker.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
start_log
require LAB_NODE K8S_VERSION CONTAINERD_VERSION
print_versions

step "kernel modules overlay, br_netfilter"
printf 'overlay\nbr_netfilter\n' | write_if_changed /etc/modules-load.d/60-cilium-lab-k8s.conf 644 || true
modprobe overlay
modprobe br_netfilter

step "sysctls for Kubernetes"
printf 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n' |
  write_if_changed /etc/sysctl.d/60-cilium-lab-k8s.conf 644 || true
sysctl -q -p /etc/sysctl.d/60-cilium-lab-k8s.conf

step "swap off, permanently"
swapoff -a
# Only when a swap line is still active: sed -i would rewrite fstab on every run even when nothing matches.
if grep -qE '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab; then
  sed -i -E '/^[^#].*[[:space:]]swap[[:space:]]/s/^/# cilium-lab: swap off: /' /etc/fstab
fi
[ -z "$(swapon --noheadings)" ] || die "swap is still on: $(swapon --noheadings)"

step "apt repositories: pkgs.k8s.io v${K8S_VERSION%.*}, Docker (containerd.io)"
apt_install_missing ca-certificates curl gpg
install -d -m 755 /etc/apt/keyrings
k8s_minor=${K8S_VERSION%.*}
if [ ! -s "/etc/apt/keyrings/kubernetes-$k8s_minor.gpg" ]; then
  curl -fsSL --retry 5 "https://pkgs.k8s.io/core:/stable:/v$k8s_minor/deb/Release.key" |
    gpg --dearmor --yes -o "/etc/apt/keyrings/kubernetes-$k8s_minor.gpg"
fi
if [ ! -s /etc/apt/keyrings/docker.asc ]; then
  curl -fsSL --retry 5 -o /etc/apt/keyrings/docker.asc https://download.docker.com/linux/ubuntu/gpg
fi
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
repos_changed=0
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-$k8s_minor.gpg] https://pkgs.k8s.io/core:/stable:/v$k8s_minor/deb/ /" |
  write_if_changed /etc/apt/sources.list.d/kubernetes.list 644 && repos_changed=1
echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu $codename stable" |
  write_if_changed /etc/apt/sources.list.d/docker.list 644 && repos_changed=1
if [ "$repos_changed" = 1 ]; then
  LAB_APT_UPDATED=
fi

step "install containerd.io ${CONTAINERD_VERSION}, kubelet/kubeadm/kubectl ${K8S_VERSION}"
install_pinned "containerd.io=$CONTAINERD_VERSION" "kubelet=$K8S_VERSION" "kubeadm=$K8S_VERSION" "kubectl=$K8S_VERSION"
apt_install conntrack socat tcpdump jq

step "containerd: systemd cgroups, the pause image kubeadm expects"
pause_image=$(kubeadm config images list --kubernetes-version "v$K8S_VERSION" 2>/dev/null | grep '/pause:' || true)
[ -n "$pause_image" ] || die "kubeadm did not name its pause image"
containerd_config=$(containerd config default |
  sed -E -e 's/SystemdCgroup = false/SystemdCgroup = true/' -e "s#sandbox_image = \".*\"#sandbox_image = \"$pause_image\"#")
if printf '%s\n' "$containerd_config" | write_if_changed /etc/containerd/config.toml 644; then
  systemctl restart containerd
fi
systemctl enable --now containerd
printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n' |
  write_if_changed /etc/crictl.yaml 644 || true
wait_for "containerd to answer" 60 crictl info

step "enable kubelet (it restarts until kubeadm configures it)"
systemctl enable kubelet

record KUBELET_INSTALLED "$(kubelet --version | awk '{print $2}')"
record CONTAINERD_INSTALLED "$(containerd --version | awk '{print $3}')"
finish
