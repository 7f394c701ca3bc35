"""Shared fixtures of the Molecule verifiers (testinfra over Molecule's inventory)."""

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
    return {
        "runtime": runtime,
        "oci_runtime": hv.get("kubenode_oci_runtime", "runc"),
        "cgroup_driver": hv.get("kubenode_cgroup_driver", "systemd"),
        "endpoint": ENDPOINTS[runtime],
        "sandbox_image": "localhost/kubenode/pause:1.0",
    }


@pytest.fixture(scope="module")
def cri(host, expected):
    """What the runtime reports over its CRI socket (the collection's cri_info module)."""
    return host.ansible("kubenode.runtime_chain.cri_info", f"endpoint={expected['endpoint']}", become=True, check=False)


@pytest.fixture(scope="module")
def images(host):
    """Download the locally built pause and test images into the guest (sha256-checked)."""
    manifest = load_manifest()["artifacts"]
    out = {}
    for name in ("pause-image", "test-image"):
        entry = manifest[name]
        path = f"/var/tmp/{Path(entry['path']).name}"
        script = (
            "import hashlib,sys,urllib.request;"
            f"d=urllib.request.urlopen('{ARTIFACTS_URL_IN_GUEST}/{entry['path']}',timeout=60).read();"
            f"assert hashlib.sha256(d).hexdigest()=='{entry['sha256']}','sha256 mismatch';"
            f"open('{path}','wb').write(d)"
        )
        host.run_expect([0], "python3 -c %s", script)
        out[name] = {"path": path, "reference": entry["reference"]}
    return out


