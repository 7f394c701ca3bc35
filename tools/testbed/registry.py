"""The test bed's OCI registries: Debian's docker-registry on 127.0.0.1, TLS, one behind basic auth.

Guests pull images under their upstream names (``registry.k8s.io/pause:3.10.1``); the roles'
registry mirror configuration (``kubenode_registries``) sends those pulls to two registries
that run on this machine and are forwarded into each guest by explicit QEMU rules:

* ``https://10.0.2.100:5000`` -> the *public* registry (no auth): the mirror of every
  upstream registry the test bed serves (``MIRRORED``);
* ``https://10.0.2.100:5001`` -> the *private* registry, behind basic auth (htpasswd): the
  mirror of ``PRIVATE_REGISTRY``, a registry that exists only here (``.test`` is reserved).

Both serve TLS with a server certificate for 10.0.2.100 and 127.0.0.1 signed by a CA made here
(the roles' ``ca`` option is exercised). Nothing listens beyond 127.0.0.1.

Layout under ``<cache>/registry/`` (see paths.py)::

    (the binary: Debian's docker-registry package, unpacked under <cache>/debs/ by debs.py,
    never installed: the package's service would listen on every address)
    pki/ca.crt, ca.key, server.crt, server.key  made once with ``openssl`` (trust/ca.crt: the CA alone)
    auth/htpasswd, auth/testbed.json (0600)     the private registry's one user (``htpasswd -B``)
    store/<key>/{public,private}/               registry storage, pushed once with ``skopeo``
    testbed.json                                what the inventory reads: CA path, credentials file

Each VM gets its own pair of registry processes serving the store read-only on free loopback
ports (``start``); ``vm.down`` stops them with the VM. The store is rebuilt when an image, a
name or the registry version changes (the key hashes them); a file lock serialises builders.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import debs, paths
from .mirror import GUEST_GATEWAY

PUBLIC_PORT_IN_GUEST = 5000
PRIVATE_PORT_IN_GUEST = 5001
REGISTRY_PACKAGE = "docker-registry"
# Bump when the store layout or the served names change in a way the key does not see.
STORE_RECIPE = 2
# A registry store of other images (another revision's) is removed once unused for this long.
STORE_KEEP_SECONDS = 24 * 3600
# The process tag reap() looks for in every test-bed process's command line.
PROCESS_TAG = "kubenode-testbed"



def _kubeadm_pause_tag() -> str:
    """kubeadm's pause version for the Kubernetes release the roles install (kubelet_version):
    the verifier's table (plugins/module_utils/chain.py KUBEADM_PAUSE, from kubeadm's
    constants.PauseVersion), so the test bed serves what the verifier expects."""
    from plugins.module_utils.chain import KUBEADM_PAUSE, kubernetes_minor  # noqa: PLC0415 - stdlib only
    from tools.artifacts.catalog import versions  # noqa: PLC0415

    kubelet = versions()["kubelet"]
    tag = KUBEADM_PAUSE.get(kubernetes_minor(kubelet))
    if tag is None:
        raise RuntimeError(f"no kubeadm pause version is known for Kubernetes {kubelet}: add it to KUBEADM_PAUSE in "
                           "plugins/module_utils/chain.py (kubeadm's constants.PauseVersion)")
    return tag


PAUSE_TAG = _kubeadm_pause_tag()
# Upstream registries the public registry mirrors, each under the same repository paths
# (k8s.gcr.io is registry.k8s.io's old name, critest pulls the pause image under both; gcr.io
# holds critest's own test images).
MIRRORED = ("registry.k8s.io", "k8s.gcr.io", "gcr.io")
PRIVATE_REGISTRY = "private.kubenode.test"
PRIVATE_USER = "kubenode"


@dataclass(frozen=True)
class Served:
    """One image under one repository:tag: an archive of the artifact cache (by manifest
    name), or with ``artifact`` empty the small marker image made here (``marker_archive``)."""

    artifact: str
    name: str
    private: bool = False


# The private registry's own image: distinct from every public one (a test removes and pulls
# it while the node's pods keep using theirs), never run.
MARKER_FILE = "etc/kubenode-private-image"


# What the registries serve. Names are repository paths; the upstream registry is the one
# the mirror stands for (MIRRORED for public names, PRIVATE_REGISTRY for private ones).
def _critest_served() -> tuple[Served, ...]:
    """critest's images (tools/artifacts/catalog.py CRITEST_IMAGES) under their upstream
    repository paths (the public registry serves each under every MIRRORED registry: critest
    pulls pause:3.9 from registry.k8s.io and k8s.gcr.io and wants one image); one image is
    served under three tags."""
    from tools.artifacts import catalog  # noqa: PLC0415 - stdlib only

    served = [Served(image.name, image.reference.split("/", 1)[1]) for image in catalog.CRITEST_IMAGES]
    tags = next(s for s in served if s.artifact == "critest-test-image-tags")
    served += [Served(tags.artifact, tags.name.replace(":1", f":{n}")) for n in ("2", "3")]
    return tuple(served)


SERVED: tuple[Served, ...] = (
    Served("pause-image", f"pause:{PAUSE_TAG}"),
    Served("test-image", "e2e-test-images/busybox:1.29-2"),
    *_critest_served(),
    Served("", "kubenode/private:1", private=True),
)


def served(cluster: bool = False) -> tuple[Served, ...]:
    """What a VM's registries serve: ``SERVED``, and for a kubeadm cluster's VMs also the
    control-plane images kubeadm pulls (catalog.cluster_images, built by
    ``tools.artifacts build --cluster``)."""
    if not cluster:
        return SERVED
    from tools.artifacts import catalog  # noqa: PLC0415 - stdlib only

    return SERVED + tuple(Served(image.name, image.reference.split("/", 1)[1]) for image in catalog.cluster_images())


def marker_archive(directory: Path) -> Path:
    """Write the private registry's marker image (an OCI archive, deterministic) into ``directory``."""
    from tools.artifacts import oci  # noqa: PLC0415 - stdlib only

    spec = oci.ImageSpec(reference=f"{PRIVATE_REGISTRY}/kubenode/private:1",
                         files=(oci.FileEntry(MARKER_FILE, b"only the test bed's private registry has this image\n", 0o644),))
    path = directory / "kubenode-private-1.oci.tar"
    path.write_bytes(oci.image_archive(spec))
    return path


def registry_dir() -> Path:
    root = paths.cache_dir() / "registry"
    root.mkdir(exist_ok=True)
    return root


def _run(argv: list[str], *, input_text: str | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(argv, input=input_text, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv[:3])} ...` failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


def _need(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        raise RuntimeError(f"{tool} is missing: install the Debian package {package} (`make host-deps` does)")


# ------------------------------------------------------------------ the registry binary
def ensure_binary(log=print) -> Path:
    """Return the docker-registry binary of the host's Debian archive (fetched once, unpacked,
    never installed: the package's service would listen on every address; see debs.py).

    Raises:
        RuntimeError: apt cannot download the package (the message has apt's error).
    """
    root, _version = debs.unpacked(REGISTRY_PACKAGE, log=log)
    return root / "usr" / "bin" / "docker-registry"


# ------------------------------------------------------------------ PKI and credentials
def ensure_pki(gateway: str) -> Path:
    """Make (once) a CA and a server certificate for ``gateway`` and 127.0.0.1; return the pki dir."""
    pki = registry_dir() / "pki"
    if (pki / "server.crt").is_file():
        return pki
    _need("openssl", "openssl")
    tmp = registry_dir() / "pki.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
          "-subj", "/CN=kubenode test-bed registry CA", "-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.crt"),
          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-subj", "/CN=kubenode test-bed registry", "-keyout", str(tmp / "server.key"), "-out", str(tmp / "server.csr")])
    ext = tmp / "server.ext"
    ext.write_text(f"subjectAltName=IP:{gateway},IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    _run(["openssl", "x509", "-req", "-in", str(tmp / "server.csr"), "-CA", str(tmp / "ca.crt"), "-CAkey", str(tmp / "ca.key"),
          "-CAcreateserial", "-days", "3650", "-extfile", str(ext), "-out", str(tmp / "server.crt")])
    for key in ("ca.key", "server.key"):
        os.chmod(tmp / key, 0o600)
    # A directory with the CA alone, for skopeo's --dest-cert-dir (which takes *.key files there
    # for client keys).
    (tmp / "trust").mkdir()
    shutil.copy(tmp / "ca.crt", tmp / "trust" / "ca.crt")
    tmp.rename(pki)
    return pki


def ensure_credentials() -> dict:
    """Return the private registry's user and password (made once, kept 0600), and its htpasswd file."""
    auth = registry_dir() / "auth"
    record = auth / "testbed.json"
    if record.is_file():
        return json.loads(record.read_text())
    _need("htpasswd", "apache2-utils")
    auth.mkdir(parents=True, exist_ok=True, mode=0o700)
    password = secrets.token_urlsafe(18)
    # -i: the password on stdin, never on a command line.
    line = _run(["htpasswd", "-niB", PRIVATE_USER], input_text=password + "\n").strip()
    htpasswd = auth / "htpasswd"
    htpasswd.write_text(line + "\n")
    os.chmod(htpasswd, 0o600)
    data = {"username": PRIVATE_USER, "password": password, "htpasswd": str(htpasswd)}
    fd = os.open(record.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    record.with_suffix(".tmp").replace(record)
    return data


# ------------------------------------------------------------------ serving
def registry_config(*, root: Path, port: int, pki: Path, htpasswd: Path | None, readonly: bool) -> dict:
    """Return docker-registry's configuration (distribution 2.x config.yml, as JSON, a YAML subset)."""
    config: dict = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root)},
            "maintenance": {"uploadpurging": {"enabled": False}, "readonly": {"enabled": readonly}},
            "delete": {"enabled": False},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            "tls": {"certificate": str(pki / "server.crt"), "key": str(pki / "server.key")},
        },
    }
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "kubenode test bed", "path": str(htpasswd)}}
    return config


def _serve(directory: Path, kind: str, *, binary: Path, root: Path, pki: Path, htpasswd: Path | None, readonly: bool) -> int:
    """Start one registry process for ``directory``; return its loopback port once it accepts connections."""
    from .vm import _free_port  # noqa: PLC0415 - vm imports this module

    # The config file's path names the process for reap() (docker-registry takes no other tag).
    config_path = directory / f"{PROCESS_TAG}-registry-{kind}.json"
    for _attempt in range(5):
        port = _free_port()
        config_path.write_text(json.dumps(registry_config(root=root, port=port, pki=pki, htpasswd=htpasswd, readonly=readonly)))
        log_file = open(directory / f"registry-{kind}.log", "ab")
        proc = subprocess.Popen([str(binary), "serve", str(config_path)], stdin=subprocess.DEVNULL, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log_file.close()
        (directory / f"registry-{kind}.pid").write_text(f"{proc.pid}\n")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return port
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
    raise RuntimeError(f"the {kind} registry did not start: see {directory / f'registry-{kind}.log'}")


def pid_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("registry-*.pid"))


# ------------------------------------------------------------------ the store
def _store_key(manifest: dict, binary: Path, images_served: tuple[Served, ...]) -> str:
    images = {s.artifact: manifest["artifacts"][s.artifact]["sha256"] for s in images_served if s.artifact}
    text = json.dumps({"recipe": STORE_RECIPE, "served": [s.__dict__ for s in images_served], "images": images,
                       "registry": binary.parents[2].name}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_store(binary: Path, pki: Path, log=print, *, cluster: bool = False) -> Path:
    """Return the registry storage directory holding every image of ``served(cluster)``
    (pushed once with ``binary``, TLS from ``pki``: see ensure_binary, ensure_pki).

    Source: the OCI archives of the artifact cache (``tools.artifacts build``), pushed with
    skopeo to a registry started for the purpose.

    Raises:
        RuntimeError: the artifact cache lacks an image (run ``make artifacts``, for a
            cluster ``make cluster-artifacts``), or a tool fails.
    """
    images_served = served(cluster)
    try:
        manifest = json.loads((paths.artifacts_dir() / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {"artifacts": {}}
    missing = sorted({s.artifact for s in images_served if s.artifact} - set(manifest.get("artifacts", {})))
    if missing:
        target = "make cluster-artifacts" if cluster else "make artifacts"
        raise RuntimeError(f"the artifact cache has no {', '.join(missing)}: run `{target}`")
    store_root = registry_dir() / "store"
    store_root.mkdir(parents=True, exist_ok=True)
    key = _store_key(manifest, binary, images_served)
    store = store_root / key
    with open(store_root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if store.is_dir():
            os.utime(store)  # in use: see the clean-up below
            return store
        _need("skopeo", "skopeo")
        log(f"testbed: pushing {len(images_served)} images into the registry store {key}")
        tmp = store_root / f"{key}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for kind in ("public", "private"):
            (tmp / kind).mkdir(parents=True)
            port = _serve(tmp, kind, binary=binary, root=tmp / kind, pki=pki, htpasswd=None, readonly=False)
            try:
                for image in (s for s in images_served if s.private == (kind == "private")):
                    archive = (paths.artifacts_dir() / "mirror" / manifest["artifacts"][image.artifact]["path"]
                               if image.artifact else marker_archive(tmp))
                    _run(["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-cert-dir", str(pki / "trust"),
                          f"oci-archive:{archive}", f"docker://127.0.0.1:{port}/{image.name}"])
            finally:
                stop(tmp)
        for leftover in [*tmp.glob(f"{PROCESS_TAG}-*"), *tmp.glob("registry-*.log"), *tmp.glob("*.oci.tar")]:
            leftover.unlink()
        tmp.rename(store)
        # Other stores may be in use by a checkout of another revision (its registries serve
        # them): only those untouched for a day go.
        for old in store_root.iterdir():
            if old.is_dir() and old.name != key and time.time() - old.stat().st_mtime > STORE_KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        return store


def start(directory: Path, log=print, *, cluster: bool = False) -> dict[str, int]:
    """Start the public and private registries of one VM (read-only on the store; ``cluster``:
    the store with the control-plane images too); return their ports."""
    # VMs start side by side (make -j2): the first one makes the binary, CA and credentials.
    with open(registry_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        binary = ensure_binary(log=log)
        pki = ensure_pki(GUEST_GATEWAY)
        creds = ensure_credentials()
    store = ensure_store(binary, pki, log=log, cluster=cluster)
    ports = {
        "public": _serve(directory, "public", binary=binary, root=store / "public", pki=pki, htpasswd=None, readonly=True),
        "private": _serve(directory, "private", binary=binary, root=store / "private", pki=pki,
                          htpasswd=Path(creds["htpasswd"]), readonly=True),
    }
    write_testbed_record()
    return ports


def stop(directory: Path) -> None:
    """Stop the registry processes started for ``directory`` (idempotent)."""
    from .vm import _kill, _read_pid  # noqa: PLC0415 - vm imports this module

    for pid_file in pid_files(directory):
        _kill(_read_pid(pid_file), str(directory))
        pid_file.unlink(missing_ok=True)


def write_testbed_record() -> Path:
    """Write ``testbed.json``: what the local inventory reads (the CA, the credentials file, the names)."""
    record = registry_dir() / "testbed.json"
    data = {
        "ca": str(registry_dir() / "pki" / "ca.crt"),
        "credentials": str(registry_dir() / "auth" / "testbed.json"),
        "public_mirror": f"https://{GUEST_GATEWAY}:{PUBLIC_PORT_IN_GUEST}",
        "private_mirror": f"https://{GUEST_GATEWAY}:{PRIVATE_PORT_IN_GUEST}",
        "mirrored": list(MIRRORED),
        "private_registry": PRIVATE_REGISTRY,
        "pause_tag": PAUSE_TAG,
    }
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if not record.is_file() or record.read_text() != text:
        tmp = record.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(record)
    return record
