# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see galaxy.yml)
"""Collect the chain's effective state on a node: what daemons report, commands print, the kernel exposes.

All I/O of runtime_chain_info lives here. Commands run through ``run(argv) -> (rc, stdout,
stderr)`` (the module passes AnsibleModule.run_command with a C locale); files are read
directly. Output parsers are pure functions (``parse_*``), table-tested with captured output.
A missing component yields ``installed/present: False``, never an exception, so a
half-built chain is described rather than crashing the module.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil

from . import cri, toml_scan
from .chain import crio_config
from .versions import parse_containerd_version, parse_oci_runtime_version, parse_semver

DEFAULT_KUBELET_CONFIGS = ("/var/lib/kubelet/config.yaml", "/etc/kubernetes/kubelet.yaml", "/etc/kubernetes/kubelet-config.yaml")
KUBELET_FLAG_FILES = ("/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet", "/etc/sysconfig/kubelet")


def module_runner(module, env: dict | None = None):
    """``run(argv) -> (rc, stdout, stderr)`` over AnsibleModule.run_command with a C locale; a
    missing executable gives rc 127 instead of failing the module."""
    env = env or {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}

    def run(argv):
        try:
            return module.run_command(argv, environ_update=env, handle_exceptions=False)
        except OSError as exc:
            return 127, "", str(exc)

    return run


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


# ---------------------------------------------------------------- pure parsers

def parse_ctr_plugins(text: str) -> list[dict]:
    """Parse ``ctr plugins ls`` (TYPE ID PLATFORMS STATUS columns)."""
    out = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4:
            out.append({"type": fields[0], "id": fields[1], "status": fields[-1]})
    return out


def plugin_errors(detailed: str) -> dict:
    """Map ``type/id`` to the error message in ``ctr plugins ls -d`` output."""
    errors: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", detailed or ""):
        type_ = re.search(r"^Type:\s+(\S+)", block, re.MULTILINE)
        id_ = re.search(r"^ID:\s+(\S+)", block, re.MULTILINE)
        message = re.search(r"^\s+Message:\s+(.+)$", block, re.MULTILINE)
        if type_ and id_ and message:
            errors[f"{type_.group(1)}/{id_.group(1)}"] = message.group(1).strip()
    return errors


def parse_simple_yaml(text: str) -> dict:
    """Top-level ``key: scalar`` pairs of a YAML document (enough for KubeletConfiguration's
    endpoint, driver and swap fields when PyYAML is not on the node)."""
    try:
        import yaml  # noqa: PLC0415 - optional on nodes

        data = yaml.safe_load(text or "")
        return data if isinstance(data, dict) else {}
    except ImportError:
        pass
    out: dict = {}
    for line in (text or "").splitlines():
        match = re.match(r"^([A-Za-z][\w-]*):\s*(.*?)\s*(?:#.*)?$", line)
        if match and match.group(2):
            value = match.group(2).strip("\"'")
            out[match.group(1)] = {"true": True, "false": False}.get(value, value)
    return out


def kubelet_flags(text: str) -> dict:
    """``--name=value`` flags in a command line or an env file's values."""
    return dict(re.findall(r"--([a-z][a-z0-9-]*)(?:=|\s+)([^\s\"']+)", text or ""))


def cni_plugin_types(config_text: str) -> list[str]:
    """Plugin types a CNI .conf/.conflist needs (``type`` of each plugin)."""
    try:
        data = json.loads(config_text)
    except ValueError:
        return ["<unparsable>"]
    plugins = data.get("plugins") if isinstance(data, dict) and "plugins" in data else [data]
    return [p.get("type", "") for p in plugins if isinstance(p, dict)]


# ---------------------------------------------------------------- collectors

def kernel_facts() -> dict:
    filesystems = read("/proc/filesystems") or ""
    swaps = (read("/proc/swaps") or "").splitlines()[1:]
    cgroup_fs = "cgroup2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "cgroup v1 or none"
    return {
        "cgroup_v2": cgroup_fs == "cgroup2",
        "cgroup_fs": cgroup_fs,
        "filesystems": [line.split()[-1] for line in filesystems.splitlines() if line.strip()],
        "modules": [m for m in ("br_netfilter", "overlay") if os.path.isdir(f"/sys/module/{m}")],
        "ip_forward": (read("/proc/sys/net/ipv4/ip_forward") or "").strip() or None,
        "bridge_nf_call_iptables": (read("/proc/sys/net/bridge/bridge-nf-call-iptables") or "").strip() or None,
        "swaps": [line.split()[0] for line in swaps if line.strip()],
    }


def service_facts(run, unit: str) -> dict:
    return {
        "active": run(["systemctl", "is-active", unit])[1].strip() or "unknown",
        "enabled": run(["systemctl", "is-enabled", unit])[1].strip() or "unknown",
    }


def cri_facts(run, crictl: str | None, endpoint: str, timeout: int) -> dict:
    """The runtime's CRI answers (cri.query), or ``{"error": {kind, message}}``."""
    if not crictl:
        return {"endpoint": endpoint, "error": {"kind": "no_crictl", "message": cri.ERROR_HINTS["no_crictl"]}}
    try:
        return {"endpoint": endpoint, **cri.query(run, crictl, endpoint, timeout)}
    except cri.CriError as exc:
        return {"endpoint": endpoint, "error": {"kind": exc.kind, "message": f"{cri.ERROR_HINTS[exc.kind]} ({exc.detail})"}}


def socket_facts(run, crictl: str | None, timeout: int, endpoint: str, sockets: list[str]) -> dict:
    """For the node's endpoint and each socket in ``sockets``: does it exist, does a CRI runtime answer?"""
    out = {}
    for url in sorted(set(sockets) | {endpoint}):
        path = url[len("unix://"):]
        exists = cri.socket_problem(path) is None
        answers, name = False, None
        if exists and crictl:
            rc, stdout, _ = run([crictl, "--config", "/dev/null", "--runtime-endpoint", url, "--timeout", f"{timeout}s", "version"])
            if rc == 0:
                answers = True
                name = cri.parse_crictl_version(stdout).get("runtime_name")
        out[url] = {"exists": exists, "answers": answers, "runtime_name": name}
    return out


def containerd_facts(run, config_path: str, address: str) -> dict:
    rc, out, _ = run(["containerd", "--version"])
    if rc != 0:
        return {"installed": False, "config_path": config_path}
    facts = {"installed": True, "config_path": config_path, "version": parse_containerd_version(out)["version"]}
    facts["config_text"] = read(config_path)
    rc, out, err = run(["containerd", "--config", config_path, "config", "dump"])
    facts["dump"] = out if rc == 0 else None
    facts["dump_error"] = None if rc == 0 else cri.last_error_line(err) or err.strip()
    rc, out, err = run(["ctr", "--address", address, "plugins", "ls"])
    facts["plugins"] = parse_ctr_plugins(out) if rc == 0 else []
    facts["plugins_error"] = None if rc == 0 else err.strip()
    if any(p["status"] == "error" for p in facts["plugins"]):
        errors = plugin_errors(run(["ctr", "--address", address, "plugins", "ls", "-d"])[1])
        facts["cri_error"] = errors.get("io.containerd.grpc.v1/cri")
        facts["snapshotter_error"] = errors.get("io.containerd.snapshotter.v1/overlayfs")
    facts["service"] = service_facts(run, "containerd")
    return facts


def crio_facts(run, endpoint: str) -> dict:
    """crio's version and the effective configuration the running daemon reports."""
    rc, out, _ = run(["crio", "version"])
    if rc != 0:
        return {"installed": False}
    version = re.search(r"^Version:\s*(\S+)", out, re.MULTILINE)
    facts = {"installed": True, "version": version.group(1) if version else "unknown"}
    rc, out, err = run(["crio", "--config", "/dev/null", "status", "--socket", endpoint[len("unix://"):], "config"])
    facts["config_dump"] = out if rc == 0 else None
    facts["config_error"] = None if rc == 0 else (err.strip() or out.strip())
    facts["service"] = service_facts(run, "crio")
    return facts


def _resolve(binary: str) -> str | None:
    path = binary if os.path.isabs(binary) else shutil.which(binary, path=os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin")
    return path


def handler_facts(info: dict, runtime: str, crio: dict | None = None) -> dict:
    """Runtime handler -> OCI runtime binary: containerd's verbose Status info, or CRI-O's
    effective configuration (``crio status config``)."""
    config = (info or {}).get("config") or {}
    out = {}
    if runtime == "crio":
        for name, handler in (crio_config(crio or {})["runtimes"]).items():
            binary = handler.get("runtime_path") or name
            path = _resolve(binary)
            out[name] = {"path": path or binary, "executable": bool(path and os.access(path, os.X_OK)),
                         "source": f"crio status config: crio.runtime.runtimes.{name}.runtime_path"}
    if runtime == "containerd":
        runtimes = ((config.get("containerd") or {}).get("runtimes") or {})
        for name, handler in runtimes.items():
            options = handler.get("options") or {}
            binary = options.get("BinaryName") or handler.get("runtimePath") or "runc"
            path = _resolve(binary)
            out[name] = {"path": path or binary, "executable": bool(path and os.access(path, os.X_OK)),
                         "source": f"CRI Status info: config.containerd.runtimes.{name}.options.BinaryName"}
    return out


def oci_facts(run, handlers: dict) -> dict:
    """``--version`` and owning package version of each distinct OCI runtime binary."""
    out = {}
    for info in handlers.values():
        path = info.get("path")
        if not info.get("executable") or path in out:
            continue
        rc, stdout, _ = run([path, "--version"])
        if rc != 0:
            continue
        try:
            parsed = parse_oci_runtime_version(stdout)
        except ValueError:
            continue
        package_version = None
        rc, owner, _ = run(["dpkg-query", "--search", os.path.realpath(path)])
        if rc == 0 and ":" in owner:
            package = owner.split(":", 1)[0].strip()
            rc, version, _ = run(["dpkg-query", "--show", "--showformat=${Version}", package])
            package_version = version.strip() if rc == 0 else None
        out[path] = {**parsed, "package_version": package_version}
    return out


def cni_facts(info: dict, crio: dict | None = None) -> dict:
    cfg = ((info or {}).get("config") or {}).get("cni") or {}
    bin_dirs = cfg.get("binDirs") or ([cfg["binDir"]] if cfg.get("binDir") else [])
    conf_dir = cfg.get("confDir") or "/etc/cni/net.d"
    if crio and crio.get("config_dump"):
        effective = crio_config(crio)
        bin_dirs, conf_dir = list(effective["plugin_dirs"]), effective["network_dir"] or conf_dir
    configs = {}
    for path in sorted(glob.glob(os.path.join(conf_dir, "*"))):
        if path.endswith((".conf", ".conflist", ".json")):
            configs[os.path.basename(path)] = cni_plugin_types(read(path) or "")
    binaries = sorted({name for d in bin_dirs for name in (os.listdir(d) if os.path.isdir(d) else [])})
    return {"conf_dir": conf_dir, "bin_dirs": bin_dirs, "configs": configs, "binaries": binaries}


def sandbox_facts(run, crictl: str | None, endpoint: str, info: dict, dump: str | None, timeout: int) -> dict:
    config = (info or {}).get("config") or {}
    image, source = config.get("sandboxImage"), "CRI Status info: config.sandboxImage"
    if not image and dump:
        image = toml_scan.get(toml_scan.scan(dump), "plugins", "io.containerd.cri.v1.images", "pinned_images", "sandbox")
        source = "containerd config dump: pinned_images.sandbox"
    present = None
    if image and crictl:
        rc, out, _ = run([crictl, "--config", "/dev/null", "--image-endpoint", endpoint, "--runtime-endpoint", endpoint,
                          "--timeout", f"{timeout}s", "images", "-o", "json"])
        if rc == 0:
            tags = {t for img in json.loads(out).get("images", []) for t in img.get("repoTags") or []}
            present = image in tags or f"{image}:latest" in tags
    return {"image": image, "source": source, "present": present}


def crictl_facts(path: str) -> dict:
    text = read(path)
    return {"config_path": path, "config": parse_simple_yaml(text) if text is not None else None}


def kubelet_facts(run, config_paths: list[str]) -> dict:
    rc, out, _ = run(["kubelet", "--version"])
    if rc != 0:
        return {"present": False}
    version = out.strip().split()[-1] if out.strip() else ""
    facts = {"present": True, "version": version, "minor": (parse_semver(version) or (0, 0, 0))[1]}
    exec_start = run(["systemctl", "show", "kubelet", "--property", "ExecStart", "--value"])[1]
    flags = kubelet_flags(exec_start)
    flag_file = None
    for path in KUBELET_FLAG_FILES:
        file_flags = kubelet_flags(read(path) or "")
        if "container-runtime-endpoint" in file_flags and flag_file is None:
            flag_file = path
        flags.update(file_flags)
    config_path = flags.get("config") or next((p for p in config_paths if os.path.exists(p)), None)
    config = parse_simple_yaml(read(config_path) or "") if config_path else {}
    instance = parse_simple_yaml(read("/var/lib/kubelet/instance-config.yaml") or "")
    endpoint, source = config.get("containerRuntimeEndpoint"), config_path
    if instance.get("containerRuntimeEndpoint"):
        endpoint, source = instance["containerRuntimeEndpoint"], "/var/lib/kubelet/instance-config.yaml"
    if flags.get("container-runtime-endpoint"):
        endpoint, source = flags["container-runtime-endpoint"], flag_file or "kubelet unit ExecStart"
    static_dir = config.get("staticPodPath")
    facts["static_pods"] = static_pod_names(static_dir) if static_dir else []
    facts["static_pod_path"] = static_dir
    facts.update(config_path=config_path, config=config, flags=flags, endpoint=endpoint, endpoint_source=source,
                 endpoint_flag=(flag_file or "kubelet unit ExecStart") if flags.get("container-runtime-endpoint") else None,
                 service=service_facts(run, "kubelet"))
    return facts


def static_pod_names(directory: str) -> list[str]:
    """``metadata.name`` of each Pod manifest in kubelet's staticPodPath."""
    names = []
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        if path.endswith((".yaml", ".yml", ".json")):
            match = re.search(r"^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+name:\s*[\"']?([\w.-]+)", read(path) or "", re.MULTILINE)
            if match:
                names.append(match.group(1))
    return names


def running_pods(run, crictl: str | None, endpoint: str, timeout: int) -> list[str] | None:
    """Pod names (``io.kubernetes.pod.name``) that have a running container, or ``None``."""
    if not crictl:
        return None
    rc, out, _ = run([crictl, "--config", "/dev/null", "--runtime-endpoint", endpoint, "--timeout", f"{timeout}s",
                      "ps", "--state", "running", "--output", "json"])
    if rc != 0:
        return None
    return sorted({(c.get("labels") or {}).get("io.kubernetes.pod.name", "") for c in json.loads(out).get("containers") or []})


def collect(run, *, runtime: str, endpoint: str, crictl: str | None, timeout: int = 10,
            containerd_config: str = "/etc/containerd/config.toml", crictl_config: str = "/etc/crictl.yaml",
            kubelet_configs: list[str] | None = None, sockets: list[str] | None = None) -> dict:
    """Gather every fact run_checks needs, for a node whose runtime should be ``runtime``.

    Commands run one after the other on purpose: under the Mitogen strategy the module runs
    inside a shared interpreter, and worker threads that spawn commands there hung the module.
    """
    facts = {"runtime": runtime, "endpoint": endpoint}
    facts["kernel"] = kernel_facts()
    facts["crictl"] = crictl_facts(crictl_config)
    facts["kubelet"] = kubelet_facts(run, list(kubelet_configs or DEFAULT_KUBELET_CONFIGS))
    facts["sockets"] = socket_facts(run, crictl, min(timeout, 5), endpoint, list(sockets or []))
    if runtime == "containerd":
        facts["containerd"] = containerd_facts(run, containerd_config, endpoint[len("unix://"):])
    elif runtime == "crio":
        facts["crio"] = crio_facts(run, endpoint)
    installed = facts.get(runtime, {}).get("installed")
    facts["cri"] = cri_facts(run, crictl, endpoint, timeout) if installed else {"endpoint": endpoint, "error": {
        "kind": "not_installed", "message": f"{runtime} is not installed"}}
    info = facts["cri"].get("info", {})
    facts["handlers"] = handler_facts(info, runtime, facts.get("crio"))
    facts["oci"] = oci_facts(run, facts["handlers"])
    facts["cni"] = cni_facts(info, facts.get("crio"))
    facts["running_pods"] = running_pods(run, crictl, endpoint, timeout) if not facts["cri"].get("error") else None
    facts["sandbox"] = sandbox_facts(run, crictl, endpoint, info, facts.get(runtime, {}).get("dump"), timeout) \
        if not facts["cri"].get("error") else {}
    return facts
