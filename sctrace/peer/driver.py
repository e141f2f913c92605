"""Giving a traced program its peer: a server gets a client, a client gets a server.

The driver watches the trace (it is the backend's Observer, and reads the
program through the TracedProgram of sctrace/backends/view.py, which both
backends implement) and acts from what it sees, never from a timer:

- a program that listens (TCP) or binds a datagram socket and then waits, all
  its threads blocked in accept/read/recv/poll with nothing pending, is a
  server: the peer connects (or sends a datagram), sends ``send``, reads the
  answer until the server closes or goes quiet again, and closes;
- a program that connects (or sends a datagram) where nothing listens is a
  client: before the call proceeds, the peer listens (binds) at that address,
  then accepts, reads until the client closes or goes quiet, replies ``reply``
  and closes;
- a program that listens and connects to itself needs no peer.

After the exchange, a program that neither exits nor does anything but wait
(a ``while (true) accept`` server) is stopped: SIGTERM, then SIGKILL.  The
trace records that sctrace stopped it.  "Quiet" is read from /proc: every task
in a sleeping state inside one of WAITING_CALLS.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sctrace.backends.view import TracedProgram
from sctrace.kernel import netns
from sctrace.kernel.procfs import stat_fields
from sctrace.model import registry
from sctrace.model.sockaddr import parse_sockaddr

# The x86_64 numbers of the calls a program sleeps in while it waits: the registry rows marked `waits`.
WAITING_CALLS = registry.WAITING_NUMBERS
POLL_INTERVAL = 0.01
GRACE_AFTER_SIGTERM = 1.0


@dataclass
class DriveOptions:
    send: bytes = b"hello\n"
    reply: bytes = b"hi"
    timeout: float = 10.0
    client: str | None = None  # a program to run as the client of a server side, traced in its own lane
    server: str | None = None  # a program to run as the server of a client side, traced in its own lane
    states: bool = False  # --states: each traced call on a TCP socket carries the kernel's state
    packets: bool = False  # --packets: each side's loopback packets are captured into its trace
    pcap: str | None = None  # --pcap: each side's packets written to this path (.left/.right added)
    backend: str = "ptrace"  # --backend: sctrace's own tracer, or strace (servers only: strace/peer_view.py)


@dataclass
class Exchange:
    """What the peer did, for the report."""

    role: str | None = None  # "server" (the program was one), "client", "udp-server", "udp-client", "self"
    address: Any = None
    sent: bytes = b""
    received: bytes = b""
    stopped: bool = False  # sctrace stopped the program after the exchange
    error: str | None = None
    log: list[str] = field(default_factory=list)


def _connectable(family: int, addr: Any) -> Any:
    """A server bound to the wildcard address is reached through loopback."""
    if family == socket.AF_INET and addr[0] in ("0.0.0.0", ""):
        return ("127.0.0.1", addr[1])
    if family == socket.AF_INET6 and addr[0] in ("::", ""):
        return ("::1", addr[1], *addr[2:])
    return addr


def _sockaddr_tuple(d: dict[str, Any]) -> tuple[int, Any] | None:
    if d.get("family") == "AF_INET":
        return socket.AF_INET, (d["address"], d["port"])
    if d.get("family") == "AF_INET6":
        return socket.AF_INET6, (d["address"], d["port"], d.get("flowinfo", 0), d.get("scope_id", 0))
    return None


class Driver:
    """The peer of one traced program (the backend's Observer; its own thread drives the exchange).

    With an explicit peer program (compare --client/--server, run by comparing.py) the driver only
    sequences it: ``run_client`` runs the --client program against this program once it listens and
    waits, and returns when that program has ended; ``serve`` is for a program that is itself the
    --server peer: ``serve[0]`` tells that it listens and waits, ``serve[1]`` returns when the client
    side is done, and the program is then stopped if it waits for more.
    """

    def __init__(self, options: DriveOptions, *, run_client: Callable[[], None] | None = None,
                 serve: tuple[Callable[[], None], Callable[[], None]] | None = None) -> None:
        self.opts = options
        self.run_client = run_client
        self.serve = serve
        self.exchange = Exchange()
        self.program: TracedProgram | None = None
        self._server: tuple[int, int, Any] | None = None  # family, type, address
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = time.monotonic()

    # -- the backend's observer (called in the tracing thread) ---------------

    def on_exit(self, tid: int, name: str, ret: int, fd: int | None) -> None:
        program = self.program
        if ret < 0 or fd is None or self.exchange.role is not None or program is None:
            return
        sock = program.socket(tid, fd)  # where it is bound now, if the call just changed that
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        with self._lock:
            if name == "listen" and sock.local:
                self._server = (sock.family, socket.SOCK_STREAM, sock.local)
            elif name == "bind" and sock.type == socket.SOCK_DGRAM and sock.local and sock.local[1]:
                self._server = (sock.family, socket.SOCK_DGRAM, sock.local)
            elif name == "connect" and self._server is not None:
                self.exchange.role = "self"  # it talks to itself: no peer needed
            elif name == "connect" and self.opts.server is not None:
                self.exchange.role = "client"  # of the --server program, which listened before it started

    def on_entry(self, tid: int, name: str, args: tuple[int, ...]) -> None:
        program = self.program
        if self.exchange.role is not None or self.opts.server is not None or program is None:
            return  # the --server program listens already: it is the peer
        if name == "connect":
            addr_ptr, addr_len = args[1], args[2] & 0xFFFFFFFF
        elif name == "sendto":
            addr_ptr, addr_len = args[4], args[5] & 0xFFFFFFFF
        else:
            return  # sendmsg's destination: not needed by the programs we drive yet
        if addr_ptr == 0 or addr_len == 0:
            return
        data = program.read_memory(tid, addr_ptr, min(addr_len, 128))
        target = _sockaddr_tuple(parse_sockaddr(data, addr_len)) if data else None
        sock = program.socket(tid, args[0] & 0xFFFFFFFF)
        if target is None or sock is None:
            return
        family, address = target
        kind = socket.SOCK_DGRAM if sock.type == socket.SOCK_DGRAM else socket.SOCK_STREAM
        try:
            with self._in_program_netns():
                peer = socket.socket(family, kind)
                try:
                    peer.bind(address)
                except OSError:
                    peer.close()
                    return  # something listens there already (the program itself, or another)
                if kind == socket.SOCK_STREAM:
                    peer.listen(1)
        except OSError as exc:
            self.exchange.log.append(f"could not listen at {address}: {exc.strerror}")
            return
        with self._lock:
            self._listener = peer
            self.exchange.role = "client" if kind == socket.SOCK_STREAM else "udp-client"
            self.exchange.address = address

    def cannot_drive(self, why: str) -> None:
        if self.exchange.role is None:
            self.exchange.error = why

    # -- the peer (its own thread) -------------------------------------------

    def attached(self, program: TracedProgram) -> None:
        self.program = program
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="sctrace-peer", daemon=True)
        self._thread.start()

    def detached(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    @contextmanager
    def _in_program_netns(self) -> Iterator[None]:
        program = self.program
        if program is not None and program.netns and program.main_pid:
            with netns.inside(program.main_pid):
                yield
        else:
            with nullcontext():
                yield

    def _alive(self) -> bool:
        return bool(self.program and self.program.tasks) and not self._stop.is_set()

    def quiet(self) -> bool:
        """Every task of the program sleeps in a call that waits for something to arrive."""
        program = self.program
        if program is None:
            return False
        try:
            tids = list(program.tasks)
        except RuntimeError:  # the tracing thread changed the table as we looked
            return False
        if not tids:
            return False
        for tid in tids:
            try:
                state = stat_fields(tid)[0]
                with open(f"/proc/{tid}/syscall", "rb") as f:
                    nr = f.read().split(b" ", 1)[0]
            except (OSError, IndexError):
                return False
            if state != b"S" or not nr.lstrip(b"-").isdigit() or int(nr) not in WAITING_CALLS:
                return False
        return True

    def _wait(self, condition: Any) -> bool:
        while self._alive():
            if condition():
                return True
            if time.monotonic() - self._started > self.opts.timeout and self.exchange.role is None:
                self.exchange.error = f"it neither listened nor connected within {self.opts.timeout:g} s"
                self._terminate()
                return False
            time.sleep(POLL_INTERVAL)
        return False

    def _run(self) -> None:
        try:
            if not self._wait(lambda: self.exchange.role is not None or (self._server and self.quiet())):
                return
            role = self.exchange.role
            if role == "client" and self.opts.server is not None:
                return  # the --server program is the peer; the client ends by itself (or times out)
            if role is None and self.serve is not None:  # this program is the --server peer
                self.exchange.role = "server"
                self.serve[0]()
                self.serve[1]()
            elif role is None and self.run_client is not None:
                self.exchange.role = "server"
                self.run_client()
            elif role is None:
                self._drive_server()
            elif role == "client":
                self._drive_client()
            elif role == "udp-client":
                self._drive_udp_client()
            if self._alive():  # the exchange is over; a server that waits for more is stopped
                if self._wait(self.quiet):
                    self.exchange.stopped = True
                    self._terminate()
        except OSError as exc:
            self.exchange.error = f"the peer failed: {exc.strerror or exc}"

    def _read_until_quiet_or_closed(self, conn: socket.socket) -> bytes:
        data = b""
        while self._alive() or conn in select.select([conn], [], [], 0)[0]:
            ready, _, _ = select.select([conn], [], [], POLL_INTERVAL)
            if ready:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            elif self.quiet():
                break
        return data

    def _drive_server(self) -> None:
        assert self._server is not None
        family, kind, local = self._server
        address = _connectable(family, local)
        self.exchange.role = "server" if kind == socket.SOCK_STREAM else "udp-server"
        self.exchange.address = address
        with self._in_program_netns():
            conn = socket.socket(family, kind)
        try:
            if kind == socket.SOCK_STREAM:
                conn.connect(address)
                conn.sendall(self.opts.send)
            else:
                conn.sendto(self.opts.send, address)
            self.exchange.sent = self.opts.send
            self.exchange.received = self._read_until_quiet_or_closed(conn)
        finally:
            conn.close()

    def _drive_client(self) -> None:
        listener = self._listener
        assert listener is not None
        while self._alive():
            ready, _, _ = select.select([listener], [], [], POLL_INTERVAL)
            if ready:
                break
        else:
            return
        conn, _ = listener.accept()
        try:
            self.exchange.received = self._read_until_quiet_or_closed(conn)
            if self._alive():
                conn.sendall(self.opts.reply)
                self.exchange.sent = self.opts.reply
        finally:
            conn.close()
            listener.close()
            self._listener = None

    def _drive_udp_client(self) -> None:
        sock = self._listener
        assert sock is not None
        while self._alive():
            ready, _, _ = select.select([sock], [], [], POLL_INTERVAL)
            if ready:
                data, sender = sock.recvfrom(65536)
                self.exchange.received = data
                sock.sendto(self.opts.reply, sender)
                self.exchange.sent = self.opts.reply
                break
        sock.close()
        self._listener = None

    def _terminate(self) -> None:
        """SIGTERM every process of the program, then SIGKILL what is left."""
        program = self.program
        if program is None:
            return
        program.by_sctrace = "stopped after the exchange" if self.exchange.error is None else "timeout"
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for tid in _tgids(program):
                try:
                    os.kill(tid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + GRACE_AFTER_SIGTERM
            while program.tasks and time.monotonic() < deadline:
                time.sleep(POLL_INTERVAL)
            if not program.tasks:
                return


def _tgids(program: TracedProgram) -> list[int]:
    try:
        # In the order the backend met them, so a parent is stopped before its children
        # (a child stopped first would interrupt its parent's waiting call with SIGCHLD).
        return list(dict.fromkeys(task.tgid for task in list(program.tasks.values())))
    except RuntimeError:
        return [program.main_pid]
