"""kubelet configuration as data: standalone config, and aligning a kubeadm node (C12, C23)."""

from __future__ import annotations

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import kubelet

EP = "unix:///run/crio/crio.sock"


def test_standalone_config_names_the_endpoint_driver_and_static_pods():
    config = kubelet.standalone_config(EP, "systemd", True, "/etc/kubernetes/manifests")
    assert config["kind"] == "KubeletConfiguration" and config["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert config["containerRuntimeEndpoint"] == EP == config["imageServiceEndpoint"]
    assert config["cgroupDriver"] == "systemd"
    assert config["failSwapOn"] is True
    assert config["staticPodPath"] == "/etc/kubernetes/manifests"
    assert config["address"] == "127.0.0.1" and config["readOnlyPort"] == 0
    assert config["authentication"]["anonymous"]["enabled"] is False


def test_extra_fields_merge_one_level_deep():
    extra = {"authentication": {"x509": {"clientCAFile": "/ca"}}, "maxPods": 20}
    config = kubelet.standalone_config(EP, "systemd", False, "/m", extra=extra)
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["authentication"]["x509"] == {"clientCAFile": "/ca"}
    assert config["maxPods"] == 20 and config["failSwapOn"] is False


def test_kubeadm_config_keeps_kubeadm_fields_and_sets_the_runtime_ones():
    current = {"kind": "KubeletConfiguration", "clusterDNS": ["10.96.0.10"], "cgroupDriver": "cgroupfs",
               "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock"}
    config = kubelet.kubeadm_config(current, EP, "systemd")
    assert config["clusterDNS"] == ["10.96.0.10"]
    assert config["containerRuntimeEndpoint"] == EP and config["cgroupDriver"] == "systemd"
    assert current["cgroupDriver"] == "cgroupfs"  # input untouched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/dockershim.sock --pod-infra-container-image=x:3.9 '
         '--node-ip=10.0.0.5"\n', 'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.5"\n'),
        ('KUBELET_KUBEADM_ARGS="--container-runtime=remote --container-runtime-endpoint unix:///x.sock --v=2"\n',
         'KUBELET_KUBEADM_ARGS="--v=2"\n'),
        ('# comment\nKUBELET_KUBEADM_ARGS=""\n', '# comment\nKUBELET_KUBEADM_ARGS=""\n'),
    ],
)
def test_kubeadm_flags_lose_removed_and_endpoint_flags(text, expected):
    assert kubelet.kubeadm_flags(text) == expected


def test_instance_config_points_at_the_node_runtime():
    config = kubelet.instance_config({"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
                                      "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock"}, EP)
    assert config["containerRuntimeEndpoint"] == EP
    assert kubelet.instance_config({}, EP)["kind"] == "KubeletConfiguration"


def test_static_pods_are_matched_to_running_containers_by_pod_name_label():
    ps = '{"containers":[{"labels":{"io.kubernetes.pod.name":"kubenode-proof-local-node"}},{"labels":{}}]}'
    assert kubelet.static_pods_not_running(ps, ["kubenode-proof", "other"]) == ["other"]
    assert kubelet.static_pods_not_running('{"containers":[]}', ["kubenode-proof"]) == ["kubenode-proof"]
