# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Collect the chain's effective state on a node: what daemons report, commands print, the kernel exposes.

All I/O of runtime_chain_info lives here. Commands run through ``run(argv) -> (rc, stdout,
stderr)`` (the module passes ``AnsibleModule.run_command`` with a C locale, wrapped in
``Commands``); files are read directly. Files are parsed with libraries: TOML with
``tomllib`` (Python 3.11+) or ``tomli``, YAML with PyYAML, JSON with ``json``. A missing
component yields ``installed/present: False``, never an exception, so a half-built chain is
described rather than crashing the module.

Every path and endpoint is a parameter: the roles that own the daemons pass them (role
verify), so nothing here knows where a runtime listens.
"""

from __future__ import annotations

import glob
import gzip
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import time

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover - Python < 3.11 nodes (python3-tomli)
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

try:
    import yaml
except ImportError:  # pragma: no cover - the module reports it (role verify installs python3-yaml)
    yaml = None

from . import cri
from .chain import crio_config
from .versions import parse_containerd_version, parse_oci_runtime_version, parse_semver

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
SERVICE_UNITS = ("kubelet", "containerd", "crio")
SERVICE_ARGV = ["systemctl", "show", *SERVICE_UNITS, "--property=Id,ActiveState,UnitFileState,MainPID,InvocationID,ExecStart,Environment,EnvironmentFiles"]
OCI_RUNTIMES_ON_PATH = ("runc", "crun")


class Commands:
    """``run(argv) -> (rc, stdout, stderr)`` over ``runner`` (``AnsibleModule.run_command``
    with a C locale and ``handle_exceptions=False``), one after the other. A command that
    cannot be started (missing executable) gives rc 127 and the error as stderr.

    Every command of runtime_chain_info only reads, so one answer per argv serves every
    caller of the run (the auto-detection and the checks ask the same questions). ``log``
    lists each command actually run: argv, rc and seconds (monotonic clock).
    """

    def __init__(self, runner):
        self._runner = runner
        self._done: dict[tuple, tuple[int, str, str]] = {}
        self.log: list[dict] = []

    def __call__(self, argv) -> tuple[int, str, str]:
        key = tuple(argv)
        if key not in self._done:
            started = time.monotonic()
            try:
                rc, out, err = self._runner(list(argv))
            except OSError as exc:  # the executable is missing: a fact (that link is absent), not a crash
                rc, out, err = 127, "", str(exc)
            self._done[key] = (rc, out or "", err or "")
            self.log.append({"argv": list(argv), "rc": rc, "seconds": round(time.monotonic() - started, 3)})
        return self._done[key]


def read(path: str | None) -> str | None:
    """The text of ``path``, or ``None`` when it cannot be read."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


# ---------------------------------------------------------------- pure parsers

def parse_toml(text: str | None) -> tuple[dict | None, str | None]:
    """``(document, None)`` for TOML ``text``, ``(None, error)`` when it does not parse,
    ``(None, None)`` for no text."""
    if text is None:
        return None, None
    if tomllib is None:
        return None, "no TOML parser on this node: Python 3.11+ (tomllib) or python3-tomli is needed"
    try:
        return tomllib.loads(text), None
    except (ValueError, TypeError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        return None, str(exc)


def parse_yaml(text: str | None) -> tuple[dict | None, str | None]:
    """``(mapping, None)`` for a YAML mapping, ``(None, error)`` otherwise, ``(None, None)`` for no text."""
    if text is None:
        return None, None
    if yaml is None:
        return None, "PyYAML is not installed on this node (python3-yaml)"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, str(exc).replace("\n", " ")
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return None, f"not a YAML mapping ({type(data).__name__})"
    return data, None


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


def flags_of(words: list[str]) -> dict:
    """``--name=value`` and ``--name value`` flags among command-line ``words``."""
    flags = {}
    for index, word in enumerate(words):
        if not word.startswith("--") or len(word) < 3:
            continue
        name, sep, value = word[2:].partition("=")
        if not sep:
            following = words[index + 1] if index + 1 < len(words) else ""
            value = following if following and not following.startswith("-") and following != ";" else ""
        flags[name] = value
    return flags


def exec_start_argv(exec_start: str) -> list[str]:
    """The argv of systemd's ``ExecStart`` property (``{ path=... ; argv[]=<argv> ; ... }``)."""
    match = re.search(r"argv\[\]=(.*?) ;", exec_start or "")
    return shlex.split(match.group(1)) if match else []


def parse_environment(words: list[str]) -> dict:
    """``NAME=value`` assignments (systemd ``Environment=`` words, or environment-file lines
    already split by shlex) -> {NAME: value}."""
    env = {}
    for word in words:
        name, sep, value = word.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            env[name] = value
    return env


def environment_file(text: str) -> dict:
    """The assignments of a systemd environment file (``KUBELET_KUBEADM_ARGS="--a=b --c d"``)."""
    env = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        try:
            env.update(parse_environment(shlex.split(line)))
        except ValueError:
            continue
    return env


def expand_argv(argv: list[str], env: dict) -> tuple[list[str], dict]:
    """Expand systemd's ``$NAME`` (split into words) and ``${NAME}`` (one word) in ``argv``.

    Returns the effective argv and, for each word that came from a variable, that variable's
    name (word index -> name)."""
    out, origin = [], {}
    for word in argv:
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}", word)
        if whole and whole.group(1):
            for part in env.get(whole.group(1), "").split():
                origin[len(out)] = whole.group(1)
                out.append(part)
        elif whole:
            origin[len(out)] = whole.group(2)
            out.append(env.get(whole.group(2), ""))
        else:
            out.append(word)
    return out, origin


def service_command_line(service: dict, read_file=None, unit: str = "kubelet") -> dict:
    """A service's (kubelet's, CRI-O's) effective command line: the running process's (``/proc/<MainPID>/cmdline``),
    else its unit's (``systemctl show``) ExecStart with ``Environment=`` and the
    ``EnvironmentFile=`` files expanded, as systemd would run it.

    Returns ``{argv, flags, flag_sources, from_process}`` where ``flag_sources`` names, for
    each flag, where it was written (an environment file, the unit's Environment=, or its
    ExecStart)."""
    read_file = read_file or read
    try:
        # systemd quotes assignments that hold spaces; older versions escaped them as \x20.
        escaped = (service.get("environment") or "").replace("\\x20", "\0")
        env_words = [word.replace("\0", " ") for word in shlex.split(escaped)]
    except ValueError:
        env_words = []
    env = parse_environment(env_words)
    defined_in = {name: f"{unit} unit Environment=" for name in env}
    for path in service.get("environment_files") or []:
        path = path.lstrip("-")
        assignments = environment_file(read_file(path) or "")
        env.update(assignments)
        defined_in.update({name: path for name in assignments})
    argv, origin = expand_argv(exec_start_argv(service.get("exec_start", "")), env)
    running = (read_file(f"/proc/{service['main_pid']}/cmdline") or "") if service.get("main_pid") else ""
    if running:  # what the running kubelet was started with wins over what the unit would start
        argv = [word for word in running.split("\0") if word]
    flags = flags_of(argv)
    unit_argv, _origin = expand_argv(exec_start_argv(service.get("exec_start", "")), env)
    sources = {}
    for index, word in enumerate(unit_argv):
        if word.startswith("--"):
            name = word[2:].partition("=")[0]
            sources[name] = defined_in.get(origin[index], f"{unit} unit") if index in origin else f"{unit} unit ExecStart"
    return {"argv": argv, "flags": flags, "flag_sources": {name: sources.get(name, f"{unit} command line") for name in flags},
            "from_process": bool(running)}


def cni_plugin_types(config_text: str) -> list[str]:
    """Plugin types a CNI .conf/.conflist needs (``type`` of each plugin)."""
    try:
        data = json.loads(config_text)
    except ValueError:
        return ["<unparsable>"]
    plugins = data.get("plugins") if isinstance(data, dict) and "plugins" in data else [data]
    return [p.get("type", "") for p in plugins if isinstance(p, dict)]


def parse_systemctl_show(text: str) -> dict:
    """Blocks of ``Key=value`` lines of ``systemctl show`` for several units, by unit name
    (``Id`` without ``.service``); values may contain ``=``."""
    units = {}
    for block in re.split(r"\n\s*\n", text or ""):
        props: dict = {"EnvironmentFiles": []}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if not sep:
                continue
            if key == "EnvironmentFiles":  # one line per file: "<path> (ignore_errors=yes|no)"
                props[key].append(value.rsplit(" (", 1)[0])
            else:
                props[key] = value
        if props.get("Id"):
            units[props["Id"].removesuffix(".service")] = props
    return units


def parse_dpkg_search(text: str) -> dict:
    """``dpkg-query --search`` lines (``pkg[, pkg...]: /path``) -> {path: first package}."""
    owners = {}
    for line in (text or "").splitlines():
        packages, sep, path = line.partition(": ")
        if sep and not line.startswith("diversion "):
            owners[path.strip()] = packages.split(",")[0].strip()
    return owners


def socket_path(url: str) -> str:
    """The socket path of a ``unix://`` endpoint (a bare path is returned as is)."""
    return url[len("unix://"):] if url.startswith("unix://") else url


def socket_identities(urls) -> dict:
    """Each endpoint of ``urls`` -> the real path of its socket on this node (symlinks such as
    ``/var/run`` -> ``/run`` resolved; a path that does not exist resolves as far as it can)."""
    return {url: os.path.realpath(socket_path(url)) for url in sorted({u for u in urls if isinstance(u, str) and u})}


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
    """``active`` (ActiveState), ``enabled`` (UnitFileState), ``exec_start``, ``environment``
    and ``environment_files`` of a unit of SERVICE_UNITS: one ``systemctl show`` answers for
    all of them; ``unknown`` where systemd has no value (no such unit)."""
    props = parse_systemctl_show(run(SERVICE_ARGV)[1]).get(unit, {})
    return {"active": props.get("ActiveState") or "unknown", "enabled": props.get("UnitFileState") or "unknown",
            "exec_start": props.get("ExecStart", ""), "environment": props.get("Environment", ""),
            "environment_files": props.get("EnvironmentFiles", []), "main_pid": int(props.get("MainPID") or 0),
            "invocation_id": props.get("InvocationID") or None}


def journal_error(text: str) -> str | None:
    """The daemon's own reason for stopping, from its journal lines (``journalctl -o cat``):
    the last line that is ``level=fatal``/``level=error`` or says failed/error/invalid/cannot;
    logfmt lines give their ``msg`` and ``error`` values."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    found = [line for line in lines if "level=fatal" in line or "level=error" in line
             or re.search(r"fail|error|invalid|cannot", line, re.IGNORECASE)]
    if not found:
        return None
    line = found[-1]
    parts = [m.group(2).replace('\\"', '"') for m in re.finditer(r'\b(msg|error)="((?:[^"\\]|\\.)*)"', line)]
    return ": ".join(parts) if parts else line


def service_journal_error(run, unit: str, invocation_id: str | None = None) -> str | None:
    """The last error the unit's own process wrote to the journal (not systemd's lines about
    it), in its latest invocation (``invocation_id``, systemd's InvocationID) when known."""
    matches = ([f"_SYSTEMD_INVOCATION_ID={invocation_id}"] if invocation_id else []) + [f"_SYSTEMD_UNIT={unit}.service"]
    for match in matches:  # a unit waiting to restart has a new invocation with no lines yet
        rc, out, _stderr = run(["journalctl", match, "-n", "30", "-o", "cat", "--no-pager"])
        reason = journal_error(out) if rc == 0 else None
        if reason:
            return reason
    return None


def cri_facts(run, crictl: str | None, endpoint: str, timeout: int) -> dict:
    """The runtime's CRI answers (cri.query), or ``{"error": {kind, message}}``."""
    if not crictl:
        return {"endpoint": endpoint, "error": {"kind": "no_crictl", "message": cri.ERROR_HINTS["no_crictl"]}}
    try:
        return {"endpoint": endpoint, **cri.query(run, crictl, endpoint, timeout)}
    except cri.CriError as exc:
        return {"endpoint": endpoint, "error": {"kind": exc.kind, "message": f"{cri.ERROR_HINTS[exc.kind]} ({exc.detail})"}}


def socket_facts(run, crictl: str | None, timeout: int, endpoints: list[str]) -> dict:
    """For each CRI endpoint: does its socket exist, does a CRI runtime answer, and which?"""
    out = {}
    for url in sorted(set(endpoints)):
        exists = cri.socket_problem(socket_path(url)) is None
        answers, name = False, None
        if exists and crictl:
            rc, stdout, _stderr = run(cri.crictl_argv(crictl, url, timeout, "version"))
            if rc == 0:
                answers = True
                name = cri.parse_crictl_version(stdout).get("runtime_name")
        out[url] = {"exists": exists, "answers": answers, "runtime_name": name}
    return out


def toml_file_facts(path: str) -> dict:
    """A TOML file the runtime reads: ``path``, ``present``, the parsed ``config`` (or None) and ``config_error``."""
    text = read(path)
    config, error = parse_toml(text)
    return {"path": path, "present": text is not None, "config": config, "config_error": error}


def containerd_facts(run, config_path: str, address: str, cri_version: str | None = None, need_dump: bool = True,
                     binary: str = "containerd") -> dict:
    """containerd's version, config file, effective config, plugin states and service state.

    ``binary``: the containerd executable (its ``ctr`` is the one next to it, else on PATH).
    ``cri_version``: the version the CRI Version RPC reported (then ``containerd --version`` is
    not run). ``need_dump``: run ``containerd config dump`` (needed when the CRI does not
    answer, to tell a disabled CRI plugin, or when the CRI status lacks the sandbox image).
    """
    sibling = os.path.join(os.path.dirname(binary), "ctr") if os.path.isabs(binary) else ""
    ctr = sibling if sibling and os.access(sibling, os.X_OK) else "ctr"
    if cri_version:
        facts = {"installed": True, "version": cri_version.lstrip("v")}
    else:
        rc, out, _stderr = run([binary, "--version"])
        if rc != 0:
            return {"installed": False, "config_path": config_path}
        facts = {"installed": True, "version": parse_containerd_version(out)["version"]}
    file = toml_file_facts(config_path)
    facts.update(config_path=config_path, config_present=file["present"], config=file["config"], config_error=file["config_error"])
    facts["dump"] = facts["dump_error"] = None
    if need_dump:
        rc, out, err = run([binary, "--config", config_path, "config", "dump"])
        facts["dump"], parse_error = parse_toml(out) if rc == 0 else (None, None)
        facts["dump_error"] = (cri.last_error_line(err) or err.strip()) if rc != 0 else parse_error
    rc, out, err = run([ctr, "--address", address, "plugins", "ls"])
    facts["plugins"] = parse_ctr_plugins(out) if rc == 0 else []
    facts["plugins_error"] = None if rc == 0 else err.strip()
    if any(p["status"] == "error" for p in facts["plugins"]):
        errors = plugin_errors(run([ctr, "--address", address, "plugins", "ls", "-d"])[1])
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


def crio_status_get(path: str, resource: str, timeout: float) -> tuple[str | None, str | None]:
    """GET ``resource`` (``/config``, ``/info``) from CRI-O's status API on its socket ``path``:
    the same answer ``crio status config|info`` prints, without starting a crio process.
    Returns ``(body, None)`` or ``(None, error)``."""
    connection = _UnixHTTPConnection(path, timeout)
    try:
        connection.request("GET", resource)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return None, f"GET {resource} on {path}: {exc}"
    finally:
        connection.close()
    if response.status != 200:
        return None, f"GET {resource} on {path}: HTTP {response.status} {body.strip()[:200]}"
    return body, None


CRIO_CONFIG = "/etc/crio/crio.conf"  # crio's --config default
CRIO_CONFIG_DIR = "/etc/crio/crio.conf.d"  # crio's --config-dir default


def crio_config_files(flags: dict, config_dir: str | None = None, listdir=None) -> list[str]:
    """The files CRI-O loads, in its order: ``--config`` (default /etc/crio/crio.conf), then
    every file of ``--config-dir`` (``config_dir``, else /etc/crio/crio.conf.d) in lexical
    order, each overriding the keys it sets. ``flags``: its command line (service_command_line)."""
    listdir = listdir or (lambda d: sorted(os.listdir(d)) if os.path.isdir(d) else [])
    directory = flags.get("config-dir") or config_dir or CRIO_CONFIG_DIR
    return [flags.get("config") or CRIO_CONFIG] + [os.path.join(directory, name) for name in sorted(listdir(directory))]


def crio_layers(paths: list[str]) -> list[dict]:
    """Each CRI-O configuration file that exists: ``{path, config, error}`` (parsed TOML)."""
    layers = []
    for path in paths:
        text = read(path)
        if text is not None:
            config, error = parse_toml(text)
            layers.append({"path": path, "config": config, "error": error})
    return layers


def crio_facts(run, endpoint: str, timeout: int = 10, binary: str = "crio", own_config: str | None = None) -> dict:
    """CRI-O's effective configuration, as the running daemon reports it (GET /config on its
    socket, what ``crio status config`` prints, parsed as TOML), and the files it was loaded
    from (``layers``, in load order, from its command line; ``own_config``: the drop-in the
    role owns, whose directory is the default --config-dir). ``version`` is filled in by
    collect(): from the CRI Version RPC, or ``crio version`` when the CRI does not answer."""
    if not _resolve(binary):
        return {"installed": False}
    facts = {"installed": True, "version": "unknown", "own_config": own_config}
    body, error = crio_status_get(socket_path(endpoint), "/config", timeout)
    config, parse_error = parse_toml(body)
    facts["config"], facts["config_error"] = config, error or parse_error
    service = service_facts(run, "crio")
    facts["service"] = service
    flags = service_command_line(service, unit="crio")["flags"]
    facts["layers"] = crio_layers(crio_config_files(flags, os.path.dirname(own_config) if own_config else None))
    return facts


def crio_version(run) -> str:
    """``crio version`` (asked only when the CRI does not answer with the version)."""
    rc, out, _stderr = run(["crio", "version"])
    version = re.search(r"^Version:\s*(\S+)", out, re.MULTILINE) if rc == 0 else None
    return version.group(1) if version else "unknown"


def _resolve(binary: str) -> str | None:
    if os.path.isabs(binary):
        return binary
    return shutil.which(binary, path=os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin")


def _handler(binary: str, source: str) -> dict:
    path = _resolve(binary)
    return {"path": path or binary, "executable": bool(path and os.access(path, os.X_OK)), "source": source}


def handler_facts(info: dict, runtime: str, crio: dict | None = None) -> dict:
    """Runtime handler -> OCI runtime binary: containerd's verbose Status info, or CRI-O's
    effective configuration (``crio status config``)."""
    out = {}
    if runtime == "crio":
        for name, handler in crio_config(crio or {})["runtimes"].items():
            out[name] = _handler(handler.get("runtime_path") or name, f"CRI-O GET /config: crio.runtime.runtimes.{name}.runtime_path")
    if runtime == "containerd":
        config = (info or {}).get("config") or {}
        for name, handler in ((config.get("containerd") or {}).get("runtimes") or {}).items():
            options = handler.get("options") or {}
            binary = options.get("BinaryName") or handler.get("runtimePath") or "runc"
            out[name] = _handler(binary, f"CRI Status info: config.containerd.runtimes.{name}.options.BinaryName")
    return out


def oci_facts(run, handlers: dict) -> dict:
    """``--version`` and owning package version of each distinct OCI runtime binary of the
    handlers (one ``dpkg-query --search`` and one ``--show`` for all of them)."""
    parsed = {}
    for info in handlers.values():
        path = info.get("path")
        if not info.get("executable") or path in parsed:
            continue
        rc, stdout, _stderr = run([path, "--version"])
        try:
            parsed[path] = parse_oci_runtime_version(stdout) if rc == 0 else None
        except ValueError:
            parsed[path] = None
    parsed = {path: value for path, value in parsed.items() if value}
    if not parsed:
        return {}
    real = {path: os.path.realpath(path) for path in parsed}
    owners = parse_dpkg_search(run(["dpkg-query", "--search", *sorted(set(real.values()))])[1]) if _resolve("dpkg-query") else {}
    packages = sorted({owners[r] for r in real.values() if r in owners})
    versions = {}
    if packages:
        _rc, out, _stderr = run(["dpkg-query", "--show", "--showformat=${binary:Package}\t${Version}\n", *packages])
        versions = dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)
    candidates = parse_apt_policy(run(["apt-cache", "policy", *packages])[1]) if packages and _resolve("apt-cache") else {}
    out = {}
    for path, value in parsed.items():
        package = owners.get(real[path])
        out[path] = {**value, "package": package, "package_version": versions.get(package or ""),
                     "changelog_cves": package_changelog_cves(package) if package else None,
                     "changelog": f"/usr/share/doc/{package}/changelog.Debian.gz" if package else None,
                     "candidate": candidates.get(package or "")}
    return out


def parse_apt_policy(text: str) -> dict:
    """``apt-cache policy <packages>`` -> {package: candidate version} (``(none)`` left out)."""
    candidates, package = {}, None
    for line in (text or "").splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            package = line[:-1].split(":")[0]
        elif package and line.strip().startswith("Candidate:"):
            candidate = line.split(":", 1)[1].strip()
            if candidate and candidate != "(none)":
                candidates[package] = candidate
    return candidates


def package_changelog_cves(package: str, doc_dir: str = "/usr/share/doc") -> list[str] | None:
    """The CVE ids the installed package's Debian changelog names as fixed (its
    ``changelog.Debian.gz``, and ``changelog.Debian.<arch>.gz`` of binary rebuilds), or None
    when the package ships no changelog (then nothing is known about backports)."""
    paths = sorted(glob.glob(os.path.join(doc_dir, package, "changelog.Debian*.gz")))
    if not paths:
        return None
    cves = set()
    for path in paths:
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                cves.update(re.findall(r"CVE-\d{4}-\d{4,}", handle.read()))
        except (OSError, EOFError):
            continue
    return sorted(cves)


def cni_facts(info: dict, crio: dict | None = None) -> dict:
    cfg = ((info or {}).get("config") or {}).get("cni") or {}
    bin_dirs = cfg.get("binDirs") or ([cfg["binDir"]] if cfg.get("binDir") else [])
    conf_dir = cfg.get("confDir") or "/etc/cni/net.d"
    if crio and crio.get("config"):
        effective = crio_config(crio)
        bin_dirs, conf_dir = list(effective["plugin_dirs"]), effective["network_dir"] or conf_dir
    configs = {}
    for path in sorted(glob.glob(os.path.join(conf_dir, "*"))):
        if path.endswith((".conf", ".conflist", ".json")):
            configs[os.path.basename(path)] = cni_plugin_types(read(path) or "")
    binaries = sorted({name for d in bin_dirs for name in (os.listdir(d) if os.path.isdir(d) else [])})
    # libcni (both runtimes) loads the first network config in lexical order of its name.
    active = next(iter(configs), None)
    resolved = {plugin: next((os.path.join(d, plugin) for d in bin_dirs
                              if plugin and os.path.isfile(os.path.join(d, plugin)) and os.access(os.path.join(d, plugin), os.X_OK)), None)
                for plugin in configs.get(active, [])} if active else {}
    source = "CRI-O GET /config: crio.network.plugin_dirs" if crio and crio.get("config") else "CRI Status info: config.cni.binDirs"
    return {"conf_dir": conf_dir, "bin_dirs": bin_dirs, "bin_dirs_source": source, "configs": configs, "binaries": binaries,
            "active": active, "resolved": resolved}


def sandbox_facts(run, crictl: str | None, endpoint: str, info: dict, dump: dict | None, timeout: int) -> dict:
    config = (info or {}).get("config") or {}
    image, source = config.get("sandboxImage"), "CRI Status info: config.sandboxImage"
    if not image and dump:
        images = ((dump.get("plugins") or {}).get("io.containerd.cri.v1.images") or {})
        image = (images.get("pinned_images") or {}).get("sandbox")
        source = "containerd config dump: plugins.'io.containerd.cri.v1.images'.pinned_images.sandbox"
    present = None
    if image and crictl:
        rc, out, _stderr = run(cri.crictl_argv(crictl, endpoint, timeout, "images", "-o", "json"))
        if rc == 0:
            tags = {t for img in json.loads(out).get("images", []) for t in img.get("repoTags") or []}
            present = image in tags or f"{image}:latest" in tags
    return {"image": image, "source": source, "present": present}


def crictl_facts(path: str) -> dict:
    config, error = parse_yaml(read(path))
    return {"config_path": path, "config": config, "config_error": error}


def static_pod_names(directory: str) -> list[str]:
    """``metadata.name`` of each Pod manifest (YAML or JSON) in kubelet's staticPodPath."""
    names = []
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        if path.endswith((".yaml", ".yml", ".json")):
            manifest, _error = parse_yaml(read(path))
            name = ((manifest or {}).get("metadata") or {}).get("name")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def kubelet_facts(run, config_paths: list[str], instance_config: str | None) -> dict:
    """kubelet's version, its effective command line (service_command_line), its
    KubeletConfiguration (the command line's --config, else the first of ``config_paths`` that
    exists), the kubeadm node-local CRI record (``instance_config``), static pods and service state."""
    rc, out, _stderr = run(["kubelet", "--version"])
    if rc != 0:
        return {"present": False}
    version = out.strip().split()[-1] if out.strip() else ""
    facts = {"present": True, "version": version, "minor": (parse_semver(version) or (0, 0, 0))[1]}
    service = service_facts(run, "kubelet")
    command = service_command_line(service)
    flags = command["flags"]
    config_path = flags.get("config") or next((p for p in config_paths if os.path.exists(p)), None)
    config, config_error = parse_yaml(read(config_path))
    instance, _error = parse_yaml(read(instance_config))
    config = config or {}
    endpoint, source = config.get("containerRuntimeEndpoint"), config_path
    if (instance or {}).get("containerRuntimeEndpoint"):
        endpoint, source = instance["containerRuntimeEndpoint"], instance_config
    flag_source = command["flag_sources"].get("container-runtime-endpoint")
    if flags.get("container-runtime-endpoint"):
        endpoint, source = flags["container-runtime-endpoint"], flag_source
    image_endpoint, image_source = config.get("imageServiceEndpoint"), config_path
    image_flag_source = command["flag_sources"].get("image-service-endpoint")
    if flags.get("image-service-endpoint"):
        image_endpoint, image_source = flags["image-service-endpoint"], image_flag_source
    static_dir = config.get("staticPodPath")
    facts.update(config_path=config_path, config=config, config_error=config_error, flags=flags, endpoint=endpoint,
                 endpoint_source=source, endpoint_flag=flag_source if flags.get("container-runtime-endpoint") else None,
                 image_endpoint=image_endpoint, image_endpoint_source=image_source,
                 image_endpoint_flag=image_flag_source if flags.get("image-service-endpoint") else None,
                 service={k: service[k] for k in ("active", "enabled")}, argv=command["argv"],
                 static_pods=static_pod_names(static_dir) if static_dir else [], static_pod_path=static_dir)
    return facts


def running_pods(run, crictl: str | None, endpoint: str, timeout: int) -> list[str] | None:
    """Pod names (``io.kubernetes.pod.name``) that have a running container, or ``None``."""
    if not crictl:
        return None
    rc, out, _stderr = run(cri.crictl_argv(crictl, endpoint, timeout, "ps", "--state", "running", "--output", "json"))
    if rc != 0:
        return None
    return sorted({(c.get("labels") or {}).get("io.kubernetes.pod.name", "") for c in json.loads(out).get("containers") or []})


def collect(run, *, runtime: str, endpoint: str, endpoints: dict, crictl: str | None, timeout: int = 10,
            containerd_config: str, crictl_config: str, kubelet_configs: list[str], kubelet_instance_config: str | None = None,
            other_endpoints: list[str] | None = None, binaries: dict | None = None, crio_config: str | None = None) -> dict:
    """Gather every fact run_checks needs, for a node whose runtime should be ``runtime`` at ``endpoint``.

    ``endpoints`` maps each runtime to its CRI endpoint (all are probed for a second runtime,
    with ``other_endpoints``); ``binaries`` each runtime to its executable (default: its name
    on PATH). Questions the CRI answers are not asked again of a command
    (runtime version, CRI-O's and containerd's effective config); those commands run only
    when the CRI does not answer.
    """
    facts = {"runtime": runtime, "endpoint": endpoint, "endpoints": dict(endpoints)}
    facts["kernel"] = kernel_facts()
    facts["crictl"] = crictl_facts(crictl_config)
    facts["kubelet"] = kubelet_facts(run, kubelet_configs, kubelet_instance_config)
    probed = [endpoint, *endpoints.values(), *(other_endpoints or [])]
    facts["sockets"] = socket_facts(run, crictl, timeout, probed)
    clients = [(facts["crictl"]["config"] or {}).get(key) for key in ("runtime-endpoint", "image-endpoint")]
    clients += [facts["kubelet"].get(key) for key in ("endpoint", "image_endpoint")]
    facts["socket_paths"] = socket_identities([*probed, *clients])
    binary = (binaries or {}).get(runtime) or runtime  # the runtime's binary has the runtime's name
    installed = bool(_resolve(binary)) and os.access(_resolve(binary), os.X_OK)
    facts["cri"] = cri_facts(run, crictl, endpoint, timeout) if installed else {"endpoint": endpoint, "error": {
        "kind": "not_installed", "message": f"{runtime} is not installed"}}
    answered = not facts["cri"].get("error")
    info = facts["cri"].get("info", {})
    cri_version = (facts["cri"].get("version") or {}).get("runtime_version") if answered else None
    if runtime == "containerd":
        facts["containerd"] = containerd_facts(run, containerd_config, socket_path(endpoint), cri_version=cri_version,
                                               need_dump=not answered or not (info.get("config") or {}).get("sandboxImage"),
                                               binary=binary)
    elif runtime == "crio":
        facts["crio"] = crio_facts(run, endpoint, timeout, binary, crio_config)
        if facts["crio"]["installed"]:
            facts["crio"]["version"] = cri_version or crio_version(run, binary)
    service = (facts.get(runtime) or {}).get("service")
    if service and service.get("active") != "active":
        service["journal_error"] = service_journal_error(run, runtime, service.get("invocation_id"))
    facts["handlers"] = handler_facts(info, runtime, facts.get("crio"))
    facts["oci"] = oci_facts(run, facts["handlers"])
    facts["cni"] = cni_facts(info, facts.get("crio"))
    facts["running_pods"] = running_pods(run, crictl, endpoint, timeout) if answered else None
    facts["sandbox"] = sandbox_facts(run, crictl, endpoint, info, facts.get(runtime, {}).get("dump"), timeout) \
        if answered else {}
    return facts


def debian_version_compare(run):
    """A comparator ``(a, b) -> -1|0|1`` of Debian package versions in apt's order:
    ``apt_pkg.version_compare`` (python3-apt), else ``dpkg --compare-versions`` through ``run``;
    ``None`` on a node with neither (no backport is then assumed)."""
    try:
        import apt_pkg  # pylint: disable=import-outside-toplevel

        apt_pkg.init_config()
        apt_pkg.init_system()
        return lambda a, b: (apt_pkg.version_compare(a, b) > 0) - (apt_pkg.version_compare(a, b) < 0)
    except (ImportError, SystemError):
        pass
    if not _resolve("dpkg"):
        return None

    def compare(a: str, b: str) -> int:
        if run(["dpkg", "--compare-versions", a, "lt", b])[0] == 0:
            return -1
        return 0 if run(["dpkg", "--compare-versions", a, "eq", b])[0] == 0 else 1

    return compare


# ---------------------------------------------------------------- registries

def containerd_registry_config_path(info: dict, config: dict | None) -> tuple[str | None, str]:
    """The registry hosts directory containerd reads, and where that came from: the CRI Status
    info (``config.registry.configPath``), else the config file (v3/v4 and v2 tables)."""
    path = ((info.get("config") or {}).get("registry") or {}).get("configPath")
    if path:
        return path, "CRI Status info: config.registry.configPath"
    plugins = (config or {}).get("plugins") or {}
    for table in ("io.containerd.cri.v1.images", "io.containerd.grpc.v1.cri"):
        path = ((plugins.get(table) or {}).get("registry") or {}).get("config_path")
        if path:
            return path, f"config.toml: plugins.'{table}'.registry.config_path"
    return None, "containerd reports no registry config_path"


def containerd_registry_facts(config_path: str | None, registries: list[str]) -> dict:
    """What containerd would use for each of ``registries``: ``<config_path>/<registry>/hosts.toml``
    parsed (``server``, ``mirrors`` in the order containerd tries them: url, ca, skip_verify,
    authorization, override_path), or ``error``. ``others``: configured registries not asked
    for. The Authorization header's value never leaves this function: only whether it is set
    (``has_credentials``) and, for the probe, the header itself under ``_authorization``."""
    out: dict = {"config_path": config_path, "registries": {}, "others": []}
    if not config_path:
        return out
    first = config_path.split(":")[0]  # containerd takes the first of a colon-separated list
    try:
        present = sorted(os.listdir(first))
    except OSError:
        present = []
    out["others"] = [name for name in present if name not in registries]
    for name in registries:
        path = os.path.join(first, name, "hosts.toml")
        doc = toml_file_facts(path)
        entry: dict = {"source": path, "present": doc["present"], "error": doc["config_error"], "mirrors": []}
        config = doc["config"] or {}
        hosts = list((config.get("host") or {}).items())
        entry["server"] = server = config.get("server")
        # A server that is not the registry itself is a mirror too (the last one tried, with the
        # file's top-level settings), unless it repeats a [host] (role containerd's mirrors_only).
        if server and server.split("://", 1)[-1].split("/", 1)[0] not in (name, "registry-1.docker.io") \
                and server.rstrip("/") not in [url.rstrip("/") for url, _host in hosts]:
            hosts.append((server, config))
        for url, host in hosts:
            header = host.get("header") or {}
            auth = header.get("Authorization") or header.get("authorization")
            auth = auth[0] if isinstance(auth, list) and auth else auth
            ca = host.get("ca")
            entry["mirrors"].append({"url": url, "ca": [ca] if isinstance(ca, str) else list(ca or []),
                                     "skip_verify": bool(host.get("skip_verify")), "override_path": bool(host.get("override_path")),
                                     "has_credentials": bool(auth), "_authorization": auth or ""})
        out["registries"][name] = entry
    return out


def crio_registry_facts(conf: str, certs_dir: str, auth_file: str | None, registries: list[str]) -> dict:
    """What CRI-O (containers/image) would use for each of ``registries``: the ``[[registry]]``
    table whose prefix is the registry, from ``conf`` and its ``.d`` drop-ins in lexical order
    (a later table with the same prefix replaces an earlier one, containers-registries.conf(5)),
    its mirrors (location, insecure, the CA files of ``<certs_dir>/<host>/*.crt``, whether the
    auth file has credentials for it), or ``error``."""
    files = [conf, *sorted(glob.glob(os.path.join(conf + ".d", "*.conf")))]
    tables: dict = {}
    errors = []
    for path in files:
        doc = toml_file_facts(path)
        if doc["config_error"]:
            errors.append(f"{path}: {doc['config_error']}")
        for table in (doc["config"] or {}).get("registry") or []:
            prefix = table.get("prefix") or table.get("location")
            if prefix:
                tables[prefix] = {**table, "_source": path}
    auths = {}
    if auth_file:
        text = read(auth_file)
        try:
            auths = (json.loads(text) if text else {}).get("auths") or {}
        except ValueError as exc:
            errors.append(f"{auth_file}: {exc}")
    out: dict = {"files": [f for f in files if os.path.exists(f)], "errors": errors, "registries": {},
                 "others": sorted(p for p in tables if p not in registries)}
    for name in registries:
        table = tables.get(name)
        entry: dict = {"source": (table or {}).get("_source") or ", ".join(files), "present": table is not None,
                       "error": "; ".join(errors) or None, "mirrors": []}
        mirrors = list((table or {}).get("mirror") or [])
        # A location that is not the registry itself is a mirror too (the last one tried).
        if table and table.get("location") and table["location"] != name:
            mirrors.append({"location": table["location"], "insecure": table.get("insecure")})
        for mirror in mirrors:
            location = mirror.get("location", "")
            host = location.split("/", 1)[0]
            auth = (auths.get(location) or auths.get(host) or {}).get("auth")
            # A location with a path is a repository namespace on that host: the API is at
            # https://<host>/v2/<namespace>/... (containers-registries.conf(5)).
            entry["mirrors"].append({"url": f"https://{location}", "location": location, "api_base": f"https://{host}",
                                     "namespace": location.split("/", 1)[1] if "/" in location else "",
                                     "ca": sorted(glob.glob(os.path.join(certs_dir, host, "*.crt"))),
                                     "skip_verify": bool(mirror.get("insecure")), "override_path": False,
                                     "has_credentials": bool(auth), "_authorization": f"Basic {auth}" if auth else ""})
        out["registries"][name] = entry
    return out


# What a runtime accepts when it resolves a tag (OCI and Docker manifests and indexes).
MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json"))


def image_location(reference: str) -> tuple[str, str, str] | None:
    """``(registry, repository, tag or digest)`` of a fully qualified image reference
    (``registry.k8s.io/pause:3.10.2``, ``host:5000/a/b@sha256:...``; no tag means ``latest``;
    ``docker.io/busybox`` is ``library/busybox``),
    or None for a short name (no registry host: a dot, a colon or ``localhost`` before the first /)."""
    name, digest = reference.split("@", 1) if "@" in reference else (reference, "")
    host, rest = name.split("/", 1) if "/" in name else (name, "")
    if not rest or not ("." in host or ":" in host or host == "localhost"):
        return None
    repository, tag = rest.rsplit(":", 1) if ":" in rest.rsplit("/", 1)[-1] else (rest, "")
    if host == "docker.io" and "/" not in repository:  # Docker Hub's official images live under library/
        repository = "library/" + repository
    return host, repository, digest or tag or "latest"


def probe_mirror(mirror: dict, timeout: int = 10, path: str = "", method: str = "GET", accept: str | None = None) -> dict:
    """GET the mirror's registry API root (``<url>/v2/``, or ``<url>/`` with override_path), or
    ``path`` below it with ``method`` and an ``accept`` header, from the node as the runtime
    would: its CA files (else the system's), skip_verify, its Authorization header (Ansible's
    ``open_url``). Returns ``status`` (HTTP code or None), ``challenge`` (the WWW-Authenticate
    scheme), ``api_version`` (Docker-Distribution-Api-Version) and ``error`` ({kind: tls|connect,
    message}); the credentials are never part of the result."""
    import ssl  # noqa: PLC0415 - only the registry probe needs these
    import tempfile  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415

    from ansible.module_utils.urls import SSLValidationError, open_url  # noqa: PLC0415

    base = (mirror.get("api_base") or mirror["url"]).rstrip("/")
    url = (base + "/" if mirror.get("override_path") else base + "/v2/") + path
    result: dict = {"url": url, "status": None, "challenge": None, "api_version": None, "error": None}
    headers = {"Authorization": mirror["_authorization"]} if mirror.get("_authorization") else {}
    if accept:
        headers["Accept"] = accept
    bundle = None
    cas = mirror.get("ca") or []
    try:
        if cas and not mirror.get("skip_verify"):
            # One bundle of every CA file the runtime trusts for this mirror.
            with tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False) as handle:
                bundle = handle.name
                for ca in cas:
                    text = read(ca)
                    if text is None:
                        result["error"] = {"kind": "tls", "message": f"CA file {ca} cannot be read"}
                        return result
                    handle.write(text if text.endswith("\n") else text + "\n")
        response = open_url(url, method=method, headers=headers, timeout=timeout, validate_certs=not mirror.get("skip_verify"),
                            ca_path=bundle, follow_redirects="safe", use_proxy=False)
        result["status"] = response.status
        result["api_version"] = response.headers.get("Docker-Distribution-Api-Version")
    except urllib.error.HTTPError as exc:
        result["status"] = exc.code
        result["challenge"] = (exc.headers.get("WWW-Authenticate") or "").split(" ", 1)[0] or None
        result["api_version"] = exc.headers.get("Docker-Distribution-Api-Version")
    except (SSLValidationError, ssl.SSLError) as exc:
        result["error"] = {"kind": "tls", "message": str(exc)}
    except urllib.error.URLError as exc:
        reason = exc.reason
        kind = "tls" if isinstance(reason, ssl.SSLError) else "connect"
        result["error"] = {"kind": kind, "message": str(getattr(reason, "verify_message", None) or reason)}
    except (OSError, ValueError) as exc:
        result["error"] = {"kind": "connect", "message": str(exc)}
    finally:
        if bundle:
            os.unlink(bundle)
    return result


def registry_facts(runtime: str, asked: dict, facts: dict, *, containerd_hosts_dir: str | None = None,
                   crio_registries_conf: str = "/etc/containers/registries.conf", crio_certs_dir: str = "/etc/containers/certs.d",
                   timeout: int = 10, images: tuple[str, ...] = ()) -> dict:
    """The runtime's registry configuration for the ``asked`` registries (registry -> mirror
    URLs, in order), each mirror probed from the node (probe_mirror). ``images``: references
    whose manifest is looked up (HEAD) on each mirror of their registry, as a pull would
    resolve them (``images``: reference -> {registry, probes}); images of other registries are
    left out. Secrets are dropped before the facts are returned."""
    names = list(asked)
    if runtime == "containerd":
        info = (facts.get("cri") or {}).get("info") or {}
        path, source = containerd_registry_config_path(info, (facts.get("containerd") or {}).get("config"))
        if not path and containerd_hosts_dir:
            path, source = containerd_hosts_dir, "module parameter registry_hosts_dir"
        out = containerd_registry_facts(path, names)
        out["config_path_source"] = source
    else:
        auth_file = crio_config(facts.get("crio") or {}).get("global_auth_file") or None
        out = crio_registry_facts(crio_registries_conf, crio_certs_dir, auth_file, names)
        out["auth_file"] = auth_file
    out["images"] = {}
    for reference in images:
        location = image_location(reference)
        entry = out["registries"].get(location[0]) if location else None
        if entry and entry.get("mirrors"):
            out["images"][reference] = {"registry": location[0], "probes": [
                probe_mirror(m, timeout, "/".join(filter(None, (m.get("namespace"), location[1]))) + f"/manifests/{location[2]}",
                             "HEAD", MANIFEST_TYPES) for m in entry["mirrors"]]}
    for entry in out["registries"].values():
        for mirror in entry["mirrors"]:
            mirror["probe"] = probe_mirror(mirror, timeout)
            mirror.pop("_authorization", None)
    out["asked"] = asked
    return out
