# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Registry mirrors and credentials: one node-wide description, each runtime's own format.

``kubenode_registries`` (role kubenode) lists upstream registries, each with its mirrors::

    - registry: registry.k8s.io          # host[:port] exactly as image references name it
      mirrors:
        - url: https://mirror.example:5000   # scheme and host required; a path is allowed
          ca: files/mirror-ca.crt            # controller file: the CA that signed the mirror's cert
          skip_verify: false
          capabilities: [pull, resolve]      # containerd's; CRI-O: without resolve, digests only
          override_path: false               # containerd only: the URL path replaces /v2
          username: puller                   # both or neither; sent to this mirror only
          password: "{{ vault_mirror_password }}"

``registries_normalized`` validates it and fills the defaults; ``containerd_hosts`` and
``crio_registries`` turn it into what each runtime reads (containerd's
``<config_path>/<host>/hosts.toml``, CRI-O's containers-registries.conf(5) drop-in,
containers-certs.d(5) CA files and a containers-auth.json(5) file).
"""

from __future__ import annotations

import base64
import os.path
import posixpath
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

_HOST_PORT = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$")
_CAPABILITIES = ("pull", "resolve", "push")
_MIRROR_KEYS = {"url", "ca", "skip_verify", "capabilities", "override_path", "username", "password"}
_REGISTRY_KEYS = {"registry", "mirrors", "server", "mirrors_only"}
# Docker Hub's image names say docker.io; its registry API answers elsewhere.
_SERVERS = {"docker.io": "https://registry-1.docker.io"}


def registry_problems(registries: list, var: str = "kubenode_registries", runtime: str = "") -> list[str]:
    """Every problem of ``registries`` (``kubenode_registries`` form), each naming the item and the fix.

    ``runtime`` (``containerd``, ``crio`` or '') adds that runtime's limits (CRI-O has no
    ``override_path``). A ``ca`` must be a file on the controller (filters run there).
    Returns [] when the input is valid.
    """
    problems: list[str] = []
    if not isinstance(registries, list):
        return [f"{var} must be a list of registries (registry, mirrors), not {_kind(registries)}"]
    seen: set[str] = set()
    for i, reg in enumerate(registries):
        where = f"{var}[{i}]"
        problems += _shape_problems(reg, where, _REGISTRY_KEYS, "registry and mirrors")
        if not isinstance(reg, dict):
            continue
        name = reg.get("registry")
        if not isinstance(name, str) or not _HOST_PORT.match(name or ""):
            problems.append(f"{where}.registry={name!r} must be a registry host[:port] as image references name it "
                            "(registry.k8s.io, docker.io), with no scheme or path")
        elif name in seen:
            problems.append(f"{where}.registry={name} is listed twice: give each registry one entry with all its mirrors")
        else:
            seen.add(name)
        server = reg.get("server")
        if server is not None and _url_problem(server):
            problems.append(f"{where}.server={server!r} {_url_problem(server)}")
        mirrors = reg.get("mirrors", [])
        if not isinstance(mirrors, list):
            problems.append(f"{where}.mirrors must be a list of mirrors (url, ...)")
            continue
        if reg.get("mirrors_only") and not mirrors:
            problems.append(f"{where}.mirrors_only needs at least one mirror")
        if reg.get("mirrors_only") and server is not None:
            problems.append(f"{where} sets both server and mirrors_only: the last mirror takes the server's place")
        for j, mirror in enumerate(mirrors):
            problems += _mirror_problems(mirror, f"{where}.mirrors[{j}]", runtime)
    return problems


def _mirror_problems(mirror, where: str, runtime: str) -> list[str]:
    """The problems of one mirror of registry_problems' input (``where``: its path in the variable)."""
    problems = _shape_problems(mirror, where, _MIRROR_KEYS, "at least url")
    if not isinstance(mirror, dict):
        return problems
    url = mirror.get("url")
    if _url_problem(url):
        problems.append(f"{where}.url={url!r} {_url_problem(url)}")
    caps = mirror.get("capabilities", ["pull", "resolve"])
    if not isinstance(caps, list) or not caps or any(c not in _CAPABILITIES for c in caps):
        problems.append(f"{where}.capabilities={caps!r} must be a non-empty list of {', '.join(_CAPABILITIES)}")
    ca = mirror.get("ca") or ""
    if ca and not os.path.isfile(ca):
        problems.append(f"{where}.ca={ca} is not a file on the controller: give the path of the CA certificate "
                        "(PEM) that signed the mirror's certificate")
    if ca and mirror.get("skip_verify"):
        problems.append(f"{where} sets both ca and skip_verify: choose one")
    if runtime == "crio" and mirror.get("override_path"):
        problems.append(f"{where}.override_path is containerd's: CRI-O has no such option; "
                        "put the mirror's repository path in its url instead")
    if bool(mirror.get("username")) != bool(mirror.get("password")):
        problems.append(f"{where} needs both username and password (or neither)")
    return problems


def _kind(value) -> str:
    """What ``value`` is, in YAML's words (Ansible wraps strings and dicts in its own types)."""
    for kind, name in ((bool, "a boolean"), (str, "a string"), ((int, float), "a number"), (dict, "a mapping"), (list, "a list")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _shape_problems(item, where: str, known: set[str], needs: str) -> list[str]:
    """``item`` must be a dict with only ``known`` keys (``needs``: what it must hold, for the message)."""
    if not isinstance(item, dict):
        return [f"{where} must be a dict with {needs}"]
    unknown = sorted(set(item) - known)
    return [f"{where} has unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})"] if unknown else []


def _url_problem(url) -> str:
    """Why ``url`` is not a mirror URL (``http(s)://host[:port][/path]``), or ''."""
    if not isinstance(url, str) or not url:
        return "must be a URL such as https://mirror.example:5000"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "needs a scheme and a host: https://<host>[:port][/path]"
    if parts.query or parts.fragment or parts.username:
        return "must not carry a query, a fragment or credentials (use username and password)"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has an invalid port"
    return ""


def registries_normalized(registries: list, var: str = "kubenode_registries", runtime: str = "") -> list[dict]:
    """``registries`` validated, with every default filled in.

    Each registry gets ``server`` (``https://<registry>``; Docker Hub's API host for
    docker.io), ``mirrors_only`` (false: the registry itself is tried after its mirrors;
    true: never, the last mirror takes its place) and each mirror ``skip_verify`` (false), ``capabilities`` ([pull, resolve]),
    ``override_path`` (false), ``ca``/``username``/``password`` ('' when unset), ``host``
    (host[:port] of its URL) and ``location`` (the URL without its scheme).

    Raises:
        AnsibleFilterError: the input has problems (all of them, see ``registry_problems``).
    """
    problems = registry_problems(registries, var, runtime)
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    out = []
    for reg in registries:
        mirrors = []
        for mirror in reg.get("mirrors", []):
            parts = urlsplit(mirror["url"])
            mirrors.append({
                "url": mirror["url"].rstrip("/"),
                "ca": mirror.get("ca") or "",
                "skip_verify": bool(mirror.get("skip_verify", False)),
                "capabilities": list(mirror.get("capabilities", ["pull", "resolve"])),
                "override_path": bool(mirror.get("override_path", False)),
                "username": mirror.get("username") or "",
                "password": mirror.get("password") or "",
                "host": parts.netloc,
                "location": (parts.netloc + parts.path).rstrip("/"),
                "scheme": parts.scheme,
            })
        out.append({"registry": reg["registry"], "server": (reg.get("server") or _default_server(reg["registry"])).rstrip("/"),
                    "mirrors": mirrors, "mirrors_only": bool(reg.get("mirrors_only", False))})
    return out


def _default_server(registry: str) -> str:
    return _SERVERS.get(registry, f"https://{registry}")


def _basic(mirror: dict) -> str:
    return base64.b64encode(f"{mirror['username']}:{mirror['password']}".encode()).decode()


def _file_name(text: str) -> str:
    """A file-name-safe form of a host[:port] (containerd accepts ``host:port`` directories; CA files get ``_``)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", text)


def containerd_hosts(registries: list[dict], config_path: str) -> list[dict]:
    """What containerd's registry ``config_path`` holds for normalized ``registries``.

    One entry per registry: ``dir`` (``<config_path>/<registry>``), ``file`` (its hosts.toml), ``secret`` (true when a
    mirror has credentials: the file is then root-only), ``cas`` (controller ``src`` -> node
    ``dest``), ``hosts`` (per mirror: ``url``, ``capabilities``, ``skip_verify``,
    ``override_path``, ``ca`` (the node path or ''), ``authorization`` (the ``Basic`` header
    value or '')), in the order containerd tries them, and ``server``: the registry's own
    URL, or with ``mirrors_only`` the last mirror again (its settings as ``server_host``, written
    at the file's top level, where containerd reads the server's), so that nothing else is tried.
    """
    out = []
    for reg in registries:
        directory = posixpath.join(config_path, reg["registry"])
        hosts, cas = [], []
        for n, mirror in enumerate(reg["mirrors"]):
            ca = ""
            if mirror["ca"]:
                ca = posixpath.join(directory, f"mirror-{n}-ca.crt")
                cas.append({"src": mirror["ca"], "dest": ca})
            hosts.append({"url": mirror["url"], "capabilities": mirror["capabilities"], "skip_verify": mirror["skip_verify"],
                          "override_path": mirror["override_path"], "ca": ca,
                          "authorization": f"Basic {_basic(mirror)}" if mirror["username"] else ""})
        server, server_host = reg["server"], None
        if reg["mirrors_only"]:
            # The last mirror is also the server (top-level settings). It stays a [host] too:
            # containerd 1.6 rejects a hosts.toml without [host] tables ("invalid `host` tree").
            server_host = hosts[-1]
            server = server_host["url"]
        out.append({"registry": reg["registry"], "dir": directory, "file": posixpath.join(directory, "hosts.toml"),
                    "server": server, "server_host": server_host, "hosts": hosts, "cas": cas,
                    "secret": any(h["authorization"] for h in hosts)})  # server_host is one of hosts
    return out


def crio_registries(registries: list[dict], certs_dir: str) -> dict:
    """What CRI-O reads for normalized ``registries``.

    Returns ``registries`` (containers-registries.conf(5) ``[[registry]]`` tables: ``prefix``,
    ``location`` (with ``mirrors_only``, the last mirror's), ``insecure``, ``mirrors`` with
    ``location``, ``insecure``, ``pull_from_mirror``: ``all``, or ``digest-only`` for a mirror without the resolve capability), ``cas`` (controller ``src``
    -> ``<certs_dir>/<mirror host>/kubenode-<registry>.crt``, containers-certs.d(5)) and
    ``auths`` (containers-auth.json(5) ``auths``: mirror location -> {auth}). The input comes
    from ``registries_normalized(..., runtime='crio')``, which refuses ``override_path``.
    """
    tables, cas, auths = [], [], {}
    for reg in registries:
        mirrors = []
        for mirror in reg["mirrors"]:
            mirrors.append({"location": mirror["location"], "insecure": mirror["skip_verify"] or mirror["scheme"] == "http",
                            "pull_from_mirror": "all" if "resolve" in mirror["capabilities"] else "digest-only"})
            if mirror["ca"]:
                cas.append({"src": mirror["ca"], "dest": posixpath.join(certs_dir, mirror["host"], f"kubenode-{_file_name(reg['registry'])}.crt")})
            if mirror["username"]:
                auths[mirror["location"]] = {"auth": _basic(mirror)}
        # containers/image maps docker.io to its API host itself: the location stays the registry
        # unless a server was given.
        location = reg["registry"] if reg["server"] == _default_server(reg["registry"]) else reg["server"].split("://", 1)[1]
        insecure = False
        if reg["mirrors_only"]:  # the last mirror is the registry's location: nothing else is tried
            last = mirrors.pop()
            location, insecure = last["location"], last["insecure"]
        tables.append({"prefix": reg["registry"], "location": location, "insecure": insecure, "mirrors": mirrors})
    return {"registries": tables, "cas": cas, "auths": auths}


def registry_mirror_urls(registries: list) -> dict:
    """Registry -> its mirrors' URLs, in order (what runtime_chain_info's ``registries`` takes; no credentials)."""
    return {reg["registry"]: [mirror["url"] for mirror in reg.get("mirrors") or []] for reg in registries or []}


class FilterModule:
    """registry_problems, registries_normalized, containerd_hosts, crio_registries, registry_mirror_urls."""

    def filters(self):
        return {"registry_problems": registry_problems, "registries_normalized": registries_normalized,
                "containerd_hosts": containerd_hosts, "crio_registries": crio_registries,
                "registry_mirror_urls": registry_mirror_urls}
