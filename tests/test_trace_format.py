"""The trace value: JSON Lines round trip, and files that cannot be read named by line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from sctrace.model.trace import SCHEMA, Event, Header, Trace, TraceFormatError
from sctrace.model.trace_files import load_trace_file, sniff_trace_file


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
        ('{"type": "header", "schema": 1}\n', 1, "the header has no argv"),
    ],
    ids=["empty", "corrupt", "no-header", "newer-schema", "missing-keys", "not-an-object", "header-without-argv"],
)
def test_bad_files_name_their_line(text: str, line: int, words: str) -> None:
    with pytest.raises(TraceFormatError) as err:
        Trace.parse(io.StringIO(text), "f.jsonl")
    assert err.value.line == line and words in err.value.reason
    assert str(err.value).startswith(f"f.jsonl, line {line}:")


# ---------------------------------------------------------------------------
# The chunked loader's edge cases: each file either loads as written or fails naming the right line.

HEADER = '{"type": "header", "schema": 1, "argv": ["x"]}'


def record(seq: int) -> str:
    return (f'{{"type": "syscall", "seq": {seq}, "pid": 7, "t": 0.5, "name": "close", "args": {{"fd": 3}}, '
            f'"ret": 0, "errno": null, "fd": 3, "endpoint": "TCP:[1]"}}')


def load_bytes(tmp_path: Path, data: bytes) -> Trace:
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    return Trace.load(path)


def test_utf8_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    trace = load_bytes(tmp_path, b"\xef\xbb\xbf" + f"{HEADER}\n{record(0)}\n".encode())
    assert trace.header.argv == ["x"] and [e.seq for e in trace.events] == [0]
    # Given as lines (not a file), too.
    assert len(Trace.parse(["\ufeff" + HEADER + "\n", record(0) + "\n"]).events) == 1


def test_crlf_line_ends(tmp_path: Path) -> None:
    text = "\r\n".join([HEADER, record(0), "", record(1)]) + "\r\n"
    assert [e.seq for e in load_bytes(tmp_path, text.encode()).events] == [0, 1]
    assert [e.seq for e in Trace.parse(text.splitlines(keepends=True)).events] == [0, 1]


def test_last_line_without_newline_loads(tmp_path: Path) -> None:
    trace = load_bytes(tmp_path, f"{HEADER}\n{record(0)}\n{record(1)}".encode())
    assert [e.seq for e in trace.events] == [0, 1]


def test_last_line_cut_off_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError) as err:
        load_bytes(tmp_path, f"{HEADER}\n{record(0)}\n{record(1)[:40]}".encode())
    assert err.value.line == 3 and "not JSON" in err.value.reason


def test_record_split_across_lines_names_its_first_line(tmp_path: Path) -> None:
    first, second = record(1)[:50], record(1)[50:]
    with pytest.raises(TraceFormatError) as err:
        load_bytes(tmp_path, f"{HEADER}\n{record(0)}\n{first}\n{second}\n".encode())
    assert err.value.line == 3 and "not JSON" in err.value.reason


def test_two_records_on_one_line_name_it(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError) as err:
        load_bytes(tmp_path, f"{HEADER}\n{record(0)}{record(1)}\n{record(2)}\n".encode())
    assert err.value.line == 2 and "not JSON" in err.value.reason


@pytest.mark.parametrize("bad_line", [2, 256, 257, 300, 513])
def test_errors_past_the_first_chunk_name_their_line(tmp_path: Path, bad_line: int) -> None:
    """Lines are decoded 256 at a time: the line named is the file's, whichever chunk it falls in."""
    lines = [HEADER] + [record(i) for i in range(600)]
    lines[bad_line - 1] = "{not json"
    lines.insert(100, "")  # a blank line counts, too
    with pytest.raises(TraceFormatError) as err:
        load_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    assert err.value.line == (bad_line if bad_line <= 100 else bad_line + 1)


def test_not_utf8_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError) as err:
        load_bytes(tmp_path, f"{HEADER}\n{record(0)}\n".encode() + b'{"type": "\xff"}\n')
    assert err.value.line == 3 and "UTF-8" in err.value.reason


def test_many_records_load_in_order(tmp_path: Path) -> None:
    lines = [HEADER] + [record(i) for i in range(1000)]
    trace = load_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    assert [e.seq for e in trace.events] == list(range(1000))


# ---------------------------------------------------------------------------
# Any saved trace: JSON Lines or an strace log, told apart by content.


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"", "empty"),
        (b"\n  \n", "empty"),
        (b"\xef\xbb\xbf" + HEADER.encode() + b"\n", "jsonl"),
        (b"\n" + HEADER.encode() + b"\n", "jsonl"),
        (b"123 1700000000.5 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n", "strace"),
        (b'execve("/bin/true", ["true"], 0x7ffd /* 3 vars */) = 0\n', "strace"),
        (b"#!/bin/sh\necho hi\n", None),
        (b"\x7fELF\x02\x01\x01\x00", None),
    ],
)
def test_sniff_trace_file(tmp_path: Path, content: bytes, kind: str | None) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    assert sniff_trace_file(path) == kind


def test_load_trace_file_reads_both_kinds(tmp_path: Path) -> None:
    jsonl, log = tmp_path / "a.jsonl", tmp_path / "b.strace"
    sample().save(jsonl)
    log.write_text("5 1700000000.25 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<TCP:[9]>\n"
                   "5 1700000000.50 +++ exited with 0 +++\n")
    assert load_trace_file(jsonl) == sample()
    from_log = load_trace_file(log)
    assert from_log.header.backend == "strace"
    assert [(e.type, e.name, e.ret_endpoint) for e in from_log.events] == [
        ("syscall", "socket", "TCP:[9]"), ("exit", None, None)]


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"", 1, "empty"),
        (HEADER.encode() + b"\n{broken\n", 2, "not JSON"),
        (f'{{"type": "header", "schema": {SCHEMA + 1}, "argv": []}}\n'.encode(), 1, "newer"),
        (b"5 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3\n5 connect(3, {sa_family=AF_INET, sin_po", 2, "cut off"),
    ],
    ids=["empty", "corrupt", "newer-schema", "strace-cut-off"],
)
def test_load_trace_file_names_file_and_line(tmp_path: Path, content: bytes, line: int, words: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(TraceFormatError) as err:
        load_trace_file(path)
    assert (err.value.source, err.value.line) == (str(path), line) and words in err.value.reason


# ---------------------------------------------------------------------------
# Through the command line: one line naming the file and line, status 2, no traceback.

GOOD_LOG = ("5 1700000000.25 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<TCP:[9]>\n"
            "5 1700000000.5 +++ exited with 0 +++\n")


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("corrupt.jsonl", HEADER.encode() + b"\n" + record(0).encode() + b"\n{broken\n", 3),
        ("newer.jsonl", f'{{"type": "header", "schema": {SCHEMA + 1}, "argv": []}}\n'.encode(), 1),
        ("cut.strace", GOOD_LOG.encode().splitlines(keepends=True)[0] + b"5 1700000000.3 connect(3, {sa_family=AF_IN",
         2),
    ],
)
def test_compare_reports_a_bad_saved_trace_in_one_line(tmp_path: Path, name: str, content: bytes, line: int) -> None:
    bad, good = tmp_path / name, tmp_path / "good.strace"
    bad.write_bytes(content)
    good.write_text(GOOD_LOG)
    proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", str(bad), str(good)], text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sctrace: error: {bad}, line {line}: "), proc.stderr


def test_compare_reads_strace_logs_and_saved_traces_alike(tmp_path: Path) -> None:
    log, saved = tmp_path / "a.strace", tmp_path / "b.jsonl"
    log.write_text(GOOD_LOG)
    Trace(Header(argv=[]), load_trace_file(log).events).save(saved)
    proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", str(log), str(saved)], text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
