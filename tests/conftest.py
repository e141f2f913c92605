"""Shared pytest configuration and fixtures for the sctrace test suite."""

import os
import pwd

# Many tests count a traced program's own socket calls.  A Python or a shell started without HOME or SHELL
# looks up its user first, and glibc asks nscd for it over a UNIX socket: calls of the runtime, not of the
# program (a pyenv shim for python3 starts a dozen shells, each asking), which compare counts and leaves out
# of its rows (the name_service rule, tested with HOME and SHELL unset in test_compare.py) but which would
# change those counts.  So the programs the tests trace get a HOME and a SHELL, as in a login session.
_user = pwd.getpwuid(os.getuid())
os.environ.setdefault("HOME", _user.pw_dir)
os.environ.setdefault("SHELL", _user.pw_shell or "/bin/sh")

# Python's readline module, which pytest imports as it starts, writes LINES and COLUMNS (its terminal's size, or
# 24 and 80) into this process's environment at the C level: os.environ does not show them, but every program a
# test starts inherits them. sctrace honours COLUMNS in a pipe too (README: Width and colour), so a test's
# output would be cut at 80 columns for no reason of its own. What readline added is taken back; a COLUMNS
# given to pytest itself stays.
for _name in ("COLUMNS", "LINES"):
    if _name not in os.environ:
        os.unsetenv(_name)
