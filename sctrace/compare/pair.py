"""Both sides of a comparison loaded and normalized, the right one in a forked process when it pays.

Loading and normalizing are most of the time of a large comparison (two traces
of 100,000 events: 3 to 4 s a side here), the two sides do not depend on each
other, and the machines sctrace runs on have two cores or more.  So for large
traces a forked child loads and normalizes the right side while this process
does the left.  The child writes what it made to an unlinked temporary file,
in marshal's format (a tenth of the time pickle takes) and in frames, telling
of each on a pipe as it is whole: the trace's header, then batches of events
(unless this process holds the trace already) and the values of the steps at
them, each with the place of its event.  This process, its own side done,
reads each frame as it comes, while the child writes the next: reading back
overlaps writing.  The child lets each batch go once written, which gives
back some of its memory before it exits (about 40% on large traces; the rest
stays in its allocator's arenas until then).  What is read back is a Trace and
Steps equal to those loading and normalize would have made here.

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
from sctrace.kernel.parent_death import fork_worker
from sctrace.model.trace import Event, Header, Trace

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
    """The forked process that loads and normalizes the right side, the unlinked file it writes to, and the pipe
    on which it tells of each frame it has written."""

    def __init__(self, pid: int, spool: IO[bytes], written: int) -> None:
        self.pid = pid
        self.spool = spool
        self.written = written

    @classmethod
    def start(cls, right: Trace | Loader, level: str, fold: bool) -> _Child | None:
        """The child, started; None where there is no fork or no temporary file (one process does all)."""
        if not hasattr(os, "fork"):
            return None
        try:
            spool = tempfile.TemporaryFile(prefix="sctrace-steps-")
        except OSError:
            return None
        written, tell = os.pipe()

        def work() -> int:  # pragma: no cover - runs in the forked child
            os.close(written)
            return _child(spool.fileno(), tell, right, level, fold)

        pid = fork_worker(work, lambda _exc: 1)  # any failure: the parent loads and normalizes this side itself
        os.close(tell)
        return cls(pid, spool, written)

    def result(self, right: Trace | Loader) -> tuple[Trace, list[Step], int] | None:
        """The child's trace, steps and count of folded calls, read as the child writes them; None if it
        failed."""
        received = _received(_frames(self.spool.fileno(), self.written), right)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        return received if os.waitstatus_to_exitcode(status) == 0 else None

    def stop(self) -> None:
        """The child killed if it still runs (an exception in the parent, ^C), reaped; the file and pipe closed."""
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
        os.close(self.written)
        self.spool.close()


def _steps(trace: Trace, level: str, fold: bool) -> tuple[list[Step], int]:
    steps = normalize(trace, level)
    return without_name_service(steps) if fold else (steps, 0)


def _trace(side: Trace | Loader) -> Trace:
    return side if isinstance(side, Trace) else side()


def _child(spool: int, tell: int, right: Trace | Loader, level: str,
           fold: bool) -> int:  # pragma: no cover - runs in the child
    """Load and normalize the right side and write to spool, telling of each frame on tell as it is whole:
    (events, steps, folded, header or None), the header's JSON object when the parent has no trace yet; then
    batches, each a stretch of events (None when the parent has the trace) and the steps at them.

    Each batch's events and steps are let go once written (when the trace was loaded here), so that the
    memory the parent takes up reading them is partly given back here.  The child is killed with its parent,
    should the parent be killed outright (SIGKILL, which leaves it no moment to kill the child itself):
    fork_worker sees to that.  The status: 0 when every step was written.
    """
    trace = _trace(right)
    steps, folded = _steps(trace, level, fold)
    events = trace.events
    send_trace = not isinstance(right, Trace)
    head = trace.header.to_json() if send_trace else None
    _write_frame(spool, tell, marshal.dumps((len(events), len(steps), folded, head)))
    place = {id(ev): i for i, ev in enumerate(events)}
    places = [place[id(step.event)] for step in steps]  # increasing: steps are in trace order
    del place
    first = 0  # the first step not yet written
    for start in range(0, len(events) or 1, _BATCH):
        end = start + _BATCH if start + _BATCH < len(events) else len(events)
        last = first
        while last < len(steps) and places[last] < end:
            last += 1
        sent = None
        if send_trace:
            sent = [(e.type, e.seq, e.pid, e.t, e.name, e.args, e.ret, e.errno, e.fd, e.endpoint,
                     e.ret_endpoint, e.info) for e in events[start:end]]
        _write_frame(spool, tell, marshal.dumps((sent, [
            (places[k], s.proc, s.name, s.args, s.ret, s.errno, s.key, s.text, s.rules, s.notes,
             s.informational) for k, s in enumerate(steps[first:last], first)])))
        del sent
        if send_trace:
            events[start:end] = [None] * (end - start)  # type: ignore[list-item]
            steps[first:last] = [None] * (last - first)  # type: ignore[list-item]
        first = last
    return 0 if first == len(steps) else 1  # a step left out (places not increasing): the parent does it


def _received(frames: Iterator[bytes], right: Trace | Loader) -> tuple[Trace, list[Step], int] | None:
    """The child's trace, steps and count of folded calls, or None when what it wrote is not whole."""
    try:
        count, expected, folded, head = marshal.loads(next(frames))
        if isinstance(right, Trace):
            if count != len(right.events):
                return None
            events = right.events
        else:
            events = []
        steps: list[Step] = []
        while len(events) < count or len(steps) < expected:
            sent, made = marshal.loads(next(frames))
            if sent is not None:
                events += [Event(*values) for values in sent]
            steps += [Step(proc, name, args, ret, errno, key, text, events[place], rules, notes, informational)
                      for place, proc, name, args, ret, errno, key, text, rules, notes, informational in made]
    except (StopIteration, EOFError, ValueError, TypeError, IndexError, KeyError):
        return None
    if len(events) != count or len(steps) != expected:
        return None
    return (right if isinstance(right, Trace) else Trace(Header.from_json(head), events)), steps, folded


# A frame is its length (8 bytes, little-endian) and that many bytes of marshal data, written to the file with
# os.write (no buffer: it is whole in the file before the byte on the pipe tells of it).  The parent reads it
# with pread at its own offset: the file's offset is the child's, shared through fork.
def _write_frame(spool: int, tell: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(spool, view):]
    os.write(tell, b"f")


def _frames(spool: int, told: int) -> Iterator[bytes]:
    """The frames the child writes, each read once the child has told of it (blocking until it has), to the
    pipe's end (the child has ended); EOFError for a frame cut short."""
    offset = 0
    while os.read(told, 1):
        head = os.pread(spool, 8, offset)
        size = int.from_bytes(head, "little")
        data = os.pread(spool, size, offset + 8) if len(head) == 8 else b""
        if len(head) < 8 or len(data) < size:
            raise EOFError("a frame cut short")
        offset += 8 + size
        yield data
