# SPDX-License-Identifier: GPL-2.0-or-later
"""Byte strings as strace quotes them, and any text made safe for a terminal.

strace writes buffers as C string literals with its own, slightly unusual rules
(``\\a`` and ``\\b`` become octal, octal escapes use as few digits as possible
unless a digit 0-7 follows); sctrace output is compared with strace's, so the
rules are reproduced byte for byte here rather than approximated with repr().

Separately, anything sctrace prints to a terminal may contain names chosen by
the traced program (socket paths, hostnames).  escape_for_terminal() keeps such
text from moving the cursor, changing colours or reordering what is displayed.
"""

from __future__ import annotations

import re

# The escapes strace spells with a letter; everything else outside 0x20-0x7e is octal.
_LETTER = {0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def _short(byte: int) -> str:
    if byte in _LETTER:
        return _LETTER[byte]
    if 0x20 <= byte <= 0x7E:
        return chr(byte)
    return f"\\{byte:o}"


# Per byte: the usual spelling, and the one used when an octal digit follows (always three digits,
# so that "\0" followed by "1" cannot be read back as "\01").
_SHORT = tuple(_short(b) for b in range(256))
_BEFORE_DIGIT = tuple(f"\\{b:03o}" if _SHORT[b].startswith("\\") and _SHORT[b][1:].isdigit() else _SHORT[b]
                      for b in range(256))
_AS_ITSELF = bytes(b for b in range(256) if _SHORT[b] == chr(b))  # the bytes strace prints as themselves
# A byte whose usual spelling is an octal escape shorter than three digits, followed by a digit 0-7: it
# needs its long spelling.  The look-ahead stops at the end of the shown bytes, as strace's does.
_OCTAL_BEFORE_DIGIT = re.compile(
    b"[" + b"".join(re.escape(bytes([b])) for b in range(256) if _BEFORE_DIGIT[b] != _SHORT[b]) + b"](?=[0-7])")


def escape_bytes(data: bytes, limit: int | None = None) -> str:
    """The body of strace's quoted string for data (without the quotes).

    With a limit only the first limit bytes are shown; the look-ahead that picks
    the three-digit octal form stops at the cut too, as strace's does (the byte
    after the last shown one does not exist for it).
    """
    shown = data if limit is None else data[: max(limit, 0)]
    if not shown.translate(None, _AS_ITSELF):  # printable ASCII only, the most common payload: as it is
        return shown.decode("ascii")
    spell = _SHORT.__getitem__
    # Byte by byte, but in C (map and join): payloads of 64 KiB are common with -s 65536.
    parts: list[str] = []
    start = 0
    for match in _OCTAL_BEFORE_DIGIT.finditer(shown):  # few: a short octal escape right before a digit 0-7
        parts.append("".join(map(spell, shown[start:match.start()])))
        parts.append(_BEFORE_DIGIT[shown[match.start()]])
        start = match.end()
    if not parts:
        return "".join(map(spell, shown))
    parts.append("".join(map(spell, shown[start:])))
    return "".join(parts)


def strace_quoted(data: bytes, true_len: int, limit: int) -> str:
    """A buffer argument as strace prints it: ``"abc"``, or ``"abc"...`` when it was cut.

    true_len is the length the call was given (or returned); data holds at least
    the bytes that are shown.  strace adds the dots only when true_len exceeds
    the limit, so a buffer of exactly limit bytes prints in full without them.
    """
    limit = max(limit, 0)
    text = f'"{escape_bytes(data, limit)}"'
    return text + "..." if true_len > limit else text


# C0 controls and DEL, C1 controls, the bidirectional embeddings/overrides and isolates, and lone
# surrogates (which a str can hold after surrogateescape decoding but no terminal encoding can).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_for_terminal(text: str) -> str:
    """text with every character that could steer a terminal replaced by a visible escape.

    ESC and the other controls become ``\\x1b``-style escapes, the bidi controls
    and surrogates ``\\u202e``-style ones.  Backslashes are left alone: the text
    is usually strace output that already uses them, and the aim is safety, not
    a reversible encoding.
    """
    # Nothing _UNSAFE matches is printable (controls, format characters and surrogates are Unicode's
    # "Other"), so a printable text, the common case, is checked in one pass in C and returned as it is.
    return text if text.isprintable() else _UNSAFE.sub(_escape_char, text)
