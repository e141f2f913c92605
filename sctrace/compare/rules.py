"""The rules by which two socket calls count as the same, listed in one place.

Programs in different languages reach the same socket state through different
calls: PHP's socket_accept is accept(2), Python's accept() is accept4(2) with
SOCK_CLOEXEC; PHP reads 64 bytes where Python reads 1024.  Each such
equivalence is one named rule here, so that `sctrace compare --rules` can list
them and a comparison can say which rule made two rows equal.

Raw and stable rules rename what never compares (pointers, pids, descriptor
numbers, ports, inodes); they need the whole trace and normalize.py applies
them.  Semantic rules are small pure functions: most look at one call (a Call)
and return it rewritten, or None when they do not apply; the sequence rules
look at one process's calls in order and join runs of them.  Each runs once,
in RULES order, so a later rule sees what an earlier one made (recv_is_read
turns recvfrom into read before buffer_size looks for read's size).  A
semantic rule's docstring is its summary in `sctrace compare --rules`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sctrace.escape import escape_bytes
from sctrace.strace_args import unescape

# A place inside a call's arguments: ("addrlen", "in"), ("msg", "iov", 0, "len").
Path = tuple[str | int, ...]

READ_FLAGS = frozenset({"0"})
WRITE_FLAGS = frozenset({"0", "MSG_NOSIGNAL"})  # MSG_NOSIGNAL only turns SIGPIPE into EPIPE
TYPE_FLAGS = ("SOCK_CLOEXEC", "SOCK_NONBLOCK")
STATE_READERS = frozenset({"getsockname", "getpeername", "getsockopt"})


@dataclass(frozen=True)
class Call:
    """A socket call on its way to becoming a Step: the values the semantic rules rewrite.

    ``args`` are already stable-normalized (roles, PORTn).  ``ignored`` lists
    argument places left out of the comparison key but still shown (a buffer
    size); ``notes`` say what a rule tolerated, ``rules`` which rules changed
    the call.  ``stream`` says the descriptor is a stream socket (bytes without
    message boundaries); ``span`` is how many traced calls this one stands for.
    """

    name: str
    args: dict[str, Any]
    ret: Any = 0
    errno: str | None = None
    ignored: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()
    informational: bool = False
    rules: tuple[str, ...] = ()
    stream: bool = False
    span: int = 1

    def key_args(self) -> dict[str, Any]:
        """args without the ignored places: what the comparison key is built from."""
        out = self.args
        for place in self.ignored:
            out = _without(out, place)
        return out


def _without(value: Any, place: Path) -> Any:
    """value without the item at place, copying only the containers on the way there."""
    head, rest = place[0], place[1:]
    if isinstance(value, dict) and head in value:
        return {**value, head: _without(value[head], rest)} if rest else {k: v for k, v in value.items() if k != head}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value) and rest:
        return [*value[:head], _without(value[head], rest), *value[head + 1:]]
    return value


@dataclass(frozen=True)
class Rule:
    """One equivalence, as `sctrace compare --rules` explains it.

    A semantic rule has ``apply`` (one call) or ``apply_run`` (one process's
    calls, and the trace's string limit); raw and stable rules are trace-wide
    renamings carried out by normalize.py and have neither.
    """

    name: str
    level: str
    summary: str
    example_before: str
    example_after: str
    apply: Callable[[Call], Call | None] | None = None
    apply_run: Callable[[list[Call], int], list[Call]] | None = None


def _flags(value: Any) -> set[str]:
    """A flag set as strace prints it ("A|B", "0") as a set of names; "0" is the empty set."""
    text = str(value) if value is not None else "0"
    return {f for f in text.split("|") if f and f != "0"}


def _noted(call: Call, *notes: str) -> tuple[str, ...]:
    return call.notes + tuple(n for n in notes if n)


# -- semantic rules ---------------------------------------------------------------------------------


def state_readers(call: Call) -> Call | None:
    """getsockname, getpeername and getsockopt only read state (Python asks getsockname of every accepted
    socket, PHP getsockopt(SO_TYPE) of an exported one): shown as information, never a difference.
    """
    if call.name in STATE_READERS and not call.informational:
        return replace(call, informational=True)
    return None


def unused_source_address(call: Call) -> Call | None:
    """On a connected stream socket the kernel reports no source address, so a receive that passed an
    address buffer (Perl's recv, Python's recvmsg) and got nothing back (length out 0) is one that passed none.
    """
    args = call.args
    if call.name == "recvfrom":
        addrlen = args.get("addrlen")
        if args.get("src_addr") is not None and isinstance(addrlen, dict) and addrlen.get("out") == 0:
            new = {**args, "src_addr": None, "addrlen": None}
            return replace(call, args=new, notes=_noted(call, f"unused source-address buffer of {addrlen.get('in')}"))
    if call.name == "recvmsg":
        msg = args.get("msg")
        if isinstance(msg, dict) and msg.get("name") is not None:
            namelen = msg.get("namelen")
            if isinstance(namelen, dict) and namelen.get("out") == 0:
                new_msg = {**msg, "name": None, "namelen": {"in": 0, "out": 0}}
                note = f"unused msg_name buffer of {namelen.get('in')}"
                return replace(call, args={**args, "msg": new_msg}, notes=_noted(call, note))
    return None


def accept_is_accept4(call: Call) -> Call | None:
    """accept is accept4 with flags 0 in the kernel; SOCK_CLOEXEC and SOCK_NONBLOCK only set flags of the
    new descriptor that each runtime picks for itself (noted).
    """
    if call.name != "accept4":
        return None
    flags = _flags(call.args.get("flags"))
    if not flags <= set(TYPE_FLAGS):
        return None
    args = {k: v for k, v in call.args.items() if k != "flags"}
    return replace(call, name="accept", args=args, notes=_noted(call, *sorted(flags)))


def recv_is_read(call: Call) -> Call | None:
    """recvfrom with flags 0 and no address buffer, and recv with flags 0, do exactly what read does on a
    socket.
    """
    args = call.args
    plain = str(args.get("flags")) in READ_FLAGS
    if not plain or call.name not in ("recvfrom", "recv") or args.get("src_addr") is not None:
        return None
    return replace(call, name="read", args={"fd": args.get("fd"), "buf": args.get("buf"), "count": args.get("len")})


def send_is_write(call: Call) -> Call | None:
    """sendto with flags 0 and no destination, and send likewise, do what write does on a socket;
    MSG_NOSIGNAL only turns a SIGPIPE into EPIPE and is noted.
    """
    args = call.args
    if call.name not in ("sendto", "send") or str(args.get("flags")) not in WRITE_FLAGS:
        return None
    if call.name == "sendto" and args.get("dest_addr") is not None:
        return None
    new = {"fd": args.get("fd"), "buf": args.get("buf"), "count": args.get("len")}
    return replace(call, name="write", args=new, notes=_noted(call, *_flags(args.get("flags"))))


def _single_buffer(iov: Any) -> dict[str, Any] | None:
    if isinstance(iov, list) and len(iov) == 1 and isinstance(iov[0], dict) and "base" in iov[0]:
        return iov[0]
    return None


def single_iov(call: Call) -> Call | None:
    """A call with one iovec and no control data moves the same bytes as the plain call: readv/writev are
    read/write, sendmsg/recvmsg are sendto/recvfrom with msg_name as the address (Node's UDP), and so
    read/write when there is no address and no flags.
    """
    args = call.args
    if call.name in ("readv", "writev"):
        item = _single_buffer(args.get("iov"))
        if item is None:
            return None
        new = {"fd": args.get("fd"), "buf": item["base"], "count": item.get("len")}
        return replace(call, name="read" if call.name == "readv" else "write", args=new)
    msg = args.get("msg")
    if call.name not in ("sendmsg", "recvmsg") or not isinstance(msg, dict) or msg.get("control") \
            or msg.get("controllen") or str(msg.get("flags", "0")) != "0":
        return None
    item = _single_buffer(msg.get("iov"))
    if item is None:
        return None
    send, name, flags = call.name == "sendmsg", msg.get("name"), args.get("flags")
    if name is None and str(flags) in (WRITE_FLAGS if send else READ_FLAGS):
        new = {"fd": args.get("fd"), "buf": item["base"], "count": item.get("len")}
        return replace(call, name="write" if send else "read", args=new, notes=_noted(call, *_flags(flags)))
    addrlen = msg.get("namelen") if name is not None else (0 if send else None)
    new = {"fd": args.get("fd"), "buf": item["base"], "len": item.get("len"), "flags": flags,
           "dest_addr" if send else "src_addr": name, "addrlen": addrlen}
    return replace(call, name="sendto" if send else "recvfrom", args=new)


def socket_flags(call: Call) -> Call | None:
    """SOCK_CLOEXEC and SOCK_NONBLOCK in the type of socket or socketpair are descriptor flags a runtime
    sets by habit (Python, Node) or not (PHP): noted, not compared.
    """
    if call.name not in ("socket", "socketpair"):
        return None
    parts = str(call.args.get("type", "")).split("|")
    kept = [p for p in parts if p not in TYPE_FLAGS]
    if len(kept) == len(parts):
        return None
    args = {**call.args, "type": "|".join(kept) or "0"}
    return replace(call, args=args, notes=_noted(call, *(p for p in parts if p in TYPE_FLAGS)))


def default_protocol(call: Call) -> Call | None:
    """Protocol 0 (IPPROTO_IP) lets the kernel choose, and for AF_INET/AF_INET6 it chooses IPPROTO_TCP
    for a stream socket and IPPROTO_UDP for a datagram one, which PHP names explicitly.
    """
    args = call.args
    if call.name not in ("socket", "socketpair") or args.get("domain") not in ("AF_INET", "AF_INET6"):
        return None
    if str(args.get("protocol")) not in ("0", "IPPROTO_IP"):
        return None
    base = str(args.get("type", "")).split("|")[0]
    proto = {"SOCK_STREAM": "IPPROTO_TCP", "SOCK_DGRAM": "IPPROTO_UDP"}.get(base)
    if proto is None:
        return None
    return replace(call, args={**args, "protocol": proto}, notes=_noted(call, f"protocol {args.get('protocol')}"))


def _sun_len(addr: Any) -> int | None:
    """sizeof(sa_family) + the path's bytes, for a named (not abstract) AF_UNIX address free of escapes."""
    if not isinstance(addr, dict) or addr.get("family") != "AF_UNIX" or addr.get("abstract"):
        return None
    path = addr.get("path")
    if not isinstance(path, str) or not path or "\\" in path:
        return None
    return 2 + len(path.encode("utf-8", "surrogateescape"))


def sun_path_nul(call: Call) -> Call | None:
    """The kernel accepts an AF_UNIX address length with or without the path's trailing NUL (PHP leaves
    it out, Python counts it); the length without it is taken as the one with it, and noted.
    """
    places = {"bind": ("addr", "addrlen"), "connect": ("addr", "addrlen"), "sendto": ("dest_addr", "addrlen")}
    if call.name not in places:
        return None
    addr_key, len_key = places[call.name]
    size = _sun_len(call.args.get(addr_key))
    if size is None or call.args.get(len_key) != size:
        return None
    note = f"{len_key} {size} without the trailing NUL"
    return replace(call, args={**call.args, len_key: size + 1}, notes=_noted(call, note))


def _value_results(value: Any, path: Path, returned: bool) -> list[tuple[Path, Any]]:
    """Every value-result length inside value: the place of its "in" (of all of it when the call never
    returned, so the kernel wrote nothing back), and that size unless the result filled it exactly."""
    if isinstance(value, dict):
        if set(value) == {"in", "out"}:
            size = value["in"] if value["in"] != value["out"] or not returned else None
            return [((*path, "in") if returned else path, size)]
        return [hit for k, v in value.items() for hit in _value_results(v, (*path, k), returned)]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in _value_results(v, (*path, i), returned)]
    return []


def _iov_sizes(iov: Any, path: Path) -> list[tuple[Path, Any]]:
    if not isinstance(iov, list):
        return []
    return [((*path, i, "len"), item.get("len")) for i, item in enumerate(iov) if isinstance(item, dict)]


def listen_backlog(call: Call) -> Call | None:
    """listen's backlog only sizes the queue of connections not yet accepted, the kernel caps it at
    somaxconn (and 0 still queues one), and each runtime has its own default (PHP 0, Python 128, Node 511,
    Ruby 4096): noted, not compared.
    """
    if call.name != "listen" or "backlog" not in call.args or ("backlog",) in call.ignored:
        return None
    return replace(call, ignored=(*call.ignored, ("backlog",)), notes=_noted(call, f"backlog {call.args['backlog']}"))


def buffer_size(call: Call) -> Call | None:
    """Sizes that only say how big the program's buffer was do not fail a comparison (PHP reads 128
    bytes where Python reads 1024): the count of read and recvfrom, the iovec lengths of a receive, the "in"
    side of every value-result length (all of it when the call never returned). They are shown and noted,
    and what the kernel returned still counts.
    """
    args = call.args
    places: list[tuple[Path, Any]] = []
    if call.name == "read" and "count" in args:
        places.append((("count",), args["count"]))
    elif call.name in ("recvfrom", "recv") and "len" in args:
        places.append((("len",), args["len"]))
    elif call.name == "readv":
        places += _iov_sizes(args.get("iov"), ("iov",))
    elif call.name == "recvmsg" and isinstance(args.get("msg"), dict):
        places += _iov_sizes(args["msg"].get("iov"), ("msg", "iov"))
    elif call.name == "recvmmsg" and isinstance(args.get("msgvec"), list):
        for i, item in enumerate(args["msgvec"]):
            if isinstance(item, dict) and isinstance(item.get("msg_hdr"), dict):
                places += _iov_sizes(item["msg_hdr"].get("iov"), ("msgvec", i, "msg_hdr", "iov"))
    places += _value_results(args, (), call.ret is not None)
    places = [(p, v) for p, v in places if p not in call.ignored]
    if not places:
        return None
    notes = [f"buffer size {v} ({'.'.join(str(part) for part in p if part != 'in')})" for p, v in places
             if v is not None]
    return replace(call, ignored=call.ignored + tuple(p for p, _ in places), notes=_noted(call, *notes))


# -- sequence rules ---------------------------------------------------------------------------------


def _join(run: list[Call], limit: int, rule: str, note: str) -> Call:
    """One call standing for a run of reads or writes on one stream socket: their bytes, counts and results."""
    first, bufs = run[0], [c.args["buf"] for c in run]
    total = sum(int(b.get("len", 0)) for b in bufs)
    known = b"".join(unescape(b["text"]) for b in bufs)  # all of it, unless the last buffer was cut
    buf: dict[str, Any] = {"text": escape_bytes(known, limit), "len": total}
    if total > min(len(known), limit):
        buf["truncated"] = True
    counts = [n for c in run if isinstance(n := c.args.get("count"), int)]
    count = sum(counts) if len(counts) == len(run) else first.args.get("count")
    rules = tuple(dict.fromkeys(r for c in run for r in c.rules)) + (rule,)
    return replace(first, args={**first.args, "buf": buf, "count": count}, ret=sum(c.ret for c in run),
                   rules=rules, notes=(*first.notes, note), span=sum(c.span for c in run))


def _runs(calls: list[Call], limit: int, rule: str, kind: Callable[[Call], Any], note: str) -> list[Call]:
    """calls with each run of consecutive calls of one kind (not None) joined into one."""
    out: list[Call] = []
    run: list[Call] = []

    def flush() -> None:
        out.extend([_join(run, limit, rule, note.format(n=sum(c.span for c in run)))] if len(run) > 1 else run)
        run.clear()

    for call in calls:
        this = kind(call)
        if run and this is not None and this == kind(run[0]) and not run[-1].args["buf"].get("truncated"):
            run.append(call)  # a cut buffer can only end a run: the bytes after its cut are unknown
            continue
        flush()
        (out if this is None else run).append(call)
    flush()
    return out


def _stream_io(call: Call, results: str) -> tuple[str, Any] | None:
    """(name, descriptor) of a read or write on a stream socket that moved bytes ("data") or saw its end ("eof")."""
    buf = call.args.get("buf")
    if not (call.stream and call.name in ("read", "write") and call.errno is None and isinstance(call.ret, int)
            and isinstance(buf, dict) and isinstance(buf.get("text"), str)):
        return None
    if (call.ret > 0) if results == "data" else (call.ret == 0 and call.name == "read"):
        return call.name, call.args.get("fd")
    return None


def eof_repeats(calls: list[Call], limit: int) -> list[Call]:
    """Once a read on a stream socket returned 0 (end of stream), more reads that return 0 say nothing new:
    PHP's socket_read(PHP_NORMAL_READ) tries 200 more times before it gives up. A run of them is one read
    (noted).
    """
    return _runs(calls, limit, "eof_repeats", lambda c: _stream_io(c, "eof"), "{n} reads at end of stream")


def stream_chunks(calls: list[Call], limit: int) -> list[Call]:
    """A stream socket keeps no message boundaries, so consecutive reads (or writes) of one process on one
    stream socket are one read (write) of their bytes together: PHP's PHP_NORMAL_READ reads a line a byte
    at a time, Python's makefile() up to 8192 bytes at once (noted).
    """
    return _runs(calls, limit, "stream_chunks", lambda c: _stream_io(c, "data"), "{n} calls in a row")


# -- the list ---------------------------------------------------------------------------------------

RULES: list[Rule] = [
    Rule("pointers", "raw",
         "An address in the traced program's memory (an argument that could not be read) differs from run to run "
         "and says nothing about the call, so it is PTR in the key.",
         "recvmsg(4, {msg_name=0x7ffc7b99afa0, ...}, 0)", "recvmsg(4, {msg_name=PTR, ...}, 0)"),
    Rule("process_roles", "stable",
         "Pids differ between runs: processes and threads are P1, P2, ... in the order of their first socket call.",
         "[pid 4242] socket(...); [pid 4250] connect(...)", "P1 socket(...); P2 connect(...)"),
    Rule("descriptor_roles", "stable",
         "Descriptor numbers depend on what else a runtime has open (PHP starts at 4, Node near 20), so a "
         "descriptor becomes the role of its socket, numbered per process in order of appearance: L1, L2 for "
         "listening sockets (listen or accept called on them), C1, C2 for connected stream sockets (returned by "
         "accept, or connect succeeded or is in progress), S1, S2 for the others (UDP, unconnected, socketpair "
         "ends). The role is decided by looking ahead and follows the socket across fork, threads and dup (a "
         "descriptor first seen in use is matched to a socket by its endpoint; one received in SCM_RIGHTS is a "
         "new socket). It replaces the descriptor everywhere: fd arguments, socket/accept results, socketpair's "
         "pair, SCM_RIGHTS data.",
         "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4; listen(4, 1); accept(4, ...) = 6",
         "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = L1; listen(L1, 1); accept(L1, ...) = C1"),
    Rule("service_ports", "stable",
         "A server on port 0 gets a new port each run: ports listened on, bound explicitly, connected to or sent "
         "to are PORT1, PORT2, ... in order of first appearance, the same number the same name throughout the "
         "trace. Port 0 stays 0.",
         "connect(C1, {AF_INET, 127.0.0.1:41955}, 16)", "connect(C1, {AF_INET, 127.0.0.1:PORT1}, 16)"),
    Rule("ephemeral_ports", "stable",
         "Any other port is one the kernel chose for a client (the peer port accept or recvfrom reports, a "
         "reply's destination), and is EPHEMERAL.",
         "accept(L1, {AF_INET, 127.0.0.1:34664}, [16]) = C2", "accept(L1, {AF_INET, 127.0.0.1:EPHEMERAL}, [16]) = C2"),
    Rule("inodes", "stable",
         "Socket inode numbers in endpoints are INODE; endpoints get the same port names as arguments.",
         "TCP:[755897]; TCP:[127.0.0.1:41955->127.0.0.1:34664]",
         "TCP:[INODE]; TCP:[127.0.0.1:PORT1->127.0.0.1:EPHEMERAL]"),
    *(Rule(fn.__name__, "semantic", " ".join((fn.__doc__ or "").split()), before, after, fn) for fn, before, after in [
        (state_readers, "getsockname(C2, {AF_INET, 127.0.0.1:PORT1}, [128 => 16]) = 0",
         "the same call, marked informational"),
        (unused_source_address, 'recvfrom(C2, "hi", 64, 0, 0x7ffc12830be0, [4096 => 0]) = 2',
         'recvfrom(C2, "hi", 64, 0, NULL, NULL) = 2'),
        (accept_is_accept4, "accept4(L1, {...}, [16], SOCK_CLOEXEC) = C2",
         "accept(L1, {...}, [16]) = C2 (noted: SOCK_CLOEXEC)"),
        (recv_is_read, 'recvfrom(C2, "hello\\n", 64, 0, NULL, NULL) = 6', 'read(C2, "hello\\n", 64) = 6'),
        (send_is_write, 'sendto(C1, "hello\\n", 6, 0, NULL, 0) = 6', 'write(C1, "hello\\n", 6) = 6'),
        (single_iov, 'sendmsg(S2, {msg_name={AF_INET, 127.0.0.1:PORT1}, msg_namelen=16, msg_iov=[{"ping", 4}], '
         'msg_flags=0}, 0) = 4', 'sendto(S2, "ping", 4, 0, {AF_INET, 127.0.0.1:PORT1}, 16) = 4'),
        (socket_flags, "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = L1",
         "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = L1 (noted: SOCK_CLOEXEC)"),
        (default_protocol, "socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = S1",
         "socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = S1"),
        (sun_path_nul, 'bind(L1, {AF_UNIX, "/tmp/s"}, 8) = 0', 'bind(L1, {AF_UNIX, "/tmp/s"}, 9) = 0'),
        (listen_backlog, "listen(L1, 0) = 0", "listen(L1, 128) = 0: the same key"),
        (buffer_size, 'read(C2, "hello\\n", 1024) = 6; accept(L1, {...}, [128 => 16]) = C2',
         'read(C2, "hello\\n", 64) = 6; accept(L1, {...}, [16]) = C2: the same keys'),
    ]),
    *(Rule(fn.__name__, "semantic", " ".join((fn.__doc__ or "").split()), before, after, apply_run=fn)
      for fn, before, after in [
        (eof_repeats, 'read(C1, "", 1) = 0; read(C1, "", 1) = 0; read(C1, "", 1) = 0', 'read(C1, "", 1) = 0'),
        (stream_chunks, 'read(C1, "h", 1) = 1; read(C1, "i", 1) = 1; read(C1, "\\n", 1) = 1',
         'read(C1, "hi\\n", 3) = 3'),
    ]),
]


def apply_rules(call: Call) -> Call:
    """call after every semantic rule of one call, in order; call.rules names those that changed it."""
    for rule in RULES:
        out = rule.apply(call) if rule.apply is not None else None
        if out is not None and out != call:
            call = replace(out, rules=(*out.rules, rule.name))
    return call


def apply_run_rules(calls: list[Call], limit: int) -> list[Call]:
    """One process's calls, in order, after the sequence rules (limit: the trace's payload bytes per buffer)."""
    for rule in RULES:
        if rule.apply_run is not None:
            calls = rule.apply_run(calls, limit)
    return calls


def describe_rules() -> str:
    """What `sctrace compare --rules` prints: every rule, one paragraph each, with its example."""
    paragraphs = []
    for rule in RULES:
        head = f"{rule.name} ({rule.level}): {rule.summary}"
        body = textwrap.fill(head, width=100, subsequent_indent="    ")
        body += f"\n    before: {rule.example_before}\n    after:  {rule.example_after}"
        paragraphs.append(body)
    intro = ("Levels: raw compares calls as traced; stable also renames what differs between runs (the raw and "
             "stable rules); semantic (the default) also applies the semantic rules, and a row they make equal is "
             "shown as equivalent with the rules' names.")
    return textwrap.fill(intro, width=100) + "\n\n" + "\n\n".join(paragraphs)
