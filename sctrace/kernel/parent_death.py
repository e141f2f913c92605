"""A forked child that dies with the process that forked it (prctl(2) PR_SET_PDEATHSIG).

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
