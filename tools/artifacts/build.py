"""Build the artifact cache: upstream binaries from Go modules, and local OCI images.

Outputs (outside the checkout, see tools/testbed/paths.py)::

    artifacts/mirror/<upstream release path>   what guests download (served on loopback)
    artifacts/mirror/<upstream checksum path>  the checksum file upstream publishes beside it
    artifacts/manifest.json                    name -> version, arch, path, sha256, size, inputs,
                                               checksum_path, checksum_format

An artifact is rebuilt only when its recorded inputs (module@version, Go version, flags,
recipe) change or its file no longer matches the recorded sha256, so a second run builds
nothing. Checksum files are written from the manifest on every run (only when their content
differs), so they follow every rebuilt artifact and exist for artifacts built before them. Builds are reproducible (``-trimpath``, no VCS stamp, empty build id, fixed tar and
gzip metadata), so the manifest does not churn on rebuild with the same toolchain.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from tools.testbed import debs, paths

from . import catalog, oci

MANIFEST_SCHEMA = 2
# C sources of the programs in the locally built images (pause, nnp).
SRC = Path(__file__).parent / "src"


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


def _go(argv: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(["go", *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"go {' '.join(argv)} failed in {cwd}:\n{result.stderr[-4000:]}")
    return result.stdout


def staging_replaces(gomod_text: str, version: str) -> list[str]:
    """``go mod edit -replace`` arguments pinning k8s.io/kubernetes's local staging modules
    (``k8s.io/api => ./staging/src/k8s.io/api``) to their published ``v0.<minor>.<patch>``."""
    published = "v0." + version.split(".", 1)[1]
    out = []
    for match in re.finditer(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/", gomod_text, re.MULTILINE):
        out.append(f"-replace={match.group(1)}={match.group(1)}@{published}")
    return out


def _wrapper(build: catalog.GoBuild, workdir: Path, env: dict) -> Path:
    """A throw-away module that requires ``build.module@version`` (the Go module proxy only)."""
    wrap = workdir / f"wrap-{build.name}"
    wrap.mkdir()
    _go(["mod", "init", f"kubenode.build/{build.name}"], wrap, env)
    if build.staging_replaces:
        info = json.loads(_go(["mod", "download", "-json", f"{build.module}@v{build.version}"], wrap, env))
        replaces = staging_replaces(Path(info["GoMod"]).read_text(), build.version)
        if not replaces:
            raise RuntimeError(f"no staging replace directives found in {build.module}@v{build.version}'s go.mod")
        _go(["mod", "edit", *replaces], wrap, env)
    _go(["get", f"{build.module}@v{build.version}"], wrap, env)
    return wrap


def _build_go(build: catalog.GoBuild, workdir: Path) -> dict[str, bytes]:
    """Build every binary (and C program) of ``build``; return archive member -> content."""
    env = dict(os.environ, CGO_ENABLED="1" if build.cgo else "0", GOFLAGS="-mod=mod -trimpath -buildvcs=false")
    wrap = _wrapper(build, workdir, env)
    ldflags = ["-s", "-w", "-buildid=", *build.ldflags]
    if build.static and build.cgo:
        ldflags += ["-linkmode", "external", "-extldflags", "-static"]
    members: dict[str, bytes] = {}
    for package, member in build.binaries:
        out = workdir / "out" / build.name / member
        argv = ["test", "-c"] if build.test_binary else ["build"]
        argv += [f"-ldflags={' '.join(ldflags)}", "-o", str(out)]
        if build.tags:
            argv.append("-tags=" + ",".join(build.tags))
        _go([*argv, package], wrap, env)
        members[member] = out.read_bytes()
    if build.c_builds:
        module_dir = Path(_go(["list", "-m", "-f", "{{.Dir}}", build.module], wrap, env).strip())
        for c in build.c_builds:
            source = workdir / f"c-{build.name}"
            shutil.copytree(module_dir, source, ignore=shutil.ignore_patterns("vendor", "test", "docs", "*.md"))
            for path in source.rglob("*"):
                path.chmod(path.stat().st_mode | 0o200)
            result = subprocess.run(["make", "-C", str(source / c.source_dir), *c.make_args], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"make in {c.source_dir} of {build.module} failed:\n{result.stderr[-3000:]}")
            members[c.member] = (source / c.source_dir / c.output).read_bytes()
    return members


# The busybox image's users and groups (as in the busybox images critest and the e2e tests
# build on): critest runs containers as ``nobody`` and reads ``www-data`` from images.
BUSYBOX_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
BUSYBOX_GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
mail:x:8:
www-data:x:33:
operator:x:37:
users:x:100:
nogroup:x:65534:
"""
# Applets Debian's busybox leaves out that critest's specs run in its default image
# (``pgrep sleep``, ``ipcs -m``), as small scripts over /proc.
BUSYBOX_EXTRAS = {
    "pgrep": ("#!/bin/sh\n# pgrep NAME: the pids whose command name is NAME (exit 1 if none).\n"
              "found=1\nfor d in /proc/[0-9]*; do\n  read -r comm 2>/dev/null < \"$d/comm\" || continue\n"
              "  [ \"$comm\" = \"$1\" ] && { echo \"${d#/proc/}\"; found=0; }\ndone\nexit $found\n"),
    "ipcs": ("#!/bin/sh\n# ipcs -m: the System V shared memory segments of this IPC namespace.\n"
             "echo '------ Shared Memory Segments --------'\ncat /proc/sysvipc/shm\n"),
}
# Debian's `busybox` (dynamic), not busybox-static: the static build's shell runs its applets
# without a PATH lookup (FEATURE_SH_STANDALONE), so a masked /bin/ls would never be opened and
# critest's MaskedPaths spec could not see "/bin/sh: ls: Permission denied". Applets are hard
# links, as in the busybox image: a path masked with /dev/null then hides that name only (a
# symlink would carry the mask to /bin/busybox and every applet).
BUSYBOX_PACKAGE = "busybox"


def _shared_libraries(binary: Path) -> list[Path]:
    """The shared objects ``binary`` loads (its ELF interpreter included), from ``ldd``."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        words = line.split()
        path = words[2] if "=>" in words and len(words) > 2 else words[0] if words and words[0].startswith("/") else ""
        if path.startswith("/"):
            found.append(Path(path))
    return found


def _busybox_files() -> tuple[list[oci.FileEntry], str]:
    root, version = debs.unpacked(BUSYBOX_PACKAGE)
    busybox = root / "bin" / "busybox"
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    files = [oci.FileEntry("bin/busybox", busybox.read_bytes())]
    files += [oci.FileEntry(f"bin/{a}", hardlink="bin/busybox") for a in sorted(set(applets)) if a != "busybox"]
    files += [oci.FileEntry(f"bin/{name}", text.encode()) for name, text in BUSYBOX_EXTRAS.items() if name not in applets]
    # Each shared object where the loader looks for it (the host's own, under the path ldd names).
    files += [oci.FileEntry(str(library).lstrip("/"), library.resolve().read_bytes()) for library in _shared_libraries(busybox)]
    files += [oci.FileEntry("etc/passwd", BUSYBOX_PASSWD.encode(), mode=0o644),
              oci.FileEntry("etc/group", BUSYBOX_GROUP.encode(), mode=0o644),
              oci.FileEntry("tmp/", mode=0o1777)]
    libc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True, text=True).stdout.strip()
    recipe = hashlib.sha256(json.dumps([BUSYBOX_PASSWD, BUSYBOX_GROUP, BUSYBOX_EXTRAS], sort_keys=True).encode()).hexdigest()[:12]
    return files, f"busybox {version}, libc6 {libc or 'unknown'}, files {recipe}"


def _compile_static(source: Path, out: Path) -> str:
    """Compile one C file of src/ static into ``out``; return its version (source hash and gcc)."""
    subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(out), str(source)], check=True)
    gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    return f"{hashlib.sha256(source.read_bytes()).hexdigest()[:12]}-gcc{gcc}"


def _pause_files(workdir: Path) -> tuple[list[oci.FileEntry], str]:
    out = workdir / "pause"
    version = _compile_static(SRC / "pause.c", out)
    return [oci.FileEntry("pause", out.read_bytes())], version


def _binary_files(image: catalog.OciImage, manifest: dict) -> tuple[list[oci.FileEntry], str]:
    """The one binary of a ``source="binary"`` image, taken from its artifact in the cache."""
    artifact, member, path = image.binary
    entry = manifest["artifacts"].get(artifact)
    if entry is None:
        raise RuntimeError(f"image {image.reference} needs the artifact {artifact}: build it first (tools.artifacts build --cluster)")
    release = mirror_root() / entry["path"]
    if member:
        with tarfile.open(release) as tar:
            data = tar.extractfile(member).read()
    else:
        data = release.read_bytes()
    return [oci.FileEntry(path, data)], f"{artifact} {entry['version']} {entry['sha256']}"


def image_files(image: catalog.OciImage, workdir: Path, manifest: dict | None = None) -> tuple[tuple[oci.FileEntry, ...], str]:
    """Return the files of ``image`` (its source's, then its own ``files`` and ``compiled``
    programs, a later path replacing an earlier one) and the version string of their sources
    (``manifest``: the cache's, where a ``binary`` image takes its binary from)."""
    if image.source == "binary":
        files, version = _binary_files(image, manifest or load_manifest())
    else:
        files, version = _busybox_files() if image.source == "busybox" else _pause_files(workdir)
    by_path = {f.path: f for f in files}
    for path, text, mode in image.files:
        by_path[path] = oci.FileEntry(path, text.encode(), mode=mode)
    for source, path, mode in image.compiled:
        out = workdir / Path(path).name
        version += f"+{source}:{_compile_static(SRC / source, out)}"
        by_path[path] = oci.FileEntry(path, out.read_bytes(), mode=mode)
    return tuple(by_path.values()), version


def _checksum_fields(checksum: catalog.ChecksumFile) -> dict:
    return {"checksum_path": checksum.path, "checksum_format": checksum.style}


def checksum_files(manifest: dict) -> dict[str, str]:
    """Return mirror path -> content of every checksum file the manifest's entries name (pure).

    Entries sharing one checksum file (runc's ``runc.sha256sum``) are listed in it together.

    Raises:
        RuntimeError: entries name one checksum file with two formats.
    """
    groups: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for entry in manifest["artifacts"].values():
        path = entry.get("checksum_path")
        if not path:
            continue
        style, files = groups.setdefault(path, (entry["checksum_format"], []))
        if style != entry["checksum_format"]:
            raise RuntimeError(f"{path} is named with two formats ({style}, {entry['checksum_format']})")
        files.append((entry["path"].rsplit("/", 1)[-1], entry["sha256"]))
    return {path: catalog.checksum_text(style, files) for path, (style, files) in sorted(groups.items())}


def write_checksum_files(manifest: dict, root: Path | None = None) -> list[str]:
    """Write each checksum file of ``manifest`` under ``root`` (default: the mirror) unless it
    already holds that content; return the paths written."""
    root = root or mirror_root()
    written = []
    for rel_path, text in checksum_files(manifest).items():
        target = root / rel_path
        try:
            if target.read_text() == text:
                continue
        except OSError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(target)
        written.append(rel_path)
    return written


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


def _record_checksum_files(manifest: dict, items) -> None:
    """Give each manifest entry built from one of ``items`` (same path) its checksum file fields."""
    for item in items:
        entry = manifest["artifacts"].get(item.name)
        if entry and entry["path"] == item.mirror_path:
            entry.update(_checksum_fields(item.checksum))


def _save(manifest: dict, log) -> None:
    _write_manifest(manifest)
    for rel_path in write_checksum_files(manifest):
        log(f"artifacts: wrote checksum file {rel_path}")


def build_all(only: set[str] | None = None, log=print, *, cluster: bool = False) -> dict:
    """Build what is missing or stale and return the manifest. Serialised by a file lock.

    ``cluster``: also what only a kubeadm cluster needs (``catalog.cluster_builds`` and
    ``catalog.CLUSTER_IMAGES``). Versions are the roles' defaults (``catalog.versions``); a
    default that is not a plain version raises ``RuntimeError`` before anything is built.
    """
    go_builds = catalog.go_builds() + (catalog.cluster_builds() if cluster else ())
    images = catalog.IMAGES + (catalog.cluster_images() if cluster else ())
    paths.artifacts_dir().mkdir(parents=True, exist_ok=True)
    with open(paths.artifacts_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = load_manifest()
        gov = go_version()
        with tempfile.TemporaryDirectory(prefix="kubenode-artifacts-") as tmp:
            workdir = Path(tmp)
            for build in go_builds:
                if only and build.name not in only:
                    continue
                inputs = build.inputs(gov)
                if _fresh(manifest, build.name, inputs):
                    continue
                log(f"artifacts: building {build.name} v{build.version} from {build.module} with {gov}")
                started = time.monotonic()
                members = _build_go(build, workdir)
                data = release_tarball(members) if build.archive else next(iter(members.values()))
                _publish(build.name, build.version, build.mirror_path, data, inputs, manifest,
                         {"build_seconds": round(time.monotonic() - started, 1), "files": sorted(members),
                          **_checksum_fields(build.checksum)})
                _save(manifest, log)
            for image in images:
                if only and image.name not in only:
                    continue
                files, source_version = image_files(image, workdir, manifest)
                inputs = image.inputs(source_version)
                if _fresh(manifest, image.name, inputs):
                    continue
                log(f"artifacts: building image {image.reference}")
                spec = oci.ImageSpec(reference=image.reference, files=files, entrypoint=image.entrypoint, cmd=image.cmd, user=image.user)
                data = oci.image_archive(spec)
                _publish(image.name, image.version, image.mirror_path, data, inputs, manifest,
                         {"reference": image.reference, "manifest_digest": oci.manifest_digest(data),
                          **_checksum_fields(image.checksum)})
                _save(manifest, log)
        # Artifacts built before checksum files existed (or skipped by ``only``) get theirs too.
        if cluster:
            check_kubeadm_images(manifest, images)
        _record_checksum_files(manifest, (*go_builds, *images))
        _save(manifest, log)
        return manifest


def kubeadm_image_mismatch(listed: list[str], served: list[str]) -> list[str]:
    """Of the images kubeadm lists (``kubeadm config images list``), those the test bed does
    not build or serve (``served``), leaving out the skipped addons (kube-proxy, CoreDNS).

    >>> kubeadm_image_mismatch(["registry.k8s.io/etcd:3.6.8-0", "registry.k8s.io/coredns/coredns:v1.14.2"],
    ...                        ["registry.k8s.io/etcd:3.6.8-0"])
    []
    """
    skipped = ("registry.k8s.io/kube-proxy:", "registry.k8s.io/coredns/")
    return [name for name in listed if name not in served and not name.startswith(skipped)]


def check_kubeadm_images(manifest: dict, images) -> None:
    """Ask the built kubeadm which images ``kubeadm init`` pulls; raise RuntimeError naming
    any the test bed would not serve (catalog.KUBEADM_ETCD or registry.py out of date)."""
    from tools.testbed import registry  # noqa: PLC0415 - registry imports this package

    entry = manifest["artifacts"]["kubeadm"]
    kubeadm = mirror_root() / entry["path"]
    kubeadm.chmod(0o755)
    out = subprocess.run([str(kubeadm), "config", "images", "list", "--kubernetes-version", f"v{entry['version']}"],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"kubeadm config images list failed: {out.stderr.strip()}")
    served = [image.reference for image in images] + [f"registry.k8s.io/pause:{registry.PAUSE_TAG}"]
    missing = kubeadm_image_mismatch(out.stdout.split(), served)
    if missing:
        raise RuntimeError(f"kubeadm {entry['version']} pulls {', '.join(missing)}, which the test bed does not build: "
                           "update KUBEADM_ETCD / cluster_images in tools/artifacts/catalog.py")


def verify_cache() -> list[str]:
    """Return problems: manifest entries whose file is missing or whose sha256 differs, and
    checksum files that are missing or do not say what the manifest says."""
    problems = []
    manifest = load_manifest()
    for name, entry in manifest["artifacts"].items():
        target = mirror_root() / entry["path"]
        if not target.is_file():
            problems.append(f"{name}: {target} is missing")
        elif sha256_file(target) != entry["sha256"]:
            problems.append(f"{name}: {target} does not match sha256 {entry['sha256']}")
        if not entry.get("checksum_path"):
            problems.append(f"{name}: no checksum file recorded (run `make artifacts`)")
    for rel_path, text in checksum_files(manifest).items():
        target = mirror_root() / rel_path
        try:
            if target.read_text() != text:
                problems.append(f"{target} does not list the manifest's sha256")
        except OSError:
            problems.append(f"{target} is missing")
    return problems


def clean() -> None:
    shutil.rmtree(paths.artifacts_dir(), ignore_errors=True)
