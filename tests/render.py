"""Render the roles' Jinja templates outside Ansible, with Ansible's own filters.

Used by unit tests (structure of the rendered file) and integration tests (the rendered
file fed to the real binary's validator).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml
from ansible.plugins.filter.core import FilterModule

ROOT = Path(__file__).resolve().parents[1]


def role_defaults(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def render(role: str, template: str, variables: dict) -> str:
    """Render ``roles/<role>/templates/<template>`` with ``variables`` (no role defaults added)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT / "roles" / role / "templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )
    env.filters.update(FilterModule().filters())
    return env.get_template(template).render(ansible_managed="Ansible managed", **variables)


def containerd_vars(**overrides) -> dict:
    """The containerd role's template inputs as the role computes them by default: its own
    literal defaults (paths, socket, snapshotter) and role cni's directories, read from the
    roles' defaults files; the derived values set here as the role derives them."""
    containerd, cni = role_defaults("containerd"), role_defaults("cni")
    keys = ("containerd_registry_config_path", "containerd_snapshotter", "containerd_root",
            "containerd_state", "containerd_address")
    values = {key: containerd[key] for key in keys}
    values.update({
        "containerd_cgroup_driver": "systemd",
        "containerd_sandbox_image": "localhost/kubenode/pause:1.0",
        "containerd_default_runtime": "runc",
        "containerd_runtime_handlers": {"runc": "/usr/sbin/runc"},
        "containerd_cni_bin_dirs": cni["cni_bin_dirs"],
        "containerd_cni_conf_dir": cni["cni_conf_dir"],
        "__containerd_opt_path": "/var/lib/containerd/opt",
        "__containerd_version": {"version": "1.7.24~ds1"},
        "__containerd_config_version": 3,
    })
    values.update(overrides)
    return values
