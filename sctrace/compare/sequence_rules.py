"""The sequence rules: they look at one process's calls in order and join runs of them into one call.

Each takes the calls and the trace's string limit (payload bytes kept per
buffer) and returns the calls with its runs joined; its docstring is its
summary in `sctrace compare --rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sctrace.compare.call import Call, changed
from sctrace.model.escape import escape_bytes
from sctrace.model.strace_args import unescape


def _join(run: list[Call], limit: int, rule: str, note: str) -> Call:
    """One call standing for a run of reads or writes on one stream socket: their bytes, counts and results."""
    first, bufs = run[0], [c.args["buf"] for c in run]
    total = sum(int(b.get("len", 0)) for b in bufs)
    known = b"".join(unescape(b["text"]) for b in bufs)  # all of it, unless the last buffer was cut
    buf: dict[str, Any] = {"text": escape_bytes(known, limit), "len": total}
    if total > min(len(known), limit):
        buf["truncated"] = True
    counts = [n for c in run if isinstance(n := c.args.get("count"), int)]
    count = sum(counts) if len(counts) == len(run) else first.args.get("count")
    rules = tuple(dict.fromkeys(r for c in run for r in c.rules)) + (rule,)
    return changed(first, args={**first.args, "buf": buf, "count": count}, ret=sum(c.ret for c in run),
                   rules=rules, notes=(*first.notes, note), span=sum(c.span for c in run))


def _runs(calls: list[Call], limit: int, rule: str, kind: Callable[[Call], Any], note: str,
          names: frozenset[str]) -> list[Call]:
    """calls with each run of consecutive calls of one kind (not None) joined into one.

    kind is None for any call whose name is not in names, and is not asked.
    """
    out: list[Call] = []
    run: list[Call] = []
    head: Any = None  # kind(run[0])

    def flush() -> None:
        out.extend([_join(run, limit, rule, note.format(n=sum(c.span for c in run)))] if len(run) > 1 else run)
        run.clear()

    for call in calls:
        this = kind(call) if call.name in names else None
        if this is None:
            if run:
                flush()
            out.append(call)
        elif run and this == head and not run[-1].args["buf"].get("truncated"):
            run.append(call)  # a cut buffer can only end a run: the bytes after its cut are unknown
        else:
            flush()
            run.append(call)
            head = this
    flush()
    return out


def _stream_io(call: Call, results: str) -> tuple[str, Any] | None:
    """(name, descriptor) of a read or write on a stream socket that moved bytes ("data") or saw its end ("eof")."""
    buf = call.args.get("buf")
    if not (call.stream and call.name in ("read", "write") and call.errno is None and isinstance(call.ret, int)
            and isinstance(buf, dict) and isinstance(buf.get("text"), str)):
        return None
    if (call.ret > 0) if results == "data" else (call.ret == 0 and call.name == "read"):
        return call.name, call.args.get("fd")
    return None


_READ = frozenset({"read"})
_READ_WRITE = frozenset({"read", "write"})


def eof_repeats(calls: list[Call], limit: int) -> list[Call]:
    """Once a read on a stream socket returned 0 (end of stream), more reads that return 0 say nothing new:
    PHP's socket_read(PHP_NORMAL_READ) tries 200 more times before it gives up. A run of them is one read
    (noted).
    """
    return _runs(calls, limit, "eof_repeats", lambda c: _stream_io(c, "eof"), "{n} reads at end of stream", _READ)


def stream_chunks(calls: list[Call], limit: int) -> list[Call]:
    """A stream socket keeps no message boundaries, so consecutive reads (or writes) of one process on one
    stream socket are one read (write) of their bytes together: PHP's PHP_NORMAL_READ reads a line a byte
    at a time, Python's makefile() up to 8192 bytes at once (noted).
    """
    return _runs(calls, limit, "stream_chunks", lambda c: _stream_io(c, "data"), "{n} calls in a row", _READ_WRITE)
