"""`sctrace record` and `sctrace check`: golden traces of real programs, run again and again under real ptrace.

What a golden file is for: the same bytes from every run of an unchanged
program, a check that passes every time on it, a side-by-side difference (as
compare shows it) when the program changes, and one clear line with status 2
for every kind of unusable file.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sctrace.cli.app import run
from sctrace.golden import golden_file as golden
from sctrace.model.trace import Event, Header, Trace
from tests.helpers import GOLDEN, ROOT, needs_php, needs_strace, one_error_line, processes_running, sctrace

# -- stability -------------------------------------------------------------------------------------

@pytest.mark.slow
@needs_php
def test_record_twice_gives_the_same_bytes_and_check_passes_ten_times(tmp_path: Path) -> None:
    first, second = tmp_path / "a.golden", tmp_path / "b.golden"
    for out in (first, second):
        proc = sctrace("record", "fixtures/seed/server1.php", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text()
    assert text.startswith("# sctrace golden trace, format 1, level semantic\n")
    assert "P1 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = L1\n" in text
    assert 'P1 recvfrom(C1, "hello\\n", 128, 0, NULL, NULL) = 6\n' in text
    for _ in range(10):
        proc = sctrace("check", "fixtures/seed/server1.php", str(first))
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout
        assert proc.stdout == f"{first}: matches (semantically equivalent: 8 steps)\n"


@pytest.mark.slow
def test_golden_file_has_nothing_that_changes_between_runs(tmp_path: Path) -> None:
    # A Python server stopped by sctrace after the exchange: pids, descriptors, ports, inodes, timings,
    # the interpreter's version and the stop itself must all come out the same each time.
    out = tmp_path / "tcpserver.golden"
    runs = []
    for _ in range(3):
        proc = sctrace("record", "fixtures/seed/tcpserver.py", "--level", "stable", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        runs.append(out.read_text())
    assert runs[0] == runs[1] == runs[2]
    text = runs[0]
    assert "level stable" in text.splitlines()[0]
    assert '@exit {"by": "sctrace", "reason": "stopped after the exchange", "signal": "SIGTERM"}' in text
    assert "23333" not in text and "PORT1" in text and "EPHEMERAL" in text
    assert str(sys.version_info.major) + "." + str(sys.version_info.minor) not in text.split("P1 ", 1)[0]
    assert all(ord(c) >= 0x20 for line in text.splitlines() for c in line)
    assert processes_running("tcpserver.py") == []
    proc = sctrace("check", "fixtures/seed/tcpserver.py", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert processes_running("tcpserver.py") == []


@pytest.mark.slow
def test_threads_that_race_still_give_one_golden_file(tmp_path: Path) -> None:
    # threaded_server.py's client and handler threads run in the scheduler's order: compare numbers
    # processes as they appear, a golden file by what they do, so the file does not depend on the race.
    program = "fixtures/trace/threaded_server.py"
    texts = []
    for i in range(3):
        out = tmp_path / f"{i}.golden"
        assert sctrace("record", program, "-o", str(out)).returncode == 0
        texts.append(out.read_text())
    assert texts[0] == texts[1] == texts[2]
    clients = [line for line in texts[0].splitlines() if line.endswith('"ack 0", 64, 0, NULL, NULL) = 5')
               or line.endswith('"ack 2", 64, 0, NULL, NULL) = 5')]
    assert [line.split(" ", 1)[0] for line in clients] == ["P6", "P8"]
    for _ in range(3):
        proc = sctrace("check", program, str(tmp_path / "0.golden"))
        assert proc.returncode == 0, proc.stdout


@pytest.mark.slow
def test_check_without_home_still_matches(tmp_path: Path) -> None:
    # Without HOME, Python's start-up may ask the machine's name service (nscd) for its user: the machine's
    # calls, not the program's, so the golden file leaves them out and they cannot fail a check.
    out = tmp_path / "server1.golden"
    assert sctrace("record", "fixtures/seed/server1.py", "-o", str(out)).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "HOME"}
    proc = sctrace("check", "fixtures/seed/server1.py", str(out), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = tmp_path / "again.golden"
    assert sctrace("record", "fixtures/seed/server1.py", "-o", str(again), env=env).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_name_service_lookups_are_left_out() -> None:
    # Hand-built: what glibc does for Python without HOME on a machine with nscd's socket path configured.
    nscd = {"family": "AF_UNIX", "path": "/var/run/nscd/socket"}
    events = [
        Event("syscall", 0, 100, 0.0, "socket", {"domain": "AF_UNIX", "type": "SOCK_STREAM|SOCK_CLOEXEC",
                                                  "protocol": 0}, 3),
        Event("syscall", 1, 100, 0.1, "connect", {"fd": 3, "addr": nscd, "addrlen": 110}, -1, "ENOENT", 3),
        Event("syscall", 2, 100, 0.2, "close", {"fd": 3}, 0, None, 3),
        Event("syscall", 3, 100, 0.3, "socket", {"domain": "AF_INET", "type": "SOCK_STREAM", "protocol": "IPPROTO_IP"},
              3),
        Event("syscall", 4, 100, 0.4, "close", {"fd": 3}, 0, None, 3),
    ]
    steps = golden.steps_of_trace(Trace(Header(argv=["x"], program="x"), events), "semantic")
    assert [s.line() for s in steps] == ["P1 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = S1", "P1 close(S1) = 0"]


# -- differences -----------------------------------------------------------------------------------

@needs_php
def test_a_changed_program_fails_with_the_side_by_side_difference(tmp_path: Path) -> None:
    out = tmp_path / "server1.golden"
    assert sctrace("record", "fixtures/seed/server1.php", "-o", str(out)).returncode == 0
    proc = sctrace("check", "fixtures/seed/tcpserver.php", str(out))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"left:  {out} (php), exited with 0"
    assert lines[1].startswith("right: fixtures/seed/tcpserver.php (php ")
    assert any(line.startswith("≠ P1   bind(L1, {AF_INET, 0.0.0.0:PORT1}, 16) = 0") and
               "bind(L1, {AF_INET, 127.0.0.1:PORT1}, 16) = 0" in line for line in lines), proc.stdout
    assert "addr.address: 0.0.0.0 → 127.0.0.1" in proc.stdout
    assert any(line.startswith("different: ") for line in lines)


@needs_php
def test_a_port_to_another_language_checks_against_the_original(tmp_path: Path) -> None:
    # "Our port must still make the same calls": recorded from PHP, checked on Python at semantic level.
    out = tmp_path / "server1.golden"
    assert sctrace("record", "fixtures/seed/server1.php", "-o", str(out)).returncode == 0
    proc = sctrace("check", "fixtures/seed/server1.py", str(out))
    assert proc.returncode == 0, proc.stdout
    assert "an extra getsockname in server1.py" in proc.stdout  # informational: shown, never a failure


@pytest.mark.slow
def test_arguments_are_kept_and_given_again(tmp_path: Path) -> None:
    out = tmp_path / "pair.golden"
    proc = sctrace("record", "fixtures/golden/pair_echo.py", "-o", str(out), "--", "abc")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert '@args ["abc"]' in text and 'P1 sendto(S1, "abc", 3, 0, NULL, 0) = 3' in text
    assert sctrace("check", "fixtures/golden/pair_echo.py", str(out)).returncode == 0
    # The same program recorded with another argument differs in exactly the payload steps.
    other = golden.load(out)
    other.args = ["abcd"]
    other_file = tmp_path / "other.golden"
    golden.write(other, str(other_file))
    proc = sctrace("check", "fixtures/golden/pair_echo.py", str(other_file))
    assert proc.returncode == 1
    assert "different: 2 steps changed" in proc.stdout


@pytest.mark.slow
@needs_strace
def test_the_strace_backend_records_the_same_golden_file(tmp_path: Path) -> None:
    files = []
    for backend in ("ptrace", "strace"):
        out = tmp_path / f"{backend}.golden"
        proc = sctrace("record", "--backend", backend, "fixtures/seed/server1.py", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        files.append(out.read_bytes())
    assert files[0] == files[1]
    proc = sctrace("check", "--backend", "strace", "fixtures/seed/server1.py", str(tmp_path / "ptrace.golden"))
    assert proc.returncode == 0, proc.stdout


def test_states_are_shown_in_the_file_and_never_compared(tmp_path: Path) -> None:
    out = tmp_path / "states.golden"
    proc = sctrace("record", "--states", "fixtures/seed/server1.py", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    steps = [line for line in out.read_text().splitlines() if line.startswith("P1 ")]
    assert any(line.startswith("P1 listen(") and line.endswith(" [LISTEN]") for line in steps), steps
    assert any(line.startswith("P1 accept4(") and line.endswith(" [ESTABLISHED]") for line in steps), steps
    data = [line for line in out.read_text().splitlines() if line.startswith("    {")]
    assert data and not any("LISTEN" in line or "ESTABLISHED" in line for line in data)  # not compared
    assert sctrace("check", "fixtures/seed/server1.py", str(out)).returncode == 0  # a run without --states


def test_arguments_and_a_peer_together(tmp_path: Path) -> None:
    out = tmp_path / "args_peer.golden"
    server = tmp_path / "echo_server.py"
    server.write_text(
        "import socket, sys\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(1)\n"
        "c, _ = s.accept(); c.sendall(c.recv(64)); c.close(); s.close()\n"
    )
    client = tmp_path / "client.py"
    client.write_text(
        "import socket\n"
        "s = socket.create_connection(('127.0.0.1', 4321)); s.sendall(b'ping'); print(s.recv(64)); s.close()\n"
    )
    proc = sctrace("record", "--client", str(client), str(server), "-o", str(out), "--", "4321")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert '@args ["4321"]' in text and "peer P1 connect(" in text and 'P1 bind(L1, {AF_INET, 127.0.0.1:PORT1}' in text
    assert sctrace("check", str(server), str(out)).returncode == 0


@needs_php
def test_explicit_client_is_recorded_and_used_again(tmp_path: Path) -> None:
    out = tmp_path / "with_client.golden"
    proc = sctrace("record", "fixtures/seed/server1.php", "--client", "fixtures/seed/client1.py", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert '@client "fixtures/seed/client1.py"' in text
    assert "peer P1 connect(" in text and '"clien"' in text
    steps = golden.load(out).steps
    assert [s.proc for s in steps] == sorted((s.proc for s in steps), key=lambda p: p.startswith("peer"))
    proc = sctrace("check", "fixtures/seed/server1.php", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_send_is_kept_and_can_be_overridden(tmp_path: Path) -> None:
    out = tmp_path / "send.golden"
    assert sctrace("record", "fixtures/seed/server1.py", "--send", "ping\\n", "-o", str(out)).returncode == 0
    assert '@send "ping\\n"' in out.read_text() and '"ping\\n"' in out.read_text().split("P1 ", 1)[1]
    assert sctrace("check", "fixtures/seed/server1.py", str(out)).returncode == 0
    proc = sctrace("check", "fixtures/seed/server1.py", str(out), "--send", "pong\\n")
    assert proc.returncode == 1
    assert 'buf.text: ping\\n → pong\\n' in proc.stdout


def test_bytes_from_the_program_stay_escaped(tmp_path: Path) -> None:
    out = tmp_path / "hostile.golden"
    assert sctrace("record", "fixtures/golden/hostile_bytes.py", "-o", str(out)).returncode == 0
    raw = out.read_bytes()
    assert b"\x1b" not in raw and b"\x07" not in raw and b"\r" not in raw and "\u202e".encode() not in raw
    assert b'"\\33]0;owned\\7\\33[31mred\\r\\n' in raw
    assert sctrace("check", "fixtures/golden/hostile_bytes.py", str(out)).returncode == 0
    # A difference in such bytes is shown escaped too.
    changed = raw.replace(b"owned", b"owneD")
    (tmp_path / "changed.golden").write_bytes(changed)
    proc = sctrace("check", "fixtures/golden/hostile_bytes.py", str(tmp_path / "changed.golden"))
    assert proc.returncode == 1
    assert "\x1b" not in proc.stdout and "\u202e" not in proc.stdout and "owneD" in proc.stdout


def test_in_process_record_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pair.golden"
    assert run(["record", str(GOLDEN / "pair_echo.py"), "-o", str(out)]) == 0
    assert run(["check", str(GOLDEN / "pair_echo.py"), str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: matches (semantically equivalent: 9 steps)\n"
    assert run(["check", str(GOLDEN / "hostile_bytes.py"), str(out)]) == 1
    assert "different: " in capsys.readouterr().out


def test_record_to_stdout_and_the_library_value() -> None:
    proc = sctrace("record", "fixtures/golden/pair_echo.py")
    assert proc.returncode == 0, proc.stderr
    recording = golden.record("fixtures/golden/pair_echo.py")
    assert proc.stdout == recording.golden.dumps()
    assert golden.loads(proc.stdout) == recording.golden
    assert recording.golden.lines()[0] == "P1 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, [S1, S2]) = 0"
    assert any(ev.name == "socketpair" for ev in recording.trace.events)


# -- bad input: one line naming the file and line, status 2 ---------------------------------------

def _good_text() -> str:
    return golden.Golden("semantic", "x.py", [golden.GoldenStep("P1", "close(S1) = 0", "close", {"fd": "S1"}, 0,
                                                                None)]).dumps()


BAD_FILES = [
    # (name, content, line, what the message says)
    ("empty", "", 1, "empty file"),
    ("blank", "\n\n", 1, "empty file"),
    ("not golden", "hello world\n", 1, "not a golden trace"),
    ("newer", _good_text().replace("format 1,", "format 2,"), 1, "format 2 was made by a newer sctrace"),
    ("bad level", _good_text().replace("level semantic", "level fuzzy"), 1, "unknown level 'fuzzy'"),
    ("corrupt json", _good_text().replace('{"call": ["close"', '{"call": ["close",,'), 9, "bad JSON"),
    ("cut short", _good_text().rsplit("\n    ", 1)[0] + "\n", 8, "without its data line"),
    ("bad data", _good_text().replace('{"call": ["close", {"fd": "S1"}, 0, null]}', '{"call": 3}'), 9,
     '"call": [NAME, {ARGS}, RESULT, ERRNO]'),
    ("bad meta", _good_text().replace('@args []', '@args "x"'), 5, "@args must be a list"),
    ("junk line", _good_text() + "!!!\n", 10, "not a step"),
    ("binary", "\udcff\udcfe", 1, "not UTF-8"),
]


@pytest.mark.parametrize(("content", "line", "words"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_unusable_golden_files(tmp_path: Path, content: str, line: int, words: str) -> None:
    bad = tmp_path / "bad.golden"
    bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    proc = sctrace("check", "fixtures/golden/pair_echo.py", str(bad))
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert message.startswith(f"sctrace: error: {bad}, line {line}: "), message
    assert words in message
    assert proc.stdout == ""


def test_the_good_text_of_the_bad_files_is_good() -> None:
    # The bad files above are each one edit away from this one, which loads.
    assert golden.loads(_good_text()).steps[0].line() == "P1 close(S1) = 0"


def test_level_other_than_the_file_is_trouble(tmp_path: Path) -> None:
    out = tmp_path / "pair.golden"
    assert sctrace("record", "fixtures/golden/pair_echo.py", "--level", "stable", "-o", str(out)).returncode == 0
    proc = sctrace("check", "fixtures/golden/pair_echo.py", str(out), "--level", "semantic")
    assert proc.returncode == 2
    assert one_error_line(proc) == (f"sctrace: error: {out}, line 1: made at level stable, but level semantic was "
                                    "asked; check at --level stable, or record the file again at semantic")
    assert sctrace("check", "fixtures/golden/pair_echo.py", str(out), "--level", "stable").returncode == 0


@pytest.mark.parametrize(("args", "words"), [
    (["check", "fixtures/golden/pair_echo.py", "no/such.golden"], "no/such.golden: no such golden file; make it "
     "with sctrace record PROGRAM -o no/such.golden"),
    (["check", "fixtures/golden/pair_echo.py", "fixtures"], "fixtures is a directory"),
    (["record", "fixtures/golden/pair_echo.py", "--level", "raw"], "not raw"),
    (["record", "no/such/program.py"], "no/such/program.py"),
    (["check", "no/such/program.py", "fixtures/golden/pair_echo.py"], "line 1: not a golden trace"),
])
def test_other_trouble_is_status_2(args: list[str], words: str) -> None:
    proc = sctrace(*args)
    assert proc.returncode == 2, proc.stderr
    assert words in one_error_line(proc)


@pytest.mark.parametrize("where", ["/no/such/dir/x.golden", "fixtures"])
def test_an_output_that_cannot_be_written_is_said_first(where: str) -> None:
    proc = sctrace("record", "fixtures/golden/pair_echo.py", "-o", where)
    assert proc.returncode == 73  # as for trace and compare
    assert f"cannot write {where}: " in one_error_line(proc)
    assert not any(p.name.startswith(".sctrace-") for p in (ROOT / "fixtures").iterdir())


def test_a_failed_record_leaves_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "keep.golden"
    out.write_text("old\n")
    proc = sctrace("record", "no/such/program.py", "-o", str(out))
    assert proc.returncode == 2
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.golden"]


def test_golden_file_format_is_documented() -> None:
    doc = (ROOT / "docs" / "golden-format.md").read_text()
    text = _good_text()
    assert text.splitlines()[0] in doc or "# sctrace golden trace, format 1, level semantic" in doc
    for name in ("@program", "@args", "@language", "@exit", "@send", "@reply", "@client", "@server", "@peer"):
        assert name in doc, name
    data = json.loads(text.splitlines()[-1])
    assert set(data) == {"call"}


# -- never damage what is not ours -----------------------------------------------------------------

def _recorded() -> str:
    proc = sctrace("record", "fixtures/golden/pair_echo.py")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.skipif(os.getuid() != 0, reason="mknod of a character device needs root")
def test_record_to_a_character_device_writes_through_it(tmp_path: Path) -> None:
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a second /dev/null
    proc = sctrace("record", "fixtures/golden/pair_echo.py", "-o", str(null))
    assert proc.returncode == 0, proc.stderr
    mode = os.lstat(null).st_mode
    assert stat.S_ISCHR(mode) and os.major(os.lstat(null).st_rdev) == 1, "the device was replaced"
    assert null.read_bytes() == b""  # still a null device
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temporary file left


def test_record_to_a_fifo_writes_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "sctrace", "record", "fixtures/golden/pair_echo.py", "-o",
                             str(fifo)], cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # Read without blocking, so that a FIFO replaced by a file fails the test instead of hanging it.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([reader], [], [], 0.1)
            chunk = os.read(reader, 65536) if ready else b""
            chunks.append(chunk)
            if not chunk and proc.poll() is not None:
                break
    finally:
        os.close(reader)
    got = b"".join(chunks).decode("utf-8")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert got == _recorded()


def test_record_to_a_symlink_writes_through_it_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "real.golden"
    target.write_text("old\n")
    link = tmp_path / "link.golden"
    link.symlink_to(target)
    to_stdout = tmp_path / "s"
    to_stdout.symlink_to("/proc/self/fd/1")
    assert sctrace("record", "fixtures/golden/pair_echo.py", "-o", str(link)).returncode == 0
    proc = sctrace("record", "fixtures/golden/pair_echo.py", "-o", str(to_stdout))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert to_stdout.is_symlink() and os.readlink(to_stdout) == "/proc/self/fd/1"
    expected = _recorded()
    assert target.read_text() == expected
    assert proc.stdout == expected  # the link led to sctrace's own stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.golden", "real.golden", "s"]


def test_record_keeps_the_other_names_of_a_hard_linked_file(tmp_path: Path) -> None:
    first = tmp_path / "a.golden"
    first.write_text("old\n")
    second = tmp_path / "b.golden"
    os.link(first, second)
    assert sctrace("record", "fixtures/golden/pair_echo.py", "-o", str(first)).returncode == 0
    assert os.path.samefile(first, second)
    assert second.read_text() == _recorded()


def test_record_replaces_a_regular_file_atomically(tmp_path: Path) -> None:
    out = tmp_path / "x.golden"
    out.write_text("old\n")
    before = os.stat(out).st_ino
    assert sctrace("record", "fixtures/golden/pair_echo.py", "-o", str(out)).returncode == 0
    assert os.stat(out).st_ino != before  # a new file renamed over the old one: never half written
    assert out.read_text() == _recorded()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.golden"]


def _saved_trace(path: Path) -> None:
    Trace(Header(argv=["x.py"]), [Event("syscall", 0, 100, 0.0, "close", {"fd": 3}, 0, None, 3)]).save(str(path))


@pytest.mark.parametrize("which", ["left", "right", "link"])
def test_compare_refuses_to_write_over_its_own_input(tmp_path: Path, which: str) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _saved_trace(a)
    _saved_trace(b)
    before = a.read_bytes(), b.read_bytes()
    link = tmp_path / "l"
    link.symlink_to(b)
    output = {"left": a, "right": b, "link": link}[which]
    proc = sctrace("compare", str(a), str(b), "-o", str(output))
    assert proc.returncode == 2
    assert f"-o {output} is also the " in one_error_line(proc)
    assert (a.read_bytes(), b.read_bytes()) == before


def test_record_and_trace_refuse_to_write_over_the_program(tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    shutil.copy(GOLDEN / "pair_echo.py", program)
    before = program.read_bytes()
    for command in (["record", str(program), "-o", str(program)], ["trace", "-o", str(program), str(program)],
                    ["matrix", str(program), "-o", str(program)]):
        proc = sctrace(*command)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "is also the " in one_error_line(proc)
        assert program.read_bytes() == before
