"""sctrace's exit statuses and the one error type that carries them to the user.

When tracing completes, ``sctrace trace`` exits with the traced program's own
status, like strace (128+N when a signal N killed it).  Its own failures use
the values below, taken from sysexits.h where one fits, so that a script can
tell "the program failed" from "sctrace could not do its job" in most cases.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    USAGE = 2  # bad option or argument (also click's own status for these)
    NO_PROGRAM = 66  # EX_NOINPUT: the program does not exist, is a directory, cannot be run
    NO_INTERPRETER = 69  # EX_UNAVAILABLE: the interpreter it needs is not installed
    INTERNAL = 70  # EX_SOFTWARE: a bug in sctrace (run again with --traceback and report it)
    CANNOT_WRITE = 73  # EX_CANTCREAT: the output file cannot be written
    PTRACE_DENIED = 77  # EX_NOPERM: the kernel does not let us trace
    TIMEOUT = 124  # like timeout(1): --timeout expired, the program was killed
    INTERRUPTED = 130  # 128+SIGINT (and 143, 128+SIGTERM, for SIGTERM)


class SctraceError(Exception):
    """An error for people: one line that says what to do, and an exit status."""

    def __init__(self, message: str, status: ExitStatus | int) -> None:
        super().__init__(message)
        self.message = message
        self.status = int(status)


def report(exc: BaseException, argv: list[str]) -> int:
    """The exit status for an error that reached the command line, after one line on stderr for people.

    An internal error (a bug) is re-raised with --traceback in argv, for its traceback.
    """
    import sys

    if isinstance(exc, SctraceError):
        print(f"sctrace: error: {exc.message}", file=sys.stderr)
        return exc.status
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if "--traceback" in argv:
        raise exc
    print(f"sctrace: internal error: {type(exc).__name__}: {exc}; run again with --traceback and report it",
          file=sys.stderr)
    return ExitStatus.INTERNAL
