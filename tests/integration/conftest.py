"""Real parts on the test machine: private containerd instances, crictl, the modules run by Ansible.

containerd instances get private root, state and socket directories under a short temp
dir, so they never touch the machine's own containerd. No containers are started (this
machine may not be able to run them); the VM tests in molecule/ do that.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.artifacts.build import load_manifest, mirror_root
from tests.render import containerd_vars, render

ROOT = Path(__file__).resolve().parents[2]


def ansible_env() -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STRATEGY="linear",
    )
    return env


def run_module(module: str, args: dict) -> dict:
    """Run a collection module on localhost through Ansible and return its result."""
    argv = ["ansible", "localhost", "-c", "local", "-i", "localhost,", "-m", f"kubenode.runtime_chain.{module}",
            "-e", f"ansible_python_interpreter={sys.executable}", "-a", json.dumps(args)]
    out = subprocess.run(argv, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False)
    data = json.loads(out.stdout[out.stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]


def cached_binary(name: str, directory: Path) -> Path:
    """Put binary ``name`` of the artifact cache (`make artifacts` builds it) into ``directory``."""
    entry = load_manifest()["artifacts"].get(name)
    if entry is None:
        pytest.fail(f"no {name} in the artifact cache: run `make artifacts`")
    source = mirror_root() / entry["path"]
    if source.name.endswith(".tar.gz"):
        with tarfile.open(source) as tar:
            tar.extract(name, directory)
    else:
        shutil.copyfile(source, directory / name)
    (directory / name).chmod(0o755)
    return directory / name


@pytest.fixture(scope="session")
def crictl(tmp_path_factory) -> str:
    """The crictl binary of the artifact cache."""
    return str(cached_binary("crictl", tmp_path_factory.mktemp("crictl")))


@pytest.fixture(scope="session")
def kubelet_binary_dir(tmp_path_factory) -> Path:
    """A directory holding the kubelet binary of the artifact cache."""
    return cached_binary("kubelet", tmp_path_factory.mktemp("kubelet-bin")).parent


@pytest.fixture
def kubelet_on_path(kubelet_binary_dir, monkeypatch) -> None:
    """Put kubelet on the PATH the module's commands see."""
    monkeypatch.setenv("PATH", f"{kubelet_binary_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture(scope="session")
def containerd_binary() -> str:
    path = shutil.which("containerd")
    if path is None:
        pytest.fail("containerd is not installed on the test machine: run `make host-deps`")
    return path


class Containerd:
    """A running private containerd instance."""

    def __init__(self, directory: Path, config: Path, proc: subprocess.Popen):
        self.directory = directory
        self.config = config
        self.proc = proc

    @property
    def socket(self) -> str:
        return str(self.directory / "containerd.sock")

    @property
    def endpoint(self) -> str:
        return "unix://" + self.socket

    def log(self) -> str:
        return (self.directory / "containerd.log").read_text(errors="replace")


def private_config(text: str, directory: Path) -> str:
    """Point a rendered config.toml at private root/state/socket/CNI directories."""
    replacements = {
        '"/var/lib/containerd"': f'"{directory}/root"',
        '"/run/containerd"': f'"{directory}/state"',
        '"/run/containerd/containerd.sock"': f'"{directory}/containerd.sock"',
        '"/var/lib/containerd/opt"': f'"{directory}/opt"',
        '"/etc/cni/net.d"': f'"{directory}/cni"',
        '"/etc/containerd/certs.d"': f'"{directory}/certs.d"',
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


@contextmanager
def containerd_instance(config_text: str, binary: str = "containerd", wait: bool = True):
    directory = Path(tempfile.mkdtemp(prefix="kn-ctd-", dir="/tmp"))
    config = directory / "config.toml"
    config.write_text(private_config(config_text, directory))
    log = open(directory / "containerd.log", "w")
    proc = subprocess.Popen([binary, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    inst = Containerd(directory, config, proc)
    try:
        if wait:
            deadline = time.monotonic() + 20
            while not Path(inst.socket).exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"containerd did not start:\n{inst.log()[-3000:]}")
                time.sleep(0.1)
            time.sleep(0.3)
        yield inst
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def rendered_v2() -> str:
    return render("containerd", "config-v2.toml.j2", containerd_vars())


@pytest.fixture
def stale_socket(tmp_path) -> str:
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    return "unix://" + str(path)
