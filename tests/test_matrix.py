"""`sctrace matrix`: the seed server1 in every language, a column each, a row per life-cycle step.

The programs run for real (each in its own network namespace, its client played
by drive.py); the expected cells are stated per fixture below.  Rendering,
saved traces, escaping and bad input are checked on real traces too.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from sctrace.compare.matrix import CORE_STEPS, STEP_OF_CALL, STEPS, Matrix, brief, matrix_of
from sctrace.compare.model import Step
from sctrace.kernel import netns
from sctrace.model import syscalls
from sctrace.model.choices import MATRIX_FORMATS
from sctrace.model.trace import Event, Trace
from sctrace.peer.driver import DriveOptions
from sctrace.peer.sides import exit_info, run_sides
from sctrace.render import MATRIX_RENDERERS, PLAIN, Terminal
from tests import helpers
from tests.helpers import MATRIX, SEED, is_subsequence

# Each run traces every language at once: three minutes before a hang fails.
sctrace = partial(helpers.sctrace, timeout=180, no_traceback=True)

# (program, command it needs, its Debian package, language, {step: cells that must be there, in order}).
# A cell list is matched as a subsequence of the column's cell (a runtime may retry a call: Ruby's and Go's
# non-blocking accept4 may first return EAGAIN, depending on timing).
SERVER1: list[tuple[Path, str, str, str, dict[str, list[str]]]] = [
    (SEED / "server1.php", "php", "php-cli", "php", {
        "create": ["socket(AF_INET, SOCK_STREAM, IPPROTO_IP)"], "options": [], "listen": ["listen(5)"],
        "accept": ["accept()"], "receive": ["recvfrom(128)"], "send": ["write(2)"], "shutdown": []}),
    (SEED / "server1.py", "python3", "python3", "python", {
        "create": ["socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)"], "options": [], "listen": ["listen(5)"],
        "accept": ["accept4(SOCK_CLOEXEC)"], "inspect": ["getsockname(C1)"], "receive": ["recvfrom(128)"],
        "send": ["sendto(2)"], "shutdown": []}),
    (MATRIX / "server1.js", "node", "nodejs", "node", {
        "create": ["socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP)"],
        "options": ["setsockopt(SOL_SOCKET, SO_REUSEADDR, [1])"], "listen": ["listen(5)"],
        "accept": ["accept4(SOCK_CLOEXEC|SOCK_NONBLOCK)"], "receive": ["read(65536)", "read(65536) = 0"],
        "send": ["write(2)"], "shutdown": ["shutdown(C1, SHUT_WR)"]}),
    (MATRIX / "server1.pl", "perl", "perl", "perl", {
        "create": ["socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP)"], "options": [],
        "listen": ["listen(5)"], "accept": ["accept4(SOCK_CLOEXEC)"], "receive": ["read(128)"],
        "send": ["write(2)"], "shutdown": []}),
    (MATRIX / "server1.rb", "ruby", "ruby", "ruby", {
        "create": ["socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_TCP)"],
        "options": ["setsockopt(SOL_SOCKET, SO_REUSEADDR, [1])"],
        "accept": ["accept4(SOCK_CLOEXEC|SOCK_NONBLOCK)"], "receive": ["read(128)"], "send": ["write(2)"],
        "shutdown": []}),
    (MATRIX / "server1.c", "cc", "gcc", "c", {
        "create": ["socket(AF_INET, SOCK_STREAM, IPPROTO_IP)"], "options": [], "listen": ["listen(5)"],
        "accept": ["accept()"], "receive": ["recvfrom(128)"], "send": ["sendto(2)"], "shutdown": []}),
]
GO = (MATRIX / "server1.go", "go", "golang-go", "go", {
    "create": ["socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP)"],
    "options": ["setsockopt(SOL_SOCKET, SO_REUSEADDR, [1])"], "bind": ["bind({AF_INET6, [::]:PORT1})"],
    "accept": ["accept4(SOCK_CLOEXEC|SOCK_NONBLOCK)"], "receive": ["read(128)"], "send": ["write(2)"]})


def missing(command: str) -> bool:
    return shutil.which(command) is None


def texts(cell: list[dict[str, Any]]) -> list[str]:
    return [entry["text"] for entry in cell for _ in range(entry["count"])]


@pytest.fixture(scope="module")
def server1_matrix() -> tuple[list[tuple[Path, str, str, str, dict[str, list[str]]]], dict[str, Any]]:
    """One `sctrace matrix --format json` of every server1 whose language is installed (Go only with go)."""
    fixtures = [f for f in [*SERVER1, GO] if not missing(f[1])]
    if len(fixtures) < 2:
        pytest.skip("fewer than two of php, python3, node, perl, ruby, cc are installed (scripts/setup.sh)")
    proc = sctrace("matrix", "--format", "json", *(str(f[0]) for f in fixtures))
    assert proc.returncode == 0, proc.stderr
    return fixtures, json.loads(proc.stdout)


def test_every_seed_language_has_a_server1() -> None:
    # The issue's fixture set: server1 in PHP, Python, Node.js, Perl, Ruby and C (and Go).
    assert all(f[0].is_file() for f in [*SERVER1, GO])
    assert {f[3] for f in SERVER1} >= {"php", "python", "node", "perl", "ruby", "c"}


@pytest.mark.slow
def test_matrix_of_server1_in_every_language(server1_matrix: tuple[list[Any], dict[str, Any]]) -> None:
    fixtures, data = server1_matrix
    assert data["format"] == "sctrace-matrix" and data["version"] == 1
    programs = data["programs"]
    assert [p["program"] for p in programs] == [str(f[0]) for f in fixtures]
    assert [p["language"] for p in programs] == [f[3] for f in fixtures]
    for program in programs:
        assert program["source"] == "run" and program["exit"] == {"code": 0}, program
        assert program["interpreter_version"], program
        assert program["runtime"].startswith(program["language"]) or program["language"] == "go"
    rows = {row["step"]: row["cells"] for row in data["rows"]}
    assert [row["step"] for row in data["rows"]] == [s for s in STEPS if s in rows]
    assert CORE_STEPS <= set(rows)
    for c, (program, _, _, language, expected) in enumerate(fixtures):
        for step, wanted in expected.items():
            seen = texts(rows[step][c]) if step in rows else []
            if wanted:
                assert is_subsequence(wanted, seen), (program.name, step, seen)
            else:
                assert seen == [], (program.name, step, seen)
        assert is_subsequence(["close(L1)", "close(C1)"], texts(rows["close"][c])), (program.name, rows["close"][c])
        if language != "go":
            assert texts(rows["bind"][c]) == ["bind({AF_INET, 0.0.0.0:PORT1})"], program.name
            assert len(texts(rows["listen"][c])) == 1 and len(texts(rows["send"][c])) == 1
        if language == "ruby":  # TCPServer listens with Ruby's own backlog (SOMAXCONN), not the seed's 5
            assert texts(rows["listen"][c]) != ["listen(5)"]


def test_every_socket_call_has_a_life_cycle_step() -> None:
    assert set(syscalls.SOCKET_SET) <= set(STEP_OF_CALL)
    assert set(STEP_OF_CALL.values()) <= set(STEPS) and CORE_STEPS <= set(STEPS)
    assert {STEP_OF_CALL[n] for n in ("setsockopt", "fcntl", "ioctl")} == {"options"}
    assert {STEP_OF_CALL[n] for n in ("read", "recvfrom", "recvmsg", "readv")} == {"receive"}
    assert {STEP_OF_CALL[n] for n in ("write", "sendto", "sendmsg", "writev")} == {"send"}


def step(name: str, args: dict[str, Any], ret: Any = 0, errno: str | None = None) -> Step:
    ev = Event("syscall", 0, 1, 0.0, name, args, ret, errno)
    return Step("P1", name, args, ret, errno, "", "", ev)


@pytest.mark.parametrize(("call", "shown"), [
    (step("accept4", {"fd": "L1", "addr": None, "addrlen": None, "flags": "SOCK_CLOEXEC"}, "C1"),
     "accept4(SOCK_CLOEXEC)"),
    (step("accept", {"fd": "L1", "addr": None, "addrlen": None}, "C1"), "accept()"),
    (step("accept4", {"fd": "L1", "addr": "PTR", "addrlen": {"in": 16, "out": 16}, "flags": "SOCK_NONBLOCK"}, -1,
          "EAGAIN"), "accept4(SOCK_NONBLOCK) = EAGAIN"),
    (step("recvfrom", {"fd": "C1", "buf": {"text": "x", "len": 1}, "len": 128, "flags": "0", "src_addr": None,
                       "addrlen": None}, 1), "recvfrom(128)"),
    (step("recvfrom", {"fd": "C1", "buf": {"text": "", "len": 0}, "len": 1, "flags": "MSG_PEEK", "src_addr": None,
                       "addrlen": None}, 0), "recvfrom(1, MSG_PEEK) = 0"),
    (step("read", {"fd": "C1", "buf": {"text": "", "len": 0}, "count": 65536}, None), "read(65536) = ?"),
    (step("sendto", {"fd": "S1", "buf": {"text": "hi", "len": 2}, "len": 2, "flags": "MSG_NOSIGNAL",
                     "dest_addr": {"family": "AF_INET", "port": "PORT1", "address": "127.0.0.1"}, "addrlen": 16}, 2),
     "sendto(2, MSG_NOSIGNAL, {AF_INET, 127.0.0.1:PORT1})"),
    (step("close", {"fd": "L1"}), "close(L1)"),
    (step("shutdown", {"fd": "C1", "how": "SHUT_WR"}), "shutdown(C1, SHUT_WR)"),
    (step("bind", {"fd": "S1", "addr": {"family": "AF_UNIX", "path": "\x1b]0;x\x07"}, "addrlen": 9}),
     'bind({AF_UNIX, "\\x1b]0;x\\x07"})'),
    (step("listen", {"fd": "L1", "backlog": 4096}), "listen(4096)"),
])
def test_brief_shows_the_real_call_with_its_flags(call: Step, shown: str) -> None:
    assert brief(call) == shown


# -- rendering and saved traces, on real traces -----------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    """server1 in PHP, Python and C, run once and saved as JSON Lines traces."""
    programs = [f[0] for f in SERVER1 if f[3] in ("php", "python", "c") and not missing(f[1])]
    if len(programs) < 2:
        pytest.skip("two of php, python3 and cc are needed (scripts/setup.sh installs them)")
    runs = run_sides([str(p) for p in programs], DriveOptions(timeout=20), netns.available())
    out = tmp_path_factory.mktemp("saved")
    paths = []
    for program, run in zip(programs, runs, strict=True):
        path = out / f"{program.name}.jsonl"
        run.trace.save(path)
        paths.append(path)
    yield paths


def matrix_from(paths: list[Path]) -> Matrix:
    traces = [Trace.load(p) for p in paths]
    return matrix_of([(t, "trace", exit_info(None, t)) for t in traces])


def test_saved_traces_make_the_same_matrix(saved: list[Path]) -> None:
    proc = sctrace("matrix", "--format", "json", *map(str, saved))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [p["source"] for p in data["programs"]] == ["trace"] * len(saved)
    assert [p["program"] for p in data["programs"]] == [Trace.load(p).header.program for p in saved]
    rows = {row["step"]: row["cells"] for row in data["rows"]}
    assert all(texts(cell)[-2:] == ["close(L1)", "close(C1)"] for cell in rows["close"])


def test_text_fits_the_width_and_wraps_calls(saved: list[Path]) -> None:
    matrix = matrix_from(saved)
    out = io.StringIO()
    MATRIX_RENDERERS["text"](matrix, out, Terminal(width=80))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert lines[0].split("│")[0].strip() == "step"
    assert any(line.startswith("create") for line in lines) and any(line.startswith("close") for line in lines)
    wide = io.StringIO()
    MATRIX_RENDERERS["text"](matrix, wide, PLAIN)  # no width (a file, a pipe): each call on one line
    assert "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)" in wide.getvalue()
    assert "\x1b" not in wide.getvalue()
    colored = io.StringIO()
    MATRIX_RENDERERS["text"](matrix, colored, Terminal(width=200, color=True))
    assert "\x1b[1m" in colored.getvalue()


def test_name_service_calls_are_counted_below_and_fit_the_width(saved: list[Path]) -> None:
    # The C library's lookups before the program runs (a shell or Python started without HOME and SHELL):
    # left out of the cells, counted in a note that wraps to the width like the table above it.
    trace = Trace.load(saved[0])
    pid, fd = trace.events[0].pid, 900
    nscd = {"family": "AF_UNIX", "path": "/var/run/nscd/socket"}

    def lookup() -> list[Event]:
        return [
            Event("syscall", 0, pid, 0.0, "socket", {"domain": "AF_UNIX", "type": "SOCK_STREAM|SOCK_CLOEXEC",
                                                      "protocol": 0}, fd),
            Event("syscall", 0, pid, 0.0, "connect", {"fd": fd, "addr": nscd, "addrlen": 110}, -1, "ENOENT", fd),
            Event("syscall", 0, pid, 0.0, "close", {"fd": fd}, 0, None, fd),
        ]

    trace.events[:0] = lookup() + lookup()
    for seq, ev in enumerate(trace.events):
        ev.seq = seq
    trace.header.program = "/srv/lectures/socket-programming/week-three/examples/" + Path(trace.header.program).name
    plain = matrix_from(saved[:1])
    matrix = matrix_of([(trace, "trace", exit_info(None, trace))])
    assert matrix.columns[0].runtime_calls == 6
    assert [row.cells for row in matrix.rows] == [row.cells for row in plain.rows]
    out = io.StringIO()
    MATRIX_RENDERERS["text"](matrix, out, Terminal(width=60))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 60 for line in lines), max(lines, key=len)
    note = lines[lines.index(next(x for x in lines if x.startswith("/srv/"))):]  # the path is cut where it must be
    assert "".join(note).replace(" ", "") == f"{trace.header.program}:6name-servicecallsbytheClibrary,notshown"
    assert len(note) == 2 and note[1].startswith("  ")  # continuation lines are indented
    assert "/var/run/nscd" not in out.getvalue()


def test_text_falls_back_to_ascii(saved: list[Path]) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    MATRIX_RENDERERS["text"](matrix_from(saved), out, PLAIN)
    out.flush()
    assert "|" in raw.getvalue().decode("ascii")


def hostile_trace(path: Path, out: Path) -> Path:
    """A real trace whose program name and bound address a hostile program chose."""
    trace = Trace.load(path)
    trace.header.program = "evil\x1b[2J<script>alert(1)</script>|*x*.py"
    for ev in trace.events:
        if ev.name == "bind":
            ev.args["addr"] = {"family": "AF_UNIX", "path": "/tmp/\x1b]0;pwned\x07<img src=x onerror=y>|`"}
    trace.save(out)
    return out


def test_bytes_from_programs_are_escaped_in_every_format(saved: list[Path], tmp_path: Path) -> None:
    path = hostile_trace(saved[0], tmp_path / "hostile.jsonl")
    matrix = matrix_from([path, saved[1]])
    for format in MATRIX_FORMATS:
        out = io.StringIO()
        MATRIX_RENDERERS[format](matrix, out, Terminal(width=120) if format == "text" else PLAIN)
        text = out.getvalue()
        assert "\x1b" not in text and "\x07" not in text, format
        if format == "markdown":
            assert "<script>" not in text and "<img" not in text
            table = [line for line in text.splitlines() if line.startswith("| ")]
            cells = {line.count(" | ") for line in table}  # an unescaped "|" would add a cell
            assert len(cells) == 1, table
        if format == "json":
            data = json.loads(text)
            assert data["programs"][0]["program"] == "evil\x1b[2J<script>alert(1)</script>|*x*.py"  # JSON keeps data
            (bind,) = [row for row in data["rows"] if row["step"] == "bind"]
            assert "\\x1b" in bind["cells"][0][0]["text"]


# -- bad input: one line, status 2 ------------------------------------------------------------------

def test_compile_error_in_a_matrix(tmp_path: Path) -> None:
    if missing("cc"):
        pytest.skip("cc is not installed (apt-get install gcc)")
    broken = tmp_path / "broken.c"
    broken.write_text("int main(void) { return nope; }\n")
    proc = sctrace("matrix", str(SEED / "server1.py"), str(broken))
    assert proc.returncode == 2, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("sctrace: error: ") and f"cannot build {broken}: cc failed" in first, proc.stderr
    assert "nope" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("args", [
    ["-o", "/nonexistent-dir/matrix.md"],
    ["-o", "/"],
])
def test_report_that_cannot_be_written_is_status_2_before_running(args: list[str]) -> None:
    proc = sctrace("matrix", *args, str(SEED / "server1.py"), timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("sctrace: error: cannot write ") and "choose another -o FILE" in line


@pytest.mark.parametrize(("args", "says"), [
    (["/nonexistent/server1.py"], "no such file"),
    ([], "Missing argument"),
    (["--format", "html", str(SEED / "server1.py")], "--format"),
])
def test_bad_arguments_are_status_2(args: list[str], says: str) -> None:
    proc = sctrace("matrix", *args, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("sctrace: error: ") or "Usage" in proc.stderr, proc.stderr
    assert says in proc.stderr


def test_a_bad_saved_trace_is_status_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "nonsense"}\n')
    proc = sctrace("matrix", str(bad), timeout=30)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_output_file(saved: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "m.md"
    proc = sctrace("matrix", "--format", "markdown", "-o", str(target), *map(str, saved))
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    text = target.read_text()
    assert text.startswith("# Socket calls by life-cycle step") and "| step |" in text
    assert "server1.php<br>php " in text and "(saved trace)<br>exited with 0" in text
