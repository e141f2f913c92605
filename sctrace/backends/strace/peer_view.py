"""Driving a program traced by strace: what drive.Driver needs to know, read from strace's output.

drive.Driver is an observer of the ptrace tracer: it reads the tracer's live
tasks, hears of each listen/bind/connect when it returns (to learn where a
server waits), and of each connect at its entry (to listen there before a
client's connect proceeds).  Under strace, sctrace learns of a call only when
strace prints it, after it returned:

- a server can be driven: its listen (bind, for UDP) is seen with the address
  strace -yy printed, its threads' waits are read from /proc as before, and
  the driver connects, sends, reads and stops it as it does under ptrace;
- a client cannot: its connect has already failed (ECONNREFUSED) when strace
  prints it, so the run ends in one clear error that says to use the ptrace
  backend (or to give the peer as --server PROGRAM).

StraceTracerView stands in for the Tracer the driver reads (tasks by thread
id with their process, the program's pid for its network namespace, and who
stopped it), kept from the events as they are reported.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from typing import Any

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
    """What the driver reads of a socket (fdtable.Socket's fields it uses)."""

    family: int
    type: int
    local: Any
    stale: bool = False


@dataclass
class TableView:
    socks: dict[int, SocketView] = field(default_factory=dict)


@dataclass
class TaskView:
    tid: int
    tgid: int
    table: TableView = field(default_factory=TableView)


@dataclass
class CallView:
    ret: int


class ProberView:
    """The driver asks the prober to refresh a stale socket; strace already printed it as it was."""

    def probe(self, *args: Any) -> None:
        return None


class StraceTracerView:
    """The Tracer, as far as drive.Driver reads it, from strace's events."""

    def __init__(self, observer: Any, main_pid: int, netns: bool) -> None:
        self.observer = observer
        self.main_pid = main_pid  # strace's pid: it and the program share the network namespace
        self.netns = netns
        # Until strace's first line names the program's pid, strace stands for it: the driver
        # takes a program with no task for one that has ended.
        self.tasks: dict[int, TaskView] = {main_pid: TaskView(main_pid, main_pid)}
        self.first = True
        self.by_sctrace: str | None = None  # the driver sets it when it stops the program
        self.prober = ProberView()

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
        elif ev.type == "syscall" and ev.name in ("listen", "bind", "connect"):
            self._observed(ev)

    def _observed(self, ev: Event) -> None:
        task = self.tasks.setdefault(ev.pid, TaskView(ev.pid, ev.pid))
        exchange = getattr(self.observer, "exchange", None)
        if ev.name == "connect" and ev.errno == "ECONNREFUSED" and exchange is not None and exchange.role is None:
            exchange.error = f"the program {CLIENT_ERROR}"
            return
        if ev.ret is None or ev.ret < 0 or ev.fd is None:
            return
        sock = self._socket(ev)
        if sock is None:
            return
        task.table.socks[ev.fd] = sock
        self.observer.on_exit(self, task, ev.name, CallView(ev.ret), ev.fd)

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
