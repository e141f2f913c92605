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

from sctrace.compare.model import Comparison, Side, Step

SCHEMA = 1

# Characters that are harmless in JSON but end or open HTML constructs; \u escapes are equally valid JSON.
_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def render(comparison: Comparison, summary: str, out: IO[str], *, width: int | None = None,
           color: bool = False) -> None:
    """Write comparison as an indented JSON object and a newline; width and color do not apply to JSON."""
    del width, color  # the same signature as the other renderers, so the CLI can pick one by name
    text = json.dumps(to_json(comparison, summary), ensure_ascii=True, indent=2)
    out.write(text.translate(_HTML_SAFE) + "\n")


def to_json(comparison: Comparison, summary: str) -> dict[str, Any]:
    """The documented object, as plain Python values (for callers that embed it in something larger)."""
    return {
        "schema": SCHEMA,
        "equivalent": comparison.equivalent,
        "level": comparison.level,
        "left": _side(comparison.left),
        "right": _side(comparison.right),
        "rows": [
            {
                "verdict": row.verdict,
                "rule": row.rule,
                "detail": row.detail,
                "left": row.left.event.to_json() if row.left else None,
                "right": row.right.event.to_json() if row.right else None,
                "left_step": _step(row.left),
                "right_step": _step(row.right),
            }
            for row in comparison.rows
        ],
        "summary": {"text": summary, "counts": comparison.counts()},
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
