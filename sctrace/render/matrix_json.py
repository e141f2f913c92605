"""A Matrix as JSON (documented in docs/matrix-format.md): the columns, then the rows with their cells.

Every text is a JSON string (json.dumps escapes control characters); the call
texts were escaped for the terminal when they were made, like the compare steps'.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import IO, Any

from sctrace.compare.matrix import Matrix
from sctrace.render.terminal import Terminal

FORMAT = "sctrace-matrix"
VERSION = 1


def to_json(matrix: Matrix) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "programs": [{**asdict(column), "runtime": column.runtime} for column in matrix.columns],
        "rows": [{"step": row.step,
                  "cells": [[{"call": e.name, "text": e.text, "proc": e.proc, "count": e.count, "errno": e.errno}
                             for e in cell] for cell in row.cells]}
                 for row in matrix.rows],
    }


def render(matrix: Matrix, out: IO[str], terminal: Terminal) -> None:
    """Write matrix as one JSON document; the terminal's width and colour do not apply."""
    del terminal
    json.dump(to_json(matrix), out, indent=1, ensure_ascii=True)
    out.write("\n")
