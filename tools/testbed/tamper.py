"""Tampered copies of the artifact mirror, for bad-input tests.

A guest started with ``vm.up(..., mirror_root=<copy>)`` downloads from the copy, so a test
can show that a corrupted release file, or a checksum file that does not match it, stops the
play before anything on the host changes. The artifact cache itself is never modified: the
tree is copied, and the tampered file is a new file in the copy.

``entry`` below is an artifact's manifest entry (``python -m tools.artifacts manifest``): its
``path`` and ``checksum_path`` are relative to the mirror root.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

PARTS = ("artifact", "checksum")
_HEX64 = re.compile(r"\b[0-9a-fA-F]{64}\b")


def flip_byte(data: bytes, offset: int | None = None) -> bytes:
    """Return ``data`` with one bit of one byte changed (the middle byte by default)."""
    if not data:
        raise ValueError("cannot tamper with an empty file")
    out = bytearray(data)
    out[len(out) // 2 if offset is None else offset] ^= 0x01
    return bytes(out)


def wrong_checksum(text: str, filename: str) -> str:
    """Return checksum file ``text`` with the sha256 of ``filename`` changed by one hex digit.

    Works for a bare hash (dl.k8s.io) and for ``sha256sum`` lines (the line naming
    ``filename``); the result is still a well-formed checksum file, only wrong.

    Raises:
        ValueError: no hash for ``filename`` in ``text``.
    """
    lines = text.splitlines(keepends=True)
    bare = [i for i, line in enumerate(lines) if _HEX64.fullmatch(line.strip())]
    named = [i for i, line in enumerate(lines)
             if len(line.split()) == 2 and line.split()[1].lstrip("*").rsplit("/", 1)[-1] == filename
             and _HEX64.fullmatch(line.split()[0])]
    index = named[0] if named else (bare[0] if len(bare) == 1 and len(lines) == 1 else None)
    if index is None:
        raise ValueError(f"no sha256 for {filename} in the checksum file")
    line = lines[index]
    first = _HEX64.search(line).start()
    digit = "0" if line[first].lower() != "0" else "1"
    lines[index] = line[:first] + digit + line[first + 1:]
    return "".join(lines)


def tampered_mirror(source: Path, dest: Path, entry: dict, part: str = "artifact") -> Path:
    """Copy the mirror tree ``source`` to ``dest`` and tamper with one artifact in the copy.

    ``part="artifact"`` changes one byte of the release file (its checksum file still holds
    the true sha256); ``part="checksum"`` leaves the release file intact and changes its hash
    in the checksum file. Returns ``dest``.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    if dest.exists():
        raise ValueError(f"{dest} exists already")
    shutil.copytree(source, dest)
    if part == "artifact":
        target = dest / entry["path"]
        target.write_bytes(flip_byte(target.read_bytes()))
    else:
        if not entry.get("checksum_path"):
            raise ValueError(f"{entry.get('name', entry['path'])} has no checksum file in the manifest (run `make artifacts`)")
        target = dest / entry["checksum_path"]
        target.write_text(wrong_checksum(target.read_text(), entry["path"].rsplit("/", 1)[-1]))
    return dest
