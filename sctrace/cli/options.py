"""The command line's options, each declared once: its names, the value it takes, and its usual help.

app.py makes every command's typer options from these declarations, and the
fast path (entry.py) parses a plain ``sctrace trace`` by the same ones, so an
option cannot mean one thing to one command and another to the next, nor to
the two parsers (tests/test_cli.py checks both).  A command may word an
option's help for itself ("the program" for one program, "as recorded" for
check); what the option is and takes stays here.

Nothing here imports typer or click: the fast path must not pay for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sctrace.model.choices import BACKENDS, COMPARE_FORMATS, LEVELS, MATRIX_FORMATS, TRACE_FORMATS

# How an option's value is read: none (a flag), any text, a whole number, a number of seconds, or one of choices.
Kind = Literal["flag", "text", "count", "seconds", "choice"]


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]
    kind: Kind
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None  # the smallest number taken (count, seconds)
    metavar: str | None = None  # how the help names the value, when not by its type

    def least(self, minimum: float) -> Option:
        """The same option, taking numbers from minimum up."""
        return Option(self.names, self.kind, self.help, self.choices, minimum, self.metavar)

    def accepts(self, text: str) -> str | int | float | None:
        """The value of ``--option text`` as click reads it, or None where click would refuse it."""
        if self.kind == "text":
            return text
        if self.kind == "choice":
            return text if text in self.choices else None
        if self.kind == "flag":
            return None
        try:
            number: float = int(text) if self.kind == "count" else float(text)
        except ValueError:
            return None
        if number != number:  # NaN is no number of seconds
            return None
        return number if self.minimum is None or number >= self.minimum else None


def _format(choices: tuple[str, ...], help: str) -> Option:
    return Option(("--format", "-f"), "choice", help, choices)


# -- options of several commands ----------------------------------------------------------------------

BACKEND = Option(("--backend",), "choice", "ptrace (sctrace's own) or strace (servers only: strace cannot hold a "
                 "client's connect).", BACKENDS)
TIMEOUT = Option(("--timeout",), "seconds", "Seconds a program has to listen or connect.", minimum=0.1)
TRACEBACK = Option(("--traceback",), "flag", "Show a traceback on internal errors.")
OUTPUT = Option(("--output", "-o"), "text", "Write the report here.")
LEVEL = Option(("--level",), "choice", "raw, stable or semantic.", LEVELS)
SEND = Option(("--send",), "text", "What the peer client sends to a server.")
REPLY = Option(("--reply",), "text", "What the peer server replies to a client.")
CLIENT = Option(("--client",), "text", "Run this client against each server, traced in its own lane.",
                metavar="PROGRAM")
SERVER = Option(("--server",), "text", "Run this server for each client, traced in its own lane.", metavar="PROGRAM")
STATES = Option(("--states",), "flag", "Show the kernel's TCP state after each call on a TCP socket.")
PACKETS = Option(("--packets",), "flag", "Show the program's loopback packets among its calls (tcpdump's notation).")
PCAP = Option(("--pcap",), "text", "Write the program's loopback packets to FILE (pcap).", metavar="FILE")
WIDTH = Option(("--width",), "count", "Lines at most N columns wide (default: $COLUMNS, else the terminal's width; "
               "in a file or a pipe, as wide as the table needs).", minimum=1, metavar="N")
TRACE_FORMAT = _format(TRACE_FORMATS, "text (strace-like), jsonl, html, mermaid.")
COMPARE_FORMAT = _format(COMPARE_FORMATS, "text, json, markdown, html or mermaid.")
MATRIX_FORMAT = _format(MATRIX_FORMATS, "text, markdown or json.")

# -- options of one command -------------------------------------------------------------------------

STRING_LIMIT = Option(("--string-limit", "-s"), "count", "Payload bytes shown (true length always kept).", minimum=0)
SYSCALLS = Option(("--syscalls", "-e"), "text", "Report only these calls, comma-separated.")
ALL = Option(("--all",), "flag", "Report every system call, not only socket ones.")
RULES = Option(("--rules",), "flag", "List the equivalence rules and exit.")  # compare's own
INTERPRETER = Option(("--interpreter",), "text", "Run the program with this interpreter.")
NO_SECCOMP = Option(("--no-seccomp",), "flag", "Stop at every call (slower; for kernels without seccomp).")
NO_PIN = Option(("--no-pin",), "flag", "Let the program's threads use every CPU (tracing is slower).")

# Every option of ``sctrace trace``, by the name of its parameter: the fast path's table.
TRACE_OPTIONS: dict[str, Option] = {
    "format": TRACE_FORMAT,
    "output": OUTPUT,
    "string_limit": STRING_LIMIT,
    "syscall_list": SYSCALLS,
    "all_syscalls": ALL,
    "timeout": TIMEOUT.least(0.0),  # trace's has no default, and 0 sets no limit either
    "interpreter": INTERPRETER,
    "no_seccomp": NO_SECCOMP,
    "no_pin": NO_PIN,
    "backend": BACKEND,
    "states": STATES,
    "packets": PACKETS,
    "pcap": PCAP,
    "traceback": TRACEBACK,
}
