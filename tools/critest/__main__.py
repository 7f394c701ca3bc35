"""critest against each runtime the collection provisions, on fresh test-bed VMs.

    python -m tools.critest [containerd crio containerd-distro]     (or `make critest`)

For each runtime: boot a fresh VM (its registries start with it: tools/testbed/registry.py),
provision it with playbooks/site.yml and the variables of its Molecule scenario (kubelet off,
so nothing else drives the runtime), download critest from the loopback mirror, install the
tools critest itself calls (sudo, apparmor_parser), and run the whole suite against the CRI
socket with a JSON report. critest pulls its images under their upstream names; the node's
registry mirror configuration (kubenode_registries of the local inventory) sends the pulls to
the test bed's registry, which serves equivalents of every one of them
(tools/artifacts/catalog.py CRITEST_IMAGES). ``--registry-prefix`` is not used: it drops tags
and digests. Set-up a runtime's own critest CI makes is made here too, and only here
(``RUNTIME_SETUP``), and a spec that runtime's CI leaves out for a known limitation is left
out the same way (``SKIPS``, with the reason in the report). Writes results/critest.json and
results/critest.md: every failed spec with its cause, every skipped spec with its reason
(critest's, or the ``SKIPS`` entry's), and the passed count next to the last run without a
registry.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
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
# Passed specs per runtime in the last run with no registry reachable (2026-11-30, cri-tools
# 1.36.0; containerd was then called containerd-upstream, and containerd-distro containerd).
BASELINE = {"date": "2026-11-30", "passed": {"crio": 17, "containerd": 17, "containerd-distro": 13}}
CRITEST_TOOLS = ("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sudo apparmor && "
                 "(getent hosts \"$(hostname)\" >/dev/null || echo \"127.0.1.1 $(hostname)\" >> /etc/hosts)")
# The one image no rebuilt image can stand for: critest pulls it by a fixed upstream digest
# (testLinuxImageWithDigest in cri-tools pkg/validate/consts.go).
UPSTREAM_DIGEST = "9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf"
UPSTREAM_ONLY = "needs the byte-exact upstream image (pulled by a fixed digest that no local image can have)"
# Specs left out per runtime, each with the upstream practice it follows (written as the
# skip reason in results/critest.md): regex for --ginkgo.skip -> reason.
SKIPS = {
    "containerd": {
        "should terminate with exitCode 137 and reason OOMKilled": (
            "left out as containerd's own critest run does with the systemd cgroup driver (script/critest.sh of "
            "containerd 2.3.7, since containerd PRs 12714 and 12819): the container's only process is the OOM-killed "
            "dd, systemd removes its scope's cgroup as soon as it is empty, and containerd can then no longer read the "
            "OOM kill from memory.events, so the reason is sometimes Error (on the emulated VMs here: every run). "
            "A node limitation users see too: an immediately OOM-killed single-process container may show Error."),
    },
}
SKIPS["containerd-distro"] = {
    "should terminate with exitCode 137 and reason OOMKilled": (
        "left out for the limitation of containerd 2.x above (containerd's own critest run leaves it out with the "
        "systemd cgroup driver), which is wider in containerd 1.7: its CRI plugin sets OOMKilled only from the OOM "
        "event (pkg/cri/server/events.go of 1.7.30), with no check of the cgroup's OOM count at exit."),
}
# Node set-up critest needs beyond the tools, per runtime, as the runtime's own critest CI does it.
# CRI-O maps host ports itself (nftables) and its rules do not masquerade connections from
# 127.0.0.1, which critest's host-port specs make: CRI-O's contrib/test/ci/critest.yml turns
# route_localnet on and masquerades 127.0.0.0/8 first. Test-bed only: route_localnet exposes
# node-local services, so the product never sets it.
RUNTIME_SETUP = {
    "crio": ("sysctl -q -w net.ipv4.conf.all.route_localnet=1 && "
             "iptables -t nat -I POSTROUTING -s 127.0.0.0/8 ! -d 127.0.0.0/8 -j MASQUERADE"),
}
# What was found about failures that remain (not allowed: each is an open item), by spec
# text and runtime; written under the failure in results/critest.md.
EXPLAINED: dict[tuple[str, str], str] = {}


def log(msg: str) -> None:
    print(f"critest: {msg}", file=sys.stderr, flush=True)


def spec_name(spec: dict) -> str:
    return " ".join(spec.get("ContainerHierarchyTexts", []) + [spec.get("LeafNodeText", "")])


def classify(name: str, failure: str) -> str:
    """Why a spec failed: ``UPSTREAM_ONLY`` for the fixed-digest pull, else ``""`` (a real failure)."""
    return UPSTREAM_ONLY if UPSTREAM_DIGEST in failure or "image with digest" in name else ""


def summarize(report: list, skips: dict[str, str] | None = None) -> dict:
    """Counts from a ginkgo JSON report (``--ginkgo.json-report``): passed, failed (each with its
    message and, when allowed, why), skipped (each with critest's reason, or the reason of the
    ``skips`` entry, regex -> reason, whose pattern the spec name matches)."""
    specs = [s for suite in report for s in suite.get("SpecReports", []) if s.get("LeafNodeType") == "It"]
    out = {"total": len(specs), "passed": 0, "failed": 0, "skipped": 0, "failed_specs": [], "skipped_specs": [], "durations": 0.0}
    for spec in specs:
        state = spec.get("State")
        out["durations"] += spec.get("RunTime", 0) / 1e9
        message = re.sub(r"\s+", " ", (spec.get("Failure") or {}).get("Message", "")).strip()
        if state == "passed":
            out["passed"] += 1
        elif state in ("skipped", "pending"):
            out["skipped"] += 1
            ours = next((why for pattern, why in (skips or {}).items() if re.search(pattern, spec_name(spec))), "")
            out["skipped_specs"].append({"spec": spec_name(spec), "reason": message or ours or f"{state} by the suite"})
        else:
            out["failed"] += 1
            out["failed_specs"].append({"spec": spec_name(spec), "message": message[:1500], "allowed": classify(spec_name(spec), message)})
    out["durations"] = round(out["durations"], 1)
    return out


def runtime_version(crictl_version: str) -> str:
    """``<RuntimeName> <RuntimeVersion>`` from ``crictl version``'s text output ('' when absent)."""
    fields = dict(line.split(":", 1) for line in crictl_version.splitlines() if ":" in line)
    return f"{fields.get('RuntimeName', '').strip()} {fields.get('RuntimeVersion', '').strip()}".strip()


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
        # CRI-O looks for apparmor_parser once, at its start: restart the runtime after it is there.
        subprocess.run(inst.ssh_argv(f"{CRITEST_TOOLS} && systemctl restart {scenario if scenario == 'crio' else 'containerd'}"),
                       check=True, capture_output=True)
        if name in RUNTIME_SETUP:
            subprocess.run(inst.ssh_argv(RUNTIME_SETUP[name]), check=True, capture_output=True)
        endpoint = subprocess.run(inst.ssh_argv("crictl config --get runtime-endpoint"), check=True, capture_output=True,
                                  text=True).stdout.strip()
        log(f"{name}: running critest against {endpoint}")
        started = dt.datetime.now()
        subprocess.run(inst.ssh_argv(f"critest --runtime-endpoint {endpoint} --image-endpoint {endpoint} --ginkgo.no-color "
                                     "--ginkgo.json-report=/var/tmp/critest.json --ginkgo.timeout=40m "
                                     + "".join(f"--ginkgo.skip={shlex.quote(pattern)} " for pattern in SKIPS.get(name, {}))
                                     + "> /var/tmp/critest.log 2>&1"),
                       check=False, capture_output=True, timeout=3000)
        report = json.loads(subprocess.run(inst.ssh_argv("cat /var/tmp/critest.json"), check=True, capture_output=True).stdout)
        summary = summarize(report, SKIPS.get(name))
        summary["wall_seconds"] = round((dt.datetime.now() - started).total_seconds(), 1)
        summary["runtime_version"] = runtime_version(
            subprocess.run(inst.ssh_argv("crictl version"), check=False, capture_output=True, text=True).stdout)
        return summary
    finally:
        vm.down("critest", name)


def write(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "critest.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# critest (CRI validation suite) per runtime, latest `make critest`", "",
             f"Run {results['date']}, cri-tools {results['critest_version']}, on fresh test-bed VMs provisioned by site.yml.",
             "critest pulls every image under its upstream name; the node's registry mirrors send the pulls to the test bed's",
             "registry, which serves an equivalent of each image (tools/artifacts/catalog.py CRITEST_IMAGES).",
             f"`passed before`: the last run with no registry reachable ({BASELINE['date']}).", "",
             "| runtime | version | specs | passed | passed before | failed | of which allowed | skipped | wall (s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in results["runtimes"].items():
        allowed = sum(1 for f in s["failed_specs"] if f["allowed"])
        lines.append(f"| {name} | {s.get('runtime_version', '')} | {s['total']} | {s['passed']} | {BASELINE['passed'].get(name, '')} "
                     f"| {s['failed']} | {allowed} | {s['skipped']} | {s['wall_seconds']} |")
    for name, s in results["runtimes"].items():
        lines += ["", f"## {name}", "", "Failed:", ""]
        for f in s["failed_specs"]:
            note = next((text for (needle, runtime), text in EXPLAINED.items() if needle in f["spec"] and runtime == name), "")
            lines.append(f"- {f['spec']}: " + ("allowed, " + f["allowed"] if f["allowed"] else f["message"][:400]
                                              + (f"\n  - **Why:** {note}" if note else "")))
        if not s["failed_specs"]:
            lines.append("- none")
        lines += ["", "Skipped (critest's reason, or why the run leaves it out):", ""]
        lines += [f"- {k['spec']}: {k['reason']}" for k in s["skipped_specs"]] or ["- none"]
    (RESULTS / "critest.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    names = argv or list(RUNTIMES)
    results = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "critest_version": load_manifest()["artifacts"]["critest"]["version"], "runtimes": {}}
    previous = RESULTS / "critest.json"
    if argv and previous.exists():
        # A run for some runtimes keeps the others' latest figures (of this report's format).
        results["runtimes"] = {name: s for name, s in json.loads(previous.read_text()).get("runtimes", {}).items()
                               if "failed_specs" in s}
    with tempfile.TemporaryDirectory(prefix="kubenode-critest-") as tmp:
        for name in names:
            results["runtimes"][name] = run_one(name, Path(tmp))
            log(f"{name}: {results['runtimes'][name]['passed']} passed, {results['runtimes'][name]['failed']} failed")
    write(results)
    print((RESULTS / "critest.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
