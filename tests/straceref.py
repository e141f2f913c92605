"""Run a program under sctrace and under strace, and reduce both traces to what must agree.

strace is the reference: ``strace -f -yy -e trace=%network,read,write,close,readv,writev``
(STRACE_FILTER: strace's own network class and sctrace's FD_IO calls), filtered
to calls on socket descriptors, must show the same calls with the same results
as sctrace.  Two runs of a program differ in what the kernel picks each
time (process ids, ephemeral ports, inode numbers, buffer addresses), so those
are replaced by placeholders; everything else is compared exactly, process by
process.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sctrace.model import syscalls
from sctrace.model.strace_log import parse_strace_log
from sctrace.model.trace import Event, Trace
from tests.helpers import PYTHON, ROOT
from tests.in_netns import can_unshare

STRACE = shutil.which("strace")
SOCKET_ENDPOINT = re.compile(r"^(TCP|TCPv6|UDP|UDPv6|UDPLITE|RAW|RAWv6|UNIX|UNIX-\w+|NETLINK|socket):")
_LONG_NUMBER = re.compile(r"\d{4,}")
_POINTER = re.compile(r"^0x[0-9a-f]+$")
_FIXTURE_TMPDIR = re.compile(r"/tmp/sctrace-fx-[A-Za-z0-9_-]+")  # the fixtures' private directories
# unix_abstract's name carries its pid ("sctrace-fx-abstract-304"): a pid of any length is the run's own.
_FIXTURE_PID = re.compile(r"(sctrace-fx-abstract-)\d+")

# What strace is asked to trace: its own %network class, and the descriptor I/O calls that sctrace reports
# on sockets (FD_IO, from sctrace/model/registry.py).
STRACE_FILTER = "trace=%network," + ",".join(syscalls.FD_IO)

# How each language's fixtures are run: the same argv under both tracers.
INTERPRETERS = {
    ".py": PYTHON,
    ".php": shutil.which("php"),
    ".js": shutil.which("node"),
    ".pl": shutil.which("perl"),
    ".rb": shutil.which("ruby"),
}


# Each run in a fresh network namespace where we may make one (see tests/in_netns.py).
NETNS = [sys.executable, str(Path(__file__).with_name("in_netns.py"))] if can_unshare() else []


def interpreter_for(fixture: Path) -> str | None:
    return INTERPRETERS.get(fixture.suffix)


def run_sctrace(fixture: Path, out: Path, *extra: str, timeout: float = 120) -> tuple[Trace, int]:
    interp = interpreter_for(fixture)
    assert interp is not None
    cmd = [*NETNS, sys.executable, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(out),
           "--interpreter", interp, *extra, str(fixture)]
    proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return Trace.load(out), proc.returncode


def run_strace(fixture: Path, out: Path, timeout: float = 120) -> tuple[Trace, int]:
    interp = interpreter_for(fixture)
    assert interp is not None and STRACE is not None
    cmd = [*NETNS, STRACE, "-f", "-yy", "-qq", "-e", STRACE_FILTER,
           "-o", str(out), interp, str(fixture)]
    proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    with open(out, encoding="utf-8", errors="surrogateescape") as f:
        return parse_strace_log(f, str(out)), proc.returncode


def is_socket_call(ev: Event) -> bool:
    if ev.type != "syscall" or ev.name is None:
        return False
    if ev.name in syscalls.NETWORK:
        return True
    return ev.name in syscalls.FD_IO and bool(ev.endpoint and SOCKET_ENDPOINT.match(ev.endpoint))


def _placeholders(value: Any, key: str = "") -> Any:
    """Replace what the kernel chooses anew each run: ports, inodes, addresses in memory."""
    if isinstance(value, dict):
        return {k: _placeholders(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    if key == "port" and isinstance(value, int) and value >= 1024:
        return "PORT"
    if isinstance(value, str):
        if _POINTER.match(value):
            return "PTR"
        return _LONG_NUMBER.sub("N", _FIXTURE_TMPDIR.sub("/TMPDIR", _FIXTURE_PID.sub(r"\1PID", value)))
    return value


def call_key(ev: Event) -> str:
    key = {
        "name": ev.name,
        "fd": ev.fd,
        "ret": ev.ret,
        "errno": ev.errno,
        "endpoint": _placeholders(ev.endpoint),
        "ret_endpoint": _placeholders(ev.ret_endpoint),
        "args": _placeholders(ev.args),
    }
    return json.dumps(key, sort_keys=True)


def merge_io(keys: list[Event]) -> list[Event]:
    """Fold runs of reads (or writes) on one descriptor into one call: chunking varies by run."""
    merged: list[Event] = []
    for ev in keys:
        last = merged[-1] if merged else None
        if (last is not None and last.name == ev.name and last.fd == ev.fd and ev.ret and ev.ret > 0
                and last.ret and last.ret > 0 and ev.name in ("read", "write", "recvfrom", "sendto")):
            last.ret += ev.ret
            continue
        copy = Event(ev.type, ev.seq, ev.pid, ev.t, ev.name, {}, ev.ret, ev.errno, ev.fd, ev.endpoint,
                     ev.ret_endpoint)
        merged.append(copy)
    return merged


def renumber_fds(events: list[Event]) -> list[Event]:
    """Descriptor numbers by order of first appearance in this task.

    Threads share one descriptor table, so which thread gets which number
    depends on who runs first: the numbers are the kernel's choice, not the
    program's, in a threaded program.
    """
    names: dict[int, str] = {}
    count = 0

    def name(fd: int, fresh: bool = False) -> str:
        # A descriptor returned anew gets a new name even if its number was used before.
        nonlocal count
        if fresh or fd not in names:
            count += 1
            names[fd] = f"FD{count}"
        return names[fd]

    out = []
    for ev in events:
        args = dict(ev.args)
        for key in ("fd", "oldfd"):
            if isinstance(args.get(key), int):
                args[key] = name(args[key])
        fd: Any = None if ev.fd is None else name(ev.fd)
        ret: Any = ev.ret
        if ev.name in syscalls.RETURNS_SOCKET and isinstance(ev.ret, int) and ev.ret >= 0:
            ret = name(ev.ret, fresh=True)
        out.append(Event(ev.type, ev.seq, ev.pid, ev.t, ev.name, args, ret, ev.errno, fd, ev.endpoint,
                         ev.ret_endpoint))
    return out


def per_process(trace: Trace, merge: bool = False, renumber: bool = False) -> list[list[str]]:
    """Each task's socket calls, the tasks in a canonical order (pids differ run to run)."""
    by_pid: dict[int, list[Event]] = {}
    for ev in trace.events:
        if is_socket_call(ev):
            by_pid.setdefault(ev.pid, []).append(ev)
    sequences = []
    for events in by_pid.values():
        if merge:
            events = merge_io(events)
        if renumber:
            events = renumber_fds(events)
        sequences.append([call_key(ev) for ev in events])
    return sorted(sequences)


def assert_same_processes(want: list[list[str]], got: list[list[str]], want_name: str, got_name: str) -> None:
    """Fail with a unified diff (first 80 lines) when two per_process listings differ."""
    if got != want:
        diff = difflib.unified_diff(
            [line for s in want for line in ["--- process", *s]],
            [line for s in got for line in ["--- process", *s]],
            want_name, got_name, lineterm="", n=2,
        )
        pytest.fail(f"{got_name} and {want_name} disagree:\n" + "\n".join(list(diff)[:80]))
