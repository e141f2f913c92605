"""The one-line explanations of calls (sctrace/model/explain.py): on real traces of real programs, and on the
odd events a saved trace may hold (hand-built: explain() is a pure function of one event)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sctrace.model import syscalls
from sctrace.model.explain import CALL_ERRORS, SUCCESS, explain
from sctrace.model.trace import Event, Trace
from tests.helpers import PYTHON, TRACE_FIXTURES, needs_php, sctrace


def traced(tmp_path: Path, fixture: str, interpreter: str | None = PYTHON) -> Trace:
    """The trace of a fixture program, made by the real sctrace under real ptrace."""
    out = tmp_path / (fixture + ".jsonl")
    args = ["trace", "--format", "jsonl", "-o", str(out)]
    if interpreter:
        args += ["--interpreter", interpreter]
    proc = sctrace(*args, str(TRACE_FIXTURES / fixture), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return Trace.load(out)


def explained(trace: Trace) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ev in trace.syscalls():
        text = explain(ev)
        assert text is not None and ev.name is not None
        out.setdefault(ev.name, []).append(text)
    return out


def test_every_socket_call_has_an_entry() -> None:
    assert set(SUCCESS) == set(syscalls.SOCKET_SET)


def test_tcp_server_and_client(tmp_path: Path) -> None:
    lines = explained(traced(tmp_path, "tcp4_echo.py"))
    for name, texts in lines.items():
        assert all(t.startswith(f"{name}: ") for t in texts), texts
        assert all("\n" not in t for t in texts)
    assert lines["listen"] == ["listen: the socket becomes passive (it accepts connections); backlog 1, "
                               "capped by net.core.somaxconn"]
    assert re.fullmatch(r"socket: a new IPv4 stream socket \(protocol 0: the kernel picks TCP\), descriptor 3, "
                        r"closed on exec", lines["socket"][0])
    assert re.fullmatch(r"bind: the socket gets the local address 127\.0\.0\.1:0 \(127\.0\.0\.1, a port the kernel "
                        r"chooses\)", lines["bind"][0])
    assert re.fullmatch(r"connect: three-way handshake with 127\.0\.0\.1:\d+ .*established", lines["connect"][0])
    assert re.fullmatch(r"accept4: takes the next completed connection .*; from 127\.0\.0\.1:\d+; "
                        r"new descriptor 5, closed on exec", lines["accept4"][0])
    assert lines["sendto"] == ["sendto: 6 bytes copied into the send buffer; TCP sends them in segments"]
    assert "6 bytes taken from the receive buffer (at most 64 asked" in lines["recvfrom"][0]
    assert lines["write"] == ["write: 2 bytes copied into the send buffer; TCP sends them in segments"]
    assert any("FIN" in t and "TIME_WAIT" in t for t in lines["close"])  # a connection
    assert any("listening socket" in t for t in lines["close"])  # the listener
    assert all("(nothing changes)" in t for t in lines["getsockname"])


@needs_php
def test_php_accept_and_the_peer_address(tmp_path: Path) -> None:
    lines = explained(traced(tmp_path, "tcp4_echo.php", interpreter=None))
    assert re.search(r"accept: .*from 127\.0\.0\.1:\d+; new descriptor \d+$", lines["accept"][0])
    assert lines["socket"][0].endswith(f"descriptor {4}")  # PHP asks for no SOCK_CLOEXEC


def test_connection_refused_names_the_address(tmp_path: Path) -> None:
    trace = traced(tmp_path, "refused.py")
    connect = next(ev for ev in trace.syscalls() if ev.name == "connect")
    port = connect.args["addr"]["port"]
    assert explain(connect) == (f"connect: ECONNREFUSED: nothing listens on 127.0.0.1:{port} "
                                "(the kernel answered the SYN with RST)")


def test_address_in_use(tmp_path: Path) -> None:
    trace = traced(tmp_path, "addrinuse.py")
    bind = next(ev for ev in trace.syscalls() if ev.name == "bind" and ev.errno)
    assert bind.errno == "EADDRINUSE"
    text = explain(bind)
    assert text is not None
    assert text.startswith(f"bind: EADDRINUSE: 127.0.0.1:{bind.args['addr']['port']} is taken")
    assert "SO_REUSEADDR" in text


def test_udp_datagrams(tmp_path: Path) -> None:
    lines = explained(traced(tmp_path, "udp_echo.py"))
    assert lines["socket"][0].startswith("socket: a new IPv4 datagram socket (protocol 0: the kernel picks UDP)")
    assert all(re.fullmatch(r"sendto: 4 bytes copied into the send buffer, as one datagram to 127\.0\.0\.1:\d+", t)
               for t in lines["sendto"])
    assert all(re.search(r", from 127\.0\.0\.1:\d+$", t) for t in lines["recvfrom"])


def test_descriptors_passed_with_scm_rights(tmp_path: Path) -> None:
    lines = explained(traced(tmp_path, "sendmsg_recvmsg.py"))
    assert any(re.search(r"passes descriptor \d+ \(SCM_RIGHTS\)$", t) for t in lines["sendmsg"])
    assert any(re.search(r"receives descriptor \d+ \(SCM_RIGHTS\)$", t) for t in lines["recvmsg"])
    assert lines["socketpair"][0].startswith("socketpair: two stream sockets connected to each other, descriptors")


# -- odd events from saved traces ---------------------------------------------------------------------

def ev(name: str, args: dict[str, Any], ret: int | None = 0, errno: str | None = None, **kw: Any) -> Event:
    return Event("syscall", 0, 1, 0.0, name, args, ret, errno, args.get("fd"), **kw)


@pytest.mark.parametrize(("event", "expected"), [
    (ev("shutdown", {"fd": 3, "how": "SHUT_WR"}), "shutdown: no more sending: the kernel sends FIN; receiving "
                                                  "still works"),
    (ev("setsockopt", {"fd": 3, "level": "SOL_SOCKET", "optname": "SO_REUSEADDR", "optval": [1], "optlen": 4}),
     "setsockopt: sets SO_REUSEADDR = 1: the port may be bound again while an old connection on it is in TIME_WAIT"),
    (ev("getsockopt", {"fd": 3, "level": "SOL_SOCKET", "optname": "SO_ERROR", "optval": [0], "optlen": 4}),
     "getsockopt: reads SO_ERROR = 0: the pending error (how a non-blocking connect ended); reading it clears it "
     "(nothing changes)"),
    (ev("recvfrom", {"fd": 3, "buf": {"text": "", "len": 0}, "len": 128, "flags": "0", "src_addr": None}),
     "recvfrom: 0 bytes: end of file, the peer has closed its side (its FIN arrived)"),
    (ev("write", {"fd": 3, "buf": {"text": "abc", "len": 10}, "count": 10}, ret=3),
     "write: 3 of 10 bytes copied into the send buffer (a short write)"),
    (ev("accept", {"fd": 3, "addr": None, "addrlen": None}, ret=-1, errno="EAGAIN"),
     "accept: EAGAIN: no connection is waiting (non-blocking socket)"),
    (ev("connect", {"fd": 3, "addr": {"family": "AF_INET", "address": "127.0.0.1", "port": 80}, "addrlen": 16},
        ret=-1, errno="EINPROGRESS"),
     "connect: EINPROGRESS: non-blocking: the handshake goes on; poll, then read SO_ERROR"),
    (ev("accept4", {"fd": 3}, ret=None, errno="ERESTARTSYS"),
     "accept4: ERESTARTSYS: a signal interrupted the call (it would be restarted); it did not complete"),
    (ev("read", {"fd": 3}, ret=None), "read: the process ended inside the call"),
    (ev("sendto", {"fd": 3}, ret=-1, errno="EPIPE"),
     "sendto: EPIPE: the peer has closed: nothing more can be sent (and SIGPIPE is raised)"),
    (ev("recvmmsg", {"fd": 3}, ret=2), "recvmmsg: 2 messages received in one call"),
    (ev("bind", {"fd": 3, "addr": {"family": "AF_UNIX", "path": "@x", "abstract": True}, "addrlen": 5}),
     "bind: the socket gets the local address the abstract name @x"),
    (ev("bind", {"fd": 3, "addr": {"family": "AF_UNIX", "path": "/run/x.sock"}, "addrlen": 20}),
     "bind: the socket gets the name /run/x.sock (the kernel creates that socket file)"),
    (ev("connect", {"fd": 3, "addr": {"family": "AF_INET6", "address": "::1", "port": 53}},
        endpoint="UDPv6:[[::1]:40000]"), "connect: sets the default destination [::1]:53 (no packet is sent)"),
])
def test_odd_and_rare_events(event: Event, expected: str) -> None:
    assert explain(event) == expected


def test_unknown_errno_and_missing_arguments_degrade() -> None:
    assert explain(ev("bind", {}, ret=-1, errno="E???(200)")) == "bind: E???(200): the call failed"
    assert explain(ev("listen", {}, ret=-1, errno="EXDEV")) == "listen: EXDEV: invalid cross-device link"
    assert explain(ev("socket", {}, ret=3)) == "socket: a new socket, descriptor 3"
    assert explain(ev("setsockopt", {"optval": "0x7ffc"})) == "setsockopt: sets ? = 0x7ffc"
    assert explain(ev("frobnicate", {}, ret=7)) == "frobnicate: returned 7"
    assert explain(Event("exit", 1, 1, 0.0, info={"code": 0})) is None


def test_every_call_error_template_formats() -> None:
    for (name, errno), _ in CALL_ERRORS.items():
        addr = {"family": "AF_INET", "address": "10.0.0.1", "port": 9}
        text = explain(ev(name, {"fd": 3, "addr": addr}, ret=-1, errno=errno))
        assert text is not None and text.startswith(f"{name}: {errno}: ") and "{" not in text
