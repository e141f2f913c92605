"""Running the sides of a comparison (or the columns of a matrix), each program with its peer.

Each program runs in a worker process of its own, driven by
peer.driver.Driver, in its own network namespace where the user may make one
(root, or an ordinary user where user namespaces are allowed: kernel.netns).
Then they run in parallel, each with its tracer pinned to its own CPU where
there are two.  Without namespaces they share the host's loopback: they run
one after the other, and a port in use there is an error, not a difference.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sctrace.kernel.parent_death import fork_worker
from sctrace.model.trace import Event, Trace
from sctrace.peer.driver import DriveOptions, Driver, Exchange
from sctrace.status import STOP_SIGNALS, ExitStatus, SctraceError, raise_stopped


@dataclass
class SideRun:
    trace: Trace
    status: int
    exchange: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    stderr: bytes = b""  # what the program wrote to stderr, kept when it failed


def _keep_output_apart(out: str) -> None:
    """The program's own output would tangle with the comparison: it goes to files beside the trace."""
    for fd, suffix in ((1, ".stdout"), (2, ".stderr")):
        target = os.open(out + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)


def _trace_driven(program: str, driver: Driver | None, netns: bool, cpu: int, timeout: float, out: str, *,
                  states: bool = False, packets: bool = False, pcap: str | None = None,
                  backend: str = "ptrace", args: list[str] | None = None) -> None:
    """Trace program (driven by driver); write its trace (out.jsonl) and what happened (out.json).

    states, packets, pcap: as trace --states/--packets/--pcap (packets are captured by one tracer per
    network namespace: the side's, never its peer's, which shares the namespace and would see them again).
    """
    from sctrace.backends.ptrace.tracer import TraceOptions
    from sctrace.backends.run import trace_program

    options = TraceOptions(string_limit=4096, netns=netns, cpu=cpu, states=states, packets=packets, pcap=pcap)
    result = trace_program(program, list(args or []), options=options, observer=driver, timeout=timeout,
                           backend=backend)
    result.trace.save(out + ".jsonl")
    ex = driver.exchange if driver is not None else Exchange(role="client")
    report = {
        "status": result.status,
        "notices": result.notices,
        "started": result.t0,
        "exchange": {"role": ex.role, "stopped": ex.stopped, "error": ex.error,
                     "sent": ex.sent.decode("latin-1"), "received": ex.received.decode("latin-1")},
    }
    Path(out + ".json").write_text(json.dumps(report))


def _run_side(program: str, drive: DriveOptions, netns: bool, cpu: int, out: str, pcap: str | None,
              args: list[str]) -> int:
    """In a worker: trace one program (with args) and its peer; write the trace and what happened."""
    _keep_output_apart(out)
    if drive.client is not None or drive.server is not None:
        return _run_side_with_peer(program, drive, netns, cpu, out, pcap, args)
    _trace_driven(program, Driver(drive), netns, cpu, drive.timeout * 3, out, states=drive.states,
                  packets=drive.packets, pcap=pcap, backend=drive.backend, args=args)
    return 0


def _run_side_with_peer(program: str, drive: DriveOptions, netns: bool, cpu: int, out: str, pcap: str | None,
                        args: list[str]) -> int:
    """In a worker: trace one program and the explicit peer program (--client or --server), each in a lane.

    Both run in one network namespace, made here for the two; the peer is traced in a process of its own
    (forked before any tracing, so that it is no thread's child), started when the order requires: a
    --client once the program listens and waits, a --server before the program starts.  Pipes carry the
    order between the two: to_peer ("go" as a byte, "the other side is done" as its end) and from_peer
    ("listening" as a byte, "finished" as its end).
    """
    from sctrace.kernel import netns as ns

    if netns and ns.enter_new() != 0:
        raise SctraceError("could not make a network namespace for the program and its peer", ExitStatus.INTERNAL)
    peer = drive.client if drive.client is not None else drive.server
    assert peer is not None
    to_peer_r, to_peer_w = os.pipe()
    from_peer_r, from_peer_w = os.pipe()

    def peer_work() -> int:
        os.close(to_peer_w)
        os.close(from_peer_r)
        _peer_worker(peer, drive, to_peer_r, from_peer_w, cpu, out + ".peer")
        return 0

    pid = fork_worker(peer_work, _error_file(out + ".peer.error"))  # this worker killed: its peer goes too
    os.close(to_peer_r)
    os.close(from_peer_w)
    try:
        if drive.server is not None:
            # The --server program first: this program starts once it listens and waits (or has ended).
            os.write(to_peer_w, b"g")
            ready = _read_byte(from_peer_r, drive.timeout * 3)
            if ready != b"r":
                how = "ended without listening" if ready == b"" and not _is_open(from_peer_r) else \
                    f"did not listen within {drive.timeout * 3:g} s"
                raise SctraceError(f"the --server program {peer} {how}; give a program that listens",
                                   ExitStatus.USAGE)
            _trace_driven(program, Driver(drive), False, cpu, drive.timeout * 3, out, states=drive.states,
                          packets=drive.packets, pcap=pcap, backend=drive.backend, args=args)
        else:
            def run_client() -> None:
                os.write(to_peer_w, b"g")
                _read_byte(from_peer_r, None)  # the end: the --client program has finished

            _trace_driven(program, Driver(drive, run_client=run_client), False, cpu, drive.timeout * 3, out,
                          states=drive.states, packets=drive.packets, pcap=pcap, backend=drive.backend, args=args)
    finally:
        _finish_peer(pid, to_peer_w, from_peer_r, out)
    return 0


def _is_open(fd: int) -> bool:
    """Whether the other end of a pipe may still write (reading would not see its end at once)."""
    return not select.select([fd], [], [], 0)[0]


def _read_byte(fd: int, timeout: float | None) -> bytes:
    """One byte from fd, b"" at its end or when timeout seconds pass first."""
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1) if ready else b""


def _finish_peer(pid: int, to_peer_w: int, from_peer_r: int, out: str) -> None:
    """Tell the peer the other side is done, wait until it has written its trace, and reap it."""
    try:
        os.close(to_peer_w)
    except OSError:
        pass
    else:
        while _read_byte(from_peer_r, None):
            pass
        os.close(from_peer_r)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # the tracer's wait for any child took it
        pass


def _peer_worker(peer: str, drive: DriveOptions, to_peer: int, from_peer: int, cpu: int, out: str) -> None:
    """In the peer's own process: wait for "go", trace the peer program, tell what the order needs."""
    _keep_output_apart(out)
    if _read_byte(to_peer, None) != b"g":
        return  # the side ended before the peer was needed
    own = DriveOptions(drive.send, drive.reply, drive.timeout, states=drive.states, backend=drive.backend)
    if drive.server is not None:
        def ready() -> None:
            os.write(from_peer, b"r")

        def other_side_done() -> None:
            _read_byte(to_peer, None)

        _trace_driven(peer, Driver(own, serve=(ready, other_side_done)), False, cpu, drive.timeout * 3, out,
                      states=drive.states, backend=drive.backend)
    else:
        _trace_driven(peer, None, False, cpu, drive.timeout * 3, out, states=drive.states, backend=drive.backend)


def run_sides(programs: list[str], drive: DriveOptions, netns: bool,
              args: list[list[str]] | None = None) -> list[SideRun]:
    """Trace each program (with its args, if given) in its own worker, all at once; errors become SctraceError."""
    from sctrace.launch.runners import resolve

    argv = args if args is not None else [[] for _ in programs]
    for program, its_args in zip(programs, argv, strict=True):
        resolve(program, its_args)  # bad input is reported before anything runs
    for peer in (drive.client, drive.server):
        if peer is not None:
            resolve(peer, [])
    if drive.client is not None and drive.server is not None:
        raise SctraceError("give --client or --server, not both: a side is a server or a client", ExitStatus.USAGE)
    pcaps: list[str | None] = [None] * len(programs)
    if drive.pcap is not None:
        from sctrace.kernel.pcap import side_path

        names = ["left", "right"] if len(programs) == 2 else [f"side{i + 1}" for i in range(len(programs))]
        pcaps = [side_path(drive.pcap, name) for name in names]
    _remove_left_behind()
    # Without namespaces the sides share the host's loopback, where two servers of one fixed port would
    # collide: one side at a time.
    try:
        return _run_sides(programs, drive, netns, argv, pcaps, one_at_a_time=not netns)
    except _SharedPath as shared:
        # Both sides bound one filesystem UNIX socket path, which namespaces do not separate (the file
        # system is the user's): run again, one side after the other, as a user would run them by hand.
        # A private directory per side would change the paths the programs asked for, and so the trace.
        for path in shared.made:  # the sockets the first try's binds made, left by programs it stopped
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
        runs = _run_sides(programs, drive, netns, argv, pcaps, one_at_a_time=True)
        for run in runs:
            run.notices.append(f"the sides both bind the UNIX socket {shared.path}, so they ran one after the other")
        return runs


class _SharedPath(Exception):
    """The sides, run at once, collided on one filesystem UNIX socket path."""

    def __init__(self, path: str, made: set[str]) -> None:
        super().__init__(path)
        self.path = path
        self.made = made  # every path the sides' binds made: they did not exist before the run


def _unix_paths(trace: Trace) -> tuple[set[str], set[str]]:
    """The filesystem UNIX socket paths a trace's binds took, and those its binds found in use."""
    took: set[str] = set()
    in_use: set[str] = set()
    for ev in trace.events:
        addr = ev.args.get("addr") if ev.type == "syscall" and ev.name == "bind" else None
        if isinstance(addr, dict) and addr.get("family") == "AF_UNIX" and addr.get("path") \
                and not addr.get("abstract"):  # an abstract name belongs to the network namespace
            if ev.ret == 0:
                took.add(str(addr["path"]))
            elif ev.errno == "EADDRINUSE":
                in_use.add(str(addr["path"]))
    return took, in_use


def _no_shared_path(outs: list[str]) -> None:
    """_SharedPath when one side's bind found in use a UNIX socket path that another side's bind took."""
    seen = [_unix_paths(Trace.load(out + ".jsonl")) if os.path.exists(out + ".jsonl") else (set(), set())
            for out in outs]
    for i, (_, in_use) in enumerate(seen):
        for j, (took, _) in enumerate(seen):
            if i != j and in_use & took:
                raise _SharedPath(sorted(in_use & took)[0], set().union(*(t for t, _ in seen)))


def _run_sides(programs: list[str], drive: DriveOptions, netns: bool, argv: list[list[str]],
               pcaps: list[str | None], one_at_a_time: bool) -> list[SideRun]:
    tmp, in_use = _held_directory()
    workers: dict[int, str] = {}
    previous = _stop_with_an_exception()
    try:
        for i, program in enumerate(programs):
            out = os.path.join(tmp, f"side{i}")
            # sctrace killed, even by SIGKILL: the worker goes too, and its tracer's programs with it (EXITKILL).
            pid = fork_worker(partial(_run_side, program, drive, netns, i, out, pcaps[i], argv[i]),
                              _error_file(out + ".error"))
            workers[pid] = out
            if one_at_a_time:
                _reap(pid)
        for pid in list(workers):
            _reap(pid)
        if not one_at_a_time and len(programs) > 1:
            _no_shared_path([os.path.join(tmp, f"side{i}") for i in range(len(programs))])
        runs = []
        peer = drive.client if drive.client is not None else drive.server
        for i, program in enumerate(programs):
            out = os.path.join(tmp, f"side{i}")
            if not netns:  # first: a collision on the shared loopback explains the errors that follow from it
                for who, path in ((program, out + ".jsonl"), (peer, out + ".peer.jsonl")):
                    if who is not None and os.path.exists(path):
                        _no_outside_collision(who, Trace.load(path))
            if os.path.exists(out + ".error"):
                err = json.loads(Path(out + ".error").read_text())
                raise SctraceError(f"{program}: {err['message']}", err["status"])
            report = json.loads(Path(out + ".json").read_text())
            if report["exchange"]["error"]:
                raise SctraceError(f"{program}: {report['exchange']['error']}", ExitStatus.USAGE)
            run = SideRun(Trace.load(out + ".jsonl"), report["status"], report["exchange"], report["notices"])
            if run.status != 0 and not run.exchange.get("stopped"):
                run.stderr = Path(out + ".stderr").read_bytes()
            if os.path.exists(out + ".peer.error"):
                err = json.loads(Path(out + ".peer.error").read_text())
                raise SctraceError(f"{peer}: {err['message']}", err["status"])
            if peer is not None and os.path.exists(out + ".peer.json"):
                peer_report = json.loads(Path(out + ".peer.json").read_text())
                peer_trace = Trace.load(out + ".peer.jsonl")
                merge_peer(run.trace, peer_trace, peer_report["started"] - report["started"],
                           exit_info(None, peer_trace) or {"code": peer_report["status"]})
                run.notices.extend(f"{peer}: {n}" for n in peer_report["notices"])
            runs.append(run)
        return runs
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(in_use)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop_with_an_exception() -> dict[int, Any]:
    """SIGTERM and SIGHUP raise Stopped (as SIGINT raises KeyboardInterrupt), so that the clean-up runs.

    The handlers they had are returned, to be put back.  Outside the main thread nothing changes.
    """
    previous: dict[int, Any] = {}
    try:
        for sig in STOP_SIGNALS:
            if sig != signal.SIGINT:
                previous[sig] = signal.signal(sig, raise_stopped)
    except ValueError:  # not the main thread
        pass
    return previous


# The workers write their traces into a directory of this name.  Each run holds a lock on its own from the
# moment it has that name (flock, which the kernel drops when the last process holding it dies, even by
# SIGKILL), so a directory that nobody holds was left by a run that was killed, and the next run removes it.
TEMPORARY_PREFIX = "sctrace-compare-"
_STAGING_PREFIX = "." + TEMPORARY_PREFIX  # made here, locked, then renamed: never seen unlocked
_STAGING_AGE = 60.0  # seconds after which a staging directory is one a run was killed in the midst of making


def _held_directory() -> tuple[str, int]:
    """A new private directory, and a descriptor holding its lock for this run and its workers.

    The descriptor is close-on-exec: the traced programs do not hold the lock.
    """
    staging = tempfile.mkdtemp(prefix=_STAGING_PREFIX)
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        while True:
            path = os.path.join(os.path.dirname(staging), TEMPORARY_PREFIX + os.urandom(6).hex())
            if not os.path.lexists(path):
                os.rename(staging, path)
                return path, fd
    except BaseException:
        os.close(fd)
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_left_behind() -> None:
    """Remove the directories of earlier runs that were killed before they could remove their own."""
    parent = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(parent) if n.startswith((TEMPORARY_PREFIX, _STAGING_PREFIX))]
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                continue
            if name.startswith(_STAGING_PREFIX) and time.time() - st.st_mtime < _STAGING_AGE:
                continue  # a run may be between making it and renaming it
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # a live run holds it
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


def _error_file(path: str) -> Callable[[BaseException], int]:
    """A worker's report of what went wrong, for the parent to say in one line: JSON in path; its status."""

    def report(exc: BaseException) -> int:
        if isinstance(exc, SctraceError):
            message, status = exc.message, exc.status
        else:
            message, status = f"{type(exc).__name__}: {exc}", int(ExitStatus.INTERNAL)
        Path(path).write_text(json.dumps({"message": message, "status": status}))
        return status

    return report


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped already
        pass


# The local port of an inet endpoint as the backends write it: TCP:[127.0.0.1:1234], TCPv6:[[::1]:1234->...].
_LOCAL_PORT = re.compile(r"^[\w-]+:\[(?:\[[^\]]*\]|[^\[\]:]*):(\d+)(?:\]|->)")


def _no_outside_collision(program: str, trace: Trace) -> None:
    """SctraceError (status 2) when a side run on the host's loopback met an address in use there.

    On the shared loopback, a bind or listen that fails with EADDRINUSE says nothing about the program:
    in a namespace of its own it would have succeeded.  The port is held by another program on the
    machine, or by a connection of the side run before it, left in TIME_WAIT for a minute (the seed
    server closes first).  Comparing such a run would show a difference the programs do not have.
    A bind or listen on a port that another of the program's own sockets held before it is the program's
    own doing (fixtures/trace/addrinuse.*), and is left to the comparison.
    """
    held: dict[str, set[tuple[int, int | None]]] = {}  # port -> the (pid, fd) of each socket seen with it
    for ev in trace.events:
        if ev.type != "syscall":
            continue
        if ev.errno == "EADDRINUSE" and ev.name in ("bind", "listen"):
            port = _port_asked(ev)
            if port is not None and not held.get(port, set()) - {(ev.pid, ev.fd)}:
                where = f"port {port}" if port != "0" else "a port"
                raise SctraceError(
                    f"{program}: {ev.name} failed with EADDRINUSE: {where} is in use on this machine's loopback "
                    "(another program, or a connection of the side run before it in TIME_WAIT), which the "
                    "programs share because no network namespace may be made here; run as root, or allow "
                    "unprivileged user namespaces (see \"Without root\" in README.md)", ExitStatus.USAGE)
        for endpoint, fd in ((ev.endpoint, ev.fd), (ev.ret_endpoint, ev.ret)):
            port = _local_port(endpoint)
            if port is not None:
                held.setdefault(port, set()).add((ev.pid, fd))


def _port_asked(ev: Event) -> str | None:
    """The inet port a bind asked for, or the one a listening socket has; None for other families."""
    if ev.name == "bind":
        addr = ev.args.get("addr")
        if isinstance(addr, dict) and addr.get("family") in ("AF_INET", "AF_INET6"):
            return str(addr.get("port"))
        return None  # a UNIX socket's address is a file or an abstract name, not a port
    return _local_port(ev.endpoint)


def _local_port(endpoint: str | None) -> str | None:
    match = _LOCAL_PORT.match(endpoint) if endpoint else None
    return match.group(1) if match else None


def merge_peer(trace: Trace, peer: Trace, offset: float, ended: dict[str, Any]) -> None:
    """The peer program's events added to trace, in a lane of their own ("lane": "peer"), on trace's clock.

    offset: how much later the peer's tracer started.  The header names the peer (``peer``).
    """
    for ev in peer.events:
        ev.t += offset
        ev.info["lane"] = PEER_LANE
    events = sorted([*trace.events, *peer.events], key=lambda e: e.t)  # stable: each trace keeps its order
    for seq, ev in enumerate(events):
        ev.seq = seq
    trace.events = events
    h = peer.header
    ended = {k: v for k, v in ended.items() if k != "lane"}
    trace.header.extra["peer"] = {"program": h.program, "language": h.language,
                                  "interpreter_version": h.interpreter_version, "exit": ended}


PEER_LANE = "peer"


def exit_info(run: SideRun | None, trace: Trace) -> dict[str, Any]:
    """How the side's main process ended, from its trace (the peer's lane left out)."""
    own = [ev for ev in trace.events if ev.info.get("lane") != PEER_LANE] if "peer" in trace.header.extra \
        else trace.events
    main = own[0].pid if own else None
    for ev in reversed(own):
        if ev.pid == main and ev.type in ("exit", "killed"):
            return {k: v for k, v in ev.info.items() if k != "lane"}
    return {"code": run.status} if run is not None else {}


