"""Normalization for `sctrace compare`: each rule alone, each level on a small hand-built trace, real twins.

The rules are pure functions, so each is tested on a hand-built call; the
trace-wide renamings (processes, descriptors, ports, inodes) on hand-built
traces whose right answer can be read off; and the whole on real traces of
the PHP and Python twins of one scenario, where what must stay different is
exactly what the two programs do differently.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sctrace.compare import rules as r
from sctrace.compare.align import align
from sctrace.compare.call import changed, new_call
from sctrace.compare.model import Step
from sctrace.compare.normalize import inet_ports, normalize, normalize_endpoint
from sctrace.compare.rules import RULES, Call, apply_rules, describe_rules
from sctrace.model.strace_args import unescape
from sctrace.model.trace import Event, Header, Trace
from tests.helpers import PYTHON, TRACE_FIXTURES, sctrace


def ev(seq: int, name: str, args: dict[str, Any], ret: Any = 0, errno: str | None = None, *, pid: int = 100,
       endpoint: str | None = None, ret_endpoint: str | None = None) -> Event:
    fd = args.get("fd") if isinstance(args.get("fd"), int) else None
    return Event("syscall", seq, pid, seq / 1000, name, args, ret, errno, fd, endpoint, ret_endpoint)


def proc_event(seq: int, kind: str, pid: int, **info: Any) -> Event:
    return Event(kind, seq, pid, seq / 1000, info=info)


def trace_of(*events: Event, language: str = "php") -> Trace:
    return Trace(Header(argv=["x"], program="x", language=language), list(events))


def inet(port: int, address: str = "127.0.0.1") -> dict[str, Any]:
    return {"family": "AF_INET", "port": port, "address": address}


def buf(text: str) -> dict[str, Any]:
    """A buffer argument: text as strace escapes it ("hello\\n"), len its true length in bytes."""
    return {"text": text, "len": len(unescape(text))}


def call_of(event: Event) -> Call:
    return Call(event.name or "", event.args, event.ret, event.errno)


# -- each semantic rule alone -----------------------------------------------------------------------


def test_state_readers_marks_informational() -> None:
    out = r.state_readers(call_of(ev(0, "getsockname", {"fd": "C2", "addr": inet(1), "addrlen": 16})))
    assert out is not None and out.informational and out.name == "getsockname"
    assert r.state_readers(call_of(ev(0, "getsockopt", {"fd": "C1"}))) is not None
    assert r.state_readers(call_of(ev(0, "connect", {"fd": "C1"}))) is None


def test_name_service_marks_the_c_library_s_lookups_informational() -> None:
    nscd = {"family": "AF_UNIX", "path": "/var/run/nscd/socket"}
    for call in (Call("socket", {"domain": "AF_UNIX", "type": "SOCK_STREAM", "protocol": "0"}, "N1"),
                 Call("connect", {"fd": "N1", "addr": nscd, "addrlen": 110}, -1, "ENOENT"),
                 Call("close", {"fd": "N2"})):
        out = r.name_service(call)
        assert out is not None and out.informational and out.notes == ("name-service lookup",), call
    for call in (Call("socket", {"domain": "AF_UNIX", "type": "SOCK_STREAM", "protocol": "0"}, "S1"),
                 Call("connect", {"fd": "C1", "addr": nscd, "addrlen": 110}, -1, "ENOENT"),
                 Call("close", {"fd": "NX"})):
        assert r.name_service(call) is None, call


def lookups(pid: int, first: int, fd: int, path: str = "/var/run/nscd/socket") -> list[Event]:
    """A C library's name-service lookup: socket, a refused connect to a daemon's socket, close."""
    return [ev(first, "socket", {"domain": "AF_UNIX", "type": "SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK",
                                 "protocol": "0"}, fd, pid=pid),
            ev(first + 1, "connect", {"fd": fd, "addr": {"family": "AF_UNIX", "path": path}, "addrlen": 110},
               -1, "ENOENT", pid=pid),
            ev(first + 2, "close", {"fd": fd}, pid=pid)]


def test_name_service_sockets_shift_no_role_and_make_no_difference() -> None:
    # Python without HOME looks up its user before the program runs: glibc asks nscd first (twice), so the
    # client's connection socket was once C2 and every later step differed from the same run with HOME set.
    def client(*before: Event) -> Trace:
        return trace_of(*before,
                        ev(10, "socket", {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "0"}, 3),
                        ev(11, "connect", {"fd": 3, "addr": inet(1234), "addrlen": 16}),
                        ev(12, "write", {"fd": 3, "buf": buf("hi"), "count": 2}, 2),
                        ev(13, "close", {"fd": 3}))
    plain = normalize(client(), "semantic")
    looked = normalize(client(*lookups(100, 0, 3), *lookups(100, 3, 3, "/run/systemd/userdb/io.systemd.Multiplexer")),
                       "semantic")
    assert [s.args.get("fd", s.ret) for s in looked] == ["N1"] * 3 + ["N2"] * 3 + ["C1"] * 4
    assert all(s.informational and "name_service" in s.rules for s in looked[:6])
    assert [s.key for s in looked[6:]] == [s.key for s in plain]
    rows = align(plain, looked)
    assert [row.verdict for row in rows].count("info") == 6 and {row.verdict for row in rows} == {"same", "info"}
    # At the stable level the sockets are still N1, N2 (no other role moves), but nothing is tolerated.
    stable = normalize(client(*lookups(100, 0, 3)), "stable")
    assert [s.args.get("fd", s.ret) for s in stable] == ["N1"] * 3 + ["C1"] * 4
    assert not any(s.informational for s in stable)
    # A program's own UNIX socket, or an abstract one with the same name, is no lookup.
    own = normalize(trace_of(*lookups(100, 0, 3, "/tmp/nscd/socket")), "semantic")
    assert [s.args.get("fd", s.ret) for s in own] == ["C1"] * 3 and not any(s.informational for s in own)


def test_unused_source_address_on_recvfrom_and_recvmsg() -> None:
    perl = call_of(ev(0, "recvfrom", {"fd": "C2", "buf": buf("hi"), "len": 64, "flags": "0",
                                      "src_addr": "0x7ffc12830be0", "addrlen": {"in": 4096, "out": 0}}, 2))
    out = r.unused_source_address(perl)
    assert out is not None and out.args["src_addr"] is None and out.args["addrlen"] is None
    assert "4096" in out.notes[0]
    assert perl.args["src_addr"] == "0x7ffc12830be0"  # pure: the input is untouched
    udp = call_of(ev(0, "recvfrom", {"fd": "S1", "buf": buf("hi"), "len": 64, "flags": "0",
                                     "src_addr": inet(5), "addrlen": {"in": 16, "out": 16}}, 2))
    assert r.unused_source_address(udp) is None
    msg = {"name": "0x7ffc7b99afa0", "namelen": {"in": 110, "out": 0}, "iov": [{"base": buf("x"), "len": 64}],
           "iovlen": 1, "control": None, "controllen": 0, "flags": "0"}
    out = r.unused_source_address(Call("recvmsg", {"fd": "S2", "msg": msg, "flags": "0"}, 1))
    assert out is not None and out.args["msg"]["name"] is None and out.args["msg"]["namelen"] == {"in": 0, "out": 0}


@pytest.mark.parametrize(("flags", "notes"), [("SOCK_CLOEXEC", ["SOCK_CLOEXEC"]), ("0", []),
                                              ("SOCK_CLOEXEC|SOCK_NONBLOCK", ["SOCK_CLOEXEC", "SOCK_NONBLOCK"])])
def test_accept_is_accept4(flags: str, notes: list[str]) -> None:
    out = r.accept_is_accept4(Call("accept4", {"fd": "L1", "addr": None, "addrlen": None, "flags": flags}, "C1"))
    assert out is not None and out.name == "accept" and "flags" not in out.args and list(out.notes) == notes
    assert r.accept_is_accept4(Call("accept", {"fd": "L1", "addr": None, "addrlen": None}, "C1")) is None


def test_recv_is_read() -> None:
    args = {"fd": "C2", "buf": buf("hello\\n"), "len": 64, "flags": "0", "src_addr": None, "addrlen": None}
    out = r.recv_is_read(Call("recvfrom", args, 6))
    assert out is not None and out.name == "read" and out.args == {"fd": "C2", "buf": buf("hello\\n"), "count": 64}
    assert r.recv_is_read(Call("recvfrom", {**args, "flags": "MSG_WAITALL"}, 6)) is None
    assert r.recv_is_read(Call("recvfrom", {**args, "src_addr": inet(5)}, 6)) is None
    recv = r.recv_is_read(Call("recv", {"fd": "C2", "buf": buf("x"), "len": 8, "flags": "0"}, 1))
    assert recv is not None and recv.name == "read"


def test_send_is_write() -> None:
    args = {"fd": "C1", "buf": buf("hello\\n"), "len": 6, "flags": "0", "dest_addr": None, "addrlen": 0}
    out = r.send_is_write(Call("sendto", args, 6))
    assert out is not None and out.name == "write" and out.args == {"fd": "C1", "buf": buf("hello\\n"), "count": 6}
    nosig = r.send_is_write(Call("sendto", {**args, "flags": "MSG_NOSIGNAL"}, 6))
    assert nosig is not None and nosig.notes == ("MSG_NOSIGNAL",)
    assert r.send_is_write(Call("sendto", {**args, "flags": "MSG_DONTWAIT"}, 6)) is None
    assert r.send_is_write(Call("sendto", {**args, "dest_addr": inet(9)}, 6)) is None


def _msg(*texts: str, name: Any = None, control: Any = None) -> dict[str, Any]:
    return {"name": name, "namelen": 0, "iov": [{"base": buf(t), "len": len(t)} for t in texts],
            "iovlen": len(texts), "control": control, "controllen": 24 if control else 0, "flags": "0"}


def test_single_iov() -> None:
    out = r.single_iov(Call("sendmsg", {"fd": "S1", "msg": _msg("ping"), "flags": "0"}, 4))
    assert out is not None and out.name == "write" and out.args == {"fd": "S1", "buf": buf("ping"), "count": 4}
    back = r.single_iov(Call("recvmsg", {"fd": "S2", "msg": _msg("ping"), "flags": "0"}, 4))
    assert back is not None and back.name == "read"
    writev = r.single_iov(Call("writev", {"fd": "C1", "iov": [{"base": buf("ab"), "len": 2}], "iovcnt": 1}, 2))
    assert writev is not None and writev.name == "write" and writev.args["count"] == 2
    assert r.single_iov(Call("sendmsg", {"fd": "S1", "msg": _msg("a", "b"), "flags": "0"}, 2)) is None
    rights = [{"len": 20, "level": "SOL_SOCKET", "type": "SCM_RIGHTS", "fds": ["S3"]}]
    assert r.single_iov(Call("sendmsg", {"fd": "S1", "msg": _msg("F", control=rights), "flags": "0"}, 1)) is None
    to = r.single_iov(Call("sendmsg", {"fd": "S1", "msg": {**_msg("F", name=inet(3)), "namelen": 16}, "flags": "0"}))
    assert to is not None and to.name == "sendto"
    assert to.args == {"fd": "S1", "buf": buf("F"), "len": 1, "flags": "0", "dest_addr": inet(3), "addrlen": 16}
    waitall = r.single_iov(Call("recvmsg", {"fd": "C1", "msg": _msg("x"), "flags": "MSG_WAITALL"}, 1))
    assert waitall is not None and waitall.name == "recvfrom" and waitall.args["src_addr"] is None
    assert waitall.args["addrlen"] is None


def test_socket_flags() -> None:
    args = {"domain": "AF_INET", "type": "SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK", "protocol": "IPPROTO_TCP"}
    out = r.socket_flags(Call("socket", args, "L1"))
    assert out is not None and out.args["type"] == "SOCK_STREAM" and out.notes == ("SOCK_CLOEXEC", "SOCK_NONBLOCK")
    assert r.socket_flags(Call("socket", {**args, "type": "SOCK_DGRAM"}, "S1")) is None
    pair = r.socket_flags(Call("socketpair", {"domain": "AF_UNIX", "type": "SOCK_STREAM|SOCK_CLOEXEC",
                                              "protocol": "0", "sv": ["S1", "S2"]}, 0))
    assert pair is not None and pair.args["type"] == "SOCK_STREAM"


@pytest.mark.parametrize(("domain", "type_", "protocol", "expected"), [
    ("AF_INET", "SOCK_STREAM", "IPPROTO_IP", "IPPROTO_TCP"),
    ("AF_INET6", "SOCK_DGRAM", "0", "IPPROTO_UDP"),
    ("AF_INET", "SOCK_STREAM|SOCK_CLOEXEC", "IPPROTO_IP", "IPPROTO_TCP"),
    ("AF_UNIX", "SOCK_STREAM", "0", None),
    ("AF_INET", "SOCK_STREAM", "IPPROTO_TCP", None),
    ("AF_INET", "SOCK_RAW", "0", None),
])
def test_default_protocol(domain: str, type_: str, protocol: str, expected: str | None) -> None:
    out = r.default_protocol(Call("socket", {"domain": domain, "type": type_, "protocol": protocol}, "S1"))
    assert (out.args["protocol"] if out else None) == expected


def test_sun_path_nul() -> None:
    php = r.sun_path_nul(Call("bind", {"fd": "L1", "addr": {"family": "AF_UNIX", "path": "/tmp/s"}, "addrlen": 8}))
    assert php is not None and php.args["addrlen"] == 9 and "without the trailing NUL" in php.notes[0]
    python = Call("connect", {"fd": "C1", "addr": {"family": "AF_UNIX", "path": "/tmp/s"}, "addrlen": 9})
    assert r.sun_path_nul(python) is None
    abstract = {"family": "AF_UNIX", "path": "@name", "abstract": True}
    assert r.sun_path_nul(Call("bind", {"fd": "L1", "addr": abstract, "addrlen": 7})) is None


def test_listen_backlog() -> None:
    php = r.listen_backlog(Call("listen", {"fd": "L1", "backlog": 0}))
    python = r.listen_backlog(Call("listen", {"fd": "L1", "backlog": 128}))
    assert php is not None and python is not None and php.notes == ("backlog 0",)
    assert php.key_args() == python.key_args() == {"fd": "L1"} and python.args["backlog"] == 128
    assert r.listen_backlog(php) is None and r.listen_backlog(Call("shutdown", {"fd": "C1", "how": "SHUT_WR"})) is None


def test_buffer_size_leaves_sizes_out_of_the_key() -> None:
    php = r.buffer_size(Call("read", {"fd": "C2", "buf": buf("hi"), "count": 128}, 2))
    python = r.buffer_size(Call("read", {"fd": "C2", "buf": buf("hi"), "count": 1024}, 2))
    assert php is not None and python is not None
    assert php.key_args() == python.key_args() == {"fd": "C2", "buf": buf("hi")}
    assert php.args["count"] == 128 and php.notes == ("buffer size 128 (count)",)
    acc = r.buffer_size(Call("accept", {"fd": "L1", "addr": inet(5), "addrlen": {"in": 128, "out": 16}}, "C1"))
    assert acc is not None and acc.key_args()["addrlen"] == {"out": 16} and acc.notes == ("buffer size 128 (addrlen)",)
    exact = r.buffer_size(Call("getsockname", {"fd": "L1", "addr": inet(5), "addrlen": {"in": 16, "out": 16}}))
    assert exact is not None and exact.key_args()["addrlen"] == {"out": 16} and exact.notes == ()  # nothing hidden
    mmsg = {"fd": "S1", "msgvec": [{"msg_hdr": _msg("one"), "msg_len": 3}], "vlen": 1, "flags": "0"}
    mm = r.buffer_size(Call("recvmmsg", mmsg, 1))
    assert mm is not None and "len" not in mm.key_args()["msgvec"][0]["msg_hdr"]["iov"][0]
    assert r.buffer_size(Call("write", {"fd": "C1", "buf": buf("hi"), "count": 2}, 2)) is None  # data, not room
    # Killed while blocked in accept: the kernel wrote nothing back, so "out" is only "in" again.
    stopped = [r.buffer_size(Call(name, {"fd": "L1", "addr": "PTR", "addrlen": {"in": n, "out": n}}, None,
                                  "ERESTARTSYS")) for name, n in (("accept", 128), ("accept", 16))]
    assert stopped[0] is not None and stopped[1] is not None
    assert stopped[0].key_args() == stopped[1].key_args() == {"fd": "L1", "addr": "PTR"}


def stream_call(name: str, text: str, count: int = 1, fd: str = "C1", *, stream: bool = True,
                truncated: bool = False) -> Call:
    size = len(unescape(text))
    data = {"text": text, "len": size + 5 if truncated else size, **({"truncated": True} if truncated else {})}
    return Call(name, {"fd": fd, "buf": data, "count": count}, data["len"], stream=stream)


def test_stream_chunks_joins_one_socket_s_consecutive_reads() -> None:
    php = [apply_rules(stream_call("read", t)) for t in ("h", "e", "l", "l", "o", "\\n")]
    joined = r.stream_chunks(php, 4096)
    assert len(joined) == 1 and joined[0].span == 6 and joined[0].ret == 6
    assert joined[0].args["buf"] == {"text": "hello\\n", "len": 6}
    assert joined[0].rules == ("buffer_size", "stream_chunks")
    assert "6 calls in a row" in joined[0].notes
    python = apply_rules(stream_call("read", "hello\\n", 8192))
    assert joined[0].key_args() == python.key_args()
    writes = r.stream_chunks([stream_call("write", "ab", 2), stream_call("write", "c", 1)], 4096)
    assert [(w.args["buf"]["text"], w.args["count"]) for w in writes] == [("abc", 3)]


def test_stream_chunks_keeps_what_is_not_one_stream_run() -> None:
    apart = [stream_call("read", "a"), stream_call("read", "b", fd="C2"), stream_call("write", "c"),
             stream_call("read", "d"), stream_call("read", "e", stream=False), stream_call("read", "f", stream=False)]
    assert r.stream_chunks(apart, 4096) == apart  # other socket, a write between, datagrams
    cut = [stream_call("read", "ab", truncated=True), stream_call("read", "c")]
    assert r.stream_chunks(cut, 4096) == cut  # the bytes after a cut are unknown
    last_cut = r.stream_chunks([stream_call("read", "c"), stream_call("read", "ab", truncated=True)], 4096)
    assert len(last_cut) == 1 and last_cut[0].args["buf"] == {"text": "cab", "len": 8, "truncated": True}


def test_stream_chunks_escapes_and_cuts_like_strace() -> None:
    octal = r.stream_chunks([stream_call("read", "\\0"), stream_call("read", "1")], 4096)
    assert octal[0].args["buf"]["text"] == "\\0001"  # strace writes NUL before a digit with three digits
    long = r.stream_chunks([stream_call("read", "abc"), stream_call("read", "def")], 4)
    assert long[0].args["buf"] == {"text": "abcd", "len": 6, "truncated": True}


def test_eof_repeats() -> None:
    eofs = [stream_call("read", "")] * 3
    out = r.eof_repeats([stream_call("read", "x"), *eofs, stream_call("write", "y")], 4096)
    assert [(c.name, c.ret, c.span) for c in out] == [("read", 1, 1), ("read", 0, 3), ("write", 1, 1)]
    assert out[1].notes == ("3 reads at end of stream",) and out[1].rules == ("eof_repeats",)
    assert r.eof_repeats(eofs[:1], 4096) == eofs[:1]


def test_apply_rules_in_order_and_named() -> None:
    call = Call("recvfrom", {"fd": "C2", "buf": buf("x"), "len": 64, "flags": "0", "src_addr": "0x7f00",
                             "addrlen": {"in": 4096, "out": 0}}, 1)
    out = apply_rules(call)
    assert out.name == "read" and out.rules == ("unused_source_address", "recv_is_read", "buffer_size")
    assert apply_rules(Call("close", {"fd": "C1"}, 0)) == Call("close", {"fd": "C1"}, 0)


def _every_rule(call: Call) -> Call:
    """apply_rules as first written: each one-call rule in RULES order, on every call whatever its name."""
    for rule in RULES:
        out = rule.apply(call) if rule.apply is not None else None
        if out is not None and out != call:
            call = dataclasses.replace(out, rules=(*out.rules, rule.name))
    return call


def test_a_call_meets_only_the_rules_its_name_can_meet() -> None:
    # Rule.names says which calls a rule may rewrite, and apply_rules runs only those (renamed calls go on
    # to the rules of their new name): on calls of every kind, that must be the same as running them all.
    rights = [{"len": 20, "level": "SOL_SOCKET", "type": "SCM_RIGHTS", "fds": ["S3"]}]
    calls = [
        Call("accept4", {"fd": "L1", "addr": inet(5), "addrlen": {"in": 128, "out": 16}, "flags": "SOCK_CLOEXEC"},
             "C1"),
        Call("recvfrom", {"fd": "C2", "buf": buf("x"), "len": 64, "flags": "0", "src_addr": "PTR",
                          "addrlen": {"in": 4096, "out": 0}}, 1),
        Call("recvfrom", {"fd": "S1", "buf": buf("x"), "len": 64, "flags": "0", "src_addr": inet(5),
                          "addrlen": {"in": 16, "out": 16}}, 1),
        Call("recvmsg", {"fd": "S2", "msg": {**_msg("ping", name="PTR"), "namelen": {"in": 110, "out": 0}},
                         "flags": "0"}, 4),
        Call("sendmsg", {"fd": "S1", "msg": {**_msg("F", name=inet(3)), "namelen": 16}, "flags": "0"}, 1),
        Call("sendmsg", {"fd": "S1", "msg": _msg("F", control=rights), "flags": "0"}, 1),
        Call("recvmmsg", {"fd": "S1", "msgvec": [{"msg_hdr": _msg("one"), "msg_len": 3}], "vlen": 1,
                          "flags": "0"}, 1),
        Call("readv", {"fd": "C1", "iov": [{"base": buf("ab"), "len": 8}], "iovcnt": 1}, 2),
        Call("writev", {"fd": "C1", "iov": [{"base": buf("a"), "len": 1}], "iovcnt": 1}, 1),
        Call("writev", {"fd": "C1", "iov": [{"base": buf("a"), "len": 1}, {"base": buf("b"), "len": 1}],
                        "iovcnt": 2}, 2),
        Call("sendto", {"fd": "C1", "buf": buf("hi"), "len": 2, "flags": "MSG_NOSIGNAL", "dest_addr": None,
                        "addrlen": 0}, 2),
        Call("sendto", {"fd": "S1", "buf": buf("hi"), "len": 2, "flags": "0",
                        "dest_addr": {"family": "AF_UNIX", "path": "/tmp/s"}, "addrlen": 8}, 2),
        Call("socket", {"domain": "AF_INET6", "type": "SOCK_DGRAM|SOCK_NONBLOCK", "protocol": "0"}, "S1"),
        Call("socketpair", {"domain": "AF_UNIX", "type": "SOCK_STREAM|SOCK_CLOEXEC", "protocol": "0",
                            "sv": ["S1", "S2"]}, 0),
        Call("bind", {"fd": "L1", "addr": {"family": "AF_UNIX", "path": "/tmp/s"}, "addrlen": 8}),
        Call("connect", {"fd": "C1", "addr": inet(80), "addrlen": 16}, -1, "ECONNREFUSED"),
        Call("listen", {"fd": "L1", "backlog": 0}),
        Call("getsockopt", {"fd": "S1", "level": "SOL_SOCKET", "optname": "SO_TYPE", "optval": [1],
                            "optlen": {"in": 4, "out": 4}}),
        Call("accept", {"fd": "L1", "addr": "PTR", "addrlen": {"in": 16, "out": 16}}, None, "ERESTARTSYS"),
        Call("read", {"fd": "C1", "buf": buf(""), "count": 1}, 0),
        Call("close", {"fd": "C1"}, 0),
    ]
    for trace in (trace_of(*echo_server(10, 4, 41955, 34664, python=False)),
                  trace_of(*echo_server(20, 3, 40695, 58546, python=True))):
        calls += [Call(s.name, s.args, s.ret, s.errno) for s in normalize(trace, "stable")]
    for call in calls:
        assert apply_rules(call) == _every_rule(call), call


def test_steps_made_the_fast_way_are_the_dataclass_s() -> None:
    from sctrace.compare.normalize import _step, make_key

    event = ev(0, "read", {"fd": 3})
    call = changed(new_call("read", {"fd": "C1", "count": 9}, 1, None, True), ignored=(("count",),),
                   rules=("buffer_size",), notes=("buffer size 9 (count)",), informational=True)
    fast = _step("P1", call, "read(C1, 9) = 1", event)
    slow = Step("P1", "read", {"fd": "C1", "count": 9}, 1, None, make_key("P1", "read", {"fd": "C1"}, 1, None),
                "read(C1, 9) = 1", event, ["buffer_size"], ["buffer size 9 (count)"], True)
    assert fast == slow
    assert list(vars(fast)) == [f.name for f in dataclasses.fields(Step)]  # a field added is filled in too


def test_calls_made_the_fast_way_are_the_dataclass_s() -> None:
    fast = new_call("read", {"fd": "C1"}, 1, None, True)
    assert fast == Call("read", {"fd": "C1"}, 1, None, stream=True)
    assert list(vars(fast)) == [f.name for f in dataclasses.fields(Call)]  # a field added is filled in too
    assert changed(fast, name="write", span=2) == dataclasses.replace(fast, name="write", span=2)
    with pytest.raises(TypeError):
        changed(fast, nmae="write")


def test_rules_listed_once_and_described() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert all(rule.level in ("raw", "stable", "semantic") for rule in RULES)
    assert all((rule.apply is not None or rule.apply_run is not None) == (rule.level == "semantic") for rule in RULES)
    text = describe_rules()
    for rule in RULES:
        assert f"{rule.name} ({rule.level})" in text and rule.example_before in text and rule.example_after in text


# -- endpoints --------------------------------------------------------------------------------------


def test_normalize_endpoint() -> None:
    def names(port: int) -> str:
        return {80: "PORT1"}.get(port, "EPHEMERAL")

    assert normalize_endpoint("TCP:[755897]", names) == "TCP:[INODE]"
    pair = normalize_endpoint("TCP:[127.0.0.1:80->127.0.0.1:5000]", names)
    assert pair == "TCP:[127.0.0.1:PORT1->127.0.0.1:EPHEMERAL]"
    assert normalize_endpoint("TCPv6:[[::1]:80]", names) == "TCPv6:[[::1]:PORT1]"
    assert normalize_endpoint('UNIX-STREAM:[7->8,"/tmp/s"]', names) == 'UNIX-STREAM:[INODE->INODE,"/tmp/s"]'
    assert normalize_endpoint("UNIX-STREAM:[7]", names) == "UNIX-STREAM:[INODE]"
    assert normalize_endpoint("strange", names) == "strange"
    assert inet_ports("UDP:[0.0.0.0:5353]") == [5353] and inet_ports("UNIX-STREAM:[1->2]") == []


# -- levels on hand-built traces --------------------------------------------------------------------


def echo_server(pid: int, base: int, port: int, peer: int, *, python: bool) -> list[Event]:
    """A one-process TCP echo as PHP (accept, IPPROTO_TCP) or Python (accept4 + getsockname) makes it."""
    flags, proto = ("SOCK_STREAM|SOCK_CLOEXEC", "IPPROTO_IP") if python else ("SOCK_STREAM", "IPPROTO_TCP")
    lfd, cfd, afd = base, base + 1, base + 2
    here, there = f"127.0.0.1:{port}", f"127.0.0.1:{peer}"
    conn = f"TCP:[{here}->{there}]"
    events = [
        ev(0, "socket", {"domain": "AF_INET", "type": flags, "protocol": proto}, lfd, pid=pid, ret_endpoint="TCP:[11]"),
        ev(1, "bind", {"fd": lfd, "addr": inet(0), "addrlen": 16}, pid=pid, endpoint="TCP:[11]"),
        ev(2, "listen", {"fd": lfd, "backlog": 1}, pid=pid, endpoint=f"TCP:[{here}]"),
        ev(3, "socket", {"domain": "AF_INET", "type": flags, "protocol": proto}, cfd, pid=pid, ret_endpoint="TCP:[12]"),
        ev(4, "connect", {"fd": cfd, "addr": inet(port), "addrlen": 16}, pid=pid, endpoint="TCP:[12]"),
    ]
    accept_args = {"fd": lfd, "addr": inet(peer), "addrlen": {"in": 16 if python else 128, "out": 16}}
    if python:
        events.append(ev(5, "accept4", {**accept_args, "flags": "SOCK_CLOEXEC"}, afd, pid=pid,
                         endpoint=f"TCP:[{here}]", ret_endpoint=conn))
        events.append(ev(6, "getsockname", {"fd": afd, "addr": inet(port), "addrlen": {"in": 128, "out": 16}},
                         pid=pid, endpoint=conn))
    else:
        events.append(ev(5, "accept", accept_args, afd, pid=pid, endpoint=f"TCP:[{here}]", ret_endpoint=conn))
    events += [
        ev(7, "recvfrom", {"fd": afd, "buf": buf("hi"), "len": 1024 if python else 128, "flags": "0",
                           "src_addr": None, "addrlen": None}, 2, pid=pid, endpoint=conn),
        ev(8, "close", {"fd": afd}, pid=pid, endpoint=conn),
        ev(9, "close", {"fd": cfd}, pid=pid, endpoint=f"TCP:[{there}->{here}]"),
        ev(10, "close", {"fd": lfd}, pid=pid, endpoint=f"TCP:[{here}]"),
        proc_event(11, "exit", pid, code=0),
    ]
    return events


def test_raw_level_keeps_everything_but_pointers() -> None:
    events = echo_server(4242, 4, 41955, 34664, python=False)
    events.insert(7, ev(6, "recvmsg", {"fd": 6, "msg": _msg("x", name="0x7ffc00"), "flags": "0"}, 1, pid=4242))
    steps = normalize(trace_of(*events), "raw")
    assert len(steps) == 11 and all(s.proc == "pid 4242" for s in steps)  # the exit is not a step
    assert steps[0].name == "socket" and steps[0].ret == 4 and steps[0].text.startswith("socket(AF_INET, SOCK_STR")
    assert "41955" in steps[2].text and steps[2].text.startswith("listen(4<TCP:[127.0.0.1:41955]>")
    msg = steps[7]
    assert msg.name == "recvmsg" and msg.args["msg"]["name"] == "0x7ffc00"
    assert "PTR" in msg.key and "0x7ffc00" not in msg.key
    assert json.loads(steps[5].key) == ["pid 4242", "accept", events[5].args, 6, None]


def test_stable_level_roles_ports_and_inodes() -> None:
    steps = normalize(trace_of(*echo_server(4242, 4, 41955, 34664, python=False)), "stable")
    texts = [s.text for s in steps]
    assert texts[0] == "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = L1"  # a listener from its creation on
    assert texts[3] == "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = C1"
    assert texts[4] == "connect(C1, {AF_INET, 127.0.0.1:PORT1}, 16) = 0"
    assert texts[5] == "accept(L1, {AF_INET, 127.0.0.1:EPHEMERAL}, [128 => 16]) = C2"
    assert [s.args.get("fd") for s in steps[6:]] == ["C2", "C2", "C1", "L1"]
    assert {s.proc for s in steps} == {"P1"} and steps[0].rules == [] and not steps[0].informational
    other_run = normalize(trace_of(*echo_server(777, 3, 50000, 40000, python=False)), "stable")
    assert [s.key for s in steps] == [s.key for s in other_run]  # another run, other pids, fds and ports
    shown = normalize(trace_of(*echo_server(4242, 4, 41955, 34664, python=False)), "stable", endpoints=True)
    assert shown[5].text.endswith("= C2<TCP:[127.0.0.1:PORT1->127.0.0.1:EPHEMERAL]>")
    assert shown[1].text.startswith("bind(L1<TCP:[INODE]>, ")


def test_semantic_level_makes_php_and_python_twins_equal() -> None:
    php = normalize(trace_of(*echo_server(10, 4, 41955, 34664, python=False)), "semantic")
    py = normalize(trace_of(*echo_server(20, 3, 40695, 58546, python=True), language="python"), "semantic")
    extra = [s for s in py if s.informational]
    assert [s.text for s in extra] == ["getsockname(C2, {AF_INET, 127.0.0.1:PORT1}, [128 => 16]) = 0"]
    assert [s.key for s in php] == [s.key for s in py if not s.informational]
    assert py[0].rules == ["socket_flags", "default_protocol"] and "SOCK_CLOEXEC" in py[0].notes
    assert py[5].name == "accept" and py[5].text.startswith("accept4(") and "accept_is_accept4" in py[5].rules
    assert php[6].name == "read" and php[6].rules == ["recv_is_read", "buffer_size"]
    assert php[6].text == 'recvfrom(C2, "hi", 128, 0, NULL, NULL) = 2'
    assert normalize(trace_of(*echo_server(10, 4, 1, 2, python=False)), "stable")[6].name == "recvfrom"


def test_semantic_level_joins_runs_of_one_process() -> None:
    conn = "TCP:[127.0.0.1:80->127.0.0.1:5000]"
    php = [ev(0, "accept", {"fd": 3, "addr": None, "addrlen": None}, 4, endpoint="TCP:[127.0.0.1:80]",
              ret_endpoint=conn)]
    php += [ev(1 + i, "recvfrom", {"fd": 4, "buf": buf(c), "len": 1, "flags": "0", "src_addr": None, "addrlen": None},
               1, endpoint=conn) for i, c in enumerate(["o", "k", "\\n"])]
    php.insert(2, ev(9, "getpid", {}, 7, pid=555))  # another process's call in between does not break the run
    php += [ev(10 + i, "read", {"fd": 4, "buf": buf(""), "count": 1}, 0, endpoint=conn) for i in range(200)]
    python = [php[0], ev(1, "read", {"fd": 4, "buf": buf("ok\\n"), "count": 8192}, 3, endpoint=conn),
              ev(2, "read", {"fd": 4, "buf": buf(""), "count": 8192}, 0, endpoint=conn)]
    left, right = normalize(trace_of(*php), "semantic"), normalize(trace_of(*python), "semantic")
    assert [s.key for s in left] == [s.key for s in right]
    assert left[1].text == 'recvfrom(C1, "o", 1, 0, NULL, NULL) = 1 (+2 more: "ok\\n" in all)'
    assert left[2].text == 'read(C1, "", 1) = 0 (+199 more: "" in all)' and left[2].event.seq == 10
    assert len(normalize(trace_of(*php), "stable")) == 204


def test_fork_thread_and_reused_descriptors() -> None:
    lst = "TCP:[127.0.0.1:9000]"
    events = [
        ev(0, "socket", {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "0"}, 3, pid=1),
        ev(1, "bind", {"fd": 3, "addr": inet(9000), "addrlen": 16}, pid=1),
        ev(2, "listen", {"fd": 3, "backlog": 5}, pid=1, endpoint=lst),
        proc_event(3, "fork", 1, child=2, call="fork", thread=False),
        proc_event(4, "fork", 1, child=3, call="clone", thread=True),
        ev(5, "close", {"fd": 3}, pid=2, endpoint=lst),  # the child's copy of the listener
        ev(6, "socket", {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "0"}, 3, pid=2),  # number reused
        ev(7, "connect", {"fd": 3, "addr": inet(9000), "addrlen": 16}, -1, "EINPROGRESS", pid=2),
        ev(8, "accept", {"fd": 3, "addr": None, "addrlen": None}, 4, pid=1, endpoint=lst),
        ev(9, "read", {"fd": 4, "buf": buf("x"), "count": 8}, 1, pid=3),  # a thread shares the table
        ev(10, "socketpair", {"domain": "AF_UNIX", "type": "SOCK_DGRAM", "protocol": "0", "sv": [5, 6]}, 0, pid=1),
    ]
    steps = normalize(trace_of(*events), "stable")
    assert [(s.proc, s.text) for s in steps] == [
        ("P1", "socket(AF_INET, SOCK_STREAM, 0) = L1"),
        ("P1", "bind(L1, {AF_INET, 127.0.0.1:PORT1}, 16) = 0"),
        ("P1", "listen(L1, 5) = 0"),
        ("P2", "close(L1) = 0"),
        ("P2", "socket(AF_INET, SOCK_STREAM, 0) = C1"),
        ("P2", "connect(C1, {AF_INET, 127.0.0.1:PORT1}, 16) = -1 EINPROGRESS"),
        ("P1", "accept(L1, NULL, NULL) = C1"),
        ("P3", 'read(C1, "x", 8) = 1'),
        ("P1", "socketpair(AF_UNIX, SOCK_DGRAM, 0, [S1, S2]) = 0"),
    ]


def test_a_close_reported_after_another_thread_reused_its_number() -> None:
    # close(5) frees the number when it begins; another thread's accept can take 5 and be reported
    # before the close's exit.  The close still closed the first connection (its endpoint says so).
    first, second = "TCP:[127.0.0.1:80->127.0.0.1:40001]", "TCP:[127.0.0.1:80->127.0.0.1:40002]"
    accept = {"fd": 3, "addr": None, "addrlen": None, "flags": "SOCK_CLOEXEC"}
    events = [
        ev(0, "socket", {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "0"}, 3, pid=10),
        ev(1, "listen", {"fd": 3, "backlog": 5}, pid=10, endpoint="TCP:[127.0.0.1:80]"),
        proc_event(2, "fork", 10, child=11, thread=True),
        proc_event(3, "fork", 10, child=12, thread=True),
        ev(4, "accept4", accept, 5, pid=10, endpoint="TCP:[127.0.0.1:80]", ret_endpoint=first),
        ev(5, "recvfrom", {"fd": 5, "buf": buf("a"), "len": 64, "flags": "0", "src_addr": None, "addrlen": None},
           1, pid=11, endpoint=first),
        ev(6, "accept4", accept, 5, pid=10, endpoint="TCP:[127.0.0.1:80]", ret_endpoint=second),
        ev(7, "close", {"fd": 5}, pid=11, endpoint=first),
        ev(8, "recvfrom", {"fd": 5, "buf": buf("b"), "len": 64, "flags": "0", "src_addr": None, "addrlen": None},
           1, pid=12, endpoint=second),
        ev(9, "close", {"fd": 5}, pid=12, endpoint=second),
    ]
    steps = normalize(trace_of(*events), "stable")
    by_proc: dict[str, list[str]] = {}
    for step in steps:
        by_proc.setdefault(step.proc, []).append(f"{step.name} {step.args.get('fd')} {step.ret}")
    # The connection sockets are numbered per thread: each worker's one socket is its C1, whatever the
    # number; without the endpoint, P2's close would have closed the second connection.
    assert by_proc["P2"] == ["recvfrom C1 1", "close C1 0"]
    assert by_proc["P3"] == ["recvfrom C1 1", "close C1 0"]
    assert by_proc["P1"][-2:] == ["accept4 L1 C1", "accept4 L1 C2"]


def test_descriptors_the_trace_did_not_create() -> None:
    pair = "UNIX-STREAM:[21->22]"
    rights = [{"len": 20, "level": "SOL_SOCKET", "type": "SCM_RIGHTS", "fds": [5]}]
    got = [{"len": 20, "level": "SOL_SOCKET", "type": "SCM_RIGHTS", "fds": [9]}]
    events = [
        ev(0, "socketpair", {"domain": "AF_UNIX", "type": "SOCK_STREAM", "protocol": "0", "sv": [3, 4]}, 0),
        ev(1, "socketpair", {"domain": "AF_UNIX", "type": "SOCK_STREAM", "protocol": "0", "sv": [5, 6]}, 0),
        ev(2, "getsockopt", {"fd": 5, "level": "SOL_SOCKET", "optname": "SO_TYPE", "optval": [1], "optlen": 4},
           endpoint=pair),
        ev(3, "sendmsg", {"fd": 3, "msg": _msg("F", control=rights), "flags": "0"}, 1, endpoint="UNIX-STREAM:[1->2]"),
        ev(4, "recvmsg", {"fd": 4, "msg": _msg("F", control=got), "flags": "0"}, 1, endpoint="UNIX-STREAM:[2->1]"),
        ev(5, "write", {"fd": 9, "buf": buf("via"), "count": 3}, 3, endpoint=pair),  # the received one: S3 again
        ev(6, "write", {"fd": 100, "buf": buf("dup"), "count": 3}, 3, endpoint=pair),  # a dup of it
        ev(7, "close", {"fd": 77}, endpoint="TCP:[127.0.0.1:5->127.0.0.1:6]"),  # inherited, connected
    ]
    steps = normalize(trace_of(*events), "stable")
    assert "SCM_RIGHTS, [S3]" in steps[3].text and "SCM_RIGHTS, [S3]" in steps[4].text
    assert [s.args["fd"] for s in steps[5:]] == ["S3", "S3", "C1"]


def test_udp_ports_reply_destination_is_ephemeral() -> None:
    events = [
        ev(0, "socket", {"domain": "AF_INET", "type": "SOCK_DGRAM", "protocol": "0"}, 3),
        ev(1, "bind", {"fd": 3, "addr": inet(0), "addrlen": 16}, endpoint="UDP:[31]"),
        ev(2, "socket", {"domain": "AF_INET", "type": "SOCK_DGRAM", "protocol": "0"}, 4),
        ev(3, "sendto", {"fd": 4, "buf": buf("ping"), "len": 4, "flags": "0", "dest_addr": inet(38702),
                         "addrlen": 16}, 4, endpoint="UDP:[32]"),
        ev(4, "recvfrom", {"fd": 3, "buf": buf("ping"), "len": 64, "flags": "0", "src_addr": inet(33806),
                           "addrlen": {"in": 16, "out": 16}}, 4, endpoint="UDP:[127.0.0.1:38702]"),
        ev(5, "sendto", {"fd": 3, "buf": buf("pong"), "len": 4, "flags": "0", "dest_addr": inet(33806),
                         "addrlen": 16}, 4, endpoint="UDP:[127.0.0.1:38702]"),
    ]
    steps = normalize(trace_of(*events), "semantic")
    assert [s.args.get("dest_addr", s.args.get("src_addr", s.args.get("addr"))) for s in steps[1:]] == [
        inet(0), None, inet("PORT1"), inet("EPHEMERAL"), inet("EPHEMERAL")]  # type: ignore[arg-type]
    assert [s.args.get("fd", s.ret) for s in steps] == ["S1", "S1", "S2", "S2", "S1", "S1"]


def client(*results: tuple[int, str | None], proto: str = "IPPROTO_TCP") -> Trace:
    """A client making one connection after another on descriptor 3: connect's (result, errno) for each."""
    kind = "SOCK_STREAM" if proto == "IPPROTO_TCP" else "SOCK_DGRAM"
    events = []
    for n, (ret, errno) in enumerate(results):
        events += [
            ev(10 * n, "socket", {"domain": "AF_INET", "type": kind, "protocol": proto}, 3),
            ev(10 * n + 1, "connect", {"fd": 3, "addr": inet(80), "addrlen": 16}, ret, errno),
            ev(10 * n + 2, "close", {"fd": 3}),
        ]
    return trace_of(*events)


def test_a_connect_attempt_makes_a_connection_socket_whatever_came_of_it() -> None:
    # A refused connect is the same connection attempt as one that succeeds (or, non-blocking, is in
    # progress): its socket is a C, and the connections after it keep their numbers.  Before, it was an S
    # and shifted every later role by one, so that every later step compared as changed.
    up = normalize(client((0, None), (0, None), (0, None)), "semantic")
    for failure in ("ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH", "EINPROGRESS"):
        down = normalize(client((-1, failure), (0, None), (0, None)), "semantic")
        assert [s.args.get("fd", s.ret) for s in down] == ["C1"] * 3 + ["C2"] * 3 + ["C3"] * 3
        assert [i for i, (a, b) in enumerate(zip(up, down, strict=True)) if a.key != b.key] == [1]
        assert [row.verdict for row in align(up, down)].count("same") == 8
    # A descriptor the kernel says is not open, or not a socket, was no connection attempt; nor is a
    # datagram socket's connect (it only sets the default destination).
    assert [s.args.get("fd", s.ret) for s in normalize(client((-1, "EBADF")), "stable")] == ["S1"] * 3
    assert [s.args.get("fd", s.ret) for s in normalize(client((0, None), proto="IPPROTO_UDP"), "stable")] == \
        ["S1"] * 3


def test_only_socket_calls_are_steps_and_text_is_terminal_safe() -> None:
    header = Header(argv=["x"], all_syscalls=True)
    events = [
        ev(0, "openat", {"arg0": -100, "arg1": "/tmp/f"}, 3),
        ev(1, "write", {"fd": 3, "buf": buf("file"), "count": 4}, 4),  # a file: no endpoint, not a socket
        ev(2, "socket", {"domain": "AF_UNIX", "type": "SOCK_STREAM", "protocol": "0"}, 4),
        ev(3, "bind", {"fd": 4, "addr": {"family": "AF_UNIX", "path": "/tmp/\x1b[2J\u202e"}, "addrlen": 12}),
        ev(4, "write", {"fd": 4, "buf": buf("sock"), "count": 4}, 4),  # no endpoint, but a known socket
        ev(5, "read", {"fd": 0, "buf": buf("in"), "count": 2}, 2, endpoint="/dev/pts/0"),
    ]
    steps = normalize(Trace(header, events), "semantic")
    assert [s.name for s in steps] == ["socket", "bind", "write"]
    for step in steps:
        assert "\x1b" not in step.text and "\u202e" not in step.text
    assert "\\x1b[2J\\u202e" in steps[1].text


def test_unknown_level() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        normalize(trace_of(), "exact")


# -- real twins -------------------------------------------------------------------------------------


def traced(fixture: str, tmp_path: Path) -> Trace:
    if fixture.endswith(".php") and shutil.which("php") is None:
        pytest.skip("php is not installed")
    out = tmp_path / (Path(fixture).name + ".jsonl")
    args = ["trace", "--format", "jsonl", "-o", str(out)]
    if fixture.endswith(".py"):
        args += ["--interpreter", PYTHON]
    proc = sctrace(*args, str(TRACE_FIXTURES / fixture), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return Trace.load(out)


def per_process(steps: list[Step]) -> dict[str, list[Step]]:
    out: dict[str, list[Step]] = {}
    for step in steps:
        out.setdefault(step.proc, []).append(step)
    return out


def test_twins_tcp4_echo(tmp_path: Path) -> None:
    php = per_process(normalize(traced("tcp4_echo.php", tmp_path), "semantic"))
    py = per_process(normalize(traced("tcp4_echo.py", tmp_path), "semantic"))
    assert list(php) == list(py) == ["P1"]
    # Python's socket.accept() asks getsockname of the new socket; PHP's socket_accept does not.
    extra = [s for s in py["P1"] if s.name == "getsockname" and s.args["fd"] == "C2"]
    assert len(extra) == 1 and extra[0].informational
    assert [s.key for s in php["P1"]] == [s.key for s in py["P1"] if s is not extra[0]]
    names = [s.name for s in php["P1"]]
    assert names == ["socket", "bind", "listen", "getsockname", "socket", "connect", "write", "accept", "read",
                     "write", "read", "close", "close", "close"]


def test_twins_udp_echo(tmp_path: Path) -> None:
    php = per_process(normalize(traced("udp_echo.php", tmp_path), "semantic"))
    py = per_process(normalize(traced("udp_echo.py", tmp_path), "semantic"))
    assert list(php) == list(py) == ["P1"]
    assert [s.key for s in php["P1"]] == [s.key for s in py["P1"]]  # nothing differs at all
    sendto = [s for s in php["P1"] if s.name == "sendto"]
    assert [s.args["dest_addr"]["port"] for s in sendto] == ["PORT1", "EPHEMERAL"]


def test_twins_unix_stream(tmp_path: Path) -> None:
    php = normalize(traced("unix_stream.php", tmp_path), "semantic")
    py = normalize(traced("unix_stream.py", tmp_path), "semantic")
    # Each fixture makes its own temp dir, so bind and connect name different paths; Python's accept()
    # adds an informational getsockname.  Everything else is equivalent.
    differ = {"bind", "connect"}
    kept_py = [s for s in py if not (s.name == "getsockname" and s.args["fd"] == "C2")]
    assert len(kept_py) == len(py) - 1 and len(php) == len(kept_py)
    for left, right in zip(php, kept_py, strict=True):
        assert (left.key == right.key) != (left.name in differ), (left.text, right.text)


def test_steps_share_what_nothing_renames_and_leave_events_untouched() -> None:
    """A step's arguments are its own dict; a value in them that normalizing renames nothing in (a payload) is
    the event's very object, one with a port, pointer or SCM_RIGHTS descriptor renamed is a copy, and the
    event's arguments stay as traced."""
    rights = [{"len": 20, "level": "SOL_SOCKET", "type": "SCM_RIGHTS", "fds": [4]}]
    msg = {"name": "0x7ffc00", "namelen": {"in": 110, "out": 0}, "iov": [{"base": buf("x"), "len": 64}],
           "control": rights, "flags": "0"}
    events = [
        ev(0, "socket", {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "IPPROTO_TCP"}, 3),
        ev(1, "connect", {"fd": 3, "addr": inet(8080), "addrlen": 16}),
        ev(2, "sendto", {"fd": 3, "buf": buf("hi"), "len": 2, "flags": "0", "dest_addr": None, "addrlen": 0}, 2),
        ev(3, "socket", {"domain": "AF_UNIX", "type": "SOCK_STREAM", "protocol": "0"}, 4),
        ev(4, "sendmsg", {"fd": 3, "msg": msg, "flags": "0"}, 1),
    ]
    traced = [dataclasses.replace(e, args=json.loads(json.dumps(e.args))) for e in events]
    for level in ("stable", "semantic"):
        steps = normalize(trace_of(*events), level)
        assert [e.args for e in events] == [e.args for e in traced], "normalizing changed an event"
        socket_, connect, sendto, _, sendmsg = steps
        assert all(step.args is not step.event.args for step in steps)
        assert connect.args["addr"] is not events[1].args["addr"] and connect.args["addr"]["port"] == "PORT1"
        assert sendto.args["buf"] is events[2].args["buf"]
        sent = sendmsg.args["msg"]
        assert sent is not msg and sent["name"] == "PTR" and sent["control"][0]["fds"] == ["S1"]
        assert sent["iov"] is msg["iov"] and sent["namelen"] is msg["namelen"]
