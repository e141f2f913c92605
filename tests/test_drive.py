"""The peer sctrace gives a traced program: real programs, real ptrace, in a network namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from sctrace.backends.ptrace.tracer import TraceOptions
from sctrace.backends.recording import TraceResult
from sctrace.backends.run import trace_program
from sctrace.kernel import netns
from sctrace.peer.driver import DriveOptions, Driver
from tests.helpers import PYTHON, TRACE_FIXTURES

NETNS = netns.available()

SERVER = """
import socket
s = socket.socket(); s.bind(("0.0.0.0", 1234)); s.listen(5)
c, _ = s.accept(); data = c.recv(128); c.send(b"hi:" + data); s.close(); c.close()
"""
FOREVER = """
import socket
s = socket.socket(); s.bind(("127.0.0.1", 23333)); s.listen()
while True:
    c, _ = s.accept(); m = c.recv(1024); c.sendall(b"you said " + m); c.close()
"""
CLIENT = """
import socket, sys
c = socket.create_connection(("127.0.0.1", 1234)); c.send(b"clien"); got = c.recv(128); c.close()
sys.exit(0 if got == b"hi" else 3)
"""
UDP_SERVER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 23334))
while True:
    m, a = s.recvfrom(1024); s.sendto(b"echo " + m, a)
"""
UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"hello, I am A", ("127.0.0.1", 23334)); m, _ = s.recvfrom(1024); s.close()
sys.exit(0 if m == b"hi" else 3)
"""
SLEEPER = "import time\ntime.sleep(30)\n"


def drive(tmp_path: Path, source: str, **opts: float) -> tuple[TraceResult, Driver]:
    program = tmp_path / "prog.py"
    program.write_text(source)
    driver = Driver(DriveOptions(timeout=opts.get("timeout", 10.0)))
    result = trace_program(str(program), [], options=TraceOptions(netns=NETNS), interpreter=PYTHON,
                           observer=driver, timeout=30)
    return result, driver


def test_a_server_gets_a_client(tmp_path: Path) -> None:
    result, driver = drive(tmp_path, SERVER)
    assert result.status == 0
    ex = driver.exchange
    assert (ex.role, ex.sent, ex.received, ex.stopped) == ("server", b"hello\n", b"hi:hello\n", False)


def test_a_server_that_never_exits_is_stopped_after_the_exchange(tmp_path: Path) -> None:
    result, driver = drive(tmp_path, FOREVER)
    assert driver.exchange.received == b"you said hello\n"
    assert driver.exchange.stopped
    killed = [ev for ev in result.trace.events if ev.type == "killed"]
    assert killed and killed[-1].info["by"] == "sctrace" and killed[-1].info["signal"] == "SIGTERM"
    assert [ev.name for ev in result.trace.syscalls()].count("accept4") == 2  # served one, then waited again


def test_a_client_gets_a_server(tmp_path: Path) -> None:
    result, driver = drive(tmp_path, CLIENT)
    assert result.status == 0  # the client checked that it got "hi"
    assert (driver.exchange.role, driver.exchange.received, driver.exchange.sent) == ("client", b"clien", b"hi")


def test_udp_server_and_client(tmp_path: Path) -> None:
    _, driver = drive(tmp_path, UDP_SERVER)
    assert (driver.exchange.role, driver.exchange.received, driver.exchange.stopped) == (
        "udp-server", b"echo hello\n", True)
    result, driver = drive(tmp_path, UDP_CLIENT)
    assert result.status == 0
    assert (driver.exchange.role, driver.exchange.received) == ("udp-client", b"hello, I am A")


def test_a_program_with_both_ends_needs_no_peer(tmp_path: Path) -> None:
    source = (TRACE_FIXTURES / "tcp4_echo.py").read_text()
    result, driver = drive(tmp_path, source)
    assert result.status == 0
    assert driver.exchange.role == "self" and driver.exchange.sent == b""


def test_a_program_that_neither_listens_nor_connects(tmp_path: Path) -> None:
    result, driver = drive(tmp_path, SLEEPER, timeout=0.5)
    assert driver.exchange.error is not None and "neither listened nor connected" in driver.exchange.error
    assert any(ev.type == "killed" for ev in result.trace.events)


@pytest.mark.skipif(not NETNS, reason="network namespaces cannot be made here")
def test_fixed_ports_never_collide_in_namespaces(tmp_path: Path) -> None:
    """The same fixed port twice in a row: no EADDRINUSE from the first run's TIME_WAIT."""
    for _ in range(2):
        result, driver = drive(tmp_path, SERVER)
        assert result.status == 0 and driver.exchange.received == b"hi:hello\n"
