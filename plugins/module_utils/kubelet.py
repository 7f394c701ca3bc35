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
    """kubeadm's KubeletConfiguration with the node's CRI endpoint and cgroup driver set.

    Only the fields that carry the runtime change: ``containerRuntimeEndpoint`` (kubeadm
    writes it there from instance-config.yaml), ``cgroupDriver``, and ``imageServiceEndpoint``
    only where the file sets it (kubeadm does not; kubelet then uses the runtime endpoint), so
    a file kubeadm wrote for this runtime comes back equal and is left alone."""
    config = dict(current or {})
    config["containerRuntimeEndpoint"] = endpoint
    if config.get("imageServiceEndpoint"):
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
    """kubeadm's node-local instance-config.yaml (NodeLocalCRISocket) with the node's endpoint.

    kubeadm writes it as a patch of the KubeletConfiguration (``containerRuntimeEndpoint``
    alone, no apiVersion or kind) and applies it on join and upgrade: its other fields are kept
    as they are."""
    config = dict(current or {})
    config["containerRuntimeEndpoint"] = endpoint
    return config


# The kinds of kubeadm's configuration files (kubeadm.k8s.io/v1beta4, Kubernetes 1.31+) and
# of the KubeletConfiguration kubeadm init uploads for the whole cluster.
KUBEADM_API = "kubeadm.k8s.io/v1beta4"
KUBEADM_KINDS = {
    "init": ("InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"),
    "join": ("JoinConfiguration",),
}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def kubeadm_documents(spec: dict, endpoint: str, cgroup_driver: str, purpose: str) -> list[dict]:
    """The documents of a ``kubeadm init --config`` (``purpose`` init) or ``kubeadm join
    --config`` (join) file: ``spec`` maps a kind to its fields (merged deeply over what the
    node sets), in KUBEADM_KINDS order, each with its apiVersion and kind.

    The node sets ``nodeRegistration.criSocket`` (Init, Join) to ``endpoint`` and, for init,
    the KubeletConfiguration's ``cgroupDriver`` to ``cgroup_driver`` (kubeadm uploads it for
    every node of the cluster).

    Raises:
        ValueError: an unknown purpose, a kind the purpose does not take, a spec field that is
            not a mapping, or a criSocket / cgroupDriver in ``spec`` that differs from the
            node's (the message names the field and the variable that sets it).
    """
    if purpose not in KUBEADM_KINDS:
        raise ValueError(f"purpose must be init or join, not {purpose!r}")
    kinds = KUBEADM_KINDS[purpose]
    variable = f"kubelet_kubeadm_{purpose}"
    unknown = sorted(set(spec or {}) - set(kinds))
    if unknown:
        raise ValueError(f"{variable}: kubeadm {purpose} takes the kinds {', '.join(kinds)}, not {', '.join(unknown)}")
    docs = []
    for kind in kinds:
        fields = (spec or {}).get(kind) or {}
        if not isinstance(fields, dict):
            raise ValueError(f"{variable}.{kind} must be a mapping of the document's fields")
        api = API_VERSION if kind == "KubeletConfiguration" else KUBEADM_API
        node: dict = {}
        if kind in ("InitConfiguration", "JoinConfiguration"):
            node = {"nodeRegistration": {"criSocket": endpoint}}
            given = (fields.get("nodeRegistration") or {}).get("criSocket")
            if given not in (None, endpoint):
                raise ValueError(f"{variable}.{kind}.nodeRegistration.criSocket is {given}, but the node's runtime answers on "
                                 f"{endpoint}: leave it out (set kubenode_cri_endpoint or kubelet_container_runtime_endpoint)")
        elif kind == "KubeletConfiguration":
            node = {"cgroupDriver": cgroup_driver}
            given = fields.get("cgroupDriver")
            if given not in (None, cgroup_driver):
                raise ValueError(f"{variable}.KubeletConfiguration.cgroupDriver is {given}, but the node's runtime uses "
                                 f"{cgroup_driver}: leave it out (set kubenode_cgroup_driver)")
        elif not fields:
            continue
        docs.append(_merge({"apiVersion": api, "kind": kind, **node}, fields))
    return docs


def static_pods_not_running(crictl_ps_json: str, names: list[str]) -> list[str]:
    """Names of static pods (manifest ``metadata.name``) with no running container in
    ``crictl ps --state running -o json`` output. kubelet names a static pod's sandbox
    ``<name>-<node name>`` (label ``io.kubernetes.pod.name``)."""
    import json

    running = [c.get("labels", {}).get("io.kubernetes.pod.name", "") for c in json.loads(crictl_ps_json or "{}").get("containers") or []]
    return [name for name in names if not any(pod.startswith(f"{name}-") for pod in running)]
