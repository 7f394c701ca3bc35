"""Benchmark the main job against a hand-written floor, on fresh test-bed VMs.

    python -m tools.bench              (or `make bench`; BENCH_ROUNDS=3 rounds by default)
    python -m tools.bench floor        floor.sh alone: converge one fresh VM (linear) for the
                                       configuration files, then floor.sh on a fresh VM

One round is three fresh VMs, one after the other (a converge means something only on a
fresh VM):

* VM A, Ansible's stock ``linear`` strategy (the product's default): converge (site.yml),
  the idempotent re-run, kubelet start to static pod Running, runtime_chain_info's own
  duration and one ``crictl info``, and (round 1) the downtime of a runtime switch each way;
  then the configuration files site.yml wrote are taken from it for the floor;
* VM B, the test bed's opt-in Mitogen strategy (tools/testbed/strategy_plugins): converge
  and the idempotent re-run;
* VM C: tools/bench/floor.sh, the same work by hand (release files checked with sha256sum
  against the checksum files the mirror serves).

The strategy of each play is set here, whatever the caller's environment says (so
``MITOGEN=1 make bench`` measures the same). Writes results/benchmarks.json (every run,
appended) and results/benchmarks.md (the latest run). BENCH_GROUP names the VM group
(default ``bench``); the bench stops exactly the VMs it started.

On a 2-core machine any other VM distorts every figure: the bench does not start while
another group's test-bed VM runs (BENCH_SHARED=1 runs anyway), and the page names every
other VM seen during the run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tools.artifacts.build import load_manifest
from tools.testbed import image, mirror, paths, vm
from tools.testbed.__main__ import write_inventory

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
FLOOR_SCRIPT = ROOT / "tools" / "bench" / "floor.sh"
STRATEGY_PLUGINS = paths.STRATEGY_PLUGINS
STRATEGIES = ("linear", "mitogen")
CONVERGE_OVER_FLOOR_GOAL = 1.3
CHAIN_INFO_AIM_SECONDS = 3.0

# What site.yml writes on the embedded default chain that the floor writes too, taken from
# the converged VM A (the bench fails, naming them, when one of these is missing there).
FLOOR_FILES = (
    "/etc/sysctl.d/99-kubenode.conf",
    "/etc/cni/net.d/10-kubenode-bridge.conflist",
    "/etc/systemd/network/99-default.link.d/50-kubenode-cni.conf",
    "/etc/containerd/config.toml",
    # The mirror of registry.k8s.io (the pause and test images) and its CA; not the private
    # registry's directory, whose hosts.toml holds credentials.
    "/etc/containerd/certs.d/registry.k8s.io",
    "/usr/local/lib/systemd/system/containerd.service",
    "/etc/crictl.yaml",
    "/etc/kubernetes/kubelet.yaml",
    "/etc/systemd/system/kubelet.service",
    "/etc/kubernetes/manifests/kubenode-proof.yaml",
)
# floor.sh's input key -> the artifact in the test bed's manifest.
FLOOR_ARTIFACTS = (
    ("CONTAINERD", "containerd"),
    ("RUNC", "runc"),
    ("CRICTL", "crictl"),
    ("KUBELET", "kubelet"),
)
CHAIN = ("containerd", "runc", "crictl", "kubelet")


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- pure parts (tools/tests/test_bench.py)
def ansible_env(strategy: str, base: dict[str, str]) -> dict[str, str]:
    """The environment of an Ansible run under ``strategy`` (``linear`` or ``mitogen``).

    Any strategy the caller's environment selects is dropped first: linear is ansible.cfg's
    stock strategy; mitogen adds the test bed's strategy plugin (as MITOGEN_ENV in the Makefile).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    env = {k: v for k, v in base.items() if k not in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS")}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    # The venv's tools first, as the Makefile does (also when this runs without make).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), *filter(None, [base.get("PATH")])])
    if strategy == "mitogen":
        env.update(paths.MITOGEN_ENV)
    return env


def play_recap(stdout: str, host: str = "node") -> str:
    """The PLAY RECAP counters of ``host`` (``ok=.. changed=.. ...``), or ``?``."""
    found = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", stdout, re.MULTILINE)
    return re.sub(r"\s+", " ", found.group(1).strip()) if found else "?"


def floor_env(artifacts: dict, files_b64: str, mirror_url: str) -> dict[str, str]:
    """floor.sh's inputs: the mirror, the files, and each artifact's path and checksum-file path.

    No pins: as site.yml on the embedded default, the floor checks every file against the
    checksum file the mirror serves next to it (the manifest's ``checksum_path``).
    """
    env = {"MIRROR": mirror_url, "FILES": files_b64}
    for key, name in FLOOR_ARTIFACTS:
        try:
            entry = artifacts[name]
            env[f"{key}_PATH"], env[f"{key}_CHECKSUM_PATH"] = entry["path"], entry["checksum_path"]
        except KeyError as exc:
            raise RuntimeError(f"the artifact manifest has no {exc} for {name}: run `make artifacts`") from None
    return env


def missing_files(listing: str, wanted: tuple[str, ...] = FLOOR_FILES) -> list[str]:
    """Which of ``wanted`` are not in ``listing`` (one existing path a line)."""
    present = set(listing.split())
    return [path for path in wanted if path not in present]


def other_vms(cmdlines: list[str], group: str) -> list[str]:
    """The test-bed VMs (``group/name``) in ``cmdlines`` (process command lines) that are not ``group``'s."""
    found = set()
    for cmdline in cmdlines:
        match = re.search(r"process=kubenode-testbed:(\S+)", cmdline)
        if match and cmdline.lstrip().startswith("qemu-system"):
            vm_group, name = Path(match.group(1)).parts[-2:]
            if vm_group != group:
                found.add(f"{vm_group}/{name}")
    return sorted(found)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def summarize(samples: list[dict]) -> dict:
    """The median of every numeric figure over the rounds (TCG timings are noisy), the first
    round's value of every other one, and the ratios computed from the medians."""
    figures: dict = {}
    for key in dict.fromkeys(k for s in samples for k in s):
        values = [s[key] for s in samples if s.get(key) is not None]
        if not values:
            figures[key] = None
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            figures[key] = round(statistics.median(values), 3)
        else:
            figures[key] = values[0]
    for strategy in STRATEGIES:
        figures[f"converge_over_floor_{strategy}"] = ratio(figures.get(f"converge_seconds_{strategy}"), figures.get("floor_seconds"))
    figures["mitogen_gain_converge"] = ratio(figures.get("converge_seconds_linear"), figures.get("converge_seconds_mitogen"))
    figures["mitogen_gain_rerun"] = ratio(figures.get("rerun_seconds_linear"), figures.get("rerun_seconds_mitogen"))
    figures["crio_chain_info_over_crictl_info"] = ratio(figures.get("crio_chain_info_seconds"), figures.get("crio_crictl_info_seconds"))
    return figures


def _cell(value) -> str:
    return "n/a" if value is None else str(value)


def _goal(value: float | None, goal: float) -> str:
    if value is None:
        return "n/a"
    return f"**{value}** ({'met' if value <= goal else 'not met'})"


def render_markdown(f: dict) -> str:
    """results/benchmarks.md for one run's figures (as ``summarize`` returns them, plus run data)."""
    versions = ", ".join(f"{name} {f.get('versions', {}).get(name, '?')}" for name in CHAIN)
    g = CONVERGE_OVER_FLOOR_GOAL
    return (
        "# Benchmarks (latest run of `make bench`)\n\n"
        f"Run {f['date']} on {f['host']['cpus']} CPUs, host kernel {f['host']['kernel']}, accelerator **{f['accelerator']}**; "
        f"median of {f['rounds']} round(s). The embedded default chain: {versions} (release files), CNI plugins "
        "from Debian, the pause and test images imported from OCI archives; every file checked against the "
        "checksum file the mirror serves next to it.\n\n"
        "One round is three fresh VMs, one after the other: VM A converges under Ansible's stock `linear` "
        "strategy (the product's default), VM B under the test bed's opt-in Mitogen strategy, VM C runs "
        "tools/bench/floor.sh (the same work by hand). A converge is site.yml on a fresh VM; the re-run is the "
        "idempotent second run on the same VM.\n\n"
        + (f"**Other test-bed VMs ran during this run** ({', '.join(f['other_vms_seen'])}): the figures are "
           "distorted by their load.\n\n" if f.get("other_vms_seen") else "")
        + "## Converge and re-run, by strategy\n\n"
        "| figure (seconds) | linear (product default) | Mitogen (test-bed accelerator) | Mitogen gain (linear / Mitogen) |\n"
        "|---|---|---|---|\n"
        f"| converge: site.yml on a fresh VM | {_cell(f.get('converge_seconds_linear'))} | "
        f"{_cell(f.get('converge_seconds_mitogen'))} | {_cell(f.get('mitogen_gain_converge'))} |\n"
        f"| idempotent re-run on the same VM | {_cell(f.get('rerun_seconds_linear'))} | "
        f"{_cell(f.get('rerun_seconds_mitogen'))} | {_cell(f.get('mitogen_gain_rerun'))} |\n"
        f"| floor: tools/bench/floor.sh on fresh VM C | {_cell(f.get('floor_seconds'))} | {_cell(f.get('floor_seconds'))} | |\n"
        f"| **converge / floor** (goal <= {g}) | {_goal(f.get('converge_over_floor_linear'), g)} | "
        f"{_goal(f.get('converge_over_floor_mitogen'), g)} | |\n\n"
        f"Re-run recaps: linear `{f.get('rerun_recap_linear')}`; Mitogen `{f.get('rerun_recap_mitogen')}`.\n\n"
        "## The node (VM A, linear)\n\n"
        "| figure | seconds |\n|---|---|\n"
        f"| base image build (cached image, recorded at build) | {_cell(f.get('image_build_seconds'))} |\n"
        f"| VM boot to SSH + systemd running (VM A / B / C) | {_cell(f.get('boot_to_ssh_seconds_a'))} / "
        f"{_cell(f.get('boot_to_ssh_seconds_b'))} / {_cell(f.get('boot_to_ssh_seconds_c'))} |\n"
        f"| kubelet start to static pod Running | {_cell(f.get('kubelet_start_to_pod_running_seconds'))} |\n"
        f"| switch containerd -> CRI-O: kubelet stopped to static pod Running (round 1) | "
        f"{_cell(f.get('switch_to_crio_downtime_seconds'))} |\n"
        f"| switch CRI-O -> containerd: kubelet stopped to static pod Running (round 1) | "
        f"{_cell(f.get('switch_to_containerd_downtime_seconds'))} |\n"
        f"| runtime_chain_info, one run (the module's duration_seconds; aim: under about {CHAIN_INFO_AIM_SECONDS:g} s) | "
        f"{_cell(f.get('chain_info_seconds'))} |\n"
        f"| `crictl info`, one run | {_cell(f.get('crictl_info_seconds'))} |\n"
        f"| `kubelet --version`, one run | {_cell(f.get('kubelet_version_seconds'))} |\n"
        f"| the same on VM A switched to CRI-O (round 1): runtime_chain_info / `crictl info` | "
        f"{_cell(f.get('crio_chain_info_seconds'))} / {_cell(f.get('crio_crictl_info_seconds'))} |\n\n"
        + (f"**The runtime switch failed** (round 1), so its figures are missing: {f['switch_error'].splitlines()[0]} "
           "(the play's output: benchmarks.json).\n\n" if f.get("switch_error") else "")
        + "All runs, with every round's figures: benchmarks.json.\n"
    )


# ---------------------------------------------------------------- VM work
def ansible_bin(name: str) -> str:
    """``name`` next to this Python (the venv's, also when .venv/bin is not on PATH), else from PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def playbook(inventory: Path, path: str, strategy: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([ansible_bin("ansible-playbook"), "-i", str(inventory), str(ROOT / path), *extra], cwd=ROOT,
                          env=ansible_env(strategy, dict(os.environ)), capture_output=True, text=True, check=False)


def timed_site(inventory: Path, strategy: str) -> tuple[float, str]:
    started = time.monotonic()
    result = playbook(inventory, "playbooks/site.yml", strategy)
    seconds = round(time.monotonic() - started, 1)
    if result.returncode != 0:
        raise RuntimeError(f"site.yml ({strategy}) failed:\n{result.stdout[-4000:]}{result.stderr[-2000:]}")
    return seconds, play_recap(result.stdout)


def check_mitogen() -> None:
    """Fail unless Mitogen loads: without it the test bed's strategy silently runs linear."""
    try:
        import ansible_mitogen.strategy  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError as exc:
        raise RuntimeError(f"Mitogen does not load ({exc}): `make venv` installs it (requirements.txt)") from None


def ssh(inst: vm.Instance, script: str, **kwargs) -> str:
    return subprocess.run(inst.ssh_argv(script), capture_output=True, text=True, check=True, **kwargs).stdout


def kubelet_start_to_running(inst: vm.Instance) -> float:
    """Seconds from `systemctl start kubelet` (no pods left) until the static pod's container runs."""
    script = ("systemctl stop kubelet && crictl rmp --all --force >/dev/null && start=$(date +%s.%N) && systemctl start kubelet && "
              "until [ -n \"$(crictl ps --name proof --state running -q)\" ]; do sleep 0.5; done && "
              "python3 -c \"import sys; print(float(sys.argv[1]) - float(sys.argv[2]))\" $(date +%s.%N) $start")
    return round(float(ssh(inst, script).strip()), 1)


def module_duration(document: dict) -> float:
    """runtime_chain_info's ``duration_seconds`` from verify.yml's json-callback ``document`` (pure)."""
    task = next(t for play in document["plays"] for t in play["tasks"] if t["task"]["name"].endswith("Walk the runtime chain"))
    return task["hosts"]["node"]["duration_seconds"]


def chain_info_and_crictl_info(inventory: Path, inst: vm.Instance, runs: int = 3) -> dict:
    """runtime_chain_info's own ``duration_seconds`` on the host, run as role verify runs it
    (verify.yml: every path and endpoint from the roles' variables), and one `crictl info` and
    one `kubelet --version` timed there (monotonic clock in the guest); medians of ``runs`` runs,
    Ansible's connection overhead left out."""
    env = dict(ansible_env("linear", dict(os.environ)), ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    module = []
    with tempfile.TemporaryDirectory(prefix="kubenode-bench-verify-") as reports:
        for _ in range(runs):
            out = subprocess.run([ansible_bin("ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks" / "verify.yml"),
                                  "-e", "verify_fail=false", "-e", f"verify_report_dir={reports}"],
                                 cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            module.append(module_duration(json.loads(out.stdout)))
    timer = ("python3 -c 'import subprocess, sys, time\nfor argv in ([\"crictl\", \"info\"], [\"kubelet\", \"--version\"]):\n"
             "    for _ in range(%d):\n        t = time.monotonic(); subprocess.run(argv, check=True, capture_output=True); "
             "print(argv[0], time.monotonic() - t)'" % runs)
    timed: dict = {}
    for line in ssh(inst, timer).splitlines():
        name, seconds = line.split()
        timed.setdefault(name, []).append(float(seconds))
    return {"chain_info_seconds": round(statistics.median(module), 3),
            "crictl_info_seconds": round(statistics.median(timed["crictl"]), 3),
            "kubelet_version_seconds": round(statistics.median(timed["kubelet"]), 3)}


def switch_downtime(inventory: Path, target: str, reports: Path) -> float:
    """Run the runtime switch to ``target`` (linear); return its downtime (kubelet stopped -> static pod running)."""
    result = playbook(inventory, "playbooks/switch_runtime.yml", "linear", "-e", f"runtime_switch_to={target}",
                      "-e", f"runtime_switch_report_dir={reports}")
    found = sorted(reports.glob("runtime-switch-*.json"))
    if result.returncode != 0 or not found:
        raise RuntimeError(f"switch to {target} failed:\n{result.stdout[-3000:]}")
    return json.loads(found[-1].read_text())["downtime_seconds"]


def floor_files(inst: vm.Instance) -> str:
    """The configuration files site.yml wrote on ``inst`` that the floor uses, as base64 tar.gz."""
    listing = ssh(inst, "ls -d " + " ".join(FLOOR_FILES) + " 2>/dev/null || true")
    missing = missing_files(listing)
    if missing:
        raise RuntimeError(f"site.yml did not write {', '.join(missing)} on the converged VM: update FLOOR_FILES and floor.sh")
    return ssh(inst, f"tar -czf - {' '.join(FLOOR_FILES)} | base64 -w0")


def run_floor(inst: vm.Instance, files_b64: str) -> float:
    env = floor_env(load_manifest()["artifacts"], files_b64, mirror.ARTIFACTS_URL_IN_GUEST)
    assignments = " ".join(f"{k}={v}" for k, v in env.items())  # no value holds a space or a quote
    started = time.monotonic()
    result = subprocess.run(inst.ssh_argv(f"env {assignments} bash -s"), input=FLOOR_SCRIPT.read_text(),
                            capture_output=True, text=True, check=False)
    seconds = round(time.monotonic() - started, 1)
    if result.returncode != 0:
        raise RuntimeError(f"floor.sh failed (exit {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return seconds


def running_cmdlines() -> list[str]:
    cmdlines = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdlines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return cmdlines


class Contention:
    """Every other group's test-bed VM seen running while the bench runs (sampled every few
    seconds): on a 2-core machine their load distorts every figure, so the page says so."""

    def __init__(self, group: str, interval: float = 5.0):
        self.group, self.interval, self.seen = group, interval, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.seen.update(other_vms(running_cmdlines(), self.group))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Round:
    """The fresh VMs of one round, stopped (exactly those) when the round ends."""

    def __init__(self, group: str, tmp: Path):
        self.group, self.tmp, self.names = group, tmp, []

    def up(self, name: str) -> vm.Instance:
        self.names.append(name)
        return vm.up(self.group, name, log=log)

    def down(self, name: str) -> None:
        vm.down(self.group, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for name in self.names:
            vm.down(self.group, name)


def converge_linear(rnd: Round, figures: dict, switches: bool) -> str:
    """VM A: converge and re-run under linear, the node figures, the switches; returns the floor's files."""
    node = rnd.up("linear")
    figures["accelerator"], figures["boot_to_ssh_seconds_a"] = node.accel, node.boot_seconds
    inventory = write_inventory(node, rnd.tmp / "inventory-linear")
    log("converge on fresh VM A (linear)")
    figures["converge_seconds_linear"], figures["converge_recap_linear"] = timed_site(inventory, "linear")
    log("idempotent re-run on VM A (linear)")
    figures["rerun_seconds_linear"], figures["rerun_recap_linear"] = timed_site(inventory, "linear")
    files = floor_files(node)
    figures["kubelet_start_to_pod_running_seconds"] = kubelet_start_to_running(node)
    figures.update(chain_info_and_crictl_info(inventory, node))
    if switches:
        for target in ("crio", "containerd"):
            log(f"switch to {target} on VM A")
            try:
                figures[f"switch_to_{target}_downtime_seconds"] = switch_downtime(inventory, target, rnd.tmp / f"switch-{target}")
            except RuntimeError as exc:  # the round's other figures still count; the page says it failed
                log(str(exc))
                figures["switch_error"] = f"switch to {target} failed: {str(exc)[-1500:]}"
                break
            if target == "crio":
                figures.update({f"crio_{k}": v for k, v in chain_info_and_crictl_info(inventory, node).items()})
    rnd.down("linear")
    return files


def converge_mitogen(rnd: Round, figures: dict) -> None:
    node = rnd.up("mitogen")
    figures["boot_to_ssh_seconds_b"] = node.boot_seconds
    inventory = write_inventory(node, rnd.tmp / "inventory-mitogen")
    log("converge on fresh VM B (Mitogen)")
    figures["converge_seconds_mitogen"], figures["converge_recap_mitogen"] = timed_site(inventory, "mitogen")
    log("idempotent re-run on VM B (Mitogen)")
    figures["rerun_seconds_mitogen"], figures["rerun_recap_mitogen"] = timed_site(inventory, "mitogen")
    rnd.down("mitogen")


def floor(rnd: Round, figures: dict, files: str) -> None:
    node = rnd.up("floor")
    figures["boot_to_ssh_seconds_c"] = node.boot_seconds
    log("floor.sh on fresh VM C")
    figures["floor_seconds"] = run_floor(node, files)
    rnd.down("floor")


def one_round(group: str, tmp: Path, switches: bool) -> dict:
    figures: dict = {}
    with Round(group, tmp) as rnd:
        files = converge_linear(rnd, figures, switches)
        converge_mitogen(rnd, figures)
        floor(rnd, figures, files)
    return figures


def run_info(rounds: int, img: image.BaseImage) -> dict:
    artifacts = load_manifest()["artifacts"]
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "image_build_seconds": image.build_seconds(img),
        "rounds": rounds,
        "versions": {name: artifacts.get(name, {}).get("version") for name in CHAIN},
    }


def refuse_shared(group: str) -> None:
    """Stop before any VM starts when other test-bed VMs run (BENCH_SHARED=1 runs anyway)."""
    others = other_vms(running_cmdlines(), group)
    if others and os.environ.get("BENCH_SHARED") != "1":
        raise RuntimeError(f"other test-bed VMs are running ({', '.join(others)}): their load would distort the figures; "
                           "run the bench when they are gone, or set BENCH_SHARED=1 to run anyway")


def run(rounds: int, group: str) -> dict:
    check_mitogen()
    img = image.ensure_image(log=log)
    refuse_shared(group)
    samples = []
    with tempfile.TemporaryDirectory(prefix="kubenode-bench-") as tmp, Contention(group) as contention:
        for number in range(rounds):
            log(f"round {number + 1} of {rounds}")
            samples.append(one_round(group, Path(tmp) / f"round-{number + 1}", switches=number == 0))
    return {**run_info(rounds, img), **summarize(samples), "other_vms_seen": sorted(contention.seen), "samples": samples}


def floor_only(group: str) -> dict:
    """floor.sh alone: files from a fresh VM converged under linear, then the floor on a fresh VM."""
    figures: dict = {}
    with (tempfile.TemporaryDirectory(prefix="kubenode-bench-") as tmp, Contention(group) as contention,
          Round(group, Path(tmp)) as rnd):
        node = rnd.up("linear")
        figures["boot_to_ssh_seconds_a"] = node.boot_seconds
        log("converge on fresh VM A (linear), for the configuration files")
        figures["converge_seconds_linear"], figures["converge_recap_linear"] = timed_site(
            write_inventory(node, Path(tmp) / "inventory"), "linear")
        files = floor_files(node)
        rnd.down("linear")
        floor(rnd, figures, files)
    figures["converge_over_floor_linear"] = ratio(figures["converge_seconds_linear"], figures["floor_seconds"])
    figures["other_vms_seen"] = sorted(contention.seen)
    return figures


def write(figures: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    history_file = RESULTS / "benchmarks.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    history.append(figures)
    history_file.write_text(json.dumps(history, indent=2) + "\n")
    (RESULTS / "benchmarks.md").write_text(render_markdown(figures))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    group = os.environ.get("BENCH_GROUP", "bench")
    try:
        if argv == ["floor"]:
            print(json.dumps(floor_only(group), indent=2))
            return 0
        if argv:
            log(f"usage: python -m tools.bench [floor] (got {' '.join(argv)})")
            return 2
        figures = run(int(os.environ.get("BENCH_ROUNDS", "3")), group)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or ""
        log(f"failed: {exc}\n{detail[-2000:] if isinstance(detail, str) else ''}")
        return 1
    write(figures)
    print((RESULTS / "benchmarks.md").read_text())
    return 1 if figures.get("switch_error") else 0


if __name__ == "__main__":
    sys.exit(main())
