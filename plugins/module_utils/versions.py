# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Pure version parsing for the runtime chain's binaries (no I/O here)."""

from __future__ import annotations

import re

_SEMVER = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_semver(text: str) -> tuple[int, int, int] | None:
    """Return ``(major, minor, patch)`` of the first ``X.Y[.Z]`` in ``text`` (a leading ``v``
    and Debian suffixes such as ``~ds1`` are ignored), or ``None``.

    >>> parse_semver("1.7.24~ds1")
    (1, 7, 24)
    """
    match = _SEMVER.search(text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def parse_containerd_version(text: str) -> dict:
    """Parse ``containerd --version``.

    Formats: ``containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+deb13u1``
    (Debian: the last field is the package version) and
    ``containerd github.com/containerd/containerd/v2 v2.3.4 <commit>`` (upstream).

    Returns ``{version, major, minor, patch, revision}``.

    Raises:
        ValueError: the text is not containerd's version line.
    """
    fields = (text or "").strip().split()
    if len(fields) < 3 or fields[0] != "containerd":
        raise ValueError(f"not a `containerd --version` line: {text!r}")
    version = fields[2].lstrip("v")
    parsed = parse_semver(version)
    if parsed is None:
        raise ValueError(f"no version number in {text!r}")
    return {
        "version": version,
        "major": parsed[0],
        "minor": parsed[1],
        "patch": parsed[2],
        "revision": fields[3] if len(fields) > 3 else "",
    }


def containerd_config_version(version: str) -> int:
    """Return the config.toml schema containerd ``version`` reads natively.

    containerd 1.x reads ``version = 2`` (plugin ``io.containerd.grpc.v1.cri``); 2.0-2.2 read
    ``version = 3`` (plugins ``io.containerd.cri.v1.runtime`` / ``.images``); 2.3+ read
    ``version = 4`` (the same CRI tables; the top-level ``[grpc]`` became the plugin
    ``io.containerd.server.v1.grpc``). Older versions are migrated in memory, with a warning.

    Raises:
        ValueError: unparsable, or a containerd older than 1.6 (no CRI v1; unsupported).
    """
    parsed = parse_semver(str(version))
    if parsed is None:
        raise ValueError(f"cannot read a containerd version from {version!r}")
    if parsed[0] == 1 and parsed[1] < 6 or parsed[0] < 1:
        raise ValueError(f"containerd {version} is older than 1.6 and does not serve CRI v1")
    if parsed[0] == 1:
        return 2
    return 3 if parsed[:2] < (2, 3) else 4


def parse_oci_runtime_version(text: str) -> dict:
    """Parse ``runc --version`` or ``crun --version``.

    Returns ``{name, version, commit, spec, features}`` where ``features`` are crun's ``+TAG``
    words (empty for runc).

    Raises:
        ValueError: the first line is not ``runc version X`` / ``crun version X``.
    """
    lines = (text or "").strip().splitlines()
    match = re.match(r"(runc|crun) version (\S+)", lines[0] if lines else "")
    if not match:
        raise ValueError(f"not a runc/crun version output: {text!r}")
    result = {"name": match.group(1), "version": match.group(2), "commit": "", "spec": "", "features": []}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("commit", "spec"):
            result[key.strip()] = value.strip()
        elif line.startswith("+") or line.startswith("-"):
            result["features"] = line.split()
    return result


_PRE_RELEASE = re.compile(r"v?\d+\.\d+(?:\.\d+)?[-~.]?(?:rc|alpha|beta)\.?(\d+)")


def release_key(text: str) -> tuple | None:
    """An ordering key for ``X.Y.Z`` versions where a pre-release (``-rc.3``, ``-rc7``,
    ``~rc6``, as runc and Debian spell them) sorts before its release; None without X.Y.

    >>> release_key("1.0.0-rc6") < release_key("1.0.0-rc7") < release_key("1.0.0")
    True
    """
    version = parse_semver(text)
    if version is None:
        return None
    pre = _PRE_RELEASE.match((text or "").strip())
    return (*version, 0, int(pre.group(1))) if pre else (*version, 1, 0)


def semver_lt(version: str, floor: str) -> bool:
    """True when ``version`` (any text with X.Y.Z) is older than ``floor``; pre-releases count
    as older than their release (``1.4.0-rc.3`` < ``1.4.0``, ``1.0.0-rc6`` < ``1.0.0-rc7``)."""
    a, b = release_key(version), release_key(floor)
    if a is None or b is None:
        return False
    return a < b
