"""The text format of ``sctrace trace``: one strace-like line per event (sctrace.model.notation)."""

from __future__ import annotations

from typing import IO

from sctrace.model.notation import format_event
from sctrace.model.trace import Event, Header


class TextRenderer:
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def header(self, header: Header) -> None:
        pass

    def event(self, ev: Event) -> None:
        self.out.write(format_event(ev) + "\n")

    def close(self) -> None:
        self.out.flush()
