"""strace's events made into the ptrace backend's: what is reported, and the fork and exec events.

strace_log.LogParser reads strace's lines into events as strace prints them;
the ptrace backend reports fewer (read/write/close only on sockets, no
execve/clone as calls) and more (a fork event naming its kind and whether a
thread was made, an exec event naming the executable as /proc/PID/exe does).
EventStream sits between the two for ``--backend strace``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from sctrace.model import syscalls
from sctrace.model.strace_args import is_socket_endpoint, unescape
from sctrace.model.strace_log import LogParser
from sctrace.model.trace import Event

FORK_CALLS = ("clone", "clone3", "fork", "vfork")


class EventStream:
    """strace's events, made into the ptrace backend's: what is reported, and fork/exec events.

    Fed the parser's events in log order; ``sink`` gets each event to report,
    numbered.  A process seen for the first time gets its fork event before its
    first event: its parent is the one process inside a clone/fork/vfork then,
    or, if several are, the one whose call returns its pid (its events wait
    until then).
    """

    def __init__(self, parser: LogParser, report: frozenset[str] | None, all_syscalls: bool,
                 sink: Callable[[Event], None]) -> None:
        self.parser = parser
        self.report = report
        self.all = all_syscalls
        self.sink = sink
        self.taken = 0
        self.seq = 0
        self.leader: int | None = None
        self.started = False  # the program's exec (the trampoline's is before it)
        self.execs = 0  # successful execs of the first process before the program's
        self.exec_error: str | None = None  # the program could not be exec'd: its errno
        self.known: set[int] = set()
        self.held: list[Event] | None = None
        self.unresolved: set[int] = set()
        self.ended: dict[int, Event] = {}  # pid -> its exit/killed event
        self.killed_by: str | None = None  # set when sctrace kills the program

    def take(self) -> None:
        """Handle the parser's events since the last call."""
        events = self.parser.events
        while self.taken < len(events):
            ev = events[self.taken]
            self.taken += 1
            self._one(ev)

    def finish(self) -> None:
        self.parser.flush_pending()
        self.take()
        if self.held is not None:
            held, self.held = self.held, None
            for ev in held:
                self._out(ev)

    # -- one event ------------------------------------------------------------

    def _one(self, ev: Event) -> None:
        if self.leader is None:
            self.leader = ev.pid
            self.known.add(ev.pid)
        if not self.started:
            self._before_start(ev)
            return
        if ev.type == "fork":  # "Process N attached" (not in -o logs, but be safe)
            return
        if ev.pid not in self.known:
            self._new_process(ev.pid, ev.t)
        if ev.type == "syscall" and ev.name in FORK_CALLS and ev.ret is not None and ev.ret > 0:
            self._forked(ev)
            return
        if ev.type == "syscall" and ev.name in ("execve", "execveat") and ev.ret == 0:
            self._emit(self._exec_event(ev))
            if self._reported(ev):
                self._emit(ev)
            return
        if ev.type in ("exit", "killed"):
            self.ended[ev.pid] = ev
            if ev.type == "killed":
                if not ev.info.get("core"):
                    ev.info.pop("core", None)
                if self.killed_by is not None:
                    ev.info.update(by="sctrace", reason=self.killed_by)
        if ev.type == "syscall" and not self._reported(ev):
            return
        self._emit(ev)

    def _before_start(self, ev: Event) -> None:
        """The trampoline's part: nothing of it is reported, but its end or a failed exec is kept."""
        if ev.pid != self.leader:
            return
        if ev.type == "syscall" and ev.name == "execve":
            if ev.ret == 0:
                self.execs += 1
                if self.execs == 2:  # the first is the trampoline's shell
                    self.started = True
                    self._emit(self._exec_event(ev))
                    if self._reported(ev):
                        self._emit(ev)
            elif ev.ret is not None and ev.ret < 0:
                self.exec_error = ev.errno
        elif ev.type in ("exit", "killed"):
            self.ended[ev.pid] = ev

    def _new_process(self, pid: int, t: float) -> None:
        self.known.add(pid)
        forking = {p: v for p, v in self.parser.pending_forks().items() if p != pid}
        if len(forking) == 1 and not self.unresolved:
            parent, (call, text) = next(iter(forking.items()))
            self._emit(self._fork_event(parent, pid, call, text, t))
            return
        self.unresolved.add(pid)
        if self.held is None:
            self.held = []

    def _forked(self, ev: Event) -> None:
        assert ev.ret is not None and ev.name is not None
        child = ev.ret
        fork = self._fork_event(ev.pid, child, ev.name, repr(ev.args), ev.t)
        announce = child not in self.known  # else announced when the child's first line came
        if child in self.unresolved:
            assert self.held is not None
            at = next((i for i, e in enumerate(self.held) if e.pid == child), len(self.held))
            self.held.insert(at, fork)
            self.unresolved.discard(child)
        self.known.add(child)
        if self._reported(ev):
            self._emit(ev)
        if announce:
            self._emit(fork)
        if not self.unresolved and self.held is not None:
            held, self.held = self.held, None
            for e in held:
                self._out(e)

    # -- what is reported --------------------------------------------------------

    def _reported(self, ev: Event) -> bool:
        name = ev.name or ""
        if self.report is not None and name not in self.report:
            return False
        if self.all:
            return True
        if name in syscalls.NETWORK:
            return True
        return name in syscalls.FD_IO and is_socket_endpoint(ev.endpoint)

    @staticmethod
    def _exec_event(ev: Event) -> Event:
        arg = ev.args.get("arg1" if ev.name == "execveat" else "arg0")
        filename = None
        if isinstance(arg, dict) and isinstance(arg.get("text"), str):
            filename = executable_of(unescape(arg["text"]).decode("utf-8", "surrogateescape"))
        return Event("exec", 0, ev.pid, ev.t, info={"filename": filename})

    @staticmethod
    def _fork_event(parent: int, child: int, name: str, flags: str, t: float) -> Event:
        """The fork event the ptrace backend would report; ``flags`` is the text of the call's arguments.

        ptrace names the event by what the kernel did (kernel/fork.c): a clone
        with CLONE_VFORK is a vfork, one whose exit signal is SIGCHLD a fork,
        any other a clone; a thread is a clone with CLONE_THREAD.
        """
        if name in ("clone", "clone3"):
            call = "vfork" if "CLONE_VFORK" in flags else "fork" if "SIGCHLD" in flags else "clone"
        else:
            call = name
        return Event("fork", 0, parent, t, info={"child": child, "call": call, "thread": "CLONE_THREAD" in flags})

    def _emit(self, ev: Event) -> None:
        if self.held is not None:
            self.held.append(ev)
        else:
            self._out(ev)

    def _out(self, ev: Event) -> None:
        if ev.type == "syscall" and ev.ret is None and ev.errno is None and ev.name not in ("exit", "exit_group"):
            ev.info["unfinished"] = True  # the process ended inside the call
        ev.seq = self.seq
        self.seq += 1
        self.sink(ev)


def executable_of(path: str) -> str:
    """The file the kernel runs for an exec of ``path``: for a #! script, its interpreter.

    That is what /proc/PID/exe names, and so what the ptrace backend's exec events say.
    """
    for _ in range(4):  # the kernel follows at most 4 levels of #! (BINPRM_MAX_RECURSION)
        try:
            with open(path, "rb") as f:
                head = f.readline(256)
        except OSError:
            return path
        if not head.startswith(b"#!") or not head[2:].split():
            break
        path = head[2:].split()[0].decode("utf-8", "surrogateescape")
    return os.path.realpath(path)
