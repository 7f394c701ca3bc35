"""The containerd role's rendered config.toml passes the verifier's schema check, per schema.

A role-level test (it renders the role's templates with Ansible's filters, so it runs on the
controller); the checker's own cases are in tests/unit/plugins/module_utils/test_chain.py.
"""

from __future__ import annotations

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import chain, gather

from tests.render import containerd_vars, render

NO_HEADER = """[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
"""


def containerd(version, text, path="/etc/containerd/config.toml"):
    """containerd facts as gather.containerd_facts builds them from the file's text (parsed with tomllib)."""
    config, error = gather.parse_toml(text)
    return {"version": version, "config_path": path, "config_present": text is not None, "config": config, "config_error": error}


@pytest.mark.parametrize(
    ("version", "template", "config_version", "status", "says"),
    [
        ("1.7.24~ds1", "config-v2.toml.j2", 3, "ok", ""),
        ("2.1.9", "config-v3.toml.j2", 3, "ok", ""),
        ("2.3.7", "config-v3.toml.j2", 4, "ok", ""),
        ("2.3.7", "config-v3.toml.j2", 3, "warn", "migrates a version 3"),
    ],
)
def test_the_rendered_config_follows_the_installed_major(version, template, config_version, status, says):
    text = render("containerd", template, containerd_vars(__containerd_config_version=config_version))
    (result,) = chain.containerd_config_checks(containerd(version, text))
    assert result["id"] == "runtime.config_schema"
    assert (result["status"], says in result["hint"]) == (status, True)


def test_a_rendered_v3_file_with_a_v2_table_appended_fails():  # C04
    text = render("containerd", "config-v3.toml.j2", containerd_vars()) + NO_HEADER
    (result,) = chain.containerd_config_checks(containerd("2.1.9", text))
    assert result["status"] == "fail" and "ignores these keys" in result["hint"]
