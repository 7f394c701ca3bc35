"""Chain checks over facts shaped like gather.collect() output, one field case per row.

Case ids in comments refer to shared/cases/field-cases.md (C01 ...).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import chain, gather

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # tests/unit/fixtures

# Debian bookworm's shipped /etc/containerd/config.toml (reference/cri-facts.md §2.2).
DEBIAN_STOCK = (FIXTURES / "containerd_config_debian_stock.toml").read_text()
NO_HEADER = """[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
"""
# A version 3 file that still carries a version 2 table (the role's own rendered files are
# checked in tests/unit/test_chain_templates.py).
V3_WITH_V2_TABLE = 'version = 3\n\n[grpc]\n  address = "/run/containerd/containerd.sock"\n\n' + NO_HEADER


def run_here(argv):
    """``(rc, stdout, stderr)`` of ``argv`` run on this machine, like the module's runner."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def dpkg_compare(a, b):
    """Debian version order from the real dpkg of this machine (the module uses apt_pkg or dpkg)."""
    return gather.debian_version_compare(run_here)(a, b)


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


def containerd(version, text, path="/etc/containerd/config.toml"):
    """containerd facts as gather.containerd_facts builds them from the file's text (parsed with tomllib)."""
    config, error = gather.parse_toml(text)
    return {"version": version, "config_path": path, "config_present": text is not None, "config": config, "config_error": error}


def test_a_config_that_does_not_parse_quotes_the_parser():
    (result,) = chain.containerd_config_checks(containerd("2.3.7", 'version = 3\n[plugins\n'))
    assert result["status"] == "fail"
    assert "does not parse" in result["observed"] and "line 2" in result["hint"]


def test_array_tables_and_multi_line_strings_do_not_confuse_the_schema_check():
    """A line scanner saw the v2 table name inside the multi-line string; a TOML parser does not."""
    text = (FIXTURES / "containerd_config_arrays_multiline.toml").read_text()
    (result,) = chain.containerd_config_checks(containerd("2.1.9", text))
    assert result["status"] == "ok", result


@pytest.mark.parametrize(
    ("version", "text", "status", "says"),
    [
        ("1.6.20~ds1", DEBIAN_STOCK, "ok", ""),
        ("1.6.20~ds1", NO_HEADER, "fail", "add `version = 2`"),  # C03
        ("1.7.24~ds1", "version = 3\n", "fail", "reads config version 2"),
        ("2.1.9", V3_WITH_V2_TABLE, "fail", "ignores these keys"),  # C04
        ("2.2.1", DEBIAN_STOCK, "warn", "migrates a version 2 file"),  # C04: whole v2 file is migrated
        ("2.0.0", NO_HEADER, "fail", "cannot read config version None"),
        ("2.2.0", "version = 4\n", "fail", "cannot read config version 4"),
        ("1.7.24~ds1", None, "warn", "built-in defaults"),
    ],
)
def test_containerd_config_schema_follows_the_installed_major(version, text, status, says):
    (result,) = chain.containerd_config_checks(containerd(version, text))
    assert result["id"] == "runtime.config_schema"
    assert result["status"] == status
    assert says in result["hint"]


def test_cri_plugin_disabled_by_configuration_is_named_as_such():  # C06
    ctd = {"dump": gather.parse_toml('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n')[0],
           "config_path": "/etc/containerd/config.toml", "plugins": []}
    result = chain.cri_plugin_check(ctd, {"error": {"kind": "no_cri_service"}})
    assert result["status"] == "fail"
    assert "disabled by configuration" in result["hint"] and "/etc/containerd/config.toml" in result["hint"]


def test_cri_plugin_that_failed_to_load_says_why():  # C07 / C08
    plugins = gather.parse_ctr_plugins((FIXTURES / "ctr_plugins_ls_containerd_1.6.20_cri_error.txt").read_text())
    errors = gather.plugin_errors((FIXTURES / "ctr_plugins_ls_d_containerd_1.6.20_cri_error.txt").read_text())
    ctd = {"dump": {"version": 2}, "plugins": plugins, "cri_error": errors["io.containerd.grpc.v1/cri"]}
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
ENDPOINTS = {"containerd": EP, "crio": "unix:///run/crio/crio.sock"}


@pytest.mark.parametrize(
    ("crictl_config", "status"),
    [
        ({"runtime-endpoint": EP}, "ok"),
        ({"runtime-endpoint": "unix:///var/run/dockershim.sock"}, "fail"),  # C10
        ({"runtime-endpoint": "/run/containerd/containerd.sock"}, "warn"),  # C10: no unix:// (deprecated)
        ({"runtime-endpoint": "/run/crio/crio.sock"}, "fail"),  # no unix:// and another socket
        ({"runtime-endpoint": "unix:///var/run/containerd/containerd.sock"}, "ok"),  # kubespray's spelling
        ({"runtime-endpoint": "unix:///run//containerd/./containerd.sock"}, "ok"),
        (None, "warn"),
    ],
)
def test_crictl_names_the_live_endpoint(crictl_config, status):
    paths = {"unix:///var/run/containerd/containerd.sock": "/run/containerd/containerd.sock"}
    checks = statuses(chain.endpoint_checks(EP, {}, {"config": crictl_config, "config_path": "/etc/crictl.yaml"}, {}, paths))
    assert checks["endpoint.crictl"] == status


@pytest.mark.parametrize(
    ("image_endpoint", "status"),
    [
        (EP, "ok"),
        (None, "ok"),  # crictl then uses runtime-endpoint
        ("unix:///run/crio/crio.sock", "fail"),  # C11: left on the old runtime by a switch by hand
    ],
)
def test_crictl_image_endpoint_names_the_live_socket(image_endpoint, status):
    config = {"runtime-endpoint": EP, **({"image-endpoint": image_endpoint} if image_endpoint else {})}
    result = next(c for c in chain.endpoint_checks(EP, {}, {"config": config, "config_path": "/etc/crictl.yaml"}, {})
                  if c["id"] == "endpoint.crictl_image")
    assert result["status"] == status
    if status == "fail":
        assert result["observed"] == image_endpoint and result["expected"] == EP and result["source"] == "/etc/crictl.yaml"
        assert "image-endpoint" in result["hint"]


def test_another_spelling_of_the_socket_says_so():
    paths = {"unix:///var/run/containerd/containerd.sock": "/run/containerd/containerd.sock"}
    kubelet = {"present": True, "config_path": "/var/lib/kubelet/config.yaml",
               "endpoint": "unix:///var/run/containerd/containerd.sock", "image_endpoint": "unix:///var/run/containerd/containerd.sock"}
    checks = {c["id"]: c for c in chain.endpoint_checks(EP, {}, {"config": None}, kubelet, paths)}
    for id_ in ("endpoint.kubelet", "endpoint.kubelet_image"):
        assert checks[id_]["status"] == "ok"
        assert "the same socket as " + EP in checks[id_]["observed"]


def test_the_same_runtime_under_two_spellings_is_one_runtime():
    paths = {"unix:///var/run/containerd/containerd.sock": "/run/containerd/containerd.sock"}
    sockets = {EP: {"answers": True}, "unix:///var/run/containerd/containerd.sock": {"answers": True}}
    result = next(c for c in chain.endpoint_checks(EP, sockets, {"config": None}, {}, paths) if c["id"] == "endpoint.single_runtime")
    assert result["status"] == "ok"


def test_runtime_detection_compares_sockets():
    paths = {"unix:///var/run/crio/crio.sock": "/run/crio/crio.sock"}
    endpoints = {"containerd": EP, "crio": "unix:///run/crio/crio.sock"}
    assert chain.detect_runtime({"endpoint": "unix:///var/run/crio/crio.sock"}, {}, endpoints, paths) == "crio"
    sockets = {"unix:///var/run/crio/crio.sock": {"answers": True}}
    assert chain.detect_runtime({}, sockets, endpoints, paths) == "crio"


@pytest.mark.parametrize(
    ("kubelet", "status"),
    [
        ({"endpoint": EP}, "ok"),
        ({"endpoint": "unix:///run/crio/crio.sock"}, "fail"),
        ({"endpoint": "/run/containerd/containerd.sock"}, "warn"),
        ({"endpoint": None}, "warn"),
        ({"endpoint": EP, "image_endpoint": "unix:///run/crio/crio.sock"}, "ok"),
    ],
)
def test_kubelet_names_the_live_endpoint(kubelet, status):
    kubelet = {"present": True, "config_path": "/var/lib/kubelet/config.yaml", **kubelet}
    assert statuses(chain.endpoint_checks(EP, {}, {"config": None}, kubelet))["endpoint.kubelet"] == status


def test_kubelet_image_service_endpoint_names_the_live_socket():
    kubelet = {"present": True, "config_path": "/var/lib/kubelet/config.yaml", "endpoint": EP,
               "image_endpoint": "unix:///run/crio/crio.sock"}
    result = next(c for c in chain.endpoint_checks(EP, {}, {"config": None}, kubelet) if c["id"] == "endpoint.kubelet_image")
    assert result["status"] == "fail" and "imageServiceEndpoint" in result["hint"]
    assert result["source"] == "/var/lib/kubelet/config.yaml" and result["observed"] == "unix:///run/crio/crio.sock"


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
    assert statuses(chain.oci_cve_checks({"/x": oci}, dpkg_compare))[id_] == status


TRIXIE_RUNC = {"name": "runc", "version": "1.1.15+ds1", "package": "runc", "package_version": "1.1.15+ds1-2+b4",
               "changelog": "/usr/share/doc/runc/changelog.Debian.gz", "changelog_cves": ["CVE-2024-21626", "CVE-2025-31133"]}


@pytest.mark.parametrize(
    ("oci", "id_", "status", "words"),
    [
        (TRIXIE_RUNC, "oci.runc.cve-2025-31133", "ok", ["fixed by backport"]),
        (TRIXIE_RUNC, "oci.runc.cve-2025-52565", "warn", ["not fixed", "offers no fixed package", "install a fixed release of runc"]),
        ({**TRIXIE_RUNC, "candidate": "1.1.15+ds1-2+deb13u1"}, "oci.runc.cve-2025-52565", "fail",
         ["not fixed", "upgrade to 1.1.15+ds1-2+deb13u1", "apt-get install runc"]),
        ({**TRIXIE_RUNC, "candidate": "1.1.15+ds1-2+deb13u1"}, "oci.runc.cve-2025-52881", "warn", ["install a fixed release"]),
        ({**TRIXIE_RUNC, "changelog_cves": [*TRIXIE_RUNC["changelog_cves"], "CVE-2025-52881"]}, "oci.runc.cve-2025-52881", "ok",
         ["fixed by backport"]),
        ({**TRIXIE_RUNC, "changelog_cves": None}, "oci.runc.cve-2025-52881", "warn", ["ships no changelog"]),
        ({"name": "runc", "version": "1.0.0-rc6", "package_version": None}, "oci.runc.cve-2019-5736", "fail", []),
        ({"name": "runc", "version": "1.0.0-rc93", "package_version": None}, "oci.runc.cve-2019-5736", "ok", []),
    ],
    ids=["changelog-fixed", "changelog-not-fixed", "candidate-fixes", "candidate-does-not", "changelog-names-it", "no-changelog",
         "cve-2019-5736-rc6", "cve-2019-5736-rc93"],
)
def test_cve_status_from_the_packages_own_changelog(oci, id_, status, words):  # C28
    (result,) = [c for c in chain.oci_cve_checks({"/usr/sbin/runc": oci}, dpkg_compare) if c["id"] == id_]
    assert result["status"] == status, result
    for word in words:
        assert word in result["hint"] + result["observed"], result
    if oci.get("changelog_cves") is not None and status != "ok" or "fixed by backport" in words:
        assert result["source"].endswith("changelog.Debian.gz")


def test_without_a_version_comparator_no_backport_is_assumed():
    oci = {"name": "runc", "version": "1.1.5", "package_version": "1.1.5+ds1-1+deb12u1"}
    assert statuses(chain.oci_cve_checks({"/x": oci}))["oci.runc.cve-2024-21626"] == "warn"


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
    assert chain.detect_runtime(kubelet, sockets, ENDPOINTS) == runtime


def test_detection_uses_the_endpoints_the_roles_configure():
    """A non-default CRI-O socket (crio_listen) is CRI-O's, whatever its path."""
    endpoints = {"containerd": "unix:///srv/ctd/containerd.sock", "crio": "unix:///srv/crio/crio.sock"}
    assert chain.detect_runtime({"endpoint": "unix:///srv/crio/crio.sock"}, {}, endpoints) == "crio"
    assert chain.detect_runtime({}, {"unix:///srv/ctd/containerd.sock": {"answers": True}}, endpoints) == "containerd"


@pytest.mark.parametrize(
    ("running", "status"),
    [(["kubenode-proof-node1", "other"], "ok"), (["unrelated-node1"], "fail"), (None, "fail")],
)
def test_static_pods_must_run(running, status):
    kubelet = {"present": True, "static_pods": ["kubenode-proof"], "static_pod_path": "/etc/kubernetes/manifests"}
    assert chain.static_pod_check(kubelet, running)["status"] == status
    assert chain.static_pod_check({"present": True, "static_pods": []}, running) is None


# ---------------------------------------------------------------- default handler and drop-in precedence (C16)

OWN = "/etc/crio/crio.conf.d/99-kubenode.conf"
CRIO_LAYERS = [
    {"path": "/etc/crio/crio.conf.d/10-crio.conf", "config": {"crio": {"runtime": {"default_runtime": "crun"}}}},
    {"path": OWN, "config": {"crio": {"runtime": {"default_runtime": "runc", "cgroup_manager": "systemd",
                                                  "runtimes": {"runc": {"runtime_path": "/usr/sbin/runc"}}}}}},
]


def crio_node(default: str, layers: list[dict]) -> dict:
    config = {"crio": {"runtime": {"default_runtime": default, "runtimes": {"runc": {}, "crun": {}}}}}
    return {"runtime": "crio", "crio": {"installed": True, "config": config, "layers": layers, "own_config": OWN}}


def test_a_packaged_drop_in_sorted_before_the_roles_loses():
    facts = crio_node("runc", CRIO_LAYERS)
    assert chain.crio_precedence_check(facts["crio"])["status"] == "ok"
    result = chain.default_handler_check("crio", facts, "runc")
    assert (result["status"], result["observed"]) == ("ok", "runc")
    assert result["source"].endswith(f"(set last by {OWN})")


def test_a_drop_in_sorted_after_the_roles_is_named_where_it_wins():
    late = {"path": "/etc/crio/crio.conf.d/zz-crun.conf", "config": {"crio": {"runtime": {"default_runtime": "crun"}}}}
    facts = crio_node("crun", [*CRIO_LAYERS, late])
    precedence = chain.crio_precedence_check(facts["crio"])
    assert precedence["status"] == "fail"
    assert precedence["observed"] == {"crio.runtime.default_runtime": "'crun' from /etc/crio/crio.conf.d/zz-crun.conf"}
    assert precedence["expected"] == {"crio.runtime.default_runtime": "'runc'"}
    assert "zz-crun.conf is loaded after " + OWN in precedence["hint"]
    result = chain.default_handler_check("crio", facts, "runc")
    assert (result["status"], result["observed"], result["expected"]) == ("fail", "crun", "runc")
    assert "zz-crun.conf" in result["source"] and "kubenode_oci_runtime" in result["hint"]


def test_a_later_file_that_repeats_the_roles_value_is_no_override():
    same = {"path": "/etc/crio/crio.conf.d/zz.conf", "config": {"crio": {"runtime": {"cgroup_manager": "systemd"}}}}
    assert chain.overridden_keys([*CRIO_LAYERS, same], OWN) == {}


@pytest.mark.parametrize(
    ("facts", "name", "source"),
    [
        ({"cri": {"info": {"config": {"containerd": {"defaultRuntimeName": "crun"}}}}}, "crun", "CRI Status info"),
        ({"cri": {"error": {}}, "containerd": {"dump": {"plugins": {chain.CRI_V3_RUNTIME: {"containerd": {"default_runtime_name": "runc"}}}}}},
         "runc", "containerd config dump"),
        ({"cri": {"error": {}}, "containerd": {"dump": {"plugins": {chain.CRI_V2_PLUGIN: {"containerd": {"default_runtime_name": "runc"}}}}}},
         "runc", "containerd config dump"),
        ({"cri": {"error": {}}, "containerd": {}}, None, "CRI Status info"),
    ],
    ids=["cri-status", "dump-v3", "dump-v2", "unknown"],
)
def test_containerd_default_handler_comes_from_the_daemon(facts, name, source):
    found, where = chain.default_handler("containerd", facts)
    assert found == name and where.startswith(source)


def test_no_expected_handler_reports_the_effective_one():
    facts = {"cri": {"info": {"config": {"containerd": {"defaultRuntimeName": "runc"}}}}}
    assert chain.default_handler_check("containerd", facts, None)["status"] == "ok"
    assert chain.default_handler_check("containerd", facts, "crun")["status"] == "fail"


@pytest.mark.parametrize(
    ("image", "runtime", "version", "kubernetes", "status", "key"),
    [
        ("registry.k8s.io/pause:3.8", "containerd", "1.7.24~ds1", "1.36.5", "warn", 'sandbox_image in [plugins."io.containerd.grpc.v1.cri"]'),  # C09
        ("registry.k8s.io/pause:3.10.2", "containerd", "2.3.7", "1.36.5", "ok", None),
        ("registry.k8s.io/pause:3.10", "containerd", "2.1.4", "v1.35", "warn", "'io.containerd.cri.v1.images'.pinned_images]"),
        ("registry.k8s.io/pause:3.10.1", "crio", "1.34.2", "1.34.0", "ok", None),
        ("registry.k8s.io/pause:3.9", "crio", "1.36.3", "1.36.0", "warn", "pause_image in [crio.image]"),
        ("registry.k8s.io/pause:3.10.2", "containerd", "2.3.7", "1.99.0", "warn", "kubenode_sandbox_image"),
    ],
)
def test_an_unset_sandbox_image_is_compared_with_kubeadms_pause(image, runtime, version, kubernetes, status, key):
    (result,) = [c for c in chain.sandbox_checks({"image": image, "present": True, "source": "s"}, None, runtime, version, kubernetes)
                 if c["id"] == "sandbox.kubernetes"]
    assert result["status"] == status
    if key:
        assert key in result["hint"]


def test_a_set_sandbox_image_names_the_runtime_key_not_kubelet():
    (result,) = [c for c in chain.sandbox_checks({"image": "registry.k8s.io/pause:3.8", "present": True, "source": "s"},
                                                 "mirror.example/pause:3.10.2", "crio", "1.36.3", "1.36.5")
                 if c["id"] == "sandbox.expected"]
    assert result["status"] == "fail" and "pause_image in [crio.image]" in result["hint"] and "kubelet has no say" in result["hint"]


@pytest.mark.parametrize(
    ("resolved", "status"),
    [
        ({"bridge": "/usr/lib/cni/bridge", "host-local": "/usr/lib/cni/host-local"}, "ok"),
        ({"bridge": "/usr/lib/cni/bridge", "portmap": None}, "fail"),  # C18
        ({"<unparsable>": None}, "fail"),
    ],
)
def test_every_plugin_of_the_loaded_network_config_resolves(resolved, status):
    cni = {"active": "10-net.conflist", "conf_dir": "/etc/cni/net.d", "bin_dirs": ["/opt/cni/bin"], "resolved": resolved,
           "bin_dirs_source": "CRI Status info: config.cni.binDirs"}
    result = chain.cni_plugins_check(cni)
    assert result["status"] == status
    if resolved.get("portmap", "x") is None:
        assert result["observed"] == {"missing": ["portmap"], "searched": ["/opt/cni/bin"]}
        assert "portmap" in result["hint"] and "/opt/cni/bin" in result["hint"]
        assert result["source"] == "/etc/cni/net.d/10-net.conflist + CRI Status info: config.cni.binDirs"


def test_no_network_config_no_plugin_check():
    assert chain.cni_plugins_check({"active": None}) is None


def test_the_runtime_the_node_runs_against_the_inventory():
    endpoints = {"containerd": EP, "crio": "unix:///run/crio/crio.sock"}
    found, how = chain.detected_runtime({"endpoint": "unix:///run/crio/crio.sock"}, {}, endpoints)
    assert found == "crio" and "containerRuntimeEndpoint" in how
    result = chain.inventory_check(found, how, "containerd")
    assert (result["status"], result["observed"], result["expected"]) == ("fail", "crio", "containerd")
    assert "runtime_switch_to=containerd" in result["hint"] and "kubenode_runtime" in result["hint"]
    assert chain.inventory_check("crio", how, "crio")["status"] == "ok"
    assert chain.inventory_check("crio", how, None) is None
    assert chain.detected_runtime({}, {}, endpoints)[0] is None
    assert chain.detect_runtime({}, {}, endpoints, default="crio") == "crio"
