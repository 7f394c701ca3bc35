# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Checks of the whole runtime chain, as pure functions of gathered facts (no I/O here).

``gather.py`` collects the facts (what the daemons report, what commands print, what the
kernel exposes); ``run_checks(facts, expected)`` turns them into a list of checks::

    {id, link, status: ok|warn|fail|skip, observed, expected, source, hint}

Check ids are stable: tests, ignore lists and dashboards key on them. The links, in chain
order, are LINKS; ``cluster`` compares the node with its Node object on the API server
(``skip`` there: no API access).
"""

from __future__ import annotations

from .versions import containerd_config_version, parse_semver, semver_lt

LINKS = ("kernel", "runtime", "cri", "handler", "oci", "kubelet", "endpoint", "cni", "registry", "sandbox", "version", "cluster")
RUNTIME_NAMES = {"containerd": "containerd", "crio": "cri-o"}
CRI_V2_PLUGIN = "io.containerd.grpc.v1.cri"
CRI_V3_RUNTIME = "io.containerd.cri.v1.runtime"
CRI_V3_IMAGES = "io.containerd.cri.v1.images"

# OCI runtime CVE floors: the first upstream releases with the fix (per maintained line),
# and Debian package versions known to carry a backport.
OCI_CVES = {
    "runc": [
        {"cve": "CVE-2019-5736", "fixed": ["1.0.0-rc7"], "debian": ["1.0.0~rc6+dfsg1-3"]},
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


def detect_runtime(kubelet: dict, sockets: dict, endpoints: dict, paths: dict | None = None, default: str | None = None) -> str:
    """The node's runtime: the one whose endpoint (``endpoints``: runtime -> CRI endpoint)
    kubelet names (compared by socket, see socket_of), else the one of them that answers,
    else ``default`` (the inventory's), else the first runtime of ``endpoints``."""
    return detected_runtime(kubelet, sockets, endpoints, paths)[0] or default or next(iter(endpoints))


def detected_runtime(kubelet: dict, sockets: dict, endpoints: dict, paths: dict | None = None) -> tuple[str | None, str]:
    """``(runtime, how it was found)``: the runtime kubelet's containerRuntimeEndpoint names,
    else the only one that answers on its CRI socket; ``(None, why not)`` when neither says."""
    named = (kubelet or {}).get("endpoint")
    for name, url in endpoints.items():
        if same_socket(named, url, paths):
            return name, f"kubelet's containerRuntimeEndpoint ({named})"
    answering = [name for name, url in endpoints.items()
                 if any(s.get("answers") and same_socket(probed, url, paths) for probed, s in (sockets or {}).items())]
    if len(answering) == 1:
        return answering[0], f"the only runtime answering on its CRI socket ({endpoints[answering[0]]})"
    return None, "kubelet names no known endpoint and " + ("no runtime answers" if not answering else "several runtimes answer")


def inventory_check(runtime: str, how: str, wanted: str | None) -> dict | None:
    """The node runs the runtime the inventory asks for (``wanted``: kubenode_runtime)."""
    if not wanted:
        return None
    if runtime == wanted:
        return check("runtime.inventory", "runtime", "ok", runtime, wanted, how)
    return check("runtime.inventory", "runtime", "fail", runtime, wanted, how,
                 f"the node runs {runtime} ({how}), the inventory asks {wanted} (kubenode_runtime): set kubenode_runtime: "
                 f"{runtime} in the inventory, or switch back (playbooks/switch_runtime.yml -e runtime_switch_to={wanted}); "
                 f"the other checks describe the {runtime} chain the node runs")


# skip: the check could not run here (the Node checks without API access); never a failure.
STATUSES = ("ok", "warn", "fail", "skip")


def check(id_: str, link: str, status: str, observed, expected, source: str, hint: str = "") -> dict:
    """Build one check record (``status`` is one of STATUSES)."""
    if status not in STATUSES:
        raise ValueError(f"check {id_}: status {status!r} is not ok, warn, fail or skip")
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

def _v2_cri_settings(config: dict) -> list[str]:
    """Keys of the containerd 1.x CRI plugin (``plugins."io.containerd.grpc.v1.cri"``) that
    configure runtimes, CNI, registries or the sandbox image, as dotted names."""
    section = ((config.get("plugins") or {}).get(CRI_V2_PLUGIN))
    if not isinstance(section, dict):
        return []
    return [f'plugins."{CRI_V2_PLUGIN}".{key}' for key in sorted(section)
            if key in ("containerd", "cni", "registry", "sandbox_image", "systemd_cgroup")]


def containerd_config_checks(ctd: dict) -> list[dict]:
    """Schema of containerd's config.toml (parsed with a TOML library) versus the installed major."""
    out = []
    major = (parse_semver(ctd.get("version", "")) or (0,))[0]
    path = ctd.get("config_path", "config.toml")
    try:
        native = containerd_config_version(ctd.get("version", ""))
    except ValueError:  # unparsable or older than 1.6: version.kubelet_runtime says so
        native = 2
    if not ctd.get("config_present"):
        out.append(check("runtime.config_schema", "runtime", "warn", "no config file", f"{path} (version {native})",
                         path, "containerd runs on built-in defaults (SystemdCgroup off): render the file (role containerd)"))
        return out
    if ctd.get("config") is None:
        out.append(check("runtime.config_schema", "runtime", "fail", f"does not parse: {ctd.get('config_error')}",
                         f"a TOML file (version {native})", path,
                         f"containerd refuses to start with this file ({ctd.get('config_error')}): fix the TOML or re-render it (role containerd)"))
        return out
    config = ctd["config"]
    declared = config.get("version")
    v2_cri = _v2_cri_settings(config)
    if major == 1:
        if declared is None and v2_cri:
            out.append(check("runtime.config_schema", "runtime", "fail", "no version header", "version = 2", path,
                             "containerd 1.x reads a file without `version = 2` as version 1 and ignores every "
                             f"plugins.\"{CRI_V2_PLUGIN}\" setting in it (SystemdCgroup included): add `version = 2`"))
        elif declared not in (None, 2):
            out.append(check("runtime.config_schema", "runtime", "fail", f"version = {declared}", "version = 2", path,
                             f"containerd {ctd.get('version')} reads config version 2: render the v2 schema (role containerd)"))
        else:
            out.append(check("runtime.config_schema", "runtime", "ok", f"version = {declared}", "version = 2", path))
    elif major >= 2:
        if declared in (3, 4) and v2_cri:
            out.append(check("runtime.config_schema", "runtime", "fail",
                             f"version {declared} file with {', '.join(v2_cri)}", f"version {native} tables only", path,
                             f"containerd 2.x ignores these keys in a version {declared} file: move them under plugins.'{CRI_V3_RUNTIME}' "
                             f"and plugins.'{CRI_V3_IMAGES}'"))
        elif declared in (None, 1) or (isinstance(declared, int) and declared > native):
            observed = "no version header" if declared is None else f"version = {declared}"
            out.append(check("runtime.config_schema", "runtime", "fail", observed, f"version = {native}", path,
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
    disabled = [p for p in ((ctd.get("dump") or {}).get("disabled_plugins") or [])
                if p in ("cri", CRI_V2_PLUGIN, CRI_V3_RUNTIME, CRI_V3_IMAGES)]
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
    """The parts of CRI-O's effective config (``crio status config``, parsed) the checks use."""
    crio = (facts.get("config") or {}).get("crio") or {}
    runtime, network, image = crio.get("runtime") or {}, crio.get("network") or {}, crio.get("image") or {}
    return {
        "default_runtime": runtime.get("default_runtime"),
        "cgroup_manager": runtime.get("cgroup_manager"),
        "runtimes": {name: r for name, r in (runtime.get("runtimes") or {}).items() if isinstance(r, dict)},
        "network_dir": network.get("network_dir"),
        "plugin_dirs": network.get("plugin_dirs") or [],
        "pause_image": image.get("pause_image"),
        "global_auth_file": image.get("global_auth_file"),
    }


def flatten(table: dict, prefix: str = "") -> dict:
    """A parsed TOML document as ``{"dotted.key": value}`` leaves (tables descended, arrays kept)."""
    out = {}
    for key, value in (table or {}).items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_winners(layers: list[dict]) -> dict:
    """For files loaded in order (``layers``: ``[{path, config}]``, each overriding the keys it
    sets, as CRI-O's drop-ins do), each dotted key -> ``(path, value)`` of the file that set it last."""
    winners = {}
    for layer in layers:
        for key, value in flatten(layer.get("config") or {}).items():
            winners[key] = (layer["path"], value)
    return winners


def overridden_keys(layers: list[dict], own: str | None) -> dict:
    """The keys the file ``own`` sets that a later file sets to another value: key ->
    ``(winning path, its value, own value)``."""
    mine = next((flatten(layer.get("config") or {}) for layer in layers if layer["path"] == own), None)
    if mine is None:
        return {}
    winners = config_winners(layers)
    return {key: (winners[key][0], winners[key][1], value) for key, value in mine.items()
            if winners[key][0] != own and winners[key][1] != value}


def crio_precedence_check(crio: dict) -> dict | None:
    """The role's drop-in wins every key it sets; a file loaded after it that changes one is named."""
    own, layers = crio.get("own_config"), crio.get("layers") or []
    if not own or not any(layer["path"] == own for layer in layers):
        return None
    lost = overridden_keys(layers, own)
    order = [layer["path"] for layer in layers]
    if not lost:
        return check("runtime.config_precedence", "runtime", "ok", f"{own} wins every key it sets", own, " < ".join(order))
    observed = {key: f"{value!r} from {path}" for key, (path, value, _mine) in sorted(lost.items())}
    files = sorted({path for path, _value, _mine in lost.values()})
    return check("runtime.config_precedence", "runtime", "fail", observed,
                 {key: repr(mine) for key, (_path, _value, mine) in sorted(lost.items())}, " < ".join(order),
                 f"{', '.join(files)} is loaded after {own} and overrides {', '.join(sorted(lost))}: "
                 f"remove it, or move its settings into the role's variables")


def default_handler(runtime: str, facts: dict) -> tuple[str | None, str]:
    """The runtime handler the runtime really uses by default, and where that was read: CRI-O's
    effective config (GET /config, with the file that set it), containerd's CRI Status info,
    else its ``config dump`` (when the CRI does not answer)."""
    rt = facts.get(runtime) or {}
    if runtime == "crio":
        name = crio_config(rt)["default_runtime"]
        winner = config_winners(rt.get("layers") or []).get("crio.runtime.default_runtime")
        source = "CRI-O GET /config: crio.runtime.default_runtime" + (f" (set last by {winner[0]})" if winner else "")
        return name, source
    info = ((facts.get("cri") or {}).get("info") or {}).get("config") or {}
    name = (info.get("containerd") or {}).get("defaultRuntimeName")
    if name:
        return name, "CRI Status info: config.containerd.defaultRuntimeName"
    plugins = (rt.get("dump") or {}).get("plugins") or {}
    for plugin in (CRI_V3_RUNTIME, CRI_V2_PLUGIN):
        name = ((plugins.get(plugin) or {}).get("containerd") or {}).get("default_runtime_name")
        if name:
            return name, f"containerd config dump: plugins.{plugin!r}.containerd.default_runtime_name"
    return None, "CRI Status info: config.containerd.defaultRuntimeName"


def default_handler_check(runtime: str, facts: dict, expected: str | None) -> dict:
    """The runtime's effective default handler is the one the inventory asks for (``expected``)."""
    name, source = default_handler(runtime, facts)
    if not expected:
        return check("handler.default", "handler", "ok" if name else "warn", name or "unknown", "any registered handler", source,
                     "" if name else "the runtime reports no default handler")
    if name == expected:
        return check("handler.default", "handler", "ok", name, expected, source)
    key = "default_runtime" if runtime == "crio" else "default_runtime_name"
    return check("handler.default", "handler", "fail", name or "unknown", expected, source,
                 f"the runtime's default handler is {name} ({source}), the inventory asks {expected} (kubenode_oci_runtime): "
                 f"pods without a RuntimeClass run on {name}; fix {key} where it was set, or change kubenode_oci_runtime")


def crio_config_checks(crio: dict) -> list[dict]:
    """CRI-O's effective configuration (``crio status config``): readable, default handler
    registered, monitor cgroup valid for the cgroup manager."""
    if not crio.get("config"):
        return [check("runtime.config", "runtime", "fail", "unreadable", "CRI-O answers GET /config", "CRI-O status API GET /config (crio status config)",
                      f"could not read CRI-O's effective configuration: {crio.get('config_error') or 'no answer'}")]
    config = crio_config(crio)
    out = []
    default = config["default_runtime"]
    ok = default in config["runtimes"]
    out.append(check("runtime.default_handler", "runtime", "ok" if ok else "fail", default, sorted(config["runtimes"]),
                     "CRI-O GET /config: crio.runtime.default_runtime",
                     "" if ok else f"default_runtime {default!r} has no [crio.runtime.runtimes.{default}] table"))

    def valid_monitor_cgroup(value):
        return value in (None, "", "pod") or (config["cgroup_manager"] == "systemd" and str(value).endswith(".slice"))

    bad = {name: r.get("monitor_cgroup") for name, r in config["runtimes"].items() if not valid_monitor_cgroup(r.get("monitor_cgroup"))}
    out.append(check("runtime.monitor_cgroup", "runtime", "fail" if bad else "ok", bad or "valid", "pod (or a *.slice with systemd)",
                     "CRI-O GET /config", f"with cgroup_manager {config['cgroup_manager']} set monitor_cgroup = \"pod\"" if bad else ""))
    return out


# ---------------------------------------------------------------- CRI

def cri_checks(runtime: str, cri: dict, service: dict) -> list[dict]:
    """Service state, CRI v1 reachability and readiness of the node's runtime."""
    out = []
    unit = {"containerd": "containerd", "crio": "crio"}.get(runtime, runtime)
    active, enabled = service.get("active"), service.get("enabled")
    good = active == "active" and enabled == "enabled"
    reason = service.get("journal_error")
    hint = "" if good else (f"{unit} is {active}; its journal says: {reason}" if reason and active != "active"
                            else f"systemctl enable --now {unit}; see journalctl -u {unit}")
    out.append(check("runtime.service", "runtime", "ok" if good else "fail", f"{active}/{enabled}", "active/enabled",
                     f"systemctl is-active/is-enabled {unit}" + (f" + journalctl _SYSTEMD_UNIT={unit}.service" if reason else ""),
                     hint))
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


def cni_plugins_check(cni: dict) -> dict | None:
    """Each plugin type of the network config the runtime loads (the first of its conf dir in
    lexical order) is an executable in the directories the runtime searches; else every pod
    sandbox fails with ``failed to find plugin ... in path [...]`` while NetworkReady stays true."""
    active = cni.get("active")
    if not active:
        return None
    path = f"{cni.get('conf_dir')}/{active}"
    dirs = cni.get("bin_dirs") or []
    source = f"{path} + {cni.get('bin_dirs_source', 'the runtime CNI bin dirs')}"
    resolved = cni.get("resolved") or {}
    if "<unparsable>" in resolved:
        return check("cni.plugins", "cni", "fail", "does not parse", "a JSON network config", path,
                     f"{path} is not valid JSON: the runtime cannot set up pod networks")
    missing = sorted(plugin for plugin, found in resolved.items() if not found)
    if missing:
        return check("cni.plugins", "cni", "fail", {"missing": missing, "searched": dirs}, sorted(resolved), source,
                     f"{path} needs CNI plugin(s) {', '.join(missing)}, not found as executables in {dirs} (the runtime's CNI "
                     f"bin dirs): every pod sandbox fails with 'failed to find plugin'; install them there or fix the bin dirs "
                     f"(cni_bin_dirs)")
    return check("cni.plugins", "cni", "ok", dict(sorted(resolved.items())), sorted(resolved), source)


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

def socket_of(url: str | None, paths: dict | None = None) -> str | None:
    """The socket a CRI endpoint names: its real path as the node resolved it (``paths``:
    endpoint -> real path, from gather.socket_identities; ``/var/run`` is a symlink to ``/run``
    on Debian and Ubuntu), else the normalized path of the URL; None for no endpoint."""
    if not url:
        return None
    url = str(url)
    resolved = (paths or {}).get(url)
    if resolved:
        return resolved
    path = url[len("unix://"):] if url.startswith("unix://") else url
    return "/" + "/".join(part for part in path.split("/") if part not in ("", "."))


def same_socket(a: str | None, b: str | None, paths: dict | None = None) -> bool:
    """True when endpoints ``a`` and ``b`` name the same socket (see socket_of)."""
    return bool(a) and bool(b) and socket_of(a, paths) == socket_of(b, paths)


def _spelled(observed: str, endpoint: str) -> str:
    """The observed endpoint, saying so when it is another spelling of the node's socket."""
    return observed if observed == endpoint else f"{observed} (the same socket as {endpoint})"


def client_endpoint_check(id_: str, observed, endpoint: str, paths: dict, source: str, client: str, key: str) -> dict:
    """A client (crictl, kubelet) names the node's CRI socket with a ``unix://`` URL at ``key``."""
    if observed and not str(observed).startswith("unix://"):
        same = same_socket(observed, endpoint, paths)
        return check(id_, "endpoint", "warn" if same else "fail", observed, endpoint, source,
                     f"{client} {key} is a bare path: use the full unix:// URL"
                     + ("" if same else f", and point it at the node's runtime ({endpoint})"))
    if same_socket(observed, endpoint, paths):
        return check(id_, "endpoint", "ok", _spelled(str(observed), endpoint), endpoint, source)
    return check(id_, "endpoint", "fail", observed, endpoint, source,
                 f"{client} {key} names {observed}, not the socket the node's runtime answers on ({endpoint}): "
                 f"set {key} to {endpoint}")


def endpoint_checks(endpoint: str, sockets: dict, crictl: dict, kubelet: dict, paths: dict | None = None) -> list[dict]:
    """Every client endpoint (crictl's runtime and image endpoints, kubelet's
    containerRuntimeEndpoint and imageServiceEndpoint) names the node's endpoint, compared by
    the socket each resolves to (``paths``, see socket_of); one CRI runtime listens."""
    out = []
    paths = paths or {}
    crictl_path = crictl.get("config_path", "/etc/crictl.yaml")
    if crictl.get("config") is None:
        out.append(check("endpoint.crictl", "endpoint", "warn", "no crictl.yaml", endpoint, crictl_path,
                         "crictl then tries deprecated default endpoints: write crictl.yaml (role crictl)"))
    else:
        config = crictl["config"]
        out.append(client_endpoint_check("endpoint.crictl", config.get("runtime-endpoint"), endpoint, paths, crictl_path,
                                         "crictl", "runtime-endpoint"))
        image = config.get("image-endpoint")
        if image:
            out.append(client_endpoint_check("endpoint.crictl_image", image, endpoint, paths, crictl_path,
                                             "crictl", "image-endpoint"))
        else:
            out.append(check("endpoint.crictl_image", "endpoint", "ok", "unset (crictl uses runtime-endpoint)", endpoint,
                             crictl_path))
    if kubelet.get("present"):
        observed = kubelet.get("endpoint")
        source = kubelet.get("endpoint_source", kubelet.get("config_path"))
        if not observed:
            out.append(check("endpoint.kubelet", "endpoint", "warn", "unset (kubelet default)", endpoint, source,
                             "set containerRuntimeEndpoint in the KubeletConfiguration"))
        else:
            out.append(client_endpoint_check("endpoint.kubelet", observed, endpoint, paths, source,
                                             "kubelet", "containerRuntimeEndpoint"))
        image = kubelet.get("image_endpoint")
        image_source = kubelet.get("image_endpoint_source", kubelet.get("config_path"))
        if image:
            out.append(client_endpoint_check("endpoint.kubelet_image", image, endpoint, paths, image_source,
                                             "kubelet", "imageServiceEndpoint"))
        elif observed:
            out.append(check("endpoint.kubelet_image", "endpoint", "ok", "unset (kubelet uses containerRuntimeEndpoint)",
                             endpoint, image_source))
        sources = (("container-runtime-endpoint", kubelet.get("endpoint_flag")),
                   ("image-service-endpoint", kubelet.get("image_endpoint_flag")))
        flags = [f"--{name} in {source}" for name, source in sources if source]
        if flags:
            out.append(check("kubelet.deprecated_flags", "kubelet", "warn", ", ".join(flags), "KubeletConfiguration",
                             kubelet.get("endpoint_flag") or kubelet.get("image_endpoint_flag"),
                             "the endpoint flags are deprecated: set containerRuntimeEndpoint and imageServiceEndpoint "
                             "in the KubeletConfiguration instead"))
    answering, sockets_seen = [], set()
    for url in sorted(url for url, s in sockets.items() if s.get("answers")):
        if socket_of(url, paths) not in sockets_seen:
            sockets_seen.add(socket_of(url, paths))
            answering.append(url)
    others = [url for url in answering if not same_socket(url, endpoint, paths)]
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


def _backported(package_version: str | None, cve: dict, compare_versions) -> bool:
    """``package_version`` is at least a known backport of ``cve`` of its own release line
    (apt's ordering by ``compare_versions``; without one no backport is assumed)."""
    return bool(package_version and compare_versions) and any(
        compare_versions(package_version, d) >= 0 and parse_semver(package_version)[:2] == parse_semver(d)[:2]
        for d in cve["debian"])


def _candidate_fixes(candidate: str | None, cve: dict, compare_versions) -> bool:
    """The distribution's candidate version carries the fix: a fixed upstream release, or at
    least a known backport of its own release line."""
    return bool(candidate) and (not vulnerable(candidate, cve["fixed"]) or _backported(candidate, cve, compare_versions))


def oci_cve_checks(oci: dict, compare_versions=None) -> list[dict]:
    """runc/crun versions against known-CVE floors, aware of distribution backports. For a
    packaged binary the evidence is, in order: the installed package's changelog
    (``changelog_cves``: the CVE ids its changelog.Debian.gz names), then the known backports
    of OCI_CVES compared by ``compare_versions(a, b) -> int`` (apt's ordering,
    gather.debian_version_compare). A CVE the package does not fix names the distribution's
    ``candidate`` version when that one fixes it."""
    out = []
    for binary, info in sorted(oci.items()):
        name, version, package = info.get("name"), info.get("version"), info.get("package_version")
        if name not in OCI_CVES or not version:
            continue
        source = f"{binary} --version" + (f" + dpkg ({package})" if package else "")
        changelog_cves, changelog, candidate = info.get("changelog_cves"), info.get("changelog"), info.get("candidate")
        for cve in OCI_CVES[name]:
            id_ = f"oci.{name}.{cve['cve'].split(',')[0].lower()}"
            floor = f">= {' / '.join(cve['fixed'])}"
            known = _backported(package, cve, compare_versions)
            if not vulnerable(version, cve["fixed"]):
                out.append(check(id_, "oci", "ok", version, floor, source))
            elif package and changelog_cves is not None and cve["cve"] in changelog_cves:
                out.append(check(id_, "oci", "ok", f"{version} (package {package}: fixed by backport)", f"{floor} or a backport",
                                 f"{source} + {changelog}"))
            elif known and changelog_cves is None:  # no changelog to read: the known backports
                out.append(check(id_, "oci", "ok", f"{version} (package {package}: fixed by backport)",
                                 f"{floor} or the backport in {', '.join(cve['debian'])}", source))
            elif package:
                # Not fixed on the node: a failure when the distribution has the fix ready (the
                # candidate), a warning when it has none yet (the hint names the way out).
                fixable = candidate != package and _candidate_fixes(candidate, cve, compare_versions)
                upgrade = (f"upgrade to {candidate} (the distribution's candidate carries the fix: apt-get install {info.get('package')})"
                           if fixable else f"the distribution offers no fixed package: install a fixed release of {name}")
                if changelog_cves is None:
                    out.append(check(id_, "oci", "fail" if fixable else "warn", f"{version} (package {package})",
                                     f"{floor} or a distro backport", source,
                                     f"{cve['cve']}: upstream {version} predates the fix and package {package} ships no changelog "
                                     f"to tell whether it carries a backport: {upgrade}"))
                else:
                    out.append(check(id_, "oci", "fail" if fixable else "warn", f"{version} (package {package}: not fixed)",
                                     f"{floor} or a backport", f"{source} + {changelog}",
                                     f"{cve['cve']}: not fixed (upstream {version} predates the fix and the package changelog "
                                     f"does not name it): {upgrade}"))
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


# ---------------------------------------------------------------- the Node object (API server)

# kubeadm's Node annotation for the CRI socket (clusters before NodeLocalCRISocket keep it).
CRI_SOCKET_ANNOTATION = "kubeadm.alpha.kubernetes.io/cri-socket"
CLUSTER_CHECK_IDS = ("cluster.node_ready", "cluster.node_runtime", "cluster.cri_socket_record", "cluster.runtime_classes")


def reported_runtime_version(version: dict | None) -> str | None:
    """What kubelet records as ``status.nodeInfo.containerRuntimeVersion`` for a runtime whose
    Version RPC answered ``version`` (``<runtime_name>://<runtime_version>``, without a leading
    ``v``), or None when the reply lacks either field."""
    version = version or {}
    if not (version.get("runtime_name") and version.get("runtime_version")):
        return None
    return f"{version['runtime_name']}://{str(version['runtime_version']).lstrip('v')}"


def same_runtime_version(recorded: str | None, version: dict | None) -> bool:
    """Whether a Node's ``containerRuntimeVersion`` names the runtime that answered ``version``."""
    answers = reported_runtime_version(version)
    return bool(recorded and answers and str(recorded).replace("://v", "://") == answers)


def cluster_checks(cluster: dict | None, runtime: str, cri: dict, endpoint: str, handlers: list[str], default: str | None,
                   paths: dict | None = None) -> list[dict]:
    """The node as the API server records it (``cluster``: cluster.cluster_facts) against what
    the node's runtime answers: Node Ready, ``status.nodeInfo.containerRuntimeVersion`` against
    the runtime's Version RPC, kubeadm's CRI socket annotation (where still present) against the
    endpoint that answers (case C23), and the RuntimeClasses against the runtime's handlers (a
    handler other than the default with no RuntimeClass is a ``warn``: pods cannot ask for it).
    Without API access every check is ``skip``, naming why; ``cluster`` None: none at all."""
    if cluster is None:
        return []
    source = f"GET /api/v1/nodes/{cluster.get('node_name')} with {cluster.get('kubeconfig')}"
    node = cluster.get("node")
    if not node:
        why = cluster.get("error") or "the Node was not read"
        return [check(i, "cluster", "skip", why, "API access", source,
                      "no API access: give runtime_chain_info a kubeconfig (verify_kubeconfig), or run it on a joined node")
                for i in CLUSTER_CHECK_IDS]
    out = []
    ready = (node.get("conditions") or {}).get("Ready") or {}
    problems = [f"{t}={c.get('status')} ({c.get('reason')})" for t, c in (node.get("conditions") or {}).items()
                if t != "Ready" and c.get("status") == "True"]
    if ready.get("status") == "True":
        out.append(check("cluster.node_ready", "cluster", "ok", "Ready" + (f"; {', '.join(problems)}" if problems else ""), "Ready",
                         source))
    else:
        out.append(check("cluster.node_ready", "cluster", "fail", f"Ready={ready.get('status')} ({ready.get('reason')}: "
                         f"{ready.get('message')})", "Ready=True", source,
                         f"the Node is not Ready: {ready.get('message') or ready.get('reason') or 'no Ready condition'}; "
                         "see journalctl -u kubelet"))
    answers = reported_runtime_version(cri.get("version"))
    if answers:
        recorded = node.get("container_runtime_version")
        same = same_runtime_version(recorded, cri.get("version"))
        out.append(check("cluster.node_runtime", "cluster", "ok" if same else "fail", recorded, answers,
                         f"{source}: status.nodeInfo.containerRuntimeVersion; the runtime's Version RPC",
                         "" if same else f"the Node reports {recorded}, but the node's runtime is {answers}: kubelet talks to "
                         "another runtime than the one answering on the node's endpoint (restart kubelet on the node's endpoint)"))
    annotation = (node.get("annotations") or {}).get(CRI_SOCKET_ANNOTATION)
    if annotation is None:
        out.append(check("cluster.cri_socket_record", "cluster", "ok", "no cri-socket annotation (node-local record)", endpoint,
                         f"{source}: metadata.annotations"))
    else:
        same = same_socket(annotation if "://" in annotation else f"unix://{annotation}", endpoint, paths)
        out.append(check("cluster.cri_socket_record", "cluster", "ok" if same else "fail", annotation, endpoint,
                         f"{source}: metadata.annotations[{CRI_SOCKET_ANNOTATION}]",
                         "" if same else f"kubeadm's {CRI_SOCKET_ANNOTATION} annotation names {annotation}, not the socket the "
                         f"node's runtime answers on ({endpoint}); kubeadm upgrade and join read it: kubectl annotate node "
                         f"{node.get('name')} --overwrite {CRI_SOCKET_ANNOTATION}={endpoint}"))
    classes = cluster.get("runtime_classes")
    if classes is None:
        out.append(check("cluster.runtime_classes", "cluster", "skip", cluster.get("runtime_classes_error") or "not listed",
                         "RuntimeClasses listed", "GET /apis/node.k8s.io/v1/runtimeclasses",
                         "the RuntimeClasses could not be listed with this kubeconfig"))
    else:
        without = sorted(h for h in handlers if h != default and h not in classes.values())
        foreign = sorted(f"{name} (handler {h})" for name, h in classes.items() if h not in handlers)
        status = "warn" if without or foreign else "ok"
        hint = "; ".join(filter(None, [
            f"handlers without a RuntimeClass (pods cannot ask for them): {', '.join(without)}" if without else "",
            f"RuntimeClasses whose handler this node's runtime lacks (their pods fail here): {', '.join(foreign)}" if foreign else ""]))
        out.append(check("cluster.runtime_classes", "cluster", status, dict(sorted(classes.items())), sorted(handlers),
                         "GET /apis/node.k8s.io/v1/runtimeclasses; the runtime's handlers", hint))
    return out


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

# kubeadm's PauseVersion (cmd/kubeadm/app/constants/constants.go) per Kubernetes minor: the
# sandbox image kubeadm pre-pulls and expects the runtime to use.
KUBEADM_PAUSE = {29: "3.9", 30: "3.9", 31: "3.10", 32: "3.10", 33: "3.10", 34: "3.10.1", 35: "3.10.1", 36: "3.10.2"}


def kubernetes_minor(version) -> int | None:
    """The minor of a Kubernetes version (``1.36.5``, ``v1.36``, ``1.36``), or None."""
    parts = str(version or "").lstrip("v").split(".")
    return int(parts[1]) if len(parts) >= 2 and parts[0] == "1" and parts[1].isdigit() else None


def kubeadm_pause_image(minor: int | None) -> str | None:
    """``registry.k8s.io/pause:<kubeadm's PauseVersion>`` for Kubernetes 1.<minor>, or None when unknown."""
    return f"registry.k8s.io/pause:{KUBEADM_PAUSE[minor]}" if minor in KUBEADM_PAUSE else None


def sandbox_key(runtime: str, runtime_version: str | None) -> str:
    """Where the runtime takes its sandbox image from, and the collection's variable for it."""
    if runtime == "crio":
        return "pause_image in [crio.image] (role crio: crio_pause_image; node-wide: kubenode_sandbox_image)"
    if (runtime_version or "").lstrip("v").startswith("1."):
        return ("sandbox_image in [plugins.\"io.containerd.grpc.v1.cri\"] (role containerd: containerd_sandbox_image; "
                "node-wide: kubenode_sandbox_image)")
    return ("sandbox in [plugins.'io.containerd.cri.v1.images'.pinned_images] (role containerd: containerd_sandbox_image; "
            "node-wide: kubenode_sandbox_image)")


def sandbox_pull_check(image: str, source: str, lookup: dict | None) -> dict:
    """``sandbox.present`` for an image not in the runtime's store: pullable when a mirror of
    its registry has its manifest (``lookup``: registry_facts' ``images`` entry, the mirrors
    in the runtime's order), a ``fail`` naming the mirrors and the cause when none can serve it,
    a ``warn`` when the verifier was given no mirror of its registry (the node would go upstream)."""
    where = f"crictl images ({source}: {image})"
    if not lookup:
        return check("sandbox.present", "sandbox", "warn", False, True, where,
                     f"{image} is not in the runtime's image store, and its registry has no mirror among the registries "
                     "the verifier was given (kubenode_registries): the first pod pulls it from the registry itself "
                     "(or fails offline)")
    probes = lookup.get("probes") or []
    urls = ", ".join(p.get("url", "") for p in probes)
    for probe in probes:
        if probe.get("status") == 200:
            return check("sandbox.present", "sandbox", "ok", "pullable", True, f"{where}; HEAD {probe['url']}",
                         f"{image} is not in the store yet; the mirror has it, the first pod pulls it from there")
    if any(p.get("status") == 401 and p.get("challenge") == "Bearer" for p in probes):
        return check("sandbox.present", "sandbox", "warn", False, True, f"{where}; HEAD {urls}",
                     f"{image} is not in the store and the mirror wants a token to tell whether it has it: pull it "
                     f"once (crictl pull {image}) to be sure")
    causes = sorted({(p.get("error") or {}).get("message") or f"HTTP {p.get('status')}"
                     + (" (manifest unknown)" if p.get("status") == 404 else "") for p in probes})
    return check("sandbox.present", "sandbox", "fail", False, True, f"{where}; HEAD {urls}",
                 f"{image} is not in the runtime's store and no mirror of {lookup.get('registry')} can serve it "
                 f"({'; '.join(causes)}): every pod sandbox fails to start; push it to the mirror or point the sandbox image "
                 "at one the mirror has")


def sandbox_checks(sandbox: dict, expected_image: str | None, runtime: str = "containerd", runtime_version: str | None = None,
                   kubernetes_version=None, lookup: dict | None = None) -> list[dict]:
    """The runtime's sandbox (pause) image is in its store or pullable through the mirrors
    (``lookup``: see sandbox_pull_check), and is the one asked for: the inventory's
    (``expected_image``), else the one kubeadm pins for the target Kubernetes minor
    (``kubernetes_version``: the inventory's, else kubelet's)."""
    out = []
    image = sandbox.get("image")
    if not image:
        return out
    present = sandbox.get("present")
    source = sandbox.get("source", "")
    key = sandbox_key(runtime, runtime_version)
    out.append(check("sandbox.present", "sandbox", "ok", True, True, f"crictl images ({source}: {image})") if present
               else sandbox_pull_check(image, source, lookup))
    if expected_image:
        ok = image == expected_image
        out.append(check("sandbox.expected", "sandbox", "ok" if ok else "fail", image, expected_image, source,
                         "" if ok else f"the runtime's sandbox image is {image}, the inventory asks {expected_image}: "
                                       f"the runtime decides it (kubelet has no say); set {key}"))
        return out
    minor = kubernetes_minor(kubernetes_version)
    if minor is None:  # no kubelet and no target release: nothing to compare with
        return out
    pinned = kubeadm_pause_image(minor)
    if pinned is None:
        out.append(check("sandbox.kubernetes", "sandbox", "warn", image, f"kubeadm's pause image for Kubernetes 1.{minor}",
                         source, f"no pause version known for Kubernetes {kubernetes_version}: "
                                 f"set kubenode_sandbox_image to the one your release pins"))
    else:
        ok = image == pinned
        out.append(check("sandbox.kubernetes", "sandbox", "ok" if ok else "warn", image, pinned,
                         f"{source}; kubeadm constants PauseVersion for Kubernetes 1.{minor}",
                         "" if ok else f"the runtime's built-in sandbox image {image} is not the one Kubernetes 1.{minor} pins "
                                       f"({pinned}; kubeadm warns and pre-pulls the other): set {key}"))
    return out


# ---------------------------------------------------------------- registries

def _mirror_key(url: str) -> str:
    """A mirror URL without its scheme and trailing slash (containerd and CRI-O spell them differently)."""
    return url.split("://", 1)[-1].rstrip("/")


def registry_config_check(runtime: str, name: str, entry: dict, asked: list[str]) -> dict:
    """The runtime's mirrors for registry ``name`` (its effective registry configuration) are
    the ones asked for (``asked``: URLs, in order)."""
    id_ = f"registry.config.{name}"
    observed = [m["url"] for m in entry.get("mirrors", [])]
    if entry.get("error"):
        return check(id_, "registry", "fail", "unreadable", asked, entry["source"],
                     f"{entry['source']} does not parse: {entry['error']}")
    if not entry.get("present"):
        where = "hosts.toml" if runtime == "containerd" else "[[registry]] table"
        return check(id_, "registry", "fail", None, asked, entry["source"],
                     f"the runtime has no {where} for {name}: its pulls go to the registry itself (offline, they fail); "
                     "run site.yml to write the mirror configuration")
    ok = [_mirror_key(u) for u in observed] == [_mirror_key(u) for u in asked]
    return check(id_, "registry", "ok" if ok else "fail", observed, asked, entry["source"],
                 "" if ok else f"the runtime's mirrors for {name} are {observed or 'none'}, the inventory asks {asked}: "
                               "run site.yml (the role owns this file)")


def registry_mirror_check(name: str, index: int, mirror: dict) -> dict:
    """A mirror the runtime uses answers the registry API from the node, with the CA, TLS
    setting and credentials the runtime uses; a 401 with credentials is a refused login."""
    probe = mirror.get("probe") or {}
    url = probe.get("url", mirror.get("url"))
    id_ = f"registry.mirror.{name}.{index}"
    ca = ", ".join(mirror.get("ca") or []) or ("none (skip_verify)" if mirror.get("skip_verify") else "the system CAs")
    creds = "with the runtime's credentials" if mirror.get("has_credentials") else "without credentials"
    source = f"GET {url} from the node (CA: {ca}; {creds})"
    error = probe.get("error")
    status = probe.get("status")
    if error:
        hint = {"tls": f"TLS to the mirror of {name} failed: {error['message']}; give the CA that signed its certificate (ca)",
                "connect": f"the mirror of {name} is unreachable from the node: {error['message']}"}.get(
                    error["kind"], f"the mirror of {name} failed: {error['message']}")
        return check(id_, "registry", "fail", error["kind"], "HTTP 200", source, hint)
    if status == 200:
        return check(id_, "registry", "ok", status, 200, source)
    if status == 401:
        if mirror.get("has_credentials"):
            return check(id_, "registry", "fail", "401 with credentials", 200, source,
                         f"the mirror of {name} refused the configured credentials (401): fix the username or password")
        if (probe.get("challenge") or "").lower() == "bearer":
            return check(id_, "registry", "ok", "401 (token auth: anonymous pulls get a token)", "200 or a token challenge", source)
        return check(id_, "registry", "fail", "401 without credentials", 200, source,
                     f"the mirror of {name} wants credentials (basic auth) and the runtime has none: set username and password")
    return check(id_, "registry", "fail", status, 200, source,
                 f"the mirror of {name} answered HTTP {status} at {url}: not a registry API root (check the URL and override_path)")


def registry_checks(runtime: str, registries: dict | None) -> list[dict]:
    """The registry link: per asked registry its configuration, then each mirror the runtime uses."""
    out = []
    if not registries:
        return out
    for name, asked in (registries.get("asked") or {}).items():
        entry = (registries.get("registries") or {}).get(name) or {"present": False, "source": "", "mirrors": []}
        out.append(registry_config_check(runtime, name, entry, asked))
        for index, mirror in enumerate(entry.get("mirrors", [])):
            out.append(registry_mirror_check(name, index, mirror))
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


def run_checks(facts: dict, expected: dict, compare_versions=None) -> list[dict]:
    """Every check for ``facts`` (from gather.collect) against ``expected`` (module params);
    ``compare_versions`` orders Debian package versions (see oci_cve_checks)."""
    runtime = facts.get("runtime", "containerd")
    rt = facts.get(runtime, {})
    cri = facts.get("cri", {})
    kubelet = facts.get("kubelet", {})
    checks = kernel_checks(facts.get("kernel", {}), kubelet)
    checks += presence_checks(facts, expected)
    inventory = inventory_check(runtime, facts.get("runtime_source", "module parameter runtime"), expected.get("runtime"))
    if inventory:
        checks.append(inventory)
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
            precedence = crio_precedence_check(rt)
            if precedence:
                checks.append(precedence)
        checks.append(default_handler_check(runtime, facts, expected.get("oci_runtime")))
        if not cri.get("error"):
            checks += cgroup_checks(cri, kubelet, expected.get("cgroup_driver"))
        checks += handler_checks(facts.get("handlers", {}))
        checks += oci_cve_checks(facts.get("oci", {}), compare_versions)
        checks.append(network_check(cri, facts.get("cni", {}), bool(expected.get("cni_expected"))))
        plugins = cni_plugins_check(facts.get("cni", {}))
        if plugins:
            checks.append(plugins)
        sandbox = facts.get("sandbox", {})
        checks += sandbox_checks(sandbox, expected.get("sandbox_image"), runtime, rt.get("version"),
                                 expected.get("kubernetes_version") or kubelet.get("version"),
                                 ((facts.get("registries") or {}).get("images") or {}).get(sandbox.get("image")))
        checks += version_checks(runtime, rt.get("version"), cri, kubelet)
        pods = static_pod_check(kubelet, facts.get("running_pods"))
        if pods:
            checks.append(pods)
        checks += registry_checks(runtime, facts.get("registries"))
    checks += endpoint_checks(facts.get("endpoint", ""), facts.get("sockets", {}), facts.get("crictl", {}), kubelet,
                              facts.get("socket_paths"))
    if "cluster" in facts:
        default, _source = default_handler(runtime, facts) if rt.get("installed") else (None, "")
        checks += cluster_checks(facts["cluster"], runtime, cri, facts.get("endpoint", ""), sorted(facts.get("handlers") or {}),
                                 default, facts.get("socket_paths"))
    return sorted(checks, key=lambda c: (LINKS.index(c["link"]), c["id"]))


def summarize(checks: list[dict], ignore: list[str]) -> dict:
    """Counts, and the failing check ids that are not ignored (``all`` ignores every id)."""
    failed = [c["id"] for c in checks if c["status"] == "fail"]
    ignored = failed if "all" in ignore else [i for i in failed if i in ignore]
    return {
        "ok": sum(c["status"] == "ok" for c in checks),
        "warn": sum(c["status"] == "warn" for c in checks),
        "fail": len(failed),
        "skip": sum(c["status"] == "skip" for c in checks),
        "failed": [i for i in failed if i not in ignored],
        "ignored": ignored,
    }
