"""The strace backend: run the program under strace and read strace's output as it comes.

Where ptrace from Python is refused but strace may trace (strace with file
capabilities, a profile that allows only it), ``--backend strace`` gives the
same Trace: strace's text is read by strace_log.LogParser line by line, and
this module turns what it reads into the events the ptrace backend reports
(socket calls, read/write/close only on sockets, fork, exec, signal, exit,
killed), streamed to the same renderers.

How strace is run (each flag is needed by the parser or by what the trace must hold):

    strace -f -yy -ttt -q --seccomp-bpf -s N -e trace=SET -o /proc/self/fd/4 \\
        -- /bin/sh -c 'exec 2>&3 3>&- 4>&-; exec "$0" "$@"' PROGRAM ARGS...

- ``-yy``: every descriptor with what the kernel says it is, which tells a
  socket's read/write/close (reported) from a file's (not) and gives the
  endpoints; ``-ttt``: the times; ``-q``: no attach messages, but the
  ``+++ exited with N +++`` lines stay (``-qq`` would drop them).
- ``-o`` a pipe: the trace comes apart from strace's own messages (stderr, a
  file read at the end) and from the program's output; with ``-f`` every line
  then starts with its pid.
- the ``/bin/sh`` trampoline gives the program back its stderr (fd 3) and closes
  what only strace needs, so the program starts with the descriptors it would
  have had; its exec is the first line of the log, and is left out.
- ``-e trace`` adds the process calls (execve, clone, fork...) to the socket
  set: they give the exec and fork events, then are left out unless asked for.
  There is no ``-X raw`` (the parser reads strace's symbolic names, as the
  ptrace backend prints them) and no ``-e signal=`` (all signals are events).
- Interrupted (SIGINT, SIGTERM, --timeout), sctrace kills every process strace
  traces (found by /proc's TracerPid), so strace writes each death and ends;
  strace itself would only detach from them.  Should sctrace itself be killed,
  a guard process does the same (Guard), and sctrace reaps what strace leaves
  (it is a subreaper).
- Driven (compare): drive.Driver reads the program as strace reports it
  (peer_view.py): a server gets its client, a client is one clear error.
"""

from __future__ import annotations

import errno as _errno
import os
import re
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from sctrace.backends.strace.events import EventStream
from sctrace.kernel.procfs import stat_fields
from sctrace.kernel.reaper import become_subreaper, reap_orphans
from sctrace.launch.runners import Launch
from sctrace.model import syscalls
from sctrace.model.strace_log import LogParser
from sctrace.model.trace import Event, Renderer, Trace, TraceFormatError
from sctrace.status import STOP_SIGNALS, ExitStatus, SctraceError

if TYPE_CHECKING:
    from sctrace.backends.ptrace.tracer import TraceOptions
    from sctrace.backends.recording import TraceResult
    from sctrace.backends.strace.peer_view import StraceTracerView
    from sctrace.backends.view import Observer

# The calls strace traces besides the socket set: exec and fork events come from them.
PROCESS_CALLS = ("execve", "execveat", "clone", "clone3", "fork", "vfork")
# The program's stderr and the trace pipe, as strace's child sees them (the trampoline's numbers).
_STDERR_FD, _TRACE_FD = 3, 4
TRAMPOLINE = f'exec 2>&{_STDERR_FD} {_STDERR_FD}>&- {_TRACE_FD}>&-; exec "$0" "$@"'
SHELL = "/bin/sh"
_DRAIN_SECONDS = 5.0  # how long strace may take to report the deaths of the processes sctrace killed


def find_strace() -> str | None:
    return shutil.which("strace")


def strace_command(strace: str, launch: Launch, string_limit: int, report: frozenset[str] | None,
                   all_syscalls: bool, use_seccomp: bool = True) -> list[str]:
    """The strace command line that traces ``launch`` (see the module's docstring)."""
    cmd = [strace, "-f", "-yy", "-ttt", "-q", *(["--seccomp-bpf"] if use_seccomp else []), "-s", str(string_limit)]
    if not all_syscalls:
        names = sorted(report) if report is not None else sorted(syscalls.SOCKET_SET)
        cmd += ["-e", "trace=" + ",".join([*names, *PROCESS_CALLS])]
    elif report is not None:
        cmd += ["-e", "trace=" + ",".join(sorted({*report, *PROCESS_CALLS}))]
    cmd += ["-o", f"/proc/self/fd/{_TRACE_FD}", "--", SHELL, "-c", TRAMPOLINE, launch.path, *launch.argv[1:]]
    return cmd


# -- running strace ---------------------------------------------------------------


NETNS_NOTE = "sctrace-netns: "  # how the child tells, among strace's messages, that it has no namespace


def _spawn(cmd: list[str], trace_w: int, diag_fd: int, new_netns: bool = False) -> int:
    """Fork and exec strace with fds 2 (its messages), 3 (the program's stderr) and 4 (the trace).

    Not subprocess: the numbers 3 and 4 must be exactly those (the trampoline's).
    With ``new_netns`` strace (and so the program) runs in a network namespace
    of its own holding only loopback, as the ptrace backend's child does.
    """
    if new_netns:
        from sctrace.kernel import netns

        netns.prepare()  # an ordinary user's user namespace: this process, which drives the peer, holds it
    stderr_copy = os.dup(2)
    pid = os.fork()
    if pid == 0:
        try:
            for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGALRM, *STOP_SIGNALS):
                signal.signal(sig, signal.SIG_DFL)
            high = [os.dup(fd) for fd in (diag_fd, stderr_copy, trace_w)]  # above 2..4 before moving them
            for target, fd in zip((2, _STDERR_FD, _TRACE_FD), high, strict=True):
                os.dup2(fd, target)
            if new_netns:
                err = netns.enter_new()
                if err:
                    os.write(2, f"{NETNS_NOTE}no network namespace ({os.strerror(err)}): the program uses "
                                "the host's loopback\n".encode())
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    os.close(stderr_copy)
    return pid


class LineReader:
    """The lines strace writes to the pipe, as they come.

    The part of a line read so far is kept here, not in a generator's frame:
    a signal (Ctrl-C) raised inside the read must not lose it, since reading
    goes on after it.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def lines(self, deadline: float | None = None, wake_fd: int | None = None,
              stop: list[tuple[str, int]] | None = None) -> Iterator[str]:
        """Lines until the pipe ends (the last one may lack its newline), ``deadline`` passes, or ``stop``
        holds something (a signal handler puts it there and writes to ``wake_fd``)."""
        watched = [self.fd] if wake_fd is None else [self.fd, wake_fd]
        while not stop:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select(watched, [], [], wait)
            if not ready:
                return
            if wake_fd is not None and wake_fd in ready:
                try:
                    os.read(wake_fd, 64)
                except BlockingIOError:
                    pass
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                break
            self.buf += chunk
            if b"\n" in self.buf:
                *complete, self.buf = self.buf.split(b"\n")
                for line in complete:
                    yield line.decode("utf-8", "surrogateescape") + "\n"
        if self.buf and not stop:
            rest, self.buf = self.buf, b""
            yield rest.decode("utf-8", "surrogateescape")


@contextmanager
def _signals_as_flag(timeout: float | None) -> Iterator[tuple[list[tuple[str, int]], int]]:
    """SIGINT, SIGTERM and the --timeout alarm are noted in a list (why, status) and wake a select.

    Unlike the ptrace backend's handler, nothing is raised: a signal arriving
    while a line is being read must not leave that line half-applied.
    """
    stop: list[tuple[str, int]] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stop:
            stop.append(("timeout", int(ExitStatus.TIMEOUT)) if signum == signal.SIGALRM
                        else (signal.Signals(signum).name, 128 + signum))

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous_wakeup = signal.set_wakeup_fd(wake_w)
    watched = (*STOP_SIGNALS, signal.SIGALRM)
    previous = {sig: signal.signal(sig, on_signal) for sig in watched}
    if timeout:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield stop, wake_r
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_wakeup)
        os.close(wake_r)
        os.close(wake_w)


def tracees_of(tracer: int) -> set[int]:
    """The processes (thread group ids) whose threads ``tracer`` traces, from /proc's TracerPid."""
    found: set[int] = set()
    want = f"TracerPid:\t{tracer}\n"
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            tasks = os.listdir(f"/proc/{name}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{name}/task/{tid}/status") as f:
                    if want in f.read():
                        found.add(int(name))
                        break
            except OSError:
                continue
    return found


def _parent_of(pid: int) -> int:
    """The parent of ``pid``; 0 if it is gone."""
    try:
        return int(stat_fields(pid)[1])
    except (OSError, IndexError):
        return 0


def parents_first(pids: set[int]) -> list[int]:
    """``pids`` ordered so that each comes after its ancestors among them."""
    parent = {pid: _parent_of(pid) for pid in pids}

    def depth(pid: int) -> int:
        n = 0
        while (pid := parent[pid]) in parent and n < len(parent):
            n += 1
        return n

    return sorted(pids, key=depth)


def kill_tracees(tracer: int) -> None:
    """SIGKILL every process the strace process ``tracer`` traces, until none is left.

    Parents die before their children: a child killed first would send its
    living parent a SIGCHLD, which under ptrace interrupts the call the parent
    waits in, so its trace would show a signal and a restarted call that only
    the killing caused.  A process may fork while we look: its child is traced
    as soon as it exists, so looking again finds it.
    """
    for _ in range(100):
        pids = parents_first(tracees_of(tracer))
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


class Guard:
    """A process that outlives sctrace to kill what strace traces, should sctrace be killed (SIGKILL).

    The ptrace backend has PTRACE_O_EXITKILL for this; strace 6.1 has no
    --kill-on-exit, and a strace that dies lets its tracees go on untraced.
    The guard (a fork of sctrace, not traced) waits on a pipe: "d" means all
    is done; the pipe's end without it means sctrace died, and the guard
    kills strace's tracees, then strace.
    """

    def __init__(self, strace_pid: int) -> None:
        r, self.w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.w)
                for sig in (*STOP_SIGNALS, signal.SIGALRM):
                    signal.signal(sig, signal.SIG_IGN)  # only sctrace's death moves it
                signal.setitimer(signal.ITIMER_REAL, 0)
                if os.read(r, 1) != b"d":
                    kill_tracees(strace_pid)
                    os.kill(strace_pid, signal.SIGKILL)
            finally:
                os._exit(0)
        os.close(r)

    def release(self) -> None:
        """sctrace is done with strace: the guard ends without doing anything."""
        try:
            os.write(self.w, b"d")
        finally:
            os.close(self.w)
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass


def _diagnostics(diag: Any) -> list[str]:
    diag.seek(0)
    text = diag.read().decode("utf-8", "replace")
    # strace names itself as it was invoked ("/usr/bin/strace: ..."): the notices say "strace: " once.
    return [re.sub(r"^\S*strace: ", "", line.strip()) for line in text.splitlines() if line.strip()]


def trace_with_strace(
    launch: Launch,
    *,
    string_limit: int,
    report: frozenset[str] | None,
    all_syscalls: bool,
    renderer: Renderer | None,
    timeout: float | None,
    want_version: bool,
    use_seccomp: bool = True,
    observer: Observer | None = None,
    new_netns: bool = False,
    keep_events: bool = True,
) -> tuple[Trace, int, str | None, list[str]]:
    """Trace ``launch`` under strace; (trace, status, why it was interrupted or None, notices).

    ``observer`` (a drive.Driver) is told of the program as strace reports it (peer_view.py).
    """
    from sctrace.model.escape import escape_for_terminal

    strace = find_strace()
    if strace is None:
        raise SctraceError("strace not found, needed by --backend strace; install strace "
                           "(apt-get install strace) or use --backend ptrace", ExitStatus.NO_INTERPRETER)
    if not os.path.exists(SHELL):
        raise SctraceError(f"{SHELL} not found, needed by --backend strace; use --backend ptrace",
                           ExitStatus.NO_INTERPRETER)
    _check_exec_format(launch)
    from sctrace.backends.recording import Recorder, make_header

    trace = Trace(make_header(launch, backend="strace", all_syscalls=all_syscalls, string_limit=string_limit,
                              seccomp=use_seccomp))
    recorder = Recorder(trace, renderer, launch.start_version_probe() if want_version else None, keep=keep_events)

    def sink(ev: Event) -> None:
        recorder.add(ev)
        if view is not None:
            view.event(ev)
            if view.by_sctrace is not None:  # the driver stopped the program after its exchange
                stream.killed_by = view.by_sctrace

    view: StraceTracerView | None = None
    parser = LogParser("strace's output")
    stream = EventStream(parser, report, all_syscalls, sink)
    cmd = strace_command(strace, launch, string_limit, report, all_syscalls, use_seccomp)
    become_subreaper()
    trace_r, trace_w = os.pipe()
    diag = tempfile.TemporaryFile()
    strace_pid = _spawn(cmd, trace_w, diag.fileno(), new_netns)
    os.close(trace_w)
    guard = Guard(strace_pid)
    if observer is not None:
        from sctrace.backends.strace.peer_view import StraceTracerView

        view = StraceTracerView(observer, strace_pid, new_netns)
        observer.attached(view)
    interrupted: str | None = None
    status: int | None = None
    cut_line: str | None = None
    lineno = 0

    reader = LineReader(trace_r)

    def pump(lines: Iterator[str]) -> None:
        nonlocal lineno, cut_line
        for line in lines:
            lineno += 1
            if not line.endswith("\n"):
                cut_line = line  # strace was killed mid-line
                return
            parser.feed(lineno, line)
            stream.take()

    try:
        with _signals_as_flag(timeout) as (stop, wake_fd):
            pump(reader.lines(wake_fd=wake_fd, stop=stop))
            if stop:
                interrupted, status = stop[0]
                stream.killed_by = interrupted
                kill_tracees(strace_pid)
                pump(reader.lines(deadline=time.monotonic() + _DRAIN_SECONDS))
        stream.finish()
    except TraceFormatError as exc:
        raise SctraceError(f"cannot read strace's output ({exc}); run again with --backend ptrace",
                           ExitStatus.INTERNAL) from None
    finally:
        if observer is not None:
            observer.detached()
        _end(strace_pid, trace_r)
        guard.release()
        if recorder.version_probe is not None and not stream.started:
            recorder.version_probe.kill()
            recorder.version_probe.wait()
            recorder.version_probe = None
        if renderer is not None and recorder.header_sent:
            renderer.close()
        reap_orphans()
    notices = [escape_for_terminal(line.removeprefix(NETNS_NOTE)) if line.startswith(NETNS_NOTE)
               else f"strace: {escape_for_terminal(line)}" for line in _diagnostics(diag)]
    diag.close()
    if cut_line is not None:
        notices.append("strace's output ended inside a line (strace was killed); that line is left out")
    if not stream.started and interrupted is None:
        raise _start_failure(launch, stream, notices)
    if status is None:
        status = _status_of(stream)
    if not recorder.header_sent:
        recorder.send_header()
        if renderer is not None:
            renderer.close()
    return trace, status, interrupted, notices


def _check_exec_format(launch: Launch) -> None:
    """What the kernel would refuse with ENOEXEC: the shell would run it as a script instead."""
    try:
        with open(launch.path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise SctraceError(f"cannot execute {launch.path}: {exc.strerror}", ExitStatus.NO_PROGRAM) from None
    if head != b"\x7fELF" and not head.startswith(b"#!"):
        raise SctraceError(
            f"{launch.program} is executable but not a program (no #! line?); give --interpreter PATH",
            ExitStatus.NO_PROGRAM,
        )


def _start_failure(launch: Launch, stream: EventStream, notices: list[str]) -> SctraceError:
    """Why the program never started: strace could not trace, or the exec failed."""
    if stream.exec_error is not None:
        number = getattr(_errno, stream.exec_error, 0)
        why = os.strerror(number) if number else stream.exec_error
        return SctraceError(f"cannot execute {launch.path}: {why}", ExitStatus.NO_PROGRAM)
    said = [n.removeprefix("strace: ") for n in notices]
    refused = [line for line in said if "not permitted" in line.lower()]
    if refused:  # strace says why at length; its own ptrace() call's failure is the line that tells
        why = next((line for line in refused if line.startswith("ptrace(")), refused[0])
        return SctraceError(f"strace may not trace here either ({why}); run where tracing is allowed, e.g. "
                            "docker run --cap-add SYS_PTRACE", ExitStatus.PTRACE_DENIED)
    return SctraceError(f"strace could not run {launch.program} ({'; '.join(said) or 'no output'})",
                        ExitStatus.INTERNAL)


def _status_of(stream: EventStream) -> int:
    """The program's own status, like strace's: its exit code, or 128+N for a signal N."""
    end = stream.ended.get(stream.leader) if stream.leader is not None else None
    if end is None:
        return ExitStatus.INTERNAL
    if end.type == "exit":
        return int(end.info.get("code", 0)) & 0xFF
    name = str(end.info.get("signal", ""))
    try:
        return 128 + signal.Signals[name].value
    except KeyError:
        return ExitStatus.INTERNAL


def _end(strace_pid: int, trace_r: int) -> None:
    """Close the trace pipe and wait for strace (it ends once its tracees have).

    Normally strace has closed the pipe because it is ending.  When sctrace
    stops reading early (an error), the program still runs: its processes are
    killed first, while strace still traces them (so /proc names them), and
    strace is killed if it does not end soon after.
    """
    try:
        ended = os.waitpid(strace_pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        ended = True
    if not ended:
        kill_tracees(strace_pid)
    os.close(trace_r)
    if ended:
        return
    deadline = time.monotonic() + _DRAIN_SECONDS
    while True:
        try:
            if os.waitpid(strace_pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        if time.monotonic() > deadline:
            os.kill(strace_pid, signal.SIGKILL)
            os.waitpid(strace_pid, 0)
            return
        time.sleep(0.01)


def trace_launch(launch: Launch, *, options: TraceOptions, renderer: Renderer | None, timeout: float | None,
                 want_version: bool, observer: Observer | None = None, keep_events: bool = True) -> TraceResult:
    """backends.run.trace_program's --backend strace: the same TraceResult, from strace."""
    from sctrace.backends.recording import TraceResult

    ptrace_only = [flag for flag, on in (("--states", getattr(options, "states", False)),
                                         ("--packets", getattr(options, "packets", False)),
                                         ("--pcap", getattr(options, "pcap", None) is not None)) if on]
    if ptrace_only:
        raise SctraceError(f"{', '.join(ptrace_only)} need the ptrace backend; leave out --backend strace",
                           ExitStatus.USAGE)
    t0 = time.monotonic()
    trace, status, interrupted, notices = trace_with_strace(
        launch, string_limit=options.string_limit, report=options.report, all_syscalls=options.all_syscalls,
        renderer=renderer, timeout=timeout, want_version=want_version, use_seccomp=options.use_seccomp,
        observer=observer, new_netns=options.netns, keep_events=keep_events)
    return TraceResult(trace, status, interrupted, notices, t0)
