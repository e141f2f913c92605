"""Alignment of normalized steps into comparison rows, and the one-line summary.

Steps are built by hand (with a fake Event) so that each test states exactly
which keys, names, rules and times the aligner sees, independent of normalize.
The size tests count the diff's work instead of timing it: speed is measured by
scripts/bench_compare.py, while these catch a quadratic regression on any machine.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from sctrace.compare import align as align_mod
from sctrace.compare.align import DiffStats, align, diff_keys, summarize
from sctrace.compare.model import Comparison, Row, Side, Step
from sctrace.model.trace import Event

INFORMATIONAL = {"getsockname", "getpeername", "getsockopt"}


def step(name: str, *, proc: str = "P1", t: float = 0.0, ret: Any = 0, errno: str | None = None,
         key: str | None = None, rules: list[str] | None = None, notes: list[str] | None = None,
         **args: Any) -> Step:
    """A Step whose key is its name, arguments and result, unless one is given."""
    if key is None:
        key = f"{name}({json.dumps(args, sort_keys=True)}) = {ret} {errno}"
    event = Event("syscall", 0, 100, t, name, dict(args), ret if isinstance(ret, int) else None, errno)
    return Step(proc=proc, name=name, args=dict(args), ret=ret, errno=errno, key=key, text=f"{name}(...) = {ret}",
                event=event, rules=rules or [], notes=notes or [], informational=name in INFORMATIONAL)


def client(proc: str = "P1", t0: float = 0.0, dt: float = 0.01) -> list[Step]:
    """socket, connect, write, read, close: one short client connection."""
    calls: list[tuple[str, dict[str, Any], Any]] = [
        ("socket", {"domain": "AF_INET", "type": "SOCK_STREAM"}, "C1"),
        ("connect", {"fd": "C1", "addr": "127.0.0.1:PORT1"}, 0),
        ("write", {"fd": "C1", "buf": "ping"}, 4),
        ("read", {"fd": "C1", "buf": "pong"}, 4),
        ("close", {"fd": "C1"}, 0),
    ]
    return [step(name, proc=proc, t=t0 + i * dt, ret=ret, **args) for i, (name, args, ret) in enumerate(calls)]


def verdicts(rows: list[Row]) -> list[str]:
    return [row.verdict for row in rows]


def names(rows: list[Row]) -> list[str]:
    out = []
    for row in rows:
        step_ = row.left if row.left is not None else row.right
        assert step_ is not None
        out.append(step_.name)
    return out


def comparison(rows: list[Row], level: str = "semantic") -> Comparison:
    def side(program: str) -> Side:
        return Side(program=program, language=None, interpreter=None, interpreter_version=None, exit={"code": 0})
    return Comparison(level, side("/tmp/x/server1.php"), side("/tmp/y/server1.py"), rows)


# -- rows -------------------------------------------------------------------------------------------

def test_identical_sequences_are_all_same() -> None:
    left, right = client(), client()
    rows = align(left, right)
    assert verdicts(rows) == ["same"] * 5
    assert [(r.left, r.right) for r in rows] == list(zip(left, right, strict=True))


def test_one_insertion_is_right_only_in_place() -> None:
    left, right = client(), client()
    right.insert(2, step("setsockopt", t=0.015, fd="C1", optname="TCP_NODELAY"))
    rows = align(left, right)
    assert verdicts(rows) == ["same", "same", "right_only", "same", "same", "same"]
    assert rows[2].left is None and rows[2].right is right[2]


def test_one_deletion_is_left_only_in_place() -> None:
    left, right = client(), client()
    del right[3]
    rows = align(left, right)
    assert verdicts(rows) == ["same", "same", "same", "left_only", "same"]
    assert rows[3].left is left[3] and rows[3].right is None


def test_changed_step_pairs_same_name_and_says_what_differs() -> None:
    left, right = client(), client()
    right[0] = step("socket", t=0.0, ret="C1", domain="AF_INET", type="SOCK_STREAM|SOCK_CLOEXEC")
    right[1] = step("connect", t=0.01, ret=-1, errno="ECONNREFUSED", fd="C1", addr="127.0.0.1:PORT1")
    rows = align(left, right)
    assert verdicts(rows) == ["changed", "changed", "same", "same", "same"]
    assert rows[0].detail == "type: SOCK_STREAM → SOCK_STREAM|SOCK_CLOEXEC"
    assert rows[1].detail == "result: 0 → -1 ECONNREFUSED"


def test_changed_detail_compares_nested_values_and_missing_arguments() -> None:
    left = [step("sendto", buf={"text": "GET /a", "len": 6}, flags="MSG_NOSIGNAL")]
    right = [step("sendto", buf={"text": "GET /b", "len": 6})]
    (row,) = align(left, right)
    assert row.verdict == "changed"
    assert row.detail == "buf.text: GET /a → GET /b; flags: MSG_NOSIGNAL → (none)"


def test_gap_pairs_by_name_in_order_and_leaves_the_rest_one_sided() -> None:
    left = [step("socket", t=0.0), step("bind", t=0.1, addr="A"), step("listen", t=0.2, backlog=5)]
    right = [step("socket", t=0.0), step("setsockopt", t=0.1), step("listen", t=0.2, backlog=128)]
    rows = align(left, right)
    assert verdicts(rows) == ["same", "left_only", "right_only", "changed"]
    assert rows[3].detail == "backlog: 5 → 128"


def test_equal_keys_with_rules_are_equivalent_and_name_the_rules() -> None:
    left = [step("accept", key="accept(L1) = C1", ret="C1")]
    right = [step("accept", key="accept(L1) = C1", ret="C1", rules=["accept4-as-accept", "cloexec"],
                  notes=["SOCK_CLOEXEC"])]
    left_w = [step("write", key="send(C1)", rules=["write-as-send"])]
    right_w = [step("sendto", key="send(C1)", rules=["sendto-as-send", "write-as-send"])]
    rows = align(left + left_w, right + right_w)
    assert verdicts(rows) == ["equivalent", "equivalent"]
    assert rows[0].rule == "accept4-as-accept, cloexec"
    assert rows[1].rule == "write-as-send, sendto-as-send"


def test_informational_extras_and_differences_never_fail() -> None:
    left = client()
    right = client()
    right.insert(2, step("getsockname", t=0.015, ret=0, fd="C1", addr="127.0.0.1:EPHEMERAL"))
    left.insert(4, step("getpeername", t=0.035, ret=0, fd="C1", addr="127.0.0.1:PORT1"))
    right.insert(5, step("getpeername", t=0.035, ret=0, fd="C1", addr="127.0.0.1:PORT2"))
    rows = align(left, right)
    assert verdicts(rows) == ["same", "same", "info", "same", "same", "info", "same"]
    assert rows[2].left is None and rows[2].right is not None and rows[2].right.name == "getsockname"
    assert rows[5].left is not None and rows[5].right is not None
    assert rows[5].detail == "addr: 127.0.0.1:PORT1 → 127.0.0.1:PORT2"
    assert comparison(rows).equivalent


def test_informational_call_is_not_paired_with_a_failing_call() -> None:
    left = [step("getsockopt", ret=0, level="SOL_SOCKET")]
    right = [step("getsockopt", ret=-1, errno="EBADF", level="SOL_SOCKET"), step("close", t=0.1)]
    rows = align(left, right)
    assert verdicts(rows) == ["info", "right_only"]


def test_processes_are_aligned_separately_and_merged_by_time() -> None:
    # The two processes interleave differently on each side; per-process alignment ignores that.
    left = sorted(client("P1", 0.0, 0.02) + client("P2", 0.01, 0.02), key=lambda s: s.event.t)
    right = client("P2", 0.0, 0.01) + client("P1", 0.5, 0.01)
    rows = align(left, right)
    assert verdicts(rows) == ["same"] * 10
    assert all(r.left is not None and r.right is not None and r.left.proc == r.right.proc for r in rows)
    assert [r.left.proc for r in rows if r.left] == ["P1", "P2"] * 5
    assert [r.left.event.t for r in rows if r.left] == sorted(s.event.t for s in left)


def test_process_on_one_side_only_is_one_sided() -> None:
    worker = client("P2", 1.0)
    worker.insert(1, step("getsockname", proc="P2", t=1.005))
    left = client("P1") + worker
    right = client("P1")
    rows = align(left, right)
    assert verdicts(rows) == ["same"] * 5 + ["left_only", "info"] + ["left_only"] * 4
    rows = align(right, left)
    assert verdicts(rows) == ["same"] * 5 + ["right_only", "info"] + ["right_only"] * 4


def test_time_order_places_right_only_rows_by_their_clock_within_their_process() -> None:
    left = [step("socket", proc="P1", t=0.0, key="s"), step("close", proc="P1", t=1.0, key="c"),
            step("socket", proc="P2", t=0.4, key="s2"), step("close", proc="P2", t=0.6, key="c2")]
    # The right side is slower: its extra call at 5.0 must not drift past P1's close at 1.0.
    right = [step("socket", proc="P1", t=0.0, key="s"), step("write", proc="P1", t=0.5, key="w"),
             step("bind", proc="P1", t=5.0, key="b"), step("close", proc="P1", t=9.0, key="c"),
             step("socket", proc="P2", t=3.0, key="s2"), step("close", proc="P2", t=4.0, key="c2")]
    rows = align(left, right)
    assert [(r.verdict, n) for r, n in zip(rows, names(rows), strict=True)] == [
        ("same", "socket"),  # P1 at 0.0
        ("same", "socket"),  # P2 at 0.4
        ("right_only", "write"),  # P1, right clock 0.5
        ("same", "close"),  # P2 at 0.6
        ("right_only", "bind"),  # P1, right clock 5.0 clamped to P1's next left time, 1.0
        ("same", "close"),  # P1 at 1.0
    ]


def test_equal_times_keep_process_order_of_appearance() -> None:
    left = [step("socket", proc="P2", t=0.0, key="a"), step("socket", proc="P1", t=0.0, key="b"),
            step("close", proc="P1", t=0.0, key="c")]
    rows = align(left, list(left))
    assert [r.left.proc for r in rows if r.left] == ["P2", "P1", "P1"]


def test_empty_inputs() -> None:
    assert align([], []) == []
    assert verdicts(align(client(), [])) == ["left_only"] * 5


# -- the diff itself --------------------------------------------------------------------------------

def assert_valid(a: list[int], b: list[int], pairs: list[tuple[int, int]]) -> None:
    """Pairs match equal keys and increase strictly on both sides."""
    assert all(a[i] == b[j] for i, j in pairs)
    assert all(i1 < i2 and j1 < j2 for (i1, j1), (i2, j2) in zip(pairs, pairs[1:], strict=False))


def lcs_length(a: list[int], b: list[int]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b):
            prev_diag, row[j + 1] = row[j + 1], prev_diag + 1 if x == y else max(row[j + 1], row[j])
    return row[-1]


@pytest.mark.parametrize("seed", range(40))
def test_small_diffs_are_valid_and_minimal(seed: int) -> None:
    """Below the patience threshold, the capped Myers diff is a true longest common subsequence."""
    rng = random.Random(seed)
    a = [rng.randrange(4) for _ in range(rng.randrange(0, 30))]
    b = [rng.randrange(4) for _ in range(rng.randrange(0, 30))]
    pairs = diff_keys(a, b)
    assert_valid(a, b, pairs)
    assert len(pairs) == lcs_length(a, b)


@pytest.mark.parametrize("seed", range(10))
def test_larger_diffs_with_anchors_are_valid(seed: int) -> None:
    rng = random.Random(seed)
    a = [rng.randrange(300) for _ in range(400)]
    b = list(a)
    for _ in range(30):
        op, at = rng.randrange(3), rng.randrange(len(b))
        if op == 0:
            b.insert(at, rng.randrange(300))
        elif op == 1:
            del b[at]
        else:
            b[at] = rng.randrange(300)
    pairs = diff_keys(a, b)
    assert_valid(a, b, pairs)
    assert len(pairs) >= len(a) - 60  # 30 edits cost at most two unmatched keys each


def test_greedy_fallback_past_the_edit_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(align_mod, "MAX_D", 2)
    a = [i % 5 for i in range(200)]
    b = list(a)
    for at in (150, 100, 50, 10):
        b[at] = 9
        b.insert(at + 3, 7)
    stats = DiffStats()
    pairs = diff_keys(a, b, stats)
    assert stats.greedy_gaps >= 1
    assert_valid(a, b, pairs)
    assert len(pairs) >= len(a) - 8


# -- work stays linear (counted, not timed) ---------------------------------------------------------

def edited(n: int, period: int | None, edits: int, seed: int = 1) -> tuple[list[int], list[int]]:
    """n keys (unique, or repeating with the given period) and a copy with `edits` evenly spread edits."""
    rng = random.Random(seed)
    every = n // edits
    a = [i % period if period else i for i in range(n)]
    b: list[int] = []
    for i, key in enumerate(a):
        if i % every == every // 2:
            op = rng.randrange(3)
            if op == 0:
                b.extend((key, -1 - i))  # an extra key
            elif op == 2:
                b.append(-1 - i)  # a changed key
            continue  # op 1: a missing key
        b.append(key)
    return a, b


@pytest.mark.parametrize(("period", "edits"), [(None, 300), (5, 300), (10, 400), (2, 100)])
def test_work_is_linear_for_a_few_hundred_differences(period: int | None, edits: int) -> None:
    """20,000 then 40,000 keys a side with the same few hundred edits: the work doubles, no more."""
    work = []
    for n in (20_000, 40_000):
        a, b = edited(n, period, edits)
        stats = DiffStats()
        pairs = diff_keys(a, b, stats)
        assert_valid(a, b, pairs)
        assert len(pairs) >= n - 2 * edits
        work.append(stats.probes)
    assert work[1] < 2.5 * work[0]


@pytest.mark.parametrize(("period", "every"), [(None, 3), (5, 3), (5, 20), (10, 50), (5, 200)])
def test_work_per_key_is_bounded_when_differences_grow_with_size(period: int | None, every: int) -> None:
    """Edits in proportion to the size: Myers's D grows, hits its cap, and the greedy pass takes over."""
    for n in (20_000, 40_000):
        a, b = edited(n, period, n // every)
        stats = DiffStats()
        pairs = diff_keys(a, b, stats)
        assert_valid(a, b, pairs)
        assert len(pairs) >= n - 3 * (n // every)
        assert stats.probes < 30 * (len(a) + len(b))


def test_unrelated_sequences_fall_back_without_quadratic_work() -> None:
    n = 20_000
    a = [i % 7 for i in range(n)]
    b = [100 + i % 11 for i in range(n)]
    stats = DiffStats()
    assert diff_keys(a, b, stats) == []
    assert stats.probes < 40 * 2 * n


def test_align_completes_on_20000_steps_per_side() -> None:
    left = [s for c in range(4000) for s in client("P1" if c % 2 else "P2", c * 0.1)]
    right = [s for c in range(4000) for s in client("P1" if c % 2 else "P2", c * 0.1)]
    for at in range(100, len(right), 997):
        right[at] = step(right[at].name, proc=right[at].proc, t=right[at].event.t, ret=-1, errno="EINTR")
    rows = align(left, right)
    counts = comparison(rows).counts()
    assert counts["changed"] == len(range(100, len(right), 997))
    assert counts["same"] == len(left) - counts["changed"]


# -- summary ----------------------------------------------------------------------------------------

def test_summary_of_equivalent_traces_lists_what_was_tolerated() -> None:
    left = client()
    right = client()
    right[0] = step("socket", key=left[0].key, ret="C1", rules=["cloexec"], notes=["SOCK_CLOEXEC"])
    right[2] = step("sendto", key=left[2].key, ret=4, rules=["sendto-as-write"], notes=["sendto for write"])
    right.insert(2, step("getsockname", t=0.015))
    right.insert(2, step("getsockname", t=0.015, fd="C2"))
    left.insert(3, step("getpeername", t=0.025))
    text = summarize(comparison(align(left, right)))
    assert text == ("semantically equivalent: 5 steps; differences: SOCK_CLOEXEC, 2 extra getsockname in server1.py, "
                    "sendto for write, an extra getpeername in server1.php")


def test_summary_falls_back_to_rule_names_and_names_identical_programs() -> None:
    left = [step("accept", key="k")]
    right = [step("accept4", key="k", rules=["accept4-as-accept"]), step("getsockname")]
    comp = comparison(align(left, right), level="stable")
    comp.left.program = comp.right.program = "server.py"
    assert summarize(comp) == ("equivalent: 1 step; differences: accept4-as-accept, "
                               "an extra getsockname in server.py (right)")


def test_summary_of_different_traces_counts_changes() -> None:
    left = client()
    right = client()
    right[1] = step("connect", t=0.01, ret=-1, errno="ECONNREFUSED")
    right[3] = step("read", t=0.03, ret=0)
    del right[4]
    assert summarize(comparison(align(left, right))) == "different: 2 steps changed, 1 only in server1.php"
    assert summarize(comparison(align(client(), client()))) == "semantically equivalent: 5 steps"


def test_summary_counts_the_name_service_calls_left_out_of_the_rows() -> None:
    comp = comparison(align(client(), client()))
    comp.right.name_service_calls = 34
    assert summarize(comp) == ("semantically equivalent: 5 steps "
                               "(34 name-service calls by the C library in server1.py, not shown)")
    comp.left.name_service_calls = 1
    right = client()
    del right[4]
    comp.rows = align(client(), right)
    assert summarize(comp) == ("different: 1 only in server1.php (1 name-service call by the C library in "
                               "server1.php, 34 name-service calls by the C library in server1.py, not shown)")
