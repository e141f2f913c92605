"""Which system calls sctrace stops at, and why, for x86_64.

# From arch/x86/entry/syscalls/syscall_64.tbl (Linux 6.x), "common"/"64" rows.
Numbers at and above 512 are the x32 ABI's; the seccomp filter sends them, and
any other architecture, to the tracer so nothing escapes unseen.

Each call belongs to one class, which decides what the tracer does at its stop:

- NETWORK: always reported (strace's %network class).
- FD_IO: reported only when its descriptor is a socket (read, write, readv,
  writev, close).
- FD_TABLE: never reported in socket mode, but they change which descriptors
  are sockets (dup*, fcntl's F_DUPFD*, close_range), so the tracer follows them.
"""

from __future__ import annotations

AUDIT_ARCH_X86_64 = 0xC000003E  # include/uapi/linux/audit.h: EM_X86_64|64BIT|LE
X32_SYSCALL_BIT = 0x40000000

NETWORK: dict[str, int] = {
    "socket": 41,
    "connect": 42,
    "accept": 43,
    "sendto": 44,
    "recvfrom": 45,
    "sendmsg": 46,
    "recvmsg": 47,
    "shutdown": 48,
    "bind": 49,
    "listen": 50,
    "getsockname": 51,
    "getpeername": 52,
    "socketpair": 53,
    "setsockopt": 54,
    "getsockopt": 55,
    "accept4": 288,
    "recvmmsg": 299,
    "sendmmsg": 307,
}

FD_IO: dict[str, int] = {
    "read": 0,
    "write": 1,
    "close": 3,
    "readv": 19,
    "writev": 20,
}

FD_TABLE: dict[str, int] = {
    "dup": 32,
    "dup2": 33,
    "fcntl": 72,
    "dup3": 292,
    "close_range": 436,
}

# Calls after which the kernel's view of a socket (its addresses) may change,
# so the descriptor table asks the kernel again before the next report.
# (Not shutdown: a socket shut down both ways forgets its peer, but strace -yy,
# like sctrace, keeps showing the addresses it last knew.)
CHANGES_ENDPOINT = frozenset({"bind", "connect", "listen", "sendto", "sendmsg", "sendmmsg"})
# Of those, the ones that change it only on a socket not yet bound (the kernel binds it then).
AUTOBINDS = frozenset({"sendto", "sendmsg", "sendmmsg"})

# Calls that return a new socket descriptor.
RETURNS_SOCKET = frozenset({"socket", "accept", "accept4"})

# Calls whose first argument is a descriptor.
FIRST_ARG_FD = frozenset(
    set(NETWORK) - {"socket", "socketpair"} | set(FD_IO) | set(FD_TABLE) - {"close_range"}
)

SOCKET_SET: dict[str, int] = {**NETWORK, **FD_IO}
STOP_SET: dict[str, int] = {**NETWORK, **FD_IO, **FD_TABLE}

NAMES: dict[int, str] = {nr: name for name, nr in STOP_SET.items()}

# fcntl(2) commands that duplicate a descriptor (include/uapi/linux/fcntl.h).
F_DUPFD = 0
F_DUPFD_CLOEXEC = 1030
CLOSE_RANGE_CLOEXEC = 4
