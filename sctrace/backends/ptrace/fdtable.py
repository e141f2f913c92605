"""Which descriptors of a traced process are sockets, and what each socket is.

A SocketTable maps descriptor numbers to Socket objects.  Threads that share
their descriptor table (CLONE_FILES) share one SocketTable; fork copies it; a
duplicated descriptor shares the Socket of its original, so what one learns
the other sees.  After an exec the table is checked against /proc, which
applies close-on-exec without our having to follow every F_SETFD.

What a socket is (family, type, its addresses, its inode) is asked of the
kernel itself: pidfd_getfd(2) lends us the tracee's socket and we ask it with
getsockname/getpeername, the same answers strace -yy gets from sock_diag.  The
answer is cached until a call that may change it (bind, connect, ...), so a
stream of reads and writes costs no extra system call.
"""

from __future__ import annotations

import ctypes
import os
import socket as _socket
import stat
from dataclasses import dataclass
from typing import Any

SYS_PIDFD_GETFD = 438  # arch/x86/entry/syscalls/syscall_64.tbl
PIDFD_THREAD = os.O_EXCL  # include/uapi/linux/pidfd.h

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

# strace -yy's protocol names (its /proc/net/* and sock_diag tables).
_INET_NAMES: dict[tuple[int, int], str] = {
    (_socket.AF_INET, _socket.SOCK_STREAM): "TCP",
    (_socket.AF_INET6, _socket.SOCK_STREAM): "TCPv6",
    (_socket.AF_INET, _socket.SOCK_DGRAM): "UDP",
    (_socket.AF_INET6, _socket.SOCK_DGRAM): "UDPv6",
    (_socket.AF_INET, _socket.SOCK_RAW): "RAW",
    (_socket.AF_INET6, _socket.SOCK_RAW): "RAWv6",
}
_INET_FAMILIES = (_socket.AF_INET, _socket.AF_INET6)
TCP_CLOSE = 7  # include/net/tcp_states.h
_UNIX_NAMES: dict[int, str] = {
    _socket.SOCK_STREAM: "UNIX-STREAM",
    _socket.SOCK_DGRAM: "UNIX-DGRAM",
    _socket.SOCK_SEQPACKET: "UNIX-SEQPACKET",
}


@dataclass
class Socket:
    """One kernel socket, as last asked."""

    inode: int
    family: int = 0
    type: int = 0
    protocol: int = 0
    local: Any = None
    peer: Any = None
    peer_inode: int | None = None
    endpoint: str = ""
    stale: bool = False
    bound: bool = False  # a bind() on it succeeded (its port outlives a failed connect)
    tcp_state: int | None = None


def _inet_text(family: int, addr: Any) -> str:
    host, port = addr[0], addr[1]
    if family == _socket.AF_INET6:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _unix_name(addr: Any) -> str:
    """A UNIX socket's name, escaped as strace does (a path is bytes chosen by the program)."""
    from sctrace.model.escape import escape_bytes

    if isinstance(addr, bytes):  # abstract names come back as bytes
        return "@" + escape_bytes(addr[1:]) if addr[:1] == b"\0" else escape_bytes(addr)
    return escape_bytes(os.fsencode(addr)) if addr else ""


def describe(sock: Socket) -> str:
    """strace -yy's text for a socket, without the descriptor number."""
    proto = _INET_NAMES.get((sock.family, sock.type))
    if proto is not None:
        local_port = sock.local[1] if sock.local else 0
        if sock.tcp_state == TCP_CLOSE and not sock.bound and not sock.peer:
            local_port = 0  # a failed connect gave its port back: the kernel lists it nowhere
        if sock.peer:
            return f"{proto}:[{_inet_text(sock.family, sock.local)}->{_inet_text(sock.family, sock.peer)}]"
        if local_port:
            return f"{proto}:[{_inet_text(sock.family, sock.local)}]"
        return f"{proto}:[{sock.inode}]"
    if sock.family == _socket.AF_UNIX:
        name = _UNIX_NAMES.get(sock.type, "UNIX")
        inner = str(sock.inode)
        if sock.peer_inode:
            inner += f"->{sock.peer_inode}"
        if isinstance(sock.local, bytes) and sock.local[:1] == b"\0":
            inner += f',@"{_unix_name(sock.local)[1:]}"'  # abstract: strace puts @ outside the quotes
        elif sock.local:
            inner += f',"{_unix_name(sock.local)}"'
        return f"{name}:[{inner}]"
    if sock.family == _socket.AF_NETLINK:
        return f"NETLINK:[{sock.inode}]"
    return f"socket:[{sock.inode}]"


class Prober:
    """Asks the kernel about a tracee's descriptor through a pidfd of its process."""

    def __init__(self) -> None:
        self._pidfds: dict[int, int] = {}
        self.available = hasattr(os, "pidfd_open")

    def _pidfd(self, tgid: int) -> int | None:
        """A pidfd of the process, or of the thread when tgid is a thread with descriptors of its own."""
        fd = self._pidfds.get(tgid)
        if fd is None:
            try:
                fd = os.pidfd_open(tgid)
            except OSError:
                try:
                    fd = os.pidfd_open(tgid, PIDFD_THREAD)  # Linux 6.9; before it, /proc/TID/fd serves
                except OSError:
                    return None
            self._pidfds[tgid] = fd
        return fd

    def forget(self, tgid: int) -> None:
        fd = self._pidfds.pop(tgid, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for tgid in list(self._pidfds):
            self.forget(tgid)

    def probe(self, tgid: int, fd: int, into: Socket | None = None) -> Socket | None:
        """The socket at ``fd`` in process ``tgid``, or None if it is not a socket."""
        pidfd = self._pidfd(tgid) if self.available else None
        if pidfd is None:
            return self._probe_proc(tgid, fd, into)
        mine = _syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if mine < 0:
            return self._probe_proc(tgid, fd, into)
        try:
            st = os.fstat(mine)
            if not stat.S_ISSOCK(st.st_mode):
                return None
            sock = into if into is not None and into.inode == st.st_ino else Socket(st.st_ino)
            s = _socket.socket(fileno=mine)
            try:
                sock.family, sock.type, sock.protocol = int(s.family), int(s.type), s.proto
                try:
                    sock.local = s.getsockname()
                except OSError:
                    sock.local = None
                if sock.type == _socket.SOCK_STREAM and sock.family in _INET_FAMILIES:
                    try:
                        sock.tcp_state = s.getsockopt(_socket.IPPROTO_TCP, _socket.TCP_INFO, 8)[0]
                    except OSError:
                        sock.tcp_state = None
                connected = False
                try:
                    sock.peer = s.getpeername()
                    connected = True
                except OSError:
                    pass  # not connected, or no longer: keep what we knew (as strace -yy does)
            finally:
                s.detach()
        finally:
            os.close(mine)
        sock.stale = False
        if sock.family == _socket.AF_UNIX and sock.peer_inode is None:
            sock.peer_inode = unix_peer_inode(sock.inode)
            # A connection not yet accepted has a peer with no inode yet: ask again next time.
            sock.stale = connected and sock.peer_inode is None
        sock.endpoint = describe(sock)
        return sock

    @staticmethod
    def _probe_proc(tgid: int, fd: int, into: Socket | None) -> Socket | None:
        """Fallback without pidfd_getfd: /proc tells only that it is a socket and its inode."""
        try:
            link = os.readlink(f"/proc/{tgid}/fd/{fd}")
        except OSError:
            return None
        if not link.startswith("socket:["):
            return None
        inode = int(link[8:-1])
        sock = into if into is not None and into.inode == inode else Socket(inode)
        sock.endpoint = f"socket:[{inode}]"
        sock.stale = False
        return sock


def unix_peer_inode(inode: int) -> int | None:
    """The peer of a connected UNIX socket, from sock_diag; None when unknown."""
    from sctrace.kernel.sockdiag import unix_peer

    return unix_peer(inode)


class SocketTable:
    """descriptor number -> Socket, for one descriptor table (see module doc).

    A socket can also reach a process by a way the tracer does not follow (io_uring's socket
    operation, pidfd_getfd, a descriptor passed in by a parent that was not traced).  So a read,
    write or close of a descriptor the table does not know is looked up once in /proc (look_up), and
    a descriptor found not to be a socket is remembered (not_sockets) until it is closed or replaced.
    """

    __slots__ = ("socks", "not_sockets", "owner")

    def __init__(self, owner: int, socks: dict[int, Socket] | None = None,
                 not_sockets: set[int] | None = None) -> None:
        # owner: the task whose /proc/OWNER/fd (and pidfd) shows this table: the process, or a thread that
        # made a table of its own with unshare(CLONE_FILES).
        self.owner = owner
        self.socks: dict[int, Socket] = socks if socks is not None else {}
        self.not_sockets: set[int] = not_sockets if not_sockets is not None else set()

    def copy(self, owner: int) -> SocketTable:
        """The table as a new process (fork) or thread (unshare(CLONE_FILES)) starts with it."""
        return SocketTable(owner, dict(self.socks), set(self.not_sockets))

    def look_up(self, fd: int, prober: Prober) -> Socket | None:
        """The socket at fd, which the table does not know, as /proc/OWNER/fd shows it; None if none."""
        if fd in self.not_sockets:
            return None
        owner = self.owner
        try:
            link = os.readlink(f"/proc/{owner}/fd/{fd}")
        except OSError:
            return None  # not open (the call fails with EBADF), or the process is gone
        if not link.startswith("socket:["):
            self.not_sockets.add(fd)
            return None
        sock = prober.probe(owner, fd)
        if sock is not None:
            self.socks[fd] = sock
        return sock

    def forget_kind(self, first: int, last: int | None = None) -> None:
        """Descriptors first..last were closed or replaced: what they were is unknown again."""
        if last is None:
            self.not_sockets.discard(first)
        else:
            self.not_sockets.difference_update([fd for fd in self.not_sockets if first <= fd <= last])

    def get(self, fd: int) -> Socket | None:
        return self.socks.get(fd)

    def add(self, fd: int, sock: Socket) -> None:
        self.socks[fd] = sock

    def drop(self, fd: int) -> None:
        self.socks.pop(fd, None)

    def duplicate(self, old: int, new: int) -> None:
        """dup2-like: ``new`` now refers to what ``old`` refers to (maybe not a socket)."""
        sock = self.socks.get(old)
        if sock is None:
            self.socks.pop(new, None)
        else:
            self.socks[new] = sock

    def drop_range(self, first: int, last: int) -> None:
        for fd in [fd for fd in self.socks if first <= fd <= last]:
            del self.socks[fd]

    def any_in_range(self, first: int, last: int) -> bool:
        return any(first <= fd <= last for fd in self.socks)

    def resync(self, tgid: int, prober: Prober) -> None:
        """Make the table agree with /proc/TGID/fd (after exec, or at start)."""
        self.not_sockets.clear()  # close-on-exec may have closed any of them
        try:
            names = os.listdir(f"/proc/{tgid}/fd")
        except OSError:
            return
        present: dict[int, int] = {}
        for name in names:
            try:
                link = os.readlink(f"/proc/{tgid}/fd/{name}")
            except OSError:
                continue
            if link.startswith("socket:["):
                present[int(name)] = int(link[8:-1])
        for fd in list(self.socks):
            if present.get(fd) != self.socks[fd].inode:
                del self.socks[fd]
        for fd in present:
            if fd not in self.socks:
                sock = prober.probe(tgid, fd)
                if sock is not None:
                    self.socks[fd] = sock
