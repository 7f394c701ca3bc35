"""Benchmark the main job against a hand-written floor, on fresh test-bed VMs.

    python -m tests.bench        (or `make bench`)

Measures, in one run: the base image build time (as recorded when the cached image was
built), VM boot-to-SSH, converge (site.yml on fresh VM A), the idempotent re-run, the
accelerator, kubelet start to static pod Running, the downtime of a runtime switch each way
(round 1), and the floor: tests/bench/floor.sh doing the same work by hand on fresh VM B.
Writes results/benchmarks.json (all runs, appended) and results/benchmarks.md (latest).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.artifacts.build import load_manifest
from tests.integration.vmtools import playbook, write_inventory
from tests.testbed import image, mirror, vm

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
GROUP = "bench"


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def timed_playbook(inventory: Path) -> tuple[float, str]:
    started = time.monotonic()
    result = playbook(inventory, "playbooks/site.yml")
    seconds = round(time.monotonic() - started, 1)
    if result.returncode != 0:
        raise RuntimeError(f"site.yml failed:\n{result.stdout[-4000:]}")
    recap = re.search(r"^node\s+:\s+(.*)$", result.stdout, re.MULTILINE)
    return seconds, recap.group(1).strip() if recap else "?"


# What site.yml writes that the floor writes too (taken from the converged VM).
FLOOR_FILES = ("/etc/containerd/config.toml", "/etc/crictl.yaml", "/etc/sysctl.d/99-kubenode.conf",
               "/etc/cni/net.d/10-kubenode-bridge.conflist", "/etc/kubernetes/kubelet.yaml",
               "/etc/kubernetes/manifests/kubenode-proof.yaml", "/etc/systemd/system/kubelet.service")


def kubelet_start_to_running(inst: vm.Instance) -> float:
    """Seconds from `systemctl start kubelet` (no pods left) until the static pod's container runs."""
    script = ("systemctl stop kubelet && crictl rmp --all --force >/dev/null && start=$(date +%s.%N) && systemctl start kubelet && "
              "until [ -n \"$(crictl ps --name proof --state running -q)\" ]; do sleep 0.5; done && "
              "python3 -c \"import sys; print(float(sys.argv[1]) - float(sys.argv[2]))\" $(date +%s.%N) $start")
    out = subprocess.run(inst.ssh_argv(script), capture_output=True, text=True, check=True).stdout.strip()
    return round(float(out), 1)


def chain_info_over_crictl_info(inventory: Path, inst: vm.Instance, runs: int = 3) -> dict:
    """One runtime_chain_info run on the host (its ``duration_seconds``) vs one `crictl info` there.

    Both timed on the guest: the module's own clock, and a monotonic clock around `crictl info`.
    Medians of ``runs`` runs; Ansible's connection overhead is left out of both.
    """
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json")
    module = []
    for _ in range(runs):
        out = subprocess.run(["ansible", "-i", str(inventory), "node", "-b", "-m", "kubenode.runtime_chain.runtime_chain_info",
                              "-a", "runtime=auto fail_on_checks=false"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout)["plays"][0]["tasks"][0]["hosts"]["node"]
        module.append(result["duration_seconds"])
    timer = ("python3 -c 'import subprocess, sys, time\nfor argv in ([\"crictl\", \"info\"], [\"kubelet\", \"--version\"]):\n"
             "    for _ in range(%d):\n        t = time.monotonic(); subprocess.run(argv, check=True, capture_output=True); "
             "print(argv[0], time.monotonic() - t)'" % runs)
    timed: dict = {}
    for line in subprocess.run(inst.ssh_argv(timer), capture_output=True, text=True, check=True).stdout.splitlines():
        name, seconds = line.split()
        timed.setdefault(name, []).append(float(seconds))
    module_s, crictl_s = statistics.median(module), statistics.median(timed["crictl"])
    return {"chain_info_seconds": round(module_s, 3), "crictl_info_seconds": round(crictl_s, 3),
            "kubelet_version_seconds": round(statistics.median(timed["kubelet"]), 3),
            "chain_info_over_crictl_info": round(module_s / crictl_s, 2)}


def grpc_import_seconds(inst: vm.Instance, runs: int = 3) -> float:
    """Median time of `import grpc, google.protobuf` in the guest's Python (Debian's
    python3-grpcio and python3-protobuf, installed for this figure only, after every other
    figure of the VM): the floor of a module that would make the CRI calls in-process."""
    script = ("DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-grpcio python3-protobuf >/dev/null 2>&1 && "
              "for i in $(seq %d); do python3 -c 'import time; t = time.monotonic(); import grpc, google.protobuf.message; "
              "print(time.monotonic() - t)'; done" % runs)
    out = subprocess.run(inst.ssh_argv(script), capture_output=True, text=True, check=True).stdout.split()
    return round(statistics.median(float(x) for x in out), 3)


def switch_downtime(inventory: Path, target: str, reports: Path) -> float:
    """Run the runtime switch to ``target``; return its downtime (kubelet stopped -> static pod running)."""
    result = playbook(inventory, "playbooks/switch_runtime.yml", "-e", f"runtime_switch_to={target}",
                      "-e", f"runtime_switch_report_dir={reports}")
    found = sorted(reports.glob("runtime-switch-*.json"))
    if result.returncode != 0 or not found:
        raise RuntimeError(f"switch to {target} failed:\n{result.stdout[-3000:]}")
    return json.loads(found[-1].read_text())["downtime_seconds"]


def one_round(tmp: str, switches: bool) -> dict:
    """Converge + re-run on fresh VM A, then the floor on fresh VM B (one after the other)."""
    figures: dict = {}
    try:
        node_a = vm.up(GROUP, "converge", log=log)
        figures["accelerator"] = node_a.accel
        figures["boot_to_ssh_seconds"] = node_a.boot_seconds
        inventory = write_inventory(node_a, Path(tmp) / "inventory")
        log("converge on fresh VM A")
        figures["converge_seconds"], figures["converge_recap"] = timed_playbook(inventory)
        log("idempotent re-run on VM A")
        figures["rerun_seconds"], figures["rerun_recap"] = timed_playbook(inventory)
        figures["kubelet_start_to_pod_running_seconds"] = kubelet_start_to_running(node_a)
        figures.update(chain_info_over_crictl_info(inventory, node_a))
        if switches:
            for target in ("crio", "containerd"):
                log(f"switch to {target} on VM A")
                figures[f"switch_to_{target}_downtime_seconds"] = switch_downtime(inventory, target, Path(tmp) / f"switch-{target}")
                if target == "crio":
                    figures.update({f"crio_{k}": v for k, v in chain_info_over_crictl_info(inventory, node_a).items()})
        files = subprocess.run(node_a.ssh_argv(f"tar -czf - {' '.join(FLOOR_FILES)} | base64 -w0"), capture_output=True,
                               check=True, text=True).stdout
        figures["grpc_import_seconds"] = grpc_import_seconds(node_a)
        vm.down(GROUP, "converge")

        node_b = vm.up(GROUP, "floor", log=log)
        figures["boot_to_ssh_seconds_b"] = node_b.boot_seconds
        art = load_manifest()["artifacts"]
        env = " ".join([f"MIRROR={mirror.ARTIFACTS_URL_IN_GUEST}", f"FILES={files}"] + [
            f"{key}_PATH={art[name]['path']} {key}_SHA256={art[name]['sha256']}"
            for key, name in (("CRICTL", "crictl"), ("KUBELET", "kubelet"), ("PAUSE", "pause-image"), ("TEST", "test-image"))])
        log("floor script on fresh VM B")
        started = time.monotonic()
        subprocess.run(node_b.ssh_argv(f"env {env} bash -s"), input=(ROOT / "tests/bench/floor.sh").read_bytes(),
                       capture_output=True, check=True)
        figures["floor_seconds"] = round(time.monotonic() - started, 1)
    finally:
        vm.reap((GROUP,))
    return figures


def run(rounds: int) -> dict:
    """Run ``rounds`` rounds and keep the median of each figure (TCG timings are noisy)."""
    img = image.ensure_image(log=log)
    samples = []
    with tempfile.TemporaryDirectory(prefix="kubenode-bench-") as tmp:
        for number in range(rounds):
            log(f"round {number + 1} of {rounds}")
            samples.append(one_round(tmp, switches=number == 0))
    figures: dict = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "image_build_seconds": image.build_seconds(img),
        "rounds": rounds,
        "samples": samples,
    }
    for key, value in samples[0].items():
        values = [s[key] for s in samples if key in s]
        figures[key] = statistics.median(values) if isinstance(value, float) else value
    figures["converge_over_floor"] = round(figures["converge_seconds"] / figures["floor_seconds"], 2)
    return figures


def write(figures: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    history_file = RESULTS / "benchmarks.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    history.append(figures)
    history_file.write_text(json.dumps(history, indent=2) + "\n")
    f = figures
    (RESULTS / "benchmarks.md").write_text(
        "# Benchmarks (latest run of `make bench`)\n\n"
        f"Run {f['date']} on {f['host']['cpus']} CPUs, host kernel {f['host']['kernel']}, accelerator **{f['accelerator']}**; "
        f"median of {f['rounds']} rounds (each: fresh VM A converge + re-run, then fresh VM B floor).\n\n"
        "| figure | seconds |\n|---|---|\n"
        f"| base image build (cached image, recorded at build) | {f['image_build_seconds']} |\n"
        f"| VM boot to SSH + systemd running (VM A / VM B) | {f['boot_to_ssh_seconds']} / {f['boot_to_ssh_seconds_b']} |\n"
        f"| converge: site.yml on fresh VM A | {f['converge_seconds']} |\n"
        f"| idempotent re-run on VM A | {f['rerun_seconds']} |\n"
        f"| kubelet start to static pod Running (VM A) | {f['kubelet_start_to_pod_running_seconds']} |\n"
        f"| switch containerd -> CRI-O: kubelet stopped to static pod Running (round 1) | {f['switch_to_crio_downtime_seconds']} |\n"
        f"| switch CRI-O -> containerd: kubelet stopped to static pod Running (round 1) | {f['switch_to_containerd_downtime_seconds']} |\n"
        f"| runtime_chain_info, one run on VM A (module's own clock) | {f['chain_info_seconds']} |\n"
        f"| `crictl info`, one run on VM A | {f['crictl_info_seconds']} |\n"
        f"| `kubelet --version`, one run on VM A (one command the module cannot skip) | {f.get('kubelet_version_seconds')} |\n"
        f"| `import grpc, google.protobuf` in VM A's Python (floor of in-process CRI calls) | {f.get('grpc_import_seconds')} |\n"
        f"| **runtime_chain_info / crictl info** (goal <= 3) | **{f['chain_info_over_crictl_info']}** |\n"
        f"| the same on VM A switched to CRI-O (round 1): chain_info / crictl info | "
        f"{f.get('crio_chain_info_seconds')} / {f.get('crio_crictl_info_seconds')} = **{f.get('crio_chain_info_over_crictl_info')}** |\n"
        f"| floor: tests/bench/floor.sh on fresh VM B | {f['floor_seconds']} |\n"
        f"| **converge / floor** (goal <= 1.3) | **{f['converge_over_floor']}** |\n\n"
        f"Re-run recap: `{f['rerun_recap']}`. All runs: benchmarks.json.\n"
    )


def main() -> int:
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    try:
        figures = run(rounds)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        log(f"failed: {exc}")
        return 1
    write(figures)
    print((RESULTS / "benchmarks.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
