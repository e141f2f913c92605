"""A streamed trace keeps no events: sctrace trace's memory stays flat however many events it writes.

Before, every event was kept until the end even when it had been written out
(100 MB through a socket with -s 65536 took 648 MB).  scripts/bench_memory.py
gives the figures beside strace's; this test checks the shape.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

ROUND_TRIPS = """
import socket, sys
for _ in range(int(sys.argv[1])):
    a, b = socket.socketpair()
    a.send(b"ping" * 256); b.recv(4096); a.close(); b.close()
"""


def _peak_mb(tmp_path: Path, rounds: int, fmt: str) -> float:
    """The largest resident set among sctrace and what it ran, in MB (the traced Python's is the same each time)."""
    program = tmp_path / "trips.py"
    program.write_text(ROUND_TRIPS)
    out = tmp_path / f"out.{fmt}"
    proc = subprocess.Popen([sys.executable, "-m", "sctrace", "trace", "--format", fmt, "-s", "4096", "-o",
                             str(out), str(program), str(rounds)], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read() if proc.stderr else ""
    assert out.read_text().count("socketpair") == rounds  # every event was written
    return usage.ru_maxrss / 1024


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_ten_times_the_events_take_no_more_memory(tmp_path: Path, fmt: str) -> None:
    small = _peak_mb(tmp_path, 500, fmt)
    large = _peak_mb(tmp_path, 5000, fmt)  # about 25,000 events of 1 KB payloads: some 100 MB if kept
    assert large - small < 5, (small, large)
