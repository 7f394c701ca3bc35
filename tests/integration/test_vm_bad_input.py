"""Bad input fails before anything on the host changes, naming the variable or file (fresh VM).

On the same VM, last: command-line booleans, the built collection (check mode), and the one
test that changes the host (stale package lists).

The VM's mirror is a copy of the artifact mirror with three variants of crictl's release file
next to the real one, as a broken site mirror would serve them: a file with one byte changed
(its checksum file true), a checksum file one digit off (the file intact), and no checksum file.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from tools.artifacts.build import load_manifest, mirror_root
from tools.testbed import tamper, vm

from .vmtools import MITOGEN_ENV, playbook, qemu_processes_for, snapshot, ssh, write_inventory

pytestmark = pytest.mark.vm
CRICTL = load_manifest()["artifacts"]["crictl"]
CRICTL_FILE = Path(CRICTL["path"]).name
VARIANT = "-e crictl_url={{kubenode_testbed_mirror}}/variants/%s/" + CRICTL_FILE


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """The mirror copy with crictl's variants under variants/{bad-file,bad-sum,no-sum}/."""
    root = tmp_path_factory.mktemp("mirror") / "mirror"
    shutil.copytree(mirror_root(), root)
    checksum = root / CRICTL["checksum_path"]
    for kind in ("bad-file", "bad-sum", "no-sum"):
        directory = root / "variants" / kind
        directory.mkdir(parents=True)
        data = (root / CRICTL["path"]).read_bytes()
        (directory / CRICTL_FILE).write_bytes(tamper.flip_byte(data) if kind == "bad-file" else data)
        if kind == "bad-file":
            shutil.copy(checksum, directory / checksum.name)
        elif kind == "bad-sum":
            (directory / checksum.name).write_text(tamper.wrong_checksum(checksum.read_text(), CRICTL_FILE))
    return root


@pytest.fixture(scope="module")
def offline_dir(mirror):
    """A controller directory for the offline method: the tampered crictl tarball and its true checksum file."""
    directory = mirror.parent / "offline"
    directory.mkdir()
    for name in (CRICTL_FILE, Path(CRICTL["checksum_path"]).name):
        shutil.copy(mirror / "variants" / "bad-file" / name, directory)
    return directory


@pytest.fixture(scope="module")
def node(tmp_path_factory, mirror):
    inst = vm.up("itest-bad-input", "node", memory_mb=1024, mirror_root=mirror, log=lambda m: None)
    try:
        yield inst, write_inventory(inst, tmp_path_factory.mktemp("inventory"))
    finally:
        assert vm.down("itest-bad-input", "node")
    # down removes everything: the overlay, the instance directory, QEMU and the mirror.
    assert not Path(inst.directory).exists()
    assert qemu_processes_for(inst.directory) == []


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ("-e kubenode_runtime=dockerd", ["kubenode_runtime", "containerd, crio", "dockerd"]),
        ("-e kubenode_cgroup_driver=systemdd", ["kubenode_cgroup_driver", "systemd, cgroupfs", "systemdd"]),
        ("-e containerd_cgroup_driver=cgroup", ["containerd_cgroup_driver", "systemd, cgroupfs"]),
        ("-e kubenode_oci_runtime=youki", ["kubenode_oci_runtime", "runc, crun", "youki"]),
        # The distribution's containerd 1.x, which Kubernetes 1.36 no longer supports.
        ("-e containerd_install_method=distro", ["containerd_install_method=distro gives containerd 1.", "kubenode_kubernetes_version",
                                                  "containerd_allow_unsupported_version=true"]),
        # No pins anywhere: each file is checked against its upstream checksum file.
        (VARIANT % "bad-file", ["Artifact crictl", "sha256 mismatch", "the checksum file", f"variants/bad-file/{CRICTL_FILE}"]),
        (VARIANT % "bad-sum", ["Artifact crictl", "sha256 mismatch", f"the checksum file http://", "bad-sum"]),
        (VARIANT % "no-sum", ["Artifact crictl", "could not be read", "HTTP 404", "pin crictl_sha256"]),
        ("-e kubenode_require_pins=true", ["no pin, and kubenode_require_pins is true: set", "_sha256 to the sha256 of http://"]),
        # A pin wins over the checksum file: the wrong one is refused.
        ("-e crictl_sha256=" + "0" * 64, ["Artifact crictl", "sha256 mismatch", "pinned by crictl_sha256"]),
        ("-e crictl_sha256=abc", ["crictl_sha256 must be the 64-hex sha256"]),
        # The offline method: the tampered file on the controller never leaves it.
        ("-e crictl_install_method=offline -e kubenode_offline_dir={offline}",
         ["Artifact crictl (offline)", "the checksum file", "the file is corrupt or another version"]),
        ("-e crictl_install_method=offline -e kubenode_offline_dir=/nonexistent",
         ["Artifact crictl (offline)", "is missing", "kubenode_offline_dir"]),
        # Registry mirrors: a URL without scheme, a CA that is not on the controller.
        ('-e {"kubenode_registries":[{"registry":"registry.k8s.io","mirrors":[{"url":"10.0.2.100:5000"}]}]}',
         ["kubenode_registries[0].mirrors[0].url='10.0.2.100:5000' needs a scheme and a host: https://<host>[:port][/path]"]),
        ('-e {"kubenode_registries":[{"registry":"registry.k8s.io","mirrors":[{"url":"https://10.0.2.100:5000","ca":"/nonexistent/ca.crt"}]}]}',
         ["kubenode_registries[0].mirrors[0].ca=/nonexistent/ca.crt is not a file on the controller"]),
    ],
    ids=["unknown-runtime", "bad-cgroup-driver", "bad-role-cgroup-driver", "unknown-oci-runtime", "unsupported-distro-containerd",
         "tampered-file", "tampered-checksum-file", "missing-checksum-file", "pins-required", "wrong-pin", "malformed-pin",
         "tampered-offline-file", "missing-offline-file", "mirror-url-without-scheme", "mirror-ca-not-on-controller"],
)
def test_bad_input_fails_before_any_change(node, offline_dir, extra, names):
    inst, inventory = node
    argv = [arg.replace("{offline}", str(offline_dir)) for arg in extra.split(" ")]
    before = snapshot(inst)
    result = playbook(inventory, "playbooks/site.yml", *argv, mitogen=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    flat = " ".join(output.split())  # the YAML callback wraps long messages
    for name in names:
        assert name in flat, f"{name!r} not in the failure:\n{output[-3000:]}"
    after = snapshot(inst)
    diff = "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    assert after == before, f"the failed run changed the host:\n{diff}"


def test_documented_booleans_passed_as_false_on_the_command_line_are_false(node):
    """``-e name=false`` is the string "false": every boolean option of every role (from the
    argument specs) passed that way, site.yml runs in check mode to its end and changes nothing."""
    import yaml

    inst, inventory = node
    names = sorted({name for spec_file in Path("roles").glob("*/meta/argument_specs.yml")
                    for spec in (yaml.safe_load(spec_file.read_text())["argument_specs"] or {}).values()
                    for name, option in (spec.get("options") or {}).items() if option.get("type") == "bool"})
    assert "kubenode_manage_kubelet" in names
    before = snapshot(inst)
    result = playbook(inventory, "playbooks/site.yml", "--check", *[arg for name in names for arg in ("-e", f"{name}=false")],
                      mitogen=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert snapshot(inst) == before


@pytest.fixture(scope="module")
def built_collection(tmp_path_factory):
    """The collection as users get it: `ansible-galaxy collection build`, installed into an empty
    collections path next to copies of its declared dependencies only (galaxy.yml), and nothing
    else on the search path (no checkout, no bundled collections of the `ansible` package)."""
    import os
    import subprocess
    import sys

    import yaml

    root = Path(__file__).resolve().parents[2]
    work = tmp_path_factory.mktemp("collection")
    subprocess.run(["ansible-galaxy", "collection", "build", str(root), "--output-path", str(work)], check=True, capture_output=True)
    (tarball,) = work.glob("kubenode-runtime_chain-*.tar.gz")
    path = work / "collections"
    # --force: the checkout itself may be on the default collections path, as the same name.
    outside = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(path), str(tarball)],
                   check=True, capture_output=True, cwd=work, env=outside)
    assert (path / "ansible_collections" / "kubenode" / "runtime_chain" / "playbooks" / "site.yml").is_file()
    bundled = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / "ansible_collections"
    for fqcn in yaml.safe_load((root / "galaxy.yml").read_text())["dependencies"]:
        namespace, name = fqcn.split(".")
        shutil.copytree(bundled / namespace / name, path / "ansible_collections" / namespace / name)
        info = next(bundled.glob(f"{namespace}.{name}-*.info"), None)
        if info:
            shutil.copytree(info, path / "ansible_collections" / info.name)
    return path


def test_the_built_collection_runs_its_playbooks_with_only_its_declared_dependencies(node, built_collection, tmp_path):
    """From outside the checkout (no ansible.cfg of the repo): every playbook parses, and check
    mode runs site.yml on the fresh node, then verify.yml and switch_runtime.yml once the
    verifier's one prerequisite is there (python3-yaml: site.yml installs it, Debian's cloud
    images have it), changing nothing. With the test bed's Mitogen strategy (a plugin path of the
    test bed, not a collection): the packaging is under test here, not the strategy. site.yml
    runs at -vvv, and the test bed's registry password (the private mirror's credentials in the
    inventory) appears nowhere in its output."""
    import os
    import subprocess

    from tools.testbed import registry

    inst, inventory = node
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(built_collection), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_NOCOLOR="1",
               ANSIBLE_GATHERING="explicit", **MITOGEN_ENV)
    runs = (("site", ["--check", "-vvv"]), ("verify", ["--check", "-e", "verify_fail=false", "-e", f"verify_report_dir={tmp_path}"]),
            ("switch_runtime", ["--check", "-e", "runtime_switch_to=crio"]))
    before = snapshot(inst)
    for name, extra in runs:
        argv = ["ansible-playbook", "-i", str(inventory), f"kubenode.runtime_chain.{name}"]
        syntax = subprocess.run([*argv, "--syntax-check"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert syntax.returncode == 0, syntax.stdout[-2000:] + syntax.stderr[-2000:]
        if name == "verify":
            assert snapshot(inst) == before  # site.yml in check mode changed nothing
            subprocess.run(inst.ssh_argv("DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-yaml"), check=True,
                           capture_output=True)
            before = snapshot(inst)
        run = subprocess.run([*argv, *extra], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, f"{name}:\n{run.stdout[-3000:]}{run.stderr[-2000:]}"
        leaked = registry.ensure_credentials()["password"] in run.stdout + run.stderr  # not in an assert: pytest would print it
        assert not leaked, f"{name} printed the registry password"
    assert snapshot(inst) == before


def test_stale_package_lists_do_not_install_an_old_runc(node):  # issue 11 item 9
    """Last on this VM (it changes the host): package lists as an image built before a security
    update has them (the security suite's lists gone); the role installs Debian's runc, which
    is the newest candidate of the refreshed lists, not the stale one."""
    inst, inventory = node
    stale = ssh(inst, "rm -f /var/lib/apt/lists/*security* && apt-cache policy runc | sed -n 's/^  Candidate: //p'").strip()
    result = playbook(inventory, "tests/integration/playbooks/oci_runtimes.yml", "-e", "oci_runtime_install_method=distro",
                      mitogen=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    installed = ssh(inst, "dpkg-query -W -f='${Version}' runc").strip()
    newest = ssh(inst, "apt-cache policy runc | sed -n 's/^  Candidate: //p'").strip()
    assert installed == newest, f"installed {installed}, the refreshed lists offer {newest} (the stale ones {stale})"
