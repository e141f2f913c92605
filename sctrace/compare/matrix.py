"""``sctrace matrix``: several programs' socket calls, one column per program, one row per life-cycle step.

    programs/traces --run_sides or load--> Trace --normalize (semantic)--> Steps
        --STEP_OF_CALL--> rows --brief texts of the real calls--> Matrix --render/matrix_*-->

Each program runs as ``sctrace compare`` runs one (comparing.run_sides: its own
worker, its own network namespace, a peer from drive.py), as many at once as
there are CPUs.  The semantic steps decide the rows and which calls are the
runtime's own (name-service lookups: counted, not shown); a cell shows every
real call a step stands for (a semantic step may join several reads), in a
short form that keeps what tells languages apart: flags, sizes, backlog,
addresses with stable port names, descriptors as roles where it matters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sctrace.compare.model import Step
from sctrace.compare.steptext import show
from sctrace.model.escape import escape_for_terminal
from sctrace.model.registry import REGISTRY
from sctrace.model.trace import Trace
from sctrace.peer.driver import DriveOptions
from sctrace.status import ExitStatus, SctraceError

# The rows, in the order of a socket's life.  CORE_STEPS are always shown (the life cycle of a server);
# the others only when some program made such a call.
STEPS = ("create", "options", "bind", "listen", "connect", "accept", "inspect", "receive", "send", "shutdown",
         "close", "other")
CORE_STEPS = frozenset({"create", "options", "bind", "listen", "accept", "receive", "send", "shutdown", "close"})

# Which step a call belongs to, by its real name (not the semantic one): each row of sctrace/model/registry.py
# names its step.  From the socket API of socket(2), setsockopt(2), fcntl(2), ioctl(2) and recv(2)/send(2):
# fcntl and ioctl (O_NONBLOCK, FIONBIO) set options, but sctrace's own tracer reports them on no socket, so
# they appear only in loaded strace logs.  The calls that only read a socket's state (getsockname,
# getpeername, getsockopt) are "inspect".  Any other name: "other".
STEP_OF_CALL: dict[str, str] = {c.name: c.step for c in REGISTRY if c.step}

_SIZE_KEYS = ("count", "len", "size", "vlen", "iovcnt")  # a read's or write's size, as the decoders name it


def _arg(args: dict[str, Any], key: str) -> str | None:
    value = args.get(key)
    return None if value is None else show(value)


def _flags(args: dict[str, Any], key: str = "flags") -> str | None:
    value = args.get(key)
    return None if value in (None, 0, "0") else show(value)


def _sized(args: dict[str, Any]) -> list[str | None]:
    size = next((args[k] for k in _SIZE_KEYS if k in args), None)
    return [None if size is None else show(size), _flags(args)]


def _send_sized(args: dict[str, Any]) -> list[str | None]:
    sized = _sized(args)
    return [*sized, _arg(args, "dest_addr")]


# What a cell shows of each call's arguments (stable-normalized: roles, PORT1, EPHEMERAL).  Descriptors are
# shown where they tell which socket a call is on (close, shutdown, inspect), not where it is plain.
BRIEF_ARGS: dict[str, Callable[[dict[str, Any]], list[str | None]]] = {
    "socket": lambda a: [_arg(a, "domain"), _arg(a, "type"), _arg(a, "protocol")],
    "socketpair": lambda a: [_arg(a, "domain"), _arg(a, "type"), _arg(a, "protocol")],
    "setsockopt": lambda a: [_arg(a, "level"), _arg(a, "optname"), _arg(a, "optval")],
    "getsockopt": lambda a: [_arg(a, "fd"), _arg(a, "level"), _arg(a, "optname")],
    "bind": lambda a: [_arg(a, "addr")],
    "connect": lambda a: [_arg(a, "addr")],
    "listen": lambda a: [_arg(a, "backlog")],
    "accept": lambda a: [],
    "accept4": lambda a: [_flags(a)],
    "getsockname": lambda a: [_arg(a, "fd")],
    "getpeername": lambda a: [_arg(a, "fd")],
    "read": _sized, "readv": _sized, "recv": _sized, "recvfrom": _sized, "recvmmsg": _sized,
    "recvmsg": lambda a: [_flags(a)],
    "write": _sized, "writev": _sized, "send": _sized, "sendto": _send_sized, "sendmmsg": _sized,
    "sendmsg": lambda a: [_flags(a)],
    "shutdown": lambda a: [_arg(a, "fd"), _arg(a, "how")],
    "close": lambda a: [_arg(a, "fd")],
}


def brief(step: Step) -> str:
    """A real call in short: ``accept4(SOCK_CLOEXEC)``, ``recvfrom(128)``, ``close(L1)``, ``read(65536) = 0``.

    step is a stable-level step (the real call's name and stable arguments).
    Errors are shown by name, an end of file as ``= 0``, a call that never
    returned (the program was stopped in it) as ``= ?``.
    """
    shown = BRIEF_ARGS.get(step.name)
    parts = [p for p in shown(step.args) if p is not None] if shown else []
    text = f"{step.name}({', '.join(parts)})"
    if step.errno:
        text += f" = {step.errno}"
    elif step.ret is None:
        text += " = ?"
    elif step.ret == 0 and STEP_OF_CALL.get(step.name) == "receive":
        text += " = 0"
    return escape_for_terminal(text)


@dataclass
class Entry:
    """One line of a cell: a call (``count`` times in a row), by process role when not the first process."""

    text: str
    name: str
    proc: str
    count: int = 1
    errno: str | None = None

    def shown(self) -> str:
        text = self.text if self.proc == "P1" else f"{self.proc}: {self.text}"
        return text if self.count == 1 else f"{text} ×{self.count}"


@dataclass
class Column:
    """One program: what ran, how it ended, and what its runtime did on its own account."""

    program: str
    language: str | None
    interpreter: str | None
    interpreter_version: str | None
    exit: dict[str, Any]
    source: str  # "run" (sctrace ran it) or "trace" (a saved trace or strace log)
    runtime_calls: int = 0  # name-service lookups by the C library: not the program's, not shown

    @property
    def runtime(self) -> str:
        """"python 3.11.7", "go1.19.8" (a version that names its language already), or "executable"."""
        version = self.interpreter_version
        if self.language is None:
            return version or "executable"
        if version is None:
            return self.language
        return version if version.startswith(self.language) else f"{self.language} {version}"


@dataclass
class MatrixRow:
    step: str
    cells: list[list[Entry]]  # one per column


@dataclass
class Matrix:
    columns: list[Column]
    rows: list[MatrixRow] = field(default_factory=list)

    def labels(self) -> list[str]:
        """What heads each column: the program's file name, or its whole path where two names are alike."""
        names = [os.path.basename(c.program) or c.program for c in self.columns]
        return names if len(set(names)) == len(names) else [c.program for c in self.columns]


def _covered(semantic: list[Step], stable: list[Step]) -> list[list[Step]]:
    """For each semantic step, the real (stable-level) calls it stands for.

    Both levels walk the same events in the same order and name processes
    alike; a semantic step that joins calls takes its first call's place, and
    the calls it joined follow it in its process until its next step.
    """
    where = {id(st.event): i for i, st in enumerate(stable)}
    of_proc: dict[str, list[int]] = {}
    for i, st in enumerate(stable):
        of_proc.setdefault(st.proc, []).append(i)
    position = {i: k for indices in of_proc.values() for k, i in enumerate(indices)}
    starts: dict[str, list[int]] = {}
    for st in semantic:
        starts.setdefault(st.proc, []).append(position[where[id(st.event)]])
    following: dict[str, int] = {}
    out = []
    for st in semantic:
        indices = of_proc[st.proc]
        n = following[st.proc] = following.get(st.proc, -1) + 1
        begin = starts[st.proc][n]
        end = starts[st.proc][n + 1] if n + 1 < len(starts[st.proc]) else len(indices)
        out.append([stable[i] for i in indices[begin:end]])
    return out


def cells_of(trace: Trace) -> tuple[dict[str, list[Entry]], int]:
    """A trace's calls by step (the program's own processes only) and its count of name-service calls."""
    from sctrace.compare.normalize import is_name_service, normalize

    semantic = normalize(trace, "semantic")
    stable = normalize(trace, "stable")
    cells: dict[str, list[Entry]] = {}
    runtime_calls = 0
    for st, calls in zip(semantic, _covered(semantic, stable), strict=True):
        if st.proc.startswith("peer "):  # an explicit peer's lane in a saved compare trace: not the program
            continue
        if is_name_service(st):
            runtime_calls += len(calls)
            continue
        for call in calls:
            entries = cells.setdefault(STEP_OF_CALL.get(call.name, "other"), [])
            text = brief(call)
            if entries and entries[-1].text == text and entries[-1].proc == call.proc:
                entries[-1].count += 1
            else:
                entries.append(Entry(text, call.name, call.proc, 1, call.errno))
    return cells, runtime_calls


def matrix_of(traces: list[tuple[Trace, str, dict[str, Any]]]) -> Matrix:
    """The matrix of (trace, source, exit) triples, one column each, in the order given."""
    columns = []
    by_column = []
    for trace, source, exit in traces:
        h = trace.header
        cells, runtime_calls = cells_of(trace)
        columns.append(Column(h.program, h.language, h.interpreter, h.interpreter_version, exit, source,
                              runtime_calls))
        by_column.append(cells)
    rows = [MatrixRow(step, [cells.get(step, []) for cells in by_column]) for step in STEPS
            if step in CORE_STEPS or any(step in cells for cells in by_column)]
    return Matrix(columns, rows)


def build_matrix(programs: list[str], *, drive: DriveOptions, netns: bool | None = None,
                 notices: list[str] | None = None) -> Matrix:
    """Run (or load) each of programs and make their matrix.  Any trouble is an SctraceError."""
    from sctrace.compare.run import is_saved_trace, load_saved
    from sctrace.kernel import netns as ns
    from sctrace.peer.sides import exit_info, run_sides

    if not programs:
        raise SctraceError("matrix needs at least one program or trace: sctrace matrix PROGRAM...",
                           ExitStatus.USAGE)
    saved = [is_saved_trace(p) for p in programs]
    to_run = [p for p, s in zip(programs, saved, strict=True) if not s]
    runs = []
    if to_run:
        use_netns = ns.available() if netns is None else netns
        if not use_netns and notices is not None:
            notices.append("no network namespace may be made here: the programs share the host's loopback")
        at_once = max(1, len(os.sched_getaffinity(0)))  # one program per CPU, each tracer pinned to its own
        for start in range(0, len(to_run), at_once):
            runs.extend(run_sides(to_run[start:start + at_once], drive, use_netns))
    ran = iter(zip(to_run, runs, strict=True))
    traces = []
    for program, is_saved in zip(programs, saved, strict=True):
        if is_saved:
            trace = load_saved(program)
            traces.append((trace, "trace", exit_info(None, trace)))
            continue
        _, run = next(ran)
        traces.append((run.trace, "run", exit_info(run, run.trace)))
        if notices is not None:
            notices.extend(f"{program}: {n}" for n in run.notices)
            if run.stderr:
                text = escape_for_terminal(run.stderr.decode("utf-8", "replace").rstrip())
                notices.append(f"{program} failed (status {run.status}); its stderr:\n{text}")
    return matrix_of(traces)
