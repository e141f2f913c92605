#!/usr/bin/env python3
"""Benchmark: `sctrace compare server1.php server1.py` against the seeds' workflow by hand.

By hand (as the lecture notes do it, automated): each server under `strace -f`
with a client, one after the other, each in a fresh network namespace so the
first run's TIME_WAIT cannot block the second.  The client connects as soon as
the port accepts, writes 5 bytes and reads the answer.  Rounds are interleaved
and the report gives medians and their ratio, measured side by side in one run.

    .venv/bin/python scripts/bench_compare_demo.py [--rounds 11]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sctrace.kernel import netns

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "fixtures" / "seed"


def by_hand_one(argv: list[str]) -> None:
    """In a child with a fresh namespace: the server under strace -f, and a client."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            netns.enter_new()
            server = subprocess.Popen(["strace", "-f", "-o", os.devnull, *argv], stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    conn = socket.create_connection(("127.0.0.1", 1234), timeout=5)
                    break
                except OSError:
                    time.sleep(0.002)
            conn.sendall(b"clien")
            while conn.recv(128):
                pass
            conn.close()
            code = server.wait(timeout=10)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise SystemExit(f"the by-hand run of {argv} failed ({status})")


def by_hand() -> float:
    start = time.perf_counter()
    by_hand_one([shutil.which("php") or "php", str(SEED / "server1.php")])
    by_hand_one([os.path.realpath(sys.executable), str(SEED / "server1.py")])
    return time.perf_counter() - start


def real_python_path() -> str:
    """A PATH on which python3 is the interpreter itself, as in the by-hand runs.

    Where python3 is a version manager's shim (a shell script that forks a dozen
    processes before it execs the interpreter), sctrace would trace all of them.
    """
    bindir = ROOT / ".venv" / "bench-bin"
    bindir.mkdir(exist_ok=True)
    link = bindir / "python3"
    if not link.exists():
        link.symlink_to(os.path.realpath(sys.executable))
    return f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"


def with_sctrace(path: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sctrace", "compare", str(SEED / "server1.php"), str(SEED / "server1.py")],
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=dict(os.environ, PATH=path))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=11)
    opts = parser.parse_args()
    if not netns.available():
        print("network namespaces cannot be made here: the by-hand workflow cannot run twice on port 1234")
        return 2
    hand, ours = [], []
    path = real_python_path()
    by_hand(), with_sctrace(path)  # warm caches once
    for _ in range(opts.rounds):
        hand.append(by_hand())
        ours.append(with_sctrace(path))
    h, o = statistics.median(hand), statistics.median(ours)
    print(f"rounds: {opts.rounds} (medians, seconds; interleaved)")
    print(f"  by hand (strace -f, each server with a client, one after the other): {h:.3f}")
    print(f"  sctrace compare server1.php server1.py:                               {o:.3f}")
    print(f"sctrace compare / by hand: {o / h:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
