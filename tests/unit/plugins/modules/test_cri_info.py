"""cri_info's flow over mocked crictl runs (outputs captured from real runtimes)."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.kubenode.runtime_chain.plugins.module_utils import cri as cri_module
from ansible_collections.kubenode.runtime_chain.plugins.modules import cri_info

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # tests/unit/fixtures
ENDPOINT = "unix:///run/containerd/containerd.sock"


class Exit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def raise_failed(**result):
    """Stand-in for fail_json: end the module run with a failed result."""
    raise Exit(result, True)


SUBCOMMANDS = ("version", "info", "runtime-config")


def run_module(args, calls, socket="ok"):
    """Run cri_info.main() with ``calls`` as the (rc, stdout, stderr) of crictl version, info and
    runtime-config, in that order (answers go by subcommand; a subcommand past the end of
    ``calls`` fails as if the runtime had gone)."""
    def answer(argv, **_):
        index = SUBCOMMANDS.index(argv[-1])
        return calls[index] if index < len(calls) else (1, "", "connection closed")

    return _main(args, answer, None if socket == "ok" else socket)


def _main(args, answer, problem=None):
    """cri_info.main() with ``answer(argv)`` as run_command and ``problem`` as the socket's;
    returns the module's exit (an Exit) and the run_command mock. Waits do not sleep."""
    def exit_json(self, **kw):
        raise Exit(kw, False)

    def fail_json(self, **kw):
        raise Exit(kw, True)

    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "exit_json", exit_json), \
            mock.patch.object(basic.AnsibleModule, "fail_json", fail_json), \
            mock.patch.object(basic.AnsibleModule, "get_bin_path", return_value="/usr/local/bin/crictl"), \
            mock.patch.object(basic.AnsibleModule, "run_command", side_effect=answer) as run, \
            mock.patch.object(cri_info.os, "access", return_value=True), \
            mock.patch.object(cri_info.time, "sleep"), \
            mock.patch.object(cri_module, "socket_problem", return_value=problem):
        with pytest.raises(Exit) as caught:
            cri_info.main()
    return caught.value, run


def fx(name):
    return (FIXTURES / name).read_text()


CONTAINERD_17 = [
    (0, fx("crictl_version_containerd_1.7.24.txt"), ""),
    (0, fx("crictl_info_containerd_1.7.24_systemd.json"), ""),
    (1, "", fx("crictl_runtime_config_containerd_1.7.24.stderr")),
]


def test_containerd_1x_reports_version_readiness_and_driver_from_status_info():
    out, run = run_module({"endpoint": ENDPOINT}, CONTAINERD_17)
    assert not out.failed
    r = out.result
    assert r["changed"] is False
    assert r["version"]["runtime_name"] == "containerd" and r["version"]["runtime_version"] == "1.7.24~ds1"
    assert r["runtime_ready"] is True and r["network_ready"] is False
    assert r["runtime_config"] == {"implemented": False, "cgroup_driver": None, "error": None}
    assert r["cgroup_driver"]["value"] == "systemd"
    assert "info" not in r
    argv = run.call_args_list[0].args[0]
    assert argv[:3] == ["/usr/local/bin/crictl", "--config", "/dev/null"]
    assert argv[argv.index("--runtime-endpoint") + 1] == ENDPOINT
    assert argv[argv.index("--timeout") + 1] == "10s"
    assert run.call_args_list[0].kwargs["environ_update"]["LC_ALL"] == "C"


def test_runtime_config_wins_when_the_runtime_implements_it():
    calls = [
        (0, "Version:  0.1.0\nRuntimeName:  cri-o\nRuntimeVersion:  1.37.0\nRuntimeApiVersion:  v1\n", ""),
        (0, json.dumps({"status": {"conditions": [{"type": "RuntimeReady", "status": True}]}, "runtimeHandlers": [{"name": "crun"}]}), ""),
        (0, "cgroup driver:   SYSTEMD\n", ""),
    ]
    out, _run = run_module({"endpoint": "unix:///run/crio/crio.sock", "include_info": True}, calls)
    assert out.result["cgroup_driver"] == {"value": "systemd", "source": "RuntimeConfig RPC"}
    assert out.result["runtime_handlers"] == [{"name": "crun", "features": {}}]
    assert out.result["info"] == {}


@pytest.mark.parametrize(
    ("stderr_fixture", "kind", "says"),
    [
        ("crictl_error_no_cri_service.stderr", "no_cri_service", "CRI plugin is disabled"),
        ("crictl_error_refused.stderr", "refused", "stale socket"),
    ],
)
def test_a_failed_version_call_is_diagnosed(stderr_fixture, kind, says):
    out, run = run_module({"endpoint": ENDPOINT}, [(1, "", fx(stderr_fixture))])
    assert out.failed
    assert out.result["kind"] == kind
    assert says in out.result["msg"] and ENDPOINT in out.result["msg"]
    assert run.call_count == 1  # Status and RuntimeConfig are not asked once Version failed


@pytest.mark.parametrize(("problem", "says"), [("no_socket", "not running"), ("not_socket", "not a unix socket"), ("permission", "become")])
def test_socket_problems_fail_before_any_cri_call(problem, says):
    out, run = run_module({"endpoint": ENDPOINT}, [], socket=problem)
    assert out.failed and out.result["kind"] == problem and says in out.result["msg"]
    assert run.call_count == 0


def test_a_non_unix_endpoint_is_rejected():
    out, _run = run_module({"endpoint": "tcp://127.0.0.1:1"}, [])
    assert out.failed and out.result["kind"] == "bad_endpoint"


def test_a_bare_path_endpoint_works_with_a_deprecation_warning():
    with mock.patch.object(basic.AnsibleModule, "warn") as warn:
        out, _run = run_module({"endpoint": "/run/containerd/containerd.sock"}, CONTAINERD_17)
    assert not out.failed and out.result["endpoint"] == ENDPOINT
    assert "unix://" in warn.call_args.args[0]


def test_missing_crictl_names_the_role_that_installs_it():
    with mock.patch.object(basic.AnsibleModule, "get_bin_path", return_value=None):
        with patch_module_args({"endpoint": ENDPOINT}), \
                mock.patch.object(basic.AnsibleModule, "fail_json", side_effect=raise_failed):
            with pytest.raises(Exit) as caught:
                cri_info.main()
    assert caught.value.result["kind"] == "no_crictl"
    assert "kubenode.runtime_chain.crictl" in caught.value.result["msg"]


def run_waiting(args, sequence):
    """Run cri_info.main() where each CRI question is answered from ``sequence`` (one answer
    list per attempt, as in run_module), and journalctl prints two lines; no real sleep."""
    attempts = iter(sequence)
    state = {"calls": None}

    def answer(argv, **_):
        if argv[0] == "journalctl":
            return 0, "containerd: failed to load TOML\nexiting\n", ""
        subcommand = argv[-1]
        if subcommand == "version" or state["calls"] is None:
            state["calls"] = next(attempts, sequence[-1])
        index = SUBCOMMANDS.index(subcommand)
        return state["calls"][index] if index < len(state["calls"]) else (1, "", "connection closed")

    return _main(args, answer)


REFUSED = [(1, "", fx("crictl_error_refused.stderr"))]


def test_a_wait_retries_until_the_runtime_answers_ready():
    out, run = run_waiting({"endpoint": ENDPOINT, "wait_timeout": 30, "journal_units": ["containerd"]},
                           [REFUSED, REFUSED, CONTAINERD_17])
    assert not out.failed and out.result["runtime_ready"] is True
    assert not any(call.args[0][0] == "journalctl" for call in run.call_args_list)  # no journal when all is well


def test_a_runtime_that_never_comes_up_fails_quoting_its_journal():
    with mock.patch.object(cri_info.time, "monotonic", side_effect=[0.0] + [float(i) for i in range(1, 100)]):
        out, _run = run_waiting({"endpoint": ENDPOINT, "wait_timeout": 3, "journal_units": ["containerd"]}, [REFUSED])
    assert out.failed and out.result["kind"] == "refused"
    assert "after waiting" in out.result["msg"] and "failed to load TOML" in out.result["msg"]
    assert out.result["journal"] == {"containerd": ["containerd: failed to load TOML", "exiting"]}


def test_a_diagnosis_that_waiting_cannot_fix_stops_the_wait_at_once():
    out, run = run_waiting({"endpoint": ENDPOINT, "wait_timeout": 60}, [[(1, "", fx("crictl_error_no_cri_service.stderr"))]])
    assert out.failed and out.result["kind"] == "no_cri_service"
    assert sum(call.args[0][-1] == "version" for call in run.call_args_list) == 1


def test_without_a_wait_a_runtime_that_is_not_ready_is_a_result():
    not_ready = json.dumps({"status": {"conditions": [{"type": "RuntimeReady", "status": False, "reason": "Starting"}]}})
    calls = [CONTAINERD_17[0], (0, not_ready, ""), CONTAINERD_17[2]]
    out, _run = run_module({"endpoint": ENDPOINT}, calls)
    assert not out.failed and out.result["runtime_ready"] is False
