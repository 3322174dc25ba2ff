# shellcheck shell=bash
# Sourced by every provisioning script: logging to a file on the VM, named steps, the versions in force,
# bounded waits, pinned package versions. Scripts run as root from /opt/cilium-lab/provision, with the
# environment the Vagrantfile passes (LAB_* and the version pins of lab/versions.yaml).

LAB_ETC=${LAB_ETC:-/etc/cilium-lab}
LAB_LOG_DIR=${LAB_LOG_DIR:-/var/log/cilium-lab}
LAB_VERSIONS_FILE=$LAB_ETC/versions.env
LAB_SCRIPT=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
LAB_STEP="start"
export DEBIAN_FRONTEND=noninteractive

# Failures anywhere stop the script: errtrace (-E) makes the ERR trap run for failures inside functions,
# command substitutions and subshells too (without it bash runs the trap only for top-level commands, and
# e.g. a failing curl inside install_release_binary ended the script with no FAILED line), and
# inherit_errexit stops a command substitution at its first failure instead of carrying on.
set -E
shopt -s inherit_errexit

# Everything the script prints goes to the console (Vagrant shows it) and to /var/log/cilium-lab/<script>.log.
start_log() {
  mkdir -p "$LAB_LOG_DIR"
  exec > >(tee -a "$LAB_LOG_DIR/$LAB_SCRIPT.log") 2>&1
  echo "[cilium-lab] ${LAB_NODE:-?} $LAB_SCRIPT: started $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  trap 'on_error $? $LINENO' ERR
}

# The FAILED line, printed once per failure: a failure inside a subshell, command substitution or pipeline
# reaches the script's own shell as that construct's failing status, and the line is printed there.
on_error() {
  [ "$BASH_SUBSHELL" = 0 ] || return 0
  echo "[cilium-lab] FAILED ${LAB_NODE:-?} $LAB_SCRIPT step \"$LAB_STEP\" (exit $1, line $2); log: $LAB_LOG_DIR/$LAB_SCRIPT.log" >&2
}

step() {
  LAB_STEP=$*
  echo "[cilium-lab] ${LAB_NODE:-?} $LAB_SCRIPT: $LAB_STEP"
}

die() {
  echo "[cilium-lab] FAILED ${LAB_NODE:-?} $LAB_SCRIPT step \"$LAB_STEP\": $*" >&2
  trap - ERR
  exit 1
}

finish() {
  echo "[cilium-lab] ${LAB_NODE:-?} $LAB_SCRIPT: done"
}

# require VAR... : fail naming every variable the Vagrantfile should have passed and did not.
require() {
  local name missing=()
  for name in "$@"; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ "${#missing[@]}" -eq 0 ] || die "missing environment: ${missing[*]} (run through the Vagrantfile)"
}

# The version pins in force (names listed in LAB_PINS by the Vagrantfile, from lab/versions.yaml).
print_versions() {
  local name
  echo "[cilium-lab] ${LAB_NODE:-?} versions in force:"
  for name in ${LAB_PINS:-}; do
    echo "[cilium-lab]   $name=${!name:-}"
  done
}

# record KEY VALUE: sets one line of /etc/cilium-lab/versions.env (KEY="value"; readable by `source`
# and by helpers/versions.ts). Values are reduced to characters that need no escaping.
record() {
  local key=$1 value tmp
  value=$(printf '%s' "$2" | tr -c 'A-Za-z0-9 ._:/+@=-' '_')
  mkdir -p "$LAB_ETC"
  tmp=$(mktemp "$LAB_ETC/.versions.XXXXXX")
  if [ -f "$LAB_VERSIONS_FILE" ]; then
    grep -v "^$key=" "$LAB_VERSIONS_FILE" >"$tmp" || true
  else
    echo "# What this VM was built with (written by cilium-lab provisioning; KEY=\"value\" lines)." >"$tmp"
  fi
  printf '%s="%s"\n' "$key" "$value" >>"$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$LAB_VERSIONS_FILE"
}

# forget KEY: removes one line of versions.env (e.g. PROVISIONED_OK when provisioning starts again).
forget() {
  local key=$1 tmp
  [ -f "$LAB_VERSIONS_FILE" ] || return 0
  tmp=$(mktemp "$LAB_ETC/.versions.XXXXXX")
  grep -v "^$key=" "$LAB_VERSIONS_FILE" >"$tmp" || true
  chmod 644 "$tmp"
  mv "$tmp" "$LAB_VERSIONS_FILE"
}

# The last provisioning script of a VM marks it complete; scripts/lab.ts re-provisions VMs without the mark.
record_done() {
  record PROVISIONED_OK "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

record_versions() {
  forget PROVISIONED_OK
  local name
  record LAB_NODE "${LAB_NODE:-}"
  record LAB_ROLE "${LAB_ROLE:-}"
  for name in ${LAB_PINS:-}; do
    record "$name" "${!name:-}"
  done
  record PROVISIONED_AT "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

# write_if_changed FILE MODE < content : replaces FILE only when the content differs; returns 0 when it
# wrote, 1 when FILE already had that content (so callers restart services only on change).
write_if_changed() {
  local file=$1 mode=$2 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  mkdir -p "$(dirname "$file")"
  install -m "$mode" "$tmp" "$file"
  rm -f "$tmp"
  return 0
}

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND... : runs COMMAND every 5 s until it succeeds; fails the
# step naming what it waited for when the deadline passes.
wait_for() {
  local what=$1 timeout=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      die "gave up after ${timeout}s waiting for $what"
    fi
    sleep 5
  done
  echo "[cilium-lab] ${LAB_NODE:-?} $LAB_SCRIPT: ready: $what"
}

# apt-get update once per script, and again only after the repositories changed (the caller empties
# LAB_APT_UPDATED then). Never call it inside $(...): its output would be captured and the mark lost.
apt_update_once() {
  if [ -z "${LAB_APT_UPDATED:-}" ]; then
    apt-get update -q
    LAB_APT_UPDATED=1
  fi
}

apt_install() {
  apt_update_once
  apt-get install -y -q --no-install-recommends "$@"
}

# apt_install_missing PACKAGE... : installs only the packages that are not installed yet; on a box that has
# them all (bento's Ubuntu has curl, gpg, ca-certificates) apt is not touched, so a Kubernetes node runs
# apt-get update once, after its repositories are added.
apt_install_missing() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
}

# package_version PACKAGE VERSION : sets LAB_PACKAGE_VERSION to the repository's full version string of
# PACKAGE for upstream VERSION (e.g. kubeadm X.Y.Z -> X.Y.Z-1.1), or fails naming what is missing. It sets a
# variable instead of printing, so it runs in the script's own shell: apt_update_once's output and mark
# (LAB_APT_UPDATED) are not lost in a command substitution, and die's message is the FAILED line.
package_version() {
  local pkg=$1 want=$2 found
  apt_update_once
  found=$(apt-cache madison "$pkg" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -m1 -E "^(.:)?${want//./\\.}-" || true)
  [ -n "$found" ] || die "no package $pkg for version $want in the configured repositories"
  LAB_PACKAGE_VERSION=$found
}

# install_pinned PACKAGE=VERSION... : installs the exact upstream versions and holds them. A VM that already
# has another version is not changed behind the cluster's back: that fails and says so.
install_pinned() {
  local spec pkg want have wanted=()
  for spec in "$@"; do
    pkg=${spec%%=*}
    want=${spec#*=}
    have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
    case "${have#*:}" in
      "" | "$want"-*) ;;
      *) die "$pkg $have is installed but $want is pinned; re-create this VM (npm run lab:down) to change versions" ;;
    esac
    package_version "$pkg" "$want"
    wanted+=("$pkg=$LAB_PACKAGE_VERSION")
  done
  apt_install "${wanted[@]}"
  for spec in "${wanted[@]}"; do
    apt-mark hold "${spec%%=*}" >/dev/null
  done
}

# The nodeRegistration block of the kubeadm init and join configurations: the node's name, containerd, and
# the kubelet's node IP (the address on the node's lab subnet, eth1), the same for every node.
kubeadm_node_registration() {
  printf 'nodeRegistration:\n  name: "%s"\n  criSocket: "unix:///run/containerd/containerd.sock"\n' "$LAB_NODE"
  printf '  kubeletExtraArgs:\n    - name: node-ip\n      value: "%s"' "$LAB_NODE_IP"
}

cpu_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "unsupported CPU architecture $(uname -m)" ;;
  esac
}

# lab_temp_dir : sets LAB_TEMP_DIR to a new temporary directory that is removed when the script ends, however
# it ends (a failing download, a checksum mismatch, die): nothing is left behind in /tmp.
LAB_TEMP_DIRS=()
lab_temp_dir() {
  LAB_TEMP_DIR=$(mktemp -d)
  LAB_TEMP_DIRS+=("$LAB_TEMP_DIR")
  trap remove_temp_dirs EXIT
}

remove_temp_dirs() {
  [ "${#LAB_TEMP_DIRS[@]}" -eq 0 ] || rm -rf "${LAB_TEMP_DIRS[@]}"
}

# install_release_binary NAME URL_OF_TARBALL URL_OF_SHA256 MEMBER : downloads a release tarball, checks it
# against the published sha256, installs MEMBER as /usr/local/bin/NAME.
install_release_binary() {
  local name=$1 url=$2 sum_url=$3 member=$4 dir expected
  lab_temp_dir
  dir=$LAB_TEMP_DIR
  curl -fsSL --retry 5 --retry-delay 3 -o "$dir/release.tar.gz" "$url"
  expected=$(curl -fsSL --retry 5 --retry-delay 3 "$sum_url" | awk '{print $1}')
  [ -n "$expected" ] || die "no checksum at $sum_url"
  echo "$expected  $dir/release.tar.gz" | sha256sum -c - || die "checksum mismatch for $url"
  tar -xzf "$dir/release.tar.gz" -C "$dir" "$member"
  install -m 755 "$dir/$member" "/usr/local/bin/$name"
  rm -rf "$dir"
}

# private_netplan_files : netplan warns "Permissions ... are too open" for netplan files others can read
# (bento's boxes ship them 0644), and they may hold secrets; make every one 0600 before `netplan apply`.
private_netplan_files() {
  local file
  for file in "${LAB_NETPLAN_DIR:-/etc/netplan}"/*.yaml; do
    [ -e "$file" ] || continue
    [ "$(stat -c %a "$file")" = 600 ] || chmod 600 "$file"
  done
}
