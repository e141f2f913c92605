"""sctrace as the reaper of the traced program's orphans, whichever backend traces it.

A process whose parent dies is handed to the nearest ancestor that asked to be a
"child subreaper", or else to PID 1, which in a container may never reap it: a
zombie left behind by sctrace.  So each backend makes sctrace a subreaper before
the program starts, and reaps what it was handed once tracing is over.
"""

from __future__ import annotations

import ctypes
import os

PR_SET_CHILD_SUBREAPER = 36  # include/uapi/linux/prctl.h
_WALL = 0x40000000  # __WALL (include/uapi/linux/wait.h): threads and clones too; the os module lacks it


def become_subreaper() -> None:
    """Orphans of the traced program become our children from now on, so that we reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans() -> None:
    """Reap every child that has ended: the traced processes handed to us when their parents died."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG | _WALL)
        except ChildProcessError:
            return
        if pid == 0:
            return
