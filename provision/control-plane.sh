#!/usr/bin/env bash
# The control plane: kubeadm init from a configuration file (no kube-proxy: Cilium replaces it), with the
# cluster CA and bootstrap token the Vagrantfile made on the host (so workers can check the CA hash);
# control-plane taint removed; kubeconfig for root and the vagrant user; helm, cilium and hubble CLIs at
# pinned versions; Cilium installed by helm from the values files in provision/values/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
start_log
require LAB_NODE LAB_NODE_IP LAB_API_HOST LAB_API_PORT LAB_POD_CIDR LAB_SERVICE_CIDR LAB_JOIN_TOKEN LAB_PKI_UPLOAD \
  K8S_VERSION CILIUM_VERSION HELM_VERSION CILIUM_CLI_VERSION HUBBLE_CLI_VERSION
print_versions
arch=$(cpu_arch)
export KUBECONFIG=/etc/kubernetes/admin.conf

step "cluster CA from the host"
install -d -m 755 /etc/kubernetes/pki
if [ -f /etc/kubernetes/pki/ca.crt ]; then
  cmp -s /etc/kubernetes/pki/ca.crt "$LAB_PKI_UPLOAD/ca.crt" ||
    die "/etc/kubernetes/pki/ca.crt differs from the lab CA in the host's .vagrant/cilium-lab; re-create the lab (npm run lab:down)"
else
  install -m 644 "$LAB_PKI_UPLOAD/ca.crt" /etc/kubernetes/pki/ca.crt
  install -m 600 "$LAB_PKI_UPLOAD/ca.key" /etc/kubernetes/pki/ca.key
fi
rm -rf "$LAB_PKI_UPLOAD"

step "kubeadm configuration $LAB_ETC/kubeadm-init.yaml"
write_if_changed "$LAB_ETC/kubeadm-init.yaml" 600 <<EOT || true
# Written by cilium-lab provisioning (provision/control-plane.sh).
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "$LAB_JOIN_TOKEN"
    description: "cilium-lab: worker join (workers check the CA hash)"
    ttl: "0s"
    usages: [signing, authentication]
    groups: ["system:bootstrappers:kubeadm:default-node-token"]
localAPIEndpoint:
  advertiseAddress: "$LAB_NODE_IP"
  bindPort: $LAB_API_PORT
$(kubeadm_node_registration)
  taints: []
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: "v$K8S_VERSION"
controlPlaneEndpoint: "$LAB_API_HOST:$LAB_API_PORT"
apiServer:
  certSANs: ["$LAB_API_HOST", "$LAB_NODE_IP", "$LAB_NODE"]
networking:
  serviceSubnet: "$LAB_SERVICE_CIDR"
proxy:
  disabled: true
EOT

if [ -f /etc/kubernetes/admin.conf ]; then
  step "kubeadm init: already done (/etc/kubernetes/admin.conf exists)"
else
  step "kubeadm init"
  kubeadm init --config "$LAB_ETC/kubeadm-init.yaml"
fi

step "kubeconfig for root and vagrant"
install -d -m 700 /root/.kube
# Copied only when admin.conf changed, so a re-run rewrites nothing.
write_if_changed /root/.kube/config 600 </etc/kubernetes/admin.conf || true
install -d -m 700 -o vagrant -g vagrant /home/vagrant/.kube
write_if_changed /home/vagrant/.kube/config 600 </etc/kubernetes/admin.conf || true
chown vagrant:vagrant /home/vagrant/.kube/config
wait_for "the API server on $LAB_API_HOST:$LAB_API_PORT" 300 kubectl get --raw /readyz

step "control-plane taint removed from $LAB_NODE"
if kubectl get node "$LAB_NODE" -o jsonpath='{.spec.taints[*].key}' | grep -qw node-role.kubernetes.io/control-plane; then
  kubectl taint nodes "$LAB_NODE" node-role.kubernetes.io/control-plane-
fi

step "helm ${HELM_VERSION}"
if [ "$(helm version --template '{{.Version}}' 2>/dev/null || true)" != "v$HELM_VERSION" ]; then
  install_release_binary helm "https://get.helm.sh/helm-v$HELM_VERSION-linux-$arch.tar.gz" \
    "https://get.helm.sh/helm-v$HELM_VERSION-linux-$arch.tar.gz.sha256sum" "linux-$arch/helm"
fi

step "cilium CLI ${CILIUM_CLI_VERSION}"
if ! cilium version --client 2>/dev/null | grep -qF "v$CILIUM_CLI_VERSION"; then
  base=https://github.com/cilium/cilium-cli/releases/download/v$CILIUM_CLI_VERSION
  install_release_binary cilium "$base/cilium-linux-$arch.tar.gz" "$base/cilium-linux-$arch.tar.gz.sha256sum" cilium
fi

step "hubble CLI ${HUBBLE_CLI_VERSION}"
if ! hubble version 2>/dev/null | grep -qF "$HUBBLE_CLI_VERSION"; then
  base=https://github.com/cilium/hubble/releases/download/v$HUBBLE_CLI_VERSION
  install_release_binary hubble "$base/hubble-linux-$arch.tar.gz" "$base/hubble-linux-$arch.tar.gz.sha256sum" hubble
fi

step "Cilium values: $LAB_ETC/cilium-values-base.yaml + cilium-values-topology.yaml"
write_if_changed "$LAB_ETC/cilium-values-base.yaml" 644 <"$here/values/cilium-base.yaml" || true
write_if_changed "$LAB_ETC/cilium-values-topology.yaml" 644 <<EOT || true
# Written by cilium-lab provisioning from the topology file: the lab's addresses, in one place.
k8sServiceHost: "$LAB_API_HOST"
k8sServicePort: $LAB_API_PORT
ipv4NativeRoutingCIDR: "$LAB_POD_CIDR"
ipam:
  operator:
    clusterPoolIPv4PodCIDRList: ["$LAB_POD_CIDR"]
EOT

step "helm repository cilium for root and vagrant (suites run helm upgrade from k8s-ctr)"
# `helm repo add` downloads the helm.cilium.io index once; an entry that exists with the same URL is left as it
# is (no download). The vagrant user gets a copy of root's repository list and index, not a second download.
helm repo add cilium https://helm.cilium.io/
vagrant_repos=$(sudo -u vagrant -H helm env HELM_REPOSITORY_CONFIG)
vagrant_cache=$(sudo -u vagrant -H helm env HELM_REPOSITORY_CACHE)
sudo -u vagrant -H mkdir -p "$(dirname "$vagrant_repos")" "$vagrant_cache"
copy_for_vagrant() {
  if [ -f "$1" ] && ! cmp -s "$1" "$2"; then
    install -o vagrant -g vagrant -m 644 "$1" "$2"
  fi
}
copy_for_vagrant "$(helm env HELM_REPOSITORY_CONFIG)" "$vagrant_repos"
for file in cilium-index.yaml cilium-charts.txt; do
  copy_for_vagrant "$(helm env HELM_REPOSITORY_CACHE)/$file" "$vagrant_cache/$file"
done

installed=$(helm list -n kube-system --filter '^cilium$' -o json | jq -r '.[0].chart // ""')
if [ -z "$installed" ]; then
  step "install Cilium ${CILIUM_VERSION} with helm"
  helm install cilium cilium/cilium --version "$CILIUM_VERSION" --namespace kube-system \
    -f "$LAB_ETC/cilium-values-base.yaml" -f "$LAB_ETC/cilium-values-topology.yaml"
elif [ "$installed" = "cilium-$CILIUM_VERSION" ]; then
  step "Cilium ${CILIUM_VERSION}: already installed (suites converge its settings; provisioning leaves them)"
else
  die "helm release cilium is $installed but CILIUM_VERSION is $CILIUM_VERSION; re-create the lab (npm run lab:down) to change it"
fi

# The agents (this node's included) are waited for once, by lab:up, after every VM is provisioned.
step "wait for the Cilium operator"
kubectl -n kube-system rollout status deployment/cilium-operator --timeout=600s

record HELM_INSTALLED "$(helm version --template '{{.Version}}')"
record CILIUM_CLI_INSTALLED "$(cilium version --client 2>/dev/null | head -n1)"
record HUBBLE_CLI_INSTALLED "$(hubble version 2>/dev/null | head -n1)"
record CILIUM_INSTALLED "$(helm list -n kube-system --filter '^cilium$' -o json | jq -r '.[0].app_version')"
record_done
finish
