"""gather.Commands: every command through the module's runner, once per argv, with its time."""

from __future__ import annotations

from ansible_collections.kubenode.runtime_chain.plugins.module_utils.gather import Commands


def test_each_command_runs_once_and_is_logged():
    calls = []

    def runner(argv):
        calls.append(argv)
        return (0, "out", "") if argv[0] == "ok" else (1, None, "boom")

    run = Commands(runner)
    assert run(["ok", "a"]) == (0, "out", "")
    assert run(("ok", "a")) == (0, "out", "")  # the same argv, asked again (list or tuple)
    assert run(["bad"]) == (1, "", "boom")  # None output becomes ""
    assert calls == [["ok", "a"], ["bad"]]
    assert [(e["argv"], e["rc"]) for e in run.log] == [(["ok", "a"], 0), (["bad"], 1)]
    assert all(e["seconds"] >= 0 for e in run.log)


def test_a_missing_executable_is_rc_127_not_a_crash():
    def runner(argv):
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    assert Commands(runner)(["kubelet", "--version"])[0] == 127
