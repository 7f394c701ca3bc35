# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see galaxy.yml)
"""Read the structure of a TOML file without a TOML library (pure).

Nodes may run Python 3.10 (Ubuntu 22.04), which has no ``tomllib``; the verifier only
needs table names, where a key sits, and a few top-level scalars and string lists, so a
line scanner over the (well-formed) files containerd and CRI-O read or print is enough.
Values of the forms ``2``, ``"s"``, ``'s'``, ``true`` and flat string lists are decoded;
anything else is returned as its raw text.
"""

from __future__ import annotations

import re

_TABLE = re.compile(r"^\s*\[([^\[\]]+)\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$""")


def _unquote(part: str) -> str:
    part = part.strip()
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
        return part[1:-1]
    return part


def split_key(name: str) -> tuple[str, ...]:
    """Split a dotted TOML key into parts, honouring quotes.

    >>> split_key('plugins."io.containerd.grpc.v1.cri".containerd')
    ('plugins', 'io.containerd.grpc.v1.cri', 'containerd')
    """
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', name.strip())
    return tuple(_unquote(p) for p in parts)


def decode(raw: str):
    """Decode a simple TOML value (int, bool, string, flat list of strings); else return ``raw``."""
    raw = raw.split(" #", 1)[0].strip() if not raw.startswith(("'", '"')) else raw.strip()
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if raw in ("true", "false"):
        return raw == "true"
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    if raw.startswith("[") and raw.endswith("]"):
        inner = raw[1:-1].strip()
        return [_unquote(p) for p in re.findall(r'"[^"]*"|\'[^\']*\'', inner)] if inner else []
    return raw


def scan(text: str) -> dict:
    """Return ``{"tables": [tuple, ...], "keys": {(table..., key): value}}`` for ``text``.

    Top-level keys have the empty table ``()``. Multi-line values are not followed (their
    first line is returned raw).
    """
    tables: list[tuple[str, ...]] = []
    keys: dict[tuple[str, ...], object] = {}
    current: tuple[str, ...] = ()
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("[["):
            continue
        table = _TABLE.match(line)
        if table:
            current = split_key(table.group(1))
            tables.append(current)
            continue
        key = _KEY.match(line)
        if key:
            keys[current + split_key(key.group(1))] = decode(key.group(2))
    return {"tables": tables, "keys": keys}


def get(scanned: dict, *path: str, default=None):
    """Return the value at ``path`` (table parts then key) from ``scan()`` output."""
    return scanned["keys"].get(tuple(path), default)
