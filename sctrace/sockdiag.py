"""Questions to the kernel's sock_diag netlink interface that no socket call answers.

The peer of a connected UNIX socket (strace -yy's ``UNIX-STREAM:[9498->9499]``)
is known only to sock_diag.  Constants from include/uapi/linux/netlink.h,
sock_diag.h and unix_diag.h.
"""

from __future__ import annotations

import socket
import struct

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
