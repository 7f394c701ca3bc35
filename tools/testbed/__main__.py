"""Command line of the VM test bed (stdlib only, so it also runs outside the venv).

    python -m tools.testbed image [--suite trixie]       build or show the cached base image (trixie, bookworm)
    python -m tools.testbed accel                        print kvm or tcg (probing once)
    python -m tools.testbed up GROUP NAME [--suite trixie] [--memory MB] [--cpus N] [--json] [--bind-molecule-test]
                               [--api-server | --join CONTROL_PLANE_NAME]   a kubeadm cluster's VM (see vm.py)
    python -m tools.testbed down GROUP [NAME]            stop and delete one instance or a group
    python -m tools.testbed reap [PREFIX ...]            delete groups by prefix and orphan processes
    python -m tools.testbed list                         running instances
    python -m tools.testbed ssh GROUP NAME [CMD ...]     log in (or run a command)
    python -m tools.testbed inventory GROUP NAME         Ansible connection vars as JSON

Internal: ``serve`` (the loopback artifact mirror of one VM) and ``watch`` (removes the
VMs of a ``molecule test`` run when that process ends, even if it was killed).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from . import image as image_mod
from . import vm
from .accel import choose_accel


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def molecule_test_ancestor() -> int | None:
    """Return the pid of the ``molecule test`` process this call runs under, if any."""
    pid = os.getppid()
    while pid > 1:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if Path(f"/proc/{pid}").exists() else []
        words = [a.decode(errors="replace") for a in argv if a]
        names = [os.path.basename(w) for w in words[:3]]
        if "molecule" in names and "test" in words:
            # `molecule test --destroy=never` keeps its VMs on purpose (debugging).
            keep = "--destroy=never" in words or any(a == "--destroy" and b == "never" for a, b in zip(words, words[1:]))
            return None if keep else pid
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return None


def _spawn_watch(group: str, name: str, pid: int) -> None:
    import subprocess

    subprocess.Popen(
        [sys.executable, "-m", "tools.testbed", "watch", "--pid", str(pid), group, name],
        cwd=vm.paths.REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def cmd_image(args) -> int:
    img = image_mod.ensure_image(args.suite, log=_err)
    print(img.directory)
    return 0


def cmd_accel(args) -> int:
    print(choose_accel(image_mod.ensure_image(log=_err), log=_err))
    return 0


def cmd_up(args) -> int:
    inst = vm.up(args.group, args.name, memory_mb=args.memory, cpus=args.cpus, suite=args.suite,
                 api_server=args.api_server, api_server_of=args.join or "", log=_err)
    if args.bind_molecule_test:
        owner = molecule_test_ancestor()
        if owner:
            _spawn_watch(args.group, args.name, owner)
    print(json.dumps(asdict(inst)) if args.json else f"{inst.group}/{inst.name} ssh -p {inst.port} root@127.0.0.1")
    return 0


def cmd_down(args) -> int:
    names = [args.name] if args.name else [n for g, n in vm.list_instances() if g == args.group]
    for name in names:
        if vm.down(args.group, name):
            _err(f"testbed: {args.group}/{name} removed")
    return 0


def cmd_reap(args) -> int:
    for item in vm.reap(tuple(args.prefix) or ("",)):
        _err(f"testbed: reaped {item}")
    return 0


def cmd_list(args) -> int:
    for group, name in vm.list_instances():
        inst = vm.load(group, name)
        state = f"running ssh 127.0.0.1:{inst.port} ({inst.accel})" if inst else "not running"
        print(f"{group}/{name}: {state}")
    return 0


def cmd_ssh(args) -> int:
    inst = vm.load(args.group, args.name)
    if inst is None:
        _err(f"{args.group}/{args.name} is not running")
        return 1
    os.execvp("ssh", inst.ssh_argv(*args.command))
    return 1


def cmd_inventory(args) -> int:
    inst = vm.load(args.group, args.name)
    if inst is None:
        _err(f"{args.group}/{args.name} is not running")
        return 1
    print(json.dumps(ansible_vars(inst)))
    return 0


# SSH connection timeout (s) for test-bed guests: emulated (TCG) guests can take more than
# Ansible's default 10 s (and 30 s with three VMs on two cores) to accept a connection under load.
ANSIBLE_SSH_TIMEOUT = 60


def ansible_vars(inst: vm.Instance) -> dict:
    """Ansible connection variables for a running instance.

    Test-bed conveniences live here, per host, not in the product's ansible.cfg: every VM
    is new with a new host key on a reused loopback port, so its key is neither checked
    nor recorded (``StrictHostKeyChecking=no``, ``UserKnownHostsFile=/dev/null``, and
    ``ansible_host_key_checking: false`` for strategies such as Mitogen's that would
    otherwise pass ``StrictHostKeyChecking yes`` first), and the SSH timeout is longer.
    """
    return {
        "ansible_host": inst.address,
        "ansible_port": inst.port,
        "ansible_user": inst.user,
        "ansible_ssh_private_key_file": inst.identity_file,
        "ansible_ssh_common_args": " ".join(vm.SSH_OPTIONS[:-2]),
        "ansible_host_key_checking": False,
        "ansible_ssh_timeout": ANSIBLE_SSH_TIMEOUT,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def write_inventory(inst: vm.Instance, directory: Path) -> Path:
    """An inventory dir for ``inst`` (host ``node``) that shares the local inventory's group_vars."""
    import yaml  # the venv's; the rest of this CLI runs on the host's Python

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"node": ansible_vars(inst)}}}))
    link = directory / "group_vars"
    if not link.exists():
        link.symlink_to(Path(__file__).resolve().parents[2] / "inventories" / "local" / "group_vars")
    return directory


def cmd_serve(args) -> int:
    handler = functools.partial(_QuietHandler, directory=args.root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    Path(args.port_file).write_text(f"{server.server_address[1]}\n")
    server.serve_forever()
    return 0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), format % args))


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmd_watch(args) -> int:
    directory = vm.instance_dir(args.group, args.name)
    while directory.exists():
        if not _alive(args.pid):
            vm.down(args.group, args.name)
            break
        time.sleep(2)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.testbed", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("image")
    p.add_argument("--suite", default=image_mod.DEFAULT_SUITE, choices=image_mod.SUITES)
    p.set_defaults(func=cmd_image)
    sub.add_parser("accel").set_defaults(func=cmd_accel)
    p = sub.add_parser("up")
    p.add_argument("group")
    p.add_argument("name")
    p.add_argument("--memory", type=int, default=2048, help="MiB (default 2048)")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--suite", default=image_mod.DEFAULT_SUITE, choices=image_mod.SUITES, help="Debian suite of the base image")
    p.add_argument("--json", action="store_true")
    p.add_argument("--bind-molecule-test", action="store_true", help="remove the VM when `molecule test` ends")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--api-server", action="store_true", help="a kubeadm control plane: its :6443 on a loopback port")
    role.add_argument("--join", metavar="NAME", help="a kubeadm cluster's node that reaches the API server of the group's NAME")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down")
    p.add_argument("group")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("reap")
    p.add_argument("prefix", nargs="*")
    p.set_defaults(func=cmd_reap)
    sub.add_parser("list").set_defaults(func=cmd_list)
    p = sub.add_parser("ssh")
    p.add_argument("group")
    p.add_argument("name")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_ssh)
    p = sub.add_parser("inventory")
    p.add_argument("group")
    p.add_argument("name")
    p.set_defaults(func=cmd_inventory)
    p = sub.add_parser("serve")
    p.add_argument("--root", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--tag", default="")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("watch")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("group")
    p.add_argument("name")
    p.set_defaults(func=cmd_watch)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (RuntimeError, ValueError) as exc:
        _err(f"testbed: error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
