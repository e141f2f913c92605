"""The renderers of a Comparison: terminal layout and width, JSON shape, Markdown table, and hostile payloads.

The comparisons are built by hand (no tracing, no normalizer), so these tests pin
the renderers alone: whatever normalize/align produce, the layout properties and
the inertness of payload text hold.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import IO, Any

import pytest

from sctrace.compare.model import VERDICTS, Comparison, Row, Side, Step
from sctrace.model.trace import Event
from sctrace.render import compare_json, compare_markdown, compare_text
from sctrace.render.compare_text import FILE_MAX_WIDTH, FILE_WIDTH, cells
from sctrace.render.terminal import PLAIN, Terminal

HOSTILE = "\x1b[2J\x07[bold]x[/bold]<script>alert(1)</script>|`\u202e"
RAW_CONTROLS = ("\x1b", "\x07", "\u202e")
SGR = re.compile(r"\x1b\[[0-9;]*m")


def event(seq: int, name: str, args: dict[str, Any], ret: int = 0, pid: int = 100) -> Event:
    return Event("syscall", seq, pid, seq / 1000, name, args, ret, None, args.get("fd"), None)


def step(seq: int, name: str, text: str, proc: str = "P1", *, rules: list[str] | None = None,
         notes: list[str] | None = None, args: dict[str, Any] | None = None) -> Step:
    return Step(proc, name, args or {}, 0, None, text, text, event(seq, name, args or {}),
                rules=rules or [], notes=notes or [])


def side(program: str, language: str | None = "php", version: str | None = "8.2.36",
         exit: dict[str, Any] | None = None) -> Side:
    interpreter = f"/usr/bin/{language}" if language else None
    return Side(program, language, interpreter, version, exit if exit is not None else {"code": 0})


def sample() -> Comparison:
    """One row of every verdict, a long text, and different roles on one row."""
    long_text = "write(C1, \"" + "x" * 200 + "\", 200) = 200"
    rows = [
        Row("same", step(0, "socket", "socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L1"),
            step(0, "socket", "socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L1")),
        Row("equivalent", step(1, "accept", "accept(L1, NULL, NULL) = C1"),
            step(1, "accept", "accept4(L1, NULL, NULL, SOCK_CLOEXEC) = C1", rules=["accept4-as-accept"],
                 notes=["SOCK_CLOEXEC"]),
            rule="accept4-as-accept"),
        Row("changed", step(2, "write", long_text), step(2, "write", 'write(C1, "hi", 2) = 2', proc="P2"),
            detail="buf: 200 bytes -> \"hi\""),
        Row("left_only", step(3, "setsockopt", "setsockopt(L1, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0"), None),
        Row("right_only", None, step(3, "shutdown", "shutdown(C1, SHUT_WR) = 0")),
        Row("info", step(4, "getsockname", "getsockname(L1, {...}, [16]) = 0"), None),
    ]
    return Comparison("semantic", side("server1.php"), side("server1.py", "python", "3.11.2"), rows)


def hostile() -> Comparison:
    """A payload (and names, paths, exit details) full of terminal, Markdown and HTML syntax."""
    payload = f'write(C1, "{HOSTILE}", 60) = 60'
    rows = [
        Row("changed", step(0, "write", payload, proc=f"P{HOSTILE}"), step(0, "write", payload),
            detail=f"buf: {HOSTILE}"),
        Row("equivalent", step(1, "connect", payload), step(1, "connect", payload), rule=HOSTILE),
        Row("left_only", step(2, "sendto", payload, args={"buf": {"text": HOSTILE, "len": 60}}), None),
    ]
    left = Side(f"evil{HOSTILE}.php", f"php{HOSTILE}", f"/tmp/{HOSTILE}", HOSTILE,
                {"signal": HOSTILE, "by": "sctrace", "reason": HOSTILE})
    return Comparison("semantic", left, side("ok.py", "python", "3.11.2"), rows)


def text_output(comparison: Comparison, width: int = 100, color: bool = False, encoding: str | None = None,
                summary: str = "not equivalent at semantic level: 1 changed") -> str:
    if encoding is None:
        buf = io.StringIO()
        compare_text.render(comparison, summary, buf, Terminal(width, color))
        return buf.getvalue()
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="\n")
    compare_text.render(comparison, summary, stream, Terminal(width, color))
    stream.flush()
    return raw.getvalue().decode(encoding)


# -- terminal ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [1, 5, 12, 30, 41, 60, 80, 117, 200])
@pytest.mark.parametrize("color", [False, True])
def test_no_line_is_wider_than_the_width(width: int, color: bool) -> None:
    out = text_output(sample(), width=width, color=color)
    for line in out.splitlines():
        assert cells(SGR.sub("", line)) <= width, line


def test_wide_characters_count_two_cells() -> None:
    comparison = sample()
    assert comparison.rows[0].left is not None
    comparison.rows[0].left.text = "send(C1, \"" + "\u4e2d\u6587" * 40 + "\")"
    for width in (40, 41, 80):
        for line in text_output(comparison, width=width).splitlines():
            assert cells(line) <= width, line
    assert cells("\u4e2d") == 2 and cells("e\u0301") == 1


def test_the_fast_measure_agrees_with_the_character_by_character_one() -> None:
    # Lines with only characters known to take one cell are measured by their length: each of those
    # characters must take one cell by the unicodedata measure, and anything else must still be measured.
    one_cell = [chr(c) for lo, hi in ((0x20, 0x7E), (0x2010, 0x2027), (0x2190, 0x22FF), (0x2500, 0x257F))
                for c in range(lo, hi + 1)]
    assert all(compare_text._char_cells(ch) == 1 for ch in one_cell)
    assert not compare_text._NOT_ONE_CELL.search("".join(one_cell))
    line = "= P1   accept(L1, NULL, NULL) = C1 │ accept4(L1, NULL, NULL, SOCK_CLOEXEC) = C1 ≈…"
    assert cells(line) == len(line)
    for other in ("\u4e2d", "e\u0301", "\u200b", "\u00ad", "\u2028", "\uff21"):
        assert cells(line + other) == len(line) + sum(compare_text._char_cells(ch) for ch in other), repr(other)


def test_columns_sets_the_width_when_no_width_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "50")
    buf = io.StringIO()
    compare_text.render(sample(), "summary", buf, Terminal.of(buf))
    lines = buf.getvalue().splitlines()
    assert max(cells(line) for line in lines) == 50


def test_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="width"):
        Terminal(width=0)


def test_layout() -> None:
    out = text_output(sample(), width=110)
    lines = out.splitlines()
    assert lines[0] == "left:  server1.php (php 8.2.36), exited with 0"
    assert lines[1] == "right: server1.py (python 3.11.2), exited with 0"
    assert lines[2].startswith("  proc  server1.php ")
    assert lines[2].endswith("│ server1.py")
    # marker, space, the role column (as wide as "P1/P2"), space; then (110 - 8 - 3) cells split 49 + 50.
    assert lines[3] == ("= P1    " + "socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L1".ljust(49) + " │ "
                        + "socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L1")
    assert all(line.index("│") == 8 + 49 + 1 for line in lines if "│" in line)
    assert lines[-3:] == ["", "not equivalent at semantic level: 1 changed",
                          "counts: same 1, equivalent 1, changed 1, left only 1, right only 1, info 1"]
    assert all(line == line.rstrip() for line in lines)


def test_markers_per_verdict() -> None:
    lines = text_output(sample(), width=120).splitlines()
    rows = [line for line in lines[3:] if line and not line.startswith(" ")][: len(VERDICTS)]
    assert [line[0] for line in rows] == ["=", "≈", "≠", "<", ">", "i"]
    assert rows[2].startswith("≠ P1/P2 ")  # different roles on the two sides are both shown
    assert rows[3].endswith("│")  # nothing on the right
    assert rows[4].split("│")[0].strip() == "> P1"  # nothing on the left


def test_ascii_markers_when_the_stream_is_not_utf8() -> None:
    comparison = sample()
    assert comparison.rows[0].left is not None
    comparison.rows[0].left.text = "connect(C1, {path=\"/run/caf\u00e9\"}) = 0"
    out = text_output(comparison, width=80, encoding="ascii")
    assert out.isascii()
    lines = out.splitlines()
    rows = [line for line in lines[3:] if line and not line.startswith(" ")][: len(VERDICTS)]
    assert [line[0] for line in rows] == ["=", "~", "!", "<", ">", "i"]
    assert " | " in lines[2] and "..." in out  # the column rule and the ellipsis in ASCII
    assert "caf\\xe9" in out
    assert text_output(comparison, width=80, encoding="latin-1").isascii()
    utf8 = text_output(comparison, width=80, encoding="utf-8")
    assert "≈" in utf8 and "…" in utf8 and "caf\u00e9" in utf8


def test_long_steps_are_cut_with_an_ellipsis() -> None:
    lines = text_output(sample(), width=80).splitlines()
    changed = next(line for line in lines if line.startswith("≠"))
    left_column = changed.split("│")[0]
    assert left_column.rstrip().endswith("…") and cells(changed) <= 80
    assert 'write(C1, "xxx' in left_column


def test_explanation_lines() -> None:
    lines = text_output(sample(), width=120).splitlines()
    indent = " " * len("= P1/P2 ")  # marker, role column (as wide as the widest role), space
    after_equivalent = lines[lines.index(next(line for line in lines if line.startswith("≈"))) + 1]
    assert after_equivalent == indent + "rules: accept4-as-accept (tolerated: SOCK_CLOEXEC)"
    after_changed = lines[lines.index(next(line for line in lines if line.startswith("≠"))) + 1]
    assert after_changed == indent + 'buf: 200 bytes -> "hi"'
    # Same, one-sided and info rows have no explanation line.
    for marker in "=<>i":
        row = next(i for i, line in enumerate(lines) if line.startswith(marker + " "))
        assert not lines[row + 1].startswith(indent + " ") and lines[row + 1][:1] != " "


def test_equivalent_without_a_row_rule_names_the_step_rules() -> None:
    row = Row("equivalent", step(0, "accept", "accept(L1) = C1", rules=["a"]),
              step(0, "accept4", "accept4(L1) = C1", rules=["b", "a"]))
    assert compare_text.explanation(row) == "rules: a, b"


def test_no_escapes_without_color() -> None:
    assert "\x1b" not in text_output(sample(), color=False)


def test_color_is_sgr_on_markers_and_verdicts_only() -> None:
    out = text_output(sample(), width=100, color=True)
    escapes = re.findall(r"\x1b[^m]*m", out)
    assert escapes and all(SGR.fullmatch(e) for e in escapes)
    assert out.count("\x1b") == len(escapes)
    assert "\x1b[32m=\x1b[0m P1" in out
    assert "\x1b[36m≈\x1b[0m" in out and "\x1b[33m≠\x1b[0m" in out
    assert "\x1b[31m<\x1b[0m" in out and "\x1b[31m>\x1b[0m" in out and "\x1b[2mi\x1b[0m" in out
    assert "\x1b[33mchanged 1\x1b[0m" in out
    # Without the colours the text is exactly the uncoloured rendering.
    assert SGR.sub("", out) == text_output(sample(), width=100, color=False)


def test_exits_and_executables_in_the_header() -> None:
    comparison = sample()
    comparison.left = side("./server", None, None, {"signal": "SIGKILL", "by": "sctrace", "reason": "timeout"})
    comparison.right = side("./server2", None, None, {"signal": "SIGSEGV", "core": True})
    lines = text_output(comparison, width=120).splitlines()
    assert lines[0] == "left:  ./server (executable), killed by SIGKILL (by sctrace: timeout)"
    assert lines[1] == "right: ./server2 (executable), killed by SIGSEGV (core dumped)"
    assert compare_text.describe_exit({}) == "exit unknown"


def test_no_rows() -> None:
    comparison = Comparison("raw", side("a.php"), side("b.php"), [])
    out = text_output(comparison, width=60)
    assert "(no socket calls on either side)" in out
    assert out.splitlines()[-1].startswith("counts: same 0,")


@pytest.mark.parametrize("width", [20, 80, 400])
@pytest.mark.parametrize("color", [False, True])
def test_hostile_payload_is_inert_in_the_terminal(width: int, color: bool) -> None:
    out = text_output(hostile(), width=width, color=color, summary=f"summary {HOSTILE}")
    for raw in RAW_CONTROLS:
        assert raw not in SGR.sub("", out)
    assert all(SGR.fullmatch(e) for e in re.findall(r"\x1b[^m]*m", out))
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", SGR.sub("", out))
    if width == 400:
        assert "\\x1b[2J\\x07[bold]x[/bold]<script>alert(1)</script>|`\\u202e" in out


# -- in a file or a pipe: as wide as the table needs --------------------------------------------------

SENDTO = ('sendto(S1, "Hello 127.0.0.1:23334, I am Server. your msg : hello\\n\\n", 54, 0, '
          '{AF_INET, 127.0.0.1:EPHEMERAL}, 16) = 54')


def file_output(comparison: Comparison, summary: str = "summary") -> str:
    buf = io.StringIO()
    compare_text.render(comparison, summary, buf, PLAIN)
    return buf.getvalue()


def fitting() -> Comparison:
    """sample() without its 200-byte write: every row fits FILE_WIDTH."""
    comparison = sample()
    comparison.rows = [row for row in comparison.rows if row.verdict != "changed"]
    return comparison


def test_a_table_that_fits_is_laid_out_at_the_file_width() -> None:
    # Byte for byte what a file got before its width followed the table: a handout that fits stays the same.
    assert file_output(fitting()) == text_output(fitting(), width=FILE_WIDTH, summary="summary")
    assert file_output(fitting()) != text_output(fitting(), width=FILE_WIDTH - 10, summary="summary")


def test_in_a_file_a_long_call_widens_the_table_instead_of_being_cut() -> None:
    comparison = fitting()
    comparison.rows.append(Row("same", step(9, "sendto", SENDTO), step(9, "sendto", SENDTO)))
    detail = "flags: " + "|".join(f"MSG_FLAG{i}" for i in range(20))  # an explanation longer than a column
    comparison.rows.append(Row("changed", step(10, "send", "send(C1) = 1"), step(10, "send", "send(C1) = 2"),
                               detail=detail))
    comparison.left.program = "/srv/lectures/socket-programming/week-three/examples/" + "x" * 120 + ".php"
    out = file_output(comparison)
    lines = out.splitlines()
    assert "…" not in out
    row = next(line for line in lines if "sendto(" in line)
    assert row.count(SENDTO) == 2 and row.endswith(SENDTO)
    assert f"       {detail}" in lines
    assert lines[0].startswith(f"left:  {comparison.left.program} (php 8.2.36)")
    width = max(cells(line) for line in lines)
    assert FILE_WIDTH < width < FILE_MAX_WIDTH
    assert "…" in text_output(comparison, width=FILE_WIDTH, summary="summary")  # what a 160-column file got


def test_in_a_file_a_step_too_long_for_any_handout_is_cut_at_the_widest() -> None:
    comparison = sample()
    assert comparison.rows[2].left is not None
    comparison.rows[2].left.text = "write(C1, \"" + "x" * 400 + "\", 400) = 400"  # wider than half of the widest
    out = file_output(comparison)
    assert out == text_output(comparison, width=FILE_MAX_WIDTH, summary="summary")
    assert any(line.count("x") > 250 and "…" in line for line in out.splitlines())


def test_in_a_file_colour_follows_the_terminal_value() -> None:
    buf = io.StringIO()
    compare_text.render(fitting(), "summary", buf, Terminal(None, color=True))
    assert "\x1b[32m" in buf.getvalue() and SGR.sub("", buf.getvalue()) == file_output(fitting())


# -- Terminal: one rule for width and colour -------------------------------------------------------

def _pty(columns: int) -> tuple[int, IO[str]]:
    """A real pseudo-terminal of this many columns: its master side and a text stream on its other side."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, os.fdopen(slave, "w")


def test_on_a_terminal_its_width_and_colour() -> None:
    master, tty = _pty(97)
    with tty:
        assert Terminal.of(tty, environ={}) == Terminal(97, True)
        assert Terminal.of(tty, environ={"COLUMNS": "70"}) == Terminal(70, True)
        assert Terminal.of(tty, width=40, environ={"COLUMNS": "70"}) == Terminal(40, True)
        for junk in ("", "0", "-3", "wide", "1e3"):
            assert Terminal.of(tty, environ={"COLUMNS": junk}) == Terminal(97, True), junk
        assert Terminal.of(tty, environ={"NO_COLOR": ""}) == Terminal(97, False)  # set, whatever its value
        assert Terminal.of(tty, environ={"NO_COLOR": "1", "COLUMNS": "70"}) == Terminal(70, False)
    os.close(master)


def test_a_terminal_that_does_not_say_its_size_is_80_wide() -> None:
    master, tty = _pty(0)
    with tty:
        assert Terminal.of(tty, environ={}) == Terminal(80, True)
    os.close(master)


def test_a_file_or_pipe_has_no_width_and_no_colour_unless_asked(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    with open(tmp_path / "out.txt", "w") as file, os.fdopen(write_end, "w") as pipe:
        for out in (file, pipe, io.StringIO()):
            assert Terminal.of(out, environ={}) == PLAIN
            assert Terminal.of(out, environ={"COLUMNS": "90"}) == Terminal(90, False)
            assert Terminal.of(out, width=120, environ={"COLUMNS": "90"}) == Terminal(120, False)
    os.close(read_end)


# -- JSON ------------------------------------------------------------------------------------------

def json_output(comparison: Comparison, summary: str = "not equivalent") -> tuple[str, dict[str, Any]]:
    buf = io.StringIO()
    compare_json.render(comparison, summary, buf, Terminal(width=10, color=True))
    return buf.getvalue(), json.loads(buf.getvalue())


def test_json_keys_and_values() -> None:
    comparison = sample()
    text, obj = json_output(comparison)
    assert text.endswith("}\n") and text.isascii()
    assert set(obj) == {"schema", "equivalent", "level", "left", "right", "rows", "summary"}
    assert obj["schema"] == 1 and obj["equivalent"] is False and obj["level"] == "semantic"
    assert obj["left"] == {"program": "server1.php", "language": "php", "interpreter": "/usr/bin/php",
                           "interpreter_version": "8.2.36", "exit": {"code": 0}, "peer": None,
                           "name_service_calls": 0}
    assert obj["right"]["program"] == "server1.py"
    assert len(obj["rows"]) == len(comparison.rows)
    for row in obj["rows"]:
        assert set(row) == {"verdict", "rule", "detail", "left", "right", "left_step", "right_step"}
    equivalent = obj["rows"][1]
    assert equivalent["verdict"] == "equivalent" and equivalent["rule"] == "accept4-as-accept"
    assert equivalent["right_step"] == {"proc": "P1", "name": "accept",
                                        "text": "accept4(L1, NULL, NULL, SOCK_CLOEXEC) = C1"}
    assert equivalent["left"] == comparison.rows[1].left.event.to_json()  # type: ignore[union-attr]
    assert Event.from_json(equivalent["left"]) == comparison.rows[1].left.event  # type: ignore[union-attr]
    left_only = obj["rows"][3]
    assert left_only["right"] is None and left_only["right_step"] is None and left_only["left"]["seq"] == 3
    assert obj["rows"][2]["detail"] == 'buf: 200 bytes -> "hi"'
    assert obj["summary"] == {"text": "not equivalent", "counts": dict.fromkeys(VERDICTS, 1)}


def test_json_equivalent_comparison() -> None:
    comparison = sample()
    comparison.rows = [r for r in comparison.rows if r.verdict in ("same", "equivalent", "info")]
    _, obj = json_output(comparison)
    assert obj["equivalent"] is True and obj["summary"]["counts"]["changed"] == 0


def test_hostile_payload_is_inert_in_json() -> None:
    text, obj = json_output(hostile(), summary=HOSTILE)
    assert text.isascii()
    for raw in (*RAW_CONTROLS, "<script>", "</script>", "<", ">", "&"):
        assert raw not in text
    assert "\\u001b[2J" in text and "\\u0007" in text and "\\u202e" in text and "\\u003cscript\\u003e" in text
    # The values themselves are untouched: a consumer gets the payload back exactly.
    assert obj["rows"][2]["left"]["args"]["buf"]["text"] == HOSTILE
    assert obj["rows"][0]["detail"] == f"buf: {HOSTILE}" and obj["summary"]["text"] == HOSTILE
    assert obj["left"]["exit"] == {"signal": HOSTILE, "by": "sctrace", "reason": HOSTILE}


# -- Markdown --------------------------------------------------------------------------------------

def markdown_output(comparison: Comparison, summary: str = "not equivalent at semantic level") -> str:
    buf = io.StringIO()
    compare_markdown.render(comparison, summary, buf, Terminal(width=10, color=True))
    return buf.getvalue()


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of the comparison table, split on unescaped pipes."""
    lines = markdown.splitlines()
    start = lines.index("| # | verdict | left | right | explanation |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_markdown_layout() -> None:
    md = markdown_output(sample())
    lines = md.splitlines()
    assert lines[0] == "# Socket calls compared: server1.php vs server1.py"
    assert "| program | server1.php | server1.py |" in lines
    assert "| language | php 8.2.36 | python 3.11.2 |" in lines
    assert "| exit | exited with 0 | exited with 0 |" in lines
    assert "Compared at the semantic level." in lines
    rows = table_rows(md)
    assert len(rows) == 6 and all(len(row) == 5 for row in rows)
    assert rows[0] == ["1", "= same", r"P1: socket(AF\_INET, SOCK\_STREAM, IPPROTO\_IP) = L1",
                       r"P1: socket(AF\_INET, SOCK\_STREAM, IPPROTO\_IP) = L1", ""]
    assert rows[1][1] == "≈ equivalent" and rows[1][4] == r"rules: accept4-as-accept (tolerated: SOCK\_CLOEXEC)"
    assert rows[2][1] == "≠ changed" and rows[2][4] == 'buf: 200 bytes -&gt; "hi"'
    assert rows[3][1] == "&lt; left only" and rows[3][3] == ""
    assert rows[4][1] == "&gt; right only" and rows[4][2] == ""
    assert lines[-2:] == ["- not equivalent at semantic level",
                          "- counts: same 1, equivalent 1, changed 1, left only 1, right only 1, info 1"]


def test_markdown_escaping() -> None:
    assert compare_markdown.md_text("a|b`c*d_e[f]g<h>i&j\\k~l$m") == (
        r"a\|b\`c\*d\_e\[f\]g&lt;h&gt;i&amp;j\\k\~l\$m")
    assert compare_markdown.md_text("\x1b[2J") == r"\\x1b\[2J"
    assert compare_markdown.md_text("see http://x.org and www.x.org") == r"see http\://x.org and www\.x.org"
    assert compare_markdown.md_line("# not a heading") == r"\# not a heading"
    assert compare_markdown.md_line("12. not a list") == r"12\. not a list"
    assert compare_markdown.md_line("- not a list") == r"\- not a list"
    assert compare_markdown.md_line("plain - text") == "plain - text"


def test_hostile_payload_is_inert_in_markdown() -> None:
    md = markdown_output(hostile(), summary=f"# {HOSTILE}\n- {HOSTILE}")
    for raw in (*RAW_CONTROLS, "<script>", "</script>", "<", "[bold]", "x[/bold]"):
        assert raw not in md
    assert md.count("`") == md.count("\\`")  # every backtick is escaped: no code span can open
    rows = table_rows(md)
    assert len(rows) == 3 and all(len(row) == 5 for row in rows)  # the payload's "|" did not add cells
    assert r"\\x1b\[2J\\x07\[bold\]x\[/bold\]&lt;script&gt;alert(1)&lt;/script&gt;\|\`\\u202e" in rows[0][2]


def test_hostile_markdown_renders_as_plain_text() -> None:
    """Parsed by a real CommonMark parser (with GFM tables), the payload yields only text, no markup."""
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_output(hostile(), summary=f"# {HOSTILE}\n1. {HOSTILE}\n- {HOSTILE}")
    parser = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = parser.parse(md)
    inline_types = {child.type for token in tokens if token.children for child in token.children}
    assert inline_types <= {"text", "softbreak"}, inline_types
    block_types = {token.type for token in tokens}
    assert "html_block" not in block_types and "code_block" not in block_types and "fence" not in block_types
    assert sum(1 for token in tokens if token.type == "heading_open") == 2  # the title and "Summary" only
    html = parser.render(md)
    assert "<script>" not in html and "\x1b" not in html and "<code>" not in html and "<strong>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    body_rows = html.split("<tbody>")[-1].count("<tr>")
    assert body_rows == 3


@pytest.mark.parametrize("text", [
    HOSTILE,
    "x\\|y\\\\|z|",
    "**bold** __b__ _em_ `code` ``x`` [link](http://x) ![img](y) <b>hi</b> &amp; &#60;",
    "trailing backslash \\",
    "~~struck~~ $x^2$ \\[not math\\]",
])
def test_markdown_cells_read_back_as_the_text(text: str) -> None:
    """What a CommonMark parser makes of a cell is exactly the (terminal-escaped) text, character for character."""
    markdown_it = pytest.importorskip("markdown_it")
    from sctrace.model.escape import escape_for_terminal

    comparison = Comparison("raw", side("a"), side("b"), [Row("left_only", step(0, "write", text), None)])
    tokens = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown_output(comparison))
    cells_text = []
    for token in tokens:
        if token.type == "inline" and token.children is not None:
            assert {child.type for child in token.children} <= {"text"}, token.children
            cells_text.append("".join(child.content for child in token.children))
    assert f"P1: {escape_for_terminal(text)}" in cells_text


@pytest.mark.parametrize("width", [8, 30, 60, 100, 200])
@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("ascii_only", [False, True])
def test_rows_written_the_short_way_are_those_the_general_way_writes(width: int, color: bool,
                                                                     ascii_only: bool) -> None:
    """Table.row writes an ASCII row that fits its columns in one expression: byte for byte what columns() and
    line() make of it, for rows that fit and rows that do not, wide characters and payload controls."""
    cmp = sample()
    cmp.rows += [
        Row("same", step(5, "write", 'write(C1, "日本語", 9) = 9'), step(5, "write", 'write(C1, "日本語", 9) = 9')),
        Row("same", step(6, "write", f'write(C1, "{HOSTILE}", 9) = 9'), step(6, "write", "write(C1, \"\", 0) = 0")),
        Row("left_only", step(7, "close", "close(C1) = 0", proc="a-long-process-role"), None),
    ]
    glyphs = compare_text._ASCII if ascii_only else compare_text._UNICODE
    short, general = io.StringIO(), io.StringIO()
    table = compare_text._Table(cmp, short, width, glyphs, color)
    assert table.exact == (width >= 30)  # at width 8 the step columns are widened to their minimum
    table.write("summary")
    table = compare_text._Table(cmp, general, width, glyphs, color)
    table.exact = False
    table.write("summary")
    assert short.getvalue() == general.getvalue()
