"""Socket endpoints as ``strace -yy`` writes them, read and normalized.

An endpoint names the socket behind a descriptor: ``TCP:[755897]`` (an inode),
``TCP:[127.0.0.1:80->127.0.0.1:5000]`` (local and peer address),
``UNIX-STREAM:[7->8,"/tmp/s"]``.  Inodes and ports differ from run to run, so
the normalized form writes INODE and whatever name the port is given (PORT1,
EPHEMERAL).
"""

from __future__ import annotations

import re
from collections.abc import Callable

INET_FAMILIES = ("AF_INET", "AF_INET6")
STREAM_PROTOS = frozenset({"TCP", "TCPv6", "UNIX-STREAM", "UNIX-SEQPACKET", "SCTP", "SCTPv6", "MPTCP", "MPTCPv6"})

_ENDPOINT = re.compile(r"(?P<proto>[A-Za-z][\w-]*):\[(?P<body>.*)\]", re.S)
_HOSTPORT = re.compile(r"(?P<host>\[[^\]]*\]|[^\[\]:]*):(?P<port>\d+)")
_UNIX_BODY = re.compile(r"(?P<inode>\d+)(?P<peer>->\d+)?(?P<rest>,.*)?", re.S)


def split_endpoint(endpoint: str | None) -> tuple[str, str] | None:
    """(protocol, body) of ``proto:[body]``; None for any other form (a file, a pipe's ``pipe:[7]`` is one)."""
    m = _ENDPOINT.fullmatch(endpoint) if endpoint else None
    return (m["proto"], m["body"]) if m else None


def inet_ports(endpoint: str | None) -> list[int]:
    """The ports of an IP endpoint, local first: ``TCP:[127.0.0.1:80->127.0.0.1:5000]`` -> [80, 5000]."""
    parts = split_endpoint(endpoint)
    if parts is None or parts[0].startswith("UNIX"):
        return []
    found = [_HOSTPORT.fullmatch(side) for side in parts[1].split("->")]
    return [int(m["port"]) for m in found if m is not None]


def normalize_endpoint(endpoint: str, port_name: Callable[[int], int | str]) -> str:
    """endpoint with inodes as INODE and ports as port_name(port) gives them (PORT1, EPHEMERAL).

    A form this does not know is returned unchanged rather than guessed at.
    """
    parts = split_endpoint(endpoint)
    if parts is None:
        return endpoint
    proto, body = parts
    if body.isdigit():
        return f"{proto}:[INODE]"
    if proto.startswith("UNIX"):
        m = _UNIX_BODY.fullmatch(body)
        if m is None:
            return endpoint
        return f"{proto}:[INODE{'->INODE' if m['peer'] else ''}{m['rest'] or ''}]"
    sides = []
    for side in body.split("->"):
        m = _HOSTPORT.fullmatch(side)
        if m is None:
            return endpoint
        sides.append(f"{m['host']}:{port_name(int(m['port']))}")
    return f"{proto}:[{'->'.join(sides)}]"


class EndpointNames:
    """normalize_endpoint with one port namer, remembered per endpoint (a connection's calls all share one).

    Remembering is safe because the namer only ever gives a port the name it
    gave it before: asking again for the ports of an endpoint already seen
    names nothing new.
    """

    def __init__(self, port_name: Callable[[int], int | str]) -> None:
        self.port_name = port_name
        self.known: dict[str, str] = {}

    def __call__(self, endpoint: str) -> str:
        known = self.known.get(endpoint)
        if known is None:
            known = self.known[endpoint] = normalize_endpoint(endpoint, self.port_name)
        return known
