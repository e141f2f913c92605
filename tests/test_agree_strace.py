"""sctrace's ptrace backend agrees with strace on every fixture program.

One row per fixture (fixtures/trace/README.md says what each does).  For each,
both tracers run the same command; the socket calls each process made must be
the same calls with the same arguments and results, nothing lost and nothing
extra (tests/straceref.py says what is replaced by placeholders).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.straceref import FIXTURES, STRACE, interpreter_for, per_process, run_sctrace, run_strace

# fixture -> whether reads and writes are folded (chunk sizes of a bulk transfer vary by run)
FIXTURE_TABLE: dict[str, bool] = {
    "tcp4_echo.py": False, "tcp4_echo.php": False, "tcp4_echo.js": False, "tcp4_echo.pl": False,
    "tcp4_echo.rb": False,
    "tcp6_echo.py": False, "tcp6_echo.php": False,
    "udp_echo.py": False, "udp_echo.php": False, "udp_echo.js": False, "udp_echo.pl": False,
    "udp_echo.rb": False,
    "unix_stream.py": False, "unix_stream.php": False, "unix_stream.js": False, "unix_stream.pl": False,
    "unix_abstract.py": False,
    "socketpair.py": False, "socketpair.php": False,
    "sendmsg_recvmsg.py": False, "sendmsg_recvmsg.php": False,
    "dup_write.py": False, "dup_write.php": False,
    "fd_reuse.py": False, "fd_reuse.php": False,
    "fork_connect.py": False, "fork_connect.php": False,
    "threaded_server.py": False,
    "addrinuse.py": False, "addrinuse.php": False, "addrinuse.js": False, "addrinuse.pl": False,
    "refused.py": False, "refused.php": False, "refused.js": False, "refused.pl": False,
    "big_transfer.py": True, "big_transfer.php": True,
    "many_connections.py": False, "many_connections.php": False,
}

# Node.js's runtime makes calls of its own whose order depends on its threads' timing.
NONDETERMINISTIC_ORDER = {".js"}


def _sorted_if_needed(fixture: Path, seqs: list[list[str]]) -> list[list[str]]:
    if fixture.suffix in NONDETERMINISTIC_ORDER:
        return sorted(sorted(s) for s in seqs)
    return seqs


@pytest.mark.parametrize("name", sorted(FIXTURE_TABLE))
def test_agrees_with_strace(name: str, tmp_path: Path) -> None:
    if STRACE is None:
        pytest.skip("strace is not installed (scripts/test installs it)")
    fixture = FIXTURES / name
    assert fixture.exists(), f"fixture {name} is missing"
    if interpreter_for(fixture) is None:
        pytest.skip(f"no interpreter for {fixture.suffix} on this machine")
    merge = FIXTURE_TABLE[name]
    ours, our_status = run_sctrace(fixture, tmp_path / "sctrace.jsonl")
    ref, ref_status = run_strace(fixture, tmp_path / "strace.log")
    assert ref_status == 0, f"{name} failed under strace"
    assert our_status == 0, f"{name} failed under sctrace (status {our_status})"
    assert ours.header.seccomp is True
    got = _sorted_if_needed(fixture, per_process(ours, merge))
    want = _sorted_if_needed(fixture, per_process(ref, merge))
    assert sum(len(s) for s in want) > 0, "strace saw no socket call: the fixture is broken"
    if got != want:
        diff = difflib.unified_diff(
            [line for s in want for line in ["--- process", *s]],
            [line for s in got for line in ["--- process", *s]],
            "strace", "sctrace", lineterm="", n=2,
        )
        pytest.fail("sctrace and strace disagree:\n" + "\n".join(list(diff)[:80]))


@pytest.mark.parametrize("name", ["tcp4_echo.py", "fork_connect.py", "sendmsg_recvmsg.py", "tcp4_echo.php"])
def test_without_seccomp_agrees_too(name: str, tmp_path: Path) -> None:
    """The PTRACE_SYSCALL fallback (no seccomp) reports exactly what the filtered mode does."""
    if STRACE is None:
        pytest.skip("strace is not installed (scripts/test installs it)")
    fixture = FIXTURES / name
    if interpreter_for(fixture) is None:
        pytest.skip(f"no interpreter for {fixture.suffix} on this machine")
    fast, _ = run_sctrace(fixture, tmp_path / "a.jsonl")
    slow, status = run_sctrace(fixture, tmp_path / "b.jsonl", "--no-seccomp")
    assert status == 0
    assert fast.header.seccomp is True and slow.header.seccomp is False
    assert per_process(slow) == per_process(fast)
    ref, _ = run_strace(fixture, tmp_path / "strace.log")
    assert per_process(slow) == per_process(ref)
