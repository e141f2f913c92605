"""The trace value: JSON Lines round trip, and files that cannot be read named by line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sctrace.trace import SCHEMA, Event, Header, Trace, TraceFormatError


def sample() -> Trace:
    header = Header(argv=["php", "s.php"], program="s.php", language="php", interpreter="/usr/bin/php")
    events = [
        Event("syscall", 0, 10, 0.001, "socket", {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "IPPROTO_IP"},
              3, None, None, None, "TCP:[1]"),
        Event("syscall", 1, 10, 0.002, "write", {"fd": 3, "buf": {"text": "\\33[31m", "len": 5}, "count": 5},
              5, None, 3, "TCP:[1.2.3.4:5->6.7.8.9:10]"),
        Event("syscall", 2, 10, 0.003, "connect", {"fd": 3}, -1, "ECONNREFUSED", 3, "TCP:[1]"),
        Event("exit", 3, 10, 0.004, info={"code": 0}),
    ]
    return Trace(header, events)


def test_round_trip(tmp_path: Path) -> None:
    trace = sample()
    trace.save(tmp_path / "t.jsonl")
    again = Trace.load(tmp_path / "t.jsonl")
    assert again == trace


def test_file_is_ascii_only(tmp_path: Path) -> None:
    trace = sample()
    trace.events[1].args["buf"]["text"] = "caf\u00e9\x1b[2J"
    trace.save(tmp_path / "t.jsonl")
    raw = (tmp_path / "t.jsonl").read_bytes()
    assert raw.isascii() and b"\x1b" not in raw


def test_readers_ignore_unknown_keys() -> None:
    lines = [
        '{"type": "header", "schema": 1, "argv": ["x"], "future": 1}',
        '{"type": "syscall", "seq": 0, "pid": 1, "t": 0, "name": "close", "args": {"fd": 3}, "ret": 0,'
        ' "errno": null, "fd": 3, "endpoint": null, "new_key": [1, 2]}',
    ]
    trace = Trace.parse(lines)
    assert trace.events[0].name == "close" and trace.header.extra == {"future": 1}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", 1, "empty"),
        ('{"type": "header", "schema": 1, "argv": []}\n{not json\n', 2, "not JSON"),
        ('{"type": "syscall", "seq": 0}\n', 1, "not a header"),
        (f'{{"type": "header", "schema": {SCHEMA + 1}, "argv": []}}\n', 1, "newer"),
        ('{"type": "header", "schema": 1, "argv": []}\n{"type": "syscall", "seq": 0, "pid": 1}\n', 2, "bad syscall"),
        ('[1, 2]\n', 1, "not a trace record"),
    ],
    ids=["empty", "corrupt", "no-header", "newer-schema", "missing-keys", "not-an-object"],
)
def test_bad_files_name_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(TraceFormatError) as err:
        Trace.parse(io.StringIO(text), "f.jsonl")
    assert err.value.line == line and words in err.value.reason
    assert str(err.value).startswith(f"f.jsonl, line {line}:")
