"""--states: the kernel's TCP state after each call, read with sock_diag while the tracee is stopped.

Real programs under real ptrace: the fixture tcp_states.py (both ends of one
connection in one process), the seed servers server1.php and server1.py driven
by compare's own peer in a network namespace, UDP-only and UNIX-only programs,
and a run without the privilege to make or enter a namespace.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sctrace.kernel.sockdiag import InetDiag
from sctrace.kernel.tcpstates import NO_TCP_NOTICE, TCP_STATE_NAMES, TcpStates
from sctrace.model.trace import Event, Trace
from tests.helpers import ROOT, SEED, TRACE_FIXTURES
from tests.straceref import INTERPRETERS, NETNS, run_sctrace

FIXTURE = TRACE_FIXTURES / "tcp_states.py"
ACTIVE_CLOSE = {"FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"}  # how far the active close got when close returned
SETPRIV = shutil.which("setpriv")
UNSHARE = shutil.which("unshare")


def tcp_events(trace: Trace) -> list[Event]:
    return [e for e in trace.events if e.type == "syscall" and (e.info.get("tcp_state") or e.name == "close")]


def state_of(trace: Trace, name: str, endpoint_part: str = "", nth: int = 0) -> str | None:
    found = [e for e in trace.events if e.type == "syscall" and e.name == name
             and endpoint_part in ((e.endpoint or "") + (e.ret_endpoint or ""))]
    assert len(found) > nth, f"no {name} on {endpoint_part!r} in the trace"
    state = found[nth].info.get("tcp_state")
    return state if isinstance(state, str) else None


def final_state(trace: Trace, endpoint: str) -> str | None:
    """The last state known for a connection: its close's, or a later "state" event's."""
    last = None
    for e in trace.events:
        if e.type == "syscall" and e.name == "close" and e.endpoint == endpoint:
            last = e.info.get("tcp_state")
        elif e.type == "state" and e.info.get("endpoint") == endpoint:
            last = e.info.get("tcp_state")
    return last if isinstance(last, str) else None


# -- the table --------------------------------------------------------------------------------------

def test_state_names_follow_the_kernel_numbering() -> None:
    """The table's numbers are the kernel's: glibc's netinet/tcp.h copies include/net/tcp_states.h."""
    header = Path("/usr/include/netinet/tcp.h")
    if not header.exists():
        pytest.skip("no /usr/include/netinet/tcp.h (libc6-dev) to check the table against")
    text = header.read_text()
    enum = text[text.index("TCP_ESTABLISHED = 1"):]
    enum = enum[: enum.index("}")]
    names = re.findall(r"\bTCP_([A-Z0-9_]+)", enum)
    assert len(names) == 11
    for number, name in enumerate(names, start=1):
        ours = TCP_STATE_NAMES[number].replace("CLOSED", "CLOSE")
        assert ours == name, f"state {number}: {ours} vs the kernel's {name}"


# -- sock_diag on sockets of our own ------------------------------------------------------------------

def _inode(s: socket.socket) -> int:
    return os.fstat(s.fileno()).st_ino


def test_inet_diag_lists_listen_established_and_an_orphan() -> None:
    diag = InetDiag()
    try:
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            cli = socket.create_connection(srv.getsockname())
            conn, _ = srv.accept()
            by_inode = {e.inode: e for e in diag.tcp(socket.AF_INET)}
            assert TCP_STATE_NAMES[by_inode[_inode(srv)].state] == "LISTEN"
            assert TCP_STATE_NAMES[by_inode[_inode(conn)].state] == "ESTABLISHED"
            entry = by_inode[_inode(cli)]
            assert entry.local == cli.getsockname() and entry.remote == cli.getpeername()
            # The kernel filters by port (INET_DIAG_REQ_BYTECODE), and finds one connection exactly.
            port = srv.getsockname()[1]
            assert {e.inode for e in diag.tcp(socket.AF_INET, port)} == {_inode(srv), _inode(conn)}
            assert {e.inode for e in diag.tcp(socket.AF_INET, port, 0)} == {_inode(srv)}
            assert [e.inode for e in diag.tcp(socket.AF_INET, cli.getsockname()[1], port)] == [_inode(cli)]
            found = diag.find(socket.AF_INET, conn.getsockname(), conn.getpeername())
            assert found is not None and found.inode == _inode(conn)
            found = diag.find(socket.AF_INET, srv.getsockname(), ("0.0.0.0", 0))
            assert found is not None and found.inode == _inode(srv) and TCP_STATE_NAMES[found.state] == "LISTEN"
            key = (*conn.getsockname(), *conn.getpeername())
            conn.close()  # the active close: the connection lives on with no inode
            orphans = [e for e in diag.tcp(socket.AF_INET) if (*e.local, *e.remote) == key]
            assert len(orphans) == 1 and orphans[0].inode == 0
            assert TCP_STATE_NAMES[orphans[0].state] in ("FIN_WAIT1", "FIN_WAIT2")
            assert cli.recv(10) == b""
            cli.close()
            deadline = time.monotonic() + 2
            while True:  # the peer's FIN and ACK cross loopback at once; a slow CI may take a moment
                states = [TCP_STATE_NAMES[e.state] for e in diag.tcp(socket.AF_INET) if (*e.local, *e.remote) == key]
                if states == ["TIME_WAIT"] or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            assert states == ["TIME_WAIT"]
    finally:
        diag.close()


def test_inet_diag_ipv6() -> None:
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6")
    diag = InetDiag()
    try:
        with socket.socket(socket.AF_INET6) as srv:
            try:
                srv.bind(("::1", 0))
            except OSError as exc:
                pytest.skip(f"no IPv6 loopback here ({exc.strerror})")
            srv.listen(1)
            entries = [e for e in diag.tcp(socket.AF_INET6) if e.inode == _inode(srv)]
            assert [(TCP_STATE_NAMES[e.state], e.local) for e in entries] == [("LISTEN", srv.getsockname()[:2])]
    finally:
        diag.close()


# -- a traced program: both ends in one process --------------------------------------------------------

def test_fixture_shows_every_state_of_one_connection(tmp_path: Path) -> None:
    trace, status = run_sctrace(FIXTURE, tmp_path / "t.jsonl", "--states")
    assert status == 0
    assert trace.header.extra.get("tcp_states") is True
    socks = [e for e in trace.events if e.type == "syscall" and e.name == "socket"]
    assert len(socks) == 2 and all(e.info.get("tcp_state") == "CLOSED" for e in socks)
    assert state_of(trace, "bind") == "CLOSED"  # bound, not listening: in no table of the kernel
    assert state_of(trace, "listen") == "LISTEN"
    assert state_of(trace, "getsockname") == "LISTEN"
    assert state_of(trace, "connect") in ("SYN_SENT", "ESTABLISHED")
    assert state_of(trace, "sendto") == "ESTABLISHED"
    accept = next(e for e in trace.events if e.name in ("accept", "accept4"))
    assert accept.info.get("tcp_state") == "ESTABLISHED"  # the accepted socket's, not the listener's
    conn = accept.ret_endpoint
    assert conn and "->" in conn
    assert state_of(trace, "recvfrom", conn) == "ESTABLISHED"
    closes = [e for e in trace.events if e.type == "syscall" and e.name == "close"]
    assert [e.endpoint for e in closes][0] == conn, "the fixture closes the accepted socket first"
    assert closes[0].info.get("tcp_state") in ACTIVE_CLOSE
    client = next(e.endpoint for e in trace.events if e.name == "sendto")
    assert client
    assert state_of(trace, "recvfrom", client) == "CLOSE_WAIT"  # the server's FIN has arrived
    assert closes[1].endpoint == client and closes[1].info.get("tcp_state") in ("LAST_ACK", "CLOSED")
    assert closes[2].info.get("tcp_state") == "CLOSED"  # the listener
    assert final_state(trace, conn) == "TIME_WAIT", "the side that closed first ends in TIME_WAIT"
    events = [e for e in trace.events if e.type == "state"]
    assert all(e.info["endpoint"] == conn for e in events)  # only the closed connection is followed
    assert [e.seq for e in trace.events] == list(range(len(trace.events)))


# Other languages and IPv6: the same connection life in the echo fixtures (accepted socket closed first).
@pytest.mark.parametrize("name", ["tcp4_echo.php", "tcp4_echo.js", "tcp4_echo.pl", "tcp4_echo.rb", "tcp6_echo.py",
                                  "tcp6_echo.php"])
def test_echo_fixtures_in_every_language(name: str, tmp_path: Path) -> None:
    fixture = ROOT / "fixtures" / "trace" / name
    if INTERPRETERS[fixture.suffix] is None:
        pytest.skip(f"no interpreter for {fixture.suffix} here (scripts/setup.sh installs it)")
    trace, status = run_sctrace(fixture, tmp_path / "t.jsonl", "--states")
    assert status == 0
    assert state_of(trace, "listen") == "LISTEN"
    assert state_of(trace, "connect") in ("SYN_SENT", "ESTABLISHED")
    accept = next(e for e in trace.events if e.name in ("accept", "accept4"))
    assert accept.info.get("tcp_state") == "ESTABLISHED"
    conn = accept.ret_endpoint
    assert conn and conn.startswith("TCPv6:[" if "tcp6" in name else "TCP:[")
    # The server ends first (close, or Node's shutdown(SHUT_WR) after its write): the active side.
    ends = [e for e in trace.events
            if e.type == "syscall" and e.name in ("close", "shutdown") and e.info.get("tcp_state")]
    assert ends[0].endpoint == conn and ends[0].info["tcp_state"] in ACTIVE_CLOSE
    assert final_state(trace, conn) == "TIME_WAIT"
    tcp = [e for e in trace.events if e.type == "syscall" and (e.endpoint or e.ret_endpoint or "").startswith("TCP")]
    missing = [e.name for e in tcp if "tcp_state" not in e.info]
    assert missing == [], "every call on a TCP socket has its state"


@pytest.mark.slow
def test_thousands_of_time_wait_sockets(tmp_path: Path) -> None:
    """2,000 connections leave 2,000 TIME_WAIT sockets: questions name their ports, so none waits for them.

    The fixture's watchdog (5 s per 200 connections) ends it if the tracer is much slower than without
    --states; each closed connection is followed until its TIME_WAIT.
    """
    trace, status = run_sctrace(ROOT / "fixtures" / "trace" / "many_connections.py", tmp_path / "t.jsonl", "--states")
    assert status == 0
    accepts = [e for e in trace.events if e.name in ("accept", "accept4")]
    assert len(accepts) == 2000 and all(e.info.get("tcp_state") == "ESTABLISHED" for e in accepts)
    accepted = {e.ret_endpoint for e in accepts}  # fewer: the client reuses ports of TIME_WAIT connections
    closes = [e for e in trace.events if e.name == "close" and e.endpoint in accepted]
    assert len(closes) == 2000
    # The server closes first, so its close leaves FIN_WAIT1/FIN_WAIT2 or TIME_WAIT behind; or CLOSED
    # when the tracer saw the client's next connect (reusing the port) before the server's close returning.
    after_close = [e.info.get("tcp_state") for e in closes]
    assert set(after_close) <= ACTIVE_CLOSE | {"CLOSED"}
    assert after_close.count("CLOSED") <= 20
    time_waits = [e for e in closes if e.info["tcp_state"] == "TIME_WAIT"]
    time_waits += [e for e in trace.events if e.type == "state" and e.info["tcp_state"] == "TIME_WAIT"]
    # The client reuses a port whose connection is in TIME_WAIT on the server's side (its SYN ends that
    # TIME_WAIT at once): a follow-up may then see the connection gone (CLOSED) before it saw the TIME_WAIT.
    assert len(time_waits) >= 1980, "the connections the server closed first reach TIME_WAIT"
    assert {e.info["tcp_state"] for e in trace.events if e.type == "state"} <= {"FIN_WAIT2", "TIME_WAIT", "CLOSED"}


def test_states_in_text_output() -> None:
    cmd = [*NETNS, sys.executable, "-m", "sctrace", "trace", "--states", "-o", "-",
           "--interpreter", str(INTERPRETERS[".py"]), str(FIXTURE)]
    proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    listen = next(line for line in lines if "listen(" in line)
    assert listen.endswith(") = 0 [LISTEN]")
    assert any(re.search(r"recvfrom\(.*\) = 0 \[CLOSE_WAIT\]$", line) for line in lines)
    waits = [line for line in lines if line.endswith("[TIME_WAIT]") or line.endswith("[TIME_WAIT] ---")]
    assert waits, "TIME_WAIT is shown for the connection closed first"
    assert proc.stderr == "", "a TCP program gets no notice"


def test_without_states_nothing_changes(tmp_path: Path) -> None:
    trace, status = run_sctrace(FIXTURE, tmp_path / "t.jsonl")
    assert status == 0
    assert "tcp_states" not in trace.header.extra
    assert not any("tcp_state" in e.info for e in trace.events)
    assert not any(e.type == "state" for e in trace.events)


# -- the seed servers, driven by compare's peer, each in its own namespace --------------------------

@pytest.mark.parametrize("name", ["server1.py", "server1.php"])
def test_seed_server_states_with_compare_peer(name: str) -> None:
    program = SEED / name
    if INTERPRETERS[program.suffix] is None:
        pytest.skip(f"no interpreter for {program.suffix} here (scripts/setup.sh installs php-cli)")
    from sctrace.kernel import netns

    if not netns.available():
        pytest.skip("no network namespace can be made here, and server1 needs its fixed port 1234 free")
    code = (
        "import json, sys\n"
        "from sctrace.peer.driver import DriveOptions, Driver\n"
        "from sctrace.backends.run import trace_program\n"
        "from sctrace.backends.ptrace.tracer import TraceOptions\n"
        "r = trace_program(sys.argv[1], [], options=TraceOptions(netns=True, states=True),\n"
        "                  observer=Driver(DriveOptions()), timeout=30, want_version=False)\n"
        "print(json.dumps({'status': r.status, 'notices': r.notices,\n"
        "                  'events': [e.to_json() for e in r.trace.events]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(program)], cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    assert result["status"] == 0 and result["notices"] == []
    trace = Trace(Trace.parse(['{"type": "header", "schema": 1, "argv": []}']).header,
                  [Event.from_json(e) for e in result["events"]])
    assert state_of(trace, "listen") == "LISTEN"
    accept = next(e for e in trace.events if e.name in ("accept", "accept4"))
    assert accept.info.get("tcp_state") == "ESTABLISHED"
    conn = accept.ret_endpoint
    assert conn
    closes = {e.endpoint: e.info.get("tcp_state") for e in trace.events if e.name == "close"}
    assert closes["TCP:[0.0.0.0:1234]"] == "CLOSED"
    assert closes[conn] in ACTIVE_CLOSE  # server1 closes first: the active side
    assert final_state(trace, conn) == "TIME_WAIT"


# -- no TCP at all ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["udp_echo.py", "unix_stream.py"])
def test_no_tcp_is_said_once(name: str, tmp_path: Path) -> None:
    fixture = ROOT / "fixtures" / "trace" / name
    out = tmp_path / "t.jsonl"
    cmd = [*NETNS, sys.executable, "-m", "sctrace", "trace", "--states", "-f", "jsonl", "-o", str(out),
           "--interpreter", str(INTERPRETERS[".py"]), str(fixture)]
    proc = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [f"sctrace: {NO_TCP_NOTICE}"]
    trace = Trace.load(out)
    assert len(list(trace.syscalls())) > 5, "the program ran and was traced on"
    assert not any("tcp_state" in e.info for e in trace.events)


# -- no namespace, or no permission for one -----------------------------------------------------------

def _without_sys_admin(*cmd: str) -> subprocess.CompletedProcess[str]:
    """Run cmd as root without CAP_SYS_ADMIN: it may neither make nor enter a network namespace."""
    assert SETPRIV is not None
    return subprocess.run([SETPRIV, "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", *cmd], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(SETPRIV is None, reason="setpriv (util-linux) is not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="dropping CAP_SYS_ADMIN needs root to begin with")
def test_no_namespace_fallback_reads_the_hosts_states() -> None:
    """A namespace cannot be made: the program shares sctrace's loopback, and states are read there."""
    code = (
        "import json, sys\n"
        "from sctrace.backends.run import trace_program\n"
        "from sctrace.backends.ptrace.tracer import TraceOptions\n"
        "r = trace_program(sys.argv[1], [], options=TraceOptions(netns=True, states=True), want_version=False)\n"
        "print(json.dumps({'status': r.status, 'notices': r.notices,\n"
        "                  'states': [e.info.get('tcp_state') for e in r.trace.events if e.name == 'listen']}))\n"
    )
    proc = _without_sys_admin(sys.executable, "-c", code, str(FIXTURE))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["status"] == 0
    assert len(result["notices"]) == 1 and result["notices"][0].startswith("no network namespace")
    assert result["states"] == ["LISTEN"]


@pytest.mark.skipif(SETPRIV is None or UNSHARE is None, reason="setpriv and unshare (util-linux) are needed")
@pytest.mark.skipif(os.geteuid() != 0, reason="making a namespace to be refused needs root")
def test_no_permission_for_the_namespace_is_one_notice() -> None:
    """sock_diag must be asked inside the program's namespace; entering it is refused without CAP_SYS_ADMIN."""
    assert UNSHARE is not None
    holder = subprocess.Popen([UNSHARE, "-n", "sleep", "30"], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{holder.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline, "unshare -n did not make a namespace"
            time.sleep(0.01)
        code = ("import sys\nfrom sctrace.kernel.tcpstates import TcpStates\n"
                "print(TcpStates().attach(int(sys.argv[1])))\n")
        proc = _without_sys_admin(sys.executable, "-c", code, str(holder.pid))
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 0, proc.stderr
    notice = proc.stdout.strip()
    assert notice.startswith("--states: cannot read TCP states in the program's network namespace (")
    assert "Operation not permitted" in notice and "goes on without states" in notice
    assert TcpStates().attach(os.getpid()) is None  # with the privilege (our own namespace), no notice


# -- compare: states shown in every format, never a difference ------------------------------------------

def _trace_to_file(program: Path, out: Path) -> None:
    """Trace program with --states into a saved trace, through the library (in a process of its own)."""
    code = (
        "import sys\n"
        "from sctrace.backends.run import trace_program\n"
        "from sctrace.backends.ptrace.tracer import TraceOptions\n"
        "r = trace_program(sys.argv[1], [], options=TraceOptions(states=True), want_version=False)\n"
        "r.trace.save(sys.argv[2])\n"
        "sys.exit(r.status)\n"
    )
    proc = subprocess.run([*NETNS, sys.executable, "-c", code, str(program), str(out)], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_compare_shows_states_and_never_differs_by_them(tmp_path: Path) -> None:
    from sctrace.compare.align import summarize
    from sctrace.compare.run import compare
    from sctrace.peer.driver import DriveOptions
    from sctrace.render import COMPARE_RENDERERS, Terminal

    left, right = tmp_path / "left.jsonl", tmp_path / "right.jsonl"
    _trace_to_file(FIXTURE, left)
    _trace_to_file(FIXTURE, right)
    # The right side's connect returned before the handshake was done: a race, not a difference.
    trace = Trace.load(right)
    connect = next(e for e in trace.events if e.name == "connect")
    connect.info["tcp_state"] = "SYN_SENT"
    trace.save(right)

    comparison = compare(str(left), str(right), level="semantic", drive=DriveOptions())
    assert comparison.equivalent
    row = next(r for r in comparison.rows if r.left is not None and r.left.name == "connect")
    assert row.verdict == "same"
    outputs = {}
    for fmt in ("text", "json", "markdown"):
        out = io.StringIO()
        COMPARE_RENDERERS[fmt](comparison, summarize(comparison), out, Terminal(width=400))
        outputs[fmt] = out.getvalue()
    text_row = next(line for line in outputs["text"].splitlines() if "connect(" in line)
    assert "= 0 [ESTABLISHED]" in text_row and "= 0 [SYN_SENT]" in text_row
    assert re.search(r"listen\(L1, 1\) = 0 \[LISTEN\]", outputs["text"])
    assert "listen(L1, 1) = 0 \\[LISTEN\\]" in outputs["markdown"]  # Markdown-escaped, shown as [LISTEN]
    assert "\\[CLOSE\\_WAIT\\]" in outputs["markdown"]
    rows = json.loads(outputs["json"])["rows"]
    connect_row = next(r for r in rows if r["left"] and r["left"]["name"] == "connect")
    assert (connect_row["left"]["tcp_state"], connect_row["right"]["tcp_state"]) == ("ESTABLISHED", "SYN_SENT")
    assert connect_row["verdict"] == "same"


def test_a_saved_state_is_escaped_in_text() -> None:
    """A trace file is input: a state with a terminal escape in it stays inert."""
    from sctrace.model.notation import format_event

    ev = Event("syscall", 0, 1, 0.0, "listen", {"fd": 3, "backlog": 1}, 0, fd=3, endpoint="TCP:[1]",
               info={"tcp_state": "LISTEN\x1b[2J"})
    line = format_event(ev)
    assert "\x1b" not in line and line.endswith("= 0 [LISTEN\\x1b[2J]")
    state = Event("state", 1, 1, 0.0, info={"endpoint": "TCP:[1.2.3.4:1->5.6.7.8:2]", "tcp_state": "TIME_WAIT"})
    assert format_event(state) == "[pid 1] --- TCP:[1.2.3.4:1->5.6.7.8:2] [TIME_WAIT] ---"


def _drive_has_states() -> bool:
    from dataclasses import fields

    from sctrace.peer.driver import DriveOptions

    return "states" in {f.name for f in fields(DriveOptions)}


@pytest.mark.skipif(not _drive_has_states(), reason="compare passes --states on through DriveOptions.states, "
                    "which sctrace/peer/driver.py does not have yet")
def test_compare_runs_both_seed_servers_with_states() -> None:
    from sctrace.compare.run import compare
    from sctrace.kernel import netns
    from sctrace.peer.driver import DriveOptions

    if INTERPRETERS[".php"] is None:
        pytest.skip("php is not installed (scripts/setup.sh installs php-cli)")
    if not netns.available():
        pytest.skip("no network namespace can be made here, and both servers need port 1234")
    drive = DriveOptions(states=True)  # type: ignore[call-arg,unused-ignore]
    comparison = compare(str(SEED / "server1.php"), str(SEED / "server1.py"), level="semantic", drive=drive)
    assert comparison.equivalent
    for side in ("left", "right"):
        steps = [getattr(r, side) for r in comparison.rows if getattr(r, side) is not None]
        states = {s.name: s.event.info.get("tcp_state") for s in steps}
        assert states["listen"] == "LISTEN" and states["accept"] == "ESTABLISHED"
