"""runtime_chain_info against real containerd instances, one broken link at a time.

Each case starts a private containerd (own root, state and socket) with a config that
reproduces a field failure, runs the module through Ansible, and asserts the exact check id
and status. Kernel checks describe this test machine and are not asserted here.
"""

from __future__ import annotations

import pytest

from tests.render import containerd_vars, render

from .conftest import containerd_instance, run_module

V2 = render("containerd", "config-v2.toml.j2", containerd_vars())
CRI = "io.containerd.grpc.v1.cri"


def chain(ctd, crictl, tmp_path, sockets=(), crictl_yaml=None, kubelet_config=None, **expected):
    crictl_config = tmp_path / "crictl.yaml"
    crictl_config.write_text(crictl_yaml if crictl_yaml is not None else f"runtime-endpoint: {ctd.endpoint}\n")
    args = {
        "endpoint": ctd.endpoint, "crictl_path": crictl, "containerd_config": str(ctd.config),
        "crictl_config": str(crictl_config), "cri_sockets": list(sockets), "fail_on_checks": False,
        "expected": {"cgroup_driver": "systemd", **expected},
    }
    if kubelet_config is not None:
        path = tmp_path / "kubelet.yaml"
        path.write_text("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" + kubelet_config)
        args["kubelet_configs"] = [str(path)]
    result = run_module("runtime_chain_info", args)
    assert "checks" in result, result
    return {c["id"]: c for c in result["checks"]}, result


def test_a_good_chain_passes_every_runtime_check(containerd_binary, crictl, tmp_path):
    with containerd_instance(V2, containerd_binary) as ctd:
        checks, result = chain(ctd, crictl, tmp_path, sandbox_image="localhost/kubenode/pause:1.0")
    for id_ in ("runtime.present", "runtime.config_schema", "runtime.cri_plugin", "runtime.cgroup_driver", "runtime.snapshotter",
                "cri.reachable", "cri.runtime_ready", "version.cri_api", "handler.runc", "endpoint.crictl",
                "endpoint.single_runtime", "sandbox.expected"):
        assert checks[id_]["status"] == "ok", checks[id_]
    assert checks["cni.network_ready"]["status"] == "warn"  # no CNI expected here
    assert result["chain"]["runtime_name"] == "containerd" and result["chain"]["oci_runtime"]["name"] == "runc"
    assert result["changed"] is False


def test_cgroup_driver_flipped_on_the_runtime_side(containerd_binary, crictl, tmp_path):  # C02
    config = render("containerd", "config-v2.toml.j2", containerd_vars(containerd_cgroup_driver="cgroupfs"))
    with containerd_instance(config, containerd_binary) as ctd:
        checks, result = chain(ctd, crictl, tmp_path)
    assert checks["runtime.cgroup_driver"]["status"] == "fail"
    assert checks["runtime.cgroup_driver"]["observed"] == "cgroupfs"
    assert "runtime.cgroup_driver" in result["summary"]["failed"]


def test_systemd_cgroup_in_a_file_without_version_header_is_not_effective(containerd_binary, crictl, tmp_path):  # C03
    config = V2.replace("version = 2\n", "")
    with containerd_instance(config, containerd_binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["runtime.config_schema"]["status"] == "fail"
    assert "version = 2" in checks["runtime.config_schema"]["hint"]
    # The file says SystemdCgroup = true; the running daemon does not use it.
    assert checks["runtime.cgroup_driver"]["status"] == "fail"
    assert checks["runtime.cgroup_driver"]["observed"] == "cgroupfs"


def test_cri_plugin_disabled_by_configuration(containerd_binary, crictl, tmp_path):  # C06
    config = V2.replace("version = 2\n", f'version = 2\ndisabled_plugins = ["{CRI}"]\n')
    with containerd_instance(config, containerd_binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["cri.reachable"]["status"] == "fail"
    assert checks["runtime.cri_plugin"]["status"] == "fail"
    assert "disabled by configuration" in checks["runtime.cri_plugin"]["hint"]


def test_cri_plugin_that_failed_to_load_while_containerd_runs(containerd_binary, crictl, tmp_path):  # C07 / C08
    config = V2 + f'\n[plugins."{CRI}".registry.mirrors."mirror.example"]\n  endpoint = ["https://mirror.example"]\n'
    with containerd_instance(config, containerd_binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["cri.reachable"]["status"] == "fail"
    assert checks["runtime.cri_plugin"]["status"] == "fail"
    assert "failed to load" in checks["runtime.cri_plugin"]["hint"]
    assert "`mirrors` cannot be set when `config_path` is provided" in checks["runtime.cri_plugin"]["hint"]


def test_a_second_runtime_still_listening(containerd_binary, crictl, tmp_path):  # C24
    with containerd_instance(V2, containerd_binary) as ctd, containerd_instance(V2, containerd_binary) as other:
        checks, _ = chain(ctd, crictl, tmp_path, sockets=[other.endpoint])
    assert checks["endpoint.single_runtime"]["status"] == "fail"
    assert other.endpoint in checks["endpoint.single_runtime"]["hint"]


@pytest.mark.parametrize(
    ("crictl_yaml", "status"),
    [("runtime-endpoint: unix:///var/run/dockershim.sock\n", "fail"), ("", "ok")],
    ids=["stale-dockershim", "matching"],
)
def test_crictl_yaml_must_name_the_live_socket(containerd_binary, crictl, tmp_path, crictl_yaml, status):  # C10
    with containerd_instance(V2, containerd_binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path, crictl_yaml=crictl_yaml or None)
    assert checks["endpoint.crictl"]["status"] == status


def test_a_handler_without_its_binary(containerd_binary, crictl, tmp_path):  # C27 / C26
    config = render("containerd", "config-v2.toml.j2",
                    containerd_vars(containerd_runtime_handlers={"runc": "/usr/sbin/runc", "crun": "/nonexistent/crun"}))
    with containerd_instance(config, containerd_binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["handler.crun"]["status"] == "fail"
    assert checks["handler.runc"]["status"] == "ok"


def test_a_sandbox_image_other_than_the_expected_one(containerd_binary, crictl, tmp_path):
    with containerd_instance(V2, containerd_binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path, sandbox_image="localhost/other/pause:9")
    assert checks["sandbox.expected"]["status"] == "fail"
    assert checks["sandbox.present"]["status"] == "warn"  # not imported into this private instance


def test_no_runtime_installed_is_described(crictl, tmp_path):
    result = run_module("runtime_chain_info", {
        "runtime": "crio", "crictl_path": crictl, "crictl_config": str(tmp_path / "none.yaml"), "cri_sockets": [],
        "fail_on_checks": False})
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["runtime.present"]["status"] == "fail"
    assert checks["kubelet.present"]["status"] == "warn"


def test_the_module_fails_only_on_checks_not_ignored(containerd_binary, crictl, tmp_path):
    config = render("containerd", "config-v2.toml.j2", containerd_vars(containerd_cgroup_driver="cgroupfs"))
    crictl_config = tmp_path / "crictl.yaml"
    with containerd_instance(config, containerd_binary) as ctd:
        crictl_config.write_text(f"runtime-endpoint: {ctd.endpoint}\n")
        args = {"endpoint": ctd.endpoint, "crictl_path": crictl, "containerd_config": str(ctd.config),
                "crictl_config": str(crictl_config), "cri_sockets": [], "expected": {"cgroup_driver": "systemd"}}
        failing = run_module("runtime_chain_info", args)
        ignored = run_module("runtime_chain_info", {**args, "ignore": ["all"]})
    assert failing["failed"] is True and "runtime.cgroup_driver" in failing["msg"]
    assert ignored.get("failed") is not True and "runtime.cgroup_driver" in ignored["summary"]["ignored"]


@pytest.mark.parametrize(
    ("kubelet_config", "check_id", "status"),
    [
        ("cgroupDriver: systemd\ncontainerRuntimeEndpoint: {endpoint}\n", None, "ok"),
        ("cgroupDriver: systemd\ncontainerRuntimeEndpoint: unix:///run/crio/crio.sock\n", "endpoint.kubelet", "fail"),
        ("cgroupDriver: cgroupfs\ncontainerRuntimeEndpoint: {endpoint}\n", "kubelet.cgroup_driver", "fail"),
    ],
    ids=["agreeing", "wrong-endpoint", "opposite-cgroup-driver"],
)
def test_kubelet_disagreeing_with_the_runtime(containerd_binary, crictl, kubelet_on_path, tmp_path, kubelet_config,
                                              check_id, status):  # C11 / C01
    """The real kubelet binary (its --version) and a KubeletConfiguration, against a live containerd."""
    with containerd_instance(V2, containerd_binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path, kubelet_config=kubelet_config.format(endpoint=ctd.endpoint))
    assert checks["kubelet.present"]["status"] == "ok", checks["kubelet.present"]
    for id_ in ("endpoint.kubelet", "kubelet.cgroup_driver"):
        assert checks[id_]["status"] == (status if id_ == check_id else "ok"), checks[id_]
    if check_id:
        assert str(tmp_path / "kubelet.yaml") in checks[check_id]["source"]  # names the file it read
