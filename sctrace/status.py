"""sctrace's exit statuses and the one error type that carries them to the user.

When tracing completes, ``sctrace trace`` exits with the traced program's own
status, like strace (128+N when a signal N killed it).  Its own failures use
the values below, taken from sysexits.h where one fits, so that a script can
tell "the program failed" from "sctrace could not do its job" in most cases.
"""

from __future__ import annotations

import enum
import errno
import signal


class ExitStatus(enum.IntEnum):
    OK = 0
    USAGE = 2  # bad option or argument (also click's own status for these)
    NO_PROGRAM = 66  # EX_NOINPUT: the program does not exist, is a directory, cannot be run
    NO_INTERPRETER = 69  # EX_UNAVAILABLE: the interpreter it needs is not installed
    INTERNAL = 70  # EX_SOFTWARE: a bug in sctrace (run again with --traceback and report it)
    OS_ERROR = 71  # EX_OSERR: the system failed sctrace (out of memory)
    CANNOT_WRITE = 73  # EX_CANTCREAT: the output file cannot be written (or the disk is full)
    PTRACE_DENIED = 77  # EX_NOPERM: the kernel does not let us trace
    TIMEOUT = 124  # like timeout(1): --timeout expired, the program was killed
    INTERRUPTED = 130  # 128+SIGINT (and 143, 128+SIGTERM, for SIGTERM)
    PIPE_CLOSED = 141  # 128+SIGPIPE: the reader of the output went away; the command dies of SIGPIPE, quietly


# The signals that ask sctrace to stop: it kills what it traces, keeps the trace so far and exits 128+N.
# SIGHUP (the terminal closed, ssh dropped) is handled as SIGTERM is.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})  # a write the disk refused


class Stopped(BaseException):
    """A stop signal other than SIGINT (SIGTERM, SIGHUP) while a command runs: handled as Ctrl-C, status 128+N.

    Not a KeyboardInterrupt: typer turns that into status 130 whatever the signal was.  A BaseException,
    like KeyboardInterrupt, so that no `except Exception` takes it for an error.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.status = 128 + signum


def raise_stopped(signum: int, _frame: object) -> None:
    """A signal handler: SIGINT raises KeyboardInterrupt as Python's own does, the others Stopped."""
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Stopped(signum)


def interrupted(exc: BaseException) -> bool:
    """Whether exc is Ctrl-C, or came of it: Python wraps a KeyboardInterrupt raised while a class is made
    (an import's __set_name__) in a RuntimeError."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, (KeyboardInterrupt, Stopped)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def stop_status(exc: BaseException) -> int:
    """The status for a run that a stop signal ended: 128+N (130 for Ctrl-C)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if isinstance(seen, Stopped):
            return seen.status
        if seen is None:
            break
        seen = seen.__cause__ or seen.__context__
    return ExitStatus.INTERRUPTED


def exit_quietly_on_closed_pipe(status: int) -> None:
    """For the process's own exit: PIPE_CLOSED dies of SIGPIPE, as cat or grep do when `| head` stops reading."""
    if status == ExitStatus.PIPE_CLOSED:
        import os

        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)


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
    if interrupted(exc):
        return stop_status(exc)
    # The surroundings failing is not a bug: a closed pipe, a full disk, no memory.
    if isinstance(exc, BrokenPipeError):
        return ExitStatus.PIPE_CLOSED
    if isinstance(exc, OSError) and exc.errno in _FULL:
        where = f" {exc.filename}" if exc.filename else " the output"
        print(f"sctrace: error: cannot write{where}: {exc.strerror}; free some space or choose another -o FILE",
              file=sys.stderr)
        return ExitStatus.CANNOT_WRITE
    if isinstance(exc, MemoryError):
        print("sctrace: error: out of memory; trace a shorter run, or give sctrace more memory", file=sys.stderr)
        return ExitStatus.OS_ERROR
    if "--traceback" in argv:
        raise exc
    print(f"sctrace: internal error: {type(exc).__name__}: {exc}; run again with --traceback and report it",
          file=sys.stderr)
    return ExitStatus.INTERNAL
