"""sctrace's ptrace backend agrees with strace on every fixture program.

One row per fixture (fixtures/trace/README.md says what each does).  For each,
both tracers run the same command; the socket calls each process made must be
the same calls with the same arguments and results, nothing lost and nothing
extra (tests/straceref.py says what is replaced by placeholders).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import TRACE_FIXTURES
from tests.straceref import (
    STRACE,
    assert_same_processes,
    interpreter_for,
    per_process,
    run_sctrace,
    run_strace,
)

# fixture -> how its runs may legitimately differ: "merge" folds runs of reads or writes (chunk
# sizes of a bulk transfer vary by run), "renumber" names descriptors by first use (threads race
# for the lowest free number).  Every other fixture must agree call for call.
FIXTURE_TABLE: dict[str, frozenset[str]] = {
    name: frozenset() for name in [
        "tcp4_echo.py", "tcp4_echo.php", "tcp4_echo.js", "tcp4_echo.pl", "tcp4_echo.rb",
        "tcp6_echo.py", "tcp6_echo.php",
        "udp_echo.py", "udp_echo.php", "udp_echo.js", "udp_echo.pl", "udp_echo.rb",
        "unix_stream.py", "unix_stream.php", "unix_stream.js", "unix_stream.pl", "unix_abstract.py",
        "socketpair.py", "socketpair.php", "sendmsg_recvmsg.py", "sendmsg_recvmsg.php",
        "dup_write.py", "dup_write.php", "fd_reuse.py", "fd_reuse.php",
        "fork_connect.py", "fork_connect.php", "exec_inherit.py", "mmsg.py",
        "addrinuse.py", "addrinuse.php", "addrinuse.js", "addrinuse.pl",
        "refused.py", "refused.php", "refused.js", "refused.pl",
        "many_connections.py", "many_connections.php", "unknown_origin.py", "unshared_files.py", "own_seccomp.py",
    ]
}
FIXTURE_TABLE["threaded_server.py"] = frozenset({"renumber"})
FIXTURE_TABLE["big_transfer.py"] = frozenset({"merge"})
FIXTURE_TABLE["big_transfer.php"] = frozenset({"merge"})

# Each fixture a test case; the 2,000 connections of many_connections take about a minute under both tracers.
FIXTURE_CASES = [pytest.param(name, marks=[pytest.mark.slow] if name.startswith("many_connections.") else [])
                 for name in sorted(FIXTURE_TABLE)]


@pytest.mark.parametrize("name", FIXTURE_CASES)
def test_agrees_with_strace(name: str, tmp_path: Path) -> None:
    if STRACE is None:
        pytest.skip("strace is not installed (scripts/test installs it)")
    fixture = TRACE_FIXTURES / name
    assert fixture.exists(), f"fixture {name} is missing"
    if interpreter_for(fixture) is None:
        pytest.skip(f"no interpreter for {fixture.suffix} on this machine")
    merge = "merge" in FIXTURE_TABLE[name]
    renumber = "renumber" in FIXTURE_TABLE[name]
    ours, our_status = run_sctrace(fixture, tmp_path / "sctrace.jsonl")
    ref, ref_status = run_strace(fixture, tmp_path / "strace.log")
    assert ref_status == 0, f"{name} failed under strace"
    assert our_status == 0, f"{name} failed under sctrace (status {our_status})"
    assert ours.header.seccomp is True
    got = per_process(ours, merge, renumber)
    want = per_process(ref, merge, renumber)
    assert sum(len(s) for s in want) > 0, "strace saw no socket call: the fixture is broken"
    assert_same_processes(want, got, "strace", "sctrace")


@pytest.mark.parametrize("name", ["tcp4_echo.py", "fork_connect.py", "sendmsg_recvmsg.py", "tcp4_echo.php"])
def test_without_seccomp_agrees_too(name: str, tmp_path: Path) -> None:
    """The PTRACE_SYSCALL fallback (no seccomp) reports exactly what the filtered mode does."""
    if STRACE is None:
        pytest.skip("strace is not installed (scripts/test installs it)")
    fixture = TRACE_FIXTURES / name
    if interpreter_for(fixture) is None:
        pytest.skip(f"no interpreter for {fixture.suffix} on this machine")
    fast, _ = run_sctrace(fixture, tmp_path / "a.jsonl")
    slow, status = run_sctrace(fixture, tmp_path / "b.jsonl", "--no-seccomp")
    assert status == 0
    assert fast.header.seccomp is True and slow.header.seccomp is False
    assert per_process(slow) == per_process(fast)
    ref, _ = run_strace(fixture, tmp_path / "strace.log")
    assert per_process(slow) == per_process(ref)
