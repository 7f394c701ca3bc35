"""The containerd template, its validator and cri_info against real containerd processes."""

from __future__ import annotations

import subprocess

from tests.render import containerd_vars, render

from .conftest import containerd_instance, private_config, run_module


def dump(binary: str, path) -> subprocess.CompletedProcess:
    return subprocess.run([binary, "--config", str(path), "config", "dump"], capture_output=True, text=True, check=False)


def test_the_validator_accepts_the_rendered_v2_config_and_shows_it_effective(containerd_binary, rendered_v2, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(rendered_v2)
    result = dump(containerd_binary, path)
    assert result.returncode == 0, result.stderr
    assert "SystemdCgroup = true" in result.stdout
    assert 'sandbox_image = "localhost/kubenode/pause:1.0"' in result.stdout


def test_the_validator_rejects_a_broken_candidate(containerd_binary, rendered_v2, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(rendered_v2.replace("SystemdCgroup = true", "SystemdCgroup = "))
    assert dump(containerd_binary, path).returncode != 0


def test_cri_info_reads_a_running_containerd(containerd_binary, crictl, rendered_v2):
    with containerd_instance(rendered_v2, containerd_binary) as ctd:
        result = run_module("cri_info", {"endpoint": ctd.endpoint, "crictl_path": crictl})
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert result["version"]["runtime_name"] == "containerd"
    assert result["version"]["runtime_api_version"] == "v1"
    assert result["runtime_ready"] is True
    assert result["cgroup_driver"]["value"] == "systemd"
    assert result["runtime_config"]["implemented"] is False  # containerd 1.x


def test_cri_info_sees_the_cgroupfs_driver_the_daemon_runs(containerd_binary, crictl):
    config = render("containerd", "config-v2.toml.j2", containerd_vars(containerd_cgroup_driver="cgroupfs"))
    with containerd_instance(config, containerd_binary) as ctd:
        result = run_module("cri_info", {"endpoint": ctd.endpoint, "crictl_path": crictl})
    assert result["cgroup_driver"]["value"] == "cgroupfs"


def test_cri_info_diagnoses_a_disabled_cri_plugin(containerd_binary, crictl, rendered_v2):
    config = rendered_v2.replace("version = 2\n", 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')
    with containerd_instance(config, containerd_binary) as ctd:
        result = run_module("cri_info", {"endpoint": ctd.endpoint, "crictl_path": crictl})
    assert result["failed"] is True
    assert result["kind"] == "no_cri_service"
    assert "CRI plugin is disabled" in result["msg"] and ctd.endpoint in result["msg"]


def test_cri_info_diagnoses_a_stale_socket(crictl, stale_socket):
    result = run_module("cri_info", {"endpoint": stale_socket, "crictl_path": crictl})
    assert result["failed"] is True and result["kind"] == "refused"


def test_cri_info_diagnoses_a_missing_socket(crictl, tmp_path):
    result = run_module("cri_info", {"endpoint": f"unix://{tmp_path}/none.sock", "crictl_path": crictl})
    assert result["failed"] is True and result["kind"] == "no_socket"


def test_private_config_leaves_no_system_path(rendered_v2, tmp_path):
    text = private_config(rendered_v2, tmp_path)
    assert "/run/containerd" not in text and "/var/lib/containerd" not in text
