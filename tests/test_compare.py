"""`sctrace compare` end to end: real programs driven by their peers, real ptrace, the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PYTHON, ROOT, SEED, needs_php, needs_strace, sctrace


def compare(*args: str, timeout: float = 90) -> tuple[int, Any, str]:
    proc = sctrace("compare", "--format", "json", *args, timeout=timeout, no_traceback=True)
    data = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, data, proc.stderr


def verdicts(data: Any) -> list[str]:
    return [row["verdict"] for row in data["rows"]]


def names(data: Any, side: str) -> list[str]:
    return [row[side]["name"] for row in data["rows"] if row[side] is not None]


# Twin pairs from the seed documents and the verdicts a test states for each.
@needs_php
@pytest.mark.parametrize(
    ("left", "right", "status", "must_have"),
    [
        ("server1.php", "server1.py", 0, {"equivalent", "same", "info"}),
        ("client1.php", "client1.py", 0, {"same"}),
        ("tcpserver.php", "tcpserver.py", 0, {"equivalent"}),
        ("tcpclient.php", "tcpclient.py", 0, {"same"}),
        ("udpserver.php", "udpserver.py", 0, {"same"}),
        ("udpclient.php", "udpclient.py", 0, {"same"}),
        ("lineserver.php", "lineserver.py", 0, {"equivalent"}),
    ],
)
def test_seed_twins(left: str, right: str, status: int, must_have: set[str]) -> None:
    code, data, err = compare(str(SEED / left), str(SEED / right))
    assert code == status, (err, json.dumps(data, indent=1)[:3000])
    assert data["equivalent"] is (status == 0)
    assert must_have <= set(verdicts(data)), verdicts(data)
    assert data["left"]["language"] == "php" and data["right"]["language"] == "python"


@needs_php
def test_seed_twins_where_python_looks_up_its_user() -> None:
    # Without HOME and SHELL (as under some CI runners and service managers) Python's start-up looks up its
    # user, and so does every shell a launcher starts (a pyenv shim for python3 starts a dozen): glibc asks
    # nscd first, socket, connect to /var/run/nscd/socket, close, before the program runs.
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "SHELL")}
    args = [str(SEED / "client1.php"), str(SEED / "client1.py")]
    proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", "--format", "json", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    folded = data["right"]["name_service_calls"]
    if not folded:
        pytest.skip("this machine's C library made no name-service lookup for Python without HOME and SHELL")
    assert proc.returncode == 0, (proc.stderr, [(r["verdict"], r["left"], r["right"]) for r in data["rows"]])
    assert data["left"]["name_service_calls"] == 0
    # Counted, not shown: no row is about an N socket, and the summary says how many calls were left out.
    assert not [row for row in data["rows"] for side in ("left_step", "right_step")
                if row[side] is not None and re.search(r"\bN\d+\b", row[side]["text"])]
    assert set(verdicts(data)) <= {"same", "equivalent", "info"}
    calls = f"{folded} name-service call{'' if folded == 1 else 's'}"
    assert f"({calls} by the C library in client1.py, not shown)" in data["summary"]["text"]
    # At level stable they are rows, on sockets N1, N2, ... that shift no other role.
    proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", "--format", "json", "--level", "stable",
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)
    data = json.loads(proc.stdout)
    assert data["right"]["name_service_calls"] == 0
    texts = [row["right_step"]["text"] for row in data["rows"] if row["right_step"] is not None]
    assert any(text.startswith("connect(N1, ") for text in texts), texts
    assert any(text.startswith("connect(C1, ") for text in texts), texts


def test_identical_programs_are_all_same() -> None:
    code, data, _ = compare(str(SEED / "server1.py"), str(SEED / "server1.py"))
    assert code == 0
    assert set(verdicts(data)) == {"same"}
    assert data["summary"]["counts"]["same"] == len(data["rows"]) > 5


def test_a_forever_server_is_stopped_and_that_is_no_difference() -> None:
    code, data, _ = compare(str(SEED / "tcpserver.py"), str(SEED / "tcpserver.py"))
    assert code == 0
    assert data["left"]["exit"]["by"] == "sctrace"


def leftovers(*programs: Path) -> list[str]:
    """Processes still running any of programs (there must be none once compare has returned)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            found += [f"{entry}: {cmdline}" for p in programs if str(p) in cmdline.split("\0")]
    return found


def lane(data: Any, side: str, peer: bool) -> list[str]:
    """The call names one side made in the program's lane (peer=False) or the peer's (peer=True)."""
    return [row[side]["name"] for row in data["rows"]
            if row[side] is not None and row[side].get("lane", "") == ("peer" if peer else "")]


@needs_php
def test_an_explicit_client_is_traced_in_its_own_lane() -> None:
    client = SEED / "client1.py"  # writes "clien" (5 bytes of "client"), reads the reply
    code, data, err = compare(str(SEED / "server1.php"), str(SEED / "server1.py"), "--client", str(client))
    assert code == 0, err
    for side in ("left", "right"):
        assert data[side]["peer"]["program"] == str(client) and data[side]["peer"]["exit"] == {"code": 0}
        assert lane(data, side, peer=True) == ["socket", "connect", "sendto", "recvfrom", "close"]
        assert "listen" in lane(data, side, peer=False)
    peer_rows = [row for row in data["rows"] if (row["left"] or {}).get("lane") == "peer"]
    assert {row["verdict"] for row in peer_rows} == {"same"}
    # The servers received what that client sent, not sctrace's own --send.
    received = [row["left"]["args"]["buf"]["text"] for row in data["rows"]
                if row["left"] is not None and row["left"]["name"] == "recvfrom" and "lane" not in row["left"]]
    assert received == ["clien"]
    assert leftovers(SEED / "server1.php", SEED / "server1.py", client) == []


@needs_php
def test_an_explicit_server_starts_first_and_is_stopped_after() -> None:
    server = SEED / "tcpserver.php"  # serves forever: stopped by sctrace once the client is done
    code, data, err = compare(str(SEED / "tcpclient.php"), str(SEED / "tcpclient.py"), "--server", str(server))
    assert code == 0, err
    for side in ("left", "right"):
        peer = lane(data, side, peer=True)
        assert peer[:3] == ["socket", "bind", "listen"] or peer[:4] == ["socket", "setsockopt", "bind", "listen"]
        assert data[side]["peer"]["exit"].get("by") == "sctrace", data[side]["peer"]
        assert data[side]["exit"] == {"code": 0}
        # The server listened before the client's first call.
        names = [(row[side]["name"], row[side].get("lane")) for row in data["rows"] if row[side] is not None]
        assert names.index(("listen", "peer")) < names.index(("connect", None))
    assert leftovers(SEED / "tcpclient.php", SEED / "tcpclient.py", server) == []


def test_explicit_peer_bad_input_is_one_line_status_2(tmp_path: Path) -> None:
    not_a_server = tmp_path / "quits.py"
    not_a_server.write_text("print('no socket here')\n")
    for args, words in [
        (["--client", str(SEED / "client1.py"), "--server", str(SEED / "server1.py")], "not both"),
        (["--client", str(tmp_path / "missing.py")], "missing.py"),
        (["--server", str(not_a_server)], "ended without listening"),
    ]:
        code, _, err = compare(str(SEED / "client1.py"), str(SEED / "client1.py"), *args)
        lines = [line for line in err.splitlines() if line.startswith("sctrace:")]
        assert code == 2 and len(lines) == 1 and words in lines[0], (args, err)
    assert leftovers(SEED / "client1.py", not_a_server) == []


@needs_php
def test_packets_of_each_side_in_its_trace_and_its_pcap(tmp_path: Path) -> None:
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (scripts/test installs it): it reads the pcap files back")
    pcap = tmp_path / "run.pcap"
    code, data, err = compare(str(SEED / "server1.php"), str(SEED / "server1.py"), "--packets", "--pcap", str(pcap))
    assert code == 0, err
    for side in ("left", "right"):
        # Packets are context, not steps: no row holds one, and the comparison is as without them.
        assert all(row[side] is None or row[side]["type"] == "syscall" for row in data["rows"])
        read = subprocess.run(["tcpdump", "-r", str(tmp_path / f"run.{side}.pcap"), "-n", "-t"], capture_output=True,
                              text=True, timeout=30, check=True).stdout.splitlines()
        assert any("Flags [S]," in line and ".1234:" in line for line in read), read
        assert any("Flags [F." in line for line in read), read
        assert any("length 6" in line for line in read) and any("length 2" in line for line in read), read
    assert not pcap.exists()  # one file a side, named after it


def test_an_unwritable_pcap_is_said_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "no" / "x.pcap"
    code, _, err = compare(str(SEED / "server1.py"), str(SEED / "server1.py"), "--pcap", str(bad))
    lines = [line for line in err.splitlines() if line.startswith("sctrace:")]
    assert code == 73 and len(lines) == 1 and "--pcap FILE" in lines[0], err


@pytest.mark.slow
@needs_php
@needs_strace
def test_the_strace_backend_drives_servers_and_clients_with_a_given_server() -> None:
    code, data, err = compare("--backend", "strace", str(SEED / "server1.php"), str(SEED / "server1.py"))
    assert code == 0, err
    assert data["left"]["exit"] == {"code": 0} and "listen" in names(data, "right")
    # strace shows a connect only once it has failed: nothing can listen there first, and that is said.
    code, _, err = compare("--backend", "strace", str(SEED / "client1.php"), str(SEED / "client1.py"))
    lines = [line for line in err.splitlines() if line.startswith("sctrace:")]
    assert code == 2 and len(lines) == 1 and "--server PROGRAM" in lines[0], err
    code, data, err = compare("--backend", "strace", str(SEED / "client1.php"), str(SEED / "client1.py"),
                              "--server", str(SEED / "server1.py"))
    assert code == 0, err
    assert lane(data, "left", peer=True)[:3] == ["socket", "bind", "listen"]


def test_an_empty_file_is_an_empty_trace_not_a_program(tmp_path: Path) -> None:
    empty = tmp_path / "saved.jsonl"
    empty.write_text("")
    code, _, err = compare(str(empty), str(SEED / "server1.py"))
    lines = [line for line in err.splitlines() if line.startswith("sctrace:")]
    assert code == 2 and len(lines) == 1 and "saved.jsonl, line 1" in lines[0], err


def test_saved_traces_compare_without_running(tmp_path: Path) -> None:
    saved = []
    for i in range(2):
        out = tmp_path / f"t{i}.jsonl"
        subprocess.run([sys.executable, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(out),
                        "--interpreter", PYTHON, str(ROOT / "fixtures" / "trace" / "tcp4_echo.py")],
                       check=True, cwd=ROOT, capture_output=True, timeout=60)
        saved.append(str(out))
    code, data, _ = compare(*saved)
    assert code == 0 and set(verdicts(data)) <= {"same", "equivalent"}


def test_an_invalid_saved_trace_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "header", "schema": 1, "argv": []}\n{"type": "syscall", oops\n')
    code, _, err = compare(str(bad), str(bad))
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("sctrace:")]
    assert len(lines) == 1 and "line 2" in lines[0]


def test_a_program_that_never_listens_or_connects(tmp_path: Path) -> None:
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import time\ntime.sleep(60)\n")
    code, _, err = compare("--timeout", "0.5", str(sleeper), str(SEED / "server1.py"))
    assert code == 2
    assert "sleeper.py" in err and "neither listened nor connected" in err


def test_a_side_that_crashes_mid_exchange_is_a_difference(tmp_path: Path) -> None:
    crasher = tmp_path / "crasher.py"
    crasher.write_text(
        "import os, signal, socket\n"
        "s = socket.socket(); s.bind(('0.0.0.0', 1234)); s.listen(5)\n"
        "c, _ = s.accept(); c.recv(128); os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    code, data, _ = compare(str(SEED / "server1.py"), str(crasher))
    assert code == 1
    assert data["right"]["exit"]["signal"] == "SIGSEGV"


@pytest.mark.slow
def test_payload_bytes_are_escaped_in_every_format(tmp_path: Path) -> None:
    evil = tmp_path / "evil.py"
    evil.write_text(
        "import socket\n"
        "s = socket.socket(); s.bind(('0.0.0.0', 1234)); s.listen(5)\n"
        "c, _ = s.accept(); c.recv(128)\n"
        "c.send(b'\\x1b[2J\\x07<script>x</script>[bold]b[/bold]|`\\xe2\\x80\\xae'); c.close(); s.close()\n"
    )
    for fmt in ("text", "markdown", "json"):
        proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", "--format", fmt, str(evil),
                               str(SEED / "server1.py")], cwd=ROOT, capture_output=True, timeout=90)
        out = proc.stdout
        assert proc.returncode == 1, proc.stderr
        assert b"\x1b" not in out and b"\x07" not in out and "\u202e".encode() not in out, fmt
        if fmt == "markdown":
            assert b"<script>" not in out


def test_rules_are_listed() -> None:
    proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", "--rules"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0
    for rule in ("accept", "read", "write"):
        assert rule in proc.stdout


@pytest.mark.parametrize("bad", ["missing.php", "fixtures", "README.md"], ids=["missing", "directory", "not-a-program"])
def test_bad_input_on_either_side_is_status_2(bad: str) -> None:
    for args in ((bad, str(SEED / "server1.py")), (str(SEED / "server1.py"), bad)):
        code, _, err = compare(*args)
        assert code == 2
        lines = [line for line in err.splitlines() if line.startswith("sctrace:")]
        assert len(lines) == 1 and bad in lines[0], err
