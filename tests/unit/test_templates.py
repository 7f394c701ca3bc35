"""The containerd and crictl templates render whole, valid files for each schema."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from tests.render import containerd_vars, render

CRI_V2 = "io.containerd.grpc.v1.cri"


def parse_v2(**overrides):
    return tomllib.loads(render("containerd", "config-v2.toml.j2", containerd_vars(**overrides)))


def parse_v3(**overrides):
    return tomllib.loads(render("containerd", "config-v3.toml.j2", containerd_vars(**overrides)))


def test_v4_config_moves_the_grpc_address_into_its_plugin():
    config = parse_v3(__containerd_config_version=4)
    assert config["version"] == 4
    assert "grpc" not in config
    assert config["plugins"]["io.containerd.server.v1.grpc"]["address"] == "/run/containerd/containerd.sock"
    assert parse_v3()["grpc"]["address"] == "/run/containerd/containerd.sock"


@pytest.mark.parametrize(("driver", "systemd"), [("systemd", True), ("cgroupfs", False)])
def test_v2_config_puts_systemd_cgroup_under_the_runc_options_table(driver, systemd):
    config = parse_v2(containerd_cgroup_driver=driver)
    assert config["version"] == 2
    cri = config["plugins"][CRI_V2]
    options = cri["containerd"]["runtimes"]["runc"]["options"]
    assert options == {"BinaryName": "/usr/sbin/runc", "SystemdCgroup": systemd}
    assert cri["containerd"]["runtimes"]["runc"]["runtime_type"] == "io.containerd.runc.v2"
    assert cri["containerd"]["default_runtime_name"] == "runc"
    assert cri["sandbox_image"] == "localhost/kubenode/pause:1.0"
    # Debian's layout for CNI plugins; containerd 1.x reads a single bin_dir.
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": "/etc/cni/net.d"}
    assert cri["registry"] == {"config_path": "/etc/containerd/certs.d"}
    assert "disabled_plugins" not in config


@pytest.mark.parametrize(("driver", "systemd"), [("systemd", True), ("cgroupfs", False)])
def test_v3_config_uses_the_2x_plugin_tables_only(driver, systemd):
    config = parse_v3(containerd_cgroup_driver=driver, containerd_cni_bin_dirs=["/usr/lib/cni", "/opt/cni/bin"])
    assert config["version"] == 3
    plugins = config["plugins"]
    assert CRI_V2 not in plugins
    runtime = plugins["io.containerd.cri.v1.runtime"]
    images = plugins["io.containerd.cri.v1.images"]
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is systemd
    assert runtime["cni"]["bin_dirs"] == ["/usr/lib/cni", "/opt/cni/bin"]
    assert images["pinned_images"] == {"sandbox": "localhost/kubenode/pause:1.0"}
    assert images["registry"] == {"config_path": "/etc/containerd/certs.d"}


@pytest.mark.parametrize("parse", [parse_v2, parse_v3])
def test_every_handler_is_registered_and_the_default_named(parse):
    config = parse(
        containerd_runtime_handlers={"crun": "/usr/bin/crun", "runc": "/usr/sbin/runc"},
        containerd_default_runtime="crun",
    )
    plugin = config["plugins"].get(CRI_V2) or config["plugins"]["io.containerd.cri.v1.runtime"]
    runtimes = plugin["containerd"]["runtimes"]
    assert set(runtimes) == {"crun", "runc"}
    assert runtimes["crun"]["options"]["BinaryName"] == "/usr/bin/crun"
    assert plugin["containerd"]["default_runtime_name"] == "crun"


@pytest.mark.parametrize("parse", [parse_v2, parse_v3])
def test_empty_sandbox_image_keeps_the_runtime_default(parse):
    text = str(parse(containerd_sandbox_image=""))
    assert "sandbox" not in text


@pytest.mark.parametrize("template", ["config-v2.toml.j2", "config-v3.toml.j2"])
def test_strings_with_quotes_stay_valid_toml(template):
    config = tomllib.loads(render("containerd", template, containerd_vars(containerd_root='/var/lib/"odd" dir')))
    assert config["root"] == '/var/lib/"odd" dir'


def test_rendered_files_start_with_the_managed_marker():
    assert render("containerd", "config-v2.toml.j2", containerd_vars()).startswith("#\n# Ansible managed")


def test_crictl_yaml_names_the_endpoint_and_only_known_keys():
    text = render(
        "crictl",
        "crictl.yaml.j2",
        {"crictl_runtime_endpoint": "unix:///run/containerd/containerd.sock",
         "crictl_image_endpoint": "unix:///run/containerd/containerd.sock", "crictl_timeout": 10},
    )
    config = yaml.safe_load(text)
    assert config == {
        "runtime-endpoint": "unix:///run/containerd/containerd.sock",
        "image-endpoint": "unix:///run/containerd/containerd.sock",
        "timeout": 10,
        "debug": False,
        "pull-image-on-create": False,
    }


@pytest.mark.parametrize("template", ["containerd.service.j2", "containerd-dropin.conf.j2"])
def test_containerd_starts_on_the_roles_config_file_wherever_it_is(template):
    """The release unit and the drop-in for the package's unit both name containerd_config_path."""
    text = render("containerd", template, {"containerd_bin_dir": "/opt/ctd/bin", "containerd_config_path": "/srv/ctd/config.toml",
                                           "containerd_version": "2.3.7", "containerd_install_method": "upstream"})
    exec_start = [line for line in text.splitlines() if line.startswith("ExecStart=") and line != "ExecStart="]
    assert exec_start == ["ExecStart=/opt/ctd/bin/containerd --config /srv/ctd/config.toml"]


def test_crio_reads_the_directory_of_the_roles_drop_in():
    text = render("crio", "crio.service.j2", {"crio_bin_dir": "/usr/local/bin", "crio_config_file": "/srv/crio/conf.d/10-kubenode.conf"})
    assert "ExecStart=/usr/local/bin/crio --config-dir /srv/crio/conf.d" in text.splitlines()


@pytest.mark.parametrize(("template", "mode", "base"), [
    ("kubelet.service.j2", "standalone", "ExecStart=/usr/local/bin/kubelet --config=/etc/kubernetes/kubelet.yaml"),
    ("10-kubeadm.conf.j2", "kubeadm",
     "ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS"),
])
@pytest.mark.parametrize(("extra_args", "suffix"), [
    ([], ""),
    (["--housekeeping-interval=5m"], " --housekeeping-interval=5m"),
    (["--node-labels=a=b c"], " '--node-labels=a=b c'"),  # quoted once, as systemd splits ExecStart
])
def test_kubelet_extra_args_end_the_exec_start_line_in_both_modes(template, mode, base, extra_args, suffix):
    text = render("kubelet", template, {"kubelet_bin_dir": "/usr/local/bin", "kubelet_config_file": "/etc/kubernetes/kubelet.yaml",
                                        "kubelet_mode": mode, "kubenode_runtime": "containerd", "kubelet_extra_args": extra_args,
                                        "kubelet_kubeadm_config_file": "/var/lib/kubelet/config.yaml",
                                        "kubelet_kubeadm_flags_file": "/var/lib/kubelet/kubeadm-flags.env",
                                        "kubelet_kubeadm_kubeconfig": "/etc/kubernetes/kubelet.conf"})
    exec_start = [line for line in text.splitlines() if line.startswith("ExecStart=") and line != "ExecStart="]
    assert exec_start == [base + suffix]


def test_the_kubeadm_configuration_file_holds_one_yaml_document_per_kind():
    """What `kubeadm config validate` reads: the documents of kubelet_kubeadm_documents, each
    its own YAML document (a literal "\\n" in a separator is what kubeadm refused before)."""
    from ansible_collections.kubenode.runtime_chain.plugins.module_utils import kubelet

    documents = kubelet.kubeadm_documents({"ClusterConfiguration": {"kubernetesVersion": "v1.36.5"}},
                                          "unix:///run/containerd/containerd.sock", "systemd", "init")
    text = render("kubelet", "kubeadm-config.yaml.j2", {"__kubeadm_documents": documents})
    assert text.startswith("#") and "\\n" not in text
    assert list(yaml.safe_load_all(text)) == documents
