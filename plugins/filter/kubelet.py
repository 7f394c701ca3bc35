# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Jinja filters over module_utils/kubelet.py (kubelet configuration as data)."""

from __future__ import annotations

from ansible_collections.kubenode.runtime_chain.plugins.module_utils import kubelet


class FilterModule:
    """kubelet_standalone_config, kubelet_kubeadm_config, kubelet_kubeadm_flags, kubelet_instance_config,
    kubelet_kubeadm_documents, static_pods_not_running."""

    def filters(self):
        return {
            "kubelet_standalone_config": kubelet.standalone_config,
            "kubelet_kubeadm_config": kubelet.kubeadm_config,
            "kubelet_kubeadm_flags": kubelet.kubeadm_flags,
            "kubelet_instance_config": kubelet.instance_config,
            "kubelet_kubeadm_documents": kubelet.kubeadm_documents,
            "static_pods_not_running": kubelet.static_pods_not_running,
        }
