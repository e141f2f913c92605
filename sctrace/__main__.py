"""``python -m sctrace`` is the ``sctrace`` command."""

# Ctrl-C while the entry point is imported: the default action (status 130 in the shell), not a traceback.
# sctrace.cli.entry catches it from its main()'s first line on.  _signal imports nothing.
import _signal  # type: ignore[import-not-found,unused-ignore]

_signal.signal(_signal.SIGINT, _signal.SIG_DFL)

from sctrace.cli.entry import main  # noqa: E402

main()
