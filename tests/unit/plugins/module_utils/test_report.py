"""The verifier's table lines, JSON report and JUnit XML (parsed back to check them)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from ansible_collections.kubenode.runtime_chain.plugins.module_utils import chain, report

RESULT = {
    "chain": {"runtime": "containerd"},
    "summary": {"ok": 1, "warn": 1, "fail": 1, "failed": ["runtime.cgroup_driver"], "ignored": []},
    "checks": [
        chain.check("kernel.cgroup_v2", "kernel", "ok", "cgroup2", "cgroup2", "/sys/fs/cgroup/cgroup.controllers"),
        chain.check("runtime.cgroup_driver", "runtime", "fail", "cgroupfs", "systemd", "CRI Status info", "set SystemdCgroup = true <&>"),
        chain.check("cni.network_ready", "cni", "warn", "no CNI config", True, "CRI Status", "no network config yet"),
    ],
}


def test_table_lines_show_status_link_id_and_hint():
    lines = [report.check_line(c) for c in RESULT["checks"]]
    assert lines[0].startswith("ok   kernel   kernel.cgroup_v2") and lines[0].endswith("cgroup2")
    assert lines[1].startswith("FAIL runtime  runtime.cgroup_driver") and "set SystemdCgroup = true <&>" in lines[1]
    assert lines[2].startswith("WARN cni")


def test_a_failed_or_warned_line_carries_observed_expected_and_source():
    fail, warn = (report.check_line(c) for c in RESULT["checks"][1:])
    assert fail.endswith("(observed: cgroupfs; expected: systemd; source: CRI Status info)")
    assert "observed: no CNI config; expected: True" in warn
    bare = chain.check("x.y", "cri", "fail", "a", "b", "src")
    assert report.check_line(bare).endswith("x.y" + " " * 31 + " observed: a; expected: b; source: src")


def test_json_report_holds_every_host_and_marks_missing_results():
    data = json.loads(report.json_report(["a", "b"], {"a": RESULT, "b": {"msg": "unreachable"}}, "20261130T000000Z"))
    assert data["generated"] == "20261130T000000Z"
    assert data["hosts"]["a"]["summary"]["failed"] == ["runtime.cgroup_driver"]
    assert data["hosts"]["b"]["unreachable"] is True


def test_junit_report_parses_with_failures_and_errors_counted():
    root = ET.fromstring(report.junit_report(["a", "b"], {"a": RESULT, "b": None}, "t"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    suite_a, suite_b = root.findall("testsuite")
    assert suite_a.get("name") == "a" and suite_a.get("failures") == "1"
    failure = suite_a.find("testcase[@name='runtime.cgroup_driver']/failure")
    assert failure.get("message") == "set SystemdCgroup = true <&>"
    assert "expected: systemd" in failure.text
    assert "WARN" in suite_a.find("testcase[@name='cni.network_ready']/system-out").text
    assert suite_b.find("testcase/error") is not None


def test_chain_table_starts_with_the_chain_in_brief():
    result = {**RESULT, "chain": {"runtime_name": "containerd", "runtime_version": "1.7.24~ds1", "endpoint": "unix:///x.sock",
                                  "cri_api_version": "v1", "runtime_ready": True, "network_ready": True,
                                  "cgroup_driver": {"value": "systemd", "source": "RuntimeConfig RPC"},
                                  "oci_runtime": {"name": "runc", "version": "1.1.15", "path": "/usr/sbin/runc"},
                                  "default_handler": "runc", "kubelet_version": None}}
    lines = report.chain_table(result)
    assert lines[0] == "runtime       containerd 1.7.24~ds1 at unix:///x.sock"
    assert lines[3] == "OCI runtime   runc 1.1.15 (runc handler, /usr/sbin/runc)"
    assert lines[4] == "kubelet       (absent)"
    assert lines[5] == "checks        1 ok, 1 warn, 1 fail"
    assert len(lines) == 6 + len(RESULT["checks"])


def test_the_header_describes_an_installed_runtime_whose_cri_fails():
    chain_facts = {"runtime": "containerd", "runtime_name": "containerd", "runtime_version": "2.3.7", "runtime_installed": True,
                   "runtime_active": "active", "cri_answers": False, "endpoint": "unix:///run/x.sock"}
    header = report.chain_table({"chain": chain_facts, "summary": {}, "checks": []})[0]
    assert header == "runtime       containerd 2.3.7 (active; its CRI does not answer) at unix:///run/x.sock"
    absent = report.chain_table({"chain": {"runtime": "crio", "runtime_installed": False}, "summary": {}, "checks": []})[0]
    assert "crio (not installed)" in absent
