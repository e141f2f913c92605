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
from collections.abc import Callable
from typing import Any

from sctrace.compare.call import Call, new_call
from sctrace.compare.call_rules import name_service_role
from sctrace.compare.endpoints import INET_FAMILIES, EndpointNames, inet_ports, normalize_endpoint
from sctrace.compare.model import LEVELS, Step
from sctrace.compare.roles import PortNames, Sock, Walked, walk
from sctrace.compare.rules import apply_rules, apply_run_rules
from sctrace.compare.steptext import call_text, show
from sctrace.model import syscalls
from sctrace.model.escape import escape_for_terminal
from sctrace.model.gcpause import gc_paused
from sctrace.model.notation import format_args, format_result
from sctrace.model.trace import Event, Trace

__all__ = ["inet_ports", "is_name_service", "make_key", "normalize", "normalize_endpoint", "without_name_service"]

_POINTER = re.compile(r"0x[0-9a-fA-F]+")
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=True)


def _encode_key_py(value: Any, _indent: int) -> list[str]:
    return [_KEY_ENCODER.encode(value)]


# What _KEY_ENCODER.encode runs, made once (a key is made for every step): json.dumps(sort_keys=True,
# ensure_ascii=True) to the byte, less the check for circular containers, which JSON values cannot have.
_encode_key: Callable[[Any, int], list[str]] = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _KEY_ENCODER.default, json.encoder.encode_basestring_ascii, None, ": ", ", ", True, False, True,
) if json.encoder.c_make_encoder is not None else _encode_key_py  # type: ignore[attr-defined]


# -- values -----------------------------------------------------------------------------------------

def _roles(value: Any, roles: dict[int, str]) -> Any:
    """A descriptor, or a list of them, as roles (a number the walk does not know stays a number)."""
    if isinstance(value, list):
        return [_roles(v, roles) for v in value]
    return roles.get(value, value) if isinstance(value, int) and not isinstance(value, bool) else value


def _stable(value: Any, roles: dict[int, str], ports: PortNames | None) -> Any:
    """value with pointers, ports and SCM_RIGHTS descriptors renamed (top-level fd and sv are the caller's).

    A container in which nothing is renamed is returned itself, not copied: a step's arguments share such
    values (a payload's {"text", "len"}) with its event, which saves a copy of each in time and memory.
    Nothing changes a step's or an event's arguments in place once made.
    """
    kind = type(value)
    if kind is str:  # the common cases first, by exact type; anything else takes the general way below
        return "PTR" if value.startswith("0x") and _POINTER.fullmatch(value) else value
    if kind is int or value is None:
        return value
    if kind is dict:
        out = None
        for k, v in value.items():
            kind = type(v)
            if kind is str:
                if not v.startswith("0x") or not _POINTER.fullmatch(v):
                    continue
                new: Any = "PTR"
            elif kind is int or v is None:
                continue
            else:
                new = _stable(v, roles, ports)
                if new is v:
                    continue
            if out is None:
                out = value.copy()
            out[k] = new
        # _stable_dict, inline: most dicts are neither a socket address nor SCM_RIGHTS
        if "family" in value and ports is not None and value["family"] in INET_FAMILIES \
                and isinstance(value.get("port"), int):
            if out is None:
                out = value.copy()
            out["port"] = ports(value["port"])
        if "type" in value and value["type"] == "SCM_RIGHTS":
            if out is None:
                out = value.copy()
            out["fds"] = _roles(value.get("fds"), roles)
        return value if out is None else out
    if isinstance(value, dict):
        return _stable_dict(value, {k: _stable(v, roles, ports) for k, v in value.items()}, roles, ports)
    if isinstance(value, list):
        items = None
        for i, v in enumerate(value):
            new = _stable(v, roles, ports)
            if new is not v:
                if items is None:
                    items = list(value)
                items[i] = new
        return value if items is None else items
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
    return "".join(_encode_key([proc, name, args, ret, errno], 0))


# -- levels -----------------------------------------------------------------------------------------

def _raw_step(ev: Event) -> Step:
    name = ev.name or "?"
    args = copy.deepcopy(ev.args)
    lane = ev.info.get("lane") if ev.info else None
    proc = f"{lane} pid {ev.pid}" if lane else f"pid {ev.pid}"
    key = make_key(proc, name, _stable(args, {}, None), ev.ret, ev.errno)
    text = escape_for_terminal(f"{name}({format_args(ev)}) = {format_result(ev)}")
    return Step(proc, name, args, ev.ret, ev.errno, key, text, ev)


def normalize(trace: Trace, level: str = "semantic", *, endpoints: bool = False) -> list[Step]:
    """The socket calls of trace as Steps at level ("raw", "stable" or "semantic"), in trace order.

    endpoints=True adds each descriptor's normalized endpoint to the step texts
    (``C2<TCP:[127.0.0.1:PORT1->127.0.0.1:EPHEMERAL]>``), as ``strace -yy`` does;
    by default texts stay short, with roles only.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    with gc_paused():  # like align: a large trace makes millions of objects, none of them in a cycle
        walked = walk(trace)
        if level == "raw":
            return [_raw_step(ev) for ev in walked.events]
        calls = _Calls(walked, level == "semantic", endpoints)
        del walked
        if level == "stable":
            return calls.steps()
        return calls.joined_steps(trace.header.string_limit)


def is_name_service(step: Step) -> bool:
    """A call on a socket of the C library's name-service lookups (roles N1, N2, ...): the machine's, not the
    program's (glibc asks nscd first when nscd's socket path is configured; a shell started without HOME or
    SHELL asks for its user; a launcher such as pyenv's shims starts dozens of them)."""
    return "name_service" in step.rules or name_service_role(step.args.get("fd")) or \
        (step.name == "socket" and name_service_role(step.ret))


def without_name_service(steps: list[Step]) -> tuple[list[Step], int]:
    """steps less the C library's name-service calls (is_name_service), and how many those were."""
    kept = [step for step in steps if not is_name_service(step)]
    return kept, len(steps) - len(kept)


def _step(proc: str, c: Call, text: str, ev: Event) -> Step:
    """The Step of a Call (once per socket call), made by Step's own __init__: a quarter faster than filling
    in a new object's __dict__, which also leaves each Step 64 bytes larger."""
    args, ret, errno, name = c.args, c.ret, c.errno, c.name
    key = "".join(_encode_key([proc, name, c.key_args() if c.ignored else args, ret, errno], 0))
    return Step(proc, name, args, ret, errno, key, text, ev, list(c.rules), list(c.notes), c.informational)


def _process_roles(lanes: list[str]) -> list[str]:
    """P1, P2, ... for the program's processes in order of appearance; "peer P1", ... for an explicit peer's."""
    counts: dict[str, int] = {}
    roles = []
    for lane in lanes:
        n = counts[lane] = counts.get(lane, 0) + 1
        roles.append(f"{lane} P{n}" if lane else f"P{n}")
    return roles


class _Calls:
    """Each socket call stable-normalized (and through the one-call rules if semantic), with its text.

    One pass over the walk's calls names everything in order of appearance:
    processes (P1, P2, ...), each process's sockets by kind (L1, C1, S1, ...,
    numbered per process and kind) and ports (PortNames, asked in the order
    the endpoint, the arguments and the result's endpoint appear).
    """

    def __init__(self, walked: Walked, semantic: bool, endpoints: bool) -> None:
        self.events = walked.events
        self.procs = _process_roles(walked.lanes)  # role of each process
        self.calls: list[Call] = []
        self.texts: list[str] = []
        self.by_proc: list[list[int]] = [[] for _ in walked.processes]  # where each process's calls are
        roles_of: list[dict[Sock, str]] = [{} for _ in walked.processes]  # each process's sockets' roles
        counters: list[dict[str, int]] = [{} for _ in walked.processes]  # each process's count of each kind
        ports = PortNames(walked.service)
        endpoint_name = EndpointNames(ports)
        named = endpoint_name.known
        returns_socket = syscalls.RETURNS_SOCKET
        by_proc, calls, texts = self.by_proc, self.calls, self.texts
        for i, (ev, proc, socks) in enumerate(zip(walked.events, walked.procs, walked.socks, strict=True)):
            by_proc[proc].append(i)
            roles: dict[int, str] = {}
            stream = False
            if socks:
                own_roles = roles_of[proc]
                fd_arg = ev.args.get("fd", -1)
                for n, sock in socks.items():
                    if sock.alias is not None:
                        sock = sock.resolved()
                    given = own_roles.get(sock)
                    if given is None:
                        kind = sock.kind
                        count = counters[proc][kind] = counters[proc].get(kind, 0) + 1
                        given = own_roles[sock] = f"{kind}{count}"
                    roles[n] = given
                    if n == fd_arg:
                        stream = sock.stream
            name = ev.name or "?"
            endpoint = ev.endpoint
            if endpoint:
                endpoint = named.get(endpoint) or endpoint_name(endpoint)
            args = _stable(ev.args, roles, ports)
            if args is ev.args:
                args = args.copy()  # the top level is always the step's own: its fd and sv are set below
            if "fd" in args:
                fd = args["fd"]
                args["fd"] = roles.get(fd, fd) if type(fd) is int else _roles(fd, roles)
            if "sv" in args:
                args["sv"] = _roles(args["sv"], roles)
            ret: Any = ev.ret
            errno = ev.errno
            if errno is None and name in returns_socket and isinstance(ret, int):
                ret = roles.get(ret, ret)
            ret_endpoint = ev.ret_endpoint
            if ret_endpoint:
                ret_endpoint = named.get(ret_endpoint) or endpoint_name(ret_endpoint)
            if endpoints:
                texts.append(call_text(name, args, ret, errno, endpoint or None, ret_endpoint or None))
            else:
                texts.append(call_text(name, args, ret, errno))
            call = new_call(name, args, ret, errno, stream)
            calls.append(apply_rules(call) if semantic else call)

    def steps(self) -> list[Step]:
        """The steps, in trace order (stable level: a step for each call)."""
        proc_of = [""] * len(self.calls)
        for p, where in enumerate(self.by_proc):
            for i in where:
                proc_of[i] = self.procs[p]
        return [_step(proc, call, text, ev)
                for proc, call, text, ev in zip(proc_of, self.calls, self.texts, self.events, strict=True)]

    def joined_steps(self, limit: int) -> list[Step]:
        """The steps after the sequence rules, applied to each process's calls; a joined call takes its first's place.

        limit: the trace's payload bytes per buffer.
        """
        steps: list[Step | None] = [None] * len(self.calls)
        texts, events = self.texts, self.events
        own = [[self.calls[i] for i in where] for where in self.by_proc]
        self.calls = []  # each process's calls are let go once they are steps
        for p, where in enumerate(self.by_proc):
            proc, pos = self.procs[p], 0
            run, own[p] = own[p], []
            for call in apply_run_rules(run, limit):
                i = where[pos]
                text = texts[i]
                if call.span > 1:
                    text += escape_for_terminal(f" (+{call.span - 1} more: {show(call.args.get('buf'))} in all)")
                steps[i] = _step(proc, call, text, events[i])
                pos += call.span
            del run
        return [step for step in steps if step is not None]
