# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Jinja filters over module_utils/cluster.py (Node objects as data)."""

from __future__ import annotations

from ansible_collections.kubenode.runtime_chain.plugins.module_utils import cluster


class FilterModule:
    """schedulable_nodes, node_runs."""

    def filters(self):
        return {"schedulable_nodes": cluster.schedulable_nodes, "node_runs": cluster.node_runs}
