"""The shared fixtures (chaintest.py), and the cluster's API from the controller: the control
plane's admin kubeconfig, pointed at the loopback port the test bed forwards to its :6443."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "_shared" / "tests"))

from chaintest import PROJECT, chain_info, expected, pytest_runtest_makereport  # noqa: E402,F401

CONTROL_PLANE = "cp"


@pytest.fixture(scope="session")
def kubeconfig(tmp_path_factory) -> Path:
    """The control plane's /etc/kubernetes/admin.conf with the server the controller reaches
    (https://127.0.0.1:<api_port>, a SAN of the API server's certificate), 0600."""
    import subprocess

    import yaml
    from tools.testbed import vm

    inst = vm.load(f"molecule-{os.environ['MOLECULE_SCENARIO_NAME']}", CONTROL_PLANE)
    assert inst is not None and inst.api_port, "the control-plane VM is not running"
    config = yaml.safe_load(subprocess.run(inst.ssh_argv("cat", "/etc/kubernetes/admin.conf"), capture_output=True, text=True,
                                           check=True).stdout)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{inst.api_port}"
    path = tmp_path_factory.mktemp("kube") / "admin.conf"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def core(kubeconfig):
    """kubernetes' CoreV1Api on the cluster (the Python client kubernetes.core uses)."""
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
