"""The sha256 an upstream checksum file gives for a release file, in each upstream's format."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubenode.runtime_chain.plugins.filter.artifacts import (
    artifact_install_dir,
    artifact_offline_files,
    artifact_stage_path,
    artifacts_pinned,
    artifacts_staged_records,
    checksum_from_file,
)

A = "a" * 64
B = "b" * 64


@pytest.mark.parametrize(("text", "filename"), [
    (f"{A}\n", "kubelet"),  # dl.k8s.io: kubelet.sha256 is the bare hash
    (f"{A}  containerd-2.3.7-linux-amd64.tar.gz\n", "containerd-2.3.7-linux-amd64.tar.gz"),  # sha256sum output
    (f"{B}  runc.arm64\n{A}  runc.amd64\n{B}  runc.tar.xz\n", "runc.amd64"),  # runc.sha256sum: every release file
    (f"{A} *cri-o.amd64.v1.36.3.tar.gz\n", "cri-o.amd64.v1.36.3.tar.gz"),  # binary-mode marker
    (f"{A}  ./release/crictl-v1.36.0-linux-amd64.tar.gz\n", "crictl-v1.36.0-linux-amd64.tar.gz"),  # a path ending in the name
    (f"{A.upper()}\n", "kubelet"),
])
def test_each_upstream_checksum_format_gives_the_sha256(text, filename):
    assert checksum_from_file(text, filename) == A


@pytest.mark.parametrize(("text", "says"), [
    ("", "no sha256 line for runc.amd64"),
    (f"{A}  runc.arm64\n", "no sha256 line for runc.amd64"),
    ("<html>Not Found</html>\n", "no sha256 line for runc.amd64"),
    ("404\n", "not a sha256"),
    ("deadbeef  runc.amd64\n", "no sha256 line for runc.amd64"),
])
def test_a_checksum_file_without_the_file_fails_and_names_it(text, says):
    with pytest.raises(AnsibleFilterError, match=says):
        checksum_from_file(text, "runc.amd64", "http://mirror/runc.sha256sum")


def test_paths_are_content_addressed():
    item = {"name": "crictl", "url": "http://m/crictl-v1.36.0-linux-amd64.tar.gz", "sha256": A}
    assert artifact_stage_path(item, "/var/cache/kubenode") == f"/var/cache/kubenode/{A[:16]}-crictl-v1.36.0-linux-amd64.tar.gz"
    assert artifact_install_dir(item, "/usr/local/lib/kubenode") == f"/usr/local/lib/kubenode/crictl-{A[:16]}"


ITEMS = [
    {"name": "pinned", "url": "http://m/a.tar.gz", "sha256": B, "sha256_var": "a_sha256"},
    {"name": "unpinned", "url": "http://m/v1/runc.amd64", "sha256": "", "sha256_var": "runc_sha256",
     "checksum_url": "http://m/v1/runc.sha256sum"},
]


def test_the_pin_wins_else_the_checksum_file():
    pinned = artifacts_pinned(ITEMS, {"unpinned": f"{A}  runc.amd64\n", "pinned": f"{A}  a.tar.gz\n"})
    assert [(i["sha256"], i["sha256_source"]) for i in pinned] == [
        (B, "pinned by a_sha256"), (A, "the checksum file http://m/v1/runc.sha256sum")]


def test_what_was_staged_gives_the_sha256_to_install_from():
    staged = {"unpinned": {"sha256": A, "source": "the checksum file x"}}
    assert artifacts_pinned(ITEMS, staged=staged)[1]["sha256"] == A


def test_an_unpinned_item_without_a_checksum_file_names_its_pin_variable():
    with pytest.raises(AnsibleFilterError, match="set runc_sha256"):
        artifacts_pinned(ITEMS, {})


def test_staged_records_and_offline_files():
    pinned = artifacts_pinned(ITEMS, {"unpinned": f"{A}  runc.amd64\n"})
    records = artifacts_staged_records(pinned, "/s")
    assert records["unpinned"] == {"path": f"/s/{A[:16]}-runc.amd64", "sha256": A, "source": "the checksum file http://m/v1/runc.sha256sum"}
    assert artifact_offline_files(ITEMS[1]) == [{"name": "unpinned", "file": "runc.amd64", "kind": "release"},
                                                {"name": "unpinned", "file": "runc.sha256sum", "kind": "checksum"}]
    assert artifact_offline_files(ITEMS[0]) == [{"name": "pinned", "file": "a.tar.gz", "kind": "release"}]
