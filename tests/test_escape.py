# SPDX-License-Identifier: GPL-2.0-or-later
"""sctrace.model.escape: strace's quoting of byte strings, byte for byte, and terminal-safe text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sctrace.model.escape import escape_bytes, escape_for_terminal, strace_quoted
from tests.realstrace import run_strace


@pytest.mark.parametrize(("data", "limit", "expected"), [
    (b"", None, ""),
    (b"hello, world", None, "hello, world"),
    (b"\x00", None, "\\0"),
    (b"\x001", None, "\\0001"),
    (b"\x007", None, "\\0007"),
    (b"\x008", None, "\\08"),
    (b"\x009", None, "\\09"),
    (b"\x01" b"7", None, "\\0017"),
    (b"\x7f9", None, "\\1779"),
    (b"\x1b[31m", None, "\\33[31m"),
    (b"\x1b0", None, "\\0330"),
    (b"\xff", None, "\\377"),
    (b"\xff0", None, "\\3770"),
    (b"\t\n\v\f\r", None, "\\t\\n\\v\\f\\r"),
    (b"\t0", None, "\\t0"),
    (b"\x07\x08", None, "\\7\\10"),
    (b'say "hi" \\o/', None, 'say \\"hi\\" \\\\o/'),
    (b" ~", None, " ~"),
    (b"\x80\x9f\xa0", None, "\\200\\237\\240"),
    (b"abcdef", 3, "abc"),
    (b"ab\x001", 3, "ab\\0"),
    (b"ab\x001", 4, "ab\\0001"),
    (b"abc", 0, ""),
    (b"abc", -5, ""),
])
def test_escape_bytes(data: bytes, limit: int | None, expected: str) -> None:
    assert escape_bytes(data, limit) == expected


@pytest.mark.parametrize(("data", "true_len", "limit", "expected"), [
    (b"", 0, 32, '""'),
    (b"abc", 3, 32, '"abc"'),
    (b"x" * 32, 32, 32, '"' + "x" * 32 + '"'),
    (b"x" * 33, 33, 32, '"' + "x" * 32 + '"...'),
    (b"x" * 40, 40, 32, '"' + "x" * 32 + '"...'),
    (b"x" * 31 + b"\x001", 33, 32, '"' + "x" * 31 + '\\0"...'),
    (b"x" * 30 + b"\x001", 32, 32, '"' + "x" * 30 + '\\0001"'),
    (b"abc", 1000, 32, '"abc"...'),  # only part of a long buffer could be read
    (b"abc", 3, 0, '""...'),
])
def test_strace_quoted(data: bytes, true_len: int, limit: int, expected: str) -> None:
    assert strace_quoted(data, true_len, limit) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("plain text", "plain text"),
    ("tab\there", "tab\\x09here"),
    ("line\nbreak\r", "line\\x0abreak\\x0d"),
    ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
    ("\x7f", "\\x7f"),
    ("c1 \x85 \x9b \x9f", "c1 \\x85 \\x9b \\x9f"),
    ("\xa0é✓", "\xa0é✓"),
    ("abc\u202edcba", "abc\\u202edcba"),
    ("\u202a\u202b\u202c\u202d", "\\u202a\\u202b\\u202c\\u202d"),
    ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
    ("\u2065\u206a\u2029", "\u2065\u206a\u2029"),
    ("bad \udcff byte", "bad \\udcff byte"),
    ('strace "\\33[31m"', 'strace "\\33[31m"'),
])
def test_escape_for_terminal(text: str, expected: str) -> None:
    assert escape_for_terminal(text) == expected


def test_escape_for_terminal_leaves_nothing_unsafe() -> None:
    every = "".join(chr(c) for c in range(0x3000))
    safe = escape_for_terminal(every)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", safe)
    safe.encode("utf-8")  # no lone surrogates left either


SENDTO = re.compile(r'^sendto\(\d+, ("(?:[^"\\]|\\.)*"(?:\.\.\.)?), (\d+), ')


def _payloads() -> list[bytes]:
    every = bytes(range(256))
    out = [every, every[::-1], b"", b"x" * 31 + b"\x001", b"x" * 30 + b"\x001", b"x" * 32, b"x" * 33]
    out += [bytes([b]) + tail for tail in (b"0", b"7", b"8", b"a") for b in range(256)]
    return out


@pytest.mark.parametrize("limit", [32, 4096])
def test_matches_strace_for_every_byte(tmp_path: Path, limit: int) -> None:
    payloads = _payloads()
    program = (
        "import socket\n"
        "a, b = socket.socketpair()\n"
        "a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)\n"
        f"for p in {payloads!r}:\n"
        "    a.send(p)\n"
        "    if p:\n"
        "        b.recv(4096)\n"
    )
    lines = run_strace(tmp_path, program, "-e", "trace=sendto", "-s", str(limit))
    seen = [m.group(1) for line in lines if (m := SENDTO.match(line))]
    assert len(seen) == len(payloads)
    for payload, text in zip(payloads, seen, strict=True):
        assert strace_quoted(payload, len(payload), limit) == text, payload


def test_printable_text_needs_no_escape() -> None:
    # escape_for_terminal returns a printable text as it is: so no character it must escape may be printable.
    from sctrace.model.escape import _UNSAFE

    assert [hex(c) for c in range(0x110000) if _UNSAFE.match(chr(c)) and chr(c).isprintable()] == []
    assert escape_for_terminal("plain text, é, 中文") == "plain text, é, 中文"


def _escape_bytes_by_the_rule(data: bytes, limit: int | None = None) -> str:
    """strace's rule written out byte by byte: the reference the fast escape_bytes must equal."""
    from sctrace.model.escape import _BEFORE_DIGIT, _SHORT

    shown = data if limit is None else data[: max(limit, 0)]
    return "".join(_BEFORE_DIGIT[b] if i + 1 < len(shown) and shown[i + 1] in b"01234567" else _SHORT[b]
                   for i, b in enumerate(shown))


def test_escape_bytes_equals_the_rule_on_random_bytes() -> None:
    import random

    from sctrace.model.escape import escape_bytes

    rng = random.Random(20261207)
    alphabets = [bytes(range(256)), b"0123456789\x00\x01\n\\\"ab\x7f\xff", b"\x00\x07" + b"01234567",
                 b"\x08\x0901289\x1b"]
    for _ in range(20000):
        alphabet = rng.choice(alphabets)
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        limit = rng.choice([None, -1, 0, 1, 3, 10, 50])
        assert escape_bytes(data, limit) == _escape_bytes_by_the_rule(data, limit), (data, limit)
