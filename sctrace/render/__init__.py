"""Renderers: one module per output format behind one small interface.

A renderer is given the header once, then each event as it happens (so a
long trace streams), then closed.  RENDERERS maps ``--format`` names to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from sctrace.model.trace import Renderer

__all__ = ["COMPARE_RENDERERS", "RENDERERS", "Renderer"]


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


RENDERERS: dict[str, Callable[[IO[str]], Renderer]] = {"text": _text, "jsonl": _jsonl, "html": _html,
                                                       "mermaid": _mermaid}


def _compare_module(name: str, module_name: str | None = None) -> Callable[..., None]:
    def render(*args: object, **kwargs: object) -> None:
        import importlib

        module = importlib.import_module(f"sctrace.render.{module_name or 'compare_' + name}")
        module.render(*args, **kwargs)

    return render


# --format of `sctrace compare`: render(comparison, summary, out, *, width=None, color=False)
COMPARE_RENDERERS: dict[str, Callable[..., None]] = {
    **{name: _compare_module(name) for name in ("text", "json", "markdown")},
    "html": _compare_module("html", "html"),  # one module per format: html and mermaid draw traces too
    "mermaid": _compare_module("mermaid", "mermaid"),
}
