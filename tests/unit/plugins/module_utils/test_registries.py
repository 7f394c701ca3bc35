"""The registry link: the runtime's own mirror configuration (containerd hosts.toml, CRI-O
registries.conf drop-ins) read from files, and each mirror's probe turned into a check."""

from __future__ import annotations

import json

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import chain, gather

M = "https://10.0.2.100:5000"


def mirror(probe: dict, **kw) -> dict:
    return {"url": M, "ca": ["/etc/containerd/certs.d/r/mirror-0-ca.crt"], "skip_verify": False, "has_credentials": False,
            "probe": {"url": f"{M}/v2/", **probe}, **kw}


@pytest.mark.parametrize(("m", "status", "needle"), [
    (mirror({"status": 200}), "ok", ""),
    (mirror({"status": 200}, has_credentials=True), "ok", ""),
    (mirror({"status": 401, "challenge": "Basic"}, has_credentials=True), "fail", "refused the configured credentials"),
    (mirror({"status": 401, "challenge": "Basic"}), "fail", "wants credentials"),
    (mirror({"status": 401, "challenge": "Bearer"}), "ok", ""),
    (mirror({"status": 404}), "fail", "not a registry API root"),
    (mirror({"status": None, "error": {"kind": "tls", "message": "certificate verify failed"}}), "fail", "give the CA"),
    (mirror({"status": None, "error": {"kind": "connect", "message": "Connection refused"}}), "fail", "unreachable"),
])
def test_a_mirror_probe_becomes_one_check_naming_the_registry_and_the_cause(m, status, needle):
    result = chain.registry_mirror_check("registry.k8s.io", 0, m)
    assert (result["id"], result["status"]) == ("registry.mirror.registry.k8s.io.0", status)
    assert needle in result["hint"]
    assert "mirror-0-ca.crt" in result["source"] and f"{M}/v2/" in result["source"]
    if status == "fail":
        assert "registry.k8s.io" in result["hint"]


@pytest.mark.parametrize(("entry", "asked", "status", "needle"), [
    ({"present": True, "source": "f", "mirrors": [{"url": M}]}, [M], "ok", ""),
    ({"present": True, "source": "f", "mirrors": [{"url": "https://10.0.2.100:5000/"}]}, ["10.0.2.100:5000"], "ok", ""),
    ({"present": True, "source": "f", "mirrors": []}, [M], "fail", "the inventory asks"),
    ({"present": True, "source": "f", "mirrors": [{"url": M}, {"url": "https://other"}]}, [M], "fail", "the inventory asks"),
    ({"present": False, "source": "f", "mirrors": []}, [M], "fail", "has no"),
    ({"present": True, "source": "f", "error": "Invalid value (at line 2)", "mirrors": []}, [M], "fail", "does not parse"),
])
def test_the_runtime_mirrors_must_be_the_asked_ones(entry, asked, status, needle):
    result = chain.registry_config_check("containerd", "registry.k8s.io", entry, asked)
    assert (result["id"], result["status"]) == ("registry.config.registry.k8s.io", status)
    assert needle in result["hint"]


def test_containerd_hosts_toml_is_read_in_order_and_the_header_is_not_returned(tmp_path):
    (tmp_path / "registry.k8s.io").mkdir()
    (tmp_path / "registry.k8s.io" / "hosts.toml").write_text(
        'server = "https://registry.k8s.io"\n\n[host."https://a:5000"]\n  capabilities = ["pull", "resolve"]\n  ca = "/x/ca.crt"\n\n'
        '[host."https://b:5001"]\n  capabilities = ["pull"]\n  skip_verify = true\n\n'
        '  [host."https://b:5001".header]\n    Authorization = ["Basic c2VjcmV0"]\n')
    (tmp_path / "stale.example").mkdir()
    facts = gather.containerd_registry_facts(str(tmp_path), ["registry.k8s.io", "k8s.gcr.io"])
    entry = facts["registries"]["registry.k8s.io"]
    assert [m["url"] for m in entry["mirrors"]] == ["https://a:5000", "https://b:5001"]
    assert entry["mirrors"][0]["ca"] == ["/x/ca.crt"] and entry["mirrors"][1]["skip_verify"] is True
    assert [m["has_credentials"] for m in entry["mirrors"]] == [False, True]
    assert facts["registries"]["k8s.gcr.io"]["present"] is False
    assert facts["others"] == ["stale.example"]


def test_crio_the_last_drop_in_wins_and_certs_and_auths_are_found(tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text('unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nprefix = "registry.k8s.io"\n'
                    'location = "registry.k8s.io"\n[[registry.mirror]]\nlocation = "old:1"\n')
    (tmp_path / "registries.conf.d").mkdir()
    (tmp_path / "registries.conf.d" / "99-kubenode.conf").write_text(
        '[[registry]]\nprefix = "registry.k8s.io"\nlocation = "registry.k8s.io"\n[[registry.mirror]]\nlocation = "10.0.2.100:5001"\n'
        'insecure = false\npull-from-mirror = "all"\n')
    certs = tmp_path / "certs.d" / "10.0.2.100:5001"
    certs.mkdir(parents=True)
    (certs / "kubenode-registry.k8s.io.crt").write_text("PEM")
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {"10.0.2.100:5001": {"auth": "c2VjcmV0"}}}))
    facts = gather.crio_registry_facts(str(conf), str(tmp_path / "certs.d"), str(auth), ["registry.k8s.io"])
    entry = facts["registries"]["registry.k8s.io"]
    assert entry["source"].endswith("99-kubenode.conf")
    assert [(m["url"], m["has_credentials"], m["_authorization"]) for m in entry["mirrors"]] == [
        ("https://10.0.2.100:5001", True, "Basic c2VjcmV0")]
    assert entry["mirrors"][0]["ca"] == [str(certs / "kubenode-registry.k8s.io.crt")]


def test_registry_checks_cover_each_asked_registry():
    facts = {"asked": {"registry.k8s.io": [M], "k8s.gcr.io": [M]},
             "registries": {"registry.k8s.io": {"present": True, "source": "f", "mirrors": [mirror({"status": 200})]}}}
    ids = {c["id"]: c["status"] for c in chain.registry_checks("containerd", facts)}
    assert ids == {"registry.config.registry.k8s.io": "ok", "registry.mirror.registry.k8s.io.0": "ok",
                   "registry.config.k8s.gcr.io": "fail"}
    assert chain.registry_checks("containerd", None) == []


@pytest.mark.parametrize(("reference", "location"), [
    ("registry.k8s.io/pause:3.10.2", ("registry.k8s.io", "pause", "3.10.2")),
    ("gcr.io/k8s-staging-cri-tools/test-image-latest", ("gcr.io", "k8s-staging-cri-tools/test-image-latest", "latest")),
    ("host:5000/a/b@sha256:abc", ("host:5000", "a/b", "sha256:abc")),
    ("host:5000/a/b:1@sha256:abc", ("host:5000", "a/b", "sha256:abc")),
    ("localhost/kubenode/pause:1.0", ("localhost", "kubenode/pause", "1.0")),
    ("docker.io/busybox:1.36", ("docker.io", "library/busybox", "1.36")),
    ("docker.io/kubenode/x", ("docker.io", "kubenode/x", "latest")),
    ("busybox:1.36", None),
    ("library/busybox", None),
])
def test_image_location(reference, location):
    assert gather.image_location(reference) == location


PAUSE = "registry.k8s.io/pause:3.10.2"
HEAD = f"{M}/v2/pause/manifests/3.10.2"


@pytest.mark.parametrize(("lookup", "status", "needle"), [
    (None, "warn", "has no mirror among the registries the verifier was given"),
    ({"registry": "registry.k8s.io", "probes": [{"url": HEAD, "status": 200}]}, "ok", "pulls it from there"),
    ({"registry": "registry.k8s.io", "probes": [{"url": HEAD, "status": 404}, {"url": "https://b/v2/x", "status": 200}]}, "ok", ""),
    ({"registry": "registry.k8s.io", "probes": [{"url": HEAD, "status": 404}]}, "fail", "HTTP 404 (manifest unknown)"),
    ({"registry": "registry.k8s.io", "probes": [{"url": HEAD, "status": None, "error": {"kind": "connect", "message": "refused"}}]},
     "fail", "(refused)"),
    ({"registry": "registry.k8s.io", "probes": [{"url": HEAD, "status": 401, "challenge": "Bearer"}]}, "warn", "token"),
])
def test_an_absent_sandbox_image_is_looked_up_on_the_mirrors(lookup, status, needle):
    (present,) = [c for c in chain.sandbox_checks({"image": PAUSE, "present": False, "source": "s"}, None, lookup=lookup)
                  if c["id"] == "sandbox.present"]
    assert present["status"] == status and needle in present["hint"]
    if status == "fail":
        assert "registry.k8s.io" in present["hint"] and HEAD in present["source"]


def test_registry_facts_look_up_only_images_of_mirrored_registries(monkeypatch):
    seen = []
    monkeypatch.setattr(gather, "probe_mirror", lambda m, t, path="", method="GET", accept=None: seen.append((path, method)) or {
        "url": m["url"] + "/v2/" + path, "status": 200})
    monkeypatch.setattr(gather, "containerd_registry_facts", lambda path, names: {
        "config_path": path, "others": [], "registries": {"registry.k8s.io": {"present": True, "mirrors": [{"url": M}]}}})
    out = gather.registry_facts("containerd", {"registry.k8s.io": [M]}, {}, containerd_hosts_dir="/d",
                                images=(PAUSE, "docker.io/library/busybox:1"))
    assert list(out["images"]) == [PAUSE] and out["images"][PAUSE]["registry"] == "registry.k8s.io"
    assert seen == [("pause/manifests/3.10.2", "HEAD"), ("", "GET")]


def test_a_crio_mirror_with_a_namespace_is_asked_at_its_host_v2_root(monkeypatch, tmp_path):
    conf = tmp_path / "registries.conf"
    conf.write_text('[[registry]]\nprefix = "registry.k8s.io"\nlocation = "registry.k8s.io"\n'
                    '[[registry.mirror]]\nlocation = "mirror.example:5000/k8s"\n')
    (tmp_path / "registries.conf.d").mkdir()
    urls = []

    def fake_probe(m, t, path="", method="GET", accept=None):
        urls.append(((m.get("api_base") or m["url"]) + "/v2/" + path, method))
        return {"url": urls[-1][0], "status": 200}

    monkeypatch.setattr(gather, "probe_mirror", fake_probe)
    out = gather.registry_facts("crio", {"registry.k8s.io": ["https://mirror.example:5000/k8s"]}, {"crio": {}},
                                crio_registries_conf=str(conf), crio_certs_dir=str(tmp_path / "certs.d"), images=(PAUSE,))
    assert out["registries"]["registry.k8s.io"]["mirrors"][0]["url"] == "https://mirror.example:5000/k8s"
    assert urls == [("https://mirror.example:5000/v2/k8s/pause/manifests/3.10.2", "HEAD"), ("https://mirror.example:5000/v2/", "GET")]
