"""A Comparison as one JSON object, for scripts and graders (documented in docs/compare-format.md).

Each row carries the original events in the trace schema (Event.to_json(), see
docs/trace-format.md) next to the normalized steps, so a consumer can show or
re-check the raw calls without the two trace files.  The output is ASCII-only
(ensure_ascii), so no control byte of a payload reaches a terminal that cats
the file; "<", ">" and "&" are written as \\u escapes as well, so the object can
be embedded in an HTML page or a <script> block without ending it.
"""

from __future__ import annotations

import json
from typing import IO, Any

from sctrace.compare.model import Comparison, Row, Side, Step
from sctrace.render.terminal import Terminal

SCHEMA = 1


def _html_safe(text: str) -> str:
    """text with the characters that are harmless in JSON but end or open HTML constructs as \\u escapes,
    equally valid JSON (str.replace: str.translate with a table is ten times slower)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    """Write comparison as an indented JSON object, one row to a line, and a newline; the terminal's width and
    colour do not apply to JSON.

    The rows are encoded one at a time by the C encoder and written as they come: an indented dump of the
    whole object goes through the pure-Python encoder and holds the whole text (100,000 rows: 20 s, 1.4 GB).
    """
    del terminal  # the same signature as the other renderers (render.CompareRenderer)
    head = to_json(comparison, summary, rows=False)
    items = list(head.items())
    out.write("{\n")
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key != "rows":
            text = json.dumps(value, ensure_ascii=True, indent=2).replace("\n", "\n  ")
            out.write(f"  {json.dumps(key)}: {_html_safe(text)}{comma}\n")
            continue
        if not comparison.rows:
            out.write(f'  "rows": []{comma}\n')
            continue
        out.write('  "rows": [\n')
        last = len(comparison.rows) - 1
        for n, row in enumerate(comparison.rows):
            out.write(f"    {_html_safe(_ENCODE(_row(row)))}{',' if n < last else ''}\n")
        out.write(f"  ]{comma}\n")
    out.write("}\n")


_ENCODE = json.JSONEncoder(ensure_ascii=True).encode  # compact, by the C encoder: ", " and ": " separators


def to_json(comparison: Comparison, summary: str, *, rows: bool = True) -> dict[str, Any]:
    """The documented object, as plain Python values (for callers that embed it in something larger);
    rows=False leaves the rows list empty."""
    return {
        "schema": SCHEMA,
        "equivalent": comparison.equivalent,
        "level": comparison.level,
        "left": _side(comparison.left),
        "right": _side(comparison.right),
        "rows": [_row(row) for row in comparison.rows] if rows else [],
        "summary": {"text": summary, "counts": comparison.counts()},
    }


def _row(row: Row) -> dict[str, Any]:
    return {
        "verdict": row.verdict,
        "rule": row.rule,
        "detail": row.detail,
        "left": row.left.event.to_json() if row.left else None,
        "right": row.right.event.to_json() if row.right else None,
        "left_step": _step(row.left),
        "right_step": _step(row.right),
    }


def _side(side: Side) -> dict[str, Any]:
    return {
        "program": side.program,
        "language": side.language,
        "interpreter": side.interpreter,
        "interpreter_version": side.interpreter_version,
        "exit": dict(side.exit),
        "peer": side.peer,
        "name_service_calls": side.name_service_calls,
    }


def _step(step: Step | None) -> dict[str, Any] | None:
    if step is None:
        return None
    return {"proc": step.proc, "name": step.name, "text": step.text}
