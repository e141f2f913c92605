"""The values the comparison pipeline passes along.

    Trace --normalize--> list[Step] --align--> list[Row] --> Comparison --render--> text/json/markdown

A Step is one socket call after normalization: what it is compared by (``key``),
how it is shown (``text``), which equivalence rules made it so (``rules``) and
the event it came from.  A Row pairs a left and a right Step (or one of them)
with a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sctrace.model.choices import LEVELS, VERDICTS, Verdict
from sctrace.model.trace import Event, Header, Trace

__all__ = ["LEVELS", "VERDICTS", "Comparison", "Row", "Side", "Step", "Verdict"]


@dataclass
class Step:
    """One normalized call.

    ``proc`` is the process role ("P1", "P2", ... in order of appearance at
    stable and semantic level; the pid at raw level).  ``name`` is the call's
    name after equivalence rules (accept4 -> accept at semantic level).  ``args``
    are the normalized arguments (descriptors as roles "L1", "C1", "S1"; ports
    as "PORT1"; ephemeral ports and inodes as placeholders).  ``key`` is the
    canonical string two steps are compared by: equal keys mean same/equivalent.
    ``text`` is how the step is shown: strace-like, built only from normalized
    values, already escaped (never contains control characters).  ``rules``
    names the equivalence rules applied to reach ``key`` (empty: none).
    ``notes`` are differences a rule chose to tolerate, for the explanation
    (e.g. "SOCK_CLOEXEC").  ``informational`` marks calls that only read state
    (getsockname, getpeername, getsockopt) at semantic level.
    """

    proc: str
    name: str
    args: dict[str, Any]
    ret: Any
    errno: str | None
    key: str
    text: str
    event: Event
    rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    informational: bool = False


@dataclass
class Row:
    """One row of the side-by-side comparison.

    ``verdict`` is one of VERDICTS; ``rule`` names the rule(s) that made an
    "equivalent" row; ``detail`` says in words what changed for "changed" rows
    (e.g. "flags: SOCK_STREAM -> SOCK_STREAM|SOCK_CLOEXEC; result: 5 -> 6").
    """

    verdict: Verdict
    left: Step | None
    right: Step | None
    rule: str | None = None
    detail: str | None = None


@dataclass
class Side:
    """What one side ran, for the header of the comparison."""

    program: str
    language: str | None
    interpreter: str | None
    interpreter_version: str | None
    exit: dict[str, Any]  # {"code": 0} or {"signal": "SIGKILL", "by": "sctrace"} ...
    header: Header | None = None
    trace: Trace | None = None  # the whole trace, for reports that show more than steps (packets, states)
    name_service_calls: int = 0  # the C library's name-service calls, left out of the rows at level semantic

    @property
    def peer(self) -> dict[str, Any] | None:
        """The explicit peer program traced with this side (compare --client/--server): program, language,
        interpreter_version, exit; None when sctrace itself was the peer."""
        peer = self.header.extra.get("peer") if self.header is not None else None
        return peer if isinstance(peer, dict) else None


@dataclass
class Comparison:
    level: str
    left: Side
    right: Side
    rows: list[Row]

    @property
    def equivalent(self) -> bool:
        return all(r.verdict in ("same", "equivalent", "info") for r in self.rows)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for r in self.rows:
            out[r.verdict] += 1
        return out
