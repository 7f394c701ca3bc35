"""Helpers for tests that need a fresh test-bed VM and run the playbooks against it."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from tools.testbed import paths, vm
from tools.testbed.__main__ import write_inventory

ROOT = Path(__file__).resolve().parents[2]
# The test bed's opt-in Mitogen strategy (faster on emulated guests; Molecule's containerd
# scenario proves the playbooks under Ansible's stock linear strategy).
MITOGEN_ENV = paths.MITOGEN_ENV

# Everything the site playbook could touch; compared before and after a run that must
# change nothing.
SNAPSHOT_SCRIPT = r"""
dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n' | sha256sum
find /etc /usr/local /usr/lib/cni /var/cache/kubenode /var/lib/containerd /opt -xdev \
  -printf '%p %s %m %T@\n' 2>/dev/null | grep -v '^/etc/ld.so.cache ' | sort
cat /proc/modules | cut -d' ' -f1 | sort | sha256sum
cat /proc/sys/net/ipv4/ip_forward /proc/swaps
systemctl list-unit-files --state=masked --no-legend | sort
systemctl is-active containerd || true
"""


def playbook(inventory: Path, playbook_path: str, *extra: str, mitogen: bool = False) -> subprocess.CompletedProcess:
    """Run a playbook of the checkout against ``inventory`` with the product's ansible.cfg;
    ``mitogen``: with the test bed's opt-in Mitogen strategy (faster on emulated guests)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    if mitogen:
        env.update(MITOGEN_ENV)
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / playbook_path), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )


def ssh(inst: vm.Instance, script: str) -> str:
    """Run ``script`` with bash on the VM (quoted once: ssh joins its arguments for the remote shell)."""
    return subprocess.run(inst.ssh_argv("bash", "-c", shlex.quote(script)), capture_output=True, text=True, check=True).stdout


def snapshot(inst: vm.Instance) -> str:
    return ssh(inst, SNAPSHOT_SCRIPT)


def qemu_processes_for(directory: str) -> list[int]:
    """PIDs of the processes whose command line names ``directory`` (a VM's QEMU and mirror)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if directory in cmdline:
                found.append(int(proc.name))
    return found
