"""JSON Lines, the saved-trace format (docs/trace-format.md): a header, then one event a line."""

from __future__ import annotations

from typing import IO

from sctrace.model.trace import Event, Header, dumps_line


class JsonlRenderer:
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def header(self, header: Header) -> None:
        self.out.write(dumps_line(header.to_json()))

    def event(self, ev: Event) -> None:
        self.out.write(dumps_line(ev.to_json()))

    def close(self) -> None:
        self.out.flush()
