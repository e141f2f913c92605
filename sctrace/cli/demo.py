# SPDX-License-Identifier: GPL-2.0-or-later
"""``sctrace demo``: the seed lecture in one command.

The lecture notes compare a PHP server with a Python one and conclude that
"every language ends in the same system calls"; the demo runs exactly that
comparison (fixtures/seed/server1.php against server1.py), with the TCP
states and the packets on the wire when this sctrace can show them, and any
of compare's options (``--format html -o report.html``, ``--level raw``).

The two programs are the repository's fixtures, found beside the package
(``<checkout>/fixtures/seed``), which is where scripts/setup.sh installs
sctrace from (an editable install): the demo works from any directory.  An
installation without the source tree (a wheel) has no fixtures, and says so.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from sctrace.status import ExitStatus, SctraceError

SEED_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "seed"  # sctrace/cli/demo.py -> the checkout
PROGRAMS = ("server1.php", "server1.py")
# compare's options the demo turns on when this sctrace has them.
LECTURE_OPTIONS = ("--states", "--packets")


def seed_programs(seed_dir: Path = SEED_DIR) -> list[str]:
    """The two seed servers' paths; an error for people when this installation has no fixtures."""
    paths = [seed_dir / name for name in PROGRAMS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SctraceError(
            f"the demo's programs are not part of this installation ({', '.join(missing)} missing); "
            "run sctrace from a source checkout (scripts/demo), or compare programs of your own: "
            "sctrace compare LEFT RIGHT",
            ExitStatus.NO_PROGRAM,
        )
    return [_shown(p) for p in paths]


def _shown(path: Path) -> str:
    """The path as the comparison will name it: relative when under the current directory, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def demo_argv(extra: Sequence[str], compare_options: Collection[str], seed_dir: Path = SEED_DIR) -> list[str]:
    """The ``sctrace compare`` command line of the demo, with the user's extra options at the end."""
    turned_on = [opt for opt in LECTURE_OPTIONS if opt in compare_options and opt not in extra]
    return ["compare", *seed_programs(seed_dir), *turned_on, *extra]
