# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see galaxy.yml)
"""Naming of staged and installed artifacts: the one place that decides these paths."""

from __future__ import annotations

import posixpath


def artifact_stage_path(item: dict, stage_dir: str) -> str:
    """Where a verified download of ``item`` lives: ``<stage_dir>/<sha256[:16]>-<file name>``."""
    return posixpath.join(stage_dir, f"{item['sha256'][:16]}-{posixpath.basename(item['url'])}")


def artifact_install_dir(item: dict, install_root: str) -> str:
    """The content-addressed directory ``item`` is unpacked into: ``<root>/<name>-<sha256[:16]>``."""
    return posixpath.join(install_root, f"{item['name']}-{item['sha256'][:16]}")


class FilterModule:
    """artifact_stage_path, artifact_install_dir."""

    def filters(self):
        return {"artifact_stage_path": artifact_stage_path, "artifact_install_dir": artifact_install_dir}
