"""Golden traces: a program's socket calls kept as a regression test (``sctrace record`` / ``sctrace check``).

A golden file is a normalized trace (docs/golden-format.md): each step's call as
``sctrace compare`` shows it, and the values it is compared by, with nothing in
it that changes from run to run or machine to machine (pids, descriptor
numbers, ports, inodes, timings, interpreter versions, the machine's own
name-service lookups).  ``check`` runs the program again, turns that run into
the same form, and aligns the two with compare's own aligner, so a difference
reads exactly as ``sctrace compare`` prints it.

Both sides of a check go through the same form (a Golden), so what check sees
of the new run is what ``record`` would write of it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sctrace.compare.model import Comparison, Side, Step
from sctrace.model.trace import Event, Header, Trace, loads_strict
from sctrace.peer.driver import DriveOptions
from sctrace.status import ExitStatus, SctraceError

FORMAT = 1  # the version this sctrace writes and the newest it reads
LEVELS = ("stable", "semantic")  # raw keeps pids and descriptor numbers: no golden file could be stable
FIRST_LINE = "# sctrace golden trace, format {format}, level {level}"
_FIRST_LINE = re.compile(r"# sctrace golden trace, format (\S+), level (\S+)")
_COMMENT = (
    "# Made by `sctrace record`; `sctrace check PROGRAM FILE` runs PROGRAM again and compares it with this file.",
    "# Each step: its call as `sctrace compare` shows it, then (indented) the values it is compared by.",
)
# What may be kept of how a program ended (the tracer's exit events; the rest is left out).
_EXIT_KEYS = ("code", "signal", "core", "by", "reason")
_STEP = re.compile(r"(\S+(?: P\d+)?) (\S.*)")
_DATA_INDENT = "    "
_ENCODE = json.JSONEncoder(sort_keys=True, ensure_ascii=True)


class GoldenFormatError(SctraceError):
    """A golden file that cannot be used: says which file and line, and what to do (status 2)."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}, line {line}: {reason}", ExitStatus.USAGE)
        self.source = source
        self.line = line
        self.reason = reason


@dataclass
class GoldenStep:
    """One normalized call: ``proc`` and ``text`` as compare shows them; name, args, ret, errno as compared.

    ``args`` are the arguments the comparison key is built from (a rule may leave
    a place out of the key, e.g. a buffer size a read is not compared by).
    """

    proc: str
    text: str
    name: str
    args: dict[str, Any]
    ret: Any
    errno: str | None
    rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    informational: bool = False

    def line(self) -> str:
        """``P1 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L1``, as compare shows the step."""
        return f"{self.proc} {self.text}"


@dataclass
class Golden:
    """A golden trace: how it was made (level, program, its peer) and its steps, grouped by process."""

    level: str
    program: str
    steps: list[GoldenStep]
    args: list[str] = field(default_factory=list)
    language: str | None = None
    exit: dict[str, Any] = field(default_factory=dict)
    send: bytes | None = None
    reply: bytes | None = None
    client: str | None = None
    server: str | None = None
    peer: dict[str, Any] | None = None  # the explicit peer program: program, language, exit

    def lines(self) -> list[str]:
        """The steps as compare shows them, one string each: what a test may assert on."""
        return [step.line() for step in self.steps]

    def dumps(self) -> str:
        """The golden file's text (docs/golden-format.md); equal Goldens give equal bytes."""
        out = [FIRST_LINE.format(format=FORMAT, level=self.level), *_COMMENT]
        meta: dict[str, Any] = {"program": self.program, "args": self.args, "language": self.language,
                                "exit": self.exit}
        for name in ("send", "reply"):
            value = getattr(self, name)
            if value is not None:
                meta[name] = value.decode("latin-1")
        for name in ("client", "server", "peer"):
            if getattr(self, name) is not None:
                meta[name] = getattr(self, name)
        out.extend(f"@{name} {_ENCODE.encode(value)}" for name, value in meta.items())
        for step in self.steps:
            data: dict[str, Any] = {"call": [step.name, step.args, step.ret, step.errno]}
            if step.rules:
                data["rules"] = step.rules
            if step.notes:
                data["notes"] = step.notes
            if step.informational:
                data["info"] = True
            out.append(step.line())
            out.append(_DATA_INDENT + _ENCODE.encode(data))
        return "\n".join(out) + "\n"

    def drive(self, *, send: bytes | None = None, reply: bytes | None = None, client: str | None = None,
              server: str | None = None, timeout: float = 10.0) -> DriveOptions:
        """The peer options for running the program again: the given ones, else those it was recorded with.

        A --client or --server given replaces the recorded peer (of either kind).
        """
        defaults = DriveOptions()
        if client is None and server is None:
            client, server = self.client, self.server
        return DriveOptions(
            send if send is not None else self.send if self.send is not None else defaults.send,
            reply if reply is not None else self.reply if self.reply is not None else defaults.reply,
            timeout, client=client, server=server,
        )


# -- from a trace ----------------------------------------------------------------------------------

def _proc_order(proc: str) -> tuple[int, str, int]:
    """The program's processes first (P1, P2, ... in order of appearance), then each peer lane's."""
    lane, _, role = proc.rpartition(" ")
    number = int(role[1:]) if role[1:].isdigit() else 0
    return (1 if lane else 0, lane, number)


def steps_of_trace(trace: Trace, level: str) -> list[GoldenStep]:
    """trace's socket calls normalized at level, grouped by process (the order in which processes
    interleave changes from run to run; the order within one does not), name-service lookups left out."""
    from sctrace.compare.normalize import is_name_service, normalize
    from sctrace.render.compare_text import step_text  # with --states, the call's TCP state: shown, not compared

    if level not in LEVELS:
        raise SctraceError(f"a golden trace is made at level stable or semantic, not {level}: raw keeps pids and "
                           "descriptor numbers, which change from run to run", ExitStatus.USAGE)
    by_proc: dict[str, list[GoldenStep]] = {}
    for step in normalize(trace, level):
        if is_name_service(step):
            continue
        _, name, args, ret, errno = json.loads(step.key)  # what the step is compared by
        by_proc.setdefault(step.proc, []).append(GoldenStep(
            step.proc, step_text(step), name, args, ret, errno, list(step.rules), list(step.notes),
            step.informational))
    return [step for steps in _canonical_processes(by_proc) for step in steps]


def _canonical_processes(by_proc: dict[str, list[GoldenStep]]) -> list[list[GoldenStep]]:
    """Each process's steps, the processes renumbered so that the numbering does not depend on scheduling.

    compare numbers processes in the order of their first socket call, which for threads or children
    started together is the scheduler's choice (threaded_server.py's clients).  Here each lane's first
    process (the program itself, the peer) keeps P1, and the others are numbered in the order of what
    they did (their steps' comparison data), which is the same from run to run when each does the same.
    """
    lanes: dict[str, list[str]] = {}
    for proc in sorted(by_proc, key=_proc_order):
        lanes.setdefault(proc.rpartition(" ")[0], []).append(proc)
    out = []
    for lane, procs in lanes.items():
        first, rest = procs[0], procs[1:]
        rest.sort(key=lambda proc: _ENCODE.encode([[s.name, s.args, s.ret, s.errno] for s in by_proc[proc]]))
        for n, proc in enumerate([first, *rest], start=1):
            role = f"{lane} P{n}" if lane else f"P{n}"
            for step in by_proc[proc]:
                step.proc = role
            out.append(by_proc[proc])
    return out


def _exit_of(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info[k] for k in _EXIT_KEYS if k in info}


def golden_of(trace: Trace, level: str, *, program: str, args: list[str], drive: DriveOptions,
              exit: dict[str, Any]) -> Golden:
    """The golden form of a run of program (with args, driven by drive) that made trace and ended as exit."""
    peer = trace.header.extra.get("peer")
    peer_info = None
    if isinstance(peer, dict) and (drive.client is not None or drive.server is not None):
        given = drive.client if drive.client is not None else drive.server
        ended = peer.get("exit")
        peer_info = {"program": given, "language": peer.get("language"),
                     "exit": _exit_of(ended if isinstance(ended, dict) else {})}
    return Golden(level, program, steps_of_trace(trace, level), list(args), trace.header.language, _exit_of(exit),
                  drive.send, drive.reply, drive.client, drive.server, peer_info)


# -- from a file -----------------------------------------------------------------------------------

def load(path: str | os.PathLike[str], name: str | None = None) -> Golden:
    """The golden file at path; GoldenFormatError (file and line) when it cannot be used.

    name: how messages call the file (default: path).
    """
    source = name if name is not None else os.fspath(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SctraceError(f"{source}: no such golden file; make it with sctrace record PROGRAM -o {source}",
                           ExitStatus.USAGE) from None
    except IsADirectoryError:
        raise SctraceError(f"{source} is a directory, not a golden file", ExitStatus.USAGE) from None
    except OSError as exc:
        raise SctraceError(f"cannot read {source}: {exc.strerror}", ExitStatus.USAGE) from None
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[:exc.start].count(b"\n") + 1
        raise GoldenFormatError(source, line, "not UTF-8 text; not a golden file (make it with sctrace record)") \
            from None
    return loads(text, source)


def loads(text: str, source: str = "<golden>") -> Golden:
    """The Golden in text (a golden file's content); source names it in errors."""
    lines = text.splitlines()
    if not lines or not text.strip():
        raise GoldenFormatError(source, 1, "empty file; not a golden trace (make it with sctrace record)")
    level = _first_line(lines[0], source)
    meta: dict[str, tuple[Any, int]] = {}  # @name -> (value, line number)
    steps: list[GoldenStep] = []
    pending: tuple[int, str, str] | None = None  # a step line waiting for its data line: (number, proc, text)
    for number, line in enumerate(lines[1:], start=2):
        if pending is not None:
            if not line.startswith(_DATA_INDENT):
                raise GoldenFormatError(source, number, "expected the indented data of the step above; "
                                        "the file was edited by hand or cut short (record it again)")
            steps.append(_step(pending[1], pending[2], _json(line, number, source), number, source))
            pending = None
        elif not line.strip() or line.startswith("#"):
            continue
        elif line.startswith("@"):
            name, _, value = line[1:].partition(" ")
            meta[name] = (_json(value, number, source), number)
        else:
            match = _STEP.fullmatch(line)
            if match is None:
                raise GoldenFormatError(source, number, "not a step (PROCESS CALL), a @name value or a comment")
            pending = (number, match.group(1), match.group(2))
    if pending is not None:
        raise GoldenFormatError(source, pending[0], "a step without its data line; the file is cut short "
                                "(record it again)")
    return _golden(level, meta, steps, source)


def _first_line(line: str, source: str) -> str:
    match = _FIRST_LINE.fullmatch(line.strip())
    if match is None:
        raise GoldenFormatError(source, 1, "not a golden trace (it should begin "
                                f"{FIRST_LINE.format(format=FORMAT, level='LEVEL')!r}; make it with sctrace record)")
    version, level = match.groups()
    if not version.isdigit():
        raise GoldenFormatError(source, 1, f"format version {version!r} is not a number")
    if int(version) > FORMAT:
        raise GoldenFormatError(source, 1, f"format {version} was made by a newer sctrace (this one reads up to "
                                f"format {FORMAT}); upgrade sctrace or record the file again")
    if level not in LEVELS:
        raise GoldenFormatError(source, 1, f"unknown level {level!r}; expected {' or '.join(LEVELS)}")
    return level


def _json(text: str, number: int, source: str) -> Any:
    try:
        return loads_strict(text)
    except json.JSONDecodeError as exc:
        raise GoldenFormatError(source, number, f"bad JSON ({exc.msg} at column {exc.colno}); "
                                "the file is corrupt (record it again)") from None
    except ValueError as exc:
        raise GoldenFormatError(source, number, f"{exc}; the file is corrupt (record it again)") from None


def _step(proc: str, text: str, data: Any, number: int, source: str) -> GoldenStep:
    call = data.get("call") if isinstance(data, dict) else None
    if not (isinstance(call, list) and len(call) == 4 and isinstance(call[0], str) and isinstance(call[1], dict)
            and (call[3] is None or isinstance(call[3], str))):
        raise GoldenFormatError(source, number, 'the data of a step needs "call": [NAME, {ARGS}, RESULT, ERRNO]')
    assert isinstance(data, dict)
    rules, notes, info = data.get("rules", []), data.get("notes", []), data.get("info", False)
    if not (_strings(rules) and _strings(notes) and isinstance(info, bool)):
        raise GoldenFormatError(source, number, '"rules" and "notes" must be lists of strings, "info" true or false')
    return GoldenStep(proc, text, call[0], call[1], call[2], call[3], rules, notes, info)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


_META_TYPES: dict[str, tuple[type, ...]] = {
    "program": (str,), "args": (list,), "language": (str, type(None)), "exit": (dict,), "send": (str, type(None)),
    "reply": (str, type(None)), "client": (str, type(None)), "server": (str, type(None)), "peer": (dict, type(None)),
}
_META_WORDS = {str: "a string", list: "a list", dict: "an object", type(None): "null"}


def _golden(level: str, meta: dict[str, tuple[Any, int]], steps: list[GoldenStep], source: str) -> Golden:
    """The Golden of a parsed file: each @name value checked for its type (a newer writer's extra names are
    ignored)."""
    for name, (value, number) in meta.items():
        kinds = _META_TYPES.get(name)
        if kinds is not None and not isinstance(value, kinds):
            raise GoldenFormatError(source, number, f"@{name} must be {' or '.join(_META_WORDS[k] for k in kinds)}")
        if name == "args" and not all(isinstance(a, str) for a in value):
            raise GoldenFormatError(source, number, "@args must be a list of strings")

    def get(name: str, default: Any) -> Any:
        return meta[name][0] if name in meta else default

    program, args = get("program", ""), get("args", [])
    send, reply = get("send", None), get("reply", None)
    return Golden(
        level, program, steps, args, get("language", None), get("exit", {}),
        send.encode("latin-1", "replace") if send is not None else None,
        reply.encode("latin-1", "replace") if reply is not None else None,
        get("client", None), get("server", None), get("peer", None),
    )


# -- running and comparing -------------------------------------------------------------------------

@dataclass
class Recording:
    """A program's run: the trace as traced (``trace``, the value ``sctrace trace`` saves) and its golden form."""

    trace: Trace
    golden: Golden
    notices: list[str] = field(default_factory=list)


def record(program: str, args: list[str] | None = None, *, level: str = "semantic",
           drive: DriveOptions | None = None, netns: bool | None = None) -> Recording:
    """Run program (driven as compare drives a side) and return its trace and golden form."""
    from sctrace.kernel import netns as ns
    from sctrace.peer.sides import exit_info, run_sides

    if level not in LEVELS:
        steps_of_trace(Trace(Header(argv=[])), level)  # raises the error for people
    drive = drive if drive is not None else DriveOptions()
    args = list(args or [])
    use_netns = ns.available() if netns is None else netns
    notices = [] if use_netns else ["no network namespace may be made here: the program uses the host's loopback"]
    run = run_sides([program], drive, use_netns, args=[args])[0]
    trace, stderr, exit = run.trace, run.stderr, exit_info(run, run.trace)
    notices.extend(run.notices)
    if stderr:
        from sctrace.model.escape import escape_for_terminal

        notices.append(f"{program} failed; its stderr:\n"
                       + escape_for_terminal(stderr.decode("utf-8", "replace").rstrip()))
    golden = golden_of(trace, level, program=program, args=args, drive=drive, exit=exit)
    return Recording(trace, golden, notices)


def steps(golden: Golden) -> list[Step]:
    """golden's steps as compare's Steps (each with a made-up event whose time is its place in the file)."""
    from sctrace.compare.normalize import make_key

    out = []
    for i, g in enumerate(golden.steps):
        event = Event(type="syscall", seq=i, pid=0, t=float(i), name=g.name, args=g.args, errno=g.errno)
        out.append(Step(g.proc, g.name, g.args, g.ret, g.errno, make_key(g.proc, g.name, g.args, g.ret, g.errno),
                        g.text, event, list(g.rules), list(g.notes), g.informational))
    return out


def check_level(golden: Golden, level: str | None, source: str) -> str:
    """The level to check at: the file's, which must be the one asked for (None: whatever the file has)."""
    if level is not None and level != golden.level:
        raise GoldenFormatError(source, 1, f"made at level {golden.level}, but level {level} was asked; "
                                f"check at --level {golden.level}, or record the file again at {level}")
    return golden.level


def compare_goldens(expected: Golden, expected_label: str, actual: Golden, actual_label: str,
                    actual_header: Header | None = None) -> Comparison:
    """The side-by-side comparison of a golden file (left) and a new run (right), as compare makes it."""
    from sctrace.compare.align import align

    left = Side(expected_label, expected.language, None, None, expected.exit, _peer_header(expected))
    right = Side(actual_label, actual.language, actual_header.interpreter if actual_header else None,
                 actual_header.interpreter_version if actual_header else None, actual.exit, _peer_header(actual))
    return Comparison(expected.level, left, right, align(steps(expected), steps(actual)))


def _peer_header(golden: Golden) -> Header | None:
    return Header(argv=[], extra={"peer": golden.peer}) if golden.peer is not None else None


def write(golden: Golden, path: str) -> None:
    """Write golden to path ("-": stdout) whole or not at all (a failed write leaves the old file).

    Only a regular file is replaced; a device, a FIFO or a symlink is written in place (sctrace.model.output).
    """
    import sys

    from sctrace.model.output import write_whole

    text = golden.dumps()
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_whole(path, text)


@dataclass
class CheckResult:
    """What ``check`` found: the comparison (golden file left, new run right) and its status (0 or 1)."""

    comparison: Comparison
    recording: Recording
    status: int


def check(program: str, path: str, *, level: str | None = None, send: bytes | None = None,
          reply: bytes | None = None, client: str | None = None, server: str | None = None,
          timeout: float = 10.0, netns: bool | None = None, backend: str = "ptrace") -> CheckResult:
    """Run program again as the golden file at path was recorded (unless told otherwise) and compare."""
    from sctrace.compare.run import status_of

    expected = load(path)
    level = check_level(expected, level, path)
    drive = dataclasses.replace(expected.drive(send=send, reply=reply, client=client, server=server,
                                               timeout=timeout), backend=backend)
    recording = record(program, expected.args, level=level, drive=drive, netns=netns)
    comparison = compare_goldens(expected, path, recording.golden, program, recording.trace.header)
    return CheckResult(comparison, recording, status_of(comparison))
