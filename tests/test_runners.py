"""Every runner of sctrace/launch/runners.py, really traced: PHP, Python, Node.js, Perl, Ruby, bash, C and Go.

Interpreted languages trace the self-contained fixtures/trace/tcp4_echo.* (both
ends in one program).  bash can only be a client (/dev/tcp), C and Go are the
seed's server1: these run the way `sctrace compare` runs a program, with the
peer of drive.py.  Compiled programs are also checked for what the build must
guarantee: the build is not traced, its private directory is gone afterwards
(also after a compile error, Ctrl-C, SIGTERM or SIGKILL), a compile error is
status 2 with the compiler's own message.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from sctrace.backends.ptrace.tracer import TraceOptions
from sctrace.backends.run import trace_program
from sctrace.kernel import netns
from sctrace.kernel.procfs import stat_fields
from sctrace.launch.runners import RUNNERS, resolve
from sctrace.model.trace import Trace
from sctrace.peer.driver import DriveOptions
from sctrace.peer.sides import SideRun, run_sides
from sctrace.status import ExitStatus, SctraceError
from tests.helpers import MATRIX, TRACE_FIXTURES, is_subsequence, needs

NETNS = netns.available()


def socket_calls(trace: Trace) -> list[str]:
    return [ev.name for ev in trace.events if ev.type == "syscall" and ev.name]


def calls_named(trace: Trace, name: str) -> list[dict[str, Any]]:
    return [ev.args for ev in trace.events if ev.type == "syscall" and ev.name == name]


# Each interpreted runner with the calls its tcp4_echo fixture must make (fixtures/trace/README.md), in order
# as a subsequence, and the call that accepts (accept or accept4: the languages differ).
INTERPRETED = [
    pytest.param(".php", "php", ["socket", "bind", "listen", "socket", "connect", "accept", "recvfrom", "write",
                                 "close"], marks=needs("php", "php-cli"), id="php"),
    pytest.param(".py", "python", ["socket", "bind", "listen", "socket", "connect", "accept4", "recvfrom", "write",
                                   "close"], marks=needs("python3", "python3"), id="python"),
    pytest.param(".js", "node", ["socket", "setsockopt", "bind", "listen", "socket", "connect", "accept4", "read",
                                 "write", "shutdown", "close"], marks=needs("node", "nodejs"), id="node"),
    pytest.param(".pl", "perl", ["socket", "bind", "listen", "socket", "connect", "accept4", "recvfrom", "write",
                                 "close"], marks=needs("perl", "perl"), id="perl"),
    pytest.param(".rb", "ruby", ["socket", "setsockopt", "bind", "listen", "socket", "connect", "accept4",
                                 "recvfrom", "write", "close"], marks=needs("ruby", "ruby"), id="ruby"),
]


@pytest.mark.parametrize(("ext", "language", "calls"), INTERPRETED)
def test_interpreted_runner_traces_its_program(ext: str, language: str, calls: list[str]) -> None:
    program = TRACE_FIXTURES / f"tcp4_echo{ext}"
    assert RUNNERS[ext].language == language
    result = trace_program(str(program), [], options=TraceOptions(netns=NETNS), timeout=30)
    assert result.status == 0, socket_calls(result.trace)
    header = result.trace.header
    assert header.language == language and header.program == str(program)
    assert header.interpreter_version and re.match(r"\d+\.\d+", header.interpreter_version), header
    assert is_subsequence(calls, socket_calls(result.trace)), socket_calls(result.trace)
    assert [a["buf"] for a in calls_named(result.trace, "write") if a["buf"] == {"text": "hi", "len": 2}]


def run_driven(program: Path) -> SideRun:
    """program run as `sctrace compare` runs it: in its own network namespace, its peer played by drive.py."""
    (run,) = run_sides([str(program)], DriveOptions(timeout=20), NETNS)
    return run


@needs("bash", "bash")
def test_bash_runner_traces_a_dev_tcp_client() -> None:
    run = run_driven(MATRIX / "client1.sh")
    trace = run.trace
    assert run.status == 0 and run.exchange["role"] == "client", run.exchange
    assert trace.header.language == "bash" and re.match(r"\d+\.\d+", trace.header.interpreter_version or "")
    assert is_subsequence(["socket", "connect", "write", "read", "close"], socket_calls(trace)), socket_calls(trace)
    (connect,) = calls_named(trace, "connect")
    assert connect["addr"] == {"family": "AF_INET", "port": 1234, "address": "127.0.0.1"}
    assert [a for a in calls_named(trace, "write") if a["buf"] == {"text": "clien", "len": 5}]
    assert run.exchange["received"] == "clien" and run.exchange["sent"] == "hi"


# server1 in a compiled language: the calls the binary makes, in order, with the arguments that tell it apart.
@needs("cc", "gcc")
def test_c_runner_builds_then_traces_the_binary() -> None:
    run = run_driven(MATRIX / "server1.c")
    trace = run.trace
    assert run.status == 0 and run.exchange["role"] == "server", run.exchange
    h = trace.header
    assert h.language == "c" and h.program == str(MATRIX / "server1.c")
    assert h.interpreter is not None and os.path.basename(h.interpreter) == "cc"
    assert h.interpreter_version and re.fullmatch(r"\d+(\.\d+)*", h.interpreter_version), h.interpreter_version
    binary = h.argv[0]
    assert os.path.basename(binary) == "server1" and os.path.basename(os.path.dirname(binary)).startswith(
        "sctrace-build-")
    assert not os.path.exists(os.path.dirname(binary)), "the build directory outlived the trace"
    # The build is not traced: the first process event is the binary's exec, and no compiler ever runs.
    execs = [ev.info.get("filename") for ev in trace.events if ev.type == "exec"]
    assert execs and execs[0] == binary and all("cc1" not in str(e) and "/ld" not in str(e) for e in execs), execs
    assert socket_calls(trace) == ["socket", "bind", "listen", "accept", "recvfrom", "sendto", "close", "close"]
    (sock,) = calls_named(trace, "socket")
    assert sock == {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "IPPROTO_IP"}
    assert calls_named(trace, "listen")[0]["backlog"] == 5
    assert calls_named(trace, "recvfrom")[0]["len"] == 128
    assert calls_named(trace, "sendto")[0]["buf"] == {"text": "hi", "len": 2}


@needs("go", "golang-go")
def test_go_runner_builds_then_traces_the_binary() -> None:
    run = run_driven(MATRIX / "server1.go")
    trace = run.trace
    assert run.status == 0 and run.exchange["role"] == "server", run.exchange
    h = trace.header
    assert h.language == "go" and (h.interpreter_version or "").startswith("go1."), h
    assert not os.path.exists(os.path.dirname(h.argv[0]))
    names = socket_calls(trace)
    assert is_subsequence(["socket", "bind", "listen", "accept4", "read", "write", "close", "close"], names), names
    listener = [a for a in calls_named(trace, "bind") if isinstance(a["addr"], dict) and a["addr"].get("port") == 1234]
    assert listener and listener[0]["addr"]["family"] == "AF_INET6"  # ":1234" is one dual-stack socket in Go
    assert all("SOCK_NONBLOCK" in str(a["flags"]) for a in calls_named(trace, "accept4"))


# -- building: errors, and the private directory ----------------------------------------------------

@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR of the test's own, so that build directories can be counted (tempfile caches the default)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def build_dirs(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("sctrace-build-"))


BROKEN_C = "int main(void)\n{\n    return undefined_thing;\n}\n"


@needs("cc", "gcc")
def test_compile_error_is_status_2_with_the_compilers_message(tmp_path: Path, private_tmp: Path) -> None:
    source = tmp_path / "broken.c"
    source.write_text(BROKEN_C)
    with pytest.raises(SctraceError) as caught:
        trace_program(str(source), [], options=TraceOptions(netns=NETNS), timeout=30)
    assert caught.value.status == ExitStatus.USAGE and ExitStatus.USAGE.value == 2
    first, *diagnostics = caught.value.message.splitlines()
    assert first.startswith(f"cannot build {source}: cc failed (status 1); fix the program")
    assert any("undefined_thing" in line and "error" in line for line in diagnostics), diagnostics
    assert build_dirs(private_tmp) == []


@needs("cc", "gcc")
def test_compile_error_on_the_command_line(tmp_path: Path) -> None:
    source = tmp_path / "broken.c"
    source.write_text(BROKEN_C)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.run([sys.executable, "-m", "sctrace", "trace", str(source)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "TMPDIR": str(tmp)}, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"sctrace: error: cannot build {source}: cc failed"), proc.stderr
    assert "undefined_thing" in proc.stderr and "Traceback" not in proc.stderr
    assert build_dirs(tmp) == []


def test_compiler_output_cannot_steer_the_terminal(tmp_path: Path, private_tmp: Path) -> None:
    # A "compiler" (--interpreter) that fails with escape sequences in its message: they are shown, not obeyed.
    compiler = tmp_path / "evilcc"
    compiler.write_text("#!/bin/sh\nprintf 'bad \\033[2J\\033]0;title\\007 thing\\n' >&2\nexit 3\n")
    compiler.chmod(0o755)
    source = tmp_path / "x.c"
    source.write_text("int main(void) { return 0; }\n")
    with pytest.raises(SctraceError) as caught:
        trace_program(str(source), [], options=TraceOptions(), interpreter=str(compiler))
    message = caught.value.message
    assert caught.value.status == 2 and "evilcc failed (status 3)" in message
    assert "\x1b" not in message and "\x07" not in message and "\\x1b[2J" in message


def test_missing_compiler_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "x.c"
    source.write_text("int main(void) { return 0; }\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SctraceError) as caught:
        resolve(str(source), [])
    assert caught.value.status == ExitStatus.NO_INTERPRETER
    assert "cc not found" in caught.value.message and "apt-get install gcc" in caught.value.message
    go_source = tmp_path / "x.go"
    go_source.write_text("package main\nfunc main() {}\n")
    with pytest.raises(SctraceError) as caught:
        resolve(str(go_source), [])
    assert "apt-get install golang-go" in caught.value.message


def slow_compiler(tmp_path: Path) -> tuple[Path, Path]:
    """A "compiler" that writes its pid, creates its output's directory entry and then takes forever."""
    pidfile = tmp_path / "compiler.pid"
    compiler = tmp_path / "slowcc"
    compiler.write_text(f"#!/bin/sh\necho $$ > {pidfile}\n: > \"$2\"\nexec sleep 60\n")
    compiler.chmod(0o755)
    return compiler, pidfile


def wait_for(path: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        return stat_fields(pid)[0] != b"Z"
    except FileNotFoundError:
        return False


def build_under_sctrace(tmp_path: Path, compiler: Path) -> tuple[subprocess.Popen[str], Path, Path]:
    """sctrace tracing x.c built by compiler, with a TMPDIR of its own: (the process, x.c, that TMPDIR)."""
    source = tmp_path / "x.c"
    source.write_text("int main(void) { return 0; }\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "sctrace", "trace", "--interpreter", str(compiler), str(source)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            env={**os.environ, "TMPDIR": str(tmp)})
    return proc, source, tmp


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_during_the_build_stops_the_compiler_and_removes_the_directory(
        tmp_path: Path, sig: signal.Signals, status: int) -> None:
    compiler, pidfile = slow_compiler(tmp_path)
    proc, source, tmp = build_under_sctrace(tmp_path, compiler)
    try:
        wait_for(pidfile)
        assert len(build_dirs(tmp)) == 1
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err
    assert f"sctrace: error: stopped ({sig.name}) while building {source}" in err and "Traceback" not in err
    assert build_dirs(tmp) == []
    assert not alive(int(pidfile.read_text())), "the compiler outlived sctrace"


def test_sigkill_during_the_build_still_removes_the_directory(tmp_path: Path) -> None:
    compiler, pidfile = slow_compiler(tmp_path)
    proc, source, tmp = build_under_sctrace(tmp_path, compiler)
    try:
        wait_for(pidfile)
        assert len(build_dirs(tmp)) == 1
        proc.kill()  # no finally clause runs: the guard process removes the directory
        proc.wait(timeout=20)
        deadline = time.monotonic() + 10
        while build_dirs(tmp) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert build_dirs(tmp) == []
        compiler_pid = int(pidfile.read_text())
        deadline = time.monotonic() + 10
        while alive(compiler_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(compiler_pid), "the compiler outlived sctrace"
    finally:
        compiler_pid = int(pidfile.read_text())
        if alive(compiler_pid):
            os.kill(compiler_pid, signal.SIGKILL)


def test_a_compiler_left_running_cannot_write_the_directory_again(tmp_path: Path) -> None:
    """go build runs for seconds in a session of its own; killed with sctrace, it wrote its binary again into
    the directory the guard had removed.  The guard now stops the compiler first."""
    pidfile = tmp_path / "compiler.pid"
    compiler = tmp_path / "busycc"
    compiler.write_text(f"#!/bin/sh\necho $$ > {pidfile}\n"
                        "while true; do mkdir -p \"$(dirname \"$2\")\"; : > \"$2\"; sleep 0.05; done\n")
    compiler.chmod(0o755)
    proc, source, tmp = build_under_sctrace(tmp_path, compiler)
    try:
        wait_for(pidfile)
        proc.kill()
        proc.wait(timeout=20)
        deadline = time.monotonic() + 10
        while (build_dirs(tmp) or alive(int(pidfile.read_text()))) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # longer than the compiler's loop: it would have made the directory again
        assert build_dirs(tmp) == []
        assert not alive(int(pidfile.read_text())), "the compiler outlived sctrace"
    finally:
        if alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_compiler_may_clean_up_and_its_temporary_files_stay_in_the_build_directory(
        tmp_path: Path, sig: signal.Signals) -> None:
    """cc writes cc*.s into TMPDIR and removes it on SIGTERM; it was killed with SIGKILL and left the file."""
    pidfile, cleaned = tmp_path / "compiler.pid", tmp_path / "cleaned"
    compiler = tmp_path / "tidycc"
    compiler.write_text(f"#!/bin/sh\ntrap 'rm -f \"$TMPDIR/cc1.s\"; echo \"$TMPDIR\" > {cleaned}; exit 1' TERM\n"
                        f": > \"$TMPDIR/cc1.s\"\necho $$ > {pidfile}\nsleep 60 &\nwait\n")
    compiler.chmod(0o755)
    proc, source, tmp = build_under_sctrace(tmp_path, compiler)
    try:
        wait_for(pidfile)
        proc.send_signal(sig)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert cleaned.exists(), "the compiler got no chance to clean up (SIGKILL at once)"
    assert cleaned.read_text().strip().startswith(str(tmp / "sctrace-build-"))  # its TMPDIR: the build directory
    assert list(tmp.iterdir()) == []


@needs("cc", "gcc")
def test_trace_of_a_c_program_leaves_no_build_directory(tmp_path: Path, private_tmp: Path) -> None:
    # A program that fails at once (nothing listens in a fresh namespace): the binary ran, the directory is gone.
    source = tmp_path / "refused.c"
    source.write_text(
        "#include <arpa/inet.h>\n#include <sys/socket.h>\n#include <unistd.h>\n"
        "int main(void)\n{\n    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};\n"
        "    int s = socket(AF_INET, SOCK_STREAM, 0);\n    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);\n"
        "    int r = connect(s, (struct sockaddr *)&a, sizeof a);\n    close(s);\n    return r == 0 ? 0 : 3;\n}\n")
    result = trace_program(str(source), [], options=TraceOptions(netns=NETNS), timeout=30)
    assert result.status == 3
    assert socket_calls(result.trace) == ["socket", "connect", "close"]
    (connect,) = [ev for ev in result.trace.events if ev.name == "connect"]
    assert connect.errno == "ECONNREFUSED"
    assert build_dirs(private_tmp) == []


@needs("go", "golang-go")
def test_go_builds_without_a_home(tmp_path: Path) -> None:
    # Go refuses to build without a cache directory; with no HOME, sctrace gives it one in the build directory.
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "GOCACHE", "GOPATH")}
    proc = subprocess.run([sys.executable, "-m", "sctrace", "matrix", "--format", "json", str(MATRIX / "server1.go")],
                          capture_output=True, text=True, timeout=300, env={**env, "TMPDIR": str(tmp)},
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert '"language": "go"' in proc.stdout and '"accept4"' in proc.stdout
    assert build_dirs(tmp) == []


def test_a_signal_before_the_compiler_is_known_is_raised_once_it_is() -> None:
    """A SIGTERM that comes while Popen starts the compiler is held until its pid is known (arm), so the
    compiler is killed rather than left running: held, then raised by arm, and raised at once after it."""
    from sctrace.launch.compile import _stoppable, _Stopped

    with _stoppable() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler has run, and only remembered the signal
        assert stop.pending == signal.SIGTERM
        with pytest.raises(_Stopped) as held:
            stop.arm()
        assert held.value.signum == signal.SIGTERM
        with pytest.raises(_Stopped) as direct:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert direct.value.signum == signal.SIGINT
