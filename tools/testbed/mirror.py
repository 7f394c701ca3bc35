"""Package sources for guests, and the loopback artifact mirror.

Guests have no route to anything (QEMU user networking with ``restrict=on``). They reach
exactly four services through explicit ``guestfwd`` rules on the virtual address
``GUEST_GATEWAY`` (10.0.2.100, inside QEMU's private slirp network, never on the wire):

* port 80   -> the Debian archive that this machine's own apt uses (read from its apt
  sources, or ``$KUBENODE_DEBIAN_MIRROR``); the guest resolves the archive's host name to
  10.0.2.100 through /etc/hosts, so apt keeps the right ``Host:`` header and checks the
  signed InRelease files as usual;
* port 8080 -> an HTTP server bound to 127.0.0.1 on this machine that serves the
  artifact cache (see tools/artifacts);
* ports 5000 and 5001 -> the test bed's public and private registries, bound to 127.0.0.1
  (see registry.py).

No archive host is written into the code: it is discovered at run time.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

GUEST_GATEWAY = "10.0.2.100"
ARCHIVE_PORT_IN_GUEST = 80
ARTIFACTS_PORT_IN_GUEST = 8080
ARTIFACTS_URL_IN_GUEST = f"http://{GUEST_GATEWAY}:{ARTIFACTS_PORT_IN_GUEST}"


@dataclass(frozen=True)
class DebianMirror:
    """A Debian archive reachable over plain HTTP.

    ``url`` is the archive root (``http://host/debian``); ``security_url`` is the
    debian-security root on the *same* host, or ``None`` when this machine's apt has none
    there (a guest can only reach one archive host).
    """

    url: str
    security_url: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    def guest_sources(self, suite: str) -> str:
        """Return the one-line-style sources.list a guest of ``suite`` uses."""
        lines = [f"deb {self.url} {suite} main", f"deb {self.url} {suite}-updates main"]
        if self.security_url:
            lines.append(f"deb {self.security_url} {suite}-security main")
        return "\n".join(lines) + "\n"


def parse_apt_uris(text: str) -> list[str]:
    """Return the archive URIs named in an apt sources file (deb822 or one-line form).

    Only ``deb`` entries count (``deb-src`` is ignored); option brackets in one-line
    entries (``deb [arch=amd64] http://...``) are skipped.

    >>> parse_apt_uris("deb http://h/debian bookworm main")
    ['http://h/debian']
    """
    uris: list[str] = []
    # deb822 stanzas
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "uris" in fields and "deb" in fields.get("types", "deb").split():
            if fields.get("enabled", "yes").lower() != "no":
                uris.extend(fields["uris"].split())
    # one-line entries
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("deb "):
            continue
        parts = line.split()[1:]
        if parts and parts[0].startswith("["):
            while parts and not parts[0].endswith("]"):
                parts.pop(0)
            parts = parts[1:]
        if parts:
            uris.append(parts[0])
    return uris


def pick_debian_mirror(uris: list[str]) -> DebianMirror | None:
    """Choose the first plain-HTTP Debian archive from ``uris`` (and its security twin).

    Returns ``None`` when no ``http://…/debian`` URI is present; HTTPS archives cannot be
    forwarded by the simple TCP rule and are skipped.
    """
    main = next(
        (u.rstrip("/") for u in uris if u.startswith("http://") and u.rstrip("/").endswith("/debian")),
        None,
    )
    if main is None:
        return None
    host = urlsplit(main).netloc
    security = next(
        (
            u.rstrip("/")
            for u in uris
            if u.startswith("http://") and urlsplit(u).netloc == host and u.rstrip("/").endswith("/debian-security")
        ),
        None,
    )
    return DebianMirror(url=main, security_url=security)


def host_debian_mirror() -> DebianMirror:
    """Return the Debian archive guests should use.

    Source: ``$KUBENODE_DEBIAN_MIRROR`` (an ``http://host/debian`` URL) if set, else the
    first plain-HTTP Debian archive in this machine's /etc/apt/sources.list and
    /etc/apt/sources.list.d/*.

    Raises:
        RuntimeError: no usable archive was found; the message says which variable to set.
    """
    env = os.environ.get("KUBENODE_DEBIAN_MIRROR")
    if env:
        mirror = pick_debian_mirror([env])
        if mirror is None:
            raise RuntimeError(f"KUBENODE_DEBIAN_MIRROR={env!r} is not an http://<host>/debian URL")
        return mirror
    uris: list[str] = []
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]:
        try:
            with open(path, encoding="utf-8") as handle:
                uris.extend(parse_apt_uris(handle.read()))
        except OSError:
            continue
    mirror = pick_debian_mirror(uris)
    if mirror is None:
        raise RuntimeError(
            "no plain-HTTP Debian archive found in /etc/apt/sources.list*; "
            "set KUBENODE_DEBIAN_MIRROR=http://<host>/debian"
        )
    return mirror
