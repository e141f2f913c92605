# SPDX-License-Identifier: GPL-2.0-or-later
"""A self-contained HTML report of a trace or a comparison (``--format html -o report.html``).

One file, to open in any browser or project in a lecture hall: the style
sheet is inlined (sctrace/render/html_style.py), there is no script, no
image, no font or anything else fetched from anywhere.

- ``compare``: the two sides, the verdict, the side-by-side table in the
  verdict colours of the terminal (each call with its one-line explanation
  from sctrace/model/explain.py and the TCP state after it, each row with the rules
  or the change behind its verdict), then each side's timeline: its calls,
  its packets between program and peer, and its later state changes, in
  time order, and the summary.
- ``trace``: the program and how it ended, and its timeline.

Every text from a trace goes through h(): control and bidirectional
characters are first made visible as for a terminal (``\\x1b``, ``\\u202e``),
then ``html.escape`` turns ``<``, ``>``, ``&`` and quotes into entities, so a
payload can never become markup, close the style sheet or reorder the text.
"""

from __future__ import annotations

import html
from typing import IO

from sctrace import __version__
from sctrace.compare.model import Comparison, Row, Side, Step
from sctrace.model.escape import escape_for_terminal
from sctrace.model.explain import explain
from sctrace.model.notation import format_args, format_result
from sctrace.model.trace import Event, Header
from sctrace.render.compare_text import LABELS, MARKERS, counts_text, describe_exit, describe_runtime, explanation
from sctrace.render.html_style import CSS
from sctrace.render.terminal import Terminal
from sctrace.render.timeline import (
    WholeTraceRenderer,
    is_peer,
    lecture_events,
    local_ports,
    packet_direction,
    packet_ends,
    packet_flags,
    packet_summary,
    state_text,
    tcp_state,
    trace_of,
)

VERDICT_WORDS = {
    "same": "the same call on both sides",
    "equivalent": "different spelling, same request (an equivalence rule)",
    "changed": "the same kind of call, different arguments or result",
    "left_only": "only the left program made this call",
    "right_only": "only the right program made this call",
    "info": "only reads state; never a difference",
}
ARROWS = {"out": "program \u2192 peer", "in": "peer \u2192 program", "self": "within the program"}


def h(text: object) -> str:
    """Text from anywhere (a trace above all) as HTML text that shows exactly its characters."""
    return html.escape(escape_for_terminal(str(text)), quote=True)


def _page(title: str, body: list[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No script, no fetch: a report from an untrusted trace may run nothing and load nothing.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{h(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        *body,
        f'<footer>Made by sctrace {h(__version__)}. Explanations say what each call asks of the kernel; '
        "a listen backlog is capped by net.core.somaxconn of the program's network namespace.</footer>",
        "</body>",
        "</html>",
    ]) + "\n"


def call_text(ev: Event) -> str:
    return f"{ev.name}({format_args(ev)}) = {format_result(ev)}"


def _state_badge(ev: Event | None) -> str:
    state = tcp_state(ev) if ev is not None else None
    return f' <span class="state" title="TCP state after the call">{h(state)}</span>' if state else ""


def _why(ev: Event | None) -> str:
    text = explain(ev) if ev is not None else None
    return f'<span class="why">{h(text)}</span>' if text else ""


# -- the timeline of one trace ----------------------------------------------------------------------

def timeline(events: list[Event]) -> list[str]:
    """A table of the trace's calls, packets and state changes in time order."""
    shown = sorted(lecture_events(events), key=lambda e: (e.t, e.seq))
    if not shown:
        return ["<p>No socket calls.</p>"]
    ports = local_ports(shown)
    t0 = shown[0].t
    out = ['<table class="timeline">', '<colgroup><col class="t"><col class="who"><col></colgroup>',
           '<thead><tr><th class="t">ms</th><th class="who">who</th><th>what happened</th></tr></thead>', "<tbody>"]
    for ev in shown:
        ms = f"{(ev.t - t0) * 1000:.1f}"
        if ev.type == "packet":
            direction = packet_direction(ev, ports)
            kind = _flag_class(packet_flags(ev))
            ends = packet_ends(ev)
            out.append(
                f'<tr class="packet {direction}{kind}"><td class="t">{ms}</td><td class="who">wire</td>'
                f'<td title="{h(packet_summary(ev, options=True))}"><span class="arrow">{h(ARROWS[direction])}</span>'
                f"<code>{h(packet_summary(ev))}</code>"
                + (f'<span class="ends mono">{h(ends)}</span>' if ends else "") + "</td></tr>")
        elif ev.type == "state":
            out.append(f'<tr class="statechange"><td class="t">{ms}</td><td class="who">kernel</td>'
                       f"<td>{h(state_text(ev))}</td></tr>")
        elif ev.type == "syscall":
            who = f"peer {ev.pid}" if is_peer(ev) else f"pid {ev.pid}"
            cls = ' class="peerlane"' if is_peer(ev) else ""
            out.append(f'<tr{cls}><td class="t">{ms}</td><td class="who">{h(who)}</td>'
                       f"<td><code>{h(call_text(ev))}</code>{_state_badge(ev)}{_why(ev)}</td></tr>")
        else:
            out.append(f'<tr class="process"><td class="t">{ms}</td><td class="who">pid {ev.pid}</td>'
                       f"<td>{h(_process_text(ev))}</td></tr>")
    out += ["</tbody>", "</table>"]
    return out


def _flag_class(flags: str) -> str:
    if "R" in flags:
        return " rst"
    if "S" in flags:
        return " syn"
    if "F" in flags:
        return " fin"
    return ""


def _process_text(ev: Event) -> str:
    if ev.type == "exit":
        return f"exited with {ev.info.get('code')}"
    if ev.type == "killed":
        return describe_exit(ev.info)
    if ev.type == "signal":
        return f"received {ev.info.get('signal')}"
    return ev.type


# -- trace --------------------------------------------------------------------------------------------

class HtmlRenderer(WholeTraceRenderer):
    """The trace renderer: collects the events, writes the page when the trace ends."""

    def document(self, header: Header | None, events: list[Event]) -> str:
        return trace_page(header, events)


def trace_page(header: Header | None, events: list[Event]) -> str:
    program = header.program if header is not None and header.program else "program"
    main = next((ev.pid for ev in events if ev.type not in ("packet", "state")), None)
    ended = next((ev for ev in reversed(events) if ev.pid == main and ev.type in ("exit", "killed")), None)
    runtime = "executable"
    if header is not None and (header.language or header.interpreter_version):
        runtime = " ".join(p for p in (header.language, header.interpreter_version) if p)
    rows = [("program", program), ("runs as", runtime)]
    if header is not None:
        rows += [("command", " ".join(header.argv)), ("started", header.started)]
    rows.append(("ended", _process_text(ended) if ended is not None else "unknown"))
    calls = sum(1 for ev in events if ev.type == "syscall")
    packets = sum(1 for ev in events if ev.type == "packet")
    body = [
        f"<h1>Socket calls of <span class=\"mono\">{h(program)}</span></h1>",
        '<table class="sides">',
        *(f"<tr><th>{h(k)}</th><td>{h(v)}</td></tr>" for k, v in rows),
        "</table>",
        f"<p>{calls} socket call{'s' if calls != 1 else ''}"
        + (f", {packets} packet{'s' if packets != 1 else ''}" if packets else "") + ".</p>",
        "<h2>Timeline</h2>",
        *timeline(events),
    ]
    return _page(f"sctrace: {program}", body)


# -- compare ------------------------------------------------------------------------------------------

def render(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    """Write comparison as one HTML page; the terminal's width and colour do not apply."""
    del terminal
    out.write(compare_page(comparison, summary))


def compare_page(comparison: Comparison, summary: str) -> str:
    left, right = comparison.left, comparison.right
    verdict = "equivalent" if comparison.equivalent else "different"
    body = [
        "<h1>Socket calls compared</h1>",
        f'<p class="mono">{h(left.program)} <b>vs</b> {h(right.program)}</p>',
        f'<div class="banner {verdict}">{h(summary.splitlines()[0] if summary.strip() else verdict)}</div>',
        *_sides(left, right),
        f"<p>Compared at the <b>{h(comparison.level)}</b> level.</p>",
        '<ul class="legend">',
        *(f'<li class="v-{v}"><span class="marker">{h(MARKERS[v])}</span> <b>{h(LABELS[v])}</b>: '
          f"{h(VERDICT_WORDS[v])}</li>" for v in MARKERS),
        "</ul>",
        "<h2>Side by side</h2>",
        *_compare_table(comparison),
        "<h2>Timeline</h2>",
        '<div class="timelines two">',
        *_side_timeline(comparison, "left"),
        *_side_timeline(comparison, "right"),
        "</div>",
        "<h2>Summary</h2>",
        '<ul class="summary">',
        *(f"<li>{h(line)}</li>" for line in summary.splitlines() if line.strip()),
        "<li>counts: " + ", ".join(f'<span class="v-{v}">{h(text)}</span>' for v, text in counts_text(comparison))
        + "</li>",
        "</ul>",
    ]
    return _page(f"sctrace: {left.program} vs {right.program}", body)


def _sides(left: Side, right: Side) -> list[str]:
    fields = [
        ("program", left.program, right.program),
        ("runs as", describe_runtime(left), describe_runtime(right)),
        ("interpreter", left.interpreter or "", right.interpreter or ""),
        ("ended", describe_exit(left.exit), describe_exit(right.exit)),
    ]
    peers = [getattr(s, "peer", None) for s in (left, right)]
    if any(isinstance(p, dict) for p in peers):
        left_peer, right_peer = (str(p.get("program")) if isinstance(p, dict) else "sctrace" for p in peers)
        fields.append(("peer", left_peer, right_peer))
    rows = ['<table class="sides">', "<tr><th></th><th>left</th><th>right</th></tr>"]
    rows += [f"<tr><th>{h(name)}</th><td>{h(a)}</td><td>{h(b)}</td></tr>" for name, a, b in fields]
    return [*rows, "</table>"]


def _compare_table(comparison: Comparison) -> list[str]:
    if not comparison.rows:
        return ["<p>No socket calls on either side.</p>"]
    out = ['<table class="compare">', '<colgroup><col class="n"><col class="verdict"><col class="proc"><col><col>'
           "</colgroup>",
           "<thead><tr><th>#</th><th>verdict</th><th>proc</th>"
           f'<th title="{h(comparison.left.program)}">{h(_base(comparison.left.program))}</th>'
           f'<th title="{h(comparison.right.program)}">{h(_base(comparison.right.program))}</th></tr></thead>',
           "<tbody>"]
    for number, row in enumerate(comparison.rows, 1):
        out.append(_row(number, row))
    return [*out, "</tbody>", "</table>"]


def _row(number: int, row: Row) -> str:
    why = explanation(row)
    reason = f'<span class="reason">{h(why)}</span>' if why else ""
    return (f'<tr class="v-{h(row.verdict)}"><td class="n">{number}</td>'
            f'<td class="verdict"><span class="marker">{h(MARKERS.get(row.verdict, "?"))}</span> '
            f"{h(LABELS.get(row.verdict, row.verdict))}{reason}</td>"
            f'<td class="proc">{h(_role(row))}</td>{_step(row.left)}{_step(row.right)}</tr>')


def _base(program: str) -> str:
    """A column is headed by the program's file name; the table of the sides above has the whole path."""
    return program.rstrip("/").rsplit("/", 1)[-1] or program


def _role(row: Row) -> str:
    left = row.left.proc if row.left else None
    right = row.right.proc if row.right else None
    return f"{left}/{right}" if left and right and left != right else (left or right or "")


def _step(step: Step | None) -> str:
    if step is None:
        return '<td class="step"></td>'
    return f'<td class="step"><code>{h(step.text)}</code>{_state_badge(step.event)}{_why(step.event)}</td>'


def _side_timeline(comparison: Comparison, which: str) -> list[str]:
    side = comparison.left if which == "left" else comparison.right
    trace = trace_of(side)
    if trace is not None:
        events = trace.events
    else:  # the comparison kept only the calls it aligned: show those
        steps = [row.left if which == "left" else row.right for row in comparison.rows]
        events = sorted((s.event for s in steps if s is not None), key=lambda e: (e.t, e.seq))
    return ['<section class="side">', f'<h3>{h(which)}: <span class="mono">{h(side.program)}</span></h3>',
            *timeline(events), "</section>"]
