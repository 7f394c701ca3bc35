"""Debian packages the test bed takes files from, unpacked into its cache and never installed.

``unpacked("docker-registry")`` fetches the host archive's candidate version once with
``apt-get download`` (apt checks the file against the signed archive), unpacks it with
``dpkg-deb -x`` into ``<cache>/debs/<package>/<version>/`` (with ``SHA256``: the .deb's
sha256) and returns that directory. Installing would start a package's services and change
the host; unpacking changes nothing outside the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import paths


def _run(argv: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


def candidate(package: str) -> str:
    """The version apt would install of ``package``.

    Raises:
        RuntimeError: apt is missing or knows no such package (run ``apt-get update``: ``make host-deps``).
    """
    policy = _run(["apt-cache", "policy", package]) if shutil.which("apt-cache") else ""
    version = policy.split("Candidate:", 1)[-1].split()[0] if "Candidate:" in policy else ""
    if not version or version == "(none)":
        raise RuntimeError(f"apt knows no {package} package: run `apt-get update` (make host-deps)")
    return version


def unpacked(package: str, log=print) -> tuple[Path, str]:
    """Return (the unpacked root of ``package``'s candidate version, that version), fetched once.

    Raises:
        RuntimeError: apt cannot find or download the package (the message has apt's error).
    """
    version = candidate(package)
    root = paths.cache_dir() / "debs" / package
    target = root / version.replace(":", "_")
    if (target / "SHA256").is_file():
        return target, version
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "SHA256").is_file():
            return target, version
        log(f"testbed: fetching {package} {version} from the Debian archive (unpacked, not installed)")
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            _run(["apt-get", "download", f"{package}={version}"], cwd=Path(tmp))
            deb = next(Path(tmp).glob("*.deb"))
            tree = Path(tmp) / "root"
            _run(["dpkg-deb", "-x", str(deb), str(tree)])
            (tree / "SHA256").write_text(f"{hashlib.sha256(deb.read_bytes()).hexdigest()}  {deb.name}\n")
            shutil.rmtree(target, ignore_errors=True)
            tree.rename(target)
    return target, version
