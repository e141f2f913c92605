"""``python -m sctrace`` is the ``sctrace`` command."""

from sctrace.cli.entry import main

main()
