"""What /proc says about a process or thread, read the one way that survives odd command names."""

from __future__ import annotations


def stat_fields(tid: int) -> list[bytes]:
    """The fields of /proc/TID/stat after the command name: [state, ppid, pgrp, ...] (fields 3 on).

    The command name (field 2) may hold spaces and parentheses, so the fields
    are counted from its last ')'.  OSError if the process is gone.
    """
    with open(f"/proc/{tid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()
