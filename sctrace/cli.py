"""The command line: thin commands over the library, and the one place errors meet people.

``main`` owns error handling (httpie's split of program/raw_main): commands
raise SctraceError, and here it becomes one line on stderr and an exit status
(sctrace/status.py).  Tracebacks are shown only with --traceback, and never
with local variables, which may hold traced data.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import IO, Annotated, Optional

import click
import typer

from sctrace.status import ExitStatus, SctraceError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="See the socket system calls programs make, exactly as the kernel sees them.",
)


class TraceFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


@app.callback()
def _root() -> None:
    """See the socket system calls programs make, exactly as the kernel sees them."""


def parse_syscall_list(text: str | None, all_syscalls: bool) -> frozenset[str] | None:
    from sctrace import syscalls

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


def open_output(path: Path | None) -> IO[str]:
    """The trace goes to stderr like strace's, so the program's own stdout stays its own."""
    if path is None:
        return sys.stderr
    if str(path) == "-":
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise SctraceError(f"cannot write {path}: {exc.strerror}; choose another -o FILE",
                           ExitStatus.CANNOT_WRITE) from None


@app.command(
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    no_args_is_help=True,
)
def trace(
    program: Annotated[str, typer.Argument(help="The program: a .php/.py/.js/.pl/.rb/.sh script or an executable.")],
    args: Annotated[Optional[list[str]], typer.Argument(help="Its arguments.")] = None,  # noqa: UP045
    format: Annotated[TraceFormat, typer.Option("--format", "-f", help="text (strace-like) or jsonl.")] = (
        TraceFormat.text
    ),
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the trace here (- for stdout; default stderr).")] = None,  # noqa: E501,UP045
    string_limit: Annotated[int, typer.Option("--string-limit", "-s", min=0, help="Payload bytes shown (true length always kept).")] = 32,  # noqa: E501
    syscall_list: Annotated[Optional[str], typer.Option("--syscalls", "-e", help="Report only these calls, comma-separated.")] = None,  # noqa: E501,UP045
    all_syscalls: Annotated[bool, typer.Option("--all", help="Report every system call, not only socket ones.")] = False,  # noqa: E501
    timeout: Annotated[Optional[float], typer.Option("--timeout", min=0.0, help="Kill the program after this many seconds.")] = None,  # noqa: E501,UP045
    interpreter: Annotated[Optional[str], typer.Option("--interpreter", help="Run the program with this interpreter.")] = None,  # noqa: E501,UP045
    no_seccomp: Annotated[bool, typer.Option("--no-seccomp", help="Stop at every call (slower; for kernels without seccomp).")] = False,  # noqa: E501
    no_pin: Annotated[bool, typer.Option("--no-pin", help="Let the program's threads use every CPU (tracing is slower).")] = False,  # noqa: E501
    traceback: Annotated[bool, typer.Option("--traceback", help="Show a traceback on internal errors.")] = False,
) -> None:
    """Run PROGRAM under ptrace and report its socket system calls as they happen."""
    from sctrace.render import RENDERERS
    from sctrace.session import trace_program
    from sctrace.tracer import TraceOptions

    options = TraceOptions(string_limit, parse_syscall_list(syscall_list, all_syscalls), all_syscalls,
                           use_seccomp=not no_seccomp, pin_cpu=not no_pin)
    out = open_output(output)
    result = trace_program(program, args or [], options=options, renderer=RENDERERS[format.value](out),
                           interpreter=interpreter, timeout=timeout, want_version=format is TraceFormat.jsonl)
    for notice in result.notices:
        print(f"sctrace: {notice}", file=sys.stderr)
    if result.interrupted:
        print(f"sctrace: stopped ({result.interrupted}); the traced processes were killed", file=sys.stderr)
    raise typer.Exit(result.status)


class CompareFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class Level(str, Enum):
    raw = "raw"
    stable = "stable"
    semantic = "semantic"


@app.command()
def compare(
    left: Annotated[Optional[str], typer.Argument(help="A program (.php, .py, ...) or a saved trace.")] = None,  # noqa: UP045
    right: Annotated[Optional[str], typer.Argument(help="The program or saved trace to compare it with.")] = None,  # noqa: UP045,E501
    level: Annotated[Level, typer.Option("--level", help="raw, stable or semantic.")] = Level.semantic,
    format: Annotated[CompareFormat, typer.Option("--format", "-f", help="text, json or markdown.")] = CompareFormat.text,  # noqa: E501
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the comparison here.")] = None,  # noqa: UP045
    send: Annotated[str, typer.Option("--send", help="What the peer client sends to a server.")] = "hello\n",
    reply: Annotated[str, typer.Option("--reply", help="What the peer server replies to a client.")] = "hi",
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds a program has to listen or connect.")] = 10.0,  # noqa: E501
    client: Annotated[Optional[str], typer.Option("--client", metavar="PROGRAM", help="Run this client against each server, traced in its own lane.")] = None,  # noqa: UP045,E501
    server: Annotated[Optional[str], typer.Option("--server", metavar="PROGRAM", help="Run this server for each client, traced in its own lane.")] = None,  # noqa: UP045,E501
    rules: Annotated[bool, typer.Option("--rules", help="List the equivalence rules and exit.")] = False,
    traceback: Annotated[bool, typer.Option("--traceback", help="Show a traceback on internal errors.")] = False,
) -> None:
    """Run two programs (or load two traces) and show their socket calls side by side, differences explained.

    Exit status like diff(1): 0 equivalent at the chosen level, 1 different, 2 trouble.
    """
    if rules:
        from sctrace.compare.rules import describe_rules

        print(describe_rules())
        raise typer.Exit(0)
    if left is None or right is None:
        raise SctraceError("compare needs two programs or traces: sctrace compare LEFT RIGHT", ExitStatus.USAGE)
    from sctrace.compare.align import summarize
    from sctrace.comparing import compare as run_compare
    from sctrace.comparing import status_of
    from sctrace.drive import DriveOptions
    from sctrace.render import COMPARE_RENDERERS

    drive = DriveOptions(_unescape(send), _unescape(reply), timeout, client=client, server=server)
    notices: list[str] = []
    try:
        comparison = run_compare(left, right, level=level.value, drive=drive, notices=notices)
    except SctraceError as exc:  # compare follows diff(1): any trouble is status 2
        raise SctraceError(exc.message, ExitStatus.USAGE) from None
    for notice in dict.fromkeys(notices):
        print(f"sctrace: {notice}", file=sys.stderr)
    out = sys.stdout if output is None else open_output(output)
    color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    # On a terminal, its width; in a file or a pipe, wide enough for a handout.
    width = None if output is None and sys.stdout.isatty() else 160
    COMPARE_RENDERERS[format.value](comparison, summarize(comparison), out, width=width, color=color)
    out.flush()
    raise typer.Exit(status_of(comparison))


def _unescape(text: str) -> bytes:
    """--send 'hello\\n' means the six bytes h, e, l, l, o, newline."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1", "replace")


def run(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status instead of exiting."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=argv, prog_name="sctrace", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        hint = f"; see sctrace {exc.ctx.info_name} --help" if exc.ctx and exc.ctx.info_name != "sctrace" else (
            "; see sctrace --help"
        )
        print(f"sctrace: error: {exc.format_message()}{hint}", file=sys.stderr)
        return ExitStatus.USAGE
    except click.Abort:
        return ExitStatus.INTERRUPTED
    except SctraceError as exc:
        print(f"sctrace: error: {exc.message}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence owes the user one line
        if "--traceback" in argv:
            raise
        print(f"sctrace: internal error: {type(exc).__name__}: {exc}; run again with --traceback and report it",
              file=sys.stderr)
        return ExitStatus.INTERNAL


def main() -> None:
    sys.exit(run())
