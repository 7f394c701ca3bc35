"""Parsers of what CRI runtimes report, over outputs captured from real runtimes.

Fixtures (tests/unit/fixtures) were captured from Debian's containerd 1.6.20 (bookworm, a
private instance on the test machine) and 1.7.24 (trixie, a test-bed VM) with crictl 1.37.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import cri

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # tests/unit/fixtures


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.mark.parametrize(
    ("name", "runtime_version"),
    [
        ("crictl_version_containerd_1.6.20.txt", "1.6.20~ds1"),
        ("crictl_version_containerd_1.7.24.txt", "1.7.24~ds1"),
    ],
)
def test_crictl_version_is_parsed_from_captured_output(name, runtime_version):
    parsed = cri.parse_crictl_version(fixture(name))
    assert parsed == {
        "version": "0.1.0",
        "runtime_name": "containerd",
        "runtime_version": runtime_version,
        "runtime_api_version": "v1",
    }


def test_crictl_version_without_runtime_name_is_an_error():
    with pytest.raises(ValueError, match="RuntimeName"):
        cri.parse_crictl_version("Version:  0.1.0\n")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("crictl_error_no_socket.stderr", "no_socket"),
        ("crictl_error_refused.stderr", "refused"),
        ("crictl_error_no_cri_service.stderr", "no_cri_service"),
    ],
)
def test_crictl_errors_are_classified_from_captured_stderr(name, kind):
    assert cri.classify_crictl_error(fixture(name)) == kind


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("dial unix /run/x.sock: connect: permission denied", "permission"),
        ("rpc error: code = DeadlineExceeded desc = context deadline exceeded", "timeout"),
        ("unknown service runtime.v1.ImageService", "no_cri_service"),
        ("something else entirely", "unknown"),
        ("", "unknown"),
    ],
)
def test_other_crictl_errors_are_classified(stderr, kind):
    assert cri.classify_crictl_error(stderr) == kind


def test_last_error_line_returns_the_message_of_the_last_error():
    line = cri.last_error_line(fixture("crictl_error_no_cri_service.stderr"))
    assert line.startswith("validate service connection")
    assert line.endswith("unknown service runtime.v1.RuntimeService")


@pytest.mark.parametrize(
    ("name", "driver", "conditions"),
    [
        ("crictl_info_containerd_1.6.20_cgroupfs.json", "cgroupfs", ["RuntimeReady", "NetworkReady"]),
        (
            "crictl_info_containerd_1.7.24_systemd.json",
            "systemd",
            ["RuntimeReady", "NetworkReady", "ContainerdHasNoDeprecationWarnings"],
        ),
    ],
)
def test_crictl_info_of_containerd_is_parsed(name, driver, conditions):
    info = cri.parse_crictl_info(fixture(name))
    assert info["runtime_ready"] is True
    assert info["network_ready"] is False
    assert [c["type"] for c in info["conditions"]] == conditions
    network = cri.condition(info["conditions"], "NetworkReady")
    assert network["reason"] == "NetworkPluginNotReady"
    assert "cni plugin not initialized" in network["message"]
    # containerd 1.x reports neither runtime handlers nor features.
    assert info["runtime_handlers"] is None
    assert info["features"] is None
    assert "config" in info["info"]
    value, source = cri.cgroup_driver_from_info(info["info"])
    assert value == driver
    assert source.endswith("runtimes.runc.options.SystemdCgroup")


def test_crictl_info_reports_handlers_and_features_when_the_runtime_does():
    text = (
        '{"status":{"conditions":[{"type":"RuntimeReady","status":true}]},'
        '"runtimeHandlers":[{"name":"","features":{"recursive_read_only_mounts":true}},{"name":"crun"}],'
        '"features":{"supplemental_groups_policy":true},"config":{"sandboxImage":"x"}}'
    )
    info = cri.parse_crictl_info(text)
    assert [h["name"] for h in info["runtime_handlers"]] == ["", "crun"]
    assert info["runtime_handlers"][1]["features"] == {}
    assert info["features"] == {"supplemental_groups_policy": True}
    assert info["network_ready"] is False  # absent condition


@pytest.mark.parametrize("text", ["[]", "not json", '"string"'])
def test_crictl_info_that_is_not_an_object_is_an_error(text):
    with pytest.raises(ValueError):
        cri.parse_crictl_info(text)


@pytest.mark.parametrize(
    ("stdout", "stderr", "rc", "expected"),
    [
        ("cgroup driver:   SYSTEMD\n", "", 0, {"implemented": True, "cgroup_driver": "systemd", "error": None}),
        ("cgroup driver:   CGROUPFS\n", "", 0, {"implemented": True, "cgroup_driver": "cgroupfs", "error": None}),
        ("", fixture("crictl_runtime_config_containerd_1.6.20.stderr"), 1,
         {"implemented": False, "cgroup_driver": None, "error": None}),
        ("", fixture("crictl_runtime_config_containerd_1.7.24.stderr"), 1,
         {"implemented": False, "cgroup_driver": None, "error": None}),
        ("", 'level=error msg="connect: connection refused"', 1,
         {"implemented": True, "cgroup_driver": None, "error": "connect: connection refused"}),
    ],
)
def test_runtime_config_reply_is_interpreted(stdout, stderr, rc, expected):
    assert cri.parse_runtime_config(stdout, stderr, rc) == expected


@pytest.mark.parametrize(
    ("runtime_config", "info", "expected"),
    [
        ({"implemented": True, "cgroup_driver": "systemd"}, {}, {"value": "systemd", "source": "RuntimeConfig RPC"}),
        (
            {"implemented": False, "cgroup_driver": None},
            {"config": {"containerd": {"defaultRuntimeName": "crun", "runtimes": {"crun": {"options": {"SystemdCgroup": True}}}}}},
            {"value": "systemd", "source": "CRI Status info: config.containerd.runtimes.crun.options.SystemdCgroup"},
        ),
        (
            {"implemented": False, "cgroup_driver": None},
            {"config": {"containerd": {"defaultRuntimeName": "runc", "runtimes": {"runc": {"options": None}}}}},
            {"value": "cgroupfs", "source": "CRI Status info: config.containerd.runtimes.runc.options.SystemdCgroup"},
        ),
        ({"implemented": False}, {"config": {"crio": {"CgroupManagerName": "cgroupfs"}}},
         {"value": "cgroupfs", "source": "CRI Status info: config.crio.CgroupManagerName"}),
        ({"implemented": False}, {}, {"value": None, "source": None}),
    ],
)
def test_effective_cgroup_driver_prefers_runtime_config(runtime_config, info, expected):
    assert cri.effective_cgroup_driver(runtime_config, info) == expected


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("unix:///run/containerd/containerd.sock", ("unix:///run/containerd/containerd.sock", "/run/containerd/containerd.sock")),
        ("/run/crio/crio.sock", ("unix:///run/crio/crio.sock", "/run/crio/crio.sock")),
        ("  unix:///x.sock ", ("unix:///x.sock", "/x.sock")),
    ],
)
def test_endpoints_are_normalised(endpoint, expected):
    assert cri.normalize_endpoint(endpoint) == expected


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:1234", "unix://relative.sock", "", "npipe:////./pipe/x"])
def test_non_unix_endpoints_are_rejected(endpoint):
    with pytest.raises(ValueError):
        cri.normalize_endpoint(endpoint)


def test_socket_problem_tells_missing_wrong_and_real_sockets_apart(tmp_path):
    import socket

    path = tmp_path / "cri.sock"
    assert cri.socket_problem(str(path)) == "no_socket"
    path.write_text("")
    assert cri.socket_problem(str(path)) == "not_socket"
    path.unlink()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert cri.socket_problem(str(path)) is None
