"""Run a command in a fresh network namespace with only loopback up: ``in_netns.py CMD ARGS...``.

Each traced fixture run gets its own namespace, so sockets a previous run left
in TIME_WAIT (2,000 of them after many_connections) neither collide with nor
slow down the next run (strace -yy looks every socket up in the kernel's
tables).  Where namespaces cannot be made, the command runs as it is.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def enter_fresh_netns() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return True


def can_unshare() -> bool:
    pid = os.fork()
    if pid == 0:
        os._exit(0 if enter_fresh_netns() else 1)
    return os.waitpid(pid, 0)[1] == 0


if __name__ == "__main__":
    enter_fresh_netns()
    os.execvp(sys.argv[1], sys.argv[1:])
