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


def test_the_config_carries_the_user_and_a_trailing_slash_makes_an_empty_directory():
    spec = oci.ImageSpec(reference="r/x:1", files=(oci.FileEntry("var/run/"), oci.FileEntry("bin/nnp", b"x", mode=0o4755)), user="1003:1004")
    members = _members(oci.image_archive(spec))
    index = json.loads(members["index.json"])
    manifest = json.loads(members["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
    assert json.loads(members["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])["config"]["User"] == "1003:1004"
    with tarfile.open(fileobj=io.BytesIO(oci.layer_tar(spec.files))) as tar:
        layer = {m.name: m for m in tar.getmembers()}
    assert layer["var/run"].isdir() and layer["var"].isdir() and "var/run/" not in layer
    assert layer["bin/nnp"].mode == 0o4755  # setuid survives (critest's no_new_privs specs need it)


def test_critest_images_add_their_files_to_busybox_and_build_their_programs(tmp_path):
    from tools.artifacts import catalog

    images = {i.name: i for i in catalog.CRITEST_IMAGES}
    files = {f.path: f for f in build.image_files(images["critest-predefined-group"], tmp_path)[0]}
    assert b"group-defined-in-image:x:50000:default-user" in files["etc/group"].data
    assert files["bin/sh"].hardlink == "bin/busybox" and b"pgrep NAME" in files["bin/pgrep"].data
    assert files["tmp/"].mode == 0o1777 and any(p.endswith("/libc.so.6") for p in files)
    files, version = build.image_files(images["critest-nonewprivs"], tmp_path)
    nnp = {f.path: f for f in files}["usr/local/bin/nnp"]
    assert nnp.mode == 0o4755 and nnp.data[:4] == b"\x7fELF" and "+nnp.c:" in version
    assert len({i.mirror_path for i in catalog.IMAGES}) == len(catalog.IMAGES)


def test_hard_links_follow_the_member_they_name_and_directories_keep_their_mode():
    files = (oci.FileEntry("bin/[", hardlink="bin/busybox"), oci.FileEntry("bin/busybox", b"bb"), oci.FileEntry("tmp/", mode=0o1777))
    with tarfile.open(fileobj=io.BytesIO(oci.layer_tar(files))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names.index("bin/busybox") < names.index("bin/[")
    link = members[names.index("bin/[")]
    assert link.islnk() and link.linkname == "bin/busybox"
    assert members[names.index("tmp")].mode == 0o1777
