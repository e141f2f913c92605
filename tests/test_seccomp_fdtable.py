"""The seccomp filter's decisions and the socket table's bookkeeping, each alone."""

from __future__ import annotations

import socket
import struct

import pytest

from sctrace.backends.ptrace.fdtable import Socket, SocketTable, describe
from sctrace.backends.ptrace.seccomp import OUR_DATA, SECCOMP_RET_ALLOW, SECCOMP_RET_TRACE, build_filter
from sctrace.model import syscalls

OUR_TRACE = SECCOMP_RET_TRACE | OUR_DATA  # the TRACE of sctrace's own filter carries its mark

AUDIT_ARCH_I386 = 0x40000003


def run_bpf(program: bytes, nr: int, arch: int) -> int:
    """A tiny classic-BPF interpreter for the instructions the filter uses."""
    insns: list[tuple[int, int, int, int]] = [struct.unpack_from("<HBBI", program, i)
                                              for i in range(0, len(program), 8)]
    data = struct.pack("<iI", nr, arch)
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == 0x15:
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x35:
            pc += 1 + (jt if acc >= k else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF code {code:#x}")


@pytest.mark.parametrize("name", sorted(syscalls.STOP_SET))
def test_filter_traces_the_stop_set(name: str) -> None:
    prog = build_filter(syscalls.STOP_SET.values())
    assert run_bpf(prog, syscalls.STOP_SET[name], syscalls.AUDIT_ARCH_X86_64) == OUR_TRACE


@pytest.mark.parametrize(("nr", "what"), [(39, "getpid"), (4, "stat"), (262, "newfstatat"), (257, "openat")])
def test_filter_lets_the_rest_run(nr: int, what: str) -> None:
    prog = build_filter(syscalls.STOP_SET.values())
    assert run_bpf(prog, nr, syscalls.AUDIT_ARCH_X86_64) == SECCOMP_RET_ALLOW, what


def test_filter_traces_other_abis() -> None:
    prog = build_filter(syscalls.STOP_SET.values())
    assert run_bpf(prog, 39, AUDIT_ARCH_I386) == OUR_TRACE
    assert run_bpf(prog, 39 | syscalls.X32_SYSCALL_BIT, syscalls.AUDIT_ARCH_X86_64) == OUR_TRACE


def test_numbers_agree_with_python_ptrace() -> None:
    from sctrace.backends.ptrace.adapter import syscall_numbers

    theirs = syscall_numbers()
    for name, nr in syscalls.STOP_SET.items():
        assert theirs[name] == nr, name


def tcp(inode: int) -> Socket:
    return Socket(inode, socket.AF_INET, socket.SOCK_STREAM, 6)


def test_table_dup_close_and_reuse() -> None:
    table = SocketTable(1)
    s = tcp(100)
    table.add(4, s)
    table.duplicate(4, 100)  # dup2(4, 100)
    assert table.get(100) is s
    table.drop(4)
    assert table.get(4) is None and table.get(100) is s
    table.duplicate(1, 100)  # dup2(1, 100): a terminal replaces the socket at 100
    assert table.get(100) is None


def test_fork_copies_threads_share() -> None:
    parent = SocketTable(1)
    parent.add(3, tcp(1))
    child = parent.copy(2)
    child.drop(3)
    assert parent.get(3) is not None
    thread_view = parent  # CLONE_FILES: the same object
    thread_view.drop(3)
    assert parent.get(3) is None


def test_close_range() -> None:
    table = SocketTable(1)
    for fd in (3, 5, 9):
        table.add(fd, tcp(fd))
    assert table.any_in_range(4, 6)
    table.drop_range(4, 6)
    assert sorted(table.socks) == [3, 9]


@pytest.mark.parametrize(
    ("sock", "text"),
    [
        (tcp(77), "TCP:[77]"),
        (Socket(7, socket.AF_INET, socket.SOCK_STREAM, 6, ("127.0.0.1", 1234)), "TCP:[127.0.0.1:1234]"),
        (Socket(7, socket.AF_INET, socket.SOCK_STREAM, 6, ("127.0.0.1", 1234), ("127.0.0.1", 45500)),
         "TCP:[127.0.0.1:1234->127.0.0.1:45500]"),
        (Socket(7, socket.AF_INET6, socket.SOCK_STREAM, 6, ("::1", 80, 0, 0)), "TCPv6:[[::1]:80]"),
        (Socket(7, socket.AF_INET, socket.SOCK_DGRAM, 17, ("0.0.0.0", 0)), "UDP:[7]"),
        (Socket(8, socket.AF_UNIX, socket.SOCK_STREAM, 0, "/run/x.sock", None, 9), 'UNIX-STREAM:[8->9,"/run/x.sock"]'),
        (Socket(8, socket.AF_UNIX, socket.SOCK_DGRAM, 0, b"\0abs"), 'UNIX-DGRAM:[8,@"abs"]'),
        (Socket(8, socket.AF_UNIX, socket.SOCK_STREAM, 0, "/tmp/\x1b[31m"), 'UNIX-STREAM:[8,"/tmp/\\33[31m"]'),
    ],
    ids=["unbound", "bound", "connected", "ipv6", "udp-unbound", "unix-path", "unix-abstract", "unix-escape"],
)
def test_describe_like_strace_yy(sock: Socket, text: str) -> None:
    assert describe(sock) == text
