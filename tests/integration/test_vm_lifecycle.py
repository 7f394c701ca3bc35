"""A test-bed VM listens on loopback only, and leaves no QEMU process or overlay behind after a
killed run (one boot; ``vm.down`` removing everything is asserted where every VM test ends,
in test_vm_bad_input's fixture)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.testbed import paths, vm

from .vmtools import qemu_processes_for

pytestmark = pytest.mark.vm
ROOT = Path(__file__).resolve().parents[2]


def qemu_listens_on_loopback_only(inst: vm.Instance) -> None:
    out = subprocess.run(inst.ssh_argv("systemctl", "is-system-running"), capture_output=True, text=True).stdout
    assert out.strip() == "running"
    assert inst.address == "127.0.0.1"
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    assert f"127.0.0.1:{inst.port} " in listening
    assert f"0.0.0.0:{inst.port} " not in listening and f"*:{inst.port} " not in listening


def test_a_vm_listens_on_loopback_and_a_killed_molecule_test_run_leaves_nothing(tmp_path):
    """A stand-in for `molecule test` starts a VM the way create.yml does; the VM runs with SSH
    on 127.0.0.1 only; then the stand-in is killed -9 and the VM goes with it."""
    fake = tmp_path / "molecule"
    fake.write_text(
        "#!/bin/sh\n"
        f"cd {ROOT} && {sys.executable} -m tools.testbed up itest-killed node --memory 1024 --bind-molecule-test\n"
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
        while "up-exit=0" not in log.read_text():  # up returns once SSH answers
            assert time.monotonic() < deadline, f"the VM did not come up:\n{log.read_text()}"
            time.sleep(2)
        assert qemu_processes_for(str(directory))
        qemu_listens_on_loopback_only(vm.load("itest-killed", "node"))
        os.killpg(owner.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while directory.exists() or qemu_processes_for(str(directory)):
            assert time.monotonic() < deadline, "the VM outlived the killed run"
            time.sleep(1)
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
        vm.down("itest-killed", "node")
