# SPDX-License-Identifier: GPL-2.0-or-later
"""A Mermaid ``sequenceDiagram`` of a trace or a comparison (``--format mermaid``).

Put the output in a Markdown file between ```` ```mermaid ```` and ```` ``` ```` (GitHub,
GitLab and most editors draw it), or give it to the Mermaid CLI.

- ``trace``: one participant per process that made socket calls, and the peer
  it talked to; each call is a note over its process (the call, then its
  one-line explanation and the TCP state after it), each packet an arrow
  between the program and its peer, each later state change (TIME_WAIT) a note.
- ``compare``: the left program and its peer, the right program and its peer;
  each row of the comparison is a coloured block (the verdict's colour) with
  a note over each side, and each side's packets between it and its peer.

Every text from a trace passes through mm_text(): the characters Mermaid's
grammar or its HTML labels could read as syntax (``;`` ``#`` ``"`` ``<`` ``>``
``&`` ``%`` braces, backslashes, newlines, ...) become Mermaid's entity codes
(``#59;``), after the control and bidi characters have been made visible as
for a terminal.  The output is plain ASCII.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from typing import IO

from sctrace.compare.model import Comparison, Row, Side, Step
from sctrace.model.escape import escape_for_terminal
from sctrace.model.explain import explain
from sctrace.model.notation import format_args, format_result
from sctrace.model.trace import Event, Header
from sctrace.render.compare_text import MARKERS, describe_exit, describe_runtime, explanation
from sctrace.render.terminal import Terminal
from sctrace.render.timeline import (
    CONTEXT_TYPES,
    WholeTraceRenderer,
    attach_context,
    is_peer,
    lecture_events,
    local_ports,
    packet_direction,
    packet_ports,
    packet_summary,
    state_text,
    tcp_state,
    trace_of,
)

# Characters kept as they are; everything else is written as a Mermaid entity code (#60;).
_SAFE = re.compile(r"[A-Za-z0-9 .,:()\[\]=/_+\-@!?|~*'$^]")
CALL_CELLS = 64  # a call longer than this is cut in a note (the full call is in the text and HTML reports)
NOTE_CELLS = 56  # explanations are wrapped at this width

# Background of a row's block, per verdict: the terminal's colours, light enough to read notes on.
VERDICT_RGB = {
    "same": "rgb(218, 251, 225)",
    "equivalent": "rgb(216, 243, 248)",
    "changed": "rgb(255, 243, 191)",
    "left_only": "rgb(255, 227, 224)",
    "right_only": "rgb(255, 227, 224)",
    "info": "rgb(240, 241, 243)",
}


def mm_text(text: str) -> str:
    """text as Mermaid label text that shows exactly these characters and is never syntax."""
    text = escape_for_terminal(text)
    return "".join(ch if _SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in text)


def _cut(text: str, limit: int = CALL_CELLS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def call_text(ev: Event) -> str:
    """The call as strace writes it, without the -yy endpoints (a note must stay narrow)."""
    bare = replace(ev, endpoint=None, ret_endpoint=None, info={k: v for k, v in ev.info.items() if k != "fd_endpoints"})
    return f"{ev.name}({format_args(bare)}) = {format_result(bare)}"


def _lines(text: str) -> str:
    """text escaped and wrapped into note lines of about NOTE_CELLS characters."""
    return "<br/>".join(mm_text(piece) for piece in textwrap.wrap(text, NOTE_CELLS) or [""])


# -- trace ------------------------------------------------------------------------------------------

class MermaidRenderer(WholeTraceRenderer):
    """The trace renderer: collects the events, draws the diagram when the trace ends."""

    def document(self, header: Header | None, events: list[Event]) -> str:
        return "\n".join(trace_diagram(header, events)) + "\n"


def trace_diagram(header: Header | None, events: list[Event]) -> list[str]:
    program = header.program if header is not None and header.program else "program"
    shown = sorted(lecture_events(events), key=lambda e: (e.t, e.seq))  # a handshake after its connect's entry
    pids = list(dict.fromkeys(ev.pid for ev in shown if ev.type == "syscall"))
    names = {pid: f"P{n}" for n, pid in enumerate(pids, 1)}
    peer_label = _peer_label(header)
    lines = ["sequenceDiagram", f"    title {mm_text('Socket calls of ' + _base(program))}"]
    for pid in pids:
        label = f"{_base(peer_label if _pid_is_peer(shown, pid) else program)} (pid {pid})"
        lines.append(f"    participant {names[pid]} as {mm_text(label)}")
    ports = local_ports(shown)
    to_peer = any(ev.type == "packet" and packet_direction(ev, ports) != "self" for ev in shown)
    if to_peer or _talks_to_peer(shown, ports):
        lines.append("    participant peer as peer")
    main = names[pids[0]] if pids else "P1"
    if not pids:
        lines += [f"    participant P1 as {mm_text(_base(program))}", "    Note over P1: no socket calls"]
    for ev in shown:
        who = names.get(ev.pid, main)
        if ev.type == "syscall":
            lines.append(f"    Note over {who}: {_note(ev)}")
        elif ev.type == "packet":
            lines.append(_arrow(ev, packet_direction(ev, ports), main, "peer"))
        elif ev.type == "state":  # over the process that closed the connection
            lines.append(f"    Note over {who}: {mm_text(state_text(ev))}")
        elif ev.pid in names:
            lines.append(f"    Note over {who}: {mm_text(_process_text(ev))}")
    return lines


def _peer_label(header: Header | None) -> str:
    peer = header.extra.get("peer") if header is not None else None
    return str(peer.get("program", "peer")) if isinstance(peer, dict) else "peer"


def _pid_is_peer(events: list[Event], pid: int) -> bool:
    return any(is_peer(ev) for ev in events if ev.pid == pid)


def _talks_to_peer(events: list[Event], ports: set[int]) -> bool:
    """Whether some socket of the program is connected to a port that is not its own."""
    for ev in events:
        for endpoint in (ev.endpoint, ev.ret_endpoint):
            if endpoint and "->" in endpoint:
                remote = endpoint.rsplit("->", 1)[1].rstrip("]")
                port = remote.rsplit(":", 1)[-1]
                if port.isdigit() and int(port) not in ports:
                    return True
    return False


def _note(ev: Event) -> str:
    parts = [mm_text(_cut(call_text(ev)))]
    why = explain(ev)
    if why:
        parts.append(_lines(why))
    state = tcp_state(ev)
    if state:
        parts.append(mm_text(f"state: {state}"))
    return "<br/>".join(parts)


def _arrow(ev: Event, direction: str, program: str, peer: str) -> str:
    ports = packet_ports(ev)
    text = mm_text(f"{ports}: {packet_summary(ev)}" if ports else packet_summary(ev))
    if direction == "self":
        return f"    {program}->>{program}: {text}"
    if direction == "out":
        return f"    {program}->>{peer}: {text}"
    return f"    {peer}->>{program}: {text}"


def _process_text(ev: Event) -> str:
    if ev.type == "exit":
        return f"exited with {ev.info.get('code')}"
    if ev.type == "killed":
        return describe_exit(ev.info)
    return f"signal {ev.info.get('signal')}"


# -- compare ----------------------------------------------------------------------------------------

def render(comparison: Comparison, summary: str, out: IO[str], terminal: Terminal) -> None:
    """Write comparison as one Mermaid sequence diagram; the terminal's width and colour do not apply."""
    del terminal
    out.write("\n".join(compare_diagram(comparison, summary)) + "\n")


def compare_diagram(comparison: Comparison, summary: str) -> list[str]:
    left, right = comparison.left, comparison.right
    verdict = f"{'equivalent' if comparison.equivalent else 'different'} at the {comparison.level} level"
    lines = [
        "sequenceDiagram",
        f"    title {mm_text(f'{_base(left.program)} vs {_base(right.program)}: {verdict}')}",
        f"    participant LP as {mm_text(_side_peer(left))}",
        f"    participant L as {mm_text(_side_label(left))}",
        f"    participant R as {mm_text(_side_label(right))}",
        f"    participant RP as {mm_text(_side_peer(right))}",
    ]
    contexts: dict[str, tuple[dict[int, list[Event]], set[int]]] = {}
    for name, side in (("L", left), ("R", right)):
        steps = [_side_step(row, name) for row in comparison.rows]
        trace = trace_of(side)
        context = [ev for ev in trace.events if ev.type in CONTEXT_TYPES] if trace is not None else []
        ports = local_ports(trace.events if trace is not None else [s for s in steps if s is not None])
        contexts[name] = (attach_context(steps, context), ports)
    for name, peer in (("L", "LP"), ("R", "RP")):
        lines += _context_lines(contexts[name][0].get(-1, []), contexts[name][1], name, peer)
    if not comparison.rows:
        lines.append("    Note over L,R: no socket calls on either side")
    for i, row in enumerate(comparison.rows):
        lines += _row_lines(row)
        for name, peer in (("L", "LP"), ("R", "RP")):
            lines += _context_lines(contexts[name][0].get(i, []), contexts[name][1], name, peer)
    if summary.strip():
        lines.append(f"    Note over L,R: {_lines(' '.join(summary.split()))}")
    return lines


def _base(program: str) -> str:
    """A participant is named by the program's file name; the full path is in the other reports."""
    return program.rstrip("/").rsplit("/", 1)[-1] or program


def _side_label(side: Side) -> str:
    return f"{_base(side.program)} ({describe_runtime(side)}), {describe_exit(side.exit)}"


def _side_peer(side: Side) -> str:
    peer = getattr(side, "peer", None)
    if isinstance(peer, dict) and peer.get("program"):
        return f"peer: {peer['program']}"
    return "peer (sctrace)"


def _side_step(row: Row, name: str) -> Event | None:
    step = row.left if name == "L" else row.right
    return step.event if step is not None else None


def _row_lines(row: Row) -> list[str]:
    marker = MARKERS.get(row.verdict, "?")
    lines = [f"    rect {VERDICT_RGB.get(row.verdict, 'rgb(255, 255, 255)')}"]
    for name, step in (("L", row.left), ("R", row.right)):
        if step is not None:  # an explicit peer's call (compare --client/--server) goes over that peer
            over = name + "P" if is_peer(step.event) else name
            lines.append(f"    Note over {over}: {_step_note(step, marker)}")
    why = explanation(row)
    if why:
        lines.append(f"    Note over L,R: {_lines(why)}")  # L and R stand side by side: the note spans both
    lines.append("    end")
    return lines


def _step_note(step: Step, marker: str) -> str:
    parts = [mm_text(f"{marker} {step.proc}: {_cut(step.text)}")]
    why = explain(step.event)
    if why:
        parts.append(_lines(why))
    state = tcp_state(step.event)
    if state:
        parts.append(mm_text(f"state: {state}"))
    return "<br/>".join(parts)


def _context_lines(events: list[Event], ports: set[int], program: str, peer: str) -> list[str]:
    lines = []
    for ev in events:
        if ev.type == "packet":
            lines.append(_arrow(ev, packet_direction(ev, ports), program, peer))
        else:
            lines.append(f"    Note over {program}: {mm_text(state_text(ev))}")
    return lines
