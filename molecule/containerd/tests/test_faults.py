"""Break links of the provisioned chain the way the field breaks them; the verifier names each
one, against the running daemons, and all is ok again once restored.

Runs in the `containerd` scenario, before the shared chain tests (Molecule sorts the test paths),
which then prove the restored chain whole. The faults that only need a containerd process
(config schema, CRI plugin disabled or failed to load, a handler without its binary, ...) are
tested on real containerd 1.x and 2.x daemons in tests/integration (the fast tier); here are
the ones that need a node: kernel state, swap, a second runtime on another socket, crictl's
config, and a config restored by hand under the running containerd.
"""

from __future__ import annotations

import json

from chaintest import chain_info, run_verify_playbook

# The same container runtime started again on CRI-O's socket: a second runtime that answers.
SECOND_RUNTIME = (
    "mkdir -p {sock_dir} /var/lib/stray && "
    "printf 'version = 3\\nroot = \"/var/lib/stray\"\\nstate = \"/run/stray\"\\n[grpc]\\n  address = \"{sock}\"\\n' > /run/stray.toml && "
    "systemd-run --unit stray-runtime {bin}/containerd --config /run/stray.toml && "
    "until [ -S {sock} ]; do sleep 0.5; done; sleep 2"
)
BROKEN = {  # check id -> (break, restore)
    "kernel.ip_forward": ("sysctl -qw net.ipv4.ip_forward=0", "sysctl -qw net.ipv4.ip_forward=1"),  # C20
    "kernel.swap": ("fallocate -l 32M /swap2 && chmod 600 /swap2 && mkswap -q /swap2 && swapon /swap2", "swapoff /swap2 && rm /swap2"),
    "endpoint.crictl": ("cp {crictl} /root/crictl.good && sed -i 's#{endpoint}#unix:///var/run/dockershim.sock#' {crictl}",  # C10
                        "cp /root/crictl.good {crictl}"),
    "endpoint.single_runtime": (SECOND_RUNTIME, "systemctl stop stray-runtime && rm -rf {sock_dir} /run/stray* /var/lib/stray"),  # C24
}


def _format(cmd: str, expected: dict) -> str:
    sock = expected["endpoints"]["crio"][len("unix://"):]
    return cmd.format(crictl=expected["crictl_config"], endpoint=expected["endpoint"], sock=sock, sock_dir=sock.rsplit("/", 1)[0],
                      bin=expected["containerd_bin_dir"])


def test_links_broken_the_field_way_are_named_by_verify_yml(host, expected, tmp_path):
    for breaker, _ in BROKEN.values():
        host.run_expect([0], _format(breaker, expected))
    try:
        rc, output, report, _ = run_verify_playbook(tmp_path / "broken")
        assert rc != 0, f"verify.yml passed with broken links:\n{output[-3000:]}"
        (result,) = report["hosts"].values()
        checks = {c["id"]: c for c in result["checks"]}
        # The stale crictl.yaml names dockershim for images too: endpoint.crictl_image fails with it.
        failing = [*BROKEN, "endpoint.crictl_image"]
        for check_id in failing:
            assert checks[check_id]["status"] == "fail", checks[check_id]
            assert check_id in result["summary"]["failed"]
            assert f"[{check_id}]" in output  # the failure message names it, with its hint
        # Accepted failures (like kubeadm's --ignore-preflight-errors) do not fail the host.
        rc, output, report, _ = run_verify_playbook(tmp_path / "ignored", "-e", json.dumps({"verify_ignore": failing}))
        assert rc == 0, output[-3000:]
        (result,) = report["hosts"].values()
        assert sorted(result["summary"]["ignored"]) == sorted(failing)
    finally:
        for _, restore in BROKEN.values():
            host.run(_format(restore, expected))
    result = chain_info(host, expected)
    assert result["summary"]["fail"] == 0, [c for c in result["checks"] if c["status"] == "fail"]


def test_a_default_config_restored_by_hand_is_caught_on_the_running_daemon(host, expected):  # C02
    """`containerd config default > config.toml` (what install guides say) and a restart: the file
    parses and containerd runs, but on the cgroupfs driver while kubelet asks for systemd."""
    config, ctd = expected["containerd_config"], expected["containerd_bin_dir"]
    address = expected["endpoints"]["containerd"][len("unix://"):]
    restart = (f"systemctl restart containerd && until crictl --runtime-endpoint unix://{address} info >/dev/null 2>&1; "
               "do sleep 0.5; done")
    host.run_expect([0], f"cp {config} /root/config.good && {ctd}/containerd config default > {config} && {restart}")
    try:
        checks = {c["id"]: c for c in chain_info(host, expected)["checks"]}
        assert checks["runtime.cgroup_driver"]["status"] == "fail", checks["runtime.cgroup_driver"]
        assert checks["runtime.cgroup_driver"]["observed"] == "cgroupfs"
        assert checks["runtime.cgroup_driver"]["source"] == "RuntimeConfig RPC"  # what the daemon runs, not the file
    finally:
        host.run_expect([0], f"cp /root/config.good {config} && {restart}")
    result = chain_info(host, expected)
    assert result["summary"]["fail"] == 0, [c for c in result["checks"] if c["status"] == "fail"]


def test_a_config_that_does_not_parse_is_quoted_from_the_daemon(host, expected):  # issue 11 report items
    """A config.toml edited by hand that containerd cannot parse: containerd stops, and the
    verifier quotes containerd's own parse error (its journal line), with the header still
    describing the installed containerd."""
    config, ctd = expected["containerd_config"], expected["containerd_bin_dir"]
    address = expected["endpoints"]["containerd"][len("unix://"):]
    host.run_expect([0], f"cp {config} /root/config.good && printf '[plugins\\n  broken = \\n' >> {config}")
    host.run("systemctl restart containerd")
    try:
        result = chain_info(host, expected)
        checks = {c["id"]: c for c in result["checks"]}
        service = checks["runtime.service"]
        assert service["status"] == "fail", service
        assert "its journal says: " in service["hint"] and "toml" in service["hint"].lower(), service
        assert result["chain"]["runtime_installed"] is True and result["chain"]["runtime_version"], result["chain"]
        assert result["chain"]["cri_answers"] is False
    finally:
        host.run_expect([0], f"cp /root/config.good {config} && systemctl reset-failed containerd; systemctl restart containerd && "
                             f"until crictl --runtime-endpoint unix://{address} info >/dev/null 2>&1; do sleep 0.5; done")
    result = chain_info(host, expected)
    assert result["summary"]["fail"] == 0, [c for c in result["checks"] if c["status"] == "fail"]
