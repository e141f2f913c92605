"""The command line: the typer app, the fast path for a plain trace, the demo."""
