"""Tracing one program from start to end: the library API under ``sctrace trace``.

``trace_program`` resolves the program, starts the tracer, streams events to a
renderer, and turns every way a run can end into a Trace plus a status:
the program's own exit, Ctrl-C or SIGTERM (the tracees are killed and the trace
so far is kept), --timeout, or a failure to start (an SctraceError for people).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

from sctrace import __version__
from sctrace.render import Renderer
from sctrace.runners import Launch, resolve, version_answer
from sctrace.status import ExitStatus, SctraceError
from sctrace.trace import Event, Header, Trace
from sctrace.tracer import Interrupted, LaunchError, Observer, Outcome, TraceOptions, Tracer

if TYPE_CHECKING:
    import subprocess

    from sctrace.packets import PacketFeed


@dataclass
class TraceResult:
    trace: Trace
    status: int
    interrupted: str | None = None
    notices: list[str] = field(default_factory=list)
    t0: float = 0.0  # time.monotonic() when tracing began: event times count from it


@contextmanager
def _stop_on_signals(timeout: float | None) -> Iterator[None]:
    """SIGINT, SIGTERM and the --timeout alarm interrupt the tracer's loop."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGALRM:
            raise Interrupted("timeout", ExitStatus.TIMEOUT)
        raise Interrupted(signal.Signals(signum).name, 128 + signum)

    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
    previous = {sig: signal.signal(sig, on_signal) for sig in watched}
    if timeout:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ptrace_denied_reason() -> str:
    """Why the kernel may refuse ptrace here, from what /proc tells."""
    reasons = []
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = f.read().strip()
        if scope == "3":
            reasons.append("yama ptrace_scope is 3 (no tracing at all until reboot)")
        elif scope in ("1", "2"):
            reasons.append(f"yama ptrace_scope is {scope}")
    except OSError:
        pass
    try:
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        if int(status.get("CapEff", "0").strip(), 16) & (1 << 19) == 0 and os.geteuid() == 0:
            reasons.append("the container drops CAP_SYS_PTRACE")
        if status.get("Seccomp", "0").strip() != "0":
            reasons.append("a seccomp profile (a container's?) filters ptrace")
    except (OSError, ValueError):
        pass
    why = "; ".join(reasons) if reasons else "the kernel refused PTRACE_TRACEME"
    # Where strace may trace (file capabilities, a profile that allows it), it is the way out.
    from sctrace.runners import which

    alternative = "; or try --backend strace (strace is installed)" if which("strace") else ""
    return (
        f"ptrace is not permitted here ({why}); run where tracing is allowed, e.g. "
        f"docker run --cap-add SYS_PTRACE, or sysctl kernel.yama.ptrace_scope=1{alternative}"
    )


def _launch_error(reason: str, launch: Launch) -> SctraceError:
    if reason == "ptrace_denied":
        return SctraceError(ptrace_denied_reason(), ExitStatus.PTRACE_DENIED)
    if reason.startswith("exec:"):
        err = int(reason[5:])
        import errno

        if err == errno.ENOEXEC:
            return SctraceError(
                f"{launch.program} is executable but not a program (no #! line?); give --interpreter PATH",
                ExitStatus.NO_PROGRAM,
            )
        return SctraceError(f"cannot execute {launch.path}: {os.strerror(err)}", ExitStatus.NO_PROGRAM)
    return SctraceError(f"{launch.program} could not be started under ptrace", ExitStatus.INTERNAL)


def _packet_feed(options: TraceOptions) -> PacketFeed | None:
    """--packets/--pcap: the capture; a --pcap file that cannot be written fails here, before tracing."""
    if not options.packets and options.pcap is None:
        return None
    from sctrace.packets import PacketFeed

    return PacketFeed.for_options(options.packets, options.pcap)


class Recorder:
    """Where a backend's events go: into the trace and to the renderer, the header before the first.

    The header is sent at the first event (or at the end, for a program with none): by then the
    program is running, so the interpreter's version, asked in parallel by version_probe, is in;
    ``complete`` fills in what the backend knows only then.
    """

    def __init__(self, trace: Trace, renderer: Renderer | None, version_probe: subprocess.Popen[str] | None,
                 complete: Callable[[Header], None] | None = None) -> None:
        self.trace, self.renderer, self.version_probe, self.complete = trace, renderer, version_probe, complete
        self.header_sent = False

    def send_header(self) -> None:
        if self.header_sent:
            return
        self.header_sent = True
        header = self.trace.header
        if self.complete is not None:
            self.complete(header)
        if self.version_probe is not None:
            header.interpreter_version = version_answer(self.version_probe)
            self.version_probe = None
        if self.renderer is not None:
            self.renderer.header(header)

    def add(self, ev: Event) -> None:
        if not self.header_sent:
            self.send_header()
        self.trace.events.append(ev)
        if self.renderer is not None:
            self.renderer.event(ev)


def make_header(launch: Launch, options: TraceOptions) -> Header:
    return Header(
        argv=launch.argv,
        program=launch.program,
        language=launch.language,
        interpreter=launch.interpreter,
        backend="ptrace",
        all_syscalls=options.all_syscalls,
        string_limit=options.string_limit,
        started=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),  # datetime's isoformat, without datetime
        sctrace_version=__version__,
        extra={"tcp_states": True} if options.states else {},
    )


def trace_program(
    program: str,
    args: list[str],
    *,
    options: TraceOptions,
    renderer: Renderer | None = None,
    interpreter: str | None = None,
    timeout: float | None = None,
    want_version: bool = True,
    observer: Observer | None = None,
    backend: str = "ptrace",
) -> TraceResult:
    """Trace ``program`` until it ends; the result holds every event reported.

    ``backend`` "strace" runs it under strace instead (strace_backend.py).

    A compiled program (.c, .go) is built first, untraced, into a private
    directory removed afterwards; its binary is what is traced (build.py).
    """
    launch = resolve(program, args, interpreter)
    if launch.compiled:
        from sctrace.build import built  # here: building pulls in tempfile, subprocess, shutil (15 ms)

        building: AbstractContextManager[Launch] = built(launch)
    else:
        building = nullcontext(launch)
    with building as launch:
        if backend == "strace":
            from sctrace.strace_backend import trace_launch

            return trace_launch(launch, options=options, renderer=renderer, timeout=timeout,
                                want_version=want_version, observer=observer)
        return _trace_launch(launch, options=options, renderer=renderer, timeout=timeout,
                             want_version=want_version, observer=observer)


def _trace_launch(
    launch: Launch,
    *,
    options: TraceOptions,
    renderer: Renderer | None,
    timeout: float | None,
    want_version: bool,
    observer: Observer | None,
) -> TraceResult:
    """Trace a resolved (and built) program until it ends."""
    header = make_header(launch, options)
    trace = Trace(header)
    # The version is recorded in saved traces; a terminal reader does not need
    # it, and asking costs an interpreter start competing with the traced one.
    feed = _packet_feed(options)  # first: a --pcap FILE that cannot be written stops all before it starts
    def complete(header: Header) -> None:
        header.seccomp = tracer.seccomp_mode
        if feed is not None and options.packets:
            header.extra["packets"] = feed.active  # packet events follow (false: capture was not possible)

    recorder = Recorder(trace, renderer, launch.start_version_probe() if want_version else None, complete)
    add = recorder.add

    def sink(ev: Event) -> None:
        recorder.send_header()
        if feed is not None:  # packets sent before this event was reported come first; seq is file order
            for packet in feed.events():
                packet.seq = len(trace.events)
                add(packet)
            ev.seq = len(trace.events)
        add(ev)

    tracer = Tracer(launch.argv, launch.path, options, sink, observer)
    if feed is not None:
        tracer.on_attached.append(feed.attach)
    interrupted: str | None = None
    try:
        with _stop_on_signals(timeout):
            try:
                outcome: Outcome = tracer.run()
                status = outcome.status
            except Interrupted as exc:
                interrupted = exc.reason
                status = exc.status
    except LaunchError as exc:
        raise _launch_error(str(exc), launch) from None
    finally:
        recorder.send_header()
        if feed is not None:
            for packet in feed.events():  # the last ones, after the last event
                packet.seq = len(trace.events)
                add(packet)
            tracer.outcome.notices.extend(feed.close())
        if renderer is not None:
            renderer.close()
    return TraceResult(trace, status, interrupted, tracer.outcome.notices, tracer.t0)
