# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Jinja filters over the pure version parsers in module_utils/versions.py."""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import versions


def _wrap(func):
    """``func`` as a filter: its ValueError becomes an AnsibleFilterError (same signature and doc)."""
    @functools.wraps(func)
    def filt(value, *args):
        try:
            return func(value, *args)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return filt


class FilterModule:
    """containerd_version, containerd_config_version, oci_runtime_version."""

    def filters(self):
        return {
            "containerd_version": _wrap(versions.parse_containerd_version),
            "containerd_config_version": _wrap(versions.containerd_config_version),
            "oci_runtime_version": _wrap(versions.parse_oci_runtime_version),
        }
