"""Nothing lost: whatever ends sctrace, every event it had finished is in the output file.

SIGKILL cannot be handled, so the only way to keep this promise is to write
each event out as it is complete (strace writes each line likewise).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import ROOT, processes_running

ROUNDS = 40

PROGRAM = f"""
import socket, sys, time
for _ in range({ROUNDS}):
    a, b = socket.socketpair()
    a.close(); b.close()
print("done", flush=True)
time.sleep(60)
"""


def _trace_then_kill(tmp_path: Path, fmt: str) -> tuple[str, list[int]]:
    program = tmp_path / "pairs.py"
    program.write_text(PROGRAM)
    out = tmp_path / f"t.{fmt}"
    proc = subprocess.Popen([sys.executable, "-m", "sctrace", "trace", "--format", fmt, "-o", str(out),
                             str(program)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "done"
    traced = processes_running(str(program))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return out.read_text(), traced


def _gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{pid}") and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
                   for pid in pids if os.path.exists(f"/proc/{pid}/stat")):
            return True
        time.sleep(0.05)
    return False


def test_sigkill_loses_no_finished_event_in_text(tmp_path: Path) -> None:
    text, traced = _trace_then_kill(tmp_path, "text")
    lines = text.splitlines()
    assert sum("socketpair(" in line for line in lines) == ROUNDS, text[-2000:]
    assert sum(" close(" in line for line in lines) == 2 * ROUNDS
    assert text.endswith("\n")  # no line cut in half
    assert _gone(traced), "the traced program outlived sctrace"


def test_sigkill_loses_no_finished_event_in_jsonl(tmp_path: Path) -> None:
    text, traced = _trace_then_kill(tmp_path, "jsonl")
    lines = text.splitlines()
    assert sum('"name": "socketpair"' in line for line in lines) == ROUNDS, text[-2000:]
    assert text.endswith("\n")
    assert _gone(traced), "the traced program outlived sctrace"
