"""kubelet configuration as data: standalone config, and aligning a kubeadm node (C12, C23)."""

from __future__ import annotations

import re

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
    assert kubelet.instance_config({}, EP) == {"containerRuntimeEndpoint": EP}


def test_static_pods_are_matched_to_running_containers_by_pod_name_label():
    ps = '{"containers":[{"labels":{"io.kubernetes.pod.name":"kubenode-proof-local-node"}},{"labels":{}}]}'
    assert kubelet.static_pods_not_running(ps, ["kubenode-proof", "other"]) == ["other"]
    assert kubelet.static_pods_not_running('{"containers":[]}', ["kubenode-proof"]) == ["kubenode-proof"]


def test_kubeadm_config_leaves_a_file_kubeadm_wrote_for_the_runtime_alone():
    current = {"kind": "KubeletConfiguration", "cgroupDriver": "systemd", "containerRuntimeEndpoint": EP}
    assert kubelet.kubeadm_config(current, EP, "systemd") == current
    assert "imageServiceEndpoint" not in kubelet.kubeadm_config(current, "unix:///other.sock", "systemd")
    assert kubelet.kubeadm_config({**current, "imageServiceEndpoint": "unix:///x"}, EP, "systemd")["imageServiceEndpoint"] == EP


def test_instance_config_keeps_kubeadm_patch_shape():
    assert kubelet.instance_config({"containerRuntimeEndpoint": "unix:///x"}, EP) == {"containerRuntimeEndpoint": EP}


@pytest.mark.parametrize(
    ("spec", "purpose", "expected"),
    [
        ({}, "init", [{"apiVersion": kubelet.KUBEADM_API, "kind": "InitConfiguration", "nodeRegistration": {"criSocket": EP}},
                      {"apiVersion": kubelet.API_VERSION, "kind": "KubeletConfiguration", "cgroupDriver": "systemd"}]),
        ({"ClusterConfiguration": {"kubernetesVersion": "v1.36.5"}, "InitConfiguration": {"nodeRegistration": {"taints": []}}},
         "init", [{"apiVersion": kubelet.KUBEADM_API, "kind": "InitConfiguration", "nodeRegistration": {"criSocket": EP, "taints": []}},
                  {"apiVersion": kubelet.KUBEADM_API, "kind": "ClusterConfiguration", "kubernetesVersion": "v1.36.5"},
                  {"apiVersion": kubelet.API_VERSION, "kind": "KubeletConfiguration", "cgroupDriver": "systemd"}]),
        ({"JoinConfiguration": {"discovery": {"bootstrapToken": {"token": "abcdef.0123456789abcdef"}},
                                "nodeRegistration": {"criSocket": EP}}},
         "join", [{"apiVersion": kubelet.KUBEADM_API, "kind": "JoinConfiguration", "nodeRegistration": {"criSocket": EP},
                   "discovery": {"bootstrapToken": {"token": "abcdef.0123456789abcdef"}}}]),
    ],
)
def test_kubeadm_documents_put_the_node_runtime_in_kubeadm_order(spec, purpose, expected):
    assert kubelet.kubeadm_documents(spec, EP, "systemd", purpose) == expected


@pytest.mark.parametrize(
    ("spec", "purpose", "message"),
    [
        ({"JoinConfiguration": {}}, "init", "kubelet_kubeadm_init: kubeadm init takes the kinds"),
        ({"InitConfiguration": {"nodeRegistration": {"criSocket": "unix:///run/containerd/containerd.sock"}}}, "init",
         "kubelet_kubeadm_init.InitConfiguration.nodeRegistration.criSocket is unix:///run/containerd/containerd.sock"),
        ({"KubeletConfiguration": {"cgroupDriver": "cgroupfs"}}, "init", "cgroupDriver is cgroupfs, but the node's runtime uses systemd"),
        ({"JoinConfiguration": "token"}, "join", "kubelet_kubeadm_join.JoinConfiguration must be a mapping"),
        ({}, "upgrade", "purpose must be init or join"),
    ],
)
def test_kubeadm_documents_refuse_what_is_not_the_node(spec, purpose, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        kubelet.kubeadm_documents(spec, EP, "systemd", purpose)
