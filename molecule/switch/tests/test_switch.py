"""Switch the runtime of a node running kubelet standalone with a static pod (tests run in order)."""

from __future__ import annotations

import json
import re

from chaintest import run_playbook

SNAPSHOT = r"""
dpkg-query -W -f='${Package} ${Version}\n' | sha256sum
find /etc /usr/local /var/cache/kubenode -xdev -printf '%p %s %T@\n' 2>/dev/null | grep -v '^/etc/ld.so.cache ' | sort
sha256sum /var/lib/kubelet/config.yaml
systemctl is-active containerd crio kubelet || true
"""
SOCKETS = {"containerd": "unix:///run/containerd/containerd.sock", "crio": "unix:///run/crio/crio.sock"}


def switch(tmp_path, target, *extra):
    rc, output = run_playbook("switch_runtime.yml", "-e", f"runtime_switch_to={target}", "-e", f"runtime_switch_report_dir={tmp_path}", *extra)
    reports = sorted(tmp_path.glob("runtime-switch-*.json"))
    return rc, output, json.loads(reports[-1].read_text()) if reports else None


def recap_changed(output):
    return int(re.search(r"node\s+:\s+ok=\d+\s+changed=(\d+)", output).group(1))


def assert_node_runs(host, runtime):
    """The static pod runs on ``runtime``, and ``runtime`` is the only CRI runtime that answers."""
    other = "crio" if runtime == "containerd" else "containerd"
    assert host.service(runtime).is_running and not host.service(other).is_running
    assert not host.service(other).is_enabled
    containers = json.loads(host.run_expect([0], "crictl --runtime-endpoint %s ps --name proof --state running -o json",
                                            SOCKETS[runtime]).stdout)["containers"]
    assert len(containers) == 1
    chain = host.ansible("kubenode.runtime_chain.runtime_chain_info", "runtime=auto fail_on_checks=false", check=False)
    checks = {c["id"]: c["status"] for c in chain["checks"]}
    assert chain["chain"]["runtime"] == runtime
    assert checks["endpoint.single_runtime"] == "ok"
    assert checks["endpoint.kubelet"] == "ok" and checks["endpoint.crictl"] == "ok"
    assert chain["summary"]["fail"] == 0, [c for c in chain["checks"] if c["status"] == "fail"]


def test_check_mode_prints_the_plan_and_changes_nothing(host, tmp_path):
    before = host.run_expect([0], SNAPSHOT).stdout
    rc, output, report = switch(tmp_path, "crio", "--check")
    assert rc == 0, output[-3000:]
    flat = " ".join(output.split())  # the YAML callback wraps long plan lines
    assert "containerd/runc -> crio/runc" in flat and "roll back to containerd" in flat, output[-3000:]
    assert report is None
    assert host.run_expect([0], SNAPSHOT).stdout == before


def test_containerd_to_crio(host, tmp_path):
    rc, output, report = switch(tmp_path, "crio")
    assert rc == 0, output[-4000:]
    assert report["result"] == "switched" and report["leftovers"]["left_anything"] is False, report
    assert report["downtime_seconds"] > 0
    assert_node_runs(host, "crio")


def test_switching_again_to_the_same_runtime_changes_nothing(host, tmp_path):
    rc, output, report = switch(tmp_path, "crio")
    assert rc == 0 and "nothing to do" in output
    assert recap_changed(output) == 0
    assert report is None


def test_crio_to_containerd(host, tmp_path):
    rc, output, report = switch(tmp_path, "containerd")
    assert rc == 0, output[-4000:]
    assert report["result"] == "switched" and report["leftovers"]["left_anything"] is False, report
    assert_node_runs(host, "containerd")


def test_a_failed_switch_rolls_back(host, tmp_path):
    """CRI-O gets a monitor that does not exist: it cannot come up, the node goes back to containerd."""
    rc, output, report = switch(tmp_path, "crio", "-e", "crio_conmon_path=/nonexistent/conmon")
    assert rc != 0
    assert "Rolled back: containerd runs again and its chain verified" in output, output[-4000:]
    assert report["result"] == "rolled back" and report["failure"]
    assert_node_runs(host, "containerd")
