"""What the whole trace says about its processes, sockets and ports, for the stable renamings.

One walk over the trace follows every descriptor table (forks copy it,
threads share it, dup copies a descriptor) and keeps, for each socket call,
its process and the sockets behind its descriptors.  Once the walk is done,
each socket's kind (Sock.kind) is what it turned out to be, looking ahead (a
socket listened on later is a listener from its creation on), and the ports
that name a service (PORT1, ...) are known, as opposed to the ones the
kernel chose (EPHEMERAL).  normalize.py numbers processes (P1, P2, ...) and
each process's sockets (L1/C1/S1, ...) in order of appearance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sctrace.compare.endpoints import INET_FAMILIES, STREAM_PROTOS, inet_ports, split_endpoint
from sctrace.model import syscalls
from sctrace.model.registry import Creates, Direction, Kind, names
from sctrace.model.trace import Event, Trace

STREAM_TYPES = frozenset({"SOCK_STREAM", "SOCK_SEQPACKET"})
NOT_SOCKETS = frozenset({"pipe", "anon_inode", "net", "mnt", "pid", "user", "uts", "ipc", "cgroup", "time"})
# Sends that name where they go (sendto, sendmsg, sendmmsg), and calls that report the other end's address
# (the receives that name a source, accept, getpeername): rows of sctrace/model/registry.py.
SENDS = names(lambda c: c.direction is Direction.SEND and c.names_peer(out=False))
RECEIVES = names(lambda c: c.names_peer(out=True))
# A connect that failed with these never reached a socket: the descriptor was not open, or not a socket.
NO_SOCKET = frozenset({"EBADF", "ENOTSOCK"})

# UNIX sockets where the C library's name-service switch asks system daemons for users, groups and hosts
# (glibc's nscd client tries nscd first on every lookup, running or not; the nss modules of systemd and
# sssd talk varlink or their own protocol).  A runtime makes these calls on its own account, depending on
# the machine (HOME unset makes Python look up its user), not because of what the program does.
NAME_SERVICE_PATHS = frozenset({
    "/var/run/nscd/socket", "/run/nscd/socket",  # glibc nscd/nscd-client.h
    "/run/systemd/resolve/io.systemd.Resolve",  # nss-resolve
    "/run/systemd/machine/io.systemd.Machine",  # nss-mymachines
    "/var/lib/sss/pipes/nss",  # sssd's nss responder
})
NAME_SERVICE_DIRS = ("/run/systemd/userdb/",)  # nss-systemd: io.systemd.Multiplexer, io.systemd.DynamicUser, ...


def is_name_service(addr: Any) -> bool:
    """Whether a socket address is a system name-service daemon's socket (NAME_SERVICE_PATHS)."""
    if not isinstance(addr, dict) or addr.get("family") != "AF_UNIX" or addr.get("abstract"):
        return False
    path = addr.get("path")
    return isinstance(path, str) and (path in NAME_SERVICE_PATHS or path.startswith(NAME_SERVICE_DIRS))

_LISTENS = frozenset(names(lambda c: c.step in ("listen", "accept")))
_PASSES_RIGHTS = frozenset(names(lambda c: c.has(Kind.MSGHDR, Kind.MMSGHDR, out=False)))
# The calls that make descriptors; not fcntl's F_DUPFD, whose copies this walk does not follow.
_CREATES = frozenset(names(lambda c: c.creates not in (None, Creates.COPY_BY_COMMAND)))

Proc = tuple[int, int]  # (pid, generation): a pid that exits and comes back is another process


@dataclass(eq=False)
class Sock:
    """One socket as the walk over the trace learns about it (shared by every descriptor and process holding it)."""

    stream: bool = False
    guess: str = "S"  # the role an endpoint suggests, for a socket first seen in use (inherited, dup'd)
    listened: bool = False
    connected: bool = False  # a connection socket: returned by accept, or connect was called on it
    endpoint: str | None = None  # as last seen, to recognise the socket behind an unseen descriptor
    received: bool = False  # came in SCM_RIGHTS: its first use tells what it is
    alias: Sock | None = None  # the known socket a received descriptor turned out to be
    name_service: bool = False  # connected to a name-service daemon (is_name_service): the C library's

    def resolved(self) -> Sock:
        return self.alias.resolved() if self.alias is not None else self

    @property
    def kind(self) -> str:
        if self.name_service:
            return "N"
        if self.listened:
            return "L"
        if self.connected and self.stream:
            return "C"
        return self.guess

    @classmethod
    def from_endpoint(cls, endpoint: str | None) -> Sock:
        """A socket known only by its endpoint: connected if it has a peer, listening if a bound stream."""
        parts = split_endpoint(endpoint)
        if parts is None:
            return cls()
        proto, body = parts
        if proto not in STREAM_PROTOS:
            return cls(endpoint=endpoint)
        guess = "C" if "->" in body else "L" if inet_ports(endpoint) or "," in body else "S"
        return cls(stream=True, guess=guess, endpoint=endpoint)


def _stream_type(value: Any) -> bool:
    return str(value or "").split("|")[0] in STREAM_TYPES


def _rights(value: Any) -> list[int]:
    """The descriptors of every SCM_RIGHTS message inside value (a msghdr, an mmsghdr vector, ...)."""
    if isinstance(value, dict):
        own = value.get("fds") if value.get("type") == "SCM_RIGHTS" else None
        found = [n for n in own if isinstance(n, int)] if isinstance(own, list) else []
        return found + [n for k, v in value.items() if k != "fds" for n in _rights(v)]
    if isinstance(value, list):
        return [n for v in value for n in _rights(v)]
    return []


def _identify(table: dict[int, Sock], fd: int, endpoint: str | None) -> Sock:
    """The socket behind a descriptor whose origin the trace did not show (inherited, dup'd, received).

    An endpoint names one socket (an inode, or both ends of a connection), so
    a live socket last seen with the same endpoint is taken to be this one;
    otherwise the endpoint tells what kind of socket it is.
    """
    current = table.get(fd)
    same = [s for s in table.values() if s is not current and endpoint and s.endpoint == endpoint]
    found = same[0] if same and split_endpoint(endpoint) else Sock.from_endpoint(endpoint)
    if current is not None:  # received: the placeholder now stands for what it was found to be
        current.alias = found
    table[fd] = found
    return found


def _effects(ev: Event, table: dict[int, Sock], step: bool, shadow: dict[int, Sock]) -> dict[int, Sock]:
    """Update the descriptor table for one call; the sockets its descriptors name, in order of appearance.

    shadow holds, per descriptor number, the socket a newer one replaced while the number was still
    open in the table: in a threaded program a close frees its number before its exit is reported, so
    another thread's accept may take the number first in the trace.  The close names its socket by
    the endpoint it had when the close began, and that tells which of the two it closed.
    """
    args, name = ev.args, ev.name
    socks: dict[int, Sock] = {}
    fd, sock = args.get("fd"), None
    if name == "close" and isinstance(fd, int) and shadow:
        old = shadow.pop(fd, None)
        current = table.get(fd)
        if old is not None and ev.endpoint and old.endpoint == ev.endpoint and \
                (current is None or current.endpoint != ev.endpoint):
            return {fd: old} if step else {}  # the number still stands for the newer socket
    if step and isinstance(fd, int):
        sock = table.get(fd)
        if sock is None or (sock.received and ev.endpoint):
            sock = _identify(table, fd, ev.endpoint)
        socks[fd] = sock
        sock.endpoint = ev.endpoint or sock.endpoint
    if name in _PASSES_RIGHTS:
        socks.update((n, table[n]) for n in _rights(args) if n in table and n not in socks)
    if sock is not None:
        if name in _LISTENS:
            sock.listened = True
        elif name == "connect" and ev.errno not in NO_SOCKET:
            # Whatever came of it (done, in progress, refused, timed out), the program meant this socket for a
            # connection: its role must not depend on whether the peer was there (nor on blocking mode).
            sock.connected = True
            if is_name_service(args.get("addr")):
                sock.name_service = True
    if name == "close":
        if isinstance(fd, int) and ev.errno != "EBADF":
            table.pop(fd, None)
        return socks
    if name not in _CREATES or ev.errno is not None or not isinstance(ev.ret, int) or ev.ret < 0:
        return socks
    new: list[tuple[Any, Sock]] = []
    if name == "socket":
        new = [(ev.ret, Sock(stream=_stream_type(args.get("type")), endpoint=ev.ret_endpoint))]
    elif name in ("accept", "accept4"):
        new = [(ev.ret, Sock(stream=True, connected=True, endpoint=ev.ret_endpoint))]
    elif name == "socketpair" and isinstance(args.get("sv"), list):
        new = [(n, Sock(stream=_stream_type(args.get("type")))) for n in args["sv"]]
    elif name in ("recvmsg", "recvmmsg"):
        new = [(n, Sock(received=True)) for n in _rights(args)]
    elif name in ("dup", "dup2", "dup3"):
        old = args.get("arg0", args.get("oldfd"))
        if isinstance(old, int) and old in table:
            table[ev.ret] = table[old]
    for n, created in new:
        if isinstance(n, int):
            replaced = table.get(n)
            if replaced is not None and replaced is not created:
                shadow[n] = replaced
            table[n] = socks[n] = created
    return socks


@dataclass
class Walked:
    """What one walk over a trace found: its socket calls, and the ports among theirs that name a service.

    Socket call i is events[i], made by process procs[i] (an index into
    processes, which are in the order of their first socket call), with
    socks[i] the sockets behind its descriptors (the fd argument's, those
    passed or received in SCM_RIGHTS, the ones it created), in order of
    appearance.
    """

    events: list[Event]
    procs: list[int]
    socks: list[dict[int, Sock]]
    processes: list[Proc]
    service: set[int]
    lanes: list[str] = field(default_factory=list)  # each process's lane: "" for the program, "peer" for its peer


def walk(trace: Trace) -> Walked:
    """The socket calls of trace, each with its process and the sockets behind its descriptors; service ports.

    A socket call is a network call, or read/write/close/readv/writev on a
    socket.  Descriptor tables follow the process tree: a forked child starts
    with a copy of its parent's, a thread shares it.  A pid that exits starts
    a new generation, so a reused pid is a new process.
    """
    tables: dict[int, dict[int, Sock]] = {}
    shadows: dict[int, dict[int, Sock]] = {}  # id of a table (threads share one) -> its shadowed sockets (_effects)
    generation: dict[int, int] = {}
    current: dict[int, int] = {}  # pid -> its process (index in processes) while it has made socket calls
    walked = Walked([], [], [], [], set())
    events, procs, socks_of, processes = walked.events, walked.procs, walked.socks, walked.processes
    ports = _ServicePorts()
    on_socket, addressed = ports.on_socket, _ADDRESSED
    network, fd_io = syscalls.NETWORK, syscalls.FD_IO
    header = trace.header
    unseen_is_socket = header.backend == "ptrace" and not header.all_syscalls  # only sockets' I/O was recorded
    socket_endpoint: dict[str, bool] = {}  # endpoint -> whether it names a socket
    for ev in trace.events:
        kind = ev.type
        if kind == "syscall":
            name = ev.name
            if not name:
                continue
            pid = ev.pid
            table = tables.get(pid)
            if table is None:
                table = tables[pid] = {}
            if name in network:
                step = True
            elif name not in fd_io:
                step = False
            elif (endpoint := ev.endpoint) is not None:
                step_ = socket_endpoint.get(endpoint)
                if step_ is None:
                    parts = split_endpoint(endpoint)
                    step_ = socket_endpoint[endpoint] = parts is not None and parts[0] not in NOT_SOCKETS
                step = step_
            else:
                step = ev.args.get("fd") in table or unseen_is_socket
            shadow = shadows.get(id(table))
            if shadow is None:
                shadow = shadows[id(table)] = {}
            socks = _effects(ev, table, step, shadow)
            if not step:
                continue
            proc = current.get(pid)
            if proc is None:
                proc = current[pid] = len(processes)
                processes.append((pid, generation.get(pid, 0)))
                walked.lanes.append(ev.info.get("lane", "") if ev.info else "")
            events.append(ev)
            procs.append(proc)
            socks_of.append(socks)
            if socks:  # the calls on each socket, for the service ports of those that turn out listeners
                fd = ev.args.get("fd")
                if isinstance(fd, int) and fd in socks:
                    calls = on_socket.get(socks[fd])
                    if calls is None:
                        on_socket[socks[fd]] = [ev]
                    else:
                        calls.append(ev)
            if name in addressed:
                ports.addressed(ev)
        elif kind == "fork":
            child = ev.info.get("child")
            if isinstance(child, int):
                parent = tables.setdefault(ev.pid, {})
                tables[child] = parent if ev.info.get("thread") else dict(parent)
        elif kind in ("exit", "killed"):
            tables.pop(ev.pid, None)
            current.pop(ev.pid, None)
            generation[ev.pid] = generation.get(ev.pid, 0) + 1
    walked.service = ports.found()
    return walked


# -- ports ------------------------------------------------------------------------------------------

def _port(addr: Any) -> int | None:
    if isinstance(addr, dict) and addr.get("family") in INET_FAMILIES and isinstance(addr.get("port"), int):
        return int(addr["port"]) or None
    return None


def _addresses(ev: Event) -> list[Any]:
    """The socket addresses a send goes to or a receive reports, wherever the call keeps them."""
    args = ev.args
    out = [args.get("dest_addr"), args.get("src_addr"), args.get("addr")]
    msg = args.get("msg")
    if isinstance(msg, dict):
        out.append(msg.get("name"))
    for m in args.get("msgvec") or ():
        if isinstance(m, dict) and isinstance(hdr := m.get("msg_hdr"), dict):
            out.append(hdr.get("name"))
    return out


def _ports(ev: Event) -> list[int]:
    """The ports (not 0) of the addresses a send goes to or a receive reports."""
    return [p for addr in _addresses(ev) if addr is not None and (p := _port(addr))]


class _ServicePorts:
    """Ports that name a service: listened on, bound explicitly, connected or sent to.

    A destination first learned from a receive (a UDP server replying to its
    client) is not one: that port was the kernel's choice on the other side.
    The walk hands over the socket calls in trace order (on_socket, addressed);
    whether a socket listens is known only at the end, so the calls on each
    socket are kept until then (found).
    """

    def __init__(self) -> None:
        self.service: set[int] = set()
        self.learned: set[int] = set()
        self.on_socket: dict[Sock, list[Event]] = {}  # the calls on each socket (as first named)

    def addressed(self, ev: Event) -> None:
        """A call that names socket addresses (bind, connect, a send or a receive)."""
        name, args = ev.name, ev.args
        if name == "bind" or name == "connect":
            port = _port(args.get("addr"))
            if port:
                self.service.add(port)
        elif ports := _ports(ev):  # a send or a receive
            if name in SENDS:
                self.service.update(p for p in ports if p not in self.learned)
            else:
                self.learned.update(ports)

    def found(self) -> set[int]:
        """The service ports, once every call has been added."""
        service = self.service
        for sock, calls in self.on_socket.items():
            if sock.resolved().listened:
                for ev in calls:
                    if ev.name == "getsockname":
                        service.update(p for p in [_port(ev.args.get("addr"))] if p)
                    service.update(inet_ports(ev.endpoint)[:1])
        service.discard(0)
        return service


_ADDRESSED = frozenset({"bind", "connect", *SENDS, *RECEIVES})


class PortNames:
    """PORT1, PORT2, ... for service ports in the order they are asked for; EPHEMERAL for any other; 0 stays."""

    def __init__(self, service: set[int]) -> None:
        self.service = service
        self.names: dict[int, str] = {}

    def __call__(self, port: int) -> int | str:
        if port == 0:
            return 0
        if port in self.service:
            return self.names.setdefault(port, f"PORT{len(self.names) + 1}")
        return "EPHEMERAL"
