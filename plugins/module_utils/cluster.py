# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""What the API server records about this node: its Node object and the cluster's RuntimeClasses.

The facts runtime_chain_info compares with what the node's daemons report (chain.cluster_checks).
Read with a kubeconfig (kubelet's own, ``/etc/kubernetes/kubelet.conf`` on a kubeadm node, or
an admin's), over HTTPS with Ansible's ``open_url`` and the kubeconfig's CA and client
credentials; nothing is written to the cluster. ``kubeconfig_connection`` is pure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile

from .chain import CRI_SOCKET_ANNOTATION, same_runtime_version

try:
    import yaml
except ImportError:  # pragma: no cover - the module reports it (role verify installs python3-yaml)
    yaml = None


def kubeconfig_connection(config: dict, base_dir: str = "") -> dict:
    """The current context's ``server``, CA (``ca_file`` or ``ca_data``), client certificate and
    key (``cert_file``/``key_file`` or ``cert_data``/``key_data``, PEM text), ``token``, and
    ``insecure``, from a parsed kubeconfig; relative file paths are taken from ``base_dir``
    (the kubeconfig's directory), as kubectl does.

    Raises:
        ValueError: no current context, or it names a cluster or user the file lacks.
    """
    def named(kind: str, name: str) -> dict:
        for item in config.get(kind) or []:
            if item.get("name") == name:
                return item.get(kind[:-1]) or {}
        raise ValueError(f"the kubeconfig has no {kind[:-1]} named {name!r}")

    current = config.get("current-context")
    contexts = config.get("contexts") or []
    if not current and len(contexts) == 1:
        current = contexts[0].get("name")
    if not current:
        raise ValueError("the kubeconfig has no current-context")
    context = named("contexts", current)
    cluster, user = named("clusters", context.get("cluster", "")), named("users", context.get("user", ""))

    def path(value):
        return os.path.join(base_dir, value) if value and not os.path.isabs(value) else value

    def data(value):
        return base64.b64decode(value).decode() if value else None

    return {
        "server": (cluster.get("server") or "").rstrip("/"),
        "ca_file": path(cluster.get("certificate-authority")), "ca_data": data(cluster.get("certificate-authority-data")),
        "insecure": bool(cluster.get("insecure-skip-tls-verify")),
        "cert_file": path(user.get("client-certificate")), "cert_data": data(user.get("client-certificate-data")),
        "key_file": path(user.get("client-key")), "key_data": data(user.get("client-key-data")),
        "token": user.get("token") or None, "token_file": path(user.get("tokenFile")),
    }


def node_summary(node: dict) -> dict:
    """The parts of a Node object the checks read."""
    status, meta = node.get("status") or {}, node.get("metadata") or {}
    return {
        "name": meta.get("name"),
        "annotations": {k: v for k, v in (meta.get("annotations") or {}).items() if k == CRI_SOCKET_ANNOTATION},
        "conditions": {c.get("type"): {"status": c.get("status"), "reason": c.get("reason"), "message": c.get("message")}
                       for c in status.get("conditions") or []},
        "container_runtime_version": (status.get("nodeInfo") or {}).get("containerRuntimeVersion"),
        "kubelet_version": (status.get("nodeInfo") or {}).get("kubeletVersion"),
        "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
    }


#: Taint effects that keep new pods off a Node (kubeadm's control plane carries
#: node-role.kubernetes.io/control-plane:NoSchedule).
REPELLING_TAINTS = ("NoSchedule", "NoExecute")


def _ready(node: dict) -> bool:
    """Whether a Node object's Ready condition is True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (node.get("status") or {}).get("conditions") or [])


def schedulable_nodes(nodes: list[dict], exclude: str = "") -> list[str]:
    """The names of the Nodes that take new pods, other than ``exclude``, sorted.

    ``nodes`` are Node objects as the API server returns them (kubernetes.core.k8s_info's
    ``resources``). A Node takes new pods when it is Ready, not cordoned (``spec.unschedulable``)
    and has no ``NoSchedule`` or ``NoExecute`` taint. Tolerations are not weighed: a Node that only
    pods with a toleration may use does not count, which errs on the side of refusing a drain.
    """
    names = []
    for node in nodes or []:
        meta, spec = node.get("metadata") or {}, node.get("spec") or {}
        tainted = any(t.get("effect") in REPELLING_TAINTS for t in spec.get("taints") or [])
        if _ready(node) and not spec.get("unschedulable") and not tainted and meta.get("name") != exclude:
            names.append(meta.get("name"))
    return sorted(names)


def node_runs(node: dict, version: dict | None) -> bool:
    """Whether a Node object (as the API server returns it) is Ready and records the runtime
    whose Version RPC answered ``version`` (``status.nodeInfo.containerRuntimeVersion``): the
    Node is back on a runtime after kubelet restarted on it."""
    recorded = ((node.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion")
    return _ready(node) and same_runtime_version(recorded, version)


def cluster_facts(kubeconfig: str | None, node_name: str, timeout: int = 10) -> dict:
    """GET this node's Node object and the RuntimeClasses (``/api/v1/nodes/<node_name>``,
    ``/apis/node.k8s.io/v1/runtimeclasses``) with ``kubeconfig``'s credentials.

    Returns ``kubeconfig``, ``node`` (node_summary, or None), ``runtime_classes`` (name ->
    handler, or None when they could not be listed), and ``error`` (why the Node could not be
    read: no kubeconfig, an unreadable one, HTTP status, TLS or connection error; None when read).
    The credentials never appear in the result.
    """
    from ansible.module_utils.urls import open_url  # noqa: PLC0415 - only this probe needs it

    facts: dict = {"kubeconfig": kubeconfig, "node_name": node_name, "node": None, "runtime_classes": None, "error": None}
    if not kubeconfig or not os.path.isfile(kubeconfig):
        facts["error"] = f"no kubeconfig at {kubeconfig}" if kubeconfig else "no kubeconfig given"
        return facts
    if yaml is None:
        facts["error"] = "PyYAML is missing"
        return facts
    private = tempfile.mkdtemp(prefix="kubenode-kubeconfig-")
    try:
        with open(kubeconfig, encoding="utf-8") as handle:
            conn = kubeconfig_connection(yaml.safe_load(handle) or {}, os.path.dirname(kubeconfig))

        def materialise(name: str, file_key: str, data_key: str):
            if conn.get(data_key):
                path = os.path.join(private, name)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as out:
                    out.write(conn[data_key])
                return path
            return conn.get(file_key)

        ca, cert, key = (materialise("ca.crt", "ca_file", "ca_data"), materialise("client.crt", "cert_file", "cert_data"),
                         materialise("client.key", "key_file", "key_data"))
        token = conn.get("token")
        if not token and conn.get("token_file"):
            with open(conn["token_file"], encoding="utf-8") as handle:
                token = handle.read().strip()
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        def get(path: str) -> dict:
            response = open_url(conn["server"] + path, headers=headers, timeout=timeout, validate_certs=not conn["insecure"],
                                ca_path=ca, client_cert=cert, client_key=key, use_proxy=False, follow_redirects="none")
            return json.loads(response.read())

        try:
            facts["node"] = node_summary(get(f"/api/v1/nodes/{node_name}"))
        except Exception as exc:  # noqa: BLE001 - HTTP, TLS and connection errors are all facts here
            facts["error"] = _describe(exc)
            return facts
        try:
            items = get("/apis/node.k8s.io/v1/runtimeclasses").get("items") or []
            facts["runtime_classes"] = {(i.get("metadata") or {}).get("name"): i.get("handler") for i in items}
        except Exception as exc:  # noqa: BLE001
            facts["runtime_classes_error"] = _describe(exc)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        facts["error"] = f"cannot read the kubeconfig {kubeconfig}: {exc}"
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return facts


def _describe(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return f"HTTP {code} {getattr(exc, 'reason', '')}".strip()
    reason = getattr(exc, "reason", None)
    return str(getattr(reason, "verify_message", None) or reason or exc)
