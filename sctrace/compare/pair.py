"""Both sides of a comparison loaded and normalized, the right one in a forked process when it pays.

Loading and normalizing are most of the time of a large comparison (two traces
of 100,000 events: 3 to 4 s a side here), the two sides do not depend on each
other, and the machines sctrace runs on have two cores or more.  So for large
traces a forked child loads and normalizes the right side while this process
does the left.  The child writes what it made to an unlinked temporary file, in
marshal's format (a tenth of the time pickle takes) and in batches: the trace's
header and events (unless this process holds the trace already), then each
step's values with the place of its event.  It then exits, so that its memory
is given back before this process needs its own for the right side; this
process reads the file back into a Trace and Steps equal to those loading and
normalize would have made here.

Anything that goes wrong in the child (a trace that cannot be read, a crash,
a kill) only makes this process load and normalize the right side itself, the
way it would have without a child, so that errors are raised here, in order,
with their usual messages.  The child never outlives the call, and the file is
gone when the call returns.
"""

from __future__ import annotations

import marshal
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from typing import IO

from sctrace.compare.model import Step
from sctrace.compare.normalize import normalize, without_name_service
from sctrace.trace import Event, Header, Trace

# Events in the two traces at which a second process pays for itself: starting it costs a few milliseconds,
# and reading 100,000 steps back from it about a tenth of the time normalizing them took.
PARALLEL_EVENTS = 20_000

# A saved event is 150 to 300 bytes of JSON (an strace log line, 100 to 200): a file's size says roughly how
# many events it holds before it is read.
BYTES_PER_EVENT = 200

# Events or steps written at once: each batch's values and bytes are only a few megabytes.
_BATCH = 5_000

Loader = Callable[[], Trace]


def worth_a_process(events: int) -> bool:
    """Whether loading and normalizing this many events (both sides) is faster with the right side in a second
    process."""
    return events >= PARALLEL_EVENTS and len(os.sched_getaffinity(0)) >= 2


def normalize_pair(left: Trace | Loader, right: Trace | Loader, level: str, *, parallel: bool,
                   fold: bool = False) -> tuple[list[Trace], list[list[Step]], list[int]]:
    """The two traces, their steps at level and how many name-service calls were folded out of each (fold:
    without_name_service, as compare does at level semantic), each side given as a trace or as what loads it
    (a saved file is read only when its turn comes, so that the left file's errors come first); the right
    side in a forked child if parallel."""
    child = _Child.start(right, level, fold) if parallel else None
    received = None
    try:
        left_trace = _trace(left)
        left_steps, left_folded = _steps(left_trace, level, fold)
        if child is not None:
            received = child.result(right)
    finally:
        if child is not None:
            child.stop()
    if received is None:
        right_trace = _trace(right)
        right_steps, right_folded = _steps(right_trace, level, fold)
    else:
        right_trace, right_steps, right_folded = received
    return [left_trace, right_trace], [left_steps, right_steps], [left_folded, right_folded]


class _Child:
    """The forked process that loads and normalizes the right side, and the unlinked file it writes to."""

    def __init__(self, pid: int, spool: IO[bytes]) -> None:
        self.pid = pid
        self.spool = spool

    @classmethod
    def start(cls, right: Trace | Loader, level: str, fold: bool) -> _Child | None:
        """The child, started; None where there is no fork or no temporary file (one process does all)."""
        if not hasattr(os, "fork"):
            return None
        try:
            spool = tempfile.TemporaryFile(prefix="sctrace-steps-")
        except OSError:
            return None
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked child, which ends with os._exit
            _child(parent, spool.fileno(), right, level, fold)
        return cls(pid, spool)

    def result(self, right: Trace | Loader) -> tuple[Trace, list[Step], int] | None:
        """Once the child has ended: its trace, steps and count of folded calls; None if it failed."""
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        return _received(self.spool, right) if os.waitstatus_to_exitcode(status) == 0 else None

    def stop(self) -> None:
        """The child killed if it still runs (an exception in the parent, ^C), reaped; the file closed."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
        self.spool.close()


def _steps(trace: Trace, level: str, fold: bool) -> tuple[list[Step], int]:
    steps = normalize(trace, level)
    return without_name_service(steps) if fold else (steps, 0)


def _trace(side: Trace | Loader) -> Trace:
    return side if isinstance(side, Trace) else side()


_PR_SET_PDEATHSIG = 1  # prctl(2)


def _child(parent: int, spool: int, right: Trace | Loader, level: str,
           fold: bool) -> None:  # pragma: no cover - runs in the child
    """Load and normalize the right side and write to spool: (events, steps, folded, header or None), the
    header's JSON object when the parent has no trace yet and then batches of events, then batches of steps.

    The child is killed with its parent, should the parent be killed outright (SIGKILL, which leaves it no
    moment to kill the child itself).
    """
    status = 1
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before that took effect
            return
        trace = _trace(right)
        steps, folded = _steps(trace, level, fold)
        events = trace.events
        send_trace = not isinstance(right, Trace)
        with os.fdopen(spool, "wb", closefd=False) as out:
            head = trace.header.to_json() if send_trace else None
            _write_frame(out, marshal.dumps((len(events), len(steps), folded, head)))
            if send_trace:
                for start in range(0, len(events), _BATCH):
                    _write_frame(out, marshal.dumps([
                        (e.type, e.seq, e.pid, e.t, e.name, e.args, e.ret, e.errno, e.fd, e.endpoint,
                         e.ret_endpoint, e.info) for e in events[start:start + _BATCH]]))
            place = {id(ev): i for i, ev in enumerate(events)}
            for start in range(0, len(steps), _BATCH):
                _write_frame(out, marshal.dumps([
                    (place[id(s.event)], s.proc, s.name, s.args, s.ret, s.errno, s.key, s.text, s.rules, s.notes,
                     s.informational) for s in steps[start:start + _BATCH]]))
        status = 0
    except BaseException:  # noqa: BLE001 - any failure: the parent loads and normalizes this side itself
        pass
    finally:
        os._exit(status)


def _received(spool: IO[bytes], right: Trace | Loader) -> tuple[Trace, list[Step], int] | None:
    """The child's trace, steps and count of folded calls, or None when the file is not whole."""
    spool.seek(0)
    try:
        frames = _frames(spool)
        count, expected, folded, head = marshal.loads(next(frames))
        if isinstance(right, Trace):
            trace = right
        else:
            events: list[Event] = []
            while len(events) < count:
                events += [Event(*values) for values in marshal.loads(next(frames))]
            trace = Trace(Header.from_json(head), events)
        if count != len(trace.events):
            return None
        events = trace.events
        steps: list[Step] = []
        for batch in frames:
            steps += [Step(proc, name, args, ret, errno, key, text, events[place], rules, notes, informational)
                      for place, proc, name, args, ret, errno, key, text, rules, notes, informational
                      in marshal.loads(batch)]
    except (StopIteration, EOFError, ValueError, TypeError, IndexError, KeyError):
        return None
    return (trace, steps, folded) if len(steps) == expected else None


# A frame is its length (8 bytes, little-endian) and that many bytes of marshal data: marshal.load on a file
# object reads each value with a call of its own, ten times slower than marshal.loads on the bytes.
def _write_frame(out: IO[bytes], data: bytes) -> None:
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)


def _frames(spool: IO[bytes]) -> Iterator[bytes]:
    """Each frame's bytes, to the end of the file; EOFError for one cut short."""
    while head := spool.read(8):
        size = int.from_bytes(head, "little")
        data = spool.read(size)
        if len(head) < 8 or len(data) < size:
            raise EOFError("a frame cut short")
        yield data
