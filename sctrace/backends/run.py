"""Tracing one program from start to end: the library API under ``sctrace trace``.

``trace_program`` resolves the program, starts the tracer, streams events to a
renderer, and turns every way a run can end into a Trace plus a status:
the program's own exit, Ctrl-C or SIGTERM (the tracees are killed and the trace
so far is kept), --timeout, or a failure to start (an SctraceError for people).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import FrameType
from typing import TYPE_CHECKING

from sctrace.backends.ptrace.tracer import Interrupted, LaunchError, Outcome, TraceOptions, Tracer
from sctrace.backends.recording import Recorder, TraceResult, make_header
from sctrace.backends.view import Observer
from sctrace.launch.runners import Launch, resolve
from sctrace.model.trace import Event, Header, Renderer, Trace
from sctrace.status import STOP_SIGNALS, ExitStatus, SctraceError

if TYPE_CHECKING:

    from sctrace.kernel.packets import PacketFeed


@contextmanager
def _stop_on_signals(timeout: float | None, tracer: Tracer) -> Iterator[None]:
    """SIGINT, SIGTERM, SIGHUP and the --timeout alarm interrupt the tracer's loop.

    The handler raises Interrupted, and also leaves it with the tracer, whose loop raises it again: a
    handler that runs inside a callback whose exceptions Python ignores (an at-fork handler, while the
    tracer forks the program or a version probe) would otherwise lose the stop.
    """

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGALRM:
            stop = Interrupted("timeout", ExitStatus.TIMEOUT)
        else:
            stop = Interrupted(signal.Signals(signum).name, 128 + signum)
        if tracer.stop is None:
            tracer.stop = stop
        raise stop

    def unraisable(report: sys.UnraisableHookArgs) -> None:
        if not isinstance(report.exc_value, Interrupted):  # a lost stop is the tracer's to raise, not to print
            hook(report)

    watched = (*STOP_SIGNALS, signal.SIGALRM)
    hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    previous = {sig: signal.signal(sig, on_signal) for sig in watched}
    if timeout:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = hook


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
    from sctrace.launch.runners import which

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
    from sctrace.kernel.packets import PacketFeed

    return PacketFeed.for_options(options.packets, options.pcap)


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
    keep_events: bool = True,
) -> TraceResult:
    """Trace ``program`` until it ends; the result holds every event reported (keep_events=False: none,
    when the renderer is all that needs them).

    ``backend`` "strace" runs it under strace instead (strace_backend.py).

    A compiled program (.c, .go) is built first, untraced, into a private
    directory removed afterwards; its binary is what is traced (build.py).
    """
    launch = resolve(program, args, interpreter)
    if launch.compiled:
        from sctrace.launch.compile import built  # here: building pulls in tempfile, subprocess, shutil (15 ms)

        building: AbstractContextManager[Launch] = built(launch)
    else:
        building = nullcontext(launch)
    with building as launch:
        if backend == "strace":
            from sctrace.backends.strace.backend import trace_launch

            return trace_launch(launch, options=options, renderer=renderer, timeout=timeout,
                                want_version=want_version, observer=observer, keep_events=keep_events)
        return _trace_launch(launch, options=options, renderer=renderer, timeout=timeout,
                             want_version=want_version, observer=observer, keep_events=keep_events)


def _trace_launch(
    launch: Launch,
    *,
    options: TraceOptions,
    renderer: Renderer | None,
    timeout: float | None,
    want_version: bool,
    observer: Observer | None,
    keep_events: bool = True,
) -> TraceResult:
    """Trace a resolved (and built) program until it ends."""
    header = make_header(launch, backend="ptrace", all_syscalls=options.all_syscalls,
                         string_limit=options.string_limit, tcp_states=options.states)
    trace = Trace(header)
    # The version is recorded in saved traces; a terminal reader does not need
    # it, and asking costs an interpreter start competing with the traced one.
    feed = _packet_feed(options)  # first: a --pcap FILE that cannot be written stops all before it starts
    def complete(header: Header) -> None:
        header.seccomp = tracer.seccomp_mode
        if feed is not None and options.packets:
            header.extra["packets"] = feed.active  # packet events follow (false: capture was not possible)

    recorder = Recorder(trace, renderer, launch.start_version_probe() if want_version else None, complete,
                        keep=keep_events)
    add = recorder.add

    def sink(ev: Event) -> None:
        recorder.send_header()
        if feed is not None:  # packets sent before this event was reported come first; seq is file order
            for packet in feed.events():
                packet.seq = recorder.count
                add(packet)
            ev.seq = recorder.count
        add(ev)

    tracer = Tracer(launch.argv, launch.path, options, sink, observer)
    if feed is not None:
        tracer.on_attached.append(feed.attach)
    interrupted: str | None = None
    try:
        with _stop_on_signals(timeout, tracer):
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
                packet.seq = recorder.count
                add(packet)
            tracer.outcome.notices.extend(feed.close())
        if renderer is not None:
            renderer.close()
    return TraceResult(trace, status, interrupted, tracer.outcome.notices, tracer.t0)
