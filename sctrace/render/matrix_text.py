"""A Matrix as a text table: a column per program, a row per life-cycle step, each call on a line of its cell.

    step     │ server1.php        │ server1.py
             │ php 8.2.36         │ python 3.11.7
             │ exited with 0      │ exited with 0
    ─────────┼────────────────────┼──────────────────────────
    create   │ socket(AF_INET,    │ socket(AF_INET,
             │   SOCK_STREAM,     │   SOCK_STREAM|SOCK_CLOEXEC,
             ...

With a width (the terminal's, $COLUMNS or --width), columns share it and long
calls wrap after a comma or a ``|`` (continuation lines indented); without one
(a file, a pipe), every call stays on one line.  Colour only when asked (a
terminal; sctrace/render/terminal.py decides both).  Every
text is escaped for the terminal: the matrix holds nothing a program chose
that could steer it.
"""

from __future__ import annotations

import re
import textwrap
from typing import IO

from sctrace.compare.matrix import Column, Matrix
from sctrace.model.escape import escape_for_terminal
from sctrace.render.compare_text import describe_exit, stream_takes_unicode
from sctrace.render.terminal import Terminal

MIN_COLUMN = 14  # narrower, a call such as "listen(4096)" no longer fits on a line
_BREAK = re.compile(r"(?<=, )|(?<=\|)")  # where a call may wrap: after ", " or "|"
_BOLD, _DIM = "1", "2"


def render(matrix: Matrix, out: IO[str], terminal: Terminal) -> None:
    """Write matrix as a table, no line wider than the terminal's width (when it has one and the columns can
    fit); with no width (a file, a pipe), every call on one line."""
    width, color = terminal.width, terminal.color
    unicode = stream_takes_unicode(out)
    bar, rule, cross, times = ("│", "─", "┼", "×") if unicode else ("|", "-", "+", "x")
    heads = [_head(label, column) for label, column in zip(matrix.labels(), matrix.columns, strict=True)]
    cells = [[[entry.shown().replace("×", times) for entry in cell] for cell in row.cells] for row in matrix.rows]
    label_width = max([len("step"), *(len(row.step) for row in matrix.rows)])
    natural = [max([MIN_COLUMN, *(len(line) for line in heads[c]),
                    *(len(line) for row in cells for line in row[c])]) for c in range(len(matrix.columns))]
    widths = natural if width is None else _share(natural, width - label_width - 3 * len(natural))

    def paint(text: str, sgr: str | None) -> str:
        return f"\x1b[{sgr}m{text}\x1b[0m" if color and sgr and text.strip() else text

    def line(label: str, parts: list[str], sgr: str | None = None) -> str:
        padded = [paint(part.ljust(w), sgr) for part, w in zip(parts, widths, strict=True)]
        return f" {bar} ".join([paint(label.ljust(label_width), _BOLD if label else None), *padded]).rstrip()

    lines = []
    head_lines = [[_wrap(text, w) for text in head] for head, w in zip(heads, widths, strict=True)]
    stacked = [[piece for text in head for piece in text] for head in head_lines]
    for i in range(max(len(h) for h in stacked) if stacked else 0):
        lines.append(line("step" if i == 0 else "", [h[i] if i < len(h) else "" for h in stacked],
                          _BOLD if i == 0 else None))
    total = label_width + sum(widths) + 3 * len(widths)  # as wide as a full line of the table
    lines.append((f"{rule * (label_width + 1)}{cross}" + cross.join(rule * (w + 2) for w in widths))[:total])
    for row, row_cells in zip(matrix.rows, cells, strict=True):
        wrapped = [[piece for text in (cell or ["-"]) for piece in _wrap(text, w)]
                   for cell, w in zip(row_cells, widths, strict=True)]
        for i in range(max(len(cell) for cell in wrapped) if wrapped else 1):
            parts = [cell[i] if i < len(cell) else "" for cell in wrapped]
            dim = all(not cell for cell in row_cells)
            lines.append(line(row.step if i == 0 else "", parts, _DIM if dim else None))
    notes = [f"{column.program}: {column.runtime_calls} name-service calls by the C library, not shown"
             for column in matrix.columns if column.runtime_calls]
    notes = [escape_for_terminal(n) for n in notes]
    if width is not None:  # the notes fit too (a long program path breaks where it must)
        notes = [piece for n in notes for piece in textwrap.wrap(n, max(width, 20), subsequent_indent="  ",
                                                                    break_on_hyphens=False)]
    out.write("\n".join([*lines, *notes]) + "\n")


def _head(label: str, column: Column) -> list[str]:
    """A column's heading: the program, its language and runtime version, how it ended."""
    source = "" if column.source == "run" else " (saved trace)"
    return [escape_for_terminal(text) for text in (label, column.runtime + source,
                                                   describe_exit(column.exit))]


def _share(natural: list[int], room: int) -> list[int]:
    """Column widths within room: the narrow columns keep their width, the wide ones share what is left."""
    widths = list(natural)
    if sum(widths) <= room:
        return widths
    left = sorted(range(len(widths)), key=lambda c: natural[c])
    remaining = room
    for n, c in enumerate(left):
        fair = max(MIN_COLUMN, remaining // (len(left) - n))
        widths[c] = min(natural[c], fair)
        remaining -= widths[c]
    return widths


def _wrap(text: str, width: int) -> list[str]:
    """text in lines of at most width, broken after ", " or "|" where it can be, continuation lines indented."""
    if len(text) <= width:
        return [text]
    pieces = [p for p in _BREAK.split(text) if p]
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > width:
            lines.append(current.rstrip())
            current = "  "
        current += piece
        while len(current) > width:  # a piece longer than a line: cut it
            lines.append(current[:width])
            current = "  " + current[width:]
    if current.strip():
        lines.append(current.rstrip())
    return lines
