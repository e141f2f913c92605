"""A trace's socket calls as Steps, at the level of likeness the user asked for.

Two runs never agree on pids, descriptor numbers, ports or inodes, and two
languages never agree on which call does a job, so each socket call gets a key
that leaves those out, level by level: raw (only pointers leave the key),
stable (pids, descriptors, ports and inodes become P1, L1/C1/S1, PORT1,
EPHEMERAL, INODE, decided by looking at the whole trace first), semantic
(stable plus the equivalence rules of rules.py, named on the steps they changed).

A step's text always shows the call the program really made, stable-normalized,
so a row made equal by a rule still shows both sides' calls; its name, args and
key are the rewritten ones.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sctrace import syscalls
from sctrace.compare.model import LEVELS, Step
from sctrace.compare.rules import Call, apply_rules, apply_run_rules
from sctrace.escape import escape_for_terminal
from sctrace.render.text import format_args, format_result
from sctrace.trace import Event, Header, Trace

INET_FAMILIES = ("AF_INET", "AF_INET6")
STREAM_TYPES = frozenset({"SOCK_STREAM", "SOCK_SEQPACKET"})
STREAM_PROTOS = frozenset({"TCP", "TCPv6", "UNIX-STREAM", "UNIX-SEQPACKET", "SCTP", "SCTPv6", "MPTCP", "MPTCPv6"})
NOT_SOCKETS = frozenset({"pipe", "anon_inode", "net", "mnt", "pid", "user", "uts", "ipc", "cgroup", "time"})
SENDS = ("sendto", "sendmsg", "sendmmsg")
RECEIVES = ("recvfrom", "recvmsg", "recvmmsg", "accept", "accept4", "getpeername")

_POINTER = re.compile(r"0x[0-9a-fA-F]+")
_ENDPOINT = re.compile(r"(?P<proto>[A-Za-z][\w-]*):\[(?P<body>.*)\]", re.S)
_HOSTPORT = re.compile(r"(?P<host>\[[^\]]*\]|[^\[\]:]*):(?P<port>\d+)")
_UNIX_BODY = re.compile(r"(?P<inode>\d+)(?P<peer>->\d+)?(?P<rest>,.*)?", re.S)


# -- endpoints --------------------------------------------------------------------------------------

def _split_endpoint(endpoint: str | None) -> tuple[str, str] | None:
    m = _ENDPOINT.fullmatch(endpoint) if endpoint else None
    return (m["proto"], m["body"]) if m else None


def inet_ports(endpoint: str | None) -> list[int]:
    """The ports of an IP endpoint, local first: ``TCP:[127.0.0.1:80->127.0.0.1:5000]`` -> [80, 5000]."""
    parts = _split_endpoint(endpoint)
    if parts is None or parts[0].startswith("UNIX"):
        return []
    found = [_HOSTPORT.fullmatch(side) for side in parts[1].split("->")]
    return [int(m["port"]) for m in found if m is not None]


def normalize_endpoint(endpoint: str, port_name: Callable[[int], int | str]) -> str:
    """endpoint with inodes as INODE and ports as port_name(port) gives them (PORT1, EPHEMERAL).

    A form this does not know is returned unchanged rather than guessed at.
    """
    parts = _split_endpoint(endpoint)
    if parts is None:
        return endpoint
    proto, body = parts
    if body.isdigit():
        return f"{proto}:[INODE]"
    if proto.startswith("UNIX"):
        m = _UNIX_BODY.fullmatch(body)
        if m is None:
            return endpoint
        return f"{proto}:[INODE{'->INODE' if m['peer'] else ''}{m['rest'] or ''}]"
    sides = []
    for side in body.split("->"):
        m = _HOSTPORT.fullmatch(side)
        if m is None:
            return endpoint
        sides.append(f"{m['host']}:{port_name(int(m['port']))}")
    return f"{proto}:[{'->'.join(sides)}]"


# -- descriptors and processes ----------------------------------------------------------------------

@dataclass(eq=False)
class Sock:
    """One socket as the walk over the trace learns about it (shared by every descriptor and process holding it)."""

    stream: bool = False
    guess: str = "S"  # the role an endpoint suggests, for a socket first seen in use (inherited, dup'd)
    listened: bool = False
    connected: bool = False
    endpoint: str | None = None  # as last seen, to recognise the socket behind an unseen descriptor
    received: bool = False  # came in SCM_RIGHTS: its first use tells what it is
    alias: Sock | None = None  # the known socket a received descriptor turned out to be

    def resolved(self) -> Sock:
        return self.alias.resolved() if self.alias is not None else self

    @property
    def kind(self) -> str:
        if self.listened:
            return "L"
        if self.connected and self.stream:
            return "C"
        return self.guess

    @classmethod
    def from_endpoint(cls, endpoint: str | None) -> Sock:
        """A socket known only by its endpoint: connected if it has a peer, listening if a bound stream."""
        parts = _split_endpoint(endpoint)
        if parts is None:
            return cls()
        proto, body = parts
        if proto not in STREAM_PROTOS:
            return cls(endpoint=endpoint)
        guess = "C" if "->" in body else "L" if inet_ports(endpoint) or "," in body else "S"
        return cls(stream=True, guess=guess, endpoint=endpoint)


@dataclass
class Seen:
    """A socket call with what the walk found: its process (pid, generation) and its descriptors' sockets."""

    event: Event
    proc: tuple[int, int]
    socks: dict[int, Sock] = field(default_factory=dict)


def _stream_type(value: Any) -> bool:
    return str(value or "").split("|")[0] in STREAM_TYPES


def _rights(value: Any) -> list[int]:
    """The descriptors of every SCM_RIGHTS message inside value (a msghdr, an mmsghdr vector, ...)."""
    if isinstance(value, dict):
        own = value.get("fds") if value.get("type") == "SCM_RIGHTS" else None
        found = [n for n in own if isinstance(n, int)] if isinstance(own, list) else []
        return found + [n for k, v in value.items() if k != "fds" for n in _rights(v)]
    if isinstance(value, list):
        return [n for v in value for n in _rights(v)]
    return []


def _is_step(ev: Event, table: dict[int, Sock], header: Header) -> bool:
    """Whether ev is a socket call: a network call, or read/write/close/readv/writev on a socket."""
    name = ev.name or ""
    if name in syscalls.NETWORK:
        return True
    if name not in syscalls.FD_IO:
        return False
    if ev.endpoint is not None:
        parts = _split_endpoint(ev.endpoint)
        return parts is not None and parts[0] not in NOT_SOCKETS
    return ev.args.get("fd") in table or (header.backend == "ptrace" and not header.all_syscalls)


def _identify(table: dict[int, Sock], fd: int, endpoint: str | None) -> Sock:
    """The socket behind a descriptor whose origin the trace did not show (inherited, dup'd, received).

    An endpoint names one socket (an inode, or both ends of a connection), so
    a live socket last seen with the same endpoint is taken to be this one;
    otherwise the endpoint tells what kind of socket it is.
    """
    current = table.get(fd)
    same = [s for s in table.values() if s is not current and endpoint and s.endpoint == endpoint]
    found = same[0] if same and _split_endpoint(endpoint) else Sock.from_endpoint(endpoint)
    if current is not None:  # received: the placeholder now stands for what it was found to be
        current.alias = found
    table[fd] = found
    return found


def _effects(ev: Event, table: dict[int, Sock], step: bool) -> dict[int, Sock]:
    """Update the descriptor table for one call; the sockets its descriptors name, in order of appearance."""
    args, name = ev.args, ev.name
    ok = ev.errno is None and isinstance(ev.ret, int) and ev.ret >= 0
    socks: dict[int, Sock] = {}
    fd, sock = args.get("fd"), None
    if isinstance(fd, int) and step:
        sock = table.get(fd)
        if sock is None or (sock.received and ev.endpoint):
            sock = _identify(table, fd, ev.endpoint)
        socks[fd] = sock
        sock.endpoint = ev.endpoint or sock.endpoint
    if name in ("sendmsg", "sendmmsg"):
        socks.update((n, table[n]) for n in _rights(args) if n in table and n not in socks)
    if sock is not None and name in ("listen", "accept", "accept4"):
        sock.listened = True
    if sock is not None and name == "connect" and (ok or ev.errno == "EINPROGRESS"):
        sock.connected = True
    if name == "close" and isinstance(fd, int) and ev.errno != "EBADF":
        table.pop(fd, None)
    new: list[tuple[Any, Sock]] = []
    if ok and name == "socket":
        new = [(ev.ret, Sock(stream=_stream_type(args.get("type")), endpoint=ev.ret_endpoint))]
    elif ok and name in ("accept", "accept4"):
        new = [(ev.ret, Sock(stream=True, connected=True, endpoint=ev.ret_endpoint))]
    elif ok and name == "socketpair" and isinstance(args.get("sv"), list):
        new = [(n, Sock(stream=_stream_type(args.get("type")))) for n in args["sv"]]
    elif ok and name in ("recvmsg", "recvmmsg"):
        new = [(n, Sock(received=True)) for n in _rights(args)]
    elif ok and name in ("dup", "dup2", "dup3"):
        old = args.get("arg0", args.get("oldfd"))
        if isinstance(old, int) and old in table and isinstance(ev.ret, int):
            table[ev.ret] = table[old]
    for n, created in new:
        if isinstance(n, int):
            table[n] = socks[n] = created
    return socks


def walk(trace: Trace) -> list[Seen]:
    """The socket calls of trace, each with its process and the sockets behind its descriptors.

    Descriptor tables follow the process tree: a forked child starts with a
    copy of its parent's, a thread shares it.  A pid that exits starts a new
    generation, so a reused pid is a new process.
    """
    tables: dict[int, dict[int, Sock]] = {}
    generation: dict[int, int] = {}
    out: list[Seen] = []
    for ev in trace.events:
        if ev.type == "fork" and isinstance(ev.info.get("child"), int):
            parent = tables.setdefault(ev.pid, {})
            tables[ev.info["child"]] = parent if ev.info.get("thread") else dict(parent)
        elif ev.type in ("exit", "killed"):
            tables.pop(ev.pid, None)
            generation[ev.pid] = generation.get(ev.pid, 0) + 1
        elif ev.type == "syscall" and ev.name:
            table = tables.setdefault(ev.pid, {})
            step = _is_step(ev, table, trace.header)
            socks = _effects(ev, table, step)
            if step:
                out.append(Seen(ev, (ev.pid, generation.get(ev.pid, 0)), socks))
    return out


def process_roles(seen: list[Seen]) -> dict[tuple[int, int], str]:
    """P1, P2, ... for each process in the order of its first socket call."""
    return {proc: f"P{n}" for n, proc in enumerate(dict.fromkeys(s.proc for s in seen), 1)}


def descriptor_roles(seen: list[Seen]) -> dict[tuple[tuple[int, int], Sock], str]:
    """L1/C1/S1... for each (process, socket), numbered per process and kind in order of appearance."""
    roles: dict[tuple[tuple[int, int], Sock], str] = {}
    counters: dict[tuple[tuple[int, int], str], int] = {}
    for s in seen:
        for sock in (x.resolved() for x in s.socks.values()):
            if (s.proc, sock) not in roles:
                n = counters[(s.proc, sock.kind)] = counters.get((s.proc, sock.kind), 0) + 1
                roles[(s.proc, sock)] = f"{sock.kind}{n}"
    return roles


# -- ports ------------------------------------------------------------------------------------------

def _port(addr: Any) -> int | None:
    if isinstance(addr, dict) and addr.get("family") in INET_FAMILIES and isinstance(addr.get("port"), int):
        return int(addr["port"]) or None
    return None


def _addresses(ev: Event) -> list[Any]:
    """The socket addresses a send goes to or a receive reports, wherever the call keeps them."""
    args = ev.args
    msgs = [args.get("msg")] + [m.get("msg_hdr") for m in args.get("msgvec") or [] if isinstance(m, dict)]
    return [args.get("dest_addr"), args.get("src_addr"), args.get("addr")] + [
        m.get("name") for m in msgs if isinstance(m, dict)]


def service_ports(seen: list[Seen]) -> set[int]:
    """Ports that name a service: listened on, bound explicitly, connected or sent to.

    A destination first learned from a receive (a UDP server replying to its
    client) is not one: that port was the kernel's choice on the other side.
    """
    service: set[int] = set()
    for s in seen:
        ev = s.event
        fd = ev.args.get("fd")
        listener = isinstance(fd, int) and fd in s.socks and s.socks[fd].resolved().listened
        if ev.name in ("bind", "connect") or (listener and ev.name == "getsockname"):
            service.update(p for p in [_port(ev.args.get("addr"))] if p)
        if listener:
            service.update(inet_ports(ev.endpoint)[:1])
    learned: set[int] = set()
    for s in seen:
        ports = [p for p in map(_port, _addresses(s.event)) if p]
        if s.event.name in SENDS:
            service.update(p for p in ports if p not in learned)
        elif s.event.name in RECEIVES:
            learned.update(ports)
    service.discard(0)
    return service


class PortNames:
    """PORT1, PORT2, ... for service ports in the order they are asked for; EPHEMERAL for any other; 0 stays."""

    def __init__(self, service: set[int]) -> None:
        self.service = service
        self.names: dict[int, str] = {}

    def __call__(self, port: int) -> int | str:
        if port == 0:
            return 0
        if port in self.service:
            return self.names.setdefault(port, f"PORT{len(self.names) + 1}")
        return "EPHEMERAL"


# -- values -----------------------------------------------------------------------------------------

def _roles(value: Any, roles: dict[int, str]) -> Any:
    """A descriptor, or a list of them, as roles (a number the walk does not know stays a number)."""
    if isinstance(value, list):
        return [_roles(v, roles) for v in value]
    return roles.get(value, value) if isinstance(value, int) and not isinstance(value, bool) else value


def _stable(value: Any, roles: dict[int, str], ports: PortNames | None) -> Any:
    """value with pointers, ports and SCM_RIGHTS descriptors renamed (top-level fd and sv are the caller's)."""
    if isinstance(value, dict):
        out = {k: _stable(v, roles, ports) for k, v in value.items()}
        if ports is not None and value.get("family") in INET_FAMILIES and isinstance(value.get("port"), int):
            out["port"] = ports(value["port"])
        if value.get("type") == "SCM_RIGHTS":
            out["fds"] = _roles(value.get("fds"), roles)
        return out
    if isinstance(value, list):
        return [_stable(v, roles, ports) for v in value]
    if isinstance(value, str) and _POINTER.fullmatch(value):
        return "PTR"
    return value


def make_key(proc: str, name: str, args: dict[str, Any], ret: Any, errno: str | None) -> str:
    return json.dumps([proc, name, args, ret, errno], sort_keys=True, ensure_ascii=True)


# -- text -------------------------------------------------------------------------------------------

def _sockaddr_text(d: dict[str, Any]) -> str:
    family, path = d.get("family"), d.get("path")
    if family in INET_FAMILIES and "address" in d:
        host = d["address"] if family == "AF_INET" else f"[{d['address']}]"
        extra = "".join(f", {k}={d[k]}" for k in ("flowinfo", "scope_id") if d.get(k))
        return f"{{{family}, {host}:{d.get('port')}{extra}}}"
    if family == "AF_UNIX" and path is not None:
        return f'{{AF_UNIX, @"{str(path)[1:]}"}}' if d.get("abstract") else f'{{AF_UNIX, "{path}"}}'
    return "{" + ", ".join([str(family), *(f"{k}={_show(v)}" for k, v in d.items() if k != "family")]) + "}"


def _show(value: Any) -> str:
    """A normalized argument value in short strace-like notation (a msghdr without its empty fields)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if not isinstance(value, dict):
        return str(value)
    if "text" in value:
        return f'"{value["text"]}"' + ("..." if value.get("truncated") else "")
    if "family" in value:
        return _sockaddr_text(value)
    if set(value) == {"in", "out"}:
        return f"[{value['in']}]" if value["in"] == value["out"] else f"[{value['in']} => {value['out']}]"
    if "iov" in value:
        empty: tuple[Any, ...] = (None, 0, {"in": 0, "out": 0}, [])
        shown = {"name": value.get("name"), **{k: value.get(k) for k in ("namelen", "iov", "control")
                                               if value.get(k) not in empty}, "flags": value.get("flags")}
        return "{" + ", ".join(f"msg_{k}={_show(v)}" for k, v in shown.items()) + "}"
    if "msg_hdr" in value:
        return f"{{{_show(value['msg_hdr'])}, {value.get('msg_len')}}}"
    if set(value) == {"base", "len"}:
        return f"{{{_show(value['base'])}, {value['len']}}}"
    if "level" in value and "type" in value:
        return f"{{{value['level']}, {value['type']}, {_show(value.get('fds', value.get('data')))}}}"
    return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"


def _call_text(name: str, args: dict[str, Any], ret: Any, errno: str | None,
               endpoint: str | None, ret_endpoint: str | None) -> str:
    """``name(args) = result``, with the descriptor's endpoint after fd when one is given."""
    shown = []
    for key, value in args.items():
        text = _show(value)
        shown.append(f"{text}<{endpoint}>" if key == "fd" and endpoint else text)
    result = "?" if ret is None else f"{ret}<{ret_endpoint}>" if ret_endpoint and not errno else str(ret)
    result += f" {errno}" if errno else ""
    return escape_for_terminal(f"{name}({', '.join(shown)}) = {result}")


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
    seen = walk(trace)
    if level == "raw":
        return [_raw_step(s.event) for s in seen]
    procs = process_roles(seen)
    roles_of = descriptor_roles(seen)
    ports = PortNames(service_ports(seen))
    items: list[tuple[str, Call, str, Event]] = []
    for s in seen:
        ev, proc = s.event, procs[s.proc]
        name = ev.name or "?"
        roles = {n: roles_of[(s.proc, sock.resolved())] for n, sock in s.socks.items()}
        endpoint = normalize_endpoint(ev.endpoint, ports) if ev.endpoint else None
        args = _stable(ev.args, roles, ports)
        args.update((k, _roles(args[k], roles)) for k in ("fd", "sv") if k in args)
        ret: Any = ev.ret
        if name in syscalls.RETURNS_SOCKET and ev.errno is None and isinstance(ret, int):
            ret = roles.get(ret, ret)
        ret_endpoint = normalize_endpoint(ev.ret_endpoint, ports) if ev.ret_endpoint else None
        text = _call_text(name, args, ret, ev.errno, *((endpoint, ret_endpoint) if endpoints else (None, None)))
        sock = s.socks.get(ev.args.get("fd", -1))
        call = Call(name, args, ret, ev.errno, stream=sock is not None and sock.resolved().stream)
        items.append((proc, apply_rules(call) if level == "semantic" else call, text, ev))
    if level == "semantic":
        items = _join_runs(items, trace.header.string_limit)
    return [Step(proc, c.name, c.args, c.ret, c.errno, make_key(proc, c.name, c.key_args(), c.ret, c.errno), text, ev,
                 rules=list(c.rules), notes=list(c.notes), informational=c.informational)
            for proc, c, text, ev in items]


def _join_runs(items: list[tuple[str, Call, str, Event]], limit: int) -> list[tuple[str, Call, str, Event]]:
    """items after the sequence rules, applied to each process's calls; a joined call takes its first's place."""
    by_proc: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_proc.setdefault(item[0], []).append(i)
    kept: dict[int, tuple[str, Call, str, Event]] = {}
    for proc, where in by_proc.items():
        pos = 0
        for call in apply_run_rules([items[i][1] for i in where], limit):
            _, _, text, ev = items[where[pos]]
            if call.span > 1:
                text += escape_for_terminal(f" (+{call.span - 1} more: {_show(call.args.get('buf'))} in all)")
            kept[where[pos]] = (proc, call, text, ev)
            pos += call.span
    return [kept[i] for i in sorted(kept)]
