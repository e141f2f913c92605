"""The ``sctrace`` command's entry point: a plain ``sctrace trace`` without importing the CLI framework.

Importing typer and click costs about 50 ms, half of sctrace's fixed start-up
cost, and ``sctrace trace PROGRAM`` is run again and again.  So a trace
command line made only of the options in options.TRACE_OPTIONS (the
declarations app.py makes the typer command of), well-formed, is parsed here
by the same rules click applies to the typer command in app.py (options
before PROGRAM, long options with ``=`` or a separate value, short options
with the value attached or separate, ``--`` before PROGRAM, and everything
after PROGRAM for the program), and run by the same function,
trace_command.run_trace.  Anything else (another command, --help, an unknown
or malformed option, a value out of range) goes to app.py, which parses it
again and says what is wrong.  tests/test_cli.py checks that both parsers
give the same values and that the table names every option of the typer
command.
"""

# Ctrl-C while this module's imports run kills the process as it would kill any C program (status 130 in the
# shell), rather than print a traceback; main() then catches it from its first line on.  The C module _signal,
# not signal: importing signal builds its enums, long enough for a Ctrl-C to land in it.  For the same reason
# this module has no `from __future__ import annotations`, which imports a module too.
import _signal  # type: ignore[import-not-found,unused-ignore]

_SIGINT_BEFORE = _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from sctrace.cli.options import TRACE_OPTIONS  # noqa: E402
from sctrace.status import ExitStatus, exit_quietly_on_closed_pipe, interrupted, report, stop_status  # noqa: E402

_BY_NAME = {name: dest for dest, option in TRACE_OPTIONS.items() for name in option.names}


def parse_trace(argv: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of run_trace (plus "traceback") for ``trace ...`` argv, or None: not for here."""
    if not argv or argv[0] != "trace":
        return None
    values: dict[str, Any] = {}
    i = 1
    while i < len(argv):
        token = argv[i]
        if token == "--":
            i += 1
            break
        if not token.startswith("-") or token == "-":
            break
        name, eq, attached = token.partition("=") if token.startswith("--") else (token[:2], "", token[2:])
        if token.startswith("--") and not eq:
            attached = ""
        dest = _BY_NAME.get(name)
        if dest is None or dest in values:  # unknown, --help, or given twice (click keeps the last: leave it to it)
            return None
        option = TRACE_OPTIONS[dest]
        if option.kind == "flag":
            if eq or attached:
                return None
            values[dest] = True
            i += 1
            continue
        if eq or attached:
            text = attached
            i += 1
        elif i + 1 < len(argv):
            text = argv[i + 1]
            i += 2
        else:
            return None
        value = option.accepts(text)
        if value is None:  # click refuses it: app.py says why
            return None
        values[dest] = value
    if i >= len(argv):
        return None  # no PROGRAM: app.py shows the help
    values["program"], values["args"] = argv[i], argv[i + 1:]
    return values


def main() -> None:
    try:
        status = _run(sys.argv[1:])
    except BaseException as exc:  # Ctrl-C at any moment, even while typer is imported: 130, no traceback
        if not interrupted(exc):
            raise
        status = stop_status(exc)
    _exit(status)


def _run(argv: list[str]) -> int:
    parsed = parse_trace(argv)
    if parsed is None:
        from sctrace.cli.app import run as full_cli

        status = full_cli(argv)
    else:
        from sctrace.cli.trace_command import run_trace

        own = ["--traceback"] if parsed.pop("traceback", False) else []  # sctrace's own options, not the program's
        program, args = parsed.pop("program"), parsed.pop("args")
        try:
            status = run_trace(program, args, **parsed)
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the last line of defence, as in cli.run
            status = report(exc, own)
    return status


def _exit(status: int) -> None:
    # Everything is written and closed, every traced process reaped, every temporary directory removed (each
    # command does that itself, whatever happens): tearing the interpreter down (some 20 ms of freeing
    # modules, and for compare the objects it keeps for this, sctrace.cli.app._KEPT_UNTIL_EXIT) would only delay
    # the shell's prompt.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            status = ExitStatus.PIPE_CLOSED
        except OSError as exc:  # a full disk refused the last of the output
            if stream is sys.stdout:
                status = report(exc, [])
        except ValueError:  # closed
            pass
    exit_quietly_on_closed_pipe(status)
    os._exit(status)


_signal.signal(_signal.SIGINT, _SIGINT_BEFORE)  # a library caller of this module keeps its own Ctrl-C
