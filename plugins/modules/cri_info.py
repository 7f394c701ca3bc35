#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Ansible module cri_info: what a CRI runtime reports about itself, over its socket."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cri_info
short_description: Ask a CRI runtime (containerd, CRI-O) what it runs, over its socket
description:
  - Calls the CRI C(Version), C(Status) (verbose) and C(RuntimeConfig) RPCs of the runtime
    listening on I(endpoint), through C(crictl), and returns what the runtime itself reports.
  - Read-only; never changes the host, so it is safe in check mode and always returns
    C(changed=false).
  - Fails with a message naming the endpoint and the likely cause when crictl is missing,
    the socket is absent or stale, access is denied, or the process on the socket does not
    serve the CRI v1 RuntimeService (for containerd, a disabled or failed CRI plugin).
version_added: 0.1.0
author: kubenode runtime_chain maintainers (!UNKNOWN)
options:
  endpoint:
    description:
      - CRI endpoint, C(unix:///path/to.sock). A bare absolute path is accepted (and
        reported as deprecated in C(warnings)).
    type: str
    required: true
  crictl_path:
    description:
      - Path of the crictl binary. Default is C(crictl) on C(PATH) plus C(/usr/local/bin).
    type: path
  timeout:
    description: Timeout of each CRI call, in seconds.
    type: int
    default: 10
  include_info:
    description:
      - Also return the runtime-specific C(info) map of the verbose Status (for containerd
        the whole CRI plugin config, several KiB).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the runtime to answer with C(RuntimeReady) (asked about once a
        second; 0 asks once). The wait stops early on a diagnosis that waiting cannot fix
        (a process on the socket that serves no CRI, permission denied, not a socket).
      - Roles use this after a restart - a restart is complete only when the runtime answers.
    type: int
    default: 0
  journal_units:
    description:
      - systemd units whose last journal lines (C(journalctl -u <unit> -n 40)) are returned
        in C(journal) and quoted in the failure message when the runtime does not answer ready,
        so a failed restart shows why (a config that does not parse, a missing binary).
    type: list
    elements: str
    default: []
requirements:
  - Python 3.9 or later on the node.
  - crictl 1.28 or later on the node.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Read-only; the module runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The C(crictl) role installs crictl.
  - containerd 1.x does not implement C(RuntimeConfig); the cgroup driver then comes from
    the runtime's verbose Status info (the default handler's C(SystemdCgroup) option).
"""

EXAMPLES = r"""
- name: Ask containerd what it runs
  kubenode.runtime_chain.cri_info:
    endpoint: unix:///run/containerd/containerd.sock
  register: cri

- name: Require a ready runtime on the systemd cgroup driver
  ansible.builtin.assert:
    that:
      - cri.runtime_ready
      - cri.cgroup_driver.value == 'systemd'
"""

RETURN = r"""
endpoint:
  description: The endpoint queried, normalised to C(unix://...).
  returned: always
  type: str
  sample: unix:///run/containerd/containerd.sock
version:
  description: Reply of the C(Version) RPC.
  returned: success
  type: dict
  sample: {version: 0.1.0, runtime_name: containerd, runtime_version: 1.7.24~ds1, runtime_api_version: v1}
runtime_ready:
  description: Status of the C(RuntimeReady) condition (C(Status) RPC).
  returned: success
  type: bool
network_ready:
  description: Status of the C(NetworkReady) condition; false until a CNI config is present.
  returned: success
  type: bool
conditions:
  description: All runtime conditions with C(type), C(status), C(reason), C(message).
  returned: success
  type: list
  elements: dict
  sample: [{type: NetworkReady, status: false, reason: NetworkPluginNotReady, message: "Network plugin returns error: cni plugin not initialized"}]
runtime_handlers:
  description:
    - Runtime handlers reported in C(Status) (CRI >= 1.30 runtimes), each C({name, features});
      the default handler may appear with an empty name. C(null) when not reported.
  returned: success
  type: list
  elements: dict
features:
  description: Runtime features from C(Status) (CRI >= 1.31), or C(null).
  returned: success
  type: dict
runtime_config:
  description:
    - The C(RuntimeConfig) RPC. C(implemented=false) when the runtime answers Unimplemented
      (containerd 1.x); C(cgroup_driver) is C(systemd) or C(cgroupfs) when implemented.
  returned: success
  type: dict
  sample: {implemented: false, cgroup_driver: null, error: null}
cgroup_driver:
  description:
    - The cgroup driver the running runtime uses, with the source it was read from
      (C(RuntimeConfig RPC), or the verbose Status info when RuntimeConfig is unimplemented).
  returned: success
  type: dict
  sample: {value: systemd, source: "CRI Status info: config.containerd.runtimes.runc.options.SystemdCgroup"}
info:
  description: The runtime-specific verbose Status info (only with I(include_info=true)).
  returned: when include_info
  type: dict
journal:
  description: Last journal lines of each of I(journal_units) (unit -> lines), when the runtime did not answer ready.
  returned: failure, with journal_units
  type: dict
  sample: {containerd: ["... failed to load TOML: /etc/containerd/config.toml: (2, 9): unexpected EOF"]}
waited_seconds:
  description: Seconds spent waiting for RuntimeReady (with I(wait_timeout)).
  returned: always
  type: float
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubenode.runtime_chain.plugins.module_utils.cri import (
    ERROR_HINTS,
    CriError,
    normalize_endpoint,
    query,
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
# Diagnoses that waiting cannot fix: stop at once.
FINAL_KINDS = ("bad_endpoint", "no_crictl", "no_cri_service", "permission", "not_socket", "unknown")

ARGUMENT_SPEC = dict(
    endpoint=dict(type="str", required=True),
    crictl_path=dict(type="path"),
    timeout=dict(type="int", default=10),
    include_info=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=0),
    journal_units=dict(type="list", elements="str", default=[]),
)


def cri_result(module):
    """Return the module result for module.params; raise CriError with a diagnosis."""
    p = module.params
    try:
        url, _socket_path = normalize_endpoint(p["endpoint"])
    except ValueError as exc:
        raise CriError("bad_endpoint", str(exc)) from None
    if not p["endpoint"].strip().startswith("unix://"):
        module.warn(f"CRI endpoint {p['endpoint']!r} has no unix:// scheme (deprecated); use {url}")
    crictl = p["crictl_path"] or module.get_bin_path("crictl", opt_dirs=["/usr/local/bin"])
    if not crictl or not os.access(crictl, os.X_OK):
        raise CriError("no_crictl", f"crictl not found (needed to query {url})")
    result = query(lambda argv: module.run_command(argv, environ_update=C_LOCALE), crictl, url, p["timeout"])
    info = result.pop("info")
    if p["include_info"]:
        result["info"] = info
    return dict(endpoint=url, **result)


def journal(module, units):
    """The last journal lines of each unit (what a failed restart logged)."""
    out = {}
    for unit in units:
        rc, stdout, stderr = module.run_command(["journalctl", "--unit", unit, "--lines", "40", "--no-pager", "--output", "cat"],
                                                environ_update=C_LOCALE)
        out[unit] = (stdout if rc == 0 else stderr).splitlines()
    return out


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    started = time.monotonic()
    while True:
        try:
            result = cri_result(module)
            # Without a wait, a runtime that answers is a result (runtime_ready says the rest).
            error = None if result["runtime_ready"] or not p["wait_timeout"] else "the runtime answers but RuntimeReady is false: " + "; ".join(
                f"{c['type']}={c['status']} {c['reason']} {c['message']}".strip() for c in result["conditions"])
        except CriError as exc:
            result, error = {"kind": exc.kind}, f"{ERROR_HINTS[exc.kind]} ({exc.detail})"
        waited = round(time.monotonic() - started, 1)
        if error is None or result.get("kind") in FINAL_KINDS or waited >= p["wait_timeout"]:
            break
        time.sleep(1)
    if error is None:
        module.exit_json(changed=False, waited_seconds=waited, **result)
    logs = journal(module, p["journal_units"])
    tail = "".join(f" Last journal lines of {unit}: " + " | ".join(lines[-12:]) + "." for unit, lines in logs.items() if lines)
    waited_text = f" after waiting {waited:g} s" if p["wait_timeout"] else ""
    module.fail_json(msg=f"CRI endpoint {p['endpoint']}: {error}{waited_text}.{tail}", endpoint=p["endpoint"],
                     waited_seconds=waited, journal=logs, **result)


if __name__ == "__main__":
    main()
