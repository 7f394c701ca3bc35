"""Build and cache the base VM image: a bootable Debian root filesystem made from packages.

The image is a raw ext4 file made by ``debvm-create`` (a thin wrapper around mmdebstrap):
no partition table, no boot loader; VMs boot it with QEMU's direct kernel boot, using the
kernel and initrd extracted from the image with ``debugfs`` (no loop device, no mount).

Contents: systemd, openssh-server, python3 and python3-apt (what Ansible needs), a cloud
kernel, networkd DHCP. Nothing of the container runtime chain is preinstalled. No SSH key
is baked in (each VM gets its own key through an SMBIOS systemd credential), the root
password is locked and there is no /etc/hostname (each VM gets its name the same way).

Images are cached under ``images/<key>/`` where ``key`` hashes every input (recipe,
suite, package list, archive URL, builder versions), so a machine builds each image once.
A file lock serialises concurrent builders.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .mirror import GUEST_GATEWAY, DebianMirror, host_debian_mirror

# Bump when the recipe below changes in a way that alters the image.
RECIPE_VERSION = 5
# The test bed's CPU weight for kubelet (see debvm_argv).
KUBELET_CPU_DROPIN = Path("/etc/systemd/system.control/kubelet.service.d/50-testbed-cpu-weight.conf")
DEFAULT_SUITE = "trixie"
# Debian suites the test bed builds and boots: 13 (trixie) and 12 (bookworm).
SUITES = ("trixie", "bookworm")
PACKAGES = ("openssh-server", "python3", "python3-apt", "systemd-sysv", "dbus", "kmod", "ca-certificates")
IMAGE_SIZE = "12G"  # sparse: costs only what is written


@dataclass(frozen=True)
class BaseImage:
    """A built base image: the ext4 root filesystem and the boot files taken from it."""

    directory: Path

    @property
    def rootfs(self) -> Path:
        return self.directory / "rootfs.ext4"

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def key(self) -> str:
        return self.directory.name

    def exists(self) -> bool:
        return all(p.is_file() for p in (self.rootfs, self.kernel, self.initrd, self.directory / "inputs.json"))


def _tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "unknown"


def _dpkg_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "missing"


def image_inputs(suite: str, mirror: DebianMirror) -> dict:
    """Everything that determines the image's content; its hash is the cache key."""
    return {
        "recipe": RECIPE_VERSION,
        "suite": suite,
        "packages": sorted(PACKAGES),
        "size": IMAGE_SIZE,
        "archive": mirror.url,
        "security": mirror.security_url,
        "guest_gateway": GUEST_GATEWAY,
        "debvm": _dpkg_version("debvm"),
        "mmdebstrap": _dpkg_version("mmdebstrap"),
    }


def image_key(inputs: dict) -> str:
    """Return a short stable hash of ``inputs`` (sorted JSON)."""
    blob = json.dumps(inputs, sort_keys=True).encode()
    return f"{inputs['suite']}-{hashlib.sha256(blob).hexdigest()[:16]}"


def debvm_argv(output: Path, suite: str, mirror: DebianMirror, manifest: Path) -> list[str]:
    """Return the ``debvm-create`` command line that builds the image (pure)."""
    hooks = [
        # Per-VM identity comes from SMBIOS credentials, not from the image.
        'rm -f "$1/etc/hostname"',
        'passwd --root "$1" --lock root',
        # The archive host resolves to the guestfwd address inside every guest.
        f'echo "{GUEST_GATEWAY} {mirror.host}" >> "$1/etc/hosts"',
        # Only the suites the guest can reach.
        f"printf '%s' '{mirror.guest_sources(suite)}' > \"$1/etc/apt/sources.list\"",
        'rm -f "$1/etc/apt/sources.list.d/"*',
        # Faster apt in slow guests; no translations.
        "echo 'Acquire::Languages \"none\";' > \"$1/etc/apt/apt.conf.d/99kubenode-testbed\"",
        # Don't wait for a network that is configured by DHCP anyway.
        'systemctl --root="$1" mask systemd-networkd-wait-online.service',
        # kubelet's pod housekeeping (every 2 s, not configurable) takes 1-2 s of an emulated
        # guest's CPU each time: a low CPU weight leaves the CPU to the tasks under test when
        # both want it (10 Python start-ups: 95-99 s -> 60-70 s on a guest mid-switch), and
        # all of it to kubelet otherwise. The drop-in sits where `systemctl set-property` puts
        # its own, outside the files the roles and the switch manage.
        f"mkdir -p \"$1{KUBELET_CPU_DROPIN.parent}\" && printf '[Service]\\nCPUWeight=10\\n' > \"$1{KUBELET_CPU_DROPIN}\"",
        f"chroot \"$1\" dpkg-query -W -f='${{Package}} ${{Version}}\\n' > {shlex.quote(str(manifest))}",
    ]
    argv = [
        "debvm-create",
        "-r", suite,
        "-z", IMAGE_SIZE,
        "-o", str(output),
        "-s", "autologin",
        "--",
        "--include=" + ",".join(PACKAGES),
    ]
    argv += [f"--customize-hook={hook}" for hook in hooks]
    argv += [mirror.url, f"deb {mirror.url} {suite}-updates main"]
    return argv


def _add_filetype_feature(rootfs: Path) -> None:
    """Give the filesystem directory-entry file types (d_type).

    debvm 0.2 makes the image with genext2fs and upgrades it to ext4 without ``filetype``;
    overlayfs then refuses it as an upper dir, and containerd's overlayfs snapshotter (so its
    CRI plugin) fails to load. e2fsck fills in the types after tune2fs sets the feature.
    """
    subprocess.run(["tune2fs", "-O", "filetype", str(rootfs)], capture_output=True, check=True)
    result = subprocess.run(["e2fsck", "-fyD", str(rootfs)], capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 1 = errors corrected
        raise RuntimeError(f"e2fsck failed on {rootfs}: {result.stdout[-2000:]}")


def _extract_boot_files(rootfs: Path, directory: Path) -> None:
    listing = subprocess.run(
        ["debugfs", "-R", "ls -p /boot", str(rootfs)], capture_output=True, text=True, check=True
    ).stdout
    names = [field for line in listing.splitlines() for field in line.split("/") if field]
    kernels = sorted(n for n in names if n.startswith("vmlinuz-"))
    initrds = sorted(n for n in names if n.startswith("initrd.img-"))
    if not kernels or not initrds:
        raise RuntimeError(f"no kernel/initrd found in /boot of {rootfs}: {names}")
    for name, target in ((kernels[-1], "vmlinuz"), (initrds[-1], "initrd.img")):
        with open(directory / target, "wb") as out:
            subprocess.run(["debugfs", "-R", f"cat /boot/{name}", str(rootfs)], stdout=out, stderr=subprocess.DEVNULL, check=True)
        if (directory / target).stat().st_size == 0:
            raise RuntimeError(f"could not extract /boot/{name} from {rootfs}")


def ensure_image(suite: str = DEFAULT_SUITE, log=print) -> BaseImage:
    """Return the cached base image for ``suite``, building it first when missing.

    Build time is about 45-80 s on 2 cores. Raises ``RuntimeError`` (with the tail of the
    build log) when debvm-create fails, or when a host tool is missing.
    """
    for tool in ("debvm-create", "mmdebstrap", "debugfs", "tune2fs", "e2fsck", "qemu-img"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed: run `make host-deps` (needs root or sudo)")
    mirror = host_debian_mirror()
    inputs = image_inputs(suite, mirror)
    image = BaseImage(paths.images_dir() / image_key(inputs))
    if image.exists():
        return image
    paths.images_dir().mkdir(parents=True, exist_ok=True)
    with open(paths.images_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image.exists():
            return image
        tmp = image.directory.with_name(image.directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        log(f"testbed: building base image {image.key} from {mirror.url} (about a minute)")
        started = time.monotonic()
        argv = debvm_argv(tmp / "rootfs.ext4", suite, mirror, tmp / "packages.txt")
        with open(tmp / "build.log", "w") as build_log:
            result = subprocess.run(argv, stdout=build_log, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            tail = (tmp / "build.log").read_text(errors="replace").splitlines()[-25:]
            raise RuntimeError("debvm-create failed:\n" + "\n".join(tail))
        _add_filetype_feature(tmp / "rootfs.ext4")
        _extract_boot_files(tmp / "rootfs.ext4", tmp)
        seconds = round(time.monotonic() - started, 1)
        (tmp / "inputs.json").write_text(json.dumps({**inputs, "build_seconds": seconds}, indent=2) + "\n")
        for name in ("rootfs.ext4", "vmlinuz", "initrd.img"):
            os.chmod(tmp / name, 0o444)
        tmp.rename(image.directory)
        log(f"testbed: base image ready in {seconds}s: {image.directory}")
    return image


def build_seconds(image: BaseImage) -> float | None:
    """Return how long the cached image took to build (from its inputs.json)."""
    try:
        return json.loads((image.directory / "inputs.json").read_text()).get("build_seconds")
    except (OSError, ValueError):
        return None
