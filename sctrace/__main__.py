"""``python -m sctrace`` is the ``sctrace`` command."""

from sctrace.cli import main

main()
