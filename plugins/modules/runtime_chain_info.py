#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see galaxy.yml)
"""Ansible module runtime_chain_info: walk every link of a node's runtime chain and check it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: runtime_chain_info
short_description: Check every link of a node's container runtime chain against what the daemons report
description:
  - Reads the chain's effective state in one run and returns a list of checks, one per
    property of a link (kernel, runtime, cri, handler, oci, kubelet, endpoint, cni, sandbox,
    version), each with a stable C(id), C(status) (C(ok), C(warn) or C(fail)), the
    C(observed) and C(expected) values, the C(source) the value was read from, and a
    one-line C(hint).
  - Sources are the running daemons and binaries, not configuration files alone. The CRI
    C(Version), C(Status) (verbose), C(RuntimeConfig), C(ListContainers) and C(ListImages) RPCs
    (through crictl) of the runtime, and C(Version) of every well-known CRI socket; the
    runtime's effective configuration from the daemon (containerd's verbose C(Status) info;
    CRI-O's status API, C(GET /config) on its socket, what C(crio status config) prints);
    C(ctr plugins ls) (CRI plugin and snapshotter status); C(systemctl show) (unit states,
    kubelet's ExecStart); C(runc/crun --version) and the owning package's version (dpkg-query);
    C(kubelet --version), its KubeletConfiguration, kubeadm-flags.env and instance-config.yaml;
    /proc and /sys for the kernel.
  - When the CRI does not answer, the module asks the runtime's own commands instead, to say
    why - C(containerd --version), C(containerd config dump) (disabled_plugins, and the
    sandbox image where the CRI status lacks it), C(ctr plugins ls -d) (the load error),
    C(crio version).
  - Commands run as child processes, up to one per CPU at a time; C(duration_seconds) and,
    with I(include_facts), C(facts.commands) show where the time went.
  - Works on a half-built chain (no runtime, no kubelet); absent links are reported as checks,
    never as a crash.
  - Read-only and check-mode safe; C(changed) is always false. Fails only when a C(fail) check
    is not in I(ignore) (like kubeadm's --ignore-preflight-errors) and I(fail_on_checks) is true.
version_added: 0.1.0
author: kubenode.runtime_chain contributors
options:
  runtime:
    description:
      - The node's high-level runtime. C(auto) takes the runtime kubelet's
        containerRuntimeEndpoint names, else the one standard CRI socket that answers (and
        containerd when none does).
    type: str
    choices: [containerd, crio, auto]
    default: containerd
  endpoint:
    description: CRI endpoint of that runtime. Default is its standard socket.
    type: str
  expected:
    description:
      - What the chain should be. Keys (all optional) C(cgroup_driver) (systemd|cgroupfs),
        C(sandbox_image) (pause image reference), C(kubelet) (bool; true makes a missing kubelet
        a failure), C(cni_expected) (bool; true makes a missing CNI network a failure).
    type: dict
    default: {}
  ignore:
    description: Check ids whose C(fail) does not fail the task; C(all) ignores every one.
    type: list
    elements: str
    default: []
  fail_on_checks:
    description: Fail the task when a check that is not ignored fails. Set false to collect a report first.
    type: bool
    default: true
  crictl_path:
    description: crictl binary. Default is C(crictl) on PATH or in /usr/local/bin.
    type: path
  containerd_config:
    description: containerd's configuration file.
    type: path
    default: /etc/containerd/config.toml
  crictl_config:
    description: crictl's configuration file.
    type: path
    default: /etc/crictl.yaml
  kubelet_configs:
    description: KubeletConfiguration files to try when the kubelet unit names no --config.
    type: list
    elements: path
    default: [/var/lib/kubelet/config.yaml, /etc/kubernetes/kubelet.yaml, /etc/kubernetes/kubelet-config.yaml]
  cri_sockets:
    description:
      - CRI endpoints probed for a second runtime that still answers (besides I(endpoint)).
        Default is the standard containerd, CRI-O and cri-dockerd sockets.
    type: list
    elements: str
    default: [unix:///run/containerd/containerd.sock, unix:///run/crio/crio.sock, unix:///run/cri-dockerd.sock]
  timeout:
    description: Timeout of each CRI call, in seconds.
    type: int
    default: 10
  include_facts:
    description: Also return the raw facts the checks were computed from.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Check the chain, failing on any fail check except the CNI one
  kubenode.runtime_chain.runtime_chain_info:
    runtime: containerd
    expected:
      cgroup_driver: systemd
      sandbox_image: localhost/kubenode/pause:1.0
    ignore: [cni.network_ready]
"""

RETURN = r"""
duration_seconds:
  description:
    - Wall-clock time of this run on the host, in seconds, from the module's start to its
      result (every command and RPC it made, and the checks). Measured with Python's
      monotonic clock; Ansible's own connection and transfer time is not included.
  returned: always
  type: float
  sample: 1.42
checks:
  description: One record per check, in chain order.
  returned: always
  type: list
  elements: dict
  sample:
    - id: runtime.cgroup_driver
      link: runtime
      status: fail
      observed: cgroupfs
      expected: systemd
      source: "CRI Status info: config.containerd.runtimes.runc.options.SystemdCgroup"
      hint: "set SystemdCgroup = true in the runc handler's options (containerd) or cgroup_manager (CRI-O)"
summary:
  description: Counts per status, C(failed) (failing ids not ignored) and C(ignored).
  returned: always
  type: dict
  sample: {ok: 21, warn: 2, fail: 0, failed: [], ignored: []}
chain:
  description:
    - The chain in brief, as the components report it - runtime name and version (CRI Version),
      CRI API version, RuntimeReady/NetworkReady (CRI Status), effective cgroup driver and its
      source, the default runtime handler and its OCI runtime (--version, package version),
      kubelet version.
  returned: always
  type: dict
  sample:
    runtime: containerd
    endpoint: unix:///run/containerd/containerd.sock
    runtime_name: containerd
    runtime_version: 1.7.24~ds1
    cri_api_version: v1
    runtime_ready: true
    network_ready: false
    cgroup_driver: {value: systemd, source: "CRI Status info: config.containerd.runtimes.runc.options.SystemdCgroup"}
    default_handler: runc
    oci_runtime: {name: runc, version: 1.1.15+ds1, path: /usr/sbin/runc, package_version: 1.1.15+ds1-2+b4}
    kubelet_version: null
facts:
  description:
    - The raw facts (only with I(include_facts)), and under C(commands) each command the run
      started (argv, rc, seconds, C(started_ahead); commands run side by side as processes).
  returned: when include_facts
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubenode.runtime_chain.plugins.module_utils.chain import CRI_SOCKETS, detect_runtime, run_checks, summarize
from ansible_collections.kubenode.runtime_chain.plugins.module_utils.gather import Runner, collect, kubelet_facts, prefetch, socket_facts

ARGUMENT_SPEC = dict(
    runtime=dict(type="str", choices=["containerd", "crio", "auto"], default="containerd"),
    endpoint=dict(type="str"),
    expected=dict(type="dict", default={}),
    ignore=dict(type="list", elements="str", default=[]),
    fail_on_checks=dict(type="bool", default=True),
    crictl_path=dict(type="path"),
    containerd_config=dict(type="path", default="/etc/containerd/config.toml"),
    crictl_config=dict(type="path", default="/etc/crictl.yaml"),
    kubelet_configs=dict(type="list", elements="path",
                         default=["/var/lib/kubelet/config.yaml", "/etc/kubernetes/kubelet.yaml", "/etc/kubernetes/kubelet-config.yaml"]),
    cri_sockets=dict(type="list", elements="str", default=list(CRI_SOCKETS.values())),
    timeout=dict(type="int", default=10),
    include_facts=dict(type="bool", default=False),
)


def chain_summary(facts):
    """The chain in brief, as the running components report it."""
    cri = facts["cri"]
    version = cri.get("version") or {}
    config = (cri.get("info") or {}).get("config") or {}
    default = (config.get("containerd") or {}).get("defaultRuntimeName") or next(iter(facts["handlers"]), None)
    path = (facts["handlers"].get(default) or {}).get("path")
    oci = facts["oci"].get(path) or {}
    return {
        "runtime": facts["runtime"],
        "endpoint": facts["endpoint"],
        "runtime_name": version.get("runtime_name"),
        "runtime_version": version.get("runtime_version"),
        "cri_api_version": version.get("runtime_api_version"),
        "runtime_ready": cri.get("runtime_ready"),
        "network_ready": cri.get("network_ready"),
        "cgroup_driver": cri.get("cgroup_driver"),
        "default_handler": default,
        "oci_runtime": {"name": oci.get("name"), "version": oci.get("version"), "path": path,
                        "package_version": oci.get("package_version")},
        "kubelet_version": facts["kubelet"].get("version"),
    }


def main():
    started = time.monotonic()
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    run = Runner(timeout=p["timeout"] + 30)
    crictl = p["crictl_path"] or module.get_bin_path("crictl", opt_dirs=["/usr/local/bin"])
    common = dict(crictl=crictl, timeout=p["timeout"], containerd_config=p["containerd_config"])
    try:
        if p["runtime"] == "auto":
            # Start what any candidate runtime will be asked; detection and checks share the answers.
            candidates = ["containerd", "crio"]
            prefetch(run, runtimes=candidates, endpoints=[p["endpoint"] or CRI_SOCKETS[c] for c in candidates],
                     sockets=list(CRI_SOCKETS.values()) + p["cri_sockets"], **common)
            kubelet = kubelet_facts(run, p["kubelet_configs"])
            sockets = socket_facts(run, crictl, p["timeout"], CRI_SOCKETS["containerd"], list(CRI_SOCKETS.values()))
            p["runtime"] = detect_runtime(kubelet, sockets)
        endpoint = p["endpoint"] or CRI_SOCKETS[p["runtime"]]
        facts = collect(run, runtime=p["runtime"], endpoint=endpoint, crictl_config=p["crictl_config"],
                        kubelet_configs=p["kubelet_configs"], sockets=p["cri_sockets"], **common)
    finally:
        run.close()
    checks = run_checks(facts, p["expected"])
    summary = summarize(checks, p["ignore"])
    result = dict(changed=False, checks=checks, summary=summary, chain=chain_summary(facts),
                  duration_seconds=round(time.monotonic() - started, 3))
    if p["include_facts"]:
        result["facts"] = {**facts, "commands": run.log}
    if summary["failed"] and p["fail_on_checks"]:
        failing = [f"{c['id']}: {c['hint'] or c['observed']}" for c in checks if c["id"] in summary["failed"]]
        module.fail_json(msg="runtime chain checks failed: " + "; ".join(failing), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
