"""``python -m sctrace`` is the ``sctrace`` command."""

from sctrace.fast import main

main()
