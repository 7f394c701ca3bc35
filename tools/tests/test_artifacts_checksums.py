"""The artifact mirror publishes each upstream's checksum file; versions come from the roles' defaults."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import pytest

from tools.artifacts import build, catalog
from tools.testbed import tamper

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = {"crictl": "1.36.0", "critest": "1.36.0", "containerd": "2.3.7", "runc": "1.4.4", "crio": "1.36.3", "kubelet": "1.36.5"}
A = "a" * 64
B = "b" * 64


def _product_parser():
    """The roles' own reader of upstream checksum files (plugins/filter/artifacts.py)."""
    spec = importlib.util.spec_from_file_location("_artifacts_filter", ROOT / "plugins" / "filter" / "artifacts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.checksum_from_file


def _items() -> dict:
    return {item.name: item for item in (*catalog.go_builds(VERSIONS), *catalog.IMAGES)}


@pytest.mark.parametrize(("name", "checksum_path", "content"), [
    ("containerd", "github/containerd/containerd/releases/download/v2.3.7/containerd-2.3.7-linux-amd64.tar.gz.sha256sum",
     f"{A}  containerd-2.3.7-linux-amd64.tar.gz\n"),
    ("runc", "github/opencontainers/runc/releases/download/v1.4.4/runc.sha256sum", f"{A}  runc.amd64\n"),
    ("crictl", "github/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz.sha256",
     f"{A}  crictl-v1.36.0-linux-amd64.tar.gz\n"),
    ("critest", "github/kubernetes-sigs/cri-tools/releases/download/v1.36.0/critest-v1.36.0-linux-amd64.tar.gz.sha256",
     f"{A}  critest-v1.36.0-linux-amd64.tar.gz\n"),
    ("kubelet", "dl.k8s.io/release/v1.36.5/bin/linux/amd64/kubelet.sha256", f"{A}\n"),
    ("crio", "github/cri-o/cri-o/releases/download/v1.36.3/cri-o.amd64.v1.36.3.tar.gz.sha256sum", f"{A}  cri-o.amd64.v1.36.3.tar.gz\n"),
    ("pause-image", "images/kubenode-pause-1.0.oci.tar.sha256", f"{A}\n"),
    ("test-image", "images/kubenode-busybox-1.oci.tar.sha256", f"{A}\n"),
])
def test_each_artifact_gets_its_upstreams_checksum_file(name, checksum_path, content):
    item = _items()[name]
    manifest = {"artifacts": {name: {"path": item.mirror_path, "sha256": A, **build._checksum_fields(item.checksum)}}}
    assert build.checksum_files(manifest) == {checksum_path: content}
    # The roles read it back to the same sha256.
    assert _product_parser()(content, item.mirror_path.rsplit("/", 1)[-1], checksum_path) == A


def test_one_runc_checksum_file_lists_every_published_runc_file():
    runc = _items()["runc"]
    fields = build._checksum_fields(runc.checksum)
    manifest = {"artifacts": {
        "runc": {"path": runc.mirror_path, "sha256": A, **fields},
        "runc-arm64": {"path": runc.mirror_path.replace("amd64", "arm64"), "sha256": B, **fields},
    }}
    assert build.checksum_files(manifest) == {runc.checksum.path: f"{A}  runc.amd64\n{B}  runc.arm64\n"}


def test_a_bare_checksum_file_cannot_hold_two_hashes():
    with pytest.raises(ValueError, match="one hash"):
        catalog.checksum_text("bare", [("a", A), ("b", B)])
    with pytest.raises(ValueError, match="style"):
        catalog.ChecksumFile("x.md5", "md5")


def test_checksum_files_follow_the_artifact_and_are_not_rewritten_when_unchanged(tmp_path):
    item = _items()["containerd"]
    entry = {"path": item.mirror_path, "sha256": A, **build._checksum_fields(item.checksum)}
    manifest = {"artifacts": {"containerd": entry}}
    assert build.write_checksum_files(manifest, tmp_path) == [item.checksum.path]
    target = tmp_path / item.checksum.path
    os.utime(target, (1, 1))
    assert build.write_checksum_files(manifest, tmp_path) == []
    assert target.stat().st_mtime == 1
    entry["sha256"] = B  # the artifact was rebuilt
    assert build.write_checksum_files(manifest, tmp_path) == [item.checksum.path]
    assert target.read_text() == f"{B}  {item.mirror_path.rsplit('/', 1)[-1]}\n"


def test_artifacts_built_before_checksum_files_get_theirs_without_a_rebuild():
    items = _items()
    manifest = {"artifacts": {name: {"path": item.mirror_path, "sha256": A} for name, item in items.items()}}
    manifest["artifacts"]["crictl"]["path"] = "github/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz"
    build._record_checksum_files(manifest, items.values())
    assert manifest["artifacts"]["kubelet"]["checksum_path"] == "dl.k8s.io/release/v1.36.5/bin/linux/amd64/kubelet.sha256"
    assert manifest["artifacts"]["kubelet"]["checksum_format"] == "bare"
    # An entry of another version than the catalog's is not given the catalog's checksum file.
    assert "checksum_path" not in manifest["artifacts"]["crictl"]


def test_the_go_build_inputs_do_not_change_with_checksum_files():
    """The recorded inputs (the cache key) are what they were before checksum files existed."""
    containerd = _items()["containerd"]
    assert containerd.inputs("go1.24.0") == {
        "kind": "go", "module": "github.com/containerd/containerd/v2@v2.3.7",
        "binaries": [["github.com/containerd/containerd/v2/cmd/containerd", "bin/containerd"],
                     ["github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2", "bin/containerd-shim-runc-v2"],
                     ["github.com/containerd/containerd/v2/cmd/ctr", "bin/ctr"]],
        "ldflags": ["-X github.com/containerd/containerd/v2/version.Version=v2.3.7",
                    "-X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2",
                    "-X github.com/containerd/containerd/v2/version.Revision=kubenode-build"],
        "cgo": False, "static": False, "tags": ["no_btrfs", "no_devmapper", "no_zfs"], "test_binary": False,
        "c_builds": [], "go": "go1.24.0", "recipe": 1,
    }


def _roles(tmp_path: Path, values: dict[str, str]) -> Path:
    for name, (role, variable) in catalog.VERSION_SOURCES.items():
        path = tmp_path / "roles" / role / "defaults" / "main.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = path.read_text() if path.exists() else "---\n"
        if variable not in text:
            path.write_text(text + f"{variable}: {values.get(name, VERSIONS[name])}\n")
    return tmp_path


def test_versions_are_the_roles_defaults(tmp_path):
    root = _roles(tmp_path, {"containerd": '"2.3.8"', "crictl": "'1.36.1'"})
    assert catalog.versions(root) == {**VERSIONS, "containerd": "2.3.8", "crictl": "1.36.1", "critest": "1.36.1"}
    containerd = {b.name: b for b in catalog.go_builds(catalog.versions(root))}["containerd"]
    assert containerd.mirror_path.endswith("/v2.3.8/containerd-2.3.8-linux-amd64.tar.gz")


def test_a_default_naming_another_role_default_is_followed(tmp_path):
    root = _roles(tmp_path, {"kubelet": '"{{ kubenode_kubernetes_version }}"'})
    (root / "roles" / "kubenode" / "defaults").mkdir(parents=True)
    (root / "roles" / "kubenode" / "defaults" / "main.yml").write_text('---\nkubenode_kubernetes_version: "1.36.9"\n')
    assert catalog.versions(root)["kubelet"] == "1.36.9"


@pytest.mark.parametrize(("value", "says"), [
    ('"{{ kubenode_kubernetes_version | default(\'1.36.5\') }}"',
     "kubelet_version is the Jinja expression \"{{ kubenode_kubernetes_version | default('1.36.5') }}\""),
    ('"{{ kubenode_kubernetes_version }}"', "kubelet_version is the Jinja expression '{{ kubenode_kubernetes_version }}'"),  # no such default
    ('"{{ kubelet_version }}"', "Jinja expression"),  # itself
    ('"v1.36.5"', "not a plain version"),
    ('"1.36"', "not a plain version"),
])
def test_a_default_that_is_not_a_plain_version_fails_naming_file_and_variable(tmp_path, value, says):
    root = _roles(tmp_path, {"kubelet": value})
    with pytest.raises(RuntimeError, match="roles/kubelet/defaults/main.yml") as exc:
        catalog.versions(root)
    assert says in str(exc.value)


def test_a_missing_default_fails(tmp_path):
    root = _roles(tmp_path, {})
    (root / "roles" / "crio" / "defaults" / "main.yml").write_text("---\ncrio_install_method: upstream\n")
    with pytest.raises(RuntimeError, match="does not set crio_version"):
        catalog.versions(root)


# ---------------------------------------------------------------- tampered mirrors


def _mirror(tmp_path: Path) -> tuple[Path, dict]:
    source = tmp_path / "mirror"
    release = "github/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz"
    data = b"release file bytes"
    entry = {"name": "crictl", "path": release, "sha256": hashlib.sha256(data).hexdigest(), "checksum_path": release + ".sha256",
             "checksum_format": "sha256sum"}
    (source / release).parent.mkdir(parents=True)
    (source / release).write_bytes(data)
    build.write_checksum_files({"artifacts": {"crictl": entry}}, source)
    return source, entry


def test_a_tampered_artifact_differs_by_one_byte_and_the_cache_is_untouched(tmp_path):
    source, entry = _mirror(tmp_path)
    copy = tamper.tampered_mirror(source, tmp_path / "copy", entry)
    original, tampered = (source / entry["path"]).read_bytes(), (copy / entry["path"]).read_bytes()
    assert len(original) == len(tampered) and sum(a != b for a, b in zip(original, tampered)) == 1
    assert (copy / entry["checksum_path"]).read_text() == (source / entry["checksum_path"]).read_text()
    assert hashlib.sha256(original).hexdigest() == entry["sha256"]


def test_a_tampered_checksum_file_is_well_formed_but_wrong(tmp_path):
    source, entry = _mirror(tmp_path)
    copy = tamper.tampered_mirror(source, tmp_path / "copy", entry, part="checksum")
    assert (copy / entry["path"]).read_bytes() == (source / entry["path"]).read_bytes()
    digest = _product_parser()((copy / entry["checksum_path"]).read_text(), "crictl-v1.36.0-linux-amd64.tar.gz")
    assert digest != entry["sha256"] and sum(a != b for a, b in zip(digest, entry["sha256"])) == 1


@pytest.mark.parametrize(("text", "filename", "changed_line"), [
    (f"{A}\n", "kubelet", 0),
    (f"{B}  runc.arm64\n{A}  runc.amd64\n", "runc.amd64", 1),
    (f"{A} *cri-o.amd64.v1.36.3.tar.gz\n", "cri-o.amd64.v1.36.3.tar.gz", 0),
])
def test_wrong_checksum_changes_the_named_files_hash_only(text, filename, changed_line):
    out = tamper.wrong_checksum(text, filename).splitlines()
    for i, (before, after) in enumerate(zip(text.splitlines(), out)):
        assert (before != after) == (i == changed_line)


def test_wrong_checksum_needs_the_file():
    with pytest.raises(ValueError, match="runc.amd64"):
        tamper.wrong_checksum(f"{B}  runc.arm64\n", "runc.amd64")
    with pytest.raises(ValueError, match="part must be"):
        tamper.tampered_mirror(Path("/nonexistent"), Path("/nonexistent2"), {}, part="both")


def test_the_cluster_builds_follow_kubeadm_and_the_kubelet_release():
    builds = {b.name: b for b in catalog.cluster_builds(VERSIONS)}
    assert set(builds) == {"kubeadm", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"}
    assert builds["kube-apiserver"].mirror_path == "dl.k8s.io/release/v1.36.5/bin/linux/amd64/kube-apiserver"
    assert builds["etcd"].version == "3.6.8" and builds["etcd"].checksum.path.endswith("/v3.6.8/SHA256SUMS")
    images = {i.reference: i for i in catalog.cluster_images(VERSIONS)}
    assert set(images) == {"registry.k8s.io/kube-apiserver:v1.36.5", "registry.k8s.io/kube-controller-manager:v1.36.5",
                           "registry.k8s.io/kube-scheduler:v1.36.5", "registry.k8s.io/etcd:3.6.8-0"}
    assert images["registry.k8s.io/etcd:3.6.8-0"].binary == ("etcd", "etcd-v3.6.8-linux-amd64/etcd", "usr/local/bin/etcd")


def test_an_unknown_kubernetes_minor_names_the_table_to_update():
    with pytest.raises(RuntimeError, match="KUBEADM_ETCD in tools/artifacts/catalog.py"):
        catalog.kubeadm_etcd_version("1.99.0")


def test_kubeadm_images_the_test_bed_lacks_are_named_except_the_skipped_addons():
    listed = ["registry.k8s.io/kube-apiserver:v1.36.5", "registry.k8s.io/kube-proxy:v1.36.5", "registry.k8s.io/coredns/coredns:v1.14.2",
              "registry.k8s.io/etcd:3.6.9-0"]
    assert build.kubeadm_image_mismatch(listed, ["registry.k8s.io/kube-apiserver:v1.36.5"]) == ["registry.k8s.io/etcd:3.6.9-0"]
