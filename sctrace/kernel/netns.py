"""Network namespaces: each compared program gets its own, holding only loopback.

Fixed ports (the seed server binds 1234 without SO_REUSEADDR) then never meet
a TIME_WAIT left by the previous run, another program on the machine, or a
parallel test.  The tracer's child calls ``enter_new()`` before exec; sctrace's
peer creates its sockets inside the program's namespace with ``inside(pid)``.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1  # include/uapi/linux/sockios.h, if.h
_IFREQ = struct.Struct("16sH14x")

_libc = ctypes.CDLL(None, use_errno=True)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = _IFREQ.unpack(fcntl.ioctl(s, SIOCGIFFLAGS, _IFREQ.pack(b"lo", 0)))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | IFF_UP))


def enter_new() -> int:
    """Move the calling process into a new network namespace with loopback up; 0 or an errno."""
    if _libc.unshare(CLONE_NEWNET) != 0:
        return ctypes.get_errno() or 1
    try:
        _loopback_up()
    except OSError as exc:
        return exc.errno or 1
    return 0


def available() -> bool:
    """Whether this user may make a network namespace (tried in a throwaway child)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if enter_new() == 0 else 1)
    return os.waitpid(pid, 0)[1] == 0


@contextmanager
def inside(pid: int) -> Iterator[None]:
    """Run the block in the network namespace of ``pid`` (sockets made there stay there)."""
    mine = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(theirs, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the program's network namespace")
        try:
            yield
        finally:
            _libc.setns(mine, CLONE_NEWNET)
    finally:
        os.close(mine)
        os.close(theirs)
