"""Verify the provisioned chain on the VM: through the CRI socket, not through files.

Runs after converge and idempotence (Molecule's verify step, testinfra over SSH).
"""

from __future__ import annotations

import json
import time

import yaml


def test_runtime_service_is_active_and_enabled(host, expected):
    service = host.service(expected["runtime"])
    assert service.is_running
    assert service.is_enabled


def test_runtime_answers_on_its_cri_socket(cri, expected):
    assert not cri.get("failed"), cri.get("msg")
    assert cri["version"]["runtime_name"] == {"containerd": "containerd", "crio": "cri-o"}[expected["runtime"]]
    assert cri["version"]["runtime_api_version"] == "v1"
    assert cri["runtime_ready"] is True


def test_effective_cgroup_driver_is_the_requested_one(cri, expected):
    # Read from the running daemon (RuntimeConfig, or its verbose Status), not from a file.
    assert cri["cgroup_driver"]["value"] == expected["cgroup_driver"], cri["cgroup_driver"]
    assert cri["cgroup_driver"]["source"]


def test_crictl_yaml_points_at_the_live_socket(host, expected):
    config = yaml.safe_load(host.file("/etc/crictl.yaml").content_string)
    assert config["runtime-endpoint"] == expected["endpoint"]
    assert config["image-endpoint"] == expected["endpoint"]
    assert host.file(expected["endpoint"][len("unix://"):]).is_socket
    # crictl with no endpoint flag uses crictl.yaml: it must reach the same runtime.
    assert "RuntimeName" in host.run_expect([0], "crictl version").stdout


def test_kernel_modules_are_loaded_and_persisted(host):
    for module in ("overlay", "br_netfilter"):
        assert host.file(f"/sys/module/{module}").is_directory, f"{module} not loaded"
        assert host.file(f"/etc/modules-load.d/{module}.conf").contains(module)


def test_sysctls_are_live(host):
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    assert host.file("/proc/sys/net/bridge/bridge-nf-call-iptables").content_string.strip() == "1"


def test_swap_is_off_now_and_at_boot(host):
    # prepare.yml turned a swap file on (and listed it in /etc/fstab).
    assert len(host.file("/proc/swaps").content_string.strip().splitlines()) == 1
    assert "masked" in host.run("systemctl is-enabled swap.target").stdout


def test_a_container_runs_through_the_default_oci_runtime(host, expected, images):
    """Import the local images, run a pod sandbox and a one-shot container, read its output."""
    for image in images.values():
        host.run_expect([0], "ctr -n k8s.io images import %s", image["path"])
    pod = {
        "metadata": {"name": "chain-smoke", "uid": "chain-smoke-uid", "namespace": "default"},
        "log_directory": "/var/log/pods/chain-smoke",
        "linux": {"security_context": {"namespace_options": {"network": 2}}},
    }
    if expected["cgroup_driver"] == "systemd":
        # With the systemd driver the sandbox's parent must be a slice (kubelet passes one).
        pod["linux"]["cgroup_parent"] = "kubenode-smoke.slice"
    ctr = {
        "metadata": {"name": "hello"},
        "image": {"image": images["test-image"]["reference"]},
        "command": ["/bin/sh", "-c", "echo hello from the chain; exit 3"],
        "log_path": "hello.log",
    }
    host.run_expect([0], "printf %s %s > /var/tmp/pod.json", "%s", json.dumps(pod))
    host.run_expect([0], "printf %s %s > /var/tmp/ctr.json", "%s", json.dumps(ctr))
    pod_id = host.run_expect([0], "crictl runp /var/tmp/pod.json").stdout.strip()
    try:
        ctr_id = host.run_expect([0], "crictl create %s /var/tmp/ctr.json /var/tmp/pod.json", pod_id).stdout.strip()
        host.run_expect([0], "crictl start %s", ctr_id)
        deadline = time.monotonic() + 60
        while True:
            status = json.loads(host.run_expect([0], "crictl inspect -o json %s", ctr_id).stdout)
            if status["status"]["state"] == "CONTAINER_EXITED" or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert status["status"]["state"] == "CONTAINER_EXITED"
        assert status["status"]["exitCode"] == 3
        assert host.run_expect([0], "crictl logs %s", ctr_id).stdout.strip() == "hello from the chain"
        if expected["runtime"] == "containerd":
            options = status["info"]["runtimeOptions"]
            assert status["info"]["runtimeType"] == "io.containerd.runc.v2"
            assert options.get("binary_name", options.get("BinaryName")) == {
                "runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}[expected["oci_runtime"]]
        host.run_expect([0], "crictl rm %s", ctr_id)
    finally:
        host.run("crictl stopp %s", pod_id)
        host.run("crictl rmp %s", pod_id)
    assert host.run_expect([0], "crictl pods -q").stdout.strip() == ""
