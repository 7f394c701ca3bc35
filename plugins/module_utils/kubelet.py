# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""kubelet configuration as data: the standalone KubeletConfiguration, and the changes a
kubeadm-managed node needs when its CRI endpoint or cgroup driver changes (pure)."""

from __future__ import annotations

import re

API_VERSION = "kubelet.config.k8s.io/v1beta1"
# Flags kubelet removed (1.27: --container-runtime; 1.35: --pod-infra-container-image) and the
# deprecated endpoint flags that belong in the KubeletConfiguration.
REMOVED_FLAGS = ("container-runtime", "pod-infra-container-image")
ENDPOINT_FLAGS = ("container-runtime-endpoint", "image-service-endpoint")


def standalone_config(endpoint: str, cgroup_driver: str, fail_swap_on: bool, static_pod_path: str,
                      healthz_port: int = 10248, extra: dict | None = None) -> dict:
    """The KubeletConfiguration of a standalone kubelet (static pods, no API server).

    The API servers are bound to localhost and anonymous access is off; ``extra`` fields
    are merged over these (one level deep).
    """
    config = {
        "apiVersion": API_VERSION,
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        "cgroupDriver": cgroup_driver,
        "failSwapOn": bool(fail_swap_on),
        "staticPodPath": static_pod_path,
        "address": "127.0.0.1",
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": int(healthz_port),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "registerNode": False,
    }
    for key, value in (extra or {}).items():
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) and isinstance(value, dict) else value
    return config


def kubeadm_config(current: dict, endpoint: str, cgroup_driver: str) -> dict:
    """kubeadm's KubeletConfiguration with the node's CRI endpoint and cgroup driver set."""
    config = dict(current or {})
    config["containerRuntimeEndpoint"] = endpoint
    config["imageServiceEndpoint"] = endpoint
    config["cgroupDriver"] = cgroup_driver
    return config


def kubeadm_flags(text: str) -> str:
    """kubeadm-flags.env without removed flags and without endpoint flags (the endpoint lives
    in the KubeletConfiguration and instance-config.yaml; the flags are deprecated)."""
    def clean(args: str) -> str:
        kept = [a for a in re.findall(r"--[^\s]+(?:\s+(?!--)[^\s]+)?", args)
                if a.split("=", 1)[0].split()[0][2:] not in REMOVED_FLAGS + ENDPOINT_FLAGS]
        return " ".join(kept)

    lines = []
    for line in (text or "").splitlines():
        match = re.match(r'^(KUBELET_KUBEADM_ARGS=)"(.*)"\s*$', line)
        lines.append(f'{match.group(1)}"{clean(match.group(2))}"' if match else line)
    return "\n".join(lines) + ("\n" if text and text.endswith("\n") else "")


def instance_config(current: dict, endpoint: str) -> dict:
    """kubeadm's node-local instance-config.yaml (NodeLocalCRISocket) with the node's endpoint."""
    config = dict(current or {})
    config.setdefault("apiVersion", API_VERSION)
    config.setdefault("kind", "KubeletConfiguration")
    config["containerRuntimeEndpoint"] = endpoint
    return config


def static_pods_not_running(crictl_ps_json: str, names: list[str]) -> list[str]:
    """Names of static pods (manifest ``metadata.name``) with no running container in
    ``crictl ps --state running -o json`` output. kubelet names a static pod's sandbox
    ``<name>-<node name>`` (label ``io.kubernetes.pod.name``)."""
    import json

    running = [c.get("labels", {}).get("io.kubernetes.pod.name", "") for c in json.loads(crictl_ps_json or "{}").get("containers") or []]
    return [name for name in names if not any(pod.startswith(f"{name}-") for pod in running)]
