#!/bin/bash
# The floor: the work of playbooks/site.yml (containerd from Debian, crictl, kubelet standalone
# with a static pod), done by hand with no checks beyond set -e and the sha256 pins.
# Inputs (environment): MIRROR (artifact mirror URL), CRICTL_PATH/CRICTL_SHA256,
# KUBELET_PATH/KUBELET_SHA256, PAUSE_PATH/PAUSE_SHA256, TEST_PATH/TEST_SHA256 (mirror paths
# and pins), FILES (base64 tar.gz of the configuration files site.yml wrote on another VM).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

fetch() {  # url sha256 dest
  python3 -c "import urllib.request,sys; open(sys.argv[2],'wb').write(urllib.request.urlopen(sys.argv[1]).read())" "$1" "$3"
  echo "$2  $3" | sha256sum -c --quiet
}

modprobe overlay
modprobe br_netfilter
echo overlay > /etc/modules-load.d/overlay.conf
echo br_netfilter > /etc/modules-load.d/br_netfilter.conf
swapoff --all
systemctl mask -q swap.target

mkdir -p /var/cache/kubenode
fetch "$MIRROR/$CRICTL_PATH" "$CRICTL_SHA256" /var/cache/kubenode/crictl.tar.gz
fetch "$MIRROR/$KUBELET_PATH" "$KUBELET_SHA256" /usr/local/bin/kubelet
fetch "$MIRROR/$PAUSE_PATH" "$PAUSE_SHA256" /var/cache/kubenode/pause.tar
fetch "$MIRROR/$TEST_PATH" "$TEST_SHA256" /var/cache/kubenode/test.tar
tar -xzf /var/cache/kubenode/crictl.tar.gz -C /usr/local/bin crictl
chmod 0755 /usr/local/bin/kubelet

apt-get update -qq
apt-get install -y -qq --no-install-recommends runc containerd containernetworking-plugins python3-yaml >/dev/null

# The same configuration files: containerd, crictl, sysctl, CNI, kubelet config, unit, static pod.
echo "$FILES" | base64 -d | tar -xzf - -C /
sysctl -q -p /etc/sysctl.d/99-kubenode.conf
systemctl daemon-reload
systemctl restart containerd
until crictl info >/dev/null 2>&1; do sleep 0.2; done
ctr -n k8s.io images import /var/cache/kubenode/pause.tar >/dev/null
ctr -n k8s.io images import /var/cache/kubenode/test.tar >/dev/null
systemctl enable -q --now kubelet
until [ -n "$(crictl ps --name proof --state running -q)" ]; do sleep 1; done
crictl version
