"""The ``sctrace`` command's entry point: a plain ``sctrace trace`` without importing the CLI framework.

Importing typer and click costs about 50 ms, half of sctrace's fixed start-up
cost, and ``sctrace trace PROGRAM`` is run again and again.  So a trace
command line made only of the options in TRACE_OPTIONS, well-formed, is
parsed here by the same rules click applies to the typer command in cli.py
(options before PROGRAM, long options with ``=`` or a separate value, short
options with the value attached or separate, ``--`` before PROGRAM, and
everything after PROGRAM for the program), and run by the same function,
tracecmd.run_trace.  Anything else (another command, --help, an unknown or
malformed option, a value out of range) goes to cli.py, which parses it
again and says what is wrong.  tests/test_cli.py checks that both parsers
give the same values and that this table names every option of the typer
command.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sctrace.model.choices import BACKENDS, TRACE_FORMATS

# dest -> (option names, kind): "flag" takes no value; the others take one.
TRACE_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "format": (("--format", "-f"), "format"),
    "output": (("--output", "-o"), "str"),
    "string_limit": (("--string-limit", "-s"), "count"),
    "syscall_list": (("--syscalls", "-e"), "str"),
    "all_syscalls": (("--all",), "flag"),
    "timeout": (("--timeout",), "seconds"),
    "interpreter": (("--interpreter",), "str"),
    "no_seccomp": (("--no-seccomp",), "flag"),
    "no_pin": (("--no-pin",), "flag"),
    "backend": (("--backend",), "backend"),
    "states": (("--states",), "flag"),
    "packets": (("--packets",), "flag"),
    "pcap": (("--pcap",), "str"),
    "traceback": (("--traceback",), "flag"),
}
_BY_NAME = {name: dest for dest, (names, _) in TRACE_OPTIONS.items() for name in names}


def _value(kind: str, text: str) -> Any:
    """The option's value, or None when click would refuse it (cli.py then says why)."""
    if kind == "str":
        return text
    if kind == "format":
        return text if text in TRACE_FORMATS else None
    if kind == "backend":
        return text if text in BACKENDS else None
    try:
        number: float = int(text) if kind == "count" else float(text)
    except ValueError:
        return None
    return number if number >= 0 and number == number else None  # min=0; NaN is no number of seconds


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
        kind = TRACE_OPTIONS[dest][1]
        if kind == "flag":
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
        value = _value(kind, text)
        if value is None:
            return None
        values[dest] = value
    if i >= len(argv):
        return None  # no PROGRAM: cli.py shows the help
    values["program"], values["args"] = argv[i], argv[i + 1:]
    return values


def main() -> None:
    argv = sys.argv[1:]
    parsed = parse_trace(argv)
    if parsed is None:
        from sctrace.cli.app import run as full_cli

        status = full_cli(argv)
    else:
        from sctrace.cli.trace_command import run_trace
        from sctrace.status import report

        own = ["--traceback"] if parsed.pop("traceback", False) else []  # sctrace's own options, not the program's
        program, args = parsed.pop("program"), parsed.pop("args")
        try:
            status = run_trace(program, args, **parsed)
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the last line of defence, as in cli.run
            status = report(exc, own)
    # Everything is written and closed, every traced process reaped, every temporary directory removed (each
    # command does that itself, whatever happens): tearing the interpreter down (some 20 ms of freeing
    # modules, and for compare the objects it keeps for this, sctrace.cli.app._KEPT_UNTIL_EXIT) would only delay
    # the shell's prompt.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
