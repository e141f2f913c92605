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

    from sctrace.cli.options import TRACE_OPTIONS

    command = typer.main.get_command(app).commands["trace"]  # type: ignore[attr-defined]
    click_options = {p.name: tuple(sorted(p.opts)) for p in command.params if p.param_type_name == "option"}
    fast_options = {dest: tuple(sorted(option.names)) for dest, option in TRACE_OPTIONS.items()}
    assert fast_options == click_options


def test_both_paths_give_the_same_errors(tmp_path: Path) -> None:
    # The fast path reports bad input as the full command line does: one line, the same status.
    for argv, status in ((["trace", str(tmp_path / "missing.py")], 66),
                         (["trace", "-o", str(tmp_path / "no" / "f"), FIXTURE], 73),
                         (["trace", "--bogus", FIXTURE], 66)):  # click: an unknown option is the PROGRAM
        proc = subprocess.run([sys.executable, "-m", "sctrace", *argv], capture_output=True, text=True, timeout=60)
        lines = [line for line in proc.stderr.splitlines() if line.startswith("sctrace:")]
        assert proc.returncode == status and len(lines) == 1 and "Traceback" not in proc.stderr, (argv, proc.stderr)


# -- options: each declared once (sctrace/cli/options.py), the same for every command that takes it ---------

def _declared() -> list[object]:
    from sctrace.cli import options

    return [*(v for v in vars(options).values() if isinstance(v, options.Option)), *options.TRACE_OPTIONS.values()]


def _as_declared(param: object) -> tuple[object, ...]:
    """What a click option is, in the terms of options.Option: its names, kind of value, choices, minimum."""
    import click

    assert isinstance(param, click.Option)
    kind = param.type
    choices = tuple(kind.choices) if isinstance(kind, click.Choice) else ()
    minimum = getattr(kind, "min", None)
    return tuple(sorted(param.opts)), choices, minimum, param.is_flag


@pytest.mark.parametrize("name", ["trace", "compare", "record", "check", "matrix"])
def test_every_option_of_every_command_is_as_declared(name: str) -> None:
    import typer.main

    from sctrace.cli.options import Option

    declared = {(tuple(sorted(o.names)), o.choices, o.minimum, o.kind == "flag") for o in _declared()
                if isinstance(o, Option)}
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    params = [p for p in command.params if p.param_type_name == "option"]
    assert params
    for param in params:
        assert _as_declared(param) in declared, (name, param.opts)


def test_the_options_several_commands_take_are_declared_once() -> None:
    import typer.main

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    taken: dict[str, set[str]] = {}
    for name, command in commands.items():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                taken.setdefault(opt, set()).add(name)
    shared = {opt for opt, names in taken.items() if len(names) > 1}
    assert {"--backend", "--timeout", "--traceback", "--format", "--send", "--reply", "--client", "--server",
            "--level", "-o", "--output", "--width"} <= shared
    assert taken["--width"] == {"compare", "check", "matrix"}


# -- --width, $COLUMNS and the file's own width -----------------------------------------------------

PLAIN_ENV = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
UDP = str(ROOT / "fixtures" / "trace" / "udp_echo.py")


@pytest.fixture(scope="module")
def udp_traces(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("udp")
    paths = []
    for side in ("left", "right"):
        path = folder / f"{side}.jsonl"
        subprocess.run([sys.executable, "-m", "sctrace", "trace", "--format", "jsonl", "-o", str(path),
                        "--interpreter", PYTHON, UDP], check=True, capture_output=True, timeout=60)
        paths.append(str(path))
    return paths[0], paths[1]


def _sctrace(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sctrace", *argv], capture_output=True, text=True, timeout=120,
                          env=PLAIN_ENV if env is None else env, cwd=ROOT)


def test_width_columns_and_the_pipe(udp_traces: tuple[str, str]) -> None:
    piped = _sctrace("compare", *udp_traces)
    assert piped.returncode == 0, piped.stderr
    assert "…" not in piped.stdout and "\x1b" not in piped.stdout
    assert max(len(line) for line in piped.stdout.splitlines()) > 80
    for argv, env, width in ((["--width", "80"], PLAIN_ENV, 80), ([], {**PLAIN_ENV, "COLUMNS": "72"}, 72),
                             (["--width", "64"], {**PLAIN_ENV, "COLUMNS": "72"}, 64)):
        proc = _sctrace("compare", *udp_traces, *argv, env=env)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert max(len(line) for line in lines) == width and "…" in proc.stdout, (argv, env.get("COLUMNS"))
    wrapped = _sctrace("matrix", *udp_traces, "--width", "60")
    assert wrapped.returncode == 0, wrapped.stderr
    assert max(len(line) for line in wrapped.stdout.splitlines()) <= 60
    assert len(wrapped.stdout.splitlines()) > len(_sctrace("matrix", *udp_traces).stdout.splitlines())


@pytest.mark.parametrize("argv", [["compare", "--width", "0", "a", "b"], ["matrix", "--width=-3", "a"],
                                  ["check", "--width", "wide", "a", "b"]])
def test_a_width_that_is_no_positive_number_is_a_usage_error(argv: list[str]) -> None:
    proc = _sctrace(*argv)
    assert proc.returncode == 2 and proc.stderr.startswith("sctrace: error:") and "--width" in proc.stderr


@pytest.mark.skipif(shutil.which("php") is None, reason="php is not installed (apt-get install php-cli)")
def test_the_udp_servers_sendto_address_is_not_cut_in_a_pipe() -> None:
    seed = ROOT / "fixtures" / "seed"
    proc = _sctrace("compare", str(seed / "udpserver.php"), str(seed / "udpserver.py"))
    assert proc.returncode == 0, proc.stderr
    sendto = [line for line in proc.stdout.splitlines() if "sendto(" in line]
    assert len(sendto) == 1 and "…" not in sendto[0], proc.stdout
    assert sendto[0].count("{AF_INET, 127.0.0.1:EPHEMERAL}, 16) = 54") == 2, sendto[0]
