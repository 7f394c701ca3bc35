"""Chain checks over facts shaped like gather.collect() output, one field case per row.

Case ids in comments refer to shared/cases/field-cases.md (C01 ...).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import chain, gather

from tests.render import containerd_vars, render

FIXTURES = Path(__file__).parent / "fixtures"

# Debian bookworm's shipped /etc/containerd/config.toml (reference/cri-facts.md §2.2).
DEBIAN_STOCK = (FIXTURES / "containerd_config_debian_stock.toml").read_text()
NO_HEADER = """[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
"""
V3_WITH_V2_TABLE = render("containerd", "config-v3.toml.j2", containerd_vars()) + NO_HEADER


def statuses(checks):
    return {c["id"]: c["status"] for c in checks}


GOOD_KERNEL = {"cgroup_v2": True, "filesystems": ["ext4", "overlay"], "modules": ["br_netfilter", "overlay"],
               "ip_forward": "1", "bridge_nf_call_iptables": "1", "swaps": []}


@pytest.mark.parametrize(
    ("change", "kubelet", "id_", "status"),
    [
        ({}, {}, "kernel.cgroup_v2", "ok"),
        ({"cgroup_v2": False, "cgroup_fs": "tmpfs"}, {}, "kernel.cgroup_v2", "fail"),
        ({"filesystems": ["ext4"]}, {}, "kernel.overlayfs", "fail"),
        ({"modules": ["overlay"]}, {}, "kernel.br_netfilter", "fail"),  # C20
        ({"ip_forward": "0"}, {}, "kernel.ip_forward", "fail"),  # C20
        ({"bridge_nf_call_iptables": None}, {}, "kernel.bridge_nf_call_iptables", "warn"),
        ({"swaps": ["/swapfile"]}, {}, "kernel.swap", "fail"),
        ({"swaps": ["/swapfile"]}, {"present": True, "config": {"failSwapOn": False}}, "kernel.swap", "ok"),
        ({"swaps": ["/swapfile"]}, {"present": True, "config": {}}, "kernel.swap", "fail"),
    ],
)
def test_kernel_link(change, kubelet, id_, status):
    assert statuses(chain.kernel_checks({**GOOD_KERNEL, **change}, kubelet))[id_] == status


@pytest.mark.parametrize(
    ("version", "text", "status", "says"),
    [
        ("1.7.24~ds1", render("containerd", "config-v2.toml.j2", containerd_vars()), "ok", ""),
        ("1.6.20~ds1", DEBIAN_STOCK, "ok", ""),
        ("1.6.20~ds1", NO_HEADER, "fail", "add `version = 2`"),  # C03
        ("1.7.24~ds1", "version = 3\n", "fail", "reads config version 2"),
        ("2.1.9", render("containerd", "config-v3.toml.j2", containerd_vars(__containerd_config_version=3)), "ok", ""),
        ("2.3.7", render("containerd", "config-v3.toml.j2", containerd_vars(__containerd_config_version=4)), "ok", ""),
        ("2.3.7", render("containerd", "config-v3.toml.j2", containerd_vars(__containerd_config_version=3)), "warn", "migrates a version 3"),
        ("2.1.9", V3_WITH_V2_TABLE, "fail", "ignores these keys"),  # C04
        ("2.2.1", DEBIAN_STOCK, "warn", "migrates a version 2 file"),  # C04: whole v2 file is migrated
        ("2.0.0", NO_HEADER, "fail", "cannot read config version None"),
        ("2.2.0", "version = 4\n", "fail", "cannot read config version 4"),
        ("1.7.24~ds1", None, "warn", "built-in defaults"),
    ],
)
def test_containerd_config_schema_follows_the_installed_major(version, text, status, says):
    (result,) = chain.containerd_config_checks({"version": version, "config_text": text, "config_path": "/etc/containerd/config.toml"})
    assert result["id"] == "runtime.config_schema"
    assert result["status"] == status
    assert says in result["hint"]


def test_cri_plugin_disabled_by_configuration_is_named_as_such():  # C06
    ctd = {"dump": 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n', "config_path": "/etc/containerd/config.toml",
           "plugins": []}
    result = chain.cri_plugin_check(ctd, {"error": {"kind": "no_cri_service"}})
    assert result["status"] == "fail"
    assert "disabled by configuration" in result["hint"] and "/etc/containerd/config.toml" in result["hint"]


def test_cri_plugin_that_failed_to_load_says_why():  # C07 / C08
    plugins = gather.parse_ctr_plugins((FIXTURES / "ctr_plugins_ls_containerd_1.6.20_cri_error.txt").read_text())
    errors = gather.plugin_errors((FIXTURES / "ctr_plugins_ls_d_containerd_1.6.20_cri_error.txt").read_text())
    ctd = {"dump": "version = 2\n", "plugins": plugins, "cri_error": errors["io.containerd.grpc.v1/cri"]}
    result = chain.cri_plugin_check(ctd, {"error": {"kind": "no_cri_service"}})
    assert result["status"] == "fail"
    assert "failed to load" in result["hint"]
    assert "`mirrors` cannot be set when `config_path` is provided" in result["hint"]


def test_a_snapshotter_that_failed_is_a_failure():
    result = chain.snapshotter_check({"plugins": [{"type": "io.containerd.snapshotter.v1", "id": "overlayfs", "status": "error"}],
                                      "snapshotter_error": "does not support d_type"})
    assert result["status"] == "fail" and "d_type" in result["hint"]


def cri(driver="systemd", implemented=False, **kw):
    return {"cgroup_driver": {"value": driver, "source": "src"}, "runtime_config": {"implemented": implemented}, **kw}


@pytest.mark.parametrize(
    ("runtime_driver", "kubelet_driver", "implemented", "minor", "status"),
    [
        ("systemd", "systemd", False, 37, "ok"),
        ("systemd", None, False, 30, "fail"),  # C01: kubelet default cgroupfs vs runtime systemd
        ("systemd", "cgroupfs", False, 30, "fail"),  # C01
        ("cgroupfs", "systemd", False, 33, "fail"),  # C02
        ("systemd", "cgroupfs", True, 34, "warn"),  # C29: kubelet takes RuntimeConfig's driver
        ("systemd", "cgroupfs", True, 30, "fail"),  # before KubeletCgroupDriverFromCRI was on by default
    ],
)
def test_kubelet_and_runtime_cgroup_drivers_agree(runtime_driver, kubelet_driver, implemented, minor, status):
    kubelet = {"present": True, "minor": minor, "config_path": "/var/lib/kubelet/config.yaml",
               "config": {"cgroupDriver": kubelet_driver} if kubelet_driver else {}}
    checks = statuses(chain.cgroup_checks(cri(runtime_driver, implemented), kubelet, None))
    assert checks["kubelet.cgroup_driver"] == status


@pytest.mark.parametrize(("driver", "expected", "status"), [("systemd", "systemd", "ok"), ("cgroupfs", "systemd", "fail"), (None, "systemd", "warn")])
def test_runtime_cgroup_driver_matches_the_request(driver, expected, status):
    assert statuses(chain.cgroup_checks(cri(driver), {}, expected))["runtime.cgroup_driver"] == status


EP = "unix:///run/containerd/containerd.sock"


@pytest.mark.parametrize(
    ("crictl_config", "status"),
    [
        ({"runtime-endpoint": EP}, "ok"),
        ({"runtime-endpoint": "unix:///var/run/dockershim.sock"}, "fail"),  # C10
        ({"runtime-endpoint": "/run/containerd/containerd.sock"}, "fail"),  # C10: no unix://
        (None, "warn"),
    ],
)
def test_crictl_names_the_live_endpoint(crictl_config, status):
    checks = statuses(chain.endpoint_checks(EP, {}, {"config": crictl_config, "config_path": "/etc/crictl.yaml"}, {}))
    assert checks["endpoint.crictl"] == status


@pytest.mark.parametrize(
    ("kubelet", "status"),
    [
        ({"endpoint": EP}, "ok"),
        ({"endpoint": "unix:///run/crio/crio.sock"}, "fail"),
        ({"endpoint": "/run/containerd/containerd.sock"}, "warn"),
        ({"endpoint": None}, "warn"),
    ],
)
def test_kubelet_names_the_live_endpoint(kubelet, status):
    kubelet = {"present": True, "config_path": "/var/lib/kubelet/config.yaml", **kubelet}
    assert statuses(chain.endpoint_checks(EP, {}, {"config": None}, kubelet))["endpoint.kubelet"] == status


def test_the_deprecated_endpoint_flag_is_reported_with_its_file():  # C12
    kubelet = {"present": True, "endpoint": EP, "endpoint_flag": "/var/lib/kubelet/kubeadm-flags.env"}
    result = next(c for c in chain.endpoint_checks(EP, {}, {"config": None}, kubelet) if c["id"] == "kubelet.deprecated_flags")
    assert result["status"] == "warn" and result["source"] == "/var/lib/kubelet/kubeadm-flags.env"


def test_two_answering_runtimes_fail():  # C24 leftovers
    sockets = {EP: {"answers": True}, "unix:///run/crio/crio.sock": {"answers": True}}
    result = next(c for c in chain.endpoint_checks(EP, sockets, {"config": None}, {}) if c["id"] == "endpoint.single_runtime")
    assert result["status"] == "fail" and "unix:///run/crio/crio.sock" in result["hint"]


def test_a_handler_whose_binary_is_missing_fails():  # C27 / C26
    checks = chain.handler_checks({"runc": {"path": "/usr/sbin/runc", "executable": True},
                                   "crun": {"path": "/usr/bin/crun", "executable": False}})
    assert statuses(checks) == {"handler.crun": "fail", "handler.runc": "ok"}


@pytest.mark.parametrize(
    ("oci", "id_", "status"),
    [
        ({"name": "runc", "version": "1.1.5", "package_version": None}, "oci.runc.cve-2024-21626", "fail"),
        # Debian backport: the version string stays 1.1.5 (C28)
        ({"name": "runc", "version": "1.1.5+ds1", "package_version": "1.1.5+ds1-1+deb12u1"}, "oci.runc.cve-2024-21626", "ok"),
        ({"name": "runc", "version": "1.1.5+ds1", "package_version": "1.1.5+ds1-1"}, "oci.runc.cve-2024-21626", "warn"),
        ({"name": "runc", "version": "1.1.15+ds1", "package_version": "1.1.15+ds1-2+b4"}, "oci.runc.cve-2024-21626", "ok"),
        ({"name": "runc", "version": "1.1.15+ds1", "package_version": "1.1.15+ds1-2+b4"}, "oci.runc.cve-2025-31133", "warn"),
        # trixie-security's backport (its changelog lists 2025-31133 and 2025-52565, not 2025-52881)
        ({"name": "runc", "version": "1.1.15+ds1", "package_version": "1.1.15+ds1-2+deb13u1"}, "oci.runc.cve-2025-31133", "ok"),
        ({"name": "runc", "version": "1.1.15+ds1", "package_version": "1.1.15+ds1-2+deb13u1"}, "oci.runc.cve-2025-52881", "warn"),
        ({"name": "runc", "version": "1.3.3", "package_version": None}, "oci.runc.cve-2025-31133", "ok"),
        ({"name": "runc", "version": "1.2.5", "package_version": None}, "oci.runc.cve-2025-31133", "fail"),
        ({"name": "runc", "version": "1.4.4", "package_version": None}, "oci.runc.cve-2026-41579", "ok"),
        ({"name": "crun", "version": "1.21", "package_version": "1.21-1"}, "oci.crun.cve-2026-30892", "warn"),
        ({"name": "crun", "version": "1.28", "package_version": None}, "oci.crun.cve-2026-47766", "ok"),
    ],
)
def test_oci_runtime_cve_floors_know_distro_backports(oci, id_, status):
    assert statuses(chain.oci_cve_checks({"/x": oci}))[id_] == status


@pytest.mark.parametrize(
    ("runtime", "runtime_version", "kubelet_minor", "implemented", "expected"),
    [
        ("containerd", "1.7.24~ds1", 36, False, {"version.kubelet_runtime": "warn", "version.runtime_config": "warn"}),
        ("containerd", "1.7.24~ds1", 35, False, {"version.kubelet_runtime": "warn"}),
        ("containerd", "1.5.9", 30, False, {"version.kubelet_runtime": "fail"}),  # C13
        ("containerd", "2.3.4", 38, True, {"version.kubelet_runtime": "ok"}),
        ("containerd", "1.7.24", 38, False, {"version.runtime_config": "fail"}),  # C29
        ("crio", "1.37.0", 37, True, {"version.kubelet_runtime": "ok"}),
        ("crio", "1.36.3", 37, True, {"version.kubelet_runtime": "fail"}),  # C14
    ],
)
def test_version_skew(runtime, runtime_version, kubelet_minor, implemented, expected):
    kubelet = {"present": True, "minor": kubelet_minor, "version": f"v1.{kubelet_minor}.0"}
    checks = statuses(chain.version_checks(runtime, runtime_version, {"runtime_config": {"implemented": implemented}}, kubelet))
    for id_, status in expected.items():
        assert checks[id_] == status


@pytest.mark.parametrize(
    ("cni", "expected_cni", "status", "says"),
    [
        ({"configs": {}, "conf_dir": "/etc/cni/net.d"}, False, "warn", "before a CNI is deployed"),  # C19 (a)
        ({"configs": {}, "conf_dir": "/etc/cni/net.d"}, True, "fail", "before a CNI is deployed"),
        ({"configs": {"10-calico.conflist": ["calico", "portmap"]}, "binaries": ["portmap"], "bin_dirs": ["/opt/cni/bin"]},
         False, "fail", "install the CNI plugins"),  # C19 (b)
        ({"configs": {"10-bridge.conf": ["bridge"]}, "binaries": ["bridge"]}, False, "fail", "restart it"),  # C19 (c)
    ],
)
def test_network_not_ready_names_its_cause(cni, expected_cni, status, says):
    result = chain.network_check({"network_ready": False}, cni, expected_cni)
    assert result["status"] == status and says in result["hint"]


def test_network_ready_is_ok():
    assert chain.network_check({"network_ready": True}, {}, True)["status"] == "ok"


@pytest.mark.parametrize(
    ("sandbox", "expected", "result"),
    [
        ({"image": "localhost/kubenode/pause:1.0", "present": True}, "localhost/kubenode/pause:1.0", {"sandbox.present": "ok", "sandbox.expected": "ok"}),
        ({"image": "localhost/kubenode/pause:1.0", "present": False}, None, {"sandbox.present": "warn"}),
        ({"image": "other/pause:3.9", "present": True}, "localhost/kubenode/pause:1.0", {"sandbox.expected": "fail"}),
    ],
)
def test_sandbox_image(sandbox, expected, result):
    assert statuses(chain.sandbox_checks(sandbox, expected)) == {**statuses(chain.sandbox_checks(sandbox, expected)), **result}


def test_a_half_built_chain_is_described_not_crashed():
    facts = {"runtime": "containerd", "endpoint": EP, "kernel": GOOD_KERNEL, "containerd": {"installed": False},
             "kubelet": {"present": False}, "cri": {"error": {"kind": "not_installed", "message": "x"}},
             "crictl": {"config": None}, "sockets": {}}
    checks = statuses(chain.run_checks(facts, {}))
    assert checks["runtime.present"] == "fail"
    assert checks["kubelet.present"] == "warn"
    assert statuses(chain.run_checks(facts, {"kubelet": False}))["kubelet.present"] == "ok"
    assert checks["kernel.cgroup_v2"] == "ok"


def test_checks_come_in_chain_order_with_every_field():
    facts = {"runtime": "containerd", "endpoint": EP, "kernel": GOOD_KERNEL, "containerd": {"installed": False},
             "kubelet": {"present": False}, "cri": {"error": {"kind": "not_installed"}}, "crictl": {"config": None}}
    checks = chain.run_checks(facts, {"kubelet": True})
    links = [chain.LINKS.index(c["link"]) for c in checks]
    assert links == sorted(links)
    assert all(set(c) == {"id", "link", "status", "observed", "expected", "source", "hint"} for c in checks)
    assert statuses(checks)["kubelet.present"] == "fail"


@pytest.mark.parametrize(
    ("ignore", "failed", "ignored"),
    [([], ["a", "b"], []), (["a"], ["b"], ["a"]), (["all"], [], ["a", "b"])],
)
def test_ignored_failures_do_not_fail(ignore, failed, ignored):
    checks = [chain.check("a", "kernel", "fail", 0, 1, "s"), chain.check("b", "cri", "fail", 0, 1, "s"),
              chain.check("c", "cri", "warn", 0, 1, "s"), chain.check("d", "cri", "ok", 0, 0, "s")]
    summary = chain.summarize(checks, ignore)
    assert (summary["failed"], summary["ignored"], summary["ok"], summary["warn"], summary["fail"]) == (failed, ignored, 1, 1, 2)


@pytest.mark.parametrize(
    ("kubelet", "sockets", "runtime"),
    [
        ({"endpoint": "unix:///run/crio/crio.sock"}, {}, "crio"),
        ({}, {"unix:///run/crio/crio.sock": {"answers": True}}, "crio"),
        ({}, {EP: {"answers": True}, "unix:///run/crio/crio.sock": {"answers": True}}, "containerd"),
        ({"endpoint": EP}, {"unix:///run/crio/crio.sock": {"answers": True}}, "containerd"),
        ({}, {}, "containerd"),
    ],
)
def test_the_node_runtime_is_detected(kubelet, sockets, runtime):
    assert chain.detect_runtime(kubelet, sockets) == runtime


@pytest.mark.parametrize(
    ("running", "status"),
    [(["kubenode-proof-node1", "other"], "ok"), (["unrelated-node1"], "fail"), (None, "fail")],
)
def test_static_pods_must_run(running, status):
    kubelet = {"present": True, "static_pods": ["kubenode-proof"], "static_pod_path": "/etc/kubernetes/manifests"}
    assert chain.static_pod_check(kubelet, running)["status"] == status
    assert chain.static_pod_check({"present": True, "static_pods": []}, running) is None
