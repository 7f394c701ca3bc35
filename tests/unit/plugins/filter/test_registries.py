"""kubenode_registries: validation, and what containerd and CRI-O each get from it."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubenode.runtime_chain.plugins.filter.registries import (
    containerd_hosts,
    crio_registries,
    registries_normalized,
    registry_problems,
)

MIRROR = {"url": "https://10.0.2.100:5000", "ca": "/ctl/ca.crt"}
PRIVATE = {"url": "https://10.0.2.100:5001", "ca": "/ctl/ca.crt", "username": "u", "password": "s3cret"}


@pytest.fixture
def on_controller(monkeypatch):
    """Only /ctl/ca.crt exists on the (pretend) controller."""
    import ansible_collections.kubenode.runtime_chain.plugins.filter.registries as mod

    monkeypatch.setattr(mod.os.path, "isfile", lambda path: path == "/ctl/ca.crt")


@pytest.mark.parametrize(("registries", "needle"), [
    ([{"registry": "registry.k8s.io", "mirrors": [{"url": "10.0.2.100:5000"}]}], "mirrors[0].url='10.0.2.100:5000' needs a scheme and a host"),
    ([{"registry": "registry.k8s.io", "mirrors": [{"url": "https://"}]}], "needs a scheme and a host"),
    ([{"registry": "registry.k8s.io", "mirrors": [{"url": "ftp://m"}]}], "needs a scheme and a host"),
    ([{"registry": "registry.k8s.io", "mirrors": [{"url": "https://u:p@m"}]}], "must not carry"),
    ([{"registry": "registry.k8s.io", "mirrors": [{"url": "https://m", "ca": "/nope.crt"}]}], "ca=/nope.crt is not a file on the controller"),
    ([{"registry": "registry.k8s.io", "mirrors": [{"url": "https://m", "username": "u"}]}], "needs both username and password"),
    ([{"registry": "https://registry.k8s.io", "mirrors": []}], "registry='https://registry.k8s.io' must be a registry host[:port]"),
    ([{"registry": "r", "mirrors": []}, {"registry": "r", "mirrors": []}], "listed twice"),
    ([{"registry": "r", "mirrors": [{"url": "https://m", "capabilities": ["pull", "fly"]}]}], "capabilities"),
    ([{"registry": "r", "mirrors": [{"url": "https://m", "ca": "/ctl/ca.crt", "skip_verify": True}]}], "both ca and skip_verify"),
    ([{"registry": "r", "mirrors": [{"url": "https://m", "insecure": True}]}], "unknown keys insecure"),
    ({"registry": "r"}, "must be a list of registries (registry, mirrors), not a mapping"),
    ("docker.io", "not a string"),
    (None, "not null"),
])
def test_each_bad_input_is_named_with_its_fix(registries, needle, on_controller):
    problems = registry_problems(registries, "kubenode_registries")
    assert any(needle in p for p in problems), problems
    assert all("s3cret" not in p for p in problems)


def test_override_path_is_refused_for_crio_only():
    regs = [{"registry": "r", "mirrors": [{"url": "https://m/v2/x", "override_path": True}]}]
    assert registry_problems(regs, runtime="containerd") == []
    assert "override_path is containerd's" in registry_problems(regs, runtime="crio")[0]


def test_a_valid_list_has_no_problems_and_gets_its_defaults():
    regs = [{"registry": "registry.k8s.io", "mirrors": [{"url": "https://10.0.2.100:5000/"}]}, {"registry": "docker.io"}]
    assert registry_problems(regs) == []
    out = registries_normalized(regs)
    assert out[0]["server"] == "https://registry.k8s.io"
    mirror = out[0]["mirrors"][0]
    assert {k: mirror[k] for k in ("url", "host", "location", "capabilities", "skip_verify", "override_path", "ca")} == {
        "url": "https://10.0.2.100:5000", "host": "10.0.2.100:5000", "location": "10.0.2.100:5000",
        "capabilities": ["pull", "resolve"], "skip_verify": False, "override_path": False, "ca": ""}
    assert out[1] == {"registry": "docker.io", "server": "https://registry-1.docker.io", "mirrors": [], "mirrors_only": False}


def test_normalizing_bad_input_raises_with_every_problem():
    with pytest.raises(AnsibleFilterError, match="mirrors\\[0\\].url.*; .*mirrors\\[1\\].url"):
        registries_normalized([{"registry": "r", "mirrors": [{"url": "m"}, {"url": "n"}]}])


def test_containerd_gets_one_hosts_dir_per_registry_with_the_ca_next_to_it():
    regs = [{"registry": "registry.k8s.io", "mirrors": [MIRROR]}, {"registry": "private.kubenode.test", "mirrors": [PRIVATE]}]
    out = containerd_hosts(registries_normalized([{**r, "mirrors": [{k: v for k, v in m.items() if k != "ca"} for m in r["mirrors"]]}
                                                  for r in regs]), "/etc/containerd/certs.d")
    assert [h["dir"] for h in out] == ["/etc/containerd/certs.d/registry.k8s.io", "/etc/containerd/certs.d/private.kubenode.test"]
    assert out[0]["secret"] is False and out[0]["hosts"][0]["authorization"] == ""
    assert out[1]["secret"] is True and out[1]["hosts"][0]["authorization"] == "Basic dTpzM2NyZXQ="


def test_containerd_ca_paths(on_controller):
    out = containerd_hosts(registries_normalized([{"registry": "registry.k8s.io", "mirrors": [MIRROR]}]), "/etc/containerd/certs.d")
    assert out[0]["cas"] == [{"src": "/ctl/ca.crt", "dest": "/etc/containerd/certs.d/registry.k8s.io/mirror-0-ca.crt"}]
    assert out[0]["hosts"][0]["ca"] == "/etc/containerd/certs.d/registry.k8s.io/mirror-0-ca.crt"


def test_crio_gets_registry_tables_certs_by_mirror_host_and_auths_by_location(on_controller):
    regs = registries_normalized([
        {"registry": "registry.k8s.io", "mirrors": [MIRROR, {"url": "http://plain:80/k8s", "capabilities": ["pull"]}]},
        {"registry": "private.kubenode.test", "mirrors": [PRIVATE]},
        {"registry": "docker.io", "mirrors": []},
    ])
    out = crio_registries(regs, "/etc/containers/certs.d")
    assert out["registries"][0] == {"prefix": "registry.k8s.io", "location": "registry.k8s.io", "insecure": False, "mirrors": [
        {"location": "10.0.2.100:5000", "insecure": False, "pull_from_mirror": "all"},
        {"location": "plain:80/k8s", "insecure": True, "pull_from_mirror": "digest-only"}]}
    assert out["registries"][2]["location"] == "docker.io"
    assert out["cas"] == [
        {"src": "/ctl/ca.crt", "dest": "/etc/containers/certs.d/10.0.2.100:5000/kubenode-registry.k8s.io.crt"},
        {"src": "/ctl/ca.crt", "dest": "/etc/containers/certs.d/10.0.2.100:5001/kubenode-private.kubenode.test.crt"}]
    assert out["auths"] == {"10.0.2.100:5001": {"auth": "dTpzM2NyZXQ="}}


def test_mirrors_only_makes_the_last_mirror_the_server_so_nothing_else_is_tried(on_controller):
    regs = registries_normalized([{"registry": "registry.k8s.io", "mirrors_only": True, "mirrors": [
        {"url": "https://first:1", "skip_verify": True}, PRIVATE]}])
    ctd = containerd_hosts(regs, "/etc/containerd/certs.d")[0]
    # containerd: the last mirror is the server (its settings at the top level) and stays a [host]
    # (containerd 1.6 rejects a hosts.toml without one).
    assert ctd["server"] == "https://10.0.2.100:5001" and ctd["server_host"]["authorization"] == "Basic dTpzM2NyZXQ="
    assert [h["url"] for h in ctd["hosts"]] == ["https://first:1", "https://10.0.2.100:5001"] and ctd["secret"] is True
    crio = crio_registries(regs, "/etc/containers/certs.d")["registries"][0]
    assert (crio["location"], crio["insecure"], [m["location"] for m in crio["mirrors"]]) == ("10.0.2.100:5001", False, ["first:1"])


@pytest.mark.parametrize(("reg", "needle"), [
    ({"registry": "r", "mirrors_only": True, "mirrors": []}, "needs at least one mirror"),
    ({"registry": "r", "mirrors_only": True, "server": "https://s", "mirrors": [{"url": "https://m"}]}, "both server and mirrors_only"),
])
def test_mirrors_only_needs_a_mirror_and_no_server(reg, needle):
    assert needle in " ".join(registry_problems([reg]))
