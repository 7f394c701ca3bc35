#!/bin/bash
# The floor: the same work as playbooks/site.yml, by hand, with no error handling beyond set -e.
# Inputs (environment): CRICTL_URL, CRICTL_SHA256, CONFIG_TOML (base64 of config.toml).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

modprobe overlay
modprobe br_netfilter
echo overlay > /etc/modules-load.d/overlay.conf
echo br_netfilter > /etc/modules-load.d/br_netfilter.conf
cat > /etc/sysctl.d/99-kubenode.conf <<'SYSCTL'
net.ipv4.ip_forward=1
net.bridge.bridge-nf-call-iptables=1
net.bridge.bridge-nf-call-ip6tables=1
SYSCTL
sysctl -q -p /etc/sysctl.d/99-kubenode.conf
swapoff --all
systemctl mask -q swap.target

mkdir -p /var/cache/kubenode
python3 -c "import urllib.request,sys; open(sys.argv[2],'wb').write(urllib.request.urlopen(sys.argv[1]).read())" \
  "$CRICTL_URL" /var/cache/kubenode/crictl.tar.gz
echo "$CRICTL_SHA256  /var/cache/kubenode/crictl.tar.gz" | sha256sum -c --quiet
tar -xzf /var/cache/kubenode/crictl.tar.gz -C /usr/local/bin crictl
cat > /etc/crictl.yaml <<'CRICTL'
runtime-endpoint: "unix:///run/containerd/containerd.sock"
image-endpoint: "unix:///run/containerd/containerd.sock"
timeout: 10
debug: false
pull-image-on-create: false
CRICTL

apt-get update -qq
apt-get install -y -qq --no-install-recommends runc containerd >/dev/null

echo "$CONFIG_TOML" | base64 -d > /etc/containerd/config.toml
systemctl restart containerd
until crictl info >/dev/null 2>&1; do sleep 0.2; done
crictl version
