"""The seam between a backend and the peer that drives the program it traces.

sctrace/peer/driver.py gives a traced program its peer (a client for a server,
a server for a client).  It is told of the few calls that say where a server
waits or where a client connects (it is the backend's Observer), and it reads
the program as the backend sees it (a TracedProgram): its live tasks, the
socket a descriptor names, its memory, and it notes that sctrace stopped it.

Both backends implement TracedProgram: the ptrace Tracer from its own tables,
and the strace backend from what strace reports (strace/peer_view.py).  The
driver knows nothing else of either, and mypy checks that both fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# Calls an observer hears of: at entry (the peer may have to listen before a connect proceeds)
# and at exit (a listen or bind tells where a server waits).
OBSERVED_ENTRY = frozenset({"connect", "sendto", "sendmsg"})
OBSERVED_EXIT = frozenset({"listen", "bind", "connect"})


class SocketSeen(Protocol):
    """A socket of the program, as far as its peer needs to know it."""

    @property
    def family(self) -> int: ...  # socket.AF_INET, AF_INET6, ...

    @property
    def type(self) -> int: ...  # socket.SOCK_STREAM, SOCK_DGRAM, ...

    @property
    def local(self) -> Any: ...  # the address it is bound to, as the socket module writes it, or None


class TaskSeen(Protocol):
    """A thread of the program: the driver signals whole processes, so it needs each one's process."""

    @property
    def tgid(self) -> int: ...


class TracedProgram(Protocol):
    """The program being traced, as its peer reads it while it runs."""

    # Who stopped the program, when sctrace did (the driver sets it): the trace says so at its end.
    by_sctrace: str | None

    @property
    def tasks(self) -> Mapping[int, TaskSeen]:
        """The live threads by thread id, in the order they were met (parents before their children)."""

    @property
    def main_pid(self) -> int:
        """The pid whose network namespace the program runs in."""

    @property
    def netns(self) -> bool:
        """Whether the program has a network namespace of its own (the peer must enter it)."""

    def socket(self, tid: int, fd: int) -> SocketSeen | None:
        """The socket descriptor fd names in thread tid, as it is now; None if it names no socket."""

    def read_memory(self, tid: int, address: int, size: int) -> bytes | None:
        """Up to size bytes of thread tid's memory at address; None if they cannot be read."""


class Observer(Protocol):
    """Who drives the program (sctrace/peer/driver.py), told of the calls in OBSERVED_ENTRY and OBSERVED_EXIT."""

    def attached(self, program: TracedProgram) -> None:
        """The program is started and traced (called once, before any other call)."""

    def on_entry(self, tid: int, name: str, args: tuple[int, ...]) -> None:
        """Thread tid is about to make the call, with these raw arguments (a backend that stops there)."""

    def on_exit(self, tid: int, name: str, ret: int, fd: int | None) -> None:
        """The call on descriptor fd returned ret."""

    def cannot_drive(self, why: str) -> None:
        """The backend cannot give the program the peer it needs; why says so, for people."""

    def detached(self) -> None:
        """Tracing is over, however it ended."""
