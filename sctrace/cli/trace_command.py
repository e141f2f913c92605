"""What ``sctrace trace`` does once its options are parsed, whoever parsed them.

The typer command in cli.py and the fast path in fast.py (which spares a
plain ``sctrace trace PROGRAM`` the CLI framework's import) both call
``run_trace``; so do the helpers other commands share (open_output,
check_writable, parse_syscall_list).  Nothing here imports typer or click.
"""

from __future__ import annotations

import io
import os
import sys
from typing import IO

from sctrace.model.choices import Backend, TraceFormat
from sctrace.status import ExitStatus, SctraceError

_VERSIONED_FORMATS = frozenset({"jsonl", "html"})  # formats that show the interpreter's version


def parse_syscall_list(text: str | None, all_syscalls: bool) -> frozenset[str] | None:
    from sctrace.model import syscalls

    if not text:
        return None
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    if not all_syscalls:
        unknown = sorted(names - set(syscalls.SOCKET_SET))
        if unknown:
            raise SctraceError(
                f"-e: {', '.join(unknown)} not in the socket set; choose from "
                f"{', '.join(sorted(syscalls.SOCKET_SET))} (or add --all)",
                ExitStatus.USAGE,
            )
    return names


def open_output(path: str | os.PathLike[str] | None, each_line: bool = False) -> IO[str]:
    """The trace goes to stderr like strace's, so the program's own stdout stays its own.

    each_line: write each line as it is complete (a streamed trace), so that whatever ends sctrace, even
    SIGKILL, every event it had written out is in the file, as with strace.
    """
    if path is None:
        return sys.stderr  # line-buffered already
    if str(path) == "-":
        if each_line and isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(line_buffering=True)
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8", buffering=1 if each_line else -1)
    except OSError as exc:
        raise SctraceError(f"cannot write {path}: {exc.strerror}; choose another -o FILE",
                           ExitStatus.CANNOT_WRITE) from None


def check_writable(path: str | os.PathLike[str] | None, option: str = "-o FILE") -> None:
    """Fail now, in one line, when open_output(path) would fail later: before minutes of tracing."""
    if path is None or str(path) == "-":
        return
    path = os.fspath(path)
    parent = os.path.dirname(path) or "."
    problem = None
    if os.path.isdir(path):
        problem = "it is a directory"
    elif not os.path.isdir(parent):
        problem = f"no directory {parent}"
    elif not os.access(path if os.path.exists(path) else parent, os.W_OK):
        problem = "permission denied"
    if problem:
        raise SctraceError(f"cannot write {path}: {problem}; choose another {option}", ExitStatus.CANNOT_WRITE)


def run_trace(program: str, args: list[str], *, format: TraceFormat = "text", output: str | None = None,
              string_limit: int = 32, syscall_list: str | None = None, all_syscalls: bool = False,
              timeout: float | None = None, interpreter: str | None = None, no_seccomp: bool = False,
              no_pin: bool = False, backend: Backend = "ptrace", states: bool = False, packets: bool = False,
              pcap: str | None = None) -> int:
    """Trace program as ``sctrace trace`` does; its exit status (the program's own, or sctrace's)."""
    from sctrace.backends.ptrace.tracer import TraceOptions
    from sctrace.backends.run import trace_program
    from sctrace.model.output import refuse_inputs
    from sctrace.render import RENDERERS

    refuse_inputs(output, [(program, "program"), (interpreter, "--interpreter")])
    refuse_inputs(pcap, [(program, "program"), (interpreter, "--interpreter")], "--pcap FILE")
    options = TraceOptions(string_limit, parse_syscall_list(syscall_list, all_syscalls), all_syscalls,
                           use_seccomp=not no_seccomp, pin_cpu=not no_pin, states=states,
                           packets=packets, pcap=pcap, netns=packets or pcap is not None)
    out = open_output(output, each_line=True)
    try:
        result = trace_program(program, args, options=options, renderer=RENDERERS[format](out),
                               interpreter=interpreter, timeout=timeout, want_version=format in _VERSIONED_FORMATS,
                               backend=backend, keep_events=False)
    finally:
        if out is not sys.stdout and out is not sys.stderr:
            out.close()
    for notice in result.notices:
        print(f"sctrace: {notice}", file=sys.stderr)
    if result.interrupted:
        print(f"sctrace: stopped ({result.interrupted}); the traced processes were killed", file=sys.stderr)
    return result.status
