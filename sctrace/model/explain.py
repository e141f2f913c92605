# SPDX-License-Identifier: GPL-2.0-or-later
"""One line per socket call that says what it asked of the kernel and what changed.

    listen: the socket becomes passive (it accepts connections); backlog 5, capped by net.core.somaxconn
    connect: ECONNREFUSED: nothing listens on 127.0.0.1:1234

These lines are for the lecture view (HTML, Markdown and Mermaid reports), so
they are written for a student, not for a kernel developer.  The knowledge is
tables: what each call does (EXPLAINERS, one small function per kind of call,
filled from the event's decoded arguments; each call's row in
sctrace/model/registry.py names its function, and SUCCESS maps calls to them),
what a socket option means (OPTIONS), what an error means for a given call
(CALL_ERRORS) and in general (ERRORS).  A call or an errno the tables do not
know degrades to its name and strerror text; nothing here raises on an odd
event.

The text is plain and unescaped: payloads are never quoted, but addresses and
paths come from the traced program, so every renderer escapes the line for
its own output, like any other text from a trace.

listen's backlog is capped by net.core.somaxconn *of the traced program's
network namespace*; that value is gone when the namespace is, after the run,
so the line says "capped by net.core.somaxconn" rather than a number it
cannot know for sure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sctrace.model import xlat
from sctrace.model.registry import REGISTRY
from sctrace.model.trace import Event

# Words for the families and types socket(2) creates (include/linux/socket.h, include/linux/net.h).
FAMILY_WORDS = {"AF_INET": "IPv4", "AF_INET6": "IPv6", "AF_UNIX": "UNIX", "AF_NETLINK": "netlink",
                "AF_PACKET": "packet"}
TYPE_WORDS = {"SOCK_STREAM": "stream", "SOCK_DGRAM": "datagram", "SOCK_RAW": "raw",
              "SOCK_SEQPACKET": "sequenced-packet"}
# The protocol the kernel picks for protocol 0 (net/ipv4/af_inet.c inetsw_array, net/ipv6/af_inet6.c).
DEFAULT_PROTOCOL = {("AF_INET", "SOCK_STREAM"): "TCP", ("AF_INET", "SOCK_DGRAM"): "UDP",
                    ("AF_INET6", "SOCK_STREAM"): "TCP", ("AF_INET6", "SOCK_DGRAM"): "UDP"}
# socket(2) and accept4(2) flags.
SOCKET_FLAG_WORDS = {"SOCK_CLOEXEC": "closed on exec", "SOCK_NONBLOCK": "non-blocking"}

# What setting an option asks for (socket(7), tcp(7), ip(7), ipv6(7)).
OPTIONS: dict[str, str] = {
    "SO_REUSEADDR": "the port may be bound again while an old connection on it is in TIME_WAIT",
    "SO_REUSEPORT": "several sockets may bind the same port; the kernel spreads connections among them",
    "SO_KEEPALIVE": "the kernel probes an idle connection to find a dead peer",
    "SO_LINGER": "close waits (or resets) until unsent data is gone",
    "SO_RCVBUF": "the size of the receive buffer (the kernel doubles the value)",
    "SO_SNDBUF": "the size of the send buffer (the kernel doubles the value)",
    "SO_RCVTIMEO": "a receive gives up after this time",
    "SO_SNDTIMEO": "a send gives up after this time",
    "SO_BROADCAST": "datagrams may be sent to a broadcast address",
    "SO_ERROR": "the pending error (how a non-blocking connect ended); reading it clears it",
    "SO_TYPE": "the socket's type",
    "SO_PASSCRED": "the peer's credentials come with each message",
    "SO_PEERCRED": "the credentials of the process at the other end",
    "SO_ACCEPTCONN": "whether the socket listens",
    "SO_DOMAIN": "the socket's family",
    "SO_PROTOCOL": "the socket's protocol",
    "TCP_NODELAY": "small segments go out at once (Nagle's algorithm off)",
    "TCP_CORK": "segments are held back until full",
    "TCP_KEEPIDLE": "idle time before the first keep-alive probe",
    "TCP_KEEPINTVL": "time between keep-alive probes",
    "TCP_KEEPCNT": "keep-alive probes before the connection is dropped",
    "TCP_QUICKACK": "acknowledgements are sent at once",
    "TCP_DEFER_ACCEPT": "accept wakes only when data has arrived",
    "TCP_FASTOPEN": "data may ride on the SYN (TCP Fast Open)",
    "TCP_INFO": "the connection's statistics (state, round-trip time, ...)",
    "TCP_MAXSEG": "the largest segment size",
    "IPV6_V6ONLY": "an IPv6 socket takes no IPv4-mapped connections",
    "IP_TOS": "the type-of-service byte of outgoing packets",
    "IP_TTL": "the time-to-live of outgoing packets",
}

# What an error means for one call (man 2 <call>, ERRORS); {addr} is the address the call named.
CALL_ERRORS: dict[tuple[str, str], str] = {
    ("connect", "ECONNREFUSED"): "nothing listens on {addr} (the kernel answered the SYN with RST)",
    ("connect", "EINPROGRESS"): "non-blocking: the handshake goes on; poll, then read SO_ERROR",
    ("connect", "EALREADY"): "a non-blocking connect is still in progress",
    ("connect", "EISCONN"): "the socket is already connected",
    ("connect", "ETIMEDOUT"): "no answer from {addr}",
    ("connect", "ENETUNREACH"): "no route to the network of {addr}",
    ("connect", "EHOSTUNREACH"): "no route to {addr}",
    ("connect", "ENOENT"): "no socket file {addr}",
    ("connect", "EADDRNOTAVAIL"): "no local port left, or {addr} cannot be reached from here",
    ("bind", "EADDRINUSE"): "{addr} is taken (by another socket, or by a connection in TIME_WAIT "
                            "when SO_REUSEADDR is not set)",
    ("bind", "EACCES"): "ports below 1024 need privilege (CAP_NET_BIND_SERVICE)",
    ("bind", "EADDRNOTAVAIL"): "{addr} is not an address of this machine",
    ("bind", "EINVAL"): "the socket is already bound",
    ("listen", "EADDRINUSE"): "another socket already listens on that port",
    ("listen", "EOPNOTSUPP"): "this kind of socket cannot listen (datagram?)",
    ("accept", "EAGAIN"): "no connection is waiting (non-blocking socket)",
    ("accept4", "EAGAIN"): "no connection is waiting (non-blocking socket)",
    ("accept", "EINVAL"): "the socket does not listen",
    ("accept4", "EINVAL"): "the socket does not listen",
    ("shutdown", "ENOTCONN"): "the socket is not connected",
}

# What an error means whatever the call (errno(3)).
ERRORS: dict[str, str] = {
    "EAGAIN": "nothing to do yet and the socket is non-blocking: try again later",
    "EINTR": "a signal interrupted the call",
    "EBADF": "no such open descriptor",
    "ENOTSOCK": "the descriptor is not a socket",
    "ENOTCONN": "the socket is not connected",
    "ECONNRESET": "the peer reset the connection (RST)",
    "EPIPE": "the peer has closed: nothing more can be sent (and SIGPIPE is raised)",
    "ECONNREFUSED": "the peer refused (RST, or ICMP port unreachable for a datagram)",
    "ETIMEDOUT": "the peer stopped answering",
    "EMFILE": "the process has no descriptor left",
    "ENFILE": "the system has no descriptor left",
    "ENOBUFS": "the kernel has no buffer memory left",
    "EMSGSIZE": "the message is too big for one datagram",
    "EAFNOSUPPORT": "this address family is not supported",
    "EPROTONOSUPPORT": "this protocol is not supported",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "EFAULT": "a pointer argument is invalid",
    "EINVAL": "an argument is invalid",
    "ENOPROTOOPT": "the option is not known at this level",
}

# Calls that are restarted after a signal (strace's ERESTART* pseudo-errors: the call never returned).
RESTARTED = frozenset({"ERESTARTSYS", "ERESTARTNOINTR", "ERESTARTNOHAND", "ERESTART_RESTARTBLOCK"})

_ERRNO_NUMBERS = {name: number for number, name in xlat.ERRNO_NAMES.items()}


# -- words for values -------------------------------------------------------------------------------

def address(addr: Any) -> str:
    """A decoded socket address in words: ``127.0.0.1:1234``, ``[::1]:80``, ``/run/x.sock``, ``@name``."""
    if not isinstance(addr, dict):
        return "an address" if addr is None else "an unreadable address"
    family = addr.get("family")
    if family == "AF_INET":
        return f"{addr.get('address')}:{addr.get('port')}"
    if family == "AF_INET6":
        return f"[{addr.get('address')}]:{addr.get('port')}"
    if family == "AF_UNIX":
        path = addr.get("path")
        if not path:
            return "an unnamed UNIX socket"
        return f"the abstract name {path}" if addr.get("abstract") else str(path)
    if family == "AF_NETLINK":
        return f"netlink port {addr.get('pid')}"
    return f"a {family} address"


def _bind_address(addr: Any) -> str:
    text = address(addr)
    if isinstance(addr, dict) and addr.get("family") in ("AF_INET", "AF_INET6"):
        wildcard = addr.get("address") in ("0.0.0.0", "::")
        port = addr.get("port")
        where = "every local address" if wildcard else str(addr.get("address"))
        what = "a port the kernel chooses" if port == 0 else f"port {port}"
        return f"{text} ({where}, {what})"
    return text


def _peer_of(endpoint: str | None) -> str | None:
    """The remote end of an strace -yy endpoint: ``TCP:[127.0.0.1:1234->127.0.0.1:45500]`` -> 127.0.0.1:45500."""
    if not endpoint or "->" not in endpoint:
        return None
    inner = endpoint[endpoint.find("[") + 1: endpoint.rfind("]")] if "[" in endpoint else endpoint
    remote = inner.split("->", 1)[1]
    return remote if remote and not remote.isdigit() else None


def _protocol(ev: Event) -> str | None:
    """TCP, UDP, UNIX, ... from the endpoint the kernel described (``TCPv6:[...]`` -> TCP, ``UNIX-STREAM:`` -> UNIX)."""
    endpoint = ev.endpoint or ev.ret_endpoint
    if not endpoint or ":" not in endpoint:
        return None
    kind = endpoint.split(":", 1)[0].split("-", 1)[0]  # UNIX-STREAM -> UNIX
    return kind[:-2] if kind.endswith("v6") else kind


def _flag_words(flags: Any) -> list[str]:
    return [SOCKET_FLAG_WORDS[f] for f in str(flags or "").split("|") if f in SOCKET_FLAG_WORDS]


def _bytes(n: Any) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def _buffer_len(value: Any) -> int | None:
    if isinstance(value, dict) and isinstance(value.get("len"), int):
        return int(value["len"])
    return None


def _control_fds(msg: Any) -> list[int]:
    """Descriptors passed with SCM_RIGHTS in a msghdr."""
    if not isinstance(msg, dict) or not isinstance(msg.get("control"), list):
        return []
    fds: list[int] = []
    for cmsg in msg["control"]:
        if isinstance(cmsg, dict) and cmsg.get("type") == "SCM_RIGHTS" and isinstance(cmsg.get("fds"), list):
            fds.extend(fd for fd in cmsg["fds"] if isinstance(fd, int))
    return fds


# -- one function per call: what it did when it succeeded ------------------------------------------

def _socket(ev: Event) -> str:
    a = ev.args
    family, type_text = str(a.get("domain", "")), str(a.get("type", ""))
    parts = type_text.split("|")
    base, flags = parts[0], parts[1:]
    proto = DEFAULT_PROTOCOL.get((family, base)) if str(a.get("protocol")) in ("0", "IPPROTO_IP") else None
    what = " ".join(w for w in (FAMILY_WORDS.get(family, family), TYPE_WORDS.get(base, base), "socket") if w)
    text = f"a new {what}"
    if proto:
        text += f" (protocol 0: the kernel picks {proto})"
    text += f", descriptor {ev.ret}"
    words = _flag_words("|".join(flags))
    return text + (", " + " and ".join(words) if words else "")


def _socketpair(ev: Event) -> str:
    sv = ev.args.get("sv")
    fds = " and ".join(str(fd) for fd in sv) if isinstance(sv, list) else "two descriptors"
    kind = TYPE_WORDS.get(str(ev.args.get("type", "")).split("|")[0], "")
    return f"two {kind + ' ' if kind else ''}sockets connected to each other, descriptors {fds}"


def _bind(ev: Event) -> str:
    addr = ev.args.get("addr")
    if isinstance(addr, dict) and addr.get("family") == "AF_UNIX" and addr.get("path") and not addr.get("abstract"):
        return f"the socket gets the name {address(addr)} (the kernel creates that socket file)"
    return f"the socket gets the local address {_bind_address(addr)}"


def _listen(ev: Event) -> str:
    return (f"the socket becomes passive (it accepts connections); backlog {ev.args.get('backlog')}, "
            "capped by net.core.somaxconn")


def _accept(ev: Event) -> str:
    peer = _peer_of(ev.ret_endpoint) or (address(ev.args["addr"]) if isinstance(ev.args.get("addr"), dict) else None)
    text = "takes the next completed connection from the listen queue (waiting until there is one)"
    if peer:
        text += f"; from {peer}"
    text += f"; new descriptor {ev.ret}"
    words = _flag_words(ev.args.get("flags"))
    return text + (", " + " and ".join(words) if words else "")


def _connect(ev: Event) -> str:
    addr = address(ev.args.get("addr"))
    proto = _protocol(ev)
    if proto == "UDP":
        return f"sets the default destination {addr} (no packet is sent)"
    if proto == "UNIX" or (isinstance(ev.args.get("addr"), dict) and ev.args["addr"].get("family") == "AF_UNIX"):
        return f"connects to {addr}"
    return f"three-way handshake with {addr} (SYN, SYN-ACK, ACK); the connection is established"


def _name(what: str) -> Callable[[Event], str]:
    def explain(ev: Event) -> str:
        return f"reads the {what} address: {address(ev.args.get('addr'))} (nothing changes)"

    return explain


def _option_text(ev: Event) -> str:
    name = str(ev.args.get("optname", "?"))
    value = ev.args.get("optval")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    meaning = OPTIONS.get(name)
    return f"{name} = {value}" + (f": {meaning}" if meaning else "")


def _setsockopt(ev: Event) -> str:
    return "sets " + _option_text(ev)


def _getsockopt(ev: Event) -> str:
    return "reads " + _option_text(ev) + " (nothing changes)"


SHUTDOWN = {
    "SHUT_WR": "no more sending: the kernel sends FIN; receiving still works",
    "SHUT_RD": "no more receiving (nothing is sent to the peer)",
    "SHUT_RDWR": "no more sending nor receiving: the kernel sends FIN",
}


def _shutdown(ev: Event) -> str:
    how = str(ev.args.get("how"))
    return SHUTDOWN.get(how, f"shuts down ({how})")


def _send(ev: Event) -> str:
    asked = ev.args.get("len", ev.args.get("count"))
    if asked is None:
        asked = _buffer_len(ev.args.get("buf"))
    sent = ev.ret
    text = f"{_bytes(sent)} copied into the send buffer"
    if isinstance(asked, int) and isinstance(sent, int) and sent < asked:
        text = f"{sent} of {_bytes(asked)} copied into the send buffer (a short write)"
    dest = ev.args.get("dest_addr")
    if isinstance(dest, dict):
        return text + f", as one datagram to {address(dest)}"
    if _protocol(ev) == "TCP":
        return text + "; TCP sends them in segments"
    return text


def _recv(ev: Event) -> str:
    asked = ev.args.get("len", ev.args.get("count"))
    if ev.ret == 0:
        return "0 bytes: end of file, the peer has closed its side (its FIN arrived)"
    text = f"{_bytes(ev.ret)} taken from the receive buffer"
    if isinstance(asked, int):
        text += f" (at most {asked} asked, waiting until some arrive)"
    src = ev.args.get("src_addr")
    if isinstance(src, dict):
        text += f", from {address(src)}"
    return text


def _iov_count(ev: Event) -> int | None:
    iov = ev.args.get("iov")
    return len(iov) if isinstance(iov, list) else None


def _writev(ev: Event) -> str:
    n = _iov_count(ev)
    return _send(ev) + (f", gathered from {n} buffers" if n and n > 1 else "")


def _readv(ev: Event) -> str:
    n = _iov_count(ev)
    return _recv(ev) + (f", scattered into {n} buffers" if n and n > 1 and ev.ret else "")


def _msg(ev: Event, moved: str, peer: str, rights: str) -> str:
    """sendmsg/recvmsg: the bytes moved, the address named in the msghdr, the descriptors passed."""
    msg = ev.args.get("msg")
    text = f"{_bytes(ev.ret)} {moved}"
    if isinstance(msg, dict) and isinstance(msg.get("name"), dict):
        text += f", {peer} {address(msg['name'])}"
    fds = _control_fds(msg)
    if fds:
        text += f"; {rights} descriptor{'s' if len(fds) > 1 else ''} {', '.join(map(str, fds))} (SCM_RIGHTS)"
    return text


def _sendmsg(ev: Event) -> str:
    return _msg(ev, "copied into the send buffer", "to", "passes")


def _recvmsg(ev: Event) -> str:
    if ev.ret == 0:
        return "0 bytes: end of file, the peer has closed its side"
    return _msg(ev, "taken from the receive buffer", "from", "receives")


def _mmsg(direction: str) -> Callable[[Event], str]:
    def explain(ev: Event) -> str:
        n = ev.ret
        return f"{n} message{'' if n == 1 else 's'} {direction} in one call"

    return explain


def _close(ev: Event) -> str:
    proto = _protocol(ev)
    endpoint = ev.endpoint or ""
    if proto == "TCP" and "->" in endpoint:
        return ("the descriptor is released; with the last one the kernel sends FIN (RST if unread data "
                "remains); the side that closes first ends in TIME_WAIT")
    if proto == "TCP" and endpoint.count(":") >= 2:
        return "the descriptor is released; a listening socket stops and resets connections not yet accepted"
    return "the descriptor is released (the socket goes when its last descriptor does)"


# Each explanation by the name a row of sctrace/model/registry.py gives it (Syscall.explain).
EXPLAINERS: dict[str, Callable[[Event], str]] = {
    "socket": _socket,
    "socketpair": _socketpair,
    "bind": _bind,
    "listen": _listen,
    "accept": _accept,
    "connect": _connect,
    "local_name": _name("local"),
    "peer_name": _name("peer"),
    "setsockopt": _setsockopt,
    "getsockopt": _getsockopt,
    "shutdown": _shutdown,
    "send": _send,
    "recv": _recv,
    "sendmsg": _sendmsg,
    "recvmsg": _recvmsg,
    "sendmmsg": _mmsg("sent"),
    "recvmmsg": _mmsg("received"),
    "readv": _readv,
    "writev": _writev,
    "close": _close,
}

# What each call does when it succeeds, by the call's name.
SUCCESS: dict[str, Callable[[Event], str]] = {c.name: EXPLAINERS[c.explain] for c in REGISTRY if c.explain}


# -- errors -------------------------------------------------------------------------------------------

def _error(ev: Event) -> str:
    errno = ev.errno or ""
    if errno in RESTARTED:
        return f"{errno}: a signal interrupted the call (it would be restarted); it did not complete"
    template = CALL_ERRORS.get((ev.name or "", errno))
    if template is not None:
        addr = ev.args.get("addr")
        return f"{errno}: " + template.format(addr=address(addr) if addr is not None else "the address")
    meaning = ERRORS.get(errno)
    if meaning is None:
        number = _ERRNO_NUMBERS.get(errno)
        meaning = xlat.errno_message(number).lower() if number is not None else "the call failed"
    return f"{errno}: {meaning}"


def explain(ev: Event) -> str | None:
    """The one-line explanation of a syscall event ("listen: ..."), or None for other events."""
    if ev.type != "syscall" or not ev.name:
        return None
    name = ev.name
    if ev.info.get("unfinished") or (ev.ret is None and not ev.errno):
        return f"{name}: the process ended inside the call"
    if ev.errno or (ev.ret is not None and ev.ret < 0):
        return f"{name}: {_error(ev)}"
    describe = SUCCESS.get(name)
    if describe is None:
        return f"{name}: returned {ev.ret}"
    try:
        return f"{name}: {describe(ev)}"
    except (TypeError, ValueError, KeyError, AttributeError):  # an odd event degrades, never raises
        return f"{name}: returned {ev.ret}"
