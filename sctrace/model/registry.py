"""Every system call sctrace knows, one row each: the one place to add or change a call.

The table works like strace's syscallent.h and python-ptrace's prototypes.  A
row says what sctrace knows about a call: its x86_64 number, its class (when
the tracer stops at it), its arguments and their kinds, the descriptor it acts
on, whether it makes descriptors, whether it changes a socket's addresses, its
direction, whether a program sleeps in it, its row in `sctrace matrix`, and
which one-line explanation it gets.

The other tables are made from this one, so they cannot drift apart:

- sctrace/model/syscalls.py: the classes and the sets the tracer and seccomp use;
- sctrace/model/strace_args.py: argument names, value-result lengths, buffers;
- sctrace/model/explain.py: which explanation each call gets;
- sctrace/compare/roles.py, call_rules.py, matrix.py: sends, receives, the
  calls that make descriptors, value-result calls, matrix steps.

tests/test_registry.py checks each made table against the literal it replaced.
Nothing here imports another sctrace module: every stage may read this table.
HACKING.md walks through a call from its row to the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import NamedTuple


class Class(Enum):
    """When the tracer stops at a call, and what it does there."""

    NETWORK = "network"  # always reported (strace's %network class)
    FD_IO = "fd-io"  # reported only when its descriptor is a socket
    FD_TABLE = "fd-table"  # never reported in socket mode, but followed: it changes which descriptors are sockets
    SECCOMP = "seccomp"  # never reported in socket mode, but followed: a filter of the program's own changes
    #                      how the tracer must stop (every call, so that nothing the filter refuses is missed)
    OTHER = "other"  # never stopped at (except with --all); known for strace logs, the rules and the peer driver


class Kind(Enum):
    """What an argument holds, which decides how it is decoded and compared."""

    FD = "descriptor"
    FD_PAIR = "two descriptors the kernel writes"  # socketpair's sv
    NUMBER = "number"
    CONST = "symbolic constant"
    FLAGS = "flag set"
    SOCKADDR = "socket address"
    LENGTH = "length passed by value"
    VALUE_RESULT = "length passed by pointer, which the kernel rewrites"  # strace's [128 => 16]
    BUFFER = "data buffer"  # the bytes moved are the call's result
    OPTVAL = "socket option value"  # an int ([1]) or bytes
    IOVEC = "iovec array"
    MSGHDR = "msghdr"
    MMSGHDR = "mmsghdr array"
    POINTER = "pointer"


class Direction(Enum):
    """What a call does with a socket, in one word."""

    SEND = "send"  # moves data out
    RECEIVE = "receive"  # moves data in
    WAIT = "wait"  # only waits for something to happen
    MODE = "mode"  # sets how a descriptor behaves (options, flags)
    LIFECYCLE = "lifecycle"  # makes, names, connects, shuts or releases a descriptor
    INSPECT = "inspect"  # only reads a socket's state


class Creates(Enum):
    """How a call makes descriptors."""

    NEW = "returns a new socket"
    PAIR = "writes two new sockets into an argument"
    RIGHTS = "may receive descriptors in SCM_RIGHTS"
    COPY = "returns a copy of a descriptor"
    COPY_BY_COMMAND = "returns a copy for some commands (fcntl's F_DUPFD, F_DUPFD_CLOEXEC)"


class Endpoint(Enum):
    """How a call may change a socket's addresses, so the tracer asks the kernel again."""

    SETS = "sets an address"
    AUTOBINDS = "binds a socket not yet bound"


class Arg(NamedTuple):
    """One argument: its name as strace prints it, its kind, and what it needs to be read."""

    name: str
    kind: Kind
    out: bool = False  # the kernel writes it (a returned address, a filled buffer)
    size: str | None = None  # the argument that gives its size (a buffer's, an address's, an array's count)
    xlat: str | None = None  # the table in sctrace/model/xlat.py that names its values
    peer: bool = False  # an address of the other end, not of the socket itself


class Syscall(NamedTuple):
    """One row: what sctrace knows about one system call."""

    name: str
    nr: int | None  # the x86_64 number; None for a name other architectures use (recv, send)
    cls: Class
    args: tuple[Arg, ...] | None = None  # None: not described (strace logs name them arg0, arg1, ...)
    acts_on: int | None = None  # the position of the descriptor it acts on
    creates: Creates | None = None
    endpoint: Endpoint | None = None
    direction: Direction | None = None
    waits: bool = False  # a program may sleep in it until input arrives (what sctrace/peer/driver.py looks for)
    step: str | None = None  # its row in `sctrace matrix` (sctrace/compare/matrix.py STEPS)
    explain: str | None = None  # its explanation in sctrace/model/explain.py EXPLAINERS
    log_names: bool = True  # False: strace logs keep arg0, arg1, ... (naming them would change how logs read)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args or ())

    def has(self, *kinds: Kind, out: bool | None = None) -> bool:
        """Whether an argument is of one of kinds; with out, only those the kernel writes (True) or reads (False).

        Most derived sets are questions of this shape: a value-result length, a msghdr received.
        """
        return any(a.kind in kinds and (out is None or a.out == out) for a in self.args or ())

    def names_peer(self, *, out: bool) -> bool:
        """Whether the call gives (out=False) or reports (out=True) the address of the other end.

        A msghdr carries one (msg_name), so sendmsg and recvmsg name a peer too.
        """
        return any(a.out == out and (a.peer or a.kind in (Kind.MSGHDR, Kind.MMSGHDR)) for a in self.args or ())


# Arguments that many calls share.

FD = Arg("fd", Kind.FD)
_ADDR_IN_LOCAL = (FD, Arg("addr", Kind.SOCKADDR, size="addrlen"), Arg("addrlen", Kind.LENGTH))
_ADDR_IN_PEER = (FD, Arg("addr", Kind.SOCKADDR, size="addrlen", peer=True), Arg("addrlen", Kind.LENGTH))
_ADDR_OUT_PEER = (FD, Arg("addr", Kind.SOCKADDR, out=True, size="addrlen", peer=True),
                  Arg("addrlen", Kind.VALUE_RESULT))
_ADDR_OUT_LOCAL = (FD, Arg("addr", Kind.SOCKADDR, out=True, size="addrlen"), Arg("addrlen", Kind.VALUE_RESULT))
_SOCKET = (Arg("domain", Kind.CONST, xlat="ADDRESS_FAMILIES"), Arg("type", Kind.CONST, xlat="SOCKET_TYPES"),
           Arg("protocol", Kind.CONST, xlat="IP_PROTOCOLS"))
_LEVEL = Arg("level", Kind.CONST, xlat="SOCKET_LEVELS")
_OPTNAME = Arg("optname", Kind.CONST, xlat="SOCKET_OPTIONS")
_MSG_FLAGS = Arg("flags", Kind.FLAGS, xlat="MSG_FLAGS")
_SOCK_FLAGS = Arg("flags", Kind.FLAGS, xlat="SOCKET_TYPE_FLAGS")


def _io(out: bool, *extra: Arg) -> tuple[Arg, ...]:
    return (FD, Arg("buf", Kind.BUFFER, out=out, size="count"), Arg("count", Kind.NUMBER), *extra)


def _iov(out: bool, *extra: Arg) -> tuple[Arg, ...]:
    return (FD, Arg("iov", Kind.IOVEC, out=out, size="iovcnt"), Arg("iovcnt", Kind.NUMBER), *extra)


_OFFSET = Arg("offset", Kind.NUMBER)
_RWF = Arg("flags", Kind.FLAGS)

_N, _IO, _T, _O, _S = Class.NETWORK, Class.FD_IO, Class.FD_TABLE, Class.OTHER, Class.SECCOMP
_SEND, _RECV, _WAIT, _MODE, _LIFE, _INSPECT = (Direction.SEND, Direction.RECEIVE, Direction.WAIT, Direction.MODE,
                                               Direction.LIFECYCLE, Direction.INSPECT)

# From arch/x86/entry/syscalls/syscall_64.tbl (Linux 6.x), "common"/"64" rows.  In number order.
REGISTRY: tuple[Syscall, ...] = (
    Syscall("read", 0, _IO, _io(True), acts_on=0, direction=_RECV, waits=True, step="receive", explain="recv"),
    Syscall("write", 1, _IO, _io(False), acts_on=0, direction=_SEND, step="send", explain="send"),
    Syscall("close", 3, _IO, (FD,), acts_on=0, direction=_LIFE, step="close", explain="close"),
    Syscall("fstat", 5, _O, acts_on=0),
    Syscall("poll", 7, _O, direction=_WAIT, waits=True),
    Syscall("lseek", 8, _O, acts_on=0),
    Syscall("ioctl", 16, _O, acts_on=0, direction=_MODE, step="options"),
    Syscall("pread64", 17, _O, _io(True, _OFFSET), acts_on=0),
    Syscall("pwrite64", 18, _O, _io(False, _OFFSET), acts_on=0),
    Syscall("readv", 19, _IO, _iov(True), acts_on=0, direction=_RECV, waits=True, step="receive", explain="readv"),
    Syscall("writev", 20, _IO, _iov(False), acts_on=0, direction=_SEND, step="send", explain="writev"),
    Syscall("select", 23, _O, direction=_WAIT, waits=True),
    Syscall("dup", 32, _T, (Arg("oldfd", Kind.FD),), acts_on=0, creates=Creates.COPY, direction=_LIFE),
    Syscall("dup2", 33, _T, (Arg("oldfd", Kind.FD), Arg("newfd", Kind.FD)), acts_on=0, creates=Creates.COPY,
            direction=_LIFE),
    Syscall("sendfile", 40, _O, acts_on=0),
    Syscall("socket", 41, _N, _SOCKET, creates=Creates.NEW, direction=_LIFE, step="create", explain="socket"),
    Syscall("connect", 42, _N, _ADDR_IN_PEER, acts_on=0, endpoint=Endpoint.SETS, direction=_LIFE, step="connect",
            explain="connect"),
    Syscall("accept", 43, _N, _ADDR_OUT_PEER, acts_on=0, creates=Creates.NEW, direction=_LIFE, waits=True,
            step="accept", explain="accept"),
    Syscall("sendto", 44, _N,
            (FD, Arg("buf", Kind.BUFFER, size="len"), Arg("len", Kind.NUMBER), _MSG_FLAGS,
             Arg("dest_addr", Kind.SOCKADDR, size="addrlen", peer=True), Arg("addrlen", Kind.LENGTH)),
            acts_on=0, endpoint=Endpoint.AUTOBINDS, direction=_SEND, step="send", explain="send"),
    Syscall("recvfrom", 45, _N,
            (FD, Arg("buf", Kind.BUFFER, out=True, size="len"), Arg("len", Kind.NUMBER), _MSG_FLAGS,
             Arg("src_addr", Kind.SOCKADDR, out=True, size="addrlen", peer=True), Arg("addrlen", Kind.VALUE_RESULT)),
            acts_on=0, direction=_RECV, waits=True, step="receive", explain="recv"),
    Syscall("sendmsg", 46, _N, (FD, Arg("msg", Kind.MSGHDR), _MSG_FLAGS), acts_on=0, endpoint=Endpoint.AUTOBINDS,
            direction=_SEND, step="send", explain="sendmsg"),
    Syscall("recvmsg", 47, _N, (FD, Arg("msg", Kind.MSGHDR, out=True), _MSG_FLAGS), acts_on=0,
            creates=Creates.RIGHTS, direction=_RECV, waits=True, step="receive", explain="recvmsg"),
    Syscall("shutdown", 48, _N, (FD, Arg("how", Kind.CONST, xlat="SHUTDOWN_HOW")), acts_on=0, direction=_LIFE,
            step="shutdown", explain="shutdown"),
    Syscall("bind", 49, _N, _ADDR_IN_LOCAL, acts_on=0, endpoint=Endpoint.SETS, direction=_LIFE, step="bind",
            explain="bind"),
    Syscall("listen", 50, _N, (FD, Arg("backlog", Kind.NUMBER)), acts_on=0, endpoint=Endpoint.SETS,
            direction=_LIFE, step="listen", explain="listen"),
    Syscall("getsockname", 51, _N, _ADDR_OUT_LOCAL, acts_on=0, direction=_INSPECT, step="inspect",
            explain="local_name"),
    Syscall("getpeername", 52, _N, _ADDR_OUT_PEER, acts_on=0, direction=_INSPECT, step="inspect",
            explain="peer_name"),
    Syscall("socketpair", 53, _N, (*_SOCKET, Arg("sv", Kind.FD_PAIR, out=True)), creates=Creates.PAIR,
            direction=_LIFE, step="create", explain="socketpair"),
    Syscall("setsockopt", 54, _N,
            (FD, _LEVEL, _OPTNAME, Arg("optval", Kind.OPTVAL, size="optlen"), Arg("optlen", Kind.LENGTH)),
            acts_on=0, direction=_MODE, step="options", explain="setsockopt"),
    Syscall("getsockopt", 55, _N,
            (FD, _LEVEL, _OPTNAME, Arg("optval", Kind.OPTVAL, out=True, size="optlen"),
             Arg("optlen", Kind.VALUE_RESULT)),
            acts_on=0, direction=_INSPECT, step="inspect", explain="getsockopt"),
    Syscall("wait4", 61, _O, direction=_WAIT, waits=True),
    Syscall("fcntl", 72, _T,
            (FD, Arg("cmd", Kind.CONST, xlat="FCNTL_COMMANDS"), Arg("arg", Kind.NUMBER)),
            acts_on=0, creates=Creates.COPY_BY_COMMAND, direction=_MODE, step="options"),
    Syscall("flock", 73, _O, acts_on=0),
    Syscall("fsync", 74, _O, acts_on=0),
    Syscall("fdatasync", 75, _O, acts_on=0),
    Syscall("ftruncate", 77, _O, acts_on=0),
    Syscall("fchmod", 91, _O, acts_on=0),
    Syscall("fchown", 93, _O, acts_on=0),
    Syscall("fstatfs", 138, _O, acts_on=0),
    # A program that installs a seccomp filter of its own is traced at every call from then on.
    Syscall("prctl", 157, _S, (Arg("option", Kind.NUMBER), Arg("arg2", Kind.NUMBER), Arg("arg3", Kind.NUMBER),
                               Arg("arg4", Kind.NUMBER), Arg("arg5", Kind.NUMBER)), direction=Direction.MODE),
    Syscall("futex", 202, _O, direction=_WAIT, waits=True),  # a thread waiting for another
    Syscall("getdents64", 217, _O, acts_on=0),
    Syscall("fadvise64", 221, _O, acts_on=0),
    Syscall("epoll_wait", 232, _O, acts_on=0, direction=_WAIT, waits=True),
    Syscall("epoll_ctl", 233, _O, acts_on=0),
    Syscall("waitid", 247, _O, direction=_WAIT, waits=True),
    Syscall("pselect6", 270, _O, direction=_WAIT, waits=True),
    Syscall("ppoll", 271, _O, direction=_WAIT, waits=True),
    # A thread that unshares CLONE_FILES gets a descriptor table of its own: followed, never reported.
    Syscall("unshare", 272, _T, (Arg("flags", Kind.FLAGS, xlat="CLONE_FLAGS"),), direction=_LIFE),
    Syscall("splice", 275, _O, acts_on=0),
    Syscall("tee", 276, _O, acts_on=0),
    Syscall("epoll_pwait", 281, _O, acts_on=0, direction=_WAIT, waits=True),
    Syscall("fallocate", 285, _O, acts_on=0),
    Syscall("accept4", 288, _N, (*_ADDR_OUT_PEER, _SOCK_FLAGS), acts_on=0, creates=Creates.NEW, direction=_LIFE,
            waits=True, step="accept", explain="accept"),
    Syscall("dup3", 292, _T, (Arg("oldfd", Kind.FD), Arg("newfd", Kind.FD), Arg("flags", Kind.FLAGS, xlat="O_FLAGS")),
            acts_on=0, creates=Creates.COPY, direction=_LIFE),
    Syscall("preadv", 295, _O, _iov(True, _OFFSET), acts_on=0, log_names=False),
    Syscall("pwritev", 296, _O, _iov(False, _OFFSET), acts_on=0, log_names=False),
    Syscall("recvmmsg", 299, _N,
            (FD, Arg("msgvec", Kind.MMSGHDR, out=True, size="vlen"), Arg("vlen", Kind.NUMBER), _MSG_FLAGS,
             Arg("timeout", Kind.POINTER)),
            acts_on=0, creates=Creates.RIGHTS, direction=_RECV, waits=True, step="receive", explain="recvmmsg"),
    Syscall("syncfs", 306, _O, acts_on=0),
    Syscall("sendmmsg", 307, _N,
            (FD, Arg("msgvec", Kind.MMSGHDR, size="vlen"), Arg("vlen", Kind.NUMBER), _MSG_FLAGS),
            acts_on=0, endpoint=Endpoint.AUTOBINDS, direction=_SEND, step="send", explain="sendmmsg"),
    Syscall("seccomp", 317, _S, (Arg("operation", Kind.NUMBER), Arg("flags", Kind.NUMBER),
                                 Arg("args", Kind.POINTER)), direction=Direction.MODE),
    Syscall("preadv2", 327, _O, _iov(True, _OFFSET, _RWF), acts_on=0, log_names=False),
    Syscall("pwritev2", 328, _O, _iov(False, _OFFSET, _RWF), acts_on=0, log_names=False),
    Syscall("close_range", 436, _T,
            (Arg("first", Kind.NUMBER), Arg("last", Kind.NUMBER), Arg("flags", Kind.FLAGS, xlat="CLOSE_RANGE_FLAGS")),
            direction=_LIFE),
    Syscall("epoll_pwait2", 441, _O, acts_on=0, direction=_WAIT, waits=True),
    # No x86_64 call has these names (x86_64 has only recvfrom and sendto); other architectures' strace logs
    # may show them, and the comparison rules and the matrix know them.
    Syscall("recv", None, _O, acts_on=0, direction=_RECV, waits=True, step="receive"),
    Syscall("send", None, _O, acts_on=0, direction=_SEND, step="send"),
)

BY_NAME: dict[str, Syscall] = {c.name: c for c in REGISTRY}


def names(keep: Callable[[Syscall], bool]) -> tuple[str, ...]:
    """The names of the calls keep accepts, in the table's order."""
    return tuple(c.name for c in REGISTRY if keep(c))


def numbers(cls: Class) -> dict[str, int]:
    """Name -> x86_64 number of the calls of one class, in number order."""
    return {c.name: c.nr for c in REGISTRY if c.cls is cls and c.nr is not None}


# The numbers of the calls a program sleeps in while it waits for input (what the peer driver watches for).
WAITING_NUMBERS = frozenset(c.nr for c in REGISTRY if c.waits and c.nr is not None)
