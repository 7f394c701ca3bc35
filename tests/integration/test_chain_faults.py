"""runtime_chain_info against real containerd instances, one broken link at a time.

Each case starts a private containerd (own root, state and socket) with a config that
reproduces a field failure, runs the module through Ansible, and asserts the exact check id
and status. Kernel checks describe this test machine and are not asserted here.
"""

from __future__ import annotations

import pytest

from .conftest import containerd_instance, run_module

CRI = "io.containerd.grpc.v1.cri"
# What the role renders for a node (the sandbox image of the tests' configs).
SANDBOX = "localhost/kubenode/pause:1.0"


def chain(ctd, crictl, tmp_path, sockets=(), crictl_yaml=None, kubelet_config=None, **expected):
    """runtime_chain_info on the private instance ``ctd``, as role verify runs it (every path passed)."""
    crictl_config = tmp_path / "crictl.yaml"
    crictl_config.write_text(crictl_yaml if crictl_yaml is not None else f"runtime-endpoint: {ctd.endpoint}\n")
    args = {
        "runtime": "containerd", "endpoints": {"containerd": ctd.endpoint, "crio": f"unix://{tmp_path}/no-crio.sock"},
        "crictl_path": crictl, "containerd_config": str(ctd.config), "crictl_config": str(crictl_config),
        "runtime_binaries": {"containerd": ctd.binary}, "other_endpoints": list(sockets), "fail_on_checks": False, "expected": {"cgroup_driver": "systemd", **expected},
    }
    if kubelet_config is not None:
        path = tmp_path / "kubelet.yaml"
        path.write_text("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" + kubelet_config)
        args["kubelet_configs"] = [str(path)]
    result = run_module("runtime_chain_info", args)
    assert "checks" in result, result
    return {c["id"]: c for c in result["checks"]}, result


def test_a_good_chain_passes_every_runtime_check(flavor, crictl, tmp_path):
    with containerd_instance(flavor.render(), flavor.binary) as ctd:
        checks, result = chain(ctd, crictl, tmp_path, sandbox_image=SANDBOX)
    for id_ in ("runtime.present", "runtime.config_schema", "runtime.cri_plugin", "runtime.cgroup_driver", "runtime.snapshotter",
                "cri.reachable", "cri.runtime_ready", "version.cri_api", "handler.runc", "endpoint.crictl",
                "endpoint.single_runtime", "sandbox.expected"):
        assert checks[id_]["status"] == "ok", checks[id_]
    assert checks["runtime.config_schema"]["observed"] == f"version = {flavor.config_version}"
    assert checks["cni.network_ready"]["status"] == "warn"  # no CNI expected here
    assert result["chain"]["runtime_name"] == "containerd" and result["chain"]["oci_runtime"]["name"] == "runc"
    assert result["chain"]["runtime_version"].lstrip("v").startswith(flavor.version.split("~")[0])
    assert result["changed"] is False


def test_cgroup_driver_flipped_on_the_runtime_side(flavor, crictl, tmp_path):  # C02
    with containerd_instance(flavor.render(containerd_cgroup_driver="cgroupfs"), flavor.binary) as ctd:
        checks, result = chain(ctd, crictl, tmp_path)
    assert checks["runtime.cgroup_driver"]["status"] == "fail"
    assert checks["runtime.cgroup_driver"]["observed"] == "cgroupfs"
    assert "runtime.cgroup_driver" in result["summary"]["failed"]
    # 2.x answers RuntimeConfig (what kubelet >= 1.31 reads); 1.x only in its verbose Status.
    assert checks["runtime.cgroup_driver"]["source"] == ("RuntimeConfig RPC" if flavor.name == "release" else
                                                          "CRI Status info: config.containerd.runtimes.runc.options.SystemdCgroup")


def test_a_file_without_its_version_header_is_not_read_as_written(flavor, crictl, tmp_path):  # C03
    config = flavor.render().replace(flavor.header(), "")
    with containerd_instance(config, flavor.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["runtime.config_schema"]["status"] == "fail"
    assert checks["runtime.config_schema"]["observed"] == "no version header"
    if flavor.name == "distro":
        # containerd 1.x reads it as version 1: the file says SystemdCgroup = true, the daemon runs cgroupfs.
        assert "version = 2" in checks["runtime.config_schema"]["hint"]
        assert checks["runtime.cgroup_driver"]["status"] == "fail" and checks["runtime.cgroup_driver"]["observed"] == "cgroupfs"
    else:
        assert f"render version {flavor.config_version}" in checks["runtime.config_schema"]["hint"]


def test_cri_plugin_disabled_by_configuration(flavor, crictl, tmp_path):  # C06
    config = flavor.render().replace(flavor.header(), f'{flavor.header()}disabled_plugins = ["{CRI}"]\n')
    with containerd_instance(config, flavor.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["cri.reachable"]["status"] == "fail"
    assert checks["runtime.cri_plugin"]["status"] == "fail"
    assert "disabled by configuration" in checks["runtime.cri_plugin"]["hint"]


def test_cri_plugin_that_failed_to_load_while_containerd_runs(flavor, crictl, tmp_path):  # C07 / C08
    images = CRI if flavor.config_version == 2 else "io.containerd.cri.v1.images"
    config = flavor.render() + f'\n[plugins."{images}".registry.mirrors."mirror.example"]\n  endpoint = ["https://mirror.example"]\n'
    with containerd_instance(config, flavor.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["cri.reachable"]["status"] == "fail"
    assert checks["runtime.cri_plugin"]["status"] == "fail"
    assert "failed to load" in checks["runtime.cri_plugin"]["hint"]
    assert "`mirrors` cannot be set when `config_path` is provided" in checks["runtime.cri_plugin"]["hint"]


def test_a_second_runtime_still_listening(flavor, crictl, tmp_path):  # C24
    with containerd_instance(flavor.render(), flavor.binary) as ctd, containerd_instance(flavor.render(), flavor.binary) as other:
        checks, _ = chain(ctd, crictl, tmp_path, sockets=[other.endpoint])
    assert checks["endpoint.single_runtime"]["status"] == "fail"
    assert other.endpoint in checks["endpoint.single_runtime"]["hint"]


@pytest.mark.parametrize(
    ("crictl_yaml", "status"),
    [("runtime-endpoint: unix:///var/run/dockershim.sock\n", "fail"), ("", "ok")],
    ids=["stale-dockershim", "matching"],
)
def test_crictl_yaml_must_name_the_live_socket(containerd_release, crictl, tmp_path, crictl_yaml, status):  # C10
    with containerd_instance(containerd_release.render(), containerd_release.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path, crictl_yaml=crictl_yaml or None)
    assert checks["endpoint.crictl"]["status"] == status


def test_a_handler_without_its_binary(flavor, crictl, tmp_path):  # C27 / C26
    config = flavor.render(containerd_runtime_handlers={"runc": "/usr/sbin/runc", "crun": "/nonexistent/crun"})
    with containerd_instance(config, flavor.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    assert checks["handler.crun"]["status"] == "fail"
    assert checks["handler.runc"]["status"] == "ok"


def test_a_sandbox_image_other_than_the_expected_one(flavor, crictl, tmp_path):
    with containerd_instance(flavor.render(), flavor.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path, sandbox_image="localhost/other/pause:9")
    assert checks["sandbox.expected"]["status"] == "fail"
    assert checks["sandbox.present"]["status"] == "warn"  # not imported into this private instance


def test_no_runtime_installed_is_described(crictl, tmp_path):
    result = run_module("runtime_chain_info", {
        "runtime": "crio", "endpoints": {"crio": f"unix://{tmp_path}/crio.sock"}, "crictl_path": crictl,
        "containerd_config": str(tmp_path / "none.toml"), "crictl_config": str(tmp_path / "none.yaml"), "fail_on_checks": False})
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["runtime.present"]["status"] == "fail"
    assert checks["kubelet.present"]["status"] == "warn"


def test_the_module_fails_only_on_checks_not_ignored(containerd_release, crictl, tmp_path):
    crictl_config = tmp_path / "crictl.yaml"
    with containerd_instance(containerd_release.render(containerd_cgroup_driver="cgroupfs"), containerd_release.binary) as ctd:
        crictl_config.write_text(f"runtime-endpoint: {ctd.endpoint}\n")
        args = {"runtime": "containerd", "endpoints": {"containerd": ctd.endpoint}, "crictl_path": crictl,
                "runtime_binaries": {"containerd": ctd.binary},
                "containerd_config": str(ctd.config), "crictl_config": str(crictl_config), "expected": {"cgroup_driver": "systemd"}}
        failing = run_module("runtime_chain_info", args)
        ignored = run_module("runtime_chain_info", {**args, "ignore": ["all"]})
    assert failing["failed"] is True and "runtime.cgroup_driver" in failing["msg"]
    assert ignored.get("failed") is not True and "runtime.cgroup_driver" in ignored["summary"]["ignored"]


@pytest.mark.parametrize(
    ("flavor_name", "kubelet_config", "check_id", "status"),
    [
        ("release", "cgroupDriver: systemd\ncontainerRuntimeEndpoint: {endpoint}\n", None, "ok"),
        ("release", "cgroupDriver: systemd\ncontainerRuntimeEndpoint: {other}\n", "endpoint.kubelet", "fail"),
        # kubelet >= 1.31 takes the driver from the RuntimeConfig RPC of containerd 2.x: the file only lies.
        ("release", "cgroupDriver: cgroupfs\ncontainerRuntimeEndpoint: {endpoint}\n", "kubelet.cgroup_driver", "warn"),
        # containerd 1.x has no RuntimeConfig: kubelet uses its own cgroupDriver, and every sandbox fails.
        ("distro", "cgroupDriver: cgroupfs\ncontainerRuntimeEndpoint: {endpoint}\n", "kubelet.cgroup_driver", "fail"),
    ],
    ids=["agreeing", "wrong-endpoint", "opposite-cgroup-driver-2.x", "opposite-cgroup-driver-1.x"],
)
def test_kubelet_disagreeing_with_the_runtime(request, crictl, kubelet_on_path, tmp_path, flavor_name, kubelet_config,
                                              check_id, status):  # C11 / C01
    """The real kubelet binary (its --version) and a KubeletConfiguration, against a live containerd."""
    flavor = request.getfixturevalue(f"containerd_{flavor_name}")
    with containerd_instance(flavor.render(), flavor.binary) as ctd:
        config = kubelet_config.format(endpoint=ctd.endpoint, other=f"unix://{tmp_path}/other.sock")
        checks, _ = chain(ctd, crictl, tmp_path, kubelet_config=config)
    assert checks["kubelet.present"]["status"] == "ok", checks["kubelet.present"]
    for id_ in ("endpoint.kubelet", "kubelet.cgroup_driver"):
        assert checks[id_]["status"] == (status if id_ == check_id else "ok"), checks[id_]
    if check_id:
        assert str(tmp_path / "kubelet.yaml") in checks[check_id]["source"]  # names the file it read


def test_crictl_image_endpoint_left_on_the_old_runtime(containerd_release, crictl, tmp_path):  # C11, issue 11 item 1
    """A switch by hand moved runtime-endpoint and left image-endpoint on CRI-O's socket."""
    old = f"unix://{tmp_path}/crio.sock"
    with containerd_instance(containerd_release.render(), containerd_release.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path, crictl_yaml=f"runtime-endpoint: {ctd.endpoint}\nimage-endpoint: {old}\n")
    assert checks["endpoint.crictl"]["status"] == "ok"
    image = checks["endpoint.crictl_image"]
    assert (image["status"], image["observed"], image["expected"]) == ("fail", old, ctd.endpoint), image
    assert image["source"] == str(tmp_path / "crictl.yaml") and "image-endpoint" in image["hint"]


def test_another_spelling_of_the_same_socket_is_the_same_socket(containerd_release, crictl, kubelet_on_path, tmp_path):
    """kubespray's and kubeadm's ``unix:///var/run/...``: a symlinked directory, as /var/run -> /run is
    (issue 11 item 11); crictl, kubelet and the second-runtime probe all see one socket."""
    with containerd_instance(containerd_release.render(), containerd_release.binary) as ctd:
        real = ctd.endpoint[len("unix://"):]
        link = tmp_path / "var-run"
        link.symlink_to(real.rsplit("/", 1)[0], target_is_directory=True)
        spelled = f"unix://{link}/{real.rsplit('/', 1)[1]}"
        config = f"cgroupDriver: systemd\ncontainerRuntimeEndpoint: {spelled}\nimageServiceEndpoint: {spelled}\n"
        checks, _ = chain(ctd, crictl, tmp_path, sockets=[spelled], kubelet_config=config,
                          crictl_yaml=f"runtime-endpoint: {spelled}\nimage-endpoint: {spelled}\n")
    for id_ in ("endpoint.crictl", "endpoint.crictl_image", "endpoint.kubelet", "endpoint.kubelet_image", "endpoint.single_runtime"):
        assert checks[id_]["status"] == "ok", checks[id_]
    for id_ in ("endpoint.crictl", "endpoint.kubelet"):
        assert checks[id_]["observed"] == f"{spelled} (the same socket as {ctd.endpoint})"


def test_the_builtin_sandbox_image_against_the_kubernetes_release(flavor, crictl, tmp_path):  # C09, issue 11 item 4
    """No sandbox image set: the runtime's built-in pause (3.6 in containerd 1.6, 3.8 in 1.7, 3.10.2 in 2.3)
    against the one kubeadm pins for Kubernetes 1.36 (3.10.2), with the runtime key to set."""
    with containerd_instance(flavor.render(containerd_sandbox_image=""), flavor.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path, kubernetes_version="1.36.5")
    result = checks["sandbox.kubernetes"]
    assert result["expected"] == "registry.k8s.io/pause:3.10.2"
    assert "kubeadm constants PauseVersion for Kubernetes 1.36" in result["source"]
    if flavor.name == "distro":
        assert result["status"] == "warn" and result["observed"] in ("registry.k8s.io/pause:3.6", "registry.k8s.io/pause:3.8"), result
        assert "sandbox_image in [plugins" in result["hint"]
    else:
        assert (result["status"], result["observed"]) == ("ok", "registry.k8s.io/pause:3.10.2"), result


def test_cve_status_of_the_distributions_runc_from_its_changelog(containerd_release, crictl, tmp_path):  # C28, issue 11 item 5
    """This machine's runc is Debian's package (the handler's /usr/sbin/runc): a CVE its
    changelog.Debian.gz names is fixed by backport, one it does not name is not fixed."""
    import gzip
    import re
    import subprocess

    package = subprocess.run(["dpkg-query", "--search", "/usr/sbin/runc"], capture_output=True, text=True, check=False)
    if package.returncode != 0:
        pytest.skip("/usr/sbin/runc is not a Debian package's here")
    name = package.stdout.split(":")[0]
    with gzip.open(f"/usr/share/doc/{name}/changelog.Debian.gz", "rt") as handle:
        named = set(re.findall(r"CVE-\d{4}-\d{4,}", handle.read()))
    with containerd_instance(containerd_release.render(), containerd_release.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
    cves = {c["id"]: c for c in checks.values() if c["id"].startswith("oci.runc.cve-")
            and (c["status"] != "ok" or "fixed by backport" in str(c["observed"]))}
    assert cves, "this machine's runc predates no known fix: nothing to show"
    for id_, result in cves.items():
        cve = id_.split(".")[-1].upper()
        assert result["source"].endswith(f"/usr/share/doc/{name}/changelog.Debian.gz"), result
        if cve in named:
            assert result["status"] == "ok" and "fixed by backport" in result["observed"], result
        else:
            assert result["status"] in ("warn", "fail") and "not fixed" in result["observed"] and cve in result["hint"], result


@pytest.mark.parametrize(("installed", "searched"), [("usr-lib-cni", "opt-cni-bin"), ("opt-cni-bin", "usr-lib-cni")],
                         ids=["debian-dir-runtime-searches-opt", "opt-runtime-searches-debian-dir"])
def test_cni_plugins_the_loaded_config_names_must_resolve(flavor, crictl, tmp_path, installed, searched):  # C18, issue 11 item 2
    """The network config the runtime loads names ``bridge`` and ``portmap``; the plugins sit in
    another directory than the one the runtime searches (Debian's /usr/lib/cni vs /opt/cni/bin)."""
    conf_dir, plugins, search = tmp_path / "net.d", tmp_path / installed, tmp_path / searched
    for directory in (conf_dir, plugins, search):
        directory.mkdir()
    (conf_dir / "10-pods.conflist").write_text(
        '{"cniVersion": "1.0.0", "name": "pods", "plugins": [{"type": "bridge"}, {"type": "portmap"}]}')
    (conf_dir / "99-unused.conflist").write_text('{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "nonexistent"}]}')
    for name in ("bridge", "portmap"):
        (plugins / name).write_text("#!/bin/sh\nexit 0\n")
        (plugins / name).chmod(0o755)
    config = flavor.render(containerd_cni_bin_dirs=[str(search)], containerd_cni_conf_dir=str(conf_dir))
    with containerd_instance(config, flavor.binary) as ctd:
        checks, _ = chain(ctd, crictl, tmp_path)
        result = checks["cni.plugins"]
        assert result["status"] == "fail", result
        assert result["observed"] == {"missing": ["bridge", "portmap"], "searched": [str(search)]}
        assert result["source"].startswith(f"{conf_dir}/10-pods.conflist + CRI Status info")
        for name in ("bridge", "portmap"):
            (search / name).write_bytes((plugins / name).read_bytes())
            (search / name).chmod(0o755)
        fixed, _ = chain(ctd, crictl, tmp_path)
    assert fixed["cni.plugins"]["status"] == "ok", fixed["cni.plugins"]
