"""The one module that talks to python-ptrace.

python-ptrace gives us the libc binding of ptrace(2), the x86_64 register
layout and the syscall name table; it lacks PTRACE_O_TRACESECCOMP,
PTRACE_O_EXITKILL and PTRACE_EVENT_SECCOMP, and its multi-process wait loop
polls with sleeps.  So this adapter keeps its process-control primitives and
adds what is missing, and the tracer's hot loop (tracer.py) calls these small
functions directly: one waitpid(-1, __WALL) per stop, one ptrace call to read
the registers and one to restart.

python-ptrace's errors (PtraceError) become sctrace's own: TraceeGone when the
task vanished under us (ESRCH), PtraceDenied when the kernel refuses tracing.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import sys
import types
from typing import Any


def _preload_libc() -> None:
    """Spare python-ptrace its libc lookup.

    python-ptrace finds libc with ctypes.util.find_library, which runs
    ``ldconfig -p`` (30-40 ms, most of sctrace's start-up).  On glibc the soname
    is fixed, so we provide the module it would build, with the same names.
    """
    if "ptrace.ctypes_libc" in sys.modules or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return  # not glibc: let python-ptrace search
    module = types.ModuleType("ptrace.ctypes_libc")
    module.LIBC_FILENAME = "libc.so.6"  # type: ignore[attr-defined]
    module.libc = libc  # type: ignore[attr-defined]
    sys.modules["ptrace.ctypes_libc"] = module


_preload_libc()

from ptrace import PtraceError  # noqa: E402
from ptrace.binding import func as _pt  # noqa: E402

# What python-ptrace already knows.
PTRACE_TRACEME: int = _pt.PTRACE_TRACEME
PTRACE_CONT: int = _pt.PTRACE_CONT
PTRACE_KILL: int = _pt.PTRACE_KILL
PTRACE_SYSCALL: int = _pt.PTRACE_SYSCALL
PTRACE_GETREGS: int = _pt.PTRACE_GETREGS
PTRACE_SETOPTIONS: int = _pt.PTRACE_SETOPTIONS
PTRACE_GETEVENTMSG: int = _pt.PTRACE_GETEVENTMSG
PTRACE_GETSIGINFO: int = _pt.PTRACE_GETSIGINFO
PTRACE_DETACH: int = _pt.PTRACE_DETACH
PTRACE_O_TRACESYSGOOD: int = _pt.PTRACE_O_TRACESYSGOOD
PTRACE_O_TRACEFORK: int = _pt.PTRACE_O_TRACEFORK
PTRACE_O_TRACEVFORK: int = _pt.PTRACE_O_TRACEVFORK
PTRACE_O_TRACECLONE: int = _pt.PTRACE_O_TRACECLONE
PTRACE_O_TRACEEXEC: int = _pt.PTRACE_O_TRACEEXEC
PTRACE_EVENT_FORK: int = _pt.PTRACE_EVENT_FORK
PTRACE_EVENT_VFORK: int = _pt.PTRACE_EVENT_VFORK
PTRACE_EVENT_CLONE: int = _pt.PTRACE_EVENT_CLONE
PTRACE_EVENT_EXEC: int = _pt.PTRACE_EVENT_EXEC

# What it lacks (include/uapi/linux/ptrace.h).
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128
PTRACE_GET_SYSCALL_INFO = 0x420E  # Linux 5.3

WALL = 0x40000000  # __WALL: wait for threads and clones too

Registers = _pt.ptrace_registers_t

# The raw libc entry point, for the few calls of the hot loop; argument types
# were set by python-ptrace when it bound the function.
_raw_ptrace: Any = _pt._ptrace
_get_errno = ctypes.get_errno


class TraceeGone(Exception):
    """The task exited (or was killed) between its stop and our request."""


class PtraceDenied(Exception):
    """The kernel refuses to let us trace: the reason is in the message."""


def _fail(request: str, pid: int) -> None:
    err = _get_errno()
    if err == _errno.ESRCH:
        raise TraceeGone(pid)
    if err == _errno.EPERM:
        raise PtraceDenied(f"ptrace({request}) of {pid}: operation not permitted")
    raise OSError(err, f"ptrace({request}, {pid})")


def traceme() -> None:
    """Called in the child: ask the parent to trace us."""
    try:
        _pt.ptrace(PTRACE_TRACEME)
    except PtraceError as exc:
        raise PtraceDenied(str(exc)) from None


def set_options(pid: int, options: int) -> None:
    if _raw_ptrace(PTRACE_SETOPTIONS, pid, 0, options) == _MINUS_ONE:
        _fail("SETOPTIONS", pid)


def resume(pid: int, request: int, signum: int = 0) -> None:
    """PTRACE_CONT or PTRACE_SYSCALL; a vanished task is not an error here."""
    if _raw_ptrace(request, pid, 0, signum) == _MINUS_ONE:
        if _get_errno() != _errno.ESRCH:
            _fail("resume", pid)


PTRACE_SETREGS = 13  # include/uapi/asm/ptrace-abi.h (x86_64)


def set_regs(pid: int, regs: Any) -> None:
    """Write ``regs`` back to ``pid`` (a changed orig_rax skips or changes the call about to run)."""
    if _raw_ptrace(PTRACE_SETREGS, pid, 0, ctypes.addressof(regs)) == _MINUS_ONE:
        _fail("SETREGS", pid)


def get_regs(pid: int, regs: Any) -> None:
    """Fill ``regs`` (a Registers instance reused by the caller) for ``pid``."""
    if _raw_ptrace(PTRACE_GETREGS, pid, 0, ctypes.addressof(regs)) == _MINUS_ONE:
        _fail("GETREGS", pid)


def syscall_info(pid: int, buf: Any) -> int:
    """PTRACE_GET_SYSCALL_INFO into ``buf``: op, arch, nr and arguments, or the result.

    One request instead of GETREGS, and it names the call's architecture, so a
    32-bit ``int 0x80`` from a 64-bit program is never read with 64-bit numbers.
    Returns how many bytes the kernel filled.
    """
    size = _raw_ptrace(PTRACE_GET_SYSCALL_INFO, pid, ctypes.sizeof(buf), ctypes.addressof(buf))
    if size == _MINUS_ONE:
        _fail("GET_SYSCALL_INFO", pid)
    return int(size)


def event_message(pid: int) -> int:
    value = ctypes.c_ulong(0)
    if _raw_ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(value)) == _MINUS_ONE:
        _fail("GETEVENTMSG", pid)
    return value.value


_SIGINFO = ctypes.create_string_buffer(128)


def stop_signal_info(pid: int) -> int | None:
    """The si_signo of a signal-delivery stop, or None for a group-stop.

    PTRACE_GETSIGINFO fails with EINVAL in a group-stop: that is how a tracer
    attached with TRACEME tells a stop signal being delivered from the process
    actually stopping.
    """
    if _raw_ptrace(PTRACE_GETSIGINFO, pid, 0, ctypes.addressof(_SIGINFO)) == _MINUS_ONE:
        if _get_errno() == _errno.EINVAL:
            return None
        _fail("GETSIGINFO", pid)
    return int.from_bytes(_SIGINFO.raw[0:4], "little", signed=True)


_names: dict[int, str] = {}


def _syscall_names() -> dict[int, str]:
    # Imported on first use (--all only): the package behind it costs 7 ms of start-up.
    if not _names:
        from ptrace.syscall.linux.x86_64 import SYSCALL_NAMES

        _names.update(SYSCALL_NAMES)
    return _names


def syscall_name(nr: int) -> str:
    """The x86_64 name of syscall ``nr`` (python-ptrace's table; x32 aliases excluded)."""
    if nr < 512:
        name = _syscall_names().get(nr)
        if name is not None:
            return str(name)
    return f"syscall_{nr:#x}"


def syscall_numbers() -> dict[str, int]:
    """name -> number for the native x86_64 calls python-ptrace knows."""
    table: dict[str, int] = {}
    for nr, name in _syscall_names().items():
        if nr < 512:
            table.setdefault(str(name), nr)
    return table


# The libc function returns unsigned long: -1 comes back as this.
_MINUS_ONE = ctypes.c_ulong(-1).value


def syscall_arg_names(name: str) -> tuple[str, ...] | None:
    """The argument names of a call from python-ptrace's prototypes (for --all), or None."""
    from ptrace.syscall.prototypes import SYSCALL_PROTOTYPES

    proto = SYSCALL_PROTOTYPES.get(name)
    if proto is None:
        return None
    return tuple(str(arg_name) for _type, arg_name in proto[1])
