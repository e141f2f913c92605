"""Which system calls sctrace stops at, and why, for x86_64.

The numbers and classes are rows of sctrace/model/registry.py (from
arch/x86/entry/syscalls/syscall_64.tbl); these are the views of it that the
tracer, the seccomp filter and the strace backend use.  Numbers at and above
512 are the x32 ABI's; the seccomp filter sends them, and any other
architecture, to the tracer so nothing escapes unseen.

Each call belongs to one class, which decides what the tracer does at its stop:

- NETWORK: always reported (strace's %network class).
- FD_IO: reported only when its descriptor is a socket (read, write, readv,
  writev, close).
- FD_TABLE: never reported in socket mode, but they change which descriptors
  are sockets (dup*, fcntl's F_DUPFD*, close_range), so the tracer follows them.
"""

from __future__ import annotations

from sctrace.model.registry import REGISTRY, Class, Creates, Endpoint, names, numbers

AUDIT_ARCH_X86_64 = 0xC000003E  # include/uapi/linux/audit.h: EM_X86_64|64BIT|LE
X32_SYSCALL_BIT = 0x40000000

NETWORK: dict[str, int] = numbers(Class.NETWORK)
FD_IO: dict[str, int] = numbers(Class.FD_IO)
FD_TABLE: dict[str, int] = numbers(Class.FD_TABLE)
SECCOMP_CALLS: dict[str, int] = numbers(Class.SECCOMP)
FOLLOWED = frozenset(FD_TABLE) | frozenset(SECCOMP_CALLS)  # never reported, but the tracer looks at them

# Calls after which the kernel's view of a socket (its addresses) may change,
# so the descriptor table asks the kernel again before the next report.
# (Not shutdown: a socket shut down both ways forgets its peer, but strace -yy,
# like sctrace, keeps showing the addresses it last knew.)
CHANGES_ENDPOINT = frozenset(names(lambda c: c.endpoint is not None))
# Of those, the ones that change it only on a socket not yet bound (the kernel binds it then).
AUTOBINDS = frozenset(names(lambda c: c.endpoint is Endpoint.AUTOBINDS))

# Calls that return a new socket descriptor.
RETURNS_SOCKET = frozenset(names(lambda c: c.creates is Creates.NEW))

SOCKET_SET: dict[str, int] = {**NETWORK, **FD_IO}
STOP_SET: dict[str, int] = {**NETWORK, **FD_IO, **FD_TABLE, **SECCOMP_CALLS}

# Calls whose first argument is a descriptor.
FIRST_ARG_FD = frozenset(c.name for c in REGISTRY if c.name in STOP_SET and c.acts_on == 0)

NAMES: dict[int, str] = {nr: name for name, nr in STOP_SET.items()}

# fcntl(2) commands that duplicate a descriptor (include/uapi/linux/fcntl.h).
F_DUPFD = 0
F_DUPFD_CLOEXEC = 1030
CLOSE_RANGE_CLOEXEC = 4
CLOSE_RANGE_UNSHARE = 2  # include/uapi/linux/close_range.h
CLONE_FILES = 0x400  # include/uapi/linux/sched.h
PR_SET_SECCOMP = 22  # include/uapi/linux/prctl.h
SECCOMP_MODE_FILTER = 2  # include/uapi/linux/seccomp.h
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
