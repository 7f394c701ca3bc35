# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Render runtime_chain_info results: a table line per check, a JSON report, JUnit XML (pure)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

STATUS_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def check_line(check: dict) -> str:
    """One line of the per-host table: status, link, id, then for ``ok`` the observed value;
    for ``warn`` and ``fail`` the hint, then ``observed: ...; expected: ...`` (with the source)."""
    status = check.get("status")
    head = f"{STATUS_MARK.get(status, status)} {check.get('link', ''):8} {check.get('id', ''):34}"
    if status == "ok":
        return f"{head} {check.get('observed')}"
    sides = f"observed: {check.get('observed')}; expected: {check.get('expected')}; source: {check.get('source')}"
    return f"{head} {check['hint']} ({sides})" if check.get("hint") else f"{head} {sides}"


def runtime_state(c: dict) -> str:
    """The runtime's version and state for the header: ``2.3.7``, ``2.3.7 (active; its CRI does
    not answer)``, ``(not installed)``."""
    if c.get("runtime_installed") is False or (c.get("runtime_installed") is None and not c.get("runtime_version")):
        return "(not installed)"
    version = c.get("runtime_version") or "(version unknown)"
    if c.get("cri_answers") is False:
        return f"{version} ({c.get('runtime_active') or 'unknown'}; its CRI does not answer)"
    return version


def chain_table(result: dict) -> list[str]:
    """The per-host printout: the chain in brief, the counts, then one line per check."""
    c, s = result.get("chain") or {}, result.get("summary") or {}
    driver = c.get("cgroup_driver") or {}
    oci = c.get("oci_runtime") or {}
    lines = [
        f"runtime       {c.get('runtime_name') or c.get('runtime')} {runtime_state(c)} at {c.get('endpoint')}",
        f"CRI API       {c.get('cri_api_version') or '-'}   RuntimeReady {c.get('runtime_ready')}   NetworkReady {c.get('network_ready')}",
        f"cgroup driver {driver.get('value') or '-'} (from {driver.get('source') or '-'})",
        f"OCI runtime   {oci.get('name') or '-'} {oci.get('version') or ''} ({c.get('default_handler') or '-'} handler, {oci.get('path') or '-'})",
        f"kubelet       {c.get('kubelet_version') or '(absent)'}",
        f"checks        {s.get('ok', 0)} ok, {s.get('warn', 0)} warn, {s.get('fail', 0)} fail"
        + (f", {s['skip']} skip" if s.get("skip") else "")
        + (f" (ignored: {', '.join(s['ignored'])})" if s.get("ignored") else ""),
    ]
    return lines + [check_line(check) for check in result.get("checks", [])]


def host_results(hosts: list[str], results: dict) -> dict:
    """``{host: {chain, summary, checks}}``; a host without a result is marked unreachable."""
    out = {}
    for host in hosts:
        result = results.get(host) or {}
        if "checks" not in result:
            out[host] = {"unreachable": True, "summary": None, "checks": [], "chain": None, "msg": result.get("msg")}
        else:
            out[host] = {"unreachable": False, "summary": result["summary"], "checks": result["checks"], "chain": result.get("chain")}
    return out


def json_report(hosts: list[str], results: dict, generated: str) -> str:
    return json.dumps({"generated": generated, "hosts": host_results(hosts, results)}, indent=2, sort_keys=True, default=str) + "\n"


def junit_report(hosts: list[str], results: dict, generated: str) -> str:
    """JUnit XML: one testsuite per host, one testcase per check; ``fail`` checks are
    failures, ``warn`` checks pass with their hint in system-out, ``skip`` checks are skipped; an unreachable host is
    one errored testcase."""
    root = ET.Element("testsuites", name="runtime-chain", timestamp=generated)
    total = failures = errors = 0
    for host, data in host_results(hosts, results).items():
        suite = ET.SubElement(root, "testsuite", name=host, timestamp=generated)
        cases = data["checks"] or [{"id": "reachable", "link": "host", "status": "error"}]
        suite_failures = suite_errors = 0
        for check in cases:
            case = ET.SubElement(suite, "testcase", classname=f"{host}.{check['link']}", name=check["id"])
            detail = f"observed: {check.get('observed')}\nexpected: {check.get('expected')}\nsource: {check.get('source')}"
            if check["status"] == "fail":
                suite_failures += 1
                ET.SubElement(case, "failure", message=check.get("hint") or check["id"], type="fail").text = detail
            elif check["status"] == "error":
                suite_errors += 1
                ET.SubElement(case, "error", message=f"no result from {host}: {data.get('msg') or 'unreachable'}")
            elif check["status"] == "warn":
                ET.SubElement(case, "system-out").text = f"WARN: {check.get('hint')}\n{detail}"
            elif check["status"] == "skip":
                ET.SubElement(case, "skipped", message=str(check.get("observed")))
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(suite_failures))
        suite.set("errors", str(suite_errors))
        total += len(cases)
        failures += suite_failures
        errors += suite_errors
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
