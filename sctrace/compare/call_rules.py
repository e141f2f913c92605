"""The semantic rules that look at one call: each returns the call rewritten, or None when it does not apply.

Each is a small pure function of a Call (its arguments already
stable-normalized), and its docstring is its summary in `sctrace compare
--rules`.  rules.py lists them, in the order they run, each with the call
names it may rewrite (a call meets only the rules of its name): a rule that
learns a new name must have it added there.
"""

from __future__ import annotations

from typing import Any

from sctrace.compare.call import Call, Path, changed
from sctrace.model.registry import Direction, Kind, names

READ_FLAGS = frozenset({"0"})
WRITE_FLAGS = frozenset({"0", "MSG_NOSIGNAL"})  # MSG_NOSIGNAL only turns SIGPIPE into EPIPE
TYPE_FLAGS = ("SOCK_CLOEXEC", "SOCK_NONBLOCK")
# The calls that only read a socket's state (getsockname, getpeername, getsockopt).
STATE_READERS = frozenset(names(lambda c: c.direction is Direction.INSPECT))
# The calls with a value-result length ({"in", "out"}: socklen_t the kernel rewrites, strace's [128 => 16]):
# addrlen of accept, accept4, getsockname, getpeername, recvfrom; optlen of getsockopt; msg_namelen of
# recvmsg and recvmmsg (sctrace/backends/ptrace/decode/net.py, msghdr.py; strace_args._VALUE_RESULT).
VALUE_RESULT_CALLS = frozenset(names(lambda c: c.has(Kind.VALUE_RESULT) or c.has(Kind.MSGHDR, Kind.MMSGHDR, out=True)))
# The calls buffer_size may change: the receives (the size of their buffer), and those with a value-result length.
BUFFER_SIZE_CALLS = frozenset(names(lambda c: c.direction is Direction.RECEIVE)) | VALUE_RESULT_CALLS
_CONTAINERS = (dict, list)


def _flags(value: Any) -> set[str]:
    """A flag set as strace prints it ("A|B", "0") as a set of names; "0" is the empty set."""
    text = str(value) if value is not None else "0"
    return {f for f in text.split("|") if f and f != "0"}


def _noted(call: Call, *notes: str) -> tuple[str, ...]:
    return call.notes + tuple(filter(None, notes))


def state_readers(call: Call) -> Call | None:
    """getsockname, getpeername and getsockopt only read state (Python asks getsockname of every accepted
    socket, PHP getsockopt(SO_TYPE) of an exported one): shown as information, never a difference.
    """
    if call.name in STATE_READERS and not call.informational:
        return changed(call, informational=True)
    return None


def name_service_role(value: Any) -> bool:
    """Whether value is the role of a name-service socket: N1, N2, ..."""
    return isinstance(value, str) and value[:1] == "N" and value[1:].isdigit()


def name_service(call: Call) -> Call | None:
    """The C library's name-service lookups (nscd, which glibc tries first on every user, group or host lookup,
    and the sockets of systemd's and sssd's nss modules) are the runtime's, made on one machine and not on
    another (Python or a shell started without HOME or SHELL looks up its user): their sockets are N1, N2,
    ..., and every call on them is informational, never a difference; compare counts them in its summary
    instead of showing them as rows, and golden files and the matrix leave them out.
    """
    if call.informational or not (name_service_role(call.args.get("fd"))
                                  or (call.name == "socket" and name_service_role(call.ret))):
        return None
    return changed(call, informational=True, notes=_noted(call, "name-service lookup"))


def unused_source_address(call: Call) -> Call | None:
    """On a connected stream socket the kernel reports no source address, so a receive that passed an
    address buffer (Perl's recv, Python's recvmsg) and got nothing back (length out 0) is one that passed none.
    """
    args = call.args
    if call.name == "recvfrom":
        addrlen = args.get("addrlen")
        if args.get("src_addr") is not None and isinstance(addrlen, dict) and addrlen.get("out") == 0:
            new = {**args, "src_addr": None, "addrlen": None}
            return changed(call, args=new, notes=_noted(call, f"unused source-address buffer of {addrlen.get('in')}"))
    if call.name == "recvmsg":
        msg = args.get("msg")
        if isinstance(msg, dict) and msg.get("name") is not None:
            namelen = msg.get("namelen")
            if isinstance(namelen, dict) and namelen.get("out") == 0:
                new_msg = {**msg, "name": None, "namelen": {"in": 0, "out": 0}}
                note = f"unused msg_name buffer of {namelen.get('in')}"
                return changed(call, args={**args, "msg": new_msg}, notes=_noted(call, note))
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
    return changed(call, name="accept", args=args, notes=_noted(call, *sorted(flags)))


def recv_is_read(call: Call) -> Call | None:
    """recvfrom with flags 0 and no address buffer, and recv with flags 0, do exactly what read does on a
    socket.
    """
    args = call.args
    plain = str(args.get("flags")) in READ_FLAGS
    if not plain or call.name not in ("recvfrom", "recv") or args.get("src_addr") is not None:
        return None
    return changed(call, name="read", args={"fd": args.get("fd"), "buf": args.get("buf"), "count": args.get("len")})


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
    return changed(call, name="write", args=new, notes=_noted(call, *_flags(args.get("flags"))))


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
        return changed(call, name="read" if call.name == "readv" else "write", args=new)
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
        return changed(call, name="write" if send else "read", args=new, notes=_noted(call, *_flags(flags)))
    addrlen = msg.get("namelen") if name is not None else (0 if send else None)
    new = {"fd": args.get("fd"), "buf": item["base"], "len": item.get("len"), "flags": flags,
           "dest_addr" if send else "src_addr": name, "addrlen": addrlen}
    return changed(call, name="sendto" if send else "recvfrom", args=new)


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
    return changed(call, args=args, notes=_noted(call, *(p for p in parts if p in TYPE_FLAGS)))


_DEFAULT_PROTOCOLS = {"SOCK_STREAM": "IPPROTO_TCP", "SOCK_DGRAM": "IPPROTO_UDP"}


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
    proto = _DEFAULT_PROTOCOLS.get(base)
    if proto is None:
        return None
    return changed(call, args={**args, "protocol": proto}, notes=_noted(call, f"protocol {args.get('protocol')}"))


def _sun_len(addr: Any) -> int | None:
    """sizeof(sa_family) + the path's bytes, for a named (not abstract) AF_UNIX address free of escapes."""
    if not isinstance(addr, dict) or addr.get("family") != "AF_UNIX" or addr.get("abstract"):
        return None
    path = addr.get("path")
    if not isinstance(path, str) or not path or "\\" in path:
        return None
    return 2 + len(path.encode("utf-8", "surrogateescape"))


_SUN_PLACES = {"bind": ("addr", "addrlen"), "connect": ("addr", "addrlen"), "sendto": ("dest_addr", "addrlen")}


def sun_path_nul(call: Call) -> Call | None:
    """The kernel accepts an AF_UNIX address length with or without the path's trailing NUL (PHP leaves
    it out, Python counts it); the length without it is taken as the one with it, and noted.
    """
    places = _SUN_PLACES.get(call.name)
    if places is None:
        return None
    addr_key, len_key = places
    size = _sun_len(call.args.get(addr_key))
    if size is None or call.args.get(len_key) != size:
        return None
    note = f"{len_key} {size} without the trailing NUL"
    return changed(call, args={**call.args, len_key: size + 1}, notes=_noted(call, note))


def _value_results(value: Any, path: Path, returned: bool) -> list[tuple[Path, Any]]:
    """Every value-result length inside value: the place of its "in" (of all of it when the call never
    returned, so the kernel wrote nothing back), and that size unless the result filled it exactly."""
    hits: list[tuple[Path, Any]] = []
    if isinstance(value, dict):
        if len(value) == 2 and "in" in value and "out" in value:
            size = value["in"] if value["in"] != value["out"] or not returned else None
            return [((*path, "in") if returned else path, size)]
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return hits
    # This runs on every call: a scalar, or a container of scalars, is not worth a call.
    for k, v in items:
        kind = type(v)
        if kind is str or kind is int or v is None:
            continue
        if isinstance(v, dict):
            if len(v) == 2 and "in" in v and "out" in v:
                size = v["in"] if v["in"] != v["out"] or not returned else None
                hits.append(((*path, k, "in") if returned else (*path, k), size))
            else:
                for x in v.values():
                    if isinstance(x, _CONTAINERS):
                        hits += _value_results(v, (*path, k), returned)
                        break
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, _CONTAINERS):
                    hits += _value_results(v, (*path, k), returned)
                    break
    return hits


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
    return changed(call, ignored=(*call.ignored, ("backlog",)), notes=_noted(call, f"backlog {call.args['backlog']}"))


def buffer_size(call: Call) -> Call | None:
    """Sizes that only say how big the program's buffer was do not fail a comparison (PHP reads 128
    bytes where Python reads 1024): the count of read and recvfrom, the iovec lengths of a receive, the "in"
    side of every value-result length (all of it when the call never returned). They are shown and noted,
    and what the kernel returned still counts.
    """
    args, name = call.args, call.name
    places: list[tuple[Path, Any]] = []
    if name == "read":
        if "count" in args:
            places.append((("count",), args["count"]))
    elif name in ("recvfrom", "recv"):
        if "len" in args:
            places.append((("len",), args["len"]))
    elif name == "readv":
        places += _iov_sizes(args.get("iov"), ("iov",))
    elif name == "recvmsg":
        if isinstance(args.get("msg"), dict):
            places += _iov_sizes(args["msg"].get("iov"), ("msg", "iov"))
    elif name == "recvmmsg" and isinstance(args.get("msgvec"), list):
        for i, item in enumerate(args["msgvec"]):
            if isinstance(item, dict) and isinstance(item.get("msg_hdr"), dict):
                places += _iov_sizes(item["msg_hdr"].get("iov"), ("msgvec", i, "msg_hdr", "iov"))
    if name in VALUE_RESULT_CALLS:
        places += _value_results(args, (), call.ret is not None)
    if call.ignored:
        places = [(p, v) for p, v in places if p not in call.ignored]
    if not places:
        return None
    notes = [f"buffer size {v} ({'.'.join(str(part) for part in p if part != 'in')})" for p, v in places
             if v is not None]
    return changed(call, ignored=call.ignored + tuple(p for p, _ in places), notes=_noted(call, *notes))
