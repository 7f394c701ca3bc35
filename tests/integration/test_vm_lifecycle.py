"""The test bed leaves no QEMU process or overlay behind: after down, and after a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.testbed import paths, vm

pytestmark = pytest.mark.vm
ROOT = Path(__file__).resolve().parents[2]


def qemu_processes_for(directory: str) -> list[int]:
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


def test_a_vm_boots_with_ssh_on_loopback_and_down_removes_everything():
    inst = vm.up("itest-lifecycle", "node", memory_mb=1024, log=lambda m: None)
    try:
        assert inst.address == "127.0.0.1"
        out = subprocess.run(inst.ssh_argv("systemctl", "is-system-running"), capture_output=True, text=True).stdout
        assert out.strip() == "running"
        listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{inst.port} " in listening
        assert f"0.0.0.0:{inst.port} " not in listening and f"*:{inst.port} " not in listening
        assert qemu_processes_for(inst.directory)
    finally:
        assert vm.down("itest-lifecycle", "node")
    assert not Path(inst.directory).exists()
    assert qemu_processes_for(inst.directory) == []


def test_vms_of_a_killed_molecule_test_run_are_removed(tmp_path):
    """A stand-in for `molecule test` starts a VM the way create.yml does, then is killed -9."""
    fake = tmp_path / "molecule"
    fake.write_text(
        "#!/bin/sh\n"
        f"cd {ROOT} && {sys.executable} -m tests.testbed up itest-killed node --memory 1024 --bind-molecule-test\n"
        'echo "up-exit=$?"\n'
        "exec sleep 600\n"
    )
    fake.chmod(0o755)
    log = tmp_path / "up.log"
    with log.open("w") as out:
        owner = subprocess.Popen([str(fake), "test"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    directory = paths.instances_dir() / "itest-killed" / "node"
    try:
        deadline = time.monotonic() + vm.SSH_WAIT_SECONDS + 180
        while vm.load("itest-killed", "node") is None:
            output = log.read_text()
            up_failed = "up-exit=" in output and "up-exit=0" not in output
            assert not up_failed and time.monotonic() < deadline, f"the VM did not come up:\n{output}"
            time.sleep(2)
        assert qemu_processes_for(str(directory))
        os.killpg(owner.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while directory.exists() or qemu_processes_for(str(directory)):
            assert time.monotonic() < deadline, "the VM outlived the killed run"
            time.sleep(1)
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
        vm.down("itest-killed", "node")
