"""Fixtures and helpers shared by the Molecule verifiers (testinfra over Molecule's inventory).

Each scenario's tests/conftest.py re-exports them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(PROJECT))

from tests.artifacts.build import load_manifest  # noqa: E402
from tests.testbed.mirror import ARTIFACTS_URL_IN_GUEST  # noqa: E402

ENDPOINTS = {"containerd": "unix:///run/containerd/containerd.sock", "crio": "unix:///run/crio/crio.sock"}


@pytest.fixture(scope="module")
def expected(host):
    """What the scenario asked for (its host_vars), with the role defaults filled in."""
    hv = host.ansible.get_variables()
    runtime = hv.get("kubenode_runtime", "containerd")
    oci_runtime = hv.get("kubenode_oci_runtime", "runc")
    runc = "/usr/sbin/runc" if hv.get("oci_runtime_install_method", "distro") == "distro" else "/usr/local/sbin/runc"
    return {
        "runtime": runtime,
        "oci_runtime": oci_runtime,
        "handlers": hv.get("kubenode_oci_runtime_handlers", [oci_runtime]),
        "oci_paths": {"runc": runc, "crun": "/usr/bin/crun"},
        "cgroup_driver": hv.get("kubenode_cgroup_driver", "systemd"),
        "endpoint": ENDPOINTS[runtime],
        "sandbox_image": "localhost/kubenode/pause:1.0",
        "containerd_bin_dir": "/usr/bin" if hv.get("containerd_install_method", "distro") == "distro" else "/usr/local/bin",
    }


@pytest.fixture(scope="module")
def cri(host, expected):
    """What the runtime reports over its CRI socket (the collection's cri_info module)."""
    return host.ansible("kubenode.runtime_chain.cri_info", f"endpoint={expected['endpoint']}", become=True, check=False)


@pytest.fixture(scope="module")
def images(host, expected):
    """Download the locally built test image into the guest (sha256-checked) and import it
    into the runtime's image store (the roles import the pause image themselves)."""
    manifest = load_manifest()["artifacts"]
    out = {}
    for name in ("test-image",):
        entry = manifest[name]
        path = f"/var/tmp/{Path(entry['path']).name}"
        script = (
            "import hashlib,sys,urllib.request;"
            f"d=urllib.request.urlopen('{ARTIFACTS_URL_IN_GUEST}/{entry['path']}',timeout=60).read();"
            f"assert hashlib.sha256(d).hexdigest()=='{entry['sha256']}','sha256 mismatch';"
            f"open('{path}','wb').write(d)"
        )
        host.run_expect([0], "python3 -c %s", script)
        if expected["runtime"] == "containerd":
            host.run_expect([0], f"{expected['containerd_bin_dir']}/ctr -n k8s.io images import %s", path)
        else:
            host.run_expect([0], "skopeo copy --quiet oci-archive:%s containers-storage:%s", path, entry["reference"])
        out[name] = {"path": path, "reference": entry["reference"]}
    return out




def run_verify_playbook(tmp_path, *extra: str):
    """Run playbooks/verify.yml against this scenario's inventory; return (rc, output, report)."""
    import json
    import subprocess

    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    reports = tmp_path / "reports"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"))
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(PROJECT / "playbooks" / "verify.yml"),
         "-e", f"verify_report_dir={reports}", *extra],
        cwd=PROJECT, env=env, capture_output=True, text=True, check=False,
    )
    found = sorted(reports.glob("runtime-chain-*.json"))
    report = json.loads(found[-1].read_text()) if found else None
    return result.returncode, result.stdout + result.stderr, report, sorted(reports.glob("runtime-chain-*.xml"))


def run_playbook(name: str, *extra: str):
    """Run playbooks/<name> against this scenario's inventory; return (rc, output)."""
    import subprocess

    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"))
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), str(PROJECT / "playbooks" / name), *extra],
                            cwd=PROJECT, env=env, capture_output=True, text=True, check=False)
    return result.returncode, result.stdout + result.stderr
