# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see galaxy.yml)
"""Checks of the whole runtime chain, as pure functions of gathered facts (no I/O here).

``gather.py`` collects the facts (what the daemons report, what commands print, what the
kernel exposes); ``run_checks(facts, expected)`` turns them into a list of checks::

    {id, link, status: ok|warn|fail, observed, expected, source, hint}

Check ids are stable: tests, ignore lists and dashboards key on them. The links, in chain
order, are: kernel, runtime, cri, handler, oci, kubelet, endpoint, cni, sandbox, version.
"""

from __future__ import annotations

from . import toml_scan
from .versions import compare_debian_versions, containerd_config_version, parse_semver, semver_lt

LINKS = ("kernel", "runtime", "cri", "handler", "oci", "kubelet", "endpoint", "cni", "sandbox", "version")
CRI_SOCKETS = {
    "containerd": "unix:///run/containerd/containerd.sock",
    "crio": "unix:///run/crio/crio.sock",
    "cri-dockerd": "unix:///run/cri-dockerd.sock",
}
RUNTIME_NAMES = {"containerd": "containerd", "crio": "cri-o"}
CRI_V2_PLUGIN = "io.containerd.grpc.v1.cri"
CRI_V3_RUNTIME = "io.containerd.cri.v1.runtime"
CRI_V3_IMAGES = "io.containerd.cri.v1.images"

# OCI runtime CVE floors: the first upstream releases with the fix (per maintained line),
# and Debian package versions known to carry a backport.
OCI_CVES = {
    "runc": [
        {"cve": "CVE-2024-21626", "fixed": ["1.1.12"], "debian": ["1.1.5+ds1-1+deb12u1"]},
        {"cve": "CVE-2024-45310", "fixed": ["1.1.14"], "debian": []},
        # Debian trixie-security 1.1.15+ds1-2+deb13u1 backports 2025-31133, 2025-52565 and
        # 2026-41579 (its changelog), not 2025-52881.
        {"cve": "CVE-2025-31133", "fixed": ["1.2.8", "1.3.3", "1.4.0"], "debian": ["1.1.15+ds1-2+deb13u1"]},
        {"cve": "CVE-2025-52565", "fixed": ["1.2.8", "1.3.3", "1.4.0"], "debian": ["1.1.15+ds1-2+deb13u1"]},
        {"cve": "CVE-2025-52881", "fixed": ["1.2.9", "1.3.4", "1.4.0"], "debian": []},
        {"cve": "CVE-2026-41579", "fixed": ["1.3.6", "1.4.3", "1.5.0"], "debian": ["1.1.15+ds1-2+deb13u1"]},
    ],
    "crun": [
        {"cve": "CVE-2022-27650", "fixed": ["1.4.4"], "debian": []},
        {"cve": "CVE-2026-30892", "fixed": ["1.27"], "debian": []},
        {"cve": "CVE-2026-47766", "fixed": ["1.28"], "debian": []},
    ],
}


def detect_runtime(kubelet: dict, sockets: dict) -> str:
    """The node's runtime: the one kubelet's endpoint names, else the one standard socket that
    answers, else containerd."""
    by_socket = {url: name for name, url in CRI_SOCKETS.items() if name in RUNTIME_NAMES}
    endpoint = (kubelet or {}).get("endpoint")
    if endpoint in by_socket:
        return by_socket[endpoint]
    answering = [by_socket[url] for url, s in (sockets or {}).items() if s.get("answers") and url in by_socket]
    return answering[0] if len(answering) == 1 else "containerd"


def check(id_: str, link: str, status: str, observed, expected, source: str, hint: str = "") -> dict:
    """Build one check record (``status`` is ok, warn or fail)."""
    assert status in ("ok", "warn", "fail"), status
    return {"id": id_, "link": link, "status": status, "observed": observed, "expected": expected,
            "source": source, "hint": hint}


# ---------------------------------------------------------------- kernel

def kernel_checks(kernel: dict, kubelet: dict) -> list[dict]:
    """cgroup v2, overlayfs, br_netfilter, ip_forward, bridge netfilter, swap vs failSwapOn."""
    out = []
    cg = kernel.get("cgroup_v2")
    out.append(check("kernel.cgroup_v2", "kernel", "ok" if cg else "fail", "cgroup2" if cg else kernel.get("cgroup_fs", "unknown"),
                     "cgroup2", "/sys/fs/cgroup/cgroup.controllers",
                     "" if cg else "boot with systemd.unified_cgroup_hierarchy=1; kubelet >= 1.35 refuses cgroup v1"))
    overlay = "overlay" in kernel.get("filesystems", [])
    out.append(check("kernel.overlayfs", "kernel", "ok" if overlay else "fail", overlay, True, "/proc/filesystems",
                     "" if overlay else "modprobe overlay (role node_prereqs persists it in /etc/modules-load.d)"))
    brnf = "br_netfilter" in kernel.get("modules", [])
    out.append(check("kernel.br_netfilter", "kernel", "ok" if brnf else "fail", brnf, True, "/sys/module/br_netfilter",
                     "" if brnf else "modprobe br_netfilter, and list it in /etc/modules-load.d (role node_prereqs)"))
    fwd = kernel.get("ip_forward")
    out.append(check("kernel.ip_forward", "kernel", "ok" if fwd == "1" else "fail", fwd, "1", "/proc/sys/net/ipv4/ip_forward",
                     "" if fwd == "1" else "sysctl net.ipv4.ip_forward=1 and persist it in /etc/sysctl.d (role node_prereqs)"))
    nf = kernel.get("bridge_nf_call_iptables")
    out.append(check("kernel.bridge_nf_call_iptables", "kernel", "ok" if nf == "1" else "warn", nf, "1",
                     "/proc/sys/net/bridge/bridge-nf-call-iptables",
                     "" if nf == "1" else "bridge-based CNIs need it: load br_netfilter, then set it to 1"))
    swaps = kernel.get("swaps", [])
    fail_swap_on = kubelet.get("config", {}).get("failSwapOn", True) if kubelet.get("present") else True
    if not swaps:
        out.append(check("kernel.swap", "kernel", "ok", "off", "off", "/proc/swaps"))
    else:
        status = "fail" if fail_swap_on else "ok"
        out.append(check("kernel.swap", "kernel", status, f"on ({', '.join(swaps)})", "off" if fail_swap_on else "allowed (failSwapOn: false)",
                         "/proc/swaps" + (" + kubelet failSwapOn" if kubelet.get("present") else ""),
                         "swapoff -a and mask swap.target (role node_prereqs), or set failSwapOn: false" if status == "fail" else ""))
    return out


# ---------------------------------------------------------------- containerd configuration

def containerd_config_checks(ctd: dict) -> list[dict]:
    """Schema of /etc/containerd/config.toml versus the installed major; CRI plugin disabled."""
    out = []
    major = (parse_semver(ctd.get("version", "")) or (0,))[0]
    path = ctd.get("config_path", "/etc/containerd/config.toml")
    text = ctd.get("config_text")
    if text is None:
        out.append(check("runtime.config_schema", "runtime", "warn", "no config file", f"{path} (version {2 if major == 1 else 3})",
                         path, "containerd runs on built-in defaults (SystemdCgroup off): render the file (role containerd)"))
        return out
    scanned = toml_scan.scan(text)
    declared = toml_scan.get(scanned, "version")
    tables = scanned["tables"]
    keys = list(scanned["keys"])
    v2_cri = [t for t in tables + [k[:-1] for k in keys] if t[:2] == ("plugins", CRI_V2_PLUGIN) and len(t) > 2
              and t[2] in ("containerd", "cni", "registry")]
    v2_cri_top = [k for k in keys if k[:2] == ("plugins", CRI_V2_PLUGIN) and len(k) == 3 and k[2] in ("sandbox_image", "systemd_cgroup")]
    if major == 1:
        if declared is None and (v2_cri or v2_cri_top):
            out.append(check("runtime.config_schema", "runtime", "fail", "no version header", "version = 2", path,
                             "containerd 1.x reads a file without `version = 2` as version 1 and ignores every "
                             f"plugins.\"{CRI_V2_PLUGIN}\" setting in it (SystemdCgroup included): add `version = 2`"))
        elif declared not in (None, 2):
            out.append(check("runtime.config_schema", "runtime", "fail", f"version = {declared}", "version = 2", path,
                             f"containerd {ctd.get('version')} reads config version 2: render the v2 schema (role containerd)"))
        else:
            out.append(check("runtime.config_schema", "runtime", "ok", f"version = {declared}", "version = 2", path))
    elif major >= 2:
        native = containerd_config_version(ctd.get("version", ""))
        if declared in (3, 4) and (v2_cri or v2_cri_top):
            out.append(check("runtime.config_schema", "runtime", "fail",
                             f"version {declared} file with plugins.\"{CRI_V2_PLUGIN}\" runtime tables", f"version {native} tables only", path,
                             f"containerd 2.x ignores these keys in a version {declared} file: move them under plugins.'{CRI_V3_RUNTIME}' "
                             f"and plugins.'{CRI_V3_IMAGES}'"))
        elif declared in (None, 1) or (isinstance(declared, int) and declared > native):
            out.append(check("runtime.config_schema", "runtime", "fail", f"version = {declared}", f"version = {native}", path,
                             f"containerd {ctd.get('version')} cannot read config version {declared}: render version {native} (role containerd)"))
        elif declared != native:
            out.append(check("runtime.config_schema", "runtime", "warn", f"version = {declared}", f"version = {native}", path,
                             f"containerd {ctd.get('version')} migrates a version {declared} file in memory at every start (deprecated): "
                             "`containerd config migrate` prints the current form"))
        else:
            out.append(check("runtime.config_schema", "runtime", "ok", f"version = {declared}", f"version = {native}", path))
    return out


def cri_plugin_check(ctd: dict, cri: dict) -> dict:
    """Is the CRI plugin serving? If not, say whether configuration disabled it or it failed."""
    dump = toml_scan.scan(ctd.get("dump") or "")
    disabled = [p for p in (toml_scan.get(dump, "disabled_plugins") or []) if p in ("cri", CRI_V2_PLUGIN, CRI_V3_RUNTIME, CRI_V3_IMAGES)]
    plugins = {(p.get("type"), p.get("id")): p for p in ctd.get("plugins", [])}
    cri_plugin = plugins.get(("io.containerd.grpc.v1", "cri"))
    source = "containerd config dump + ctr plugins ls"
    if disabled:
        return check("runtime.cri_plugin", "runtime", "fail", f"disabled_plugins = {disabled}", "CRI plugin loaded", source,
                     f"the CRI plugin is disabled by configuration ({ctd.get('config_path')}): remove it from disabled_plugins "
                     "(Docker's containerd.io package ships this)")
    if cri_plugin and cri_plugin.get("status") == "error":
        reason = ctd.get("cri_error") or "see `ctr plugins ls -d` and `journalctl -u containerd`"
        return check("runtime.cri_plugin", "runtime", "fail", "CRI plugin status: error", "ok", source,
                     f"the CRI plugin failed to load although containerd runs: {reason}")
    if cri_plugin is None and not cri.get("error"):
        return check("runtime.cri_plugin", "runtime", "ok", "CRI answers", "CRI plugin loaded", "CRI Version RPC")
    if cri_plugin is None:
        return check("runtime.cri_plugin", "runtime", "warn", "plugin list unavailable", "CRI plugin loaded", source,
                     ctd.get("plugins_error", ""))
    return check("runtime.cri_plugin", "runtime", "ok", f"status {cri_plugin.get('status')}", "ok", source)


def snapshotter_check(ctd: dict, name: str = "overlayfs") -> dict | None:
    plugins = {(p.get("type"), p.get("id")): p for p in ctd.get("plugins", [])}
    snap = plugins.get(("io.containerd.snapshotter.v1", name))
    if snap is None:
        return None
    ok = snap.get("status") == "ok"
    return check("runtime.snapshotter", "runtime", "ok" if ok else "fail", f"{name}: {snap.get('status')}", f"{name}: ok",
                 "ctr plugins ls", "" if ok else (
                     f"containerd could not load the {name} snapshotter: {ctd.get('snapshotter_error') or 'see the journal'} "
                     "(a root filesystem without d_type support is the usual cause); CRI image operations fail"))


def crio_config(facts: dict) -> dict:
    """The parts of CRI-O's effective config (``crio status config``) the checks use."""
    scanned = toml_scan.scan(facts.get("config_dump") or "")
    keys = scanned["keys"]
    runtimes = {}
    for key, value in keys.items():
        if key[:3] == ("crio", "runtime", "runtimes") and len(key) == 5:
            runtimes.setdefault(key[3], {})[key[4]] = value
    return {
        "default_runtime": toml_scan.get(scanned, "crio", "runtime", "default_runtime"),
        "cgroup_manager": toml_scan.get(scanned, "crio", "runtime", "cgroup_manager"),
        "runtimes": runtimes,
        "network_dir": toml_scan.get(scanned, "crio", "network", "network_dir"),
        "plugin_dirs": toml_scan.get(scanned, "crio", "network", "plugin_dirs") or [],
        "pause_image": toml_scan.get(scanned, "crio", "image", "pause_image"),
    }


def crio_config_checks(crio: dict) -> list[dict]:
    """CRI-O's effective configuration (``crio status config``): readable, default handler
    registered, monitor cgroup valid for the cgroup manager."""
    if not crio.get("config_dump"):
        return [check("runtime.config", "runtime", "fail", "unreadable", "CRI-O answers GET /config", "CRI-O status API GET /config (crio status config)",
                      f"could not read CRI-O's effective configuration: {crio.get('config_error') or 'no answer'}")]
    config = crio_config(crio)
    out = []
    default = config["default_runtime"]
    ok = default in config["runtimes"]
    out.append(check("runtime.default_handler", "runtime", "ok" if ok else "fail", default, sorted(config["runtimes"]),
                     "CRI-O GET /config: crio.runtime.default_runtime",
                     "" if ok else f"default_runtime {default!r} has no [crio.runtime.runtimes.{default}] table"))
    bad = {name: r.get("monitor_cgroup") for name, r in config["runtimes"].items()
           if r.get("monitor_cgroup") not in (None, "", "pod") and not (config["cgroup_manager"] == "systemd"
                                                                       and str(r.get("monitor_cgroup")).endswith(".slice"))}
    out.append(check("runtime.monitor_cgroup", "runtime", "fail" if bad else "ok", bad or "valid", "pod (or a *.slice with systemd)",
                     "CRI-O GET /config", f"with cgroup_manager {config['cgroup_manager']} set monitor_cgroup = \"pod\"" if bad else ""))
    return out


# ---------------------------------------------------------------- CRI

def cri_checks(runtime: str, cri: dict, service: dict) -> list[dict]:
    """Service state, CRI v1 reachability and readiness of the node's runtime."""
    out = []
    unit = {"containerd": "containerd", "crio": "crio"}.get(runtime, runtime)
    active, enabled = service.get("active"), service.get("enabled")
    out.append(check("runtime.service", "runtime", "ok" if active == "active" and enabled == "enabled" else "fail",
                     f"{active}/{enabled}", "active/enabled", f"systemctl is-active/is-enabled {unit}",
                     "" if active == "active" and enabled == "enabled" else f"systemctl enable --now {unit}; see journalctl -u {unit}"))
    err = cri.get("error")
    if err:
        out.append(check("cri.reachable", "cri", "fail", err.get("kind"), "CRI v1 answers", f"crictl version ({cri.get('endpoint')})",
                         err.get("message", "")))
        return out
    version = cri.get("version", {})
    name_ok = version.get("runtime_name") == RUNTIME_NAMES.get(runtime, runtime)
    out.append(check("cri.reachable", "cri", "ok" if name_ok else "fail",
                     f"{version.get('runtime_name')} {version.get('runtime_version')}", RUNTIME_NAMES.get(runtime, runtime),
                     "CRI Version RPC", "" if name_ok else f"another runtime answers on {cri.get('endpoint')}"))
    api = version.get("runtime_api_version")
    out.append(check("version.cri_api", "version", "ok" if api == "v1" else "fail", api, "v1", "CRI Version RPC",
                     "" if api == "v1" else "kubelet >= 1.26 and crictl >= 1.26 speak only CRI v1: upgrade the runtime"))
    ready = cri.get("runtime_ready")
    cond = next((c for c in cri.get("conditions", []) if c["type"] == "RuntimeReady"), {})
    out.append(check("cri.runtime_ready", "cri", "ok" if ready else "fail", ready, True, "CRI Status RPC (RuntimeReady)",
                     "" if ready else f"{cond.get('reason', '')}: {cond.get('message', '')}".strip(": ")))
    return out


def network_check(cri: dict, cni: dict, cni_expected: bool) -> dict:
    """NetworkReady, with the CNI cause (no config; plugin binary missing; runtime not reloaded)."""
    if cri.get("error"):
        return check("cni.network_ready", "cni", "warn", "unknown", True, "CRI Status RPC (NetworkReady)", "the CRI did not answer")
    if cri.get("network_ready"):
        return check("cni.network_ready", "cni", "ok", True, True, "CRI Status RPC (NetworkReady)")
    confs = cni.get("configs", {})
    missing = sorted({f"{name}: {plugin}" for name, plugins in confs.items() for plugin in plugins
                      if plugin not in cni.get("binaries", [])})
    if not confs:
        observed, hint = "no CNI config", f"no network config in {cni.get('conf_dir')}: expected before a CNI is deployed"
        status = "fail" if cni_expected else "warn"
    elif missing:
        observed, hint, status = f"plugin binaries missing: {', '.join(missing)}", (
            f"install the CNI plugins into one of {cni.get('bin_dirs')} or fix the runtime's CNI bin dir"), "fail"
    else:
        observed, hint, status = "config and plugins present", "the runtime has not reloaded its CNI status: restart it", "fail"
    return check("cni.network_ready", "cni", status, observed, True, "CRI Status RPC (NetworkReady) + CNI dirs", hint)


# ---------------------------------------------------------------- cgroup driver

def cgroup_checks(cri: dict, kubelet: dict, expected_driver: str | None) -> list[dict]:
    """The runtime's effective driver vs the requested one, and vs kubelet (both directions)."""
    out = []
    driver = (cri.get("cgroup_driver") or {}).get("value")
    source = (cri.get("cgroup_driver") or {}).get("source") or "runtime"
    if driver is None:
        out.append(check("runtime.cgroup_driver", "runtime", "warn", "unknown", expected_driver, source,
                         "the runtime reported no cgroup driver"))
        return out
    if expected_driver:
        ok = driver == expected_driver
        out.append(check("runtime.cgroup_driver", "runtime", "ok" if ok else "fail", driver, expected_driver, source,
                         "" if ok else ("set SystemdCgroup = true in the runc handler's options (containerd) or cgroup_manager "
                                        f"(CRI-O): role variable kubenode_cgroup_driver={expected_driver}")))
    if kubelet.get("present"):
        kdriver = kubelet.get("config", {}).get("cgroupDriver") or "cgroupfs"
        kfile = kubelet.get("config_path")
        from_cri = (cri.get("runtime_config") or {}).get("implemented") and kubelet.get("minor", 0) >= 31
        if kdriver == driver:
            out.append(check("kubelet.cgroup_driver", "kubelet", "ok", kdriver, driver, f"{kfile} + {source}"))
        elif from_cri:
            out.append(check("kubelet.cgroup_driver", "kubelet", "warn", kdriver, driver, f"{kfile} + {source}",
                             f"kubelet takes the driver from RuntimeConfig ({driver}) and ignores cgroupDriver: "
                             f"set cgroupDriver: {driver} to keep the file truthful"))
        else:
            symptom = ("every sandbox fails: expected cgroupsPath of format slice:prefix:name" if driver == "systemd"
                       else "pods are restarted at random as systemd and cgroupfs fight over the cgroups")
            out.append(check("kubelet.cgroup_driver", "kubelet", "fail", kdriver, driver, f"{kfile} + {source}",
                             f"kubelet cgroupDriver ({kdriver}, {kfile}) differs from the runtime's ({driver}): {symptom}"))
    return out


# ---------------------------------------------------------------- endpoints

def endpoint_checks(endpoint: str, sockets: dict, crictl: dict, kubelet: dict) -> list[dict]:
    """crictl.yaml and kubelet name the node's endpoint with unix://; one CRI runtime listens."""
    out = []
    if crictl.get("config") is None:
        out.append(check("endpoint.crictl", "endpoint", "warn", "no crictl.yaml", endpoint, crictl.get("config_path", "/etc/crictl.yaml"),
                         "crictl then tries deprecated default endpoints: write crictl.yaml (role crictl)"))
    else:
        observed = crictl["config"].get("runtime-endpoint")
        ok = observed == endpoint
        out.append(check("endpoint.crictl", "endpoint", "ok" if ok else "fail", observed, endpoint, crictl.get("config_path"),
                         "" if ok else ("crictl needs the full unix:// URL" if observed and not str(observed).startswith("unix://")
                                        else "point runtime-endpoint and image-endpoint at the node's runtime (role crictl)")))
    if kubelet.get("present"):
        observed = kubelet.get("endpoint")
        source = kubelet.get("endpoint_source", kubelet.get("config_path"))
        if not observed:
            out.append(check("endpoint.kubelet", "endpoint", "warn", "unset (kubelet default)", endpoint, source,
                             "set containerRuntimeEndpoint in the KubeletConfiguration"))
        elif not str(observed).startswith("unix://"):
            out.append(check("endpoint.kubelet", "endpoint", "fail" if observed.lstrip("/") != endpoint[len("unix://"):].lstrip("/") else "warn",
                             observed, endpoint, source, "use the full unix:// URL (bare paths are deprecated)"))
        else:
            ok = observed == endpoint
            out.append(check("endpoint.kubelet", "endpoint", "ok" if ok else "fail", observed, endpoint, source,
                             "" if ok else "kubelet talks to another socket than the node's runtime: fix containerRuntimeEndpoint"))
        flag = kubelet.get("endpoint_flag")
        if flag:
            out.append(check("kubelet.deprecated_flags", "kubelet", "warn", f"--container-runtime-endpoint in {flag}", "KubeletConfiguration",
                             flag, "the flag is deprecated: set containerRuntimeEndpoint in the config file instead"))
    answering = sorted(url for url, s in sockets.items() if s.get("answers"))
    others = [url for url in answering if url != endpoint]
    out.append(check("endpoint.single_runtime", "endpoint", "fail" if others else "ok", answering or "none", [endpoint],
                     "CRI Version RPC on each known socket",
                     f"another CRI runtime still answers ({', '.join(others)}): stop and disable it" if others else ""))
    return out


# ---------------------------------------------------------------- handlers and OCI runtimes

def handler_checks(handlers: dict) -> list[dict]:
    """Each runtime handler resolves to an executable OCI runtime."""
    out = []
    for name, info in sorted(handlers.items()):
        ok = info.get("executable", False)
        out.append(check(f"handler.{name or 'default'}", "handler", "ok" if ok else "fail", info.get("path"), "an executable OCI runtime",
                         info.get("source", "runtime config"),
                         "" if ok else f"handler {name!r} points at {info.get('path')}, which is not an executable: install it or fix the path"))
    return out


def vulnerable(version: str, fixed: list[str]) -> bool:
    """True when ``version`` lacks the fix: below the fix of its own release line, or older
    than every fixed line (``fixed`` holds the first fixed release of each maintained line).

    >>> vulnerable("1.1.15", ["1.2.8", "1.3.3"])
    True
    """
    v = parse_semver(version)
    if v is None:
        return False
    same_line = [f for f in fixed if parse_semver(f)[:2] == v[:2]]
    floor = same_line[0] if same_line else min(fixed, key=parse_semver)
    return semver_lt(version, floor)


def oci_cve_checks(oci: dict) -> list[dict]:
    """runc/crun versions against known-CVE floors, aware of distro backports (package version)."""
    out = []
    for binary, info in sorted(oci.items()):
        name, version, package = info.get("name"), info.get("version"), info.get("package_version")
        if name not in OCI_CVES or not version:
            continue
        source = f"{binary} --version" + (f" + dpkg ({package})" if package else "")
        for cve in OCI_CVES[name]:
            id_ = f"oci.{name}.{cve['cve'].split(',')[0].lower()}"
            floor = f">= {' / '.join(cve['fixed'])}"
            backported = bool(package) and any(
                compare_debian_versions(package, d) >= 0 and parse_semver(package)[:2] == parse_semver(d)[:2] for d in cve["debian"])
            if not vulnerable(version, cve["fixed"]):
                out.append(check(id_, "oci", "ok", version, floor, source))
            elif backported:
                out.append(check(id_, "oci", "ok", f"{version} (package {package})", f"{floor} or the backport in {', '.join(cve['debian'])}", source))
            elif package:
                out.append(check(id_, "oci", "warn", f"{version} (package {package})", f"{floor} or a distro backport", source,
                                 f"{cve['cve']}: upstream {version} predates the fix; check whether package {package} carries a "
                                 "backport (your distribution's security tracker), or install a fixed release"))
            else:
                out.append(check(id_, "oci", "fail", version, floor, source, f"{cve['cve']}: upgrade {name} to a fixed release"))
    return out


def static_pod_check(kubelet: dict, running: list[str] | None) -> dict | None:
    """Every static pod in kubelet's staticPodPath has a running container (kubelet names
    the pod ``<name>-<node>``): the end-to-end proof that kubelet drives the runtime."""
    names = kubelet.get("static_pods") or []
    if not kubelet.get("present") or not names:
        return None
    source = f"{kubelet.get('static_pod_path')} + crictl ps --state running"
    if running is None:
        return check("kubelet.static_pods", "kubelet", "fail", "runtime did not answer", names, source,
                     "the runtime's CRI did not list containers")
    missing = [n for n in names if not any(p.startswith(f"{n}-") for p in running)]
    return check("kubelet.static_pods", "kubelet", "fail" if missing else "ok", f"not running: {missing}" if missing else "all running",
                 names, source, "" if not missing else f"static pods without a running container: {', '.join(missing)}; "
                 "see journalctl -u kubelet")


# ---------------------------------------------------------------- versions

def version_checks(runtime: str, runtime_version: str | None, cri: dict, kubelet: dict) -> list[dict]:
    """kubelet vs runtime: containerd 1.x support, CRI-O minor, RuntimeConfig availability."""
    out = []
    if not kubelet.get("present") or not runtime_version:
        return out
    kminor = kubelet.get("minor", 0)
    rv = parse_semver(runtime_version) or (0, 0, 0)
    source = f"kubelet --version ({kubelet.get('version')}) + runtime {runtime_version}"
    if runtime == "containerd":
        if rv[0] == 1 and rv[1] < 6:
            out.append(check("version.kubelet_runtime", "version", "fail", runtime_version, ">= 1.6 (CRI v1)", source,
                             "containerd < 1.6 has no CRI v1, which kubelet >= 1.26 needs"))
        elif rv[0] == 1 and kminor >= 36:
            out.append(check("version.kubelet_runtime", "version", "warn", runtime_version, "containerd >= 2.2", source,
                             "Kubernetes 1.35 was the last release to support containerd 1.x: it still runs (cgroup driver from "
                             "kubelet's config) until kubelet 1.38 needs the RuntimeConfig RPC; upgrade containerd"))
        elif rv[0] == 1 and kminor == 35:
            out.append(check("version.kubelet_runtime", "version", "warn", runtime_version, "containerd >= 2.1", source,
                             "Kubernetes 1.35 is the last release that supports containerd 1.x"))
        else:
            out.append(check("version.kubelet_runtime", "version", "ok", runtime_version, "supported pair", source))
    elif runtime == "crio":
        ok = rv[1] == kminor and rv[0] == 1
        out.append(check("version.kubelet_runtime", "version", "ok" if ok else "fail", runtime_version, f"1.{kminor}.x", source,
                         "" if ok else "CRI-O's minor must equal the kubelet's minor (patch levels may differ)"))
    rc = cri.get("runtime_config") or {}
    if rc and not rc.get("implemented"):
        status = "fail" if kminor >= 38 else ("warn" if kminor >= 35 else "ok")
        out.append(check("version.runtime_config", "version", status, "RuntimeConfig unimplemented", "RuntimeConfig RPC", source,
                         "" if status == "ok" else "kubelet >= 1.38 takes the cgroup driver only from the RuntimeConfig RPC: "
                                                   "upgrade to containerd >= 2.0 or CRI-O >= 1.28"))
    return out


# ---------------------------------------------------------------- sandbox image

def sandbox_checks(sandbox: dict, expected_image: str | None) -> list[dict]:
    out = []
    image = sandbox.get("image")
    if not image:
        return out
    present = sandbox.get("present")
    out.append(check("sandbox.present", "sandbox", "ok" if present else "warn", present, True,
                     f"crictl images ({sandbox.get('source')}: {image})",
                     "" if present else f"{image} is not in the runtime's image store: the first pod pulls it (or fails offline)"))
    if expected_image:
        ok = image == expected_image
        out.append(check("sandbox.expected", "sandbox", "ok" if ok else "fail", image, expected_image, sandbox.get("source", ""),
                         "" if ok else "kubelet and the runtime disagree on the pause image: set kubenode_sandbox_image"))
    return out


# ---------------------------------------------------------------- all

def presence_checks(facts: dict, expected: dict) -> list[dict]:
    out = []
    runtime = facts.get("runtime")
    installed = facts.get(runtime, {}).get("installed")
    out.append(check("runtime.present", "runtime", "ok" if installed else "fail", installed, True,
                     f"{runtime} --version",
                     "" if installed else f"{runtime} is not installed: this link of the chain is absent"))
    kubelet = facts.get("kubelet", {})
    want = expected.get("kubelet")
    present = bool(kubelet.get("present"))
    if present:
        status, hint = "ok", ""
    elif want is False:
        status, hint = "ok", "kubelet is not installed and not expected on this node"
    else:
        status = "fail" if want else "warn"
        hint = "kubelet is not installed: the kubelet link of the chain is absent"
    out.append(check("kubelet.present", "kubelet", status, "present" if present else "absent",
                     {True: "present", False: "absent"}.get(want, "present or absent"), "kubelet --version", hint))
    return out


def run_checks(facts: dict, expected: dict) -> list[dict]:
    """Every check for ``facts`` (from gather.collect) against ``expected`` (module params)."""
    runtime = facts.get("runtime", "containerd")
    rt = facts.get(runtime, {})
    cri = facts.get("cri", {})
    kubelet = facts.get("kubelet", {})
    checks = kernel_checks(facts.get("kernel", {}), kubelet)
    checks += presence_checks(facts, expected)
    if rt.get("installed"):
        checks += cri_checks(runtime, cri, rt.get("service", {}))
        if runtime == "containerd":
            checks += containerd_config_checks(rt)
            checks.append(cri_plugin_check(rt, cri))
            snap = snapshotter_check(rt)
            if snap:
                checks.append(snap)
        elif runtime == "crio":
            checks += crio_config_checks(rt)
        if not cri.get("error"):
            checks += cgroup_checks(cri, kubelet, expected.get("cgroup_driver"))
        checks += handler_checks(facts.get("handlers", {}))
        checks += oci_cve_checks(facts.get("oci", {}))
        checks.append(network_check(cri, facts.get("cni", {}), bool(expected.get("cni_expected"))))
        checks += sandbox_checks(facts.get("sandbox", {}), expected.get("sandbox_image"))
        checks += version_checks(runtime, rt.get("version"), cri, kubelet)
        pods = static_pod_check(kubelet, facts.get("running_pods"))
        if pods:
            checks.append(pods)
    checks += endpoint_checks(facts.get("endpoint", ""), facts.get("sockets", {}), facts.get("crictl", {}), kubelet)
    return sorted(checks, key=lambda c: (LINKS.index(c["link"]), c["id"]))


def summarize(checks: list[dict], ignore: list[str]) -> dict:
    """Counts, and the failing check ids that are not ignored (``all`` ignores every id)."""
    failed = [c["id"] for c in checks if c["status"] == "fail"]
    ignored = failed if "all" in ignore else [i for i in failed if i in ignore]
    return {
        "ok": sum(c["status"] == "ok" for c in checks),
        "warn": sum(c["status"] == "warn" for c in checks),
        "fail": len(failed),
        "failed": [i for i in failed if i not in ignored],
        "ignored": ignored,
    }
