"""Pulls through registry mirrors (mirrors_only: nothing here ever contacts a real registry): the test bed's real registries (Debian's docker-registry,
TLS with the test bed's CA, one behind basic auth) and real containerd instances (2.x and the
distribution's 1.x) with the hosts.toml files role containerd renders; runtime_chain_info's
registry checks against the same, each broken the field's way."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.render import render

from .conftest import containerd_instance, run_module

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".ansible" / "collections"))
from ansible_collections.kubenode.runtime_chain.plugins.filter.registries import (  # noqa: E402
    containerd_hosts,
    registries_normalized,
    registry_mirror_urls,
)
from tools.testbed import registry  # noqa: E402

PAUSE = f"registry.k8s.io/pause:{registry.PAUSE_TAG}"
PRIVATE = f"{registry.PRIVATE_REGISTRY}/kubenode/private:1"


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    """The test bed's two registries on loopback, as a VM gets them: (public URL, private URL, credentials, CA)."""
    directory = tmp_path_factory.mktemp("registries")
    ports = registry.start(directory, log=lambda _msg: None)
    try:
        yield (f"https://127.0.0.1:{ports['public']}", f"https://127.0.0.1:{ports['private']}", registry.ensure_credentials(),
               str(registry.registry_dir() / "pki" / "ca.crt"))
    finally:
        registry.stop(directory)


def write_hosts(ctd, registries_var: list[dict]) -> None:
    """What role containerd writes into the instance's config_path for ``registries_var``."""
    hosts_dir = Path(ctd.directory) / "certs.d"
    shutil.rmtree(hosts_dir, ignore_errors=True)
    for entry in containerd_hosts(registries_normalized(registries_var), str(hosts_dir)):
        Path(entry["dir"]).mkdir(parents=True)
        for ca in entry["cas"]:
            shutil.copyfile(ca["src"], ca["dest"])
        Path(entry["file"]).write_text(render("containerd", "hosts.toml.j2", {"item": entry}))


def asked(registries, password=None, with_private=True) -> list[dict]:
    public, private, creds, ca = registries
    out = [{"registry": "registry.k8s.io", "mirrors_only": True, "mirrors": [{"url": public, "ca": ca}]}]
    if with_private:
        out.append({"registry": registry.PRIVATE_REGISTRY, "mirrors_only": True, "mirrors": [{"url": private, "ca": ca, "username": creds["username"],
                                                                       "password": password or creds["password"]}]})
    return out


def pull(crictl, ctd, image) -> subprocess.CompletedProcess:
    return subprocess.run([crictl, "--runtime-endpoint", ctd.endpoint, "--image-endpoint", ctd.endpoint, "--timeout", "30s",
                           "pull", image], capture_output=True, text=True, check=False, timeout=90)


def registry_checks(ctd, crictl, tmp_path, registries_var, prefix: str = "registry.") -> dict:
    crictl_config = tmp_path / "crictl.yaml"
    crictl_config.write_text(f"runtime-endpoint: {ctd.endpoint}\n")
    result = run_module("runtime_chain_info", {
        "runtime": "containerd", "endpoints": {"containerd": ctd.endpoint}, "crictl_path": crictl,
        "containerd_config": str(ctd.config), "crictl_config": str(crictl_config), "runtime_binaries": {"containerd": ctd.binary},
        "fail_on_checks": False, "registries": registry_mirror_urls(registries_var)})
    assert "checks" in result, result
    return {c["id"]: c for c in result["checks"] if c["id"].startswith(prefix)}


def test_pulls_by_upstream_name_through_the_mirror_with_and_without_credentials(flavor, crictl, registries, tmp_path):
    with containerd_instance(flavor.render(), flavor.binary) as ctd:
        write_hosts(ctd, asked(registries))
        done = pull(crictl, ctd, PAUSE)
        assert done.returncode == 0, done.stderr
        done = pull(crictl, ctd, PRIVATE)
        assert done.returncode == 0, done.stderr
        checks = registry_checks(ctd, crictl, tmp_path, asked(registries))
        assert {k: v["status"] for k, v in checks.items()} == {
            "registry.config.registry.k8s.io": "ok", "registry.mirror.registry.k8s.io.0": "ok",
            f"registry.config.{registry.PRIVATE_REGISTRY}": "ok", f"registry.mirror.{registry.PRIVATE_REGISTRY}.0": "ok"}
        assert "with the runtime's credentials" in checks[f"registry.mirror.{registry.PRIVATE_REGISTRY}.0"]["source"]

        # A wrong password: the pull is refused, and the verifier names the registry, not the secret.
        write_hosts(ctd, asked(registries, password="wrong-password"))
        subprocess.run([crictl, "--runtime-endpoint", ctd.endpoint, "rmi", PRIVATE], capture_output=True, check=False)
        done = pull(crictl, ctd, PRIVATE)
        assert done.returncode != 0 and "authoriz" in done.stderr.lower(), done.stderr
        check = registry_checks(ctd, crictl, tmp_path, asked(registries))[f"registry.mirror.{registry.PRIVATE_REGISTRY}.0"]
        assert check["status"] == "fail" and "refused the configured credentials" in check["hint"]
        leaked = registries[2]["password"] in str(check)  # not in an assert: pytest would print it
        assert not leaked

        # No credentials at all: refused with the registry's 401; the verifier says so.
        creds_free = asked(registries)
        del creds_free[1]["mirrors"][0]["username"], creds_free[1]["mirrors"][0]["password"]
        write_hosts(ctd, creds_free)
        done = pull(crictl, ctd, PRIVATE)
        assert done.returncode != 0 and "authoriz" in done.stderr.lower(), done.stderr
        check = registry_checks(ctd, crictl, tmp_path, creds_free)[f"registry.mirror.{registry.PRIVATE_REGISTRY}.0"]
        assert check["status"] == "fail" and "wants credentials" in check["hint"]

        # An image that exists nowhere: the runtime's own error, not a hang.
        done = pull(crictl, ctd, "registry.k8s.io/no-such-image:1")
        assert done.returncode != 0 and "not found" in done.stderr.lower(), done.stderr


def test_a_wrong_ca_an_unreachable_mirror_and_a_missing_hosts_file_each_fail_by_name(flavor, crictl, registries, tmp_path):
    public, _private, _creds, _ca = registries
    other_ca = tmp_path / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=some other CA", "-keyout", str(tmp_path / "k"), "-out", str(other_ca)], check=True, capture_output=True)
    with containerd_instance(flavor.render(), flavor.binary) as ctd:
        wrong_ca = [{"registry": "registry.k8s.io", "mirrors_only": True, "mirrors": [{"url": public, "ca": str(other_ca)}]}]
        write_hosts(ctd, wrong_ca)
        check = registry_checks(ctd, crictl, tmp_path, wrong_ca)["registry.mirror.registry.k8s.io.0"]
        assert (check["status"], check["observed"]) == ("fail", "tls") and "give the CA" in check["hint"]
        assert pull(crictl, ctd, PAUSE).returncode != 0

        unreachable = [{"registry": "registry.k8s.io", "mirrors_only": True, "mirrors": [{"url": "https://127.0.0.1:9"}]}]
        write_hosts(ctd, unreachable)
        check = registry_checks(ctd, crictl, tmp_path, unreachable)["registry.mirror.registry.k8s.io.0"]
        assert (check["status"], check["observed"]) == ("fail", "connect") and "unreachable" in check["hint"]

        write_hosts(ctd, [])
        check = registry_checks(ctd, crictl, tmp_path, wrong_ca)["registry.config.registry.k8s.io"]
        assert check["status"] == "fail" and "has no hosts.toml" in check["hint"]


@pytest.mark.parametrize(("image", "status", "says"), [
    (PAUSE, "ok", "the mirror has it"),
    ("registry.k8s.io/pause:0.0-nowhere", "fail", "HTTP 404 (manifest unknown)"),
], ids=["on-the-mirror", "nowhere"])
def test_an_absent_sandbox_image_is_looked_up_on_the_mirrors(flavor, crictl, registries, tmp_path, image, status, says):
    with containerd_instance(flavor.render(containerd_sandbox_image=image), flavor.binary) as ctd:
        write_hosts(ctd, asked(registries, with_private=False))
        check = registry_checks(ctd, crictl, tmp_path, asked(registries, with_private=False), prefix="sandbox.")["sandbox.present"]
        assert check["status"] == status and says in check["hint"], check
        assert "/v2/pause/manifests/" in check["source"]
