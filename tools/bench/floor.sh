#!/bin/bash
# The floor: the work of playbooks/site.yml on the embedded default chain, done by hand with
# no checks beyond set -e and sha256sum: kernel modules, sysctls and swap off; containerd,
# runc, crictl and kubelet from their release files (each checked against the checksum the
# mirror serves next to it, or against a pin); CNI plugins and python3-yaml from Debian; the
# configuration files site.yml wrote on another VM (with containerd's registry hosts directory:
# the images come through the test bed's registry mirror, as on the embedded default);
# containerd and kubelet started; done when the static pod runs.
#
# Inputs (environment):
#   MIRROR                     artifact mirror URL (as the guest reaches it)
#   FILES                      base64 tar.gz of the configuration files site.yml wrote
#   <KEY>_PATH                 the file's path on the mirror, for KEY in
#                              CONTAINERD RUNC CRICTL KUBELET
#   <KEY>_CHECKSUM_PATH        the path of the checksum file the mirror serves next to it
#                              (sha256sum format "<hash>  <name>" or a bare hash), or
#   <KEY>_SHA256               a pin (wins over the checksum file)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
KEYS=(CONTAINERD RUNC CRICTL KUBELET)
STAGE=/var/cache/kubenode

get() {  # url dest [url dest ...]: download each (no curl in the base image), one Python start
  python3 -c '
import shutil, sys, urllib.request
for url, dest in zip(sys.argv[1::2], sys.argv[2::2]):
    with urllib.request.urlopen(url) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
' "$@"
}

checksum_of() {  # checksum-file name: the hash the file gives for name (or its only, bare hash)
  awk -v name="$2" 'NF == 1 { print $1; exit } { n = $2; sub(/^\*/, "", n) } n == name { print $1; exit }' "$1"
}

# FLOOR_FUNCTIONS_ONLY=1: only define the functions (tools/tests/test_bench.py sources them).
if [ "${FLOOR_FUNCTIONS_ONLY:-}" = 1 ]; then return 0; fi

# Kernel modules now and at boot, swap off now and at boot (site.yml: node_prereqs).
modprobe overlay
modprobe br_netfilter
echo overlay > /etc/modules-load.d/overlay.conf
echo br_netfilter > /etc/modules-load.d/br_netfilter.conf
swapoff --all
systemctl mask -q swap.target

# Every release file, checked before anything is installed (site.yml: fetch).
mkdir -p "$STAGE"
args=()
for key in "${KEYS[@]}"; do
  sha=${key}_SHA256
  if [ -z "${!sha:-}" ]; then
    checksum_path=${key}_CHECKSUM_PATH
    args+=("$MIRROR/${!checksum_path:?$key: neither ${key}_SHA256 nor ${key}_CHECKSUM_PATH is set}" "$STAGE/$key.checksum")
  fi
done
[ ${#args[@]} -eq 0 ] || get "${args[@]}"
args=()
sums=""
for key in "${KEYS[@]}"; do
  path=${key}_PATH
  path=${!path:?${key}_PATH is not set}
  sha=${key}_SHA256
  sha=${!sha:-}
  if [ -z "$sha" ]; then
    sha=$(checksum_of "$STAGE/$key.checksum" "$(basename "$path")")
    [ -n "$sha" ] || { echo "floor: ${key}_CHECKSUM_PATH names no checksum for $(basename "$path")" >&2; exit 1; }
  fi
  args+=("$MIRROR/$path" "$STAGE/$key.file")
  sums+="$sha  $STAGE/$key.file"$'\n'
done
get "${args[@]}"
printf '%s' "$sums" | sha256sum --check --quiet --strict

# CNI plugins from Debian, and what the kubelet role and the verifier need (python3-yaml).
apt-get update -qq
apt-get install -y -qq --no-install-recommends containernetworking-plugins python3-yaml >/dev/null

# The binaries, where site.yml links them (it keeps each in a content-addressed directory).
tar -xzf "$STAGE/CONTAINERD.file" -C /usr/local bin/containerd bin/containerd-shim-runc-v2 bin/ctr
install -m 0755 "$STAGE/RUNC.file" /usr/local/sbin/runc
tar -xzf "$STAGE/CRICTL.file" -C /usr/local/bin crictl
install -m 0755 "$STAGE/KUBELET.file" /usr/local/bin/kubelet

# The same configuration files: sysctl, CNI conflist, udev link drop-in, containerd config,
# unit and registry hosts (mirrors and their CA), crictl, kubelet config and unit, static pod.
echo "$FILES" | base64 -d | tar -xzf - -C /
sysctl -q -p /etc/sysctl.d/99-kubenode.conf
udevadm control --reload
mkdir -p /var/lib/kubelet
systemctl daemon-reload
systemctl enable -q --now containerd
until crictl info >/dev/null 2>&1; do sleep 0.2; done
systemctl enable -q --now kubelet
until [ -n "$(crictl ps --name proof --state running -q)" ]; do sleep 1; done
crictl version
