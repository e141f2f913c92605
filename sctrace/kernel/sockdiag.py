"""Questions to the kernel's sock_diag netlink interface that no socket call answers.

The peer of a connected UNIX socket (strace -yy's ``UNIX-STREAM:[9498->9499]``)
is known only to sock_diag; so is the state of a TCP connection whose socket the
program has already closed (FIN_WAIT2, TIME_WAIT: see tcpstates.py).  Constants
from include/uapi/linux/netlink.h, sock_diag.h, unix_diag.h and inet_diag.h.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
UDIAG_SHOW_PEER = 0x04
UNIX_DIAG_PEER = 2

_NLMSGHDR = struct.Struct("=IHHII")
_UNIX_DIAG_REQ = struct.Struct("=BBHIIIII")
_UNIX_DIAG_MSG = struct.Struct("=BBBBIII")
_RTATTR = struct.Struct("=HH")

_sock: socket.socket | None = None


def _netlink() -> socket.socket | None:
    global _sock
    if _sock is None:
        try:
            _sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
        except OSError:
            return None
    return _sock


def unix_peer(inode: int) -> int | None:
    """Inode of the peer of UNIX socket ``inode`` (in our network namespace), or None."""
    sock = _netlink()
    if sock is None or inode <= 0 or inode > 0xFFFFFFFF:
        return None
    req = _UNIX_DIAG_REQ.pack(socket.AF_UNIX, 0, 0, 0xFFFFFFFF, inode, UDIAG_SHOW_PEER, 0xFFFFFFFF, 0xFFFFFFFF)
    msg = _NLMSGHDR.pack(_NLMSGHDR.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0) + req
    try:
        sock.send(msg)
        data = sock.recv(8192)
    except OSError:
        return None
    if len(data) < _NLMSGHDR.size + _UNIX_DIAG_MSG.size:
        return None
    length, type_, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, 0)
    if type_ == NLMSG_ERROR:
        return None
    pos = _NLMSGHDR.size + _UNIX_DIAG_MSG.size
    end = min(length, len(data))
    while pos + _RTATTR.size <= end:
        rta_len, rta_type = _RTATTR.unpack_from(data, pos)
        if rta_len < _RTATTR.size:
            break
        if rta_type == UNIX_DIAG_PEER and rta_len >= _RTATTR.size + 4:
            peer = int.from_bytes(data[pos + 4 : pos + 8], "little")
            return peer or None
        pos += (rta_len + 3) & ~3
    return None


# -- TCP over INET_DIAG ------------------------------------------------------------------------------
# include/uapi/linux/netlink.h: a dump request, and the message that ends a dump.
NLM_F_DUMP = 0x300
NLMSG_DONE = 3
# include/uapi/linux/inet_diag.h: struct inet_diag_req_v2 is family, protocol, ext, pad, a state
# bit mask and struct inet_diag_sockid (sport, dport, src[4], dst[4], if, cookie[2]: 48 bytes);
# struct inet_diag_msg is family, state, timer, retrans, the sockid, expires, rqueue, wqueue, uid, inode.
_INET_DIAG_REQ_V2 = struct.Struct("=BBBxI48x")
_INET_DIAG_REQ_ONE = struct.Struct("=BBBxI2s2s16s16sIII")  # the same, with its sockid filled in
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
_INET_DIAG_MSG = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
# A request may carry a filter program (INET_DIAG_REQ_BYTECODE), made of struct inet_diag_bc_op
# (code, yes, no: jumps in bytes; a jump to the end accepts, one 4 bytes past it rejects).  S_EQ and
# D_EQ compare the local and remote port with the "no" field of the op that follows.
INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_BC_S_EQ, INET_DIAG_BC_D_EQ = 11, 12
_BC_OP = struct.Struct("=BBH")
# Every state of include/net/tcp_states.h but TCP_BOUND_INACTIVE (13), which is no state of a
# connection: the kernel reports a bound, unconnected socket so only when asked with that bit.
_ALL_TCP_STATES = ((1 << 13) - 1) & ~1


@dataclass(frozen=True)
class TcpEntry:
    """One TCP socket (or TIME_WAIT mini-socket, inode 0) as INET_DIAG lists it."""

    family: int
    state: int
    local: tuple[str, int]
    remote: tuple[str, int]
    inode: int


class InetDiag:
    """A NETLINK_SOCK_DIAG socket that lists the TCP sockets of the network namespace it was made in.

    A netlink socket belongs to the namespace of the process that created it, for as long as it
    lives: made once inside a traced program's namespace (netns.inside), it answers for that
    namespace even from outside, and keeps it, and its TIME_WAIT sockets, alive until closed.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
        self.sock.settimeout(2.0)  # the kernel answers at once; never hang the tracer on it
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def find(self, family: int, local: tuple[str, int], remote: tuple[str, int]) -> TcpEntry | None:
        """The one socket the kernel would deliver a packet from ``remote`` to ``local`` to, or None.

        An exact lookup, as for an arriving packet: the connection with that four-tuple (a
        TIME_WAIT one too), else the socket listening on ``local``.  It costs a hash lookup in the
        kernel, where a dump walks every bucket of the (host-wide) table.
        """
        self._seq += 1
        req = _INET_DIAG_REQ_ONE.pack(
            family, socket.IPPROTO_TCP, 0, _ALL_TCP_STATES,
            local[1].to_bytes(2, "big"), remote[1].to_bytes(2, "big"),
            _packed(family, local[0]), _packed(family, remote[0]), 0, INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE,
        )
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST,
                                      self._seq, 0) + req)
        while True:
            data = self.sock.recv(8192)
            if len(data) < _NLMSGHDR.size:
                return None
            length, type_, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, 0)
            if seq != self._seq:
                continue  # a late answer to an earlier question
            if type_ == NLMSG_ERROR:
                err = -int.from_bytes(data[16:20], "little", signed=True)
                if err in (0, errno.ENOENT):
                    return None
                raise OSError(err, "sock_diag refused the request")
            if length < _NLMSGHDR.size + _INET_DIAG_MSG.size or len(data) < length:
                return None
            return _tcp_entry(data, _NLMSGHDR.size)

    def tcp(self, family: int, sport: int | None = None, dport: int | None = None) -> list[TcpEntry]:
        """The TCP sockets of ``family`` (AF_INET or AF_INET6) in the namespace, in any state.

        With ``sport``/``dport``, only those with that local/remote port: the kernel filters, so a
        namespace holding thousands of TIME_WAIT sockets costs one short answer, not thousands.
        """
        self._seq += 1
        req = _INET_DIAG_REQ_V2.pack(family, socket.IPPROTO_TCP, 0, _ALL_TCP_STATES) + _port_filter(sport, dport)
        msg = _NLMSGHDR.pack(_NLMSGHDR.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                             self._seq, 0) + req
        self.sock.send(msg)
        entries: list[TcpEntry] = []
        while True:
            data = self.sock.recv(65536)
            pos = 0
            while pos + _NLMSGHDR.size <= len(data):
                length, type_, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, pos)
                if length < _NLMSGHDR.size:
                    return entries
                if seq == self._seq:
                    if type_ == NLMSG_DONE:
                        return entries
                    if type_ == NLMSG_ERROR:
                        err = -int.from_bytes(data[pos + 16 : pos + 20], "little", signed=True)
                        raise OSError(err, "sock_diag refused the request")
                    if length >= _NLMSGHDR.size + _INET_DIAG_MSG.size:
                        entries.append(_tcp_entry(data, pos + _NLMSGHDR.size))
                pos += (length + 3) & ~3


def _packed(family: int, address: str) -> bytes:
    return socket.inet_pton(family, address).ljust(16, b"\0")


def _port_filter(sport: int | None, dport: int | None) -> bytes:
    """The INET_DIAG_REQ_BYTECODE attribute that keeps the sockets with these ports (b"" for none)."""
    tests = [(code, port) for code, port in ((INET_DIAG_BC_S_EQ, sport), (INET_DIAG_BC_D_EQ, dport))
             if port is not None]
    if not tests:
        return b""
    program = b""
    for i, (code, port) in enumerate(tests):
        rest = 8 * (len(tests) - i)  # this test and those after it, in bytes
        program += _BC_OP.pack(code, 8, rest + 4) + _BC_OP.pack(0, 0, port)
    return _RTATTR.pack(_RTATTR.size + len(program), INET_DIAG_REQ_BYTECODE) + program


def _tcp_entry(data: bytes, pos: int) -> TcpEntry:
    family, state, _timer, _retrans, sport, dport, src, dst, _if, _cookie, _exp, _rq, _wq, _uid, inode = (
        _INET_DIAG_MSG.unpack_from(data, pos)
    )
    size = 4 if family == socket.AF_INET else 16
    return TcpEntry(
        family, state,
        (socket.inet_ntop(family, src[:size]), int.from_bytes(sport, "big")),
        (socket.inet_ntop(family, dst[:size]), int.from_bytes(dport, "big")),
        inode,
    )
