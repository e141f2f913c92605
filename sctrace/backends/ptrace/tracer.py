"""The ptrace backend: start a program, follow all it starts, report its socket calls.

The hot loop is one ``waitpid(-1, __WALL)`` per stop and one decision per stop.
A seccomp filter (seccomp.py) makes the kernel stop the tracee only at the calls
in syscalls.STOP_SET; at such a stop the call has not run yet, and the tracer
either lets it run unobserved (PTRACE_CONT: a read of a file) or asks for its
exit (PTRACE_SYSCALL: a read of a socket).  Where seccomp is unavailable every
call stops at entry and exit (PTRACE_SYSCALL), with the same decisions.

Process control (traceme, options, restart, registers) goes through
ptrace_adapter, the only module that knows python-ptrace.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import mmap
import os
import signal
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sctrace.backends.ptrace import adapter as pt
from sctrace.backends.ptrace import seccomp
from sctrace.backends.ptrace.decode import Call, Memory, decode, entry_hook_for
from sctrace.backends.ptrace.fdtable import Prober, Socket, SocketTable
from sctrace.backends.view import OBSERVED_ENTRY, OBSERVED_EXIT, Observer
from sctrace.kernel import netns
from sctrace.kernel.parent_death import die_with_parent, stop_dying_with_parent
from sctrace.kernel.reaper import become_subreaper, reap_orphans
from sctrace.model import syscalls
from sctrace.model.trace import STATE_EVENT, Event
from sctrace.status import STOP_SIGNALS

if TYPE_CHECKING:
    from sctrace.kernel.tcpstates import TcpStates

CLONE_THREAD = 0x10000
SYS_CLONE, SYS_FORK, SYS_VFORK, SYS_CLONE3 = 56, 57, 58, 435

OP_ENTRY, OP_EXIT, OP_SECCOMP = 1, 2, 3
_INFO_HEAD = struct.Struct("<B3xIQQ")
_INFO_CALL = struct.Struct("<Q6Q")  # nr, args (entry and seccomp stops)
_INFO_EXIT = struct.Struct("<qB")  # rval, is_error
_SECCOMP_DATA = struct.Struct("<I")  # ret_data, after nr and args at a seccomp stop (offset 80)

_SYSGOOD_TRAP = signal.SIGTRAP | 0x80
_ERESTART = frozenset({512, 513, 514, 516})


@dataclass
class TraceOptions:
    string_limit: int = 32
    report: frozenset[str] | None = None  # names to report (None: the socket set, or all)
    all_syscalls: bool = False
    use_seccomp: bool = True
    # Tracer and tracees on one CPU: a stop costs 2-3x less, but the program's threads no longer run in
    # parallel.  Off by default: the pin is set on the caller's own thread and stays after the trace, which a
    # library caller does not expect.  `sctrace trace` asks for it (unless --no-pin).
    pin_cpu: bool = False
    cpu: int | None = None  # pin to this CPU (also without pin_cpu); pin_cpu alone takes the first allowed
    netns: bool = False  # run the program in a new network namespace holding only loopback
    states: bool = False  # --states: each TCP call's event carries the kernel's state (tcpstates.py)
    packets: bool = False  # --packets: the program's loopback traffic as "packet" events (packets.py)
    pcap: str | None = None  # --pcap FILE: and/or written to this pcap file


class Interrupted(Exception):
    """sctrace itself was asked to stop (SIGINT, SIGTERM, --timeout)."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class LaunchError(Exception):
    """The program could not be started under ptrace; the message is for people."""


@dataclass
class Pending:
    name: str
    args: tuple[int, ...]
    fd: int | None
    endpoint: str | None
    entry: Any
    report: bool
    t: float
    sock: Socket | None = None  # the socket ``fd`` named at entry


@dataclass
class Task:
    tid: int
    tgid: int
    table: SocketTable
    mem: Memory
    pending: Pending | None = None
    in_syscall: bool = False
    fresh: bool = False  # waits for its first (SIGSTOP) stop
    execed: bool = False
    every_call: bool = False  # it has a seccomp filter of its own: stopped at every call (see _on_event)


@dataclass
class Outcome:
    """How the traced program ended."""

    status: int = 0
    seccomp: bool = False
    notices: list[str] = field(default_factory=list)


class Tracer:
    def __init__(self, argv: list[str], path: str, options: TraceOptions, sink: Callable[[Event], None],
                 observer: Observer | None = None) -> None:
        self.argv = argv
        self.path = path
        self.opts = options
        self.sink = sink
        self.tasks: dict[int, Task] = {}
        self.held: set[int] = set()  # tasks in a group-stop (SIGSTOP, SIGTSTP, ...), kept stopped until SIGCONT
        self.stop: Interrupted | None = None  # a stop asked for by a signal, raised by the loop if lost
        self.parked: set[int] = set()
        self.prober = Prober()
        self.seq = 0
        self.t0 = time.monotonic()
        self.main_pid = 0
        self.outcome = Outcome()
        self.by_sctrace: str | None = None
        self._info = ctypes.create_string_buffer(88)
        self._regs = pt.Registers()
        self.seccomp_mode = False
        self.exec_pipe = -1
        self.observer = observer
        self.netns = False
        self.states: TcpStates | None = None  # only with --states: a None check is all it costs otherwise
        # Called once the program is stopped before its exec, in its namespace (--packets opens its capture).
        self.on_attached: list[Callable[[Tracer], None]] = []

    # -- the program as its peer reads it (sctrace.backends.view.TracedProgram) ---------------

    def socket(self, tid: int, fd: int) -> Socket | None:
        """The socket fd names in thread tid, asked again of the kernel if a call changed it since."""
        task = self.tasks.get(tid)
        sock = task.table.socks.get(fd) if task is not None else None
        if task is not None and sock is not None and sock.stale:
            self.prober.probe(task.table.owner, fd, sock)
        return sock

    def read_memory(self, tid: int, address: int, size: int) -> bytes | None:
        task = self.tasks.get(tid)
        return task.mem.read(address, size) if task is not None else None

    # -- start --------------------------------------------------------------

    def _child(self, wfd: int, program: bytes | None, shared: mmap.mmap, parent: int) -> None:
        """In the forked child: become traceable, install the filter, stop, exec.

        Once the filter is in, every call it traces fails with ENOSYS until the
        parent has set PTRACE_O_TRACESECCOMP, so the filter's fate is told
        through shared memory (no system call), not through the pipe.  Until the
        parent has set PTRACE_O_EXITKILL (after the stop), the child dies with
        the parent by the parent-death signal.
        """
        try:
            die_with_parent(parent)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGALRM, *STOP_SIGNALS):
                signal.signal(sig, signal.SIG_DFL)
            if self.opts.netns:
                shared[4:8] = netns.enter_new().to_bytes(4, "little")
            try:
                pt.traceme()
            except pt.PtraceDenied:
                os.write(wfd, b"P")
                os._exit(127)
            if program is not None:
                err = seccomp.install(program)
                shared[0:4] = (err if err else 0x53).to_bytes(4, "little")  # 0x53: "S", installed
            os.kill(os.getpid(), signal.SIGSTOP)
            stop_dying_with_parent()  # EXITKILL is set now; the program runs as it would untraced
            os.execv(self.path, self.argv)
        except OSError as exc:
            os.write(wfd, f"E{exc.errno}".encode())
        finally:
            os._exit(127)

    def start(self) -> None:
        # With --all every call stops anyway: a filter would save nothing.
        if self.opts.use_seccomp and not self.opts.all_syscalls:
            program: bytes | None = seccomp.build_filter(syscalls.STOP_SET.values())
        else:
            program = None
        become_subreaper()
        if self.opts.pin_cpu or self.opts.cpu is not None:
            _pin_to_one_cpu(self.opts.cpu)  # before fork: the program inherits it
        if self.opts.netns:
            # For an ordinary user, the user namespace is made here, so that this process holds the
            # capabilities (to enter the program's network namespace, read its states, capture its
            # packets); the child makes the network namespace (or inherits the reason it cannot).
            netns.prepare()
        rfd, wfd = os.pipe2(os.O_CLOEXEC)
        shared = mmap.mmap(-1, 8)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            self._child(wfd, program, shared, parent)
        os.close(wfd)
        self.main_pid = pid
        try:
            _, status = os.waitpid(pid, pt.WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                raise LaunchError(self._launch_failure(os.read(rfd, 64)))
            result = int.from_bytes(shared[0:4], "little")
            if program is not None and result != 0x53:
                self.outcome.notices.append(
                    f"seccomp filter refused ({os.strerror(result)}): "
                    "every system call will stop, which is slower"
                )
            self.seccomp_mode = result == 0x53
            if self.opts.netns:
                err = int.from_bytes(shared[4:8], "little")
                self.netns = err == 0
                if err:
                    self.outcome.notices.append(
                        f"no network namespace ({os.strerror(err)}): the program uses the host's loopback"
                    )
            options = (
                pt.PTRACE_O_TRACESYSGOOD | pt.PTRACE_O_EXITKILL | pt.PTRACE_O_TRACEFORK
                | pt.PTRACE_O_TRACEVFORK | pt.PTRACE_O_TRACECLONE | pt.PTRACE_O_TRACEEXEC
            )
            if self.seccomp_mode:
                options |= pt.PTRACE_O_TRACESECCOMP
            pt.set_options(pid, options)
        except BaseException:
            _kill_and_reap(pid)
            os.close(rfd)
            raise
        finally:
            shared.close()
        self.exec_pipe = rfd
        self.outcome.seccomp = self.seccomp_mode
        self.tasks[pid] = Task(pid, pid, SocketTable(pid), Memory(pid))
        self.t0 = time.monotonic()
        if self.opts.states:
            self._start_states(pid)
        for hook in self.on_attached:
            hook(self)
        if self.observer is not None:
            self.observer.attached(self)
        pt.resume(pid, self._restart_request(self.tasks[pid]))

    @staticmethod
    def _launch_failure(note: bytes) -> str:
        if note == b"P":
            return "ptrace_denied"
        if note.startswith(b"E"):
            return f"exec:{int(note[1:])}"
        return "unknown"

    # -- the loop -----------------------------------------------------------

    def _restart_request(self, task: Task) -> int:
        if not self.seccomp_mode or task.pending is not None or task.every_call:
            return pt.PTRACE_SYSCALL
        return pt.PTRACE_CONT

    def run(self) -> Outcome:
        """Trace until every task has ended; returns the program's outcome."""
        self.start()
        try:
            self._loop()
        except BaseException as exc:
            if isinstance(exc, Interrupted):
                self.by_sctrace = exc.reason
            else:
                self.by_sctrace = "error"
            self._kill_all()
            raise
        finally:
            if self.observer is not None:
                self.observer.detached()
            if self.states is not None:
                self._finish_states()
            reap_orphans()  # traced processes that died before their parent and were handed to us
            self._close()
        return self.outcome

    def _loop(self) -> None:
        wait = os.waitpid
        wall = pt.WALL
        tasks = self.tasks
        held = self.held
        while tasks:
            if self.stop is not None:  # a signal's Interrupted that an ignoring callback swallowed
                raise self.stop
            try:
                if held:  # a task stays stopped until a SIGCONT comes, which only /proc tells
                    pid, status = wait(-1, wall | os.WNOHANG)
                    if pid == 0:
                        self._release_continued()
                        time.sleep(HELD_POLL)
                        continue
                else:
                    pid, status = wait(-1, wall)
            except ChildProcessError:
                break
            if status & 0x7F == 0x7F:  # stopped
                sig = (status >> 8) & 0xFF
                task = tasks.get(pid)
                if task is None:
                    self.parked.add(pid)  # a new child seen before its parent's event
                    continue
                try:
                    if sig == _SYSGOOD_TRAP:
                        self._on_syscall_stop(task)
                    elif sig == signal.SIGTRAP and status >> 16:
                        self._on_event(task, status >> 16)
                    else:
                        self._on_signal(task, sig)
                except pt.TraceeGone:
                    continue
            else:
                self._on_exit(pid, status)

    def _on_syscall_stop(self, task: Task) -> None:
        """A PTRACE_SYSCALL stop: the exit of a call we asked for, or (no seccomp) any entry."""
        info = self._info
        pt.syscall_info(task.tid, info)
        op = info.raw[0]
        if op == OP_EXIT:
            task.in_syscall = False
            if task.pending is not None:
                rval = _INFO_EXIT.unpack_from(info, 24)[0]
                self._finish(task, rval)
        elif op == OP_ENTRY:
            task.in_syscall = True
            self._on_entry(task, info)
            return
        pt.resume(task.tid, self._restart_request(task))

    def _on_entry(self, task: Task, info: Any) -> None:
        """The tracee is about to make a call: decide whether we want its exit."""
        arch = _INFO_HEAD.unpack_from(info, 0)[1]
        nr, *args = _INFO_CALL.unpack_from(info, 24)
        if arch != syscalls.AUDIT_ARCH_X86_64 or nr >= syscalls.X32_SYSCALL_BIT:
            name = None
        elif self.opts.all_syscalls:
            name = syscalls.NAMES.get(nr) or pt.syscall_name(nr)
        else:
            name = syscalls.NAMES.get(nr)
        if name is not None and task.execed:
            task.pending = self._want(task, name, tuple(args))
        pt.resume(task.tid, self._restart_request(task))

    def _want(self, task: Task, name: str, args: tuple[int, ...]) -> Pending | None:
        if self.observer is not None and name in OBSERVED_ENTRY:
            self.observer.on_entry(task.tid, name, args)
        fd = args[0] & 0xFFFFFFFF if name in syscalls.FIRST_ARG_FD else None
        sock = task.table.socks.get(fd) if fd is not None else None
        if fd is not None and name in syscalls.FD_IO:
            if sock is None:  # a descriptor of unknown origin: a socket made by a way not followed?
                sock = task.table.look_up(fd, self.prober)
            if name == "close":
                task.table.forget_kind(fd)
        elif name in ("dup2", "dup3"):
            task.table.forget_kind(args[1] & 0xFFFFFFFF)
        elif name == "close_range":
            task.table.forget_kind(args[0] & 0xFFFFFFFF, args[1] & 0xFFFFFFFF)
        report = self.opts.all_syscalls or name in syscalls.NETWORK or (
            name in syscalls.FD_IO and sock is not None
        )
        if not report:
            if name not in syscalls.FOLLOWED:
                return None
            if not self._changes_table(task, name, args, sock is not None):
                return None
        elif self.opts.report is not None and name not in self.opts.report:
            report = False
        endpoint = None
        if sock is not None:
            if sock.stale:
                self.prober.probe(task.table.owner, fd or 0, sock)
            endpoint = sock.endpoint
        hook = entry_hook_for(name)
        entry = None
        if hook is not None:
            entry = hook(Call(name, args, task.mem, self.opts.string_limit))
        signed_fd = None if fd is None else (fd - (1 << 32) if fd & 0x80000000 else fd)
        return Pending(name, args, signed_fd, endpoint, entry, report, time.monotonic() - self.t0, sock)

    @staticmethod
    def _changes_table(task: Task, name: str, args: tuple[int, ...], is_socket: bool) -> bool:
        """Whether a dup/fcntl/close_range/unshare can change which descriptors are sockets, or the table."""
        socks = task.table.socks
        if name in ("dup2", "dup3"):
            return is_socket or (args[1] & 0xFFFFFFFF) in socks
        if name == "dup":
            return is_socket
        if name == "fcntl":
            return is_socket and args[1] in (syscalls.F_DUPFD, syscalls.F_DUPFD_CLOEXEC)
        if name == "close_range":
            return bool(args[2] & syscalls.CLOSE_RANGE_UNSHARE) or not args[2] & syscalls.CLOSE_RANGE_CLOEXEC \
                and task.table.any_in_range(args[0] & 0xFFFFFFFF, args[1] & 0xFFFFFFFF)
        if name == "unshare":
            return bool(args[0] & syscalls.CLONE_FILES)
        if name == "prctl":
            return args[0] == syscalls.PR_SET_SECCOMP and args[1] == syscalls.SECCOMP_MODE_FILTER
        if name == "seccomp":
            return args[0] == syscalls.SECCOMP_SET_MODE_FILTER
        return False

    def _finish(self, task: Task, rval: int) -> None:
        """The call returned ``rval``: decode it, update the table, report it."""
        p = task.pending
        task.pending = None
        assert p is not None
        name = p.name
        call = Call(name, p.args, task.mem, self.opts.string_limit, rval, p.entry)
        decoded = decode(call) if p.report else None
        self._apply(task, call, p.fd, p.sock)
        if self.observer is not None and name in OBSERVED_EXIT:
            self.observer.on_exit(task.tid, name, rval, p.fd)
        if not p.report:
            return
        state = self._call_state(task, p, rval) if self.states is not None else None
        ev = Event("syscall", self.seq, task.tid, p.t, name, decoded or {}, fd=p.fd, endpoint=p.endpoint)
        if state is not None:
            ev.info["tcp_state"] = state
        self.seq += 1
        if rval < 0 and rval > -4096:
            ev.ret = -1 if -rval not in _ERESTART else None
            ev.errno = _xlat().errno_name(-rval)
        else:
            ev.ret = rval
        if name in syscalls.RETURNS_SOCKET and rval >= 0:
            sock = task.table.socks.get(rval)
            ev.ret_endpoint = sock.endpoint if sock is not None else None
        if call.new_fds and name not in syscalls.RETURNS_SOCKET:
            ev.info["fd_endpoints"] = {
                str(fd): s.endpoint for fd in call.new_fds if (s := task.table.socks.get(fd)) is not None
            }
        self.sink(ev)

    # -- --states -----------------------------------------------------------

    def _start_states(self, pid: int) -> None:
        from sctrace.kernel.tcpstates import TcpStates

        self.states = TcpStates()
        notice = self.states.attach(pid)
        if notice is not None:
            self.outcome.notices.append(notice)
            self.states = None

    def _call_state(self, task: Task, p: Pending, rval: int) -> str | None:
        """The TCP state after the call (the followed closed sockets' changes are emitted first)."""
        assert self.states is not None
        returned = task.table.socks.get(rval) if p.name in syscalls.RETURNS_SOCKET and rval >= 0 else None
        sock = p.sock
        if sock is not None and sock.stale and p.fd is not None and p.name != "close" and self.states.is_tcp(sock):
            # A connect or bind changed its ports: a look of our own (the table's entry stays stale,
            # to be asked again when the next call begins, as without --states).
            sock = self.prober.probe(task.table.owner, p.fd) or sock
        changes, state = self.states.at_call(task.tgid, p.name, sock, returned, 0 <= rval or rval <= -4096)
        for c in changes:
            self._emit(STATE_EVENT, c.pid, endpoint=c.endpoint, tcp_state=c.state)
        return state

    def _finish_states(self) -> None:
        """After the peer is done, before the namespace can go: the closed sockets' last states."""
        assert self.states is not None
        try:
            for c in self.states.finish():
                self._emit(STATE_EVENT, c.pid, endpoint=c.endpoint, tcp_state=c.state)
            self.outcome.notices.extend(self.states.notices())
        finally:
            self.states.close()

    def _apply(self, task: Task, call: Call, fd: int | None, sock: Socket | None) -> None:
        """What the call did to the descriptor table.

        Threads share the table and run while we look at one of them: between
        a close's entry and our seeing its exit, another thread may already
        have been given the same number for a new socket.  So a close drops the
        entry only if it still holds the socket the close was about.
        """
        name, ret, table = call.name, call.ret, task.table
        if ret < 0:
            if fd is not None and name in syscalls.CHANGES_ENDPOINT and ret == -_errno.EINPROGRESS:
                self._mark_stale(table, fd)
            return
        if name in syscalls.RETURNS_SOCKET or name == "socketpair" or call.new_fds:
            for new in [ret] if name in syscalls.RETURNS_SOCKET else call.new_fds:
                sock = self.prober.probe(task.table.owner, new)
                if sock is None:
                    table.drop(new)
                else:
                    table.add(new, sock)
        elif name == "close":
            if fd is not None and table.socks.get(fd) is sock:
                table.drop(fd)
        elif name in syscalls.CHANGES_ENDPOINT:
            if fd is not None:
                self._mark_stale(table, fd, name)
                if name == "bind" and (sock := table.socks.get(fd)) is not None:
                    sock.bound = True
        elif name == "dup" or name == "fcntl":
            if fd is not None:
                table.duplicate(fd, ret)
        elif name in ("dup2", "dup3"):
            if fd is not None and fd != call.args[1]:
                table.duplicate(fd, call.args[1] & 0xFFFFFFFF)
        elif name == "close_range":
            if call.args[2] & syscalls.CLOSE_RANGE_UNSHARE:  # the task's own table first, then the closing
                table = task.table = table.copy(task.tid)
            if not call.args[2] & syscalls.CLOSE_RANGE_CLOEXEC:
                table.drop_range(call.args[0] & 0xFFFFFFFF, call.args[1] & 0xFFFFFFFF)
        elif name == "unshare":
            if call.args[0] & syscalls.CLONE_FILES:  # this thread's descriptors are its own from now on
                task.table = table.copy(task.tid)
        elif name in syscalls.SECCOMP_CALLS:
            # A filter of the program's own: from now on stop at every call's entry, before the filters run,
            # so that a call the filter refuses (an EPERM socket()) is seen too.  Its threads get it too with
            # SECCOMP_FILTER_FLAG_TSYNC; its children always do.
            synced = name == "seccomp" and call.args[1] & syscalls.SECCOMP_FILTER_FLAG_TSYNC
            for other in self.tasks.values() if synced else [task]:
                if other.tgid == task.tgid:
                    other.every_call = True

    @staticmethod
    def _mark_stale(table: SocketTable, fd: int, name: str = "") -> None:
        sock = table.socks.get(fd)
        if sock is None:
            return
        if name in syscalls.AUTOBINDS and not (isinstance(sock.local, tuple) and sock.local[1] == 0):
            return  # only an unbound INET socket is bound by a send; nothing else changes
        sock.stale = True

    def _on_event(self, task: Task, event: int) -> None:
        if event == pt.PTRACE_EVENT_SECCOMP:
            info = self._info
            pt.syscall_info(task.tid, info)
            if _SECCOMP_DATA.unpack_from(info, 80)[0] != seccomp.OUR_DATA:
                # The program's own filter asked for a tracer.  Untraced, none would answer and the call
                # would fail with ENOSYS: so it does here (its entry stop came first, in every-call mode).
                self._skip_call(task)
            elif not task.every_call:  # in every-call mode its entry stop came first and did this
                self._on_entry(task, info)
                return
            pt.resume(task.tid, self._restart_request(task))
            return
        if event in (pt.PTRACE_EVENT_FORK, pt.PTRACE_EVENT_VFORK, pt.PTRACE_EVENT_CLONE):
            self._on_new_task(task, event)
        elif event == pt.PTRACE_EVENT_EXEC:
            self._on_exec(task)
        pt.resume(task.tid, self._restart_request(task))

    def _skip_call(self, task: Task) -> None:
        """The call about to run is not made: it returns -ENOSYS, as the kernel answers a skipped call."""
        regs = self._regs
        pt.get_regs(task.tid, regs)
        regs.orig_rax = (1 << 64) - 1  # -1: no call
        regs.rax = (1 << 64) - _errno.ENOSYS
        pt.set_regs(task.tid, regs)

    def _clone_flags(self, task: Task) -> int:
        regs = self._regs
        pt.get_regs(task.tid, regs)
        nr = regs.orig_rax
        if nr == SYS_CLONE:
            return int(regs.rdi)
        if nr == SYS_CLONE3:
            raw = task.mem.read(int(regs.rdi), 8)
            return int.from_bytes(raw, "little") if raw and len(raw) == 8 else 0
        return 0

    def _on_new_task(self, parent: Task, event: int) -> None:
        child = pt.event_message(parent.tid)
        flags = self._clone_flags(parent)
        thread = bool(flags & CLONE_THREAD)
        table = parent.table if flags & syscalls.CLONE_FILES else parent.table.copy(child)
        tgid = parent.tgid if thread else child
        mem = parent.mem if thread else Memory(child)
        task = Task(child, tgid, table, mem, execed=parent.execed, every_call=parent.every_call)
        self.tasks[child] = task
        kind = {pt.PTRACE_EVENT_FORK: "fork", pt.PTRACE_EVENT_VFORK: "vfork"}.get(event, "clone")
        self._emit("fork", parent.tid, child=child, call=kind, thread=thread)
        if child in self.parked:
            self.parked.discard(child)
            pt.resume(child, self._restart_request(task))
        else:
            task.fresh = True

    def _on_exec(self, task: Task) -> None:
        former = pt.event_message(task.tid)
        if former != task.tid:
            old = self.tasks.pop(former, None)
            if old is not None and old.tid != task.tid:
                old.pending = None
        task.execed = True
        task.pending = None
        task.table = task.table.copy(task.tgid)  # the thread that called exec is the process now
        task.table.resync(task.tgid, self.prober)
        task.mem.close()
        try:
            exe = os.readlink(f"/proc/{task.tid}/exe")
        except OSError:
            exe = None
        self._emit("exec", task.tid, filename=exe)

    def _on_signal(self, task: Task, sig: int) -> None:
        if task.fresh and sig == signal.SIGSTOP:
            task.fresh = False
            pt.resume(task.tid, self._restart_request(task))
            return
        signo = pt.stop_signal_info(task.tid)
        if signo is None:  # group-stop: the task stays stopped, as it would untraced, until a SIGCONT
            self.held.add(task.tid)
            return
        self._emit("signal", task.tid, signal=_xlat().signal_name(sig))
        pt.resume(task.tid, self._restart_request(task), sig)

    def _release_continued(self) -> None:
        """Let go the stopped tasks whose process was sent SIGCONT.

        Attached with TRACEME, a tracer that does not restart a task in a group-stop keeps it stopped, but
        is not told of the SIGCONT that would end the stop; the signal waits, pending, in the task's
        process (ShdPnd in /proc/TID/status).  Restarted, the task takes it, and the tracer sees it as a
        signal like any other.  (strace attaches with PTRACE_SEIZE and waits in PTRACE_LISTEN instead.)
        """
        for tid in list(self.held):
            if tid not in self.tasks:
                self.held.discard(tid)
            elif _sigcont_pending(tid):
                self.held.discard(tid)
                pt.resume(tid, self._restart_request(self.tasks[tid]))

    def _on_exit(self, pid: int, status: int) -> None:
        self.held.discard(pid)
        task = self.tasks.pop(pid, None)
        if task is None:
            self.parked.discard(pid)
            return
        if task.pending is not None and task.pending.report:
            p = task.pending
            ev = Event("syscall", self.seq, pid, p.t, p.name, {}, None, None, p.fd, p.endpoint)
            ev.args = decode(Call(p.name, p.args, task.mem, self.opts.string_limit, -1, p.entry))
            ev.info["unfinished"] = True
            self.seq += 1
            self.sink(ev)
        if pid == self.main_pid and not task.execed and self.exec_pipe >= 0:
            note = os.read(self.exec_pipe, 64)  # the writer has exited: this cannot block
            if note.startswith(b"E"):
                raise LaunchError(self._launch_failure(note))
        if os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
            self._emit("exit", pid, code=code)
            if pid == self.main_pid:
                self.outcome.status = code
        else:
            sig = os.WTERMSIG(status)
            extra: dict[str, Any] = {"signal": _xlat().signal_name(sig)}
            if os.WCOREDUMP(status):
                extra["core"] = True
            if self.by_sctrace is not None:
                extra["by"] = "sctrace"
                extra["reason"] = self.by_sctrace
            self._emit("killed", pid, **extra)
            if pid == self.main_pid:
                self.outcome.status = 128 + sig
        if pid == task.tgid:
            task.mem.close()
            self.prober.forget(pid)

    def _emit(self, kind: str, pid: int, **info: Any) -> None:
        ev = Event(kind, self.seq, pid, time.monotonic() - self.t0, info=info)
        self.seq += 1
        self.sink(ev)

    # -- the end ------------------------------------------------------------

    def _kill_all(self) -> None:
        """Kill every task and reap it, recording each end in the trace."""
        for tid in list(self.tasks) + list(self.parked):
            try:
                os.kill(tid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while (self.tasks or self.parked) and time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(-1, pt.WALL)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if status & 0x7F == 0x7F:
                continue  # a stop on its way to death
            self._on_exit(pid, status)

    def _close(self) -> None:
        if self.exec_pipe >= 0:
            os.close(self.exec_pipe)
            self.exec_pipe = -1
        for task in self.tasks.values():
            task.mem.close()
        self.prober.close()


def _pin_to_one_cpu(cpu: int | None) -> None:
    """Run sctrace and everything it traces on one CPU.

    Each stop hands the CPU from tracee to tracer and back; on one CPU that
    hand-over costs 2.4-3.5 us, across CPUs 7-10 us, and the workload of
    scripts/bench_trace.py runs about twice as fast traced this way.  The price:
    a program's threads no longer run in parallel (--no-pin lifts it).
    """
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) > 1:
            os.sched_setaffinity(0, {allowed[(cpu or 0) % len(allowed)]})
    except OSError:
        pass


HELD_POLL = 0.02  # seconds between looks at /proc while a task is kept stopped
_SIGCONT_BIT = 1 << (signal.SIGCONT - 1)


def _sigcont_pending(tid: int) -> bool:
    """Whether a SIGCONT waits for the task (its own pending set, or its process's)."""
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith((b"SigPnd:", b"ShdPnd:")) and int(line.split()[1], 16) & _SIGCONT_BIT:
                    return True
    except OSError:
        return True  # gone: restarting it costs nothing and ends its holding
    return False


def _xlat() -> Any:
    """The constant tables, imported when first needed (they cost start-up time)."""
    from sctrace.model import xlat

    return xlat


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, pt.WALL)
    except OSError:
        pass
