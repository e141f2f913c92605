# SPDX-License-Identifier: GPL-2.0-or-later
"""sctrace.model.sockaddr: decoding raw socket addresses and printing them exactly as strace does."""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from sctrace.model.sockaddr import format_sockaddr, inet_ntop6, parse_sockaddr, system_ifname
from tests.realstrace import run_strace


def sin(port: int, addr: str, tail: bytes = bytes(8)) -> bytes:
    return struct.pack("<H", 2) + struct.pack(">H", port) + socket.inet_aton(addr) + tail


def sin6(port: int, addr: str, flowinfo: int = 0, scope: int = 0) -> bytes:
    return (struct.pack("<H", 10) + struct.pack(">HI", port, flowinfo)
            + socket.inet_pton(socket.AF_INET6, addr) + struct.pack("<I", scope))


def sun(path: bytes) -> bytes:
    return struct.pack("<H", 1) + path.ljust(108, b"\0")


def snl(pid: int, groups: int, pad: int = 0) -> bytes:
    return struct.pack("<HHiI", 16, pad, pid, groups)


def other(family: int, body: bytes) -> bytes:
    return struct.pack("<H", family) + body


# (raw bytes, addrlen, parsed dict, strace text)
CASES: list[tuple[bytes, int, dict[str, Any], str]] = [
    (sin(1234, "127.0.0.1"), 16, {"family": "AF_INET", "port": 1234, "address": "127.0.0.1"},
     '{sa_family=AF_INET, sin_port=htons(1234), sin_addr=inet_addr("127.0.0.1")}'),
    (sin(80, "10.1.2.3", b"abcdefgh"), 200, {"family": "AF_INET", "port": 80, "address": "10.1.2.3"},
     '{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("10.1.2.3")}'),
    (sin(1234, "127.0.0.1"), 8, {"family": "AF_INET", "raw": "04d27f000001"},
     '{sa_family=AF_INET, sa_data="\\4\\322\\177\\0\\0\\1"}'),
    (sin(1234, "127.0.0.1"), 2, {"family": "AF_INET", "raw": ""}, "{sa_family=AF_INET}"),
    (sin6(443, "::1"), 28,
     {"family": "AF_INET6", "port": 443, "flowinfo": 0, "address": "::1", "scope_id": 0},
     '{sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", '
     '&sin6_addr), sin6_scope_id=0}'),
    (sin6(0, "::1"), 24, {"family": "AF_INET6", "port": 0, "flowinfo": 0, "address": "::1"},
     '{sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", '
     "&sin6_addr)}"),
    (sin6(0, "::ffff:1.2.3.4", 0x12345, 7), 28,
     {"family": "AF_INET6", "port": 0, "flowinfo": 74565, "address": "::ffff:1.2.3.4", "scope_id": 7},
     '{sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(74565), inet_pton(AF_INET6, '
     '"::ffff:1.2.3.4", &sin6_addr), sin6_scope_id=7}'),
    (sin6(0, "::1"), 20, {"family": "AF_INET6", "raw": "0000" + "00" * 16},
     '{sa_family=AF_INET6, sa_data="' + "\\0" * 18 + '"}'),
    (sun(b"/tmp/x"), 110, {"family": "AF_UNIX", "path": "/tmp/x"}, '{sa_family=AF_UNIX, sun_path="/tmp/x"}'),
    (sun(b"/tmp/x"), 5, {"family": "AF_UNIX", "path": "/tm"}, '{sa_family=AF_UNIX, sun_path="/tm"}'),
    (sun(b"/a\tb\0\x01"), 9, {"family": "AF_UNIX", "path": "/a\\tb"},
     '{sa_family=AF_UNIX, sun_path="/a\\tb"}'),
    (sun(b""), 2, {"family": "AF_UNIX"}, "{sa_family=AF_UNIX}"),
    (sun(b"\0abstract"), 11, {"family": "AF_UNIX", "path": "@abstract", "abstract": True},
     '{sa_family=AF_UNIX, sun_path=@"abstract"}'),
    (sun(b"\0"), 3, {"family": "AF_UNIX", "path": "@", "abstract": True},
     '{sa_family=AF_UNIX, sun_path=@""}'),
    (sun(b'\0ab\0c\n"\\\xffd'), 13,
     {"family": "AF_UNIX", "path": '@ab\\0c\\n\\"\\\\\\377d\\0', "abstract": True},
     '{sa_family=AF_UNIX, sun_path=@"ab\\0c\\n\\"\\\\\\377d\\0"}'),
    (sun(b"p" * 108), 115, {"family": "AF_UNIX", "path": "p" * 108},
     '{sa_family=AF_UNIX, sun_path="' + "p" * 108 + '"}'),
    (snl(0, 0), 12, {"family": "AF_NETLINK", "pid": 0, "groups": 0},
     "{sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}"),
    (snl(1234, 0x11, 5), 12, {"family": "AF_NETLINK", "pad": 5, "pid": 1234, "groups": 0x11},
     "{sa_family=AF_NETLINK, nl_pad=0x5, nl_pid=1234, nl_groups=0x000011}"),
    (snl(-1, 0x12345678), 12, {"family": "AF_NETLINK", "pid": -1, "groups": 0x12345678},
     "{sa_family=AF_NETLINK, nl_pid=-1, nl_groups=0x12345678}"),
    (snl(1234, 0), 8, {"family": "AF_NETLINK", "raw": "0000d2040000"},
     '{sa_family=AF_NETLINK, sa_data="\\0\\0\\322\\4\\0\\0"}'),
    (other(200, b"\xab" * 4), 6, {"family": "AF_???(200)", "raw": "abababab"},
     '{sa_family=AF_???(200), sa_data="\\253\\253\\253\\253"}'),
    (other(0, b"\x00a1"), 5, {"family": "AF_UNSPEC", "raw": "006131"},
     '{sa_family=AF_UNSPEC, sa_data="\\0a1"}'),
    (other(0x101, b"/\x1b\x9b"), 5, {"family": "AF_???(257)", "raw": "2f1b9b"},
     '{sa_family=AF_???(257), sa_data="/\\33\\233"}'),
    (other(5, bytes(14)), 16, {"family": "AF_APPLETALK", "raw": "00" * 14},
     '{sa_family=AF_APPLETALK, sa_data="' + "\\0" * 14 + '"}'),
]


@pytest.mark.parametrize(("data", "addrlen", "parsed", "text"), CASES,
                         ids=[f"{i}-{case[2].get('family')}-{case[1]}" for i, case in enumerate(CASES)])
def test_parse_and_format(data: bytes, addrlen: int, parsed: dict[str, Any], text: str) -> None:
    got = parse_sockaddr(data, addrlen)
    assert got == parsed
    assert json.loads(json.dumps(got)) == got
    assert format_sockaddr(got, addrlen) == text


def test_link_local_scope_names_the_interface() -> None:
    names = {1: "lo"}
    data = sin6(0, "fe80::1", scope=1)
    parsed = parse_sockaddr(data, 28, ifname=names.get)
    assert parsed["scope_ifname"] == "lo"
    assert format_sockaddr(parsed, 28).endswith('sin6_scope_id=if_nametoindex("lo")}')
    assert "scope_ifname" not in parse_sockaddr(sin6(0, "fec0::1", scope=1), 28, ifname=names.get)
    assert "scope_ifname" in parse_sockaddr(sin6(0, "ff02::1", scope=1), 28, ifname=names.get)
    assert "scope_ifname" not in parse_sockaddr(sin6(0, "fe80::1", scope=9), 28, ifname=names.get)


@pytest.mark.parametrize(("data", "addrlen", "pointer", "parsed", "text"), [
    (b"", 0, None, {}, "{}"),
    (sin(1, "1.2.3.4"), 0, 0x7FFD1000, {}, "0x7ffd1000"),
    (sin(1, "1.2.3.4"), 1, 0x7FFD1000, {"raw": "02"}, "0x7ffd1000"),
    (b"\x02", 16, None, {"raw": "02"}, "{}"),
    (b"", 16, 0, {"raw": ""}, "NULL"),
    (sin(1, "1.2.3.4")[:10], 16, None, {"family": "AF_INET", "raw": "0001010203040000"},
     '{sa_family=AF_INET, sa_data="\\0\\1\\1\\2\\3\\4\\0\\0"}'),
    (sun(b"/x"), -1, None, {}, "{}"),
])
def test_degenerate_addresses(data: bytes, addrlen: int, pointer: int | None, parsed: dict[str, Any],
                              text: str) -> None:
    got = parse_sockaddr(data, addrlen)
    assert got == parsed
    assert format_sockaddr(got, addrlen, pointer) == text


@pytest.mark.parametrize(("d", "text"), [
    ({"family": "AF_INET", "address": "1.2.3.4"}, "{sa_family=AF_INET}"),
    ({"family": "AF_INET", "address": "1.2.3.4", "port": None, "raw": "zz"}, "{sa_family=AF_INET}"),
    ({"family": "AF_INET6", "address": "::", "port": "x", "flowinfo": 0, "raw": "0102"},
     '{sa_family=AF_INET6, sa_data="\\1\\2"}'),
    ({"family": "AF_NETLINK", "pid": 1}, "{sa_family=AF_NETLINK}"),
    ({"family": 7}, "{}"),
    ({"family": "AF_UNIX", "path": "@x"}, '{sa_family=AF_UNIX, sun_path="@x"}'),
    ({"family": "AF_INET", "port": 1, "address": 'a"\x1b'},
     '{sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr("a\\"\\33")}'),
])
def test_format_degrades_on_foreign_dicts(d: dict[str, Any], text: str) -> None:
    assert format_sockaddr(d, 28) == text


def test_parse_never_raises_on_junk() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        family = rng.choice([0, 1, 2, 10, 16, 17, 200, 0xFFFF])
        data = struct.pack("<H", family) + bytes(rng.randrange(256) for _ in range(rng.randrange(140)))
        addrlen = rng.randrange(-2, 300)
        parsed = parse_sockaddr(data[: rng.randrange(len(data) + 1)], addrlen)
        json.dumps(parsed)
        assert isinstance(format_sockaddr(parsed, addrlen), str)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the reference is glibc's inet_ntop()")
def test_inet_ntop6_matches_glibc() -> None:
    rng = random.Random(1)
    fixed = ["::", "::1", "1::", "::1.2.3.4", "::ffff:1.2.3.4", "::ffff:0:0", "::2:3", "1:0:0:2:0:0:0:3",
             "1:0:0:2:0:0:3:4", "0:0:1::", "fe80::1:2", "2001:db8::", "1:2:3:4:5:6:7:8"]
    samples = [socket.inet_pton(socket.AF_INET6, a) for a in fixed]
    weights = [0, 0, 0, 1, 0xFF]
    samples += [bytes(rng.choice([*weights, rng.randrange(256)]) for _ in range(16)) for _ in range(20000)]
    for packed in samples:
        assert inet_ntop6(packed) == socket.inet_ntop(socket.AF_INET6, packed), packed.hex()


STRACE_UNKNOWN = re.compile(r"(0x[0-9a-f]+|0) /\* (\w+\?\?+) \*/")
ADDR_ARG = re.compile(r"^(connect|bind)\(-1, (.*), (\d+)\)\s+= ")
SENDTO_ADDR = re.compile(r"^sendto\(-1, NULL, 0, 0, (.*), (\d+)\)\s+= ")


def _strace_cases() -> list[tuple[bytes, int]]:
    out = [(data, addrlen) for data, addrlen, _, _ in CASES]
    for addr in ("fe80::1", "ff02::1", "ff12::1", "ff01::1", "fec0::1", "::", "2001:db8::1:0:0:1"):
        out += [(sin6(8080, addr, 0xFFFFF, 1), 28), (sin6(1, addr, 0, 1), 25), (sin6(1, addr, 0, 77), 28)]
    out += [(sin(65535, "255.255.255.255"), 16), (sin(0, "0.0.0.0"), 15), (sin(0, "0.0.0.0"), 1)]
    out += [(sun(b"/x\x01" b"7"), 6), (sun(b"\0" + bytes(107)), 110), (sun(b"rel/\xc3\xa9"), 12)]
    out += [(snl(7, 0xFFFFFFFF), 11), (snl(7, 1), 16), (other(0xFFFF, b"xyz"), 5)]
    out += [(other(200, bytes(range(200))), 200), (other(46, bytes(range(40))), 40)]
    return out


def test_matches_strace(tmp_path: Path) -> None:
    """connect, bind and sendto with every case; the address text must be strace's."""
    cases = _strace_cases()
    pointers_file = tmp_path / "pointers"
    program = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "L = ctypes.c_long\n"
        f"for data, n in {cases!r}:\n"
        "    buf = ctypes.create_string_buffer(data, max(len(data), 1))\n"
        "    p = ctypes.addressof(buf)\n"
        f"    open({str(pointers_file)!r}, 'a').write(f'{{p}}\\n')\n"
        "    libc.syscall(L(42), L(-1), L(p), L(n))\n"
        "    libc.syscall(L(49), L(-1), L(p), L(n))\n"
        "    libc.syscall(L(44), L(-1), L(0), L(0), L(0), L(p), L(n))\n"
    )
    lines = run_strace(tmp_path, program, "-e", "trace=connect,bind,sendto")
    pointers = [int(p) for p in pointers_file.read_text().split()]
    by_call: dict[str, list[tuple[str, int]]] = {"connect": [], "bind": [], "sendto": []}
    for line in lines:
        if m := ADDR_ARG.match(line):
            by_call[m.group(1)].append((m.group(2), int(m.group(3))))
        elif m := SENDTO_ADDR.match(line):
            by_call["sendto"].append((m.group(1), int(m.group(2))))
    for name, seen in by_call.items():
        assert len(seen) == len(cases), name
        for (data, addrlen), pointer, (text, shown_len) in zip(cases, pointers, seen, strict=True):
            assert shown_len == addrlen
            expected = format_sockaddr(parse_sockaddr(data, addrlen, ifname=system_ifname), addrlen, pointer)
            strace_text = STRACE_UNKNOWN.sub(lambda m: f"{m.group(2)}({int(m.group(1), 0)})", text)
            assert expected == strace_text, (name, data.hex(), addrlen)
