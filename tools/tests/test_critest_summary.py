"""critest results are counted, and each failure is told real or allowed (the fixed-digest pull)."""

from __future__ import annotations

from tools.critest.__main__ import RUNTIMES, SKIPS, UPSTREAM_DIGEST, UPSTREAM_ONLY, classify, runtime_version, summarize


def spec(state, message="", name="runs a container"):
    return {"LeafNodeType": "It", "State": state, "RunTime": 2_000_000_000, "ContainerHierarchyTexts": ["[k8s.io] Container"],
            "LeafNodeText": name, "Failure": {"Message": message} if message else None}


def test_failures_and_skips_are_listed_with_their_causes():
    report = [{"SpecReports": [
        spec("passed"), spec("skipped", "Skip NRI tests because no --nri-socket was given", name="nri"),
        {"LeafNodeType": "BeforeSuite", "State": "passed"},
        spec("failed", f'rpc error: failed to pull image "x@sha256:{UPSTREAM_DIGEST}": not found', name="public image with digest"),
        spec("failed", "expected exit code 0,\n got 1", name="exec works"),
    ]}]
    summary = summarize(report)
    assert (summary["total"], summary["passed"], summary["skipped"], summary["failed"]) == (4, 1, 1, 2)
    assert summary["skipped_specs"] == [{"spec": "[k8s.io] Container nri", "reason": "Skip NRI tests because no --nri-socket was given"}]
    assert [f["allowed"] for f in summary["failed_specs"]] == [UPSTREAM_ONLY, ""]
    assert summary["failed_specs"][1] == {"spec": "[k8s.io] Container exec works", "message": "expected exit code 0, got 1", "allowed": ""}
    assert summary["durations"] == 8.0


def test_a_skip_without_a_message_says_so():
    assert summarize([{"SpecReports": [spec("pending", name="p")]}])["skipped_specs"][0]["reason"] == "pending by the suite"


def test_only_the_fixed_digest_pull_is_allowed_to_fail():
    assert classify("[k8s.io] Image Manager public image with digest should be pulled and removed", "") == UPSTREAM_ONLY
    assert classify("anything", f"pull x@sha256:{UPSTREAM_DIGEST}") == UPSTREAM_ONLY
    assert classify("public image with tag should be pulled", "failed to pull image") == ""


def test_a_spec_the_run_leaves_out_carries_the_reason_of_its_skip_entry():
    report = [{"SpecReports": [spec("skipped", name="should terminate with exitCode 137 and reason OOMKilled"),
                               spec("skipped", name="benchmark")]}]
    skipped = summarize(report, SKIPS["containerd"])["skipped_specs"]
    assert skipped[0]["reason"] == SKIPS["containerd"]["should terminate with exitCode 137 and reason OOMKilled"]
    assert skipped[1]["reason"] == "skipped by the suite"


def test_every_skip_names_the_upstream_practice_it_follows():
    for runtime, skips in SKIPS.items():
        assert runtime in RUNTIMES
        for pattern, reason in skips.items():
            assert pattern and "critest" in reason


def test_the_runtime_version_is_read_from_crictl_version():
    out = "Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  1.7.24~ds1\nRuntimeApiVersion:  v1\n"
    assert runtime_version(out) == "containerd 1.7.24~ds1"
    assert runtime_version("") == ""
