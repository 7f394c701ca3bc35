"""Switch the runtime of a node running kubelet standalone with a static pod (tests run in order).

The node starts on CRI-O (crun default, runc second handler) with non-default sockets and
kubelet config path: the switch, its audit and the verifier must follow the roles' variables.
A drop-in of the first test makes runc CRI-O's effective default: the real switch to containerd
keeps runc (issue 11 item 7), and the switch back to CRI-O makes crun the default again.
"""

from __future__ import annotations

import json
import re

import pytest
from chaintest import SNAPSHOT, chain_info, chain_info_args, run_playbook


def switch(tmp_path, target, *extra):
    rc, output = run_playbook("switch_runtime.yml", "-e", f"runtime_switch_to={target}", "-e", f"runtime_switch_report_dir={tmp_path}", *extra)
    reports = sorted(tmp_path.glob("runtime-switch-*.json"))
    return rc, output, json.loads(reports[-1].read_text()) if reports else None


def recap_changed(output):
    return int(re.search(r"node\s+:\s+ok=\d+\s+changed=(\d+)", output).group(1))


def assert_node_runs(host, expected, runtime, oci_runtime=None):
    """The static pod runs on ``runtime`` at the role's socket, only ``runtime`` answers, and
    its default handler is ``oci_runtime`` (default: the inventory's)."""
    expected = {**expected, "oci_runtime": oci_runtime or expected["oci_runtime"]}
    other = "crio" if runtime == "containerd" else "containerd"
    assert host.service(runtime).is_running and not host.service(other).is_running
    # The runtime a switch leaves is masked: a package postinst or `systemctl start` cannot bring it back.
    assert host.run(f"systemctl is-enabled {other}").stdout.strip() == "masked"
    assert host.run(f"systemctl is-enabled {runtime}").stdout.strip() == "enabled"
    containers = json.loads(host.run_expect([0], "crictl --runtime-endpoint %s ps --name proof --state running -o json",
                                            expected["endpoints"][runtime]).stdout)["containers"]
    assert len(containers) == 1
    chain = chain_info(host, expected, runtime="auto")
    checks = {c["id"]: c["status"] for c in chain["checks"]}
    assert chain["chain"]["runtime"] == runtime and chain["chain"]["endpoint"] == expected["endpoints"][runtime]
    assert chain["chain"]["default_handler"] == expected["oci_runtime"]
    assert chain["chain"]["handlers"] == sorted(expected["handlers"])  # the second handler stays registered
    assert checks["endpoint.single_runtime"] == "ok"
    assert checks["endpoint.kubelet"] == "ok" and checks["endpoint.crictl"] == "ok"
    assert chain["summary"]["fail"] == 0, [c for c in chain["checks"] if c["status"] == "fail"]


def _crictl(expected):
    return f"crictl --runtime-endpoint {expected['endpoints']['crio']}"


def _restart_crio(host, expected):
    host.run_expect([0], f"systemctl restart crio && until {_crictl(expected)} info >/dev/null 2>&1; do sleep 0.5; done")


def _start_kubelet_and_wait_for_the_static_pod(host, expected):
    host.run_expect([0], f"systemctl start kubelet && timeout 600 sh -c 'until {_crictl(expected)} ps --name proof "
                         "--state running -q | grep -q .; do sleep 2; done'")


def test_check_mode_plans_from_the_effective_default_and_changes_nothing(host, expected, tmp_path):
    """A drop-in sorting after the role's (packages ship such files, C16) makes runc CRI-O's
    default while the inventory asks crun: the verifier names the file that won and the header
    shows the effective default; the switch in check mode plans from it (crio/runc ->
    containerd/runc, rollback to crio) and changes nothing. The pods go first and come back
    after: CRI-O restarted on another default handler cannot manage the containers the old one
    runs (C25), which would leave the static pod's first container behind, out of its reach.
    The drop-in stays for the real switch (the next test)."""
    dropin = f"{expected['crio_config'].rsplit('/', 1)[0]}/zz-local.conf"
    host.run_expect([0], f"systemctl stop kubelet && {_crictl(expected)} rmp --all --force")
    host.run_expect([0], f"printf '[crio.runtime]\\ndefault_runtime = \"runc\"\\n' > {dropin}")
    _restart_crio(host, expected)
    try:
        result = chain_info(host, expected)
        checks = {c["id"]: c for c in result["checks"]}
        default = checks["handler.default"]
        assert (default["status"], default["observed"], default["expected"]) == ("fail", "runc", "crun"), default
        assert dropin in default["source"]
        precedence = checks["runtime.config_precedence"]
        assert precedence["status"] == "fail" and dropin in precedence["hint"], precedence
        assert result["chain"]["default_handler"] == "runc"
        before = host.run_expect([0], SNAPSHOT).stdout
        rc, output, report = switch(tmp_path, "containerd", "--check")
        assert rc == 0, output[-3000:]
        flat = " ".join(output.split())  # the YAML callback wraps long plan lines
        assert "crio/runc -> containerd/runc" in flat and "roll back to crio" in flat, output[-3000:]
        assert report is None
        assert host.run_expect([0], SNAPSHOT).stdout == before
    finally:
        _start_kubelet_and_wait_for_the_static_pod(host, expected)
    result = chain_info(host, expected)
    assert sorted(result["summary"]["failed"]) == ["handler.default", "runtime.config_precedence"], result["summary"]


def test_crio_to_containerd_keeps_the_default_handler_crio_really_used(host, expected, tmp_path):  # issue 11 item 7
    """CRI-O's effective default is runc (the drop-in), the inventory says crun: the switch reads
    the runtime's effective config, and containerd comes up with runc as its default and crun
    still registered."""
    rc, output, report = switch(tmp_path, "containerd")
    assert rc == 0, output[-4000:]
    assert "crio/runc -> containerd/runc" in " ".join(output.split()), output[-3000:]
    assert report["result"] == "switched" and report["leftovers"]["left_anything"] is False, report
    assert report["downtime_seconds"] > 0
    assert_node_runs(host, expected, "containerd", oci_runtime="runc")
    host.run_expect([0], f"rm -f {expected['crio_config'].rsplit('/', 1)[0]}/zz-local.conf")  # CRI-O is stopped and masked
    # The distribution's containerd, started on the role's config file and socket.
    assert host.package("containerd").is_installed
    assert f"--config {expected['containerd_config']}" in host.run_expect([0], "systemctl show --property ExecStart containerd").stdout


def test_the_verifier_right_after_a_switch_checks_the_running_runtime(host, expected):
    """The inventory still says crio; the node runs containerd: one check says so, and every
    other check describes the containerd chain (no stray-runtime or CRI-O failures). The
    verifier runs as role verify runs it (the running runtime found, the inventory's runtime
    expected); verify.yml itself runs in the shared chain tests (CI time: one playbook fewer)."""
    args = json.loads(chain_info_args({**expected, "oci_runtime": "runc"}, runtime="auto"))  # the OCI default the switch kept
    args["expected"]["runtime"] = expected["runtime"]
    result = host.ansible("kubenode.runtime_chain.runtime_chain_info", json.dumps(args), become=True, check=False)
    assert result["summary"]["failed"] == ["runtime.inventory"], [c for c in result["checks"] if c["status"] == "fail"]
    inventory = next(c for c in result["checks"] if c["id"] == "runtime.inventory")
    assert (inventory["observed"], inventory["expected"]) == ("containerd", "crio")
    assert "runtime_switch_to=crio" in inventory["hint"]
    assert result["chain"]["runtime"] == "containerd"


def test_switching_again_to_the_same_runtime_changes_nothing(host, tmp_path):
    rc, output, report = switch(tmp_path, "containerd")
    assert rc == 0 and "nothing to do" in output
    assert recap_changed(output) == 0
    assert report is None


def test_containerd_to_crio_with_crun_as_the_default_again(host, expected, tmp_path):
    """The runtime and the default OCI runtime switched in one run (containerd/runc -> crio/crun)."""
    rc, output, report = switch(tmp_path, "crio", "-e", f"runtime_switch_oci_runtime={expected['oci_runtime']}")
    assert rc == 0, output[-4000:]
    assert f"containerd/runc -> crio/{expected['oci_runtime']}" in " ".join(output.split()), output[-3000:]
    assert report["result"] == "switched" and report["leftovers"]["left_anything"] is False, report
    assert_node_runs(host, expected, "crio")


@pytest.mark.full  # CI keeps the cheaper rollback below (the pod removal that fails after kubelet stopped)
def test_a_failed_switch_rolls_back(host, expected, tmp_path):
    """containerd is given a runc handler whose binary does not exist: the new chain fails
    verification after it came up, and the node goes back to CRI-O."""
    rc, output, report = switch(tmp_path, "containerd", "-e", json.dumps({"containerd_runtime_handlers": {"crun": "/usr/bin/crun",
                                                                                                         "runc": "/nonexistent/runc"}}))
    assert rc != 0
    assert "Rolled back: crio runs again and its chain verified" in output, output[-4000:]
    assert report["result"] == "rolled back" and report["failure"]
    assert_node_runs(host, expected, "crio")


def test_a_pod_the_old_runtime_cannot_remove_rolls_the_switch_back(host, expected, tmp_path):  # C26, issue 11 item 6
    """After kubelet stopped, the old runtime cannot stop the static pod's container (its OCI
    runtime fails every kill and delete): the switch rolls back, CRI-O runs the static pod
    again under a verified chain, and the host fails naming the pod removal."""
    crun = expected["oci_paths"]["crun"]
    host.run_expect([0], f"cp -p {crun} {crun}.real && printf '#!/bin/sh\\nfor a; do case $a in kill|delete) "
                         f"echo stuck >&2; exit 1;; esac; done\\nexec {crun}.real \"$@\"\\n' > {crun}")
    try:
        rc, output, report = switch(tmp_path, "containerd", "-e", "runtime_switch_rmp_timeout=20")
    finally:
        host.run_expect([0], f"mv -f {crun}.real {crun}")
        if host.service("containerd").is_running:  # the removal did not fail: put the node back for the next tests
            switch(tmp_path, "crio")
    assert rc != 0, output[-4000:]
    flat = " ".join(output.split())
    assert "Remove every pod through the old runtime's CRI" in flat and "Rolled back: crio runs again" in flat, output[-4000:]
    assert report["result"] == "rolled back"
    assert host.service("kubelet").is_running
    assert_node_runs(host, expected, "crio")
