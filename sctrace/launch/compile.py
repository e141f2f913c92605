"""Compiled programs: build the source into a private directory, trace the binary, remove the directory.

A ``.c`` or ``.go`` program is built before tracing (the build is not traced:
its calls are the compiler's, not the program's), into a directory of its own
(mkdtemp: mode 0700), which is removed afterwards whatever happens: on success,
on a compile error, on Ctrl-C or SIGTERM during the build or the trace, and even
when sctrace itself is killed (a small guard process, started before the build,
removes it when sctrace's end of a pipe closes).

A compile error is the user's to fix: one line saying what failed, then the
compiler's own diagnostics (escaped for the terminal), status 2.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from sctrace.launch.runners import Launch
from sctrace.model.escape import escape_for_terminal
from sctrace.status import STOP_SIGNALS, ExitStatus, SctraceError

# How each compiled language is built: (compiler, source, binary) -> argv.  The compiler is the Runner's
# interpreter (sctrace/launch/runners.py), or --interpreter.
BUILD_COMMANDS: dict[str, Callable[[str, str, str], list[str]]] = {
    "c": lambda cc, source, binary: [cc, "-o", binary, source],
    "go": lambda go, source, binary: [go, "build", "-o", binary, source],
}


def _go_environment(directory: str) -> dict[str, str]:
    """The user's Go caches when there is a home for them, else caches inside the build directory.

    Go keeps its build cache in GOCACHE (default $XDG_CACHE_HOME/go-build or
    $HOME/.cache/go-build) and refuses to build when none of these is defined;
    GOPATH defaults to $HOME/go.  GOTOOLCHAIN=local: never download another Go
    (Go 1.21 and later would, for a go.mod asking for a newer one).
    """
    env = dict(os.environ)
    env.setdefault("GOTOOLCHAIN", "local")
    if not (env.get("GOCACHE") or env.get("XDG_CACHE_HOME") or env.get("HOME")):
        env["GOCACHE"] = os.path.join(directory, "gocache")
    if not (env.get("GOPATH") or env.get("HOME")):
        env["GOPATH"] = os.path.join(directory, "gopath")
    return env


BUILD_ENVIRONMENTS: dict[str, Callable[[str], dict[str, str]]] = {"go": _go_environment}


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Stop:
    """SIGINT and SIGTERM during the build: remembered until the compiler is known (arm), then raised as _Stopped.

    A signal that came while subprocess.Popen was starting the compiler, raised there, would leave the
    compiler running with no one to know its pid and kill it.
    """

    def __init__(self) -> None:
        self.armed = False
        self.pending: int | None = None

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.armed:
            raise _Stopped(signum)
        if self.pending is None:
            self.pending = signum

    def arm(self) -> None:
        """From now on a signal raises _Stopped, and one that came before is raised now."""
        self.armed = True
        if self.pending is not None:
            raise _Stopped(self.pending)


@contextmanager
def _stoppable() -> Iterator[_Stop]:
    """SIGINT and SIGTERM during the build raise _Stopped once armed, so the compiler is killed and the
    directory removed."""
    stop = _Stop()
    watched = STOP_SIGNALS
    try:
        previous = {sig: signal.signal(sig, stop.on_signal) for sig in watched}
    except ValueError:  # not the main thread: signals stay as they are
        yield stop
        return
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _RemovalGuard:
    """A process that stops the compiler and removes ``directory`` once this one has closed its pipe or died.

    sctrace may be killed by SIGKILL (a parent's clean-up, the OOM killer), which
    no finally clause survives.  The guard is a grandchild in a session of its
    own (so the terminal's Ctrl-C does not reach it), holding only the read end
    of a pipe; the write end is close-on-exec, so the traced program does not
    keep it open.  sctrace writes the compiler's process group to the pipe when
    it starts one: a compiler left running (go build runs for seconds) would
    write its binary into the directory again after it was removed.
    """

    def __init__(self, directory: str) -> None:
        read_end, self.write_end = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked processes
            try:
                if os.fork() == 0:
                    os.setsid()
                    os.closerange(0, read_end)
                    os.closerange(read_end + 1, os.sysconf("SC_OPEN_MAX"))
                    told = b""
                    while chunk := os.read(read_end, 64):
                        told += chunk
                    running: set[int] = set()
                    for word in told.split():  # "+GROUP" started, "-GROUP" ended
                        (running.add if word[:1] == b"+" else running.discard)(int(word[1:]))
                    for group in running:
                        stop_group(group)
                    shutil.rmtree(directory, ignore_errors=True)
            finally:
                os._exit(0)
        os.close(read_end)
        os.waitpid(pid, 0)

    def watch(self, group: int, running: bool = True) -> None:
        """Stop this process group too, should sctrace die before it ends (running=False: it has ended).

        The guard must know that a group ended: its number could later be another program's.
        """
        os.write(self.write_end, b"%c%d\n" % (b"+" if running else b"-", group))

    def release(self) -> None:
        os.close(self.write_end)


GRACE = 2.0  # seconds a compiler has after SIGTERM to remove its temporary files and end


def stop_group(group: int, reap: Callable[[], object] | None = None) -> None:
    """SIGTERM to the process group (so compilers remove their temporary files), then SIGKILL what is left.

    reap: waits for the group's leader where this process is its parent; elsewhere the group is polled.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline:
            if reap is not None:
                reap()
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.01)


@contextmanager
def built(launch: Launch) -> Iterator[Launch]:
    """launch itself, or for a compiled program the launch of its freshly built binary (removed on exit)."""
    if not launch.compiled:
        yield launch
        return
    directory = tempfile.mkdtemp(prefix="sctrace-build-")
    guard = _RemovalGuard(directory)
    try:
        name = os.path.splitext(os.path.basename(launch.program))[0] or "program"
        binary = os.path.join(directory, name)
        compile_program(launch, binary, directory, guard.watch)
        yield dataclasses.replace(launch, argv=[binary, *launch.argv[1:]], path=binary, compiled=False)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        guard.release()


def compile_program(launch: Launch, binary: str, directory: str,
                    watch: Callable[[int, bool], None] | None = None) -> None:
    """Build launch.program into binary; a compile error becomes an SctraceError with the diagnostics.

    The compiler's temporary files go into directory too (TMPDIR), so nothing of the build outlives it;
    watch is told the compiler's process group by the compiler's own process, before it execs, and
    told again when it has ended.
    """
    language = launch.language or ""
    compiler = launch.interpreter
    if compiler is None or language not in BUILD_COMMANDS:
        raise SctraceError(f"{launch.program}: sctrace does not know how to build {language or 'it'}",
                           ExitStatus.NO_PROGRAM)
    command = BUILD_COMMANDS[language](compiler, launch.program, binary)
    env = BUILD_ENVIRONMENTS[language](directory) if language in BUILD_ENVIRONMENTS else dict(os.environ)
    env["TMPDIR"] = directory  # cc's cc*.s, go's go-build*: removed with the directory whatever happens
    shown = os.path.basename(compiler)
    try:
        with _stoppable() as stop:
            # The compiler tells the guard of itself before it execs: sctrace killed at any moment after,
            # the guard knows which process group to stop.
            announce = (lambda: watch(os.getpid(), True)) if watch is not None else None
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                    preexec_fn=announce)
            try:
                stop.arm()
                output, _ = proc.communicate()
            finally:
                if proc.poll() is None:
                    _kill_group(proc)
                if watch is not None:
                    watch(proc.pid, False)
    except OSError as exc:
        raise SctraceError(f"cannot run {compiler} to build {launch.program}: {exc.strerror}; "
                           "check the compiler (--interpreter PATH)", ExitStatus.NO_INTERPRETER) from None
    except _Stopped as exc:
        raise SctraceError(f"stopped ({exc}) while building {launch.program}", 128 + exc.signum) from None
    diagnostics = _escaped(output)
    if proc.returncode != 0:
        status = f"status {proc.returncode}" if proc.returncode > 0 else signal.Signals(-proc.returncode).name
        message = f"cannot build {launch.program}: {shown} failed ({status}); fix the program"
        if diagnostics:
            message += f". {shown} says:\n{diagnostics}"
        raise SctraceError(message, ExitStatus.USAGE)
    if diagnostics:  # warnings: the user's to read, as a build tool would show them
        print(diagnostics, file=sys.stderr)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """The compiler and everything it started (cc1, as, ld; go's compile and link)."""
    stop_group(proc.pid, proc.poll)
    proc.wait()


def _escaped(output: bytes) -> str:
    """The compiler's messages, line by line, with nothing that could steer a terminal."""
    text = output.decode("utf-8", "replace").rstrip()
    return "\n".join(escape_for_terminal(line) for line in text.splitlines())
