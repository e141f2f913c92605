"""A forked child that dies with the process that forked it (prctl(2) PR_SET_PDEATHSIG); forked workers.

A child forked to become a traced program is not yet protected by
PTRACE_O_EXITKILL: that option is set by the tracer only once the child has
stopped.  Killed in that window, sctrace would leave the child stopped forever
under init, holding sctrace's stdout and stderr, so that a caller waiting for
their end would hang.  The kernel's parent-death signal closes the window.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

from sctrace.status import STOP_SIGNALS

PR_SET_PDEATHSIG = 1  # include/uapi/linux/prctl.h


def die_with_parent(parent: int) -> None:
    """In a forked child: SIGKILL when the parent dies; exit now if it already has (parent: its pid).

    The parent may die between fork and prctl; then this child already has a
    new parent, and the signal would never come, so the pid is checked after.
    """
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(127)


def stop_dying_with_parent() -> None:
    """Clear the parent-death signal (before exec: the program runs as it would untraced)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)


def fork_worker(work: Callable[[], int], on_error: Callable[[BaseException], int]) -> int:
    """Fork a worker that runs work() and exits with the status it returns; its pid, in this process.

    The worker dies with this process, even one killed by SIGKILL, and takes the default action on
    the stop signals (this process's handlers are for this process).  What work raises goes to
    on_error, which reports it as the caller's protocol wants and gives the worker's status.
    """
    parent = os.getpid()
    pid = os.fork()
    if pid != 0:
        return pid
    status = 70  # pragma: no cover - runs in the worker
    try:
        die_with_parent(parent)
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        status = work()
    except BaseException as exc:  # noqa: BLE001 - the caller's on_error reports it
        try:
            status = on_error(exc)
        except BaseException:  # noqa: BLE001 - nothing more can be said; the status says it failed
            pass
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(status)
