"""Where a report goes decides how wide its lines may be and whether they are coloured: one rule for all.

Every command that writes a table (compare, check, matrix, and demo, which is
compare) asks Terminal.of for the stream it writes to, and hands the answer to
the renderer:

- the width is ``--width N`` when given; else ``$COLUMNS`` when it is a
  positive whole number; else the terminal's width when the report goes to a
  terminal; else there is no limit (None), and a file or a pipe gets lines as
  long as the table needs (each renderer says how it lays that out);
- colour is used only on a terminal, and never when ``$NO_COLOR`` is set,
  whatever its value (https://no-color.org).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

FALLBACK_WIDTH = 80  # a terminal that does not say its size (as shutil.get_terminal_size falls back)


@dataclass(frozen=True)
class Terminal:
    """How a renderer may lay its lines out: at most ``width`` cells each (None: no limit), colour or not."""

    width: int | None = None
    color: bool = False

    def __post_init__(self) -> None:
        if self.width is not None and self.width < 1:
            raise ValueError(f"width must be at least 1 column, not {self.width}")

    @classmethod
    def of(cls, out: IO[str], *, width: int | None = None, environ: Mapping[str, str] | None = None) -> Terminal:
        """The layout for a report written to out; width is the --width option, if given."""
        env = os.environ if environ is None else environ
        tty = is_terminal(out)
        if width is None:
            width = columns(env)
        if width is None and tty:
            width = terminal_width(out)
        return cls(width, tty and "NO_COLOR" not in env)


PLAIN = Terminal()  # no limit, no colour: a file, or a format that is not laid out in columns


def is_terminal(out: IO[str]) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError, OSError):  # a closed or detached stream is no terminal
        return False


def columns(environ: Mapping[str, str]) -> int | None:
    """$COLUMNS when it is a positive whole number (what shells and ncurses set it to), else None."""
    try:
        value = int(environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def terminal_width(out: IO[str]) -> int:
    """The width of the terminal out writes to, or FALLBACK_WIDTH when it does not say."""
    try:
        value = os.get_terminal_size(out.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return FALLBACK_WIDTH
    return value if value > 0 else FALLBACK_WIDTH
