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

from tests.render import containerd_vars, render
from tools.artifacts.build import load_manifest, mirror_root

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


def cached_binary(name: str, directory: Path, artifact: str | None = None, member: str | None = None) -> Path:
    """Put binary ``name`` of the artifact cache (`make artifacts` builds it) into ``directory``:
    the file of artifact ``artifact`` (default ``name``), or its archive member ``member``."""
    entry = load_manifest()["artifacts"].get(artifact or name)
    if entry is None:
        pytest.fail(f"no {artifact or name} in the artifact cache: run `make artifacts`")
    source = mirror_root() / entry["path"]
    if source.name.endswith(".tar.gz"):
        with tarfile.open(source) as tar:
            data = tar.extractfile(member or name).read()
        (directory / name).write_bytes(data)
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


class Flavor:
    """A containerd to test against, with the config.toml the role renders for it."""

    def __init__(self, name: str, binary: str, version: str, config_version: int):
        self.name, self.binary, self.version, self.config_version = name, binary, version, config_version

    @property
    def template(self) -> str:
        return "config-v2.toml.j2" if self.config_version == 2 else "config-v3.toml.j2"

    def render(self, **overrides) -> str:
        """The role's whole config.toml for this version, with ``overrides`` of its inputs."""
        values = {"__containerd_version": {"version": self.version}, "__containerd_config_version": self.config_version, **overrides}
        return render("containerd", self.template, containerd_vars(**values))

    def header(self) -> str:
        return f"version = {self.config_version}\n"


@pytest.fixture(scope="session")
def containerd_release(tmp_path_factory) -> Flavor:
    """containerd 2.x from the artifact cache (what the roles install by default)."""
    directory = tmp_path_factory.mktemp("containerd-release")
    binary = cached_binary("containerd", directory, artifact="containerd", member="bin/containerd")
    cached_binary("ctr", directory, artifact="containerd", member="bin/ctr")
    version = load_manifest()["artifacts"]["containerd"]["version"]
    return Flavor("release", str(binary), version, 4 if tuple(map(int, version.split(".")[:2])) >= (2, 3) else 3)


@pytest.fixture(scope="session")
def containerd_distro(containerd_binary) -> Flavor:
    """containerd 1.x from this machine's distribution (the roles' distro method)."""
    out = subprocess.run([containerd_binary, "--version"], capture_output=True, text=True, check=True).stdout.split()
    return Flavor("distro", containerd_binary, out[2], 2)


@pytest.fixture(params=["release", "distro"])
def flavor(request) -> Flavor:
    """Each containerd the roles install: the release (2.x) and the distribution's (1.x)."""
    return request.getfixturevalue(f"containerd_{request.param}")


class Containerd:
    """A running private containerd instance."""

    def __init__(self, directory: Path, config: Path, proc: subprocess.Popen, binary: str):
        self.directory = directory
        self.config = config
        self.proc = proc
        self.binary = shutil.which(binary) or binary

    @property
    def socket(self) -> str:
        return str(self.directory / "containerd.sock")

    @property
    def endpoint(self) -> str:
        return "unix://" + self.socket

    def log(self) -> str:
        return (self.directory / "containerd.log").read_text(errors="replace")


def private_config(text: str, directory: Path) -> str:
    """Point a rendered config.toml at private root/state/socket/CNI directories (the roles'
    default paths, each replaced by one under ``directory``)."""
    defaults = containerd_vars()
    replacements = {
        defaults["containerd_address"]: f"{directory}/containerd.sock",
        defaults["__containerd_opt_path"]: f"{directory}/opt",
        defaults["containerd_root"]: f"{directory}/root",
        defaults["containerd_state"]: f"{directory}/state",
        defaults["containerd_cni_conf_dir"]: f"{directory}/cni",
        defaults["containerd_registry_config_path"]: f"{directory}/certs.d",
    }
    for old, new in replacements.items():  # whole quoted values only
        text = text.replace(f'"{old}"', f'"{new}"')
    return text


NO_EGRESS_PROXY = "http://127.0.0.1:9"


@contextmanager
def containerd_instance(config_text: str, binary: str = "containerd", wait: bool = True):
    directory = Path(tempfile.mkdtemp(prefix="kn-ctd-", dir="/tmp"))
    config = directory / "config.toml"
    config.write_text(private_config(config_text, directory))
    log = open(directory / "containerd.log", "w")
    # The ctr next to a release containerd speaks its API version (the host's ctr is 1.x).
    env = dict(os.environ, PATH=f"{Path(binary).parent}{os.pathsep}{os.environ['PATH']}") if os.sep in binary else dict(os.environ)
    # Registry requests to anything but loopback go to a proxy port where nothing listens: a
    # pull that falls back to a real registry fails at once, with no name lookup.
    env.update(HTTPS_PROXY=NO_EGRESS_PROXY, HTTP_PROXY=NO_EGRESS_PROXY, NO_PROXY="127.0.0.1,localhost")
    proc = subprocess.Popen([binary, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env)
    inst = Containerd(directory, config, proc, binary)
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
