"""``sctrace compare``: obtain two traces (run, or load), normalize, align, summarize.

Each program runs in a worker process of its own (so the two run in parallel,
each with its tracer pinned to its own CPU where there are two), in its own
network namespace where the user may make one, driven by drive.Driver.  A
saved trace (JSON Lines) or an strace log given instead of a program is loaded.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sctrace.compare.model import Comparison, Side
from sctrace.drive import DriveOptions, Driver
from sctrace.runners import RUNNERS
from sctrace.status import ExitStatus, SctraceError
from sctrace.trace import Trace, TraceFormatError


@dataclass
class SideRun:
    trace: Trace
    status: int
    exchange: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    stderr: bytes = b""  # what the program wrote to stderr, kept when it failed


def is_saved_trace(path: str) -> bool:
    """A file is a saved trace, not a program, when its content says so."""
    if os.path.splitext(path)[1].lower() in RUNNERS or not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(5)]
    except OSError:
        return False
    if head[0].lstrip().startswith("{"):
        return True
    from sctrace.strace_log import looks_like_strace_log

    return looks_like_strace_log(head)


def load_saved(path: str) -> Trace:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            first = f.readline()
            f.seek(0)
            if first.lstrip().startswith("{"):
                return Trace.parse(f, path)
            from sctrace.strace_log import parse_strace_log

            return parse_strace_log(f, path)
    except TraceFormatError as exc:
        raise SctraceError(f"{exc}; not a trace sctrace can read", ExitStatus.USAGE) from None


def _run_side(program: str, drive: DriveOptions, netns: bool, cpu: int, out: str) -> int:
    """In a worker: trace one program with its peer; write the trace and what happened."""
    from sctrace.session import trace_program
    from sctrace.tracer import TraceOptions

    # The program's own output would tangle with the comparison: keep it apart.
    for fd, suffix in ((1, ".stdout"), (2, ".stderr")):
        target = os.open(out + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    driver = Driver(drive)
    options = TraceOptions(string_limit=4096, netns=netns, cpu=cpu)
    result = trace_program(program, [], options=options, observer=driver, timeout=drive.timeout * 3)
    result.trace.save(out + ".jsonl")
    ex = driver.exchange
    report = {
        "status": result.status,
        "notices": result.notices,
        "exchange": {"role": ex.role, "stopped": ex.stopped, "error": ex.error,
                     "sent": ex.sent.decode("latin-1"), "received": ex.received.decode("latin-1")},
    }
    Path(out + ".json").write_text(json.dumps(report))
    return 0


def run_sides(programs: list[str], drive: DriveOptions, netns: bool) -> list[SideRun]:
    """Trace each program in its own worker, all at once; errors become SctraceError."""
    from sctrace.runners import resolve

    for program in programs:
        resolve(program, [])  # bad input is reported before anything runs
    tmp = tempfile.mkdtemp(prefix="sctrace-compare-")
    workers: dict[int, str] = {}
    try:
        for i, program in enumerate(programs):
            out = os.path.join(tmp, f"side{i}")
            pid = os.fork()
            if pid == 0:
                code = 70
                try:
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    code = _run_side(program, drive, netns, i, out)
                except SctraceError as exc:
                    Path(out + ".error").write_text(json.dumps({"message": exc.message, "status": exc.status}))
                    code = exc.status
                except BaseException as exc:  # noqa: BLE001 - reported by the parent in one line
                    Path(out + ".error").write_text(json.dumps({"message": f"{type(exc).__name__}: {exc}",
                                                                "status": int(ExitStatus.INTERNAL)}))
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            workers[pid] = out
        for pid in list(workers):
            os.waitpid(pid, 0)
        runs = []
        for i, program in enumerate(programs):
            out = os.path.join(tmp, f"side{i}")
            if os.path.exists(out + ".error"):
                err = json.loads(Path(out + ".error").read_text())
                raise SctraceError(f"{program}: {err['message']}", err["status"])
            report = json.loads(Path(out + ".json").read_text())
            if report["exchange"]["error"]:
                raise SctraceError(f"{program}: {report['exchange']['error']}", ExitStatus.USAGE)
            run = SideRun(Trace.load(out + ".jsonl"), report["status"], report["exchange"], report["notices"])
            if run.status != 0 and not run.exchange.get("stopped"):
                run.stderr = Path(out + ".stderr").read_bytes()
            runs.append(run)
        return runs
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)


def exit_info(run: SideRun | None, trace: Trace) -> dict[str, Any]:
    """How the side's main process ended, from its trace."""
    main = trace.events[0].pid if trace.events else None
    for ev in reversed(trace.events):
        if ev.pid == main and ev.type in ("exit", "killed"):
            return dict(ev.info)
    return {"code": run.status} if run is not None else {}


def side_of(label: str, trace: Trace, run: SideRun | None) -> Side:
    h = trace.header
    return Side(label, h.language, h.interpreter, h.interpreter_version, exit_info(run, trace), h)


def compare(left: str, right: str, *, level: str, drive: DriveOptions, netns: bool | None = None,
            notices: list[str] | None = None) -> Comparison:
    """The comparison of LEFT and RIGHT, each a program to run or a saved trace."""
    from sctrace import netns as ns
    from sctrace.compare.align import align
    from sctrace.compare.normalize import normalize

    saved = {arg: is_saved_trace(arg) for arg in (left, right)}
    to_run = [arg for arg in (left, right) if not saved[arg]]
    runs: dict[str, SideRun] = {}
    if to_run:
        use_netns = ns.available() if netns is None else netns
        if not use_netns and notices is not None:
            notices.append("no network namespace may be made here: the programs share the host's loopback")
        for arg, run in zip(to_run, run_sides(to_run, drive, use_netns), strict=True):
            runs[arg] = run
            if notices is not None:
                notices.extend(f"{arg}: {n}" for n in run.notices)
                if run.stderr:
                    from sctrace.escape import escape_for_terminal

                    text = escape_for_terminal(run.stderr.decode("utf-8", "replace").rstrip())
                    notices.append(f"{arg} failed (status {run.status}); its stderr:\n{text}")
    # Traces of 100,000 events make millions of objects, none of them cyclic: the cyclic
    # garbage collector would walk them all again and again (half the time of a large compare).
    gc.disable()
    try:
        traces = {arg: runs[arg].trace if arg in runs else load_saved(arg) for arg in (left, right)}
        rows = align(normalize(traces[left], level), normalize(traces[right], level))
    finally:
        gc.enable()
    return Comparison(level, side_of(left, traces[left], runs.get(left)),
                      side_of(right, traces[right], runs.get(right)), rows)


def status_of(comparison: Comparison) -> int:
    """diff(1)'s convention: 0 equivalent, 1 different.

    A side killed by a signal (not by sctrace) while the other was not is a
    difference even if the calls agree.
    """
    crashed = [("signal" in s.exit and s.exit.get("by") != "sctrace") for s in (comparison.left, comparison.right)]
    if crashed[0] != crashed[1]:
        return 1
    return 0 if comparison.equivalent else 1
