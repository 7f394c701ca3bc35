# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Artifacts: where verified downloads and installs live, and the sha256 an upstream checksum file gives."""

from __future__ import annotations

import posixpath
import re

from ansible.errors import AnsibleFilterError

_HEX64 = re.compile(r"[0-9a-f]{64}")


def artifact_stage_path(item: dict, stage_dir: str) -> str:
    """Where a verified download of ``item`` lives: ``<stage_dir>/<sha256[:16]>-<file name>``."""
    return posixpath.join(stage_dir, f"{item['sha256'][:16]}-{posixpath.basename(item['url'])}")


def artifact_install_dir(item: dict, install_root: str) -> str:
    """The content-addressed directory ``item`` is unpacked into: ``<root>/<name>-<sha256[:16]>``."""
    return posixpath.join(install_root, f"{item['name']}-{item['sha256'][:16]}")


def checksum_from_file(text: str, filename: str, source: str = "the checksum file") -> str:
    """The sha256 of ``filename`` in an upstream checksum file.

    Formats (each upstream's): a bare hash (dl.k8s.io ``kubelet.sha256``), or ``sha256sum``
    lines ``<hash>  <name>`` / ``<hash> *<name>`` with one or more files (containerd
    ``.sha256sum``, runc ``runc.sha256sum``, CRI-O ``.sha256sum``, cri-tools ``.sha256``).
    A line names the file by its base name or a path ending in it.

    Raises:
        AnsibleFilterError: no line names ``filename`` with a 64-hex sha256 (``source`` is
            named in the message).
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) == 1 and len(lines[0].split()) == 1:
        digest = lines[0].lower()
        if _HEX64.fullmatch(digest):
            return digest
        raise AnsibleFilterError(f"{source} holds {lines[0][:80]!r}, not a sha256 (64 hex digits)")
    for line in lines:
        digest, _sep, name = line.partition(" ")
        name = name.strip().lstrip("*")
        if posixpath.basename(name) == filename and _HEX64.fullmatch(digest.lower()):
            return digest.lower()
    raise AnsibleFilterError(f"{source} has no sha256 line for {filename}")


def artifacts_pinned(items: list[dict], checksum_texts: dict | None = None, staged: dict | None = None) -> list[dict]:
    """``items`` with ``sha256`` set and ``sha256_source`` saying where it came from.

    The pin (a non-empty ``sha256``) wins; else the sha256 recorded when the artifact was
    staged (``staged``: name -> {sha256, source}, role artifacts' output ``artifacts_staged``);
    else the sha256 that the item's checksum file (``checksum_texts``: name -> its text)
    gives for the file name of ``url``.

    Raises:
        AnsibleFilterError: an unpinned item has neither (the message names its pin variable).
    """
    out = []
    for item in items:
        name, pin = item["name"], item.get("sha256") or ""
        if pin:
            out.append({**item, "sha256": pin, "sha256_source": f"pinned by {item.get('sha256_var', 'its sha256')}"})
        elif name in (staged or {}):
            out.append({**item, "sha256": staged[name]["sha256"], "sha256_source": staged[name]["source"]})
        elif name in (checksum_texts or {}):
            source = item.get("checksum_url", "the checksum file")
            digest = checksum_from_file(checksum_texts[name], posixpath.basename(item["url"]), source)
            out.append({**item, "sha256": digest, "sha256_source": f"the checksum file {source}"})
        else:
            raise AnsibleFilterError(f"artifact {name} has no sha256: set {item.get('sha256_var', 'its sha256')} "
                                     "or fetch it first (role artifacts, entry point fetch)")
    return out


def artifacts_staged_records(items: list[dict], stage_dir: str) -> dict:
    """``artifacts_staged`` entries for pinned ``items``: name -> {path, sha256, source}."""
    return {item["name"]: {"path": artifact_stage_path(item, stage_dir), "sha256": item["sha256"],
                           "source": item.get("sha256_source", "")} for item in items}


def artifact_offline_files(item: dict) -> list[dict]:
    """The controller files an offline ``item`` needs, as {name, file, kind}: its release file
    and, when it has no pin, the checksum file named like the upstream one (``checksum_url``)."""
    files = [{"name": item["name"], "file": posixpath.basename(item["url"]), "kind": "release"}]
    if not item.get("sha256"):
        files.append({"name": item["name"], "file": posixpath.basename(item.get("checksum_url") or ""), "kind": "checksum"})
    return files


class FilterModule:
    """artifact_stage_path, artifact_install_dir, checksum_from_file, artifacts_pinned,
    artifacts_staged_records, artifact_offline_files."""

    def filters(self):
        return {"artifact_stage_path": artifact_stage_path, "artifact_install_dir": artifact_install_dir,
                "checksum_from_file": checksum_from_file, "artifacts_pinned": artifacts_pinned,
                "artifacts_staged_records": artifacts_staged_records, "artifact_offline_files": artifact_offline_files}
