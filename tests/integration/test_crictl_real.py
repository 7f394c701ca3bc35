"""crictl.yaml as rendered is accepted by crictl itself; its validator rejects unknown keys."""

from __future__ import annotations

import subprocess

from tests.render import render


def validate(crictl: str, path) -> subprocess.CompletedProcess:
    # The exact validate command of the crictl role.
    return subprocess.run([crictl, "--config", str(path), "config", "--list"], capture_output=True, text=True, check=False)


def test_rendered_crictl_yaml_passes_the_validator(crictl, tmp_path):
    endpoint = f"unix://{tmp_path}/runtime.sock"
    path = tmp_path / "crictl.yaml"
    path.write_text(render("crictl", "crictl.yaml.j2", {"crictl_runtime_endpoint": endpoint, "crictl_image_endpoint": endpoint,
                                                         "crictl_timeout": 10}))
    result = validate(crictl, path)
    assert result.returncode == 0, result.stderr
    assert endpoint in result.stdout


def test_validator_rejects_an_unknown_key(crictl, tmp_path):
    path = tmp_path / "crictl.yaml"
    path.write_text("runtime-endpoint: unix:///x.sock\nruntime_endpoint: typo\n")
    result = validate(crictl, path)
    assert result.returncode != 0
    assert "runtime_endpoint" in result.stderr
