"""The fixed sets of words that sctrace's options, files and reports are made of, each declared once.

Each set is a Literal type, so that mypy checks every place that uses one of its
words, and a tuple of the words in their order, for the command line's choices,
the fast path's checks (sctrace/cli/entry.py) and the readers of saved files.
"""

from __future__ import annotations

from typing import Literal, get_args

# How far a comparison normalizes the calls (sctrace/compare/normalize.py).
Level = Literal["raw", "stable", "semantic"]
LEVELS: tuple[Level, ...] = get_args(Level)

# Who traces the program: sctrace's own ptrace tracer, or strace.
Backend = Literal["ptrace", "strace"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)

# --format of each command.
TraceFormat = Literal["text", "jsonl", "html", "mermaid"]
TRACE_FORMATS: tuple[TraceFormat, ...] = get_args(TraceFormat)
CompareFormat = Literal["text", "json", "markdown", "html", "mermaid"]
COMPARE_FORMATS: tuple[CompareFormat, ...] = get_args(CompareFormat)
MatrixFormat = Literal["text", "markdown", "json"]
MATRIX_FORMATS: tuple[MatrixFormat, ...] = get_args(MatrixFormat)

# What a row of a comparison says of its two calls (docs/compare-format.md).
Verdict = Literal["same", "equivalent", "changed", "left_only", "right_only", "info"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)

# The "type" of an event in a trace (docs/trace-format.md): a call, what happened to a process, and what
# --packets and --states add.
ProcessEventType = Literal["fork", "exec", "exit", "killed", "signal", "detached"]
PROCESS_EVENT_TYPES: tuple[ProcessEventType, ...] = get_args(ProcessEventType)
EventType = Literal["syscall", ProcessEventType, "packet", "state"]
EVENT_TYPES: tuple[EventType, ...] = ("syscall", *PROCESS_EVENT_TYPES, "packet", "state")
