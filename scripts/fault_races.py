#!/usr/bin/env python3
"""Fault injection: end sctrace with a signal at a random moment, many times, and count what is left.

Each run starts one sctrace command on a program that would run for a minute,
sends it a signal after a random delay, and then checks:

- hung: sctrace's stdout and stderr did not reach their end within 5 s of its
  death (a process left behind still holds them, so a caller would hang);
- processes: processes of the run still alive 2 s after sctrace ended;
- files: files or directories left in the run's own TMPDIR (after SIGKILL of a
  compare, after the next compare run, which removes what a killed run left);
- tracebacks: a Python traceback on stderr with a frame in sctrace's own code
  (one raised while the interpreter itself starts, before sctrace's first
  line, is Python's: counted apart as "in start-up").

    .venv/bin/python scripts/fault_races.py [--runs 200] [--case NAME ...]

It prints one line of counts per case, and exits 1 when any count other than
runs is not zero.  tests/test_faults.py runs the start-up cases with fewer runs.
"""

from __future__ import annotations

import argparse
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLEEPER = "import time\ntime.sleep(60)\n"
SERVER = "import socket, time\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\ntime.sleep(60)\n"


@dataclass
class Case:
    name: str
    command: str  # "trace" or "compare"
    sig: int
    window: tuple[float, float]  # seconds after start


CASES = {c.name: c for c in [
    Case("trace-start-SIGKILL", "trace", signal.SIGKILL, (0.035, 0.085)),
    Case("trace-start-SIGHUP", "trace", signal.SIGHUP, (0.035, 0.085)),
    Case("trace-start-SIGINT", "trace", signal.SIGINT, (0.0, 0.120)),
    Case("trace-running-SIGKILL", "trace", signal.SIGKILL, (0.3, 0.6)),
    Case("compare-SIGTERM", "compare", signal.SIGTERM, (0.2, 1.0)),
    Case("compare-SIGHUP", "compare", signal.SIGHUP, (0.2, 1.0)),
    Case("compare-SIGKILL", "compare", signal.SIGKILL, (0.2, 1.0)),
]}


@dataclass
class Counts:
    runs: int = 0
    hung: int = 0
    processes: int = 0
    files: int = 0
    tracebacks: int = 0
    startup_tracebacks: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def bad(self) -> int:
        return self.hung + self.processes + self.files + self.tracebacks


def _alive_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


def _drain(fds: list[int], seconds: float) -> tuple[bool, bytes]:
    """Read fds until each ends; False when one has not ended in time."""
    data = b""
    deadline = time.monotonic() + seconds
    open_fds = list(fds)
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, data
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                data += chunk
            else:
                open_fds.remove(fd)
    return True, data


def run_once(case: Case, rng: random.Random, counts: Counts, python: str) -> None:
    with tempfile.TemporaryDirectory(prefix="sctrace-faults-") as base:
        tmp = Path(base) / "tmp"
        tmp.mkdir()
        marker = f"fault-{os.getpid()}-{rng.randrange(1 << 30)}"
        program = Path(base) / f"{marker}.py"
        program.write_text(SERVER if case.command == "compare" else SLEEPER)
        if case.command == "trace":
            argv = [python, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(Path(base) / "t.jsonl"),
                    str(program)]
        else:
            argv = [python, "-m", "sctrace", "compare", str(program), str(program), "--timeout", "30"]
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(tmp)})
        assert proc.stdout is not None and proc.stderr is not None
        time.sleep(rng.uniform(*case.window))
        proc.send_signal(case.sig)
        ended, output = _drain([proc.stdout.fileno(), proc.stderr.fileno()], 5.0)
        proc.stdout.close()
        proc.stderr.close()
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
        counts.runs += 1
        counts.statuses[status] = counts.statuses.get(status, 0) + 1
        counts.hung += not ended
        if b"Traceback" in output:
            if f'File "{ROOT / "sctrace"}/'.encode() in output:
                counts.tracebacks += 1
            else:
                counts.startup_tracebacks += 1
        time.sleep(0.3)  # a traced process killed with sctrace (EXITKILL) is gone by then
        left = _alive_with(marker)
        counts.processes += bool(left)
        for pid in left:  # clean up after a defect, so that one run does not spoil the next
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if case.command == "compare" and case.sig == signal.SIGKILL:
            # Nothing can clean up at SIGKILL: the next run removes what a killed one left.
            nothing = Path(base) / "nothing.py"
            nothing.write_text("pass\n")
            subprocess.run([python, "-m", "sctrace", "compare", str(nothing), str(nothing), "--timeout", "1"],
                           cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                           env={**os.environ, "TMPDIR": str(tmp)})
        counts.files += bool(list(tmp.iterdir()))


def run_case(name: str, runs: int, seed: int = 1, python: str = sys.executable) -> Counts:
    rng = random.Random(seed)
    counts = Counts()
    for _ in range(runs):
        run_once(CASES[name], rng, counts, python)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="default: every case")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    bad = 0
    for name in args.case or list(CASES):
        counts = run_case(name, args.runs, args.seed)
        bad += counts.bad()
        statuses = dict(sorted(counts.statuses.items()))
        print(f"{name:24} runs {counts.runs:4}  hung {counts.hung}  processes left {counts.processes}  "
              f"files left {counts.files}  tracebacks {counts.tracebacks} (in start-up {counts.startup_tracebacks})  "
              f"statuses {statuses}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
