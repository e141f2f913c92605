"""A Comparison as a Markdown handout: a title, the two sides, one table row per step, the summary.

A handout is rendered by GitHub, GitLab, editors and static-site generators,
any of which turns Markdown punctuation into formatting and passes raw HTML
through.  The step texts are the payloads a traced program chose, so every piece
of text taken from a trace goes through md_text(): control and bidi characters
are escaped as for a terminal, "<", ">" and "&" become HTML entities (no tag or
entity of the payload survives), and the characters that start emphasis, code
spans, links, strikethrough, math or a table cell are backslash-escaped.  Code
spans are not used at all: a payload with backticks could close one early.
"""

from __future__ import annotations

import re
from typing import IO

from sctrace.compare.model import Comparison, Row, Side, Step
from sctrace.model.escape import escape_for_terminal
from sctrace.render.compare_text import (
    LABELS,
    MARKERS,
    counts_text,
    describe_exit,
    describe_peer,
    describe_runtime,
    explanation,
    step_text,
)
from sctrace.render.terminal import Terminal

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# \ escapes; ` code spans; * _ emphasis; [ ] links and images (with ! and ( ) harmless once [ ] are
# escaped); | table cells; ~ strikethrough (GFM); $ math (GitHub).
_BACKSLASHED = frozenset("\\`*_[]|~$")
_ESCAPES = {**{ch: "\\" + ch for ch in _BACKSLASHED}, **_ENTITIES}
# GFM's extended autolinks make "http://..." and "www...." clickable without any markup; escaping
# the ":" of "://" and the "." of "www." keeps them plain text (best effort: bare e-mail addresses
# are still linked by some renderers).
_AUTOLINK = re.compile(r"(?<=[A-Za-z0-9]):(?=//)|(?<=\b[Ww][Ww][Ww])\.")
# Characters that start a block (heading, list, thematic break, setext underline) at a line's start.
_BLOCK_START = re.compile(r"^(?:[#+\-=]|\d+[.)])")


def render(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    """Write comparison as a Markdown document; the terminal's width and colour do not apply to Markdown."""
    del terminal  # the same signature as the other renderers (render.CompareRenderer)
    left, right = comparison.left, comparison.right
    lines = [
        f"# Socket calls compared: {md_text(left.program)} vs {md_text(right.program)}",
        "",
        "| | left | right |",
        "| --- | --- | --- |",
        *_side_rows(left, right),
        "",
        f"Compared at the {md_text(comparison.level)} level.",
        "",
    ]
    if comparison.rows:
        lines += ["| # | verdict | left | right | explanation |", "| ---: | --- | --- | --- | --- |"]
        lines += [_row(number, row) for number, row in enumerate(comparison.rows, 1)]
        lines += _call_explanations(comparison)
    else:
        lines.append("No socket calls on either side.")
    lines += ["", "## Summary", ""]
    lines += [f"- {md_line(text)}" for text in summary.splitlines() if text.strip()]
    lines.append("- counts: " + ", ".join(text for _, text in counts_text(comparison)))
    out.write("\n".join(lines) + "\n")


def _call_explanations(comparison: Comparison) -> list[str]:
    """What each row's calls asked of the kernel (sctrace/model/explain.py), one list item per row and side."""
    from sctrace.model.explain import explain

    items = []
    for number, row in enumerate(comparison.rows, 1):
        texts = {name: explain(step.event) for name, step in (("left", row.left), ("right", row.right)) if step}
        if len(texts) == 2 and len(set(texts.values())) == 1:
            items.append(f"- {number}: {md_text(next(iter(texts.values())) or '')}")
        else:
            items += [f"- {number} {name}: {md_text(text)}" for name, text in texts.items() if text]
    return ["", "What each call asked of the kernel:", "", *items] if items else []


def md_text(text: str) -> str:
    """text as inline Markdown that renders as exactly these characters and nothing else.

    escape_for_terminal goes first, so the backslashes it writes (``\\x1b``) are
    themselves escaped below and show up literally.
    """
    text = escape_for_terminal(text)
    text = "".join(_ESCAPES.get(ch, ch) for ch in text)
    return _AUTOLINK.sub(lambda m: "\\" + m.group(0), text)


def md_line(text: str) -> str:
    """md_text for text that starts a line: a leading "#", "-", "+", "=" or "1." stays literal too."""
    escaped = md_text(text).lstrip()
    match = _BLOCK_START.match(escaped)
    if match is None:
        return escaped
    end = match.end()
    return escaped[: end - 1] + "\\" + escaped[end - 1:]


def _side_rows(left: Side, right: Side) -> list[str]:
    def interpreter(side: Side) -> str:
        return side.interpreter or ""

    fields = [
        ("program", left.program, right.program),
        ("language", describe_runtime(left), describe_runtime(right)),
        ("interpreter", interpreter(left), interpreter(right)),
        ("exit", describe_exit(left.exit), describe_exit(right.exit)),
    ]
    if left.peer is not None or right.peer is not None:
        lpeer, rpeer = left.peer, right.peer
        fields.append(("peer", describe_peer(lpeer) if lpeer else "", describe_peer(rpeer) if rpeer else ""))
    return [f"| {name} | {md_text(a)} | {md_text(b)} |" for name, a, b in fields]


def _row(number: int, row: Row) -> str:
    verdict = f"{MARKERS.get(row.verdict, '?')} {LABELS.get(row.verdict, row.verdict)}"
    why = explanation(row) or ""
    cells = [str(number), md_text(verdict), _step(row.left), _step(row.right), md_text(why)]
    return "| " + " | ".join(cells) + " |"


def _step(step: Step | None) -> str:
    return "" if step is None else md_text(f"{step.proc}: {step_text(step)}")
