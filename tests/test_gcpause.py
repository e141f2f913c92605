"""The one way sctrace pauses the cyclic garbage collector while it builds large traces and comparisons."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sctrace.model.gcpause import gc_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    gc.unfreeze()
    if not was:
        gc.disable()


def test_off_inside_and_back_on_after_even_on_error() -> None:
    with pytest.raises(KeyError), gc_paused():
        assert not gc.isenabled()
        raise KeyError("boom")
    assert gc.isenabled()


def test_an_inner_pause_leaves_the_outer_one_in_force() -> None:
    with gc_paused():
        with gc_paused(freeze=True):
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block found it off and left it off
        assert gc.get_freeze_count() == 0  # nor did it freeze anything: the outer block decides
    assert gc.isenabled()


def test_freeze_moves_what_was_made_out_of_sight() -> None:
    gc.unfreeze()
    with gc_paused(freeze=True):
        kept = [[i] for i in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)
