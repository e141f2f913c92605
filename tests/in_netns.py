"""Run a command in a fresh network namespace with only loopback up: ``in_netns.py CMD ARGS...``.

Each traced fixture run gets its own namespace, so sockets a previous run left
in TIME_WAIT (2,000 of them after many_connections) neither collide with nor
slow down the next run (strace -yy looks every socket up in the kernel's
tables).  Where namespaces cannot be made, the command runs as it is.
"""

from __future__ import annotations

import os
import sys

from sctrace.kernel import netns


def can_unshare() -> bool:
    return netns.available()


if __name__ == "__main__":
    netns.enter_new()
    os.execvp(sys.argv[1], sys.argv[1:])
