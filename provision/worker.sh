#!/usr/bin/env bash
# A worker joins the cluster with the bootstrap token and the CA public-key hash the Vagrantfile computed
# on the host (no unsafeSkipCAVerification). The kubelet's node IP is the eth1 address.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
start_log
require LAB_NODE LAB_NODE_IP LAB_API_HOST LAB_API_PORT LAB_JOIN_TOKEN LAB_CA_CERT_HASH
print_versions

step "kubeadm join configuration $LAB_ETC/kubeadm-join.yaml"
write_if_changed "$LAB_ETC/kubeadm-join.yaml" 600 <<EOT || true
# Written by cilium-lab provisioning (provision/worker.sh).
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "$LAB_API_HOST:$LAB_API_PORT"
    token: "$LAB_JOIN_TOKEN"
    caCertHashes: ["$LAB_CA_CERT_HASH"]
$(kubeadm_node_registration)
EOT

if [ -f /etc/kubernetes/kubelet.conf ]; then
  step "kubeadm join: already done (/etc/kubernetes/kubelet.conf exists)"
else
  # lab:up provisions workers one at a time, after the control plane finished: its API server is up, so
  # this wait covers a control plane that is still restarting, not one that is being built.
  step "wait for the API server on $LAB_API_HOST:$LAB_API_PORT"
  wait_for "the API server on $LAB_API_HOST:$LAB_API_PORT" 120 \
    curl -ksf --max-time 5 "https://$LAB_API_HOST:$LAB_API_PORT/readyz"
  step "kubeadm join"
  kubeadm join --config "$LAB_ETC/kubeadm-join.yaml"
fi
record_done
finish
