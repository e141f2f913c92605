"""``sctrace compare`` as a library call: obtain two traces (run, or load), normalize, align.

Each program runs as sctrace.peer.sides runs a side (a worker of its own,
its own network namespace where the user may make one, its peer).  A saved
trace (JSON Lines) or an strace log given instead of a program is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from sctrace.compare.model import Comparison, Side
from sctrace.launch.runners import RUNNERS
from sctrace.model.choices import Level
from sctrace.model.gcpause import gc_paused
from sctrace.model.trace import Trace, TraceFormatError
from sctrace.model.trace_files import load_trace_file, sniff_trace_file
from sctrace.peer.driver import DriveOptions
from sctrace.peer.sides import SideRun, exit_info, run_sides
from sctrace.status import ExitStatus, SctraceError


def is_saved_trace(path: str) -> bool:
    """A file is a saved trace (JSON Lines or an strace log, or an empty file meant as one), not a program,
    when its content says so; a file with a runner's extension is always a program."""
    if os.path.splitext(path)[1].lower() in RUNNERS or not os.path.isfile(path):
        return False
    return sniff_trace_file(path) is not None


def load_saved(path: str) -> Trace:
    try:
        return load_trace_file(path)
    except TraceFormatError as exc:
        raise SctraceError(f"{exc}; not a trace sctrace can read", ExitStatus.USAGE) from None


def side_of(label: str, trace: Trace, run: SideRun | None) -> Side:
    h = trace.header
    return Side(label, h.language, h.interpreter, h.interpreter_version, exit_info(run, trace), h, trace)


def compare(left: str, right: str, *, level: Level, drive: DriveOptions, netns: bool | None = None,
            notices: list[str] | None = None) -> Comparison:
    """The comparison of LEFT and RIGHT, each a program to run or a saved trace."""
    from sctrace.compare.align import align
    from sctrace.compare.pair import normalize_pair, worth_a_process
    from sctrace.kernel import netns as ns

    # By side, not by name: `compare X X` runs X twice, and each side shows its own run.
    args = (left, right)
    to_run = [side for side, arg in enumerate(args) if not is_saved_trace(arg)]
    runs: dict[int, SideRun] = {}
    if to_run:
        use_netns = ns.available() if netns is None else netns
        if not use_netns and notices is not None:
            notices.append("no network namespace may be made here: the programs run one after the other on the host's "
                           "loopback (see \"Without root\" in README.md)")
        for side, run in zip(to_run, run_sides([args[side] for side in to_run], drive, use_netns), strict=True):
            runs[side] = run
            arg = args[side]
            if notices is not None:
                notices.extend(f"{arg}: {n}" for n in run.notices)
                if run.stderr:
                    from sctrace.model.escape import escape_for_terminal

                    text = escape_for_terminal(run.stderr.decode("utf-8", "replace").rstrip())
                    head = escape_for_terminal(f"{arg} failed (status {run.status}); its stderr:")
                    notices.append(f"{head}\n{text}")
    # Traces of 100,000 events make millions of objects, none of them cyclic. What is made here lives as
    # long as the comparison and holds no cycle (reference counting frees it): frozen out of the collector's
    # sight, so that no later collection (while a report of 100,000 rows is written) walks it again.
    with gc_paused(freeze=True):
        (left_source, left_size), (right_source, right_size) = (_side_source(args[side], runs.get(side))
                                                                for side in (0, 1))
        # At level semantic the C library's name-service calls are not the program's: counted, not aligned.
        pair, steps, folded = normalize_pair(left_source, right_source, level,
                                             parallel=worth_a_process(left_size + right_size),
                                             fold=level == "semantic")
        rows = align(steps[0], steps[1])
    sides = [side_of(args[i], pair[i], runs.get(i)) for i in (0, 1)]
    for shown, count in zip(sides, folded, strict=True):
        shown.name_service_calls = count
    return Comparison(level, sides[0], sides[1], rows)


def _side_source(arg: str, run: SideRun | None) -> tuple[Trace | Callable[[], Trace], int]:
    """A side's trace (the one its run made, or what reads the saved file arg) and about how many events it
    holds (a file's size says roughly; one whose size cannot be asked counts as empty, and loading it says
    why)."""
    from sctrace.compare.pair import BYTES_PER_EVENT

    if run is not None:
        return run.trace, len(run.trace.events)
    try:
        size = os.path.getsize(arg)
    except OSError:
        size = 0
    return (lambda: load_saved(arg)), size // BYTES_PER_EVENT


def status_of(comparison: Comparison) -> int:
    """diff(1)'s convention: 0 equivalent, 1 different.

    A side killed by a signal (not by sctrace) while the other was not is a
    difference even if the calls agree.
    """
    crashed = [("signal" in s.exit and s.exit.get("by") != "sctrace") for s in (comparison.left, comparison.right)]
    if crashed[0] != crashed[1]:
        return 1
    return 0 if comparison.equivalent else 1
