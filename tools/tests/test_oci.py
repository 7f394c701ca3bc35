"""Local OCI image archives are deterministic and importable layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

from tools.artifacts import build, oci

SPEC = oci.ImageSpec(
    reference="localhost/kubenode/test:1",
    files=(oci.FileEntry("bin/tool", b"\x7fELF-ish"), oci.FileEntry("bin/sh", link="tool"), oci.FileEntry("etc/x", b"x", mode=0o644)),
    cmd=("/bin/sh",),
)


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_same_spec_gives_the_same_bytes():
    assert oci.image_archive(SPEC) == oci.image_archive(SPEC)


def test_archive_is_an_oci_layout_with_both_name_annotations():
    members = _members(oci.image_archive(SPEC))
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(members["index.json"])
    annotations = index["manifests"][0]["annotations"]
    assert annotations == {"io.containerd.image.name": "localhost/kubenode/test:1", "org.opencontainers.image.ref.name": "1"}


def test_every_blob_matches_its_digest_and_the_config_names_the_layer():
    members = _members(oci.image_archive(SPEC))
    for name, data in members.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    index = json.loads(members["index.json"])
    manifest = json.loads(members["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
    config = json.loads(members["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    layer = members["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]
    assert config["config"]["Cmd"] == ["/bin/sh"]


def test_layer_has_parent_dirs_links_and_root_ownership():
    with tarfile.open(fileobj=io.BytesIO(oci.layer_tar(SPEC.files))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin"].isdir() and members["etc"].isdir()
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "tool"
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())
    assert members["bin/tool"].mode == 0o755 and members["etc/x"].mode == 0o644


def test_release_tarball_is_reproducible_and_holds_the_binary():
    first = build.release_tarball({"crictl": b"binary"})
    assert first == build.release_tarball({"crictl": b"binary"})
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        (member,) = tar.getmembers()
    assert member.name == "crictl" and member.mode == 0o755 and member.mtime == 0
