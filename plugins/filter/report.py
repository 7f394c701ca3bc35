# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Jinja filters that render runtime_chain_info results (module_utils/report.py)."""

from __future__ import annotations

from ansible_collections.kubenode.runtime_chain.plugins.module_utils import report


def _results(hostvars, hosts, var):
    return {h: dict(hostvars[h]).get(var) for h in hosts}


def chain_json_report(hosts, hostvars, var, generated):
    """JSON report of ``var`` (a registered runtime_chain_info result) for ``hosts``."""
    return report.json_report(list(hosts), _results(hostvars, hosts, var), generated)


def chain_junit_report(hosts, hostvars, var, generated):
    """JUnit XML of ``var`` (a registered runtime_chain_info result) for ``hosts``."""
    return report.junit_report(list(hosts), _results(hostvars, hosts, var), generated)


class FilterModule:
    """check_line, chain_table, chain_json_report, chain_junit_report."""

    def filters(self):
        return {
            "check_line": report.check_line,
            "chain_table": report.chain_table,
            "chain_json_report": chain_json_report,
            "chain_junit_report": chain_junit_report,
        }
