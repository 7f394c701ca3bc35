"""Fixtures and helpers shared by the Molecule verifiers (testinfra over Molecule's inventory).

Each scenario's tests/conftest.py re-exports them (the failure-diagnostics hook included).
What a test expects comes from the roles themselves: ``expected`` resolves the roles' public
variables for the host (role defaults, overridden by the scenario's inventory) with
molecule/_shared/contract.yml, so no path or endpoint is written here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(PROJECT))



# What a refused or planned-only switch must leave as it was: packages, files under the paths
# the roles write, and the units' states (compared before and after).
SNAPSHOT = r"""
dpkg-query -W -f='${Package} ${Version}\n' | sha256sum
find /etc /usr/local /var/cache/kubenode /var/lib/kubenode -xdev -printf '%p %s %T@\n' 2>/dev/null | grep -v '^/etc/ld.so.cache ' | sort
systemctl is-active containerd crio kubelet || true
systemctl is-enabled containerd crio kubelet || true
"""


def _env() -> dict:
    """The environment of the playbooks the tests run: Molecule's Ansible configuration (the
    scenario's strategy and the test bed's settings), else the product's ansible.cfg."""
    return dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG") or str(PROJECT / "ansible.cfg"))


def ansible_playbook(playbook: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run ``playbook`` against this scenario's inventory; print one line with its time and its
    slowest tasks (profile_tasks) to the live log, where the scenario's time can be read."""
    start = time.monotonic()
    result = subprocess.run(["ansible-playbook", "-i", str(inventory()), str(playbook), *extra],
                            cwd=PROJECT, env=_env(), capture_output=True, text=True, check=False)
    summary = result.stdout.rsplit("\n=====", 1)[-1]  # profile_tasks' table, slowest first
    slowest = re.findall(r"^(\S.*?) -{2,} (\d+\.\d+)s$", summary, re.M)[:4]
    sys.__stderr__.write(f"\n[playbook] {playbook.name} {' '.join(extra)[:120]}: rc={result.returncode} "
                         f"{time.monotonic() - start:.0f} s; slowest: {'; '.join(f'{t} {s}s' for t, s in slowest)}\n")
    return result


def inventory() -> Path:
    return Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent


def resolve_contract() -> dict:
    """The roles' public variables for each host of the scenario (molecule/_shared/contract.yml)."""
    env = dict(_env(), ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    out = subprocess.run(["ansible-playbook", "-i", str(inventory()), str(PROJECT / "molecule" / "_shared" / "contract.yml")],
                         cwd=PROJECT, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"contract.yml failed:\n{out.stdout[-3000:]}{out.stderr[-2000:]}")
    # The json callback's document, wherever other callbacks (Molecule enables profile_tasks)
    # printed their lines around it.
    start = out.stdout.index("{\n") if out.stdout.startswith("{\n") else out.stdout.index("\n{\n") + 1
    tasks = json.JSONDecoder().raw_decode(out.stdout[start:])[0]["plays"][0]["tasks"]
    # The hosts of a play can reach the printing task in separate batches (the includes before
    # it differ per host), each its own entry in the json callback's list.
    return {host: result["msg"] for task in tasks if task["task"]["name"] == "Print them"
            for host, result in task["hosts"].items()}


@pytest.fixture(scope="module")
def expected(host):
    """What the roles configure on this host (see resolve_contract)."""
    name = host.backend.get_hostname()
    contracts = resolve_contract()
    return contracts.get(name) or next(iter(contracts.values()))


def chain_info_args(expected: dict, **params) -> str:
    """runtime_chain_info arguments (as JSON) with the paths and endpoints the roles configure."""
    args = {"runtime": expected["runtime"], "endpoints": expected["endpoints"], "containerd_config": expected["containerd_config"],
            "crictl_config": expected["crictl_config"], "crio_config": expected["crio_config"],
            "runtime_binaries": {"containerd": f"{expected['containerd_bin_dir']}/containerd", "crio": f"{expected['crio_bin_dir']}/crio"},
            "kubelet_configs": [expected["kubelet_config"], expected["kubelet_kubeadm_config"]],
            "kubelet_instance_config": expected["kubelet_instance_config"], "fail_on_checks": False,
            "registries": expected["registries"], "registry_hosts_dir": expected["registry_hosts_dir"],
            "crio_certs_dir": expected["crio_certs_dir"],
            "expected": {"cgroup_driver": expected["cgroup_driver"], "oci_runtime": expected["oci_runtime"],
                         "kubernetes_version": expected["kubernetes_version"],
                         **({"sandbox_image": expected["sandbox_image"]} if expected["sandbox_image"] else {})},
            **params}
    return json.dumps(args)


def chain_info(host, expected: dict, **params) -> dict:
    """Run runtime_chain_info on the host, as role verify does."""
    return host.ansible("kubenode.runtime_chain.runtime_chain_info", chain_info_args(expected, **params), become=True, check=False)


@pytest.fixture(scope="module")
def cri(host, expected):
    """What the runtime reports over its CRI socket (the collection's cri_info module)."""
    return host.ansible("kubenode.runtime_chain.cri_info", f"endpoint={expected['endpoint']}", become=True, check=False)


@pytest.fixture(scope="module")
def images(expected):
    """The test image, by its upstream name (kubelet pulled it through the mirror for the proof pod)."""
    return {"test-image": {"reference": expected["test_image"]}}


def run_verify_playbook(tmp_path, *extra: str):
    """Run playbooks/verify.yml against this scenario's inventory; return (rc, output, report, xml files)."""
    reports = tmp_path / "reports"
    result = ansible_playbook(PROJECT / "playbooks" / "verify.yml", "-e", f"verify_report_dir={reports}", *extra)
    found = sorted(reports.glob("runtime-chain-*.json"))
    report = json.loads(found[-1].read_text()) if found else None
    return result.returncode, result.stdout + result.stderr, report, sorted(reports.glob("runtime-chain-*.xml"))


def run_playbook(name: str, *extra: str):
    """Run playbooks/<name> against this scenario's inventory; return (rc, output)."""
    result = ansible_playbook(PROJECT / "playbooks" / name, *extra)
    return result.returncode, result.stdout + result.stderr


def pytest_collection_modifyitems(config, items):
    """Tests marked ``full`` run only with KUBENODE_FULL_TESTS=1 (``make test-full``): CI's
    90-minute limit on a 2-core machine leaves them out, and the run says so for each."""
    if os.environ.get("KUBENODE_FULL_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="the full tier (make test-full, or KUBENODE_FULL_TESTS=1): left out of CI for its time")
    for item in items:
        if "full" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed test, attach the journals of kubelet and both runtimes and `crictl info`."""
    outcome = yield
    report = outcome.get_result()
    host = getattr(item, "funcargs", {}).get("host")
    if report.when != "call" or not report.failed or host is None:
        return
    if any(name.startswith("chain diagnostics") for name, _ in report.sections):
        return  # the hook is re-exported by more than one conftest
    # crictl's own configuration names the runtime the node runs (a switch repoints it).
    config = (item.funcargs.get("expected") or {}).get("crictl_config", "/etc/crictl.yaml")
    script = ("journalctl -u kubelet -u containerd -u crio -n 80 --no-pager -o short-precise; "
              f"echo '--- crictl info ({config})'; crictl --config '{config}' --timeout 5s info 2>&1 | head -c 8000")
    try:
        text = host.run(script).stdout
    except Exception as exc:  # noqa: BLE001 - diagnostics must not hide the failure
        text = f"(could not read the diagnostics: {exc})"
    report.sections.append(("chain diagnostics: journal tail and crictl info", text))
