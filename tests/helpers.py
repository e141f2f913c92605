"""What many test files need: the repository's paths, sctrace run as a user runs it, and skips for missing tools.

There is one copy of each here, so a change to how the tests run sctrace or
judge its errors reaches every test at once.  Where test files differ (a
longer timeout, another environment), they say so with the parameters.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRACE_FIXTURES = ROOT / "fixtures" / "trace"
SEED = ROOT / "fixtures" / "seed"
MATRIX = ROOT / "fixtures" / "matrix"
GOLDEN = ROOT / "fixtures" / "golden"
# The interpreter itself: a pyenv shim is a shell script, whose own calls would be traced too.
PYTHON = os.path.realpath(sys.executable)


def sctrace(*args: str, cwd: Path | None = ROOT, env: Mapping[str, str] | None = None, timeout: float = 120,
            no_traceback: bool = False, stdout: IO[str] | None = None) -> subprocess.CompletedProcess[str]:
    """sctrace as a real subprocess, so the test sees the exit status and stderr a user would see.

    stdin is /dev/null: a traced program that reads it gets end of file, not the terminal.
    With no_traceback, a Python traceback on stderr fails the test at once, before its own checks.
    stdout: where its standard output goes (by default it is captured, as stderr always is).
    """
    proc = subprocess.run([sys.executable, "-m", "sctrace", *args], cwd=cwd, env=env, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if stdout is None else stdout,
                          stderr=subprocess.PIPE)
    if no_traceback:
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def one_error_line(proc: subprocess.CompletedProcess[str], *, beside_program_output: bool = False) -> str:
    """The one line sctrace prints for an error; the test fails on a traceback or on any other line.

    A traced program may write to stderr too: with beside_program_output, only the lines that begin
    with "sctrace:" count, and there must be exactly one.
    """
    assert "Traceback" not in proc.stderr, proc.stderr
    if beside_program_output:
        lines = [line for line in proc.stderr.splitlines() if line.startswith("sctrace:")]
        assert len(lines) == 1, proc.stderr
    else:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("sctrace: error: "), proc.stderr
    return lines[0]


def needs(command: str, package: str) -> pytest.MarkDecorator:
    """Skip a test whose program needs command, and name the Debian package that brings it."""
    return pytest.mark.skipif(shutil.which(command) is None,
                              reason=f"{command} is not installed (apt-get install {package})")


needs_php = needs("php", "php-cli")
needs_strace = needs("strace", "strace")


def processes_running(name: str) -> list[int]:
    """Pids of live processes whose command line mentions name (a traced program left behind would show here)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if name.encode() in cmdline and b"pytest" not in cmdline:
            found.append(int(entry))
    return found


def assert_gone(pids: set[int]) -> None:
    """Fail if any of pids is still a process: sctrace must leave none of the processes it traced."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                state = next(line for line in f if line.startswith("State:"))
        except (FileNotFoundError, ProcessLookupError):
            continue
        pytest.fail(f"traced process {pid} survived: {state.strip()}")


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    """True if seen holds every item of wanted in the same order, with anything between them."""
    it = iter(seen)
    return all(item in it for item in wanted)
