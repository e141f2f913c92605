#!/usr/bin/env python3
"""Benchmark: sctrace trace vs strace --seccomp-bpf vs the untraced program, interleaved.

The workload (written to a temporary file) makes about 49,000 system calls, of
which about 4,700 are socket calls: 1,000 loopback round trips, 100 short
connections, 22,000 getpid and 22,000 stat.  Each round runs the three commands
one after the other, so a noisy neighbour slows all three alike; the report
gives medians and the ratios of medians, measured side by side in one run.

Also measured: the fixed start-up cost, ``sctrace trace`` of an empty program
against the same program untraced.

    .venv/bin/python scripts/bench_trace.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

WORKLOAD = r'''
import os, socket, threading
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(128)
port = srv.getsockname()[1]
def serve():
    conn, _ = srv.accept()
    for _ in range(1000):
        conn.sendall(conn.recv(64))
    conn.close()
    for _ in range(100):
        c, _ = srv.accept(); c.recv(8); c.close()
t = threading.Thread(target=serve); t.start()
cli = socket.create_connection(("127.0.0.1", port))
for _ in range(1000):
    cli.sendall(b"ping"); cli.recv(64)
cli.close()
for _ in range(100):
    c = socket.create_connection(("127.0.0.1", port)); c.sendall(b"x"); c.recv(8); c.close()
t.join(); srv.close()
for _ in range(22000):
    os.getpid()
for _ in range(22000):
    os.stat("/")
'''


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    opts = parser.parse_args()
    python = os.path.realpath(sys.executable)
    strace = shutil.which("strace")
    sctrace = [sys.executable, "-m", "sctrace"]
    console = shutil.which("sctrace", path=os.path.dirname(sys.executable))
    if console:
        sctrace = [console]
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "workload.py")
        empty = os.path.join(tmp, "empty.py")
        with open(work, "w") as f:
            f.write(WORKLOAD)
        with open(empty, "w") as f:
            f.write("")
        commands = {
            "untraced": [python, work],
            "sctrace": [*sctrace, "trace", "-o", os.devnull, "--interpreter", python, work],
        }
        if strace:
            commands["strace"] = [strace, "-f", "--seccomp-bpf", "-e",
                                  "trace=%network,read,write,readv,writev,close", "-o", os.devnull, python, work]
        startup = {
            "empty untraced": [python, empty],
            "empty sctrace": [*sctrace, "trace", "-o", os.devnull, "--interpreter", python, empty],
        }
        results: dict[str, list[float]] = {name: [] for name in [*commands, *startup]}
        for cmd in {**commands, **startup}.values():  # warm caches once
            timed(cmd)
        for _ in range(opts.rounds):
            for name, cmd in {**commands, **startup}.items():
                results[name].append(timed(cmd))
    med = {name: statistics.median(values) for name, values in results.items()}
    print(f"rounds: {opts.rounds} (medians, seconds; interleaved)")
    for name, value in med.items():
        print(f"  {name:16s} {value:.3f}")
    if "strace" in med:
        print(f"sctrace / strace --seccomp-bpf: {med['sctrace'] / med['strace']:.2f}x")
    print(f"sctrace / untraced: {med['sctrace'] / med['untraced']:.2f}x")
    print(f"start-up cost (empty program): {1000 * (med['empty sctrace'] - med['empty untraced']):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
