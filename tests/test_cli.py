"""The command line, twice: in-process with typer's CliRunner, and as real subprocesses
(``sctrace`` console script and ``python -m sctrace``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sctrace.cli.app import app
from sctrace.model.trace import SCHEMA, Trace
from tests.helpers import PYTHON, ROOT, TRACE_FIXTURES

FIXTURE = str(TRACE_FIXTURES / "tcp4_echo.py")


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["trace", "--help"])
    assert result.exit_code == 0
    for option in ("--format", "--output", "--string-limit", "--syscalls", "--all", "--timeout",
                   "--interpreter", "--traceback"):
        assert option in result.output


def test_trace_in_process_writes_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    result = CliRunner().invoke(app, ["trace", "--format", "jsonl", "-o", str(out), "--interpreter", PYTHON,
                                      FIXTURE])
    assert result.exit_code == 0, result.output
    trace = Trace.load(out)
    assert trace.header.language == "python" and trace.header.argv[1] == FIXTURE
    names = [ev.name for ev in trace.syscalls()]
    assert names[:3] == ["socket", "bind", "listen"]
    assert "accept4" in names and "connect" in names


def test_jsonl_header_and_events(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    subprocess.run([sys.executable, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(out),
                    FIXTURE], check=True, cwd=ROOT, capture_output=True, timeout=60)
    lines = out.read_text().splitlines()
    import json

    header = json.loads(lines[0])
    assert header["type"] == "header" and header["schema"] == SCHEMA
    assert header["language"] == "python" and header["interpreter_version"]
    first = json.loads(lines[1])
    assert {"type", "seq", "pid", "t"} <= first.keys()
    syscall = next(json.loads(line) for line in lines if '"syscall"' in line)
    assert {"name", "args", "ret", "errno", "fd", "endpoint"} <= syscall.keys()


def test_string_limit_keeps_true_length(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    subprocess.run([sys.executable, "-m", "sctrace", "trace", "-s", "3", "--format", "jsonl", "-o", str(out),
                    "--interpreter", PYTHON, FIXTURE], check=True, cwd=ROOT, capture_output=True, timeout=60)
    send = next(ev for ev in Trace.load(out).syscalls() if ev.name == "sendto" and ev.args["buf"]["len"] == 6)
    assert send.args["buf"] == {"text": "hel", "len": 6, "truncated": True}


def test_syscall_filter_narrows(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    subprocess.run([sys.executable, "-m", "sctrace", "trace", "-e", "connect,close", "--format", "jsonl",
                    "-o", str(out), "--interpreter", PYTHON, FIXTURE], check=True, cwd=ROOT,
                   capture_output=True, timeout=60)
    assert {ev.name for ev in Trace.load(out).syscalls()} == {"connect", "close"}


def test_text_output_is_strace_like() -> None:
    proc = subprocess.run([sys.executable, "-m", "sctrace", "trace", "--interpreter", PYTHON, FIXTURE],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    lines = proc.stderr.splitlines()
    assert any(line.startswith("[pid ") and "] socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:["
               in line for line in lines)
    assert lines[-1].endswith("+++ exited with 0 +++")


def test_all_reports_every_call() -> None:
    proc = subprocess.run([sys.executable, "-m", "sctrace", "trace", "--all", "--interpreter", PYTHON, FIXTURE],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "] openat(" in proc.stderr and "] mmap(" in proc.stderr
    assert "] exit_group(0) = ?" in proc.stderr


@pytest.mark.skipif(shutil.which("sctrace", path=os.path.dirname(sys.executable)) is None,
                    reason="the sctrace console script is not installed next to this python")
def test_console_script_matches_module(tmp_path: Path) -> None:
    script = shutil.which("sctrace", path=os.path.dirname(sys.executable))
    assert script is not None
    a = subprocess.run([script, "trace", "--help"], capture_output=True, text=True, timeout=30)
    b = subprocess.run([sys.executable, "-m", "sctrace", "trace", "--help"], capture_output=True, text=True,
                       timeout=30)
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout


def test_exec_inherits_sockets_and_cloexec_closes_them(tmp_path: Path) -> None:
    """fd 10 is a socket inherited across exec; fd 11 was a close-on-exec socket, then a file."""
    out = tmp_path / "t.jsonl"
    subprocess.run([sys.executable, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(out),
                    "--interpreter", PYTHON, str(ROOT / "fixtures" / "trace" / "exec_inherit.py")],
                   check=True, cwd=ROOT, capture_output=True, timeout=60)
    trace = Trace.load(out)
    execs = [ev.pid for ev in trace.events if ev.type == "exec"]
    child, spawned = execs[1], execs[2]
    child_calls = [(ev.name, ev.fd) for ev in trace.syscalls() if ev.pid == child]
    assert child_calls == [("write", 10), ("close", 10)]  # the write to the file at 11 is not a socket call
    forks = {ev.info["child"]: ev.info["call"] for ev in trace.events if ev.type == "fork"}
    assert forks[child] == "fork" and forks[spawned] == "vfork"
    assert [ev.name for ev in trace.syscalls() if ev.pid == spawned][:3] == ["socket", "bind", "listen"]


def test_shell_script_and_executable_runners(tmp_path: Path) -> None:
    """A .sh runs with bash; an executable with a #! line runs as itself; both are followed through exec."""
    fixture = ROOT / "fixtures" / "trace" / "tcp4_echo.py"
    script = tmp_path / "run.sh"
    script.write_text(f'exec "{PYTHON}" "{fixture}"\n')
    tool = tmp_path / "tool"
    tool.write_text(f"#!{PYTHON}\nimport runpy\nrunpy.run_path({str(fixture)!r}, run_name='__main__')\n")
    tool.chmod(0o755)
    for program, language in ((script, "bash"), (tool, None)):
        out = tmp_path / f"{program.name}.jsonl"
        proc = subprocess.run([sys.executable, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(out),
                               str(program)], cwd=ROOT, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        trace = Trace.load(out)
        assert trace.header.language == language
        assert "accept4" in [ev.name for ev in trace.syscalls()]


# -- the fast path (sctrace/cli/entry.py): a plain trace command line without typer --------------------

def _click_params(argv: list[str]) -> dict[str, object]:
    """What click makes of a trace command line: the values the typer command would be called with."""
    import typer.main

    command = typer.main.get_command(app).commands["trace"]  # type: ignore[attr-defined]
    with command.make_context("trace", list(argv)) as ctx:
        params = dict(ctx.params)
    out: dict[str, object] = {}
    for key, value in params.items():
        value = getattr(value, "value", value)  # an Enum's value
        out[key] = str(value) if isinstance(value, Path) else value
    out["args"] = list(params.get("args") or [])
    return out


def _fast_params(argv: list[str]) -> dict[str, object] | None:
    import inspect

    from sctrace.cli.entry import parse_trace
    from sctrace.cli.trace_command import run_trace

    parsed = parse_trace(["trace", *argv])
    if parsed is None:
        return None
    defaults = {name: p.default for name, p in inspect.signature(run_trace).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, "traceback": False, **parsed}


@pytest.mark.parametrize("argv", [
    ["prog.py"],
    ["prog.py", "-s", "5", "--all", "--format=jsonl"],  # after PROGRAM: the program's
    ["-s", "64", "-e", "connect,accept4", "-o", "out.txt", "--", "prog.py", "-x"],
    ["-s64", "-fjsonl", "-oout", "prog.py"],
    ["--string-limit=0", "--format", "mermaid", "--output=-", "prog.py", "a", "--b"],
    ["--timeout", "2.5", "--interpreter", "/usr/bin/php", "--no-seccomp", "--no-pin", "prog.php"],
    ["--backend", "strace", "--states", "--packets", "--pcap", "x.pcap", "--traceback", "--all", "prog.py"],
    ["--timeout=inf", "-", "x"],
    ["--", "--weird-name.py"],
])
def test_the_fast_path_parses_as_click_does(argv: list[str]) -> None:
    fast = _fast_params(argv)
    assert fast is not None, argv
    assert fast == _click_params(argv)


@pytest.mark.parametrize("argv", [
    [], ["--help"], ["-h"], ["--bogus", "prog.py"], ["-s", "-1", "prog.py"], ["-s", "x", "prog.py"],
    ["--format", "xml", "prog.py"], ["--timeout", "-2", "prog.py"], ["--all=1", "prog.py"], ["-o"],
    ["-s", "5", "-s", "6", "prog.py"], ["--backend", "gdb", "prog.py"],
])
def test_the_fast_path_leaves_everything_else_to_click(argv: list[str]) -> None:
    assert _fast_params(argv) is None


def test_the_fast_path_knows_every_trace_option() -> None:
    import typer.main

    from sctrace.cli.entry import TRACE_OPTIONS

    command = typer.main.get_command(app).commands["trace"]  # type: ignore[attr-defined]
    click_options = {p.name: tuple(sorted(p.opts)) for p in command.params if p.param_type_name == "option"}
    fast_options = {dest: tuple(sorted(names)) for dest, (names, _) in TRACE_OPTIONS.items()}
    assert fast_options == click_options


def test_both_paths_give_the_same_errors(tmp_path: Path) -> None:
    # The fast path reports bad input as the full command line does: one line, the same status.
    for argv, status in ((["trace", str(tmp_path / "missing.py")], 66),
                         (["trace", "-o", str(tmp_path / "no" / "f"), FIXTURE], 73),
                         (["trace", "--bogus", FIXTURE], 66)):  # click: an unknown option is the PROGRAM
        proc = subprocess.run([sys.executable, "-m", "sctrace", *argv], capture_output=True, text=True, timeout=60)
        lines = [line for line in proc.stderr.splitlines() if line.startswith("sctrace:")]
        assert proc.returncode == status and len(lines) == 1 and "Traceback" not in proc.stderr, (argv, proc.stderr)
