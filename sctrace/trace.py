"""A trace as one typed value: a header and the events that followed.

Both backends produce this value and every later stage (filtering, normalizing,
comparing, rendering) works on it, so a trace saved on one machine can be
examined on another without tracing again. The JSON form is documented in
docs/trace-format.md; readers ignore keys they do not know and tolerate missing
optional ones, so older and newer writers stay compatible within one schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SCHEMA = 1

# Event types other than "syscall".  A process event has no name/args/ret.
PROCESS_EVENT_TYPES = ("fork", "exec", "exit", "killed", "signal", "detached")
_SYSCALL_KEYS = frozenset({"type", "seq", "pid", "t", "name", "args", "ret", "errno", "fd", "endpoint", "ret_endpoint"})


class TraceFormatError(ValueError):
    """A saved trace that cannot be read; carries the file and line for the user."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}, line {line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


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
        return cls(**kwargs, extra=extra)


@dataclass
class Event:
    """One thing that happened in the traced program.

    ``type`` is "syscall" or one of PROCESS_EVENT_TYPES.  For a syscall, ``name``
    is the kernel's name, ``args`` the decoded arguments in the kernel's order
    (name -> JSON value), ``ret`` the raw return value (negative errno folded into
    ``errno``/-1 as strace prints it), ``fd`` the socket descriptor the call is
    about and ``endpoint`` that socket as the kernel described it when the call
    began (strace -yy's text, e.g. ``TCP:[127.0.0.1:1234->127.0.0.1:45500]``).
    ``ret_endpoint`` describes a socket descriptor the call returned (socket,
    accept, accept4).  ``info`` holds what a process event carries (child pid,
    exit code, signal name, argv of an exec).
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
            return cls(
                type=kind,
                seq=int(d["seq"]),
                pid=int(d["pid"]),
                t=float(d.get("t", 0.0)),
                name=str(d["name"]),
                args=dict(d.get("args") or {}),
                ret=None if d.get("ret") is None else int(d["ret"]),
                errno=d.get("errno"),
                fd=d.get("fd"),
                endpoint=d.get("endpoint"),
                ret_endpoint=d.get("ret_endpoint"),
                info={k: v for k, v in d.items() if k not in _SYSCALL_KEYS},
            )
        base = {"type", "seq", "pid", "t"}
        return cls(
            type=kind,
            seq=int(d["seq"]),
            pid=int(d["pid"]),
            t=float(d.get("t", 0.0)),
            info={k: v for k, v in d.items() if k not in base},
        )

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
        with open(path, encoding="utf-8", errors="strict") as f:
            return cls.parse(f, str(path))

    @classmethod
    def parse(cls, lines: Iterable[str], source: str = "<trace>") -> Trace:
        header: Header | None = None
        events: list[Event] = []
        lineno = 0
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TraceFormatError(source, lineno, f"not JSON ({exc.msg})") from None
            if not isinstance(obj, dict) or "type" not in obj:
                raise TraceFormatError(source, lineno, "not a trace record (no \"type\")")
            if header is None:
                if obj["type"] != "header":
                    raise TraceFormatError(source, lineno, "the first record is not a header")
                schema = obj.get("schema")
                if not isinstance(schema, int):
                    raise TraceFormatError(source, lineno, "the header has no schema number")
                if schema > SCHEMA:
                    raise TraceFormatError(
                        source, lineno,
                        f"schema {schema} is newer than this sctrace reads ({SCHEMA}); upgrade sctrace",
                    )
                header = Header.from_json(obj)
                continue
            try:
                events.append(Event.from_json(obj))
            except (KeyError, TypeError, ValueError) as exc:
                raise TraceFormatError(source, lineno, f"bad {obj.get('type')} record ({exc})") from None
        if header is None:
            raise TraceFormatError(source, max(lineno, 1), "empty: no header record")
        return cls(header, events)


def dumps_line(obj: dict[str, Any]) -> str:
    """One JSON Lines record.  ensure_ascii keeps control bytes escaped in files."""
    return json.dumps(obj, ensure_ascii=True, separators=(", ", ": ")) + "\n"
