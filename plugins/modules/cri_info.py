#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see galaxy.yml)
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
author: kubenode.runtime_chain contributors
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
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs crictl >= 1.28 on the host (the C(crictl) role installs it).
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
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubenode.runtime_chain.plugins.module_utils.cri import (
    ERROR_HINTS,
    CriError,
    normalize_endpoint,
    query,
)

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}

ARGUMENT_SPEC = dict(
    endpoint=dict(type="str", required=True),
    crictl_path=dict(type="path"),
    timeout=dict(type="int", default=10),
    include_info=dict(type="bool", default=False),
)


def cri_result(module):
    """Return the module result for module.params; raise CriError with a diagnosis."""
    p = module.params
    try:
        url, _ = normalize_endpoint(p["endpoint"])
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


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        module.exit_json(changed=False, **cri_result(module))
    except CriError as exc:
        endpoint = module.params["endpoint"]
        module.fail_json(msg=f"CRI endpoint {endpoint}: {ERROR_HINTS[exc.kind]} ({exc.detail})", endpoint=endpoint, kind=exc.kind)


if __name__ == "__main__":
    main()
