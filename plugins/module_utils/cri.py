# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Pure parsers for what a CRI runtime reports through ``crictl`` (I/O: one stat, in socket_problem).

Sources of each value (crictl >= 1.28 talking CRI v1 over a unix socket):

* ``crictl version``         -> the ``Version`` RPC (plain text, four ``Key:  value`` lines)
* ``crictl info``            -> the ``Status`` RPC with ``verbose=true`` (one JSON object:
  ``status.conditions``, ``runtimeHandlers`` (CRI >= 1.30), ``features`` (CRI >= 1.31), and
  each key of the runtime's ``info`` map, e.g. containerd's ``config``)
* ``crictl runtime-config``  -> the ``RuntimeConfig`` RPC (``cgroup driver:   SYSTEMD``);
  containerd 1.x answers ``Unimplemented``
"""

from __future__ import annotations

import json
import os
import re
import stat

CGROUP_DRIVERS = ("systemd", "cgroupfs")

_VERSION_KEYS = {
    "Version": "version",
    "RuntimeName": "runtime_name",
    "RuntimeVersion": "runtime_version",
    "RuntimeApiVersion": "runtime_api_version",
}


class CriError(Exception):
    """A CRI call failed; ``kind`` is one of the keys of ``ERROR_HINTS``."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


ERROR_HINTS = {
    "not_installed": "the runtime is not installed on this node",
    "bad_endpoint": "not a unix socket endpoint: use unix:///<absolute path>",
    "no_crictl": "crictl is needed to query the CRI: install it with role kubenode.runtime_chain.crictl or set crictl_path",
    "not_socket": "that path exists but is not a unix socket",
    "no_socket": "no socket at that path: the runtime is not running, or it listens on another path",
    "refused": "the socket exists but nothing accepts connections: a stale socket left by a runtime that stopped",
    "permission": "permission denied on the socket: run the task as root (become: true)",
    "no_cri_service": (
        "the process on this socket does not serve the CRI v1 RuntimeService: for containerd the CRI plugin is "
        "disabled (disabled_plugins in config.toml) or failed to load (see `ctr plugins ls` and the journal); "
        "or the runtime predates CRI v1 (containerd < 1.6, CRI-O < 1.23)"
    ),
    "timeout": "the runtime did not answer within the timeout: it is starting, hung, or overloaded",
    "unknown": "the CRI call failed; see stderr",
}


def classify_crictl_error(stderr: str) -> str:
    """Map crictl's stderr to an ``ERROR_HINTS`` key (first match wins).

    >>> classify_crictl_error('... connect: connection refused"')
    'refused'
    """
    text = stderr or ""
    if "connect: no such file or directory" in text:
        return "no_socket"
    if "connect: connection refused" in text:
        return "refused"
    if "permission denied" in text:
        return "permission"
    if re.search(r"unknown service runtime\.v1\.(Runtime|Image)Service", text):
        return "no_cri_service"
    if "DeadlineExceeded" in text or "context deadline exceeded" in text:
        return "timeout"
    return "unknown"


def last_error_line(stderr: str) -> str:
    """Return the most informative line of crictl's stderr (its last ``level=error`` message)."""
    lines = [line for line in (stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if "level=error" in line or line.startswith("E")]
    line = (errors or lines or [""])[-1]
    match = re.search(r'msg="(.*)"\s*$', line)
    return match.group(1).replace('\\"', '"') if match else line.strip()


def parse_crictl_version(text: str) -> dict:
    """Parse ``crictl version`` output into ``version``, ``runtime_name``,
    ``runtime_version`` and ``runtime_api_version`` (missing keys are ``None``).

    Raises:
        ValueError: no ``RuntimeName`` line was found.
    """
    result = {key: None for key in _VERSION_KEYS.values()}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in _VERSION_KEYS:
            result[_VERSION_KEYS[key.strip()]] = value.strip()
    if result["runtime_name"] is None:
        raise ValueError(f"no RuntimeName in crictl version output: {text!r}")
    return result


def parse_conditions(status: dict) -> list[dict]:
    """Return the runtime conditions of a ``crictl info`` ``status`` object, normalised."""
    out = []
    for cond in (status or {}).get("conditions") or []:
        out.append(
            {
                "type": cond.get("type", ""),
                "status": bool(cond.get("status", False)),
                "reason": cond.get("reason", "") or "",
                "message": cond.get("message", "") or "",
            }
        )
    return out


def condition(conditions: list[dict], kind: str) -> dict | None:
    """Return the condition of type ``kind`` (``RuntimeReady``/``NetworkReady``) or ``None``."""
    return next((c for c in conditions if c["type"] == kind), None)


def parse_crictl_info(text: str) -> dict:
    """Parse ``crictl info`` JSON into a normalised dict.

    Returns keys: ``conditions`` (list), ``runtime_ready``/``network_ready`` (bool; false when
    the condition is absent), ``runtime_handlers`` (list of ``{name, features}``, or ``None``
    when the runtime does not report handlers), ``features`` (dict or ``None``) and ``info``
    (the runtime-specific keys, e.g. containerd's ``config``).

    Raises:
        ValueError: the text is not a JSON object.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("crictl info did not print a JSON object")
    conditions = parse_conditions(data.get("status") or {})
    runtime = condition(conditions, "RuntimeReady")
    network = condition(conditions, "NetworkReady")
    handlers = data.get("runtimeHandlers")
    if handlers is not None:
        handlers = [{"name": h.get("name", ""), "features": h.get("features") or {}} for h in handlers]
    info = {k: v for k, v in data.items() if k not in ("status", "runtimeHandlers", "features")}
    return {
        "conditions": conditions,
        "runtime_ready": bool(runtime and runtime["status"]),
        "network_ready": bool(network and network["status"]),
        "runtime_handlers": handlers,
        "features": data.get("features"),
        "info": info,
    }


def parse_runtime_config(stdout: str, stderr: str, rc: int) -> dict:
    """Interpret ``crictl runtime-config``.

    Returns ``{"implemented": bool, "cgroup_driver": "systemd"|"cgroupfs"|None, "error": str|None}``.
    ``implemented`` is false only when the runtime answers ``Unimplemented`` (containerd 1.x);
    other failures keep ``implemented`` true and set ``error``.
    """
    if rc == 0:
        match = re.search(r"cgroup driver:\s*(\w+)", stdout or "", re.IGNORECASE)
        driver = match.group(1).lower() if match else None
        return {"implemented": True, "cgroup_driver": driver if driver in CGROUP_DRIVERS else None, "error": None}
    if "Unimplemented" in (stderr or ""):
        return {"implemented": False, "cgroup_driver": None, "error": None}
    return {"implemented": True, "cgroup_driver": None, "error": last_error_line(stderr)}


def cgroup_driver_from_info(info: dict) -> tuple[str | None, str | None]:
    """Derive the cgroup driver from the runtime's verbose Status ``info`` (no RuntimeConfig).

    containerd: ``config.containerd.runtimes[<defaultRuntimeName>].options.SystemdCgroup``
    (runc-type handlers; absent means false, i.e. cgroupfs). CRI-O: ``config.crio``'s
    ``CgroupManagerName`` (or ``cgroup_manager``). Returns ``(driver, source)``; both
    ``None`` when the info carries neither.
    """
    config = (info or {}).get("config")
    if not isinstance(config, dict):
        return None, None
    containerd = config.get("containerd")
    if isinstance(containerd, dict) and isinstance(containerd.get("runtimes"), dict):
        name = containerd.get("defaultRuntimeName") or "runc"
        handler = containerd["runtimes"].get(name)
        if isinstance(handler, dict):
            options = handler.get("options") or {}
            systemd = bool(options.get("SystemdCgroup", False))
            source = f"CRI Status info: config.containerd.runtimes.{name}.options.SystemdCgroup"
            return ("systemd" if systemd else "cgroupfs"), source
    crio = config.get("crio")
    if isinstance(crio, dict):
        for key in ("CgroupManagerName", "cgroup_manager"):
            value = crio.get(key) or (crio.get("RuntimeConfig") or {}).get(key)
            if value in CGROUP_DRIVERS:
                return value, f"CRI Status info: config.crio.{key}"
    return None, None


def effective_cgroup_driver(runtime_config: dict, info: dict) -> dict:
    """Combine RuntimeConfig and Status info into ``{value, source}``.

    RuntimeConfig wins when implemented (it is what the kubelet uses since 1.34); otherwise
    the driver comes from the runtime's own verbose status.
    """
    if runtime_config.get("implemented") and runtime_config.get("cgroup_driver"):
        return {"value": runtime_config["cgroup_driver"], "source": "RuntimeConfig RPC"}
    value, source = cgroup_driver_from_info(info)
    return {"value": value, "source": source}


def normalize_endpoint(endpoint: str) -> tuple[str, str]:
    """Return ``(url, socket_path)`` for a CRI endpoint.

    Accepts ``unix:///path`` or a bare absolute path (which crictl and kubelet deprecate).

    Raises:
        ValueError: not a unix socket endpoint.
    """
    endpoint = (endpoint or "").strip()
    if endpoint.startswith("unix://"):
        path = endpoint[len("unix://"):]
    elif endpoint.startswith("/"):
        path = endpoint
    else:
        raise ValueError(f"CRI endpoint {endpoint!r} is not unix:///<path>")
    if not path.startswith("/"):
        raise ValueError(f"CRI endpoint {endpoint!r} must name an absolute socket path (unix:///run/...)")
    return "unix://" + path, path


def socket_problem(path: str) -> str | None:
    """Return the ``ERROR_HINTS`` key that stops a CRI call to ``path``, or ``None``.

    The only I/O in this module: one ``stat`` of the socket path.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no_socket"
    except PermissionError:
        return "permission"
    return None if stat.S_ISSOCK(mode) else "not_socket"


def crictl_argv(crictl: str, url: str, timeout: int, *args: str) -> list[str]:
    """crictl with both endpoints set to ``url``, no config file, ``timeout`` seconds per call."""
    return [crictl, "--config", "/dev/null", "--runtime-endpoint", url, "--image-endpoint", url, "--timeout", f"{timeout}s", *args]


def query(run, crictl: str, url: str, timeout: int) -> dict:
    """Ask the runtime at ``url`` its Version, Status (verbose) and RuntimeConfig via crictl.

    ``run(argv) -> (rc, stdout, stderr)`` executes a command. Returns ``version``,
    ``runtime_ready``, ``network_ready``, ``conditions``, ``runtime_handlers``, ``features``,
    ``runtime_config``, ``cgroup_driver`` and the raw ``info``.

    Raises:
        CriError: the socket is unusable, or Version/Status failed (``kind`` says why).
    """
    problem = socket_problem(url[len("unix://"):])
    if problem:
        raise CriError(problem, url[len("unix://"):])
    calls = {}
    for name in ("version", "info", "runtime-config"):
        rc, out, err = run(crictl_argv(crictl, url, timeout, name))
        if rc != 0 and name != "runtime-config":
            raise CriError(classify_crictl_error(err), last_error_line(err) or out)
        calls[name] = (out, err, rc)
    try:
        version = parse_crictl_version(calls["version"][0])
        status = parse_crictl_info(calls["info"][0])
    except ValueError as exc:
        raise CriError("unknown", f"unexpected crictl output: {exc}") from None
    runtime_config = parse_runtime_config(*calls["runtime-config"])
    return {
        "version": version,
        "runtime_ready": status["runtime_ready"],
        "network_ready": status["network_ready"],
        "conditions": status["conditions"],
        "runtime_handlers": status["runtime_handlers"],
        "features": status["features"],
        "runtime_config": runtime_config,
        "cgroup_driver": effective_cgroup_driver(runtime_config, status["info"]),
        "info": status["info"],
    }
