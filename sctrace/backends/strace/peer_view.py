"""Driving a program traced by strace: what drive.Driver needs to know, read from strace's output.

drive.Driver reads the traced program's live tasks, hears of each
listen/bind/connect when it returns (to learn where a server waits), and of
each connect at its entry (to listen there before a client's connect
proceeds).  Under strace, sctrace learns of a call only when strace prints it,
after it returned:

- a server can be driven: its listen (bind, for UDP) is seen with the address
  strace -yy printed, its threads' waits are read from /proc as before, and
  the driver connects, sends, reads and stops it as it does under ptrace;
- a client cannot: its connect has already failed (ECONNREFUSED) when strace
  prints it, so the run ends in one clear error that says to use the ptrace
  backend (or to give the peer as --server PROGRAM).

StraceTracerView is the program as the driver reads it (the TracedProgram
of sctrace/backends/view.py, which the ptrace Tracer implements too): tasks by
thread id with their process, the program's pid for its network namespace,
the sockets its calls were about, and who stopped it, kept from the events as
they are reported.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from typing import Any

from sctrace.backends.view import OBSERVED_EXIT, Observer
from sctrace.model.trace import Event

# strace -yy's protocol names -> (family, type) (strace src/socketutils.c; only those a peer can reach).
_PROTOCOLS = {
    "TCP": (socket.AF_INET, socket.SOCK_STREAM),
    "TCPv6": (socket.AF_INET6, socket.SOCK_STREAM),
    "UDP": (socket.AF_INET, socket.SOCK_DGRAM),
    "UDPv6": (socket.AF_INET6, socket.SOCK_DGRAM),
}
# "TCP:[0.0.0.0:1234]", "TCPv6:[[::1]:80]": a bound, unconnected socket.
_BOUND = re.compile(r"(?P<proto>\w+):\[(?:\[(?P<v6>[^\]]*)\]|(?P<v4>[0-9.]+)):(?P<port>\d+)\]")
CLIENT_ERROR = ("connects where nothing listens, and strace cannot hold a connect until a peer listens; "
                "use --backend ptrace, or give the peer with --server PROGRAM")


@dataclass
class SocketView:
    """A socket as strace -yy described it (sctrace.backends.view.SocketSeen)."""

    family: int
    type: int
    local: Any


@dataclass
class TaskView:
    """A thread of the program, with the sockets of its listen, bind and connect calls seen so far."""

    tid: int
    tgid: int
    socks: dict[int, SocketView] = field(default_factory=dict)


class StraceTracerView:
    """The program traced by strace, as drive.Driver reads it (sctrace.backends.view.TracedProgram)."""

    def __init__(self, observer: Observer, main_pid: int, netns: bool) -> None:
        self.observer = observer
        self.main_pid = main_pid  # strace's pid: it and the program share the network namespace
        self.netns = netns
        # Until strace's first line names the program's pid, strace stands for it: the driver
        # takes a program with no task for one that has ended.
        self.tasks: dict[int, TaskView] = {main_pid: TaskView(main_pid, main_pid)}
        self.first = True
        self.by_sctrace: str | None = None  # the driver sets it when it stops the program

    def socket(self, tid: int, fd: int) -> SocketView | None:
        """The socket as strace printed it with the call just reported (it needs no refreshing)."""
        task = self.tasks.get(tid)
        return task.socks.get(fd) if task is not None else None

    def read_memory(self, tid: int, address: int, size: int) -> bytes | None:
        """Never asked: strace reports a call once it has returned, so there is no entry stop to read at."""
        return None

    def event(self, ev: Event) -> None:
        """One reported event: follow the program's tasks, tell the driver of listen/bind/connect."""
        if self.first:
            self.first = False
            self.tasks = {ev.pid: TaskView(ev.pid, ev.pid)}
        if ev.type == "fork":
            parent = self.tasks.get(ev.pid)
            child = int(ev.info["child"])
            tgid = parent.tgid if parent is not None and ev.info.get("thread") else child
            self.tasks[child] = TaskView(child, tgid)
        elif ev.type in ("exit", "killed"):
            self.tasks.pop(ev.pid, None)
        elif ev.type == "syscall" and ev.name is not None and ev.name in OBSERVED_EXIT:
            self._observed(ev, ev.name)

    def _observed(self, ev: Event, name: str) -> None:
        task = self.tasks.setdefault(ev.pid, TaskView(ev.pid, ev.pid))
        if name == "connect" and ev.errno == "ECONNREFUSED":
            self.observer.cannot_drive(f"the program {CLIENT_ERROR}")
            return
        if ev.ret is None or ev.ret < 0 or ev.fd is None:
            return
        sock = self._socket(ev)
        if sock is None:
            return
        task.socks[ev.fd] = sock
        self.observer.on_exit(ev.pid, name, ev.ret, ev.fd)

    @staticmethod
    def _socket(ev: Event) -> SocketView | None:
        """The socket a listen/bind/connect was about, as strace -yy described it (and bind's address)."""
        proto = (ev.endpoint or "").split(":", 1)[0]
        if proto not in _PROTOCOLS:
            return None
        family, kind = _PROTOCOLS[proto]
        local: Any = None
        m = _BOUND.fullmatch(ev.endpoint or "")
        if m and m.group("proto") == proto:
            local = (m.group("v6") if m.group("v6") is not None else m.group("v4"), int(m.group("port")))
        addr = ev.args.get("addr")
        if ev.name == "bind" and isinstance(addr, dict) and isinstance(addr.get("port"), int):
            local = (addr.get("address"), addr["port"])  # the -yy text is from before the bind
        if local is not None and family == socket.AF_INET6:
            local = (*local, 0, 0)
        return SocketView(family, kind, local)
