"""A Matrix as a Markdown handout: a title, one table (a column per program, a row per step), notes.

Every text taken from a trace or a command line goes through md_text (as in
the compare handout): no Markdown or HTML in a program's name or payload
survives as markup.  Calls within a cell are separated by ``<br>``, the one
tag sctrace writes itself.
"""

from __future__ import annotations

from typing import IO

from sctrace.compare.matrix import Matrix
from sctrace.render.compare_markdown import md_line, md_text
from sctrace.render.compare_text import describe_exit
from sctrace.render.terminal import Terminal


def render(matrix: Matrix, out: IO[str], terminal: Terminal) -> None:
    """Write matrix as a Markdown document; the terminal's width and colour do not apply."""
    del terminal
    heads = []
    for label, column in zip(matrix.labels(), matrix.columns, strict=True):
        source = "" if column.source == "run" else " (saved trace)"
        heads.append(f"{md_text(label)}<br>{md_text(column.runtime + source)}"
                     f"<br>{md_text(describe_exit(column.exit))}")
    lines = [
        "# Socket calls by life-cycle step",
        "",
        "| step | " + " | ".join(heads) + " |",
        "| --- |" + " --- |" * len(heads),
    ]
    for row in matrix.rows:
        cells = ["<br>".join(md_text(entry.shown()) for entry in cell) or "-" for cell in row.cells]
        lines.append(f"| {md_text(row.step)} | " + " | ".join(cells) + " |")
    notes = [f"{column.program}: {column.runtime_calls} name-service calls by the C library, not shown"
             for column in matrix.columns if column.runtime_calls]
    if notes:
        lines += ["", *(f"- {md_line(note)}" for note in notes)]
    out.write("\n".join(lines) + "\n")
