"""The side-by-side terminal view of a Comparison (``sctrace compare``'s default output).

Layout (docs/compare-format.md has an example)::

    left:  server1.php (php 8.2.36), exited with 0
    right: server1.py (python 3.11.2), exited with 0
      proc  server1.php                │ server1.py
    = P1    socket(AF_INET, SOCK_STRE… │ socket(AF_INET, SOCK_STRE…
    ≈ P1    accept(L1, NULL, NULL) = … │ accept4(L1, NULL, NULL, S…
            rules: accept4-as-accept (tolerated: SOCK_CLOEXEC)

Every line is built as a list of segments, fitted to the width first and only
then coloured, so a colour escape can never be cut in half and the width is
counted in terminal cells, not in bytes of escape sequences.

Everything that a traced program could have chosen (step texts, roles, program
names, exit details, and the summary, which quotes them) goes through
escape_for_terminal before it is measured or written: the only escape sequences
in the output are the SGR colours this module adds when asked to.  When the
stream cannot take Unicode, markers, the ellipsis and the column rule fall back
to ASCII and any other non-ASCII character is written as a ``\\xe9``-style escape, so
writing never fails half-way through a table.
"""

from __future__ import annotations

import codecs
import re
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import IO, Any

from sctrace.compare.model import VERDICTS, Comparison, Row, Side, Step
from sctrace.model.escape import escape_for_terminal
from sctrace.render.terminal import Terminal

MARKERS = {"same": "=", "equivalent": "≈", "changed": "≠", "left_only": "<", "right_only": ">", "info": "i"}
ASCII_MARKERS = {"same": "=", "equivalent": "~", "changed": "!", "left_only": "<", "right_only": ">", "info": "i"}
# SGR parameters: green, cyan, yellow, red, red, dim.
COLORS = {"same": "32", "equivalent": "36", "changed": "33", "left_only": "31", "right_only": "31", "info": "2"}
LABELS = {"same": "same", "equivalent": "equivalent", "changed": "changed", "left_only": "left only",
          "right_only": "right only", "info": "info"}

ROLE_TITLE = "proc"
MAX_ROLE_CELLS = 12  # a role is "P1" or a pid; a longer one is cut rather than squeezing the steps


@dataclass(frozen=True)
class _Glyphs:
    """The characters the layout itself uses, in the form the stream can encode."""

    markers: dict[str, str]
    ellipsis: str
    separator: str
    ascii_only: bool


_UNICODE = _Glyphs(MARKERS, "…", " │ ", False)
_ASCII = _Glyphs(ASCII_MARKERS, "...", " | ", True)

# A piece of one output line and the SGR parameter to colour it with (None: uncoloured).
_Segment = tuple[str, str | None]


# In a file or a pipe (a terminal of no width) the table is as wide as its longest line needs, so that nothing
# is cut, but never narrower than FILE_WIDTH, the width such handouts have always had (a table that fits it
# stays byte for byte the same), nor wider than FILE_MAX_WIDTH: a step that shows kilobytes of payload is cut
# rather than padding every line of the file to its length.
FILE_WIDTH = 160
FILE_MAX_WIDTH = 600


def render(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    """Write the side-by-side table of comparison to out, no line wider than the terminal's width in cells.

    terminal.color adds ANSI SGR colours to the verdict markers and the verdict names in the counts.
    """
    glyphs = _UNICODE if stream_takes_unicode(out) else _ASCII
    if terminal.width is not None:
        _Table(comparison, out, terminal.width, glyphs, terminal.color).write(summary)
        return
    shown = [_shown(row, glyphs) for row in comparison.rows]  # measured once, written as measured
    width = min(max(FILE_WIDTH, _fitting_width(comparison, shown, glyphs)), FILE_MAX_WIDTH)
    _Table(comparison, out, width, glyphs, terminal.color, shown).write(summary)


def stream_takes_unicode(out: IO[str]) -> bool:
    """Whether out can encode any character: its encoding is a UTF, or it encodes nothing.

    An in-memory text stream (io.StringIO) has no encoding and stores any str,
    so it counts as Unicode-capable; a file or terminal opened with an 8-bit or
    ASCII encoding (LANG=C) does not, and gets the ASCII layout instead.
    """
    encoding = getattr(out, "encoding", None)
    if encoding is None:
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


# -- descriptions shared with the Markdown renderer (plain text, not yet escaped) ------------------

def describe_exit(exit: dict[str, Any]) -> str:
    """How a side ended, in words: "exited with 0", "killed by SIGKILL (by sctrace: timeout)"."""
    if "code" in exit:
        return f"exited with {exit['code']}"
    if "signal" in exit:
        text = f"killed by {exit['signal']}"
        if exit.get("core"):
            text += " (core dumped)"
        if exit.get("by") == "sctrace":
            text += f" (by sctrace: {exit.get('reason', 'unknown reason')})"
        return text
    if exit:
        return "ended: " + ", ".join(f"{key}={value}" for key, value in exit.items())
    return "exit unknown"


def describe_runtime(side: Side) -> str:
    """The language and interpreter version, or "executable" for a program run directly."""
    if side.language is None and side.interpreter_version is None:
        return "executable"
    return " ".join(part for part in (side.language or side.interpreter, side.interpreter_version) if part)


def describe_side(side: Side) -> str:
    """One side's header: "server1.php (php 8.2.36), exited with 0"."""
    text = f"{side.program} ({describe_runtime(side)}), {describe_exit(side.exit)}"
    peer = side.peer
    if peer is not None:
        text += f"; peer {describe_peer(peer)}"
    return text


def describe_peer(peer: dict[str, Any]) -> str:
    """The explicit peer program: "client1.py (python 3.11.7), exited with 0"."""
    runtime = " ".join(str(p) for p in (peer.get("language"), peer.get("interpreter_version")) if p) or "executable"
    exit = peer.get("exit")
    return f"{peer.get('program')} ({runtime}), {describe_exit(exit if isinstance(exit, dict) else {})}"


def step_text(step: Step) -> str:
    """A step as shown: its text, then the kernel's TCP state after it (traced with --states), if any.

    The state is shown, never compared: when a connect returns, the handshake may or may not be done
    (SYN_SENT or ESTABLISHED), and whether the peer's FIN came before a close is a race.
    """
    state = step.event.info.get("tcp_state") if step.event.info else None
    return f"{step.text} [{state}]" if isinstance(state, str) else step.text


def role(row: Row) -> str:
    """The process role of a row: "P1", or "P1/P2" when the two sides paired different roles."""
    left = row.left.proc if row.left else None
    right = row.right.proc if row.right else None
    if left and right and left != right:
        return f"{left}/{right}"
    return left or right or ""


def explanation(row: Row) -> str | None:
    """Why a row got its verdict: the rules for an equivalent row, the difference for a changed one.

    Rows that are the same, one-sided or informational explain themselves by
    their marker, so they get None.
    """
    if row.verdict == "equivalent":
        rules = row.rule or ", ".join(_unique([*_rules(row.left), *_rules(row.right)]))
        notes = _unique([*(row.left.notes if row.left else []), *(row.right.notes if row.right else [])])
        text = f"rules: {rules}" if rules else "equivalent"
        return f"{text} (tolerated: {', '.join(notes)})" if notes else text
    if row.verdict == "changed":
        return row.detail or "the calls differ"
    return None


def counts_text(comparison: Comparison) -> list[tuple[str, str]]:
    """(verdict, "same 3") for every verdict, in VERDICTS order."""
    counts = comparison.counts()
    return [(verdict, f"{LABELS[verdict]} {counts.get(verdict, 0)}") for verdict in VERDICTS]


def _rules(step: Step | None) -> list[str]:
    return list(step.rules) if step is not None else []


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- measuring and cutting in terminal cells --------------------------------------------------------

# Characters that are surely one cell each (neither wide, combining nor format characters): printable ASCII,
# general punctuation from the hyphens to the ellipsis, arrows, mathematical operators (the markers) and box
# drawing (the column rule).  Text with nothing else, nearly every line of a table, is measured by its length.
_ONE_CELL = "\x20-\x7e\u2010-\u2027\u2190-\u22ff\u2500-\u257f"
_NOT_ONE_CELL = re.compile(f"[^{_ONE_CELL}]")


def _one_cell_each(text: str) -> bool:
    """Whether text is measured by its length: ASCII (shown texts are escaped, so no control is left) or
    nothing but characters of _ONE_CELL."""
    return text.isascii() or _NOT_ONE_CELL.search(text) is None


def cells(text: str) -> int:
    """The number of terminal columns text takes: wide (CJK) characters two, combining marks none."""
    if _one_cell_each(text):
        return len(text)
    return sum(_char_cells(ch) for ch in text)


def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _cut(text: str, room: int) -> str:
    """The longest start of text that fits in room cells."""
    if _one_cell_each(text):
        return text[:max(room, 0)]
    if cells(text) <= room:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += _char_cells(ch)
        if used > room:
            return text[:i]
    return text


def _column(text: str, room: int, ellipsis: str) -> str:
    """text cut to room cells (ending in the ellipsis when cut) and padded with spaces to exactly room."""
    if room <= 0:
        return ""
    if cells(text) > room:
        mark = ellipsis if cells(ellipsis) < room else ""
        text = _cut(text, room - cells(mark)) + mark
    return text + " " * (room - cells(text))


# -- the table ---------------------------------------------------------------------------------------

# A row's texts as shown: its role, its left and right steps, and its explanation (or None).
_Shown = tuple[str, str, str, str | None]


def _safe(text: str, glyphs: _Glyphs) -> str:
    """text from a traced program, made inert: control and bidi characters escaped, ASCII if need be."""
    text = escape_for_terminal(text)
    if glyphs.ascii_only:
        text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text


def _shown(row: Row, glyphs: _Glyphs) -> _Shown:
    why = explanation(row)
    return (_safe(role(row), glyphs), _safe(step_text(row.left), glyphs) if row.left else "",
            _safe(step_text(row.right), glyphs) if row.right else "", None if why is None else _safe(why, glyphs))


def _fitting_width(comparison: Comparison, shown: list[_Shown], glyphs: _Glyphs) -> int:
    """The narrowest width at which no line of the table is cut (the summary is wrapped, never cut)."""
    roles = [cells(proc) for proc, _, _, _ in shown]
    indent = 2 + min(max([cells(ROLE_TITLE), *roles]), MAX_ROLE_CELLS) + 1
    left = max([cells(_safe(comparison.left.program, glyphs)), *(cells(text) for _, text, _, _ in shown)])
    right = max([cells(_safe(comparison.right.program, glyphs)), *(cells(text) for _, _, text, _ in shown)])
    # The two step columns share what is left of the width, the left one taking the smaller half.
    columns = indent + cells(glyphs.separator) + max(2 * left, 2 * right - 1, 2)
    heads = [cells("left:  " + _safe(describe_side(comparison.left), glyphs)),
             cells("right: " + _safe(describe_side(comparison.right), glyphs))]
    notes = [indent + cells(why) for _, _, _, why in shown if why]
    return max([columns, *heads, *notes])

class _Table:
    """One rendering: the fixed choices (width, glyphs, colour, column sizes) and the lines they make."""

    def __init__(self, comparison: Comparison, out: IO[str], width: int, glyphs: _Glyphs, color: bool,
                 shown: list[_Shown] | None = None) -> None:
        self.comparison = comparison
        self.out = out
        self.width = width
        self.glyphs = glyphs
        self.color = color
        self.shown = shown  # each row's texts, when they were measured before (render in a file)
        roles = [proc for proc, _, _, _ in shown] if shown is not None else [self.safe(role(row))
                                                                            for row in comparison.rows]
        self.role_cells = min(max([cells(ROLE_TITLE), *(cells(r) for r in roles)]), MAX_ROLE_CELLS)
        # marker, space, role, space; then the two step columns around the separator.
        self.indent = 2 + self.role_cells + 1
        fits = width - self.indent - cells(glyphs.separator)
        room = max(fits, 2)
        self.left_cells = room // 2
        self.right_cells = room - self.left_cells
        # A row whose texts are ASCII and fit their columns fills the width exactly (line() would neither cut
        # it nor find it blank) when every marker takes one cell, the columns were not widened to their
        # minimum of two, and the separator is more than blanks: such a row is written the short way (row).
        self.exact = (room == fits and bool(glyphs.separator.strip())
                      and all(cells(m) == 1 for m in [*glyphs.markers.values(), "?"]))

    def write(self, summary: str) -> None:
        cmp = self.comparison
        self.line(("left:  " + self.safe(describe_side(cmp.left)), None))
        self.line(("right: " + self.safe(describe_side(cmp.right)), None))
        self.line(*self.columns(" ", None, ROLE_TITLE, self.safe(cmp.left.program), self.safe(cmp.right.program)))
        if not cmp.rows:
            self.line((" " * self.indent + "(no socket calls on either side)", None))
        if self.shown is None:
            for row in cmp.rows:
                self.row(row, _shown(row, self.glyphs))
        else:
            for row, texts in zip(cmp.rows, self.shown, strict=True):
                self.row(row, texts)
        self.line()
        for text in summary.splitlines():  # the summary is read, not scanned: wrap it, never cut it
            for piece in textwrap.wrap(self.safe(text), self.width, subsequent_indent="  ") or [""]:
                self.line((piece, None))
        parts: list[_Segment] = [("counts: ", None)]
        for i, (verdict, text) in enumerate(counts_text(cmp)):
            parts.append((", " if i else "", None))
            parts.append((text, COLORS[verdict]))
        self.line(*parts)

    def row(self, row: Row, texts: _Shown) -> None:
        marker = self.glyphs.markers.get(row.verdict, "?")
        sgr = COLORS.get(row.verdict)
        proc, left, right, why = texts
        if self.exact and len(proc) <= self.role_cells and len(left) <= self.left_cells \
                and len(right) <= self.right_cells and (proc + left + right).isascii():
            # What columns() and line() make of it, in one expression (this runs for every row).
            body = " " + proc.ljust(self.role_cells) + " " + left.ljust(self.left_cells) + self.glyphs.separator
            head = f"\x1b[{sgr}m{marker}\x1b[0m" if self.color and sgr and marker else marker
            self.out.write(head + (body + right).rstrip() + "\n")
        else:
            self.line(*self.columns(marker, sgr, proc, left, right))
        if why:
            self.line((" " * self.indent + why, None))

    def columns(self, marker: str, sgr: str | None, proc: str, left: str, right: str) -> list[_Segment]:
        ellipsis = self.glyphs.ellipsis
        return [
            (marker, sgr),
            (" " + _column(proc, self.role_cells, ellipsis) + " " + _column(left, self.left_cells, ellipsis)
             + self.glyphs.separator + _column(right, self.right_cells, ellipsis), None),
        ]

    def safe(self, text: str) -> str:
        return _safe(text, self.glyphs)

    def line(self, *segments: _Segment) -> None:
        """Write one line: cut to the width (ending in the ellipsis), trailing blanks dropped, then coloured."""
        fitted = _fit(list(segments), self.width, self.glyphs.ellipsis)
        if self.color:
            text = "".join(f"\x1b[{sgr}m{part}\x1b[0m" if sgr and part else part for part, sgr in fitted)
        else:
            text = "".join(part for part, _ in fitted)
        self.out.write(text + "\n")


def _fit(segments: list[_Segment], width: int, ellipsis: str) -> list[_Segment]:
    if sum(cells(text) for text, _ in segments) > width:
        mark = ellipsis if cells(ellipsis) < width else ""
        room = width - cells(mark)
        kept: list[_Segment] = []
        for text, sgr in segments:
            part = _cut(text, room)
            kept.append((part, sgr))
            room -= cells(part)
            if part != text:
                break
        kept.append((mark, None))
        segments = kept
    while segments and not segments[-1][0].rstrip():
        segments.pop()
    if segments:
        segments[-1] = (segments[-1][0].rstrip(), segments[-1][1])
    return segments
