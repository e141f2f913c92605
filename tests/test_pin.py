"""Who pins the tracer and its program to one CPU: `sctrace trace` does (unless --no-pin); a library caller of
the tracer does not, unless it names a CPU (as compare does for each side).  Real programs, traced under real
ptrace, write down the CPUs they may run on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sctrace.backends.ptrace.tracer import TraceOptions
from sctrace.backends.run import trace_program
from tests.helpers import PYTHON, sctrace

ALLOWED = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(ALLOWED) < 2,
                                reason="only one CPU is allowed here, so pinned and not pinned look the same")

REPORT = "import os, sys\nopen(sys.argv[1], 'w').write(' '.join(map(str, sorted(os.sched_getaffinity(0)))))\n"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A program that writes the CPUs it may run on to the file named by its argument."""
    program = tmp_path / "report_cpus.py"
    program.write_text(REPORT)
    return program


@pytest.fixture(autouse=True)
def every_cpu() -> Iterator[None]:
    """Each test starts on every CPU this process began with, and leaves the CPUs as it found them.

    A pinned tracer pins the thread that calls it, and the pin stays: an earlier test that ran the command
    in this process (typer's CliRunner) may have left it on one CPU, and a test here may leave it so too.
    """
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, ALLOWED)
    yield
    os.sched_setaffinity(0, before)


def cpus(out: Path) -> list[int]:
    return [int(cpu) for cpu in out.read_text().split()]


def test_a_library_caller_is_not_pinned(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "cpus"
    result = trace_program(str(report), [str(out)], options=TraceOptions(), interpreter=PYTHON, timeout=30)
    assert result.status == 0
    assert cpus(out) == ALLOWED
    assert sorted(os.sched_getaffinity(0)) == ALLOWED


def test_a_library_caller_that_names_a_cpu_is_pinned_to_it(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "cpus"
    result = trace_program(str(report), [str(out)], options=TraceOptions(cpu=1), interpreter=PYTHON, timeout=30)
    assert result.status == 0
    assert cpus(out) == [ALLOWED[1]]


@pytest.mark.parametrize(("options", "pinned"), [([], True), (["--no-pin"], False)], ids=["default", "no-pin"])
def test_sctrace_trace_pins_unless_told_not_to(report: Path, tmp_path: Path, options: list[str],
                                               pinned: bool) -> None:
    out = tmp_path / "cpus"
    proc = sctrace("trace", *options, "--interpreter", PYTHON, str(report), str(out), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert cpus(out) == ([ALLOWED[0]] if pinned else ALLOWED)
