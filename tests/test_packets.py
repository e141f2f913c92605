"""--packets and --pcap: real loopback traffic of real programs, checked against tcpdump reading the same pcap."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sctrace.backends.ptrace.tracer import TraceOptions
from sctrace.backends.recording import TraceResult
from sctrace.backends.run import trace_program
from sctrace.kernel import netns
from sctrace.kernel.packets import TcpNumbering, decode_frame
from sctrace.kernel.pcap import MAGIC_NANOSECONDS
from sctrace.model.trace import Event, Trace
from sctrace.peer.driver import DriveOptions, Driver
from sctrace.status import ExitStatus
from tests.helpers import PYTHON, ROOT, TRACE_FIXTURES, needs

TCPDUMP = shutil.which("tcpdump")
SETPRIV = shutil.which("setpriv")
NETNS = netns.available()


def _can_capture() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)).close()
    except OSError:
        return False
    return True


CAPTURE = _can_capture()
needs_capture = pytest.mark.skipif(not CAPTURE, reason="no CAP_NET_RAW here: a packet socket cannot be opened")
needs_tcpdump = needs("tcpdump", "tcpdump")
needs_netns = pytest.mark.skipif(not NETNS, reason="this user may not make a network namespace")


def tcpdump_lines(pcap: Path) -> list[str]:
    """What tcpdump 4.99 prints for the file, without the time stamps (-t) and names (-n)."""
    assert TCPDUMP is not None
    done = subprocess.run([TCPDUMP, "-r", str(pcap), "-n", "-t"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def trace_fixture(name: str, pcap: Path | None = None) -> TraceResult:
    options = TraceOptions(packets=True, pcap=None if pcap is None else str(pcap), netns=True)
    interpreter = PYTHON if name.endswith(".py") else None
    return trace_program(str(TRACE_FIXTURES / name), [], options=options, interpreter=interpreter, timeout=30)


def packets(events: list[Event]) -> list[Event]:
    return [ev for ev in events if ev.type == "packet"]


def index_of(events: list[Event], name: str, nth: int = 0) -> int:
    return [i for i, ev in enumerate(events) if ev.type == "syscall" and ev.name == name][nth]


# -- real traffic ---------------------------------------------------------------------------------------


@needs_capture
@needs_tcpdump
@needs_netns
@pytest.mark.parametrize("fixture", ["tcp4_echo.py", "tcp6_echo.py", "udp_echo.py", "refused.py", "fork_connect.py",
                                     "tcp4_echo.php", "tcp6_echo.php", "udp_echo.js", "tcp4_echo.pl"])
def test_packets_read_as_tcpdump_reads_the_pcap(tmp_path: Path, fixture: str) -> None:
    interpreter = {".php": "php", ".js": "node", ".pl": "perl"}.get(Path(fixture).suffix)
    if interpreter is not None and shutil.which(interpreter) is None:
        pytest.skip(f"{interpreter} is not installed (scripts/setup.sh installs it)")
    pcap = tmp_path / "run.pcap"
    result = trace_fixture(fixture, pcap)
    assert result.status == 0
    seen = packets(result.trace.events)
    assert seen, "no packet captured"
    assert [ev.info["summary"] for ev in seen] == tcpdump_lines(pcap)
    assert result.trace.header.extra.get("packets") is True
    assert [ev.seq for ev in result.trace.events] == list(range(len(result.trace.events)))
    assert result.notices == []


# Run in a fresh network namespace of its own: tcpdump -i lo first, then the traced program in the same
# namespace, so that tcpdump's own capture of the traffic is the reference.
LIVE_TCPDUMP = """
import json, subprocess, sys
from sctrace.kernel import netns
from sctrace.backends.run import trace_program
from sctrace.backends.ptrace.tracer import TraceOptions
tcpdump, ref, program, interpreter = sys.argv[1:5]
assert netns.enter_new() == 0
dump = subprocess.Popen([tcpdump, "-i", "lo", "-n", "--immediate-mode", "-U", "-w", ref],
                        stderr=subprocess.PIPE, text=True)
assert "listening on lo" in dump.stderr.readline()  # tcpdump says so once it captures
result = trace_program(program, [], options=TraceOptions(packets=True), interpreter=interpreter, timeout=30)
dump.send_signal(2)  # SIGINT: tcpdump writes what it has and ends
dump.wait()
print(json.dumps({"status": result.status, "notices": result.notices,
                  "summaries": [ev.info["summary"] for ev in result.trace.events if ev.type == "packet"]}))
"""


@needs_capture
@needs_tcpdump
@needs_netns
def test_packets_match_tcpdump_capturing_the_same_loopback(tmp_path: Path) -> None:
    assert TCPDUMP is not None
    ref = tmp_path / "tcpdump.pcap"
    done = subprocess.run([sys.executable, "-c", LIVE_TCPDUMP, TCPDUMP, str(ref),
                           str(TRACE_FIXTURES / "tcp4_echo.py"), PYTHON],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.splitlines()[-1])
    assert got["status"] == 0 and got["notices"] == []
    expected = tcpdump_lines(ref)
    assert len(expected) == 10  # handshake 3, data and ack twice 4, FIN exchange 3
    assert got["summaries"] == expected


# Datagrams nobody receives (answered by ICMP port unreachable) and pings, over IPv4 and IPv6.
ICMP_PROGRAM = """
import socket
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.connect((addr, 9)); s.send(b"x")
    try:
        s.recv(10)
    except ConnectionRefusedError:
        pass
    s.close()
for fam, proto, addr, kind in ((socket.AF_INET, socket.IPPROTO_ICMP, "127.0.0.1", 8),
                               (socket.AF_INET6, socket.IPPROTO_ICMPV6, "::1", 128)):
    s = socket.socket(fam, socket.SOCK_RAW, proto)
    msg = bytes([kind, 0, 0, 0, 0, 7, 0, 1]) + b"abcdefgh"
    if fam == socket.AF_INET:  # the kernel computes ICMPv6's checksum, not ICMP's
        c = sum(int.from_bytes(msg[i:i + 2], "big") for i in range(0, len(msg), 2))
        c = ~((c & 0xFFFF) + (c >> 16)) & 0xFFFF
        msg = msg[:2] + c.to_bytes(2, "big") + msg[4:]
    s.sendto(msg, (addr, 0)); s.settimeout(5); s.recv(100); s.recv(100); s.close()
"""


@needs_capture
@needs_tcpdump
@needs_netns
def test_icmp_unreachable_and_echo_read_as_tcpdump_reads_them(tmp_path: Path) -> None:
    program, pcap = tmp_path / "icmp.py", tmp_path / "icmp.pcap"
    program.write_text(ICMP_PROGRAM)
    result = trace_program(str(program), [], options=TraceOptions(packets=True, pcap=str(pcap), netns=True),
                           interpreter=PYTHON, timeout=30)
    assert result.status == 0
    shown = [ev.info["summary"] for ev in packets(result.trace.events)]
    assert shown == tcpdump_lines(pcap)
    assert "IP 127.0.0.1 > 127.0.0.1: ICMP 127.0.0.1 udp port 9 unreachable, length 37" in shown
    assert "IP6 ::1 > ::1: ICMP6, echo reply, id 7, seq 1, length 16" in shown


@needs_capture
@needs_netns
def test_tcp_handshake_during_connect_and_fin_around_close() -> None:
    result = trace_fixture("tcp4_echo.py")
    events = result.trace.events
    seen = packets(events)
    flags = [ev.info["flags"] for ev in seen]
    assert flags[:3] == ["S", "S.", "."], flags
    connect, accept = index_of(events, "connect"), index_of(events, "accept4")
    handshake = [events.index(ev) for ev in seen[:3]]
    # A call is recorded when it returns: the handshake is recorded before connect's return...
    assert all(i < connect for i in handshake)
    # ... and its times fall between connect's entry and accept's return.
    assert all(events[connect].t < ev.t < events[accept].t for ev in seen[:3])
    syn = seen[0].info
    assert (syn["proto"], syn["family"], syn["src"], syn["dst"]) == ("TCP", "IPv4", "127.0.0.1", "127.0.0.1")
    assert syn["dport"] == events[connect].args["addr"]["port"]
    assert syn["tcp_seq"] == syn["seq_abs"] and "tcp_ack" not in syn and syn["length"] == 0
    assert "mss 65495" in syn["options"] and syn["win"] > 0
    # Wireshark's numbering, each direction from its own SYN (the "seq 0")
    assert [(ev.info["rel_seq"], ev.info.get("rel_ack")) for ev in seen[:3]] == [(0, None), (0, 1), (1, 1)]
    data = next(ev.info for ev in seen if ev.info["length"] == 6)
    assert (data["rel_seq"], data["rel_ack"]) == (1, 1)
    assert (data["tcp_seq"], data["tcp_seq_end"], data["tcp_ack"], data["flags"]) == (1, 7, 1, "P.")
    fins = [events.index(ev) for ev in seen if "F" in ev.info["flags"]]
    assert len(fins) == 2
    for i in fins:  # each FIN is sent during a close: the next call recorded is that close
        following = next(ev for ev in events[i:] if ev.type == "syscall")
        assert following.name == "close"
    last_ack = seen[-1].info
    assert last_ack["flags"] == "." and last_ack["length"] == 0
    for ev in seen:
        assert ev.pid == 0 and isinstance(ev.info["time"], float)


@needs_capture
@needs_netns
def test_seed_server1_driven_by_the_peer() -> None:
    """The seed server, its client being sctrace's peer: handshake before accept returns, FIN at close."""
    driver = Driver(DriveOptions(timeout=10.0))
    result = trace_program(str(ROOT / "fixtures" / "seed" / "server1.py"), [], interpreter=PYTHON,
                           options=TraceOptions(netns=True, packets=True), observer=driver, timeout=30)
    assert result.status == 0 and driver.exchange.received == b"hi"
    events = result.trace.events
    seen = packets(events)
    assert [ev.info["flags"] for ev in seen[:3]] == ["S", "S.", "."]
    assert seen[0].info["dport"] == 1234 and seen[1].info["sport"] == 1234
    accept = index_of(events, "accept4")
    assert all(events.index(ev) < accept for ev in seen[:3])
    hello = next(ev for ev in seen if ev.info["dport"] == 1234 and ev.info["length"] == 6)
    assert events.index(hello) < index_of(events, "recvfrom")
    server_fin = next(ev for ev in seen if ev.info["sport"] == 1234 and "F" in ev.info["flags"])
    following = next(ev for ev in events[events.index(server_fin):] if ev.type == "syscall")
    assert following.name == "close" and following.endpoint and "->" in following.endpoint
    assert any(ev.info["dport"] == 1234 and "F" in ev.info["flags"] for ev in seen)  # the peer's FIN too


@needs_capture
@needs_tcpdump
def test_cli_text_interleaves_packets_and_pcap_reads_back(tmp_path: Path) -> None:
    pcap, out = tmp_path / "cli.pcap", tmp_path / "trace.txt"
    done = subprocess.run(
        [sys.executable, "-m", "sctrace", "trace", "--packets", "--pcap", str(pcap), "-o", str(out),
         "--interpreter", PYTHON, str(TRACE_FIXTURES / "tcp4_echo.py")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    shown = [line[4:] for line in lines if line.startswith("  > ")]
    assert shown == tcpdump_lines(pcap)
    connect = next(i for i, line in enumerate(lines) if "connect(" in line)
    assert lines[connect - 3].startswith("  > IP 127.0.0.1.") and "Flags [S]" in lines[connect - 3]
    assert "Flags [S.]" in lines[connect - 2] and "Flags [.], ack 1," in lines[connect - 1]
    with open(pcap, "rb") as f:
        magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack("=IHHiIII", f.read(24))
    assert (magic, major, minor, snaplen, linktype) == (MAGIC_NANOSECONDS, 2, 4, 262144, 1)


@needs_capture
def test_cli_jsonl_packet_records_load_back(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "sctrace", "trace", "--packets", "-f", "jsonl", "-o", str(out),
         "--interpreter", PYTHON, str(TRACE_FIXTURES / "tcp4_echo.py")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    raw = [r for r in records if r["type"] == "packet"]
    assert len(raw) >= 9
    for key in ("t", "time", "src", "dst", "sport", "dport", "flags", "win", "length", "summary", "options"):
        assert key in raw[0], key
    assert raw[0]["seq"] == records.index(raw[0]) - 1  # seq is the event's place in the file, not TCP's
    loaded = Trace.load(out)
    again = packets(loaded.events)
    assert [ev.info["summary"] for ev in again] == [r["summary"] for r in raw]
    assert again[0].info["flags"] == "S" and again[0].t == raw[0]["t"]


# -- without the privilege, and bad input ---------------------------------------------------------------


@needs_netns
@pytest.mark.skipif(SETPRIV is None, reason="setpriv (util-linux) is not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="dropping CAP_NET_RAW is tested as root")
def test_without_cap_net_raw_says_so_once_and_goes_on(tmp_path: Path) -> None:
    assert SETPRIV is not None
    pcap = tmp_path / "none.pcap"
    done = subprocess.run(
        [SETPRIV, "--inh-caps=-net_raw", "--bounding-set=-net_raw", sys.executable, "-m", "sctrace", "trace",
         "--packets", "--pcap", str(pcap), "-f", "jsonl", "-o", str(tmp_path / "t.jsonl"),
         "--interpreter", PYTHON, str(TRACE_FIXTURES / "tcp4_echo.py")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stderr.splitlines() if "capture" in line]
    assert len(notices) == 1, done.stderr
    assert notices[0].startswith("sctrace: cannot capture packets") and "CAP_NET_RAW" in notices[0]
    assert "going on without packets" in notices[0] and "Traceback" not in done.stderr
    trace = Trace.load(tmp_path / "t.jsonl")
    assert packets(trace.events) == [] and trace.header.extra.get("packets") is False
    assert "connect" in [ev.name for ev in trace.syscalls()]  # the trace went on


@needs_capture
@pytest.mark.skipif(SETPRIV is None, reason="setpriv (util-linux) is not installed")
@pytest.mark.skipif(os.geteuid() != 0, reason="dropping CAP_SYS_ADMIN is tested as root")
def test_without_a_namespace_packets_come_from_the_hosts_loopback_with_a_notice(tmp_path: Path) -> None:
    assert SETPRIV is not None
    done = subprocess.run(
        [SETPRIV, "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", sys.executable, "-m", "sctrace", "trace",
         "--packets", "-f", "jsonl", "-o", str(tmp_path / "t.jsonl"), "--interpreter", PYTHON,
         str(TRACE_FIXTURES / "tcp4_echo.py")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len([line for line in lines if line.startswith("sctrace: no network namespace")]) == 1, done.stderr
    assert lines.count("sctrace: packets are captured on the host's loopback: other programs' traffic there is "
                       "mixed in") == 1, done.stderr
    trace = Trace.load(tmp_path / "t.jsonl")
    port = next(ev.args["addr"]["port"] for ev in trace.syscalls() if ev.name == "connect")
    mine = [ev.info["flags"] for ev in packets(trace.events) if port in (ev.info.get("sport"), ev.info.get("dport"))]
    assert mine[:3] == ["S", "S.", "."] and mine.count("F.") == 2


def test_unwritable_pcap_is_one_line_and_status_73(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "x.pcap"
    done = subprocess.run(
        [sys.executable, "-m", "sctrace", "trace", "--pcap", str(target), "--interpreter", PYTHON,
         str(TRACE_FIXTURES / "tcp4_echo.py")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == ExitStatus.CANNOT_WRITE and ExitStatus.CANNOT_WRITE.value == 73
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sctrace: error: cannot write the pcap file") and "--pcap" in lines[0]
    assert not target.exists()


# -- the decoder alone: pure functions on hand-made values -------------------------------------------------


def test_relative_numbers_follow_tcpdump_for_the_reverse_direction() -> None:
    """tcpdump keys a conversation by the lower port first; the higher port's side subtracts the other ISN."""
    numbering = TcpNumbering()
    a, b = socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1")
    # SYN-ACK from the high port: recorded, printed absolute
    assert numbering.relative(a, b, 50000, 80, 0x12, 1000, 501)[:2] == (1000, 501)
    # the low port's ACK: relative to what the SYN-ACK recorded
    assert numbering.relative(b, a, 80, 50000, 0x10, 501, 1001)[:2] == (1, 1)
    assert numbering.relative(a, b, 50000, 80, 0x18, 1001, 511)[:2] == (1, 11)
    # a SYN without ACK is never made relative
    assert numbering.relative(a, b, 50001, 80, 0x02, 77, 0)[:2] == (77, 0)


def test_a_frame_that_is_not_ip_degrades() -> None:
    frame = bytes(12) + b"\x08\x06" + bytes(28)  # ARP
    packet = decode_frame(frame, TcpNumbering())
    assert packet.summary == "ethertype 0x0806, length 42"
    assert decode_frame(b"\x00" * 5, TcpNumbering()).summary == "[|ether] length 5"


def test_a_packet_line_from_a_saved_trace_cannot_reach_the_terminal_as_an_escape() -> None:
    from sctrace.model.notation import format_event

    ev = Event("packet", 3, 0, 0.5, info={"summary": "IP 1.2.3.4 > 5.6.7.8: \x1b[2J\x07evil"})
    line = format_event(ev)
    assert line.startswith("  > IP 1.2.3.4 > 5.6.7.8: ")
    assert "\x1b" not in line and "\x07" not in line
