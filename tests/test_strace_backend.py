"""The strace backend (``--backend strace``): the same trace as the ptrace backend, from real strace.

The agreement test runs every fixture program under both backends and checks
that each process made the same socket calls with the same arguments and
results (tests/straceref.py says what is replaced by placeholders).  The
others check what must hold whatever the backend: the program's exit status,
signals, --timeout, SIGINT/SIGTERM, no traced process left behind, and errors
in one line.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from sctrace.backends.strace.backend import parents_first, tracees_of
from sctrace.backends.strace.events import EventStream, executable_of
from sctrace.kernel.procfs import stat_fields
from sctrace.model.strace_log import LogParser
from sctrace.model.trace import Event, Trace
from sctrace.status import ExitStatus
from tests import helpers
from tests.helpers import PYTHON, ROOT, SEED, TRACE_FIXTURES, assert_gone, needs_strace, one_error_line
from tests.in_netns import can_unshare
from tests.straceref import assert_same_processes, interpreter_for, per_process, run_sctrace
from tests.test_agree_strace import FIXTURE_CASES, FIXTURE_TABLE

STRACE = shutil.which("strace")
# The runs here are short: a hang shows in a minute.
sctrace = partial(helpers.sctrace, timeout=60)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------
# Agreement with the ptrace backend, fixture by fixture.

# What cannot agree call for call, and why (on top of test_agree_strace's table, whose reasons hold here too).
NOT_CALL_FOR_CALL: dict[str, str] = {}


# What strace itself gets wrong, which the strace backend cannot mend: expected to fail, strictly, so that a
# strace that mends it is noticed.
STRACE_GETS_WRONG: dict[str, str] = {
    "own_seccomp.py": "strace --seccomp-bpf answers the program's own SECCOMP_RET_TRACE itself, so socketpair "
                      "succeeds where untraced it fails with ENOSYS (the ptrace backend gives the untraced result)",
}
BACKEND_CASES = [
    pytest.param(*case.values, marks=[*case.marks, pytest.mark.xfail(strict=True, reason=STRACE_GETS_WRONG[name])])
    if (name := str(case.values[0])) in STRACE_GETS_WRONG else case
    for case in FIXTURE_CASES
]


@needs_strace
@pytest.mark.parametrize("name", BACKEND_CASES)
def test_backends_agree(name: str, tmp_path: Path) -> None:
    fixture = TRACE_FIXTURES / name
    if interpreter_for(fixture) is None:
        pytest.skip(f"no interpreter for {fixture.suffix} on this machine")
    merge = "merge" in FIXTURE_TABLE[name]
    renumber = "renumber" in FIXTURE_TABLE[name]
    ours, our_status = run_sctrace(fixture, tmp_path / "ptrace.jsonl")
    theirs, their_status = run_sctrace(fixture, tmp_path / "strace.jsonl", "--backend", "strace")
    assert (our_status, their_status) == (0, 0), f"{name}: ptrace {our_status}, strace {their_status}"
    assert (ours.header.backend, theirs.header.backend) == ("ptrace", "strace")
    got, want = per_process(theirs, merge, renumber), per_process(ours, merge, renumber)
    assert sum(len(s) for s in want) > 0, "no socket call seen: the fixture is broken"
    assert_same_processes(want, got, "ptrace", "strace")
    # The process events agree too: the same forks (kind, thread or not), execs and ends, per process.
    assert process_shape(theirs) == process_shape(ours)


def process_shape(trace: Trace) -> list[tuple[str, ...]]:
    """The fork/exec/exit events, without the pids and times that differ run to run.

    Which thread gets which pid is the scheduler's choice, so processes are not
    named: the events are compared as a multiset (how many forks of each kind,
    which executables, which exit codes).
    """
    shape: list[tuple[str, ...]] = []
    for ev in trace.events:
        if ev.type == "fork":
            shape.append(("fork", ev.info["call"], str(ev.info["thread"])))
        elif ev.type == "exec":
            shape.append(("exec", str(ev.info["filename"])))
        elif ev.type in ("exit", "killed"):
            shape.append((ev.type, str(ev.info.get("code", ev.info.get("signal")))))
    return sorted(shape)


# ---------------------------------------------------------------------------
# Exit status, signals, interruption, no process left behind.


@needs_strace
def test_exit_status_is_the_programs(tmp_path: Path) -> None:
    prog = write(tmp_path / "three.py", "import socket\nsocket.socket().close()\nraise SystemExit(3)\n")
    out = tmp_path / "t.jsonl"
    proc = sctrace("trace", "--backend", "strace", "--format", "jsonl", "-o", str(out), "--interpreter", PYTHON,
                   str(prog))
    assert proc.returncode == 3, proc.stderr
    trace = Trace.load(out)
    assert [e.name for e in trace.syscalls()] == ["socket", "close"]
    assert trace.events[-1].type == "exit" and trace.events[-1].info == {"code": 3}
    assert trace.events[0].type == "exec" and trace.events[0].info["filename"] == PYTHON


@needs_strace
def test_killed_by_a_signal_and_signals_delivered(tmp_path: Path) -> None:
    prog = write(tmp_path / "segv.py", "import os, signal, socket\n"
                 "a, b = socket.socketpair(); b.close()\n"
                 "try:\n    a.send(b'x')\nexcept BrokenPipeError:\n    pass\n"
                 "os.kill(os.getpid(), signal.SIGSEGV)\n")
    out = tmp_path / "t.jsonl"
    proc = sctrace("trace", "--backend", "strace", "--format", "jsonl", "-o", str(out), "--interpreter", PYTHON,
                   str(prog))
    assert proc.returncode == 128 + signal.SIGSEGV, proc.stderr
    trace = Trace.load(out)
    kinds = [(e.type, e.name or e.info.get("signal")) for e in trace.events
             if e.type != "exec" and e.name in (None, "socketpair", "sendto")]
    assert kinds == [("syscall", "socketpair"), ("syscall", "sendto"),
                     ("signal", "SIGPIPE"), ("signal", "SIGSEGV"), ("killed", "SIGSEGV")]
    send = [e for e in trace.syscalls() if e.name == "sendto"][0]
    assert (send.ret, send.errno) == (-1, "EPIPE")
    killed = trace.events[-1]
    assert killed.info == {"signal": "SIGSEGV"} or killed.info == {"signal": "SIGSEGV", "core": True}
    assert_gone({e.pid for e in trace.events})


SERVER_SAYS_PIDS = """
import os, socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
child = os.fork()
if child == 0:
    s.accept()
print(os.getpid(), child, flush=True)
s.accept()
"""


@needs_strace
def test_sctrace_killed_leaves_no_traced_process(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the guard process kills what strace traces, as EXITKILL does for ptrace."""
    prog = write(tmp_path / "forever.py", SERVER_SAYS_PIDS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sctrace", "trace", "--backend", "strace", "-o", os.devnull, "--interpreter", PYTHON,
         str(prog)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    pids = {int(p) for p in proc.stdout.readline().split()}
    assert len(pids) == 2
    time.sleep(0.3)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids):
        time.sleep(0.05)
        for pid in pids:  # they were the killed sctrace's grandchildren: reparented to init, reaped there
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
    left = {pid for pid in pids if os.path.exists(f"/proc/{pid}")}
    states = {}
    for pid in left:
        try:
            states[pid] = stat_fields(pid)[0].decode()
        except OSError:
            continue
    assert all(state == "Z" for state in states.values()), f"traced processes survived: {states}"


@needs_strace
def test_without_seccomp_filter(tmp_path: Path) -> None:
    fixture = TRACE_FIXTURES / "tcp4_echo.py"
    fast, _ = run_sctrace(fixture, tmp_path / "a.jsonl", "--backend", "strace")
    slow, status = run_sctrace(fixture, tmp_path / "b.jsonl", "--backend", "strace", "--no-seccomp")
    assert status == 0 and (fast.header.seccomp, slow.header.seccomp) == (True, False)
    assert per_process(slow) == per_process(fast) != []


@needs_strace
def test_syscall_filter_and_all(tmp_path: Path) -> None:
    fixture = str(TRACE_FIXTURES / "tcp4_echo.py")
    proc = sctrace("trace", "--backend", "strace", "-e", "connect,accept4", "--format", "jsonl", "-o", "-",
                   "--interpreter", PYTHON, fixture)
    assert proc.returncode == 0, proc.stderr
    trace = Trace.parse(proc.stdout.splitlines(), "stdout")
    assert [e.name for e in trace.syscalls()] == ["connect", "accept4"]
    proc = sctrace("trace", "--backend", "strace", "--all", "--format", "jsonl", "-o", "-",
                   "--interpreter", PYTHON, fixture)
    assert proc.returncode == 0, proc.stderr
    names = {e.name for e in Trace.parse(proc.stdout.splitlines(), "stdout").syscalls()}
    assert {"mmap", "openat", "execve", "socket", "accept4"} <= names  # every call, not only socket ones


@needs_strace
def test_text_output_is_escaped(tmp_path: Path) -> None:
    prog = write(tmp_path / "esc.py", "import socket\na, b = socket.socketpair()\na.send(b'\\x1b[2Jhi')\n")
    proc = sctrace("trace", "--backend", "strace", "--interpreter", PYTHON, str(prog))
    assert proc.returncode == 0
    assert "\x1b" not in proc.stderr and 'sendto(3<UNIX-STREAM:' in proc.stderr and '"\\33[2Jhi"' in proc.stderr


# ---------------------------------------------------------------------------
# Errors in one line.


def test_bad_backend_name() -> None:
    proc = sctrace("trace", "--backend", "dtrace", "fixtures/trace/tcp4_echo.py")
    assert proc.returncode == ExitStatus.USAGE
    assert "dtrace" in one_error_line(proc)


def test_strace_missing_says_what_to_install(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # no strace on this PATH
    proc = subprocess.run([sys.executable, "-m", "sctrace", "trace", "--backend", "strace", "--interpreter", PYTHON,
                           "fixtures/trace/tcp4_echo.py"], cwd=ROOT, env=env, text=True, capture_output=True,
                          timeout=60)
    assert proc.returncode == ExitStatus.NO_INTERPRETER
    assert "install strace" in one_error_line(proc)


@needs_strace
def test_not_a_program(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_text("\x01\x02 not a program")
    garbage.chmod(0o755)
    proc = sctrace("trace", "--backend", "strace", str(garbage))
    assert proc.returncode == ExitStatus.NO_PROGRAM
    assert "not a program" in one_error_line(proc)


DENY_PTRACE = """
import os, struct, sys
from sctrace.backends.ptrace.seccomp import install
# ld nr; if ptrace (101): return ERRNO(EPERM); else allow -- as a container's seccomp profile does
insn = struct.Struct("<HBBI").pack
prog = insn(0x20, 0, 0, 0) + insn(0x15, 0, 1, 101) + insn(0x06, 0, 0, 0x00050001) + insn(0x06, 0, 0, 0x7FFF0000)
assert install(prog) == 0
os.execv(sys.executable, [sys.executable, "-m", "sctrace", *sys.argv[1:]])
"""


@needs_strace
@pytest.mark.parametrize("backend", ["ptrace", "strace"])
def test_ptrace_refused(tmp_path: Path, backend: str) -> None:
    """ptrace refused: the ptrace backend points to --backend strace; strace, refused too, says so."""
    wrapper = write(tmp_path / "deny.py", DENY_PTRACE)
    proc = subprocess.run([sys.executable, str(wrapper), "trace", "--backend", backend, "--interpreter", PYTHON,
                           "fixtures/trace/tcp4_echo.py"], cwd=ROOT, text=True, capture_output=True, timeout=60)
    assert proc.returncode == ExitStatus.PTRACE_DENIED, proc.stderr
    line = one_error_line(proc)
    if backend == "ptrace":
        assert "ptrace is not permitted" in line and "--backend strace" in line
    else:
        assert "strace may not trace here either" in line and "Operation not permitted" in line


# ---------------------------------------------------------------------------
# Turning strace's lines into events (hand-written logs, exact).


def stream(text: str, report: frozenset[str] | None = None, all_syscalls: bool = False) -> list[Event]:
    parser = LogParser("test")
    got: list[Event] = []
    events = EventStream(parser, report, all_syscalls, got.append)
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        parser.feed(n, line)
        events.take()
    events.finish()
    return got


SH = '10 1.0 execve("/bin/sh", ["/bin/sh", "-c", "exec"...], 0x7ffd /* 3 vars */) = 0\n'


def test_stream_leaves_out_the_trampoline_and_what_is_not_a_socket() -> None:
    got = stream(
        SH
        + '10 1.1 close(2</tmp/x>) = 0\n'
        + f'10 1.2 execve("{PYTHON}", ["python3"], 0x7ffd /* 3 vars */) = 0\n'
        + '10 1.3 read(3</etc/passwd>, "root", 4) = 4\n'
        + '10 1.4 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<TCP:[7]>\n'
        + '10 1.5 write(3<TCP:[7]>, "x", 1) = -1 EPIPE (Broken pipe)\n'
        + '10 1.6 close(3<TCP:[7]>) = 0\n'
        + '10 1.7 +++ exited with 0 +++\n'
    )
    assert [(e.seq, e.type, e.name, e.info) for e in got] == [
        (0, "exec", None, {"filename": PYTHON}),
        (1, "syscall", "socket", {}),
        (2, "syscall", "write", {}),
        (3, "syscall", "close", {}),
        (4, "exit", None, {"code": 0}),
    ]
    assert got[2].endpoint == "TCP:[7]" and got[2].errno == "EPIPE"


def test_stream_forks_before_the_childs_first_line() -> None:
    got = stream(
        SH
        + '10 1.2 execve("/bin/true", ["true"], 0x7ffd /* 3 vars */) = 0\n'
        + "10 1.3 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>\n"
        + "11 1.4 socket(AF_UNIX, SOCK_STREAM, 0) = 3<UNIX-STREAM:[5]>\n"
        + "10 1.5 <... clone resumed>, child_tidptr=0x7f) = 11\n"
        + "10 1.6 clone3({flags=CLONE_VM|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0}, 88) = 12\n"
        + "12 1.7 +++ exited with 0 +++\n"
        + "11 1.8 +++ killed by SIGKILL +++\n"
        + "10 1.9 +++ exited with 0 +++\n"
    )
    assert [(e.type, e.pid, e.name, e.info) for e in got] == [
        ("exec", 10, None, {"filename": "/usr/bin/true"}),
        ("fork", 10, None, {"child": 11, "call": "fork", "thread": False}),
        ("syscall", 11, "socket", {}),
        ("fork", 10, None, {"child": 12, "call": "clone", "thread": True}),
        ("exit", 12, None, {"code": 0}),
        ("killed", 11, None, {"signal": "SIGKILL"}),
        ("exit", 10, None, {"code": 0}),
    ]


def test_stream_two_forks_at_once_wait_for_the_one_that_returns_the_child() -> None:
    got = stream(
        SH
        + '10 1.2 execve("/bin/true", ["true"], 0x7ffd /* 3 vars */) = 0\n'
        + "10 1.3 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>\n"
        + "20 1.3 vfork( <unfinished ...>\n"
        + "21 1.4 socket(AF_UNIX, SOCK_STREAM, 0) = 3<UNIX-STREAM:[5]>\n"
        + "20 1.5 <... vfork resumed>) = 21\n"
        + "10 1.6 <... clone resumed>) = 20\n"
    )
    assert [(e.type, e.pid, e.name, e.info.get("child"), e.info.get("call")) for e in got] == [
        ("exec", 10, None, None, None),
        ("fork", 10, None, 20, "fork"),
        ("fork", 20, None, 21, "vfork"),
        ("syscall", 21, "socket", None, None),
    ]


def test_stream_failed_exec_of_the_program_is_kept() -> None:
    parser = LogParser("test")
    got: list[Event] = []
    events = EventStream(parser, None, False, got.append)
    for n, line in enumerate([SH, '10 1.2 execve("/x", ["/x"], 0x7ffd /* 3 vars */) = -1 EACCES (Permission '
                              'denied)\n', "10 1.3 +++ exited with 126 +++\n"], 1):
        parser.feed(n, line)
        events.take()
    events.finish()
    assert got == [] and events.started is False and events.exec_error == "EACCES"


def test_executable_of_a_script_is_its_interpreter(tmp_path: Path) -> None:
    script = write(tmp_path / "s", "#!/bin/sh\necho\n")
    assert executable_of(str(script)) == os.path.realpath("/bin/sh")
    assert executable_of("/no/such/file") == "/no/such/file"


@needs_strace
def test_tracees_of_finds_what_strace_traces(tmp_path: Path) -> None:
    assert STRACE is not None
    proc = subprocess.Popen([STRACE, "-f", "-qq", "-o", os.devnull, PYTHON, "-c",
                             "import os, time\nif os.fork() == 0: time.sleep(30)\nelse: time.sleep(30)\n"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        found: set[int] = set()
        while time.monotonic() < deadline and len(found) < 2:
            time.sleep(0.05)
            found = tracees_of(proc.pid)
        assert len(found) == 2
    finally:
        proc.kill()
        proc.wait()


CHAIN = """
import os, sys, time
r, w = os.pipe()
depth = 0
while depth < int(sys.argv[1]) and os.fork() == 0:  # each process forks the next
    depth += 1
if depth == int(sys.argv[1]):
    os.write(w, b"x" * depth)  # the last is born: the whole chain exists
else:
    os.read(r, 1)
os.write(1, f"{depth} {os.getpid()}\\n".encode())  # one write: the lines of the chain never interleave
time.sleep(30)
"""


def test_parents_first_orders_a_process_chain_from_its_root() -> None:
    """Killing strace's tracees, parents go first: a child killed first would SIGCHLD its parent,
    putting a signal and a restarted call in the parent's trace that only the killing caused."""
    proc = subprocess.Popen([PYTHON, "-c", CHAIN, "6"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    pids: dict[int, int] = {}
    try:
        for _ in range(7):
            depth, pid = map(int, proc.stdout.readline().split())
            pids[depth] = pid
        chain = [pids[depth] for depth in range(7)]
        for order in (chain, chain[::-1], chain[3:] + chain[:3]):
            assert parents_first(set(order)) == chain
        assert parents_first(set(chain[2:5])) == chain[2:5]  # ancestors outside the set do not count
    finally:
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()


PIDS_TO_FILE = """
import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
child = os.fork()
if child == 0:
    s.accept()
with open(sys.argv[1], "w") as f:
    f.write(f"{os.getpid()} {child}")
s.accept()
"""


@needs_strace
def test_unreadable_strace_output_is_one_error_and_kills_the_program(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Should strace ever print what the parser cannot read, the run ends in one error and nothing survives."""
    from sctrace.backends.strace.backend import trace_with_strace
    from sctrace.launch.runners import resolve
    from sctrace.model.trace import TraceFormatError
    from sctrace.status import SctraceError

    prog = write(tmp_path / "forever.py", PIDS_TO_FILE)
    pids_file = tmp_path / "pids"
    feed = LogParser.feed

    def feed_until_accept(self: LogParser, lineno: int, raw: str) -> None:
        if "accept4(" in raw and pids_file.exists() and pids_file.read_text():
            raise TraceFormatError(self.source, lineno, "a line this sctrace cannot read")
        feed(self, lineno, raw)

    monkeypatch.setattr(LogParser, "feed", feed_until_accept)
    with pytest.raises(SctraceError) as err:
        trace_with_strace(resolve(str(prog), [str(pids_file)], PYTHON), string_limit=32, report=None,
                          all_syscalls=False, renderer=None, timeout=30, want_version=False)
    assert err.value.status == ExitStatus.INTERNAL and "line" in err.value.message
    pids = {int(p) for p in pids_file.read_text().split()}
    assert len(pids) == 2
    assert_gone(pids)


# ---------------------------------------------------------------------------
# Driven runs (compare): a server under strace gets its client; a client cannot be held at connect.

needs_netns = pytest.mark.skipif(not can_unshare(), reason="no network namespace may be made here "
                                 "(the seed programs use the fixed port 1234)")


def driven(program: Path) -> tuple[Any, Any]:
    from sctrace.backends.ptrace.tracer import TraceOptions
    from sctrace.backends.run import trace_program
    from sctrace.peer.driver import DriveOptions, Driver

    driver = Driver(DriveOptions(timeout=10))
    result = trace_program(str(program), [], options=TraceOptions(string_limit=4096, netns=True), observer=driver,
                           timeout=30, backend="strace", want_version=False)
    return result, driver.exchange


@needs_strace
@needs_netns
def test_driven_server_gets_its_client() -> None:
    result, exchange = driven(SEED / "server1.py")
    assert (exchange.role, exchange.error) == ("server", None)
    assert exchange.sent == b"hello\n" and exchange.received == b"hi"
    names = [(e.name, e.ret) for e in result.trace.syscalls() if e.name in ("listen", "accept4", "recvfrom")]
    assert names == [("listen", 0), ("accept4", 4), ("recvfrom", 6)]
    assert result.status == 0 and result.trace.header.backend == "strace"


@needs_strace
@needs_netns
def test_driven_forever_server_is_stopped_after_the_exchange() -> None:
    result, exchange = driven(SEED / "udpserver.py")
    assert (exchange.role, exchange.stopped, exchange.error) == ("udp-server", True, None)
    assert exchange.received.startswith(b"Hello 127.0.0.1:")
    killed = [e for e in result.trace.events if e.type == "killed"]
    assert [e.info for e in killed] == [{"signal": "SIGTERM", "by": "sctrace", "reason": "stopped after the exchange"}]
    assert_gone({e.pid for e in result.trace.events})


@needs_strace
@needs_netns
def test_driven_client_is_one_clear_error() -> None:
    result, exchange = driven(SEED / "client1.py")
    assert exchange.role is None and exchange.error is not None
    assert "use --backend ptrace" in exchange.error and "\n" not in exchange.error
    refused = [e for e in result.trace.syscalls() if e.name == "connect"]
    assert refused and refused[-1].errno == "ECONNREFUSED"
