"""Parsers of command output and files used by runtime_chain_info (captured real outputs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import gather

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # tests/unit/fixtures


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


def test_kubelet_configuration_is_read_with_pyyaml():
    data, error = gather.parse_yaml(KUBELET_YAML)
    assert error is None
    assert data["cgroupDriver"] == "systemd"
    assert data["containerRuntimeEndpoint"] == "unix:///run/containerd/containerd.sock"
    assert data["failSwapOn"] is False
    assert data["authentication"] == {"webhook": {"enabled": False}}


@pytest.mark.parametrize(("text", "result"), [
    (None, (None, None)),
    ("", ({}, None)),
    ("- a list\n", (None, "not a YAML mapping (list)")),
])
def test_yaml_that_is_absent_empty_or_not_a_mapping(text, result):
    assert gather.parse_yaml(text) == result


def test_broken_yaml_is_an_error_not_an_exception():
    data, error = gather.parse_yaml("key: [unclosed\n")
    assert data is None and "expected" in error


@pytest.mark.parametrize(
    ("words", "flags"),
    [
        (["/usr/bin/kubelet", "--config=/etc/kubernetes/kubelet.yaml", "--v", "2"], {"config": "/etc/kubernetes/kubelet.yaml", "v": "2"}),
        (["--container-runtime-endpoint=unix:///run/containerd/containerd.sock", "--pod-infra-container-image=x"],
         {"container-runtime-endpoint": "unix:///run/containerd/containerd.sock", "pod-infra-container-image": "x"}),
        (["--flag", "--other=1"], {"flag": "", "other": "1"}),
        ([], {}),
    ],
)
def test_flags_of_a_command_line(words, flags):
    assert gather.flags_of(words) == flags


def test_exec_start_argv_is_split_like_a_shell():
    exec_start = "{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet --config=/etc/k.yaml $KUBELET_KUBEADM_ARGS ; ignore_errors=no ; }"
    assert gather.exec_start_argv(exec_start) == ["/usr/bin/kubelet", "--config=/etc/k.yaml", "$KUBELET_KUBEADM_ARGS"]
    assert gather.exec_start_argv("") == []


KUBEADM_SERVICE = {
    # `systemctl show kubelet` of a node with kubeadm's drop-in (10-kubeadm.conf).
    "exec_start": "{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS "
                  "$KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS ; ignore_errors=no ; }",
    "environment": '"KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf" '
                   "KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml",
    "environment_files": ["/var/lib/kubelet/kubeadm-flags.env", "-/etc/default/kubelet"],
}
FILES = {
    "/var/lib/kubelet/kubeadm-flags.env": 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/crio/crio.sock '
                                          '--pod-infra-container-image=registry.k8s.io/pause:3.10"\n',
    "/etc/default/kubelet": "# extra\nKUBELET_EXTRA_ARGS=--v=2\n",
}


def test_kubelet_command_line_expands_the_unit_environment_like_systemd():
    command = gather.service_command_line(KUBEADM_SERVICE, FILES.get)
    assert command["flags"] == {
        "bootstrap-kubeconfig": "/etc/kubernetes/bootstrap-kubelet.conf",
        "kubeconfig": "/etc/kubernetes/kubelet.conf", "config": "/var/lib/kubelet/config.yaml",
        "container-runtime-endpoint": "unix:///run/crio/crio.sock", "pod-infra-container-image": "registry.k8s.io/pause:3.10",
        "v": "2"}
    # Each flag says where it was written: the deprecated endpoint flag in kubeadm's flags file.
    assert command["flag_sources"]["container-runtime-endpoint"] == "/var/lib/kubelet/kubeadm-flags.env"
    assert command["flag_sources"]["config"] == "kubelet unit Environment="
    assert command["flag_sources"]["v"] == "/etc/default/kubelet"


def test_older_systemd_escapes_spaces_in_environment_values():
    service = {**KUBEADM_SERVICE, "environment": "KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/b.conf\\x20--kubeconfig=/k.conf "
                                                 "KUBELET_CONFIG_ARGS=--config=/c.yaml"}
    flags = gather.service_command_line(service, FILES.get)["flags"]
    assert flags["kubeconfig"] == "/k.conf" and flags["config"] == "/c.yaml"


def test_the_running_kubelet_command_line_wins_over_the_unit():
    files = {**FILES, "/proc/42/cmdline": "/usr/bin/kubelet\0--config=/running.yaml\0"}
    command = gather.service_command_line({**KUBEADM_SERVICE, "main_pid": 42}, files.get)
    assert command["from_process"] is True
    assert command["flags"] == {"config": "/running.yaml"}
    assert command["flag_sources"]["config"] == "kubelet unit Environment="


def test_kubelet_command_line_of_a_plain_unit():
    service = {"exec_start": "{ path=/usr/local/bin/kubelet ; argv[]=/usr/local/bin/kubelet --config=/etc/kubernetes/kubelet.yaml ; }"}
    command = gather.service_command_line(service, {}.get)
    assert command["flags"] == {"config": "/etc/kubernetes/kubelet.yaml"}
    assert command["flag_sources"] == {"config": "kubelet unit ExecStart"}


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


def test_containerd_config_dump_is_read_with_a_toml_library():
    config, error = gather.parse_toml((FIXTURES / "containerd_config_dump_1.7.24.toml").read_text())
    assert error is None
    assert config["version"] == 2 and config["disabled_plugins"] == []
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["sandbox_image"] == "localhost/kubenode/pause:1.0"


def test_array_tables_and_multi_line_values_are_read():
    config, error = gather.parse_toml((FIXTURES / "containerd_config_arrays_multiline.toml").read_text())
    assert error is None
    assert config["version"] == 3
    assert config["proxy_plugins"]["stargz"]["address"] == "/run/stargz.sock"
    assert [s["name"] for s in config["stream_processors"]] == ["zstd", "gzip"]
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["cni"]["bin_dirs"] == ["/opt/cni/bin", "/usr/lib/cni"]
    assert "line one" in runtime["containerd"]["runtimes"]["runc"]["options"]["Description"]
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True


@pytest.mark.parametrize(("text", "result"), [(None, (None, None)), ("", ({}, None))])
def test_toml_that_is_absent_or_empty(text, result):
    assert gather.parse_toml(text) == result


def test_broken_toml_is_an_error_that_quotes_the_parser():
    config, error = gather.parse_toml('version = 2\n[plugins\n')
    assert config is None and "line 2" in error


@pytest.mark.parametrize(
    ("a", "b", "result"),
    [
        ("1.1.5+ds1-1+deb12u1", "1.1.5+ds1-1", 1),
        ("1.1.5+ds1-1", "1.1.5+ds1-1+deb12u1", -1),
        ("1.1.15+ds1-2+b4", "1.1.5+ds1-1+deb12u1", 1),
        ("1.7.24~ds1-6", "1.7.24-1", -1),  # ~ sorts before everything
        ("1:1.0-1", "2.0-1", 1),  # epoch wins
        ("2.1.9+ds1-5", "2.1.9+ds1-5", 0),
    ],
)
def test_debian_versions_are_ordered_by_dpkg(a, b, result):
    """The node's own tool orders versions (apt_pkg, else dpkg --compare-versions); here dpkg."""
    def run(argv):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    compare = gather.debian_version_compare(run)
    assert compare(a, b) == result


def test_static_pod_names_come_from_the_manifests(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: default\n  name: kubenode-proof\nspec:\n  containers: []\n")
    (tmp_path / "b.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "from-json"}}')
    (tmp_path / "c.yaml").write_text("metadata: {labels: {a: b}}\nspec: {}\n")  # no name
    (tmp_path / "d.yml").write_text("metadata:\n  name: [broken\n")
    (tmp_path / "README").write_text("metadata:\n  name: ignored\n")
    assert gather.static_pod_names(str(tmp_path)) == ["kubenode-proof", "from-json"]


# Captured on a CRI-O test-bed VM (systemd 257): `systemctl show kubelet containerd crio
# --property=Id,ActiveState,UnitFileState,ExecStart`, containerd not installed.
SYSTEMCTL_SHOW = (FIXTURES / "systemctl_show_kubelet_containerd_crio.txt").read_text()


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
    assert gather.flags_of(gather.exec_start_argv(exec_start)) == {"config": "/etc/kubernetes/kubelet.yaml"}


def test_environment_files_are_listed_one_per_line():
    text = ("Id=kubelet.service\nEnvironmentFiles=/var/lib/kubelet/kubeadm-flags.env (ignore_errors=yes)\n"
            "EnvironmentFiles=/etc/default/kubelet (ignore_errors=yes)\nMainPID=0\n")
    assert gather.parse_systemctl_show(text)["kubelet"]["EnvironmentFiles"] == ["/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet"]


@pytest.mark.parametrize("text, owners", [
    ("crun: /usr/bin/crun\nrunc: /usr/sbin/runc\n", {"/usr/bin/crun": "crun", "/usr/sbin/runc": "runc"}),
    ("libfoo:amd64: /usr/lib/x\n", {"/usr/lib/x": "libfoo:amd64"}),
    ("pkg-a, pkg-b: /usr/bin/shared\n", {"/usr/bin/shared": "pkg-a"}),
    ("diversion by dash from: /bin/sh\ndash: /bin/sh\n", {"/bin/sh": "dash"}),
    ("", {}),  # not owned by a package (an upstream binary): dpkg-query prints to stderr only
])
def test_dpkg_search_owners(text, owners):
    assert gather.parse_dpkg_search(text) == owners


@pytest.mark.parametrize(
    ("flags", "files"),
    [
        ({}, ["/etc/crio/crio.conf", "/etc/crio/crio.conf.d/10-crio.conf", "/etc/crio/crio.conf.d/99-kubenode.conf"]),
        ({"config-dir": "/srv/crio.d", "config": "/srv/crio.conf"},
         ["/srv/crio.conf", "/srv/crio.d/10-crio.conf", "/srv/crio.d/99-kubenode.conf"]),
    ],
)
def test_crio_loads_its_main_file_then_its_drop_ins_in_lexical_order(flags, files):
    listing = {"/etc/crio/crio.conf.d": ["99-kubenode.conf", "10-crio.conf"], "/srv/crio.d": ["99-kubenode.conf", "10-crio.conf"]}
    assert gather.crio_config_files(flags, None, listing.get) == files


def test_crio_config_dir_defaults_to_the_roles_drop_in_directory():
    assert gather.crio_config_files({}, "/opt/crio.d", {"/opt/crio.d": ["a.conf"]}.get) == ["/etc/crio/crio.conf", "/opt/crio.d/a.conf"]


APT_POLICY = """runc:
  Installed: 1.1.15+ds1-2+b4
  Candidate: 1.1.15+ds1-2+deb13u1
  Version table:
     1.1.15+ds1-2+deb13u1 500
        500 http://mirror/debian-security trixie-security/main amd64 Packages
 *** 1.1.15+ds1-2+b4 100
crun:
  Installed: (none)
  Candidate: (none)
  Version table:
"""


def test_apt_policy_candidates():
    assert gather.parse_apt_policy(APT_POLICY) == {"runc": "1.1.15+ds1-2+deb13u1"}


def test_cves_named_by_the_packages_changelogs(tmp_path):
    import gzip

    doc = tmp_path / "runc"
    doc.mkdir()
    with gzip.open(doc / "changelog.Debian.gz", "wt") as handle:
        handle.write("runc (1.1.15+ds1-2+deb13u1) trixie-security; urgency=medium\n\n  * CVE-2025-31133, CVE-2025-52565\n")
    with gzip.open(doc / "changelog.Debian.amd64.gz", "wt") as handle:
        handle.write("runc (1.1.15+ds1-2+b4) sid; urgency=low, binary-only=yes\n  * Rebuild (fixes CVE-2024-21626 in Go)\n")
    assert gather.package_changelog_cves("runc", str(tmp_path)) == ["CVE-2024-21626", "CVE-2025-31133", "CVE-2025-52565"]
    assert gather.package_changelog_cves("crun", str(tmp_path)) is None


@pytest.mark.parametrize(
    ("journal", "reason"),
    [
        ("containerd: failed to load TOML from /etc/containerd/config.toml: toml: line 3: expected '=' but got '\\n'\n",
         "containerd: failed to load TOML from /etc/containerd/config.toml: toml: line 3: expected '=' but got '\\n'"),
        ('time="t" level=info msg="starting containerd"\ntime="t" level=fatal msg="failed to start" error="listen unix: address in use"\n',
         "failed to start: listen unix: address in use"),
        ('time="t" level=info msg="loading plugin"\n', None),
        # the last failing line wins, whatever its format (an older level=error line does not)
        ('time="t" level=error msg="failed to load cni during init" error="no network config"\n'
         "containerd: failed to load TOML from /etc/containerd/config.toml: toml: bad\n",
         "containerd: failed to load TOML from /etc/containerd/config.toml: toml: bad"),
        ("", None),
    ],
)
def test_the_daemons_own_reason_from_its_journal(journal, reason):
    assert gather.journal_error(journal) == reason


def test_the_journal_of_the_latest_invocation_is_read_first():
    calls = []

    def run(argv):
        calls.append(argv[1])
        return (0, "containerd: failed to load TOML\n", "") if argv[1].startswith("_SYSTEMD_UNIT") else (0, "", "")
    assert gather.service_journal_error(run, "containerd", "abc") == "containerd: failed to load TOML"
    assert calls == ["_SYSTEMD_INVOCATION_ID=abc", "_SYSTEMD_UNIT=containerd.service"]
