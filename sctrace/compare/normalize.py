"""A trace's socket calls as Steps, at the level of likeness the user asked for.

Two runs never agree on pids, descriptor numbers, ports or inodes, and two
languages never agree on which call does a job, so each socket call gets a key
that leaves those out, level by level: raw (only pointers leave the key),
stable (pids, descriptors, ports and inodes become P1, L1/C1/S1, PORT1,
EPHEMERAL, INODE, decided by looking at the whole trace first: roles.py),
semantic (stable plus the equivalence rules of rules.py, named on the steps
they changed).

A step's text always shows the call the program really made, stable-normalized
(steptext.py), so a row made equal by a rule still shows both sides' calls; its
name, args and key are the rewritten ones.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

from sctrace import syscalls
from sctrace.compare.call import Call, new_call
from sctrace.compare.endpoints import INET_FAMILIES, EndpointNames, inet_ports, normalize_endpoint
from sctrace.compare.model import LEVELS, Step
from sctrace.compare.roles import (
    PortNames,
    Proc,
    Seen,
    Sock,
    Walked,
    descriptor_roles,
    process_roles,
    service_ports,
    walk,
    walk_trace,
)
from sctrace.compare.rules import apply_rules, apply_run_rules
from sctrace.compare.steptext import call_text, show
from sctrace.escape import escape_for_terminal
from sctrace.render.text import format_args, format_result
from sctrace.trace import Event, Trace

__all__ = [
    "PortNames", "Seen", "descriptor_roles", "inet_ports", "make_key", "normalize", "normalize_endpoint",
    "process_roles", "service_ports", "walk",
]

_POINTER = re.compile(r"0x[0-9a-fA-F]+")
_new = object.__new__
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=True)
# What _KEY_ENCODER.encode runs, made once (a key is made for every step): json.dumps(sort_keys=True,
# ensure_ascii=True) to the byte, less the check for circular containers, which JSON values cannot have.
_encode_key = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _KEY_ENCODER.default, json.encoder.encode_basestring_ascii, None, ": ", ", ", True, False, True,
) if json.encoder.c_make_encoder is not None else None  # type: ignore[attr-defined]


# -- values -----------------------------------------------------------------------------------------

def _roles(value: Any, roles: dict[int, str]) -> Any:
    """A descriptor, or a list of them, as roles (a number the walk does not know stays a number)."""
    if isinstance(value, list):
        return [_roles(v, roles) for v in value]
    return roles.get(value, value) if isinstance(value, int) and not isinstance(value, bool) else value


def _stable(value: Any, roles: dict[int, str], ports: PortNames | None) -> Any:
    """value with pointers, ports and SCM_RIGHTS descriptors renamed (top-level fd and sv are the caller's)."""
    kind = type(value)
    if kind is str:  # the common cases first, by exact type; anything else takes the general way below
        return "PTR" if value.startswith("0x") and _POINTER.fullmatch(value) else value
    if kind is int or value is None:
        return value
    if kind is dict:
        out = {}
        for k, v in value.items():
            kind = type(v)
            if kind is str:
                out[k] = "PTR" if v.startswith("0x") and _POINTER.fullmatch(v) else v
            elif kind is int or v is None:
                out[k] = v
            else:
                out[k] = _stable(v, roles, ports)
        # _stable_dict, inline: most dicts are neither a socket address nor SCM_RIGHTS
        if "family" in value and ports is not None and value["family"] in INET_FAMILIES \
                and isinstance(value.get("port"), int):
            out["port"] = ports(value["port"])
        if "type" in value and value["type"] == "SCM_RIGHTS":
            out["fds"] = _roles(value.get("fds"), roles)
        return out
    if isinstance(value, dict):
        return _stable_dict(value, {k: _stable(v, roles, ports) for k, v in value.items()}, roles, ports)
    if isinstance(value, list):
        return [_stable(v, roles, ports) for v in value]
    if isinstance(value, str) and _POINTER.fullmatch(value):
        return "PTR"
    return value


def _stable_dict(value: dict[Any, Any], out: dict[Any, Any], roles: dict[int, str],
                 ports: PortNames | None) -> dict[Any, Any]:
    """out (value with its items made stable) with the port of a socket address, or SCM_RIGHTS fds, renamed."""
    if ports is not None and value.get("family") in INET_FAMILIES and isinstance(value.get("port"), int):
        out["port"] = ports(value["port"])
    if value.get("type") == "SCM_RIGHTS":
        out["fds"] = _roles(value.get("fds"), roles)
    return out


def make_key(proc: str, name: str, args: dict[str, Any], ret: Any, errno: str | None) -> str:
    """The comparison key: ``json.dumps([proc, name, args, ret, errno], sort_keys=True, ensure_ascii=True)``."""
    if _encode_key is not None:
        return "".join(_encode_key([proc, name, args, ret, errno], 0))
    return _KEY_ENCODER.encode([proc, name, args, ret, errno])


# -- levels -----------------------------------------------------------------------------------------

def _raw_step(ev: Event) -> Step:
    name = ev.name or "?"
    args = copy.deepcopy(ev.args)
    key = make_key(f"pid {ev.pid}", name, _stable(args, {}, None), ev.ret, ev.errno)
    text = escape_for_terminal(f"{name}({format_args(ev)}) = {format_result(ev)}")
    return Step(f"pid {ev.pid}", name, args, ev.ret, ev.errno, key, text, ev)


def normalize(trace: Trace, level: str = "semantic", *, endpoints: bool = False) -> list[Step]:
    """The socket calls of trace as Steps at level ("raw", "stable" or "semantic"), in trace order.

    endpoints=True adds each descriptor's normalized endpoint to the step texts
    (``C2<TCP:[127.0.0.1:PORT1->127.0.0.1:EPHEMERAL]>``), as ``strace -yy`` does;
    by default texts stay short, with roles only.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    walked = walk_trace(trace)
    if level == "raw":
        return [_raw_step(s.event) for s in walked.seen]
    calls = _Calls(walked, level == "semantic", endpoints)
    del walked
    if level == "stable":
        return [_step(proc, call, text, ev) for proc, call, text, ev in calls.items()]
    return calls.joined_steps(trace.header.string_limit)


def _step(proc: str, c: Call, text: str, ev: Event) -> Step:
    """The Step of call c: Step(proc, c.name, ..., rules=list(c.rules), ...), made as new_call makes a Call.

    Step is a plain dataclass without __post_init__: filling in its __dict__
    in field order makes the same value as its __init__, in half the time.
    """
    name, args, ret, errno = c.name, c.args, c.ret, c.errno
    step = _new(Step)
    values = step.__dict__
    values["proc"] = proc
    values["name"] = name
    values["args"] = args
    values["ret"] = ret
    values["errno"] = errno
    values["key"] = make_key(proc, name, c.key_args() if c.ignored else args, ret, errno)
    values["text"] = text
    values["event"] = ev
    values["rules"] = list(c.rules)
    values["notes"] = list(c.notes)
    values["informational"] = c.informational
    return step


class _Calls:
    """Each socket call stable-normalized (and through the one-call rules if semantic), with its text.

    One pass over the walk's calls names everything in order of appearance:
    processes (process_roles), their sockets (descriptor_roles) and ports
    (PortNames, asked in the order the endpoint, the arguments and the
    result's endpoint appear).
    """

    def __init__(self, walked: Walked, semantic: bool, endpoints: bool) -> None:
        self.procs: list[str] = []
        self.calls: list[Call] = []
        self.texts: list[str] = []
        self.events: list[Event] = []
        self.by_proc: dict[str, list[int]] = {}  # where each process's calls are
        procs: dict[Proc, str] = {}
        roles_of: dict[tuple[Proc, Sock], str] = {}
        counters: dict[tuple[Proc, str], int] = {}
        ports = PortNames(walked.service)
        endpoint_name = EndpointNames(ports)
        named = endpoint_name.known
        returns_socket = syscalls.RETURNS_SOCKET
        for s in walked.seen:
            ev, proc = s.event, s.proc
            role = procs.get(proc)
            if role is None:
                role = procs[proc] = f"P{len(procs) + 1}"
                self.by_proc[role] = []
            self.by_proc[role].append(len(self.calls))
            roles: dict[int, str] = {}
            for n, sock in s.socks.items():
                if sock.alias is not None:
                    sock = sock.resolved()
                given = roles_of.get((proc, sock))
                if given is None:
                    kind = sock.kind
                    count = counters[(proc, kind)] = counters.get((proc, kind), 0) + 1
                    given = roles_of[(proc, sock)] = f"{kind}{count}"
                roles[n] = given
            name = ev.name or "?"
            endpoint = (named.get(ev.endpoint) or endpoint_name(ev.endpoint)) if ev.endpoint else None
            args = _stable(ev.args, roles, ports)
            if "fd" in args:
                fd = args["fd"]
                args["fd"] = roles.get(fd, fd) if type(fd) is int else _roles(fd, roles)
            if "sv" in args:
                args["sv"] = _roles(args["sv"], roles)
            ret: Any = ev.ret
            errno = ev.errno
            if errno is None and name in returns_socket and isinstance(ret, int):
                ret = roles.get(ret, ret)
            ret_endpoint = (named.get(ev.ret_endpoint) or endpoint_name(ev.ret_endpoint)) if ev.ret_endpoint else None
            if endpoints:
                self.texts.append(call_text(name, args, ret, errno, endpoint, ret_endpoint))
            else:
                self.texts.append(call_text(name, args, ret, errno))
            own = s.socks.get(ev.args.get("fd", -1))
            call = new_call(name, args, ret, errno, own is not None and own.resolved().stream)
            self.calls.append(apply_rules(call) if semantic else call)
            self.procs.append(role)
            self.events.append(ev)

    def items(self) -> Iterator[tuple[str, Call, str, Event]]:
        return zip(self.procs, self.calls, self.texts, self.events, strict=True)

    def joined_steps(self, limit: int) -> list[Step]:
        """The steps after the sequence rules, applied to each process's calls; a joined call takes its first's place.

        limit: the trace's payload bytes per buffer.
        """
        steps: list[Step | None] = [None] * len(self.calls)
        texts, events = self.texts, self.events
        own = {proc: [self.calls[i] for i in where] for proc, where in self.by_proc.items()}
        self.calls = []  # each process's calls are let go once they are steps
        for proc, where in self.by_proc.items():
            pos = 0
            for call in apply_run_rules(own.pop(proc), limit):
                i = where[pos]
                text = texts[i]
                if call.span > 1:
                    text += escape_for_terminal(f" (+{call.span - 1} more: {show(call.args.get('buf'))} in all)")
                steps[i] = _step(proc, call, text, events[i])
                pos += call.span
        return [step for step in steps if step is not None]
