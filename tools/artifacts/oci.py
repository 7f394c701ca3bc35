"""Write small OCI image archives deterministically (no registry, no container engine).

An archive is a tar of an OCI image layout (``oci-layout``, ``index.json``, ``blobs/``) with
one gzip layer. The index entry carries both ``io.containerd.image.name`` (the full
reference, used by ``ctr images import``) and ``org.opencontainers.image.ref.name`` (the
tag, used by skopeo/podman ``oci-archive:`` transports). Same inputs give the same bytes:
every tar member has mtime 0 and owner 0:0, gzip headers carry no timestamp.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FileEntry:
    """One member of an image layer: a regular file (``data``), a symlink (``link``), a hard
    link to another member (``hardlink``: its path in the layer), or a directory with ``mode``
    (a ``path`` that ends in ``/``)."""

    path: str
    data: bytes | None = None
    mode: int = 0o755
    link: str | None = None
    hardlink: str | None = None


@dataclass(frozen=True)
class ImageSpec:
    """What goes into an image: a reference, its files, and the runtime config."""

    reference: str
    files: tuple[FileEntry, ...]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
    labels: dict = field(default_factory=dict)
    architecture: str = "amd64"
    # The image config's User ("1002", "www-data", "1003:1004"); empty: the runtime's default (root).
    user: str = ""


def _tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _info(name: str, *, kind: bytes, size: int = 0, mode: int = 0o644, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.linkname = link
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def layer_tar(files: tuple[FileEntry, ...]) -> bytes:
    """Return the uncompressed layer tar: directories first (parents 0755 unless given), then
    files and symlinks, then hard links (each after the member it names), each group sorted."""
    dirs: dict[str, int] = {}
    for entry in files:
        parts = entry.path.strip("/").split("/")[: None if entry.path.endswith("/") else -1]
        for i in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:i]), 0o755)
    dirs.update({e.path.strip("/"): e.mode for e in files if e.path.endswith("/")})
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info(d + "/", kind=tarfile.DIRTYPE, mode=mode), None) for d, mode in sorted(dirs.items())
    ]
    members = sorted((e for e in files if not e.path.endswith("/")), key=lambda e: (e.hardlink is not None, e.path))
    for entry in members:
        name = entry.path.strip("/")
        if entry.hardlink is not None:
            entries.append((_info(name, kind=tarfile.LNKTYPE, mode=entry.mode, link=entry.hardlink.strip("/")), None))
        elif entry.link is not None:
            entries.append((_info(name, kind=tarfile.SYMTYPE, mode=0o777, link=entry.link), None))
        else:
            data = entry.data or b""
            entries.append((_info(name, kind=tarfile.REGTYPE, size=len(data), mode=entry.mode), data))
    return _tar_bytes(entries)


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(data)
    return buf.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def image_archive(spec: ImageSpec) -> bytes:
    """Return the OCI archive (tar of an image layout) for ``spec``."""
    raw_layer = layer_tar(spec.files)
    layer = _gzip(raw_layer)
    config = {
        "architecture": spec.architecture,
        "os": "linux",
        "config": {
            "Env": list(spec.env),
            **({"Entrypoint": list(spec.entrypoint)} if spec.entrypoint else {}),
            **({"Cmd": list(spec.cmd)} if spec.cmd else {}),
            **({"Labels": dict(spec.labels)} if spec.labels else {}),
            **({"User": spec.user} if spec.user else {}),
        },
        "rootfs": {"type": "layers", "diff_ids": [_digest(raw_layer)]},
    }
    config_blob = _json(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config_blob), "size": len(config_blob)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _digest(layer), "size": len(layer)}],
    }
    manifest_blob = _json(manifest)
    tag = spec.reference.rsplit(":", 1)[1] if ":" in spec.reference.rsplit("/", 1)[-1] else "latest"
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _digest(manifest_blob),
                "size": len(manifest_blob),
                "platform": {"architecture": spec.architecture, "os": "linux"},
                "annotations": {"io.containerd.image.name": spec.reference, "org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    blobs = sorted({_digest(b).split(":")[1]: b for b in (layer, config_blob, manifest_blob)}.items())
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info("blobs/", kind=tarfile.DIRTYPE, mode=0o755), None),
        (_info("blobs/sha256/", kind=tarfile.DIRTYPE, mode=0o755), None),
    ]
    for hexdigest, blob in blobs:
        entries.append((_info(f"blobs/sha256/{hexdigest}", kind=tarfile.REGTYPE, size=len(blob)), blob))
    for name, blob in (("index.json", _json(index)), ("oci-layout", _json({"imageLayoutVersion": "1.0.0"}))):
        entries.append((_info(name, kind=tarfile.REGTYPE, size=len(blob)), blob))
    return _tar_bytes(entries)


def manifest_digest(archive: bytes) -> str:
    """Return the manifest digest recorded in an archive's index.json (the image ID source)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        index = json.loads(tar.extractfile("index.json").read())
    return index["manifests"][0]["digest"]
