"""Choose QEMU's accelerator: KVM where a normal KVM works, TCG otherwise.

``/dev/kvm`` existing is not enough: some hosts expose a nested hypervisor (for example
PVM) on which stock kernels crash or hang. So the choice is made by trying: a throw-away
overlay of the base image is booted with KVM, and KVM wins only if systemd's banner
reaches the serial console within the probe time. The verdict is cached in
``accel.json`` per (host kernel, QEMU version); ``$KUBENODE_ACCEL=kvm|tcg`` overrides it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from . import paths
from .image import BaseImage

PROBE_SECONDS = 30
BOOT_MARKERS = ("Welcome to ", "Reached target")
KVM_FAILURE_MARKERS = ("KVM internal error", "failed to set MSR", "emulation failure", "Could not access KVM")

# Under TCG the plain qemu64 model: the guest's Python start-ups took 7.6-8.2 s for ten with
# it, 8.6-12.4 s with `max` (which adds AVX2 and 5-level paging); results/ci-times.md.
ACCEL_ARGS = {
    "kvm": ["-accel", "kvm", "-cpu", "host"],
    "tcg": ["-accel", "tcg,thread=multi,tb-size=512", "-cpu", "qemu64"],
}


def classify_probe(serial: str, stderr: str, exited: bool) -> str | None:
    """Decide a KVM probe from what it printed so far (pure).

    Returns ``"kvm"`` when the guest reached userspace, ``"tcg"`` when KVM visibly
    failed (QEMU exited, or printed a KVM error), and ``None`` while undecided.
    """
    if any(marker in serial for marker in BOOT_MARKERS):
        return "kvm"
    if exited or any(marker in stderr for marker in KVM_FAILURE_MARKERS):
        return "tcg"
    return None


def _qemu_version() -> str:
    out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else "unknown"


def _probe_kvm(image: BaseImage) -> tuple[str, str]:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "/dev/kvm is missing or not read-write"
    with tempfile.TemporaryDirectory(prefix="kubenode-kvm-probe-") as tmp:
        overlay = Path(tmp) / "probe.qcow2"
        serial = Path(tmp) / "serial.log"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image.rootfs), str(overlay)],
            check=True,
        )
        argv = [
            "qemu-system-x86_64", *ACCEL_ARGS["kvm"], "-smp", "1", "-m", "512",
            "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
            "-kernel", str(image.kernel), "-initrd", str(image.initrd),
            "-append", "root=/dev/vda rw console=ttyS0",
            "-drive", f"file={overlay},if=virtio,format=qcow2,snapshot=on",
            "-serial", f"file:{serial}",
        ]
        errlog = Path(tmp) / "stderr.log"
        with open(errlog, "w") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        stderr = ""
        verdict = None
        deadline = time.monotonic() + PROBE_SECONDS
        try:
            while verdict is None and time.monotonic() < deadline:
                time.sleep(0.5)
                stderr = errlog.read_text(errors="replace")
                text = serial.read_text(errors="replace") if serial.exists() else ""
                verdict = classify_probe(text, stderr, proc.poll() is not None)
        finally:
            proc.kill()
            proc.wait()
        if verdict == "kvm":
            return "kvm", "guest reached userspace under KVM"
        reason = stderr.strip().splitlines()[0] if stderr.strip() else f"no boot within {PROBE_SECONDS}s"
        return "tcg", f"KVM probe failed: {reason}"


def choose_accel(image: BaseImage, log=print) -> str:
    """Return ``"kvm"`` or ``"tcg"`` for this machine (cached; see module docstring)."""
    forced = os.environ.get("KUBENODE_ACCEL")
    if forced:
        if forced not in ACCEL_ARGS:
            raise RuntimeError(f"KUBENODE_ACCEL={forced!r}: use one of {sorted(ACCEL_ARGS)}")
        return forced
    cache_file = paths.cache_dir() / "accel.json"
    key = {"kernel": platform.release(), "qemu": _qemu_version()}
    try:
        cached = json.loads(cache_file.read_text())
        if cached.get("key") == key:
            return cached["accel"]
    except (OSError, ValueError, KeyError):
        pass
    log("testbed: probing whether KVM can boot the guest kernel here (once per machine)")
    accel, reason = _probe_kvm(image)
    cache_file.write_text(json.dumps({"key": key, "accel": accel, "reason": reason}, indent=2) + "\n")
    log(f"testbed: accelerator {accel} ({reason})")
    return accel
