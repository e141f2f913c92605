"""Tests of the strace text-log reader (sctrace.model.strace_log).

Two kinds: hand-written lines that pin down each quirk of strace's output
exactly, and real logs that /usr/bin/strace writes on this machine for a small
Python program, with several flag combinations, so that a change of strace's
output shows up here rather than in a user's comparison.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sctrace.model.strace_log import looks_like_strace_log, parse_strace_log
from sctrace.model.trace import Event, Trace, TraceFormatError

DATA = Path(__file__).parent / "data" / "strace"


def parse(text: str) -> Trace:
    return parse_strace_log(text.splitlines(keepends=True), "test.log")


def only(trace: Trace, name: str) -> Event:
    found = [e for e in trace.events if e.name == name]
    assert len(found) == 1, f"{name}: {len(found)} events"
    return found[0]


def fields(e: Event) -> dict[str, Any]:
    """The parts of an event a test compares, without the ones it does not set."""
    return {k: v for k, v in e.to_json().items() if k not in ("seq", "t")}


# ---------------------------------------------------------------------------
# One complete line -> one syscall event (exact values).

SINGLE_LINES: list[tuple[str, dict[str, Any]]] = [
    (
        "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3",
        {
            "name": "socket",
            "args": {"domain": "AF_INET", "type": "SOCK_STREAM|SOCK_CLOEXEC", "protocol": "IPPROTO_IP"},
            "ret": 3,
            "fd": None,
            "endpoint": None,
        },
    ),
    (
        "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[11933]>",
        {"ret": 3, "ret_endpoint": "TCP:[11933]"},
    ),
    (
        "connect(4<TCP:[11934]>, {sa_family=AF_INET, sin_port=htons(36153), "
        'sin_addr=inet_addr("127.0.0.1")}, '
        "16) = -1 ECONNREFUSED (Connection refused)",
        {
            "args": {
                "fd": 4,
                "addr": {"family": "AF_INET", "port": 36153, "address": "127.0.0.1"},
                "addrlen": 16,
            },
            "ret": -1,
            "errno": "ECONNREFUSED",
            "fd": 4,
            "endpoint": "TCP:[11934]",
        },
    ),
    (
        "accept4(3<TCP:[127.0.0.1:36153]>, {sa_family=AF_INET, sin_port=htons(40154), "
        'sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = 5<TCP:[127.0.0.1:36153->127.0.0.1:40154]>',
        {
            "args": {
                "fd": 3,
                "addr": {"family": "AF_INET", "port": 40154, "address": "127.0.0.1"},
                "addrlen": {"in": 16, "out": 16},  # strace's [16]: the kernel left it as it was
                "flags": "SOCK_CLOEXEC",
            },
            "ret": 5,
            "fd": 3,
            "endpoint": "TCP:[127.0.0.1:36153]",
            "ret_endpoint": "TCP:[127.0.0.1:36153->127.0.0.1:40154]",
        },
    ),
    (
        'getsockname(5, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr("10.0.0.1")}, '
        "[128 => 16]) = 0",
        {
            "args": {
                "fd": 5,
                "addr": {"family": "AF_INET", "port": 1, "address": "10.0.0.1"},
                "addrlen": {"in": 128, "out": 16},
            },
            "ret": 0,
        },
    ),
    (
        "bind(3, {sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), "
        'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
        {
            "args": {
                "fd": 3,
                "addr": {"family": "AF_INET6", "port": 0, "flowinfo": 0, "address": "::1", "scope_id": 0},
                "addrlen": 28,
            }
        },
    ),
    (
        'connect(3, {sa_family=AF_UNIX, sun_path="/tmp/s\\"q"}, 24) = -1 ENOENT (No such file or directory)',
        {
            "args": {"fd": 3, "addr": {"family": "AF_UNIX", "path": '/tmp/s"q'}, "addrlen": 24},
            "errno": "ENOENT",
        },
    ),
    (
        'bind(3<UNIX:[22177]>, {sa_family=AF_UNIX, sun_path=@"abstract-x"}, 13) = 0',
        {
            "args": {
                "fd": 3,
                "addr": {"family": "AF_UNIX", "path": "@abstract-x", "abstract": True},
                "addrlen": 13,
            },
            "endpoint": "UNIX:[22177]",
        },
    ),
    (
        "getpeername(3, {sa_family=AF_UNIX}, [128 => 2]) = 0",
        {"args": {"fd": 3, "addr": {"family": "AF_UNIX"}, "addrlen": {"in": 128, "out": 2}}},
    ),
    (
        'sendto(5, "ping \\"q\\"\\t\\\\\\0\\377\\n7", 14, MSG_NOSIGNAL, NULL, 0) = 14',
        {
            "args": {
                "fd": 5,
                "buf": {"text": 'ping \\"q\\"\\t\\\\\\0\\377\\n7', "len": 14},
                "len": 14,
                "flags": "MSG_NOSIGNAL",
                "dest_addr": None,
                "addrlen": 0,
            },
            "ret": 14,
        },
    ),
    (  # -s cut the buffer: the true length is the result
        'write(1</dev/pts/0<char 136:0>>, "xxxxxxxxxx"..., 100) = 100',
        {
            "args": {"fd": 1, "buf": {"text": "xxxxxxxxxx", "len": 100, "truncated": True}, "count": 100},
            "endpoint": "/dev/pts/0<char 136:0>",
        },
    ),
    (  # a failed write: the size asked for
        'write(3, "abc", 3) = -1 EPIPE (Broken pipe)',
        {"args": {"fd": 3, "buf": {"text": "abc", "len": 3}, "count": 3}, "ret": -1, "errno": "EPIPE"},
    ),
    (
        "recvfrom(3, 0x7f77cffd2d50, 10, MSG_DONTWAIT, NULL, NULL) = -1 EAGAIN "
        "(Resource temporarily unavailable)",
        {
            "args": {
                "fd": 3,
                "buf": "0x7f77cffd2d50",
                "len": 10,
                "flags": "MSG_DONTWAIT",
                "src_addr": None,
                "addrlen": None,
            },
            "errno": "EAGAIN",
        },
    ),
    (
        'readv(4, [{iov_base="abc", iov_len=3}, {iov_base="defgh", iov_len=10}], 2) = 8',
        {
            "args": {
                "fd": 4,
                "iov": [
                    {"base": {"text": "abc", "len": 3}, "len": 3},
                    {"base": {"text": "defgh", "len": 5}, "len": 10},
                ],
                "iovcnt": 2,
            }
        },
    ),
    (
        'sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="fd", iov_len=2}], msg_iovlen=1, '
        "msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, "
        "cmsg_data=[5<pipe:[22169]>]}], "
        "msg_controllen=24, msg_flags=0}, 0) = 2",
        {
            "args": {
                "fd": 3,
                "msg": {
                    "name": None,
                    "namelen": 0,
                    "iov": [{"base": {"text": "fd", "len": 2}, "len": 2}],
                    "iovlen": 1,
                    "control": [{"len": 20, "level": "SOL_SOCKET", "type": "SCM_RIGHTS", "fds": [5]}],
                    "controllen": 24,
                    "flags": "0",
                },
                "flags": "0",
            }
        },
    ),
    (
        'recvmsg(4, {msg_name=0x7ffd4d59a750, msg_namelen=110 => 0, msg_iov=[{iov_base="fdx", iov_len=10}], '
        "msg_iovlen=1, msg_controllen=0, msg_flags=MSG_TRUNC}, MSG_CMSG_CLOEXEC) = 3",
        {
            "args": {
                "fd": 4,
                "msg": {
                    "name": "0x7ffd4d59a750",
                    "namelen": {"in": 110, "out": 0},
                    "iov": [{"base": {"text": "fdx", "len": 3}, "len": 10}],
                    "iovlen": 1,
                    "control": None,
                    "controllen": 0,
                    "flags": "MSG_TRUNC",
                },
                "flags": "MSG_CMSG_CLOEXEC",
            }
        },
    ),
    (  # a successful recvmsg: strace's plain msg_namelen=16 is in 16, out 16
        'recvmsg(8, {msg_name={sa_family=AF_INET, sin_port=htons(46931), sin_addr=inet_addr("127.0.0.1")}, '
        'msg_namelen=16, msg_iov=[{iov_base="x", iov_len=10}], msg_iovlen=1, msg_controllen=0, '
        "msg_flags=0}, 0) = 1",
        {
            "args": {
                "fd": 8,
                "msg": {
                    "name": {"family": "AF_INET", "port": 46931, "address": "127.0.0.1"},
                    "namelen": {"in": 16, "out": 16},
                    "iov": [{"base": {"text": "x", "len": 1}, "len": 10}],
                    "iovlen": 1,
                    "control": None,
                    "controllen": 0,
                    "flags": "0",
                },
                "flags": "0",
            }
        },
    ),
    (
        'recvfrom(8, "y", 10, 0, {sa_family=AF_INET, sin_port=htons(46931), sin_addr=inet_addr("127.0.0.1")}, '
        "[16]) = 1",
        {
            "args": {
                "fd": 8,
                "buf": {"text": "y", "len": 1},
                "len": 10,
                "flags": "0",
                "src_addr": {"family": "AF_INET", "port": 46931, "address": "127.0.0.1"},
                "addrlen": {"in": 16, "out": 16},
            },
            "ret": 1,
        },
    ),
    (
        "socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, [3<UNIX-STREAM:[22165->22166]>, "
        "4<UNIX-STREAM:[22166->22165]>]) = 0",
        {"args": {"domain": "AF_UNIX", "type": "SOCK_STREAM|SOCK_CLOEXEC", "protocol": "0", "sv": [3, 4]}},
    ),
    (
        "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
        {"args": {"fd": 3, "level": "SOL_SOCKET", "optname": "SO_REUSEADDR", "optval": [1], "optlen": 4}},
    ),
    (
        "getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0",
        {"args": {"fd": 3, "level": "SOL_SOCKET", "optname": "SO_ERROR", "optval": [0], "optlen": {"in": 4, "out": 4}}},
    ),
    (  # a failed recvmsg: strace shows the one field it read
        "recvmsg(17, {msg_namelen=128}, 0) = -1 EAGAIN (Resource temporarily unavailable)",
        {"args": {"fd": 17, "msg": {"namelen": 128}, "flags": "0"}, "errno": "EAGAIN"},
    ),
    ("shutdown(3, SHUT_WR) = 0", {"args": {"fd": 3, "how": "SHUT_WR"}, "fd": 3}),
    ("listen(3, 4096) = 0", {"args": {"fd": 3, "backlog": 4096}}),
    ('close(3</tmp/we\\74i\\76rd, \\"q\\">) = 0', {"fd": 3, "endpoint": '/tmp/we\\74i\\76rd, \\"q\\"'}),
    ("dup2(3, 1) = 1", {"args": {"oldfd": 3, "newfd": 1}, "fd": 3, "ret": 1}),
    (
        "exit_group(0)                           = ?",
        {"name": "exit_group", "args": {"arg0": 0}, "ret": None, "errno": None},
    ),
    (
        "read(0, 0x7ffc, 1024) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)",
        {"ret": None, "errno": "ERESTARTSYS"},
    ),
    ("mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1, 0) = 0x7f94e1749000", {"ret": 0x7F94E1749000}),
    ("umask(022)                              = 022", {"args": {"arg0": 18}, "ret": 18}),
    ("poll([{fd=3, events=POLLIN}], 1, 1) = 1 ([{fd=3, revents=POLLIN}])", {"ret": 1}),
    ("fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)", {"args": {"fd": 3, "cmd": "F_GETFL"}, "ret": 2}),
    ("connect(3, 0x1, 16) = -1 (errno 4095)", {"ret": -1, "errno": "errno 4095"}),
    ("close(3) = 0 <0.000123>", {"ret": 0}),
    (  # clone's arguments carry strace's names, in strace's (not the kernel's) order
        "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f0710effa10) = 13189",
        {
            "args": {
                "child_stack": None,
                "flags": "CLONE_CHILD_CLEARTID|SIGCHLD",
                "child_tidptr": "0x7f0710effa10",
            }
        },
    ),
    (
        "clone3({flags=CLONE_VM, child_tid=0x7f, exit_signal=0, stack=0x7f55, stack_size=0x7fff80} "
        "=> {parent_tid=[14389]}, 88) = 14389",
        {
            "args": {
                "arg0": {
                    "in": {
                        "flags": "CLONE_VM",
                        "child_tid": "0x7f",
                        "exit_signal": 0,
                        "stack": "0x7f55",
                        "stack_size": "0x7fff80",
                    },
                    "out": {"parent_tid": [14389]},
                },
                "arg1": 88,
            }
        },
    ),
    (
        'execve("/bin/true", ["true", "x"], 0x7ffe9e42d6b0 /* 38 vars */) = 0',
        {
            "args": {
                "arg0": {"text": "/bin/true", "len": 9},
                "arg1": [{"text": "true", "len": 4}, {"text": "x", "len": 1}],
                "arg2": "0x7ffe9e42d6b0",
            }
        },
    ),
    (  # what cannot be decoded is kept as text, the line still counts
        "wait4(16342, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV}], 0, NULL) = 16342",
        {
            "args": {
                "arg0": 16342,
                "arg1": {"raw": "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV}]"},
                "arg2": 0,
                "arg3": None,
            }
        },
    ),
    (
        "restart_syscall(<... resuming interrupted read ...>) = 0",
        {"args": {"arg0": "<... resuming interrupted read ...>"}},
    ),
    ("getpid() = 77", {"args": {}, "ret": 77}),
]


@pytest.mark.parametrize(("line", "expected"), SINGLE_LINES, ids=[s[:40] for s, _ in SINGLE_LINES])
def test_single_line(line: str, expected: dict[str, Any]) -> None:
    trace = parse(line + "\n")
    assert len(trace.events) == 1
    e = trace.events[0]
    assert e.type == "syscall" and e.seq == 0 and e.pid == 0 and e.t == 0.0
    got = fields(e)
    assert {k: got.get(k) for k in expected} == expected


# ---------------------------------------------------------------------------
# Prefixes: pid column and timestamps.

PREFIXES: list[tuple[str, int, float]] = [
    ("1234  ", 1234, 0.0),
    ("[pid  1234] ", 1234, 0.0),
    ("[pid 123456] ", 123456, 0.0),
    ("1234  12:00:01 ", 1234, 1.0),
    ("12:00:01.250000 ", 0, 1.25),
    ("[pid  1234] 12:00:00.500000 ", 1234, 0.5),
    ("1795316000.750000 ", 0, 0.75),
    ("1234  1795316000.000000007 ", 1234, 7e-09),
    ("1234  [00007f11aabbccdd] ", 1234, 0.0),
    ("1234  12:00:01 (+     0.000123) ", 1234, 1.0),
    ("[pid  1234] 1795316000.750000 [????????????????] ", 1234, 0.75),
]


@pytest.mark.parametrize(("prefix", "pid", "t"), PREFIXES)
def test_prefixes(prefix: str, pid: int, t: float) -> None:
    first = prefix.replace("12:00:01", "12:00:00").replace("1795316000.750000", "1795316000.000000")
    first = first.replace("12:00:00.250000", "12:00:00.000000").replace("000000007", "000000000")
    first = first.replace("12:00:00.500000", "12:00:00.000000")
    trace = parse(f"{first}listen(3, 1) = 0\n{prefix}close(3) = 0 <0.000009>\n")
    e = trace.events[1]
    assert (e.pid, e.name, e.ret) == (pid, "close", 0)
    assert e.t == pytest.approx(t, abs=1e-9)


def test_time_of_day_passes_midnight() -> None:
    trace = parse("23:59:59.500000 listen(3, 1) = 0\n00:00:00.250000 close(3) = 0\n")
    assert [e.t for e in trace.events] == [0.0, pytest.approx(0.75)]


def test_relative_timestamps_add_up() -> None:
    """-r prints the time since the previous line, padded; a log's first delta is 0."""
    trace = parse(
        "     0.000000 listen(3, 1) = 0\n"
        "7         0.250000 close(3) = 0\n"
        "[pid     8]      0.500000 close(4 <unfinished ...>\n"
        "[pid     8]      0.125000 <... close resumed>) = 0\n"
    )
    assert [(e.pid, e.name, e.t) for e in trace.events] == [
        (7, "listen", 0.0),
        (7, "close", 0.25),
        (8, "close", 0.75),
    ]


def test_whole_second_unix_timestamp_is_not_a_pid() -> None:
    trace = parse("1795316000 listen(3, 1) = 0\n1795316002 close(3) = 0\n")
    assert [(e.pid, e.t) for e in trace.events] == [(0, 0.0), (0, 2.0)]


# ---------------------------------------------------------------------------
# Split calls.


def test_unfinished_and_resumed_are_merged_per_pid() -> None:
    trace = parse(
        "10 1700000001.0 read(3<pipe:[1]>,  <unfinished ...>\n"
        '11 1700000001.5 sendto(5, "x", 1, 0, NULL, 0 <unfinished ...>\n'
        '10 1700000002.0 <... read resumed>"hi", 4096) = 2 <1.0>\n'
        "11 1700000002.5 <... sendto resumed>) = 1\n"
        "12 1700000003.0 getsockname(4,  <unfinished ...>\n"
        "12 1700000003.1 <... getsockname resumed>{sa_family=AF_INET, sin_port=htons(9), "
        'sin_addr=inet_addr("1.2.3.4")}, '
        "[128 => 16]) = 0\n"
    )
    got = [(e.seq, e.pid, e.t, e.name, e.args, e.ret, e.fd, e.endpoint) for e in trace.events]
    assert got == [
        (0, 10, 0.0, "read", {"fd": 3, "buf": {"text": "hi", "len": 2}, "count": 4096}, 2, 3, "pipe:[1]"),
        (
            1,
            11,
            0.5,
            "sendto",
            {"fd": 5, "buf": {"text": "x", "len": 1}, "len": 1, "flags": "0", "dest_addr": None, "addrlen": 0},
            1,
            5,
            None,
        ),
        (
            2,
            12,
            2.0,
            "getsockname",
            {
                "fd": 4,
                "addr": {"family": "AF_INET", "port": 9, "address": "1.2.3.4"},
                "addrlen": {"in": 128, "out": 16},
            },
            0,
            4,
            None,
        ),
    ]


def test_clone3_split_before_its_out_half() -> None:
    trace = parse(
        "5 clone3({flags=CLONE_VM, exit_signal=0} <unfinished ...>\n"
        "6 gettid() = 6\n"
        "5 <... clone3 resumed> => {parent_tid=[6]}, 88) = 6\n"
    )
    clone = only(trace, "clone3")
    assert clone.args == {
        "arg0": {"in": {"flags": "CLONE_VM", "exit_signal": 0}, "out": {"parent_tid": [6]}},
        "arg1": 88,
    }


def test_call_cut_short_by_death() -> None:
    trace = parse(
        "11 read(3<pipe:[24017]>,  <unfinished ...>\n"
        "10 exit_group(0) = ?\n"
        "11 <... read resumed> <unfinished ...>) = ?\n"
        "11 +++ exited with 0 +++\n"
        "12 futex(0x7f00, FUTEX_WAIT_PRIVATE, 0, NULL <unfinished ...>) = ?\n"
        "13 accept4(3,  <unfinished ...>\n"
        "13 +++ killed by SIGKILL +++\n"
        "14 recvfrom(4,  <unfinished ...>\n"
    )
    got = [(e.type, e.pid, e.name, e.args, e.ret, e.info) for e in trace.events]
    assert got == [
        ("syscall", 10, "exit_group", {"arg0": 0}, None, {}),
        ("syscall", 11, "read", {"fd": 3}, None, {}),
        ("exit", 11, None, {}, None, {"code": 0}),
        (
            "syscall",
            12,
            "futex",
            {"arg0": "0x7f00", "arg1": "FUTEX_WAIT_PRIVATE", "arg2": 0, "arg3": None},
            None,
            {},
        ),
        ("syscall", 13, "accept4", {"fd": 3}, None, {}),  # kept, before the process's end
        ("killed", 13, None, {}, None, {"signal": "SIGKILL", "core": False}),
        ("syscall", 14, "recvfrom", {"fd": 4}, None, {}),  # still open when the log ends
    ]


def test_exec_by_a_thread_resumes_in_the_leader() -> None:
    trace = parse(
        '201 execve("/bin/true", ["true"], 0x7ffd /* 3 vars */ <unfinished ...>\n'
        "200 futex(0x1, FUTEX_WAIT, 0, NULL <unfinished ...>\n"
        "200 +++ superseded by execve in pid 201 +++\n"
        "200 <... execve resumed>) = 0\n"
    )
    got = [(e.pid, e.name, e.ret) for e in trace.events]
    assert got == [(200, "futex", None), (200, "execve", 0)]
    assert trace.events[1].args["arg0"] == {"text": "/bin/true", "len": 9}


def test_resumed_without_its_start() -> None:
    trace = parse('7 <... read resumed>"ab", 10) = 2\n')
    e = trace.events[0]
    assert (e.name, e.ret, e.args) == ("read", 2, {"resumed": {"raw": '"ab", 10'}})


# ---------------------------------------------------------------------------
# Process lines.


def test_process_lines() -> None:
    trace = parse(
        "100 clone(child_stack=NULL, flags=SIGCHLD) = 101\n"
        "strace: Process 101 attached\n"
        "101 --- SIGPIPE {si_signo=SIGPIPE, si_code=SI_USER, si_pid=101, si_uid=0} ---\n"
        "101 +++ killed by SIGSEGV (core dumped) +++\n"
        "strace: Process 555 attached\n"
        "555 --- stopped by SIGSTOP ---\n"
        "strace: Process 555 detached\n"
        "100 +++ exited with 3 +++\n"
    )
    got = [(e.seq, e.type, e.pid, e.info) for e in trace.events if e.type != "syscall"]
    assert got == [
        (1, "fork", 100, {"child": 101}),
        (2, "signal", 101, {"signal": "SIGPIPE"}),
        (3, "killed", 101, {"signal": "SIGSEGV", "core": True}),
        (4, "fork", 555, {"child": 555, "parent": None}),
        (5, "signal", 555, {"signal": "SIGSTOP", "stopped": True}),
        (6, "detached", 555, {}),
        (7, "exit", 100, {"code": 3}),
    ]


def test_stderr_log_pids_and_spliced_attach_message() -> None:
    """strace on stderr: no pid while one process runs, and its own message mid-line."""
    trace = parse(
        "1700000001.000000 listen(3, 1) = 0\n"
        "1700000001.000100 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0}strace: Process 401 attached\n"
        " => {parent_tid=[401]}, 88) = 401\n"
        "[pid   401] 1700000001.000200 accept4(3,  <unfinished ...>\n"
        "[pid   400] 1700000001.000300 connect(5, {sa_family=AF_UNIX}, 2) = 0\n"
        "[pid   401] 1700000001.000400 <... accept4 resumed>NULL, NULL, SOCK_CLOEXEC) = 6\n"
        "[pid   401] 1700000001.000500 +++ exited with 0 +++\n"
        "1700000001.000600 clone(child_stack=NULL, flags=SIGCHLDstrace: Process 402 attached\n"
        ", child_tidptr=0x7f) = 402\n"
        "[pid   402] 1700000001.000700 exit_group(7) = ?\n"
        "[pid   402] 1700000001.000800 +++ exited with 7 +++\n"
        "1700000001.000900 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=402, si_status=7} ---\n"
        "1700000001.001000 +++ exited with 0 +++\n"
    )
    got = [(e.type, e.pid, e.name, e.ret, e.info) for e in trace.events]
    assert got == [
        ("syscall", 400, "listen", 0, {}),
        ("fork", 400, None, None, {"child": 401}),
        ("syscall", 400, "clone3", 401, {}),
        ("syscall", 400, "connect", 0, {}),
        ("syscall", 401, "accept4", 6, {}),
        ("exit", 401, None, None, {"code": 0}),
        ("fork", 400, None, None, {"child": 402}),
        ("syscall", 400, "clone", 402, {}),
        ("syscall", 402, "exit_group", None, {}),
        ("exit", 402, None, None, {"code": 7}),
        ("signal", 400, None, None, {"signal": "SIGCHLD"}),
        ("exit", 400, None, None, {"code": 0}),
    ]
    assert only(trace, "clone").args == {"child_stack": None, "flags": "SIGCHLD", "child_tidptr": "0x7f"}
    assert trace.events[1].t == pytest.approx(0.0001)


@pytest.mark.parametrize(
    ("first", "second", "args"),
    [
        (
            "clone(child_stack=NULL, flags=SIGCHLD/usr/bin/strace: Process 9 attached",
            ", child_tidptr=0x7f) = 9",
            {"child_stack": None, "flags": "SIGCHLD", "child_tidptr": "0x7f"},
        ),
        (
            "clone(child_stack=NULL/opt/x-1.0/strace: Process 9 attached",
            ", flags=SIGCHLD) = 9",
            {"child_stack": None, "flags": "SIGCHLD"},
        ),
        ("vfork(strace: Process 9 attached", ") = 9", {}),
    ],
)
def test_spliced_message_named_as_strace_was_invoked(first: str, second: str, args: dict[str, Any]) -> None:
    trace = parse(f"8 {first}\n{second}\n/usr/bin/strace: Process 10 attached\n9 +++ exited with 0 +++\n")
    got = [(e.type, e.pid, e.info) for e in trace.events]
    assert got == [
        ("fork", 8, {"child": 9}),
        ("syscall", 8, {}),
        ("fork", 10, {"child": 10, "parent": None}),
        ("exit", 9, {"code": 0}),
    ]
    assert trace.events[1].args == args and trace.events[1].ret == 9


def test_fork_events_are_derived_from_clone_in_o_logs() -> None:
    """-o logs lack "Process N attached" (it goes to stderr): the clone tells instead."""
    trace = parse(
        "20 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>\n"
        "21 getpid() = 21\n"
        "20 <... clone resumed>) = 21\n"
        "20 clone(child_stack=NULL, flags=SIGCHLD) = 22\n"  # child not traced: no fork
        "20 fork() = 23\n"
        "23 +++ exited with 0 +++\n"
    )
    got = [(e.seq, e.type, e.pid, e.name, e.info) for e in trace.events]
    assert got == [
        (0, "fork", 20, None, {"child": 21}),
        (1, "syscall", 21, "getpid", {}),
        (2, "syscall", 20, "clone", {}),
        (3, "syscall", 20, "clone", {}),
        (4, "syscall", 20, "fork", {}),
        (5, "fork", 20, None, {"child": 23}),
        (6, "exit", 23, None, {"code": 0}),
    ]


def test_header_and_ignored_lines() -> None:
    trace = parse(
        "\n"
        "strace: [ Process PID=5 runs in 32 bit mode. ]\n"
        "[ Process PID=5 runs in 64 bit mode. ]\n"
        '5 write(1, "hi", 2) = 2\n'
        " | 00000  68 69                                             hi               |\n"
        " > /usr/lib/x86_64-linux-gnu/libc.so.6(__write+0x14) [0x114a74]\n"
    )
    assert [e.name for e in trace.events] == ["write"]
    assert (trace.header.backend, trace.header.program, trace.header.argv) == ("strace", "test.log", [])


def test_summary_table_of_c_ends_the_trace() -> None:
    trace = parse(
        "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3\n"
        "+++ exited with 0 +++\n"
        "% time     seconds  usecs/call     calls    errors syscall\n"
        "------ ----------- ----------- --------- --------- ----------------\n"
        "  0.00    0.000000           0         1           socket\n"
    )
    assert [e.type for e in trace.events] == ["syscall", "exit"]


# ---------------------------------------------------------------------------
# Unreadable input.

BAD: list[tuple[str, int]] = [
    ('1 listen(3, 1) = 0\n1 write(1, "abc', 2),  # cut off in a string, no final newline
    ("1 listen(3, 1) = 0\n1 close(3", 2),
    ("1 close(3) = \n", 1),
    ("1 close(3) =", 1),
    ("1 close(3)\n", 1),
    ("1 close(3) = 0 <0.00", 1),
    ("1 close(3) = 0x\n", 1),
    ("1 listen(3, 1) = 0\nhello world\n", 2),
    ("1 --- SIGPIPE {si_signo=SIGPIPE\n", 1),
    ("1 +++ exited with 0\n", 1),
    ('1 write(1, "x", 1) = 1 (unbalanced\n', 1),
    ("1 read(3, [1, 2) = 0\n", 1),
    ("1 clone(child_stack=NULL, flags=SIGCHLDstrace: Process 2 attached\n", 1),  # never continued
    ("\n\n1 connect(3<TCP:[1->2]\n", 3),
]


@pytest.mark.parametrize(("text", "line"), BAD)
def test_unreadable_lines_raise_with_their_line_number(text: str, line: int) -> None:
    with pytest.raises(TraceFormatError) as info:
        parse(text)
    assert (info.value.source, info.value.line) == ("test.log", line)


def test_a_cut_off_last_line_of_a_file_raises(tmp_path: Path) -> None:
    log = tmp_path / "cut.log"
    log.write_text('5 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n5 sendto(3, "hel')
    with open(log) as f, pytest.raises(TraceFormatError, match=r"cut\.log, line 2"):
        parse_strace_log(f, str(log))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['execve("/bin/true", ["true"], 0x7ffd /* 3 vars */) = 0\n'], True),
        (["12345 1700000000.000001 socket(AF_INET, SOCK_STREAM, 0) = 3\n"], True),
        (["\n", '[pid  7] <... read resumed>"", 1) = 0\n'], True),
        (["strace: Process 7 attached\n"], True),
        (["+++ exited with 0 +++\n"], True),
        (['{"type": "header", "schema": 1}\n'], False),
        (["hello world\n"], False),
        ([], False),
        (["\n", "  \n"], False),
    ],
)
def test_looks_like_strace_log(lines: list[str], expected: bool) -> None:
    assert looks_like_strace_log(lines) is expected


def test_sample_log_from_stderr() -> None:
    """A real strace 6.1 log (-f -yy -tt -T to stderr) kept as a file: runs without strace."""
    with open(DATA / "threads_stderr.log") as f:
        trace = parse_strace_log(f, "threads_stderr.log")
    got = [
        (e.seq, e.type, e.pid, e.name, e.ret, e.fd, e.endpoint, e.ret_endpoint, e.info) for e in trace.events
    ]
    listener = "TCP:[127.0.0.1:38599]"
    server, client = "TCP:[127.0.0.1:38599->127.0.0.1:36184]", "TCP:[127.0.0.1:36184->127.0.0.1:38599]"
    assert got == [
        (0, "syscall", 31276, "socket", 3, None, None, "TCP:[100190]", {}),
        (1, "syscall", 31276, "bind", 0, 3, "TCP:[100190]", None, {}),
        (2, "syscall", 31276, "listen", 0, 3, listener, None, {}),
        (3, "syscall", 31276, "getsockname", 0, 3, listener, None, {}),
        (4, "fork", 31276, None, None, None, None, None, {"child": 31277}),
        (5, "syscall", 31276, "clone3", 31277, None, None, None, {}),
        (6, "syscall", 31276, "socket", 5, None, None, "TCP:[100191]", {}),
        (7, "syscall", 31276, "connect", 0, 5, "TCP:[100191]", None, {}),
        (8, "syscall", 31277, "accept4", 4, 3, listener, server, {}),
        (9, "syscall", 31276, "sendto", 3, 5, client, None, {}),
        (10, "syscall", 31277, "getsockname", 0, 4, server, None, {}),
        (11, "syscall", 31277, "recvfrom", 3, 4, server, None, {}),
        (12, "syscall", 31276, "recvfrom", 3, 5, client, None, {}),
        (13, "syscall", 31277, "sendto", 3, 4, server, None, {}),
        (14, "exit", 31277, None, None, None, None, None, {"code": 0}),
        (15, "syscall", 31276, "exit_group", None, None, None, None, {}),
        (16, "exit", 31276, None, None, None, None, None, {"code": 0}),
    ]
    accept = trace.events[8]
    assert accept.args == {
        "fd": 3,
        "addr": {"family": "AF_INET", "port": 36184, "address": "127.0.0.1"},
        "addrlen": {"in": 16, "out": 16},
        "flags": "SOCK_CLOEXEC",
    }
    assert accept.t == pytest.approx(41.495707 - 41.486728)  # when the call began
    assert trace.events[11].args["buf"] == {"text": "hi\\n", "len": 3}


# ---------------------------------------------------------------------------
# Real logs from /usr/bin/strace.

PROGRAM = r"""
import array, json, os, signal, socket, sys, threading, time

facts = {"pid": os.getpid()}
PAYLOAD = b'ping "q"\t\\\x00\xff\n7'
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
facts["port"] = port

def serve():
    facts["server_tid"] = threading.get_native_id()
    conn, _ = srv.accept()
    data = conn.recv(100)
    conn.sendall(data.upper())
    conn.close()

t = threading.Thread(target=serve)
t.start()
time.sleep(0.3)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:  # until the server thread blocks in accept4 (288)
    try:
        with open("/proc/self/task/%d/syscall" % facts["server_tid"]) as f:
            if f.read().split()[0] == "288":
                break
    except (KeyError, OSError, IndexError):
        pass
    time.sleep(0.01)
cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
cli.connect(("127.0.0.1", port))
facts["client_port"] = cli.getsockname()[1]
cli.sendall(PAYLOAD)
facts["reply"] = cli.recv(100).decode("latin-1")
t.join()
cli.close()
srv.close()

refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
facts["refused"] = refused.connect_ex(("127.0.0.1", port))
refused.close()

s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.bind(("::1", 0))
facts["port6"] = s6.getsockname()[1]
s6.sendto(b"x", s6.getsockname())
s6.recvfrom(10)
s6.close()

a, b = socket.socketpair()
r, w = os.pipe()
a.sendmsg([b"fd", b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
msg, anc, flags, addr = b.recvmsg(10, socket.CMSG_SPACE(4))
facts["pipe_fd"] = r
facts["received_fd"] = array.array("i", anc[0][2])[0]
big = b"A" * 40000
a.sendall(big)
got = b""
while len(got) < len(big):
    got += b.recv(65536)
a.close()
b.close()

u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.bind("\0sctrace-test-%d" % os.getpid())
u.close()

child = os.fork()
if child == 0:
    os._exit(7)
os.waitpid(child, 0)
facts["child"] = child

p, q = socket.socketpair()
q.close()
try:
    p.send(b"x")
except OSError:
    pass
p.close()

with open(sys.argv[1], "w") as f:
    json.dump(facts, f)
"""

TRACED = "%network,clone,clone3,fork,vfork,exit_group"

# (id, strace options, whether the log goes to stderr)
RUNS: list[tuple[str, list[str], bool]] = [
    ("f-yy-ttt-T", ["-f", "-yy", "-ttt", "-T", "-e", f"trace={TRACED}"], False),
    ("f-tt-s65500", ["-f", "-tt", "-s", "65500", "-e", f"trace={TRACED}"], False),
    ("f-y-t-stderr", ["-f", "-y", "-t", "-e", f"trace={TRACED}"], True),
    ("f-yy-stderr-T", ["-f", "-yy", "-T", "-e", f"trace={TRACED}"], True),
    ("no-f-yy", ["-yy", "-e", f"trace={TRACED}"], False),
    ("f-r-T", ["-f", "-r", "-T", "-e", f"trace={TRACED}"], False),
    ("f-all-calls", ["-f", "-yy", "-tt", "-T", "-s", "100"], False),
    ("no-f-plain", ["-e", f"trace={TRACED}"], False),  # no pids, no times, no descriptors decoded
    ("f-ttt-s8", ["-f", "-ttt", "-s", "8", "-e", f"trace={TRACED}"], False),
]


def string_limit(options: list[str]) -> int:
    return int(options[options.index("-s") + 1]) if "-s" in options else 32


def payload(options: list[str]) -> dict[str, Any]:
    """The PROGRAM's PAYLOAD as the trace holds it under these options (-s may cut it short)."""
    if string_limit(options) < 14:
        assert string_limit(options) == 8
        return {"text": 'ping \\"q\\"', "len": 14, "truncated": True}
    return {"text": 'ping \\"q\\"\\t\\\\\\0\\377\\n7', "len": 14}


@pytest.fixture(scope="module", params=RUNS, ids=[r[0] for r in RUNS])
def real(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    strace = shutil.which("strace") or ("/usr/bin/strace" if os.path.exists("/usr/bin/strace") else None)
    if strace is None:
        pytest.skip("strace is not installed")
    name, options, to_stderr = request.param
    work = tmp_path_factory.mktemp(name)
    program, facts_file, log = work / "prog.py", work / "facts.json", work / "strace.log"
    program.write_text(PROGRAM)
    command = [strace, *options] + ([] if to_stderr else ["-o", str(log)])
    command += [sys.executable, str(program), str(facts_file)]
    with open(log, "w") if to_stderr else open(os.devnull, "w") as err:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=err, timeout=120)
    if done.returncode != 0 and not facts_file.exists():
        pytest.skip(f"strace could not trace here (exit {done.returncode}): {log.read_text()[:200]}")
    facts = json.loads(facts_file.read_text())
    with open(log) as f:
        trace = parse_strace_log(f, str(log))
    # Without -f strace prints no pid at all: the reader can only say 0.
    pid = facts["pid"] if "-f" in options else 0
    return {
        "name": name,
        "options": options,
        "facts": facts,
        "trace": trace,
        "text": log.read_text(),
        "pid": pid,
    }


def calls(trace: Trace, name: str, pid: int | None = None) -> list[Event]:
    return [e for e in trace.events if e.name == name and (pid is None or e.pid == pid)]


def test_real_log_tcp_exchange(real: dict[str, Any]) -> None:
    trace: Trace = real["trace"]
    facts = real["facts"]
    pid, port, cport = real["pid"], facts["port"], facts["client_port"]
    yy = "-yy" in real["options"]
    inet = {"family": "AF_INET", "address": "127.0.0.1"}

    assert [e.seq for e in trace.events] == list(range(len(trace.events)))
    assert trace.header.backend == "strace"
    bind = [e for e in calls(trace, "bind", pid) if e.args["addr"]["family"] == "AF_INET"][0]
    assert bind.args == {"fd": bind.fd, "addr": {**inet, "port": 0}, "addrlen": 16}
    assert bind.ret == 0 and bind.errno is None
    listen = calls(trace, "listen", pid)[0]
    assert listen.args == {"fd": bind.fd, "backlog": 1}
    if yy:
        assert listen.endpoint == f"TCP:[127.0.0.1:{port}]"
    elif "-y" in real["options"]:  # one -y names a socket only by its inode
        assert listen.endpoint is not None and listen.endpoint.startswith("socket:[")
    else:
        assert listen.endpoint is None

    connects = [e for e in calls(trace, "connect", pid) if e.args["addr"].get("family") == "AF_INET"]
    assert [(e.args["addr"], e.ret, e.errno) for e in connects] == [
        ({**inet, "port": port}, 0, None),
        ({**inet, "port": port}, -1, "ECONNREFUSED"),
    ]
    assert facts["refused"] == 111

    sends = [e for e in calls(trace, "sendto", pid) if e.fd == connects[0].fd]
    assert sends[0].args["buf"] == payload(real["options"])
    assert sends[0].ret == 14 and sends[0].args["len"] == 14

    if real["name"].startswith("no-f"):
        assert calls(trace, "accept4") == [] and all(e.pid == pid for e in trace.events)
        return
    tid = facts["server_tid"]
    accept = calls(trace, "accept4", tid)[0]
    assert accept.args == {
        "fd": bind.fd,
        "addr": {**inet, "port": cport},
        "addrlen": {"in": 16, "out": 16},
        "flags": "SOCK_CLOEXEC",
    }
    if yy:
        assert accept.ret_endpoint == f"TCP:[127.0.0.1:{port}->127.0.0.1:{cport}]"
        assert sends[0].endpoint == f"TCP:[127.0.0.1:{cport}->127.0.0.1:{port}]"
    recv = calls(trace, "recvfrom", tid)[0]
    assert recv.fd == accept.ret
    assert recv.args["buf"] == payload(real["options"]) and recv.ret == 14
    # The server thread's accept was split by the main thread's calls and merged back.
    assert "accept4(3" in real["text"] and "<... accept4 resumed>" in real["text"]
    forks = [e for e in trace.events if e.type == "fork"]
    assert [(e.pid, e.info) for e in forks] == [(pid, {"child": tid}), (pid, {"child": facts["child"]})]
    assert forks[0].seq < accept.seq
    child_end = [e for e in trace.events if e.type == "exit" and e.pid == facts["child"]]
    assert [e.info for e in child_end] == [{"code": 7}]


def test_real_log_other_families(real: dict[str, Any]) -> None:
    trace: Trace = real["trace"]
    facts = real["facts"]
    pid, port6 = real["pid"], facts["port6"]
    six = {"family": "AF_INET6", "flowinfo": 0, "address": "::1", "scope_id": 0}
    bind6 = [e for e in calls(trace, "bind", pid) if e.args["addr"]["family"] == "AF_INET6"][0]
    assert bind6.args["addr"] == {**six, "port": 0}
    send6 = [e for e in calls(trace, "sendto", pid) if e.fd == bind6.fd and e.args["dest_addr"]][0]
    assert send6.args["dest_addr"] == {**six, "port": port6} and send6.args["addrlen"] == 28
    recv6 = [e for e in calls(trace, "recvfrom", pid) if e.fd == bind6.fd][0]
    assert recv6.args["src_addr"] == {**six, "port": port6} and recv6.args["buf"] == {"text": "x", "len": 1}

    pair = calls(trace, "socketpair", pid)[0]
    assert pair.args["domain"] == "AF_UNIX" and len(pair.args["sv"]) == 2
    send = calls(trace, "sendmsg", pid)[0]
    assert send.args["msg"]["iov"] == [
        {"base": {"text": "fd", "len": 2}, "len": 2},
        {"base": {"text": "x", "len": 1}, "len": 1},
    ]
    assert send.args["msg"]["control"] == [
        {"len": 20, "level": "SOL_SOCKET", "type": "SCM_RIGHTS", "fds": [facts["pipe_fd"]]}
    ]
    recv = calls(trace, "recvmsg", pid)[0]
    assert recv.args["msg"]["iov"] == [{"base": {"text": "fdx", "len": 3}, "len": 10}]
    assert recv.args["msg"]["control"][0]["fds"] == [facts["received_fd"]]
    assert recv.ret == 3 and recv.fd == pair.args["sv"][1]

    big = [e for e in calls(trace, "sendto", pid) if e.ret == 40000][0]
    if "65500" in real["options"]:
        assert big.args["buf"] == {"text": "A" * 40000, "len": 40000}
    else:
        limit = string_limit(real["options"])
        assert big.args["buf"] == {"text": "A" * limit, "len": 40000, "truncated": True}

    abstract = [e for e in calls(trace, "bind", pid) if e.args["addr"]["family"] == "AF_UNIX"][0]
    assert abstract.args["addr"] == {
        "family": "AF_UNIX",
        "path": f"@sctrace-test-{facts['pid']}",
        "abstract": True,
    }

    epipe = [e for e in calls(trace, "sendto", pid) if e.errno == "EPIPE"]
    assert len(epipe) == 1 and epipe[0].ret == -1
    signals = [e for e in trace.events if e.type == "signal" and e.info["signal"] == "SIGPIPE"]
    assert len(signals) == 1 and signals[0].seq > epipe[0].seq


def test_real_log_process_lines_and_time(real: dict[str, Any]) -> None:
    trace: Trace = real["trace"]
    last = trace.events[-1]
    assert (last.type, last.pid, last.info) == ("exit", real["pid"], {"code": 0})
    exit_group = calls(trace, "exit_group", real["pid"])
    assert exit_group[-1].ret is None and exit_group[-1].errno is None
    times = [e.t for e in trace.events]
    options = real["options"]
    if "-tt" in options or "-ttt" in options:
        assert times[0] == 0.0 and max(times) > 0.25  # the program sleeps 0.3 s
        assert all(t >= 0 for t in times)
    elif "-r" in options:  # deltas, added up
        assert times[0] == 0.0 and 0.25 < max(times) < 60 and all(t >= 0 for t in times)
    elif "-t" in options:  # whole seconds
        assert times[0] == 0.0 and all(t == int(t) and 0 <= t < 60 for t in times)
    else:
        assert set(times) == {0.0}
    for e in trace.syscalls():  # everything socket-related was understood
        if e.name in (
            "socket",
            "bind",
            "connect",
            "accept4",
            "sendto",
            "recvfrom",
            "sendmsg",
            "recvmsg",
            "getsockname",
            "listen",
            "socketpair",
        ):
            assert "raw" not in json.dumps(e.args), e.to_json()


def test_real_log_cut_off_in_the_middle_of_a_line(real: dict[str, Any], tmp_path: Path) -> None:
    """A log that ends inside a line (strace killed, a copy cut short) is refused, naming that line."""
    lines = real["text"].splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "sendto(" in line and "ping" in line)
    cut = tmp_path / "cut.log"
    cut.write_text("".join(lines[:at]) + lines[at][: lines[at].index("ping") + 2])
    with open(cut) as f, pytest.raises(TraceFormatError) as info:
        parse_strace_log(f, str(cut))
    assert (info.value.source, info.value.line) == (str(cut), at + 1)


def test_real_log_socketpair_keeps_its_endpoints(real: dict[str, Any]) -> None:
    """With -yy the pair's descriptors are described, as the ptrace backend's fd_endpoints."""
    pair = calls(real["trace"], "socketpair", real["pid"])[0]
    options = real["options"]
    if "-yy" in options or "-y" in options:  # -y names a socket by its inode only
        first, second = (str(fd) for fd in pair.args["sv"])
        endpoints = pair.info["fd_endpoints"]
        assert set(endpoints) == {first, second}
        prefix = "UNIX-STREAM:[" if "-yy" in options else "socket:["
        assert all(e.startswith(prefix) for e in endpoints.values()), endpoints
    else:
        assert "fd_endpoints" not in pair.info


KILLED = """
import os, signal, socket
socket.socket().close()
os.kill(os.getpid(), signal.SIGTERM)
"""


@pytest.mark.parametrize("options", [["-f", "-ttt"], []], ids=["f-ttt", "plain"])
def test_real_log_killed_by_a_signal(tmp_path: Path, options: list[str]) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = tmp_path / "killed.log"
    done = subprocess.run([strace, *options, "-e", "trace=socket,close", "-o", str(log), sys.executable, "-c",
                           KILLED], capture_output=True, timeout=60)
    assert done.returncode == 128 + 15 or done.returncode < 0, done.stderr  # strace dies as its tracee did
    lines = log.read_text().splitlines(keepends=True)
    trace = parse_strace_log(lines, "killed.log")
    tail = [(e.type, e.name or e.info.get("signal"), e.info.get("core", False)) for e in trace.events][-4:]
    assert tail[-2:] == [("signal", "SIGTERM", False), ("killed", "SIGTERM", False)]
    assert ("syscall", "socket", False) in tail
    assert trace.events[-1].info == {"signal": "SIGTERM", "core": False}
