"""Renderers: one module per output format behind one small interface per kind of report.

A trace renderer is given the header once, then each event as it happens (so
a long trace streams), then closed; RENDERERS maps ``trace --format`` names to
them.  A comparison or a matrix is written whole, by a function that fits
CompareRenderer or MatrixRenderer: COMPARE_RENDERERS and MATRIX_RENDERERS map
``compare --format`` and ``matrix --format`` names to them.  Each is told how
to lay its lines out by a Terminal (sctrace/render/terminal.py), the one place
where width and colour are decided.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Protocol

from sctrace.model.choices import CompareFormat, MatrixFormat, TraceFormat
from sctrace.model.trace import Renderer
from sctrace.render.terminal import PLAIN, Terminal

if TYPE_CHECKING:
    from sctrace.compare.matrix import Matrix
    from sctrace.compare.model import Comparison

__all__ = ["COMPARE_RENDERERS", "MATRIX_RENDERERS", "PLAIN", "RENDERERS", "CompareRenderer", "MatrixRenderer",
           "Renderer", "Terminal"]


def _text(out: IO[str]) -> Renderer:
    from sctrace.render.trace_text import TextRenderer

    return TextRenderer(out)


def _jsonl(out: IO[str]) -> Renderer:
    from sctrace.render.trace_jsonl import JsonlRenderer

    return JsonlRenderer(out)


def _html(out: IO[str]) -> Renderer:
    from sctrace.render.html import HtmlRenderer

    return HtmlRenderer(out)


def _mermaid(out: IO[str]) -> Renderer:
    from sctrace.render.mermaid import MermaidRenderer

    return MermaidRenderer(out)


RENDERERS: dict[TraceFormat, Callable[[IO[str]], Renderer]] = {"text": _text, "jsonl": _jsonl, "html": _html,
                                                               "mermaid": _mermaid}


class CompareRenderer(Protocol):
    """``sctrace compare --format``: write a comparison (and its one-line summary) to out, laid out for terminal."""

    def __call__(self, comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None: ...


class MatrixRenderer(Protocol):
    """``sctrace matrix --format``: write a matrix to out, laid out for terminal."""

    def __call__(self, matrix: Matrix, out: IO[str], terminal: Terminal) -> None: ...


# Each format's module is imported when it is used: a command pays only for the format it writes.

def _compare_text(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import compare_text

    compare_text.render(comparison, summary, out, terminal)


def _compare_json(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import compare_json

    compare_json.render(comparison, summary, out, terminal)


def _compare_markdown(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import compare_markdown

    compare_markdown.render(comparison, summary, out, terminal)


def _compare_html(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import html  # one module per format: html and mermaid draw traces too

    html.render(comparison, summary, out, terminal)


def _compare_mermaid(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import mermaid

    mermaid.render(comparison, summary, out, terminal)


COMPARE_RENDERERS: dict[CompareFormat, CompareRenderer] = {
    "text": _compare_text, "json": _compare_json, "markdown": _compare_markdown, "html": _compare_html,
    "mermaid": _compare_mermaid,
}


def _matrix_text(matrix: Matrix, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import matrix_text

    matrix_text.render(matrix, out, terminal)


def _matrix_markdown(matrix: Matrix, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import matrix_markdown

    matrix_markdown.render(matrix, out, terminal)


def _matrix_json(matrix: Matrix, out: IO[str], terminal: Terminal) -> None:
    from sctrace.render import matrix_json

    matrix_json.render(matrix, out, terminal)


MATRIX_RENDERERS: dict[MatrixFormat, MatrixRenderer] = {
    "text": _matrix_text, "markdown": _matrix_markdown, "json": _matrix_json,
}
