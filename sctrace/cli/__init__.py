"""The command line: the typer app, the options it declares once, the fast path for a plain trace, the demo."""
