"""Version parsing of the chain's binaries (real outputs where captured)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import versions

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # tests/unit/fixtures


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            (FIXTURES / "containerd_version_debian_1.7.24.txt").read_text(),
            {"version": "1.7.24~ds1", "major": 1, "minor": 7, "patch": 24, "revision": "1.7.24~ds1-6+deb13u1"},
        ),
        (
            "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3",
            {"version": "1.6.20~ds1", "major": 1, "minor": 6, "patch": 20, "revision": "1.6.20~ds1-1+deb12u3"},
        ),
        (
            "containerd github.com/containerd/containerd/v2 v2.3.4 0f1a2b3c",
            {"version": "2.3.4", "major": 2, "minor": 3, "patch": 4, "revision": "0f1a2b3c"},
        ),
        ("containerd github.com/containerd/containerd/v2 2.1.0+unknown", {"version": "2.1.0+unknown", "major": 2, "minor": 1, "patch": 0, "revision": ""}),
    ],
)
def test_containerd_version_line_is_parsed(text, expected):
    assert versions.parse_containerd_version(text) == expected


@pytest.mark.parametrize("text", ["", "ctr github.com/containerd/containerd 1.7.0", "containerd github.com/x"])
def test_not_a_containerd_version_line_is_an_error(text):
    with pytest.raises(ValueError):
        versions.parse_containerd_version(text)


@pytest.mark.parametrize(
    ("version", "schema"),
    [("1.6.20~ds1", 2), ("1.7.24~ds1", 2), ("v1.7.34", 2), ("2.0.0", 3), ("2.1.9+ds1", 3), ("2.2.9", 3), ("v2.3.4", 4), ("2.4.2", 4)],
)
def test_config_schema_follows_the_containerd_major(version, schema):
    assert versions.containerd_config_version(version) == schema


@pytest.mark.parametrize("version", ["1.5.9", "1.4.13", "0.2.0", "unknown"])
def test_containerd_without_cri_v1_has_no_config_schema(version):
    with pytest.raises(ValueError):
        versions.containerd_config_version(version)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("runc_version_debian_1.1.15.txt", {"name": "runc", "version": "1.1.15+ds1", "commit": "1.1.15+ds1-2+b4", "spec": "1.2.0"}),
        ("crun_version_debian_1.21.txt", {"name": "crun", "version": "1.21", "commit": "10269840aa07fb7e6b7e1acff6198692d8ff5c88", "spec": "1.0.0"}),
    ],
)
def test_oci_runtime_version_outputs_are_parsed(name, expected):
    parsed = versions.parse_oci_runtime_version((FIXTURES / name).read_text())
    assert {k: parsed[k] for k in expected} == expected


def test_crun_feature_tags_are_returned():
    parsed = versions.parse_oci_runtime_version((FIXTURES / "crun_version_debian_1.21.txt").read_text())
    assert "+SYSTEMD" in parsed["features"] and "+YAJL" in parsed["features"]


def test_runc_has_no_feature_tags():
    parsed = versions.parse_oci_runtime_version((FIXTURES / "runc_version_debian_1.1.15.txt").read_text())
    assert parsed["features"] == []


@pytest.mark.parametrize("text", ["", "youki version 0.3.0", "crun 1.21"])
def test_unknown_oci_runtime_output_is_an_error(text):
    with pytest.raises(ValueError):
        versions.parse_oci_runtime_version(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.7.24~ds1", (1, 7, 24)), ("v2.3", (2, 3, 0)), ("runc version 1.1.15+ds1", (1, 1, 15)), ("none", None)],
)
def test_semver_is_found_inside_text(text, expected):
    assert versions.parse_semver(text) == expected
