"""The registry of system calls (sctrace/model/registry.py) and every table made from it.

How this proves the derivation exact: before the tables were made from the
registry, each was a literal in its own module.  Those literals are written
below ONCE, copied from the code as it was (the OLD_* names), and each test
checks that the table now made from the registry is equal to its old literal.
Behaviour cannot change through a table that has not changed.

The registry is also checked against what was written without it: the ptrace
decoders (each registers itself by name), python-ptrace's table of numbers, the
xlat tables, the matrix's steps, the explanations; and against real traces of a
real program that makes every call sctrace stops at, under sctrace's ptrace
backend and under strace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sctrace.model.explain as ex
from sctrace.backends.ptrace import decode
from sctrace.backends.ptrace.adapter import syscall_numbers
from sctrace.backends.ptrace.decode.call import DECODERS, ENTRY
from sctrace.compare import call_rules, matrix, roles
from sctrace.model import registry, strace_args, syscalls, xlat
from sctrace.model.registry import REGISTRY, Class, Direction, Kind
from sctrace.model.strace_log import parse_strace_log
from sctrace.model.trace import Trace
from sctrace.peer.driver import WAITING_CALLS
from tests import straceref

# -- the old literals, copied once from the code before the registry existed ------------------------

# sctrace/model/syscalls.py
OLD_NETWORK = {
    "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46, "recvmsg": 47,
    "shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51, "getpeername": 52, "socketpair": 53,
    "setsockopt": 54, "getsockopt": 55, "accept4": 288, "recvmmsg": 299, "sendmmsg": 307,
}
OLD_FD_IO = {"read": 0, "write": 1, "close": 3, "readv": 19, "writev": 20}
OLD_FD_TABLE = {"dup": 32, "dup2": 33, "fcntl": 72, "dup3": 292, "close_range": 436}
# Calls added since, each on purpose (CHANGELOG): unshare, so that a thread's own descriptor table is followed;
# prctl and seccomp (a class of their own), so that a program's own seccomp filter is followed.
OLD_FD_TABLE = dict(sorted({**OLD_FD_TABLE, "unshare": 272}.items(), key=lambda item: item[1]))
ADDED_SECCOMP = {"prctl": 157, "seccomp": 317}
OLD_CHANGES_ENDPOINT = frozenset({"bind", "connect", "listen", "sendto", "sendmsg", "sendmmsg"})
OLD_AUTOBINDS = frozenset({"sendto", "sendmsg", "sendmmsg"})
OLD_RETURNS_SOCKET = frozenset({"socket", "accept", "accept4"})
OLD_FIRST_ARG_FD = frozenset(
    set(OLD_NETWORK) - {"socket", "socketpair"} | set(OLD_FD_IO) | set(OLD_FD_TABLE) - {"close_range", "unshare"}
)

# sctrace/model/strace_args.py
_ADDR = ("fd", "addr", "addrlen")
_SOCKOPT = ("fd", "level", "optname", "optval", "optlen")
_IO = ("fd", "buf", "count")
_IOV = ("fd", "iov", "iovcnt")
OLD_ARG_NAMES: dict[str, tuple[str, ...]] = {
    "socket": ("domain", "type", "protocol"), "socketpair": ("domain", "type", "protocol", "sv"),
    "bind": _ADDR, "connect": _ADDR, "accept": _ADDR, "getsockname": _ADDR, "getpeername": _ADDR,
    "accept4": ("fd", "addr", "addrlen", "flags"), "listen": ("fd", "backlog"),
    "sendto": ("fd", "buf", "len", "flags", "dest_addr", "addrlen"),
    "recvfrom": ("fd", "buf", "len", "flags", "src_addr", "addrlen"),
    "sendmsg": ("fd", "msg", "flags"), "recvmsg": ("fd", "msg", "flags"),
    "sendmmsg": ("fd", "msgvec", "vlen", "flags"), "recvmmsg": ("fd", "msgvec", "vlen", "flags", "timeout"),
    "shutdown": ("fd", "how"), "setsockopt": _SOCKOPT, "getsockopt": _SOCKOPT,
    "read": _IO, "write": _IO, "pread64": (*_IO, "offset"), "pwrite64": (*_IO, "offset"),
    "readv": _IOV, "writev": _IOV, "close": ("fd",),
    "dup": ("oldfd",), "dup2": ("oldfd", "newfd"), "dup3": ("oldfd", "newfd", "flags"),
    "fcntl": ("fd", "cmd", "arg"), "close_range": ("first", "last", "flags"),
    "unshare": ("flags",),  # added since (see OLD_FD_TABLE), as are the two below
    "prctl": ("option", "arg2", "arg3", "arg4", "arg5"), "seccomp": ("operation", "flags", "args"),
}
OLD_FD_SYSCALLS = frozenset({
    "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2",
    "pwritev2", "close", "bind", "listen", "accept", "accept4", "connect", "getsockname",
    "getpeername", "setsockopt", "getsockopt", "shutdown", "sendto", "recvfrom", "sendmsg",
    "recvmsg", "sendmmsg", "recvmmsg", "dup", "dup2", "dup3", "fcntl", "ioctl", "fstat",
    "lseek", "fsync", "fdatasync", "ftruncate", "sendfile", "splice", "tee", "getdents64",
    "fchmod", "fchown", "flock", "fstatfs", "fadvise64", "fallocate", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "syncfs",
})
OLD_BUFFER_CALLS = {"read": ("buf", "count"), "write": ("buf", "count"), "pread64": ("buf", "count"),
                    "pwrite64": ("buf", "count"), "sendto": ("buf", "len"), "recvfrom": ("buf", "len")}
OLD_IOV_CALLS = frozenset({"readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2"})
OLD_INT_POINTER_ARGS = frozenset({"addrlen", "optlen"})
OLD_VALUE_RESULT = frozenset({("accept", "addrlen"), ("accept4", "addrlen"), ("getsockname", "addrlen"),
                              ("getpeername", "addrlen"), ("recvfrom", "addrlen"), ("getsockopt", "optlen")})
OLD_SYMBOLIC_ARGS = frozenset({"domain", "type", "protocol", "flags", "how", "level", "optname", "cmd"})

# sctrace/compare/roles.py
OLD_SENDS = ("sendto", "sendmsg", "sendmmsg")
OLD_RECEIVES = ("recvfrom", "recvmsg", "recvmmsg", "accept", "accept4", "getpeername")
OLD_LISTENS = frozenset({"listen", "accept", "accept4"})
OLD_PASSES_RIGHTS = frozenset({"sendmsg", "sendmmsg"})
OLD_CREATES = frozenset({"socket", "accept", "accept4", "socketpair", "recvmsg", "recvmmsg", "dup", "dup2", "dup3"})
OLD_ADDRESSED = frozenset({"bind", "connect", *OLD_SENDS, *OLD_RECEIVES})

# sctrace/compare/call_rules.py
OLD_STATE_READERS = frozenset({"getsockname", "getpeername", "getsockopt"})
OLD_VALUE_RESULT_CALLS = frozenset({"accept", "accept4", "getsockname", "getpeername", "recvfrom", "getsockopt",
                                    "recvmsg", "recvmmsg"})
OLD_BUFFER_SIZE_CALLS = frozenset({"read", "recv", "readv"}) | OLD_VALUE_RESULT_CALLS

# sctrace/compare/matrix.py
OLD_STEP_OF_CALL: dict[str, str] = {
    "socket": "create", "socketpair": "create",
    "setsockopt": "options", "fcntl": "options", "ioctl": "options",
    "bind": "bind",
    "listen": "listen",
    "connect": "connect",
    "accept": "accept", "accept4": "accept",
    "getsockname": "inspect", "getpeername": "inspect", "getsockopt": "inspect",
    "read": "receive", "readv": "receive", "recv": "receive", "recvfrom": "receive", "recvmsg": "receive",
    "recvmmsg": "receive",
    "write": "send", "writev": "send", "send": "send", "sendto": "send", "sendmsg": "send", "sendmmsg": "send",
    "shutdown": "shutdown",
    "close": "close",
}

# sctrace/model/explain.py (each function as the old literal named it)
OLD_SUCCESS: dict[str, Callable[..., str]] = {
    "socket": ex._socket,
    "socketpair": ex._socketpair,
    "bind": ex._bind,
    "listen": ex._listen,
    "accept": ex._accept,
    "accept4": ex._accept,
    "connect": ex._connect,
    "getsockname": ex._name("local"),
    "getpeername": ex._name("peer"),
    "setsockopt": ex._setsockopt,
    "getsockopt": ex._getsockopt,
    "shutdown": ex._shutdown,
    "sendto": ex._send,
    "write": ex._send,
    "recvfrom": ex._recv,
    "read": ex._recv,
    "sendmsg": ex._sendmsg,
    "recvmsg": ex._recvmsg,
    "sendmmsg": ex._mmsg("sent"),
    "recvmmsg": ex._mmsg("received"),
    "readv": ex._readv,
    "writev": ex._writev,
    "close": ex._close,
}

# tests/straceref.py: the calls strace is asked for besides its %network class
OLD_STRACE_FILTER_IO = frozenset({"read", "write", "readv", "writev", "close"})


# -- each derived table equals its old literal ------------------------------------------------------

def test_syscalls_tables() -> None:
    assert list(syscalls.NETWORK.items()) == list(OLD_NETWORK.items())  # the same order too
    assert list(syscalls.FD_IO.items()) == list(OLD_FD_IO.items())
    assert list(syscalls.FD_TABLE.items()) == list(OLD_FD_TABLE.items())
    assert list(syscalls.SOCKET_SET.items()) == list({**OLD_NETWORK, **OLD_FD_IO}.items())
    assert list(syscalls.SECCOMP_CALLS.items()) == list(ADDED_SECCOMP.items())
    stop_set = {**OLD_NETWORK, **OLD_FD_IO, **OLD_FD_TABLE, **ADDED_SECCOMP}
    assert list(syscalls.STOP_SET.items()) == list(stop_set.items())
    assert syscalls.NAMES == {nr: name for name, nr in stop_set.items()}
    assert syscalls.CHANGES_ENDPOINT == OLD_CHANGES_ENDPOINT
    assert syscalls.AUTOBINDS == OLD_AUTOBINDS
    assert syscalls.RETURNS_SOCKET == OLD_RETURNS_SOCKET
    assert syscalls.FIRST_ARG_FD == OLD_FIRST_ARG_FD


def test_the_seccomp_filter_stops_at_the_same_numbers() -> None:
    from sctrace.backends.ptrace.seccomp import build_filter

    old = {**OLD_NETWORK, **OLD_FD_IO, **OLD_FD_TABLE, **ADDED_SECCOMP}.values()
    assert build_filter(syscalls.STOP_SET.values()) == build_filter(old)


def test_strace_args_tables() -> None:
    assert strace_args.ARG_NAMES == OLD_ARG_NAMES
    assert strace_args.FD_SYSCALLS == OLD_FD_SYSCALLS
    assert strace_args._BUFFER_CALLS == OLD_BUFFER_CALLS
    assert strace_args._IOV_CALLS == OLD_IOV_CALLS
    assert strace_args._INT_POINTER_ARGS == OLD_INT_POINTER_ARGS
    assert strace_args._VALUE_RESULT == OLD_VALUE_RESULT
    assert strace_args._SYMBOLIC_ARGS == OLD_SYMBOLIC_ARGS


def test_roles_tables() -> None:
    assert roles.SENDS == OLD_SENDS  # _ServicePorts tests membership only, but the order is kept too
    assert set(roles.RECEIVES) == set(OLD_RECEIVES) and len(roles.RECEIVES) == len(OLD_RECEIVES)
    assert roles._LISTENS == OLD_LISTENS
    assert roles._PASSES_RIGHTS == OLD_PASSES_RIGHTS
    assert roles._CREATES == OLD_CREATES
    assert roles._ADDRESSED == OLD_ADDRESSED


def test_call_rules_tables() -> None:
    assert call_rules.STATE_READERS == OLD_STATE_READERS
    assert call_rules.VALUE_RESULT_CALLS == OLD_VALUE_RESULT_CALLS
    assert call_rules.BUFFER_SIZE_CALLS == OLD_BUFFER_SIZE_CALLS


def test_matrix_steps() -> None:
    assert matrix.STEP_OF_CALL == OLD_STEP_OF_CALL


def _same_function(f: Callable[..., Any], g: Callable[..., Any]) -> bool:
    """The same function, or two closures of one function over equal values (_name("local") twice)."""
    if f is g:
        return True
    cells = [[c.cell_contents for c in h.__closure__ or ()] for h in (f, g)]
    return f.__code__ is g.__code__ and cells[0] == cells[1]


def test_explain_dispatch() -> None:
    assert set(ex.SUCCESS) == set(OLD_SUCCESS)
    for name, old in OLD_SUCCESS.items():
        assert _same_function(ex.SUCCESS[name], old), name
    assert not _same_function(ex.SUCCESS["getsockname"], ex.SUCCESS["getpeername"])  # the check can tell them apart


def test_strace_reference_filter() -> None:
    assert straceref.STRACE_FILTER.startswith("trace=%network,")
    assert set(straceref.STRACE_FILTER.removeprefix("trace=%network,").split(",")) == OLD_STRACE_FILTER_IO


def test_waiting_calls_of_the_peer_driver() -> None:
    assert registry.WAITING_NUMBERS == WAITING_CALLS


# -- the registry against what was written without it ------------------------------------------------

STOPPED = [c for c in REGISTRY if c.cls is not Class.OTHER]
REPORTED = [c for c in REGISTRY if c.cls in (Class.NETWORK, Class.FD_IO)]


def test_one_row_per_name_and_number() -> None:
    assert len(registry.BY_NAME) == len(REGISTRY)
    numbered = [c.nr for c in REGISTRY if c.nr is not None]
    assert len(set(numbered)) == len(numbered)
    assert numbered == sorted(numbered), "rows are in number order"
    assert all(c.nr is not None for c in STOPPED), "the seccomp filter needs a number for each call it stops at"


def test_numbers_agree_with_python_ptrace() -> None:
    theirs = syscall_numbers()
    known = [c for c in REGISTRY if c.nr is not None and c.name in theirs]
    assert len(known) >= len(REGISTRY) - 3, "python-ptrace knows nearly all of them"
    for c in known:
        assert theirs[c.name] == c.nr, c.name


def test_every_call_sctrace_stops_at_has_a_decoder() -> None:
    decode.entry_hook_for("read")  # loads every decoder module, each registering its calls
    assert set(DECODERS) == {c.name for c in STOPPED}, "the others go to decode.generic"
    # An entry hook reads what the kernel will overwrite: a value-result length, or a received msghdr.
    assert set(ENTRY) == {c.name for c in STOPPED if c.has(Kind.VALUE_RESULT) or c.has(Kind.MSGHDR, Kind.MMSGHDR,
                                                                                         out=True)}


def test_every_reported_call_has_names_a_direction_a_step_and_an_explanation() -> None:
    for c in REPORTED:
        assert c.args and c.log_names, c.name
        assert c.direction is not None, c.name
        assert c.step in matrix.STEPS, c.name
        assert c.explain in ex.EXPLAINERS, c.name
        assert ex.SUCCESS[c.name] is ex.EXPLAINERS[c.explain]
    for c in STOPPED:
        assert c.args and c.direction is not None, c.name
    assert {c.explain for c in REGISTRY if c.explain} == set(ex.EXPLAINERS), "no explanation is left unused"


def test_rows_are_consistent() -> None:
    for c in REGISTRY:
        names = c.arg_names
        assert len(set(names)) == len(names), c.name
        if c.args is not None and c.acts_on is not None:
            assert c.args[c.acts_on].kind is Kind.FD, c.name
        for a in c.args or ():
            assert a.size is None or a.size in names, (c.name, a.name)
            assert a.xlat is None or isinstance(getattr(xlat, a.xlat), dict), (c.name, a.name)
            assert a.kind in (Kind.CONST, Kind.FLAGS) or a.xlat is None, (c.name, a.name)
            assert not a.peer or a.kind is Kind.SOCKADDR, (c.name, a.name)
        if c.direction is Direction.WAIT:
            assert c.waits, c.name
        assert c.step is None or c.step in matrix.STEPS, c.name


# -- real traces of a program that makes every call sctrace stops at ---------------------------------

EVERY_CALL = textwrap.dedent("""\
    import ctypes, fcntl, os, signal, socket
    signal.alarm(10)
    libc = ctypes.CDLL(None, use_errno=True)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(2)
    port = srv.getsockname()[1]
    cli = socket.socket()
    cli.connect(("127.0.0.1", port))
    cli.getpeername()
    cli.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
    served = libc.accept(srv.fileno(), None, None)
    cli2 = socket.socket()
    cli2.connect(("127.0.0.1", port))
    conn, _ = srv.accept()
    cli.send(b"hello")
    os.read(served, 5)
    os.write(served, b"hi")
    cli.recv(2)
    os.writev(served, [b"a", b"b"])
    os.readv(cli.fileno(), [bytearray(1), bytearray(1)])
    left, right = socket.socketpair()
    left.sendmsg([b"m"])
    right.recvmsg(1)
    libc.sendmmsg(left.fileno(), None, 0, 0)
    libc.recvmmsg(right.fileno(), None, 0, socket.MSG_DONTWAIT, None)
    copy = libc.dup(conn.fileno())
    os.dup2(copy, 100)
    os.dup2(copy, 101, inheritable=False)
    fcntl.fcntl(copy, fcntl.F_DUPFD_CLOEXEC, 200)
    libc.syscall(436, 100, 101, 0)
    libc.unshare(0)
    libc.prctl(0x5C7A, 1, 2, 3, 4)  # no such option (EINVAL): strace prints all five arguments
    action = ctypes.c_uint(0x7FFF0000)
    libc.syscall(317, 2, 0, ctypes.byref(action))  # seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &SECCOMP_RET_ALLOW)
    cli2.shutdown(socket.SHUT_WR)
    for s in (cli, cli2, conn, srv, left, right):
        s.close()
    os.close(served)
""")


@pytest.fixture(scope="module")
def every_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "every_call.py"
    path.write_text(EVERY_CALL)
    return path


def _by_name(trace: Trace) -> dict[str, list[tuple[str, ...]]]:
    seen: dict[str, list[tuple[str, ...]]] = {}
    for ev in trace.syscalls():
        if ev.name in registry.BY_NAME:
            seen.setdefault(ev.name, []).append(tuple(ev.args))
    return seen


def test_the_ptrace_decoders_name_arguments_as_the_registry_does(every_call: Path, tmp_path: Path) -> None:
    out = tmp_path / "every_call.jsonl"
    python = os.path.realpath(sys.executable)
    cmd = [sys.executable, "-m", "sctrace", "trace", "--all", "--format", "jsonl", "-o", str(out),
           "--interpreter", python, str(every_call)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = _by_name(Trace.load(out))
    assert {c.name for c in STOPPED} <= set(seen), sorted({c.name for c in STOPPED} - set(seen))
    for c in STOPPED:
        assert set(seen[c.name]) == {c.arg_names}, c.name


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (apt-get install strace)")
def test_strace_prints_as_many_arguments_as_the_registry_names(every_call: Path, tmp_path: Path) -> None:
    log = tmp_path / "every_call.strace"
    python = os.path.realpath(sys.executable)
    wanted = ",".join(c.name for c in STOPPED)
    subprocess.run(["strace", "-f", "-qq", "-yy", "-e", f"trace={wanted}", "-o", str(log), python, str(every_call)],
                   check=True, capture_output=True, timeout=120)
    with open(log, encoding="utf-8", errors="surrogateescape") as f:
        seen = _by_name(parse_strace_log(f, str(log)))
    assert {c.name for c in STOPPED} <= set(seen), sorted({c.name for c in STOPPED} - set(seen))
    for c in STOPPED:  # one more argument than the registry names would show up as arg<n>
        # strace leaves out what a call does not use (fcntl's arg for F_GETFD): a prefix, and all at least once.
        assert all(c.arg_names[:len(names)] == names for names in seen[c.name]), (c.name, seen[c.name])
        assert c.arg_names in seen[c.name], c.name
