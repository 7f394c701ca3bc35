"""The node against its Node object: kubeconfig parsing and the cluster checks (C23), as tables.

The Node objects are the shapes a 1.36 API server returns (trimmed to the fields read); what a
real cluster cannot be made to show on purpose (a Node reporting another runtime's version) is
covered here only."""

from __future__ import annotations

import base64

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import chain, cluster

EP = "unix:///run/containerd/containerd.sock"
CRI = {"version": {"runtime_name": "containerd", "runtime_version": "v2.3.7"}}


def _node(ready="True", runtime="containerd://2.3.7", annotation=None, **conditions):
    node = {"metadata": {"name": "w1", "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady" if ready == "True" else "KubeletNotReady",
                                       "message": "kubelet is posting ready status" if ready == "True" else "container runtime is down"}]
                       + [{"type": t, "status": s, "reason": t + "Reason"} for t, s in conditions.items()],
                       "nodeInfo": {"containerRuntimeVersion": runtime, "kubeletVersion": "v1.36.5"}}}
    if annotation:
        node["metadata"]["annotations"][chain.CRI_SOCKET_ANNOTATION] = annotation
    return cluster.node_summary(node)


def _facts(node=None, classes=None, error=None):
    return {"kubeconfig": "/etc/kubernetes/kubelet.conf", "node_name": "w1", "node": node,
            "runtime_classes": {} if classes is None else classes, "error": error}


def _by_id(checks):
    return {c["id"]: c for c in checks}


def test_node_summary_keeps_only_what_the_checks_read():
    node = _node(annotation="unix:///run/crio/crio.sock", MemoryPressure="False")
    assert node["annotations"] == {chain.CRI_SOCKET_ANNOTATION: "unix:///run/crio/crio.sock"}
    assert node["container_runtime_version"] == "containerd://2.3.7" and not node["unschedulable"]
    assert set(node["conditions"]) == {"Ready", "MemoryPressure"}


@pytest.mark.parametrize(
    ("node", "id_", "status", "says"),
    [
        (_node(), "cluster.node_ready", "ok", ""),
        (_node(DiskPressure="True"), "cluster.node_ready", "ok", ""),
        (_node(ready="False"), "cluster.node_ready", "fail", "container runtime is down"),
        (_node(), "cluster.node_runtime", "ok", ""),
        (_node(runtime="containerd://v2.3.7"), "cluster.node_runtime", "ok", ""),
        # kubelet still talks to the old runtime after a switch (cannot be made on purpose on a real node).
        (_node(runtime="cri-o://1.36.3"), "cluster.node_runtime", "fail", "the Node reports cri-o://1.36.3"),
        (_node(), "cluster.cri_socket_record", "ok", ""),
        (_node(annotation=EP), "cluster.cri_socket_record", "ok", ""),
        (_node(annotation="/run/containerd/containerd.sock"), "cluster.cri_socket_record", "ok", ""),
        # C23: the annotation kubeadm upgrade reads still names the runtime the node left.
        (_node(annotation="unix:///var/run/crio/crio.sock"), "cluster.cri_socket_record", "fail", "kubectl annotate node w1"),
    ],
)
def test_cluster_checks_compare_the_node_object_with_the_runtime(node, id_, status, says):
    got = _by_id(chain.cluster_checks(_facts(node), "containerd", CRI, EP, ["runc"], "runc"))[id_]
    assert got["status"] == status and says in got["hint"] and got["link"] == "cluster"


def test_other_true_conditions_are_named_on_a_ready_node():
    got = _by_id(chain.cluster_checks(_facts(_node(DiskPressure="True")), "containerd", CRI, EP, ["runc"], "runc"))
    assert "DiskPressure=True" in got["cluster.node_ready"]["observed"]


@pytest.mark.parametrize(
    ("classes", "handlers", "status", "says"),
    [
        ({}, ["runc"], "ok", ""),
        ({"crun": "crun"}, ["crun", "runc"], "ok", ""),
        ({}, ["crun", "runc"], "warn", "handlers without a RuntimeClass (pods cannot ask for them): crun"),
        ({"gvisor": "runsc"}, ["runc"], "warn", "gvisor (handler runsc)"),
    ],
)
def test_runtime_classes_against_the_runtime_handlers(classes, handlers, status, says):
    got = _by_id(chain.cluster_checks(_facts(_node(), classes), "containerd", CRI, EP, handlers, "runc"))["cluster.runtime_classes"]
    assert got["status"] == status and says in got["hint"]


def test_without_api_access_every_cluster_check_is_skipped_naming_why():
    checks = chain.cluster_checks(_facts(error="no kubeconfig at /etc/kubernetes/kubelet.conf"), "containerd", CRI, EP, ["runc"], "runc")
    assert [c["id"] for c in checks] == list(chain.CLUSTER_CHECK_IDS)
    assert {c["status"] for c in checks} == {"skip"} and checks[0]["observed"] == "no kubeconfig at /etc/kubernetes/kubelet.conf"
    assert chain.summarize(checks, [])["skip"] == 4 and chain.summarize(checks, [])["failed"] == []


def test_no_cluster_facts_no_cluster_checks():
    assert chain.cluster_checks(None, "containerd", CRI, EP, ["runc"], "runc") == []


def test_runtime_classes_that_cannot_be_listed_are_skipped():
    facts = {**_facts(_node()), "runtime_classes": None, "runtime_classes_error": "HTTP 403 Forbidden"}
    got = _by_id(chain.cluster_checks(facts, "containerd", CRI, EP, ["runc"], "runc"))["cluster.runtime_classes"]
    assert got["status"] == "skip" and got["observed"] == "HTTP 403 Forbidden"


def _b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        # kubelet's kubeconfig as kubeadm writes it: files, relative ones below the kubeconfig's directory.
        ({"current-context": "system:node:w1@kubernetes",
          "contexts": [{"name": "system:node:w1@kubernetes", "context": {"cluster": "kubernetes", "user": "system:node:w1"}}],
          "clusters": [{"name": "kubernetes", "cluster": {"server": "https://10.0.2.100:6443/", "certificate-authority-data": _b64("CA")}}],
          "users": [{"name": "system:node:w1", "user": {"client-certificate": "/var/lib/kubelet/pki/kubelet-client-current.pem",
                                                        "client-key": "pki/key.pem"}}]},
         {"server": "https://10.0.2.100:6443", "ca_data": "CA", "cert_file": "/var/lib/kubelet/pki/kubelet-client-current.pem",
          "key_file": "/etc/kubernetes/pki/key.pem", "token": None, "insecure": False}),
        # An admin's: inline data, the only context taken without current-context, a token.
        ({"contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
          "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}}],
          "users": [{"name": "u", "user": {"token": "abc", "client-certificate-data": _b64("CERT"), "client-key-data": _b64("KEY")}}]},
         {"server": "https://127.0.0.1:6443", "ca_data": None, "ca_file": None, "cert_data": "CERT", "key_data": "KEY", "token": "abc",
          "insecure": True}),
    ],
)
def test_kubeconfig_connection_follows_the_current_context(config, expected):
    got = cluster.kubeconfig_connection(config, "/etc/kubernetes")
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "no current-context"),
        ({"current-context": "x", "contexts": []}, "no context named 'x'"),
        ({"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}]}, "no cluster named 'c'"),
    ],
)
def test_a_kubeconfig_without_its_context_is_refused(config, message):
    with pytest.raises(ValueError, match=message):
        cluster.kubeconfig_connection(config)


def test_cluster_facts_without_a_kubeconfig_say_so(tmp_path):
    assert cluster.cluster_facts(None, "w1")["error"] == "no kubeconfig given"
    assert cluster.cluster_facts(str(tmp_path / "none"), "w1")["error"] == f"no kubeconfig at {tmp_path / 'none'}"
    broken = tmp_path / "kubeconfig"
    broken.write_text("current-context: x\n")
    assert "cannot read the kubeconfig" in cluster.cluster_facts(str(broken), "w1")["error"]


def _api_node(name, ready="True", unschedulable=None, taints=None):
    spec = {"taints": taints} if taints else {}
    if unschedulable is not None:
        spec["unschedulable"] = unschedulable
    return {"metadata": {"name": name}, "spec": spec, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    "nodes, exclude, expected",
    [
        ([_api_node("w2"), _api_node("w1")], "", ["w1", "w2"]),
        ([_api_node("w1"), _api_node("w2")], "w1", ["w2"]),
        # kubeadm's control plane repels pods: draining the only worker leaves nowhere to run
        ([_api_node("cp", taints=[CONTROL_PLANE_TAINT]), _api_node("w1")], "w1", []),
        ([_api_node("w1"), _api_node("w2", unschedulable=True)], "w1", []),  # cordoned
        ([_api_node("w1"), _api_node("w2", ready="False")], "w1", []),
        ([_api_node("w1"), _api_node("w2", ready="Unknown")], "w1", []),
        ([_api_node("w1"), _api_node("w2", taints=[{"key": "k", "effect": "NoExecute"}])], "w1", []),
        # a PreferNoSchedule taint still takes pods
        ([_api_node("w1"), _api_node("w2", taints=[{"key": "k", "effect": "PreferNoSchedule"}])], "w1", ["w2"]),
        ([_api_node("w1"), _api_node("w2", unschedulable=False)], "w1", ["w2"]),
        ([{"metadata": {"name": "w2"}}], "", []),  # no status yet
        ([], "w1", []),
    ],
)
def test_schedulable_nodes_are_ready_uncordoned_and_untainted(nodes, exclude, expected):
    assert cluster.schedulable_nodes(nodes, exclude) == expected


@pytest.mark.parametrize(
    "ready, recorded, version, runs",
    [
        ("True", "containerd://2.3.7", {"runtime_name": "containerd", "runtime_version": "v2.3.7"}, True),
        ("True", "cri-o://1.36.3", {"runtime_name": "cri-o", "runtime_version": "1.36.3"}, True),
        # kubelet has not posted the new runtime yet (a switch from CRI-O, seconds after the restart)
        ("True", "cri-o://1.36.3", {"runtime_name": "containerd", "runtime_version": "v2.3.7"}, False),
        ("False", "containerd://2.3.7", {"runtime_name": "containerd", "runtime_version": "v2.3.7"}, False),
        ("True", None, {"runtime_name": "containerd", "runtime_version": "v2.3.7"}, False),
        ("True", "containerd://2.3.7", {}, False),
    ],
)
def test_node_runs_only_when_ready_on_the_runtime_that_answers(ready, recorded, version, runs):
    node = {"status": {"conditions": [{"type": "Ready", "status": ready}], "nodeInfo": {"containerRuntimeVersion": recorded}}}
    assert cluster.node_runs(node, version) is runs
