"""A program that stops itself stays stopped under sctrace until a SIGCONT, as it would untraced.

A tracer attached with PTRACE_TRACEME that restarts a task in a group-stop lets
it run on at once: a program that sent itself SIGSTOP (or got SIGTSTP) went on
under sctrace, while untraced and under strace it waits for SIGCONT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sctrace.model.trace import Trace
from tests.helpers import ROOT

STOPS_ITSELF = """
import os, signal, socket
signal.alarm(20)
a, b = socket.socketpair()
os.kill(os.getpid(), signal.{sig})
a.send(b"after")
b.recv(5)
"""


def _signalled(out: Path, sig: str) -> int | None:
    """The pid of the first signal event for sig in the JSONL trace so far, or None."""
    text = out.read_text() if out.exists() else ""
    for line in text.splitlines():
        record = json.loads(line)
        if record.get("type") == "signal" and record.get("signal") == sig:
            return int(record["pid"])
    return None


def _stops_and_continues(tmp_path: Path, sig: str) -> None:
    program = tmp_path / "stops.py"
    program.write_text(STOPS_ITSELF.format(sig=sig))
    out = tmp_path / "t.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(out),
                             str(program)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while (stopped := _signalled(out, sig)) is None:
            assert time.monotonic() < deadline and proc.poll() is None, "the program never stopped itself"
            time.sleep(0.02)
        time.sleep(1.0)  # stopped: nothing more happens however long we wait
        assert '"sendto"' not in out.read_text(), "the program went on without a SIGCONT"
        assert proc.poll() is None
        os.kill(stopped, signal.SIGCONT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    events = Trace.load(out).events
    signals = [ev.info.get("signal") for ev in events if ev.type == "signal"]
    assert signals[-2:] == [sig, "SIGCONT"], signals
    continued = next(i for i, ev in enumerate(events) if ev.info.get("signal") == "SIGCONT")
    sends = [i for i, ev in enumerate(events) if ev.name == "sendto"]
    assert len(sends) == 1 and sends[0] > continued, "the send came before the SIGCONT"


def test_sigstop_holds_the_program_until_sigcont(tmp_path: Path) -> None:
    _stops_and_continues(tmp_path, "SIGSTOP")


def test_sigtstp_holds_the_program_until_sigcont(tmp_path: Path) -> None:
    _stops_and_continues(tmp_path, "SIGTSTP")
