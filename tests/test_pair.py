"""Both sides normalized at once (sctrace/compare/pair.py): the right side in a forked child must give exactly
what one process gives, fall back to this process when the child fails, and never leave the child behind.

The traces are real: fixtures/trace/many_connections.py and .php (2,000 connections, about 18,000 events
each) traced under ptrace into saved files, large enough that `sctrace compare` takes the two-process way
and that the child's steps come back in several batches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sctrace.compare import pair
from sctrace.compare.align import align, summarize
from sctrace.compare.model import Comparison, Side, Step
from sctrace.compare.pair import BYTES_PER_EVENT, normalize_pair
from sctrace.kernel.procfs import stat_fields
from sctrace.model.trace import Event, Trace
from sctrace.render.compare_json import to_json
from tests.helpers import PYTHON, ROOT, sctrace

# Every test here uses the traces of many_connections, made once per run (about 12 s).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """many_connections traced and saved: the Python twin, and the PHP one where php is installed (else the
    Python one traced again, another run)."""
    out = tmp_path_factory.mktemp("pair")
    programs = ["many_connections.py", "many_connections.php" if shutil.which("php") else "many_connections.py"]
    paths = []
    for n, program in enumerate(programs):
        path = out / f"{n}-{program}.jsonl"
        args = ["trace", "--format", "jsonl", "-o", str(path)]
        if program.endswith(".py"):
            args += ["--interpreter", PYTHON]
        proc = sctrace(*args, f"fixtures/trace/{program}")
        assert proc.returncode == 0, proc.stderr
        paths.append(path)
    return paths


def children() -> list[int]:
    """This process's living (or unreaped) children."""
    found = []
    for task in os.listdir("/proc/self/task"):
        found += [int(pid) for pid in Path(f"/proc/self/task/{task}/children").read_text().split()]
    return found


def loader(path: Path) -> pair.Loader:
    return lambda: Trace.load(path)


@pytest.mark.parametrize(("level", "fold"), [("semantic", True), ("semantic", False), ("stable", False),
                                             ("raw", False)])
def test_the_child_gives_what_one_process_gives(saved: list[Path], level: str, fold: bool) -> None:
    left, right = saved
    alone = normalize_pair(loader(left), loader(right), level, parallel=False, fold=fold)
    assert len(alone[1][1]) > 3 * pair._BATCH  # several batches come back
    traces, steps, folded = normalize_pair(loader(left), loader(right), level, parallel=True, fold=fold)
    assert (traces, steps, folded) == alone
    assert all(step.event is event for step, event in zip(steps[1], _events_of(steps[1], traces[1]), strict=True))
    in_memory = Trace.load(right)  # a trace a run made: the child sends only the steps
    got = normalize_pair(loader(left), in_memory, level, parallel=True, fold=fold)
    assert got[0][1] is in_memory and got == alone
    assert children() == []


def _events_of(steps: list[Step], trace: Trace) -> list[Event]:
    """The event of trace each step stands at (the same seq): the step must hold that very object."""
    by_seq = {event.seq: event for event in trace.events}
    return [by_seq[step.event.seq] for step in steps]


def test_a_child_that_fails_leaves_this_process_to_do_it(saved: list[Path]) -> None:
    left, right = saved
    parent = os.getpid()

    def fails_in_the_child() -> Trace:
        if os.getpid() != parent:
            raise MemoryError("the child ran out")
        return Trace.load(right)

    expected = normalize_pair(loader(left), loader(right), "semantic", parallel=False)
    assert normalize_pair(loader(left), fails_in_the_child, "semantic", parallel=True) == expected
    assert children() == []


def test_a_child_that_fails_half_way_leaves_this_process_to_do_it(saved: list[Path]) -> None:
    """The child has written and told of some frames, and this process read them, when it fails: what was read
    is dropped and this process loads and normalizes the right side itself."""
    left, right = saved
    parent = os.getpid()

    def unwritable_at_the_end() -> Trace:
        trace = Trace.load(right)
        if os.getpid() != parent:  # marshal cannot write an object: the last batch fails
            last = trace.events[-1]
            last.info = {**last.info, "odd": object()}
        return trace

    expected = normalize_pair(loader(left), loader(right), "semantic", parallel=False)
    assert len(expected[0][1].events) > 2 * pair._BATCH  # batches come before the one that fails
    assert normalize_pair(loader(left), unwritable_at_the_end, "semantic", parallel=True) == expected
    assert children() == []


def test_the_left_sides_error_comes_first_and_no_child_is_left(saved: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "header", "schema": 1, "argv": []}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2"):
        normalize_pair(loader(bad), loader(saved[1]), "semantic", parallel=True)
    with pytest.raises(KeyboardInterrupt):
        normalize_pair(_interrupted, loader(saved[1]), "semantic", parallel=True)
    assert children() == []


def _interrupted() -> Trace:
    raise KeyboardInterrupt


def _every_cpu() -> None:
    """For the command: the CPUs of the machine (a test that traced in this process with a pinned tracer
    may have left it on one CPU, and a child inherits that)."""
    os.sched_setaffinity(0, range(os.cpu_count() or 1))


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: the command never takes the two-process way here")
def test_the_command_takes_the_two_process_way_and_agrees(saved: list[Path]) -> None:
    left, right = saved
    size = sum(os.path.getsize(p) // BYTES_PER_EVENT for p in saved)
    decided = subprocess.run([sys.executable, "-c", f"from sctrace.compare.pair import worth_a_process as w; "
                              f"print(w({size}))"], capture_output=True, text=True, preexec_fn=_every_cpu)
    assert decided.stdout.strip() == "True", "the command would not take the two-process way: " + decided.stderr
    proc = subprocess.run([sys.executable, "-m", "sctrace", "compare", "--format", "json", str(left), str(right)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          preexec_fn=_every_cpu)
    assert proc.returncode in (0, 1) and proc.stderr == "", proc.stderr
    traces, steps, folded = normalize_pair(loader(left), loader(right), "semantic", parallel=False, fold=True)
    sides = [Side(str(p), t.header.language, t.header.interpreter, t.header.interpreter_version, {}, t.header, t,
                  count) for p, t, count in zip(saved, traces, folded, strict=True)]
    comparison = Comparison("semantic", sides[0], sides[1], align(steps[0], steps[1]))
    expected = to_json(comparison, summarize(comparison))
    got = json.loads(proc.stdout)
    assert got["rows"] == json.loads(json.dumps(expected["rows"])) and len(got["rows"]) > 10_000
    assert got["summary"] == expected["summary"]


def test_without_a_temporary_file_one_process_does_both(saved: list[Path], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    left, right = saved
    expected = normalize_pair(loader(left), loader(right), "semantic", parallel=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-directory"))
    assert normalize_pair(loader(left), loader(right), "semantic", parallel=True) == expected
    assert children() == []


_KILLED_SCRIPT = """
import os, sys, time
from sctrace.compare.pair import normalize_pair
from sctrace.model.trace import Event, Trace
parent = os.getpid()

def right():
    if os.getpid() != parent:  # the child: say who it is, then take its time
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
        time.sleep(60)
    return Trace.load(sys.argv[1])

normalize_pair(lambda: (time.sleep(60), Trace.load(sys.argv[1]))[1], right, "semantic", parallel=True)
"""


def test_the_child_dies_with_a_parent_killed_outright(saved: list[Path], tmp_path: Path) -> None:
    import signal
    import time

    said = tmp_path / "child.pid"
    script = subprocess.Popen([sys.executable, "-c", _KILLED_SCRIPT, str(saved[1]), str(said)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not said.exists() and time.monotonic() < deadline and script.poll() is None:
            time.sleep(0.05)
        assert said.exists(), "the child never started"
        child = int(said.read_text())
    finally:
        script.send_signal(signal.SIGKILL)
        script.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"the child {child} outlived its parent"


def _alive(pid: int) -> bool:
    """Whether pid runs (a zombie, dead but not yet reaped by whoever inherited it, does not)."""
    try:
        return stat_fields(pid)[0] != b"Z"
    except OSError:
        return False
