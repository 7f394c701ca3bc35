"""The bench's pure parts: strategy environments, floor.sh's inputs and checksum parsing,
the medians and ratios, and the results page."""

from __future__ import annotations

import subprocess

import pytest

from tools.bench import __main__ as bench

MANIFEST = {
    "containerd": {"path": "github/containerd/containerd/releases/download/v2.3.7/containerd-2.3.7-linux-amd64.tar.gz",
                   "checksum_path": "github/containerd/containerd/releases/download/v2.3.7/containerd-2.3.7-linux-amd64.tar.gz.sha256sum",
                   "version": "2.3.7"},
    "runc": {"path": "github/opencontainers/runc/releases/download/v1.4.4/runc.amd64",
             "checksum_path": "github/opencontainers/runc/releases/download/v1.4.4/runc.sha256sum", "version": "1.4.4"},
    "crictl": {"path": "c.tar.gz", "checksum_path": "c.tar.gz.sha256", "version": "1.36.0"},
    "kubelet": {"path": "dl.k8s.io/release/v1.36.5/bin/linux/amd64/kubelet",
                "checksum_path": "dl.k8s.io/release/v1.36.5/bin/linux/amd64/kubelet.sha256", "version": "1.36.5"},
    "pause-image": {"path": "images/pause.tar", "checksum_path": "images/pause.tar.sha256"},
    "test-image": {"path": "images/test.tar", "checksum_path": "images/test.tar.sha256"},
}


def test_linear_drops_any_strategy_the_caller_selected():
    env = bench.ansible_env("linear", {"PATH": "/bin", "ANSIBLE_STRATEGY": "mitogen_linear", "ANSIBLE_STRATEGY_PLUGINS": "/x"})
    assert "ANSIBLE_STRATEGY" not in env and "ANSIBLE_STRATEGY_PLUGINS" not in env
    assert env["PATH"].endswith(":/bin") and env["ANSIBLE_CONFIG"].endswith("ansible.cfg")


def test_mitogen_selects_the_test_beds_strategy_plugin():
    env = bench.ansible_env("mitogen", {"ANSIBLE_STRATEGY": "free"})
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert env["ANSIBLE_STRATEGY_PLUGINS"].endswith("tools/testbed/strategy_plugins")
    assert (bench.STRATEGY_PLUGINS / "mitogen_linear.py").is_file()


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="free"):
        bench.ansible_env("free", {})


def test_play_recap_is_read_for_the_host():
    out = "PLAY RECAP ****\nnode                       : ok=78   changed=0    unreachable=0    failed=0\nother : ok=1\n"
    assert bench.play_recap(out) == "ok=78 changed=0 unreachable=0 failed=0"
    assert bench.play_recap("no recap") == "?"


def test_floor_env_names_each_file_and_its_checksum_file_and_no_pin():
    env = bench.floor_env(MANIFEST, "QUJD", "http://10.0.2.100:8080")
    assert env["MIRROR"] == "http://10.0.2.100:8080" and env["FILES"] == "QUJD"
    assert env["RUNC_PATH"].endswith("/runc.amd64") and env["RUNC_CHECKSUM_PATH"].endswith("/runc.sha256sum")
    assert env["KUBELET_CHECKSUM_PATH"].endswith("kubelet.sha256")
    assert {k.split("_")[0] for k in env if k.endswith("_PATH")} == {"CONTAINERD", "RUNC", "CRICTL", "KUBELET"}
    assert not [k for k in env if k.endswith("_SHA256")]
    # The values go on an ssh command line as KEY=VALUE words.
    assert not [v for v in env.values() if set(v) & set(" '\"$`\\")]


def test_floor_env_says_which_manifest_entry_is_missing():
    artifacts = {k: v for k, v in MANIFEST.items() if k != "runc"}
    with pytest.raises(RuntimeError, match="runc"):
        bench.floor_env(artifacts, "", "http://m")
    artifacts = dict(MANIFEST, kubelet={"path": "k"})
    with pytest.raises(RuntimeError, match="checksum_path.*kubelet"):
        bench.floor_env(artifacts, "", "http://m")


def test_floor_files_cover_what_the_floor_script_reads():
    script = bench.FLOOR_SCRIPT.read_text()
    assert "/etc/sysctl.d/99-kubenode.conf" in bench.FLOOR_FILES and "/etc/sysctl.d/99-kubenode.conf" in script
    assert "/usr/local/lib/systemd/system/containerd.service" in bench.FLOOR_FILES
    assert "/etc/kubernetes/kubelet.yaml" in bench.FLOOR_FILES
    assert bench.missing_files("\n".join(bench.FLOOR_FILES[1:]) + "\n") == [bench.FLOOR_FILES[0]]
    assert bench.missing_files(" ".join(bench.FLOOR_FILES)) == []


@pytest.mark.parametrize(("content", "name", "expected"), [
    ("a" * 64 + "\n", "kubelet", "a" * 64),                                                # dl.k8s.io: a bare hash
    ("b" * 64 + "  containerd-2.3.7-linux-amd64.tar.gz\n", "containerd-2.3.7-linux-amd64.tar.gz", "b" * 64),
    ("c" * 64 + "  runc.arm64\n" + "d" * 64 + " *runc.amd64\n", "runc.amd64", "d" * 64),  # runc: several, binary mode
    ("e" * 64 + "  other.tar.gz\n", "crictl.tar.gz", ""),                                   # names another file
])
def test_floor_reads_each_upstream_checksum_format(tmp_path, content, name, expected):
    checksum_file = tmp_path / "checksum"
    checksum_file.write_text(content)
    out = subprocess.run(["bash", "-c", 'source "$0"; checksum_of "$1" "$2"', str(bench.FLOOR_SCRIPT), str(checksum_file), name],
                         env={"FLOOR_FUNCTIONS_ONLY": "1", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_floor_script_parses():
    subprocess.run(["bash", "-n", str(bench.FLOOR_SCRIPT)], check=True)


def round_figures(linear, mitogen, floor, **extra):
    return {"accelerator": "tcg", "converge_seconds_linear": linear, "rerun_seconds_linear": linear / 4,
            "converge_seconds_mitogen": mitogen, "rerun_seconds_mitogen": mitogen / 8, "floor_seconds": floor,
            "rerun_recap_linear": "ok=1 changed=0", **extra}


def test_summary_takes_medians_and_computes_ratios_from_them():
    samples = [round_figures(200.0, 100.0, 150.0, switch_to_crio_downtime_seconds=90.0),
               round_figures(180.0, 120.0, 140.0), round_figures(220.0, 110.0, 160.0)]
    f = bench.summarize(samples)
    assert (f["converge_seconds_linear"], f["converge_seconds_mitogen"], f["floor_seconds"]) == (200.0, 110.0, 150.0)
    assert f["converge_over_floor_linear"] == 1.33 and f["converge_over_floor_mitogen"] == 0.73
    assert f["mitogen_gain_converge"] == 1.82
    assert f["mitogen_gain_rerun"] == round(50.0 / 13.75, 2)
    assert f["switch_to_crio_downtime_seconds"] == 90.0      # round 1 only
    assert f["accelerator"] == "tcg" and f["rerun_recap_linear"] == "ok=1 changed=0"
    assert f["crio_chain_info_over_crictl_info"] is None


def test_page_shows_both_strategies_the_gain_and_each_goal():
    f = bench.summarize([round_figures(200.0, 100.0, 160.0, chain_info_seconds=1.9, crictl_info_seconds=0.2)])
    f.update(date="2026-12-01T00:00:00+00:00", host={"cpus": 2, "kernel": "6.1"}, rounds=1, image_build_seconds=50.0,
             versions={"containerd": "2.3.7", "runc": "1.4.4", "crictl": "1.36.0", "kubelet": "1.36.5"})
    page = bench.render_markdown(f)
    assert "containerd 2.3.7, runc 1.4.4, crictl 1.36.0, kubelet 1.36.5" in page
    assert "| converge: site.yml on a fresh VM | 200.0 | 100.0 | 2.0 |" in page
    assert "**1.25** (met)" in page and "**0.62** (met)" in page
    assert "goal <= 3" not in page and "grpc" not in page
    assert "| runtime_chain_info, one run (the module's duration_seconds; aim: under about 3 s) | 1.9 |" in page
    assert "n/a" in page  # figures a round did not measure (switch downtimes) are said to be missing
    f["converge_over_floor_linear"] = 1.4
    assert "**1.4** (not met)" in bench.render_markdown(f)


def test_page_says_when_the_switch_failed():
    f = bench.summarize([round_figures(200.0, 100.0, 160.0, switch_error="switch to crio failed: site\nTASK [x]")])
    f.update(date="d", host={"cpus": 2, "kernel": "6.1"}, rounds=1, versions={})
    page = bench.render_markdown(f)
    assert "**The runtime switch failed** (round 1), so its figures are missing: switch to crio failed: site (" in page
    assert "containerd ?, runc ?" in page


def test_other_groups_vms_are_found_in_process_command_lines():
    base = "/root/.cache/kubenode-runtime-chain/instances"
    cmdlines = [
        f"qemu-system-x86_64 -name kubenode-testbed,process=kubenode-testbed:{base}/molecule-containerd/node -accel tcg ",
        f"qemu-system-x86_64 -name kubenode-testbed,process=kubenode-testbed:{base}/bench-h3/linear -accel tcg ",
        f"/usr/bin/python3 -m tools.testbed serve --tag {base}/itest-x/node",   # a mirror, not a VM
        "bash -c grep process=kubenode-testbed:/x/y/z",                          # not QEMU
    ]
    assert bench.other_vms(cmdlines, "bench-h3") == ["molecule-containerd/node"]
    assert bench.other_vms(cmdlines, "molecule-containerd") == ["bench-h3/linear"]


def test_page_warns_when_other_vms_ran():
    f = bench.summarize([round_figures(200.0, 100.0, 160.0)])
    f.update(date="d", host={"cpus": 2, "kernel": "6.1"}, rounds=1, versions={}, other_vms_seen=["molecule-containerd/node"])
    assert "**Other test-bed VMs ran during this run** (molecule-containerd/node)" in bench.render_markdown(f)
    f["other_vms_seen"] = []
    assert "Other test-bed VMs" not in bench.render_markdown(f)


def test_the_module_duration_comes_from_role_verifys_task():
    document = {"plays": [{"tasks": [
        {"task": {"name": "Read the contracts"}, "hosts": {"node": {}}},
        {"task": {"name": "kubenode.runtime_chain.verify : Walk the runtime chain"}, "hosts": {"node": {"duration_seconds": 2.5}}},
    ]}]}
    assert bench.module_duration(document) == 2.5
