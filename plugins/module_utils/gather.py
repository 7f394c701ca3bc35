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
import http.client
import json
import os
import re
import selectors
import shutil
import socket
import subprocess
import time

from . import cri, toml_scan
from .chain import crio_config
from .versions import parse_containerd_version, parse_oci_runtime_version, parse_semver

DEFAULT_KUBELET_CONFIGS = ("/var/lib/kubelet/config.yaml", "/etc/kubernetes/kubelet.yaml", "/etc/kubernetes/kubelet-config.yaml")
KUBELET_FLAG_FILES = ("/var/lib/kubelet/kubeadm-flags.env", "/etc/default/kubelet", "/etc/sysconfig/kubelet")


C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


class Runner:
    """``run(argv) -> (rc, stdout, stderr)`` for read-only commands, with a C locale.

    ``start(*argvs)`` queues commands ahead of need; up to ``parallel`` of them (default: the
    number of CPUs) run side by side as child processes, in the order queued, a command a
    collector waits for first. ``run`` returns their results when asked. On an emulated
    (TCG) guest parallel commands gain little, all of them contend for the same CPUs; on a
    real node the run takes about as long as its slowest command. Processes, not threads: under the
    Mitogen strategy the module runs in a shared interpreter, and worker threads that spawned
    commands there hung the module. Every command of runtime_chain_info only reads, so one
    result per argv serves every caller of the run (the auto-detection and the checks ask the
    same questions). ``log`` lists each finished command: argv, rc, seconds, and whether it was
    started ahead (False: a collector had to wait for its whole run). A missing executable gives
    rc 127, a command still running ``timeout`` seconds after its start is killed and gives rc
    124; neither raises.
    """

    def __init__(self, env: dict | None = None, timeout: float = 60.0, parallel: int | None = None):
        self._env = {**os.environ, **(env if env is not None else C_LOCALE)}
        self._timeout = timeout
        self._parallel = max(1, parallel or os.cpu_count() or 1)
        self._queue: list[tuple] = []
        self._running: dict[tuple, dict] = {}
        self._done: dict[tuple, tuple[int, str, str]] = {}
        self._asked: set[tuple] = set()
        self.log: list[dict] = []
        self._selector = selectors.DefaultSelector()

    def start(self, *argvs) -> None:
        """Queue each argv not yet started (empty entries are skipped) and launch what fits."""
        for argv in argvs:
            key = tuple(argv or ())
            if key and key not in self._running and key not in self._done and key not in self._queue:
                self._queue.append(key)
        self._launch()

    def _launch(self) -> None:
        while self._queue and len(self._running) < self._parallel:
            key = self._queue.pop(0)
            try:
                proc = subprocess.Popen(list(key), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=self._env, close_fds=True)
            except OSError as exc:
                self._done[key] = (127, "", str(exc))
                continue
            job = {"proc": proc, "out": [], "err": [], "open": 2, "started": time.monotonic(),
                   "deadline": time.monotonic() + self._timeout}
            self._running[key] = job
            self._selector.register(proc.stdout, selectors.EVENT_READ, (key, "out"))
            self._selector.register(proc.stderr, selectors.EVENT_READ, (key, "err"))

    def __call__(self, argv) -> tuple[int, str, str]:
        key = tuple(argv)
        if key not in self._done:
            if key not in self._running:
                self._asked.add(key)
                if key in self._queue:
                    self._queue.remove(key)
                self._queue.insert(0, key)
                self._launch()
            while key not in self._done:
                self._pump()
        return self._done[key]

    def _pump(self) -> None:
        """Read whatever any running command printed (so none blocks on a full pipe); reap the
        commands that closed both streams; kill those past their deadline."""
        for selected, _ in self._selector.select(timeout=1.0):
            key, stream = selected.data
            job = self._running[key]
            chunk = os.read(selected.fd, 65536)
            if chunk:
                job[stream].append(chunk)
                continue
            self._selector.unregister(selected.fileobj)
            selected.fileobj.close()
            job["open"] -= 1
            if job["open"] == 0:
                status = job["proc"].wait()
                rc = 124 if job.get("killed") else status
                self._done[key] = (rc, b"".join(job["out"]).decode("utf-8", "replace"),
                                   b"".join(job["err"]).decode("utf-8", "replace"))
                self.log.append({"argv": list(key), "rc": rc, "seconds": round(time.monotonic() - job["started"], 3),
                                 "started_ahead": key not in self._asked})
                del self._running[key]
                self._launch()
        now = time.monotonic()
        for key, job in list(self._running.items()):
            if now > job["deadline"]:
                job["proc"].kill()
                job["deadline"] = float("inf")
                job["err"].append(f"\n{key[0]}: killed after {self._timeout:g} s".encode())
                job["killed"] = True

    def close(self) -> None:
        """Drop queued commands; kill and reap those started but never asked for."""
        self._queue.clear()
        for job in self._running.values():
            job["proc"].kill()
            job["proc"].wait()
            for stream in (job["proc"].stdout, job["proc"].stderr):
                if not stream.closed:
                    self._selector.unregister(stream)
                    stream.close()
        self._running.clear()


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


SERVICE_UNITS = ("kubelet", "containerd", "crio")
SERVICE_ARGV = ["systemctl", "show", *SERVICE_UNITS, "--property=Id,ActiveState,UnitFileState,ExecStart"]


def parse_systemctl_show(text: str) -> dict:
    """Blocks of ``Key=value`` lines of ``systemctl show`` for several units, by unit name
    (``Id`` without ``.service``); values may contain ``=``."""
    units = {}
    for block in re.split(r"\n\s*\n", text or ""):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            units[props["Id"].removesuffix(".service")] = props
    return units


def service_facts(run, unit: str) -> dict:
    """``active`` (ActiveState), ``enabled`` (UnitFileState) and ``exec_start`` of a unit of
    SERVICE_UNITS: one ``systemctl show`` answers for all of them; ``unknown`` where systemd
    has no value (no such unit)."""
    props = parse_systemctl_show(run(SERVICE_ARGV)[1]).get(unit, {})
    return {"active": props.get("ActiveState") or "unknown", "enabled": props.get("UnitFileState") or "unknown",
            "exec_start": props.get("ExecStart", "")}


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
            rc, stdout, _ = run(cri.crictl_argv(crictl, url, timeout, "version"))
            if rc == 0:
                answers = True
                name = cri.parse_crictl_version(stdout).get("runtime_name")
        out[url] = {"exists": exists, "answers": answers, "runtime_name": name}
    return out


def containerd_argvs(config_path: str, address: str) -> dict:
    """The commands containerd_facts runs, by purpose."""
    return {"version": ["containerd", "--version"], "dump": ["containerd", "--config", config_path, "config", "dump"],
            "plugins": ["ctr", "--address", address, "plugins", "ls"]}


def containerd_facts(run, config_path: str, address: str, cri_version: str | None = None, need_dump: bool = True) -> dict:
    """containerd's version, config file, plugin states and service state.

    ``cri_version``: the version the CRI Version RPC reported (then ``containerd --version`` is
    not run). ``need_dump``: run ``containerd config dump`` (needed when the CRI does not
    answer, to tell a disabled CRI plugin, or when the CRI status lacks the sandbox image).
    """
    argv = containerd_argvs(config_path, address)
    if cri_version:
        facts = {"installed": True, "config_path": config_path, "version": cri_version.lstrip("v")}
    else:
        rc, out, _ = run(argv["version"])
        if rc != 0:
            return {"installed": False, "config_path": config_path}
        facts = {"installed": True, "config_path": config_path, "version": parse_containerd_version(out)["version"]}
    facts["config_text"] = read(config_path)
    facts["dump"] = facts["dump_error"] = None
    if need_dump:
        rc, out, err = run(argv["dump"])
        facts["dump"] = out if rc == 0 else None
        facts["dump_error"] = None if rc == 0 else cri.last_error_line(err) or err.strip()
    rc, out, err = run(argv["plugins"])
    facts["plugins"] = parse_ctr_plugins(out) if rc == 0 else []
    facts["plugins_error"] = None if rc == 0 else err.strip()
    if any(p["status"] == "error" for p in facts["plugins"]):
        errors = plugin_errors(run(["ctr", "--address", address, "plugins", "ls", "-d"])[1])
        facts["cri_error"] = errors.get("io.containerd.grpc.v1/cri")
        facts["snapshotter_error"] = errors.get("io.containerd.snapshotter.v1/overlayfs")
    facts["service"] = service_facts(run, "containerd")
    return facts


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (CRI-O serves its status API on the CRI socket)."""

    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def crio_status_get(socket_path: str, resource: str, timeout: float) -> tuple[str | None, str | None]:
    """GET ``resource`` (``/config``, ``/info``) from CRI-O's status API on its socket: the same
    answer ``crio status config|info`` prints, without starting a crio process.
    Returns ``(body, None)`` or ``(None, error)``."""
    connection = _UnixHTTPConnection(socket_path, timeout)
    try:
        connection.request("GET", resource)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return None, f"GET {resource} on {socket_path}: {exc}"
    finally:
        connection.close()
    if response.status != 200:
        return None, f"GET {resource} on {socket_path}: HTTP {response.status} {body.strip()[:200]}"
    return body, None


def crio_facts(run, endpoint: str, timeout: int = 10) -> dict:
    """CRI-O's effective configuration, as the running daemon reports it (GET /config on its
    socket, what ``crio status config`` prints). ``version`` is filled in by collect(): from the
    CRI Version RPC, or ``crio version`` when the CRI does not answer."""
    if not _resolve("crio"):
        return {"installed": False}
    facts = {"installed": True, "version": "unknown"}
    facts["config_dump"], facts["config_error"] = crio_status_get(endpoint[len("unix://"):], "/config", timeout)
    facts["service"] = service_facts(run, "crio")
    return facts


def crio_version(run) -> str:
    """``crio version`` (asked only when the CRI does not answer with the version)."""
    rc, out, _ = run(["crio", "version"])
    version = re.search(r"^Version:\s*(\S+)", out, re.MULTILINE) if rc == 0 else None
    return version.group(1) if version else "unknown"


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
                         "source": f"CRI-O GET /config: crio.runtime.runtimes.{name}.runtime_path"}
    if runtime == "containerd":
        runtimes = ((config.get("containerd") or {}).get("runtimes") or {})
        for name, handler in runtimes.items():
            options = handler.get("options") or {}
            binary = options.get("BinaryName") or handler.get("runtimePath") or "runc"
            path = _resolve(binary)
            out[name] = {"path": path or binary, "executable": bool(path and os.access(path, os.X_OK)),
                         "source": f"CRI Status info: config.containerd.runtimes.{name}.options.BinaryName"}
    return out


OCI_RUNTIMES_ON_PATH = ("runc", "crun")


def oci_binaries(handlers: dict) -> list[str]:
    """Executable OCI runtime binaries of the handlers, plus runc and crun found on PATH (so the
    set, and the dpkg query over it, is known before the handlers are)."""
    paths = {info["path"] for info in handlers.values() if info.get("executable")}
    paths |= {p for p in (_resolve(name) for name in OCI_RUNTIMES_ON_PATH) if p}
    return sorted(paths)


def dpkg_search_argv(paths: list[str]) -> list[str]:
    return ["dpkg-query", "--search", *sorted({os.path.realpath(p) for p in paths})]


def parse_dpkg_search(text: str) -> dict:
    """``dpkg-query --search`` lines (``pkg[, pkg...]: /path``) -> {path: first package}."""
    owners = {}
    for line in (text or "").splitlines():
        packages, sep, path = line.partition(": ")
        if sep and not line.startswith("diversion "):
            owners[path.strip()] = packages.split(",")[0].strip()
    return owners


def oci_facts(run, handlers: dict) -> dict:
    """``--version`` and owning package version of each distinct OCI runtime binary of the
    handlers (one ``dpkg-query --search`` and one ``--show`` for all of them)."""
    parsed = {}
    for info in handlers.values():
        path = info.get("path")
        if not info.get("executable") or path in parsed:
            continue
        rc, stdout, _ = run([path, "--version"])
        try:
            parsed[path] = parse_oci_runtime_version(stdout) if rc == 0 else None
        except ValueError:
            parsed[path] = None
    parsed = {path: value for path, value in parsed.items() if value}
    if not parsed:
        return {}
    owners = parse_dpkg_search(run(dpkg_search_argv(oci_binaries(handlers)))[1])
    packages = sorted({owners[os.path.realpath(p)] for p in parsed if os.path.realpath(p) in owners})
    versions = {}
    if packages:
        rc, out, _ = run(["dpkg-query", "--show", "--showformat=${binary:Package}\t${Version}\n", *packages])
        versions = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    return {path: {**value, "package_version": versions.get(owners.get(os.path.realpath(path), ""))}
            for path, value in parsed.items()}


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
        rc, out, _ = run(cri.crictl_argv(crictl, endpoint, timeout, "images", "-o", "json"))
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
    service = service_facts(run, "kubelet")
    flags = kubelet_flags(service.pop("exec_start"))
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
                 service=service)
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
    rc, out, _ = run(cri.crictl_argv(crictl, endpoint, timeout, "ps", "--state", "running", "--output", "json"))
    if rc != 0:
        return None
    return sorted({(c.get("labels") or {}).get("io.kubernetes.pod.name", "") for c in json.loads(out).get("containers") or []})


def prefetch(run, *, runtimes, endpoints, crictl: str | None, timeout: int, containerd_config: str,
             sockets: list[str]) -> None:
    """Queue every command collect() is expected to run, the slowest first (``run.start``; a
    runner without it is left alone). ``runtimes``/``endpoints``: the runtimes and CRI endpoints that
    may be asked (all installed ones while the node's runtime is still being detected). The OCI
    runtimes runc and crun on PATH are asked for their version ahead of knowing the handlers:
    read-only and nearly always needed."""
    start = getattr(run, "start", None)
    if start is None:
        return
    argvs = [["kubelet", "--version"], SERVICE_ARGV]
    if crictl:
        for url in sorted(set(sockets) | set(endpoints)):
            if cri.socket_problem(url[len("unix://"):]) is None:
                argvs.append(cri.crictl_argv(crictl, url, timeout, "version"))
                if url in endpoints:
                    argvs += [cri.crictl_argv(crictl, url, timeout, *args) for args in (
                        ("info",), ("runtime-config",), ("ps", "--state", "running", "--output", "json"), ("images", "-o", "json"))]
    # `containerd --version`, `config dump` and `crio version` run only when the CRI does not
    # answer (or lacks what they tell), so they are not started ahead; CRI-O needs no command.
    for runtime, endpoint in zip(runtimes, endpoints):
        if runtime == "containerd" and _resolve("containerd"):
            argvs.append(containerd_argvs(containerd_config, endpoint[len("unix://"):])["plugins"])
    binaries = oci_binaries({})
    argvs += [[path, "--version"] for path in binaries]
    if binaries:
        argvs.append(dpkg_search_argv(binaries))
    start(*argvs)


def collect(run, *, runtime: str, endpoint: str, crictl: str | None, timeout: int = 10,
            containerd_config: str = "/etc/containerd/config.toml", crictl_config: str = "/etc/crictl.yaml",
            kubelet_configs: list[str] | None = None, sockets: list[str] | None = None) -> dict:
    """Gather every fact run_checks needs, for a node whose runtime should be ``runtime``.

    With a ``Runner`` the commands are started together first (prefetch) and run side by side.
    Questions the CRI answers are not asked again of a command (runtime version, CRI-O's and
    containerd's effective config); those commands run only when the CRI does not answer.
    """
    prefetch(run, runtimes=[runtime], endpoints=[endpoint], crictl=crictl, timeout=timeout,
             containerd_config=containerd_config, sockets=list(sockets or []))
    facts = {"runtime": runtime, "endpoint": endpoint}
    facts["kernel"] = kernel_facts()
    facts["crictl"] = crictl_facts(crictl_config)
    facts["kubelet"] = kubelet_facts(run, list(kubelet_configs or DEFAULT_KUBELET_CONFIGS))
    facts["sockets"] = socket_facts(run, crictl, timeout, endpoint, list(sockets or []))
    installed = bool(_resolve(runtime))  # the runtime's binary has the runtime's name
    facts["cri"] = cri_facts(run, crictl, endpoint, timeout) if installed else {"endpoint": endpoint, "error": {
        "kind": "not_installed", "message": f"{runtime} is not installed"}}
    answered = not facts["cri"].get("error")
    info = facts["cri"].get("info", {})
    cri_version = (facts["cri"].get("version") or {}).get("runtime_version") if answered else None
    if runtime == "containerd":
        facts["containerd"] = containerd_facts(run, containerd_config, endpoint[len("unix://"):], cri_version=cri_version,
                                               need_dump=not answered or not (info.get("config") or {}).get("sandboxImage"))
    elif runtime == "crio":
        facts["crio"] = crio_facts(run, endpoint, timeout)
        if facts["crio"]["installed"]:
            facts["crio"]["version"] = cri_version or crio_version(run)
    facts["handlers"] = handler_facts(info, runtime, facts.get("crio"))
    facts["oci"] = oci_facts(run, facts["handlers"])
    facts["cni"] = cni_facts(info, facts.get("crio"))
    facts["running_pods"] = running_pods(run, crictl, endpoint, timeout) if answered else None
    facts["sandbox"] = sandbox_facts(run, crictl, endpoint, info, facts.get(runtime, {}).get("dump"), timeout) \
        if answered else {}
    return facts
