# SPDX-License-Identifier: GPL-2.0-or-later
"""Socket addresses: from the bytes a call passed to a JSON-ready dict, and back to strace's text.

The tracer copies the raw ``struct sockaddr`` out of the traced process; these
functions never touch the process.  Decoding into a dict first (instead of
straight to text) lets a saved trace be filtered and compared by field, and the
text is then produced from the dict alone, so a trace renders the same on any
machine.  The rules, including when an address is too short to decode and is
shown as ``sa_data``, are strace 6.1's.

Families decoded: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK.  Any other family is
kept as raw bytes and printed as ``sa_data="..."`` (strace decodes a few more,
such as AF_PACKET, field by field).  Nothing here raises on odd input.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from sctrace.model.escape import escape_bytes
from sctrace.model.xlat import ADDRESS_FAMILIES, AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, xval

SOCKADDR_STORAGE_SIZE = 128  # strace never reads more than sizeof(struct sockaddr_storage)
SUN_PATH_SIZE = 108
SIN_SIZE = 16
SIN6_MIN_SIZE = 24  # RFC 2133 size, without sin6_scope_id: still decoded
SNL_SIZE = 12

IfName = Callable[[int], str | None]


def system_ifname(index: int) -> str | None:
    """The local interface name for an index, as strace shows in ``if_nametoindex("lo")``.

    Only meaningful while tracing, on the traced machine; pass it to
    parse_sockaddr then so the name is stored in the trace.
    """
    try:
        return socket.if_indextoname(index)
    except (OSError, OverflowError, ValueError):
        return None


def family_name(family: int) -> str:
    """``AF_INET``, or ``AF_???(200)`` for a number no kernel names."""
    return xval(family, ADDRESS_FAMILIES, "AF_???")


def inet_ntop6(packed: bytes) -> str:
    """An IPv6 address in glibc's inet_ntop() text, done here so it does not depend on the host.

    The longest run of two or more zero groups (the first, on a tie) becomes
    ``::``; IPv4-compatible (``::a.b.c.d``) and IPv4-mapped (``::ffff:a.b.c.d``)
    addresses end in dotted quad, exactly as glibc writes them.
    """
    words = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    best_base, best_len, base, length = -1, 0, -1, 0
    for i, word in enumerate([*words, 1]):  # the sentinel closes a trailing run
        if word == 0:
            if base < 0:
                base, length = i, 0
            length += 1
            continue
        if base >= 0 and length > best_len:
            best_base, best_len = base, length
        base = -1
    if best_len < 2:
        best_base = -1
    parts: list[str] = []
    i = 0
    while i < 8:
        if i == best_base:
            parts.append("")
            if i == 0:
                parts.append("")
            i += best_len
            if i == 8:
                parts.append("")
            continue
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            parts.append(".".join(str(b) for b in packed[12:16]))
            break
        parts.append(f"{words[i]:x}")
        i += 1
    return ":".join(parts)


def _is_link_local(packed: bytes) -> bool:
    """fe80::/10 or link-local multicast: the addresses whose scope id strace shows as an interface."""
    unicast = packed[0] == 0xFE and packed[1] & 0xC0 == 0x80
    return unicast or (packed[0] == 0xFF and packed[1] & 0x0F == 0x02)


def _u32(data: bytes) -> int:
    return int.from_bytes(data[:4].ljust(4, b"\0"), "little")


def parse_sockaddr(data: bytes, addrlen: int, *, ifname: IfName | None = None) -> dict[str, Any]:
    """Decode a sockaddr the way strace does, into a dict that json.dumps() accepts.

    addrlen is the length the call was given; data is what could be read (it
    may be longer or, if the read fell short, shorter).  Keys:
    ``family`` (a name, or ``AF_???(n)``), then per family ``path``/``abstract``
    (AF_UNIX, path already escaped as strace quotes it), ``port``/``address``
    (AF_INET), ``port``/``flowinfo``/``address``/``scope_id`` (AF_INET6, with
    ``scope_ifname`` when ifname resolves a link-local scope), ``pid``/``groups``
    and a non-zero ``pad`` (AF_NETLINK).  An unknown family or an address too
    short for its family gives ``raw``: the hex of the bytes after sa_family.
    addrlen 0 gives {}; fewer than two bytes give only ``raw`` (all of them).
    """
    if addrlen <= 0:
        return {}
    buf = bytes(data[: min(addrlen, SOCKADDR_STORAGE_SIZE)])
    if len(buf) < 2:
        return {"raw": buf.hex()}
    family = int.from_bytes(buf[:2], "little")
    out: dict[str, Any] = {"family": family_name(family)}
    size = len(buf)
    if family == AF_UNIX:
        path = buf[2 : 2 + SUN_PATH_SIZE]
        if not path:
            return out
        if path[0] == 0:
            out.update(path="@" + escape_bytes(path[1:]), abstract=True)
        else:
            out["path"] = escape_bytes(path.split(b"\0", 1)[0])
        return out
    if family == AF_INET and size >= SIN_SIZE:
        out.update(port=int.from_bytes(buf[2:4], "big"), address=".".join(str(b) for b in buf[4:8]))
        return out
    if family == AF_INET6 and size >= SIN6_MIN_SIZE:
        packed = buf[8:24]
        out.update(port=int.from_bytes(buf[2:4], "big"), flowinfo=int.from_bytes(buf[4:8], "big"),
                   address=inet_ntop6(packed))
        if size > SIN6_MIN_SIZE:
            scope = _u32(buf[24:28])
            out["scope_id"] = scope
            name = ifname(scope) if ifname is not None and _is_link_local(packed) else None
            if name is not None:
                out["scope_ifname"] = name
        return out
    if family == AF_NETLINK and size >= SNL_SIZE:
        pad = int.from_bytes(buf[2:4], "little")
        if pad:
            out["pad"] = pad
        out.update(pid=int.from_bytes(buf[4:8], "little", signed=True), groups=_u32(buf[8:12]))
        return out
    out["raw"] = buf[2:].hex()
    return out


def _hex08(value: int) -> str:
    """C's %#08x: no 0x for zero, and the prefix counts toward the width."""
    return "00000000" if value == 0 else f"{value:#08x}"


def _c_string(text: str) -> str:
    """Escape a str from a hand-made or foreign dict the way a path from parse_sockaddr already is."""
    return escape_bytes(text.encode("utf-8", "surrogateescape"))


def _raw_bytes(d: dict[str, Any]) -> bytes:
    try:
        return bytes.fromhex(str(d.get("raw", "")))
    except ValueError:
        return b""


def format_sockaddr(d: dict[str, Any], addrlen: int, pointer: int | None = None) -> str:
    """strace's text for a dict from parse_sockaddr, e.g. ``{sa_family=AF_INET, sin_port=htons(80), ...}``.

    When there is no family to show (addrlen 0 or a one-byte address) strace
    prints the address argument itself: pass it as pointer to get ``0x7ffd...``
    (or ``NULL``); without it the result is ``{}``.  Missing or mistyped fields
    degrade to the raw form instead of raising.
    """
    family = d.get("family")
    if not isinstance(family, str):
        if pointer is None:
            return "{}"
        return "NULL" if pointer == 0 else f"{pointer:#x}"
    fields = [f"sa_family={family}"]
    try:
        if family == "AF_UNIX" and "path" in d:
            path = str(d["path"])
            if d.get("abstract"):
                fields.append(f'sun_path=@"{path[1:] if path.startswith("@") else path}"')
            else:
                fields.append(f'sun_path="{path}"')
        elif family == "AF_INET" and "address" in d:
            fields.append(f"sin_port=htons({int(d['port'])})")
            fields.append(f'sin_addr=inet_addr("{_c_string(str(d["address"]))}")')
        elif family == "AF_INET6" and "address" in d:
            fields.append(f"sin6_port=htons({int(d['port'])})")
            fields.append(f"sin6_flowinfo=htonl({int(d['flowinfo'])})")
            fields.append(f'inet_pton(AF_INET6, "{_c_string(str(d["address"]))}", &sin6_addr)')
            if "scope_id" in d and addrlen > SIN6_MIN_SIZE:
                if "scope_ifname" in d:
                    fields.append(f'sin6_scope_id=if_nametoindex("{_c_string(str(d["scope_ifname"]))}")')
                else:
                    fields.append(f"sin6_scope_id={int(d['scope_id'])}")
        elif family == "AF_NETLINK" and "pid" in d:
            if d.get("pad"):
                fields.append(f"nl_pad={int(d['pad']):#x}")
            fields.append(f"nl_pid={int(d['pid'])}")
            fields.append(f"nl_groups={_hex08(int(d['groups']))}")
        else:
            raw = _raw_bytes(d)
            if raw:
                fields.append(f'sa_data="{escape_bytes(raw)}"')
    except (KeyError, TypeError, ValueError):
        fields = fields[:1]
        raw = _raw_bytes(d)
        if raw:
            fields.append(f'sa_data="{escape_bytes(raw)}"')
    return "{" + ", ".join(fields) + "}"
