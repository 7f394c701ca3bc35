"""critest results are counted and their failures told apart (registry pulls vs the rest)."""

from __future__ import annotations

from tools.critest.__main__ import classify, summarize


def spec(state, message="", name="runs a container"):
    return {"LeafNodeType": "It", "State": state, "RunTime": 2_000_000_000, "ContainerHierarchyTexts": ["[k8s.io] Container"],
            "LeafNodeText": name, "Failure": {"Message": message} if message else None}


def test_failures_from_image_pulls_are_counted_apart():
    report = [{"SpecReports": [
        spec("passed"), spec("skipped"), {"LeafNodeType": "BeforeSuite", "State": "passed"},
        spec("failed", 'rpc error: failed to pull image "busybox": dial tcp: lookup x: Temporary failure in name resolution'),
        spec("failed", "expected exit code 0, got 1", name="exec works"),
    ]}]
    summary = summarize(report)
    assert (summary["total"], summary["passed"], summary["skipped"], summary["failed"], summary["failed_registry"]) == (4, 1, 1, 2, 1)
    assert summary["failed_other"] == [{"spec": "[k8s.io] Container exec works", "message": "expected exit code 0, got 1"}]
    assert summary["durations"] == 8.0


def test_classify():
    assert classify("Failed to pull image x") == "registry"
    assert classify("timed out waiting for the condition") == "other"
