"""Bad input and failing surroundings: one line on stderr, the documented status, never a traceback.

Malformed traces and golden files are the user's input (status 2, naming the
file and line); a full disk, a closed pipe and no memory are the surroundings
failing (73, a quiet death by SIGPIPE, 71); a path longer than the system
allows is said as such.  Ctrl-C at any moment once sctrace's own code runs
gives status 130 and no traceback.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sctrace.golden import golden_file as golden
from tests.helpers import GOLDEN, ROOT, one_error_line, processes_running, sctrace

PROGRAM = GOLDEN / "pair_echo.py"
HEADER = '{"type": "header", "schema": 1, "argv": ["x"]}'


def _syscall(**fields: object) -> str:
    record = {"type": "syscall", "seq": 1, "pid": 1, "t": 0.0, "name": "close", "args": {"fd": 3}, "ret": 0}
    record.update(fields)
    return json.dumps(record)


BAD_TRACES = [
    # (name, second line or whole text, line, what the message says)
    ("deep nesting", "[" * 100_000 + "]" * 100_000, 2, "nested too deeply"),
    ("huge integer", _syscall().replace('"pid": 1', '"pid": ' + "9" * 5000), 2, "more than 4300 digits"),
    ("Infinity", _syscall().replace('"t": 0.0', '"t": Infinity'), 2, "Infinity is not a number"),
    ("1e400", _syscall().replace('"t": 0.0', '"t": 1e400'), 2, "1e400 is too large"),
    ("NaN", _syscall().replace('"t": 0.0', '"t": NaN'), 2, "NaN is not a number"),
    ("endpoint type", _syscall(endpoint=5), 2, "endpoint must be a string"),
    ("errno type", _syscall(errno=["E"]), 2, "errno must be a string"),
    ("name type", _syscall(name={"x": 1}), 2, "name must be a string"),
    ("fd type", _syscall(fd="3"), 2, "fd must be a whole number"),
]
BAD_HEADERS = [
    ("schema -1", '{"type": "header", "schema": -1, "argv": ["x"]}', "no schema number (1 or more)"),
    ("schema true", '{"type": "header", "schema": true, "argv": ["x"]}', "no schema number"),
    ("program type", '{"type": "header", "schema": 1, "argv": ["x"], "program": 5}', "program must be a string"),
    ("argv items", '{"type": "header", "schema": 1, "argv": [1, 2]}', "argv must be a list of strings"),
    ("language type", '{"type": "header", "schema": 1, "argv": ["x"], "language": [1]}', "language must be"),
    ("string_limit", '{"type": "header", "schema": 1, "argv": ["x"], "string_limit": "32"}', "string_limit"),
]


@pytest.mark.parametrize(("second", "line", "words"), [b[1:] for b in BAD_TRACES], ids=[b[0] for b in BAD_TRACES])
def test_a_malformed_trace_is_bad_input(tmp_path: Path, second: str, line: int, words: str) -> None:
    bad, good = tmp_path / "bad.jsonl", tmp_path / "good.jsonl"
    bad.write_text(f"{HEADER}\n{second}\n")
    good.write_text(f"{HEADER}\n")
    proc = sctrace("compare", str(bad), str(good))
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert f"{bad}, line {line}: " in message and words in message, message


@pytest.mark.parametrize(("header", "words"), [b[1:] for b in BAD_HEADERS], ids=[b[0] for b in BAD_HEADERS])
def test_a_malformed_header_is_bad_input(tmp_path: Path, header: str, words: str) -> None:
    bad, good = tmp_path / "bad.jsonl", tmp_path / "good.jsonl"
    bad.write_text(f"{header}\n")
    good.write_text(f"{HEADER}\n")
    proc = sctrace("compare", str(good), str(bad))
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert f"{bad}, line 1: " in message and words in message, message


def test_a_jsonl_file_holding_an_array_is_a_bad_trace_not_a_program(tmp_path: Path) -> None:
    bad, good = tmp_path / "array.jsonl", tmp_path / "good.jsonl"
    bad.write_text("[1, 2]\n")
    good.write_text(f"{HEADER}\n")
    proc = sctrace("compare", str(bad), str(good))
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert f"{bad}, line 1: not a trace record" in message, message
    assert "executable" not in message


def _golden_text() -> str:
    return golden.Golden("semantic", "x.py", [golden.GoldenStep("P1", "close(S1) = 0", "close", {"fd": "S1"}, 0,
                                                                None)]).dumps()


BAD_GOLDEN = [
    ("deep nesting", '    ' + "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("huge integer", '    {"call": ["close", {"fd": ' + "9" * 5000 + '}, 0, null]}', "more than 4300 digits"),
    ("Infinity", '    {"call": ["close", {"fd": Infinity}, 0, null]}', "Infinity is not a number"),
    ("1e400", '    {"call": ["close", {"fd": 1e400}, 0, null]}', "1e400 is too large"),
]


@pytest.mark.parametrize(("data", "words"), [b[1:] for b in BAD_GOLDEN], ids=[b[0] for b in BAD_GOLDEN])
def test_a_malformed_golden_file_is_bad_input(tmp_path: Path, data: str, words: str) -> None:
    lines = _golden_text().splitlines()
    number = next(i for i, text in enumerate(lines) if text.startswith("    {"))
    lines[number] = data
    path = tmp_path / "bad.golden"
    path.write_text("\n".join(lines) + "\n")
    proc = sctrace("check", str(PROGRAM), str(path))
    assert proc.returncode == 2
    message = one_error_line(proc)
    assert f"{path}, line {number + 1}: " in message and words in message, message


# -- the surroundings failing ------------------------------------------------------------------------

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="this system has no /dev/full")


@needs_dev_full
@pytest.mark.parametrize("command", [
    ["trace", "-o", "/dev/full", str(PROGRAM)],
    ["compare", str(PROGRAM), str(PROGRAM), "-o", "/dev/full"],
    ["record", str(PROGRAM), "-o", "/dev/full"],
], ids=["trace", "compare", "record"])
def test_a_full_disk_is_status_73(command: list[str]) -> None:
    proc = sctrace(*command)
    assert proc.returncode == 73
    assert "No space left on device" in one_error_line(proc)


@needs_dev_full
@pytest.mark.parametrize("command", [["trace", "-o", "-", str(PROGRAM)], ["compare", str(PROGRAM), str(PROGRAM)],
                                     ["record", str(PROGRAM)]], ids=["trace", "compare", "record"])
def test_standard_output_on_a_full_disk_is_status_73(command: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = sctrace(*command, stdout=full)
    assert proc.returncode == 73
    assert "No space left on device" in one_error_line(proc)


def test_a_closed_pipe_ends_quietly_as_other_tools_do(tmp_path: Path) -> None:
    program = tmp_path / "chatty.py"
    program.write_text("import socket\nfor _ in range(20000):\n    a, b = socket.socketpair()\n"
                       "    a.send(b'x'); b.recv(1); a.close(); b.close()\n")
    proc = subprocess.Popen([sys.executable, "-m", "sctrace", "trace", "-o", "-", str(program)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == -signal.SIGPIPE, err
    assert first.startswith(b"[pid ")
    assert err == ""
    _assert_nothing_runs(str(program))


def _assert_nothing_runs(name: str) -> None:
    deadline = time.monotonic() + 5
    while processes_running(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_running(name) == [], "a traced program outlived sctrace"


def test_out_of_memory_is_one_line_and_status_71(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    event = {"type": "syscall", "seq": 1, "pid": 1, "t": 0.0, "name": "write",
             "args": {"fd": 3, "buf": {"text": "a" * 100_000_000, "len": 5}}, "ret": 5}
    big.write_text(f"{HEADER}\n{json.dumps(event)}\n")
    small = tmp_path / "small.jsonl"
    small.write_text(f"{HEADER}\n")

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (400 << 20, 400 << 20))

    proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", str(big), str(small)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, preexec_fn=limit_memory)
    assert proc.returncode == 71, proc.stderr
    assert "out of memory" in one_error_line(proc)


def test_a_path_longer_than_path_max_is_said_as_such(tmp_path: Path) -> None:
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        for _ in range(22):  # 22 names of 200 bytes: past PATH_MAX (4096), each name within NAME_MAX
            os.mkdir("d" * 200)
            os.chdir("d" * 200)
        Path("p.py").write_text("print(1)\n")
    finally:
        os.chdir(here)
    path = str(tmp_path) + ("/" + "d" * 200) * 22 + "/p.py"
    assert len(path) > os.pathconf("/", "PC_PATH_MAX")
    proc = sctrace("trace", path)
    assert proc.returncode == 66
    message = one_error_line(proc)
    assert "longer than the system allows" in message and "no such file" not in message


# -- Ctrl-C -------------------------------------------------------------------------------------------

def test_ctrl_c_at_random_moments_gives_130_and_no_traceback_from_sctrace(tmp_path: Path) -> None:
    """Ctrl-C from 20 to 150 ms after start: over the imports of sctrace and typer, and the comparison.

    A Ctrl-C during the Python interpreter's own start-up, before the first line of
    sctrace runs, is Python's to report; so a traceback counts against sctrace when
    one of its frames is in the sctrace package.
    """
    good = tmp_path / "good.jsonl"
    good.write_text(f"{HEADER}\n")
    script = shutil.which("sctrace", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "sctrace"]
    frame_of_ours = re.compile(r'File "' + re.escape(str(ROOT / "sctrace")) + r'/[^"]*\.py"')
    rng = random.Random(1234)
    ours, statuses = [], []
    for _ in range(60):
        proc = subprocess.Popen([*command, "compare", str(good), str(good)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        time.sleep(rng.uniform(0.02, 0.15))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        statuses.append(proc.returncode)
        if "Traceback" in err and frame_of_ours.search(err):
            ours.append(err)
    assert ours == [], ours[0]
    assert set(statuses) <= {0, 130, -signal.SIGINT, 1}, statuses  # 0: done before the signal came
