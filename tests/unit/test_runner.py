"""gather.Runner: commands started ahead run side by side and answer later (real child processes)."""

from __future__ import annotations

import sys

from ansible_collections.kubenode.runtime_chain.plugins.module_utils.gather import Runner

PY = sys.executable


def test_result_of_a_started_command_is_returned_when_asked():
    run = Runner()
    run.start([PY, "-c", "print('a')"], [PY, "-c", "import sys; sys.stderr.write('b'); sys.exit(3)"])
    assert run([PY, "-c", "import sys; sys.stderr.write('b'); sys.exit(3)"]) == (3, "", "b")
    assert run([PY, "-c", "print('a')"]) == (0, "a\n", "")


def test_one_argv_runs_once_per_runner(tmp_path):
    marker = tmp_path / "count"
    argv = [PY, "-c", f"open({str(marker)!r}, 'a').write('x')"]
    run = Runner()
    run.start(argv, argv)
    assert run(argv)[0] == 0
    assert run(argv)[0] == 0
    assert marker.read_text() == "x"


def test_missing_executable_gives_127():
    rc, out, err = Runner()(["/nonexistent/kubelet", "--version"])
    assert (rc, out) == (127, "")
    assert "/nonexistent/kubelet" in err


def test_command_past_its_timeout_is_killed_with_124():
    rc, _, err = Runner(timeout=0.5)([PY, "-c", "import time; time.sleep(30)"])
    assert rc == 124
    assert "killed after 0.5 s" in err


def test_large_outputs_of_several_commands_do_not_block_each_other():
    # Each prints more than a pipe buffer holds; asking for the last one first must not deadlock.
    argvs = [[PY, "-c", f"import sys; sys.stdout.write('{i}' * 300000)"] for i in range(3)]
    run = Runner(timeout=60)
    run.start(*argvs)
    for i in reversed(range(3)):
        rc, out, _ = run(argvs[i])
        assert (rc, len(out), out[:1]) == (0, 300000, str(i))


def test_environment_is_c_locale():
    _, out, _ = Runner()([PY, "-c", "import os; print(os.environ['LC_ALL'])"])
    assert out.strip() == "C"


def test_close_kills_commands_never_asked_for():
    run = Runner()
    run.start([PY, "-c", "import time; time.sleep(30)"])
    job = next(iter(run._running.values()))
    run.close()
    assert job["proc"].poll() is not None
    assert not run._running


def test_at_most_parallel_commands_run_and_the_one_asked_for_goes_first():
    a, b, c = ([PY, "-c", f"print('{name}')"] for name in "abc")
    run = Runner(parallel=1)
    run.start(a, b, c)
    assert len(run._running) == 1
    assert run(c) == (0, "c\n", "")
    assert [entry["argv"] for entry in run.log] == [a, c]  # a was running already; b still waits
    assert [entry["started_ahead"] for entry in run.log] == [True, False]
    assert run(b)[1] == "b\n"
