"""A trace as one typed value: a header and the events that followed.

Both backends produce this value and every later stage (filtering, normalizing,
comparing, rendering) works on it, so a trace saved on one machine can be
examined on another without tracing again. The JSON form is documented in
docs/trace-format.md; readers ignore keys they do not know and tolerate missing
optional ones, so older and newer writers stay compatible within one schema.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, TYPE_CHECKING, Any, Protocol

from sctrace.model.gcpause import gc_paused

if TYPE_CHECKING:
    from pathlib import Path  # for annotations only: pathlib costs 5 ms of start-up

SCHEMA = 1

# --packets: a packet on the program's loopback (pid 0; its fields in info, see sctrace/kernel/packets.py).
PACKET_EVENT = "packet"
# --states: a connection the program closed changed state later (info: endpoint, tcp_state; tcpstates.py).
# A syscall event on a TCP socket carries its state after the call as info["tcp_state"].
STATE_EVENT = "state"
_SYSCALL_KEYS = frozenset({"type", "seq", "pid", "t", "name", "args", "ret", "errno", "fd", "endpoint", "ret_endpoint"})


class TraceFormatError(ValueError):
    """A saved trace that cannot be read; carries the file and line for the user."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}, line {line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a trace holds")


def _finite(text: str) -> float:
    value = float(text)
    if value - value != 0:  # inf (1e400 becomes it) and nan
        raise ValueError(f"{text} is too large a number")
    return value


def loads_strict(text: str) -> Any:
    """json.loads for files sctrace reads: ValueError, never another exception, for what a trace cannot hold.

    NaN and Infinity are not JSON, and a number too large for a float (1e400) or
    with more digits than Python converts, or nesting too deep to decode, is
    no value sctrace ever writes: each is a ValueError that says which.
    """
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("values nested too deeply") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        if "digits" in str(exc):  # int(): "Exceeds the limit (4300 digits) for integer string conversion..."
            raise ValueError(f"a number with more than {sys.get_int_max_str_digits()} digits") from None
        raise


_HEADER_TEXT = ("program", "language", "interpreter", "interpreter_version", "backend", "started", "sctrace_version")


@dataclass
class Header:
    argv: list[str]
    program: str = ""
    language: str | None = None
    interpreter: str | None = None
    interpreter_version: str | None = None
    backend: str = "ptrace"
    seccomp: bool = False
    all_syscalls: bool = False
    string_limit: int = 32
    started: str = ""
    sctrace_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "header", "schema": SCHEMA}
        d.update(
            argv=self.argv,
            program=self.program,
            language=self.language,
            interpreter=self.interpreter,
            interpreter_version=self.interpreter_version,
            backend=self.backend,
            seccomp=self.seccomp,
            all_syscalls=self.all_syscalls,
            string_limit=self.string_limit,
            started=self.started,
            sctrace_version=self.sctrace_version,
        )
        d.update(self.extra)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Header:
        known = {
            "argv", "program", "language", "interpreter", "interpreter_version",
            "backend", "seccomp", "all_syscalls", "string_limit", "started",
            "sctrace_version",
        }
        kwargs = {k: d[k] for k in known if k in d}
        extra = {k: v for k, v in d.items() if k not in known and k not in ("type", "schema")}
        _check_header(kwargs)
        return cls(**kwargs, extra=extra)


def _check_header(values: dict[str, Any]) -> None:
    """TypeError naming the first field of a header that has the wrong type."""
    argv = values.get("argv")
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise TypeError("argv must be a list of strings")
    for key in _HEADER_TEXT:
        if key in values and values[key] is not None and not isinstance(values[key], str):
            raise TypeError(f"{key} must be a string")
    for key in ("seccomp", "all_syscalls"):
        if key in values and not isinstance(values[key], bool):
            raise TypeError(f"{key} must be true or false")
    limit = values.get("string_limit", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise TypeError("string_limit must be a whole number")


@dataclass
class Event:
    """One thing that happened in the traced program.

    ``type`` is one of EVENT_TYPES (sctrace/model/choices.py); a process event has no name, args or ret.
    For a syscall, ``name`` is the kernel's name, ``args`` the decoded arguments in the kernel's order
    (name -> JSON value), ``ret`` the raw return value (negative errno folded into
    ``errno``/-1 as strace prints it), ``fd`` the socket descriptor the call is
    about and ``endpoint`` that socket as the kernel described it when the call
    began (strace -yy's text, e.g. ``TCP:[127.0.0.1:1234->127.0.0.1:45500]``).
    ``ret_endpoint`` describes a socket descriptor the call returned (socket,
    accept, accept4).  ``info`` holds what a process event carries (child pid,
    exit code, signal name, argv of an exec), or a packet event's fields
    (docs/trace-format.md; TCP's numbers are ``tcp_seq``/``tcp_ack``, since
    ``seq`` is the event's own place in the trace).
    """

    type: str
    seq: int
    pid: int
    t: float
    name: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    ret: int | None = None
    errno: str | None = None
    fd: int | None = None
    endpoint: str | None = None
    ret_endpoint: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "seq": self.seq, "pid": self.pid, "t": round(self.t, 6)}
        if self.type == "syscall":
            d.update(
                name=self.name,
                args=self.args,
                ret=self.ret,
                errno=self.errno,
                fd=self.fd,
                endpoint=self.endpoint,
            )
            if self.ret_endpoint is not None:
                d["ret_endpoint"] = self.ret_endpoint
        d.update(self.info)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Event:
        kind = d["type"]
        if kind == "syscall":
            return _event({**d, "args": dict(d.get("args") or {})}, {})
        base = {"type", "seq", "pid", "t"}
        t = float(d.get("t", 0.0))
        if t - t != 0:
            raise ValueError("t must be a finite number")
        return cls(type=kind, seq=int(d["seq"]), pid=int(d["pid"]), t=t,
                   info={k: v for k, v in d.items() if k not in base})

    @property
    def is_syscall(self) -> bool:
        return self.type == "syscall"


@dataclass
class Trace:
    header: Header
    events: list[Event] = field(default_factory=list)

    def syscalls(self) -> Iterator[Event]:
        return (e for e in self.events if e.type == "syscall")

    # -- JSON Lines -------------------------------------------------------

    def dump(self, out: IO[str]) -> None:
        out.write(dumps_line(self.header.to_json()))
        for event in self.events:
            out.write(dumps_line(event.to_json()))

    def save(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            self.dump(f)

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """A saved JSON Lines trace; TraceFormatError (file, line, why) for one that cannot be read.

        A UTF-8 byte-order mark (some editors add one) is skipped, and CRLF line ends are read as LF.
        """
        try:
            with open(path, encoding="utf-8-sig", errors="strict") as f:
                return cls.parse(f, str(path))
        except UnicodeDecodeError:
            raise TraceFormatError(str(path), _first_undecodable_line(path), "not UTF-8 text") from None

    @classmethod
    def parse(cls, lines: Iterable[str], source: str = "<trace>") -> Trace:
        with gc_paused():  # a large trace is millions of new objects, none of them in a cycle
            return cls._parse(lines, source)

    @classmethod
    def _parse(cls, lines: Iterable[str], source: str) -> Trace:
        header: Header | None = None
        events: list[Event] = []
        records = _Records(lines, source)
        strings: dict[str, str] = {}  # one copy of each name, endpoint, errno
        for batch in records:
            for lineno, obj in batch:
                if not isinstance(obj, dict) or "type" not in obj:
                    raise TraceFormatError(source, lineno, "not a trace record (no \"type\")")
                if header is None:
                    if obj["type"] != "header":
                        raise TraceFormatError(source, lineno, "the first record is not a header")
                    schema = obj.get("schema")
                    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
                        raise TraceFormatError(source, lineno, "the header has no schema number (1 or more)")
                    if schema > SCHEMA:
                        raise TraceFormatError(
                            source, lineno,
                            f"schema {schema} is newer than this sctrace reads ({SCHEMA}); upgrade sctrace",
                        )
                    if not isinstance(obj.get("argv"), list):
                        raise TraceFormatError(source, lineno, "the header has no argv (the program's command line)")
                    try:
                        header = Header.from_json(obj)
                    except TypeError as exc:
                        raise TraceFormatError(source, lineno, f"bad header ({exc})") from None
                    continue
                try:
                    events.append(_event(obj, strings))
                except (KeyError, TypeError, ValueError) as exc:
                    raise TraceFormatError(source, lineno, f"bad {obj.get('type')} record ({exc})") from None
        if header is None:
            raise TraceFormatError(source, max(records.lines, 1), "empty: no header record")
        return cls(header, events)


class Renderer(Protocol):
    """What a trace streams to while it is made: the header once, each event as it happens, then close.

    Each output format of sctrace.render is one; a backend knows only this.
    """

    def header(self, header: Header) -> None: ...

    def event(self, ev: Event) -> None: ...

    def close(self) -> None: ...


def _event(d: dict[str, Any], strings: dict[str, str]) -> Event:
    """The Event a syscall record stands for (Event.from_json calls it too, with a copy of the args).

    Made for speed, as a trace holds 100,000s of records: the args dict is
    taken rather than copied, values that already have their type are not
    converted again, and equal strings that many events repeat (name, errno,
    endpoints) are made one (strings).  A field of the wrong type is a
    TypeError or ValueError that names it; the loader turns it into a
    TraceFormatError with the line.
    """
    if d["type"] != "syscall":
        return Event.from_json(d)  # process events: few
    seq, pid = d["seq"], d["pid"]
    seq = seq if type(seq) is int else int(seq)
    pid = pid if type(pid) is int else int(pid)
    t = d.get("t", 0.0)
    t = t if type(t) is float else float(t)
    if t - t != 0:
        raise ValueError("t must be a finite number")
    name = d["name"]
    if type(name) is not str:
        raise TypeError("name must be a string")
    name = strings.setdefault(name, name)
    args = d.get("args") or {}
    if type(args) is not dict:
        args = dict(args)
    ret = d.get("ret")
    ret = None if ret is None else ret if type(ret) is int else int(d["ret"])
    errno, endpoint, ret_endpoint = d.get("errno"), d.get("endpoint"), d.get("ret_endpoint")
    if type(errno) is str:
        errno = strings.setdefault(errno, errno)
    elif errno is not None:
        raise TypeError("errno must be a string")
    if type(endpoint) is str:
        endpoint = strings.setdefault(endpoint, endpoint)
    elif endpoint is not None:
        raise TypeError("endpoint must be a string")
    if type(ret_endpoint) is str:
        ret_endpoint = strings.setdefault(ret_endpoint, ret_endpoint)
    elif ret_endpoint is not None:
        raise TypeError("ret_endpoint must be a string")
    fd = d.get("fd")
    if fd is not None and type(fd) is not int:
        raise TypeError("fd must be a whole number")
    info = {} if d.keys() <= _SYSCALL_KEYS else {k: v for k, v in d.items() if k not in _SYSCALL_KEYS}
    return Event("syscall", seq, pid, t, name, args, ret, errno, fd, endpoint, ret_endpoint, info)


class _Records:
    """(line number, decoded JSON value) of each non-blank line, in batches; ``lines`` counts every line read.

    Lines are decoded a chunk at a time, as one JSON array: much faster than
    one json.loads a line, and the decoder then makes one string for each key
    name in the chunk rather than one for each record (a trace holds 100,000s
    of records).  Between two lines goes a string chosen at random for this
    parse, and the array must alternate value and that string, so each value
    is known to be exactly its own line's: a line that is not one whole JSON
    value cannot pair up with its neighbours unnoticed.  A chunk that does not
    decode so is decoded line by line with json.loads, as always, which also
    names the first line that is not JSON.
    """

    CHUNK = 256  # lines decoded at once: enough to share key names, small enough to reuse the memory

    def __init__(self, lines: Iterable[str], source: str) -> None:
        self.it = iter(lines)
        self.source = source
        self.lines = 0

    def __iter__(self) -> Iterator[list[tuple[int, Any]]]:
        marker = os.urandom(16).hex()
        separator = f',"{marker}",'
        while chunk := list(islice(self.it, self.CHUNK)):
            if self.lines == 0 and chunk[0].startswith("\ufeff"):  # a byte-order mark: not part of the JSON
                chunk[0] = chunk[0][1:]
            numbered = [(n, line) for n, line in enumerate(chunk, self.lines + 1) if line.strip()]
            self.lines += len(chunk)
            values: Any = None
            if numbered:
                try:
                    values = loads_strict("[" + separator.join([line for _, line in numbered]) + "]")
                except (ValueError, TypeError):  # not JSON, not text, too deep, too large: line by line
                    values = None
            if isinstance(values, list) and len(values) == 2 * len(numbered) - 1 \
                    and values[1::2] == [marker] * (len(numbered) - 1):
                yield list(zip([n for n, _ in numbered], values[0::2], strict=True))
                continue
            for n, line in numbered:  # one at a time: a record before a line that is not JSON is checked first
                try:
                    value = loads_strict(line)
                except json.JSONDecodeError as exc:
                    raise TraceFormatError(self.source, n, f"not JSON ({exc.msg})") from None
                except ValueError as exc:
                    raise TraceFormatError(self.source, n, f"not a value sctrace reads ({exc})") from None
                yield [(n, value)]


def dumps_line(obj: dict[str, Any]) -> str:
    """One JSON Lines record.  ensure_ascii keeps control bytes escaped in files."""
    return json.dumps(obj, ensure_ascii=True, separators=(", ", ": ")) + "\n"


def _first_undecodable_line(path: str | Path) -> int:
    """The number of the first line of a file that is not UTF-8 (for the error that names it)."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1
