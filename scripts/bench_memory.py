#!/usr/bin/env python3
"""Benchmark: sctrace trace's peak memory and time against the number of events, beside strace's.

A streamed trace (text or JSON Lines to a file) must not keep its events:
memory stays flat as the number of events grows.  The workload makes N short
socketpair round trips (about 6 reported calls each), and then, separately,
moves 100 MB through a socket with `-s 65536`.  Each command's peak memory is
its largest resident set (ru_maxrss of the process tree, from wait4), measured
side by side with strace's in one run.

    .venv/bin/python scripts/bench_memory.py [--counts 1000,10000,100000] [--format jsonl]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROUND_TRIPS = """
import socket, sys
for _ in range(int(sys.argv[1])):
    a, b = socket.socketpair()
    a.send(b"ping"); b.recv(16); b.send(b"pong"); a.recv(16)
    a.close(); b.close()
"""

BULK = """
import socket, threading
a, b = socket.socketpair()
chunk = bytes(range(256)) * 256  # 64 KiB
def drain():
    while b.recv(65536):
        pass
t = threading.Thread(target=drain); t.start()
for _ in range(1600):  # 100 MiB
    a.sendall(chunk)
a.close(); t.join()
"""


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of argv's whole process tree."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]}... failed with status {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--format", default="jsonl", choices=("text", "jsonl"))
    args = parser.parse_args()
    python = os.path.realpath(sys.executable)
    console = shutil.which("sctrace", path=os.path.dirname(sys.executable))
    sctrace = [console] if console else [python, "-m", "sctrace"]
    strace = shutil.which("strace")
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    with tempfile.TemporaryDirectory() as tmp:
        trips = os.path.join(tmp, "trips.py")
        bulk = os.path.join(tmp, "bulk.py")
        with open(trips, "w") as f:
            f.write(ROUND_TRIPS)
        with open(bulk, "w") as f:
            f.write(BULK)
        out = os.path.join(tmp, "out")
        print(f"sctrace trace --format {args.format} -o FILE, against strace -f -o FILE (peak RSS, wall time)")
        print(f"{'workload':32} {'sctrace MB':>10} {'s':>7} {'strace MB':>10} {'s':>7}")
        counts = [int(c) for c in args.counts.split(",")]
        rows: list[tuple[str, list[str], list[str]]] = [(f"{n} round trips", [trips, str(n)], []) for n in counts]
        rows.append(("100 MB through a socket -s 65536", [bulk], ["-s", "65536"]))
        for label, program, limit in rows:
            ours = measure([*sctrace, "trace", "--format", args.format, *limit, "-o", out, python, *program])
            theirs = measure([strace, "-f", "-qq", *limit, "-o", out, "-e", "trace=%network,read,write,close",
                              python, *program]) if strace else (float("nan"), float("nan"))
            print(f"{label:32} {ours[1]:10.1f} {ours[0]:7.2f} {theirs[1]:10.1f} {theirs[0]:7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
