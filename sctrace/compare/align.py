"""Aligning two normalized step sequences into the rows of a side-by-side comparison.

Steps are paired per process role first (P1 with P1, ...): processes interleave
differently from run to run, and pairing across them would only report noise.
Within a process the key sequences are diffed, the unpaired steps of each gap
are paired by call name into "changed" rows, and the per-process rows are
merged back into one timeline.

The diff must stay near-linear, as 100,000 calls a side are normal and an N x M
table of them would not fit in memory.  Three tiers: (1) common prefix and
suffix, compared as slices (in C); (2) patience anchoring, on keys found once
on each side, which splits the rest into independent gaps and does nearly all
the work when keys carry request data; (3) in each remaining gap, Myers's
O((N+M)D) diff, minimal for a few differences among repeated keys, with D
capped so its work stays proportional to the gap's size, and past the cap a
greedy pass that resynchronises within a small window.
"""

from __future__ import annotations

import heapq
import json
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate
from math import inf, isqrt
from pathlib import PurePath
from typing import Any

from sctrace.compare.model import Comparison, Row, Step
from sctrace.model.escape import escape_for_terminal
from sctrace.model.gcpause import gc_paused

ARROW = "→"
MAX_D = 1000  # Myers keeps ~MAX_D**2 V entries for the walk back: about 25 MB at most
MIN_D = 32  # small gaps may always spend this much
MYERS_WORK = 8  # D is capped at sqrt(MYERS_WORK * gap size): diagonal visits ~ 4 x gap size
PATIENCE_DEPTH = 4  # each level recounts keys over the gaps: at most 4 x (N + M)
PATIENCE_MIN = 64  # below this a gap goes straight to Myers, whose D is then small anyway
WINDOW = 32  # how far the greedy pass looks ahead for a resynchronising key
VALUE_LIMIT = 60  # characters of one argument value shown in a "changed" detail

LEVEL_WORDS = {"semantic": "semantically equivalent", "stable": "equivalent", "raw": "identical"}

Pairs = list[tuple[int, int]]


@dataclass
class DiffStats:
    """Work done by diff_keys, counted so tests can check it grows linearly without timing anything.

    ``probes`` counts Python-level steps (diagonal visits, window look-ups, block
    comparisons, keys counted for anchoring); ``elements`` counts keys compared
    inside block comparisons, which run in C.
    """

    probes: int = 0
    elements: int = 0
    myers_gaps: int = 0
    greedy_gaps: int = 0


# -- the diff over interned keys ------------------------------------------------------------------

def diff_keys(a: list[int], b: list[int], stats: DiffStats | None = None) -> Pairs:
    """Index pairs (i, j) with a[i] == b[j], increasing in both, forming a long common subsequence."""
    st = stats if stats is not None else DiffStats()
    out: Pairs = []
    work = [(0, len(a), 0, len(b), 0)]
    while work:
        alo, ahi, blo, bhi, depth = work.pop()
        n = _run(a, alo, b, blo, min(ahi - alo, bhi - blo), st)
        out.extend(zip(range(alo, alo + n), range(blo, blo + n), strict=True))
        alo, blo = alo + n, blo + n
        n = _run(a, ahi, b, bhi, min(ahi - alo, bhi - blo), st, back=True)
        out.extend(zip(range(ahi - n, ahi), range(bhi - n, bhi), strict=True))
        ahi, bhi = ahi - n, bhi - n
        if alo == ahi or blo == bhi:
            continue
        size = ahi - alo + bhi - blo
        if depth < PATIENCE_DEPTH and size >= PATIENCE_MIN:
            anchors = _unique_anchors(a, alo, ahi, b, blo, bhi, st)
            if anchors:
                out.extend(anchors)
                for i, j in [*anchors, (ahi, bhi)]:
                    if i > alo and j > blo:
                        work.append((alo, i, blo, j, depth + 1))
                    alo, blo = i + 1, j + 1
                continue
        max_d = min(MAX_D, max(MIN_D, isqrt(MYERS_WORK * size)))
        found = _myers(a, alo, ahi, b, blo, bhi, max_d, st)
        if found is not None:
            st.myers_gaps += 1
            out.extend(found)
        else:
            st.greedy_gaps += 1
            _greedy(a, alo, ahi, b, blo, bhi, out, st)
    out.sort()
    return out


def _run(a: list[int], i: int, b: list[int], j: int, limit: int, st: DiffStats, back: bool = False) -> int:
    """Length of the equal run starting at a[i], b[j] (back: ending just before them), at most limit.

    Blocks of doubling size are compared as slices (in C), then the first
    unequal block is binary-searched, so a long run costs O(log run) Python steps.
    """
    st.probes += 1
    if limit <= 0 or (a[i - 1] != b[j - 1] if back else a[i] != b[j]):
        return 0
    n, step, grow = 1, 1, True
    while n < limit:
        s = min(step, limit - n)
        st.probes += 1
        st.elements += s
        if back:
            same = a[i - n - s:i - n] == b[j - n - s:j - n]
        else:
            same = a[i + n:i + n + s] == b[j + n:j + n + s]
        if same:
            n += s
            step = step * 2 if grow else step
        elif s == 1:
            break
        else:
            step, grow = s // 2, False
    return n


def _unique_anchors(a: list[int], alo: int, ahi: int, b: list[int], blo: int, bhi: int, st: DiffStats) -> Pairs:
    """Keys found once in a[alo:ahi] and once in b[blo:bhi], paired, longest increasing run of them."""
    st.probes += ahi - alo + bhi - blo
    only_a: dict[int, int] = {}  # key -> its index, or -1 when repeated
    for i in range(alo, ahi):
        only_a[a[i]] = -1 if a[i] in only_a else i
    only_b: dict[int, int] = {}
    for j in range(blo, bhi):
        only_b[b[j]] = -1 if b[j] in only_b else j
    pairs = [(i, j) for key, i in only_a.items() if i >= 0 and (j := only_b.get(key, -1)) >= 0]
    pairs.sort()
    # Patience sorting: tails[p] is the smallest b index ending an increasing run of length p + 1.
    tails: list[int] = []
    ends: list[int] = []  # ends[p]: the index in pairs of tails[p]
    back = [-1] * len(pairs)
    for idx, (_, j) in enumerate(pairs):
        p = bisect_left(tails, j)
        back[idx] = ends[p - 1] if p else -1
        if p == len(tails):
            tails.append(j)
            ends.append(idx)
        else:
            tails[p], ends[p] = j, idx
    run: Pairs = []
    idx = ends[-1] if ends else -1
    while idx >= 0:
        run.append(pairs[idx])
        idx = back[idx]
    run.reverse()
    return run


def _myers(a: list[int], alo: int, ahi: int, b: list[int], blo: int, bhi: int, max_d: int,
           st: DiffStats) -> Pairs | None:
    """Myers's greedy shortest edit script, or None when it needs more than max_d edits.

    V is snapshotted after each round (sum of 2d+1 entries) so the path can be
    walked back; with d <= max_d that is bounded by max_d**2, not by the input.
    """
    n, m = ahi - alo, bhi - blo
    max_d = min(max_d, n + m)
    off = max_d + 1
    v = [0] * (2 * off + 1)
    snaps: list[list[int]] = []
    for d in range(max_d + 1):
        st.probes += d + 1
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]
            else:
                x = v[off + k - 1] + 1
            y = x - k
            if x < n and y < m:
                x += _run(a, alo + x, b, blo + y, min(n - x, m - y), st)
            v[off + k] = x
            if x >= n and x - k >= m:
                return _walk_back(snaps, d, k, x, alo, blo)
        snaps.append(v[off - d:off + d + 1])
    return None


def _walk_back(snaps: list[list[int]], d: int, k: int, x: int, alo: int, blo: int) -> Pairs:
    """The matched pairs on the path that reached (x, x - k) after d edits."""
    out: Pairs = []
    while d > 0:
        prev = snaps[d - 1]  # V after round d - 1, diagonals -(d-1)..d-1 at index k + d - 1
        down = k == -d or (k != d and prev[k - 1 + d - 1] < prev[k + 1 + d - 1])
        pk = k + 1 if down else k - 1
        px = prev[pk + d - 1]
        mx = px if down else px + 1  # where the snake of round d started
        my = mx - k
        out.extend((alo + mx + t, blo + my + t) for t in range(x - mx))
        d, k, x = d - 1, pk, px
    out.extend((alo + t, blo + t - k) for t in range(x))
    return out


def _greedy(a: list[int], alo: int, ahi: int, b: list[int], blo: int, bhi: int, out: Pairs,
            st: DiffStats) -> None:
    """A linear pass: follow equal runs; on a mismatch, skip to the nearest key pair within WINDOW."""
    i, j = alo, blo
    while i < ahi and j < bhi:
        n = _run(a, i, b, j, min(ahi - i, bhi - j), st)
        if n:
            out.extend(zip(range(i, i + n), range(j, j + n), strict=True))
            i, j = i + n, j + n
            continue
        wa, wb = min(WINDOW, ahi - i), min(WINDOW, bhi - j)
        st.probes += wa + wb
        first: dict[int, int] = {}
        for q in range(wb):
            first.setdefault(b[j + q], q)
        best, skip_a, skip_b = wa + wb, -1, -1
        for p in range(min(wa, best)):
            q = first.get(a[i + p], -1)
            if q >= 0 and p + q < best:
                best, skip_a, skip_b = p + q, p, q
            if p + 1 >= best:
                break
        if skip_a < 0:  # nothing in reach: both windows differ; move on by half of one
            skip_a = skip_b = max(1, min(wa, wb) // 2)
        i, j = i + skip_a, j + skip_b


# -- rows -----------------------------------------------------------------------------------------

def align(left: list[Step], right: list[Step]) -> list[Row]:
    """The rows of a comparison: each process role aligned on its own, then merged by time.

    The cyclic garbage collector is paused meanwhile: align makes a Row per
    step and no reference cycles, and with two loaded traces alive (millions of
    objects) the collections that so many allocations trigger would each walk
    them all, doubling the time for nothing.
    """
    with gc_paused():
        lprocs, rprocs = _by_proc(left), _by_proc(right)
        ids: dict[str, int] = {}  # key -> a small int: the diff compares ints, not long strings
        per_proc = [_process_rows(lprocs.get(proc, []), rprocs.get(proc, []), ids)
                    for proc in [*lprocs, *(p for p in rprocs if p not in lprocs)]]
        return _merge_by_time(per_proc)


def _by_proc(steps: list[Step]) -> dict[str, list[Step]]:
    out: dict[str, list[Step]] = {}
    for step in steps:
        out.setdefault(step.proc, []).append(step)
    return out


def _process_rows(left: list[Step], right: list[Step], ids: dict[str, int]) -> list[Row]:
    a = [ids.setdefault(s.key, len(ids)) for s in left]
    b = [ids.setdefault(s.key, len(ids)) for s in right]
    rows: list[Row] = []
    pi = pj = 0
    for i, j in diff_keys(a, b):
        if i > pi or j > pj:
            _gap_rows(left[pi:i], right[pj:j], rows)
        rows.append(_matched(left[i], right[j]))
        pi, pj = i + 1, j + 1
    _gap_rows(left[pi:], right[pj:], rows)
    return rows


def _gap_rows(left: list[Step], right: list[Step], rows: list[Row]) -> None:
    """Rows for the unmatched steps between two matches: same-named calls paired in order as "changed".

    A left step takes the first unused right step of its name (and kind:
    informational or not) after the last one taken; the right steps skipped
    over become right-only rows just before the pair.
    """
    by_name: dict[tuple[str, bool], list[int]] = {}
    for j in reversed(range(len(right))):
        by_name.setdefault((right[j].name, right[j].informational), []).append(j)  # popped from the end
    nxt = 0
    for step in left:
        cands = by_name.get((step.name, step.informational), [])
        while cands and cands[-1] < nxt:
            cands.pop()
        if not cands:
            rows.append(_single(step, None))
            continue
        j = cands.pop()
        rows.extend(_single(None, r) for r in right[nxt:j])
        rows.append(_changed(step, right[j]))
        nxt = j + 1
    rows.extend(_single(None, r) for r in right[nxt:])


def _matched(left: Step, right: Step) -> Row:
    # Same when nothing had to be forgiven: no rule applied, or both sides made the very
    # same call (identical programs apply the same rules to the same calls).
    if (not left.rules and not right.rules) or (left.text == right.text and left.rules == right.rules):
        return Row("same", left, right)
    return Row("equivalent", left, right, rule=", ".join(_unique([*left.rules, *right.rules])))


def _changed(left: Step, right: Step) -> Row:
    if left.informational and right.informational:
        return Row("info", left, right, rule=", ".join(_unique([*left.rules, *right.rules])) or None,
                   detail=describe_change(left, right))
    return Row("changed", left, right, detail=describe_change(left, right))


def _single(left: Step | None, right: Step | None) -> Row:
    step = left if left is not None else right
    if step is not None and step.informational:
        return Row("info", left, right, rule=", ".join(step.rules) or None)
    return Row("left_only" if left is not None else "right_only", left, right)


def _merge_by_time(per_proc: list[list[Row]]) -> list[Row]:
    """One timeline from the per-process row lists, each list's own order kept.

    A row is placed at its left step's time.  A right-only row has only the
    right trace's clock, which may run faster or slower than the left one, so
    its time is clamped between its neighbours' in the same process: it stays
    where the alignment put it, and it is placed by the right clock only within
    that room (or entirely, in a process that the left side does not have).
    """
    if len(per_proc) == 1:
        return per_proc[0]
    streams = []
    for rows in per_proc:
        keys: list[float] = []
        t_next = inf
        for row in reversed(rows):
            if row.left is not None:
                t_next = row.left.event.t
                keys.append(t_next)
            else:
                keys.append(min(row.right.event.t if row.right is not None else inf, t_next))
        keys.reverse()
        streams.append(zip(accumulate(keys, max), rows, strict=True))  # running max: each stream is sorted
    # heapq.merge breaks ties by stream order: the process that appeared first goes first.
    return [row for _, row in heapq.merge(*streams, key=lambda item: item[0])]


# -- words ----------------------------------------------------------------------------------------

_MISSING = object()


def describe_change(left: Step, right: Step) -> str:
    """What differs between two steps of the same name, e.g. "type: A → B; result: 3 → -1 EACCES"."""
    parts: list[str] = []
    _diff_values("", left.args, right.args, parts)
    lres, rres = _result(left), _result(right)
    if lres != rres:
        parts.append(f"result: {lres} {ARROW} {rres}")
    if not parts:
        if left.text != right.text:
            return f"{_clip(left.text)} {ARROW} {_clip(right.text)}"
        return "the normalized calls differ"
    return "; ".join(parts)


def _diff_values(path: str, lv: Any, rv: Any, parts: list[str]) -> None:
    """Differences between two argument values; dictionaries (buffers, sockaddrs) field by field."""
    if isinstance(lv, dict) and isinstance(rv, dict):
        for key in _unique([*lv, *rv]):
            _diff_values(f"{path}.{key}" if path else str(key), lv.get(key, _MISSING), rv.get(key, _MISSING), parts)
    elif lv != rv:
        parts.append(f"{path or 'args'}: {_show(lv)} {ARROW} {_show(rv)}")


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(none)"
    return _clip(value if isinstance(value, str) else json.dumps(value, ensure_ascii=True))


def _clip(text: str) -> str:
    text = escape_for_terminal(text)
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT - 3] + "..."


def _result(step: Step) -> str:
    if step.errno:
        return f"{-1 if step.ret is None else step.ret} {step.errno}"
    return "?" if step.ret is None else str(step.ret)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def summarize(comparison: Comparison) -> str:
    """One line for the end of a comparison: the verdict and what it rests on.

    Equivalent traces list what was tolerated (the steps' notes, or the rule
    names where a rule left none) and the informational calls only one side
    made; different traces count the changed and one-sided steps.  Either
    ends with the name-service calls of the C library left out of the rows.
    """
    lname, rname = _side_name(comparison.left.program, "left"), _side_name(comparison.right.program, "right")
    if lname == rname:
        lname, rname = f"{lname} (left)", f"{rname} (right)"
    counts = comparison.counts()
    folded = [f"{_plural(side.name_service_calls, 'name-service call')} by the C library in {name}"
              for side, name in ((comparison.left, lname), (comparison.right, rname)) if side.name_service_calls]
    folded_words = f" ({', '.join(folded)}, not shown)" if folded else ""
    if not comparison.equivalent:
        parts = [f"{_plural(counts['changed'], 'step')} changed"] if counts["changed"] else []
        parts += [f"{counts[verdict]} only in {name}" for verdict, name in (("left_only", lname), ("right_only", rname))
                  if counts[verdict]]
        return "different: " + ", ".join(parts) + folded_words
    tolerated: dict[tuple[str, str], int] = {}  # (what, where) -> how many, in order of first appearance
    for row in comparison.rows:
        steps = [s for s in (row.left, row.right) if s is not None]
        if row.verdict == "equivalent":
            notes = _unique([n for s in steps for n in s.notes]) or _unique([r for s in steps for r in s.rules])
            for note in notes:
                tolerated.setdefault((note, ""), 0)
        elif row.verdict == "info" and len(steps) == 1:
            where = lname if row.left is not None else rname
            key = (steps[0].name, where)
            tolerated[key] = tolerated.get(key, 0) + 1
        elif row.verdict == "info":
            tolerated.setdefault((f"{steps[0].name} differs", ""), 0)
    words = [what if not where else f"{'an' if n == 1 else n} extra {what} in {where}"
             for (what, where), n in tolerated.items()]
    matched = _plural(counts["same"] + counts["equivalent"], "step")
    line = f"{LEVEL_WORDS.get(comparison.level, 'equivalent')}: {matched}"
    if words:
        line += "; differences: " + ", ".join(escape_for_terminal(w) for w in words)
    return line + folded_words


def _side_name(program: str, fallback: str) -> str:
    return escape_for_terminal(PurePath(program).name if program else fallback) or fallback


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
