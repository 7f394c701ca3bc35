"""Bad input fails before anything on the host changes, naming the variable or file (fresh VM)."""

from __future__ import annotations

import difflib
import shutil

import pytest

from tests.artifacts.build import load_manifest, mirror_root
from tests.testbed import vm

from .vmtools import playbook, snapshot, write_inventory

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def tampered_mirror(tmp_path_factory):
    """A copy of the artifact mirror whose crictl tarball has one byte changed."""
    root = tmp_path_factory.mktemp("mirror") / "mirror"
    shutil.copytree(mirror_root(), root)
    target = root / load_manifest()["artifacts"]["crictl"]["path"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    return root


@pytest.fixture(scope="module")
def offline_dir(tampered_mirror):
    """A controller directory for the offline method holding the tampered crictl tarball."""
    entry = load_manifest()["artifacts"]["crictl"]
    directory = tampered_mirror.parent / "offline"
    directory.mkdir()
    shutil.copy(tampered_mirror / entry["path"], directory)
    return directory


@pytest.fixture(scope="module")
def node(tmp_path_factory, tampered_mirror):
    inst = vm.up("itest-bad-input", "node", memory_mb=1024, mirror_root=tampered_mirror, log=lambda m: None)
    try:
        yield inst, write_inventory(inst, tmp_path_factory.mktemp("inventory"))
    finally:
        vm.down("itest-bad-input", "node")


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["-e", "kubenode_runtime=dockerd"], ["kubenode_runtime", "containerd, crio", "dockerd"]),
        (["-e", "kubenode_cgroup_driver=systemdd"], ["kubenode_cgroup_driver", "systemd, cgroupfs", "systemdd"]),
        (["-e", "containerd_cgroup_driver=cgroup"], ["containerd_cgroup_driver", "systemd, cgroupfs"]),
        (["-e", "kubenode_oci_runtime=youki"], ["kubenode_oci_runtime", "runc, crun", "youki"]),
        # The mirror serves a crictl tarball with one byte changed.
        ([], ["Artifact crictl", "sha256 mismatch", "crictl_sha256", "crictl-v"]),
        # The offline method: the same tampered file on the controller never leaves it.
        (["-e", "crictl_install_method=offline", "-e", "kubenode_offline_dir={offline}"],
         ["Artifact crictl (offline)", "crictl_sha256", "the file is corrupt or another version"]),
        (["-e", "crictl_install_method=offline", "-e", "kubenode_offline_dir=/nonexistent"],
         ["Artifact crictl (offline)", "is missing", "kubenode_offline_dir"]),
        (["-e", "crictl_sha256=abc"], ["crictl_sha256 must be the 64-hex sha256"]),
    ],
    ids=["unknown-runtime", "bad-cgroup-driver", "bad-role-cgroup-driver", "unknown-oci-runtime", "tampered-crictl",
         "tampered-offline-crictl", "missing-offline-crictl", "malformed-pin"],
)
def test_bad_input_fails_before_any_change(node, offline_dir, extra, names):
    inst, inventory = node
    extra = [e.format(offline=offline_dir) for e in extra]
    before = snapshot(inst)
    result = playbook(inventory, "playbooks/site.yml", *extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    for name in names:
        assert name in output, f"{name!r} not in the failure:\n{output[-3000:]}"
    after = snapshot(inst)
    diff = "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    assert after == before, f"the failed run changed the host:\n{diff}"
