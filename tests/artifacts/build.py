"""Build the artifact cache: upstream binaries from Go modules, and local OCI images.

Outputs (outside the checkout, see tests/testbed/paths.py)::

    artifacts/mirror/<upstream release path>   what guests download (served on loopback)
    artifacts/manifest.json                    name -> version, arch, path, sha256, size, inputs

An artifact is rebuilt only when its recorded inputs (module@version, Go version, flags,
recipe) change or its file no longer matches the recorded sha256, so a second run builds
nothing. Builds are reproducible (``-trimpath``, no VCS stamp, empty build id, fixed tar and
gzip metadata), so the manifest does not churn on rebuild with the same toolchain.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from tests.testbed import paths

from . import catalog, oci

MANIFEST_SCHEMA = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mirror_root() -> Path:
    return paths.artifacts_dir() / "mirror"


def manifest_path() -> Path:
    return paths.artifacts_dir() / "manifest.json"


def load_manifest() -> dict:
    try:
        data = json.loads(manifest_path().read_text())
        if data.get("schema") == MANIFEST_SCHEMA:
            return data
    except (OSError, ValueError):
        pass
    return {"schema": MANIFEST_SCHEMA, "artifacts": {}}


def _write_manifest(data: dict) -> None:
    data["artifacts"] = dict(sorted(data["artifacts"].items()))
    tmp = manifest_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(manifest_path())


def release_tarball(members: dict[str, bytes]) -> bytes:
    """Return a reproducible ``.tar.gz`` holding ``members`` (name -> content, mode 0755)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mode = 0o755
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(members[name]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def go_version() -> str:
    out = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _build_go(tool: catalog.GoTool, workdir: Path) -> bytes:
    env = dict(os.environ)
    env.update(
        GOBIN=str(workdir),
        CGO_ENABLED="1" if tool.cgo else "0",
        GOFLAGS="-trimpath -buildvcs=false",
    )
    ldflags = " ".join(("-s", "-w", "-buildid=", *tool.ldflags))
    argv = ["go", "install", f"-ldflags={ldflags}"]
    if tool.tags:
        argv.append("-tags=" + " ".join(tool.tags))
    argv.append(f"{tool.package}@v{tool.version}")
    result = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building {tool.name} failed: {' '.join(argv)}\n{result.stderr[-3000:]}")
    return (workdir / os.path.basename(tool.package)).read_bytes()


def _busybox_files() -> tuple[list[oci.FileEntry], str]:
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise RuntimeError("/bin/busybox is missing: install the busybox-static package (`make host-deps`)")
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "busybox-static"], capture_output=True, text=True).stdout.strip()
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    files = [oci.FileEntry("bin/busybox", busybox.read_bytes())]
    files += [oci.FileEntry(f"bin/{a}", link="busybox") for a in sorted(set(applets)) if a != "busybox"]
    files += [oci.FileEntry("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", mode=0o644),
              oci.FileEntry("etc/group", b"root:x:0:\n", mode=0o644),
              oci.FileEntry("tmp/.keep", b"", mode=0o644)]
    return files, version or "unknown"


def _pause_files(workdir: Path) -> tuple[list[oci.FileEntry], str]:
    source = Path(__file__).parent / "src" / "pause.c"
    out = workdir / "pause"
    subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(out), str(source)], check=True)
    gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    return [oci.FileEntry("pause", out.read_bytes())], f"{hashlib.sha256(source.read_bytes()).hexdigest()[:12]}-gcc{gcc}"


def _publish(name: str, version: str, rel_path: str, data: bytes, inputs: dict, manifest: dict, extra: dict | None = None) -> dict:
    target = mirror_root() / rel_path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    entry = {
        "name": name,
        "version": version,
        "arch": catalog.ARCH,
        "path": rel_path,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "inputs": inputs,
        **(extra or {}),
    }
    manifest["artifacts"][name] = entry
    return entry


def _fresh(manifest: dict, name: str, inputs: dict) -> bool:
    entry = manifest["artifacts"].get(name)
    if not entry or entry.get("inputs") != inputs:
        return False
    target = mirror_root() / entry["path"]
    return target.is_file() and target.stat().st_size == entry["size"] and sha256_file(target) == entry["sha256"]


def build_all(only: set[str] | None = None, log=print) -> dict:
    """Build what is missing or stale and return the manifest. Serialised by a file lock."""
    paths.artifacts_dir().mkdir(parents=True, exist_ok=True)
    with open(paths.artifacts_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = load_manifest()
        gov = go_version()
        with tempfile.TemporaryDirectory(prefix="kubenode-artifacts-") as tmp:
            workdir = Path(tmp)
            for tool in catalog.GO_TOOLS:
                if only and tool.name not in only:
                    continue
                inputs = tool.inputs(gov)
                if _fresh(manifest, tool.name, inputs):
                    continue
                log(f"artifacts: building {tool.name} v{tool.version} with {gov}")
                started = time.monotonic()
                binary = _build_go(tool, workdir)
                _publish(tool.name, tool.version, tool.mirror_path, release_tarball({tool.binary: binary}), inputs, manifest,
                         {"build_seconds": round(time.monotonic() - started, 1)})
                _write_manifest(manifest)
            for image in catalog.IMAGES:
                if only and image.name not in only:
                    continue
                files, source_version = _busybox_files() if image.source == "busybox" else _pause_files(workdir)
                inputs = image.inputs(source_version)
                if _fresh(manifest, image.name, inputs):
                    continue
                log(f"artifacts: building image {image.reference}")
                spec = oci.ImageSpec(reference=image.reference, files=tuple(files), entrypoint=image.entrypoint, cmd=image.cmd)
                data = oci.image_archive(spec)
                _publish(image.name, image.version, image.mirror_path, data, inputs, manifest,
                         {"reference": image.reference, "manifest_digest": oci.manifest_digest(data)})
                _write_manifest(manifest)
        _write_manifest(manifest)
        return manifest


def verify_cache() -> list[str]:
    """Return problems: manifest entries whose file is missing or whose sha256 differs."""
    problems = []
    for name, entry in load_manifest()["artifacts"].items():
        target = mirror_root() / entry["path"]
        if not target.is_file():
            problems.append(f"{name}: {target} is missing")
        elif sha256_file(target) != entry["sha256"]:
            problems.append(f"{name}: {target} does not match sha256 {entry['sha256']}")
    return problems


def clean() -> None:
    shutil.rmtree(paths.artifacts_dir(), ignore_errors=True)
