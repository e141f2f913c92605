"""What both backends share: where events go while a trace is made, its header, and the result.

A backend (sctrace.backends.ptrace or sctrace.backends.strace) sends each event
to a Recorder, which keeps it in the Trace and streams it to the renderer; the
run ends in a TraceResult.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sctrace import __version__
from sctrace.launch.runners import Launch, version_answer
from sctrace.model.choices import Backend
from sctrace.model.trace import Event, Header, Renderer, Trace

if TYPE_CHECKING:
    import subprocess


@dataclass
class TraceResult:
    trace: Trace
    status: int
    interrupted: str | None = None
    notices: list[str] = field(default_factory=list)
    t0: float = 0.0  # time.monotonic() when tracing began: event times count from it


class Recorder:
    """Where a backend's events go: into the trace and to the renderer, the header before the first.

    The header is sent at the first event (or at the end, for a program with none): by then the
    program is running, so the interpreter's version, asked in parallel by version_probe, is in;
    ``complete`` fills in what the backend knows only then.
    """

    def __init__(self, trace: Trace, renderer: Renderer | None, version_probe: subprocess.Popen[str] | None,
                 complete: Callable[[Header], None] | None = None, keep: bool = True) -> None:
        self.trace, self.renderer, self.version_probe, self.complete = trace, renderer, version_probe, complete
        self.header_sent = False
        # keep=False: events go to the renderer only, so that a streamed trace uses the same memory however
        # long it runs (sctrace trace); count stands for len(trace.events) either way.
        self.keep = keep
        self.count = 0

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
        if self.keep:
            self.trace.events.append(ev)
        self.count += 1
        if self.renderer is not None:
            self.renderer.event(ev)


def make_header(launch: Launch, *, backend: Backend, all_syscalls: bool, string_limit: int, seccomp: bool = False,
                tcp_states: bool = False) -> Header:
    """The header of a trace about to start, the same whichever backend makes it.

    The ptrace backend learns whether its seccomp filter is in only once the program runs, and fills
    ``seccomp`` in then; the strace backend knows it from the start.
    """
    return Header(
        argv=launch.argv,
        program=launch.program,
        language=launch.language,
        interpreter=launch.interpreter,
        backend=backend,
        seccomp=seccomp,
        all_syscalls=all_syscalls,
        string_limit=string_limit,
        started=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),  # datetime's isoformat, without datetime
        sctrace_version=__version__,
        extra={"tcp_states": True} if tcp_states else {},
    )
