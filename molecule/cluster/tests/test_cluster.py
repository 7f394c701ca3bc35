"""The kubeadm cluster: every node joined, Ready, on the runtime its inventory chose, with
kubeadm's preflight clean and kubeadm's files on the node's CRI socket (converge.yml built it;
Molecule's idempotence step proved a second site.yml run changes nothing on joined nodes)."""

from __future__ import annotations

import re

import yaml
from chaintest import chain_info

# kubeadm preflight warnings the test VMs cannot avoid, each with why (none so far).
ALLOWED_PREFLIGHT_WARNINGS: dict[str, str] = {}
RUNTIME_NAMES = {"containerd": "containerd", "crio": "cri-o"}


def _node(core, host):
    return core.read_node(host.check_output("hostname"))


def test_node_is_ready_on_the_runtime_the_inventory_chose(host, expected, core):
    node = _node(core, host)
    ready = {c.type: c for c in node.status.conditions}["Ready"]
    assert ready.status == "True", f"{node.metadata.name}: Ready is {ready.status} ({ready.reason}: {ready.message})"
    version = host.check_output(f"crictl --runtime-endpoint {expected['endpoint']} version")
    runtime_version = re.search(r"^RuntimeVersion:\s*v?(\S+)", version, re.M).group(1)
    assert node.status.node_info.container_runtime_version == f"{RUNTIME_NAMES[expected['runtime']]}://{runtime_version}"


def test_kubeadm_preflight_passed_without_warnings(host):
    log = host.file("/var/log/kubenode-kubeadm.log").content_string
    assert "[preflight] Running pre-flight checks" in log
    assert "[ERROR" not in log
    warnings = set(re.findall(r"\[WARNING ([\w.-]+)\]", log)) - set(ALLOWED_PREFLIGHT_WARNINGS)
    assert not warnings, f"kubeadm preflight warned: {sorted(warnings)}"


def test_kubeadm_files_name_the_node_runtime(host, expected):
    config = yaml.safe_load(host.file(expected["kubelet_kubeadm_config"]).content_string)
    assert config["containerRuntimeEndpoint"] == expected["endpoint"]
    assert config["cgroupDriver"] == expected["cgroup_driver"]
    instance = yaml.safe_load(host.file(expected["kubelet_instance_config"]).content_string)
    assert instance["containerRuntimeEndpoint"] == expected["endpoint"]


def test_kubeadm_configuration_files_are_root_only(host, expected):
    files = [f for f in expected["kubelet_kubeadm_files"] if host.file(f).exists]
    assert files
    for path in files:
        assert host.file(path).mode == 0o600 and host.file(path).user == "root"


def test_the_verifier_finds_the_node_as_the_api_server_records_it(host, expected):
    result = chain_info(host, expected, kubeconfig=expected["kubelet_kubeadm_kubeconfig"])
    checks = {c["id"]: c for c in result["checks"] if c["link"] == "cluster"}
    assert {i: c["status"] for i, c in checks.items()} == {
        "cluster.node_ready": "ok", "cluster.node_runtime": "ok", "cluster.cri_socket_record": "ok", "cluster.runtime_classes": "ok"}
    assert result["summary"]["failed"] == [], result["summary"]


def test_a_stale_cri_socket_record_fails_naming_the_fix(host, expected, core):  # C23
    """kubeadm's cri-socket annotation planted with the other runtime's socket (what a runtime
    switch without the annotation's update leaves), then removed."""
    other = next(e for r, e in expected["endpoints"].items() if r != expected["runtime"])
    name = host.check_output("hostname")
    annotation = "kubeadm.alpha.kubernetes.io/cri-socket"
    core.patch_node(name, {"metadata": {"annotations": {annotation: other}}})
    try:
        checks = {c["id"]: c for c in chain_info(host, expected, kubeconfig=expected["kubelet_kubeadm_kubeconfig"])["checks"]}
        record = checks["cluster.cri_socket_record"]
        assert record["status"] == "fail" and record["observed"] == other
        assert f"kubectl annotate node {name} --overwrite {annotation}={expected['endpoint']}" in record["hint"]
    finally:
        core.patch_node(name, {"metadata": {"annotations": {annotation: None}}})


def test_without_api_access_the_cluster_checks_are_skipped(host, expected):
    checks = [c for c in chain_info(host, expected, kubeconfig="/nonexistent/kubeconfig")["checks"] if c["link"] == "cluster"]
    assert checks and {c["status"] for c in checks} == {"skip"}
    assert checks[0]["observed"] == "no kubeconfig at /nonexistent/kubeconfig"
