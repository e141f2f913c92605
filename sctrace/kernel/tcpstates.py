"""The kernel's state of each TCP socket a traced call touched (``--states``).

While the tracee is stopped at a call's exit, sock_diag (sockdiag.InetDiag)
lists the TCP sockets of its network namespace, and the socket the call was
about is found there by inode: its state is the one right after the call.  A
socket in no kernel table (new, bound but not listening, after a failed
connect) is CLOSED, which is the kernel's own state for it.

A socket the program has closed has no descriptor and, once orphaned, no inode:
it is followed by its four-tuple, so that FIN_WAIT2 and then TIME_WAIT show on
the side that closed first.  Followed sockets are looked at whenever a traced
call is reported and once when tracing ends (after the peer is done, while
sctrace's netlink socket still holds the namespace); a change becomes a
``state`` event, and following ends at TIME_WAIT or CLOSED.  Every question
names the ports it is about, so the kernel's answer stays short however many
connections the program made.  Nothing here runs unless --states was given.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sctrace.kernel.sockdiag import InetDiag, TcpEntry

if TYPE_CHECKING:
    from sctrace.backends.ptrace.fdtable import Socket  # the tracer's socket table hands its entries in

# include/net/tcp_states.h (enum: TCP_ESTABLISHED = 1 ... TCP_BOUND_INACTIVE = 13).  TCP_CLOSE is
# shown as CLOSED, the RFC 793 name that the other states' names follow.
TCP_STATE_NAMES: dict[int, str] = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSED",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
    13: "BOUND_INACTIVE",
}
CLOSED = "CLOSED"

# States an orphaned socket leaves as soon as an ACK comes back (on loopback, microseconds later).
# At the end of a trace sctrace waits, at most SETTLE seconds, for followed sockets to leave them, so
# that the last state shown is not a race with the peer's ACK.  FIN_WAIT2 waits for the peer's own
# close, which may never come: it is not waited for.
WAITING_FOR_ACK = frozenset({"FIN_WAIT1", "CLOSING", "LAST_ACK"})
SETTLE = 0.2
# Where following a closed connection ends: TIME_WAIT lasts 60 s (TCP_TIMEWAIT_LEN, include/net/tcp.h),
# longer than a trace, and its end is no event of the program's.
FINAL = frozenset({"TIME_WAIT", "CLOSED"})

_INET = (socket.AF_INET, socket.AF_INET6)
_TCP_PROTOCOLS = (0, socket.IPPROTO_TCP)

NO_TCP_NOTICE = "--states: the program used no TCP socket, so there are no TCP states to show"

Key = tuple[int, str, int, str, int]  # family, local address, port, remote address, port


def state_name(state: int) -> str:
    return TCP_STATE_NAMES.get(state, f"TCP_???({state})")


def is_tcp(sock: Socket | None) -> bool:
    return (sock is not None and sock.family in _INET and sock.type == socket.SOCK_STREAM
            and sock.protocol in _TCP_PROTOCOLS)


def _address(addr: Any) -> tuple[str, int] | None:
    """(address, port) of a getsockname/getpeername tuple; a link-local scope (%eth0) is dropped."""
    if not isinstance(addr, tuple) or len(addr) < 2:
        return None
    return str(addr[0]).split("%", 1)[0], int(addr[1])


def four_tuple(sock: Socket) -> Key | None:
    """The connection's key, or None for a socket that never had a peer."""
    local, remote = _address(sock.local), _address(sock.peer)
    if local is None or remote is None or not remote[1]:
        return None
    return (sock.family, *local, *remote)


@dataclass
class Followed:
    """A closed socket whose connection lives on in the kernel."""

    pid: int  # who closed it: the state events are that process's
    endpoint: str
    state: str


@dataclass
class StateChange:
    pid: int
    endpoint: str
    state: str


class _Snapshot:
    """What sock_diag answered at one stop, so that one stop asks each question once.

    A socket whose ports are known is looked up exactly (a hash lookup in the kernel); only one
    whose peer is not known (a listener of a SO_REUSEPORT group, a connect in progress) costs a
    dump, filtered by its local port.
    """

    def __init__(self, diag: InetDiag) -> None:
        self.diag = diag
        self.found: dict[Key, TcpEntry | None] = {}
        self.dumped: dict[tuple[int, int], list[TcpEntry]] = {}

    def find(self, key: Key) -> TcpEntry | None:
        if key in self.found:
            return self.found[key]
        entry = self.found[key] = self.diag.find(key[0], (key[1], key[2]), (key[3], key[4]))
        return entry

    def connection(self, key: Key) -> TcpEntry | None:
        """The connection with exactly this four-tuple (not a listener found in its place), or None."""
        entry = self.find(key)
        if entry is None or (entry.family, *entry.local, *entry.remote) != key:
            return None
        return entry

    def with_port(self, family: int, sport: int) -> list[TcpEntry]:
        question = (family, sport)
        if question not in self.dumped:
            self.dumped[question] = self.diag.tcp(family, sport)
        return self.dumped[question]


class TcpStates:
    """Reads TCP states for one Tracer (tracer.py calls ``attach``, ``at_call`` and ``finish``)."""

    def __init__(self) -> None:
        self.diag: InetDiag | None = None
        self.followed: dict[Key, Followed] = {}
        self.saw_tcp = False
        self.failed: str | None = None

    is_tcp = staticmethod(is_tcp)

    def attach(self, pid: int) -> str | None:
        """Open sock_diag in the network namespace of ``pid``; a notice for people when that is refused."""
        try:
            if _netns_id("self") == _netns_id(str(pid)):
                self.diag = InetDiag()
            else:
                from sctrace.kernel import netns

                with netns.inside(pid):
                    self.diag = InetDiag()
        except OSError as exc:
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            return (f"--states: cannot read TCP states in the program's network namespace ({why}); "
                    "run sctrace as root (CAP_SYS_ADMIN) for them. Tracing goes on without states")
        return None

    def close(self) -> None:
        if self.diag is not None:
            self.diag.close()
            self.diag = None

    def at_call(self, pid: int, name: str, sock: Socket | None, returned: Socket | None,
                ok: bool) -> tuple[list[StateChange], str | None]:
        """At a reported call's exit: changes of followed sockets, and the state for the call's event.

        ``sock`` is the socket the call's descriptor named at entry; ``returned`` the socket it
        returned (socket, accept, accept4), whose state is then the event's.
        """
        target = returned if is_tcp(returned) else sock
        tcp = is_tcp(target)
        if self.diag is None or not (tcp or self.followed):
            return [], None
        try:
            snap = _Snapshot(self.diag)
            changes = self._poll(snap)
            state = None
            if tcp:
                assert target is not None
                self.saw_tcp = True
                state, orphan = self._state(snap, target)
                if orphan and name == "close" and ok and target is sock:
                    self._follow(pid, target, state)
        except OSError as exc:
            self._fail(exc)
            return [], None
        return changes, state

    def finish(self) -> list[StateChange]:
        """The last look at followed sockets, when tracing is over (waits briefly for ACKs in flight)."""
        if self.diag is None:
            return []
        changes: list[StateChange] = []
        deadline = time.monotonic() + SETTLE
        try:
            while True:
                changes += self._poll(_Snapshot(self.diag))
                waiting = any(f.state in WAITING_FOR_ACK for f in self.followed.values())
                if not waiting or time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
        except OSError as exc:
            self._fail(exc)
        return changes

    def notices(self) -> list[str]:
        if self.failed is not None:
            return [self.failed]
        if self.diag is not None and not self.saw_tcp:
            return [NO_TCP_NOTICE]
        return []

    # -- inside -------------------------------------------------------------

    def _fail(self, exc: OSError) -> None:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        self.failed = f"--states: sock_diag stopped answering ({why}); the calls after it show no state"
        self.close()

    @staticmethod
    def _state(snap: _Snapshot, sock: Socket) -> tuple[str, bool]:
        """The socket's state, and whether it is found only by its four-tuple (it has no inode any more)."""
        local = _address(sock.local)
        if local is None or not local[1]:
            return CLOSED, False  # no local port: in none of the kernel's tables (TCP hashes by port)
        key = four_tuple(sock)
        if key is not None:
            entry = snap.connection(key)
            if entry is not None and entry.inode in (sock.inode, 0):
                # inode 0: the program closed it (an orphan), or the kernel handed the connection
                # to a TIME_WAIT mini-socket (the socket itself is then CLOSE).
                return state_name(entry.state), entry.inode == 0
            if entry is None and sock.peer:
                return CLOSED, False  # its connection is over
        wildcard = "::" if sock.family == socket.AF_INET6 else "0.0.0.0"
        entry = snap.find((sock.family, *local, wildcard, 0))  # the listener on its address, if any
        if entry is not None and entry.inode == sock.inode:
            return state_name(entry.state), False
        for e in snap.with_port(sock.family, local[1]):  # a connect in progress, a SO_REUSEPORT listener
            if e.inode == sock.inode:
                return state_name(e.state), False
        return CLOSED, False

    def _follow(self, pid: int, sock: Socket, state: str) -> None:
        key = four_tuple(sock)
        if key is not None and state not in FINAL:
            self.followed[key] = Followed(pid, sock.endpoint, state)

    def _poll(self, snap: _Snapshot) -> list[StateChange]:
        changes: list[StateChange] = []
        for key, f in list(self.followed.items()):
            entry = snap.connection(key)
            state = state_name(entry.state) if entry is not None and entry.inode == 0 else CLOSED
            if state != f.state:
                f.state = state
                changes.append(StateChange(f.pid, f.endpoint, state))
            if state in FINAL:
                del self.followed[key]
        return changes


def _netns_id(pid: str) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/net")
    return st.st_dev, st.st_ino
