"""Pausing Python's cyclic garbage collector while a large trace or comparison is built.

A trace of 100,000 events makes millions of objects, none of them in a reference
cycle: reference counting frees them all.  While they are being made, every
collection that so many allocations trigger would walk them all again, and that
can be half the time of a large comparison.  Loading, normalizing, aligning and
comparing each pause the collector the same way, through this one helper.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused(*, freeze: bool = False) -> Iterator[None]:
    """The cyclic collector off for the block, then back as it was.

    With freeze, what exists when the block ends is moved out of the collector's
    sight for good (gc.freeze): objects that live as long as the process and hold
    no cycle, which no later collection should walk again.  Nothing changes when
    the collector was already off (an outer block paused it, or the caller did).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if freeze:
                gc.freeze()
            gc.enable()
