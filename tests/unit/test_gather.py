"""Parsers of command output and files used by runtime_chain_info (captured real outputs)."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import gather, toml_scan, versions

FIXTURES = Path(__file__).parent / "fixtures"


def test_ctr_plugins_ls_is_parsed():
    plugins = gather.parse_ctr_plugins((FIXTURES / "ctr_plugins_ls_containerd_1.6.20_cri_error.txt").read_text())
    status = {(p["type"], p["id"]): p["status"] for p in plugins}
    assert status[("io.containerd.grpc.v1", "cri")] == "error"
    assert status[("io.containerd.snapshotter.v1", "overlayfs")] == "ok"


def test_plugin_error_messages_come_from_the_detailed_listing():
    errors = gather.plugin_errors((FIXTURES / "ctr_plugins_ls_d_containerd_1.6.20_cri_error.txt").read_text())
    assert errors["io.containerd.grpc.v1/cri"] == "invalid plugin config: `mirrors` cannot be set when `config_path` is provided"


KUBELET_YAML = """apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd   # from the runtime
containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock"
failSwapOn: false
authentication:
  webhook:
    enabled: false
"""


def test_kubelet_configuration_fields_are_read():
    data = gather.parse_simple_yaml(KUBELET_YAML)
    assert data["cgroupDriver"] == "systemd"
    assert data["containerRuntimeEndpoint"] == "unix:///run/containerd/containerd.sock"
    assert data["failSwapOn"] is False


def test_kubelet_configuration_is_read_without_pyyaml(monkeypatch):
    real_import = builtins.__import__

    def no_yaml(name, *args, **kwargs):
        if name == "yaml":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    data = gather.parse_simple_yaml(KUBELET_YAML)
    assert data == {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "cgroupDriver": "systemd",
                    "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock", "failSwapOn": False}


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ('KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock --pod-infra-container-image=x"',
         {"container-runtime-endpoint": "unix:///run/containerd/containerd.sock", "pod-infra-container-image": "x"}),
        ("{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet --config=/etc/kubernetes/kubelet.yaml --v 2 ; }",
         {"config": "/etc/kubernetes/kubelet.yaml", "v": "2"}),
        ("", {}),
    ],
)
def test_kubelet_flags_are_found_in_unit_lines_and_env_files(text, flags):
    assert gather.kubelet_flags(text) == flags


@pytest.mark.parametrize(
    ("text", "types"),
    [
        ('{"cniVersion":"1.0.0","name":"k","plugins":[{"type":"bridge"},{"type":"portmap"}]}', ["bridge", "portmap"]),
        ('{"cniVersion":"0.4.0","name":"lo","type":"loopback"}', ["loopback"]),
        ("not json", ["<unparsable>"]),
    ],
)
def test_cni_configs_name_their_plugin_types(text, types):
    assert gather.cni_plugin_types(text) == types


def test_toml_scan_reads_tables_keys_and_simple_values():
    text = (FIXTURES / "containerd_config_dump_1.7.24.toml").read_text()
    scanned = toml_scan.scan(text)
    assert toml_scan.get(scanned, "version") == 2
    assert toml_scan.get(scanned, "disabled_plugins") == []
    assert toml_scan.get(scanned, "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", "options", "SystemdCgroup") is True
    assert toml_scan.get(scanned, "plugins", "io.containerd.grpc.v1.cri", "sandbox_image") == "localhost/kubenode/pause:1.0"
    assert ("plugins", "io.containerd.grpc.v1.cri", "cni") in scanned["tables"]


@pytest.mark.parametrize(
    ("raw", "value"),
    [("2", 2), ("true", True), ('"a b"', "a b"), ("'x'", "x"), ('["cri", "io.containerd.grpc.v1.cri"]', ["cri", "io.containerd.grpc.v1.cri"]),
     ("[]", []), ("{a = 1}", "{a = 1}")],
)
def test_toml_values_are_decoded(raw, value):
    assert toml_scan.decode(raw) == value


@pytest.mark.parametrize(
    ("name", "parts"),
    [('plugins."io.containerd.grpc.v1.cri".cni', ("plugins", "io.containerd.grpc.v1.cri", "cni")),
     ("plugins.'io.containerd.cri.v1.images'.pinned_images", ("plugins", "io.containerd.cri.v1.images", "pinned_images")),
     ("version", ("version",))],
)
def test_dotted_keys_honour_quotes(name, parts):
    assert toml_scan.split_key(name) == parts


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        ("1.1.5+ds1-1+deb12u1", "1.1.5+ds1-1", 1),
        ("1.1.5+ds1-1", "1.1.5+ds1-1+deb12u1", -1),
        ("1.1.15+ds1-2+b4", "1.1.5+ds1-1+deb12u1", 1),
        ("1.7.24~ds1-6", "1.7.24-1", -1),  # ~ sorts before everything
        ("1:1.0-1", "2.0-1", 1),  # epoch wins
        ("1.0", "1.0-0", 0),
        ("2.1.9+ds1-5", "2.1.9+ds1-5", 0),
    ],
)
def test_debian_versions_compare_like_dpkg(a, b, result):
    assert versions.compare_debian_versions(a, b) == result


def test_static_pod_names_come_from_the_manifests(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: default\n  name: kubenode-proof\nspec:\n  containers: []\n")
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "README").write_text("metadata:\n  name: ignored\n")
    assert gather.static_pod_names(str(tmp_path)) == ["kubenode-proof"]


# Captured on a CRI-O test-bed VM (systemd 257): `systemctl show kubelet containerd crio
# --property=Id,ActiveState,UnitFileState,ExecStart`, containerd not installed.
SYSTEMCTL_SHOW = """\
ExecStart={ path=/usr/local/bin/kubelet ; argv[]=/usr/local/bin/kubelet --config=/etc/kubernetes/kubelet.yaml ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }
Id=kubelet.service
ActiveState=active
UnitFileState=enabled

Id=containerd.service
ActiveState=inactive
UnitFileState=

ExecStart={ path=/usr/local/bin/crio ; argv[]=/usr/local/bin/crio ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }
Id=crio.service
ActiveState=active
UnitFileState=enabled
"""


@pytest.mark.parametrize("unit, facts", [
    ("kubelet", {"active": "active", "enabled": "enabled"}),
    ("containerd", {"active": "inactive", "enabled": "unknown", "exec_start": ""}),
    ("crio", {"active": "active", "enabled": "enabled"}),
])
def test_one_systemctl_show_answers_for_every_unit(unit, facts):
    asked = []

    def run(argv):
        asked.append(argv)
        return 0, SYSTEMCTL_SHOW, ""

    got = gather.service_facts(run, unit)
    assert {k: got[k] for k in facts} == facts
    assert asked == [gather.SERVICE_ARGV]


def test_kubelet_flags_come_from_the_unit_exec_start():
    exec_start = gather.parse_systemctl_show(SYSTEMCTL_SHOW)["kubelet"]["ExecStart"]
    assert gather.kubelet_flags(exec_start) == {"config": "/etc/kubernetes/kubelet.yaml"}


@pytest.mark.parametrize("text, owners", [
    ("crun: /usr/bin/crun\nrunc: /usr/sbin/runc\n", {"/usr/bin/crun": "crun", "/usr/sbin/runc": "runc"}),
    ("libfoo:amd64: /usr/lib/x\n", {"/usr/lib/x": "libfoo:amd64"}),
    ("pkg-a, pkg-b: /usr/bin/shared\n", {"/usr/bin/shared": "pkg-a"}),
    ("diversion by dash from: /bin/sh\ndash: /bin/sh\n", {"/bin/sh": "dash"}),
    ("", {}),  # not owned by a package (an upstream binary): dpkg-query prints to stderr only
])
def test_dpkg_search_owners(text, owners):
    assert gather.parse_dpkg_search(text) == owners
