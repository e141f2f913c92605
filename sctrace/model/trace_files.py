"""A saved trace of either kind, told apart by its content: sctrace's JSON Lines or an strace log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sctrace.model.strace_log import looks_like_strace_log, parse_strace_log
from sctrace.model.trace import Trace

if TYPE_CHECKING:
    from pathlib import Path  # for annotations only: pathlib costs 5 ms of start-up


def sniff_trace_file(path: str | Path) -> str | None:
    """What a file holds, judged by its content: "jsonl" (a saved trace), "strace" (an strace log),
    "empty", or None (something else: a program, for commands that take either).

    Commands that take a saved trace call this first, so that an empty or
    broken trace is reported as a trace (with its line), not run as a program.
    """
    head: list[str] = []
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            for line in f:  # up to the first line that is not blank
                head.append(line)
                if line.strip():
                    break
                if len(head) > 1000:
                    return None
    except (OSError, ValueError):
        return None
    if not head or not head[-1].strip():
        return "empty"
    first = head[-1].lstrip()
    if first.startswith("{"):
        return "jsonl"
    if first.startswith("[") and str(path).lower().endswith((".jsonl", ".json")):
        return "jsonl"  # JSON, but not a record: a bad trace (loading says so), never a program to run
    return "strace" if looks_like_strace_log(head) else None


def load_trace_file(path: str | Path) -> Trace:
    """A saved trace: sctrace's JSON Lines or an strace log, told apart by content.

    Raises TraceFormatError naming the file and line of what cannot be read
    (an empty file, a corrupt or newer JSONL record, an strace line cut off).
    """
    kind = sniff_trace_file(path)
    if kind == "strace":
        with open(path, encoding="utf-8-sig", errors="surrogateescape") as f:
            return parse_strace_log(f, str(path))
    return Trace.load(path)
