"""The command line: thin commands over the library, and the one place errors meet people.

``main`` owns error handling (httpie's split of program/raw_main): commands
raise SctraceError, and here it becomes one line on stderr and an exit status
(sctrace/status.py).  Tracebacks are shown only with --traceback, and never
with local variables, which may hold traced data.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer

from sctrace.cli import options
from sctrace.cli.options import Option
from sctrace.cli.trace_command import check_writable, open_output, run_trace
from sctrace.model.choices import Backend, CompareFormat, Level, MatrixFormat, TraceFormat
from sctrace.model.output import refuse_inputs
from sctrace.status import ExitStatus, SctraceError, Stopped, report, stop_status

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="See the socket system calls programs make, exactly as the kernel sees them.",
)


def _opt(option: Option, help: str | None = None) -> Any:
    """The typer option of a declaration in options.py, with the command's own wording of its help if given."""
    extra: dict[str, Any] = {}
    if option.kind == "choice":
        extra["click_type"] = click.Choice(option.choices)
    if option.minimum is not None:
        extra["min"] = option.minimum
    if option.metavar is not None:
        extra["metavar"] = option.metavar
    return typer.Option(*option.names, help=option.help if help is None else help, **extra)


# How trace words --backend (it gives no peer), and how record and check word --timeout (they run one program).
_TRACE_BACKEND = "ptrace (sctrace's own) or strace (run strace and read its output)."
_ONE_TIMEOUT = "Seconds the program has to listen or connect."


@app.callback()
def _root() -> None:
    """See the socket system calls programs make, exactly as the kernel sees them."""


@app.command(
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    no_args_is_help=True,
)
def trace(
    program: Annotated[str, typer.Argument(help="The program: a script (.php .py .js .pl .rb .sh), C or Go source, or an executable.")],  # noqa: E501
    args: Annotated[Optional[list[str]], typer.Argument(help="Its arguments.")] = None,  # noqa: UP045
    format: Annotated[TraceFormat, _opt(options.TRACE_FORMAT)] = "text",
    output: Annotated[Optional[Path], _opt(options.OUTPUT, "Write the trace here (- for stdout; default stderr).")] = None,  # noqa: E501,UP045
    string_limit: Annotated[int, _opt(options.STRING_LIMIT)] = 32,
    syscall_list: Annotated[Optional[str], _opt(options.SYSCALLS)] = None,  # noqa: UP045
    all_syscalls: Annotated[bool, _opt(options.ALL)] = False,
    timeout: Annotated[Optional[float], _opt(options.TRACE_OPTIONS["timeout"], "Kill the program after this many seconds.")] = None,  # noqa: E501,UP045
    interpreter: Annotated[Optional[str], _opt(options.INTERPRETER)] = None,  # noqa: UP045
    no_seccomp: Annotated[bool, _opt(options.NO_SECCOMP)] = False,
    no_pin: Annotated[bool, _opt(options.NO_PIN)] = False,
    backend: Annotated[Backend, _opt(options.BACKEND, _TRACE_BACKEND)] = "ptrace",
    states: Annotated[bool, _opt(options.STATES)] = False,
    packets: Annotated[bool, _opt(options.PACKETS)] = False,
    pcap: Annotated[Optional[str], _opt(options.PCAP)] = None,  # noqa: UP045
    traceback: Annotated[bool, _opt(options.TRACEBACK)] = False,
) -> None:
    """Run PROGRAM under ptrace and report its socket system calls as they happen."""
    # entry.py runs a plain `sctrace trace` without this framework; both end in run_trace.
    raise typer.Exit(run_trace(program, args or [], format=format, output=None if output is None else str(output),
                               string_limit=string_limit, syscall_list=syscall_list, all_syscalls=all_syscalls,
                               timeout=timeout, interpreter=interpreter, no_seccomp=no_seccomp, no_pin=no_pin,
                               backend=backend, states=states, packets=packets, pcap=pcap))


@app.command()
def compare(
    left: Annotated[Optional[str], typer.Argument(help="A program (.php, .py, ...) or a saved trace.")] = None,  # noqa: UP045
    right: Annotated[Optional[str], typer.Argument(help="The program or saved trace to compare it with.")] = None,  # noqa: UP045,E501
    level: Annotated[Level, _opt(options.LEVEL)] = "semantic",
    format: Annotated[CompareFormat, _opt(options.COMPARE_FORMAT)] = "text",
    output: Annotated[Optional[Path], _opt(options.OUTPUT, "Write the comparison here.")] = None,  # noqa: UP045
    send: Annotated[str, _opt(options.SEND)] = "hello\n",
    reply: Annotated[str, _opt(options.REPLY)] = "hi",
    timeout: Annotated[float, _opt(options.TIMEOUT)] = 10.0,
    client: Annotated[Optional[str], _opt(options.CLIENT)] = None,  # noqa: UP045
    server: Annotated[Optional[str], _opt(options.SERVER)] = None,  # noqa: UP045
    backend: Annotated[Backend, _opt(options.BACKEND)] = "ptrace",
    states: Annotated[bool, _opt(options.STATES, "Show the kernel's TCP state after each call on a TCP socket (never a difference).")] = False,  # noqa: E501
    packets: Annotated[bool, _opt(options.PACKETS, "Capture each side's loopback packets into its trace (HTML, Mermaid, JSON events).")] = False,  # noqa: E501
    pcap: Annotated[Optional[str], _opt(options.PCAP, "Write each side's packets to FILE (.left/.right before the extension).")] = None,  # noqa: UP045,E501
    width: Annotated[Optional[int], _opt(options.WIDTH)] = None,  # noqa: UP045
    rules: Annotated[bool, _opt(options.RULES)] = False,
    traceback: Annotated[bool, _opt(options.TRACEBACK)] = False,
) -> None:
    """Run two programs (or load two traces) and show their socket calls side by side, differences explained.

    Exit status like diff(1): 0 equivalent at the chosen level, 1 different, 2 trouble.
    """
    if rules:
        from sctrace.compare.rules import describe_rules

        print(describe_rules())
        raise typer.Exit(0)
    if left is None or right is None:
        raise SctraceError("compare needs two programs or traces: sctrace compare LEFT RIGHT", ExitStatus.USAGE)
    from sctrace.compare.align import summarize
    from sctrace.compare.run import compare as run_compare
    from sctrace.compare.run import status_of
    from sctrace.peer.driver import DriveOptions
    from sctrace.render import COMPARE_RENDERERS, Terminal

    inputs = [(left, "left program or trace"), (right, "right program or trace"), (client, "--client program"),
              (server, "--server program")]
    refuse_inputs(output, inputs)  # compare a.jsonl b.jsonl -o a.jsonl would destroy a.jsonl
    check_writable(output)  # a report that cannot be written is said before anything runs
    if pcap is not None:
        from sctrace.kernel.pcap import side_path

        for side in ("left", "right"):
            refuse_inputs(side_path(pcap, side), inputs, "--pcap FILE")
            check_writable(Path(side_path(pcap, side)), "--pcap FILE")
    drive = DriveOptions(_unescape(send), _unescape(reply), timeout, client=client, server=server, states=states,
                         packets=packets, pcap=pcap, backend=backend)
    notices: list[str] = []
    try:
        comparison = run_compare(left, right, level=level, drive=drive, notices=notices)
    except SctraceError as exc:  # compare follows diff(1): any trouble is status 2
        raise SctraceError(exc.message, ExitStatus.USAGE) from None
    for notice in dict.fromkeys(notices):
        print(f"sctrace: {notice}", file=sys.stderr)
    out = sys.stdout if output is None else open_output(output)
    COMPARE_RENDERERS[format](comparison, summarize(comparison), out, Terminal.of(out, width=width))
    out.flush()
    if out is not sys.stdout:
        out.close()
    # Held until the process ends: the command's entry point (sctrace.cli.entry.main) exits without tearing the
    # interpreter down, and freeing a large comparison object by object (100,000 rows: 0.4 s) would only
    # delay the shell's prompt.
    _KEPT_UNTIL_EXIT[:] = [comparison]
    raise typer.Exit(status_of(comparison))


_KEPT_UNTIL_EXIT: list[object] = []


@app.command(context_settings={"ignore_unknown_options": True}, no_args_is_help=True)
def record(
    program: Annotated[str, typer.Argument(help="The program: a script (.php .py .js .pl .rb .sh), C or Go source, or an executable.")],  # noqa: E501
    args: Annotated[Optional[list[str]], typer.Argument(help="Its arguments (after -- when they look like options).")] = None,  # noqa: E501,UP045
    output: Annotated[str, _opt(replace(options.OUTPUT, metavar="FILE"), "Write the golden trace here (- for stdout).")] = "-",  # noqa: E501
    level: Annotated[Level, _opt(options.LEVEL, "stable or semantic.")] = "semantic",
    send: Annotated[str, _opt(options.SEND)] = "hello\n",
    reply: Annotated[str, _opt(options.REPLY)] = "hi",
    timeout: Annotated[float, _opt(options.TIMEOUT, _ONE_TIMEOUT)] = 10.0,
    client: Annotated[Optional[str], _opt(options.CLIENT, "Run this client against the server, traced in its own lane.")] = None,  # noqa: UP045,E501
    server: Annotated[Optional[str], _opt(options.SERVER, "Run this server for the client, traced in its own lane.")] = None,  # noqa: UP045,E501
    states: Annotated[bool, _opt(options.STATES, "Show each call's TCP state in the file (read, never compared; it may vary between runs).")] = False,  # noqa: E501
    backend: Annotated[Backend, _opt(options.BACKEND)] = "ptrace",
    traceback: Annotated[bool, _opt(options.TRACEBACK)] = False,
) -> None:
    """Run PROGRAM (given its peer, as compare does) and write its socket calls as a golden trace for check.

    The file is normalized (no pids, descriptors, ports, inodes or timings): the same from run to run.
    """
    from sctrace.golden import golden_file as golden
    from sctrace.peer.driver import DriveOptions

    refuse_inputs(output, [(program, "program"), (client, "--client program"), (server, "--server program")])
    check_writable(None if output == "-" else Path(output))  # said before anything runs, as by compare
    drive = DriveOptions(_unescape(send), _unescape(reply), timeout, client=client, server=server, states=states,
                         backend=backend)
    try:
        recording = golden.record(program, args or [], level=level, drive=drive)
    except SctraceError as exc:  # like compare and check: any trouble is status 2
        raise SctraceError(exc.message, ExitStatus.USAGE) from None
    for notice in dict.fromkeys(recording.notices):
        print(f"sctrace: {notice}", file=sys.stderr)
    golden.write(recording.golden, output)


@app.command(no_args_is_help=True)
def check(
    program: Annotated[str, typer.Argument(help="The program to run again.")],
    file: Annotated[str, typer.Argument(metavar="FILE", help="The golden trace made by sctrace record.")],
    level: Annotated[Optional[Level], _opt(options.LEVEL, "The level FILE was made at (default: FILE's).")] = None,  # noqa: E501,UP045
    send: Annotated[Optional[str], _opt(options.SEND, "What the peer client sends (default: as recorded).")] = None,  # noqa: E501,UP045
    reply: Annotated[Optional[str], _opt(options.REPLY, "What the peer server replies (default: as recorded).")] = None,  # noqa: E501,UP045
    timeout: Annotated[float, _opt(options.TIMEOUT, _ONE_TIMEOUT)] = 10.0,
    client: Annotated[Optional[str], _opt(options.CLIENT, "Run this client against the server (default: as recorded).")] = None,  # noqa: UP045,E501
    server: Annotated[Optional[str], _opt(options.SERVER, "Run this server for the client (default: as recorded).")] = None,  # noqa: UP045,E501
    backend: Annotated[Backend, _opt(options.BACKEND)] = "ptrace",
    width: Annotated[Optional[int], _opt(options.WIDTH)] = None,  # noqa: UP045
    traceback: Annotated[bool, _opt(options.TRACEBACK)] = False,
) -> None:
    """Run PROGRAM again and compare its socket calls with the golden trace FILE.

    Exit status: 0 they match, 1 they differ (shown side by side, as compare shows it), 2 trouble.
    """
    from sctrace.compare.align import summarize
    from sctrace.golden import golden_file as golden
    from sctrace.render import COMPARE_RENDERERS, Terminal

    try:
        result = golden.check(program, file, level=level, send=None if send is None else _unescape(send),
                              reply=None if reply is None else _unescape(reply),
                              client=client, server=server, timeout=timeout, backend=backend)
    except SctraceError as exc:  # like compare (diff(1)): any trouble is status 2
        raise SctraceError(exc.message, ExitStatus.USAGE) from None
    for notice in dict.fromkeys(result.recording.notices):
        print(f"sctrace: {notice}", file=sys.stderr)
    summary = summarize(result.comparison)
    if result.status == 0:
        print(f"{file}: matches ({summary})")
    else:
        COMPARE_RENDERERS["text"](result.comparison, summary, sys.stdout, Terminal.of(sys.stdout, width=width))
    sys.stdout.flush()
    raise typer.Exit(result.status)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def demo(ctx: typer.Context) -> None:
    """The seed lecture in one command: compare server1.php with server1.py, TCP states and packets included.

    Any option of compare applies: sctrace demo --format html -o report.html
    """
    from sctrace.cli.demo import demo_argv

    command = typer.main.get_command(app)
    compare_command = command.commands["compare"] if isinstance(command, click.Group) else command
    compare_options = {opt for param in compare_command.params for opt in getattr(param, "opts", [])}
    raise typer.Exit(run(demo_argv(ctx.args, compare_options)))


@app.command()
def matrix(
    programs: Annotated[list[str], typer.Argument(help="Programs (.c, .go, .php, .py, .js, ...) or saved traces: a column each.")],  # noqa: E501
    format: Annotated[MatrixFormat, _opt(options.MATRIX_FORMAT)] = "text",
    output: Annotated[Optional[Path], _opt(options.OUTPUT, "Write the matrix here.")] = None,  # noqa: UP045
    send: Annotated[str, _opt(options.SEND)] = "hello\n",
    reply: Annotated[str, _opt(options.REPLY)] = "hi",
    timeout: Annotated[float, _opt(options.TIMEOUT)] = 10.0,
    backend: Annotated[Backend, _opt(options.BACKEND)] = "ptrace",
    width: Annotated[Optional[int], _opt(options.WIDTH)] = None,  # noqa: UP045
    traceback: Annotated[bool, _opt(options.TRACEBACK)] = False,
) -> None:
    """Run several programs (or load traces): their socket calls, a column per program, a row per life-cycle step.

    Exit status: 0 the matrix was made, 2 trouble (a program that cannot be run or built, a bad trace,
    a report that cannot be written).
    """
    from sctrace.compare.matrix import build_matrix
    from sctrace.peer.driver import DriveOptions
    from sctrace.render import MATRIX_RENDERERS, Terminal

    notices: list[str] = []
    try:
        refuse_inputs(output, [(p, "program or trace") for p in programs])
        check_writable(output)
        drive = DriveOptions(_unescape(send), _unescape(reply), timeout, backend=backend)
        made = build_matrix(programs, drive=drive, notices=notices)
        out = sys.stdout if output is None else open_output(output)
    except SctraceError as exc:  # any trouble is status 2, as for compare
        raise SctraceError(exc.message, ExitStatus.USAGE) from None
    for notice in dict.fromkeys(notices):
        print(f"sctrace: {notice}", file=sys.stderr)
    MATRIX_RENDERERS[format](made, out, Terminal.of(out, width=width))
    out.flush()
    if out is not sys.stdout:
        out.close()


def _unescape(text: str) -> bytes:
    """--send 'hello\\n' means the six bytes h, e, l, l, o, newline."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape").encode("latin-1", "replace")


def run(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status instead of exiting."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=argv, prog_name="sctrace", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        hint = f"; see sctrace {exc.ctx.info_name} --help" if exc.ctx and exc.ctx.info_name != "sctrace" else (
            "; see sctrace --help"
        )
        print(f"sctrace: error: {exc.format_message()}{hint}", file=sys.stderr)
        return ExitStatus.USAGE
    except click.Abort as exc:  # click's word for Ctrl-C (and for a Stopped, which is one)
        return stop_status(exc)
    except (SctraceError, KeyboardInterrupt, Stopped, Exception) as exc:  # noqa: BLE001 - the last line of defence
        return report(exc, argv)


def main() -> None:
    sys.exit(run())
