"""critest against each runtime the collection provisions, on fresh test-bed VMs.

    python -m tools.critest [containerd crio containerd-distro]     (or `make critest`)

For each runtime: boot a fresh VM, provision it with playbooks/site.yml and the variables of
its Molecule scenario (kubelet off, so nothing else drives the runtime),
download critest from the loopback mirror, install the tools critest itself calls (sudo,
apparmor_parser), run the whole suite against the CRI socket with a
JSON report, and classify every failure: tests that must pull an image from a registry cannot
pass here (no registry is reachable), so their failures are counted apart. Writes
results/critest.json and results/critest.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.integration.vmtools import playbook
from tools.artifacts.build import load_manifest
from tools.testbed import mirror, vm
from tools.testbed.__main__ import write_inventory

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
# Runtime -> (Molecule scenario whose variables provision it, extra variables). The CRI
# endpoint is read back from the node's crictl.yaml (role crictl wrote the runtime role's socket).
RUNTIMES = {
    "containerd": ("containerd", {}),
    "crio": ("crio", {}),
    "containerd-distro": ("containerd", {"containerd_install_method": "distro", "containerd_allow_unsupported_version": True}),
}
CRITEST_TOOLS = ("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sudo apparmor && "
                 "(getent hosts \"$(hostname)\" >/dev/null || echo \"127.0.1.1 $(hostname)\" >> /etc/hosts)")
PULL_MARKERS = ("failed to pull", "PullImage", "pull image", "resolve reference", "name resolution", "dial tcp",
                "pinging container registry", "manifest unknown", "ImagePull")


def log(msg: str) -> None:
    print(f"critest: {msg}", file=sys.stderr, flush=True)


def classify(failure: str) -> str:
    """``registry`` when a failure comes from an image pull (impossible here), else ``other``."""
    return "registry" if any(m.lower() in failure.lower() for m in PULL_MARKERS) else "other"


def summarize(report: list) -> dict:
    """Counts from a ginkgo JSON report: passed, failed (split by cause), skipped."""
    specs = [s for suite in report for s in suite.get("SpecReports", []) if s.get("LeafNodeType") == "It"]
    out = {"total": len(specs), "passed": 0, "failed": 0, "skipped": 0, "failed_registry": 0, "failed_other": [], "durations": 0.0}
    for spec in specs:
        state = spec.get("State")
        out["durations"] += spec.get("RunTime", 0) / 1e9
        if state == "passed":
            out["passed"] += 1
        elif state in ("skipped", "pending"):
            out["skipped"] += 1
        else:
            out["failed"] += 1
            message = (spec.get("Failure") or {}).get("Message", "")
            if classify(message) == "registry":
                out["failed_registry"] += 1
            else:
                name = " ".join(spec.get("ContainerHierarchyTexts", []) + [spec.get("LeafNodeText", "")])
                out["failed_other"].append({"spec": name, "message": re.sub(r"\s+", " ", message)[:1500]})
    out["durations"] = round(out["durations"], 1)
    return out


def run_one(name: str, tmp: Path) -> dict:
    scenario, extra = RUNTIMES[name]
    vars_file = ROOT / "molecule" / scenario / "host_vars" / "node.yml"
    inst = vm.up("critest", name, log=log)
    try:
        inventory = write_inventory(inst, tmp / name)
        log(f"{name}: provisioning")
        result = playbook(inventory, "playbooks/site.yml", "-e", f"@{vars_file}", "-e", json.dumps({"kubenode_manage_kubelet": False, **extra}))
        if result.returncode != 0:
            raise RuntimeError(f"site.yml failed for {name}:\n{result.stdout[-3000:]}")
        entry = load_manifest()["artifacts"]["critest"]
        fetch = (f"python3 -c \"import urllib.request as u; open('/var/tmp/critest.tgz','wb').write(u.urlopen("
                 f"'{mirror.ARTIFACTS_URL_IN_GUEST}/{entry['path']}').read())\" && echo '{entry['sha256']}  /var/tmp/critest.tgz' "
                 "| sha256sum -c --quiet && tar -xzf /var/tmp/critest.tgz -C /usr/local/bin critest")
        subprocess.run(inst.ssh_argv(fetch), check=True, capture_output=True)
        # critest's own tools, not the node's: its AppArmor specs load profiles with
        # `sudo apparmor_parser` (the test-bed image runs as root and has neither), and count
        # any stderr as a failure, so sudo must resolve the VM's hostname.
        subprocess.run(inst.ssh_argv(CRITEST_TOOLS), check=True, capture_output=True)
        endpoint = subprocess.run(inst.ssh_argv("crictl config --get runtime-endpoint"), check=True, capture_output=True,
                                  text=True).stdout.strip()
        log(f"{name}: running critest against {endpoint}")
        started = dt.datetime.now()
        subprocess.run(inst.ssh_argv(f"critest --runtime-endpoint {endpoint} --image-endpoint {endpoint} --ginkgo.no-color "
                                     "--ginkgo.json-report=/var/tmp/critest.json --ginkgo.timeout=40m > /var/tmp/critest.log 2>&1"),
                       check=False, capture_output=True, timeout=3000)
        report = json.loads(subprocess.run(inst.ssh_argv("cat /var/tmp/critest.json"), check=True, capture_output=True).stdout)
        summary = summarize(report)
        summary["wall_seconds"] = round((dt.datetime.now() - started).total_seconds(), 1)
        summary["runtime_version"] = report[0].get("SuiteConfig", {}).get("", "") if report else ""
        return summary
    finally:
        vm.down("critest", name)


def write(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "critest.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# critest (CRI validation suite) per runtime, latest `make critest`", "",
             f"Run {results['date']}, cri-tools {results['critest_version']}, on fresh test-bed VMs. No registry is reachable here,",
             "so specs that pull an image fail for that reason alone (column `failed: registry`).", "",
             "| runtime | specs | passed | failed: registry | failed: other | skipped | wall (s) |", "|---|---|---|---|---|---|---|"]
    for name, s in results["runtimes"].items():
        lines.append(f"| {name} | {s['total']} | {s['passed']} | {s['failed_registry']} | {len(s['failed_other'])} | {s['skipped']} | {s['wall_seconds']} |")
    for name, s in results["runtimes"].items():
        if s["failed_other"]:
            lines += ["", f"## {name}: failures not caused by the missing registry", ""]
            lines += [f"- {f['spec']}: {f['message']}" for f in s["failed_other"]]
    (RESULTS / "critest.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    names = argv or list(RUNTIMES)
    results = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "critest_version": load_manifest()["artifacts"]["critest"]["version"], "runtimes": {}}
    previous = RESULTS / "critest.json"
    if argv and previous.exists():
        # A run for some runtimes keeps the others' latest figures.
        results["runtimes"] = json.loads(previous.read_text()).get("runtimes", {})
    with tempfile.TemporaryDirectory(prefix="kubenode-critest-") as tmp:
        for name in names:
            results["runtimes"][name] = run_one(name, Path(tmp))
            log(f"{name}: {results['runtimes'][name]['passed']} passed, {results['runtimes'][name]['failed']} failed")
    write(results)
    print((RESULTS / "critest.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
