"""The pytest plugin, for real: pytest sessions in a scratch project, run as subprocesses, tracing real programs.

Each test writes a small test module beside copies of fixture programs, runs
pytest on it (the plugin loads through its ``pytest11`` entry point, as in any
project that installs sctrace) and looks at the outcome, the messages and the
snapshot files, following syrupy's conventions: ``--sctrace-update`` writes,
a missing snapshot fails saying how to create it, a mismatch fails with the
side-by-side difference, unused snapshots are reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import GOLDEN, SEED, needs_php

PROGRAMS = [GOLDEN / "pair_echo.py", GOLDEN / "hostile_bytes.py", SEED / "server1.py", SEED / "client1.py"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project holding the fixture programs, with no configuration of its own."""
    for program in PROGRAMS:
        shutil.copy(program, tmp_path / program.name)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def pytest_run(project: Path, *args: str, module: str | None = None) -> subprocess.CompletedProcess[str]:
    """pytest in project (after writing test_it.py from module), without HOME, as a CI runner may be."""
    if module is not None:
        (project / "test_it.py").write_text(textwrap.dedent(module))
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=project,
                          capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)


def snapshots(project: Path) -> list[str]:
    return sorted(str(p.relative_to(project)) for p in project.rglob("*.golden"))


TWO_CHECKS = """
    def test_server(sctrace):
        sctrace.check("server1.py")
        sctrace.check("server1.py", client="client1.py", level="stable", name="with_client")

    def test_pair(sctrace):
        sctrace.check("pair_echo.py")
"""


@pytest.mark.slow
def test_missing_then_written_then_passing(project: Path) -> None:
    proc = pytest_run(project, module=TWO_CHECKS)
    assert proc.returncode == 1, proc.stdout
    assert "sctrace: no snapshot __sctrace__/test_it/test_server.golden; run pytest --sctrace-update to create it" \
        in proc.stdout
    assert "2 failed" in proc.stdout
    assert snapshots(project) == []

    proc = pytest_run(project, "--sctrace-update")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snapshots(project) == ["__sctrace__/test_it/test_pair.golden", "__sctrace__/test_it/test_server.golden",
                                  "__sctrace__/test_it/test_server.with_client.golden"]
    written = [line for line in proc.stdout.splitlines() if line.startswith("3 snapshots written: ")]
    assert len(written) == 1 and sorted(written[0].split(": ", 1)[1].split(", ")) == snapshots(project)
    with_client = (project / "__sctrace__/test_it/test_server.with_client.golden").read_text()
    assert with_client.startswith("# sctrace golden trace, format 1, level stable\n")
    assert '@client "client1.py"' in with_client and 'peer P1 sendto(C1, "clien", 5, 0, NULL, 0) = 5' in with_client
    assert str(project) not in with_client  # the file names what the test wrote, not where it ran

    # A snapshot is what `sctrace record` writes of the same program.
    recorded = subprocess.run([sys.executable, "-m", "sctrace", "record", "pair_echo.py"], cwd=project,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert recorded.stdout == (project / "__sctrace__/test_it/test_pair.golden").read_text()

    before = {p: (project / p).stat().st_mtime_ns for p in snapshots(project)}
    for _ in range(2):
        proc = pytest_run(project)
        assert proc.returncode == 0, proc.stdout
        assert "2 passed" in proc.stdout and "sctrace snapshots" not in proc.stdout
    proc = pytest_run(project, "--sctrace-update")  # nothing changed: nothing rewritten
    assert proc.returncode == 0 and "sctrace snapshots" not in proc.stdout, proc.stdout
    assert {p: (project / p).stat().st_mtime_ns for p in snapshots(project)} == before


@pytest.mark.slow
def test_mismatch_fails_with_the_side_by_side_difference(project: Path) -> None:
    pytest_run(project, "--sctrace-update", module="def test_pair(sctrace):\n    sctrace.check('pair_echo.py')\n")
    proc = pytest_run(project, module="def test_pair(sctrace):\n    sctrace.check('hostile_bytes.py')\n")
    assert proc.returncode == 1
    out = proc.stdout
    assert ("sctrace: hostile_bytes.py no longer matches snapshot __sctrace__/test_it/test_pair.golden (if the "
            "change is meant, run pytest --sctrace-update):") in out
    assert "E       left:  __sctrace__/test_it/test_pair.golden (python), exited with 0" in out
    assert "E       right: hostile_bytes.py (python " in out
    assert '≠ P1   recvfrom(S2, "ping", 64, 0, NULL, NULL) = 4' in out
    assert "different: " in out
    assert "\x1b" not in out and "\x07" not in out  # the program's bytes stay escaped in the message
    assert "pytest_plugin.py" not in out  # the failure points at the test, not at the plugin's insides
    # --sctrace-update accepts the change.
    assert pytest_run(project, "--sctrace-update").returncode == 0
    assert "3\\33]0;owned" not in (project / "__sctrace__/test_it/test_pair.golden").read_text()
    assert '"\\33]0;owned\\7' in (project / "__sctrace__/test_it/test_pair.golden").read_text()
    assert pytest_run(project).returncode == 0


@pytest.mark.slow
def test_unused_snapshots_are_reported_and_deleted_by_update(project: Path) -> None:
    module = """
        import pytest

        def test_pair(sctrace):
            sctrace.check("pair_echo.py")

        def test_failing(sctrace):
            assert False

        def test_other(sctrace):
            pass
    """
    assert pytest_run(project, "--sctrace-update", module=module).returncode == 1  # test_failing fails
    folder = project / "__sctrace__" / "test_it"
    pair = (folder / "test_pair.golden").read_text()
    for stale in ("test_pair.1.golden", "test_renamed.golden", "test_failing.golden", "test_other.golden"):
        (folder / stale).write_text(pair)
    proc = pytest_run(project)
    unused = ("2 unused snapshots (pytest --sctrace-update deletes them): __sctrace__/test_it/test_other.golden, "
              "__sctrace__/test_it/test_pair.1.golden, __sctrace__/test_it/test_renamed.golden")
    assert unused.replace("2 unused", "3 unused") in proc.stdout, proc.stdout
    assert proc.returncode == 1  # test_failing; unused snapshots alone never fail a run (below)

    # Tests that did not run keep their snapshots unreported: deselected, or not named on the command line.
    proc = pytest_run(project, "-k", "pair")
    assert "2 unused snapshots" in proc.stdout and "test_other.golden" not in proc.stdout, proc.stdout
    assert proc.returncode == 0
    proc = pytest_run(project, "test_it.py::test_pair")
    assert "1 unused snapshot (pytest --sctrace-update deletes it): __sctrace__/test_it/test_pair.1.golden" \
        in proc.stdout, proc.stdout

    proc = pytest_run(project, "--sctrace-update")
    assert "3 snapshots deleted (unused)" in proc.stdout, proc.stdout
    assert snapshots(project) == ["__sctrace__/test_it/test_failing.golden", "__sctrace__/test_it/test_pair.golden"]


def test_unusable_snapshots_fail_in_one_line(project: Path) -> None:
    module = "def test_pair(sctrace):\n    sctrace.check('pair_echo.py', level='stable')\n"
    pytest_run(project, "--sctrace-update", module=module)
    path = project / "__sctrace__" / "test_it" / "test_pair.golden"
    good = path.read_text()
    cases = [
        (path.read_text().replace("format 1,", "format 7,"), "line 1: format 7 was made by a newer sctrace"),
        ("", "line 1: empty file"),
        (path.read_text().replace('{"call": ["socketpair"', '{"call": [socketpair'), "line 11: bad JSON"),
        (None, "line 1: made at level stable, but level semantic was asked"),
    ]
    for content, words in cases:
        if content is None:
            path.write_text(good)
            (project / "test_it.py").write_text(module.replace("'stable'", "'semantic'"))
        else:
            path.write_text(content)
        proc = pytest_run(project)
        assert proc.returncode == 1
        line = f"sctrace: __sctrace__/test_it/test_pair.golden, {words}"
        assert any(out.startswith(line) and out.endswith("; or run pytest --sctrace-update to record it again")
                   for out in proc.stdout.splitlines()), proc.stdout
        assert "Traceback" not in proc.stdout and "GoldenFormatError" not in proc.stdout
        assert "During handling" not in proc.stdout


def test_run_returns_the_trace_value(project: Path) -> None:
    module = """
        def test_run(sctrace):
            recording = sctrace.run("pair_echo.py", args=["xyz"])
            assert 'P1 sendto(S1, "xyz", 3, 0, NULL, 0) = 3' in recording.golden.lines()
            # The trace as traced; without HOME it may begin with the C library's name-service lookup,
            # which the golden form leaves out.
            names = [ev.name for ev in recording.trace.events if ev.type == "syscall"]
            assert "socketpair" in names and names.count("close") >= 2
            assert recording.golden.lines()[0].startswith("P1 socketpair(")
            assert recording.trace.header.language == "python"

        def test_trouble(sctrace):
            sctrace.run("no_such_program.py")
    """
    proc = pytest_run(project, module=module)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout
    assert "sctrace: no_such_program.py" in proc.stdout
    assert "During handling" not in proc.stdout and "SctraceError" not in proc.stdout
    assert snapshots(project) == []


@pytest.mark.slow
def test_names_of_parametrized_and_class_tests(project: Path) -> None:
    module = """
        import pytest

        @pytest.mark.parametrize("word", ["a b", "x/y"])
        def test_word(sctrace, word):
            sctrace.check("pair_echo.py", args=[word])
            sctrace.check("pair_echo.py", args=[word + "!"])

        class TestGroup:
            def test_in_class(self, sctrace):
                sctrace.check("pair_echo.py", name="first")
                sctrace.check("pair_echo.py", name="first")
    """
    proc = pytest_run(project, "--sctrace-update", module=module)
    assert "sctrace: check name 'first' used twice in this test; give each check its own name" in proc.stdout
    assert snapshots(project) == [
        "__sctrace__/test_it/TestGroup.test_in_class.first.golden",
        "__sctrace__/test_it/test_word[a_b].1.golden", "__sctrace__/test_it/test_word[a_b].golden",
        "__sctrace__/test_it/test_word[x_y].1.golden", "__sctrace__/test_it/test_word[x_y].golden",
    ]
    assert '@args ["x/y!"]' in (project / "__sctrace__/test_it/test_word[x_y].1.golden").read_text()


def test_the_plugin_loads_by_entry_point_and_can_be_disabled(project: Path) -> None:
    proc = pytest_run(project, "--help")
    assert "--sctrace-update" in proc.stdout
    proc = pytest_run(project, "-p", "no:sctrace", module="def test_x(sctrace):\n    pass\n")
    assert proc.returncode == 1 and "fixture 'sctrace' not found" in proc.stdout


@needs_php
def test_this_projects_own_snapshot(sctrace: Any) -> None:
    # The plugin in this very suite: the snapshot is committed (tests/__sctrace__/test_pytest_plugin/), so it
    # also shows that a golden trace made on one machine matches on another.
    sctrace.check("fixtures/seed/server1.php")
    recording = sctrace.run("fixtures/seed/server1.php")
    assert recording.golden.lines()[:3] == ["P1 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L1",
                                            "P1 bind(L1, {AF_INET, 0.0.0.0:PORT1}, 16) = 0", "P1 listen(L1, 5) = 0"]
