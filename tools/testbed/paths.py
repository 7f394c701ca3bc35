"""Where the test bed keeps its state: everything lives outside the checkout.

The root is ``$KUBENODE_CACHE`` when set, else ``$XDG_CACHE_HOME/kubenode-runtime-chain``,
else ``~/.cache/kubenode-runtime-chain``. Layout::

    images/<key>/        base VM images (rootfs.ext4, vmlinuz, initrd.img, packages.txt, inputs.json)
    artifacts/           built upstream binaries and OCI images (mirror/ tree + manifest.json)
    instances/<group>/<name>/   one running VM: overlay, key, pid files, serial log
    accel.json           the cached accelerator verdict (kvm or tcg) for this machine
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The test bed's opt-in Mitogen strategy, and the environment that selects it.
STRATEGY_PLUGINS = Path(__file__).resolve().parent / "strategy_plugins"
MITOGEN_ENV = {"ANSIBLE_STRATEGY_PLUGINS": str(STRATEGY_PLUGINS), "ANSIBLE_STRATEGY": "mitogen_linear"}


def cache_dir() -> Path:
    """Return the test bed's cache root (created if missing)."""
    env = os.environ.get("KUBENODE_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(xdg) / "kubenode-runtime-chain"
    root.mkdir(parents=True, exist_ok=True)
    return root


def images_dir() -> Path:
    return cache_dir() / "images"


def artifacts_dir() -> Path:
    return cache_dir() / "artifacts"


def instances_dir() -> Path:
    return cache_dir() / "instances"
