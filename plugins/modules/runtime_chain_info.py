#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubenode.runtime_chain contributors
# Apache License 2.0 (see LICENSE)
"""Ansible module runtime_chain_info: walk every link of a node's runtime chain and check it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: runtime_chain_info
short_description: Check every link of a node's container runtime chain against what the daemons report
description:
  - Reads the chain's effective state in one run and returns a list of checks, one per
    property of a link (kernel, runtime, cri, handler, oci, kubelet, endpoint, cni, registry,
    sandbox, version, and with I(kubeconfig) cluster), each with a stable C(id), C(status)
    (C(ok), C(warn), C(fail), or C(skip) for a check that could not run), the
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
  - Commands run one after the other through Ansible's command runner, each one once per run;
    C(duration_seconds) and, with I(include_facts), C(facts.commands) show where the time went.
  - Files are parsed with libraries (TOML with tomllib or tomli, YAML with PyYAML, JSON);
    a file that does not parse is a failed check that quotes the parser's error.
  - Works on a half-built chain (no runtime, no kubelet); absent links are reported as checks,
    never as a crash.
  - Read-only and check-mode safe; C(changed) is always false. Fails only when a C(fail) check
    is not in I(ignore) (like kubeadm's --ignore-preflight-errors) and I(fail_on_checks) is true.
version_added: 0.1.0
author: kubenode runtime_chain maintainers (!UNKNOWN)
options:
  runtime:
    description:
      - The node's high-level runtime. C(auto) takes the runtime whose endpoint (in
        I(endpoints)) kubelet's containerRuntimeEndpoint names, else the one of them that
        answers on its CRI socket, else I(expected.runtime), else the first of I(endpoints).
    type: str
    choices: [containerd, crio, auto]
    default: auto
  endpoints:
    description:
      - "CRI endpoint (C(unix:///path)) of each runtime the collection manages, as its role
        configures it, by runtime name: keys C(containerd) and/or C(crio). Role C(verify)
        passes C(unix://) + C(containerd_address) and C(crio_listen) (roles C(containerd), C(crio))."
      - Every endpoint here is also probed for a second runtime that still answers.
    type: dict
    required: true
  endpoint:
    description: CRI endpoint of the node's runtime. Default is I(endpoints)[I(runtime)].
    type: str
  other_endpoints:
    description:
      - Further CRI endpoints probed for a runtime that should not answer (for example
        cri-dockerd's socket). Role C(verify) passes C(verify_other_cri_endpoints).
    type: list
    elements: str
    default: []
  expected:
    description:
      - What the chain should be. Keys (all optional) C(cgroup_driver) (systemd|cgroupfs),
        C(sandbox_image) (pause image reference; unset, the runtime's is compared with the one
        kubeadm pins for the Kubernetes minor), C(kubernetes_version) (the target release,
        default kubelet's version), C(runtime) (the runtime the inventory asks for; with
        I(runtime=auto) the node's detected runtime is verified, and a difference is one failed
        C(runtime.inventory) check), C(oci_runtime) (the runtime handler pods
        without a RuntimeClass should run on, compared with the runtime's effective default
        handler), C(kubelet) (bool; true makes a missing kubelet a failure), C(cni_expected)
        (bool; true makes a missing CNI network a failure).
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
  runtime_binaries:
    description:
      - Executable of each runtime, by runtime name (keys C(containerd), C(crio)); containerd's
        C(ctr) is the one next to it. Default is the runtime's name on PATH (and /usr/local/bin,
        /usr/local/sbin, /usr/sbin). Role C(verify) passes C(containerd_bin_dir)/containerd and
        C(crio_bin_dir)/crio.
    type: dict
    default: {}
  containerd_config:
    description: containerd's configuration file (role C(containerd) variable C(containerd_config_path)).
    type: path
    required: true
  crictl_config:
    description: crictl's configuration file (role C(crictl) variable C(crictl_config_path)).
    type: path
    required: true
  crio_config:
    description:
      - The CRI-O drop-in the collection owns (role C(crio) variable C(crio_config_file)).
        CRI-O's files are read in its load order (C(--config), then every file of
        C(--config-dir) in lexical order, from its effective command line; the default
        C(--config-dir) is this file's directory), and a key this file sets that a later file
        overrides is a failed C(runtime.config_precedence) check naming the file that won.
      - Unset, the precedence check is skipped.
    type: path
  kubelet_configs:
    description:
      - KubeletConfiguration files to try, in order, when kubelet's effective command line
        (its unit's ExecStart with Environment= and EnvironmentFile= expanded) names no
        C(--config). Role C(verify) passes the kubelet role's C(kubelet_config_file) and
        C(kubelet_kubeadm_config_file).
    type: list
    elements: path
    default: []
  kubelet_instance_config:
    description:
      - kubeadm's node-local CRI socket record (C(instance-config.yaml)), whose
        containerRuntimeEndpoint wins over the KubeletConfiguration's when present (role
        C(kubelet) variable C(kubelet_kubeadm_instance_config_file)).
    type: path
  registries:
    description:
      - Registry mirrors the inventory asks for, by upstream registry (host[:port] as image
        references name it) -> the mirror URLs in the order they are tried. Role C(verify)
        passes C(kubenode_registries). For each registry, check C(registry.config.<registry>)
        compares the runtime's own registry configuration with them (containerd, the
        C(hosts.toml) under the C(config_path) its CRI reports; CRI-O, the C([[registry]])
        table of C(registries.conf) and its drop-ins that wins) and check
        C(registry.mirror.<registry>.<n>) sends C(GET /v2/) to each mirror the runtime uses, from
        the node, with the CA files, TLS setting and credentials the runtime uses (read from
        its files; never returned). C(fail) on a TLS error, an unreachable mirror, a 401 with
        credentials (refused login) or a basic-auth 401 without them.
      - When the runtime's sandbox image is not in its store and its registry is one of these,
        check C(sandbox.present) sends C(HEAD /v2/<repository>/manifests/<tag>) to each of the
        registry's mirrors the same way - C(ok) (pullable) when one has it, C(fail) naming the
        mirrors and each cause (HTTP 404 manifest unknown, TLS, unreachable) when none can
        serve it, since every pod sandbox would then fail to start.
    type: dict
    default: {}
  registry_hosts_dir:
    description: containerd's registry hosts directory, used when the runtime reports none (role C(containerd) variable C(containerd_registry_config_path)).
    type: path
  crio_registries_conf:
    description: The containers-registries.conf(5) file CRI-O reads; its C(.d) directory holds the drop-ins.
    type: path
    default: /etc/containers/registries.conf
  crio_certs_dir:
    description: The containers-certs.d(5) directory (C(<dir>/<mirror host:port>/*.crt) are a mirror's CA files; role C(crio) variable C(crio_certs_dir)).
    type: path
    default: /etc/containers/certs.d
  timeout:
    description: Timeout of each CRI call and registry probe, in seconds.
    type: int
    default: 10
  include_facts:
    description: Also return the raw facts the checks were computed from.
    type: bool
    default: false
  kubeconfig:
    description:
      - A kubeconfig on the node with which to read this node's Node object and the cluster's
        RuntimeClasses (C(GET) only), for the C(cluster) checks; kubelet's own on a kubeadm node
        (role C(kubelet) variable C(kubelet_kubeadm_kubeconfig), C(/etc/kubernetes/kubelet.conf);
        the node authorizer lets kubelet read both). The kubeconfig's CA and client certificate,
        key or token are used, never returned.
      - C(cluster.node_ready) (the Ready condition; other conditions that are True are named),
        C(cluster.node_runtime) (C(status.nodeInfo.containerRuntimeVersion) against the
        runtime's CRI Version RPC), C(cluster.cri_socket_record) (kubeadm's
        C(kubeadm.alpha.kubernetes.io/cri-socket) annotation, where present, against the
        endpoint that answers; kubeadm's node-local C(instance-config.yaml) is checked by
        C(endpoint.kubelet)), C(cluster.runtime_classes) (a handler other than the default with
        no RuntimeClass, or a RuntimeClass whose handler the runtime lacks, is a C(warn)).
      - A kubeconfig that is not a file, or an API server that cannot be reached or refuses,
        makes each of them C(skip) (naming why), not C(fail). Unset, they are not run.
    type: path
  node_name:
    description: The Node object's name. Default is the host name, lower-cased (kubeadm's default node name).
    type: str
requirements:
  - Python 3.9 or later on the node, with PyYAML (Debian/Ubuntu package python3-yaml) and,
    below Python 3.11, tomli (python3-tomli). Role C(verify) installs them.
  - python3-apt (apt_pkg) or dpkg, to order Debian package versions (backported CVE fixes).
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
"""

EXAMPLES = r"""
- name: Check the chain, failing on any fail check except the CNI one
  kubenode.runtime_chain.runtime_chain_info:
    runtime: containerd
    endpoints:
      containerd: unix:///run/containerd/containerd.sock
      crio: unix:///run/crio/crio.sock
    containerd_config: /etc/containerd/config.toml
    crictl_config: /etc/crictl.yaml
    kubelet_configs: [/etc/kubernetes/kubelet.yaml, /var/lib/kubelet/config.yaml]
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
  sample: {ok: 21, warn: 2, fail: 0, skip: 0, failed: [], ignored: []}
chain:
  description:
    - The chain in brief, from the same facts as the checks - runtime name and version (CRI
      Version, else the runtime's own C(--version)), whether it is installed and its unit's
      ActiveState, whether its CRI answers, CRI API version, RuntimeReady/NetworkReady (CRI Status), effective cgroup driver and its
      source, the default runtime handler and its OCI runtime (--version, package version),
      every registered handler, kubelet version.
  returned: always
  type: dict
  sample:
    runtime: containerd
    endpoint: unix:///run/containerd/containerd.sock
    runtime_name: containerd
    runtime_version: 1.7.24~ds1
    runtime_installed: true
    runtime_active: active
    cri_answers: true
    cri_api_version: v1
    runtime_ready: true
    network_ready: false
    cgroup_driver: {value: systemd, source: "CRI Status info: config.containerd.runtimes.runc.options.SystemdCgroup"}
    default_handler: runc
    handlers: [crun, runc]
    oci_runtime: {name: runc, version: 1.1.15+ds1, path: /usr/sbin/runc, package_version: 1.1.15+ds1-2+b4}
    kubelet_version: null
facts:
  description:
    - The raw facts (only with I(include_facts)), and under C(commands) each command the run
      ran (argv, rc, seconds).
  returned: when include_facts
  type: dict
"""

import socket
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import cluster, gather
from ansible_collections.kubenode.runtime_chain.plugins.module_utils.chain import (
    RUNTIME_NAMES, default_handler, detect_runtime, detected_runtime, run_checks, summarize)

ARGUMENT_SPEC = dict(
    runtime=dict(type="str", choices=["containerd", "crio", "auto"], default="auto"),
    endpoints=dict(type="dict", required=True),
    endpoint=dict(type="str"),
    other_endpoints=dict(type="list", elements="str", default=[]),
    expected=dict(type="dict", default={}),
    ignore=dict(type="list", elements="str", default=[]),
    fail_on_checks=dict(type="bool", default=True),
    crictl_path=dict(type="path"),
    runtime_binaries=dict(type="dict", default={}),
    containerd_config=dict(type="path", required=True),
    crictl_config=dict(type="path", required=True),
    crio_config=dict(type="path"),
    kubelet_configs=dict(type="list", elements="path", default=[]),
    kubelet_instance_config=dict(type="path"),
    registries=dict(type="dict", default={}),
    registry_hosts_dir=dict(type="path"),
    crio_registries_conf=dict(type="path", default="/etc/containers/registries.conf"),
    crio_certs_dir=dict(type="path", default="/etc/containers/certs.d"),
    timeout=dict(type="int", default=10),
    include_facts=dict(type="bool", default=False),
    kubeconfig=dict(type="path"),
    node_name=dict(type="str"),
)


def chain_summary(facts):
    """The chain in brief, as the running components report it."""
    cri = facts["cri"]
    rt = facts.get(facts["runtime"]) or {}
    version = cri.get("version") or {}
    default, _source = default_handler(facts["runtime"], facts)
    path = (facts["handlers"].get(default) or {}).get("path")
    oci = facts["oci"].get(path) or {}
    return {
        "runtime": facts["runtime"],
        "endpoint": facts["endpoint"],
        "runtime_name": version.get("runtime_name") or (RUNTIME_NAMES[facts["runtime"]] if rt.get("installed") else None),
        "runtime_version": version.get("runtime_version") or (rt.get("version") if rt.get("installed") else None),
        "runtime_installed": bool(rt.get("installed")),
        "runtime_active": (rt.get("service") or {}).get("active"),
        "cri_answers": not cri.get("error"),
        "cri_api_version": version.get("runtime_api_version"),
        "runtime_ready": cri.get("runtime_ready"),
        "network_ready": cri.get("network_ready"),
        "cgroup_driver": cri.get("cgroup_driver"),
        "default_handler": default,
        "handlers": sorted(facts["handlers"]),
        "oci_runtime": {"name": oci.get("name"), "version": oci.get("version"), "path": path,
                        "package_version": oci.get("package_version")},
        "kubelet_version": facts["kubelet"].get("version"),
    }


def main():
    started = time.monotonic()
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if gather.yaml is None:
        module.fail_json(msg=missing_required_lib("PyYAML (Debian/Ubuntu package python3-yaml)"))
    if gather.tomllib is None:
        module.fail_json(msg=missing_required_lib("tomli (Python < 3.11; Debian/Ubuntu package python3-tomli)"))
    p = module.params
    unknown = sorted(set(p["endpoints"]) - {"containerd", "crio"})
    if unknown or not p["endpoints"]:
        module.fail_json(msg=f"endpoints must map containerd and/or crio to their CRI endpoints; unknown keys: {unknown}")
    run = gather.Commands(lambda argv: module.run_command(argv, environ_update=gather.C_LOCALE, handle_exceptions=False))
    crictl = p["crictl_path"] or module.get_bin_path("crictl", opt_dirs=["/usr/local/bin"])
    wanted = p["expected"].get("runtime")
    how = "module parameter runtime"
    if p["runtime"] == "auto":
        kubelet = gather.kubelet_facts(run, p["kubelet_configs"], p["kubelet_instance_config"])
        sockets = gather.socket_facts(run, crictl, p["timeout"], list(p["endpoints"].values()))
        paths = gather.socket_identities([*p["endpoints"].values(), kubelet.get("endpoint")])
        found, how = detected_runtime(kubelet, sockets, p["endpoints"], paths)
        p["runtime"] = found or detect_runtime(kubelet, sockets, p["endpoints"], paths, wanted if wanted in p["endpoints"] else None)
        if not found:
            how = f"{how}: the inventory's" if wanted == p["runtime"] else f"{how}: the first of endpoints"
    if p["runtime"] not in p["endpoints"] and not p["endpoint"]:
        module.fail_json(msg=f"no endpoint for runtime {p['runtime']}: add it to endpoints or set endpoint")
    endpoint = p["endpoint"] or p["endpoints"][p["runtime"]]
    facts = gather.collect(run, runtime=p["runtime"], endpoint=endpoint, endpoints=p["endpoints"], crictl=crictl,
                           timeout=p["timeout"], containerd_config=p["containerd_config"], crictl_config=p["crictl_config"],
                           kubelet_configs=p["kubelet_configs"], kubelet_instance_config=p["kubelet_instance_config"],
                           other_endpoints=p["other_endpoints"], binaries=p["runtime_binaries"], crio_config=p["crio_config"])
    facts["runtime_source"] = how
    if p["registries"] and (facts.get(p["runtime"]) or {}).get("installed"):
        sandbox = facts.get("sandbox") or {}
        # An absent sandbox image is looked up on the mirrors: the first pod pulls it from there.
        facts["registries"] = gather.registry_facts(p["runtime"], p["registries"], facts, containerd_hosts_dir=p["registry_hosts_dir"],
                                                    crio_registries_conf=p["crio_registries_conf"],
                                                    crio_certs_dir=p["crio_certs_dir"], timeout=p["timeout"],
                                                    images=(sandbox["image"],) if sandbox.get("image") and not sandbox.get("present") else ())
    if p["kubeconfig"]:
        facts["cluster"] = cluster.cluster_facts(p["kubeconfig"], p["node_name"] or socket.gethostname().lower(), p["timeout"])
    checks = run_checks(facts, p["expected"], gather.debian_version_compare(run))
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
