"""Fresh VM instances: start from a qcow2 overlay of the base image, wait, stop, delete.

An instance lives in ``instances/<group>/<name>/`` (a group is a Molecule scenario, the
local inventory, or a benchmark run) and owns everything it creates there:

* ``disk.qcow2``   overlay on the read-only base image (created in ~25 ms)
* ``id_ed25519``   a per-instance SSH key; the public half reaches the guest as the SMBIOS
  systemd credential ``ssh.authorized_keys.root`` (nothing is baked into the image)
* ``qemu.pid``, ``serial.log``, ``qemu.log``
* ``httpd.pid``, ``httpd.port``  the loopback artifact mirror serving this guest
* ``registry-{public,private}.pid``  its two registries (registry.py)
* ``instance.json`` connection data (address, port, user, identity file)

Networking is QEMU user mode with ``restrict=on``: SSH is forwarded from a free port on
127.0.0.1, and the guest's only egress is the ``guestfwd`` rules of ``mirror.py``.

A kubeadm cluster's VMs (``api_server``/``api_server_of``) reach one API server: its VM
forwards a free port of 127.0.0.1 to its :6443 (``api_port`` in instance.json, what the
controller's kubeconfig names), and every VM of the cluster, that one included, reaches it
as ``CONTROL_PLANE_ENDPOINT`` (a guestfwd to that port): every guest is 10.0.2.15 under
user-mode networking, so the nodes meet only through this machine's loopback.

``down`` kills the processes and deletes the directory; it is idempotent and also cleans
up what an interrupted ``up`` left behind. ``reap`` does that for whole groups and kills
QEMU processes whose instance directory is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import paths, registry
from .accel import ACCEL_ARGS, choose_accel
from .image import DEFAULT_SUITE, BaseImage, ensure_image
from .mirror import ARTIFACTS_PORT_IN_GUEST, GUEST_GATEWAY, host_debian_mirror

API_PORT_IN_GUEST = 6443
# kubeadm's controlPlaneEndpoint in the test bed (a SAN of the API server's certificate).
CONTROL_PLANE_ENDPOINT = f"{GUEST_GATEWAY}:{API_PORT_IN_GUEST}"
SSH_WAIT_SECONDS = 600  # TCG boots of 2 VMs at once on 2 busy cores have taken 270-300 s
SSH_OPTIONS = (
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "IdentitiesOnly=yes",
    "-o", "ConnectTimeout=5",
)


@dataclass
class Instance:
    """Connection data of a running VM, as written to ``instance.json``."""

    group: str
    name: str
    address: str
    port: int
    user: str
    identity_file: str
    accel: str
    image: str
    directory: str
    boot_seconds: float
    # The loopback port of the cluster's API server (0: not a cluster VM).
    api_port: int = 0

    def ssh_argv(self, *command: str) -> list[str]:
        return ["ssh", *SSH_OPTIONS, "-i", self.identity_file, "-p", str(self.port), f"{self.user}@{self.address}", *command]


def instance_dir(group: str, name: str) -> Path:
    for part in (group, name):
        if not part or "/" in part or part.startswith("."):
            raise ValueError(f"invalid group/name {part!r}")
    return paths.instances_dir() / group / name


def qemu_argv(
    *,
    image: BaseImage,
    directory: Path,
    accel: str,
    ssh_port: int,
    httpd_port: int | None,
    archive_host: str,
    archive_port: int,
    public_key: str,
    hostname: str,
    memory_mb: int,
    cpus: int,
    registry_ports: dict[str, int] | None = None,
    api_port: int = 0,
    api_server: bool = False,
) -> list[str]:
    """Return the QEMU command line for one instance (pure; see the module docstring).

    ``api_port``: the loopback port of the cluster's API server (0: none); ``api_server``:
    this guest serves it (its :6443 is forwarded from that port)."""
    netdev = f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{ssh_port}-:22"
    if api_port and api_server:
        netdev += f",hostfwd=tcp:127.0.0.1:{api_port}-:{API_PORT_IN_GUEST}"
    if api_port:
        netdev += f",guestfwd=tcp:{CONTROL_PLANE_ENDPOINT}-cmd:socat STDIO TCP:127.0.0.1:{api_port}"
    netdev += f",guestfwd=tcp:{GUEST_GATEWAY}:80-cmd:socat STDIO TCP:{archive_host}:{archive_port}"
    if httpd_port is not None:
        netdev += f",guestfwd=tcp:{GUEST_GATEWAY}:{ARTIFACTS_PORT_IN_GUEST}-cmd:socat STDIO TCP:127.0.0.1:{httpd_port}"
    for kind, port_in_guest in (("public", registry.PUBLIC_PORT_IN_GUEST), ("private", registry.PRIVATE_PORT_IN_GUEST)):
        if registry_ports and kind in registry_ports:
            netdev += f",guestfwd=tcp:{GUEST_GATEWAY}:{port_in_guest}-cmd:socat STDIO TCP:127.0.0.1:{registry_ports[kind]}"
    return [
        "qemu-system-x86_64",
        "-name", f"kubenode-testbed,process=kubenode-testbed:{directory}",
        *ACCEL_ARGS[accel],
        "-smp", str(cpus),
        "-m", str(memory_mb),
        "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
        "-kernel", str(image.kernel),
        "-initrd", str(image.initrd),
        # The hostname also on the kernel command line: systemd before 254 (Debian 12) ignores
        # the system.hostname credential.
        "-append", f"root=/dev/vda rw console=ttyS0 systemd.journald.forward_to_console=0 systemd.hostname={hostname}",
        "-drive", f"file={directory / 'disk.qcow2'},if=virtio,format=qcow2,cache=unsafe,discard=unmap",
        "-netdev", netdev,
        "-device", "virtio-net-pci,netdev=n0",
        "-device", "virtio-rng-pci",
        "-smbios", f"type=11,value=io.systemd.credential:ssh.authorized_keys.root={public_key}",
        "-smbios", f"type=11,value=io.systemd.credential:system.hostname={hostname}",
        "-serial", f"file:{directory / 'serial.log'}",
        "-pidfile", str(directory / "qemu.pid"),
        "-daemonize",
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill(pid: int | None, must_contain: str, timeout: float = 10.0) -> None:
    """Terminate ``pid`` if its command line still names ``must_contain`` (no pid reuse accidents)."""
    if pid is None or must_contain not in _pid_cmdline(pid):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if must_contain not in _pid_cmdline(pid):
                return
            time.sleep(0.1)


def _start_httpd(directory: Path, root: Path | None) -> int | None:
    root = root or paths.artifacts_dir() / "mirror"
    if not root.is_dir():
        return None
    port_file = directory / "httpd.port"
    log = open(directory / "httpd.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.testbed", "serve", "--root", str(root), "--port-file", str(port_file),
         "--tag", str(directory)],
        cwd=paths.REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    (directory / "httpd.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return int(port_file.read_text())
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"artifact mirror did not start: see {directory / 'httpd.log'}")


def _wait_ready(inst: Instance, qemu_pid: int, serial: Path, timeout: float) -> None:
    """Wait until a key login works and systemd reports ``running``."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not _pid_cmdline(qemu_pid):
            raise RuntimeError("QEMU exited during boot")
        try:
            result = subprocess.run(
                inst.ssh_argv("systemctl", "is-system-running", "--wait"),
                capture_output=True, text=True, check=False, timeout=max(5, deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired:
            last = "systemctl is-system-running --wait did not return"
            continue
        state = result.stdout.strip()
        if state == "running":
            return
        if state == "degraded":
            failed = subprocess.run(
                inst.ssh_argv("systemctl", "--failed", "--no-legend", "--plain"), capture_output=True, text=True, check=False
            ).stdout.strip()
            raise RuntimeError(f"guest booted degraded; failed units:\n{failed}")
        last = (result.stderr or state).strip()
        time.sleep(1)
    raise RuntimeError(f"no SSH login within {timeout:.0f}s (last: {last or 'no answer'})")


def load(group: str, name: str) -> Instance | None:
    """Return the running instance's connection data, or ``None``."""
    try:
        data = json.loads((instance_dir(group, name) / "instance.json").read_text())
    except (OSError, ValueError):
        return None
    inst = Instance(**data)
    pid = _read_pid(Path(inst.directory) / "qemu.pid")
    return inst if pid and inst.directory in _pid_cmdline(pid) else None


def use_every_cpu() -> None:
    """Let this process, and the VM, mirror and registry it starts, run on every CPU.

    Mitogen (the test bed's opt-in strategy) pins Ansible and every command it runs to one CPU
    on a machine with fewer than four (``ansible_mitogen.affinity``); QEMU started from a
    Molecule create step inherited that mask, so all the VMs of every scenario shared one core
    while the other idled. A mask the kernel refuses (a cpuset narrower than the machine) is
    left as it is.
    """
    try:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    except (AttributeError, OSError):
        pass


def up(
    group: str,
    name: str,
    *,
    memory_mb: int = 2048,
    cpus: int = 2,
    suite: str = DEFAULT_SUITE,
    mirror_root: Path | None = None,
    api_server: bool = False,
    api_server_of: str = "",
    log=print,
) -> Instance:
    """Start a fresh instance (replacing any previous one of the same name) and wait for it.

    ``api_server``: the instance is a kubeadm control plane (see the module docstring);
    ``api_server_of``: the name of the group's running control-plane instance it joins.
    Both give it the registry store with the control-plane images.

    ``mirror_root`` is the directory the guest's artifact mirror serves (default: the
    artifact cache's mirror tree). A guest that does not answer on SSH in time is booted
    once more from a fresh disk (an emulated boot on a busy host can stall). Raises
    ``RuntimeError`` with the tail of the serial console when the guest does not become
    ready; nothing of the failed instance is left running or on disk.
    """
    use_every_cpu()
    api_port = 0
    if api_server_of:
        server = load(group, api_server_of)
        if server is None or not server.api_port:
            raise RuntimeError(f"{group}/{api_server_of} is not a running control-plane instance: start it first (up --api-server)")
        api_port = server.api_port
    kwargs = dict(memory_mb=memory_mb, cpus=cpus, suite=suite, mirror_root=mirror_root, api_server=api_server, api_port=api_port, log=log)
    try:
        return _up_once(group, name, **kwargs)
    except RuntimeError as exc:
        if "no SSH login within" not in str(exc):
            raise
        log(f"testbed: {group}/{name} did not answer in time; booting it again from a fresh disk")
        return _up_once(group, name, **kwargs)


def _up_once(group: str, name: str, *, memory_mb: int, cpus: int, suite: str, mirror_root: Path | None, api_server: bool,
             api_port: int, log) -> Instance:
    """One boot of up()."""
    down(group, name)
    image = ensure_image(suite, log=log)
    accel = choose_accel(image, log=log)
    mirror = host_debian_mirror()
    directory = instance_dir(group, name)
    directory.mkdir(parents=True)
    try:
        key = directory / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kubenode-testbed-{group}-{name}", "-f", str(key)], check=True)
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image.rootfs), str(directory / "disk.qcow2")],
            check=True,
        )
        httpd_port = _start_httpd(directory, mirror_root)
        registry_ports = registry.start(directory, log=log, cluster=api_server or bool(api_port))
        started = time.monotonic()
        for attempt in range(5):
            port = _free_port()
            if api_server:
                api_port = _free_port()
            argv = qemu_argv(
                image=image, directory=directory, accel=accel, ssh_port=port, httpd_port=httpd_port,
                archive_host=mirror.host, archive_port=mirror.port, public_key=key.with_suffix(".pub").read_text().strip(),
                hostname=f"{group}-{name}"[:63], memory_mb=memory_mb, cpus=cpus,
                registry_ports=registry_ports, api_port=api_port, api_server=api_server,
            )
            result = subprocess.run(argv, capture_output=True, text=True, check=False)
            if result.returncode == 0:
                break
            if "host forwarding" not in result.stderr or attempt == 4:
                raise RuntimeError(f"QEMU failed to start: {result.stderr.strip()}")
        qemu_pid = _read_pid(directory / "qemu.pid")
        inst = Instance(
            group=group, name=name, address="127.0.0.1", port=port, user="root", identity_file=str(key),
            accel=accel, image=image.key, directory=str(directory), boot_seconds=0.0, api_port=api_port,
        )
        log(f"testbed: {group}/{name} booting ({accel}, ssh 127.0.0.1:{port})")
        _wait_ready(inst, qemu_pid, directory / "serial.log", SSH_WAIT_SECONDS if accel == "tcg" else 120)
        inst.boot_seconds = round(time.monotonic() - started, 1)
        (directory / "instance.json").write_text(json.dumps(asdict(inst), indent=2) + "\n")
        log(f"testbed: {group}/{name} ready in {inst.boot_seconds}s")
        return inst
    except BaseException as exc:
        serial = directory / "serial.log"
        tail = serial.read_text(errors="replace").splitlines()[-30:] if serial.exists() else []
        down(group, name)
        if isinstance(exc, RuntimeError):
            raise RuntimeError(f"{group}/{name}: {exc}\n--- serial console (tail) ---\n" + "\n".join(tail)) from None
        raise


def down(group: str, name: str) -> bool:
    """Stop the instance's processes and delete its directory. Returns whether it existed."""
    directory = instance_dir(group, name)
    if not directory.exists():
        return False
    _kill(_read_pid(directory / "qemu.pid"), str(directory))
    _kill(_read_pid(directory / "httpd.pid"), str(directory))
    registry.stop(directory)
    shutil.rmtree(directory, ignore_errors=True)
    group_dir = directory.parent
    if group_dir.is_dir() and not any(group_dir.iterdir()):
        group_dir.rmdir()
    return True


def list_instances() -> list[tuple[str, str]]:
    root = paths.instances_dir()
    if not root.is_dir():
        return []
    return sorted((g.name, n.name) for g in root.iterdir() if g.is_dir() for n in g.iterdir() if n.is_dir())


def reap(prefixes: tuple[str, ...] = ("",)) -> list[str]:
    """Delete every instance whose group starts with one of ``prefixes``.

    Also kills test-bed QEMU/mirror processes whose instance directory no longer exists
    (left by a run that was killed before it could clean up). Returns what was removed.
    """
    removed = []
    for group, name in list_instances():
        if group.startswith(prefixes):
            down(group, name)
            removed.append(f"{group}/{name}")
    marker = str(paths.instances_dir()) + "/"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        cmdline = _pid_cmdline(int(proc.name))
        # tests.testbed: processes started before the test bed moved to tools/ are reaped too.
        if marker not in cmdline or not any(tag in cmdline for tag in ("kubenode-testbed", "tools.testbed", "tests.testbed")):
            continue
        parts = cmdline.split(marker, 1)[1].split()[0].split(",")[0].split("/")
        if len(parts) < 2 or not parts[0].startswith(prefixes):
            continue
        if not (paths.instances_dir() / parts[0] / parts[1]).exists():
            _kill(int(proc.name), marker)
            removed.append(f"orphan pid {proc.name}")
    return removed
