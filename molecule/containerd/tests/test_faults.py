"""Break one link of a provisioned chain at a time; verify.yml names it, and all is ok once restored.

Runs in the `containerd` scenario, before the shared chain tests (see its molecule.yml)."""

from __future__ import annotations

import pytest
from chaintest import PROJECT, run_verify_playbook

CONFIG = "/etc/containerd/config.toml"
# Debian's shipped config.toml (a "stock config restored" by a package reinstall or by hand).
DEBIAN_STOCK = (PROJECT / "tests" / "unit" / "fixtures" / "containerd_config_debian_stock.toml").read_text()
RESTART = "systemctl restart containerd && until crictl info >/dev/null 2>&1; do sleep 0.5; done"
SECOND_RUNTIME = (
    "mkdir -p /run/crio /var/lib/stray && "
    "printf 'version = 2\\nroot = \"/var/lib/stray\"\\nstate = \"/run/stray\"\\n[grpc]\\n  address = \"/run/crio/crio.sock\"\\n' "
    "> /run/stray.toml && systemd-run --unit stray-runtime containerd --config /run/stray.toml && "
    "until [ -S /run/crio/crio.sock ]; do sleep 0.5; done; sleep 2"
)

FAULTS = [
    # id, how the field breaks it, how it is restored, the check that must fail
    ("stock-config", f"cp {CONFIG} /root/config.good && printf '%s' '{DEBIAN_STOCK}' > {CONFIG} && {RESTART}",
     f"cp /root/config.good {CONFIG} && {RESTART}", "runtime.cgroup_driver"),  # C02
    ("no-version-header", f"cp {CONFIG} /root/config.good && sed -i '/^version = 2$/d' {CONFIG} && {RESTART}",
     f"cp /root/config.good {CONFIG} && {RESTART}", "runtime.config_schema"),  # C03
    ("cri-disabled", f"cp {CONFIG} /root/config.good && sed -i 's/^version = 2$/version = 2\\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]/' "
     f"{CONFIG} && systemctl restart containerd && sleep 3", f"cp /root/config.good {CONFIG} && {RESTART}", "runtime.cri_plugin"),  # C06
    ("crictl-dockershim", "cp /etc/crictl.yaml /root/crictl.good && sed -i 's#unix:///run/containerd/containerd.sock#unix:///var/run/dockershim.sock#' "
     "/etc/crictl.yaml", "cp /root/crictl.good /etc/crictl.yaml", "endpoint.crictl"),  # C10
    ("ip-forward-off", "sysctl -qw net.ipv4.ip_forward=0", "sysctl -qw net.ipv4.ip_forward=1", "kernel.ip_forward"),  # C20
    ("swap-on", "fallocate -l 32M /swap2 && chmod 600 /swap2 && mkswap -q /swap2 && swapon /swap2",
     "swapoff /swap2 && rm /swap2", "kernel.swap"),
    ("second-runtime", SECOND_RUNTIME, "systemctl stop stray-runtime && rm -rf /run/crio /run/stray* /var/lib/stray",
     "endpoint.single_runtime"),  # C24
]


@pytest.mark.parametrize(("break_cmd", "restore_cmd", "check_id"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_a_broken_link_is_reported_then_restored(host, tmp_path, break_cmd, restore_cmd, check_id):
    host.run_expect([0], break_cmd)
    try:
        rc, output, report, _ = run_verify_playbook(tmp_path / "broken")
        assert rc != 0, f"verify.yml passed with {check_id} broken:\n{output[-2000:]}"
        assert report, f"verify.yml wrote no report:\n{output[-2000:]}"
        (result,) = report["hosts"].values()
        checks = {c["id"]: c for c in result["checks"]}
        assert checks[check_id]["status"] == "fail", checks.get(check_id)
        assert check_id in result["summary"]["failed"]
        assert f"[{check_id}]" in output  # the failure message names it, with its hint
    finally:
        host.run_expect([0], restore_cmd)
    # Restored: the module itself (the same checks verify.yml runs, without its reports).
    result = host.ansible("kubenode.runtime_chain.runtime_chain_info", "runtime=containerd fail_on_checks=false",
                          become=True, check=False)
    assert result["summary"]["fail"] == 0, [c for c in result["checks"] if c["status"] == "fail"]


def test_an_ignored_failure_does_not_fail_the_host(host, tmp_path):
    host.run_expect([0], "sysctl -qw net.ipv4.ip_forward=0")
    try:
        rc, output, report, _ = run_verify_playbook(tmp_path, "-e", '{"verify_ignore": ["kernel.ip_forward"]}')
    finally:
        host.run_expect([0], "sysctl -qw net.ipv4.ip_forward=1")
    assert rc == 0, output[-2000:]
    (result,) = report["hosts"].values()
    assert result["summary"]["ignored"] == ["kernel.ip_forward"]
